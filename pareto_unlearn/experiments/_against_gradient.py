"""What :func:`~pareto_unlearn.experiments.compare` measures against the gradient fronts (issue 6).

- the **gradient budget**: the wall-clock at which the best gradient front (``ls``, ``jd`` or ``jd-*``, the
  one with the largest HV) is within ``tol`` (1 %) of its own final HV, read from its anytime curve;
- HV and HV@utility **within a budget**: from a solver's anytime log where it has one, else from its points'
  cumulative cost (HV@utility needs the points' RA, so a population log without it gives NaN before the
  solver's end);
- the HV a solver adds to the union of the gradient fronts (the part of its front no gradient point
  dominates);
- the **Pareto-stationarity gap** (definitions §4) of a few non-dominated points, from full-set Jacobians of
  rebuilt models.

Every hypervolume is pymoo's (moocore underneath), through :func:`~pareto_unlearn.indicators.hypervolume`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pareto_unlearn.exceptions import CacheError, ConfigError
from pareto_unlearn.front import Front
from pareto_unlearn.indicators import HVAtUtility, anytime_hv, hypervolume, pareto_stationarity_gap
from pareto_unlearn.objectives import make_objectives
from pareto_unlearn.selection_export import _check_task, _rebuild_task
from pareto_unlearn.solvers import rebuild_model
from pareto_unlearn.solvers._registry import REGISTRY

__all__ = ["is_gradient_solver", "anytime_curve", "convergence_time", "hv_within", "hv_utility_within",
           "hv_of_seeds", "hv_added_to", "spread_nondominated", "median_stationarity_gap",
           "GradientReference", "gradient_reference", "against_gradient", "stationarity_task",
           "stationarity_column"]

logger = logging.getLogger(__name__)

_SLACK = 1e-9  # relative: a point logged at exactly the budget counts


def is_gradient_solver(name: str) -> bool:
    """Whether ``name`` is a registered gradient family (LS, JD with any aggregator): the fronts the others
    are measured against.

    Examples
    --------
    >>> from pareto_unlearn.solvers._names import JD, LS, NSGA2, evolutionary_name, jd_name
    >>> [is_gradient_solver(s) for s in (JD, jd_name("mgda"), LS, evolutionary_name(NSGA2, "lora"), "jdx")]
    [True, True, True, False, False]
    """
    return name in REGISTRY and REGISTRY[name].family == "gradient"


def _log(front: Front, name: str) -> list[dict[str, Any]]:
    return [a for a in front.anytime if str(a.get("solver")) == name]


def _cost(entry: dict[str, Any], axis: str) -> float:
    if axis == "wall_s":
        return float(entry.get("wall_s", np.nan))
    return float(entry.get("forward_passes", np.nan)) + float(entry.get("backward_passes", np.nan))


def _point_costs(part: Front, axis: str) -> np.ndarray:
    if axis == "wall_s":
        return part.cost["wall_s"]
    return part.cost["forward_passes"] + part.cost["backward_passes"]


def anytime_curve(front: Front, name: str, ref: np.ndarray,
                  axis: str = "wall_s") -> tuple[np.ndarray, np.ndarray]:
    """(cost, HV) of solver ``name``, sorted by cost (``axis``: ``"wall_s"`` seconds or ``"passes"``,
    sample-passes): its anytime log when it has one, else the running HV of its points in the order of
    their cumulative cost."""
    log = _log(front, name)
    if log:
        times = np.array([_cost(a, axis) for a in log])
        hv = np.array([float(a.get("hv", np.nan)) for a in log])
        keep = np.isfinite(times) & np.isfinite(hv)
        order = np.argsort(times[keep], kind="stable")
        return times[keep][order], hv[keep][order]
    part = front.only(name)
    costs = _point_costs(part, axis)
    keep = np.isfinite(costs)
    return anytime_hv(part.F[keep], costs[keep], ref)


def convergence_time(times: np.ndarray, hv: np.ndarray, final: float, tol: float = 0.01) -> float:
    """The first time at which ``hv`` reaches ``(1 − tol) × final``; NaN when ``final`` is not positive or
    the curve never gets there.

    Examples
    --------
    >>> convergence_time(np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.995, 1.0]), 1.0)
    2.0
    >>> convergence_time(np.array([1.0, 2.0]), np.array([0.5, 0.9]), 1.0)
    nan
    """
    if not (math.isfinite(final) and final > 0):
        return float("nan")
    reached = np.flatnonzero(np.asarray(hv, dtype=float) >= (1.0 - tol) * final * (1 - _SLACK))
    return float(np.asarray(times, dtype=float)[reached[0]]) if len(reached) else float("nan")


def hv_within(front: Front, name: str, budget: float, axis: str, ref: np.ndarray) -> float:
    """HV of solver ``name`` within ``budget`` of cost ``axis`` (``"wall_s"`` or ``"passes"``): the best
    value of its anytime log up to the budget (NSGA-II logs every generation), else the HV of its points
    whose cumulative cost is within the budget. NaN for a NaN budget."""
    if not math.isfinite(budget):
        return float("nan")
    slack = budget * (1 + _SLACK)
    log = _log(front, name)
    if log:
        reached = [float(a["hv"]) for a in log
                   if _cost(a, axis) <= slack and np.isfinite(float(a.get("hv", np.nan)))]
        return max(reached, default=0.0)
    part = front.only(name)
    return hypervolume(part.F[_point_costs(part, axis) <= slack], ref)


def hv_utility_within(front: Front, name: str, budget: float, ref: np.ndarray, ra_min: float,
                      axis: str = "wall_s") -> float:
    """HV@utility of solver ``name`` within ``budget`` of cost ``axis`` (wall-clock seconds by default).

    From the log's ``hv_utility`` when every entry has one; else from the points whose cumulative cost is
    within the budget, which is exact for a sweep (one point per epoch, each with its own cost) and for a
    solver that finished within the budget. A population log (NSGA-II: the points are the last generation,
    all charged the final cost) says nothing of the RA of earlier generations: NaN there.
    """
    if not math.isfinite(budget):
        return float("nan")
    slack = budget * (1 + _SLACK)
    log = _log(front, name)
    if log and all("hv_utility" in a for a in log):
        return max((float(a["hv_utility"]) for a in log if _cost(a, axis) <= slack), default=0.0)
    part = front.only(name)
    if "RA" not in part.metrics:
        return float("nan")
    within = _point_costs(part, axis) <= slack
    if log and not within.all():
        from_points = hypervolume(part.F[within], ref)
        if not math.isclose(from_points, hv_within(front, name, budget, axis, ref), rel_tol=1e-6,
                            abs_tol=1e-12):
            return float("nan")  # the points in hand are not the front the solver had at that budget
    return HVAtUtility(ref, ra_min)(part.take(within))


def hv_of_seeds(front: Front, name: str) -> float:
    """HV at the end of generation 1 of solver ``name`` when that generation is a seed sweep (its points'
    hyperparameters hold ``seed_sweep``, as the warm LS-settings search's can); NaN for any other solver. The
    solver's final HV minus this is what the search added to its seeds.

    Examples
    --------
    >>> from pareto_unlearn.front import Front
    >>> log = [{"solver": "s", "generation": 1, "hv": 2.0}, {"solver": "s", "generation": 2, "hv": 3.0}]
    >>> front = Front.from_points(np.ones((1, 2)), solver="s", anytime=log,
    ...                           provenance=[{"hyperparameters": {"seed_sweep": {"weights": [0.5]}}}])
    >>> hv_of_seeds(front, "s")
    2.0
    """
    part = front.only(name)
    seeded = any(isinstance(p, Mapping) and isinstance(p.get("hyperparameters"), Mapping)
                 and "seed_sweep" in p["hyperparameters"] for p in part.provenance)
    first = [float(a["hv"]) for a in _log(front, name) if int(a.get("generation", 0)) == 1]
    return max(first) if seeded and first else float("nan")


def hv_added_to(base: np.ndarray, F: np.ndarray, ref: np.ndarray) -> float:
    """HV of ``base ∪ F`` minus HV of ``base``: the volume only ``F``'s points dominate (0 when ``base``
    dominates all of them). Infeasible rows count for nothing.

    Examples
    --------
    >>> hv_added_to(np.array([[1.0, 3.0], [3.0, 1.0]]), np.array([[2.0, 2.0]]), np.array([4.0, 4.0]))
    1.0
    """
    union = np.vstack([np.asarray(base, dtype=float).reshape(-1, len(ref)),
                       np.asarray(F, dtype=float).reshape(-1, len(ref))])
    return max(hypervolume(union, ref) - hypervolume(base, ref), 0.0)


def spread_nondominated(part: Front, k: int) -> np.ndarray:
    """At most ``k`` indices of ``part``'s non-dominated points, evenly spread along the front (sorted by
    the first objective, then the next)."""
    nd = np.flatnonzero(part.nondominated())
    if len(nd) <= k:
        return nd
    ordered = nd[np.lexsort(part.F[nd].T[::-1])]
    picks = np.unique(np.round(np.linspace(0, len(ordered) - 1, k)).astype(int))
    return ordered[picks]


def median_stationarity_gap(part: Front, task: Any, objectives: Any, k: int = 10) -> float:
    """Median Pareto-stationarity gap (definitions §4) of at most ``k`` non-dominated points of ``part``.

    Each point's model is rebuilt from θ0 (``Front.model``) and its full-set Jacobian over all trainable
    parameters (:meth:`~pareto_unlearn.objectives.Objectives.jacobian`) goes to
    :func:`~pareto_unlearn.indicators.pareto_stationarity_gap`. Points that cannot be rebuilt are skipped
    (logged); NaN when none is left.
    """
    gaps = []
    for i in spread_nondominated(part, k):
        try:
            model = rebuild_model(task, part, int(i))
        except (CacheError, ConfigError, KeyError) as exc:
            logger.warning("stationarity gap: %s point %d cannot be rebuilt (%s); skipped",
                           part.solver[i], i, exc)
            continue
        gaps.append(pareto_stationarity_gap(objectives.jacobian(model, task)))
    finite = np.asarray(gaps, dtype=float)
    finite = finite[np.isfinite(finite)]
    return float(np.median(finite)) if len(finite) else float("nan")


# ------------------------------------------------------------------------------ the compare columns
@dataclass
class GradientReference:
    """The best gradient front of the runs compared and the budget it sets (issue 6).

    Attributes
    ----------
    label : str
        ``"run/solver"`` of the gradient front with the largest HV; ``""`` when the runs hold none.
    budget_s : float
        The wall-clock at which it is within the tolerance of its final HV (NaN without one).
    budget_passes : float
        The same in sample-passes (forward + backward): free of the machine's timing noise.
    union : np.ndarray [k, m]
        The feasible points of every gradient front of every run.
    """

    label: str
    budget_s: float
    union: np.ndarray
    budget_passes: float = float("nan")


def gradient_reference(fronts: Mapping[str, Front], frame: pd.DataFrame, ref: np.ndarray,
                       tol: float = 0.01) -> GradientReference:
    """The gradient front with the largest ``hv`` in ``frame`` (columns ``run``, ``solver``, ``hv``;
    ``fronts`` maps each run label to its Front), and the wall-clock at which it is within ``tol`` of that
    HV."""
    pieces = [front.only(name) for front in fronts.values() for name in front.solvers
              if is_gradient_solver(name)]
    union = np.vstack([np.empty((0, len(ref)))] + [p.F[p.feasible] for p in pieces])
    gradient = frame[frame["solver"].map(is_gradient_solver) & (frame["hv"] > 0)]
    if gradient.empty:
        logger.info("no gradient front among the runs: no gradient budget, no ratios")
        return GradientReference("", float("nan"), union)
    best = gradient.loc[gradient["hv"].idxmax()]
    budgets = [convergence_time(*anytime_curve(fronts[best["run"]], str(best["solver"]), ref, axis),
                                float(best["hv"]), tol) for axis in ("wall_s", "passes")]
    return GradientReference(f"{best['run']}/{best['solver']}", budgets[0], union, budgets[1])


def against_gradient(fronts: Mapping[str, Front], frame: pd.DataFrame, ref: np.ndarray,
                     reference: GradientReference, ra_min: float) -> pd.DataFrame:
    """Add to ``frame`` the columns measured against the gradient fronts: HV and HV@utility at the gradient
    budget, their ratios to the best gradient front's at that budget (in seconds, and in sample-passes,
    ``*_passes``), and the HV each solver adds to the union of the gradient fronts. Returns ``frame``."""
    budget = reference.budget_s
    pairs = list(zip(frame["run"], frame["solver"], strict=True))
    frame["gradient_budget_s"] = budget
    frame["hv_at_gradient_budget"] = [hv_within(fronts[r], s, budget, "wall_s", ref) for r, s in pairs]
    frame["hv_utility_at_gradient_budget"] = [hv_utility_within(fronts[r], s, budget, ref, ra_min)
                                              for r, s in pairs]
    passes = reference.budget_passes
    frame["gradient_budget_passes"] = passes
    at_passes = {"hv": [hv_within(fronts[r], s, passes, "passes", ref) for r, s in pairs],
                 "hv_utility": [hv_utility_within(fronts[r], s, passes, ref, ra_min, "passes")
                                for r, s in pairs]}
    best = np.array([f"{r}/{s}" == reference.label for r, s in pairs], dtype=bool)

    def ratio_to_best(values: Sequence[float] | np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        denominator = float(values[best][0]) if best.any() else float("nan")
        usable = math.isfinite(denominator) and denominator > 0
        return values / denominator if usable else np.full(len(values), np.nan)

    frame["hv_ratio"] = ratio_to_best(frame["hv_at_gradient_budget"])
    frame["hv_utility_ratio"] = ratio_to_best(frame["hv_utility_at_gradient_budget"])
    frame["hv_ratio_passes"] = ratio_to_best(at_passes["hv"])
    frame["hv_utility_ratio_passes"] = ratio_to_best(at_passes["hv_utility"])
    added = []
    for r, s in pairs:
        part = fronts[r].only(s)
        added.append(hv_added_to(reference.union, part.F[part.feasible], ref) if len(reference.union)
                     else float("nan"))
    frame["hv_not_dominated_by_gradient"] = added
    frame["hv_over_seeds"] = [float(h) - hv_of_seeds(fronts[r], s) for (r, s), h in zip(pairs, frame["hv"])]
    return frame


def _objectives_of(summary: dict[str, Any], front: Front, label: str, task: Any) -> Any:
    """A run's objectives rebuilt on ``task``, from the names explore was given (``forget_kl:heldout``)."""

    config = summary.get("settings", {}).get("config", {}) or {}
    names = config.get("objectives") or summary.get("objectives") or list(front.objective_names)
    objectives = make_objectives(task, reference=summary.get("reference", "uniform"),
                                 kl_direction=summary.get("kl_direction", "model-ref"), names=names)
    if objectives.names != front.objective_names:
        raise ConfigError(f"compare: the objectives rebuilt from run {label!r} are {list(objectives.names)} "
                          f"but its front has {list(front.objective_names)}")
    return objectives


def stationarity_task(summary: dict[str, Any], where: Path, task: Any = None, *, cache_dir: str | None = None,
                      device: str | None = None) -> Any:
    """The runs' task: ``task`` checked against ``summary`` (data fingerprint, θ0), else rebuilt by name
    from it as ``select`` does (``where`` names the run in messages)."""

    if task is None:
        return _rebuild_task(summary, where, cache_dir=cache_dir, device=device)
    _check_task(task, summary, where)
    return task


def stationarity_column(fronts: Mapping[str, Front], summaries: Mapping[str, dict[str, Any]],
                        frame: pd.DataFrame, task: Any, k: int = 10) -> list[float]:
    """``median_stationarity_gap`` of every (run, solver) row of ``frame``."""
    objectives = {label: _objectives_of(summaries[label], front, label, task)
                  for label, front in fronts.items()}
    values = []
    for r, s in zip(frame["run"], frame["solver"], strict=True):
        values.append(median_stationarity_gap(fronts[r].only(s), task, objectives[r], k))
        logger.info("median stationarity gap of %s/%s: %.4g", r, s, values[-1])
    return values
