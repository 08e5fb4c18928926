"""The run directory contract: points.csv, summary.json, fronts.png, splits.npz and front/ (the Front).

:func:`load_run` reads it back. Everything is written atomically;
``summary.json`` says ``complete: false`` until the run has finished.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from pareto_unlearn._io import atomic_write_json, atomic_write_text, read_json
from pareto_unlearn.exceptions import RunDirError
from pareto_unlearn.front import Front
from pareto_unlearn.indicators import HVAtUtility, hypervolume, igd_plus
from pareto_unlearn.metrics import is_sample_column

__all__ = [
    "SCHEMA_VERSION",
    "prepare_out_dir",
    "solver_summary",
    "write_run_dir",
    "load_run",
    "UTILITY_MARGIN",
]

SCHEMA_VERSION = 1
UTILITY_MARGIN = 5.0  # HV@utility counts points with RA >= RA(θ0) − this many points (docs/definitions.md §4)
_MARKERS = ("summary.json", "points.csv", "results.json")


def _holds_run(out: Path) -> bool:
    """Results, or checkpoints with finished work (a unit's front, a search's state) — not the empty
    markers a run writes before its first unit finishes, which would block the corrected command."""
    if any((out / m).exists() for m in _MARKERS):
        return True
    finished = ("front.json", "state.json")
    return any(next((out / "checkpoints").rglob(name), None) is not None for name in finished) or any(
        _holds_run(seed) for seed in out.glob("seed*") if seed.is_dir())


def prepare_out_dir(out: str | os.PathLike, *, force: bool = False, resume: bool = False) -> Path:
    """Check that ``out`` can take the run: not holding another run (unless ``force``, which clears its
    checkpoints, or ``resume``, which continues from them), writable."""
    out = Path(out)
    if force and resume:
        raise RunDirError("--force starts over and --resume continues; pass one of them, not both")
    if out.exists() and not out.is_dir():
        raise RunDirError(f"--out {out} is a file; give a directory path")
    holds_run = out.is_dir() and _holds_run(out)
    if out.is_dir() and not holds_run:  # a run that failed before finishing any unit: nothing to keep
        for empty in [out / "checkpoints", *out.glob("seed*/checkpoints")]:
            shutil.rmtree(empty, ignore_errors=True)
    if resume and not holds_run:
        raise RunDirError(f"--resume: {out} holds no run to continue; drop --resume to start a new run there")
    if holds_run and not (force or resume):
        raise RunDirError(
            f"--out {out} already holds a run; pass --resume to continue it, --force to start over, "
            "or choose another directory"
        )
    if force:  # starting over: the old run's checkpoints (and its other seeds') must not be resumed
        for stale in [out / "checkpoints", *out.glob("seed*/checkpoints")]:
            shutil.rmtree(stale, ignore_errors=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise RunDirError(
            f"--out {out} is not writable ({exc.strerror}); choose a directory you can write to"
        ) from None
    return out


def solver_summary(
    front: Front, name: str, ref_point: np.ndarray, union_F: np.ndarray, ra_min: float,
    theta0: np.ndarray | None = None,
) -> dict[str, Any]:
    """HV, HV gain over θ0 (the front's HV minus θ0's alone, docs/definitions.md §4; NaN without
    ``theta0``, θ0's objectives), HV@utility, IGD+ to the union front, counts and total cost of one
    solver's points."""
    part = front.only(name)
    feasible = part.F[part.feasible]
    hv = hypervolume(feasible, ref_point) if len(feasible) else 0.0
    theta0_hv = float("nan") if theta0 is None else hypervolume(np.asarray(theta0, dtype=float)[None, :],
                                                                 ref_point)
    return {
        "hv": hv,
        "hv_gain": hv - theta0_hv,
        "hv_utility": HVAtUtility(ref_point, ra_min)(part),
        "igd_plus": igd_plus(feasible, union_F, ref_point) if len(feasible) else float("nan"),
        "n_points": len(part),
        "n_nondominated": int(part.nondominated().sum()),
        "wall_s": float(np.nanmax(part.cost["wall_s"])) if len(part) else 0.0,
        "forward_passes": float(np.nanmax(part.cost["forward_passes"])) if len(part) else 0.0,
        "backward_passes": float(np.nanmax(part.cost["backward_passes"])) if len(part) else 0.0,
    }


def write_run_dir(
    out: str | os.PathLike,
    front: Front,
    *,
    task_info: dict[str, Any],
    reference: str,
    kl_direction: str,
    ref_point: np.ndarray,
    original: dict[str, Any],
    retrain: dict[str, Any],
    complete: bool,
    manifest: dict[str, Any],
    settings: dict[str, Any] | None = None,
    figure=None,
    splits=None,
) -> dict[str, Any]:
    """Write every file of the contract and return the summary."""
    out = Path(out)
    union_F = front.F[front.nondominated_union()]
    ra_min = float(original["metrics"]["RA"]) - UTILITY_MARGIN
    solvers = {
        name: solver_summary(front, name, ref_point, union_F, ra_min, theta0=original.get("objectives"))
        for name in front.solvers
        if name != "Original"
    }
    front.save(out / "front")
    table = front.to_frame()
    table = table.drop(columns=[c for c in table.columns if is_sample_column(c)])  # packed per-sample bits
    atomic_write_text(out / "points.csv", table.to_csv(index=False, float_format="%.17g"))
    if splits is not None:
        splits.save(out / "splits.npz")
    if figure is not None:
        from pareto_unlearn.plotting import save_figure

        save_figure(figure, out / "fronts.png")
    summary = {
        "schema_version": SCHEMA_VERSION,
        "complete": bool(complete),
        "task": task_info,
        "objectives": list(front.objective_names),
        "reference": reference,
        "kl_direction": kl_direction,
        "hv_reference_point": [float(v) for v in ref_point],
        "hv_utility_ra_min": ra_min,
        "original": original,
        "retrain": retrain,
        "solvers": solvers,
        "settings": settings or {},
        "manifest": manifest,
    }
    atomic_write_json(out / "summary.json", summary)
    return summary


def load_run(directory: str | os.PathLike, task=None) -> tuple[dict[str, Any], Front]:
    """Read a run directory: its summary and its Front (hash-checked)."""
    directory = Path(directory)
    if not (directory / "summary.json").is_file():
        raise RunDirError(
            f"{directory} is not a run directory (no summary.json); give the --out of an explore run"
        )
    try:
        summary = read_json(directory / "summary.json")
    except ValueError as exc:
        raise RunDirError(f"{directory / 'summary.json'} is not valid JSON ({exc})") from None
    return summary, Front.load(directory / "front", task=task)
