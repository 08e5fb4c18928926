"""The run directory contract: points.csv, summary.json, fronts.png, splits.npz and front/ (the Front).

:func:`write_run_dir` only writes: the summary is computed by :func:`pareto_unlearn.summary.summarize` and
the figures are drawn by the caller (this module imports neither the indicators nor the plotting).
:func:`load_run` reads it back. Everything is written atomically; ``summary.json`` is written last and
says ``complete: false`` until the run has finished.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pareto_unlearn._io import atomic_write_bytes, atomic_write_json, atomic_write_text, read_json
from pareto_unlearn.exceptions import ConfigError, RunDirError
from pareto_unlearn.front import Front
from pareto_unlearn.metrics import is_sample_column

__all__ = [
    "SCHEMA_VERSION",
    "prepare_out_dir",
    "write_run_dir",
    "load_run",
    "FIGURE_DPI",
]

SCHEMA_VERSION = 1
FIGURE_DPI = 120  # the figures' resolution, plotting.save_figure's default
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


def write_run_dir(
    out: str | os.PathLike,
    front: Front,
    summary: Mapping[str, Any],
    *,
    figures: Mapping[str, Any] | None = None,
    splits=None,
) -> dict[str, Path]:
    """Write a run directory: ``front/``, ``points.csv``, ``splits.npz`` (with ``splits``), the figures
    and, last, ``summary.json``. Nothing is computed here: the summary comes from
    :func:`pareto_unlearn.summary.summarize`, the figures are drawn by the caller.

    Parameters
    ----------
    out : path
    front : Front
        Every point of the run, θ0 included.
    summary : dict
        :func:`~pareto_unlearn.summary.summarize` of ``front``; its ``solvers`` must be the front's.
    figures : dict of str → figure, optional
        File name (``"fronts.png"``) → an object with matplotlib's ``savefig(file, format=, dpi=)``, or the
        PNG's bytes; each rendered before anything is written, then written atomically.
    splits : Splits, optional

    Returns
    -------
    dict
        What was written: ``"front"``, ``"points"``, ``"summary"``, ``"splits"`` and each figure's name →
        its path.
    """
    out = Path(out)
    solvers = sorted(name for name in front.solvers if name != "Original")
    summarized = sorted(summary.get("solvers", {}))
    if summarized != solvers:
        raise ConfigError(f"write_run_dir: the summary's solvers {summarized} are not the front's {solvers}; "
                          "give summarize(front, ...) of this front")
    pngs = {name: fig if isinstance(fig, bytes) else _png(fig) for name, fig in (figures or {}).items()}
    paths = {"front": out / "front", "points": out / "points.csv"}
    front.save(paths["front"])
    table = front.to_frame()
    table = table.drop(columns=[c for c in table.columns if is_sample_column(c)])  # packed per-sample bits
    atomic_write_text(paths["points"], table.to_csv(index=False, float_format="%.17g"))
    if splits is not None:
        paths["splits"] = out / "splits.npz"
        splits.save(paths["splits"])
    for name, png in pngs.items():
        paths[name] = out / name
        atomic_write_bytes(paths[name], png)
    paths["summary"] = out / "summary.json"
    atomic_write_json(paths["summary"], summary)
    return paths


def _png(figure: Any) -> bytes:
    """The PNG of a figure (anything with matplotlib's ``savefig``), as ``plotting.save_figure`` writes it."""
    if not callable(getattr(figure, "savefig", None)):
        raise ConfigError(f"write_run_dir: a figure must have a savefig method or be PNG bytes. "
                          f"Got {type(figure).__name__}.")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI)
    return buffer.getvalue()


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
