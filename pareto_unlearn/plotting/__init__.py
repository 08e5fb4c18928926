"""Plotting: figures of fronts that draw finished arrays and never compute.

:class:`FrontDisplay` follows scikit-learn's ``RocCurveDisplay``: it stores arrays, ``plot(ax=None)``
draws them and keeps ``ax_``/``figure_``, and ``from_front`` is the one place that calls an indicator.
The ``plot_*`` functions return a ``matplotlib.figure.Figure`` built without pyplot or global style;
:func:`save_figure` writes it as a PNG atomically.

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

__all__ = [
    "FrontDisplay",
    "plot_fronts",
    "plot_metric_space",
    "plot_anytime",
    "plot_trajectories",
    "plot_attainment",
    "plot_parallel_metrics",
    "save_figure",
]
