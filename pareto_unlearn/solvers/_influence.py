"""IU, influence unlearning (docs/definitions.md §2): one Newton-like step from θ0, no epochs.

The rule of the reference code (OPTML-Group/Unlearn-Saliency, ``Classification/unlearn/Wfisher.py``), read
there and restated here:

1. v = (Σ_f ∇ℓ − n_f / n_r · Σ_r ∇ℓ) / (n_f + n_r): the per-sample cross-entropy gradients at θ0 summed
   over one full pass over D_f and one over D_r;
2. k = F̂⁻¹v by the reference's WoodFisher recursion over per-sample retain gradients g_0, g_1, …, taken in
   the task's fixed retain order (at θ0, the model in eval mode): o ← g_0, k ← v; then for every next g_i,
   with t = o·g_i, k ← k − (k·g_i) / (N + t) · o and o ← o − t / (N + t) · o. N (1000) is the damping,
   and the reference also stops after sample index N + 1, so at most N + 2 retain samples enter it;
3. θ ← θ0 + α·k.

As written in the reference, o stays a multiple of g_0 (each step only rescales it), so F̂⁻¹v differs from
v along g_0 only; the project follows that rule as the paper ran it, and computes it exactly with
forward-mode derivatives instead of forming each per-sample gradient (:func:`influence_direction`).
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F_nn
from torch import nn
from tqdm.auto import tqdm

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.front import Front
from pareto_unlearn.metrics import MetricEvaluator, PredictionRecorder
from pareto_unlearn.solvers._cost import CostMeter
from pareto_unlearn.solvers._gradient import GradientSolver
from pareto_unlearn.solvers._names import IU

if TYPE_CHECKING:
    from pareto_unlearn.objectives import Objectives
    from pareto_unlearn.task import Subset, UnlearningTask

__all__ = ["InfluenceUnlearning", "influence_direction"]

logger = logging.getLogger(__name__)


def _gradient_sum(model: nn.Module, subset: Subset, batch_size: int, meter: CostMeter) -> torch.Tensor:
    """Σ over ``subset`` of the per-sample cross-entropy gradients, flat (``parameters()`` order)."""
    params = [p for p in model.parameters() if p.requires_grad]
    total = torch.zeros(sum(p.numel() for p in params), device=subset.y.device)
    for s in range(0, len(subset), batch_size):
        x, y = subset.x[s : s + batch_size], subset.y[s : s + batch_size]
        loss = F_nn.cross_entropy(model(x), y, reduction="sum")
        total += torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)])
        meter.add(forward=len(y), backward=len(y))
    return total


def _directional_derivatives(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                             tangents: list[torch.Tensor]) -> list[torch.Tensor]:
    """For each flat tangent u, the [len(y)] per-sample derivatives g_i·u of the cross-entropy, by
    forward-mode torch.func.jvp: one batched pass per tangent, exact for a model in eval mode (whose
    BatchNorm does not mix samples), and no per-sample gradient is ever formed."""
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
    buffers = dict(model.named_buffers())
    sizes = [params[n].numel() for n in names]

    def losses(theta: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = torch.func.functional_call(model, (theta, buffers), (x,))
        return F_nn.cross_entropy(logits, y, reduction="none")

    out = []
    for u in tangents:
        pieces = torch.split(u, sizes)
        tangent = {n: piece.view_as(params[n]) for n, piece in zip(names, pieces, strict=True)}
        out.append(torch.func.jvp(losses, (params,), (tangent,))[1])
    return out


def influence_direction(model: nn.Module, forget: Subset, retain: Subset, *, damping: int = 1000,
                        batch_size: int = 64, meter: CostMeter | None = None,
                        progress: bool = False) -> torch.Tensor:
    """F̂⁻¹v of the reference's Wfisher at ``model``'s weights (module docstring): the flat direction
    (``parameters()`` order) that IU adds, times α, to them.

    ``forget`` and ``retain`` are subsets (``.x``, ``.y``); ``batch_size`` only chunks the work (the result
    does not depend on it beyond float rounding). The model must be in eval mode.

    The reference's o stays c·g_0 (each step rescales it by N / (N + t)), so k stays v − β·g_0 and every
    step needs only the two numbers g_i·v and g_i·g_0: forward-mode derivatives give them for a whole batch
    of retain samples at once, and the recursion runs on (c, β). This is the reference's recursion
    rewritten, not an approximation (``tests/test_baselines_reference.py`` checks it against the literal
    loop to 1e-5).
    """
    meter = meter or CostMeter()
    n_f, n_r = len(forget), len(retain)
    forget_sum = _gradient_sum(model, forget, batch_size, meter)
    retain_sum = _gradient_sum(model, retain, batch_size, meter)
    direction = (forget_sum - n_f / n_r * retain_sum) / (n_f + n_r)
    n_used = min(n_r, damping + 2)  # the reference returns once the sample index exceeds N
    if n_used < 2:
        return direction
    params = [p for p in model.parameters() if p.requires_grad]
    first = F_nn.cross_entropy(model(retain.x[:1]), retain.y[:1])
    g_0 = torch.cat([g.reshape(-1) for g in torch.autograd.grad(first, params)])
    meter.add(forward=1, backward=1)
    scale, beta = 1.0, 0.0  # o = scale · g_0, k = v − beta · g_0
    chunks = range(1, n_used, batch_size)
    for s in tqdm(chunks, desc=IU, disable=not progress, leave=False):
        end = min(s + batch_size, n_used)
        along_v, along_g0 = _directional_derivatives(model, retain.x[s:end], retain.y[s:end],
                                                     [direction, g_0])
        meter.add(forward=2 * (end - s))  # one forward pass per tangent
        for a, b in zip(along_v.tolist(), along_g0.tolist(), strict=True):
            t = scale * b  # o·g_i
            beta += (a - beta * b) / (damping + t) * scale  # k -= (k·g_i) / (N + t) · o
            scale *= damping / (damping + t)  # o -= t / (N + t) · o
    return direction - beta * g_0


def _warm_up_func() -> None:
    """One throwaway jvp: torch.func's first call of a process imports and initialises (a one-time cost
    that is not IU's). That first call loads torch's forward-mode decompositions, which use the deprecated
    ``torch.jit.script`` (a torch-internal FutureWarning that says nothing to IU's user: silenced)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.* is deprecated",
                                category=FutureWarning)
        torch.func.jvp(lambda w: (w * w).sum(), (torch.ones(2),), (torch.ones(2),))


