"""``nsga2-last-layer``: an evolutionary search over Δ of the final linear layer (the space:
:mod:`pareto_unlearn.spaces._last_layer`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.solvers.evolutionary._solver import CachedFeatureSolver, SpaceMeter
from pareto_unlearn.spaces._last_layer import DEFAULT_SCALE, LastLayerEvaluator

__all__ = ["EvolutionaryLastLayer"]


class EvolutionaryLastLayer(CachedFeatureSolver):
    """NSGA-II over Δ of the final linear layer, whole population in one batched call per generation.

    Parameters
    ----------
    scale : float
        Genome unit relative to the std of θ0's final weight (default 4.0, chosen by HV on digits).
    init_sigma : float
        Standard deviation of the perturbed initial rows (default 0.3, chosen with ``scale``).
    chunk_size : int, optional
        Individuals per GEMM (memory / cache trade-off; results do not depend on it beyond rounding).
    compile : bool
        Run the fused objectives through ``torch.compile`` (eager fallback); see :class:`LastLayerEvaluator`.
    **kwargs
        ``pop_size``, ``n_gen``, ``seed``, ``progress``, ``initial``, ``init_sigma``, operator settings:
        see :class:`EvolutionarySolver`.

    Examples
    --------
    >>> solver = EvolutionaryLastLayer(pop_size=20, n_gen=5, seed=0, progress=False)
    >>> front = solver.run(task, objectives)  # doctest: +SKIP
    >>> model = rebuild_model(None, front, 0)  # θ0 with the point's last layer  # doctest: +SKIP
    """

    space = "last-layer"
    rebuild_kind = "last_layer"

    def __init__(self, *, scale: float = DEFAULT_SCALE, init_sigma: float = 0.3,
                 chunk_size: int | None = None, compile: bool = False, **kwargs: Any) -> None:
        super().__init__(init_sigma=init_sigma, **kwargs)
        self.scale = scale
        self.chunk_size = chunk_size
        self.compile = compile

    def hyperparameters(self) -> dict[str, Any]:
        return {**super().hyperparameters(), "scale": self.scale}

    def _validate_space(self) -> None:
        super()._validate_space()
        if not (isinstance(self.scale, (int, float)) and np.isfinite(self.scale) and self.scale > 0):
            raise ConfigError(f"EvolutionaryLastLayer: `scale` must be a positive number. "
                              f"Got {self.scale!r}.")
        if self.chunk_size is not None and not (isinstance(self.chunk_size, int) and self.chunk_size >= 1):
            raise ConfigError(f"EvolutionaryLastLayer: `chunk_size` must be None or an integer >= 1. "
                              f"Got {self.chunk_size!r}.")

    def _setup(self, task, objectives, meter: SpaceMeter) -> None:
        self.evaluator_ = LastLayerEvaluator(task, objectives, scale=self.scale, chunk_size=self.chunk_size,
                                             compile=self.compile)
        meter.add(forward=self.evaluator_.n_rows)  # one full pass per cached sample
        self.n_var_ = self.evaluator_.n_var
        self.xl_, self.xu_ = -np.ones(self.n_var_), np.ones(self.n_var_)

    def _rebuild_fields(self) -> dict[str, Any]:
        return {"layer": self.evaluator_.layer_name, "unit": self.evaluator_.unit, "scale": float(self.scale)}
