"""Low-dimensional genomes of an existing space: an affine subspace x = clip(x0 + M z) of its genome box.

A :class:`LinearSubspace` wraps a space (the last layer, the LoRA adapters) and searches z ∈ [-1, 1]^k
instead of its n_var-dimensional genome x: x = x0 + M z, clipped to x's own box [-1, 1]^n_var, so every
point of the subspace is a point of the wrapped space (and z = 0 is θ0 whenever x0 is). The basis (x0, M)
is computed from θ0's weights, or θ0's activations on the task's splits (never from D_f's gradients), by a
named basis function
(:func:`subspace_basis`), so a point rebuilds from its z and the basis' name and parameters:
``{"kind": "subspace", "inner_kind": ..., "basis": ..., "basis_params": {...}, <the wrapped space's
fields>}``.

Evaluation, predictions and the differentiable losses are the wrapped space's on x (a [P, k] @ [k, n_var]
product on top), so evolutionary and gradient solvers search the subspace through the one contract.

Examples
--------
>>> from pareto_unlearn.spaces import REBUILDERS, SUBSPACE_BASES
>>> "subspace" in REBUILDERS and {"svd", "projection"} <= set(SUBSPACE_BASES)
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

from pareto_unlearn.exceptions import CacheError, ConfigError
from pareto_unlearn.spaces._rebuild import REBUILDERS, rebuilder
from pareto_unlearn.spaces._space import BoundSpace, SearchSpace

if TYPE_CHECKING:
    from pareto_unlearn.objectives import Objectives
    from pareto_unlearn.task import UnlearningTask

__all__ = ["LinearSubspace", "SUBSPACE_BASES", "SubspaceEvaluator", "subspace_basis"]

# (task, wrapped rebuild kind, wrapped rebuild fields, basis params) → (x0 [n_var], M [n_var, k]); a basis
# reads θ0 (task.original) and, where it needs them, θ0's activations on the task's own splits
Basis = Callable[[Any, str, dict[str, Any], dict[str, Any]], tuple[np.ndarray, np.ndarray]]

# basis name → basis function; filled by ``@subspace_basis`` where each basis is defined
SUBSPACE_BASES: dict[str, Basis] = {}


def subspace_basis(name: str) -> Callable[[Basis], Basis]:
    """Register ``fn(task, inner_kind, inner_fields, params) -> (x0, M)`` as the basis ``name`` (θ0 is
    ``task.original``; the same task, with the same seed, must give the same basis)."""

    def register(fn: Basis) -> Basis:
        if name in SUBSPACE_BASES and SUBSPACE_BASES[name] is not fn:
            raise ValueError(f"subspace basis {name!r} is registered twice")
        SUBSPACE_BASES[name] = fn
        return fn

    return register


class SubspaceEvaluator(BoundSpace):
    """A wrapped bound space searched through z: x = clip(x0 + M z, -1, 1).

    Parameters
    ----------
    inner : BoundSpace
        The wrapped space bound to the task.
    offset : ndarray [n_inner]
        x0 (zero when z = 0 must be θ0 and the wrapped space's x = 0 is θ0).
    basis : ndarray [n_inner, k]
        M.
    fields : dict
        What a point's rebuild spec adds to the wrapped space's fields (``inner_kind``, ``basis``,
        ``basis_params``).
    basis_passes : float
        Forward sample-passes (a backward counted as two) computing the basis cost.

    Attributes
    ----------
    n_var : int
        k, the subspace's dimension.
    """

    def __init__(self, inner: BoundSpace, offset: np.ndarray, basis: np.ndarray,
                 fields: dict[str, Any], basis_passes: float = 0.0) -> None:
        self.inner = inner
        self.basis_passes = float(basis_passes)
        self.task = inner.task
        self.offset = np.asarray(offset, dtype=np.float64)
        self.basis = np.asarray(basis, dtype=np.float64)
        self.n_var = int(self.basis.shape[1])
        self.fields = fields
        self.suffix_fraction_ = inner.suffix_fraction_
        self._offset_t = torch.as_tensor(self.offset, dtype=torch.float32)
        self._basis_t = torch.as_tensor(self.basis, dtype=torch.float32)

    @property
    def n_rows(self) -> int:
        """The wrapped space's samples per evaluation."""
        return self.inner.n_rows

    @property
    def setup_passes(self) -> float:
        """The wrapped space's caching and the basis' passes over the data (an SVD or a random draw: none)."""
        return self.inner.setup_passes + self.basis_passes

    def full(self, X: np.ndarray) -> np.ndarray:
        """The wrapped space's genomes [P, n_inner] of the subspace genomes ``X`` [P, k]."""
        X = np.asarray(X, dtype=np.float64).reshape(-1, self.n_var)
        return np.clip(self.offset + X @ self.basis.T, -1.0, 1.0)

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """Objectives [P, m] (float64) of the genomes ``X`` [P, k]."""
        return self.inner.evaluate(self.full(X))

    def predictions(self, X: np.ndarray) -> list:
        """Logits of each genome on the four metric splits."""
        return self.inner.predictions(self.full(X))

    def losses(self, x: torch.Tensor) -> torch.Tensor:
        """The objectives [m] of one genome ``x`` [k], differentiable in ``x``."""
        full = self._offset_t.to(x.device) + self._basis_t.to(x.device) @ x
        return self.inner.losses(torch.clamp(full, -1.0, 1.0))

    def rebuild_fields(self) -> dict[str, Any]:
        """The wrapped space's fields plus the basis that maps z to its genome."""
        return {**self.inner.rebuild_fields(), **self.fields}


class LinearSubspace(SearchSpace):
    """Base of the low-dimensional genomes of a space: subclasses set :attr:`name`, :attr:`basis_name`,
    and implement :meth:`inner_space` and :meth:`basis_params`.

    Initial rows: z = 0 (θ0) and z ~ N(0, ``init_sigma``²), clipped by the solver.
    """

    rebuild_kind = "subspace"
    basis_name: ClassVar[str] = ""
    init_sigma: float

    def inner_space(self) -> SearchSpace:  # pragma: no cover
        """The space whose genome the subspace spans."""
        raise NotImplementedError

    def basis_params(self) -> dict[str, Any]:  # pragma: no cover
        """JSON-able parameters of the basis function (what, with θ0, fixes x0 and M)."""
        raise NotImplementedError

    def validate(self) -> None:
        """Check the wrapped space's settings and ``init_sigma``."""
        sigma = self.init_sigma
        if not (isinstance(sigma, (int, float)) and not isinstance(sigma, bool) and np.isfinite(sigma)
                and sigma > 0):
            raise ConfigError(f"{type(self).__name__}: `init_sigma` must be a positive number. "
                              f"Got {sigma!r}.")
        self.inner_space().validate()

    def bind(self, task: UnlearningTask, objectives: Objectives) -> SubspaceEvaluator:
        """Bind the wrapped space, then compute the basis from θ0 and the wrapped space's fields."""
        inner_space = self.inner_space()
        inner = inner_space.bind(task, objectives)
        params = {**self.basis_params(), "n_var": int(inner.n_var)}  # the wrapped genome's length
        offset, basis = SUBSPACE_BASES[self.basis_name](task, inner_space.rebuild_kind,
                                                        inner.rebuild_fields(), params)
        fields = {"inner_kind": inner_space.rebuild_kind, "basis": self.basis_name, "basis_params": params}
        return SubspaceEvaluator(inner, offset, basis, fields, self.basis_passes(task, inner))

    def basis_passes(self, task: UnlearningTask, inner: BoundSpace) -> float:
        """Forward sample-passes (a backward counted as two) the basis reads the data with: none here."""
        return 0.0

    def initial_rows(self, bound: BoundSpace, n: int, rng: np.random.Generator) -> np.ndarray:
        """θ0 (z = 0) and ``n - 1`` rows z ~ N(0, init_sigma²)."""
        rows = rng.normal(0.0, self.init_sigma, size=(n, bound.n_var))
        rows[0] = 0.0
        return rows


@rebuilder("subspace")
def _rebuild(task: UnlearningTask, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> nn.Module:
    basis_name, inner_kind = spec.get("basis"), spec.get("inner_kind")
    if basis_name not in SUBSPACE_BASES:
        raise CacheError(f"subspace rebuild: unknown basis {basis_name!r}; "
                         f"known: {', '.join(SUBSPACE_BASES)}")
    if inner_kind not in REBUILDERS or inner_kind == "subspace":
        raise CacheError(f"subspace rebuild: unknown wrapped space kind {inner_kind!r}")
    offset, basis = SUBSPACE_BASES[basis_name](task, inner_kind, spec, dict(spec["basis_params"]))
    z = np.asarray(arrays[spec["array"]], dtype=np.float64).reshape(-1)
    if z.size != basis.shape[1]:
        raise CacheError(f"subspace rebuild: the genome has {z.size} values, the basis has {basis.shape[1]}")
    # the wrapped space's genome, rounded through float32 as an evaluated population's is by the solver
    full = np.clip(offset + basis @ z, -1.0, 1.0).astype(np.float32)
    key = "subspace:full"
    return REBUILDERS[inner_kind](task, {**spec, "kind": inner_kind, "array": key}, {key: full})
