"""``jd`` (UPGrad Jacobian descent, or any torchjd aggregator) and ``ls`` (linear scalarisation)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

import torch
import torchjd.aggregation as tja
from torch import nn

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.solvers._gradient import GradientSolver, paired_batches
from pareto_unlearn.solvers._names import JD, LS, jd_name
from pareto_unlearn.solvers._pama import PAMA

if TYPE_CHECKING:
    from pareto_unlearn.objectives import Objectives
    from pareto_unlearn.solvers._cost import CostMeter
    from pareto_unlearn.spaces._space import BoundSpace
    from pareto_unlearn.task import UnlearningTask

__all__ = ["JacobianDescent", "LinearScalarization", "make_aggregator", "AGGREGATORS", "jd_direction"]

# Solver name suffix → torchjd aggregator class name (``jd`` alone is UPGrad).
AGGREGATORS = {
    "upgrad": "UPGrad",
    "mgda": "MGDA",
    "dualproj": "DualProj",
    "pcgrad": "PCGrad",
    "mean": "Mean",
    "sum": "Sum",
    "imtlg": "IMTLG",
    "aligned-mtl": "AlignedMTL",
    "cagrad": "CAGrad",
    "nash-mtl": "NashMTL",
    "graddrop": "GradDrop",
    "random": "Random",
    "config": "ConFIG",
    "fairgrad": "FairGrad",
    "gradvac": "GradVac",
    "excess-mtl": "ExcessMTL",
    "pcd": "PCD",
    "trimmed-mean": "TrimmedMean",
    "pama": "PAMA",  # pareto_unlearn.solvers._pama (closed-form min-norm along the mean gradient)
}
_TAKES_PREF = {"UPGrad", "DualProj", "AlignedMTL", "ConFIG"}


def make_aggregator(name: str = "upgrad", pref_vector: Sequence[float] | None = None, *,
                    n_objectives: int = 2) -> tja.Aggregator:
    """A torchjd aggregator by name (``upgrad``, ``mgda``, ``dualproj``, ``pcgrad``, ..., and ``pama``, this
    package's closed-form :class:`~pareto_unlearn.solvers.PAMA`).

    Examples
    --------
    >>> agg = make_aggregator("upgrad")
    >>> agg(torch.tensor([[-4.0, 1.0, 1.0], [6.0, 1.0, 1.0]]))
    tensor([0.2929, 1.9004, 1.9004])
    """
    key = name.lower()
    if key not in AGGREGATORS:
        raise ConfigError(f"unknown aggregator {name!r}; choose one of {', '.join(sorted(AGGREGATORS))}")
    cls: Any = None if key == "pama" else getattr(tja, AGGREGATORS[key])
    kwargs: dict[str, Any] = {}
    if pref_vector is not None:
        if AGGREGATORS[key] not in _TAKES_PREF:
            raise ConfigError(f"aggregator {name!r} takes no preference vector; use upgrad or dualproj")
        kwargs["pref_vector"] = torch.as_tensor(pref_vector, dtype=torch.float32)
    if key == "pama":
        return PAMA()
    if key in ("cagrad",):
        kwargs.setdefault("c", 0.5)
    if key == "nash-mtl":  # the only aggregator that must know the number of rows of J beforehand
        kwargs["n_tasks"] = int(n_objectives)
    if key == "fairgrad":
        kwargs["alpha"] = 1.0
    if key == "trimmed-mean":
        kwargs["trim_number"] = 0
    try:
        return cls(**kwargs)
    except ImportError as exc:
        raise ConfigError(
            f"aggregator {name!r} needs extra packages ({exc}); pip install 'pareto-unlearn[full]'"
        ) from None
    except TypeError as exc:
        raise ConfigError(f"aggregator {name!r} cannot be built with defaults here ({exc})") from None


def jd_direction(losses: Sequence[torch.Tensor], params: Sequence[torch.Tensor],
                 aggregator: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """The aggregated update [n]: one ``autograd.grad`` per objective, rows stacked into J [m, n], then
    the aggregator. Equals torchjd's ``autojac.backward`` + ``jac_to_grad`` (a test pins it), and costs
    no more backward work than LS when the objectives live on different batches. Objectives on one subset
    (e.g. forget_kl against two references) share a forward graph, so it is kept until the last row."""
    rows = []
    for k, loss in enumerate(losses):
        grads = torch.autograd.grad(loss, params, allow_unused=True, retain_graph=k < len(losses) - 1)
        rows.append(
            torch.cat(
                [(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, params)]
            )
        )
    return aggregator(torch.stack(rows))


def _assign_grad(params: Sequence[nn.Parameter], vector: torch.Tensor) -> None:
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = vector[offset : offset + n].view_as(p).clone()
        offset += n


def _batch_losses(model: nn.Module, task: UnlearningTask, objectives: Objectives, f_idx: torch.Tensor,
                  r_idx: torch.Tensor, meter: CostMeter) -> list[torch.Tensor]:
    """One loss per objective; objectives on the same subset share one forward pass."""
    batches = {"forget": f_idx, "retain": r_idx}
    logits: dict[str, torch.Tensor] = {}
    for o in objectives:
        if o.subset not in logits:
            subset = getattr(task, o.subset)
            idx = batches[o.subset].to(subset.y.device)
            meter.add(forward=len(idx))
            logits[o.subset] = model(subset.x[idx])
    losses = []
    for o in objectives:
        idx = batches[o.subset].to(task.device)
        losses.append(o.batch_loss(logits[o.subset], getattr(task, o.subset).y[idx], idx))
    return losses


def _backward_samples(objectives: Objectives, f_idx: torch.Tensor, r_idx: torch.Tensor) -> int:
    """Backward sample-passes of one Jacobian step: one ``autograd.grad`` per objective over its batch
    (two objectives on the forget set cost two backward passes over the forget batch)."""
    sizes = {"forget": len(f_idx), "retain": len(r_idx)}
    return sum(sizes[o.subset] for o in objectives)


class JacobianDescent(GradientSolver):
    """Jacobian descent on the objectives' gradients with a torchjd aggregator (UPGrad by default).

    Examples
    --------
    >>> from pareto_unlearn.objectives import make_objectives
    >>> from pareto_unlearn.task import toy_task
    >>> task = toy_task()
    >>> solver = JacobianDescent(lr=0.05, epochs=3, seed=0, progress=False)
    >>> front = solver.run(task, make_objectives(task))
    >>> len(front), [p["epoch"] for p in front.provenance]  # one point per epoch
    (3, [1, 2, 3])
    """

    name = JD
    unrecorded: ClassVar[tuple[str, ...]] = ("name",)
    recorded_if_changed: ClassVar[tuple[str, ...]] = ("pref_vector",)

    def __init__(
        self,
        *,
        aggregator: str = "upgrad",
        pref_vector: Sequence[float] | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aggregator = aggregator
        self.pref_vector = None if pref_vector is None else [float(v) for v in pref_vector]
        self.name = name or jd_name(aggregator) + self._space_suffix()

    def _warm_up(self, task: UnlearningTask) -> None:
        # The first UPGrad call of a process pays ~2.5 s of one-time initialisation: keep it off the clock.
        make_aggregator(self.aggregator, self.pref_vector)(torch.tensor([[1.0, 0.0], [-0.5, 1.0]]))

    def _setup(self, model: nn.Module, task: UnlearningTask, objectives: Objectives,
               meter: CostMeter) -> None:
        self.aggregator_ = make_aggregator(self.aggregator, self.pref_vector, n_objectives=len(objectives))

    def _epoch(self, model: nn.Module, task: UnlearningTask, objectives: Objectives,
               optimizer: torch.optim.Optimizer, generator: torch.Generator, meter: CostMeter,
               epoch: int) -> None:
        params = [p for p in model.parameters() if p.requires_grad]
        # Random / GradDrop draw from torch's global generator: fork it, seeded, so runs repeat.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed * 100_003 + epoch)
            self._steps(model, task, objectives, optimizer, generator, meter, params)

    def _space_step(self, losses: torch.Tensor, x: torch.Tensor, subsets: list[str], bound: BoundSpace,
                    meter: CostMeter) -> None:
        x.grad = jd_direction(list(losses), [x], self.aggregator_).view_as(x).clone()
        meter.add(backward=sum(len(getattr(bound.task, s)) for s in subsets) * bound.suffix_fraction_)

    def _steps(self, model: nn.Module, task: UnlearningTask, objectives: Objectives,
               optimizer: torch.optim.Optimizer, generator: torch.Generator, meter: CostMeter,
               params: list[nn.Parameter]) -> None:
        for f_idx, r_idx in paired_batches(len(task.forget), len(task.retain), self.batch_size, generator):
            losses = _batch_losses(model, task, objectives, f_idx, r_idx, meter)
            direction = jd_direction(losses, params, self.aggregator_)
            meter.add(backward=_backward_samples(objectives, f_idx, r_idx))
            _assign_grad(params, direction)
            optimizer.step()


def split_weight(weight: float, subsets: Sequence[str]) -> list[float]:
    """Per-objective weights from one scalar: ``weight`` shared evenly by the objectives on the forget set,
    ``1 − weight`` by those on the retain set.

    Examples
    --------
    >>> split_weight(0.4, ["forget", "forget", "retain"])
    [0.2, 0.2, 0.6]
    """
    counts = {side: sum(s == side for s in subsets) for side in ("forget", "retain")}
    if counts["forget"] + counts["retain"] != len(subsets) or not all(counts.values()):
        raise ConfigError(f"LinearScalarization: one `weight` needs objectives on both the forget and the "
                          f"retain set; got subsets {list(subsets)}. Give `weights=` (one per objective) "
                          "instead")
    share = {"forget": weight / counts["forget"], "retain": (1.0 - weight) / counts["retain"]}
    return [share[s] for s in subsets]


class LinearScalarization(GradientSolver):
    """Gradient descent on w·forget_kl + (1 − w)·retain_ce (weights per objective for m > 2).

    ``weights=None`` with two objectives means [w, 1 − w] with w = ``weight``; RAUL-LS is w = 0.5 (torchjd's
    Mean). With more objectives and ``weights=None``, w is shared evenly by the objectives on the forget set
    and 1 − w by those on the retain set (forget_kl against two references and retain_ce: [w/2, w/2, 1 − w]),
    so a sweep over ``weight`` still moves from retaining to forgetting; give ``weights`` for any other
    point of the simplex.
    """

    name = LS
    unrecorded: ClassVar[tuple[str, ...]] = ("name",)
    recorded_if_changed: ClassVar[tuple[str, ...]] = ("weights",)

    def __init__(
        self,
        *,
        weight: float = 0.5,
        weights: Sequence[float] | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.weight = weight
        self.weights = None if weights is None else [float(w) for w in weights]
        self.name = name or LS + self._space_suffix()

    def _recorded(self, name: str, value: Any) -> dict[str, Any]:
        if name == "weight":  # recorded as w, and only when no per-objective weights are given
            return {} if self.weights is not None else {"w": value}
        return super()._recorded(name, value)

    def _setup(self, model: nn.Module, task: UnlearningTask, objectives: Objectives,
               meter: CostMeter) -> None:
        if self.weights is not None:
            weights = self.weights
        elif len(objectives) == 2:
            weights = [self.weight, 1.0 - self.weight]
        else:
            weights = split_weight(self.weight, [o.subset for o in objectives])
        if len(weights) != len(objectives) or min(weights) < 0:
            raise ConfigError(f"{self.name}: need {len(objectives)} non-negative weights, got {weights}")
        self.weights_ = weights

    def _space_step(self, losses: torch.Tensor, x: torch.Tensor, subsets: list[str], bound: BoundSpace,
                    meter: CostMeter) -> None:
        cast(torch.Tensor, sum(w * loss for w, loss in zip(self.weights_, losses))).backward()
        meter.add(backward=bound.n_rows * bound.suffix_fraction_)

    def _epoch(self, model: nn.Module, task: UnlearningTask, objectives: Objectives,
               optimizer: torch.optim.Optimizer, generator: torch.Generator, meter: CostMeter,
               epoch: int) -> None:
        for f_idx, r_idx in paired_batches(len(task.forget), len(task.retain), self.batch_size, generator):
            losses = _batch_losses(model, task, objectives, f_idx, r_idx, meter)
            loss = cast(torch.Tensor, sum(w * loss for w, loss in zip(self.weights_, losses)))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            meter.add(backward=len(f_idx) + len(r_idx))
            optimizer.step()
