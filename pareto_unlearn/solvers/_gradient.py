"""The shared loop of gradient solvers: paired forget / retain batches, SGD, a trajectory record."""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from pareto_unlearn.distributed import warm_up
from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.front import Front
from pareto_unlearn.metrics import MetricEvaluator, PredictionRecorder, predict
from pareto_unlearn.objectives import Objectives, reference_label
from pareto_unlearn.solvers._base import Solver
from pareto_unlearn.solvers._cost import CostMeter
from pareto_unlearn.spaces._rebuild import flat_params, set_flat_params
from pareto_unlearn.spaces._space import BoundSpace, SearchSpace

if TYPE_CHECKING:
    from pareto_unlearn.task import Subset, UnlearningTask

__all__ = ["GradientSolver", "paired_batches"]

logger = logging.getLogger(__name__)


def paired_batches(n_forget: int, n_retain: int, batch_size: int, generator: torch.Generator):
    """One epoch = one pass over D_r in batches of ``batch_size`` and one pass over D_f in as many
    steps, split into near-equal chunks: both objectives see their whole set every epoch and no forget
    batch is empty (unless D_f has fewer samples than there are steps)."""
    steps = max(1, math.ceil(n_retain / batch_size))
    r_order = torch.randperm(n_retain, generator=generator)
    f_chunks = torch.tensor_split(torch.randperm(n_forget, generator=generator), steps)
    for s in range(steps):
        yield f_chunks[s], r_order[s * batch_size : (s + 1) * batch_size]


