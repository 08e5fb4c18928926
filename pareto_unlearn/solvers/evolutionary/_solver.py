"""What the three NSGA-II solvers share: the pymoo problem wrapper, the per-generation log, the cost
meter, a FLOP counter for cached-suffix passes, and the base class that runs pymoo and builds the Front.

A space subclass sets up its caches (``_setup``), evaluates a population ``X`` [P, n_var] to true
objective values [P, m] (``_evaluate_population``), draws its perturbed initial rows
(``_perturbed_rows``), scores the final population (``_final_metrics``) and says how to rebuild a point
(``_rebuild_fields``). Everything else is here.
"""

from __future__ import annotations

import copy
import logging
import math
import numbers
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np
import torch
from pymoo.core.callback import Callback
from pymoo.core.problem import Problem
from pymoo.operators.crossover.sbx import SBX
from tqdm.auto import tqdm

from pareto_unlearn._io import sha256_bytes
from pareto_unlearn.checkpoint import StateCheckpoint, preserved_rng_states, restore_rng_states, rng_states
from pareto_unlearn.distributed import make_executor
from pareto_unlearn.exceptions import CacheError, ConfigError
from pareto_unlearn.front import COST_NAMES, Front
from pareto_unlearn.indicators import UTILITY_MARGIN, hv_reference_point
from pareto_unlearn.metrics import MetricEvaluator, Predictions
from pareto_unlearn.metrics._metrics import _accuracy
from pareto_unlearn.objectives import Objectives, reference_label
from pareto_unlearn.solvers._base import Solver
from pareto_unlearn.solvers._cost import CostMeter
from pareto_unlearn.solvers._names import ALGORITHMS, MOEAD, NSDE, NSGA2, NSGA3, SMS_EMOA, evolutionary_name
from pareto_unlearn.solvers.evolutionary._operators import SeededDEX
from pareto_unlearn.spaces._space import BoundSpace, SearchSpace

if TYPE_CHECKING:
    from pymoo.core.algorithm import Algorithm

    from pareto_unlearn.task import UnlearningTask

__all__ = ["EvolutionarySolver", "SpaceMeter", "SpaceProblem", "population_hv",
           "rank_penalty", "PENALTY"]

logger = logging.getLogger(__name__)

# Per-individual pymoo state saved in a checkpoint (the rest of an Individual is empty for this problem).
_POP_FLOAT_KEYS = ("X", "F", "G", "H", "CV", "F_true", "crowding")
_POP_INT_KEYS = ("rank", "n_gen", "n_iter")

# pymoo algorithms a space can run: ALGORITHMS (NSGA-II by default; SMS-EMOA measured better on the warm
# LS-settings search).
MOEAD_NEIGHBORS = 5  # subproblems a MOEA/D parent is drawn from and an offspring may replace

# Value given to NaN / inf objectives for pymoo's ranking only; the Front keeps the true values.
PENALTY = 1e30


class SpaceMeter(CostMeter):
    """A :class:`CostMeter` that can also leave out seconds measured elsewhere (metrics captured inside a
    per-individual fine-tune, which only that run can time)."""

    def exclude(self, seconds: float) -> None:
        """Do not charge ``seconds`` of wall-clock already spent (measurement, not the solver's work)."""
        self._paused += max(0.0, float(seconds))

    def resume_from(self, snapshot: dict[str, float]) -> None:
        """Continue the count of a run that stopped at ``snapshot`` (a checkpoint's cost)."""
        self._paused -= float(snapshot["wall_s"])
        self.forward_passes = float(snapshot["forward_passes"])
        self.backward_passes = float(snapshot["backward_passes"])


def rank_penalty(F: np.ndarray) -> tuple[np.ndarray, int]:
    """``F`` [P, m] with non-finite entries replaced by :data:`PENALTY`, and the number of rows hit."""
    F = np.asarray(F, dtype=float)
    bad = ~np.isfinite(F)
    if not bad.any():
        return F, 0
    F_rank = F.copy()
    F_rank[bad] = PENALTY
    return F_rank, int(bad.any(axis=1).sum())


def population_hv(F: np.ndarray, ref_point: np.ndarray) -> float:
    """HV (pymoo) of the feasible rows of ``F`` [P, m] strictly inside the box of ``ref_point``; 0 if none."""
    from pymoo.indicators.hv import HV

    F = np.asarray(F, dtype=float)
    inside = np.isfinite(F).all(axis=1) & (F < ref_point).all(axis=1)
    if not inside.any():
        return 0.0
    return float(HV(ref_point=np.asarray(ref_point, dtype=float))(F[inside]))


