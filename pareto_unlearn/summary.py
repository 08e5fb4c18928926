"""A run's summary: what ``summary.json`` holds, computed from its Front and the indicators
(docs/definitions.md §4). Nothing here writes a file; :func:`pareto_unlearn.rundir.write_run_dir` does.

:func:`summarize` gives the whole document; :func:`solver_row` one solver's indicators, the row that both
``summary.json`` and :func:`~pareto_unlearn.experiments.compare` report. The NaN rule is one, here:

* ``hv``: the HV of the solver's feasible points; ``0.0`` when none is feasible.
* ``hv_gain``: ``hv`` − the HV of θ0 alone; NaN without θ0's objectives (or with the wrong length).
* ``hv_utility``: the HV of the points with RA >= ``ra_min``; ``0.0`` when no point qualifies, NaN when
  the points carry no RA metric or ``ra_min`` is not a finite number.
* ``igd_plus``: IGD+ to the union front; NaN when no point is feasible.
* ``wall_s``, ``forward_passes``, ``backward_passes``: the largest finite value; NaN when none is finite.

The summary is returned in its JSON form (NaN and inf as ``None``, tuples as lists, numpy scalars as Python
numbers), so that ``summarize(...)`` equals what ``summary.json`` reads back.

Examples
--------
>>> import numpy as np
>>> from pareto_unlearn.front import Front
>>> front = Front.from_points(np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]]),
...                           metrics={"RA": np.array([90.0, 99.0, 99.5])})
>>> row = solver_row(front, front.solvers[0], ref_point=[4.0, 4.0], union_F=front.F, ra_min=95.0,
...                  theta0=[3.5, 3.5])
>>> row["hv"], row["hv_gain"], row["hv_utility"], row["igd_plus"]
(6.0, 5.75, 5.0, 0.0)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np

from pareto_unlearn._io import to_jsonable
from pareto_unlearn.front import Front
from pareto_unlearn.indicators import UTILITY_MARGIN, HVAtUtility, hypervolume, igd_plus
from pareto_unlearn.rundir import SCHEMA_VERSION

__all__ = ["SOLVER_COLUMNS", "summarize", "solver_row", "utility_ra_min", "hv_gain", "hv_utility"]

# The keys of one solver's row in summary.json, in order.
SOLVER_COLUMNS = ("hv", "hv_gain", "hv_utility", "igd_plus", "n_points", "n_nondominated", "wall_s",
                  "forward_passes", "backward_passes")


def _finite_max(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return float(values.max()) if len(values) else float("nan")


def utility_ra_min(original: Mapping[str, Any]) -> float:
    """HV@utility's threshold: RA(θ0) − :data:`~pareto_unlearn.indicators.UTILITY_MARGIN` (definitions §4);
    NaN when ``original["metrics"]`` has no RA."""
    ra = (original.get("metrics") or {}).get("RA")
    return float("nan") if ra is None else float(ra) - UTILITY_MARGIN


def hv_gain(hv: float, theta0: Sequence[float] | np.ndarray | None, ref_point: Any) -> float:
    """``hv`` − the HV of θ0 alone (definitions §4); NaN without θ0's objectives or with another length
    than the reference point's."""
    ref = np.asarray(ref_point, dtype=float)
    if theta0 is None or len(theta0) != len(ref):
        return float("nan")
    return float(hv - hypervolume(np.asarray([theta0], dtype=float), ref))


def hv_utility(part: Front, ref_point: Any, ra_min: float | None) -> float:
    """HV@utility of ``part`` (definitions §4); NaN when it has no RA metric or ``ra_min`` is not finite."""
    finite = isinstance(ra_min, numbers.Real) and math.isfinite(ra_min)
    if not finite or "RA" not in part.metrics:
        return float("nan")
    return HVAtUtility(ref_point, float(cast(float, ra_min)))(part)


