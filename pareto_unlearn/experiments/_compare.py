"""``pareto-unlearn compare``: the solvers of one or more runs of one task, side by side (definitions §4).

:func:`compare` gives one row per (run, solver): HV and the HV gain over θ0 beside it, HV@utility, IGD+
to the non-dominated union of every run given, point counts, cost, the best Avg. Gap on the solver's
non-dominated front and the gap of its oracle-free pick (θ0 always a candidate), and the HV each solver
had reached at equal cost (the wall-clock seconds, and the sample-passes, of the cheapest solver).

Against the gradient fronts (issue 6; ``ls``, ``jd``, ``jd-*``): the **gradient budget** is the wall-clock
at which the best gradient front (largest HV) is within 1 % of its own final HV on its anytime curve; each
solver's HV and HV@utility within that budget, divided by the best gradient front's at the same budget
(``hv_ratio``, ``hv_utility_ratio``); the HV its points add to the union of the gradient fronts
(``hv_not_dominated_by_gradient``); and, opt-in (``stationarity=True``: models are rebuilt), the median
Pareto-stationarity gap (docs/definitions.md §4) of at most 10 of its non-dominated points.

Runs of different tasks, references, KL directions or θ0 are refused. :func:`seed_summary` aggregates runs
of several seeds: HV mean ± a 95 % t-interval and the median attainment surface per solver.

Examples
--------
>>> table = compare(["runs/a", "runs/b"])  # doctest: +SKIP
>>> write_compare(table, "runs/compare")  # doctest: +SKIP
{'csv': PosixPath('runs/compare/compare.csv'), 'md': PosixPath('runs/compare/compare.md')}
>>> compare(["runs/a"], stationarity=True)[["hv_ratio", "median_stationarity_gap"]]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from pareto_unlearn._io import atomic_write_text
from pareto_unlearn.exceptions import ConfigError, IncompatibleRunsError, RunDirError
from pareto_unlearn.experiments._against_gradient import (
    against_gradient,
    anytime_curve,
    gradient_reference,
    hv_utility_within,
    hv_within,
    stationarity_column,
    stationarity_task,
)
from pareto_unlearn.experiments._runs import (
    RunLike,
    _check_compatible,
    _load_runs,
    _oracle_free_rule,
    _ra_min,
    _Run,
)
from pareto_unlearn.front import Front
from pareto_unlearn.indicators import attainment_surface, hypervolume
from pareto_unlearn.solvers._registry import REGISTRY, solver_names, space_of
from pareto_unlearn.summary import hv_gain as _theta0_gain
from pareto_unlearn.summary import hv_utility as _hv_utility
from pareto_unlearn.summary import solver_row

__all__ = ["compare", "write_compare", "seed_summary", "SeedSummary", "COMPARE_COLUMNS", "markdown_table",
           "compare_markdown", "budget_table", "parse_budgets", "budgets_markdown", "write_budgets",
           "BUDGET_COLUMNS", "BUDGET_COLUMN_NOTES"]

logger = logging.getLogger(__name__)

# one-point methods never set the budget: the registered baselines
_BASELINES = solver_names("baseline")

COMPARE_COLUMNS = (
    "run", "solver", "hv", "hv_gain", "hv_utility", "igd_plus", "n_points", "n_nondominated", "wall_s",
    "forward_passes", "backward_passes", "sample_passes", "best_gap_nd", "oracle_free_gap",
    "budget_s", "hv_at_budget_s", "budget_passes", "hv_at_budget_passes",
    "gradient_budget_s", "hv_at_gradient_budget", "hv_utility_at_gradient_budget", "hv_ratio",
    "hv_utility_ratio", "gradient_budget_passes", "hv_ratio_passes", "hv_utility_ratio_passes",
    "hv_not_dominated_by_gradient", "hv_over_seeds", "median_stationarity_gap",
)
_BASE_COLUMNS = COMPARE_COLUMNS[:14]  # one (run, solver) at a time; the rest need every row
_BUDGETS = ("cheapest", "gradient")
_BUDGET_NOTES = {"cheapest": "the cheapest solver's",
                 "gradient": "seconds: the gradient budget below; sample-passes: the cheapest solver's",
                 "given": "as given"}
_COLUMN_NOTES = {
    "hv": "hypervolume of the solver's feasible points (one reference point for all)",
    "hv_gain": "hv − the HV of θ0 alone: what the solver's front adds to doing nothing (definitions §4)",
    "hv_utility": "HV of the points with RA >= RA(θ0) − margin",
    "igd_plus": "IGD+ to the non-dominated union of every run given, objectives / reference point",
    "n_nondominated": "points no other point of the same solver dominates",
    "wall_s": "wall-clock seconds, set-up included",
    "sample_passes": "forward + backward sample-passes through the network",
    "best_gap_nd": "lowest Avg. Gap to Retrain on the solver's non-dominated points (evaluation only)",
    "oracle_free_gap": "Avg. Gap of the point the oracle-free rule (definitions §6) picks among the solver's "
                       "points and θ0 (always a candidate)",
    "hv_at_budget_s": "HV reached within budget_s seconds (the cheapest solver's wall-clock)",
    "hv_at_budget_passes": "HV reached within budget_passes sample-passes (the cheapest solver's)",
    "gradient_budget_s": "wall-clock at which the best gradient front (largest HV) is within "
                         "1 % of its own final HV (its anytime curve)",
    "hv_at_gradient_budget": "HV reached within gradient_budget_s",
    "hv_utility_at_gradient_budget": "HV@utility within gradient_budget_s (NaN: a population log without RA, "
                                     "the solver not finished by then)",
    "hv_ratio": "hv_at_gradient_budget / the best gradient front's",
    "hv_utility_ratio": "hv_utility_at_gradient_budget / the best gradient front's",
    "gradient_budget_passes": "the gradient budget in sample-passes (forward + backward; no timing noise)",
    "hv_ratio_passes": "HV within gradient_budget_passes / the best gradient front's",
    "hv_utility_ratio_passes": "HV@utility within gradient_budget_passes / the best gradient front's",
    "hv_not_dominated_by_gradient": "HV of (gradient fronts ∪ this solver) − HV of the gradient fronts: the "
                                    "part of its front no gradient point dominates",
    "hv_over_seeds": "hv − the HV of the solver's seed sweep (its generation 1; only solvers seeded from a "
                     "sweep, e.g. the warm LS-settings search with seed_sweep): what the search added to "
                     "its seeds",
    "median_stationarity_gap": "median Pareto-stationarity gap (definitions §4, full-set Jacobian over all "
                               "parameters) of at most 10 non-dominated points spread along the front "
                               "(only with stationarity=True)",
}


def _gap_of_pick(part: Front, rule: Callable[[Front], int]) -> float:
    if "gap" not in part.metrics:
        return float("nan")
    try:
        return float(part.metrics["gap"][rule(part)])
    except ConfigError:  # no feasible point, or no per-sample oracle-free results (an older run)
        return float("nan")


def _oracle_free_gap(front: Front, name: str, summary: dict[str, Any]) -> float:
    """Avg. Gap of the oracle-free pick among solver ``name``'s points and θ0 (always a candidate, §6)."""
    candidates = (front.solver == name) | (front.solver == "Original")
    return _gap_of_pick(front.take(candidates), _oracle_free_rule(summary))


