"""The run directory contract: points.csv, summary.json, fronts.png, splits.npz and front/ (the Front).

:func:`write_run_dir` only writes: the summary is computed by :func:`pareto_unlearn.summary.summarize` and
the figures are drawn by the caller (this module imports neither the indicators nor the plotting).
:func:`load_run` reads it back. Everything is written atomically; ``summary.json`` is written last and
says ``complete: false`` until the run has finished.
"""

from __future__ import annotations

import io
import json
import math
import numbers
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pareto_unlearn._io import atomic_write_bytes, atomic_write_json, atomic_write_text
from pareto_unlearn.exceptions import CacheError, ConfigError, RunDirError
from pareto_unlearn.front import Front
from pareto_unlearn.manifest import check_manifest
from pareto_unlearn.metrics import is_sample_column
from pareto_unlearn.solvers import solver_names

if TYPE_CHECKING:
    from pareto_unlearn.task import Splits, UnlearningTask

__all__ = [
    "SCHEMA_VERSION",
    "prepare_out_dir",
    "write_run_dir",
    "load_run",
    "read_points",
    "read_summary",
    "check_summary",
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
    splits: Splits | None = None,
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


def load_run(directory: str | os.PathLike,
             task: UnlearningTask | None = None) -> tuple[dict[str, Any], Front]:
    """Read a run directory: its summary and its Front (hash-checked), after checking that they and
    ``points.csv`` are what ``explore`` wrote.

    Raises
    ------
    RunDirError
        ``summary.json`` is missing, not JSON, of a newer format or lacks a key; ``front/`` is missing or
        damaged; ``points.csv`` lacks or adds columns, holds text or numbers the front does not; the
        summary's solvers or objectives are not the front's; a solver name is not a registered one.
    """

    directory = Path(directory)
    summary = read_summary(directory / "summary.json")
    if not (directory / "front" / "front.json").is_file():
        raise RunDirError(f"{directory / 'front'} is missing (no front.json); the run directory is "
                          "incomplete, write it again with explore")
    try:
        front = Front.load(directory / "front", task=task)
    except CacheError as exc:
        raise RunDirError(f"{directory} is not a usable run directory: {exc}") from None
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise RunDirError(f"{directory / 'front'} cannot be read ({type(exc).__name__}: {exc}); "
                          "write the run again with explore") from None
    _check_front_against_summary(directory, summary, front)
    read_points(directory / "points.csv", front)
    return summary, front


def _check_front_against_summary(directory: Path, summary: dict[str, Any], front: Front) -> None:

    known = {*solver_names(), "Original"}
    unknown = sorted(str(name) for name in front.solvers if name not in known)
    if unknown:
        raise RunDirError(f"{directory / 'front'} holds points of unknown solvers {unknown}; this version "
                          "knows those `pareto-unlearn --help` lists")
    if list(summary["objectives"]) != list(front.objective_names):
        raise RunDirError(f"{directory}: summary.json has objectives {summary['objectives']} but front/ has "
                          f"{list(front.objective_names)}; the files are from different runs")
    solvers = sorted(str(name) for name in front.solvers if name != "Original")
    summarized = sorted(summary["solvers"])
    if summarized != solvers:
        raise RunDirError(f"{directory}: summary.json has the solvers {summarized} but front/ has {solvers}; "
                          "the files are from different runs or were edited")
    for name in solvers:
        said = summary["solvers"][name].get("n_points")
        held = int((front.solver == name).sum())
        if said is not None and said != held:
            raise RunDirError(f"{directory}: summary.json says {name} has {said} points but front/ holds "
                              f"{held}; the files were edited")


def read_points(path: str | os.PathLike, front: Front) -> None:
    """Check ``points.csv`` against the front it was written from (same columns, same values).

    ``points.csv`` is a copy of ``front.to_frame()`` for people and other tools; the package reads the
    hash-checked ``front/``. A table that disagrees was edited or belongs to another run, so the run
    directory is refused rather than half-trusted.

    Raises
    ------
    RunDirError
        Missing file, missing or extra columns, another number of rows, text in a numeric column, or a
        value (NaN and inf included) other than the front's.
    """
    import numpy as np
    import pandas as pd

    path = Path(path)
    where = f"{path}"
    fix = "it was edited or belongs to another run; write the run again with explore"
    if not path.is_file():
        raise RunDirError(f"{where} is missing; the run directory is incomplete, write it again with explore")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError, OSError, pd.errors.ParserError) as exc:
        raise RunDirError(f"{where} cannot be read as a table ({str(exc).splitlines()[0]}); {fix}") from None
    expected = front.to_frame()
    expected = expected.drop(columns=[c for c in expected.columns if is_sample_column(c)])
    missing = [c for c in expected.columns if c not in table.columns]
    extra = [c for c in table.columns if c not in expected.columns]
    if missing:
        raise RunDirError(f"{where} lacks the column(s) {', '.join(map(str, missing))}; {fix}")
    if extra:
        raise RunDirError(f"{where} has unexpected column(s) {', '.join(map(str, extra))}; {fix}")
    if len(table) != len(expected):
        raise RunDirError(f"{where} has {len(table)} rows but front/ holds {len(expected)} points; {fix}")
    if list(table["solver"]) != [str(s) for s in expected["solver"]]:
        row = next(i for i, (a, b) in enumerate(zip(table["solver"], expected["solver"])) if a != str(b))
        raise RunDirError(f"{where} row {row + 2}: solver {table['solver'][row]!r} but front/ has "
                          f"{expected['solver'][row]!r}; {fix}")
    for column in expected.columns:
        kind = expected[column]
        if not pd.api.types.is_numeric_dtype(kind) or pd.api.types.is_bool_dtype(kind):
            continue
        cells = table[column]
        values = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=float)
        text = np.isnan(values) & ~cells.str.strip().str.lower().isin(("", "nan"))
        if text.any():
            row = int(np.flatnonzero(text)[0])
            raise RunDirError(f"{where} row {row + 2} column {column} holds {cells[row]!r}, not a number; "
                              f"{fix}")
        wanted = expected[column].to_numpy(dtype=float)
        same = np.isclose(values, wanted, rtol=1e-9, atol=0.0, equal_nan=True) | (values == wanted)
        if not same.all():
            row = int(np.flatnonzero(~same)[0])
            raise RunDirError(f"{where} row {row + 2} column {column} is {cells[row]!r} but front/ holds "
                              f"{wanted[row]!r}; {fix}")


