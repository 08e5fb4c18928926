"""Random-projection genomes (the intrinsic-dimension idea): x = P z of the last-layer or LoRA genome, P a
fixed Gaussian [n_var, k] drawn from ``basis_seed``, z ∈ [-1, 1]^k, x clipped to the space's box.

A control for the SVD genomes (:mod:`._svd`): the same dimension, directions that know nothing of θ0.
P's entries are N(0, ``span``² / k), so a z in its box moves each entry of x by about ``span``.

Examples
--------
>>> from pareto_unlearn.spaces import ProjectionSpace
>>> ProjectionSpace(dims=16).name, ProjectionSpace(over="lora").name
('projection', 'projection')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.spaces._last_layer import LastLayerSpace
from pareto_unlearn.spaces._lora import LoRASpace
from pareto_unlearn.spaces._space import SearchSpace
from pareto_unlearn.spaces._subspace import LinearSubspace, subspace_basis

__all__ = ["ProjectionSpace"]

_OVER = {"last-layer": LastLayerSpace, "lora": LoRASpace}


@subspace_basis("projection")
def projection_basis(task: Any, inner_kind: str, fields: dict[str, Any],
                     params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(0, P): P [n_var, dims] with N(0, span² / dims) entries from ``basis_seed`` (n_var: the sliced
    genome's length)."""
    n_var, dims = int(params["n_var"]), int(params["dims"])
    rng = np.random.default_rng([int(params["basis_seed"]), 20260])
    P = rng.normal(0.0, float(params["span"]) / np.sqrt(dims), size=(n_var, dims))
    return np.zeros(n_var), P


class ProjectionSpace(LinearSubspace):
    """A fixed random ``dims``-dimensional slice of the last-layer or LoRA genome (a control).

    Parameters
    ----------
    over : {"last-layer", "lora"}
        The space sliced (with its default settings).
    dims : int
        k (default 16).
    span : float
        Scale of P (default 1).
    basis_seed : int
        Seed of P (the same seed gives the same slice).
    init_sigma : float
        Standard deviation of an evolutionary initial population's rows (default 0.3).
    """

    name = "projection"
    basis_name = "projection"

    def __init__(self, *, over: str = "last-layer", dims: int = 16, span: float = 1.0, basis_seed: int = 0,
                 init_sigma: float = 0.3) -> None:
        self.over = over
        self.dims = dims
        self.span = span
        self.basis_seed = basis_seed
        self.init_sigma = init_sigma

    def validate(self) -> None:
        """Check the settings."""
        if self.over not in _OVER:
            raise ConfigError(f"ProjectionSpace: `over` must be one of {', '.join(_OVER)}. "
                              f"Got {self.over!r}.")
        for key in ("dims", "basis_seed"):
            value = getattr(self, key)
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= (key == "dims")):
                raise ConfigError(f"ProjectionSpace: `{key}` must be an integer >= {int(key == 'dims')}. "
                                  f"Got {value!r}.")
        super().validate()

    def inner_space(self) -> SearchSpace:
        """The sliced space."""
        return _OVER[self.over]()

    def basis_params(self) -> dict[str, Any]:
        """Everything P is drawn from."""
        return {"dims": int(self.dims), "span": float(self.span),
                "basis_seed": int(self.basis_seed)}
