"""Locks that keep two processes from writing one run directory or one model-cache entry at a time.

A lock is a ``filelock.FileLock`` (``fcntl.flock`` on POSIX): the operating system drops it when its
process ends, ``kill -9`` included, so a stale lock file never blocks the next run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from pareto_unlearn.exceptions import OutputError, RunDirError

__all__ = ["RUN_LOCK", "run_lock", "entry_lock"]

RUN_LOCK = ".pareto-unlearn.lock"  # in a run directory: held while a run writes it


@contextlib.contextmanager
def run_lock(out: str | os.PathLike) -> Iterator[Path]:
    """Hold ``out``'s lock for the block, or refuse at once: another live run is writing ``out``.

    Raises
    ------
    RunDirError
        Another process holds the lock (``--force`` and ``--resume`` are refused alike).
    OutputError
        ``out`` cannot be made or the lock file cannot be written there.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunDirError(f"--out {out} is a file; give a directory path")
    try:
        out.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(out / RUN_LOCK), timeout=0)
        lock.acquire()
    except Timeout:
        raise RunDirError(f"--out {out} is being written by another run right now; wait for it to finish "
                          "or choose another directory (--force does not stop a live run)") from None
    except OSError as exc:
        raise OutputError(f"cannot write {out}: {exc.strerror or exc}; choose a directory you can write to") \
            from None
    try:
        yield out
    finally:
        lock.release()


@contextlib.contextmanager
def entry_lock(path: str | os.PathLike, timeout_s: float = 3600.0) -> Iterator[None]:
    """Hold ``path``'s lock (``path`` + ``.lock``) for the block, waiting for another process that holds it.

    The second process that wants the same cache entry waits while the first trains it, then reads it.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path) + ".lock", timeout=timeout_s)
        lock.acquire()
    except Timeout:
        raise OutputError(f"{path} has been locked by another process for {timeout_s:.0f} s; if no other "
                          f"run uses it, delete {path}.lock") from None
    except OSError as exc:
        raise OutputError(f"cannot write {path.parent}: {exc.strerror or exc}; choose a cache folder you "
                          "can write to") from None
    try:
        yield
    finally:
        lock.release()
