"""Indicators: numbers that score a front, configured with their reference and called on it
(docs/definitions.md §4).

Hypervolume and IGD+ come from pymoo (moocore underneath), attainment surfaces from moocore; only the
rules around them (which points count, the reference point, the scaling) live here. Infeasible points
(NaN or inf objectives) never count.

Examples
--------
>>> import math
>>> import numpy as np
>>> from pareto_unlearn.front import Front
>>> from pareto_unlearn.indicators import HV, hv_reference_point_from_values, igd_plus
>>> front = Front.from_points(np.array([[0.1, 1.5], [0.4, 0.6], [0.8, 0.2], [np.nan, 0.1]]))
>>> ref = hv_reference_point_from_values([0.9, 0.05], [0.0, math.log(10)])  # 1.01 × (f_F(θ0), log C)
>>> round(HV(ref)(front), 4)
1.1696
>>> round(igd_plus(front, front.F[front.nondominated_union()], ref), 4)
0.0
"""

from __future__ import annotations

from pareto_unlearn.indicators._hv import (
    HV,
    UTILITY_MARGIN,
    HVAtUtility,
    anytime_hv,
    attainment_surface,
    hypervolume,
)
from pareto_unlearn.indicators._igd import igd_plus
from pareto_unlearn.indicators._reference_point import hv_reference_point, hv_reference_point_from_values
from pareto_unlearn.indicators._stationarity import pareto_stationarity_gap

__all__ = [
    "HV",
    "UTILITY_MARGIN",
    "HVAtUtility",
    "hypervolume",
    "igd_plus",
    "hv_reference_point",
    "hv_reference_point_from_values",
    "pareto_stationarity_gap",
    "anytime_hv",
    "attainment_surface",
]
