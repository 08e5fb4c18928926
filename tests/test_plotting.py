"""Every figure is labelled, has one legend entry per solver, renders under Agg, and saves as PNG."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pareto_unlearn.front import Front
from pareto_unlearn.indicators import attainment_surface
from pareto_unlearn.plotting import (
    FrontDisplay,
    plot_anytime,
    plot_attainment,
    plot_fronts,
    plot_metric_space,
    plot_parallel_metrics,
    plot_trajectories,
    save_figure,
)

SOLVERS = ["nsga2-last-layer", "jd", "ls", "FT"]
EXTRA_LABELS = {"Original (θ0)", "Retrain"}


def _curve(t: np.ndarray) -> np.ndarray:
    return np.column_stack([0.9 * t, 0.02 + 2.2 * (1 - t) ** 2.5])


def _metrics(F: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = len(F)
    return {"UA": 90 * (1 - F[:, 0]) + rng.normal(0, 1, n), "RA": 100 - 25 * F[:, 1],
            "TA": 95 - 20 * F[:, 1], "MIA": 80 * (1 - F[:, 0]) + rng.normal(0, 2, n),
            "gap": np.abs(rng.normal(4, 2, n))}


def _log(name: str, n: int, scale: float) -> list[dict]:
    return [{"solver": name, "wall_s": scale * k, "forward_passes": 1e3 * k, "backward_passes": 5e2 * k,
             "hv": 1 - np.exp(-k / 3)} for k in range(1, n + 1)]


@pytest.fixture(scope="module")
def front() -> Front:
    rng = np.random.default_rng(0)
    F = _curve(rng.uniform(0, 1, 30)) * rng.uniform(1.0, 1.3, (30, 1))
    F[4] = np.nan
    parts = [Front.from_points(F, solver="nsga2-last-layer", metrics=_metrics(F, rng),
                               anytime=_log("nsga2-last-layer", 10, 0.3))]
    F = np.concatenate([_curve(1 - np.arange(1, 5) / 5 * (0.4 + 0.3 * run)) for run in range(2)])
    prov = [{"run": run, "epoch": e} for run in range(2) for e in range(1, 5)]
    parts.append(Front.from_points(F, solver="jd", metrics=_metrics(F, rng), provenance=prov,
                                   anytime=_log("jd", 8, 1)))
    F = _curve(np.linspace(0.1, 0.9, 6)) * 1.1
    parts.append(Front.from_points(F, solver="ls", metrics=_metrics(F, rng), anytime=_log("ls", 6, 1.5)))
    F = _curve(np.array([0.9])) * 1.2
    parts.append(Front.from_points(F, solver="FT", metrics=_metrics(F, rng), anytime=_log("FT", 1, 3)))
    return Front.concat(parts)


def _legend_labels(fig: Figure) -> list[str]:
    """The figure's one legend: on its last panel, outside the axes (anchored right of them)."""
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert len(legends) == 1 and legends[0].axes is fig.axes[-1]
    FigureCanvasAgg(fig).draw()
    box, axes_box = legends[0].get_window_extent(), fig.axes[-1].get_window_extent()
    assert box.x0 >= axes_box.x1, "the legend must not cover the data"
    return [t.get_text() for t in legends[0].get_texts()]


def _check(fig: Figure, solvers: list[str], *, n_axes: int) -> None:
    assert isinstance(fig, Figure)
    assert len(fig.axes) == n_axes
    FigureCanvasAgg(fig).draw()  # renders with the Agg canvas, whatever the default backend
    for ax in fig.axes:
        assert ax.get_xlabel().strip() and ax.get_ylabel().strip() and ax.get_title().strip()
    labels = _legend_labels(fig)
    names = [label.split(" (")[0] if label not in EXTRA_LABELS else label for label in labels]
    for name in solvers:
        assert names.count(name) == 1, (name, labels)
    assert set(names) <= set(solvers) | EXTRA_LABELS, labels


def _face_colors(fig: Figure, label: str) -> set[str]:
    from matplotlib.colors import to_hex

    return {to_hex(c) for ax in fig.axes for coll in ax.collections if coll.get_label() == label
            for c in coll.get_facecolors()}


def test_plot_fronts(front):
    fig = plot_fronts(front, original=[0.9, 0.02], retrain=[0.5, 0.03], ref_point=[1.2, 2.4],
                      log_scale=("retain_ce",))
    _check(fig, SOLVERS, n_axes=2)  # the whole front and the near-θ0 zoom
    labels = _legend_labels(fig)
    assert "Original (θ0)" in labels and "Retrain" in labels
    assert any(label.startswith("jd (HV ") for label in labels)  # the HV table is in the outside legend
    assert fig.axes[0].get_yscale() == "log"
    near = fig.axes[1]
    assert near.get_title().startswith("Near θ0")
    (x0, x1), (y0, y1) = near.get_xlim(), near.get_ylim()
    assert x0 < 0.5 < 0.9 < x1 and y0 < 0.02 < 0.03 < y1
    assert (y1 - y0) < np.ptp(front.F[front.feasible, 1]) / 5


def test_original_is_drawn_once_and_baselines_above_it(front):
    original = Front.from_points(np.array([[0.9, 0.02]]), solver="Original")
    fig = plot_fronts(Front.concat([original, front]), retrain=[0.5, 0.03])
    labels = _legend_labels(fig)
    assert labels.count("Original (θ0)") == 1 and "Original" not in labels
    ax = fig.axes[0]
    z = {c.get_label(): c.get_zorder() for c in ax.collections}
    assert z["FT"] > z["Original (θ0)"] and z["FT"] > z["Retrain"]


