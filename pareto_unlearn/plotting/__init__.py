"""Plotting: figures of fronts that draw finished arrays and never compute, and the interactive explorer.

:class:`FrontDisplay` follows scikit-learn's ``RocCurveDisplay``: it stores arrays, ``plot(ax=None)``
draws them and keeps ``ax_``/``figure_``, and ``from_front`` is the one place that calls an indicator.
The ``plot_*`` functions return a ``matplotlib.figure.Figure`` built without pyplot or global style;
:func:`save_figure` writes it as a PNG atomically. Every figure colours a solver with its fixed colour
(:func:`solver_colors`, one palette keyed by solver name, shared with the explorer).

:class:`FrontExplorer` (plotly, optional extra ``jupyter``) shows linked, hoverable, selectable views of
one or several runs in Jupyter, and :func:`write_explorer_html` the same as a self-contained page
(``report.html``); :func:`prepare_explorer_data` computes everything they draw.

Examples
--------
>>> import numpy as np
>>> from pareto_unlearn.front import Front
>>> from pareto_unlearn.plotting import plot_fronts
>>> front = Front.from_points(np.array([[0.1, 1.0], [0.4, 0.4], [0.9, 0.1]]), solver="nsga2-last-layer")
>>> fig = plot_fronts(front, original=[0.95, 0.05], retrain=[0.5, 0.08])
>>> fig.axes[0].get_ylabel().split(":")[0]
'retain_ce'
"""

from __future__ import annotations

from pareto_unlearn.plotting._data import ExplorerData, near_theta0_box, prepare_explorer_data, visible_mask
from pareto_unlearn.plotting._displays import (
    FrontDisplay,
    plot_anytime,
    plot_attainment,
    plot_fronts,
    plot_metric_space,
    plot_parallel_metrics,
    plot_trajectories,
    save_figure,
)
from pareto_unlearn.plotting._explorer import FrontExplorer, export_point
from pareto_unlearn.plotting._html import explorer_html, write_explorer_html
from pareto_unlearn.plotting._palette import SOLVER_PALETTE, color_distance, solver_color, solver_colors

__all__ = [
    "FrontDisplay",
    "plot_fronts",
    "plot_metric_space",
    "plot_anytime",
    "plot_trajectories",
    "plot_attainment",
    "plot_parallel_metrics",
    "save_figure",
    "FrontExplorer",
    "export_point",
    "ExplorerData",
    "prepare_explorer_data",
    "visible_mask",
    "near_theta0_box",
    "explorer_html",
    "write_explorer_html",
    "SOLVER_PALETTE",
    "solver_color",
    "solver_colors",
    "color_distance",
]
