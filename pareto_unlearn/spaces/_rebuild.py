"""How a point's model is rebuilt from θ0 and its rebuild spec: one rebuilder per kind, each registered
by the space that defines it (``@rebuilder("last_layer")`` beside the space's code).

A rebuild spec is the JSON-able dict a Front keeps per point (``{"kind": ..., "array": ...}`` plus what
the kind needs); ``arrays`` are the Front's arrays (genomes, parameter vectors).

Examples
--------
>>> from torch import nn
>>> net = nn.Linear(2, 1)
>>> vector = flat_params(net)
>>> vector.shape
(3,)
>>> _ = set_flat_params(net, vector * 0)
>>> float(net.weight.detach().abs().sum())
0.0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from pareto_unlearn.exceptions import CacheError

if TYPE_CHECKING:
    from pareto_unlearn.task import UnlearningTask

__all__ = ["REBUILDERS", "Rebuilder", "flat_params", "rebuild_from_spec", "rebuilder", "set_flat_params"]

Rebuilder = Callable[[Any, dict[str, Any], dict[str, np.ndarray]], nn.Module]

# kind → rebuilder; filled by the ``@rebuilder`` decorator where each space is defined
REBUILDERS: dict[str, Rebuilder] = {}


def rebuilder(kind: str) -> Callable[[Rebuilder], Rebuilder]:
    """Register ``fn(task, spec, arrays) -> nn.Module`` as the rebuilder of points of ``kind``."""

    def register(fn: Rebuilder) -> Rebuilder:
        if kind in REBUILDERS and REBUILDERS[kind] is not fn:
            raise ValueError(f"rebuild kind {kind!r} is registered twice")
        REBUILDERS[kind] = fn
        return fn

    return register


def flat_params(model: nn.Module) -> np.ndarray:
    """Every parameter of ``model`` as one float32 vector (``parameters()`` order)."""
    return torch.nn.utils.parameters_to_vector(model.parameters()).detach().cpu().numpy().astype(np.float32)


def set_flat_params(model: nn.Module, vector: np.ndarray) -> nn.Module:
    """Write the flat ``vector`` into ``model``'s parameters (a copy: the caller's array stays untouched)."""
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


@rebuilder("params")
def _from_params(task: UnlearningTask, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> nn.Module:
    return set_flat_params(task.copy_original(), np.asarray(arrays[spec["array"]]))


@rebuilder("original")
def _original(task: UnlearningTask, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> nn.Module:
    return task.copy_original()


def rebuild_from_spec(task: UnlearningTask, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> nn.Module:
    """The model of one point, in eval mode (its kind's rebuilder must be registered)."""
    kind = spec.get("kind")
    if kind not in REBUILDERS:
        raise CacheError(f"this point cannot be rebuilt: unknown rebuild kind {kind!r}; "
                         f"known: {', '.join(sorted(REBUILDERS))}")
    model = REBUILDERS[kind](task, spec, arrays)
    model.eval()
    return model