def _theta0(summary: dict[str, Any]) -> Any:
    """θ0's objectives as the run recorded them (None when it did not)."""
    return (summary.get("original") or {}).get("objectives")


def _hv_gain(hv: float, summary: dict[str, Any], ref: np.ndarray) -> float:
    """HV of the front minus HV of θ0 alone (definitions §4); NaN as in :mod:`pareto_unlearn.summary`."""
    return _theta0_gain(hv, _theta0(summary), ref)


def _solver_row(run: _Run, name: str, ref: np.ndarray, union: np.ndarray) -> dict[str, Any]:
    """The row of summary.json (:func:`pareto_unlearn.summary.solver_row`, IGD+ to ``union``: every run's)
    and what compare adds: sample-passes, the best gap on the non-dominated points, the oracle-free gap."""
    part = run.front.only(name)
    ra_min = _ra_min(run.summary) if "RA" in part.metrics else None  # without RA: NaN, whatever ra_min
    row = solver_row(run.front, name, ref_point=ref, union_F=union, ra_min=ra_min,
                     theta0=_theta0(run.summary))
    gaps = part.metrics.get("gap", np.full(len(part), np.nan))[part.nondominated()]
    return {
        "run": run.label,
        "solver": name,
        **row,
        "sample_passes": row["forward_passes"] + row["backward_passes"],
        "best_gap_nd": float(np.nanmin(gaps)) if np.isfinite(gaps).any() else float("nan"),
        "oracle_free_gap": _oracle_free_gap(run.front, name, run.summary),
    }


def _hv_within(run: _Run, name: str, budget: float, axis: str, ref: np.ndarray) -> float:
    """HV of a solver within ``budget`` of cost ``axis`` ("wall_s" or "passes"): from its anytime log when
    it has one (NSGA-II logs every generation), else from the points' own cumulative cost columns."""
    return hv_within(run.front, name, budget, axis, ref)


def _stationarity(loaded: list[_Run], frame: pd.DataFrame, task: Any, k: int, cache_dir: str | None,
                  device: str | None) -> list[float]:
    """``median_stationarity_gap`` per row; the task is the one given, a front's own, or rebuilt from the
    first run."""
    first = loaded[0]
    the_task = stationarity_task(first.summary, first.path or Path(first.label),
                                 task if task is not None else next(
                                     (r.front.task for r in loaded if r.front.task is not None), None),
                                 cache_dir=cache_dir, device=device)
    return stationarity_column({r.label: r.front for r in loaded}, {r.label: r.summary for r in loaded},
                               frame, the_task, k)


