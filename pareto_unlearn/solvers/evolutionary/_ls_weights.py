"""``nsga2-ls-weights``: NSGA-II over the settings (w, log10 lr, epochs) of a short LS fine-tune from θ0.

Genome and operators
--------------------
(w ∈ [0, 1], log10 lr ∈ [lo, hi], e ∈ [0.5, E + 0.5]) → ``LinearScalarization(weight=w, lr=10**log_lr,
epochs=clip(rint(e), 1, E), seed=s)`` from θ0, where s = :func:`individual_seed` (run seed, genome) is a
deterministic function of the genome, so an individual is a pure function of (genome, seed) and can be
shipped to another worker, and its model is rebuilt by replaying the fine-tune (rebuild kind
``ls_finetune``). The initial rows are the user's ``initial`` genomes and uniform draws in the box (every
fine-tune starts at θ0; small lr and one epoch is the corner nearest to it). SBX and PM as elsewhere.

The default log10 lr range [-2.5, -0.5] was chosen on digits (CNN, ``random:0.5``, uniform reference,
pop 12, 6 generations, E = 5, seed 0; HV of the final population against (2.322, 2.326)):
[-4, -2] → 0.069, [-3, -1] → 3.452, [-2.5, -0.5] → **3.828**, [-2, 0] → 3.847 but 5 of its 72
fine-tunes diverged to NaN (infeasible points).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import nn

from pareto_unlearn.exceptions import CacheError, ConfigError
from pareto_unlearn.metrics import PREDICTION_SPLITS, MetricEvaluator, PredictionRecorder, Predictions
from pareto_unlearn.objectives import Objectives, objectives_from_spec
from pareto_unlearn.solvers._jd import LinearScalarization
from pareto_unlearn.solvers._names import LS_WEIGHTS_SPACE
from pareto_unlearn.solvers.evolutionary._solver import (
    EvolutionarySolver,
    SpaceMeter,
    population_hv,
    retain_accuracy,
)
from pareto_unlearn.spaces._rebuild import rebuild_from_spec, rebuilder

if TYPE_CHECKING:
    from pareto_unlearn.task import UnlearningTask

__all__ = ["EvolutionaryLSWeights", "FineTuneOutcome", "ls_finetune", "replay_ls_finetune", "individual_seed",
           "decode_genome", "DEFAULT_LR_BOUNDS"]

logger = logging.getLogger(__name__)

DEFAULT_LR_BOUNDS = (-2.5, -0.5)
_PREDICTION_SPLITS = PREDICTION_SPLITS


def individual_seed(seed: int, genome: np.ndarray) -> int:
    """The fine-tune seed of an individual: a hash of the run seed and the genome's float32 bytes.

    Examples
    --------
    >>> individual_seed(0, np.array([0.5, -2.0, 3.0])) == individual_seed(0, np.array([0.5, -2.0, 3.0]))
    True
    """
    data = int(seed).to_bytes(8, "little", signed=False) + np.asarray(genome, dtype=np.float32).tobytes()
    return int.from_bytes(hashlib.sha256(data).digest()[:4], "little") & 0x7FFFFFFF


def decode_genome(genome: np.ndarray, *, max_epochs: int) -> tuple[float, float, int]:
    """(w, lr, epochs) of a genome (w, log10 lr, epochs), read in float32 like the stored genome.

    Examples
    --------
    >>> decode_genome(np.array([0.25, -2.0, 2.6]), max_epochs=5)
    (0.25, 0.01, 3)
    """
    g = np.asarray(genome, dtype=np.float32).reshape(-1)
    if g.size != 3:
        raise ConfigError(f"ls-weights: a genome is (w, log10 lr, epochs). Got {g.size} values.")
    w = float(np.clip(g[0], 0.0, 1.0))
    lr = float(10.0 ** float(g[1]))
    epochs = int(np.clip(np.rint(g[2]), 1, max_epochs))
    return w, lr, epochs


@dataclass
class FineTuneOutcome:
    """What one individual's fine-tune gives: objectives [m], logits on the metric splits, its cost.

    ``measure_s`` is the time spent on the metric logits inside the call (measurement, not charged);
    ``front`` is the one-point Front of the fine-tune (``None`` when it came back from a worker).
    """

    F: np.ndarray
    predictions: Predictions
    forward_passes: float
    backward_passes: float
    solver_s: float
    front: Any
    measure_s: float = 0.0


def _fine_tune(task: UnlearningTask, objectives: Objectives, genome: np.ndarray, seed: int, *,
               max_epochs: int, batch_size: int, momentum: float, weight_decay: float,
               start: np.ndarray | None = None, lr: float | None = None, epochs: int | None = None):
    w, genome_lr, genome_epochs = decode_genome(genome, max_epochs=max_epochs)
    # a seed sweep's point trains at the sweep's own lr and epochs (its genome only places it in the box)
    lr = genome_lr if lr is None else float(lr)
    epochs = genome_epochs if epochs is None else int(epochs)
    solver = LinearScalarization(weight=w, lr=lr, epochs=epochs, seed=int(seed), record="last",
                                 progress=False, batch_size=batch_size, momentum=momentum,
                                 weight_decay=weight_decay, start=start)
    capture = PredictionRecorder()  # the metrics come later, from these logits
    return solver.run(task, objectives, evaluator=capture), capture


def _fine_tune_from(task: UnlearningTask, objectives: Objectives, genome: np.ndarray, seed: int, *,
                    start: np.ndarray | None = None, override: dict[str, Any] | None = None,
                    **settings: Any) -> FineTuneOutcome:
    """:func:`ls_finetune` from the flat parameters ``start`` (θ0 when None); keeps the point's Front.
    ``override`` ({"lr", "epochs"}) replaces what the genome decodes to."""
    begin = time.perf_counter()
    front, capture = _fine_tune(task, objectives, genome, seed, start=start, **(override or {}), **settings)
    solver_s = float(front.cost["wall_s"][0])
    return FineTuneOutcome(front.F[0].copy(), capture.predictions, float(front.cost["forward_passes"][0]),
                           float(front.cost["backward_passes"][0]), solver_s, front,
                           measure_s=max(0.0, time.perf_counter() - begin - solver_s))


def ls_finetune(task: UnlearningTask, objectives: Objectives, genome: np.ndarray, seed: int, *,
                max_epochs: int, batch_size: int = 64, momentum: float = 0.9,
                weight_decay: float = 5e-4) -> FineTuneOutcome:
    """One individual: the LS fine-tune from θ0 that the genome describes, seeded by ``seed``.

    A pure function of (genome, seed) for a given task and objectives (the unit of work a Dask worker
    would run).
    """
    return _fine_tune_from(task, objectives, genome, seed, max_epochs=max_epochs, batch_size=batch_size,
                           momentum=momentum, weight_decay=weight_decay)


def _individual_on_worker(task: UnlearningTask, objectives: Objectives, settings: dict[str, Any],
                          item: tuple[np.ndarray, int]) -> FineTuneOutcome:
    """One individual as a unit of distributed work; its Front (the whole parameter vector) stays there."""
    genome, seed = item
    outcome = ls_finetune(task, objectives, genome, seed, **settings)
    outcome.front = None
    return outcome


def replay_ls_finetune(task: UnlearningTask, objectives: Objectives, genome: np.ndarray, seed: int,
                       **settings: Any) -> nn.Module:
    """The model of an individual, by running its fine-tune again (same genome, same seed)."""
    front, _ = _fine_tune(task, objectives, genome, seed, **settings)
    return rebuild_from_spec(task, front.rebuild[0], front.arrays)


@rebuilder("ls_finetune")
def _rebuild(task: UnlearningTask, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> nn.Module:
    if not spec.get("objectives"):
        raise CacheError("ls_finetune rebuild: the point's objectives were not recorded; it cannot be "
                         "replayed")
    objectives = objectives_from_spec(task, spec["objectives"])
    return replay_ls_finetune(task, objectives, arrays[spec["array"]], int(spec["seed"]),
                              max_epochs=int(spec["max_epochs"]), batch_size=int(spec["batch_size"]),
                              momentum=float(spec["momentum"]), weight_decay=float(spec["weight_decay"]))


class EvolutionaryLSWeights(EvolutionarySolver):
    """NSGA-II over (w, log10 lr, epochs) of a linear-scalarisation fine-tune from θ0.

    Parameters
    ----------
    lr_bounds : (float, float)
        Bounds of log10 lr (default (-2.5, -0.5)).
    max_epochs : int
        E, the largest number of epochs (default 5).
    batch_size, momentum, weight_decay
        Fixed settings of every fine-tune (docs/definitions.md §2's SGD).
    **kwargs
        See :class:`EvolutionarySolver`; ``initial`` rows are (w, log10 lr, epochs).

    Examples
    --------
    >>> solver = EvolutionaryLSWeights(pop_size=8, n_gen=3, max_epochs=2, seed=0, progress=False)
    >>> front = solver.run(task, objectives)  # doctest: +SKIP
    >>> model = rebuild_model(None, front, 0)  # replays the point's fine-tune  # doctest: +SKIP
    """

    fixed_space = LS_WEIGHTS_SPACE  # a fixed space, not a SearchSpace object
    rebuild_kind = "ls_finetune"

    def __init__(self, *, lr_bounds: tuple[float, float] = DEFAULT_LR_BOUNDS, max_epochs: int = 5,
                 batch_size: int = 64, momentum: float = 0.9, weight_decay: float = 5e-4,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lr_bounds = lr_bounds
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.momentum = momentum
        self.weight_decay = weight_decay

    def _validate_space(self) -> None:
        bounds = self.lr_bounds
        numbers_ok = isinstance(bounds, (tuple, list)) and len(bounds) == 2 and all(
            isinstance(v, (int, float)) and math.isfinite(v) for v in bounds)
        if not (numbers_ok and bounds[0] < bounds[1]):
            raise ConfigError("EvolutionaryLSWeights: `lr_bounds` must be two finite numbers lo < hi "
                              "(log10 lr). "
                              f"Got {bounds!r}.")
        for key in ("max_epochs", "batch_size"):
            value = getattr(self, key)
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
                raise ConfigError(f"EvolutionaryLSWeights: `{key}` must be an integer >= 1. Got {value!r}.")

    def _setup(self, task: UnlearningTask, objectives: Objectives, meter: SpaceMeter) -> None:
        self.task_, self.objectives_ = task, objectives
        spec = objectives.spec()
        self.objectives_spec_ = spec if spec["rebuildable"] else None
        if self.objectives_spec_ is None:
            logger.warning("%s: these objectives cannot be rebuilt by name; points will not be "
                           "rebuildable by Front.model", self.name)
        self.n_var_ = 3
        self.xl_ = np.array([0.0, float(self.lr_bounds[0]), 0.5])
        self.xu_ = np.array([1.0, float(self.lr_bounds[1]), self.max_epochs + 0.5])
        self.predictions_: dict[bytes, Predictions] = {}
        with meter.paused():  # sending the task to the workers once is set-up, not search
            self.shared_ = self.executor_.share(task, objectives)

    def _settings(self) -> dict[str, Any]:
        return {"max_epochs": self.max_epochs, "batch_size": self.batch_size,
                "momentum": float(self.momentum), "weight_decay": float(self.weight_decay)}

    def _perturbed_rows(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self.xl_, self.xu_, size=(n, 3))

    def _evaluate_population(self, X: np.ndarray, meter: SpaceMeter) -> np.ndarray:
        rows = np.asarray(X, dtype=np.float32)
        items = [(row, individual_seed(self.seed, row)) for row in rows]
        return self._evaluate_individuals(_individual_on_worker, rows, items, meter)

    def _evaluate_individuals(self, fn: Callable[..., object], rows: np.ndarray, items: list,
                              meter: SpaceMeter, *,
                              ready: dict[int, tuple[Any, dict[str, float]]] | None = None) -> np.ndarray:
        """Run ``fn`` on the item of every row not in ``ready`` (here or on the workers), record each
        outcome as it arrives and log the anytime HV of the previous population with the offspring
        evaluated so far. ``ready`` maps a row to a result computed before this run and its cumulative
        cost there (a seed sweep that ran first): those are taken first, at that cost."""
        F = np.full((len(rows), len(self.objectives_)), np.nan)
        RA = np.full(len(rows), np.nan)
        ready = ready or {}
        if ready:
            self._take_ready(ready, rows, F, RA, meter)
        todo = [i for i in range(len(rows)) if i not in ready]

        def arrived(j: int, result: Any) -> None:
            i = todo[j]
            outcome = self._keep(rows[i].tobytes(), result)
            meter.add(forward=outcome.forward_passes, backward=outcome.backward_passes)
            if not self.executor_.distributed:  # serial: its metric logits are measurement, not search
                meter.exclude(outcome.measure_s)
            F[i] = outcome.F
            RA[i] = retain_accuracy([outcome.predictions], self.task_.retain.y)[0]
            self._log_partial(F, RA, meter)

        if todo:
            # a fine-tune's time grows with its epochs: on a cluster the longest start first
            epochs = [self._unit_epochs(rows[i], items[i]) for i in todo]
            self.executor_.map(fn, [items[i] for i in todo], shared=(*self.shared_, self._settings()),
                               on_result=arrived, longest_first=epochs)
        return F

    def _unit_epochs(self, row: np.ndarray, item: Any) -> int:
        """Epochs of the fine-tune that ``item`` (of genome ``row``) runs."""
        return decode_genome(row, max_epochs=self.max_epochs)[2]

    def _take_ready(self, ready: dict[int, tuple[Any, dict[str, float]]], rows: np.ndarray, F: np.ndarray,
                    RA: np.ndarray, meter: SpaceMeter) -> None:
        """Record results computed before this run, each at its recorded cumulative cost. They ran before
        this run started, so this run's cost so far (its set-up) is moved after them."""
        so_far = meter.snapshot()
        meter.exclude(so_far["wall_s"])
        last: dict[str, float] = {}
        with meter.paused():
            for i, (result, cost) in sorted(ready.items(), key=lambda item: item[1][1]["wall_s"]):
                outcome = self._keep(rows[i].tobytes(), result)
                F[i] = outcome.F
                RA[i] = retain_accuracy([outcome.predictions], self.task_.retain.y)[0]
                self._log_partial(F, RA, meter, cost=cost)
                last = cost
        meter.resume_from({k: last[k] + so_far[k] for k in so_far})

    def _keep(self, key: bytes, outcome: FineTuneOutcome) -> FineTuneOutcome:
        """Store what an individual's unit returned (its logits); the outcome."""
        self.predictions_[key] = outcome.predictions
        return outcome

    def _log_partial(self, F: np.ndarray, RA: np.ndarray, meter: SpaceMeter,
                     cost: dict[str, float] | None = None) -> None:
        """An anytime row within a generation: what a user stopping now would hold (the previous
        population and the offspring evaluated so far), at ``cost`` (default: the meter's reading)."""
        log = self.generation_log_
        cost = meter.snapshot() if cost is None else cost
        with meter.paused():
            done = ~np.isnan(RA)
            held_F = np.concatenate([self.population_F_, F[done]])
            held_RA = np.concatenate([self.population_RA_, RA[done]])
            log.rows.append({"solver": self.name, "generation": log.generation, **cost,
                             "hv": population_hv(held_F, log.ref_point), **log.utility_hv(held_F, held_RA),
                             "partial": True})

    def _population_ra(self, X: np.ndarray) -> np.ndarray | None:
        preds = [self.predictions_[row.tobytes()] for row in np.asarray(X, dtype=np.float32)]
        return retain_accuracy(preds, self.task_.retain.y)

    def _checkpoint_arrays(self, X: np.ndarray) -> dict[str, np.ndarray]:
        rows = [self.predictions_[row.tobytes()] for row in np.asarray(X, dtype=np.float32)]
        return {f"pred_{split}": np.stack([getattr(p, split).numpy() for p in rows])
                for split in _PREDICTION_SPLITS}

    def _restore_checkpoint_arrays(self, X: np.ndarray, arrays: dict[str, np.ndarray]) -> None:
        import torch

        for i, row in enumerate(np.asarray(X, dtype=np.float32)):
            self.predictions_[row.tobytes()] = Predictions(
                *(torch.from_numpy(arrays[f"pred_{split}"][i].copy()) for split in _PREDICTION_SPLITS))

    def _after_generation(self, X: np.ndarray) -> None:
        keep = {row.tobytes() for row in np.asarray(X, dtype=np.float32)}
        self.predictions_ = {k: v for k, v in self.predictions_.items() if k in keep}

    def _final_metrics(self, X: np.ndarray, task: UnlearningTask,
                       evaluator: MetricEvaluator) -> list[dict[str, float]]:
        predictions = []
        for row in np.asarray(X, dtype=np.float32):
            pred = self.predictions_.get(row.tobytes())
            if pred is None:  # not kept (should not happen): replay the fine-tune
                pred = ls_finetune(task, self.objectives_, row, individual_seed(self.seed, row),
                                   **self._settings()).predictions
            predictions.append(pred)
        return self._score(predictions, evaluator)

    def _rebuild_fields(self) -> dict[str, Any]:
        return {**self._settings(), "objectives": self.objectives_spec_}

    def _point_rebuild_fields(self, genome: np.ndarray) -> dict[str, Any]:
        return {"seed": individual_seed(self.seed, genome)}