# ------------------------------------------------------------------ reading summary.json back

_SUMMARY_KEYS = ("schema_version", "complete", "task", "objectives", "reference", "kl_direction",
                 "hv_reference_point", "original", "retrain", "solvers")


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_summary(summary: Any, where: str = "summary.json") -> dict[str, Any]:
    """``summary`` (a parsed ``summary.json``) if it is one this version can read, else :class:`RunDirError`.

    Checked: a JSON object with every key :func:`pareto_unlearn.summary.summarize` writes, a format
    version not newer than :data:`SCHEMA_VERSION`, objective names, a finite reference point of one value
    per objective, one row of numbers (or ``null``) per solver and, when present, a manifest
    (:func:`pareto_unlearn.manifest.check_manifest`).

    Examples
    --------
    >>> check_summary({"schema_version": 99}, "run/summary.json")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pareto_unlearn.exceptions.RunDirError: run/summary.json was written by a newer pareto-unlearn ...
    """

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
            if value is not None and not _is_number(value):  # every column of a row is a number
                raise bad(f"solvers.{name}.{column} is {value!r}, not a number")
    if "manifest" in summary:
        check_manifest(summary["manifest"], f"{where} manifest")
    return summary


def read_summary(path: Any) -> dict[str, Any]:
    """Read and check a ``summary.json`` (:func:`check_summary`); :class:`RunDirError` when it is not one."""
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


