"""Hypervolume (pymoo / moocore), HV@utility, anytime HV and empirical attainment surfaces (moocore)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.front import Front
from pareto_unlearn.indicators._reference_point import _as_vector

__all__ = ["UTILITY_MARGIN", "hypervolume", "HV", "HVAtUtility", "anytime_hv", "attainment_surface"]


def _objectives(points: Any, owner: str, n_obj: int | None = None) -> np.ndarray:
    """The objective matrix [n, m] of a Front, an array or a tensor (rows kept, NaN included)."""
    if isinstance(points, Front):
        F = points.F
    else:
        if hasattr(points, "detach"):
            points = points.detach().cpu().numpy()
        try:
            F = np.asarray(points, dtype=float)
        except (TypeError, ValueError):
            raise ConfigError(f"{owner}: expected a Front or an array [n, m] of objectives. "
                              f"Got {type(points).__name__}.") from None
        if F.ndim == 1:
            F = F.reshape(1, -1) if F.size else F.reshape(0, n_obj or 0)
        if F.ndim != 2:
            raise ConfigError(f"{owner}: objectives must be an array of dimension 2 [n, m]. "
                              f"Found shape {F.shape}.")
    if n_obj is not None and len(F) and F.shape[1] != n_obj:
        raise ConfigError(f"{owner}: the points have {F.shape[1]} objectives but the reference point "
                          f"has {n_obj}.")
    return F


def hypervolume(F: Any, ref_point: Any, /) -> float:
    """Hypervolume dominated by the rows of ``F`` [n, m] and bounded by ``ref_point`` [m] (minimisation).

    Rows with a NaN or inf (infeasible points) and rows not strictly inside the box (some objective
    ``>= ref_point``) are ignored; with no row left the answer is ``0.0``. Computed by pymoo's ``HV``
    (moocore underneath).

    Parameters
    ----------
    F : array-like [n, m] or Front
    ref_point : array-like [m]

    Returns
    -------
    float

    Examples
    --------
    >>> hypervolume([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]], [4.0, 4.0])
    6.0
    >>> hypervolume([[5.0, 1.0], [float("nan"), 0.0]], [4.0, 4.0])
    0.0
    """
    from pymoo.indicators.hv import HV as _PymooHV

    ref = _as_vector(ref_point, "ref_point", "hypervolume")
    F = _objectives(F, "hypervolume", ref.size)
    if len(F) == 0:
        return 0.0
    inside = np.isfinite(F).all(axis=1) & (F < ref).all(axis=1)
    if not inside.any():
        return 0.0
    return float(_PymooHV(ref_point=ref)(F[inside]))


class HV:
    """Hypervolume indicator configured with its reference point, called on a Front or an array.

    On a Front it counts every feasible point of every solver in it; ``by_solver`` gives one value per
    solver. An empty or all-infeasible front has HV ``0.0``.

    Parameters
    ----------
    ref_point : array-like [m]
        One per task and objective list, the same for every solver (see :func:`hv_reference_point`).

    Examples
    --------
    >>> import numpy as np
    >>> from pareto_unlearn.front import Front
    >>> front = Front.from_points(np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]]))
    >>> HV([4.0, 4.0])(front)
    6.0
    """

    def __init__(self, ref_point: Any) -> None:
        self.ref_point = _as_vector(ref_point, "ref_point", "HV")

    def __call__(self, front: Front | Any, /) -> float:
        return hypervolume(front, self.ref_point)

    def by_solver(self, front: Front, /) -> dict[str, float]:
        """HV of each solver's points, in the front's solver order."""
        return {name: self(front.only(name)) for name in front.solvers}

    def __repr__(self) -> str:
        return f"HV(ref_point={self.ref_point.tolist()})"


UTILITY_MARGIN = 5.0  # HV@utility counts points with RA >= RA(θ0) − this many points (definitions §4)


class HVAtUtility:
    """HV@utility (docs/definitions.md §4): the hypervolume of the points with retain accuracy
    ``RA >= ra_min``.

    The set where the unlearning decision is made: models that keep their utility. docs/definitions.md §4
    sets ``ra_min = RA(θ0) − 5`` (the margin is a setting of the caller). Points with a NaN RA do not
    count; with no point left the answer is ``0.0``.

    Parameters
    ----------
    ref_point : array-like [m]
    ra_min : float
        Retain accuracy threshold, in percent.

    Examples
    --------
    >>> import numpy as np
    >>> from pareto_unlearn.front import Front
    >>> F = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]])
    >>> front = Front.from_points(F, metrics={"RA": np.array([90.0, 99.0, 99.5])})
    >>> HVAtUtility([4.0, 4.0], ra_min=95.0)(front)
    5.0
    >>> HVAtUtility([4.0, 4.0], ra_min=95.0)(F, ra=[90.0, 99.0, 99.5])
    5.0
    """

    def __init__(self, ref_point: Any, ra_min: float) -> None:
        self.ref_point = _as_vector(ref_point, "ref_point", "HVAtUtility")
        if not isinstance(ra_min, numbers.Real) or not math.isfinite(ra_min):
            raise ConfigError(f"HVAtUtility: `ra_min` must be a finite number (percent). Got {ra_min!r}.")
        self.ra_min: float = float(ra_min)

    def __call__(self, front: Front | Any, /, *, ra: Any = None) -> float:
        """HV of the points with ``RA >= ra_min``; ``ra`` [n] is needed only when ``front`` is an array."""
        F = _objectives(front, "HVAtUtility", self.ref_point.size)
        if isinstance(front, Front):
            if ra is not None:
                raise ConfigError("HVAtUtility: pass `ra` only with an array; a Front carries its RA metric")
            if "RA" not in front.metrics:
                raise ConfigError("HVAtUtility: this front has no 'RA' metric; evaluate its points first")
            ra = front.metrics["RA"]
        elif ra is None:
            raise ConfigError("HVAtUtility: called on an array, it needs `ra=` (retain accuracy per row)")
        ra = np.asarray(ra, dtype=float).reshape(-1)
        if ra.shape != (len(F),):
            raise ConfigError(f"HVAtUtility: `ra` has {ra.size} values for {len(F)} points")
        with np.errstate(invalid="ignore"):
            keep = ra >= self.ra_min
        return hypervolume(F[keep], self.ref_point)

    def by_solver(self, front: Front, /) -> dict[str, float]:
        """HV@utility of each solver's points, in the front's solver order."""
        return {name: self(front.only(name)) for name in front.solvers}

    def __repr__(self) -> str:
        return f"HVAtUtility(ref_point={self.ref_point.tolist()}, ra_min={self.ra_min})"


def anytime_hv(points_F: Any, times: Any, ref_point: Any, /) -> tuple[np.ndarray, np.ndarray]:
    """Running hypervolume of the points in the order they were found.

    Points are sorted by ``times`` (stable), then for each k the HV of the first k points is computed
    (infeasible points and points outside the box add nothing).

    Parameters
    ----------
    points_F : array-like [n, m]
    times : array-like [n]
        When each point was produced (seconds, passes, or any increasing cost).
    ref_point : array-like [m]

    Returns
    -------
    times : np.ndarray [n]
        The sorted times.
    hv : np.ndarray [n]
        HV of the points produced up to and including each time; non-decreasing.

    Examples
    --------
    >>> t, hv = anytime_hv([[2.0, 2.0], [1.0, 3.0], [3.0, 1.0]], [1.0, 0.5, 2.0], [4.0, 4.0])
    >>> t.tolist(), hv.tolist()
    ([0.5, 1.0, 2.0], [3.0, 5.0, 6.0])
    """
    ref = _as_vector(ref_point, "ref_point", "anytime_hv")
    F = _objectives(points_F, "anytime_hv", ref.size)
    times = np.asarray(times, dtype=float).reshape(-1)
    if times.shape != (len(F),):
        raise ConfigError(f"anytime_hv: `times` has {times.size} values for {len(F)} points")
    order = np.argsort(times, kind="stable")
    F, times = F[order], times[order]
    useful = np.isfinite(F).all(axis=1) & (F < ref).all(axis=1)
    hv = np.zeros(len(F))
    current = np.empty((0, ref.size))
    value = 0.0
    for k in range(len(F)):
        if useful[k] and not (current <= F[k]).all(axis=1).any():  # skip points that add no volume
            current = np.vstack([current[~(F[k] <= current).all(axis=1)], F[k]])
            value = hypervolume(current, ref)
        hv[k] = value
    return times, hv


def attainment_surface(list_of_F: Sequence[Any], /, level: float = 50.0) -> np.ndarray:
    """The ``level``-% empirical attainment surface of several runs (moocore's EAF).

    A point is attained by a run when some point of that run weakly dominates it; the ``level``-%
    attainment surface bounds the region attained by at least ``ceil(level/100 × n_runs)`` runs
    (``level = 50`` is the median surface, ``100`` the worst, a small level the best). Each ``F`` must
    already be normalised by the caller (e.g. divided by the HV reference point). Infeasible rows are
    dropped; a run with no feasible row still counts as a run that attains nothing.

    Parameters
    ----------
    list_of_F : sequence of array-like [n_i, m]
        One objective matrix per run (independent seeds), m = 2 or 3.
    level : float, default 50.0
        Percent of runs, in (0, 100].

    Returns
    -------
    np.ndarray [k, m]
        The minimal points of the attained region (sorted by the first objective for m = 2); empty
        ``[0, m]`` when too few runs have feasible points.

    Examples
    --------
    >>> runs = [[[1.0, 3.0]], [[2.0, 2.0]], [[3.0, 1.0]]]
    >>> attainment_surface(runs, 50).tolist()
    [[2.0, 3.0], [3.0, 2.0]]
    """
    import moocore

    if not isinstance(level, numbers.Real) or not 0 < level <= 100:
        raise ConfigError(f"attainment_surface: `level` must be a percentage in (0, 100]. Got {level!r}.")
    runs = [_objectives(F, "attainment_surface") for F in list_of_F]
    if not runs:
        raise ConfigError("attainment_surface: `list_of_F` is empty; give one objective matrix per run")
    widths = {F.shape[1] for F in runs if len(F)}
    if len(widths) > 1:
        raise ConfigError(f"attainment_surface: the runs have different numbers of objectives "
                          f"{sorted(widths)}")
    n_obj = widths.pop() if widths else 2
    if n_obj not in (2, 3):
        raise ConfigError(f"attainment_surface: moocore's EAF supports 2 or 3 objectives. Got {n_obj}.")
    runs = [F[np.isfinite(F).all(axis=1)] for F in runs]
    present = [F for F in runs if len(F)]
    needed = max(1, math.ceil(level * len(runs) / 100 - 1e-9))  # runs that must attain a point
    if needed > len(present):
        return np.empty((0, n_obj))
    points = np.concatenate(present)
    sets = np.repeat(np.arange(len(present)), [len(F) for F in present])
    surface = moocore.eaf(points, sets, percentiles=[100.0 * needed / len(present)])[:, :n_obj]
    return surface[np.lexsort(surface.T[::-1])]