class SpaceProblem(Problem):
    """A vectorised pymoo problem: the whole population in one call to ``evaluate_population``.

    ``out["F"]`` holds the values pymoo ranks (non-finite ones replaced by :data:`PENALTY`) and
    ``out["F_true"]`` the true ones, which the population carries to the Front.
    """

    def __init__(self, evaluate_population: Callable[[np.ndarray], np.ndarray], *, n_var: int, n_obj: int,
                 xl: np.ndarray, xu: np.ndarray, owner: str) -> None:
        super().__init__(n_var=n_var, n_obj=n_obj, xl=xl, xu=xu)
        self.evaluate_population = evaluate_population
        self.owner = owner

    def _evaluate(self, X: np.ndarray, out: dict[str, Any], *args, **kwargs):
        F_true = np.asarray(self.evaluate_population(np.asarray(X)), dtype=float)
        F_rank, n_bad = rank_penalty(F_true)
        if n_bad:
            logger.warning("%s: %d of %d individuals have NaN or inf objectives; they are ranked last and "
                           "kept as infeasible points", self.owner, n_bad, len(F_true))
        out["F"] = F_rank
        out["F_true"] = F_true


def retain_accuracy(predictions: Sequence, y: torch.Tensor) -> np.ndarray:
    """RA (%) of each point from its logits on D_r (the utility test of HV@utility)."""
    return np.array([_accuracy(p.retain, y) for p in predictions])


class _GenerationLog(Callback):
    """Logs, after every generation, the cumulative cost, the HV of what the solver holds (its population,
    or its archive) and its HV@utility (points with RA >= ``ra_min``) when the space can tell RA cheaply
    (``front.anytime``)."""

    def __init__(self, solver: EvolutionarySolver, meter: SpaceMeter, ref_point: np.ndarray, bar: tqdm,
                 ra_min: float | None = None) -> None:
        super().__init__()
        self.solver = solver
        self.meter = meter
        self.ref_point = ref_point
        self.bar = bar
        self.ra_min = ra_min
        self.rows: list[dict[str, Any]] = []
        self.completed = 0  # whole generations logged (rows also hold partial ones)

    @property
    def generation(self) -> int:
        """The generation being evaluated now."""
        return self.completed + 1

    def utility_hv(self, F: np.ndarray, ra: np.ndarray | None) -> dict[str, float]:
        if ra is None or self.ra_min is None:
            return {}
        return {"hv_utility": population_hv(np.asarray(F)[np.asarray(ra) >= self.ra_min], self.ref_point)}

    def notify(self, algorithm: Algorithm) -> None:
        cost = self.meter.snapshot()
        with self.meter.paused():
            self.solver._hold(algorithm.pop.get("X"), algorithm.pop.get("F_true"))
            F, ra = self.solver.population_F_, self.solver.population_RA_
            hv = population_hv(F, self.ref_point)
            row = {"solver": self.solver.name, "generation": int(algorithm.n_gen), **cost, "hv": hv,
                   **self.utility_hv(F, ra)}
            self.rows.append(row)
            self.completed += 1
            self.bar.update(1)
            self.bar.set_postfix(hv=f"{hv:.4g}")


def _missing(values: np.ndarray, fill: float) -> np.ndarray:
    """``values`` (a population attribute, object dtype when unset) with None replaced by ``fill``."""
    values = np.asarray(values)
    if values.dtype != object:
        return values
    return np.array([fill if v is None else v for v in values.reshape(-1)])


def _normalization_state(algorithm: Algorithm) -> dict[str, Any] | None:
    """NSGA-III's normalisation: the best and worst values and extreme points seen so far, which its next
    survival starts from (None for the other algorithms)."""
    norm = getattr(getattr(algorithm, "survival", None), "norm", None)
    if norm is None:
        return None
    return {key: None if getattr(norm, key) is None else np.asarray(getattr(norm, key)).tolist()
            for key in ("ideal_point", "worst_point", "nadir_point", "extreme_points")}


