"""The warm LS-settings search: NSGA-II over LS settings, every offspring continuing a survivor's model.

Genome and evaluation
---------------------
The genome is that of :class:`EvolutionaryLSWeights` (w, log10 lr, epochs), with few epochs
(default E = 1). Generation 1 fine-tunes from θ0: an E-epoch sweep over w, uniform draws, or — with
``seed_sweep`` — exactly the LS sweep a user would run (its weights, lr, epochs and the run seed, so its
points are those of :class:`~pareto_unlearn.solvers.LinearScalarization` with the same settings), charged
to this solver like every other generation. When that sweep already ran (``seed_front=``,
as ``explore`` does with its LS sweep's front), generation 1 takes its points at their recorded cost instead
of running it again: the same models, charged what they cost once. From generation 2 on, an offspring's
fine-tune starts from the model of the survivor of the previous generation nearest to it in the genome
box (scaled to [0, 1]), so lineages keep improving along the front at E epochs a generation instead of
restarting from θ0: a population of short LS runs whose weights evolve, selected by NSGA-II's rank and
crowding. An individual is a pure function of (genome, seed, starting parameters), so it can run on a
Dask worker; its model is stored as a flat parameter vector (rebuild kind ``params``), as gradient points
are.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.front import COST_NAMES, Front
from pareto_unlearn.metrics import MetricEvaluator, Predictions, predict
from pareto_unlearn.objectives import Objectives, reference_label
from pareto_unlearn.solvers._jd import LinearScalarization
from pareto_unlearn.solvers._names import LS_WARM_SPACE
from pareto_unlearn.solvers.evolutionary._ls_weights import (
    _PREDICTION_SPLITS,
    EvolutionaryLSWeights,
    FineTuneOutcome,
    _fine_tune_from,
    individual_seed,
)
from pareto_unlearn.solvers.evolutionary._solver import SpaceMeter
from pareto_unlearn.spaces._rebuild import rebuild_from_spec

if TYPE_CHECKING:
    from pareto_unlearn.task import UnlearningTask

__all__ = ["EvolutionaryLSWarm"]

logger = logging.getLogger(__name__)


def _warm_individual_on_worker(task: UnlearningTask, objectives: Objectives, settings: dict[str, Any],
                               item: tuple[np.ndarray, int, np.ndarray | None, dict[str, Any] | None]):
    """One offspring (genome, seed, start params or None): its outcome and its final parameters."""
    genome, seed, start, override = item
    outcome = _fine_tune_from(task, objectives, genome, seed, start=start, override=override, **settings)
    params = outcome.front.arrays[outcome.front.rebuild[0]["array"]]
    outcome.front = None
    return outcome, params


class EvolutionaryLSWarm(EvolutionaryLSWeights):
    """NSGA-II over (w, log10 lr, epochs) of short LS fine-tunes that continue from survivors' models.

    Parameters
    ----------
    max_epochs : int
        E, epochs of one offspring's fine-tune (default 1).
    sweep_start : bool
        Generation 1 as an E-epoch LS sweep over w at the largest lr (default) instead of uniform draws.
    seed_sweep : mapping, optional
        ``{"weights": [...], "lr": float, "epochs": int}``: generation 1 starts with this LS sweep from θ0
        (seeded by the run seed, in the order given), the lever "seed from LS points"; its points keep
        the sweep's lr and epochs, and their genomes are (w, log10 lr clipped to the bounds, E) so that
        offspring near them continue them. At most ``pop_size`` weights; other rows as ``sweep_start``
        says.
    archive : bool
        Keep every non-dominated individual ever evaluated (default); the Front is that archive, and the
        anytime HV within a generation is the archive's with the offspring so far. Otherwise the Front
        is the final population.
    seed_front : Front, optional
        The ``seed_sweep`` run before, as a sweep Front: one LS point per weight, in order, with
        cumulative cost columns (``explore`` passes its ``ls`` front). Generation 1 takes its points
        (the same models the sweep would give again) at their recorded cost instead of running the
        sweep a second time; this run's set-up is charged after them. Its settings must be the
        seed sweep's, else :class:`~pareto_unlearn.exceptions.ConfigError`.
    **kwargs
        See :class:`EvolutionaryLSWeights`.

    Examples
    --------
    >>> solver = EvolutionaryLSWarm(pop_size=10, n_gen=5, seed=0, progress=False)
    >>> front = solver.run(task, objectives)  # doctest: +SKIP
    """

    fixed_space = LS_WARM_SPACE
    rebuild_kind = "params"
    recorded_if_changed: ClassVar[tuple[str, ...]] = ("seed_sweep",)

    def __init__(self, *, max_epochs: int = 1, sweep_start: bool = True, archive: bool = True,
                 seed_sweep: Mapping[str, Any] | None = None, seed_front: Front | None = None,
                 **kwargs: Any) -> None:
        super().__init__(max_epochs=max_epochs, **kwargs)
        self.seed_front = seed_front
        self.sweep_start = sweep_start
        self.archive = archive
        self.seed_sweep = seed_sweep

    def _validate_space(self) -> None:
        super()._validate_space()
        sweep = self.seed_sweep
        if sweep is None:
            return
        owner = "EvolutionaryLSWarm"
        if not isinstance(sweep, Mapping) or set(sweep) != {"weights", "lr", "epochs"}:
            raise ConfigError(f"{owner}: `seed_sweep` must be a mapping with exactly the keys 'weights', "
                              f"'lr' and 'epochs'. Got {sweep!r}.")
        weights = sweep["weights"]
        ok = isinstance(weights, (list, tuple, np.ndarray)) and len(weights) >= 1 and all(
            isinstance(w, (int, float, np.floating)) and 0.0 <= float(w) <= 1.0 for w in weights)
        if not ok or len({float(w) for w in weights}) != len(weights):
            raise ConfigError(f"{owner}: `seed_sweep['weights']` must be distinct numbers in [0, 1]. "
                              f"Got {weights!r}.")
        if len(weights) > self.pop_size:
            raise ConfigError(f"{owner}: `seed_sweep` has {len(weights)} weights but pop_size is "
                              f"{self.pop_size}; raise pop_size (n_offsprings sets the cost of a "
                              "generation).")
        lr = sweep["lr"]
        if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
            raise ConfigError(f"{owner}: `seed_sweep['lr']` must be a finite number > 0. Got {lr!r}.")
        epochs = sweep["epochs"]
        if not (isinstance(epochs, int) and not isinstance(epochs, bool) and epochs >= 1):
            raise ConfigError(f"{owner}: `seed_sweep['epochs']` must be an integer >= 1. Got {epochs!r}.")
        if self.initial is not None:
            raise ConfigError(f"{owner}: give `seed_sweep` or `initial`, not both.")

    def _seed_rows(self) -> np.ndarray:
        """Genomes of the seed sweep's points: (w, log10 lr clipped to the bounds, E)."""
        sweep = self.seed_sweep
        assert sweep is not None  # called only with a seed sweep
        w = np.asarray(sweep["weights"], dtype=float)
        log_lr = float(np.clip(math.log10(float(sweep["lr"])), self.xl_[1], self.xu_[1]))
        return np.stack([w, np.full(len(w), log_lr), np.full(len(w), float(self.max_epochs))], axis=1)

    def _initial_rows(self) -> np.ndarray:
        if self.seed_sweep is None:
            return super()._initial_rows()
        return self._seed_rows()

    def _seed_points(self, front: Front, objectives: Objectives) -> dict[bytes, int]:
        """Genome bytes of each seed row -> its point in ``front``, after checking the front is the seed
        sweep of these settings."""
        owner = "EvolutionaryLSWarm"
        sweep = self.seed_sweep
        if sweep is None:
            raise ConfigError(f"{owner}: `seed_front` continues a seed sweep; set `seed_sweep` to its "
                              "weights, lr and epochs.")
        if not isinstance(front, Front):
            raise ConfigError(f"{owner}: `seed_front` must be a Front. Got {type(front).__name__}.")
        if list(front.objective_names) != list(objectives.names) or len(front) != len(sweep["weights"]):
            raise ConfigError(f"{owner}: `seed_front` must hold one point per seed weight "
                              f"({len(sweep['weights'])}) on the objectives {list(objectives.names)}; it has "
                              f"{len(front)} on {list(front.objective_names)}.")
        ls = LinearScalarization(weight=0.5)
        if (self.momentum, self.weight_decay) != (ls.momentum, ls.weight_decay):
            raise ConfigError(f"{owner}: `seed_front` holds LS points with momentum {ls.momentum} and "
                              f"weight_decay {ls.weight_decay}; this search uses {self.momentum} and "
                              f"{self.weight_decay}. Run the seed sweep instead (no seed_front).")
        reference = reference_label(objectives)
        wall = np.asarray(front.cost["wall_s"], dtype=float)
        for k, w in enumerate(sweep["weights"]):
            provenance, hp = front.provenance[k], front.provenance[k].get("hyperparameters", {})
            expected = {"w": float(w), "lr": float(sweep["lr"]), "epochs": int(sweep["epochs"]),
                        "batch_size": self.batch_size, "seed": self.seed, "reference": reference}
            found = {"w": hp.get("w"), "lr": hp.get("lr"), "epochs": hp.get("epochs"),
                     "batch_size": hp.get("batch_size"), "seed": provenance.get("seed"),
                     "reference": provenance.get("reference")}
            if found != expected or front.rebuild[k].get("kind") != "params":
                raise ConfigError(f"{owner}: point {k} of `seed_front` is not the seed sweep's: it has "
                                  f"{found}, expected {expected} and a stored model (rebuild kind "
                                  "'params').")
        if (np.diff(wall) < 0).any():
            raise ConfigError(f"{owner}: `seed_front`'s cost columns must be cumulative, as a sweep's Front "
                              "has them (the front of explore's LS sweep).")
        return {row.astype(np.float32).tobytes(): k for k, row in enumerate(self._seed_rows())}

    def _ready_seed(self, k: int) -> tuple[tuple[FineTuneOutcome, np.ndarray], dict[str, float]]:
        """Seed point ``k`` of ``seed_front`` as this space's result of a fine-tune, and its recorded cost."""
        front = self.seed_front
        assert front is not None  # seed_points_ is empty without seed_front
        cost = {name: float(front.cost[name][k]) for name in COST_NAMES}
        before = {name: float(front.cost[name][k - 1]) if k else 0.0 for name in COST_NAMES}
        spent = {name: cost[name] - before[name] for name in COST_NAMES}
        outcome = FineTuneOutcome(
            np.asarray(front.F[k], dtype=float).copy(),
            predict(rebuild_from_spec(self.task_, front.rebuild[k], front.arrays), self.task_),
            spent["forward_passes"], spent["backward_passes"], spent["wall_s"], None)
        return (outcome, np.asarray(front.arrays[front.rebuild[k]["array"]], dtype=np.float32).copy()), cost

    def _setup(self, task: UnlearningTask, objectives: Objectives, meter: SpaceMeter) -> None:
        super()._setup(task, objectives, meter)
        front = self.seed_front
        # genome bytes -> the point of seed_front that generation 1 takes instead of fine-tuning again
        self.seed_points_: dict[bytes, int] = {} if front is None else self._seed_points(front, objectives)
        # genome bytes -> the sweep's own lr and epochs, for the seed points of generation 1
        self.seed_overrides_: dict[bytes, dict[str, Any]] = {}
        if self.seed_sweep is not None:
            override = {"lr": float(self.seed_sweep["lr"]), "epochs": int(self.seed_sweep["epochs"])}
            self.seed_overrides_ = {row.astype(np.float32).tobytes(): override for row in self._seed_rows()}
        self.params_: dict[bytes, np.ndarray] = {}
        self.survivors_ = np.zeros((0, self.n_var_), dtype=np.float32)
        # genome bytes -> (genome, objectives, generation born) of every non-dominated individual so far
        self.archive_: dict[bytes, tuple[np.ndarray, np.ndarray, int]] = {}

    def _start_for(self, row: np.ndarray) -> np.ndarray | None:
        """Parameters of the survivor nearest to ``row`` in the scaled genome box (None: θ0)."""
        if not len(self.survivors_):
            return None
        span = self.xu_ - self.xl_
        distance = (((self.survivors_ - row) / span) ** 2).sum(axis=1)
        return self.params_[self.survivors_[int(np.argmin(distance))].tobytes()]

    def _evaluate_population(self, X: np.ndarray, meter: SpaceMeter) -> np.ndarray:
        rows = np.asarray(X, dtype=np.float32)
        first = self.generation_log_.generation == 1
        items, ready = [], {}
        for i, row in enumerate(rows):
            override = self.seed_overrides_.get(row.tobytes()) if first else None
            # a seed point is the sweep's own run: the run seed, as LinearScalarization(seed=seed) uses
            seed = self.seed if override is not None else individual_seed(self.seed, row)
            items.append((row, seed, self._start_for(row), override))
            if first and row.tobytes() in self.seed_points_:
                with meter.paused():  # rebuilding the stored model and its logits is bookkeeping
                    ready[i] = self._ready_seed(self.seed_points_[row.tobytes()])
        F = self._evaluate_individuals(_warm_individual_on_worker, rows, items, meter, ready=ready)
        if self.archive:
            with meter.paused():
                self._update_archive(np.asarray(X, dtype=float), F, self.generation_log_.generation)
                self._hold_archive()  # MOEA/D evaluates a generation's offspring in several calls
        return F

    def _unit_epochs(self, row: np.ndarray, item: Any) -> int:
        override = item[3]  # a seed point trains at its sweep's epochs
        return int(override["epochs"]) if override is not None else super()._unit_epochs(row, item)

    # its unit returns the outcome and the final parameters (_warm_individual_on_worker)
    def _keep(self, key: bytes, result: tuple[FineTuneOutcome, np.ndarray]) -> FineTuneOutcome:  # type: ignore[override]
        outcome, params = result
        self.params_[key] = params
        return super()._keep(key, outcome)

    def _update_archive(self, X: np.ndarray, F: np.ndarray, generation: int) -> None:
        """Add the evaluated individuals and keep the non-dominated ones (pymoo's sorting)."""
        from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

        for x, f in zip(X, F):
            if np.isfinite(f).all():
                self.archive_.setdefault(x.astype(np.float32).tobytes(), (x.copy(), f.copy(), generation))
        keys = list(self.archive_)
        front = NonDominatedSorting().do(np.stack([self.archive_[k][1] for k in keys]),
                                         only_non_dominated_front=True)
        self.archive_ = {keys[i]: self.archive_[keys[i]] for i in sorted(front)}

    def _held_keys(self) -> set[bytes]:
        return {row.tobytes() for row in self.survivors_} | set(self.archive_)

    def _perturbed_rows(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """With ``sweep_start``, generation 1 is an LS sweep: weights evenly spread over [0, 1] at the
        largest lr and E epochs (the lever "seed from LS points"; it is this solver's own first generation,
        charged to it); otherwise uniform draws in the box."""
        if not self.sweep_start:
            return super()._perturbed_rows(n, rng)
        rows = np.empty((n, 3))
        rows[:, 0] = (np.arange(n) + 0.5) / n
        rows[:, 1] = self.xu_[1]
        rows[:, 2] = self.max_epochs
        return rows

    def _after_generation(self, X: np.ndarray) -> None:
        self.survivors_ = np.asarray(X, dtype=np.float32).copy()
        keep = self._held_keys()
        self.params_ = {k: v for k, v in self.params_.items() if k in keep}
        self.predictions_ = {k: v for k, v in self.predictions_.items() if k in keep}
        self._hold_archive()

    def _hold_archive(self) -> None:
        """With the archive, what the run holds (and offspring are measured against) is the archive."""
        if self.archive and self.archive_:
            archive = list(self.archive_.values())
            self.population_F_ = np.stack([f for _, f, _ in archive])
            self.population_RA_ = self._population_ra(np.stack([x for x, _, _ in archive]))

    def _final_population(self, X: np.ndarray, F: np.ndarray, born: np.ndarray):
        if not (self.archive and self.archive_):
            return X, F, born
        archive = list(self.archive_.values())
        return (np.stack([x for x, _, _ in archive]), np.stack([f for _, f, _ in archive]),
                np.array([g for _, _, g in archive], dtype=int))

    def _checkpoint_arrays(self, X: np.ndarray) -> dict[str, np.ndarray]:
        keys = sorted(self._held_keys())
        held = {"held_X": np.stack([np.frombuffer(k, dtype=np.float32) for k in keys]),
                "params": np.stack([self.params_[k] for k in keys]),
                **{f"pred_{split}": np.stack([getattr(self.predictions_[k], split).numpy() for k in keys])
                   for split in _PREDICTION_SPLITS}}
        archive = list(self.archive_.values())
        if archive:
            held.update(archive_X=np.stack([x for x, _, _ in archive]),
                        archive_F=np.stack([f for _, f, _ in archive]),
                        archive_born=np.array([g for _, _, g in archive], dtype=np.int64))
        return held

    def _restore_checkpoint_arrays(self, X: np.ndarray, arrays: dict[str, np.ndarray]) -> None:
        import torch

        for i, row in enumerate(arrays["held_X"]):
            key = row.astype(np.float32).tobytes()
            self.params_[key] = arrays["params"][i].copy()
            self.predictions_[key] = Predictions(
                *(torch.from_numpy(arrays[f"pred_{split}"][i].copy()) for split in _PREDICTION_SPLITS))
        self.archive_ = {x.astype(np.float32).tobytes(): (x.copy(), f.copy(), int(g)) for x, f, g in zip(
            arrays.get("archive_X", []), arrays.get("archive_F", []), arrays.get("archive_born", []))}
        self.survivors_ = np.asarray(X, dtype=np.float32).copy()

    def _final_metrics(self, X: np.ndarray, task: UnlearningTask,
                       evaluator: MetricEvaluator) -> list[dict[str, float]]:
        return self._score([self.predictions_[row.tobytes()] for row in np.asarray(X, dtype=np.float32)],
                           evaluator)

    def _front(self, X: np.ndarray, F: np.ndarray, born: np.ndarray, metrics: list[dict[str, float]],
               cost: dict[str, float], objectives: Objectives, task: UnlearningTask,
               anytime: list[dict[str, Any]]):
        front = super()._front(X, F, born, metrics, cost, objectives, task, anytime)
        if self.seed_points_:  # generation 1 was a sweep that ran before this run, charged its cost
            for provenance in front.provenance:
                provenance["seed_sweep_from"] = "seed_front"
        for i, row in enumerate(np.asarray(X, dtype=np.float32)):
            key = f"{self.space_name}.p{i}"
            front.arrays[key] = self.params_[row.tobytes()]
            front.rebuild[i] = {"kind": "params", "array": key}
        return front
