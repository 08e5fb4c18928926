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


def _check(fig: Figure, solvers: list[str], *, n_axes: int) -> None:
    assert isinstance(fig, Figure)
    assert len(fig.axes) == n_axes
    FigureCanvasAgg(fig).draw()  # renders with the Agg canvas, whatever the default backend
    for ax in fig.axes:
        assert ax.get_xlabel().strip() and ax.get_ylabel().strip() and ax.get_title().strip()
        legend = ax.get_legend()
        assert legend is not None
        labels = [t.get_text() for t in legend.get_texts()]
        for name in solvers:
            assert labels.count(name) == 1, (name, labels)
        assert set(labels) <= set(solvers) | EXTRA_LABELS, labels


def test_plot_fronts(front):
    fig = plot_fronts(front, original=[0.9, 0.02], retrain=[0.5, 0.03], ref_point=[1.2, 2.4],
                      log_scale=("retain_ce",))
    _check(fig, SOLVERS, n_axes=1)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "Original (θ0)" in labels and "Retrain" in labels
    assert fig.axes[0].get_yscale() == "log"


def test_plot_fronts_three_objectives_has_a_panel_per_pair():
    F = np.random.default_rng(1).uniform(size=(12, 3))
    fig = plot_fronts(Front.from_points(F, solver="a", objective_names=("x", "y", "z")))
    _check(fig, ["a"], n_axes=3)


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
    fig = plot_parallel_metrics(front)
    _check(fig, SOLVERS, n_axes=1)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["UA (%)", "RA (%)", "TA (%)", "MIA (%)",
                                                                    "gap (pp)"]


def test_save_figure_writes_a_png_atomically(front, tmp_path):
    path = tmp_path / "fronts.png"
    path.write_bytes(b"old")
    save_figure(plot_fronts(front), path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert [p.name for p in tmp_path.iterdir()] == ["fronts.png"]  # no temporary file left behind
