"""A LoRA genome from θ0's activations (``lora-act``): A over the layer's principal inputs, B over the
outputs the logits are most sensitive to.

For a linear layer y = W a every gradient of W is a sum Σ δ aᵀ over samples, so a gradient-led Δ has its
row space inside the span of the layer's inputs, and its column space where the logits read the layer's
output. :class:`LoRAActivationSpace` builds the LoRA factors of each adapted layer from θ0 and the task's
own splits D_f ∪ D_r (no loss, no label, no gradient of an objective is read):

- A: the top-``k_in`` principal directions V of the layer's inputs (uncentred second moment Σ a aᵀ; a
  conv's unfolded patches), x_A = Z_A V (Z_A [r, k_in], searched) or, with ``free_a=False``, fixed to
  the top r of them;
- B (``b_side``): ``"sensitivity"`` (default), the top-``k_out`` eigenvectors U of Σ Jᵀ J with
  J = ∂ logits / ∂ y at θ0 (one backward pass per logit), x_B = Uᵀ Z_B (Z_B [k_out, r]); ``"outputs"``,
  the outputs' own principal directions; ``"response"``, W0 V orthonormalised; ``"free"``, every entry.
  Where ``k_out`` reaches the layer's outputs (the final layer's C logits) B is free.

Each direction is divided by its largest entry, so one z reaches the LoRA box's edge. Every point is a
point of the LoRA space of the same layers and rank (x = clip(x0 + M z), z ∈ [-1, 1]^k), so it rebuilds
through the ``subspace`` kind: the basis is recomputed from θ0 and the same task's splits (same θ0 and
task seed ⇒ the same activations ⇒ the same basis: float64 eigendecompositions, each direction's sign
fixed by its largest entry; at most ``max_rows`` samples of each split, the first ones).

Measured on digits (MLP, adapted fc2.0 and fc, rank 2; seed 0, NSGA-II pop 40 × 100, final HV against
the task's reference point, one loaded CPU core; the run's ``ls-lora``: 3.94 on random:0.5, 5.38 on
class:3; ``nsga2-lora-svd`` in the same screen: 2.25):

- B free, A free over k_in = 8 / 4 input directions (180 / 164 dims): 1.53 / 1.44; A fixed to the top 2
  (148 dims): 2.22, and 1.36–2.14 with other operators (η 5, SMS-EMOA, MOEA/D, pop 100 or 20, σ 0.02–0.6);
  yet ``ls`` inside that 148-dim genome reaches 3.62 (the full LoRA space at the same settings 3.76): the
  basis holds the front, NSGA-II cannot find it in 148 dimensions, where a random z costs retain_ce 60+;
- B over output or response directions (16–32 dims): 1.37–1.72 (``ls`` inside them: 0.14–0.81);
- B over the logits' sensitive outputs (``ls-lora``'s own Δ of fc2.0 puts 68–74 % of its |Δ|² in the top
  10 of them, 75–85 % in the top 16; 37–59 % in 10 class-mean or output directions): A fixed, k_out = 10:
  3.20; A free: k_in = 4 / 2 / 8 with k_out = 10: 3.40 / 3.46 / 2.92 (class:3: 5.25 / 5.31 / 3.84);
  **k_in = 2, k_out = 12 (52 dims, the default): 3.76 and 5.29**; k_out = 16: 3.65 and 3.93; k_out = 6:
  2.02 and 5.06; D_f's and D_r's directions stacked instead of pooled: 1.74.

In ``scripts/fair_comparison.py --no-dense`` (3 seeds, wall-clock budgets, a loaded machine; base cost
0.4–0.6 s), ``nsga2-lora-act`` (pop 40 × 250) against the same-space gradient side: at 10× 0.953 / 0.898
/ 0.912 (random:0.5) and 0.987 / 0.944 / 0.635 (class:3; seed 2 stalls at HV 3.4); at 2× 0.35–0.60: the
search needs generations that a 2× budget does not hold. (``nsga2-lora-svd`` in the same runs: 0.40–0.57
and 0.64–0.72 at 10×.) Pop 20 × 500 did worse (10× means 0.78 and 0.83). The same genome under NSDE
(``nsde-lora-act``: differential-evolution variation, whose steps follow the population's spread) in a
later run of the script: 0.976 / 0.942 / 0.938 and 0.992 / 0.983 / 0.979 at 10×, 0.87–1.01 and
0.93–0.97 at 2×, where ``nsga2-lora-act`` gave 0.36–0.73 and 0.55–0.96 at 2× and stalled on class:3
seed 2 again (0.71 at 10×).

Examples
--------
>>> from pareto_unlearn.spaces import LoRAActivationSpace
>>> LoRAActivationSpace().name, LoRAActivationSpace(k_in=8, free_a=False)
('lora-act', LoRAActivationSpace(k_in=8, free_a=False))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np
import torch
from scipy.linalg import block_diag
from torch import nn

from pareto_unlearn.exceptions import CacheError, ConfigError
from pareto_unlearn.spaces._lora import DEFAULT_LORA_SCALE, LoRAEvaluator, LoRASpace
from pareto_unlearn.spaces._space import BoundSpace, SearchSpace
from pareto_unlearn.spaces._subspace import LinearSubspace, subspace_basis
from pareto_unlearn.spaces._svd import a_factor_columns, b_factor_columns, free_a_gradient_start

if TYPE_CHECKING:
    from pareto_unlearn.task import UnlearningTask

__all__ = ["LoRAActivationSpace", "activation_directions"]

SOURCES = ("union", "stacked")
B_SIDES = ("free", "outputs", "response", "sensitivity")
_BATCH = 1024


def _rows(module: nn.Module, tensor: torch.Tensor, *, side: str) -> torch.Tensor:
    """A layer's input (``side`` "in", as unfolded patches for a conv) or output as rows [n, features]."""
    if isinstance(module, nn.Conv2d):
        if side == "in":
            padding = module.padding
            if isinstance(padding, str):  # "valid", or "same" (centred: the patches' span, not the conv)
                padding = tuple(0 if padding == "valid" else d * (k - 1) // 2
                                for d, k in zip(module.dilation, module.kernel_size, strict=True))
            patches = nn.functional.unfold(tensor, module.kernel_size, module.dilation, padding,
                                           module.stride)  # [n, in·k·k, L]
            return patches.transpose(1, 2).reshape(-1, patches.shape[1])
        return tensor.movedim(1, -1).reshape(-1, tensor.shape[1])
    return tensor.reshape(-1, tensor.shape[-1])


