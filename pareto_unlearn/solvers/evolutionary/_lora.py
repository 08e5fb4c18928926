"""``nsga2-lora``: an evolutionary search over low-rank deltas of chosen layers (the space:
:mod:`pareto_unlearn.spaces._lora`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.solvers.evolutionary._solver import CachedFeatureSolver, SpaceMeter
from pareto_unlearn.spaces._lora import DEFAULT_LORA_SCALE, LoRAEvaluator

__all__ = ["EvolutionaryLoRA"]


class EvolutionaryLoRA(CachedFeatureSolver):
    """NSGA-II over rank-r deltas Δ = B·A of chosen layers, the rest of θ0 frozen and its prefix cached.

    Parameters
    ----------
    layers : sequence of str, optional
        Adapted layers (qualified names); default the last two nn.Linear / nn.Conv2d.
    rank : int
        Rank r of each delta (default 2).
    scale : float
        Genome unit: a = sqrt(scale · std(W0)) per layer (default 2.0, chosen by HV on digits).
    init_sigma_a : float
        Standard deviation of the initial A entries (B's is ``init_sigma``).
    chunk_size : int, optional
    **kwargs
        See :class:`EvolutionarySolver`.

    Examples
    --------
    >>> solver = EvolutionaryLoRA(rank=2, pop_size=20, n_gen=5, seed=0, progress=False)
    >>> front = solver.run(task, objectives)  # doctest: +SKIP
    >>> model = rebuild_model(None, front, 0)  # θ0 with W += B·A on each adapted layer  # doctest: +SKIP
    """

    space = "lora"
    rebuild_kind = "lora"

    def __init__(self, *, layers: Sequence[str] | None = None, rank: int = 2,
                 scale: float = DEFAULT_LORA_SCALE, init_sigma: float = 0.3, init_sigma_a: float = 0.5,
                 chunk_size: int | None = None, **kwargs: Any) -> None:
        super().__init__(init_sigma=init_sigma, **kwargs)
        self.layers = layers
        self.rank = rank
        self.scale = scale
        self.init_sigma_a = init_sigma_a
        self.chunk_size = chunk_size

    def hyperparameters(self) -> dict[str, Any]:
        layers = None if self.layers is None else list(self.layers)
        return {**super().hyperparameters(), "rank": self.rank, "scale": self.scale,
                "init_sigma_a": self.init_sigma_a, "layers": layers}

    def _validate_space(self) -> None:
        super()._validate_space()
        if not (isinstance(self.rank, int) and not isinstance(self.rank, bool) and self.rank >= 1):
            raise ConfigError(f"EvolutionaryLoRA: `rank` must be an integer >= 1. Got {self.rank!r}.")
        if not (isinstance(self.scale, (int, float)) and np.isfinite(self.scale) and self.scale > 0):
            raise ConfigError(f"EvolutionaryLoRA: `scale` must be a positive number. Got {self.scale!r}.")
        if not (isinstance(self.init_sigma_a, (int, float)) and self.init_sigma_a > 0):
            raise ConfigError(f"EvolutionaryLoRA: `init_sigma_a` must be a positive number. "
                              f"Got {self.init_sigma_a!r}.")
        if self.chunk_size is not None and not (isinstance(self.chunk_size, int) and self.chunk_size >= 1):
            raise ConfigError(f"EvolutionaryLoRA: `chunk_size` must be None or an integer >= 1. "
                              f"Got {self.chunk_size!r}.")
        if isinstance(self.layers, str):
            raise ConfigError(f"EvolutionaryLoRA: `layers` must be a list of layer names. "
                              f"Got the string {self.layers!r}.")

    def _setup(self, task, objectives, meter: SpaceMeter) -> None:
        self.evaluator_ = LoRAEvaluator(task, objectives, layers=self.layers, rank=self.rank,
                                        scale=self.scale, chunk_size=self.chunk_size)
        # caching runs the prefix once per sample: its share of a full pass
        meter.add(forward=self.evaluator_.n_rows * (1.0 - self.evaluator_.suffix_fraction_))
        self.n_var_ = self.evaluator_.n_var
        self.xl_, self.xu_ = -np.ones(self.n_var_), np.ones(self.n_var_)

    def _perturbed_rows(self, n: int, rng: np.random.Generator) -> np.ndarray:
        rows = np.zeros((n, self.n_var_))
        offset, r = 0, self.rank
        for o, i in self.evaluator_.shapes:
            rows[:, offset : offset + r * i] = rng.normal(0.0, self.init_sigma_a, size=(n, r * i))
            offset += r * i
            rows[:, offset : offset + o * r] = rng.normal(0.0, self.init_sigma, size=(n, o * r))
            offset += o * r
        rows[0] = 0.0
        return rows

    def _rebuild_fields(self) -> dict[str, Any]:
        ev = self.evaluator_
        return {"layers": list(ev.layers), "rank": int(self.rank), "units": [float(u) for u in ev.units],
                "scale": float(self.scale)}
