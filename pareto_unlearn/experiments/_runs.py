"""The runs that :func:`~pareto_unlearn.experiments.compare` and ``seed_summary`` read: loaded from run
directories, ``ExploreResult`` objects or ``(summary, Front)`` pairs, and checked to be runs of one task."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pareto_unlearn.exceptions import CacheError, ConfigError, IncompatibleRunsError, RunDirError
from pareto_unlearn.front import Front
from pareto_unlearn.indicators import UTILITY_MARGIN
from pareto_unlearn.rundir import load_run
from pareto_unlearn.selection import OracleFree

__all__ = ["RunLike"]

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


@dataclass
class _Run:
    label: str
    summary: dict[str, Any]
    front: Front
    path: Path | None = None


RunLike = Any  # a run directory (str / PathLike), an ExploreResult, or a (summary, Front) pair


def _as_run(item: RunLike, k: int) -> _Run:
    """A run from a directory, an ``ExploreResult`` or a ``(summary, Front)`` pair."""
    if isinstance(item, (str, os.PathLike)):
        try:
            summary, front = load_run(item)
        except CacheError as exc:
            raise RunDirError(f"{item} is not a usable run directory: {exc}") from None
        return _Run(Path(item).name or str(item), summary, front, Path(item))
    if hasattr(item, "summary") and hasattr(item, "front"):
        if not item.summary:
            raise ConfigError(f"compare: run {k} is an ExploreResult without a summary; give explore's "
                              "own result (it carries its summary) or a run directory")
        out = getattr(item, "out", None)
        return _Run(Path(out).name if out else f"run{k}", item.summary, item.front,
                    Path(out) if out else None)
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Front):
        return _Run(f"run{k}", dict(item[0]), item[1])
    raise ConfigError(f"compare: run {k} must be a run directory, an ExploreResult or a (summary, Front) "
                      f"pair; got {type(item).__name__}")


def _load_runs(runs: Sequence[RunLike] | RunLike) -> list[_Run]:
    if isinstance(runs, (str, os.PathLike)) or hasattr(runs, "summary") or (
            isinstance(runs, tuple) and len(runs) == 2 and isinstance(runs[1], Front)):
        runs = [runs]
    given: dict[Path, Any] = {}
    for item in runs:  # the same run twice would count its points twice in every union and mean
        if isinstance(item, (str, os.PathLike)):
            where = Path(item).resolve()
            if where in given:
                raise ConfigError(f"compare: {item} is the same run directory as {given[where]}; "
                                  "give each run once")
            given[where] = item
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
    """The oracle-free rule (docs/definitions.md §6) of a run, from its summary's forget kind."""
    return OracleFree.for_summary(summary)


def _ra_min(summary: dict[str, Any]) -> float:
    if summary.get("hv_utility_ra_min") is not None:
        return float(summary["hv_utility_ra_min"])
    return float(summary["original"]["metrics"]["RA"]) - UTILITY_MARGIN
