"""Figures of fronts. Plotting never trains, solves or evaluates a model: it draws a finished Front,
deriving from its arrays only cheap summaries (non-dominated masks, the HV per solver when a reference
point is given, the near-θ0 box, per-solver medians and axis ranges).

Figures are built with ``matplotlib.figure.Figure`` (no pyplot, no global style, safe under Agg). A
solver has the same colour in every figure, static or interactive (the fixed palette of
:mod:`pareto_unlearn.plotting._palette`); baselines get a marker shape each and are drawn above θ0 and
Retrain; legends (with the HV per solver) sit outside the axes, one per figure; with θ0 and Retrain a
"near θ0" panel zooms on the decision region.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from pareto_unlearn._io import atomic_write_bytes
from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.front import Front
from pareto_unlearn.indicators import HV
from pareto_unlearn.plotting._data import near_theta0_box
from pareto_unlearn.plotting._palette import BASELINE_MARKERS, ORIGINAL_COLOR, RETRAIN_COLOR, is_baseline
from pareto_unlearn.plotting._palette import solver_colors as solver_colors

__all__ = ["FrontDisplay", "plot_fronts", "plot_metric_space", "plot_anytime", "plot_trajectories",
           "plot_attainment", "plot_parallel_metrics", "save_figure"]

OBJECTIVE_LABELS = {"forget_kl": "forget_kl: f_F = KL to the reference on D_f  (lower = more forgotten)",
                    "retain_ce": "retain_ce: f_R = cross-entropy on D_r  (lower = more retained)"}
METRIC_LABELS = {"UA": "UA (%) = 100 − acc(D_f)", "RA": "RA (%) = acc(D_r)", "TA": "TA (%) = acc(test)",
                 "MIA": "MIA-efficacy (%)", "gap": "Avg. Gap to Retrain (pp)"}
ORIGINAL: dict[str, Any] = {"marker": "*", "s": 230, "color": ORIGINAL_COLOR, "edgecolor": "white",
                            "linewidths": 0.6, "zorder": 5, "label": "Original (θ0)"}
RETRAIN: dict[str, Any] = {"marker": "D", "s": 80, "facecolor": "white", "edgecolor": RETRAIN_COLOR,
                           "linewidths": 2.0, "zorder": 5, "label": "Retrain"}


def objective_label(name: str) -> str:
    """Axis label of an objective column: the known ones explained, ``forget_kl_REF`` (forget_kl against
    another reference) named by its reference, anything else as is.

    Examples
    --------
    >>> objective_label("forget_kl_heldout")
    'forget_kl_heldout: KL to the heldout reference on D_f'
    """
    if name in OBJECTIVE_LABELS:
        return OBJECTIVE_LABELS[name]
    if name.startswith("forget_kl_"):
        return f"{name}: KL to the {name[len('forget_kl_'):]} reference on D_f"
    return name


def _figure(n_panels: int, *, width: float = 6.4, height: float = 4.8) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(width * n_panels, height), layout="constrained")
    return fig, [fig.add_subplot(1, n_panels, i + 1) for i in range(n_panels)]


def _finish(ax: Axes, xlabel: str, ylabel: str, title: str, *, grid: bool = True, legend: bool = True,
            labels: Mapping[str, str] | None = None, **_: Any) -> None:
    """Labels, title, grid and, when ``legend``, one legend outside the axes on the right gathering the
    entries of every panel of the figure (``labels`` renames entries, e.g. to add the HV)."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize="medium")
    if grid:
        ax.grid(alpha=0.3)
    if not legend:
        return
    entries: dict[str, Any] = {}
    for other in ax.figure.axes:
        for handle, label in zip(*other.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    labels = labels or {}
    ax.legend(list(entries.values()), [labels.get(k, k) for k in entries], fontsize="small", framealpha=0.9,
              loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)


def _solver_points(ax: Axes, x: np.ndarray, y: np.ndarray, nd: np.ndarray, color: Any, name: str) -> None:
    """Dominated points faint, non-dominated points bold and labelled (the solver's one legend entry); a
    baseline is one large marker of its own shape, drawn above θ0 and Retrain."""
    if is_baseline(name):
        ax.scatter(x, y, s=95, marker=BASELINE_MARKERS[name], color=color, edgecolor="black", linewidths=0.8,
                   zorder=7, label=name)
        return
    ax.scatter(x[~nd], y[~nd], s=12, color=color, alpha=0.22, linewidths=0)
    ax.scatter(x[nd], y[nd], s=34, color=color, edgecolor="black", linewidths=0.4, zorder=4, label=name)


def _without_original(front: Front) -> Front:
    """The front without its ``Original`` point (θ0 is drawn once, as the reference star)."""
    return front.take(front.solver != "Original") if (front.solver == "Original").any() else front


class FrontDisplay:
    """Objective-space picture of a front (sklearn's ``RocCurveDisplay`` pattern).

    Stores finished arrays only; :meth:`plot` draws them, and :meth:`from_front` is the one place that
    derives them from a Front (non-dominated masks, HV per solver when a reference point is given).
    For each solver: the non-dominated points in bold joined by their staircase (the boundary of the
    region they dominate, two objectives only), dominated points faint.

    Parameters
    ----------
    objective_names : sequence of str [m]
    F : dict of str → np.ndarray [n_s, m]
        Feasible objective vectors per solver, in legend order.
    nondominated : dict of str → np.ndarray [n_s] of bool
    hv : dict of str → float, optional
        Shown in a box when given.
    original, retrain : array-like [m], optional
        Objective vectors of θ0 and of Retrain, drawn as a star and a diamond.
    labels : sequence of str [m], optional
        Axis labels (default: the objective names explained).
    log_scale : sequence of str
        Objectives drawn on a log axis (e.g. ``("retain_ce",)``).

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import numpy as np
    >>> from pareto_unlearn.front import Front
    >>> front = Front.from_points(np.array([[0.1, 1.0], [0.5, 0.3], [0.6, 0.6]]), solver="jd")
    >>> display = FrontDisplay.from_front(front, ref_point=[1.0, 2.0]).plot()
    >>> display.ax_.get_xlabel().split(":")[0], round(display.hv["jd"], 3)
    ('forget_kl', 1.25)
    """

    def __init__(self, *, objective_names: Sequence[str], F: Mapping[str, np.ndarray],
                 nondominated: Mapping[str, np.ndarray], hv: Mapping[str, float] | None = None,
                 original: Any = None, retrain: Any = None, labels: Sequence[str] | None = None,
                 log_scale: Sequence[str] = ()) -> None:
        self.objective_names = tuple(objective_names)
        self.F = dict(F)
        self.nondominated = dict(nondominated)
        self.hv = None if hv is None else dict(hv)
        self.original = None if original is None else np.asarray(original, dtype=float)
        self.retrain = None if retrain is None else np.asarray(retrain, dtype=float)
        self.labels = tuple(labels) if labels is not None else tuple(
            objective_label(name) for name in self.objective_names)
        if len(self.labels) != len(self.objective_names):
            raise ConfigError(f"FrontDisplay: {len(self.labels)} labels for "
                              f"{len(self.objective_names)} objectives")
        unknown = set(log_scale) - set(self.objective_names)
        if unknown:
            raise ConfigError(f"FrontDisplay: `log_scale` names {sorted(unknown)}, not objectives of "
                              f"{list(self.objective_names)}")
        self.log_scale = tuple(log_scale)

    @classmethod
    def from_front(cls, front: Front, *, ref_point: Any = None, original: Any = None, retrain: Any = None,
                   labels: Sequence[str] | None = None, log_scale: Sequence[str] = ()) -> FrontDisplay:
        """Derive the arrays from ``front`` (and HV per solver if ``ref_point`` is given)."""
        if not isinstance(front, Front):
            raise ConfigError(f"FrontDisplay.from_front: expected a Front. Got {type(front).__name__}.")
        if original is None and (front.solver == "Original").any():
            original = front.F[np.flatnonzero(front.solver == "Original")[0]]
        front = _without_original(front)
        feasible, nd = front.feasible, front.nondominated()
        rows = {name: (front.solver == name) & feasible for name in front.solvers}
        hv = HV(ref_point).by_solver(front) if ref_point is not None else None
        return cls(objective_names=front.objective_names, F={s: front.F[r] for s, r in rows.items()},
                   nondominated={s: nd[r] for s, r in rows.items()}, hv=hv, original=original,
                   retrain=retrain, labels=labels, log_scale=log_scale)

    def plot(self, ax: Axes | None = None, *, pair: tuple[int, int] = (0, 1), near_theta0: bool = False,
             legend: bool = True) -> FrontDisplay:
        """Draw objectives ``pair`` on ``ax`` (a new figure when None); returns self.

        ``near_theta0`` zooms on the box around θ0 and Retrain (the decision region under random
        forgetting); ``legend`` puts the figure's one legend, with the HV per solver, outside ``ax``."""
        if ax is None:
            ax = _figure(1)[1][0]
        i, j = pair
        colors = solver_colors(list(self.F))
        staircase = len(self.objective_names) == 2
        for name, F in self.F.items():
            nd = self.nondominated[name]
            front = F[nd][np.argsort(F[nd][:, i])]
            if staircase and len(front) > 1:
                ax.step(front[:, i], front[:, j], where="post", color=colors[name], lw=1.6, alpha=0.9)
            _solver_points(ax, F[:, i], F[:, j], nd, colors[name], name)
        for point, style in ((self.original, ORIGINAL), (self.retrain, RETRAIN)):
            if point is not None:
                ax.scatter([point[i]], [point[j]], **style)
        for axis, k in (("x", i), ("y", j)):
            if self.objective_names[k] in self.log_scale:
                getattr(ax, f"set_{axis}scale")("log")
        m = len(self.objective_names)
        title = ("Objective space: non-dominated fronts (bold), dominated points (faint)"
                 if m == 2 else f"{self.objective_names[i]} vs {self.objective_names[j]}\n(projection of "
                 f"{m} objectives)")
        if near_theta0:
            box = near_theta0_box(np.vstack([F for F in self.F.values()] or [np.zeros((0, m))]),
                                  self.original, self.retrain)
            if box is not None:
                assert self.original is not None and self.retrain is not None  # box is None without them
                for axis, k in (("x", i), ("y", j)):
                    low, high = float(box[0][k]), float(box[1][k])
                    if self.objective_names[k] in self.log_scale and low <= 0:
                        ends = [float(p[k]) for p in (self.original, self.retrain) if p[k] > 0]
                        low = min(ends, default=high / 10) / 2
                    getattr(ax, f"set_{axis}lim")(low, high)
                title = "Near θ0: the decision region around Original and Retrain"
        labels = {s: f"{s} (HV {v:.4g})" for s, v in self.hv.items()} if self.hv else None
        _finish(ax, self.labels[i], self.labels[j], title, legend=legend, labels=labels)
        self.ax_, self.figure_ = ax, ax.figure
        return self


def plot_fronts(front: Front, *, original: Any = None, retrain: Any = None,
                objective_names: Sequence[str] | None = None, ref_point: Any = None,
                log_scale: Sequence[str] = (), near_theta0: bool | None = None) -> Figure:
    """Objective space: per solver the non-dominated staircase and points, dominated points faint.

    Parameters
    ----------
    front : Front
    original, retrain : array-like [m], optional
        Objective vectors of θ0 and of Retrain.
    objective_names : sequence of str [m], optional
        Axis labels (default: the front's objective names, explained).
    ref_point : array-like [m], optional
        When given, each solver's HV is shown in a box.
    log_scale : sequence of str
        Objectives drawn on a log axis, e.g. ``("retain_ce",)``.
    near_theta0 : bool, optional
        Add a second panel zoomed on the box around θ0 and Retrain (default: with two objectives when
        both are given).

    Returns
    -------
    matplotlib.figure.Figure
        One panel for two objectives (two with the near-θ0 zoom); one panel per pair of objectives
        beyond. One legend, outside the axes, with the HV per solver when ``ref_point`` is given; the
        front's own ``Original`` point is drawn as θ0's star.

    Examples
    --------
    >>> import numpy as np
    >>> from pareto_unlearn.front import Front
    >>> front = Front.from_points(np.array([[0.1, 1.0], [0.5, 0.3]]), solver="jd")
    >>> fig = plot_fronts(front, original=[0.9, 0.05])
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['jd', 'Original (θ0)']
    """
    display = FrontDisplay.from_front(front, ref_point=ref_point, original=original, retrain=retrain,
                                      labels=objective_names, log_scale=log_scale)
    pairs = [(i, j) for i in range(front.n_obj) for j in range(i + 1, front.n_obj)]
    zoom = (front.n_obj == 2 and display.original is not None and display.retrain is not None
            if near_theta0 is None else bool(near_theta0))
    panels = [(pair, False) for pair in pairs] + ([((0, 1), True)] if zoom else [])
    fig, axes = _figure(len(panels), width=6.4, height=5.4)
    for k, (ax, (pair, near)) in enumerate(zip(axes, panels, strict=True)):
        display.plot(ax, pair=pair, near_theta0=near, legend=k == len(panels) - 1)
    if front.n_obj > 2:
        fig.suptitle(f"Bold: non-dominated in all {front.n_obj} objectives; faint: dominated",
                     fontsize="medium")
    return fig


def _metric(front: Front, name: str) -> np.ndarray:
    return front.metrics.get(name, np.full(len(front), np.nan))


def plot_metric_space(front: Front, *, original: Mapping[str, float] | None = None,
                      retrain: Mapping[str, float] | None = None) -> Figure:
    """Metric space, two panels: UA against TA, and MIA-efficacy against RA.

    Per solver, the points non-dominated in objective space are bold and the others faint; Original and
    Retrain are given as metric dicts (``{"UA": ..., "RA": ..., "TA": ..., "MIA": ...}``).

    Examples
    --------
    >>> import numpy as np
    >>> from pareto_unlearn.front import Front
    >>> m = {"UA": [1.0, 9.0], "RA": [99.0, 97.0], "TA": [95.0, 93.0], "MIA": [10.0, 20.0]}
    >>> fig = plot_metric_space(Front.from_points(np.array([[0.1, 1.0], [0.5, 0.3]]), metrics=m))
    >>> [ax.get_xlabel().split()[0] for ax in fig.axes]
    ['UA', 'MIA-efficacy']
    """
    if original is None and (front.solver == "Original").any():
        i = int(np.flatnonzero(front.solver == "Original")[0])
        original = {k: float(v[i]) for k, v in front.metrics.items()}
    front = _without_original(front)
    fig, axes = _figure(2)
    colors = solver_colors(front.solvers)
    nd, feasible = front.nondominated(), front.feasible
    for k, (ax, (x, y)) in enumerate(zip(axes, (("UA", "TA"), ("MIA", "RA")), strict=True)):
        X, Y = _metric(front, x), _metric(front, y)
        for name in front.solvers:
            rows = (front.solver == name) & feasible
            _solver_points(ax, X[rows], Y[rows], nd[rows], colors[name], name)
        for point, style in ((original, ORIGINAL), (retrain, RETRAIN)):
            if point is not None:
                ax.scatter([point.get(x, np.nan)], [point.get(y, np.nan)], **style)
        _finish(ax, METRIC_LABELS[x], METRIC_LABELS[y], f"{x} vs {y} (bold: non-dominated in objectives)",
                legend=k == 1)
    return fig


def plot_anytime(front: Front, *, log_x: bool = True) -> Figure:
    """Anytime HV, two panels: against wall-clock seconds and against sample passes (forward + backward).

    Reads the solvers' own logs ``front.anytime`` (dicts with ``solver``, ``wall_s``,
    ``forward_passes``, ``backward_passes``, ``hv``); one step line per solver, solvers without a log
    keep their legend entry. With ``log_x`` non-positive costs are not drawn.

    Examples
    --------
    >>> import numpy as np
    >>> from pareto_unlearn.front import Front
    >>> log = [{"solver": "jd", "wall_s": t, "forward_passes": 10 * t, "backward_passes": 5 * t, "hv": t / 4}
    ...        for t in (1.0, 2.0, 3.0)]
    >>> fig = plot_anytime(Front.from_points(np.array([[0.1, 1.0]]), solver="jd", anytime=log))
    >>> len(fig.axes[0].get_lines()), fig.axes[1].get_xlabel()
    (1, 'sample passes through the network (forward + backward)')
    """
    front = _without_original(front)
    solvers = list(dict.fromkeys(front.solvers + [str(a.get("solver")) for a in front.anytime]))
    colors = solver_colors(solvers)
    fig, axes = _figure(2)
    for name in solvers:
        log = [a for a in front.anytime if str(a.get("solver")) == name]
        hv = np.array([a.get("hv", np.nan) for a in log], dtype=float)
        wall = np.array([a.get("wall_s", np.nan) for a in log], dtype=float)
        passes = np.array([a.get("forward_passes", np.nan) + a.get("backward_passes", np.nan) for a in log],
                          dtype=float)
        for ax, x in zip(axes, (wall, passes), strict=True):
            keep = np.isfinite(x) & np.isfinite(hv) & ((x > 0) if log_x else True)
            order = np.argsort(x[keep], kind="stable")
            ax.step(x[keep][order], hv[keep][order], where="post", color=colors[name], lw=1.8, marker=".",
                    markersize=4, label=name)
    for k, (ax, xlabel) in enumerate(zip(axes, ("wall-clock seconds (set-up included)",
                                                "sample passes through the network (forward + backward)"),
                                         strict=True)):
        if log_x:
            ax.set_xscale("log")
        _finish(ax, xlabel, "hypervolume (fixed reference point)",
                f"Anytime HV against {xlabel.split(' (')[0]}", legend=k == 1)
    return fig


def plot_trajectories(front: Front, *, background: Front | None = None, original: Any = None) -> Figure:
    """Trajectories of gradient solvers in objective space, over the other fronts drawn faint.

    Points whose provenance has a ``run`` (trajectory id) are joined per run in the order of their
    ``epoch``; the last epoch of each run is ringed. ``background`` (default: the points of ``front``
    without a run) is drawn faint. Only the first two objectives are drawn.

    Examples
    --------
    >>> import numpy as np
    >>> from pareto_unlearn.front import Front
    >>> prov = [{"run": 0, "epoch": e} for e in (1, 2, 3)]
    >>> jd = Front.from_points(np.array([[0.8, 0.1], [0.5, 0.2], [0.3, 0.4]]), solver="jd", provenance=prov)
    >>> fig = plot_trajectories(jd)
    >>> fig.axes[0].get_legend().get_texts()[0].get_text()
    'jd'
    """
    has_run = np.array(["run" in p for p in front.provenance], dtype=bool)
    if background is None:
        background = front.take(~has_run)
    traced = front.take(has_run & front.feasible)
    solvers = list(dict.fromkeys(traced.solvers + background.solvers))
    colors = solver_colors(solvers)
    fig, (ax,) = _figure(1, width=7.0, height=5.4)
    for name in background.solvers:
        rows = (background.solver == name) & background.feasible
        ax.scatter(background.F[rows, 0], background.F[rows, 1], s=14, color=colors[name], alpha=0.25,
                   linewidths=0, label=name if name not in traced.solvers else None)
    labelled: set[str] = set()  # one legend entry per traced solver, on its first run
    keys = [(str(s), str(p["run"])) for s, p in zip(traced.solver, traced.provenance, strict=True)]
    for name, run in dict.fromkeys(keys):
        rows = sorted((k for k, key in enumerate(keys) if key == (name, run)),
                      key=lambda k: traced.provenance[k].get("epoch", k))
        path = traced.F[rows]
        ax.plot(path[:, 0], path[:, 1], "-o", color=colors[name], lw=1.4, markersize=3.5, zorder=4,
                label=name if name not in labelled else None)
        ax.scatter(path[-1:, 0], path[-1:, 1], s=70, facecolor="none", edgecolor=colors[name], lw=1.6,
                   zorder=5)
        labelled.add(name)
    if original is not None:
        ax.scatter([original[0]], [original[1]], **ORIGINAL)
    x, y = (objective_label(name) for name in front.objective_names[:2])
    _finish(ax, x, y, "Gradient-solver trajectories by epoch (ring = last epoch) over the other fronts",
            loc="upper right")
    return fig


def plot_attainment(surfaces: Mapping[str, np.ndarray], *, level: float = 50.0,
                    objective_names: Sequence[str] = ("forget_kl", "retain_ce")) -> Figure:
    """Empirical attainment surfaces per solver (from :func:`~pareto_unlearn.indicators.attainment_surface`).

    Each surface [k, 2] is drawn as the staircase bounding the region attained by ``level`` % of the
    runs, in the normalised objectives the surfaces were computed on.

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_attainment({"jd": np.array([[0.2, 0.9], [0.5, 0.3]]), "ls": np.array([[0.3, 0.8]])})
    >>> fig.axes[0].get_title()
    'Median (50 %) attainment surface over seeds'
    """
    colors = solver_colors(list(surfaces))
    fig, (ax,) = _figure(1, width=7.0, height=5.4)
    pieces = [np.asarray(S, dtype=float).reshape(-1, 2) for S in surfaces.values()]
    nonempty = [S for S in pieces if len(S)]
    top = np.max([S.max(axis=0) for S in nonempty], axis=0) * 1.05 if nonempty else np.ones(2)
    for name, S in zip(surfaces, pieces, strict=True):
        S = S[np.argsort(S[:, 0])]
        if len(S):  # close the staircase: up to the top edge before the first point, right after the last
            S = np.vstack([[S[0, 0], top[1]], S, [top[0], S[-1, 1]]])
        ax.step(S[:, 0], S[:, 1], where="post", color=colors[name], lw=2.0, label=name)
        ax.scatter(S[1:-1, 0], S[1:-1, 1], s=16, color=colors[name], zorder=4)
    x, y = (f"{name} (normalised by the HV reference point)" for name in objective_names[:2])
    title = "Median (50 %)" if level == 50 else f"{level:g} %"
    _finish(ax, x, y, f"{title} attainment surface over seeds", loc="upper right")
    return fig


def plot_parallel_metrics(front: Front, *,
                          metrics: Sequence[str] = ("UA", "RA", "TA", "MIA", "gap"),
                          original: Mapping[str, float] | None = None,
                          retrain: Mapping[str, float] | None = None) -> Figure:
    """Parallel coordinates of the metrics of the non-dominated points, coloured by solver.

    Readable with hundreds of points: each solver's points are thin faint lines (fainter the more there
    are) under one bold line, the solver's median on each axis; a baseline is one bold line with its
    marker; θ0 and Retrain (metric dicts, optional) are dashed black and grey lines. Each axis spans the
    range of the drawn points and references (its minimum and maximum are written at its ends); metrics
    missing or NaN for every point (``gap`` without Retrain) are left out.

    Examples
    --------
    >>> import numpy as np
    >>> from pareto_unlearn.front import Front
    >>> m = {"UA": [1.0, 9.0], "RA": [99.0, 97.0], "TA": [95.0, 93.0], "MIA": [10.0, 20.0]}
    >>> fig = plot_parallel_metrics(Front.from_points(np.array([[0.1, 1.0], [0.5, 0.3]]), metrics=m))
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
    ['UA (%)', 'RA (%)', 'TA (%)', 'MIA (%)']
    """
    front = _without_original(front)
    nd = front.nondominated()
    table = np.column_stack([_metric(front, m)[nd] for m in metrics]).reshape(-1, len(metrics))
    shown = [k for k in range(len(metrics)) if np.isfinite(table[:, k]).any()]
    names, table, solver = [metrics[k] for k in shown], table[:, shown], front.solver[nd]
    refs: list[tuple[np.ndarray, dict[str, Any]]] = [
        (np.array([float(r.get(n, np.nan)) for n in names]), style)
        for r, style in ((original, {"color": ORIGINAL_COLOR, "linestyle": "--", "label": "Original (θ0)"}),
                         (retrain, {"color": RETRAIN_COLOR, "linestyle": "--", "label": "Retrain"})) if r]
    every = np.vstack([table, *[v for v, _ in refs]]) if refs else table
    low, high = np.nanmin(every, axis=0, initial=np.inf), np.nanmax(every, axis=0, initial=-np.inf)
    span = np.where(high > low, high - low, 1.0)

    def scale(values: np.ndarray) -> np.ndarray:
        return np.where(high > low, (values - low) / span, 0.5)

    scaled = scale(table)
    colors = solver_colors(front.solvers)
    fig, (ax,) = _figure(1, width=9.0, height=5.0)
    x = np.arange(len(names))
    for name in front.solvers:
        rows = scaled[solver == name]
        if is_baseline(name):
            ax.plot(x, rows.T if len(rows) else np.full(len(x), np.nan), color=colors[name], lw=2.0,
                    marker=BASELINE_MARKERS[name], markersize=7, markeredgecolor="black", label=name,
                    zorder=5)
            continue
        if len(rows):
            ax.plot(x, rows.T, color=colors[name], lw=0.8, alpha=float(np.clip(3.0 / len(rows), 0.06, 0.45)))
        median = np.nanmedian(rows, axis=0) if len(rows) else np.full(len(x), np.nan)
        ax.plot(x, median, color=colors[name], lw=2.6, marker="o", markersize=4, label=f"{name} (median)",
                zorder=4)
    for values, style in refs:
        ax.plot(x, scale(values), lw=2.0, zorder=6, **style)
    for k in range(len(x)):  # the positions x = 0, 1, ...
        ax.axvline(k, color="0.3", lw=0.8)
        ax.text(k, -0.04, f"{low[k]:.3g}", ha="center", va="top", fontsize="small")
        ax.text(k, 1.04, f"{high[k]:.3g}", ha="center", va="bottom", fontsize="small")
    ax.set_xticks(x, [f"{n} (%)" if n != "gap" else "gap (pp)" for n in names])
    ax.set_ylim(-0.12, 1.12)
    ax.set_yticks([])
    _finish(ax, "metric (each axis spans the drawn points: min at the bottom, max at the top)",
            "position within each metric's range",
            "Metrics of the non-dominated points: faint lines per point, bold the solver's median",
            grid=False)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: int = 120) -> None:
    """Write ``fig`` as a PNG at ``path`` atomically (temporary file in the same folder, then os.replace).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> fig = Figure()
    >>> _ = fig.add_subplot().plot([0, 1], [1, 0])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save_figure(fig, pathlib.Path(d) / "f.png")
    ...     (pathlib.Path(d) / "f.png").read_bytes()[:4]
    b'\\x89PNG'
    """
    if not isinstance(fig, Figure):
        raise ConfigError(f"save_figure: expected a matplotlib Figure. Got {type(fig).__name__}.")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    atomic_write_bytes(path, buffer.getvalue())
