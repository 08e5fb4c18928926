"""``pareto-unlearn compare``: the solvers of one or more runs of one task, side by side (SPEC §4).

:func:`compare` gives one row per (run, solver): HV, HV@utility, IGD+ to the non-dominated union of every
run given, point counts, cost, the best Avg. Gap on the solver's non-dominated front and the gap of its
oracle-free pick, and the HV each solver had reached at equal cost (the wall-clock seconds, and the
sample-passes, of the cheapest solver). Runs of different tasks, references, KL directions or θ0 are
refused. :func:`seed_summary` aggregates runs of several seeds: HV mean ± a 95 % t-interval and the median
attainment surface per solver.

Examples
--------
>>> table = compare(["runs/a", "runs/b"])  # doctest: +SKIP
>>> write_compare(table, "runs/compare")  # doctest: +SKIP
{'csv': PosixPath('runs/compare/compare.csv'), 'md': PosixPath('runs/compare/compare.md')}
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pareto_unlearn._io import atomic_write_text
from pareto_unlearn.exceptions import CacheError, ConfigError, IncompatibleRunsError, RunDirError
from pareto_unlearn.front import Front
from pareto_unlearn.indicators import HVAtUtility, attainment_surface, hypervolume, igd_plus

__all__ = ["compare", "write_compare", "seed_summary", "SeedSummary", "COMPARE_COLUMNS", "markdown_table",
           "compare_markdown"]

# What must agree between runs (label, path in summary.json), in the order they are checked.
_TASK_FIELDS = (
    ("task", ("task", "name")),
    ("forget set", ("task", "forget")),
    ("data fingerprint", ("task", "data_fingerprint")),
    ("model", ("task", "model")),
    ("objectives", ("objectives",)),
    ("reference", ("reference",)),
    ("KL direction", ("kl_direction",)),
)
_THETA0_FIELD = ("θ0", ("task", "theta0_sha256"))
_BASELINES = ("FT", "GA", "RL", "SalUn", "l1-sparse", "IU")  # one-point methods: never set the budget

COMPARE_COLUMNS = (
    "run", "solver", "hv", "hv_utility", "igd_plus", "n_points", "n_nondominated", "wall_s",
    "forward_passes", "backward_passes", "sample_passes", "best_gap_nd", "oracle_free_gap",
    "budget_s", "hv_at_budget_s", "budget_passes", "hv_at_budget_passes",
)
_COLUMN_NOTES = {
    "hv": "hypervolume of the solver's feasible points (one reference point for all)",
    "hv_utility": "HV of the points with RA >= RA(θ0) − margin",
    "igd_plus": "IGD+ to the non-dominated union of every run given, objectives / reference point",
    "n_nondominated": "points no other point of the same solver dominates",
    "wall_s": "wall-clock seconds, set-up included",
    "sample_passes": "forward + backward sample-passes through the network",
    "best_gap_nd": "lowest Avg. Gap to Retrain on the solver's non-dominated points (evaluation only)",
    "oracle_free_gap": "Avg. Gap of the point the oracle-free rule picks among the solver's points",
    "hv_at_budget_s": "HV reached within budget_s seconds (the cheapest solver's wall-clock)",
    "hv_at_budget_passes": "HV reached within budget_passes sample-passes (the cheapest solver's)",
}


@dataclass
class _Run:
    label: str
    summary: dict[str, Any]
    front: Front


RunLike = Any  # a run directory (str / PathLike), an ExploreResult, or a (summary, Front) pair


def _as_run(item: RunLike, k: int) -> _Run:
    """A run from a directory, an ``ExploreResult`` or a ``(summary, Front)`` pair."""
    from pareto_unlearn.rundir import load_run

    if isinstance(item, (str, os.PathLike)):
        try:
            summary, front = load_run(item)
        except CacheError as exc:
            raise RunDirError(f"{item} is not a usable run directory: {exc}") from None
        return _Run(Path(item).name or str(item), summary, front)
    if hasattr(item, "summary") and hasattr(item, "front"):
        if not item.summary:
            raise ConfigError(f"compare: run {k} is an ExploreResult without a summary; "
                              "run explore with out=")
        out = getattr(item, "out", None)
        return _Run(Path(out).name if out else f"run{k}", item.summary, item.front)
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Front):
        return _Run(f"run{k}", dict(item[0]), item[1])
    raise ConfigError(f"compare: run {k} must be a run directory, an ExploreResult or a (summary, Front) "
                      f"pair; got {type(item).__name__}")


def _load_runs(runs: Sequence[RunLike] | RunLike) -> list[_Run]:
    if isinstance(runs, (str, os.PathLike)) or hasattr(runs, "summary") or (
            isinstance(runs, tuple) and len(runs) == 2 and isinstance(runs[1], Front)):
        runs = [runs]
    loaded = [_as_run(item, k) for k, item in enumerate(runs)]
    if not loaded:
        raise ConfigError("compare: give at least one run directory")
    seen: dict[str, int] = {}
    for run in loaded:  # labels must tell the rows apart
        seen[run.label] = seen.get(run.label, 0) + 1
        if seen[run.label] > 1:
            run.label = f"{run.label}#{seen[run.label]}"
    return loaded


def _get(summary: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = summary
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _short(value: Any) -> str:
    """``repr`` of a value, hashes cut to 12 characters."""
    if isinstance(value, str) and len(value) == 64:
        return repr(value[:12] + "…")
    return repr(value)


def _check_compatible(runs: list[_Run], *, same_theta0: bool) -> None:
    """Refuse runs that differ in anything that changes the objectives; name the field that differs."""
    fields = (*_TASK_FIELDS, _THETA0_FIELD) if same_theta0 else _TASK_FIELDS
    first = runs[0]
    for run in runs[1:]:
        for label, path in fields:
            a, b = _get(first.summary, path), _get(run.summary, path)
            if a != b:
                raise IncompatibleRunsError(
                    f"runs {first.label!r} and {run.label!r} differ in {label} (summary {'.'.join(path)}): "
                    f"{_short(a)} vs {_short(b)}; compare only runs of one task, reference, KL direction "
                    "and θ0")
        if same_theta0:
            a, b = (np.asarray(_get(r.summary, ("hv_reference_point",)), dtype=float) for r in (first, run))
            if a.shape != b.shape or not np.allclose(a, b, rtol=1e-9, atol=0.0):
                raise IncompatibleRunsError(
                    f"runs {first.label!r} and {run.label!r} differ in the HV reference point "
                    f"(summary hv_reference_point): {a.tolist()} vs {b.tolist()}; "
                    "recompute them with one setting")


def _oracle_free_rule(summary: dict[str, Any]):
    from pareto_unlearn.selection import SEL_ACC_MARGIN, OracleFree

    task = summary["task"]
    sel_acc = summary.get("original", {}).get("metrics", {}).get("sel_acc")
    min_sel_acc = None if sel_acc is None else float(sel_acc) - SEL_ACC_MARGIN
    if str(task.get("forget", "")).startswith("class"):
        return OracleFree("class", n_classes=int(task["n_classes"]), min_sel_acc=min_sel_acc)
    return OracleFree("random", min_sel_acc=min_sel_acc)


def _ra_min(summary: dict[str, Any]) -> float:
    from pareto_unlearn.rundir import UTILITY_MARGIN

    if summary.get("hv_utility_ra_min") is not None:
        return float(summary["hv_utility_ra_min"])
    return float(summary["original"]["metrics"]["RA"]) - UTILITY_MARGIN


def _finite_max(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values.max()) if len(values) else float("nan")


def _gap_of_pick(part: Front, rule) -> float:
    if "gap" not in part.metrics:
        return float("nan")
    try:
        return float(part.metrics["gap"][rule(part)])
    except ConfigError:  # no feasible point, or no oracle-free score
        return float("nan")


def _solver_row(run: _Run, name: str, ref: np.ndarray, union: np.ndarray) -> dict[str, Any]:
    part = run.front.only(name)
    feasible = part.F[part.feasible]
    nd = part.nondominated()
    gaps = part.metrics.get("gap", np.full(len(part), np.nan))[nd]
    forward, backward = _finite_max(part.cost["forward_passes"]), _finite_max(part.cost["backward_passes"])
    return {
        "run": run.label,
        "solver": name,
        "hv": hypervolume(feasible, ref),
        "hv_utility": HVAtUtility(ref, _ra_min(run.summary))(part) if "RA" in part.metrics else float("nan"),
        "igd_plus": igd_plus(feasible, union, ref) if len(feasible) else float("nan"),
        "n_points": len(part),
        "n_nondominated": int(nd.sum()),
        "wall_s": _finite_max(part.cost["wall_s"]),
        "forward_passes": forward,
        "backward_passes": backward,
        "sample_passes": forward + backward,
        "best_gap_nd": float(np.nanmin(gaps)) if np.isfinite(gaps).any() else float("nan"),
        "oracle_free_gap": _gap_of_pick(part, _oracle_free_rule(run.summary)),
    }


def _hv_within(run: _Run, name: str, budget: float, axis: str, ref: np.ndarray) -> float:
    """HV of a solver within ``budget`` of cost ``axis`` ("wall_s" or "passes"): from its anytime log when
    it has one (NSGA-II logs every generation), else from the points' own cumulative cost columns."""
    if not math.isfinite(budget):
        return float("nan")
    log = [a for a in run.front.anytime if str(a.get("solver")) == name]

    def cost(entry: Any, i: int | None = None) -> float:
        if axis == "wall_s":
            return float(entry["wall_s"]) if i is None else float(entry.cost["wall_s"][i])
        if i is None:
            return float(entry.get("forward_passes", np.nan)) + float(entry.get("backward_passes", np.nan))
        return float(entry.cost["forward_passes"][i] + entry.cost["backward_passes"][i])

    slack = budget * (1 + 1e-9)
    if log:
        reached = [float(a["hv"]) for a in log
                   if cost(a) <= slack and np.isfinite(float(a.get("hv", np.nan)))]
        return max(reached, default=0.0)
    part = run.front.only(name)
    keep = np.array([cost(part, i) <= slack for i in range(len(part))], dtype=bool)
    return hypervolume(part.F[keep], ref)


