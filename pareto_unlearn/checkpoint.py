"""Checkpoints that let a killed run continue where it stopped, with nothing pickled.

Two kinds, both under one run's ``checkpoints/`` folder:

* :class:`StateCheckpoint` — the latest state of one iterative solver (an NSGA-II population after each
  generation): ``state.json`` (JSON state, the fingerprint of the settings, the SHA-256 of the arrays)
  and ``arrays-<step>.npz``. The arrays are written first and ``state.json`` last, both atomically, so
  ``state.json`` always names a complete, hash-checked array file.
* :class:`UnitStore` — finished units of a sweep (one solver run, one grid point), each a
  :class:`~pareto_unlearn.front.Front` saved to a temporary folder and renamed into place.

A checkpoint whose fingerprint differs from the run's settings is refused (:class:`RunDirError`); one that
is truncated or whose hash does not match is refused (:class:`CacheError`).

Examples
--------
>>> import tempfile, numpy as np
>>> ckpt = StateCheckpoint(tempfile.mkdtemp(), {"solver": "demo", "seed": 0})
>>> ckpt.save({"generation": 3}, {"X": np.zeros((4, 2))})
>>> state, arrays = ckpt.load()
>>> state["generation"], arrays["X"].shape
(3, (4, 2))
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from pareto_unlearn._io import atomic_save_npz, atomic_write_json, read_json, sha256_file, stable_hash
from pareto_unlearn.exceptions import CacheError, RunDirError
from pareto_unlearn.front import Front

__all__ = ["StateCheckpoint", "UnitStore", "unit_key", "rng_states", "restore_rng_states",
           "preserved_rng_states"]

logger = logging.getLogger(__name__)

CHECKPOINT_SCHEMA = 1


def rng_states() -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The global numpy, ``random`` and torch CPU generator states: a JSON part and an array part."""
    import torch

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    json_part = {"numpy": {"kind": kind, "pos": int(pos), "has_gauss": int(has_gauss),
                           "cached_gaussian": float(cached)},
                 "random": {"version": version, "state": list(internal), "gauss_next": gauss_next}}
    arrays = {"rng:numpy_keys": np.asarray(keys, dtype=np.uint32),
              "rng:torch": torch.get_rng_state().numpy().copy()}
    return json_part, arrays


