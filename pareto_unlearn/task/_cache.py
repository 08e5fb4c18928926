"""On-disk cache of trained models: safetensors weights + a JSON record keyed by a hash of everything
that determines them. A hit never retrains; a corrupt, truncated or tampered file, one with other tensor
names or shapes or with NaN/inf, or an entry whose record disagrees with its key (written by other code),
is detected and rebuilt. Two processes that want one entry do not both train it: the second waits on the
entry's lock file and then reads it."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as save_safetensors
from torch import nn

from pareto_unlearn._io import (
    atomic_write_bytes,
    atomic_write_json,
    read_json,
    sha256_bytes,
    sha256_file,
    stable_hash,
    to_jsonable,
)
from pareto_unlearn._lock import entry_lock
from pareto_unlearn.exceptions import CacheError

__all__ = ["ModelCache", "default_cache_dir", "load_state_checked"]

logger = logging.getLogger(__name__)
CACHE_SCHEMA = 1


def default_cache_dir() -> Path:
    """``$PARETO_UNLEARN_CACHE`` or ``~/.cache/pareto_unlearn``."""
    env = os.environ.get("PARETO_UNLEARN_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "pareto_unlearn"


def load_state_checked(model: nn.Module, path: str | os.PathLike, expected_sha256: str | None = None) -> None:
    """Load safetensors weights into ``model`` after checking the file's hash and every shape.

    Raises
    ------
    CacheError
        The file is truncated or tampered with (hash or format), its tensor names or shapes do not fit the
        model, or a tensor holds NaN or inf.
    """
    if expected_sha256 is not None and sha256_file(path) != expected_sha256:
        raise CacheError(
            f"{path}: its SHA-256 does not match the recorded one (truncated or tampered); delete it"
        )
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CacheError(f"{path}: not a readable safetensors file ({exc}); delete it") from None
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    if missing or extra:
        raise CacheError(
            f"{path}: keys do not match the model (missing {missing[:3]}, unexpected {extra[:3]})"
        )
    for key, value in own.items():
        if tuple(state[key].shape) != tuple(value.shape):
            raise CacheError(
                f"{path}: {key} has shape {tuple(state[key].shape)} "
                f"but the model expects {tuple(value.shape)}"
            )
    bad = sorted(key for key, value in state.items() if value.is_floating_point() and not bool(
        torch.isfinite(value).all()))
    if bad:
        raise CacheError(f"{path}: {bad[0]} holds NaN or inf" + (f" (and {len(bad) - 1} more tensors)"
                                                                 if len(bad) > 1 else "") + "; delete it")
    model.load_state_dict({k: v.to(own[k].device) for k, v in state.items()})


class ModelCache:
    """Trained models on disk, keyed by ``stable_hash(key_fields)``.

    Parameters
    ----------
    root : path, optional
        Cache folder; defaults to :func:`default_cache_dir`.
    """

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()

    def key(self, fields: dict[str, Any]) -> str:
        return stable_hash({"cache_schema": CACHE_SCHEMA, **fields})

    def paths(self, key: str) -> tuple[Path, Path]:
        return self.root / f"{key}.safetensors", self.root / f"{key}.json"

    def get_or_train(
        self,
        model: nn.Module,
        fields: dict[str, Any],
        train: Callable[[nn.Module], dict[str, Any]],
        *,
        expect: dict[str, Any] | None = None,
    ) -> tuple[nn.Module, dict[str, Any]]:
        """Load the cached weights into ``model``, or call ``train(model)`` and store the result.

        ``train`` returns a dict of facts to record (e.g. training seconds); it is returned on a hit too.
        ``expect`` names facts that ``train`` records and the key promises (torch's version, the threads
        it trained on): an entry whose record disagrees with ``fields`` or ``expect`` was made by other
        code under the same key, and is rebuilt with a warning instead of served.
        """
        key = self.key(fields)
        weights, record_path = self.paths(key)
        with entry_lock(weights):  # a second process wanting this entry waits, then reads what was stored
            if weights.exists() and record_path.exists():
                try:
                    record = read_json(record_path)
                    if not isinstance(record, dict) or record.get("key") != key:
                        found = record.get("key") if isinstance(record, dict) else record
                        raise CacheError(f"{record_path}: records key {found!r}, expected {key!r}")
                    _check_record(record, fields, expect or {})
                    load_state_checked(model, weights, record.get("sha256"))
                    logger.info("model cache hit %s", key[:12])
                    return model, record.get("facts", {})
                except (CacheError, ValueError, OSError) as exc:
                    logger.warning("model cache entry %s is unusable (%s); retraining", key[:12], exc)
            facts = train(model)
            state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
            blob = save_safetensors(state)
            atomic_write_bytes(weights, blob)
            atomic_write_json(
                record_path, {"key": key, "sha256": sha256_bytes(blob), "fields": fields, "facts": facts}
            )
            return model, facts


def _check_record(record: dict[str, Any], fields: dict[str, Any], expect: dict[str, Any]) -> None:
    """Refuse an entry whose recorded fields or facts are not those its key stands for."""
    recorded = record.get("fields")
    if json.loads(json.dumps(to_jsonable(fields))) != recorded:
        changed = sorted(k for k in {*fields, *(recorded or {})} if (recorded or {}).get(k) != fields.get(k))
        raise CacheError(f"its record was written for other settings ({', '.join(changed[:4])} differ)")
    facts = record.get("facts", {})
    wrong = {k: facts.get(k) for k, v in expect.items() if facts.get(k) != v}
    if wrong:
        said = ", ".join(f"{k} {v!r} (expected {expect[k]!r})" for k, v in wrong.items())
        raise CacheError(f"it was trained under other facts than its key says: {said}")


def state_dict_hash(model: nn.Module) -> str:
    """SHA-256 of a model's weights (for the manifest's hash of θ0)."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return sha256_bytes(save_safetensors(dict(sorted(state.items()))))


__all__ += ["state_dict_hash"]
