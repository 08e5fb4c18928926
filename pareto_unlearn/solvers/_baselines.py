"""Classic unlearning baselines (docs/definitions.md §2): FT, GA, RL, SalUn, ℓ1-sparse; IU is in
:mod:`._influence`.

Each follows the reference code the RAUL paper ran (OPTML-Group/Unlearn-Saliency,
``Classification/unlearn/{FT,GA,RL}.py`` and ``generate_mask.py``), checked step by step in
``tests/test_baselines_reference.py``:

- FT: one pass over D_r per epoch, cross-entropy; GA: one pass over D_f per epoch, minus cross-entropy;
- RL: each epoch one pass over D_f with labels drawn uniformly from all C classes (fresh every epoch; a
  drawn label may be the true one), then one pass over D_r;
- SalUn: RL with the gradients masked to the salient weights and, after every step, the masked-out weights
  put back to θ0 and their momentum zeroed (so weight decay and momentum cannot move them). The mask keeps
  the ``int(sparsity · n)`` weights of largest |Σ_batches ∇ forget-CE| at θ0, the sum over D_f in batches;
- ℓ1-sparse: FT plus α_e‖θ‖₁, α_e = α·(1 − e/E) for the 0-based epoch e, constant within an epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F_nn

from pareto_unlearn.solvers._gradient import GradientSolver, forward_loss
from pareto_unlearn.solvers._names import FT, GA, L1_SPARSE, RL, SALUN

if TYPE_CHECKING:
    from pareto_unlearn.objectives import Objectives
    from pareto_unlearn.solvers._cost import CostMeter
    from pareto_unlearn.task import Subset, UnlearningTask

__all__ = ["FineTune", "GradientAscent", "RandomLabel", "SalUn", "L1Sparse", "random_labels", "saliency_mask"]


def _ce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F_nn.cross_entropy(logits, y)


class _Mask:
    """SalUn's weight mask: gradients of masked-out weights are zeroed before a step; after it, those
    weights go back to θ0 and their momentum to zero (the reference's ``_restore_masked_params``)."""

    def __init__(self, masks: list[torch.Tensor], theta0: list[torch.Tensor]) -> None:
        self.masks = masks
        self.theta0 = theta0

    def restrict(self, params: Sequence[torch.Tensor]) -> None:
        for p, m in zip(params, self.masks, strict=True):
            if p.grad is not None:
                p.grad.mul_(m)

    @torch.no_grad()
    def restore(self, params: Sequence[torch.Tensor], optimizer: torch.optim.Optimizer) -> None:
        for p, m, p0 in zip(params, self.masks, self.theta0, strict=True):
            p.mul_(m).add_(p0 * (1 - m))
            buffer = optimizer.state.get(p, {}).get("momentum_buffer")
            if buffer is not None:
                buffer.mul_(m)


def _sgd_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, meter: CostMeter, n_backward: int,
              mask: _Mask | None = None, params: Sequence[torch.Tensor] = ()) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    meter.add(backward=n_backward)
    if mask is not None:
        mask.restrict(params)
    optimizer.step()
    if mask is not None:
        mask.restore(params, optimizer)


def _batches(n: int, batch_size: int, generator: torch.Generator):
    """One shuffled pass over ``n`` samples in batches of ``batch_size`` (a shuffled data loader)."""
    order = torch.randperm(n, generator=generator)
    return [order[s : s + batch_size] for s in range(0, n, batch_size)]


def random_labels(n: int, n_classes: int, generator: torch.Generator) -> torch.Tensor:
    """RL's labels: each drawn uniformly from all ``n_classes`` classes (the true one included), as the
    reference's ``torch.randint(0, num_classes, ...)``.

    Examples
    --------
    >>> labels = random_labels(1000, 10, torch.Generator().manual_seed(0))
    >>> sorted(set(labels.tolist())) == list(range(10))
    True
    """
    return torch.randint(0, n_classes, (n,), generator=generator)


def saliency_mask(model: torch.nn.Module, forget: Subset, batch_size: int,
                  sparsity: float) -> list[torch.Tensor]:
    """SalUn's mask (the reference's ``generate_mask.py``): 1 on the ``int(sparsity · n)`` weights with the
    largest |Σ over D_f's batches (fixed order) of the batch-mean forget-CE gradient| at the model's
    weights, 0 elsewhere; ties go to the lower position in ``parameters()`` order.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> net = torch.nn.Linear(3, 2)
    >>> forget = SimpleNamespace(x=torch.randn(5, 3), y=torch.tensor([0, 1, 0, 1, 1]))
    >>> masks = saliency_mask(net, forget, batch_size=2, sparsity=0.5)
    >>> int(sum(m.sum() for m in masks))  # int(0.5 · 8 weights)
    4
    """
    params = list(model.parameters())
    sums = [torch.zeros_like(p) for p in params]
    for s in range(0, len(forget.y), batch_size):
        loss = _ce(model(forget.x[s : s + batch_size]), forget.y[s : s + batch_size])
        for total, g in zip(sums, torch.autograd.grad(loss, params), strict=True):
            total += g
    magnitudes = torch.cat([g.abs().reshape(-1) for g in sums])
    k = max(1, int(sparsity * magnitudes.numel()))
    keep = torch.sort(magnitudes, descending=True, stable=True).indices[:k]
    flat = torch.zeros_like(magnitudes)
    flat[keep] = 1.0
    return [m.view_as(p) for m, p in zip(torch.split(flat, [p.numel() for p in params]), params, strict=True)]


