"""Push–pull Top-K logit distillation ("Harmonizing Multi-Objective LLM Unlearning"), for classifiers.

Two objectives, both minimised, both against teachers fixed ONCE from θ0 and detached (as references are):

- ``distill_retain`` (subset ``retain``), the pull on D_r: the student imitates θ0's distribution on each
  retain sample, KL_K(t ‖ p_θ) with t = p_θ0(·|x) (teacher → student, as in standard distillation).
- ``push_pull`` (subset ``forget``), pull and push on D_f: KL_K(t ‖ p_θ) + w · push(p_θ, t), where the
  teacher t shows the wanted behaviour: under class-wise forgetting θ0's distribution with the forgotten
  classes removed and renormalised; under random forgetting the class-conditional held-out reference
  (``make_reference("heldout", task)``, row y for a forget sample of label y).

**Top-K pull.** S = the teacher's K most probable classes of the sample; teacher and student are compared
as (K + 1)-way distributions — the K classes of S plus one bucket for the rest:
KL_K(t ‖ p) = Σ_{c∈S} t_c log(t_c / p_c) + t_rest log(t_rest / p_rest). It is a true KL (≥ 0, zero iff the
student matches the teacher on S and on the rest's total), and K = C (the default) is the full
KL(p_θ0 ‖ p_θ). Terms with t = 0 are 0 (x log x → 0).

**Push.** T = the student's own K_push most probable classes (chosen without gradient); the mass it puts
there beyond the teacher's is suppressed: push = Σ_{c∈T} max(0, p_c − t_c), in [0, 1]; zero when the
student equals the teacher, positive when it is more confident than the teacher on one of its top classes.

**Teacher indexing.** Teachers are per-sample tensors [n, C] aligned with the positions of ``task.retain``
or ``task.forget``. ``per_sample(logits, y)`` therefore takes the logits of the WHOLE split in order
([..., n, C], any leading population dimensions: ``Objectives.from_logits``, ``evaluate``, the NSGA-II
spaces) and refuses anything else — a mini-batch, or the whole split permuted (checked through ``y``) —
instead of pairing samples with the wrong teacher rows. Mini-batches give their positions in the split:
``per_sample_at(logits, idx)`` and ``batch_loss(logits, y, idx)`` (the mean; ``y`` is ignored).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F_nn

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.objectives._base import Objective, batched_logits
from pareto_unlearn.objectives._reference import make_reference

if TYPE_CHECKING:
    from pareto_unlearn.task import UnlearningTask

__all__ = [
    "DISTILL_OBJECTIVES",
    "DistillRetain",
    "PushPull",
    "Teacher",
    "forget_teacher",
    "retain_teacher",
    "topk_kl",
    "topk_push",
]

DISTILL_OBJECTIVES = ("push_pull", "distill_retain")
DEFAULT_PUSH_K = 3  # what make_objectives' push_pull uses (with the full-KL pull, K = C, and weight 1)
DEFAULT_PUSH_WEIGHT = 1.0


@dataclass(frozen=True, eq=False)
class Teacher:
    """Per-sample target distributions of one split, fixed from θ0 and detached.

    Attributes
    ----------
    kind : str
        ``"theta0"`` (p_θ0), ``"theta0-without-forgotten"`` (p_θ0 with the forgotten classes removed and
        renormalised) or ``"heldout"`` (the class-conditional held-out reference row of each label).
    probs : Tensor [n, C]
        Row i is the target of the split's sample at position i; rows sum to one.
    labels : Tensor [n]
        The split's labels in the same order (used to refuse logits that are not the split in order).
    """

    kind: str
    probs: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.probs.shape[0])


@torch.no_grad()
def _theta0_logits(task: UnlearningTask, x: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    return batched_logits(task.original, x, batch_size=batch_size)


@torch.no_grad()
def retain_teacher(task: UnlearningTask) -> Teacher:
    """p_θ0(·|x) on every retain sample, in ``task.retain`` order (the pull target on D_r)."""
    probs = torch.softmax(_theta0_logits(task, task.retain.x).float(), dim=-1)
    return Teacher("theta0", probs.detach(), task.retain.y)


@torch.no_grad()
def forget_teacher(task: UnlearningTask) -> Teacher:
    """The D_f teacher, in ``task.forget`` order.

    Class-wise forgetting (``task.forgotten_classes`` not empty): θ0's distribution with the forgotten
    classes removed and renormalised, i.e. the softmax of θ0's logits over the retained classes only
    (exact zeros on the forgotten ones). Random forgetting: row y of ``make_reference("heldout", task)``
    for a forget sample of label y.
    """
    if task.forgotten_classes:
        logits = _theta0_logits(task, task.forget.x).float()
        forgotten = torch.as_tensor(task.forgotten_classes, device=logits.device)
        logits[:, forgotten] = -math.inf
        if torch.isinf(logits).all(dim=-1).any():
            raise ConfigError("push_pull: every class is forgotten; no class is left to teach")
        probs = torch.softmax(logits, dim=-1)
        return Teacher("theta0-without-forgotten", probs.detach(), task.forget.y)
    reference = make_reference("heldout", task)
    return Teacher("heldout", reference.for_labels(task.forget.y).float().detach(), task.forget.y)


def _check_k(owner: str, parameter: str, k: int, n_classes: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n_classes:
        raise ConfigError(f"{owner}: `{parameter}` must be an integer in [1, {n_classes}]. Got {k!r}.")
    return k


@dataclass(frozen=True, eq=False)
class _TopKTarget:
    """The teacher's side of KL_K, precomputed once: S (``top`` [n, K], ``mask`` [n, C]), t on S
    (``t_top`` [n, K]), the rest's mass (``t_rest`` [n], None when K = C) and Σ t log t (``const`` [n])."""

    k: int
    top: torch.Tensor
    mask: torch.Tensor
    t_top: torch.Tensor
    t_rest: torch.Tensor | None
    const: torch.Tensor

    @classmethod
    def from_probs(cls, probs: torch.Tensor, k: int) -> _TopKTarget:
        top = probs.topk(k, dim=-1).indices
        mask = torch.zeros_like(probs, dtype=torch.bool).scatter_(-1, top, True)
        t_top = probs.gather(-1, top)
        # The rest's mass summed over its own entries (not 1 − Σ_S), so exact zeros stay zeros.
        t_rest = probs.masked_fill(mask, 0.0).sum(-1) if k < probs.shape[-1] else None
        const = torch.special.xlogy(t_top, t_top).sum(-1)
        if t_rest is not None:
            const = const + torch.special.xlogy(t_rest, t_rest)
        return cls(k, top, mask, t_top, t_rest, const)

    def rows(self, idx: torch.Tensor) -> _TopKTarget:
        """The target of the samples at positions ``idx``."""
        rest = None if self.t_rest is None else self.t_rest[idx]
        return _TopKTarget(self.k, self.top[idx], self.mask[idx], self.t_top[idx], rest, self.const[idx])

    def kl(self, log_p: torch.Tensor) -> torch.Tensor:
        """KL_K(t ‖ p) [..., n] from the student's log-probabilities [..., n, C]."""
        lead = log_p.shape[:-2]
        log_p_top = log_p.gather(-1, self.top.expand(*lead, *self.top.shape))
        cross = (self.t_top.to(log_p.dtype) * log_p_top).sum(-1)
        if self.t_rest is not None:
            log_p_rest = torch.logsumexp(log_p.masked_fill(self.mask, -math.inf), dim=-1)
            cross = cross + self.t_rest.to(log_p.dtype) * log_p_rest
        return self.const.to(log_p.dtype) - cross


