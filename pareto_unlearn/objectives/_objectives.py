"""The objectives of docs/definitions.md §1, computed from logits so one code path serves mini-batches,
full sets and whole populations (logits of shape [..., n, C])."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F_nn

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.objectives._reference import Reference, make_reference

__all__ = [
    "Objective",
    "ForgetKL",
    "RetainCE",
    "Objectives",
    "KL_DIRECTIONS",
    "make_objectives",
    "OBJECTIVES",
    "hv_reference_point",
]

KL_DIRECTIONS = ("model-ref", "ref-model")
OBJECTIVES = ("forget_kl", "retain_ce")


class Objective:
    """A loss over one split, minimised. Subclasses set ``name``, ``subset`` and ``per_sample``."""

    name: str
    subset: str

    def per_sample(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def __call__(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean over samples: logits [..., n, C], y [n] → [...]."""
        return self.per_sample(logits, y).mean(dim=-1)

    def batch_loss(self, logits: torch.Tensor, y: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Mean over a mini-batch of the split's samples at positions ``idx`` [b] (logits [..., b, C],
        y [b]). What gradient solvers call; objectives with per-sample targets aligned with the split
        (``push_pull``, ``distill_retain``) use ``idx``, the others ignore it."""
        return self(logits, y)

    def describe(self) -> dict:
        return {"name": self.name, "subset": self.subset}


@dataclass
class ForgetKL(Objective):
    """Mean KL between p_θ(·|x) and the reference q(x) over the forget set.

    ``direction="model-ref"`` is KL(p_θ ‖ q) (the paper's text; ≤ log C for the uniform reference),
    ``"ref-model"`` is KL(q ‖ p_θ). Always the KL itself, never a cross-entropy.

    Examples
    --------
    >>> import torch, math
    >>> ref = Reference("uniform", torch.full((3, 3), 1 / 3), 0.0)
    >>> kl = ForgetKL(ref)
    >>> logits = torch.tensor([[2.0, 0.0, 0.0]])
    >>> p = torch.softmax(logits, -1)
    >>> bool(torch.isclose(kl(logits, torch.tensor([0])), math.log(3) + (p * p.log()).sum()))
    True
    """

    reference: Reference
    direction: str = "model-ref"
    name: str = "forget_kl"
    subset: str = field(default="forget", init=False)

    def __post_init__(self) -> None:
        if self.direction not in KL_DIRECTIONS:
            raise ConfigError(f"--kl-direction {self.direction!r} is not known; use model-ref or ref-model")

    def per_sample(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        log_p = F_nn.log_softmax(logits, dim=-1)
        q = self.reference.for_labels(y).to(logits.dtype)
        log_q = q.log()
        if self.direction == "model-ref":
            return (log_p.exp() * (log_p - log_q)).sum(dim=-1)
        return (q * (log_q - log_p)).sum(dim=-1)

    def describe(self) -> dict:
        return {
            **super().describe(),
            "reference": self.reference.name,
            "direction": self.direction,
            "reference_l1_from_uniform": self.reference.l1_from_uniform,
        }


@dataclass
class RetainCE(Objective):
    """Mean cross-entropy −log p_θ(y|x) over the retain set."""

    name: str = "retain_ce"
    subset: str = field(default="retain", init=False)

    def per_sample(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        log_p = F_nn.log_softmax(logits, dim=-1)
        index = y.expand(*log_p.shape[:-1]).unsqueeze(-1)
        return -log_p.gather(-1, index).squeeze(-1)


class Objectives(Sequence):
    """An ordered list of objectives; evaluates all of them on a model or on precomputed logits."""

    def __init__(self, objectives: Sequence[Objective]) -> None:
        self._items = list(objectives)
        names = [o.name for o in self._items]
        if len(set(names)) != len(names):
            raise ConfigError(f"objective names must be unique, got {names}")
        if not self._items:
            raise ConfigError("at least one objective is needed")

    def __getitem__(self, i):
        return self._items[i]

    def __len__(self) -> int:
        return len(self._items)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self._items)

    def describe(self) -> list[dict]:
        return [o.describe() for o in self._items]

    def from_logits(self, logits: dict[str, torch.Tensor], labels: dict[str, torch.Tensor]) -> torch.Tensor:
        """Objective values [..., m] from logits per subset (each [..., n_subset, C])."""
        return torch.stack([o(logits[o.subset], labels[o.subset]) for o in self._items], dim=-1)

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, task, *, batch_size: int = 2048) -> np.ndarray:
        """Full-set values [m] with the model in eval mode."""
        from pareto_unlearn.metrics import predict_logits

        model.eval()
        subsets = {o.subset for o in self._items}
        logits = {s: predict_logits(model, getattr(task, s).x, batch_size=batch_size) for s in subsets}
        labels = {s: getattr(task, s).y for s in subsets}
        return self.from_logits(logits, labels).double().cpu().numpy()

    def jacobian(self, model: torch.nn.Module, task, *, batch_size: int = 2048) -> torch.Tensor:
        """Full-set gradients J [m, n]: row i is ∇ of objective i (mean over its whole split) with respect
        to every trainable parameter of ``model``, flattened in ``model.parameters()`` order.

        The model is put in eval mode (BatchNorm statistics frozen, as in every solver) and left unchanged:
        gradients come from ``torch.autograd.grad``, nothing is written to ``.grad``. Splits are read in
        batches of ``batch_size`` and each batch's mean is weighted by its share of the split, so the result
        is the full-set gradient whatever the batch size. What the Pareto-stationarity gap of
        docs/definitions.md §4 reads (:func:`~pareto_unlearn.indicators.pareto_stationarity_gap`).
        """
        model.eval()
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ConfigError("Objectives.jacobian: the model has no trainable parameter")
        rows = [torch.zeros(sum(p.numel() for p in params), dtype=torch.float64) for _ in self._items]
        with torch.enable_grad():
            for subset in dict.fromkeys(o.subset for o in self._items):
                split = getattr(task, subset)
                owners = [k for k, o in enumerate(self._items) if o.subset == subset]
                for start in range(0, len(split), batch_size):
                    idx = torch.arange(start, min(start + batch_size, len(split)), device=split.y.device)
                    logits = model(split.x[idx])
                    share = len(idx) / len(split)
                    for n, k in enumerate(owners):
                        loss = self._items[k].batch_loss(logits, split.y[idx], idx) * share
                        grads = torch.autograd.grad(loss, params, allow_unused=True,
                                                    retain_graph=n < len(owners) - 1)
                        rows[k] += torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                                              for g, p in zip(grads, params, strict=True)]).double().cpu()
        return torch.stack(rows)

    def at_uniform_predictor(self, task) -> np.ndarray:
        """Values [m] of a predictor that outputs the uniform distribution (zero logits)."""
        subsets = {o.subset for o in self._items}
        labels = {s: getattr(task, s).y for s in subsets}
        zeros = {s: torch.zeros(len(labels[s]), task.n_classes, device=task.device) for s in subsets}
        return self.from_logits(zeros, labels).double().cpu().numpy()


def make_objectives(
    task, *, reference: str = "uniform", kl_direction: str = "model-ref", names: Sequence[str] = OBJECTIVES
) -> Objectives:
    """Build the objectives by name: ``forget_kl`` (with ``reference``), ``forget_kl:REF`` (one more
    forget_kl against another reference, named ``forget_kl_REF``), ``retain_ce``, and the push–pull
    distillation pair ``push_pull`` / ``distill_retain`` with their defaults (pull K = C, push K = 3,
    push weight 1; other settings through ``PushPull.from_task`` / ``DistillRetain.from_task``).

    Examples
    --------
    >>> # objectives = make_objectives(task, reference="heldout")
    """
    items: list[Objective] = []
    for name in names:
        base, _, ref = name.partition(":")
        if base == "forget_kl":
            column = "forget_kl" if not ref else f"forget_kl_{ref.replace('-', '_')}"
            items.append(ForgetKL(make_reference(ref or reference, task), kl_direction, name=column))
        elif base == "retain_ce":
            items.append(RetainCE())
        elif name in ("push_pull", "distill_retain"):
            from pareto_unlearn.objectives._distill import DistillRetain, PushPull

            items.append(PushPull.from_task(task) if name == "push_pull" else DistillRetain.from_task(task))
        else:
            raise ConfigError(
                f"unknown objective {name!r}; choose from forget_kl, forget_kl:REFERENCE, retain_ce, "
                "push_pull, distill_retain"
            )
    return Objectives(items)


def hv_reference_point(task, objectives: Objectives, factor: float = 1.01) -> np.ndarray:
    """One HV reference point per task and objective list, the same for every solver (docs/definitions.md §4):
    ``factor`` × the worse of the value at θ0 and at a uniform predictor, per objective. For
    (forget_kl, retain_ce) with ``model-ref`` and the uniform reference this is 1.01 × (f_F(θ0), log C)."""
    from pareto_unlearn.indicators import hv_reference_point as reference_point

    return reference_point(
        objectives.evaluate(task.original, task), objectives.at_uniform_predictor(task), factor=factor
    )
