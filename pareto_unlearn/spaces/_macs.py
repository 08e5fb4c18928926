"""Multiply-accumulates per sample of a model's layers: what a pass through a cached suffix costs."""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import nn

__all__ = ["count_macs"]


@torch.no_grad()
def count_macs(model: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Multiply-accumulates per sample of every ``nn.Linear`` and ``nn.Conv2d`` of ``model``.

    One forward of ``x[:1]`` in eval mode with forward hooks; keys are qualified module names, in
    execution order. A pass through a cached suffix counts as the suffix's share of the total.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> count_macs(net, torch.zeros(5, 4))
    {'0': 12.0, '2': 6.0}
    """
    macs: dict[str, float] = {}
    handles = []

    def hook(name: str):
        def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            if isinstance(module, nn.Linear):
                macs[name] = macs.get(name, 0.0) + float(output.numel() * module.in_features)
            else:
                module = cast(nn.Conv2d, module)  # hooks are registered on nn.Linear and nn.Conv2d only
                per_output = module.in_channels // module.groups * math.prod(module.kernel_size)
                macs[name] = macs.get(name, 0.0) + float(output.numel() * per_output)
        return record

    for name, module in model.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            handles.append(module.register_forward_hook(hook(name)))
    was_training = model.training
    model.eval()
    try:
        model(x[:1])
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return macs