def _push(log_p: torch.Tensor, teacher: torch.Tensor, k: int) -> torch.Tensor:
    p = log_p.exp()
    top = p.topk(k, dim=-1)
    t_at = teacher.to(p.dtype).expand_as(p).gather(-1, top.indices)
    return F_nn.relu(top.values - t_at).sum(-1)


def topk_kl(logits: torch.Tensor, teacher: torch.Tensor, top_k: int | None = None) -> torch.Tensor:
    """Top-K distillation KL_K(t ‖ p_θ) per sample: logits [..., n, C], teacher probs [n, C] → [..., n].

    ``top_k=None`` means K = C: the full KL(t ‖ p_θ).

    Examples
    --------
    >>> logits, teacher = torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([[0.5, 0.3, 0.2]])
    >>> p = torch.softmax(logits, -1)
    >>> bool(torch.isclose(topk_kl(logits, teacher)[0], (teacher * (teacher / p).log()).sum()))
    True
    """
    k = _check_k("topk_kl", "top_k", logits.shape[-1] if top_k is None else top_k, logits.shape[-1])
    return _TopKTarget.from_probs(teacher, k).kl(F_nn.log_softmax(logits, dim=-1))


def topk_push(logits: torch.Tensor, teacher: torch.Tensor, k: int = 3) -> torch.Tensor:
    """Σ over the student's own top-``k`` classes of max(0, p_c − t_c): logits [..., n, C] → [..., n].

    Examples
    --------
    >>> teacher = torch.tensor([[0.6, 0.3, 0.1]])
    >>> float(topk_push(teacher.log(), teacher))
    0.0
    >>> round(float(topk_push(torch.tensor([[9.0, 0.0, 0.0]]), teacher, k=1)), 3)
    0.4
    """
    _check_k("topk_push", "k", k, logits.shape[-1])
    return _push(F_nn.log_softmax(logits, dim=-1), teacher, k)


