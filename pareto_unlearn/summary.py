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


# ------------------------------------------------------------------ reading summary.json back

_SUMMARY_KEYS = ("schema_version", "complete", "task", "objectives", "reference", "kl_direction",
                 "hv_reference_point", "original", "retrain", "solvers")


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_summary(summary: Any, where: str = "summary.json") -> dict[str, Any]:
    """``summary`` (a parsed ``summary.json``) if it is one this version can read, else :class:`RunDirError`.

    Checked: a JSON object with every key :func:`summarize` writes, a format version not newer than
    :data:`~pareto_unlearn.rundir.SCHEMA_VERSION`, objective names, a finite reference point of one value
    per objective, one row of numbers (or ``null``) per solver and, when present, a manifest
    (:func:`pareto_unlearn.manifest.check_manifest`).

    Examples
    --------
    >>> check_summary({"schema_version": 99}, "run/summary.json")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pareto_unlearn.exceptions.RunDirError: run/summary.json was written by a newer pareto-unlearn ...
    """
    from pareto_unlearn.exceptions import RunDirError
    from pareto_unlearn.manifest import check_manifest

    def bad(what: str) -> RunDirError:
        return RunDirError(f"{where}: {what}; it was edited or damaged, write the run again with explore")

    if not isinstance(summary, dict):
        raise bad(f"holds a JSON {type(summary).__name__}, not an object")
    raw_version = summary.get("schema_version")
    if not isinstance(raw_version, int) or isinstance(raw_version, bool) or raw_version < 1:
        raise bad(f"schema_version is {raw_version!r}, not a format number")
    version: int = raw_version
    if version > SCHEMA_VERSION:
        raise RunDirError(f"{where} was written by a newer pareto-unlearn (format "
                          f"{version}; this one reads up to {SCHEMA_VERSION}); upgrade "
                          "pareto-unlearn to read it")
    missing = [k for k in _SUMMARY_KEYS if k not in summary]
    if missing:
        raise bad(f"lacks {', '.join(missing)}")
    if not isinstance(summary["complete"], bool):
        raise bad(f"complete is {summary['complete']!r}, not true or false")
    if not isinstance(summary["task"], dict):
        raise bad("task is not an object")
    objectives = summary["objectives"]
    if not isinstance(objectives, list) or not objectives or not all(isinstance(o, str) for o in objectives):
        raise bad(f"objectives is {objectives!r}, not a list of names")
    ref = summary["hv_reference_point"]
    if (not isinstance(ref, list) or len(ref) != len(objectives)
            or not all(_is_number(v) and math.isfinite(v) for v in ref)):
        raise bad(f"hv_reference_point is {ref!r}, not {len(objectives)} finite numbers")
    for key in ("original", "retrain"):
        if not isinstance(summary[key], dict):
            raise bad(f"{key} is not an object")
    solvers = summary["solvers"]
    if not isinstance(solvers, dict):
        raise bad("solvers is not an object")
    for name, row in solvers.items():
        if not isinstance(row, dict):
            raise bad(f"solvers.{name} is not an object")
        for column, value in row.items():
            if column in SOLVER_COLUMNS and value is not None and not _is_number(value):
                raise bad(f"solvers.{name}.{column} is {value!r}, not a number")
    if "manifest" in summary:
        check_manifest(summary["manifest"], f"{where} manifest")
    return summary


def read_summary(path: Any) -> dict[str, Any]:
    """Read and check a ``summary.json`` (:func:`check_summary`); :class:`RunDirError` when it is not one."""
    import json
    from pathlib import Path

    from pareto_unlearn.exceptions import RunDirError

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunDirError(f"{path.parent} is not a run directory (no summary.json); give the --out of an "
                          "explore run") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{path} cannot be read ({exc}); write the run again with explore") from None
    try:
        summary = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise RunDirError(f"{path} is not valid JSON ({exc}); write the run again with explore") from None
    return check_summary(summary, str(path))


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON (the summary writes null for a missing number)")


__all__ += ["check_summary", "read_summary"]