def solver_row(front: Front, name: str, *, ref_point: Any, union_F: np.ndarray, ra_min: float | None,
               theta0: Sequence[float] | np.ndarray | None) -> dict[str, Any]:
    """One solver's indicators (:data:`SOLVER_COLUMNS`): HV, HV gain over θ0, HV@utility, IGD+ to
    ``union_F``, point counts and the cost of its points (the NaN rule of the module docstring).

    Parameters
    ----------
    front : Front
        The run's front; the solver's points are ``front.only(name)``.
    name : str
    ref_point : array-like [m]
        The HV reference point, also IGD+'s scale.
    union_F : np.ndarray [k, m]
        The reference front of IGD+ (the non-dominated union of the run, or of every run compared).
    ra_min : float or None
        HV@utility's RA threshold (:func:`utility_ra_min`).
    theta0 : array-like [m] or None
        θ0's objectives, for ``hv_gain``.

    Returns
    -------
    dict
        Floats (NaN, not ``None``) and ints.
    """
    ref = np.asarray(ref_point, dtype=float)
    part = front.only(name)
    feasible = part.F[part.feasible]
    hv = hypervolume(feasible, ref)
    return {
        "hv": hv,
        "hv_gain": hv_gain(hv, theta0, ref),
        "hv_utility": hv_utility(part, ref, ra_min),
        "igd_plus": igd_plus(feasible, union_F, ref) if len(feasible) else float("nan"),
        "n_points": len(part),
        "n_nondominated": int(part.nondominated().sum()),
        "wall_s": _finite_max(part.cost["wall_s"]),
        "forward_passes": _finite_max(part.cost["forward_passes"]),
        "backward_passes": _finite_max(part.cost["backward_passes"]),
    }


def summarize(
    front: Front,
    *,
    ref_point: Any,
    original: Mapping[str, Any],
    retrain: Mapping[str, Any],
    task_info: Mapping[str, Any],
    reference: str,
    kl_direction: str,
    manifest: Mapping[str, Any],
    complete: bool = True,
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The summary of a run (``summary.json``), computed; nothing is written.

    Parameters
    ----------
    front : Front
        Every point of the run, θ0 (solver ``"Original"``) included; θ0 gets no row.
    ref_point : array-like [m]
        The HV reference point.
    original, retrain : dict
        ``{"objectives": [m], "metrics": {name: value}}`` of θ0 and of Retrain; θ0's RA sets HV@utility's
        threshold, its objectives the HV gain.
    task_info : dict
        ``task.describe()``.
    reference, kl_direction : str
        The objectives' settings.
    manifest : dict
        :func:`pareto_unlearn.manifest.manifest`.
    complete : bool, default True
        False for the finished solvers of an interrupted run.
    settings : dict, optional
        The run's settings.

    Returns
    -------
    dict
        The JSON document: ``schema_version``, ``complete``, ``task``, ``objectives``, ``reference``,
        ``kl_direction``, ``hv_reference_point``, ``hv_utility_ra_min``, ``original``, ``retrain``,
        ``solvers`` (one :func:`solver_row` per solver, IGD+ to the run's own non-dominated union),
        ``settings`` and ``manifest``; NaN as ``None``.
    """
    ref = np.asarray(ref_point, dtype=float)
    union_F = front.F[front.nondominated_union()]
    ra_min = utility_ra_min(original)
    theta0 = original.get("objectives")
    solvers = {name: solver_row(front, name, ref_point=ref, union_F=union_F, ra_min=ra_min, theta0=theta0)
               for name in front.solvers if name != "Original"}
    return to_jsonable({
        "schema_version": SCHEMA_VERSION,
        "complete": bool(complete),
        "task": task_info,
        "objectives": list(front.objective_names),
        "reference": reference,
        "kl_direction": kl_direction,
        "hv_reference_point": [float(v) for v in ref],
        "hv_utility_ra_min": ra_min,
        "original": original,
        "retrain": retrain,
        "solvers": solvers,
        "settings": settings or {},
        "manifest": manifest,
    })