class _TeacherObjective(Objective):
    """An objective whose per-sample target is a row of a :class:`Teacher` aligned with its split."""

    teacher: Teacher
    _pull: _TopKTarget

    def _target(self, idx: torch.Tensor | None) -> tuple[_TopKTarget, torch.Tensor]:
        if idx is None:
            return self._pull, self.teacher.probs
        idx = torch.as_tensor(idx, dtype=torch.long, device=self.teacher.probs.device)
        return self._pull.rows(idx), self.teacher.probs[idx]

    def _values(self, logits: torch.Tensor, idx: torch.Tensor | None) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def per_sample(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Values [..., n] on the WHOLE split in order: logits [..., n, C], y [n] (= the split's labels)."""
        n = logits.shape[-2]
        if n != len(self.teacher) or not torch.equal(y.to(self.teacher.labels.device), self.teacher.labels):
            raise ConfigError(
                f"{self.name}: per_sample(logits, y) needs the logits of the whole {self.subset} set in "
                f"order (n = {len(self.teacher)}, its labels as y); got n = {n}"
                + ("" if n != len(self.teacher) else " with other labels (a permuted batch?)")
                + ". For a mini-batch call batch_loss(logits, y, idx) or per_sample_at(logits, idx) with "
                f"the batch's positions idx in task.{self.subset}."
            )
        return self._values(logits, None)

    def per_sample_at(self, logits: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Values [..., b] of a mini-batch: logits [..., b, C] of the split's samples at positions
        ``idx`` [b]."""
        if logits.shape[-2] != len(idx):
            raise ConfigError(f"{self.name}: {logits.shape[-2]} logit rows for {len(idx)} positions")
        return self._values(logits, idx)

    def batch_loss(self, logits: torch.Tensor, y: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Mean over a mini-batch at positions ``idx`` of the split (``y`` unused: the teacher knows them)."""
        return self.per_sample_at(logits, idx).mean(dim=-1)

    def describe(self) -> dict:
        return {**super().describe(), "teacher": self.teacher.kind, "top_k": self._pull.k}


class DistillRetain(_TeacherObjective):
    """The pull on D_r: mean Top-K distillation KL_K(p_θ0 ‖ p_θ) over the retain set.

    Parameters
    ----------
    teacher : Teacher
        Aligned with ``task.retain`` (:func:`retain_teacher`).
    top_k : int, optional
        K; default C, the full KL(p_θ0 ‖ p_θ) per sample.
    name : str

    Examples
    --------
    A toy task (:func:`~pareto_unlearn.task.toy_task`) stands in for a real one; at θ0, the
    teacher itself, the pull is zero:

    >>> from pareto_unlearn.task import toy_task
    >>> task = toy_task()
    >>> objective = DistillRetain.from_task(task, top_k=3)
    >>> objective.subset, objective.describe()["top_k"]
    ('retain', 3)
    >>> abs(float(objective(task.original(task.retain.x), task.retain.y))) < 1e-5
    True
    """

    subset = "retain"
    kind = "distill_retain"

    def __init__(self, teacher: Teacher, *, top_k: int | None = None, name: str = "distill_retain") -> None:
        n_classes = teacher.probs.shape[-1]
        k = _check_k("distill_retain", "top_k", n_classes if top_k is None else top_k, n_classes)
        self.teacher, self.name = teacher, name
        self._pull = _TopKTarget.from_probs(teacher.probs, k)

    @classmethod
    def from_task(
        cls, task: UnlearningTask, *, top_k: int | None = None, name: str = "distill_retain"
    ) -> DistillRetain:
        """Built on θ0 of ``task`` (:func:`retain_teacher`)."""
        return cls(retain_teacher(task), top_k=top_k, name=name)

    def _values(self, logits: torch.Tensor, idx: torch.Tensor | None) -> torch.Tensor:
        target, _ = self._target(idx)
        return target.kl(F_nn.log_softmax(logits, dim=-1))


class PushPull(_TeacherObjective):
    """Pull and push on D_f: mean of KL_K(t ‖ p_θ) + ``push_weight`` · push over the forget set.

    Parameters
    ----------
    teacher : Teacher
        Aligned with ``task.forget`` (:func:`forget_teacher`).
    top_k : int, optional
        K of the pull; default C (full KL).
    push_k : int
        How many of the student's own top classes the push looks at (default 3).
    push_weight : float
        w ≥ 0 (default 1).
    name : str

    Examples
    --------
    A toy task (:func:`~pareto_unlearn.task.toy_task`) stands in for a real one. Under random
    forgetting the teacher is the held-out reference; a student that equals it has zero pull and push:

    >>> from pareto_unlearn.task import toy_task
    >>> task = toy_task()
    >>> objective = PushPull.from_task(task, push_k=3, push_weight=0.5)
    >>> objective.subset, objective.push_k, objective.push_weight
    ('forget', 3, 0.5)
    >>> objective.teacher.kind
    'heldout'
    >>> abs(float(objective(objective.teacher.probs.log(), task.forget.y))) < 1e-5
    True
    """

    subset = "forget"
    kind = "push_pull"

    def __init__(
        self,
        teacher: Teacher,
        *,
        top_k: int | None = None,
        push_k: int = DEFAULT_PUSH_K,
        push_weight: float = DEFAULT_PUSH_WEIGHT,
        name: str = "push_pull",
    ) -> None:
        n_classes = teacher.probs.shape[-1]
        k = _check_k("push_pull", "top_k", n_classes if top_k is None else top_k, n_classes)
        self.push_k = _check_k("push_pull", "push_k", push_k, n_classes)
        if isinstance(push_weight, bool) or not isinstance(push_weight, (int, float)) or not (
            0 <= push_weight < math.inf
        ):
            raise ConfigError(f"push_pull: `push_weight` must be a finite number >= 0. Got {push_weight!r}.")
        self.push_weight = float(push_weight)
        self.teacher, self.name = teacher, name
        self._pull = _TopKTarget.from_probs(teacher.probs, k)

    @classmethod
    def from_task(
        cls,
        task: UnlearningTask,
        *,
        top_k: int | None = None,
        push_k: int = DEFAULT_PUSH_K,
        push_weight: float = DEFAULT_PUSH_WEIGHT,
        name: str = "push_pull",
    ) -> PushPull:
        """Built on θ0 of ``task`` (:func:`forget_teacher`)."""
        return cls(forget_teacher(task), top_k=top_k, push_k=push_k, push_weight=push_weight, name=name)

    def _values(self, logits: torch.Tensor, idx: torch.Tensor | None) -> torch.Tensor:
        target, probs = self._target(idx)
        log_p = F_nn.log_softmax(logits, dim=-1)
        value = target.kl(log_p)
        if self.push_weight:
            value = value + self.push_weight * _push(log_p, probs, self.push_k)
        return value

    def describe(self) -> dict:
        return {**super().describe(), "push_k": self.push_k, "push_weight": self.push_weight}
