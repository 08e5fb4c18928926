"""What every search space is to a solver: configuration in the constructor, :meth:`SearchSpace.bind`
to a task and its objectives (which caches what evaluating a point needs), and the bound space's
evaluation of whole populations.

A point of a space is a genome x ∈ [-1, 1]^n_var, with x = 0 being θ0. Evolutionary solvers search the
box; gradient solvers descend on x, projected back into the box, so both sides search the same set.

Examples
--------
>>> from pareto_unlearn.spaces import LastLayerSpace, LoRASpace
>>> LastLayerSpace(scale=4.0)
LastLayerSpace(scale=4.0)
>>> LoRASpace(rank=3).name, LoRASpace().rebuild_kind
('lora', 'lora')
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from pareto_unlearn._params import Configurable

__all__ = ["BoundSpace", "SearchSpace"]


class SearchSpace(Configurable):
    """Base of the spaces solvers are given. Subclasses set :attr:`name` and :attr:`rebuild_kind` and
    implement :meth:`validate`, :meth:`bind`, :meth:`hyperparameters` and :meth:`initial_rows`."""

    name: ClassVar[str] = ""
    rebuild_kind: ClassVar[str] = ""

    def validate(self) -> None:
        """Check the configuration (raises ConfigError naming the setting)."""

    def bind(self, task: Any, objectives: Any) -> BoundSpace:  # pragma: no cover
        """The space on ``task`` and ``objectives``: caches at θ0 what evaluating its points needs."""
        raise NotImplementedError

    def initial_rows(self, bound: BoundSpace, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` distinct genomes around θ0 (row 0 is θ0 itself), for an evolutionary initial population."""
        raise NotImplementedError  # pragma: no cover

    def gradient_start(self, bound: BoundSpace, seed: int) -> np.ndarray:
        """Where a gradient solver in this space starts: θ0 (x = 0)."""
        return np.zeros(bound.n_var)


class BoundSpace:
    """A space bound to a task: what solvers call. Implemented by the spaces' evaluators.

    Attributes a bound space has: ``n_var`` (genome length), ``n_rows`` (samples per evaluation),
    ``suffix_fraction_`` (a cached-suffix pass as a share of a full pass), ``setup_passes`` (forward
    sample-passes its caching cost), ``task``.
    """

    n_var: int
    task: Any
    suffix_fraction_: float

    @property
    def n_rows(self) -> int:  # pragma: no cover
        raise NotImplementedError

    @property
    def setup_passes(self) -> float:  # pragma: no cover
        """Forward sample-passes the caching at θ0 cost (charged to the solver that binds the space)."""
        raise NotImplementedError

    def evaluate(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover
        """Objectives [P, m] (float64) of the genomes ``X`` [P, n_var]."""
        raise NotImplementedError

    def losses(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        """The m objectives of one genome ``x`` [n_var] as a differentiable tensor [m] (full batch)."""
        raise NotImplementedError

    def predictions(self, X: np.ndarray) -> list:  # pragma: no cover
        """Logits of each genome on the four metric splits."""
        raise NotImplementedError

    def rebuild_fields(self) -> dict[str, Any]:  # pragma: no cover
        """JSON-able fields (besides ``kind`` and ``array``) that rebuild a point's model."""
        raise NotImplementedError
