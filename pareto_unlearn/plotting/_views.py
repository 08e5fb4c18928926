"""The explorer's linked views as one plotly figure: it draws an :class:`ExplorerData`, it computes nothing.

Why plotly: one figure description serves both places the explorer lives — a ``FigureWidget`` in
Jupyter (selection and click callbacks in Python, through anywidget) and a standalone page
(``plotly.io.to_html(include_plotlyjs=True)`` embeds plotly.js, so ``report.html`` works offline with no
kernel); hover labels, box and lasso selection and ``selectedpoints`` highlighting are built in, and the
library is widely used and maintained. matplotlib stays for the PNG figures. plotly is an optional
dependency (``pip install -e ".[jupyter]"``), imported only when a view is built.

Four views share one selection: the objective space (any two objectives), the same zoomed on the
near-θ0 box, UA against TA and MIA-efficacy against RA. Every point trace carries the points' ``uid`` in
``customdata`` and ``meta = {"role": "points", "view": k}``, which is what the linked-selection code
(Python or JavaScript) reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pareto_unlearn.exceptions import MissingDependencyError
from pareto_unlearn.plotting._data import EVALUATION_ONLY, ExplorerData
from pareto_unlearn.plotting._displays import objective_label
from pareto_unlearn.plotting._palette import (
    BASELINE_MARKERS,
    ORIGINAL_COLOR,
    RETRAIN_COLOR,
    solver_colors,
)

__all__ = ["build_figure", "require_plotly", "VIEW_TITLES", "METRIC_VIEWS", "INSTALL_HINT"]

INSTALL_HINT = 'pip install -e ".[jupyter]"'
METRIC_VIEWS = (("UA", "TA"), ("MIA", "RA"))
VIEW_TITLES = ("Objective space", "Near θ0 (the decision region)", "UA vs TA", "MIA-efficacy vs RA")
PLOTLY_MARKERS = {"P": "cross", "X": "x", "^": "triangle-up", "v": "triangle-down", "s": "square",
                  "p": "pentagon"}
RUN_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "hexagon", "star-triangle-up")
METRIC_AXIS = {"UA": "UA (%) = 100 − acc(D_f)", "RA": "RA (%) = acc(D_r)", "TA": "TA (%) = acc(test)",
               "MIA": "MIA-efficacy (%)"}
PICK_COLOR = "#f5a300"


def require_plotly() -> Any:
    """``plotly.graph_objects``, or MissingDependencyError naming the extra to install."""
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise MissingDependencyError(f"the explorer and report.html need plotly; install it with "
                                     f"{INSTALL_HINT} (or pip install plotly)") from None
    return go


def _axis_label(name: str) -> str:
    return objective_label(name).split("  (")[0]


def _values(column: Any) -> list[float | None]:
    """Plain lists (NaN as None) rather than numpy arrays: the page's script reads them back as is."""
    return [float(v) if np.isfinite(v) else None for v in np.asarray(column, dtype=float)]


def _views(data: ExplorerData, pair: tuple[int, int]) -> list[tuple[str, str]]:
    names = data.objective_names
    x, y = names[pair[0]], names[pair[1]]
    return [(x, y), (x, y), *METRIC_VIEWS]