def _check_options(budget_s: Any, gradient_tol: float, stationarity_points: int) -> None:
    if isinstance(budget_s, str) and budget_s not in _BUDGETS:
        raise ConfigError(f"compare: budget_s={budget_s!r} is not known; give seconds or one of "
                          f"{', '.join(_BUDGETS)}")
    if not (isinstance(gradient_tol, (int, float)) and 0 <= gradient_tol < 1):
        raise ConfigError(f"compare: gradient_tol must be a fraction in [0, 1), e.g. 0.01. "
                          f"Got {gradient_tol!r}.")
    if not (isinstance(stationarity_points, int) and stationarity_points >= 1):
        raise ConfigError(f"compare: stationarity_points must be an integer >= 1. "
                          f"Got {stationarity_points!r}.")


def compare(runs: Sequence[RunLike] | RunLike, *, budget_s: float | str | None = None,
            budget_passes: float | None = None, gradient_tol: float = 0.01, stationarity: bool = False,
            stationarity_points: int = 10, task: Any = None, cache_dir: str | os.PathLike | None = None,
            device: str | None = None) -> pd.DataFrame:
    """Compare the solvers of runs of one task: one row per (run, solver), Original left out.

    Parameters
    ----------
    runs : sequence of run directories, ExploreResults or (summary, Front) pairs
        Runs of the same task (name, forget set, data fingerprint, model), objectives, reference, KL
        direction and θ0; anything else is refused. In memory or on disk alike: ``explore(cfg)`` without
        ``out`` returns the summary :func:`pareto_unlearn.summary.summarize` computes, and each row's
        indicators are :func:`~pareto_unlearn.summary.solver_row`'s, as in ``summary.json``.
    budget_s : float or {"cheapest", "gradient"}, optional
        The equal wall-clock budget of ``hv_at_budget_s``. Default ``"cheapest"``: the wall-clock seconds of
        the cheapest front solver (the one-point baselines, FT, GA, IU, l1-sparse, RL and SalUn, never set
        it, unless they are all there is); ``"gradient"``: the gradient budget (``gradient_budget_s``).
    budget_passes : float, optional
        The equal sample-pass budget; default the cheapest front solver's sample-passes.
    gradient_tol : float, default 0.01
        The gradient budget is the wall-clock at which the best gradient front (``ls``, ``jd``, ``jd-*``;
        the largest HV) is within this fraction of its own final HV, on its anytime curve.
    stationarity : bool, default False
        Also compute ``median_stationarity_gap``: each solver's non-dominated points (at most
        ``stationarity_points``, spread along the front) are rebuilt from θ0 and their full-set Jacobians
        scored by :func:`~pareto_unlearn.indicators.pareto_stationarity_gap`. Needs the task: ``task``, the
        fronts' own, or rebuilt from the first run's summary (``cache_dir``, ``device``) as ``select`` does.
    stationarity_points : int, default 10
    task : UnlearningTask, optional
        The runs' task, for ``stationarity``; its data and θ0 are checked against the runs.
    cache_dir, device : optional
        Where θ0 is cached and where to rebuild it, when the task is rebuilt from a run directory.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COMPARE_COLUMNS`. ``df.attrs`` holds the task, the reference point, the budgets, the
        best gradient front (``gradient_reference``, "run/solver"), the size of the union front and the
        labels of the runs (used by :func:`write_compare`).

    Raises
    ------
    IncompatibleRunsError
        The runs differ in task, forget set, data, model, objectives, reference, KL direction, θ0 or HV
        reference point; the message names the field.
    RunDirError
        A directory is not a run directory, or (``stationarity``) the task rebuilt is not the runs'.
    ConfigError
        An unknown ``budget_s`` name, ``gradient_tol`` outside [0, 1), ``stationarity_points`` < 1.

    Examples
    --------
    >>> df = compare(["runs/jd", "runs/nsga2"])  # doctest: +SKIP
    >>> df[["solver", "hv", "hv_at_budget_s", "hv_ratio", "hv_utility_ratio"]]  # doctest: +SKIP
    """
    _check_options(budget_s, gradient_tol, stationarity_points)
    loaded = _load_runs(runs)
    _check_compatible(loaded, same_theta0=True)
    ref = np.asarray(loaded[0].summary["hv_reference_point"], dtype=float)
    ra_min = _ra_min(loaded[0].summary)
    union_all = Front.concat([r.front for r in loaded])
    union = union_all.F[union_all.nondominated_union()]
    rows = [_solver_row(run, name, ref, union)
            for run in loaded for name in run.front.solvers if name != "Original"]
    frame = pd.DataFrame(rows, columns=list(_BASE_COLUMNS))
    fronts = frame[~frame["solver"].isin(_BASELINES)] if (~frame["solver"].isin(_BASELINES)).any() else frame

    def cheapest(column: str) -> float:
        values = fronts[column].to_numpy(dtype=float)
        values = values[np.isfinite(values) & (values > 0)]
        return float(values.min()) if len(values) else float("nan")

    fronts_by_label = {run.label: run.front for run in loaded}
    reference = gradient_reference(fronts_by_label, frame, ref, float(gradient_tol))
    budget_rule = budget_s if isinstance(budget_s, str) else "cheapest" if budget_s is None else "given"
    if budget_rule == "cheapest":
        budget_s = cheapest("wall_s")
    budget_s = reference.budget_s if budget_rule == "gradient" else float(cast(float, budget_s))
    budget_passes = cheapest("sample_passes") if budget_passes is None else float(budget_passes)
    by_label = {run.label: run for run in loaded}
    frame["budget_s"] = budget_s
    frame["hv_at_budget_s"] = [_hv_within(by_label[r], s, budget_s, "wall_s", ref)
                               for r, s in zip(frame["run"], frame["solver"], strict=True)]
    frame["budget_passes"] = budget_passes
    frame["hv_at_budget_passes"] = [_hv_within(by_label[r], s, budget_passes, "passes", ref)
                                    for r, s in zip(frame["run"], frame["solver"], strict=True)]
    frame = against_gradient(fronts_by_label, frame, ref, reference, ra_min)
    frame["median_stationarity_gap"] = float("nan")
    if stationarity and len(frame):
        frame["median_stationarity_gap"] = _stationarity(
            loaded, frame, task, stationarity_points, None if cache_dir is None else str(cache_dir), device)
    first = loaded[0].summary
    frame.attrs.update({
        "runs": [run.label for run in loaded],
        "task": {k: first["task"].get(k) for k in ("name", "forget", "seed", "model", "theta0_sha256")},
        "objectives": list(first.get("objectives", [])),
        "reference": first.get("reference"),
        "kl_direction": first.get("kl_direction"),
        "hv_reference_point": ref.tolist(),
        "hv_utility_ra_min": ra_min,
        "n_union": int(len(union)),
        "budget_s": budget_s,
        "budget_rule": budget_rule,
        "budget_passes": budget_passes,
        "gradient_budget_s": reference.budget_s,
        "gradient_budget_passes": reference.budget_passes,
        "gradient_reference": reference.label,
        "gradient_tol": float(gradient_tol),
        "stationarity_points": int(stationarity_points) if stationarity else 0,
    })
    return frame[list(COMPARE_COLUMNS)]


