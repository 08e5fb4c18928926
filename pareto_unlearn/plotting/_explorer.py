"""``FrontExplorer``: explore a front by hand in Jupyter — linked, hoverable, clickable views.

Open it on a run directory, a Front, or several runs; in a notebook it shows four linked views (the
objective space, the same zoomed near θ0, UA vs TA, MIA-efficacy vs RA), filters and a table of the
selected points. Hovering shows a point's solver, space, hyper-parameters, objectives, metrics and its gap
to Retrain (flagged as evaluation only); a click, box or lasso in one view highlights the same points in
every view; θ0, Retrain, the oracle-free pick with its band (docs/definitions.md §6) and the knee are marked.
``explorer.selected`` is the selection as a DataFrame and ``explorer.export(path)`` writes the chosen point
exactly as ``pareto-unlearn select --export`` does (through :func:`~pareto_unlearn.selection_export.
select_and_export`). ``explorer.to_html(path)`` writes the same views as a self-contained page.

The views are plotly (see :mod:`pareto_unlearn.plotting._views` for why), in a ``FigureWidget`` with
ipywidgets controls: ``pip install -e ".[jupyter]"``. Without them the explorer still prepares its data,
selects, filters, exports and writes HTML; only the notebook widget needs them.

Examples
--------
>>> explorer = FrontExplorer("runs/demo")  # doctest: +SKIP
>>> explorer.filter(constraint="RA >= 99", nondominated=True)  # doctest: +SKIP
>>> explorer.select([explorer.pick])  # doctest: +SKIP
>>> explorer.selected[["solver", "point", "UA", "RA", "gap"]]  # doctest: +SKIP
>>> explorer.export("chosen.safetensors")  # doctest: +SKIP
"""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pareto_unlearn.exceptions import ConfigError, MissingDependencyError
from pareto_unlearn.plotting._data import ExplorerData, prepare_explorer_data, visible_mask
from pareto_unlearn.plotting._html import TABLE_COLUMNS, write_explorer_html
from pareto_unlearn.plotting._views import INSTALL_HINT, build_figure
from pareto_unlearn.selection_export import select_and_export

__all__ = ["FrontExplorer", "export_point"]

logger = logging.getLogger(__name__)


def export_point(run_dir: str | os.PathLike, index: int, path: str | os.PathLike, *, task: Any = None,
                 cache_dir: str | os.PathLike | None = None, device: str | None = None) -> dict[str, Any]:
    """Export point ``index`` of a run's front with the ``select --export`` code
    (:func:`~pareto_unlearn.selection_export.select_and_export` with ``index=``): the same files and JSON
    record, the rule recorded as ``manual``.

    Returns
    -------
    dict
        What :func:`~pareto_unlearn.selection_export.select_and_export` returns.
    """
    return select_and_export(run_dir, index=int(index), export=path, task=task, cache_dir=cache_dir,
                             device=device)