def build_figure(data: ExplorerData, *, pair: tuple[int, int] = (0, 1), visible: np.ndarray | None = None,
                 selected: Sequence[int] = (), height: int = 860) -> Any:
    """The four linked views of ``data`` as a ``plotly.graph_objects.Figure``.

    Parameters
    ----------
    data : ExplorerData
    pair : (int, int)
        The objectives of the two objective views (positions in ``data.objective_names``).
    visible : bool array [n], optional
        Points to draw (the filters' result); default all feasible points.
    selected : sequence of int
        uids drawn highlighted (every other point faded), in every view.

    Examples
    --------
    Needs plotly (the ``jupyter`` extra; pytest skips the example without it):

    >>> import numpy as np, pytest
    >>> _ = pytest.importorskip("plotly")
    >>> from pareto_unlearn.front import Front
    >>> from pareto_unlearn.plotting._data import prepare_explorer_data
    >>> m = {"UA": [1.0, 9.0], "RA": [99.0, 97.0], "TA": [95.0, 93.0], "MIA": [10.0, 20.0]}
    >>> data = prepare_explorer_data(Front.from_points(np.array([[0.1, 1.0], [0.5, 0.3]]), metrics=m))
    >>> fig = build_figure(data, selected=[1])
    >>> [t.selectedpoints for t in fig.data if t.meta["role"] == "points"]
    [(1,), (1,), (1,), (1,)]
    """
    go = require_plotly()
    from plotly.subplots import make_subplots

    points = data.points
    names = data.objective_names
    if not all(0 <= k < len(names) for k in pair) or pair[0] == pair[1]:
        raise ValueError(f"pair {pair}: two different objectives among 0..{len(names) - 1}")
    visible = points["feasible"].to_numpy(dtype=bool) if visible is None else np.asarray(visible, dtype=bool)
    views = _views(data, pair)
    fig = make_subplots(rows=2, cols=2, subplot_titles=VIEW_TITLES, horizontal_spacing=0.09,
                        vertical_spacing=0.12)
    cells = [(1, 1), (1, 2), (2, 1), (2, 2)]
    colors = solver_colors(points["solver"])
    multi = len(data.fronts) > 1
    run_symbol = {run: RUN_SYMBOLS[k % len(RUN_SYMBOLS)] for k, run in enumerate(data.fronts)}
    chosen = set(int(u) for u in selected)
    # regular solvers first, then θ0 and Retrain, then the baselines on top (never hidden under θ0)
    groups = list(points.groupby(["run", "solver"], sort=False).groups.items())
    rank = {True: 2, False: 0}
    groups.sort(key=lambda g: rank[bool(points.loc[g[1][0], "baseline"])]
                + (1 if g[0][1] == "Original" else 0))
    references = data.references
    for view, ((x, y), (row, col)) in enumerate(zip(views, cells, strict=True)):
        for (run, solver), index in groups:
            part = points.loc[index]
            part = part[visible[part["uid"].to_numpy()]]
            theta0 = solver == "Original"
            label = "Original (θ0)" if theta0 else solver
            label = f"{label} · {run}" if multi else label
            nd = part["nondominated"].to_numpy(dtype=bool)
            baseline = bool(part["baseline"].any())
            if theta0:
                size, symbol, color, line = 19, "star", ORIGINAL_COLOR, {"width": 1, "color": "white"}
            elif baseline:
                size = 14
                symbol = PLOTLY_MARKERS[BASELINE_MARKERS[solver]]
                color, line = colors[solver], {"width": 1.2, "color": "black"}
            else:
                size = np.where(nd, 10, 6).tolist()
                symbol, color = run_symbol[run], colors[solver]
                line = {"width": np.where(nd, 0.8, 0).tolist(), "color": "#222222"}
            opacity = np.where(nd | theta0 | baseline, 0.95, 0.4).tolist()
            uids = part["uid"].to_numpy()
            fig.add_trace(go.Scatter(
                x=_values(part[x]), y=_values(part[y]), mode="markers", name=label,
                legendgroup=label, showlegend=view == 0, customdata=[[int(u)] for u in uids],
                text=part["hover"].tolist(),
                hovertemplate="%{text}<extra></extra>",
                marker={"size": size, "symbol": symbol, "color": color, "opacity": opacity, "line": line},
                selected={"marker": {"opacity": 1.0}}, unselected={"marker": {"opacity": 0.1}},
                selectedpoints=[k for k, u in enumerate(uids) if u in chosen] if chosen else None,
                meta={"role": "points", "view": view}), row=row, col=col)
        for _, ref in references.iterrows():
            if ref["kind"] != "Retrain":
                continue
            name = f"Retrain · {ref['run']}" if multi else "Retrain"
            fig.add_trace(go.Scatter(
                x=[ref[x]], y=[ref[y]], mode="markers", name=name, legendgroup=name, showlegend=view == 0,
                hovertemplate=(f"<b>{name}</b> ({EVALUATION_ONLY})<br>{x} %{{x:.4g}}, {y} %{{y:.4g}}"
                               "<extra></extra>"),
                marker={"size": 13, "symbol": "diamond", "color": "white",
                        "line": {"width": 2.2, "color": RETRAIN_COLOR}},
                meta={"role": "reference", "view": view}), row=row, col=col)
        for flag, name, marker in (
                ("in_band", "oracle-free band", {"size": 18, "symbol": "circle-open", "color": "#444444",
                                                 "line": {"width": 1.4}}),
                ("knee", "knee", {"size": 22, "symbol": "square-open", "color": "#0b6e4f",
                                  "line": {"width": 2.5}}),
                ("oracle_free_pick", "oracle-free pick", {"size": 26, "symbol": "circle-open",
                                                          "color": PICK_COLOR, "line": {"width": 3.5}})):
            part = points[points[flag].to_numpy(dtype=bool) & visible]
            fig.add_trace(go.Scatter(
                x=_values(part[x]), y=_values(part[y]), mode="markers", name=name,
                legendgroup=name, showlegend=view == 0, hoverinfo="skip", marker=marker,
                customdata=[[int(u)] for u in part["uid"]],
                meta={"role": "annotation", "view": view}), row=row, col=col)
        axis = "" if view == 0 else str(view + 1)
        fig.update_xaxes(title_text=_axis_label(x) if view < 2 else METRIC_AXIS[x], row=row, col=col)
        fig.update_yaxes(title_text=_axis_label(y) if view < 2 else METRIC_AXIS[y], row=row, col=col)
        if view == 1 and data.zoom is not None:
            lo, hi = data.zoom
            fig.layout[f"xaxis{axis}"].range = [float(lo[pair[0]]), float(hi[pair[0]])]
            fig.layout[f"yaxis{axis}"].range = [float(lo[pair[1]]), float(hi[pair[1]])]
    fig.update_layout(height=height, dragmode="select", clickmode="event+select", hovermode="closest",
                      template="plotly_white", legend={"title": {"text": "solver (click: show / hide)"},
                                                       "itemsizing": "constant", "x": 1.02, "y": 1.0},
                      margin={"l": 60, "r": 20, "t": 50, "b": 50},
                      hoverlabel={"align": "left", "font": {"size": 12}})
    return fig