def test_a_solver_has_its_fixed_colour_in_every_figure(front):
    from pareto_unlearn.plotting import solver_color

    for name in SOLVERS:
        fronts = _face_colors(plot_fronts(front), name)
        metric = _face_colors(plot_metric_space(front), name)
        assert fronts == metric == {solver_color(name)}, name


def test_the_palette_has_no_near_identical_pair():
    from itertools import combinations

    from pareto_unlearn.plotting import SOLVER_PALETTE, color_distance, solver_colors
    from pareto_unlearn.solvers import solver_names

    names = [*solver_names("evolutionary"), "jd", "ls", "jd-mgda", "jd-pcgrad", "jd-cagrad", "jd-nash-mtl",
             "jd-pama", "jd-last-layer", "ls-last-layer", "jd-lora", "ls-lora", *solver_names("baseline"),
             "Original", "Retrain"]
    assert set(names) <= set(SOLVER_PALETTE)
    # every registered solver but the rarer jd-* aggregators (reserve colours) has its own colour
    assert set(solver_names()) - set(SOLVER_PALETTE) == {n for n in solver_names() if n.startswith("jd-")} - {
        "jd-mgda", "jd-pcgrad", "jd-cagrad", "jd-nash-mtl", "jd-pama", "jd-last-layer", "jd-lora"}
    colors = solver_colors(names)
    worst = min(color_distance(colors[a], colors[b]) for a, b in combinations(names, 2))
    assert worst >= 25.0, worst
    unknown = solver_colors(["mine", "yours", "theirs", *names])  # names it does not know stay apart too
    assert len(set(unknown.values())) == len(unknown)


def test_plot_fronts_three_objectives_has_a_panel_per_pair_and_titles_apart():
    F = np.random.default_rng(1).uniform(size=(12, 3))
    names = ("forget_kl_uniform", "forget_kl_heldout", "retain_ce")
    fig = plot_fronts(Front.from_points(F, solver="a", objective_names=names))
    _check(fig, ["a"], n_axes=3)
    renderer = FigureCanvasAgg(fig).get_renderer()
    boxes = [ax.title.get_window_extent(renderer) for ax in fig.axes]
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:])), "panel titles run into each other"


def test_front_display_stores_and_draws(front):
    display = FrontDisplay.from_front(front, ref_point=[1.2, 2.4])
    assert set(display.hv) == set(SOLVERS) and display.hv["jd"] > 0
    assert display.plot() is display and display.figure_ is display.ax_.figure
    fig = Figure()
    ax = fig.add_subplot()
    assert display.plot(ax).ax_ is ax


def test_plot_metric_space(front):
    fig = plot_metric_space(front, original={"UA": 0.0, "RA": 100.0, "TA": 95.0, "MIA": 2.0},
                            retrain={"UA": 5.0, "RA": 100.0, "TA": 94.0, "MIA": 10.0})
    _check(fig, SOLVERS, n_axes=2)


def test_plot_anytime(front):
    fig = plot_anytime(front)
    _check(fig, SOLVERS, n_axes=2)
    line = next(ln for ln in fig.axes[1].get_lines() if ln.get_label() == "jd")
    assert line.get_xdata()[-1] == pytest.approx(8 * 1.5e3)  # forward + backward passes


def test_plot_trajectories(front):
    fig = plot_trajectories(front, original=[0.9, 0.02])
    _check(fig, SOLVERS, n_axes=1)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2 and lines[0].get_color() == lines[1].get_color()  # two runs of jd, one colour


def test_plot_attainment():
    rng = np.random.default_rng(2)
    surfaces = {name: attainment_surface([_curve(rng.uniform(0, 1, 10)) for _ in range(3)], 50)
                for name in ("jd", "ls")}
    _check(plot_attainment(surfaces), ["jd", "ls"], n_axes=1)


def test_plot_parallel_metrics(front):
    fig = plot_parallel_metrics(front, original={"UA": 0.0, "RA": 100.0, "TA": 95.0, "MIA": 2.0, "gap": 5.0},
                                retrain={"UA": 5.0, "RA": 100.0, "TA": 94.0, "MIA": 10.0, "gap": 0.0})
    _check(fig, SOLVERS, n_axes=1)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["UA (%)", "RA (%)", "TA (%)", "MIA (%)",
                                                                    "gap (pp)"]
    lines = fig.axes[0].get_lines()
    medians = [ln for ln in lines if ln.get_label().endswith("(median)")]
    faint = [ln for ln in lines if ln.get_label().startswith("_") and ln.get_alpha() is not None]
    assert len(medians) == 3 and all(ln.get_linewidth() > 2 for ln in medians)
    assert faint and max(ln.get_alpha() for ln in faint) < 0.5  # one faint line per point, under the medians


def test_front_repr_is_a_summary(front):
    text = repr(Front.concat([front, Front.from_points(np.zeros((2, 2)), solver="x",
                                                       arrays={"genome": np.zeros((2, 5000))})]))
    assert text.startswith("Front(") and "jd 8" in text and "genome [2, 5000]" in text
    assert len(text) < 400 and "0., 0." not in text


def test_save_figure_writes_a_png_atomically(front, tmp_path):
    path = tmp_path / "fronts.png"
    path.write_bytes(b"old")
    save_figure(plot_fronts(front), path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert [p.name for p in tmp_path.iterdir()] == ["fronts.png"]  # no temporary file left behind