def compare(runs: Sequence[RunLike] | RunLike, *, budget_s: float | None = None,
            budget_passes: float | None = None) -> pd.DataFrame:
    """Compare the solvers of runs of one task: one row per (run, solver), Original left out.

    Parameters
    ----------
    runs : sequence of run directories, ExploreResults or (summary, Front) pairs
        Runs of the same task (name, forget set, data fingerprint, model), objectives, reference, KL
        direction and θ0; anything else is refused.
    budget_s, budget_passes : float, optional
        The equal-cost budgets. Default: the wall-clock seconds and the sample-passes of the cheapest
        front solver (the one-point baselines FT, GA, RL, SalUn, l1-sparse never set it, unless they are
        all there is).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COMPARE_COLUMNS`. ``df.attrs`` holds the task, the reference point, the budgets, the
        size of the union front and the labels of the runs (used by :func:`write_compare`).

    Raises
    ------
    IncompatibleRunsError
        The runs differ in task, forget set, data, model, objectives, reference, KL direction, θ0 or HV
        reference point; the message names the field.
    RunDirError
        A directory is not a run directory.

    Examples
    --------
    >>> df = compare(["runs/jd", "runs/nsga2"])  # doctest: +SKIP
    >>> df[["solver", "hv", "hv_at_budget_s"]]  # doctest: +SKIP
    """
    loaded = _load_runs(runs)
    _check_compatible(loaded, same_theta0=True)
    ref = np.asarray(loaded[0].summary["hv_reference_point"], dtype=float)
    union_all = Front.concat([r.front for r in loaded])
    union = union_all.F[union_all.nondominated_union()]
    rows = [_solver_row(run, name, ref, union)
            for run in loaded for name in run.front.solvers if name != "Original"]
    frame = pd.DataFrame(rows, columns=list(COMPARE_COLUMNS[:13]))
    fronts = frame[~frame["solver"].isin(_BASELINES)] if (~frame["solver"].isin(_BASELINES)).any() else frame

    def cheapest(column: str) -> float:
        values = fronts[column].to_numpy(dtype=float)
        values = values[np.isfinite(values) & (values > 0)]
        return float(values.min()) if len(values) else float("nan")

    budget_s = cheapest("wall_s") if budget_s is None else float(budget_s)
    budget_passes = cheapest("sample_passes") if budget_passes is None else float(budget_passes)
    by_label = {run.label: run for run in loaded}
    frame["budget_s"] = budget_s
    frame["hv_at_budget_s"] = [_hv_within(by_label[r], s, budget_s, "wall_s", ref)
                               for r, s in zip(frame["run"], frame["solver"], strict=True)]
    frame["budget_passes"] = budget_passes
    frame["hv_at_budget_passes"] = [_hv_within(by_label[r], s, budget_passes, "passes", ref)
                                    for r, s in zip(frame["run"], frame["solver"], strict=True)]
    first = loaded[0].summary
    frame.attrs.update({
        "runs": [run.label for run in loaded],
        "task": {k: first["task"].get(k) for k in ("name", "forget", "seed", "model", "theta0_sha256")},
        "objectives": list(first.get("objectives", [])),
        "reference": first.get("reference"),
        "kl_direction": first.get("kl_direction"),
        "hv_reference_point": ref.tolist(),
        "hv_utility_ra_min": _ra_min(first),
        "n_union": int(len(union)),
        "budget_s": budget_s,
        "budget_passes": budget_passes,
    })
    return frame


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
            f"{_format(attrs.get('budget_passes', float('nan')))} sample-passes (the cheapest solver's)",
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
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunDirError(f"--out {out} is a file; give a directory for compare.csv and compare.md")
    paths = {"csv": out / "compare.csv", "md": out / "compare.md"}
    atomic_write_text(paths["csv"], frame.to_csv(index=False, float_format="%.17g"))
    atomic_write_text(paths["md"], compare_markdown(frame))
    return paths


