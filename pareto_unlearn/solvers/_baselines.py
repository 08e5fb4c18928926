"""Classic unlearning baselines (docs/definitions.md §2): FT, GA, RL, SalUn, ℓ1-sparse."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F_nn

from pareto_unlearn.solvers._gradient import GradientSolver, forward_loss, paired_batches
from pareto_unlearn.solvers._names import FT, GA, L1_SPARSE, RL, SALUN

__all__ = ["FineTune", "GradientAscent", "RandomLabel", "SalUn", "L1Sparse"]


def _ce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F_nn.cross_entropy(logits, y)


def _sgd_step(optimizer, loss, meter, n_backward: int, masks=None, params=None) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    meter.add(backward=n_backward)
    if masks is not None:
        for p, m in zip(params, masks):
            if p.grad is not None:
                p.grad.mul_(m)
    optimizer.step()


class FineTune(GradientSolver):
    """FT: retain cross-entropy only (10 epochs)."""

    family = "baseline"
    name = FT

    def __init__(self, *, epochs: int = 10, **kwargs: Any) -> None:
        super().__init__(epochs=epochs, **kwargs)

    def _epoch(self, model, task, objectives, optimizer, generator, meter, epoch) -> None:
        for _, r_idx in paired_batches(len(task.forget), len(task.retain), self.batch_size, generator):
            _sgd_step(optimizer, forward_loss(model, _ce, task.retain, r_idx, meter), meter, len(r_idx))


class GradientAscent(GradientSolver):
    """GA: gradient ascent on the forget cross-entropy (2 epochs)."""

    family = "baseline"
    name = GA

    def __init__(self, *, epochs: int = 2, **kwargs: Any) -> None:
        super().__init__(epochs=epochs, **kwargs)

    def _epoch(self, model, task, objectives, optimizer, generator, meter, epoch) -> None:
        order = torch.randperm(len(task.forget), generator=generator)
        for s in range(0, len(order), self.batch_size):
            idx = order[s : s + self.batch_size]
            loss = -forward_loss(model, _ce, task.forget, idx, meter)
            _sgd_step(optimizer, loss, meter, len(idx))


def _random_wrong_labels(y: torch.Tensor, n_classes: int, generator: torch.Generator) -> torch.Tensor:
    """A label drawn uniformly among the C − 1 classes other than the true one."""
    shift = torch.randint(1, n_classes, (len(y),), generator=generator).to(y.device)
    return (y + shift) % n_classes


class RandomLabel(GradientSolver):
    """RL: each epoch one pass over D_f with random wrong labels, then one pass over D_r (10 epochs)."""

    family = "baseline"
    name = RL

    def __init__(self, *, epochs: int = 10, **kwargs: Any) -> None:
        super().__init__(epochs=epochs, **kwargs)

    def _masks(self):
        return None

    def _epoch(self, model, task, objectives, optimizer, generator, meter, epoch) -> None:
        params = list(model.parameters())
        masks = self._masks()
        forget_labels = _random_wrong_labels(task.forget.y, task.n_classes, generator)
        order = torch.randperm(len(task.forget), generator=generator)
        for s in range(0, len(order), self.batch_size):
            idx = order[s : s + self.batch_size].to(task.device)
            meter.add(forward=len(idx))
            loss = _ce(model(task.forget.x[idx]), forget_labels[idx])
            _sgd_step(optimizer, loss, meter, len(idx), masks, params)
        order = torch.randperm(len(task.retain), generator=generator)
        for s in range(0, len(order), self.batch_size):
            idx = order[s : s + self.batch_size]
            loss = forward_loss(model, _ce, task.retain, idx, meter)
            _sgd_step(optimizer, loss, meter, len(idx), masks, params)


class SalUn(RandomLabel):
    """SalUn: RL restricted to the salient weights, the top ``sparsity`` share of |∇ forget-CE| at θ0."""

    name = SALUN

    def __init__(self, *, sparsity: float = 0.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sparsity = sparsity

    def _setup(self, model, task, objectives, meter) -> None:
        params = list(model.parameters())
        loss = _ce(model(task.forget.x), task.forget.y)
        grads = torch.autograd.grad(loss, params)
        meter.add(forward=len(task.forget), backward=len(task.forget))
        magnitudes = torch.cat([g.abs().reshape(-1) for g in grads])
        k = max(1, int(round(self.sparsity * magnitudes.numel())))
        threshold = torch.topk(magnitudes, k, sorted=True).values[-1]
        self.masks_ = [(g.abs() >= threshold).to(g.dtype) for g in grads]

    def _masks(self):
        return self.masks_


class L1Sparse(GradientSolver):
    """ℓ1-sparse: retain cross-entropy + α_t‖θ‖₁ with α_t decaying linearly to 0 over the run."""

    family = "baseline"
    name = L1_SPARSE

    def __init__(self, *, alpha: float = 5e-4, epochs: int = 10, **kwargs: Any) -> None:
        super().__init__(epochs=epochs, **kwargs)
        self.alpha = alpha

    def _epoch(self, model, task, objectives, optimizer, generator, meter, epoch) -> None:
        steps = max(1, math.ceil(len(task.retain) / self.batch_size))
        total = steps * self.epochs
        for s, (_, r_idx) in enumerate(
            paired_batches(len(task.forget), len(task.retain), self.batch_size, generator)
        ):
            t = (epoch - 1) * steps + s
            alpha_t = self.alpha * (1.0 - t / total)
            l1 = sum(p.abs().sum() for p in model.parameters())
            loss = forward_loss(model, _ce, task.retain, r_idx, meter) + alpha_t * l1
            _sgd_step(optimizer, loss, meter, len(r_idx))