def restore_rng_states(json_part: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Put back what :func:`rng_states` recorded."""
    import torch

    n = json_part["numpy"]
    np.random.set_state((n["kind"], arrays["rng:numpy_keys"], n["pos"], n["has_gauss"], n["cached_gaussian"]))
    r = json_part["random"]
    random.setstate((r["version"], tuple(r["state"]), r["gauss_next"]))
    torch.set_rng_state(torch.from_numpy(np.asarray(arrays["rng:torch"], dtype=np.uint8).copy()))


@contextlib.contextmanager
def preserved_rng_states() -> Iterator[None]:
    """Give the caller back its global RNG states on exit, whatever ran inside.

    The states of :func:`rng_states` (``random``, NumPy's legacy global generator, torch's default CPU
    generator) are recorded on entry and put back on exit, also when the block raises. A solver runs in
    it, so that what it does to those generators inside (a resumed run's :func:`restore_rng_states` of a
    checkpoint's states, any draw) does not reach the caller: after ``run`` the caller's next draws are
    the ones it would have made without the run. CUDA generators are not covered.

    Examples
    --------
    >>> import random
    >>> random.seed(7); expected = random.random(); random.seed(7)
    >>> with preserved_rng_states():
    ...     random.seed(123)
    ...     _ = random.random()
    >>> random.random() == expected
    True
    """
    json_part, arrays = rng_states()
    try:
        yield
    finally:
        restore_rng_states(json_part, arrays)


def _check_fingerprint(where: Path, stored: Any, expected: dict[str, Any]) -> None:
    if stored == stable_hash(expected):
        return
    raise RunDirError(f"{where} was written with other settings (seed, solver settings, task or objectives); "
                      "rerun with the same settings to resume, or pass --force to start over")


class StateCheckpoint:
    """The latest state of one iterative run in ``directory`` (see the module docstring).

    Parameters
    ----------
    directory : path
    fingerprint : dict
        JSON-able settings that must match for the state to be used (seed, hyperparameters, θ0 hash, ...).
    """

    def __init__(self, directory: str | os.PathLike, fingerprint: dict[str, Any]) -> None:
        self.directory = Path(directory)
        self.fingerprint = fingerprint

    @property
    def state_path(self) -> Path:
        """The JSON half of the checkpoint."""
        return self.directory / "state.json"

    def exists(self) -> bool:
        """Whether a state has been saved."""
        return self.state_path.exists()

    def save(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Write ``arrays`` then ``state`` (the commit point); remove the arrays of older steps."""
        step = int(state.get("generation", state.get("step", 0)))
        name = f"arrays-{step:06d}.npz"
        atomic_save_npz(self.directory / name, **arrays)
        atomic_write_json(self.state_path, {
            "schema_version": CHECKPOINT_SCHEMA,
            "fingerprint": stable_hash(self.fingerprint),
            "settings": self.fingerprint,
            "arrays": name,
            "sha256": sha256_file(self.directory / name),
            "state": state,
        })
        for old in self.directory.glob("arrays-*.npz"):
            if old.name != name:
                old.unlink(missing_ok=True)

    def load(self) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
        """``(state, arrays)``, or ``None`` when there is no checkpoint; hashes and settings are checked."""
        if not self.exists():
            return None
        try:
            meta = read_json(self.state_path)
            name, digest, state = meta["arrays"], meta["sha256"], meta["state"]
        except (ValueError, KeyError, TypeError) as exc:
            raise CacheError(f"{self.state_path} is truncated or not a checkpoint ({exc}); delete "
                             f"{self.directory} or pass --force to start over") from None
        _check_fingerprint(self.state_path, meta.get("fingerprint"), self.fingerprint)
        path = self.directory / str(name)
        if not path.is_file() or sha256_file(path) != digest:
            raise CacheError(f"{path} is missing or its SHA-256 differs from {self.state_path} (truncated or "
                             f"tampered); delete {self.directory} or pass --force to start over")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (ValueError, OSError) as exc:
            raise CacheError(f"{path} cannot be read as arrays ({exc}); pass --force to start over") from None
        return state, arrays

    def clear(self) -> None:
        """Remove the checkpoint folder (a finished run no longer needs it)."""
        shutil.rmtree(self.directory, ignore_errors=True)


def unit_key(prefix: str, configuration: dict[str, Any]) -> str:
    """The store key of one unit: ``prefix`` and a short hash of what the unit computes with.

    A unit named by its configuration, not by its place in a grid, stays valid when the grid around it
    changes: a run resumed with a longer grid computes only the new points.

    Examples
    --------
    >>> unit_key("seed0.RL", {"lr": 0.001, "epochs": 2}) == unit_key("seed0.RL", {"epochs": 2, "lr": 0.001})
    True
    >>> unit_key("seed0.RL", {"lr": 0.001}) == unit_key("seed0.RL", {"lr": 0.0003})
    False
    """
    return f"{prefix}.{stable_hash(configuration)[:12]}"


class UnitStore:
    """Finished units of a sweep, each a Front in ``directory/<key>/``, written all at once or not at all.

    Parameters
    ----------
    directory : path
    fingerprint : dict
        Settings the units were computed with; a store written with other settings is refused.
    """

    def __init__(self, directory: str | os.PathLike, fingerprint: dict[str, Any]) -> None:
        self.directory = Path(directory)
        self.fingerprint = fingerprint
        marker = self.directory / "store.json"
        if marker.exists():
            try:
                stored = read_json(marker).get("fingerprint")
            except (ValueError, AttributeError) as exc:
                raise CacheError(f"{marker} is truncated or not JSON ({exc}); pass --force to start over") \
                    from None
            _check_fingerprint(marker, stored, fingerprint)
        else:
            atomic_write_json(marker, {"schema_version": CHECKPOINT_SCHEMA,
                                       "fingerprint": stable_hash(fingerprint), "settings": fingerprint})

    def _path(self, key: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
        return self.directory / safe

    def has(self, key: str) -> bool:
        """Whether unit ``key`` has finished and been stored."""
        return (self._path(key) / "front.json").exists()

    def get(self, key: str, task: Any = None) -> Front | None:
        """The unit's Front (hash-checked), or ``None`` when it has not finished."""
        return Front.load(self._path(key), task=task) if self.has(key) else None

    def put(self, key: str, front: Front) -> None:
        """Store unit ``key``'s Front atomically (a half-written unit is never read back)."""
        final = self._path(key)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            front.save(tmp)
        except BaseException:  # a full disk or an interrupt: leave no half-written unit behind
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