@dataclass
class SeedSummary:
    """Per-solver statistics over seeds (:func:`seed_summary`).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per solver: ``n_seeds``, HV mean, half-width and bounds of the 95 % t-interval, the same for
        HV normalised by each seed's reference point (``hv_norm_*``, in the unit box), mean HV@utility and
        mean oracle-free gap.
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
        hv, hv_norm, hv_utility, gaps, normalised = [], [], [], [], []
        for run in loaded:
            if name not in run.front.solvers:
                continue
            ref = np.asarray(run.summary["hv_reference_point"], dtype=float)
            part = run.front.only(name)
            F = part.F[part.feasible]
            hv.append(hypervolume(F, ref))
            hv_norm.append(hypervolume(F / ref, np.ones_like(ref)))
            hv_utility.append(HVAtUtility(ref, _ra_min(run.summary))(part)
                              if "RA" in part.metrics else np.nan)
            gaps.append(_gap_of_pick(part, _oracle_free_rule(run.summary)))
            normalised.append(F / ref)
        mean, half = _t_interval(np.array(hv))
        norm_mean, norm_half = _t_interval(np.array(hv_norm))
        rows.append({
            "solver": name, "n_seeds": len(hv), "hv_mean": mean, "hv_ci95": half,
            "hv_low": mean - half, "hv_high": mean + half,
            "hv_norm_mean": norm_mean, "hv_norm_ci95": norm_half,
            "hv_utility_mean": _nanmean(hv_utility), "oracle_free_gap_mean": _nanmean(gaps),
        })
        surfaces[name] = attainment_surface(normalised, level)
    return SeedSummary(pd.DataFrame(rows), surfaces, seeds, float(level))