class InfluenceUnlearning(GradientSolver):
    """IU: θ0 + α·F̂⁻¹v, the reference's Wfisher in one shot (module docstring).

    Parameters
    ----------
    alpha : float
        Step size along F̂⁻¹v (the reference's grid: 1, 5, 10, 15, 20).
    damping : int
        N of the WoodFisher recursion; at most N + 2 retain samples enter it (as in the reference).
    batch_size : int
        Chunk of the gradient passes (work only: the update does not depend on it).
    seed : int
        Recorded in the provenance; IU draws nothing.
    progress : bool
        Show a tqdm bar over the recursion's chunks.

    Examples
    --------
    >>> from pareto_unlearn.task import toy_task
    >>> from pareto_unlearn.objectives import make_objectives
    >>> task = toy_task()
    >>> front = InfluenceUnlearning(alpha=5.0, progress=False).run(task, make_objectives(task))
    >>> len(front), front.provenance[0]["hyperparameters"]
    (1, {'alpha': 5.0, 'damping': 1000})
    """

    family = "baseline"
    name = IU
    # a point records α and the damping N; the rest only chunk the work or are run-time switches
    unrecorded: ClassVar[tuple[str, ...]] = ("batch_size", "seed", "progress")

    def __init__(self, *, alpha: float = 10.0, damping: int = 1000, batch_size: int = 64, seed: int = 0,
                 progress: bool = True) -> None:
        self.alpha = alpha
        self.damping = damping
        self.batch_size = batch_size
        self.seed = seed
        self.progress = progress

    def _validate(self) -> None:
        if not (isinstance(self.alpha, (int, float)) and self.alpha > 0 and math.isfinite(self.alpha)):
            raise ConfigError(f"{self.name}: alpha must be a positive number, got {self.alpha!r}")
        if not (isinstance(self.damping, int) and self.damping >= 1):
            raise ConfigError(f"{self.name}: damping must be an integer >= 1, got {self.damping!r}")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            raise ConfigError(f"{self.name}: batch_size must be an integer >= 1, got {self.batch_size!r}")

    def run(
        self, task: UnlearningTask, objectives: Objectives, *,
        evaluator: MetricEvaluator | PredictionRecorder | None = None, executor: Any = None,
        checkpoint: Any = None, progress: bool | None = None,
    ) -> Front:
        """One IU update of θ0 and its point (one unit of work: ``executor`` and ``checkpoint`` unused)."""
        self._validate()
        _warm_up_func()
        meter = CostMeter()
        evaluator = evaluator or MetricEvaluator(task)
        show = self.progress if progress is None else progress
        model = task.copy_original()  # eval mode: BatchNorm statistics stay θ0's, as the reference's
        direction = influence_direction(model, task.forget, task.retain, damping=self.damping,
                                        batch_size=self.batch_size, meter=meter, progress=show)
        with torch.no_grad():
            params = [p for p in model.parameters() if p.requires_grad]
            update = torch.split(self.alpha * direction, [p.numel() for p in params])
            for p, u in zip(params, update, strict=True):
                p.add_(u.view_as(p))
        arrays: dict[str, Any] = {}
        run_id = f"{self.name}:{self.hyperparameters()}"
        row = self._record(model, task, objectives, evaluator, meter, 1, run_id, arrays)
        return self._front([row], objectives, arrays, task)