class FineTune(GradientSolver):
    """FT: retain cross-entropy only (10 epochs)."""

    family = "baseline"
    name = FT

    def __init__(self, *, epochs: int = 10, **kwargs: Any) -> None:
        super().__init__(epochs=epochs, **kwargs)

    def _epoch(self, model: torch.nn.Module, task: UnlearningTask, objectives: Objectives,
               optimizer: torch.optim.Optimizer, generator: torch.Generator, meter: CostMeter,
               epoch: int) -> None:
        for idx in _batches(len(task.retain), self.batch_size, generator):
            _sgd_step(optimizer, forward_loss(model, _ce, task.retain, idx, meter), meter, len(idx))


class GradientAscent(GradientSolver):
    """GA: gradient ascent on the forget cross-entropy (2 epochs)."""

    family = "baseline"
    name = GA

    def __init__(self, *, epochs: int = 2, **kwargs: Any) -> None:
        super().__init__(epochs=epochs, **kwargs)

    def _epoch(self, model: torch.nn.Module, task: UnlearningTask, objectives: Objectives,
               optimizer: torch.optim.Optimizer, generator: torch.Generator, meter: CostMeter,
               epoch: int) -> None:
        for idx in _batches(len(task.forget), self.batch_size, generator):
            _sgd_step(optimizer, -forward_loss(model, _ce, task.forget, idx, meter), meter, len(idx))


class RandomLabel(GradientSolver):
    """RL: each epoch one pass over D_f with labels drawn uniformly from all C classes, then one pass over
    D_r (10 epochs)."""

    family = "baseline"
    name = RL

    def __init__(self, *, epochs: int = 10, **kwargs: Any) -> None:
        super().__init__(epochs=epochs, **kwargs)

    def _mask(self) -> _Mask | None:
        return None

    def _epoch(self, model: torch.nn.Module, task: UnlearningTask, objectives: Objectives,
               optimizer: torch.optim.Optimizer, generator: torch.Generator, meter: CostMeter,
               epoch: int) -> None:
        params = list(model.parameters())
        mask = self._mask()
        labels = random_labels(len(task.forget), task.n_classes, generator).to(task.device)
        for idx in _batches(len(task.forget), self.batch_size, generator):
            idx = idx.to(task.device)
            meter.add(forward=len(idx))
            loss = _ce(model(task.forget.x[idx]), labels[idx])
            _sgd_step(optimizer, loss, meter, len(idx), mask, params)
        for idx in _batches(len(task.retain), self.batch_size, generator):
            loss = forward_loss(model, _ce, task.retain, idx, meter)
            _sgd_step(optimizer, loss, meter, len(idx), mask, params)


class SalUn(RandomLabel):
    """SalUn: RL on the salient weights only (:func:`saliency_mask` at θ0, the top ``sparsity`` share); the
    other weights stay at θ0 (reset after every step, momentum zeroed)."""

    name = SALUN

    def __init__(self, *, sparsity: float = 0.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sparsity = sparsity

    def _setup(self, model: torch.nn.Module, task: UnlearningTask, objectives: Objectives,
               meter: CostMeter) -> None:
        masks = saliency_mask(model, task.forget, self.batch_size, self.sparsity)
        meter.add(forward=len(task.forget), backward=len(task.forget))
        theta0 = [p.detach().clone() for p in model.parameters()]
        self.mask_ = _Mask(masks, theta0)

    def _mask(self) -> _Mask | None:
        return self.mask_


class L1Sparse(GradientSolver):
    """ℓ1-sparse: retain cross-entropy + α_e‖θ‖₁, α_e = α·(1 − e/E) in the 0-based epoch e (10 epochs)."""

    family = "baseline"
    name = L1_SPARSE

    def __init__(self, *, alpha: float = 5e-4, epochs: int = 10, **kwargs: Any) -> None:
        super().__init__(epochs=epochs, **kwargs)
        self.alpha = alpha

    def _epoch(self, model: torch.nn.Module, task: UnlearningTask, objectives: Objectives,
               optimizer: torch.optim.Optimizer, generator: torch.Generator, meter: CostMeter,
               epoch: int) -> None:
        alpha_e = self.alpha * (1.0 - (epoch - 1) / self.epochs)  # `epoch` counts from 1
        for idx in _batches(len(task.retain), self.batch_size, generator):
            l1 = sum(p.abs().sum() for p in model.parameters())
            loss = forward_loss(model, _ce, task.retain, idx, meter) + alpha_e * l1
            _sgd_step(optimizer, loss, meter, len(idx))
