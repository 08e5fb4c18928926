"""Genomes from θ0's own singular directions: a few dozen dimensions of the last-layer and LoRA spaces.

Last layer (:class:`LastLayerSVDSpace`, ``last-layer-svd``): with θ0's final weight W0 = U S Vᵀ, the
genome z ∈ [-1, 1]^(r + 2C) moves

    W = U diag(s ⊙ (1 + span · z_s)) Vᵀ,   b = b0 ⊙ (1 + span · z_b) + unit · z_t,

(each singular value scaled, each bias entry scaled and shifted by up to the last-layer space's unit);
as a last-layer genome, x = M z, clipped to that space's box, so each point is a point of the last-layer
space. The singular directions hold the model's own output directions and their "temperature", where
both objectives move; a random k-dimensional slice of the 650 weights (:mod:`._projection`) holds little
of them.

LoRA (:class:`LoRASVDSpace`, ``lora-svd``): for each adapted layer W0 = U S Vᵀ, the factors span θ0's
top-k singular vectors, x_A = Z_A V_kᵀ and x_B = U_k Z_B (Z_A [r, k], Z_B [k, r]; U_k and V_k divided
by their largest entry, so one z fills the box), 2·k·r dimensions a layer (default k = 4, r = 2: 16), so
Δ = B·A = a² U_k Z_B Z_A V_kᵀ. With ``free_a=False`` A is fixed to θ0's top-r right singular vectors and
only Z_B is searched (Δ linear in z). Either way x is a LoRA genome of the same layers and rank: every
point is a point of the LoRA space.

Measured on digits (random:0.5, seed 0, pop 40 × 60 generations, final HV against the task's reference
point; ``nsga2-lora`` itself: 1.26 at pop 60 × 60, ``ls-lora`` about 4): free A with k = 4 / 8 / 16:
1.93 / 1.57 / 1.92; A fixed with k = 2 / 8 / every (B free, 148 dims): 1.62 / 1.51 / 1.66.

Nothing here reads D_f: the bases come from θ0's weights alone (``torch.linalg.svd`` in float64, the
same decomposition each time the same θ0 is given, so a point rebuilds from its z).

Examples
--------
>>> from pareto_unlearn.spaces import LastLayerSVDSpace, LoRASVDSpace
>>> LastLayerSVDSpace().name, LoRASVDSpace(k=4).name
('last-layer-svd', 'lora-svd')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, cast

import numpy as np
import torch
from scipy.linalg import block_diag
from torch import nn

from pareto_unlearn.exceptions import CacheError, ConfigError
from pareto_unlearn.spaces._last_layer import DEFAULT_SCALE, LastLayerSpace
from pareto_unlearn.spaces._lora import DEFAULT_LORA_SCALE, LoRAEvaluator, LoRASpace
from pareto_unlearn.spaces._space import BoundSpace, SearchSpace
from pareto_unlearn.spaces._subspace import LinearSubspace, SubspaceEvaluator, subspace_basis

__all__ = ["LastLayerSVDSpace", "LoRASVDSpace"]


def _svd(weight: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """U [o, q], s [q], Vᵀ [q, i] of a weight read as [out, in'] (float64)."""
    w = weight.detach().double().reshape(weight.shape[0], -1).cpu()
    U, s, Vt = torch.linalg.svd(w, full_matrices=False)
    return U.numpy(), s.numpy(), Vt.numpy()


def _module(model: nn.Module, name: str) -> nn.Module:
    module = dict(model.named_modules()).get(name)
    if not isinstance(module, (nn.Linear, nn.Conv2d)):
        raise CacheError(f"svd basis: θ0 has no nn.Linear / nn.Conv2d named {name!r}")
    return module


@subspace_basis("svd")
def svd_basis(task: Any, inner_kind: str, fields: dict[str, Any],
              params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(x0, M) of the SVD genome of the last-layer (``inner_kind`` "last_layer") or LoRA ("lora") space."""
    if inner_kind == "last_layer":
        return _last_layer_basis(task.original, fields, params)
    if inner_kind == "lora":
        return _lora_basis(task.original, fields, params)
    raise CacheError(f"svd basis: no SVD genome of the {inner_kind!r} space")


def _last_layer_basis(model: nn.Module, fields: dict[str, Any],
                      params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    layer = _module(model, str(fields["layer"]))
    unit, span = float(fields["unit"]), float(params["span"])
    U, s, Vt = _svd(cast(torch.Tensor, layer.weight))
    C, d = U.shape[0], Vt.shape[1]
    columns = [(span * s[j] * np.outer(U[:, j], Vt[j])).reshape(-1) / unit for j in range(len(s))]
    has_bias = layer.bias is not None
    n_var = C * d + (C if has_bias else 0)
    M = np.zeros((n_var, len(columns) + (2 * C if has_bias else 0)))
    M[: C * d, : len(columns)] = np.stack(columns, axis=1)
    if has_bias:
        b0 = cast(torch.Tensor, layer.bias).detach().double().cpu().numpy()
        k = len(columns)
        M[C * d + np.arange(C), k + np.arange(C)] = span * b0 / unit  # scale
        M[C * d + np.arange(C), k + C + np.arange(C)] = 1.0  # shift by up to one unit
    return np.zeros(n_var), M


def _lora_basis(model: nn.Module, fields: dict[str, Any],
                params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    r = int(fields["rank"])
    k_max = params.get("k")
    free_a = bool(params.get("free_a", False))
    offset_parts, blocks = [], []
    for name in fields["layers"]:
        U, _, Vt = _svd(cast(torch.Tensor, _module(model, name).weight))
        o, i = U.shape[0], Vt.shape[1]
        q = min(r, len(Vt))
        k = U.shape[1] if k_max is None else min(int(k_max), U.shape[1])
        M_B = b_factor_columns(U[:, :k].T / np.abs(U[:, :k]).max(), r)  # x_B = U_k Z_B
        if free_a:  # x_A = Z_A V_kᵀ
            offset_parts.append(np.zeros(r * i + o * r))
            blocks.append(block_diag(a_factor_columns(Vt[:k] / np.abs(Vt[:k]).max(), r), M_B))
            continue
        x_A = np.zeros((r, i))
        x_A[:q] = Vt[:q] / np.abs(Vt[:q]).max()
        offset_parts.append(np.concatenate([x_A.reshape(-1), np.zeros(o * r)]))
        blocks.append(np.vstack([np.zeros((r * i, k * r)), M_B]))
    return np.concatenate(offset_parts), block_diag(*blocks)


def b_factor_columns(directions: np.ndarray, rank: int) -> np.ndarray:
    """The columns that put each of ``directions`` [k, o] into each column of a LoRA factor B [o, r]
    (row-major): column (p, c) holds direction p in column c, i.e. ``kron(directionsᵀ, I_r)``.

    Examples
    --------
    >>> b_factor_columns(np.array([[1.0, 2.0]]), 2).tolist()  # o = 2, one direction, r = 2
    [[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 2.0]]
    """
    return np.kron(directions.T, np.eye(rank))


def a_factor_columns(directions: np.ndarray, rank: int) -> np.ndarray:
    """The columns that put each of ``directions`` [k, i] into each row of a LoRA factor A [r, i]
    (row-major): column (c, p) holds direction p in row c, i.e. ``kron(I_r, directionsᵀ)``.

    Examples
    --------
    >>> a_factor_columns(np.array([[1.0, 2.0]]), 2).tolist()  # i = 2, one direction, r = 2
    [[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 2.0]]
    """
    return np.kron(np.eye(rank), directions.T)


def _check_positive(owner: str, key: str, value: Any) -> None:
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
            and value > 0):
        raise ConfigError(f"{owner}: `{key}` must be a positive number. Got {value!r}.")


class LastLayerSVDSpace(LinearSubspace):
    """The last layer's singular values and bias, scaled (and the bias shifted): 2C + min(C, d) dimensions.

    Parameters
    ----------
    span : float
        z = ±1 scales a singular value (a bias entry) by 1 ± span (default 2: from −s to 3s).
    scale : float
        The last-layer space's unit (its ``scale``): a bias shift of z_t moves it by z_t units.
    init_sigma : float
        Standard deviation of an evolutionary initial population's rows (default 0.3).
    chunk_size : int, optional
    compile : bool
        As for :class:`~pareto_unlearn.spaces.LastLayerSpace` (the evaluation is that space's).

    Examples
    --------
    >>> from pareto_unlearn.solvers import EvolutionarySolver
    >>> EvolutionarySolver(space=LastLayerSVDSpace(), pop_size=20, n_gen=5).name
    'nsga2-last-layer-svd'
    """

    name = "last-layer-svd"
    basis_name = "svd"

    unrecorded: ClassVar[tuple[str, ...]] = ("chunk_size", "compile")  # speed only: same points

    def __init__(self, *, span: float = 2.0, scale: float = DEFAULT_SCALE, init_sigma: float = 0.3,
                 chunk_size: int | None = None, compile: bool = False) -> None:
        self.span = span
        self.scale = scale
        self.init_sigma = init_sigma
        self.chunk_size = chunk_size
        self.compile = compile

    def validate(self) -> None:
        """Check ``span`` and the wrapped space's settings."""
        _check_positive(type(self).__name__, "span", self.span)
        super().validate()

    def inner_space(self) -> SearchSpace:
        """The last-layer space whose box the points lie in."""
        return LastLayerSpace(scale=self.scale, chunk_size=self.chunk_size, compile=self.compile)

    def basis_params(self) -> dict[str, Any]:
        """The span of the scalings."""
        return {"span": float(self.span)}


class LoRASVDSpace(LinearSubspace):
    """LoRA factors spanned by θ0's top-k singular vectors: x_A = Z_A V_kᵀ, x_B = U_k Z_B (2·k·r per layer).

    Parameters
    ----------
    layers : sequence of str, optional
        Adapted layers (default: the LoRA space's, the last two nn.Linear / nn.Conv2d).
    rank : int
        r, as the LoRA space's rank (default 2).
    k : int, optional
        Singular vectors per layer the factors span (default 4; None: every one).
    free_a : bool
        Search A too (x_A = Z_A V_kᵀ; default) or fix it to θ0's top-r right singular vectors.
    scale : float
        The LoRA space's ``scale`` (its factors' unit).
    init_sigma : float
        Standard deviation of an evolutionary initial population's rows (default 0.3).
    chunk_size : int, optional

    Examples
    --------
    >>> LoRASVDSpace(k=8, rank=2)
    LoRASVDSpace(k=8)
    """

    name = "lora-svd"
    basis_name = "svd"

    unrecorded: ClassVar[tuple[str, ...]] = ("chunk_size",)  # speed only: same points

    def __init__(self, *, layers: Sequence[str] | None = None, rank: int = 2, k: int | None = 4,
                 free_a: bool = True, scale: float = DEFAULT_LORA_SCALE, init_sigma: float = 0.3,
                 chunk_size: int | None = None) -> None:
        self.free_a = free_a
        self.layers = layers
        self.rank = rank
        self.k = k
        self.scale = scale
        self.init_sigma = init_sigma
        self.chunk_size = chunk_size

    def validate(self) -> None:
        """Check ``k`` and the wrapped space's settings."""
        k = self.k
        if k is not None and not (isinstance(k, int) and not isinstance(k, bool) and k >= 1):
            raise ConfigError(f"LoRASVDSpace: `k` must be None or an integer >= 1. Got {self.k!r}.")
        super().validate()

    def inner_space(self) -> SearchSpace:
        """The LoRA space whose box the points lie in."""
        return LoRASpace(layers=self.layers, rank=self.rank, scale=self.scale, chunk_size=self.chunk_size)

    def basis_params(self) -> dict[str, Any]:
        """How many left singular vectors B spans."""
        return {"k": None if self.k is None else int(self.k), "free_a": bool(self.free_a)}

    def gradient_start(self, bound: BoundSpace, seed: int) -> np.ndarray:
        """With a free A, z = 0 has B = A = 0, where every gradient of B·A is zero: a gradient solver starts
        from a small seeded draw of the Z_A coordinates (B = 0, so the model is θ0's)."""
        if not self.free_a:
            return np.zeros(bound.n_var)
        return free_a_gradient_start(bound, rank=self.rank, init_sigma=self.init_sigma, seed=seed)


def free_a_gradient_start(bound: BoundSpace, *, rank: int, init_sigma: float, seed: int) -> np.ndarray:
    """A gradient solver's start in a LoRA subspace whose A is searched: a seeded draw of the coordinates
    that move A (B stays 0, so the model is θ0's), zeros elsewhere."""
    # bound by LinearSubspace.bind: a SubspaceEvaluator over a LoRAEvaluator (the inner space)
    subspace = cast(SubspaceEvaluator, bound)
    inner, basis = cast(LoRAEvaluator, subspace.inner), subspace.basis
    a_rows = np.zeros(inner.n_var, dtype=bool)
    offset = 0
    for o, i in inner.shapes:  # the LoRA genome: A [r, i] then B [o, r] per layer
        a_rows[offset : offset + rank * i] = True
        offset += rank * (i + o)
    a_columns = np.abs(basis[a_rows]).sum(axis=0) > 0
    start = np.zeros(bound.n_var)
    draw = np.random.default_rng([seed, 20251]).normal(0.0, init_sigma, size=bound.n_var)
    start[a_columns] = draw[a_columns]
    return start