def _format(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return "—"
        if float(value).is_integer() and abs(value) < 1e15:
            return f"{int(value)}"
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub Markdown table of ``frame`` (floats to 4 significant digits, NaN as a dash)."""
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    aligns = ["---:" if pd.api.types.is_numeric_dtype(frame[c]) else "---" for c in frame.columns]
    rule = "|" + "|".join(aligns) + "|"
    body = ["| " + " | ".join(_format(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def compare_markdown(frame: pd.DataFrame, *, title: str = "Solver comparison") -> str:
    """The Markdown of a :func:`compare` table: what was compared, the table, and what each column means."""
    attrs = frame.attrs
    lines = [f"# {title}", ""]
    if attrs:
        task = attrs.get("task", {})
        lines += [
            f"- runs: {', '.join(attrs.get('runs', []))}",
            f"- task: {task.get('name')}, forget {task.get('forget')}, model {task.get('model')}, "
            f"seed {task.get('seed')}, θ0 {str(task.get('theta0_sha256'))[:12]}…",
            f"- objectives: {', '.join(attrs.get('objectives', []))}; reference {attrs.get('reference')}, "
            f"KL direction {attrs.get('kl_direction')}",
            f"- HV reference point: {[round(v, 6) for v in attrs.get('hv_reference_point', [])]}; "
            f"HV@utility counts RA >= {_format(attrs.get('hv_utility_ra_min', float('nan')))}",
            f"- union front (IGD+ reference): {attrs.get('n_union')} non-dominated points of all runs",
            f"- equal cost: {_format(attrs.get('budget_s', float('nan')))} s and "
            f"{_format(attrs.get('budget_passes', float('nan')))} sample-passes "
            f"({_BUDGET_NOTES.get(attrs.get('budget_rule', 'cheapest'), 'given')})",
            f"- gradient budget: {_format(attrs.get('gradient_budget_s', float('nan')))} s, when the best "
            f"gradient front ({attrs.get('gradient_reference') or 'none'}) is within "
            f"{100 * attrs.get('gradient_tol', 0.01):g} % of its final HV; ratios are to its values there",
            "",
        ]
    lines += [markdown_table(frame), "", "Columns:", ""]
    lines += [f"- `{name}`: {note}" for name, note in _COLUMN_NOTES.items() if name in frame.columns]
    return "\n".join(lines) + "\n"


def write_compare(frame: pd.DataFrame, out: str | os.PathLike) -> dict[str, Path]:
    """Write a :func:`compare` table as ``out/compare.csv`` and ``out/compare.md``, atomically.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table :func:`compare` returned.
    out : str or path-like
        A directory (created when missing).

    Returns
    -------
    dict
        ``{"csv": path, "md": path}``.
    """
    return _write_table(frame, out, "compare", compare_markdown(frame))


def _write_table(frame: pd.DataFrame, out: str | os.PathLike, stem: str, markdown: str) -> dict[str, Path]:
    """``out/STEM.csv`` (full precision) and ``out/STEM.md``, each written atomically."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunDirError(f"--out {out} is a file; give a directory for {stem}.csv and {stem}.md")
    paths = {"csv": out / f"{stem}.csv", "md": out / f"{stem}.md"}
    atomic_write_text(paths["csv"], frame.to_csv(index=False, float_format="%.17g"))
    atomic_write_text(paths["md"], markdown)
    return paths


# ------------------------------------------------------------------- HV within multiples of a base cost
FULL_SPACE = "all-parameters"  # a full fine-tune's space: it sets the base cost and the unit of space_vs_full
_AXES = ("wall_s", "passes")
_AXIS_UNITS = {"wall_s": "wall-clock seconds", "passes": "sample-passes (forward + backward)"}
_UNKNOWN_SPACE = "unknown"  # a solver neither the registry nor its points' provenance places in a space

BUDGET_COLUMNS = (
    "run", "budget_multiple", "budget_axis", "budget", "base_cost", "base_solver", "space",
    "evolutionary_solver", "evolutionary_hv", "evolutionary_hv_utility", "evolutionary_hv_gain",
    "gradient_solver", "gradient_hv", "gradient_hv_utility", "gradient_hv_gain", "ratio",
    "full_gradient_solver", "full_gradient_hv", "vs_full_gradient",
    "space_best_hv", "full_space_best_hv", "space_vs_full",
)
BUDGET_COLUMN_NOTES = {
    "run": "the run (directory name)",
    "budget_multiple": "b: the budget as a multiple of the run's base cost",
    "budget_axis": "the cost the budget is counted in: wall_s (wall-clock seconds, set-up included) or "
                   "passes (forward + backward sample-passes, free of timing noise)",
    "budget": "B = b × base_cost, in budget_axis units: every solver of the row is cut at this same cost",
    "base_cost": "C: the total cost (final wall-clock, or sample-passes) of the run's cheapest full-space "
                 "gradient front (family gradient, space all-parameters)",
    "base_solver": "the solver that sets base_cost",
    "space": "the search space of the row's solvers (registry; the points' provenance for unregistered "
             "solvers); the one-point baselines are left out",
    "evolutionary_solver": "the evolutionary solver of this space with the largest HV within B (empty: none)",
    "evolutionary_hv": "its HV within B (anytime log, else the points whose cumulative cost is within B)",
    "evolutionary_hv_utility": "its HV@utility within B (points with RA >= RA(θ0) − margin; NaN: a "
                               "population log without RA, the solver not finished by B)",
    "evolutionary_hv_gain": "evolutionary_hv − the HV of θ0 alone: what its front adds to doing nothing",
    "gradient_solver": "the gradient solver of this space with the largest HV within B (empty: none)",
    "gradient_hv": "its HV within B",
    "gradient_hv_utility": "its HV@utility within B",
    "gradient_hv_gain": "gradient_hv − the HV of θ0 alone",
    "ratio": "evolutionary_hv / gradient_hv, within the same space (NaN: either side missing, gradient_hv 0)",
    "full_gradient_solver": "the full-space gradient solver with the largest HV within B",
    "full_gradient_hv": "its HV within B",
    "vs_full_gradient": "evolutionary_hv / full_gradient_hv: this space's best evolutionary front against "
                        "the best full fine-tune by gradient, at equal cost",
    "space_best_hv": "the largest HV within B of any solver of this space (any family)",
    "full_space_best_hv": "the largest HV within B of any solver of the all-parameters space",
    "space_vs_full": "space_best_hv / full_space_best_hv: what searching this space instead of all "
                     "parameters costs (or gains) at equal cost",
}


def parse_budgets(value: Any) -> tuple[float, ...]:
    """Budget multiples from ``"1,2,5,10"`` or a sequence of numbers: each a finite number > 0, in the order
    given, each once. :class:`ConfigError` (one line) for anything else.

    Examples
    --------
    >>> parse_budgets("1, 2,5,10")
    (1.0, 2.0, 5.0, 10.0)
    >>> parse_budgets("0")
    Traceback (most recent call last):
    ...
    pareto_unlearn.exceptions.ConfigError: budgets: '0' is not a budget multiple; give numbers > 0 ...
    """
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        items = [value]
    else:
        try:
            items = list(value)
        except TypeError:
            items = [value]
    multiples: list[float] = []
    for item in items:
        text = item.strip() if isinstance(item, str) else item
        try:
            if isinstance(text, bool) or (isinstance(text, str) and not text):
                raise ValueError
            multiple = float(text)
        except (TypeError, ValueError):
            multiple = float("nan")
        if not (math.isfinite(multiple) and multiple > 0):
            raise ConfigError(f"budgets: {text!r} is not a budget multiple; give numbers > 0 of the base "
                              "cost, comma-separated, e.g. 1,2,5,10")
        if multiple not in multiples:
            multiples.append(multiple)
    if not multiples:
        raise ConfigError("budgets: no budget given; give numbers > 0 of the base cost, e.g. 1,2,5,10")
    return tuple(multiples)


def _family(name: str) -> str:
    return REGISTRY[name].family if name in REGISTRY else ""


def _space(front: Front, name: str) -> str:
    """The registry's space of ``name``; for a name it does not know, its points' provenance ``space``."""
    space = space_of(name)
    if space:
        return space
    recorded = [str(front.provenance[i].get("space") or "") for i in np.flatnonzero(front.solver == name)]
    return next((s for s in recorded if s), _UNKNOWN_SPACE)


def _final_cost(front: Front, name: str, ref: np.ndarray, axis: str) -> float:
    """The cost at which solver ``name`` ended, as :func:`hv_within` reads it (its anytime log when it has
    one, else its points' cumulative cost); NaN when none is recorded."""
    costs, _ = anytime_curve(front, name, ref, axis)
    costs = costs[np.isfinite(costs)]
    return float(costs.max()) if len(costs) else float("nan")


def _base_cost(run: _Run, spaces: dict[str, list[str]], ref: np.ndarray, axis: str) -> tuple[str, float]:
    """The cheapest full-space gradient front of ``run`` and its total cost on ``axis``."""
    full = [n for n in spaces.get(FULL_SPACE, []) if _family(n) == "gradient"]
    if not full:
        known = ", ".join(n for n in solver_names("gradient") if space_of(n) == FULL_SPACE)
        raise ConfigError(f"budgets: run {run.label!r} has no full-space gradient front (family gradient, "
                          f"space {FULL_SPACE}: {known}) to set the base cost; add one to the run or leave "
                          "out budgets")
    costs = {n: _final_cost(run.front, n, ref, axis) for n in full}
    usable = {n: c for n, c in costs.items() if math.isfinite(c) and c > 0}
    if not usable:
        raise ConfigError(f"budgets: run {run.label!r}: no full-space gradient front ({', '.join(full)}) "
                          f"records a positive {axis} cost to set the base cost; try the other budget axis")
    name = min(usable, key=lambda n: usable[n])  # ties: the first in the front
    return name, usable[name]


def _ratio(numerator: float, denominator: float) -> float:
    if not (math.isfinite(numerator) and math.isfinite(denominator) and denominator > 0):
        return float("nan")
    return numerator / denominator


def _best(names: list[str], hv: dict[str, float]) -> str:
    """The name with the largest finite HV (ties: the first); ``""`` when there is none."""
    finite = [n for n in names if math.isfinite(hv[n])]
    return max(finite, key=lambda n: hv[n]) if finite else ""


def _budget_rows(run: _Run, multiples: tuple[float, ...], axis: str, ref: np.ndarray,
                 ra_min: float, base_cost: float | None = None) -> list[dict[str, Any]]:
    """The rows of one run: one per (budget multiple, space)."""
    names = [n for n in run.front.solvers if n != "Original" and n not in _BASELINES]
    spaces: dict[str, list[str]] = {}
    for name in names:
        spaces.setdefault(_space(run.front, name), []).append(name)
    order = sorted(spaces, key=lambda s: s != FULL_SPACE)  # all-parameters first, then as found (stable)
    if base_cost is None:
        base_solver, base = _base_cost(run, spaces, ref, axis)
    else:  # another run's base: the same absolute budgets for a variant of it
        base_solver, base = "given", float(base_cost)
    full_gradient = [n for n in spaces[FULL_SPACE] if _family(n) == "gradient"]

    def side(name: str, budget: float, hv: dict[str, float]) -> tuple[str, float, float, float]:
        if not name:
            return "", float("nan"), float("nan"), float("nan")
        return (name, hv[name], hv_utility_within(run.front, name, budget, ref, ra_min, axis),
                _hv_gain(hv[name], run.summary, ref))

    rows = []
    for multiple in multiples:
        budget = multiple * base
        hv = {n: _hv_within(run, n, budget, axis, ref) for n in names}
        full_name = _best(full_gradient, hv)
        full_hv = hv[full_name] if full_name else float("nan")
        full_space_best = _best(spaces[FULL_SPACE], hv)
        full_space_hv = hv[full_space_best] if full_space_best else float("nan")
        for space in order:
            members = spaces[space]
            evolutionary = side(_best([n for n in members if _family(n) == "evolutionary"], hv), budget, hv)
            gradient = side(_best([n for n in members if _family(n) == "gradient"], hv), budget, hv)
            space_best = _best(members, hv)
            space_hv = hv[space_best] if space_best else float("nan")
            rows.append({
                "run": run.label, "budget_multiple": multiple, "budget_axis": axis, "budget": budget,
                "base_cost": base, "base_solver": base_solver, "space": space,
                **dict(zip(BUDGET_COLUMNS[7:11], evolutionary, strict=True)),
                **dict(zip(BUDGET_COLUMNS[11:15], gradient, strict=True)),
                "ratio": _ratio(evolutionary[1], gradient[1]),
                "full_gradient_solver": full_name, "full_gradient_hv": full_hv,
                "vs_full_gradient": _ratio(evolutionary[1], full_hv),
                "space_best_hv": space_hv, "full_space_best_hv": full_space_hv,
                "space_vs_full": _ratio(space_hv, full_space_hv),
            })
    return rows


def budget_table(runs: Sequence[RunLike] | RunLike, budgets: Any = (1, 2, 5, 10), *,
                 axis: str = "wall_s", base_cost: float | None = None) -> pd.DataFrame:
    """Evolutionary against gradient fronts, space by space, within budgets that are multiples of a base cost.

    The base cost C of a run is the total cost of its cheapest full-space gradient front (registry family
    ``gradient``, space ``all-parameters``). For each run, each multiple b (budget B = b·C) and each search
    space of the run's non-baseline solvers: the best evolutionary and the best gradient solver of the space
    (largest HV within B, as ``hv_at_budget_s`` reads it: the anytime log, else the points whose cumulative
    cost is within B), their HV, HV@utility and HV gain over θ0 within B, and three ratios (``ratio``,
    ``vs_full_gradient``, ``space_vs_full``; :data:`BUDGET_COLUMN_NOTES`). Every solver of a row is cut at
    the same B.

    Parameters
    ----------
    runs : sequence of run directories, ExploreResults or (summary, Front) pairs
        Runs of one task, reference, KL direction and θ0, as :func:`compare` takes them.
    budgets : str or sequence of float, default (1, 2, 5, 10)
        The multiples b of the base cost: numbers > 0 (``"1,2,5,10"`` is read too).
    axis : {"wall_s", "passes"}, default "wall_s"
        Count costs in wall-clock seconds or in forward + backward sample-passes.
    base_cost : float, optional
        Use this base cost (in ``axis`` units) for every run instead of each run's own: the same absolute
        budgets for a variant of a run (e.g. denser gradient sweeps of the same task and seed).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`BUDGET_COLUMNS`, one row per (run, budget multiple, space), the all-parameters space
        first. ``df.attrs`` holds the runs, the task, the axis, the multiples, each run's base cost and the
        solver that set it, the HV reference point and the HV@utility threshold.

    Raises
    ------
    ConfigError
        A budget that is not a number > 0, an unknown axis, or a run without a full-space gradient front
        (or without its cost on ``axis``).
    IncompatibleRunsError
        The runs differ in task, reference, KL direction, θ0 or HV reference point.

    Examples
    --------
    >>> table = budget_table(["runs/demo"], "1,2,5,10")  # doctest: +SKIP
    >>> table[["budget_multiple", "space", "evolutionary_solver", "ratio", "space_vs_full"]]  # doctest: +SKIP
    """
    multiples = parse_budgets(budgets)
    if axis not in _AXES:
        raise ConfigError(f"budgets: axis {axis!r} is not known; give one of {', '.join(_AXES)}")
    loaded = _load_runs(runs)
    _check_compatible(loaded, same_theta0=True)
    ref = np.asarray(loaded[0].summary["hv_reference_point"], dtype=float)
    try:
        ra_min = _ra_min(loaded[0].summary)
    except (KeyError, TypeError):  # no θ0 RA recorded: HV@utility is NaN
        ra_min = float("nan")
    if base_cost is not None and not (isinstance(base_cost, (int, float)) and math.isfinite(base_cost)
                                      and base_cost > 0):
        raise ConfigError(f"budgets: base_cost must be a positive number of {axis}; got {base_cost!r}")
    rows = [row for run in loaded for row in _budget_rows(run, multiples, axis, ref, ra_min, base_cost)]
    frame = pd.DataFrame(rows, columns=list(BUDGET_COLUMNS))
    first = loaded[0].summary
    bases = frame.drop_duplicates("run")
    frame.attrs.update({
        "runs": [run.label for run in loaded],
        "task": {k: (first.get("task") or {}).get(k) for k in ("name", "forget", "seed", "model",
                                                                 "theta0_sha256")},
        "budget_axis": axis,
        "budget_multiples": list(multiples),
        "base_costs": dict(zip(bases["run"], bases["base_cost"].astype(float), strict=True)),
        "base_solvers": dict(zip(bases["run"], bases["base_solver"], strict=True)),
        "hv_reference_point": ref.tolist(),
        "hv_utility_ra_min": ra_min,
        "full_space": FULL_SPACE,
    })
    return frame


def budgets_markdown(frame: pd.DataFrame, *, title: str = "Fronts within budgets") -> str:
    """The Markdown of a :func:`budget_table`: what was compared, the table, and what each column means."""
    attrs = frame.attrs
    lines = [f"# {title}", ""]
    if attrs:
        axis = attrs.get("budget_axis", "wall_s")
        bases = "; ".join(f"{run}: {_format(float(cost))} ({attrs.get('base_solvers', {}).get(run)})"
                          for run, cost in attrs.get("base_costs", {}).items())
        lines += [
            f"- runs: {', '.join(attrs.get('runs', []))}",
            f"- task: {attrs.get('task', {}).get('name')}, forget {attrs.get('task', {}).get('forget')}",
            f"- budgets: {', '.join(_format(float(b)) + '×' for b in attrs.get('budget_multiples', []))} the "
            f"base cost, in {_AXIS_UNITS.get(axis, axis)}",
            f"- base cost (the cheapest full-space gradient front of each run): {bases}",
            f"- HV reference point: {[round(v, 6) for v in attrs.get('hv_reference_point', [])]}; "
            f"HV@utility counts RA >= {_format(attrs.get('hv_utility_ra_min', float('nan')))}",
            "",
        ]
    lines += [markdown_table(frame), "", "Columns:", ""]
    lines += [f"- `{name}`: {note}" for name, note in BUDGET_COLUMN_NOTES.items() if name in frame.columns]
    return "\n".join(lines) + "\n"


def write_budgets(frame: pd.DataFrame, out: str | os.PathLike) -> dict[str, Path]:
    """Write a :func:`budget_table` as ``out/budgets.csv`` and ``out/budgets.md``, atomically.

    Returns
    -------
    dict
        ``{"csv": path, "md": path}``.
    """
    return _write_table(frame, out, "budgets", budgets_markdown(frame))


@dataclass
class SeedSummary:
    """Per-solver statistics over seeds (:func:`seed_summary`).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per solver: ``n_seeds``, HV mean, half-width and bounds of the 95 % t-interval, mean HV gain
        over θ0 (``hv_gain_mean``), the same for HV normalised by each seed's reference point (``hv_norm_*``,
        in the unit box), mean HV@utility and mean oracle-free gap.
    surfaces : dict of str → np.ndarray [k, m]
        Median (``level`` %) attainment surface per solver, each seed's objectives divided by its own
        reference point.
    seeds : list of int
    level : float
    """

    table: pd.DataFrame
    surfaces: dict[str, np.ndarray] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=list)
    level: float = 50.0