class FrontExplorer:
    """Linked, hoverable, selectable views of one or several fronts (Jupyter widget or HTML page).

    Parameters
    ----------
    sources : run directory, Front, or a sequence of them
        Several runs are drawn together (one colour per solver, one marker shape per run).
    labels : sequence of str, optional
        A name per run.
    original, retrain : dict or array-like, optional
        θ0 and Retrain for a bare Front (``{"objectives": [...], "metrics": {...}}``); run directories
        bring their own.
    oracle_free_kind : {"random", "class"}, optional
        For a bare Front without its task: the oracle-free rule's kind of forgetting.
    pair : (int, int)
        The two objectives of the objective views (positions; any two of a three-objective run).
    task : UnlearningTask, optional
        The runs' task, reused by :meth:`export` instead of rebuilding it from the model cache.

    Attributes
    ----------
    data : ExplorerData
        The prepared points (flags, hover text, references, picks).

    Examples
    --------
    >>> import numpy as np
    >>> from pareto_unlearn.front import Front
    >>> front = Front.from_points(np.array([[0.1, 1.0], [0.5, 0.3], [0.6, 0.6]]), solver="jd",
    ...                           metrics={"RA": [90.0, 99.5, 99.0]})
    >>> explorer = FrontExplorer(front)
    >>> explorer.select([1, 2]).selected["RA"].tolist()
    [99.5, 99.0]
    >>> explorer.filter(constraint="RA >= 99.2").selected.index.tolist()  # filtered-out points leave
    [1]
    """

    def __init__(self, sources: Any, *, labels: Sequence[str] | None = None, original: Any = None,
                 retrain: Any = None, oracle_free_kind: str | None = None, pair: tuple[int, int] = (0, 1),
                 task: Any = None) -> None:
        self.data: ExplorerData = prepare_explorer_data(sources, labels=labels, original=original,
                                                        retrain=retrain, oracle_free_kind=oracle_free_kind)
        n = len(self.data.objective_names)
        if len(pair) != 2 or pair[0] == pair[1] or not all(0 <= k < n for k in pair):
            raise ConfigError(f"FrontExplorer: `pair` must be two different objectives among 0..{n - 1}. "
                              f"Got {pair!r}.")
        self.pair = (int(pair[0]), int(pair[1]))
        self.task = task
        self.filters: dict[str, Any] = {"solvers": None, "constraint": None, "nondominated": False}
        self._visible = visible_mask(self.data)
        self._selected: list[int] = []
        self._widget: Any = None
        self._figure: Any = None
        self._event: Any = None
        self._pending: list[int] = []
        self._table: Any = None

    @classmethod
    def from_runs(cls, run_dirs: Sequence[str | os.PathLike], **kwargs: Any) -> FrontExplorer:
        """Several run directories in one explorer."""
        return cls(list(run_dirs), **kwargs)

    # ------------------------------------------------------------------ state
    @property
    def visible(self) -> np.ndarray:
        """Mask of the points that pass the filters."""
        return self._visible.copy()

    @property
    def pick(self) -> int | None:
        """uid of the (first run's) oracle-free pick, or None."""
        return next(iter(self.data.picks.values()), {}).get("uid")

    @property
    def knee(self) -> int | None:
        """uid of the (first run's) knee, or None."""
        return next(iter(self.data.picks.values()), {}).get("knee")

    @property
    def selected(self) -> pd.DataFrame:
        """The selected points, indexed by uid: run, index into the run's front, solver, point, space,
        objectives, metrics, the oracle-free flags and the hyper-parameters."""
        columns = ["run", "index", *[c for c in TABLE_COLUMNS(self.data) if c not in ("uid", "run")],
                   "hyperparameters"]
        return self.data.points.loc[self._selected, columns].rename_axis("uid")

    def select(self, uids: Iterable[int]) -> FrontExplorer:
        """Select these points (uids; the filtered-out ones are dropped) and highlight them in every view."""
        wanted = [int(u) for u in dict.fromkeys(uids)]
        bad = [u for u in wanted if not 0 <= u < len(self.data.points)]
        if bad:
            raise ConfigError(f"FrontExplorer.select: no point {bad}; uids run 0.."
                              f"{len(self.data.points) - 1}")
        self._selected = sorted(u for u in wanted if self._visible[u])
        self._refresh(redraw=False)
        return self

    def clear(self) -> FrontExplorer:
        """Select nothing."""
        return self.select([])

    def filter(self, *, solvers: Sequence[str] | None = None, constraint: str | None = None,
               nondominated: bool = False) -> FrontExplorer:
        """Show only some points: these solvers, those passing a constraint (``"RA >= 99"``), the
        non-dominated ones (θ0 always stays). The selection keeps its visible points."""
        self._visible = visible_mask(self.data, solvers=solvers, constraint=constraint,
                                     nondominated=nondominated)
        self.filters = {"solvers": None if solvers is None else list(solvers), "constraint": constraint,
                        "nondominated": bool(nondominated)}
        self._selected = [u for u in self._selected if self._visible[u]]
        self._refresh(redraw=True)
        return self

    # ------------------------------------------------------------------ drawing
    def figure(self) -> Any:
        """The four views as a static ``plotly.graph_objects.Figure`` (current filters and selection)."""
        return build_figure(self.data, pair=self.pair, visible=self._visible, selected=self._selected)

    def to_html(self, path: str | os.PathLike, *, title: str | None = None) -> Path:
        """Write the views as a self-contained HTML page (plotly.js embedded, works offline)."""
        title = title or f"Pareto front explorer: {', '.join(self.data.runs)}"
        return write_explorer_html(path, self.data, title=title, visible=self._visible,
                                   selected=self._selected, pair=self.pair)

    def widget(self) -> Any:
        """The Jupyter widget: the linked views (a plotly ``FigureWidget``), filters and the table."""
        if self._widget is None:
            self._widget = self._build_widget()
        return self._widget

    def _ipython_display_(self) -> None:  # pragma: no cover - needs a notebook front end
        from IPython.display import display

        display(self.widget())

    def __repr__(self) -> str:
        return (f"FrontExplorer({len(self.data.points)} points, runs {self.data.runs}, solvers "
                f"{self.data.solvers}, {int(self._visible.sum())} shown, {len(self._selected)} selected)")

    def _build_widget(self) -> Any:
        try:
            import ipywidgets as widgets
            import plotly.graph_objects as go
        except ImportError:
            raise MissingDependencyError(f"the explorer widget needs plotly, anywidget and ipywidgets; "
                                         f"install them with {INSTALL_HINT}") from None
        try:
            figure = go.FigureWidget(self.figure())
        except (ImportError, ValueError) as exc:
            raise MissingDependencyError(f"plotly.graph_objects.FigureWidget is unavailable ({exc}); install "
                                         f"the extra with {INSTALL_HINT}") from None
        for trace in figure.data:
            if trace.meta.get("role") == "points":
                trace.on_selection(self._on_selection)
                trace.on_click(self._on_click)
                trace.on_deselect(lambda *_: self.clear())
        self._figure = figure
        solvers = widgets.SelectMultiple(options=self.data.solvers, value=tuple(self.data.solvers),
                                         description="solvers", rows=min(8, len(self.data.solvers)))
        constraint = widgets.Text(placeholder="RA >= 99", description="constraint")
        nondominated = widgets.Checkbox(value=False, description="non-dominated only")
        apply = widgets.Button(description="filter")
        message = widgets.HTML()
        self._table = widgets.HTML()

        def on_apply(_: Any) -> None:
            try:
                self.filter(solvers=list(solvers.value), constraint=constraint.value or None,
                            nondominated=nondominated.value)
                message.value = ""
            except ConfigError as exc:
                message.value = f"<span style='color:#b00020'>{html.escape(str(exc))}</span>"  # quotes input

        apply.on_click(on_apply)
        controls = widgets.HBox([solvers, widgets.VBox([constraint, nondominated, apply, message])])
        self._refresh(redraw=False)
        return widgets.VBox([controls, figure, self._table])

    def _on_selection(self, trace: Any, points: Any, selector: Any) -> None:
        """A box or lasso selection: plotly calls this once per trace with the same selector object."""
        uids = [int(trace.customdata[k][0]) for k in points.point_inds]
        if selector is not self._event:
            self._event, self._pending = selector, []
        self._pending += uids
        self.select(self._pending)

    def _on_click(self, trace: Any, points: Any, state: Any) -> None:
        if points.point_inds:
            self.select([int(trace.customdata[points.point_inds[0]][0])])

    def _refresh(self, *, redraw: bool) -> None:
        """Push the filters (redraw) and the selection to the widget, if one is shown."""
        if self._figure is None:
            return
        chosen = set(self._selected)
        with self._figure.batch_update():
            if redraw:
                fresh = self.figure()
                for live, new in zip(self._figure.data, fresh.data, strict=True):
                    live.update(x=new.x, y=new.y, customdata=new.customdata, text=new.text, marker=new.marker)
            for trace in self._figure.data:
                if trace.meta.get("role") != "points":
                    continue
                uids = [int(c[0]) for c in (trace.customdata or ())]
                trace.selectedpoints = [k for k, u in enumerate(uids) if u in chosen] if chosen else None
        if self._table is None:
            return
        columns = [c for c in self.selected.columns if c not in ("index", "hyperparameters")]
        table = self.selected[columns]
        rows = table.to_html(float_format=lambda v: f"{v:.4g}", escape=True)  # names are text, not markup
        self._table.value = (f"<b>{len(table)} selected</b>" + rows if len(table)
                             else "<i>Nothing selected: click a point, or draw a box or lasso.</i>")

    # ------------------------------------------------------------------ export
    def export(self, path: str | os.PathLike, *, uid: int | None = None,
               cache_dir: str | os.PathLike | None = None, device: str | None = None) -> dict[str, Any]:
        """Write the chosen point (``uid``, else the one selected point) exactly as ``select --export``
        does: ``<stem>.safetensors``, ``<stem>.json`` and, for subspace points, the adapter.

        Raises
        ------
        ConfigError
            No point or several points are selected, or the point's run has no run directory.
        """
        if uid is None:
            if len(self._selected) != 1:
                raise ConfigError(f"FrontExplorer.export: {len(self._selected)} points are selected; select "
                                  "exactly one (click it), or pass uid=")
            uid = self._selected[0]
        row = self.data.points.loc[int(uid)]
        run_dir = self.data.run_dirs.get(row["run"])
        if run_dir is None:
            raise ConfigError(f"FrontExplorer.export: run {row['run']!r} was opened from a Front, not a run "
                              "directory; open the run directory to export its points")
        return export_point(run_dir, int(row["index"]), path, task=self.task, cache_dir=cache_dir,
                            device=device)