class GradientSolver(Solver):
    """Base of every gradient solver. Configure in the constructor, call :meth:`run`.

    Parameters
    ----------
    lr : float
        Constant SGD learning rate.
    epochs : int
    batch_size : int
        Retain batch size; forget batches are sized so both sets are covered once per epoch.
    momentum, weight_decay : float
        SGD settings (docs/definitions.md §2: 0.9, 5e-4).
    seed : int
        Seeds batch order and any random labels.
    progress : bool
        Show a tqdm bar.
    record : {"epoch", "last"}
        Keep a point after every epoch (a trajectory) or only the last.
    start : array [n_params], optional
        Start from this flat parameter vector (a warm start) instead of θ0.
    space : SearchSpace, optional
        Descend in this space's genome instead of every parameter (:class:`~pareto_unlearn.spaces.
        LastLayerSpace`, :class:`~pareto_unlearn.spaces.LoRASpace`): full batch on the activations the space
        caches at θ0, one step per epoch, each step projected back into the genome box [-1, 1] that an
        evolutionary solver of the same space searches; a point's model is rebuilt as that solver's are.
        ``batch_size`` does not apply; ``weight_decay`` pulls the genome toward θ0.
    record_every : int
        With ``record="epoch"``: keep a point every this many epochs (and the last).
    """

    family = "gradient"
    # a point's hyperparameters: the constructor's parameters but these (the SGD's fixed settings and
    # run-time ones); a space's name and settings when there is one
    unrecorded: ClassVar[tuple[str, ...]] = ("momentum", "weight_decay", "seed", "progress", "record",
                                             "start")
    recorded_if_changed: ClassVar[tuple[str, ...]] = ("record_every", "space")

    def __init__(
        self,
        *,
        lr: float = 0.01,
        epochs: int = 5,
        batch_size: int = 64,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        seed: int = 0,
        progress: bool = True,
        record: str = "epoch",
        start: np.ndarray | None = None,
        space: SearchSpace | None = None,
        record_every: int = 1,
    ) -> None:
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.seed = seed
        self.progress = progress
        self.record = record
        self.start = start
        self.space = space
        self.record_every = record_every

    def _space_suffix(self) -> str:
        """What a solver's name adds for its space (``-last-layer``); nothing for every parameter."""
        return f"-{self.space.name}" if self.space is not None else ""

    def _recorded(self, name: str, value: Any) -> dict[str, Any]:
        if name == "batch_size" and self.space is not None:  # a space descends full batch
            return {}
        if name == "space":
            return {"space": value.name, **value.hyperparameters()}
        return super()._recorded(name, value)

    # -- what subclasses change -------------------------------------------------------------------
    def _space_step(self, losses: torch.Tensor, x: torch.Tensor, subsets: list[str], bound: Any,
                    meter: CostMeter) -> None:  # pragma: no cover
        """Set ``x.grad`` from the objectives ``losses`` [m] of the genome ``x`` (a solver in a space)."""
        raise ConfigError(f"{self.name} cannot run in a search space; give it no `space`")

    def _warm_up(self, task: UnlearningTask) -> None:
        """Process-wide one-time work (lazy imports, first-call initialisation) before the clock starts."""

    def _setup(self, model: nn.Module, task: UnlearningTask, objectives: Objectives,
               meter: CostMeter) -> None:
        """One-time work before the first epoch (charged to the solver's cost)."""

    def _epoch(
        self, model: nn.Module, task: UnlearningTask, objectives: Objectives,
        optimizer: torch.optim.Optimizer, generator: torch.Generator, meter: CostMeter, epoch: int,
    ) -> None:  # pragma: no cover
        raise NotImplementedError

    # -- the loop ---------------------------------------------------------------------------------
    def _validate(self) -> None:
        if not (isinstance(self.lr, (int, float)) and self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"{self.name}: lr must be a positive number, got {self.lr!r}")
        if not (isinstance(self.epochs, int) and self.epochs >= 1):
            raise ConfigError(f"{self.name}: epochs must be an integer >= 1, got {self.epochs!r}")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            raise ConfigError(f"{self.name}: batch_size must be an integer >= 1, got {self.batch_size!r}")
        if self.record not in ("epoch", "last"):
            raise ConfigError(f"{self.name}: record must be 'epoch' or 'last', got {self.record!r}")
        if not (isinstance(self.record_every, int) and self.record_every >= 1):
            raise ConfigError(f"{self.name}: record_every must be an integer >= 1, got {self.record_every!r}")
        if self.space is not None:
            if not isinstance(self.space, SearchSpace):
                raise ConfigError(f"{self.name}: `space` must be a SearchSpace such as LastLayerSpace(); "
                                  f"got {self.space!r}")
            if self.start is not None:
                raise ConfigError(f"{self.name}: `start` is a full parameter vector; it does not apply in a "
                                  f"search space")
            self.space.validate()

    def run(
        self, task: UnlearningTask, objectives: Objectives, *,
        evaluator: MetricEvaluator | PredictionRecorder | None = None, executor: Any = None,
        checkpoint: Any = None, progress: bool | None = None,
    ) -> Front:
        """Unlearn from θ0 (or from ``start``) and return the trajectory as a Front (θ0 itself is never
        modified). One run is one unit of work: it runs here whatever ``executor`` is, and is short enough
        not to checkpoint (``explore`` checkpoints each finished run)."""
        self._validate()
        warm_up()  # one-time imports (the first optimizer's), not charged to whichever solver runs first
        self._warm_up(task)
        meter = CostMeter()
        evaluator = evaluator or MetricEvaluator(task)
        show = self.progress if progress is None else progress
        if self.space is not None:
            return self._run_in_space(task, objectives, evaluator, meter, show)
        model = task.copy_original()
        if self.start is not None:
            set_flat_params(model, self.start)
        generator = torch.Generator().manual_seed(self.seed)
        optimizer = torch.optim.SGD(
            model.parameters(), lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay
        )
        self._setup(model, task, objectives, meter)
        rows: list[dict[str, Any]] = []
        arrays: dict[str, np.ndarray] = {}
        run_id = f"{self.name}:{self.hyperparameters()}"
        bar = tqdm(range(1, self.epochs + 1), desc=self.name, disable=not show, leave=False)
        for epoch in bar:
            model.eval()  # BatchNorm statistics stay frozen at θ0's (docs/definitions.md §1)
            self._epoch(model, task, objectives, optimizer, generator, meter, epoch)
            if self._records(epoch):
                rows.append(self._record(model, task, objectives, evaluator, meter, epoch, run_id, arrays))
        return self._front(rows, objectives, arrays, task)

    def _records(self, epoch: int) -> bool:
        """Whether the point after ``epoch`` is kept."""
        return epoch == self.epochs or (self.record == "epoch" and epoch % self.record_every == 0)

    def _run_in_space(self, task: UnlearningTask, objectives: Objectives,
                      evaluator: MetricEvaluator | PredictionRecorder, meter: CostMeter, show: bool) -> Front:
        """Full-batch descent on the genome of ``self.space``, projected into its box after every step."""
        assert self.space is not None
        bound = self.space.bind(task, objectives)
        meter.add(forward=bound.setup_passes)  # the caching, as the evolutionary solver of the space pays it
        self._setup(task.original, task, objectives, meter)
        x = torch.tensor(self.space.gradient_start(bound, self.seed), dtype=torch.float32, requires_grad=True)
        optimizer = torch.optim.SGD([x], lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay)
        subsets = [o.subset for o in objectives]
        arrays: dict[str, np.ndarray] = {}
        run_id = f"{self.name}:{self.hyperparameters()}"
        bar = tqdm(range(1, self.epochs + 1), desc=self.name, disable=not show, leave=False)
        # aggregators that draw (Random, GradDrop) draw from a forked, seeded torch generator: runs repeat
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            rows = self._descend(bound, x, optimizer, subsets, evaluator, meter, bar, run_id, arrays)
        front = self._front(rows, objectives, arrays, task)
        rebuild = [{"kind": self.space.rebuild_kind, "array": r["array"], **bound.rebuild_fields()}
                   for r in rows]
        return front.with_(rebuild=rebuild)

    def _descend(self, bound: BoundSpace, x: torch.Tensor, optimizer: torch.optim.Optimizer,
                 subsets: list[str], evaluator: MetricEvaluator | PredictionRecorder, meter: CostMeter,
                 bar: tqdm, run_id: str, arrays: dict[str, np.ndarray]) -> list[dict[str, Any]]:
        assert self.space is not None
        suffix = bound.suffix_fraction_
        rows: list[dict[str, Any]] = []
        for epoch in bar:
            losses = bound.losses(x)
            meter.add(forward=bound.n_rows * suffix)
            optimizer.zero_grad(set_to_none=True)
            self._space_step(losses, x, subsets, bound, meter)
            optimizer.step()
            with torch.no_grad():
                x.clamp_(-1.0, 1.0)  # the genome box both families search
            if not self._records(epoch):
                continue
            genome = x.detach().cpu().numpy().astype(np.float32)
            values = bound.evaluate(genome[None])[0]
            meter.add(forward=bound.n_rows * suffix)
            cost = meter.snapshot()
            with meter.paused():
                metrics = evaluator.from_predictions(bound.predictions(genome[None])[0])
                key = f"{self.space.name}.x{len(arrays)}"
                arrays[key] = genome
            rows.append({"F": values, "metrics": metrics, "cost": cost, "epoch": epoch, "run": run_id,
                         "array": key})
        return rows

    def _record(self, model: nn.Module, task: UnlearningTask, objectives: Objectives,
                evaluator: MetricEvaluator | PredictionRecorder, meter: CostMeter, epoch: int, run_id: str,
                arrays: dict[str, np.ndarray]) -> dict[str, Any]:
        values = objectives.evaluate(model, task)
        meter.add(forward=sum(len(getattr(task, s)) for s in {o.subset for o in objectives}))
        cost = meter.snapshot()
        with meter.paused():
            metrics = evaluator.from_predictions(predict(model, task))
            key = f"p{len(arrays)}"
            arrays[key] = flat_params(model)
        return {"F": values, "metrics": metrics, "cost": cost, "epoch": epoch, "run": run_id, "array": key}

    def _front(self, rows: list[dict[str, Any]], objectives: Objectives, arrays: dict[str, np.ndarray],
               task: UnlearningTask) -> Front:
        metric_keys = sorted({k for r in rows for k in r["metrics"]})
        hp = self.hyperparameters()
        front = Front(
            objectives.names,
            np.array([r["F"] for r in rows]),
            np.array([self.name] * len(rows), dtype=object),
            metrics={k: np.array([r["metrics"].get(k, np.nan) for r in rows]) for k in metric_keys},
            cost={
                k: np.array([r["cost"][k] for r in rows])
                for k in ("wall_s", "forward_passes", "backward_passes")
            },
            provenance=[
                {
                    "space": self.space_name,
                    "reference": reference_label(objectives),
                    "hyperparameters": copy.deepcopy(hp),  # each point its own record
                    "seed": self.seed,
                    "epoch": r["epoch"],
                    "run": r["run"],
                }
                for r in rows
            ],
            rebuild=[{"kind": "params", "array": r["array"]} for r in rows],
            arrays=arrays,
            task=task,
        )
        return front



def forward_loss(model: nn.Module, objective: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                 subset: Subset, idx: torch.Tensor, meter: CostMeter) -> torch.Tensor:
    """Mini-batch objective on ``subset[idx]``, counting the forward pass."""
    idx = idx.to(subset.y.device)
    meter.add(forward=len(idx))
    return objective(model(subset.x[idx]), subset.y[idx])