def _nanmean(values: list[float]) -> float:
    array = np.asarray(values, dtype=float)
    return float(array[np.isfinite(array)].mean()) if np.isfinite(array).any() else float("nan")


def _t_interval(values: np.ndarray) -> tuple[float, float]:
    """Mean and half-width of the two-sided 95 % Student-t interval (NaN half-width for one value)."""
    from scipy import stats

    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    mean = float(values.mean())
    if len(values) < 2:
        return mean, float("nan")
    half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
    return mean, half


def seed_summary(run_dirs: Sequence[RunLike], *, level: float = 50.0) -> SeedSummary:
    """HV mean ± 95 % t-interval and the median attainment surface per solver, over runs of several seeds.

    Parameters
    ----------
    run_dirs : sequence of run directories (or ExploreResults / (summary, Front) pairs)
        Runs of one task, objectives, reference and KL direction, one per seed (θ0 differs by seed).
    level : float, default 50.0
        Attainment level in percent (50: the median surface).

    Returns
    -------
    SeedSummary

    Raises
    ------
    IncompatibleRunsError
        The runs differ in task, objectives, reference or KL direction, or two runs share a seed.
    """
    loaded = _load_runs(run_dirs)
    _check_compatible(loaded, same_theta0=False)
    seeds = [int(r.summary["task"]["seed"]) for r in loaded]
    if len(set(seeds)) != len(seeds):
        twice = next(s for s in seeds if seeds.count(s) > 1)
        raise IncompatibleRunsError(f"seed {twice} appears in more than one run; give one run per seed")
    solvers = list(dict.fromkeys(s for r in loaded for s in r.front.solvers if s != "Original"))
    rows, surfaces = [], {}
    for name in solvers:
        hv, hv_gain, hv_norm, hv_utility, gaps, normalised = [], [], [], [], [], []
        for run in loaded:
            if name not in run.front.solvers:
                continue
            ref = np.asarray(run.summary["hv_reference_point"], dtype=float)
            part = run.front.only(name)
            F = part.F[part.feasible]
            hv.append(hypervolume(F, ref))
            hv_gain.append(_hv_gain(hv[-1], run.summary, ref))
            hv_norm.append(hypervolume(F / ref, np.ones_like(ref)))
            hv_utility.append(_hv_utility(part, ref, _ra_min(run.summary) if "RA" in part.metrics else None))
            gaps.append(_oracle_free_gap(run.front, name, run.summary))
            normalised.append(F / ref)
        mean, half = _t_interval(np.array(hv))
        norm_mean, norm_half = _t_interval(np.array(hv_norm))
        rows.append({
            "solver": name, "n_seeds": len(hv), "hv_mean": mean, "hv_ci95": half,
            "hv_low": mean - half, "hv_high": mean + half, "hv_gain_mean": _nanmean(hv_gain),
            "hv_norm_mean": norm_mean, "hv_norm_ci95": norm_half,
            "hv_utility_mean": _nanmean(hv_utility), "oracle_free_gap_mean": _nanmean(gaps),
        })
        surfaces[name] = attainment_surface(normalised, level)
    return SeedSummary(pd.DataFrame(rows), surfaces, seeds, float(level))

