"""Rebuild a point's model from θ0 and its rebuild spec (used by ``Front.model``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from pareto_unlearn.exceptions import CacheError

__all__ = ["rebuild_model", "flat_params", "set_flat_params", "REBUILDERS"]


def flat_params(model: nn.Module) -> np.ndarray:
    return torch.nn.utils.parameters_to_vector(model.parameters()).detach().cpu().numpy().astype(np.float32)


def set_flat_params(model: nn.Module, vector: np.ndarray) -> nn.Module:
    params = list(model.parameters())
    expected = sum(p.numel() for p in params)
    if vector.size != expected:
        raise CacheError(f"a stored parameter vector has {vector.size} values but the model has {expected}")
    device = params[0].device
    # A copy: vector_to_parameters makes the parameters views of the vector, and training the model
    # must not write into the caller's array (a survivor's stored parameters, a front's arrays).
    values = torch.tensor(np.asarray(vector), dtype=torch.float32, device=device)
    torch.nn.utils.vector_to_parameters(values, params)
    return model


def _from_params(task, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> nn.Module:
    return set_flat_params(task.copy_original(), np.asarray(arrays[spec["array"]]))


def _original(task, spec, arrays) -> nn.Module:
    return task.copy_original()


REBUILDERS = {"params": _from_params, "original": _original}


def rebuild_model(task, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> nn.Module:
    """The model of one point, in eval mode."""
    kind = spec.get("kind")
    if kind not in REBUILDERS:
        # Subspace solvers register their rebuilders when imported.
        import pareto_unlearn.spaces  # noqa: F401

    if kind not in REBUILDERS:
        raise CacheError(f"this point cannot be rebuilt: unknown rebuild kind {kind!r}")
    model = REBUILDERS[kind](task, spec, arrays)
    model.eval()
    return model