@torch.no_grad()
def _second_moments(model: nn.Module, names: Sequence[str], x: torch.Tensor,
                    max_rows: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per layer, (Σ a aᵀ, Σ y yᵀ) over the first ``max_rows`` samples of ``x`` (float64)."""
    modules = dict(model.named_modules())
    sums: dict[str, list[torch.Tensor]] = {}

    def hook(name: str):
        def record(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            a = _rows(module, inputs[0], side="in").double()
            y = _rows(module, output, side="out").double()
            moments = (a.T @ a, y.T @ y)
            if name in sums:
                sums[name] = [s + m for s, m in zip(sums[name], moments, strict=True)]
            else:
                sums[name] = list(moments)
        return record

    handles = [modules[n].register_forward_hook(hook(n)) for n in names]
    was_training = model.training
    model.eval()
    try:
        x = x[:max_rows]
        for start in range(0, len(x), _BATCH):
            model(x[start : start + _BATCH])
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return {n: (sums[n][0].cpu().numpy(), sums[n][1].cpu().numpy()) for n in names}


def _sensitivity_moments(model: nn.Module, names: Sequence[str], x: torch.Tensor,
                         max_rows: int) -> dict[str, np.ndarray]:
    """Per layer, Σ Jᵀ J over the first ``max_rows`` samples of ``x``, J = ∂ logits / ∂ (the layer's output)
    at θ0 (one backward pass per logit; no loss, no label: what the model's outputs are sensitive to)."""
    modules = dict(model.named_modules())
    was_training = model.training
    model.eval()
    out: dict[str, np.ndarray] = {}
    leaf: list[torch.Tensor] = []  # the hooked layer's output, a leaf the logits are differentiated by

    def record(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        y = output.detach().requires_grad_()
        leaf.append(y)
        return y

    try:
        for name in names:
            handle = modules[name].register_forward_hook(record)
            total: torch.Tensor | None = None
            try:
                for start in range(0, min(len(x), max_rows), _BATCH):
                    batch = x[start : min(start + _BATCH, max_rows)]
                    with torch.enable_grad():
                        leaf.clear()
                        logits = model(batch)
                        for c in range(logits.shape[-1]):
                            (g,) = torch.autograd.grad(logits[..., c].sum(), leaf[0], retain_graph=True)
                            rows = _rows(modules[name], g, side="out").double()
                            total = rows.T @ rows if total is None else total + rows.T @ rows
            finally:
                handle.remove()
            assert total is not None
            out[name] = total.cpu().numpy()
    finally:
        model.train(was_training)
    return out


def _top_directions(moment: np.ndarray, k: int) -> np.ndarray:
    """The top-``k`` eigenvectors [k, d] of a second-moment matrix, each with its largest entry positive."""
    values, vectors = np.linalg.eigh(moment)
    top = vectors[:, np.argsort(values)[::-1][:k]].T
    signs = np.sign(top[np.arange(len(top)), np.abs(top).argmax(axis=1)])
    return top * signs[:, None]


def _stack(parts: Sequence[np.ndarray], k: int) -> np.ndarray:
    """The first ``k`` orthonormal directions of the parts interleaved (D_f's first, then D_r's, ...)."""
    order = [p[j] for j in range(max(len(p) for p in parts)) for p in parts if j < len(p)]
    Q, R = np.linalg.qr(np.stack(order, axis=1))
    keep = np.abs(np.diag(R)) > 1e-10 * np.abs(np.diag(R)).max()  # a direction already spanned adds nothing
    Q = Q[:, keep][:, :k].T
    signs = np.sign(Q[np.arange(len(Q)), np.abs(Q).argmax(axis=1)])
    return Q * signs[:, None]


def activation_directions(task: Any, names: Sequence[str], *, k_in: int, k_out: int | None,
                          source: str = "union", max_rows: int = 4096,
                          sensitivity: bool = False) -> dict[str, tuple[np.ndarray, Any]]:
    """Per adapted layer, its top-``k_in`` principal input directions [k_in, in'] and top-``k_out`` output
    directions [k_out, o] (None when ``k_out`` is None) from θ0's activations on the task's splits.

    ``source`` "union": of D_f ∪ D_r together; "stacked": D_f's and D_r's own directions, interleaved and
    orthonormalised. At most ``max_rows`` samples of each split are read (the first ones: deterministic).
    ``sensitivity``: the output directions are those the logits are most sensitive to (top eigenvectors of
    Σ JᵀJ, J = ∂ logits / ∂ output) instead of the outputs' principal directions.
    """
    modules = dict(task.original.named_modules())
    for name in names:
        if not isinstance(modules.get(name), (nn.Linear, nn.Conv2d)):
            raise CacheError(f"activation basis: θ0 has no nn.Linear / nn.Conv2d named {name!r}")
    splits = [_second_moments(task.original, names, getattr(task, s).x, max_rows)
              for s in ("forget", "retain")]
    if sensitivity and k_out is not None:  # the output side's moments replaced by the logits' sensitivity
        for part, s in zip(splits, ("forget", "retain"), strict=True):
            moments = _sensitivity_moments(task.original, names, getattr(task, s).x, max_rows)
            for name in names:
                part[name] = (part[name][0], moments[name])
    out: dict[str, tuple[np.ndarray, Any]] = {}
    for name in names:
        if source == "union":
            a_dirs = _top_directions(splits[0][name][0] + splits[1][name][0], k_in)
            y_dirs = (None if k_out is None
                      else _top_directions(splits[0][name][1] + splits[1][name][1], k_out))
        else:
            a_dirs = _stack([_top_directions(s[name][0], k_in) for s in splits], k_in)
            y_dirs = None if k_out is None else _stack([_top_directions(s[name][1], k_out) for s in splits],
                                                       k_out)
        out[name] = (a_dirs, y_dirs)
    return out


@subspace_basis("activations")
def activation_basis(task: Any, inner_kind: str, fields: dict[str, Any],
                     params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(x0, M) of the activation genome of the LoRA space (``inner_kind`` "lora")."""
    if inner_kind != "lora":
        raise CacheError(f"activation basis: no activation genome of the {inner_kind!r} space")
    r = int(fields["rank"])
    free_a = bool(params["free_a"])
    b_side = str(params["b_side"])
    k_in = int(params["k_in"])
    k_out = None if params["k_out"] is None else int(params["k_out"])
    directions = activation_directions(
        task, fields["layers"], k_in=max(k_in, k_out or 0) if b_side == "response" else k_in,
        k_out=k_out if b_side in ("outputs", "sensitivity") else None, source=str(params["source"]),
        max_rows=int(params["max_rows"]), sensitivity=b_side == "sensitivity")
    modules = dict(task.original.named_modules())
    offset_parts, blocks = [], []
    for name in fields["layers"]:
        V_all, U = directions[name]
        weight = modules[name].weight.detach().double().cpu().numpy()
        weight = weight.reshape(len(weight), -1)
        o = len(weight)
        if b_side == "response":  # what θ0's layer makes of its principal inputs: W0 v, orthonormalised
            U = np.linalg.qr(weight @ V_all[: k_out or k_in].T)[0].T
            U = U * np.sign(U[np.arange(len(U)), np.abs(U).argmax(axis=1)])[:, None]
        V = V_all[:k_in]
        i = V.shape[1]
        V = V / np.abs(V).max(axis=1, keepdims=True)
        # B [o, r] row-major: free (identity) or x_B = Uᵀ Z_B, column (p, c) puts direction p into column c;
        # free wherever the directions would span every output (the final layer's C logits)
        if b_side == "free" or (U is not None and len(U) >= o):
            M_B = np.eye(o * r)
        else:
            M_B = b_factor_columns(U / np.abs(U).max(axis=1, keepdims=True), r)
        if free_a:  # x_A = Z_A V
            offset_parts.append(np.zeros(r * i + o * r))
            blocks.append(block_diag(a_factor_columns(V, r), M_B))
        else:  # A fixed to the top-r input directions: Δ = a² x_B x_A is linear in z
            x_A = np.zeros((r, i))
            x_A[: min(r, len(V))] = V[:r]
            offset_parts.append(np.concatenate([x_A.reshape(-1), np.zeros(o * r)]))
            blocks.append(np.vstack([np.zeros((r * i, M_B.shape[1])), M_B]))
    return np.concatenate(offset_parts), block_diag(*blocks)


def _check_count(key: str, value: Any, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        none = "None or " if optional else ""
        raise ConfigError(f"LoRAActivationSpace: `{key}` must be {none}an integer >= 1. Got {value!r}.")


class LoRAActivationSpace(LinearSubspace):
    """LoRA factors from θ0's activations: A over the principal inputs, B over the outputs the logits read.

    Parameters
    ----------
    layers : sequence of str, optional
        Adapted layers (default: the LoRA space's, the last two nn.Linear / nn.Conv2d).
    rank : int
        r, as the LoRA space's rank (default 2).
    k_in : int
        Principal input directions A spans (default 2).
    k_out : int, optional
        Output directions B spans (default 12; where it reaches a layer's outputs, and with None, every
        entry of that layer's B is searched).
    b_side : {"sensitivity", "outputs", "response", "free"}
        Which output directions: those the logits are most sensitive to (default), the outputs' principal
        ones, W0 times the principal inputs, or none (B free).
    free_a : bool
        Search A (x_A = Z_A Vᵀ, default) or fix it to the top-r input directions (Δ linear in z).
    source : {"union", "stacked"}
        Directions of D_f ∪ D_r's activations pooled (default), or D_f's and D_r's own interleaved.
    max_rows : int
        Samples of each split read (the first ones).
    scale : float
        The LoRA space's ``scale`` (its factors' unit).
    init_sigma : float
        Standard deviation of an evolutionary initial population's rows (default 0.3).
    chunk_size : int, optional

    Examples
    --------
    >>> from pareto_unlearn.solvers import EvolutionarySolver
    >>> EvolutionarySolver(space=LoRAActivationSpace(), pop_size=20, n_gen=5).name
    'nsga2-lora-act'
    """

    name = "lora-act"
    basis_name = "activations"

    unrecorded: ClassVar[tuple[str, ...]] = ("chunk_size",)  # speed only: same points

    def __init__(self, *, layers: Sequence[str] | None = None, rank: int = 2, k_in: int = 2,
                 k_out: int | None = 12, b_side: str = "sensitivity", free_a: bool = True,
                 source: str = "union", max_rows: int = 4096, scale: float = DEFAULT_LORA_SCALE,
                 init_sigma: float = 0.3,
                 chunk_size: int | None = None) -> None:
        self.layers = layers
        self.rank = rank
        self.k_in = k_in
        self.k_out = k_out
        self.b_side = b_side
        self.free_a = free_a
        self.source = source
        self.max_rows = max_rows
        self.scale = scale
        self.init_sigma = init_sigma
        self.chunk_size = chunk_size

    def validate(self) -> None:
        """Check ``k_in``, ``k_out``, ``source``, ``max_rows`` and the wrapped space's settings."""
        _check_count("k_in", self.k_in)
        _check_count("k_out", self.k_out, optional=True)
        _check_count("max_rows", self.max_rows)
        if self.b_side not in B_SIDES:
            raise ConfigError(f"LoRAActivationSpace: `b_side` must be one of {', '.join(B_SIDES)}. "
                              f"Got {self.b_side!r}.")
        if self.source not in SOURCES:
            raise ConfigError(f"LoRAActivationSpace: `source` must be one of {', '.join(SOURCES)}. "
                              f"Got {self.source!r}.")
        if not isinstance(self.free_a, bool):
            raise ConfigError(f"LoRAActivationSpace: `free_a` must be true or false. Got {self.free_a!r}.")
        super().validate()

    def inner_space(self) -> SearchSpace:
        """The LoRA space whose box the points lie in."""
        return LoRASpace(layers=self.layers, rank=self.rank, scale=self.scale, chunk_size=self.chunk_size)

    def basis_params(self) -> dict[str, Any]:
        """What, with θ0 and the task's splits, fixes the basis."""
        return {"k_in": int(self.k_in), "k_out": None if self.k_out is None else int(self.k_out),
                "b_side": str(self.b_side), "free_a": bool(self.free_a), "source": str(self.source),
                "max_rows": int(self.max_rows)}

    def basis_passes(self, task: UnlearningTask, inner: BoundSpace) -> float:
        """One forward pass over the samples read, and per adapted layer, with ``b_side="sensitivity"``, one
        forward and one backward per logit (a backward counted as two forward passes)."""
        rows = sum(min(len(getattr(task, s)), int(self.max_rows)) for s in ("forget", "retain"))
        sensitivity = self.b_side == "sensitivity" and self.k_out is not None
        per_layer = 1 + 2 * int(task.n_classes) if sensitivity else 0
        layers = cast(LoRAEvaluator, inner).layers  # bound by LoRASpace (inner_space)
        return float(rows * (1 + len(layers) * per_layer))

    def gradient_start(self, bound: BoundSpace, seed: int) -> np.ndarray:
        """With a free A, z = 0 has B = A = 0, where every gradient of B·A is zero: a gradient solver starts
        from a small seeded draw of the Z_A coordinates (B = 0, so the model is θ0's)."""
        if not self.free_a:
            return np.zeros(bound.n_var)
        return free_a_gradient_start(bound, rank=self.rank, init_sigma=self.init_sigma, seed=seed)