def _restore_normalization(algorithm: Algorithm, state: dict[str, Any]) -> None:
    survival = algorithm.survival
    for key, value in state.items():
        setattr(survival.norm, key, None if value is None else np.asarray(value, dtype=float))
    # the survivors' first front: what NSGA-III reports as its optimum (no effect on the search)
    rank = np.asarray(_missing(algorithm.pop.get("rank"), -1))
    survival.opt = algorithm.pop[np.flatnonzero(rank == 0)]


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class EvolutionarySolver(Solver):
    """Base of the NSGA-II solvers: configure in the constructor, call :meth:`run`.

    Parameters
    ----------
    pop_size : int
        Population size (>= 2).
    n_gen : int
        Number of generations (the initial population is generation 1).
    seed : int
        Seeds pymoo's generator and the initial rows; the same seed gives the same front.
    progress : bool
        tqdm bar over generations.
    space : SearchSpace
        The space searched: :class:`~pareto_unlearn.spaces.LastLayerSpace`,
        :class:`~pareto_unlearn.spaces.LoRASpace` (or any :class:`~pareto_unlearn.spaces.SearchSpace`);
        the LS-settings searches (:class:`EvolutionaryLSWeights`, :class:`EvolutionaryLSWarm`) bring their
        own.
    initial : array-like [k, n_var] or None
        Genomes to put in the initial population (k <= pop_size); the rest are the space's perturbed rows.
    population_chunks : int
        > 1 splits every population into that many pieces, evaluated one after another, or on the workers
        of a Dask ``executor`` (for large models). The pieces are the same either way, so a serial and a
        Dask run agree exactly; a different number of pieces can move objectives by float32 rounding
        (about 1e-6), since the batched products change shape.
    crossover_eta, crossover_prob, mutation_eta : float
        SBX and polynomial-mutation settings (pymoo's NSGA-II defaults: 15, 0.9, 20).
    de_f, de_cr : float
        NSDE's differential-evolution settings: the scale F of the difference vector (0 < F <= 2) and
        the binomial crossover rate CR (in [0, 1]); the other algorithms do not read them.
    n_offsprings : int, optional
        Offspring per generation (pymoo's ``n_offsprings``; default ``pop_size``). Fewer than
        ``pop_size`` makes survival more frequent per evaluation (closer to steady state).
    algorithm : {"nsga2", "sms-emoa", "moead", "nsga3", "nsde"}
        pymoo's NSGA-II (rank and crowding survival, the default), SMS-EMOA (survival by least
        hypervolume contribution), MOEA/D (one Tchebycheff subproblem per individual along its reference
        direction, one offspring per subproblem a generation, so ``n_offsprings`` does not apply) or
        NSGA-III (rank, then niches along at most ``pop_size`` reference directions in place of
        crowding: made for three objectives and more), with the same operators (directions: see
        ``_directions``); or NSDE: NSGA-II's selection and survival with differential-evolution
        variation in place of SBX (pymoo's ``DEX``, DE/rand/1/bin: a tournament winner plus ``de_f``
        times the difference of two others, on a ``de_cr`` share of the genes, then the same polynomial
        mutation). DE's steps scale with the population's own spread, which SBX's do not: in the
        52-dimensional ``lora-act`` genome it reached the front's far end in fewer generations
        (docs/fair_comparison.md). The solver's name is ``{algorithm}-{space}``
        (``solvers._names.evolutionary_name``).
    ref_point : array-like [m], optional
        HV reference point of the per-generation log; default ``hv_reference_point(task, objectives)``.
    seeded : bool
        Continue a gradient sweep of the same space: the non-dominated genomes of ``seed_front`` (up to
        ``pop_size``) open the initial population, its cost is charged first and its anytime log starts
        this one's; the name gains ``-seeded``.
    seed_front : Front, optional
        What ``seeded`` continues: a Front of points of this space with cumulative cost columns (explore
        passes the seeding sweep's front).
    """

    family = "evolutionary"
    fixed_space = ""  # the space is given (the LS-settings searches bring their own)
    rebuild_kind = "none"
    # a point's hyperparameters: the constructor's parameters (the space's own flattened in) but these
    unrecorded: ClassVar[tuple[str, ...]] = ("seed", "progress", "initial", "ref_point", "seeded",
                                             "seed_front")
    recorded_if_changed: ClassVar[tuple[str, ...]] = ("n_offsprings", "algorithm", "population_chunks",
                                                      "space", "de_f", "de_cr")
    _JITTER = 0.05  # spread of the rows re-drawn when two initial rows collide (spaces without their own)
    # set by _setup (annotations only: no class attribute)
    n_var_: int
    xl_: np.ndarray
    xu_: np.ndarray
    evaluator_: Any

    def __init__(self, *, space: SearchSpace | None = None, pop_size: int = 40, n_gen: int = 30,
                 seed: int = 0, progress: bool = True, initial: Any = None, crossover_eta: float = 15.0,
                 crossover_prob: float = 0.9, mutation_eta: float = 20.0,
                 n_offsprings: int | None = None, algorithm: str = NSGA2, de_f: float = 0.5,
                 de_cr: float = 0.9, population_chunks: int = 1,
                 ref_point: Sequence[float] | np.ndarray | None = None, seeded: bool = False,
                 seed_front: Front | None = None) -> None:
        self.space = space
        self.seeded = seeded
        self.seed_front = seed_front
        self.population_chunks = population_chunks
        self.pop_size = pop_size
        self.n_offsprings = n_offsprings
        self.algorithm = algorithm
        self.de_f = de_f
        self.de_cr = de_cr
        self.ref_point = ref_point
        self.n_gen = n_gen
        self.seed = seed
        self.progress = progress
        self.initial = initial
        self.crossover_eta = crossover_eta
        self.crossover_prob = crossover_prob
        self.mutation_eta = mutation_eta

    @property
    def name(self) -> str:  # type: ignore[override]  # read-only here; Solver.name is a plain attribute
        """``{algorithm}-{space}``: the front says which algorithm searched which space."""
        return evolutionary_name(self.algorithm, self.space_name, seeded=self.seeded)

    # -- what subclasses provide ------------------------------------------------------------------
    # -- what a space provides (the LS-settings searches override these) ----------------------------
    def _validate_space(self) -> None:
        """Check the space's own settings (called before anything runs)."""
        if self.space is None or not isinstance(self.space, SearchSpace):
            raise ConfigError(f"{type(self).__name__}: `space` must be a SearchSpace such as "
                              f"LastLayerSpace() or LoRASpace(). Got {self.space!r}.")
        self.space.validate()
        if not (_is_int(self.population_chunks) and self.population_chunks >= 1):
            raise ConfigError(f"{type(self).__name__}: `population_chunks` must be an integer >= 1. "
                              f"Got {self.population_chunks!r}.")

    def _setup(self, task: UnlearningTask, objectives: Objectives, meter: SpaceMeter) -> None:
        """Bind the space (its caching is charged to the solver's cost); set ``n_var_``, ``xl_``, ``xu_``."""
        assert self.space is not None
        self.evaluator_ = self.space.bind(task, objectives)
        meter.add(forward=self.evaluator_.setup_passes)
        self.n_var_ = self.evaluator_.n_var
        self.xl_, self.xu_ = -np.ones(self.n_var_), np.ones(self.n_var_)

    def _evaluate_population(self, X: np.ndarray, meter: SpaceMeter) -> np.ndarray:
        """True objective values [P, m] of the genomes ``X`` [P, n_var], charged as passes through the
        space's uncached suffix."""
        if self.population_chunks == 1:
            F = self.evaluator_.evaluate(X)
        else:
            if not hasattr(self, "shared_evaluator_"):
                with meter.paused():  # sending the cached activations once is set-up
                    self.shared_evaluator_ = self.executor_.share(self.evaluator_)
            pieces = [p for p in np.array_split(np.asarray(X), self.population_chunks) if len(p)]
            F = np.concatenate(self.executor_.map(_evaluate_piece, pieces, shared=self.shared_evaluator_))
        meter.add(forward=len(X) * self.evaluator_.n_rows * self.evaluator_.suffix_fraction_)
        return F

    def _perturbed_rows(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` distinct genomes around θ0 (row 0 of the space is θ0 itself)."""
        assert self.space is not None
        return self.space.initial_rows(self.evaluator_, n, rng)

    def _final_metrics(self, X: np.ndarray, task: UnlearningTask,
                       evaluator: MetricEvaluator) -> list[dict[str, float]]:
        return self._score(self.evaluator_.predictions(X), evaluator)

    def _score(self, predictions: Sequence, evaluator: MetricEvaluator) -> list[dict[str, float]]:
        """``evaluator.from_predictions`` of each point's logits: here, or on the workers of a Dask run
        (the M̃IA fits of the final population are most of the client's own work; the evaluator is sent
        once, and each worker computes the same numbers as this process would)."""
        # Other evaluators may record what they see (PredictionRecorder): they run here.
        if not (self.executor_.distributed and type(evaluator) is MetricEvaluator and len(predictions) > 1):
            return [evaluator.from_predictions(p) for p in predictions]
        _ = evaluator.target_  # θ0's part, computed once here rather than once per worker
        shared = self.executor_.share(evaluator)
        return self.executor_.map(_score_on_worker, list(predictions), shared=shared)

    def _rebuild_kind(self) -> str:
        return self.space.rebuild_kind if self.space is not None else self.rebuild_kind

    def _rebuild_fields(self) -> dict[str, Any]:
        """JSON-able fields (besides ``kind`` and ``array``) the rebuilder needs."""
        return self.evaluator_.rebuild_fields()

    def _point_rebuild_fields(self, genome: np.ndarray) -> dict[str, Any]:
        return {}

    def _after_generation(self, X: np.ndarray) -> None:
        """Hook called after each generation with the surviving population's genomes."""

    def _hold(self, X: np.ndarray, F: np.ndarray) -> None:
        """After a generation: hold the survivors ``X`` and their true objectives ``F`` (and RA) as what
        the solver has now; a space with an archive puts the archive's F and RA there instead."""
        self.population_F_ = np.asarray(F, dtype=float)
        self.population_RA_ = self._population_ra(X)
        self._after_generation(X)

    def _population_ra(self, X: np.ndarray) -> np.ndarray | None:
        """RA (%) of the genomes ``X`` when it is cheap to tell (for the anytime HV@utility), else None."""
        return retain_accuracy(self.evaluator_.predictions(np.asarray(X)), self.evaluator_.task.retain.y)

    def _final_population(self, X: np.ndarray, F: np.ndarray, born: np.ndarray):
        """The points the Front holds: the final population (a space with an archive returns that)."""
        return X, F, born

    # -- validation -------------------------------------------------------------------------------
    def _validate(self) -> None:
        owner = type(self).__name__
        if not (_is_int(self.pop_size) and self.pop_size >= 2):
            raise ConfigError(f"{owner}: `pop_size` must be an integer >= 2. Got {self.pop_size!r}.")
        if not (_is_int(self.n_gen) and self.n_gen >= 1):
            raise ConfigError(f"{owner}: `n_gen` must be an integer >= 1. Got {self.n_gen!r}.")
        if self.algorithm not in ALGORITHMS:
            raise ConfigError(f"{owner}: `algorithm` must be one of {', '.join(ALGORITHMS)}. "
                              f"Got {self.algorithm!r}.")
        if self.algorithm == MOEAD and self.n_offsprings is not None:
            raise ConfigError(f"{owner}: MOEA/D makes one offspring per subproblem a generation; leave "
                              f"`n_offsprings` out (got {self.n_offsprings!r}).")
        if self.n_offsprings is not None and not (_is_int(self.n_offsprings) and self.n_offsprings >= 1):
            raise ConfigError(f"{owner}: `n_offsprings` must be an integer >= 1 or None. "
                              f"Got {self.n_offsprings!r}.")
        if not (_is_int(self.seed) and self.seed >= 0):
            raise ConfigError(f"{owner}: `seed` must be a non-negative integer. Got {self.seed!r}.")
        for key in ("crossover_eta", "mutation_eta"):
            value: float = getattr(self, key)
            if not (isinstance(value, numbers.Real) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"{owner}: `{key}` must be a finite number >= 0. Got {value!r}.")
        if not (isinstance(self.crossover_prob, numbers.Real) and 0 <= cast(float, self.crossover_prob) <= 1):
            raise ConfigError(f"{owner}: `crossover_prob` must be in [0, 1]. Got {self.crossover_prob!r}.")
        if not (isinstance(self.de_f, numbers.Real) and 0 < cast(float, self.de_f) <= 2):
            raise ConfigError(f"{owner}: `de_f` (DE's scale factor) must be in (0, 2]. Got {self.de_f!r}.")
        if not (isinstance(self.de_cr, numbers.Real) and 0 <= cast(float, self.de_cr) <= 1):
            raise ConfigError(f"{owner}: `de_cr` (DE's crossover rate) must be in [0, 1]. "
                              f"Got {self.de_cr!r}.")
        self._validate_space()

    def _crossover(self) -> Any:
        """The variation operator: pymoo's DE crossover for NSDE (three parents, one child), else SBX."""
        if self.algorithm == NSDE:
            return SeededDEX(F=self.de_f, CR=self.de_cr)
        return SBX(eta=self.crossover_eta, prob=self.crossover_prob)

    def _initial_rows(self) -> np.ndarray:
        """The user's ``initial`` genomes, checked and clipped to the bounds."""
        owner = type(self).__name__
        if self.initial is None:
            return np.zeros((0, self.n_var_))
        rows = np.asarray(self.initial, dtype=float)
        if rows.ndim == 1:
            rows = rows.reshape(1, -1)
        if rows.ndim != 2 or rows.shape[1] != self.n_var_:
            raise ConfigError(f"{owner}: `initial` must be an array [k, {self.n_var_}] of genomes of this "
                              f"space. Found shape {rows.shape}.")
        if len(rows) > self.pop_size:
            raise ConfigError(f"{owner}: `initial` has {len(rows)} rows but pop_size is {self.pop_size}.")
        if not np.isfinite(rows).all():
            raise ConfigError(f"{owner}: `initial` has NaN or inf entries.")
        clipped = np.clip(rows, self.xl_, self.xu_)
        n_out = int((clipped != rows).sum())
        if n_out:
            logger.warning("%s: %d entries of `initial` lie outside the genome bounds and were clipped; "
                           "a larger `scale` keeps them", owner, n_out)
        unique = np.unique(clipped, axis=0)
        if len(unique) < len(clipped):
            raise ConfigError(f"{owner}: `initial` has duplicate rows (after clipping to the bounds); "
                              "pymoo would drop them.")
        return clipped

    def _seed_cost(self) -> dict[str, float]:
        """What the seed sweep cost: the largest of each cumulative cost column of ``seed_front``."""
        front = self.seed_front
        if not isinstance(front, Front) or not len(front):
            raise ConfigError(f"{self.name}: `seeded` continues a gradient sweep of the same space; give its "
                              f"Front as `seed_front` (explore passes it). Got {front!r}.")
        return {name: float(np.nanmax(np.asarray(front.cost[name], dtype=float))) for name in COST_NAMES}

    def _seed_rows(self) -> np.ndarray:
        """The genomes of ``seed_front`` that open the population: its non-dominated points first, distinct,
        at most ``pop_size``."""
        front = self.seed_front
        assert front is not None
        kinds = {spec.get("kind") for spec in front.rebuild}
        if kinds != {self._rebuild_kind()}:
            raise ConfigError(f"{self.name}: `seed_front` must hold points of the {self.space_name} space "
                              f"(rebuild kind {self._rebuild_kind()!r}); it holds {sorted(map(str, kinds))}")
        order = np.argsort(~front.nondominated(), kind="stable")
        rows = np.stack([np.asarray(front.arrays[front.rebuild[i]["array"]], dtype=float) for i in order])
        if rows.shape[1] != self.n_var_:
            raise ConfigError(f"{self.name}: `seed_front`'s genomes have {rows.shape[1]} values; this space "
                              f"has {self.n_var_}")
        _, first = np.unique(np.clip(rows, self.xl_, self.xu_), axis=0, return_index=True)
        return np.clip(rows[np.sort(first)], self.xl_, self.xu_)[: self.pop_size]

    def initial_population(self, rng: np.random.Generator) -> np.ndarray:
        """``pop_size`` distinct rows: the user's ``initial`` genomes first, then perturbed rows around θ0."""
        user = self._initial_rows()
        if self.seeded:
            seeds = self._seed_rows()
            fresh = [r for r in seeds if not any(np.array_equal(r, u) for u in user)]
            user = np.concatenate([user, np.asarray(fresh).reshape(-1, self.n_var_)])[: self.pop_size]
        n_more = self.pop_size - len(user)
        extra = np.clip(self._perturbed_rows(max(n_more, 1), rng), self.xl_, self.xu_)[:n_more]
        X = np.concatenate([user, extra])
        for _ in range(10):  # collisions are measure-zero; re-draw any that happen
            _, first = np.unique(X, axis=0, return_index=True)
            dup = np.setdiff1d(np.arange(len(X)), first)
            if not len(dup):
                break
            sigma = getattr(self.space, "init_sigma", self._JITTER)
            jitter = rng.normal(0.0, max(sigma, 1e-3), X[dup].shape)
            X[dup] = np.clip(X[dup] + jitter, self.xl_, self.xu_)
        return X

    # -- the run ----------------------------------------------------------------------------------
    def run(self, task: UnlearningTask, objectives: Objectives, *, evaluator: MetricEvaluator | None = None,
            executor: Any = None, checkpoint: str | os.PathLike | None = None,
            progress: bool | None = None) -> Front:
        """Run the search from θ0 and return the final population as a Front (θ0 is never modified).

        The caller's global RNG states (``random``, NumPy's, torch's) are given back on return, also after
        a resumed run that put a checkpoint's states in place (:func:`preserved_rng_states`). See
        :meth:`_run` for the parameters.
        """
        with preserved_rng_states():
            return self._run(task, objectives, evaluator=evaluator, executor=executor, checkpoint=checkpoint,
                             progress=progress)

    def _run(self, task: UnlearningTask, objectives: Objectives, *, evaluator: MetricEvaluator | None = None,
             executor: Any = None, checkpoint: str | os.PathLike | None = None,
             progress: bool | None = None) -> Front:
        """Run NSGA-II from θ0 and return the final population as a Front (θ0 is never modified).

        Parameters
        ----------
        task : UnlearningTask
        objectives : Objectives
        evaluator : MetricEvaluator, optional
            Scores the final points; built from ``task`` when not given.
        executor : dask.distributed.Client or executor, optional
            Runs the space's independent units (per-individual fine-tunes, population chunks) on the
            cluster; the front is the one a serial run with the same torch thread count gives.
        checkpoint : path, optional
            Folder for the state after every generation (population, objectives, RNG states, cost). When
            it holds a state of the same settings, the run continues from it to the same final front.

        Returns
        -------
        Front
            One point per individual of the final population, with ``anytime`` filled per generation.
        """
        from pymoo.algorithms.moo.nsga2 import NSGA2
        from pymoo.operators.mutation.pm import PM

        self._validate()
        for attr in [a for a in vars(self) if a.endswith("_") and not a.startswith("_")]:
            delattr(self, attr)  # a second run starts clean
        meter = SpaceMeter()
        if self.seeded:  # the sweep it continues was paid first
            meter.resume_from(self._seed_cost())
        with meter.paused():
            evaluator = evaluator or MetricEvaluator(task)
            ref = self._ref_point(task, objectives, self.ref_point)
        self.executor_ = make_executor(executor)
        self._setup(task, objectives, meter)
        rng = np.random.default_rng([self.seed, 20250])
        X0 = self.initial_population(rng)
        self.initial_population_ = X0.copy()
        self.n_evaluated_ = 0

        def evaluate(X: np.ndarray) -> np.ndarray:
            self.n_evaluated_ += len(X)
            return self._evaluate_population(X, meter)

        problem = SpaceProblem(evaluate, n_var=self.n_var_, n_obj=len(objectives), xl=self.xl_,
                               xu=self.xu_, owner=self.name)
        operators = {"pop_size": self.pop_size, "n_offsprings": self.n_offsprings, "sampling": X0,
                     "eliminate_duplicates": True, "crossover": self._crossover(),
                     "mutation": PM(eta=self.mutation_eta)}
        if self.algorithm == SMS_EMOA:
            from pymoo.algorithms.moo.sms import SMSEMOA

            algorithm = SMSEMOA(**operators)
        elif self.algorithm == MOEAD:
            from pymoo.algorithms.moo.moead import MOEAD as PymooMOEAD

            algorithm = PymooMOEAD(self._directions(len(objectives)),
                              n_neighbors=min(self.pop_size, MOEAD_NEIGHBORS),
                              **{k: operators[k] for k in ("sampling", "crossover", "mutation")})
        elif self.algorithm == NSGA3:
            from pymoo.algorithms.moo.nsga3 import NSGA3 as PymooNSGA3

            algorithm = PymooNSGA3(self._directions(len(objectives)), **operators)
        else:  # NSGA-II, and NSDE (NSGA-II with the DE crossover of ``_crossover``)
            algorithm = NSGA2(**operators)
        self.algorithm_ = algorithm
        show = self.progress if progress is None else progress
        bar = tqdm(total=self.n_gen, desc=self.name, disable=not show, leave=False)
        with meter.paused():  # HV@utility's RA bar; evaluators that compute no metrics have no θ0 RA
            original = getattr(evaluator, "original_", None)
            ra_min = None if original is None else float(original["RA"]) - UTILITY_MARGIN
        log = _GenerationLog(self, meter, ref, bar, ra_min=ra_min)
        if self.seeded:  # the anytime log starts as the seed sweep's own
            assert self.seed_front is not None
            log.rows.extend({**row, "solver": self.name, "generation": 0} for row in self.seed_front.anytime)
        self.generation_log_ = log
        self.population_F_ = np.zeros((0, len(objectives)))
        self.population_RA_ = np.zeros(0)
        algorithm.setup(problem, termination=("n_gen", self.n_gen), seed=self.seed, callback=log,
                        verbose=False)
        store = None
        if checkpoint is not None:
            store = StateCheckpoint(checkpoint, self._fingerprint(task, objectives, X0))
        done = self._resume(store, algorithm, meter, log) if store is not None else 0
        self.resumed_from_ = done
        try:
            # pymoo's callback (the generation log) counts the generations: step until it has logged them
            # all, saving the state after each one it logs
            while log.completed < self.n_gen:
                algorithm.next()
                if store is not None and log.completed > done:
                    done = log.completed
                    with meter.paused():
                        self._save_checkpoint(store, algorithm, done, meter, log)
        finally:
            bar.close()
        pop = algorithm.pop
        X, F, born = self._final_population(np.asarray(pop.get("X"), dtype=float),
                                            np.asarray(pop.get("F_true"), dtype=float),
                                            np.asarray(pop.get("n_gen"), dtype=int).reshape(-1))
        cost = meter.snapshot()
        with meter.paused():
            metrics = self._final_metrics(X, task, evaluator)
        self.anytime_ = log.rows
        return self._front(X, F, born, metrics, cost, objectives, task, log.rows)

    def _directions(self, n_obj: int) -> np.ndarray:
        """Reference directions: MOEA/D's subproblems (exactly one per individual) or NSGA-III's niches
        (at most one per individual).

        Das-Dennis's evenly spaced directions where their count fits; otherwise (MOEA/D, three objectives
        and more) pymoo's Riesz-energy directions, an iterative optimisation (0.4 s for 10 directions in
        3-D here, 1.4 s in 2-D), charged as the solver's set-up.
        """
        from pymoo.util.ref_dirs import get_reference_directions

        if self.pop_size < n_obj:
            raise ConfigError(f"{type(self).__name__}: {self.algorithm} needs at least one individual per "
                              f"objective ({n_obj}); got pop_size={self.pop_size}.")
        fits = 0  # the most Das-Dennis partitions whose directions (C(p + m − 1, m − 1)) fit in pop_size
        while math.comb(fits + n_obj, n_obj - 1) <= self.pop_size:
            fits += 1
        if fits and (math.comb(fits + n_obj - 1, n_obj - 1) == self.pop_size or self.algorithm == NSGA3):
            return get_reference_directions("das-dennis", n_obj, n_partitions=fits)
        return get_reference_directions("energy", n_obj, self.pop_size, seed=self.seed)

    # -- checkpoints ------------------------------------------------------------------------------
    def _fingerprint(self, task: UnlearningTask, objectives: Objectives, X0: np.ndarray) -> dict[str, Any]:
        return {"solver": self.name, "hyperparameters": self.hyperparameters(), "seed": self.seed,
                "theta0_sha256": getattr(task, "theta0_hash", None), "objectives": list(objectives.names),
                "references": reference_label(objectives), "n_var": int(self.n_var_),
                "initial_population_sha256": sha256_bytes(np.asarray(X0, dtype=np.float64).tobytes())}

    def _checkpoint_arrays(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Arrays a space needs to finish the run from the population ``X`` (besides the population)."""
        return {}

    def _restore_checkpoint_arrays(self, X: np.ndarray, arrays: dict[str, np.ndarray]) -> None:
        """Take back what :meth:`_checkpoint_arrays` saved."""

    def _save_checkpoint(self, store: StateCheckpoint, algorithm: Algorithm, generation: int,
                         meter: SpaceMeter, log: _GenerationLog) -> None:
        pop = algorithm.pop
        rng_json, rng_arrays = rng_states()
        # MOEA/D keeps no rank or crowding: stored as -1 and NaN, read back as None
        arrays = {f"pop:{k}": np.asarray(_missing(pop.get(k), np.nan), dtype=float) for k in _POP_FLOAT_KEYS}
        arrays.update({f"pop:{k}": np.asarray(_missing(pop.get(k), -1), dtype=np.int64).reshape(-1)
                       for k in _POP_INT_KEYS})
        arrays.update(rng_arrays)
        arrays.update({f"space:{k}": v for k, v in self._checkpoint_arrays(arrays["pop:X"]).items()})
        store.save({"generation": generation, "n_iter": int(algorithm.n_iter),
                    "n_eval": int(algorithm.evaluator.n_eval),
                    "pymoo_rng": algorithm.random_state.bit_generator.state,
                    # MOEA/D's ideal point is the best seen in every objective, offspring not kept included
                    "ideal": np.asarray(getattr(algorithm, "ideal", [])).tolist(),
                    "normalization": _normalization_state(algorithm),
                    "cost": meter.snapshot(), "anytime": log.rows, "rng": rng_json,
                    "evaluated": sorted(pop[0].evaluated)}, arrays)

    def _resume(self, store: StateCheckpoint, algorithm: Algorithm, meter: SpaceMeter,
                log: _GenerationLog) -> int:
        """Put the saved state back into ``algorithm``; the number of generations already done."""
        from pymoo.core.individual import Individual
        from pymoo.core.population import Population

        loaded = store.load()
        if loaded is None:
            return 0
        state, arrays = loaded
        X = arrays.get("pop:X")
        if X is None or X.ndim != 2 or X.shape[1] != self.n_var_ or len(X) != self.pop_size:
            raise CacheError(f"{store.state_path}: the saved population has shape "
                             f"{None if X is None else X.shape} but this run needs ({self.pop_size}, "
                             f"{self.n_var_}); delete {store.directory} or pass --force to start over")
        individuals = []
        for i in range(len(X)):
            ind = Individual()
            ind._X, ind._F = arrays["pop:X"][i].copy(), arrays["pop:F"][i].copy()
            ind._G, ind._H = arrays["pop:G"][i].copy(), arrays["pop:H"][i].copy()
            ind._CV = arrays["pop:CV"][i].copy()
            ind.evaluated = set(state["evaluated"])
            rank, crowding = int(arrays["pop:rank"][i]), float(arrays["pop:crowding"][i])
            ind.data = {"F_true": arrays["pop:F_true"][i].copy(), "rank": None if rank < 0 else rank,
                        "crowding": None if math.isnan(crowding) else crowding,
                        "n_gen": int(arrays["pop:n_gen"][i]), "n_iter": int(arrays["pop:n_iter"][i])}
            individuals.append(ind)
        algorithm.pop = Population.create(*individuals)
        algorithm.is_initialized = True
        algorithm.start_time = time.time()
        algorithm.n_iter = int(state["n_iter"])
        algorithm.evaluator.n_eval = int(state["n_eval"])
        algorithm.random_state.bit_generator.state = state["pymoo_rng"]
        if self.algorithm == MOEAD:
            algorithm.ideal = np.asarray(state["ideal"], dtype=float)
        if self.algorithm == NSGA3:
            _restore_normalization(algorithm, state["normalization"])
        algorithm._set_optimum()
        restore_rng_states(state["rng"], arrays)
        self._restore_checkpoint_arrays(X, {k.split(":", 1)[1]: v for k, v in arrays.items()
                                            if k.startswith("space:")})
        self._hold(X, arrays["pop:F_true"].copy())  # the space's state as it was after that generation
        meter.resume_from(state["cost"])
        log.rows[:] = list(state["anytime"])
        log.completed = int(state["generation"])
        log.bar.update(int(state["generation"]))
        logger.info("%s: resumed after generation %d of %d from %s", self.name, state["generation"],
                    self.n_gen, store.directory)
        return int(state["generation"])

    def _ref_point(self, task: UnlearningTask, objectives: Objectives,
                   ref_point: Sequence[float] | np.ndarray | None) -> np.ndarray:
        if ref_point is None:
            return np.asarray(hv_reference_point(task, objectives), dtype=float)
        ref = np.asarray(ref_point, dtype=float).reshape(-1)
        if ref.shape != (len(objectives),) or not np.isfinite(ref).all():
            raise ConfigError(f"{type(self).__name__}: `ref_point` must be {len(objectives)} finite numbers, "
                              f"one per objective. Got {ref_point!r}.")
        return ref

    def _front(self, X: np.ndarray, F: np.ndarray, born: np.ndarray, metrics: list[dict[str, float]],
               cost: dict[str, float], objectives: Objectives, task: UnlearningTask,
               anytime: list[dict[str, Any]]) -> Front:
        n = len(X)
        metric_keys = sorted({k for row in metrics for k in row})
        hp = self.hyperparameters()
        reference = reference_label(objectives)
        arrays, rebuild, provenance = {}, [], []
        shared = self._rebuild_fields()
        for i in range(n):
            key = f"{self.space_name}.g{i}"
            arrays[key] = X[i].astype(np.float32)
            rebuild.append({"kind": self._rebuild_kind(), "array": key, **shared,
                            **self._point_rebuild_fields(arrays[key])})
            provenance.append({"space": self.space_name, "reference": reference,
                               "hyperparameters": copy.deepcopy(hp),  # each point its own record
                               "seed": self.seed, "generation": int(born[i]),
                               # a resumed run says where it started and how many genomes it evaluated
                               "resumed_from_generation": int(getattr(self, "resumed_from_", 0)),
                               "evaluated_in_this_run": int(getattr(self, "n_evaluated_", 0))})
        return Front(
            objectives.names, F, np.array([self.name] * n, dtype=object),
            metrics={k: np.array([row.get(k, np.nan) for row in metrics]) for k in metric_keys},
            cost={k: np.full(n, cost[k]) for k in COST_NAMES},
            provenance=provenance, rebuild=rebuild, arrays=arrays, anytime=list(anytime), task=task,
        )


def _score_on_worker(evaluator: MetricEvaluator, predictions: Predictions) -> dict[str, float]:
    """The metrics of one point from its logits: the unit a Dask worker runs at the end of a search."""
    return evaluator.from_predictions(predictions)


def _evaluate_piece(evaluator: BoundSpace, X: np.ndarray) -> np.ndarray:
    """Objectives of one piece of a population: the unit a Dask worker runs."""
    return evaluator.evaluate(X)
