"""``nsga2-ls-warm``: NSGA-II over LS settings where every offspring continues from a survivor's model.

Genome and evaluation
---------------------
The genome is that of :mod:`~pareto_unlearn.spaces._ls_weights` (w, log10 lr, epochs), with few epochs
(default E = 1). Generation 1 fine-tunes from θ0. From generation 2 on, an offspring's fine-tune starts
from the model of the survivor of the previous generation nearest to it in the genome box (scaled to
[0, 1]), so lineages keep improving along the front at E epochs a generation instead of restarting
from θ0: a population of short LS runs whose weights evolve, selected by NSGA-II's rank and crowding.
An individual is a pure function of (genome, seed, starting parameters), so it can run on a Dask worker;
its model is stored as a flat parameter vector (rebuild kind ``params``), as gradient points are.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from pareto_unlearn.spaces._ls_weights import (
    NSGA2LSWeights,
    _fine_tune_from,
    individual_seed,
)
from pareto_unlearn.spaces._nsga2 import SpaceMeter

__all__ = ["NSGA2LSWarm"]

logger = logging.getLogger(__name__)


def _warm_individual_on_worker(task, objectives, settings: dict[str, Any], item):
    """One offspring (genome, seed, start params or None): its outcome and its final parameters."""
    genome, seed, start = item
    outcome = _fine_tune_from(task, objectives, genome, seed, start=start, **settings)
    params = outcome.front.arrays[outcome.front.rebuild[0]["array"]]
    outcome.front = None
    return outcome, params


class NSGA2LSWarm(NSGA2LSWeights):
    """NSGA-II over (w, log10 lr, epochs) of short LS fine-tunes that continue from survivors' models.

    Parameters
    ----------
    max_epochs : int
        E, epochs of one offspring's fine-tune (default 1).
    sweep_start : bool
        Generation 1 as an LS sweep over w (default) instead of uniform draws.
    **kwargs
        See :class:`NSGA2LSWeights`.

    Examples
    --------
    >>> solver = NSGA2LSWarm(pop_size=10, n_gen=5, seed=0, progress=False)
    >>> front = solver.run(task, objectives)  # doctest: +SKIP
    """

    name = "nsga2-ls-warm"
    space = "ls-warm"
    rebuild_kind = "params"

    def __init__(self, *, max_epochs: int = 1, sweep_start: bool = True, **kwargs: Any) -> None:
        super().__init__(max_epochs=max_epochs, **kwargs)
        self.sweep_start = sweep_start

    def hyperparameters(self) -> dict[str, Any]:
        return {**super().hyperparameters(), "sweep_start": bool(self.sweep_start)}

    def _setup(self, task, objectives, meter: SpaceMeter) -> None:
        super()._setup(task, objectives, meter)
        self.params_: dict[bytes, np.ndarray] = {}
        self.survivors_ = np.zeros((0, self.n_var_), dtype=np.float32)

    def _start_for(self, row: np.ndarray) -> np.ndarray | None:
        """Parameters of the survivor nearest to ``row`` in the scaled genome box (None: θ0)."""
        if not len(self.survivors_):
            return None
        span = self.xu_ - self.xl_
        distance = (((self.survivors_ - row) / span) ** 2).sum(axis=1)
        return self.params_[self.survivors_[int(np.argmin(distance))].tobytes()]

    def _evaluate_population(self, X: np.ndarray, meter: SpaceMeter) -> np.ndarray:
        rows = np.asarray(X, dtype=np.float32)
        items = [(row, individual_seed(self.seed, row), self._start_for(row)) for row in rows]
        return self._evaluate_individuals(_warm_individual_on_worker, rows, items, meter)

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
        super()._after_generation(X)
        self.survivors_ = np.asarray(X, dtype=np.float32).copy()
        keep = {row.tobytes() for row in self.survivors_}
        self.params_ = {k: v for k, v in self.params_.items() if k in keep}

    def _checkpoint_arrays(self, X: np.ndarray) -> dict[str, np.ndarray]:
        rows = np.asarray(X, dtype=np.float32)
        params = np.stack([self.params_[r.tobytes()] for r in rows])
        return {**super()._checkpoint_arrays(X), "params": params}

    def _restore_checkpoint_arrays(self, X: np.ndarray, arrays: dict[str, np.ndarray]) -> None:
        super()._restore_checkpoint_arrays(X, arrays)
        rows = np.asarray(X, dtype=np.float32)
        self.params_ = {r.tobytes(): arrays["params"][i].copy() for i, r in enumerate(rows)}
        self.survivors_ = rows.copy()

    def _final_metrics(self, X, task, evaluator) -> list[dict[str, float]]:
        return [evaluator.from_predictions(self.predictions_[row.tobytes()])
                for row in np.asarray(X, dtype=np.float32)]

    def _front(self, X, F, born, metrics, cost, objectives, task, anytime):
        front = super()._front(X, F, born, metrics, cost, objectives, task, anytime)
        for i, row in enumerate(np.asarray(X, dtype=np.float32)):
            key = f"{self.space}.p{i}"
            front.arrays[key] = self.params_[row.tobytes()]
            front.rebuild[i] = {"kind": "params", "array": key}
        return front
