"""``nsga2-lora``: NSGA-II over low-rank deltas Δ = B·A of chosen layers, frozen-prefix activations cached.

Genome and operators
--------------------
Per adapted layer with weight W0 [out, in'] (a conv weight (out, in, k, k) is read as [out, in·k·k]):
A [r, in'] then B [out, r], concatenated over layers, every entry x ∈ [-1, 1]; A = a·x_A, B = a·x_B with
a = sqrt(``scale`` · std(W0)), so each entry of Δ is at most r · scale · std(W0). B·A is symmetric under
(A, B) → (cA, B/c) and zero whenever B = 0, so the initial rows are θ0 (x = 0) plus rows with
x_A ~ N(0, ``init_sigma_a``²) and x_B ~ N(0, ``init_sigma``²), clipped: every such row has Δ ≠ 0 and
no two rows are equal. Operators as for the last layer (SBX η 15, PM η 20).

The defaults ``scale=8``, ``init_sigma=0.3`` (B) and ``init_sigma_a=0.5`` (A) were chosen by HV on digits
(CNN, ``random:0.5``, uniform reference, rank 2 on fc1 and fc, pop 40, 30 generations, mean of seeds 0
and 1; reference point (2.322, 2.326)): with init_sigma 0.05 / 0.3 / 0.5, scale 2 → 0.058 / 0.522 / –,
scale 4 → – / – / 0.963, scale 8 → 0.299 / **1.017** / 0.970, scale 16 → – / – / 0.849,
scale 32 → 0.841 / 0.748 / –.

The adapted layers' stages run for the whole population at once: a hand-written low-rank path when the
suffix is a stack of Linear / ReLU / Flatten / Dropout / Identity (h Wᵀ + (h Aᵀ) Bᵀ, one GEMM for the shared
part), else ``torch.func.functional_call`` under ``torch.vmap`` over individuals, in chunks.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from pareto_unlearn.exceptions import CacheError, ConfigError
from pareto_unlearn.metrics import PREDICTION_SPLITS, Predictions
from pareto_unlearn.spaces._macs import count_macs
from pareto_unlearn.spaces._rebuild import rebuilder
from pareto_unlearn.spaces._space import BoundSpace, SearchSpace

if TYPE_CHECKING:
    from pareto_unlearn.objectives import Objectives
    from pareto_unlearn.task import UnlearningTask

__all__ = ["LoRASpace", "LoRAEvaluator", "build_lora_model", "default_lora_layers", "DEFAULT_LORA_SCALE"]

DEFAULT_LORA_SCALE = 8.0
SPLITS = PREDICTION_SPLITS
_FAST = (nn.Linear, nn.ReLU, nn.Identity, nn.Dropout, nn.Flatten)
_BUDGET = 1 << 24  # floats of the largest activation of one vmap chunk


def default_lora_layers(model: nn.Module) -> list[str]:
    """Qualified names of the last two ``nn.Linear`` / ``nn.Conv2d`` layers of ``model``."""
    names = [n for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    if not names:
        raise ConfigError("LoRASpace: the model has no nn.Linear or nn.Conv2d layer to adapt")
    return names[-2:]


def _flat_weight_shape(module: nn.Module) -> tuple[int, int]:
    w = cast(torch.Tensor, module.weight)
    return int(w.shape[0]), int(w[0].numel())


def _leaves(module: nn.Module, prefix: str) -> list[tuple[str, nn.Module]]:
    """Leaf modules of nested ``nn.Sequential`` containers in forward order (None if not a plain stack)."""
    if isinstance(module, nn.Sequential):
        out = []
        for name, child in module.named_children():
            out += _leaves(child, f"{prefix}{name}.")
        return out
    return [(prefix[:-1], module)]


class LoRAEvaluator(BoundSpace):
    """Objectives of a population of low-rank deltas, the frozen prefix's activations cached at θ0.

    Parameters
    ----------
    task : UnlearningTask
    objectives : Objectives
    layers : sequence of str, optional
        Qualified names of the adapted nn.Linear / nn.Conv2d layers (default: the last two).
    rank : int
    scale : float
    chunk_size : int, optional
        Individuals per batched call (default: from a memory budget).

    Attributes
    ----------
    layers : list of str
    units : list of float
        a per layer (A = a·x_A, B = a·x_B).
    stage : str
        The first top-level stage that contains an adapted layer; its input is cached.
    fast_path : bool
        Whether the hand-written low-rank path runs (else vmap of functional_call).
    suffix_fraction_ : float
    """

    def __init__(self, task: UnlearningTask, objectives: Objectives, *, layers: Sequence[str] | None = None,
                 rank: int = 2, scale: float = DEFAULT_LORA_SCALE, chunk_size: int | None = None) -> None:
        model = task.original
        if not isinstance(model, nn.Sequential):
            raise ConfigError("LoRASpace: the model must be an nn.Sequential of named stages "
                              "(see pareto_unlearn.task._models)")
        modules = dict(model.named_modules())
        self.layers = list(layers) if layers is not None else default_lora_layers(model)
        for name in self.layers:
            if not isinstance(modules.get(name), (nn.Linear, nn.Conv2d)):
                raise ConfigError(f"LoRASpace: `layers` entry {name!r} is not an nn.Linear or nn.Conv2d of "
                                  f"the model; e.g. {default_lora_layers(model)}")
        if len(set(self.layers)) != len(self.layers) or not self.layers:
            raise ConfigError(f"LoRASpace: `layers` must be distinct, non-empty. Got {self.layers!r}.")
        self.task, self.objectives, self.rank, self.scale = task, objectives, rank, scale
        children = list(model.named_children())
        first = next(i for i, (n, _) in enumerate(children)
                     if any(layer == n or layer.startswith(n + ".") for layer in self.layers))
        self.stage = children[first][0]
        self.prefix = nn.Sequential(OrderedDict(children[:first]))
        self.suffix = nn.Sequential(OrderedDict(children[first:]))
        self.shapes = [_flat_weight_shape(modules[n]) for n in self.layers]
        self.weights0 = {n: modules[n].weight.detach() for n in self.layers}
        self.units = [math.sqrt(scale * float(self.weights0[n].std())) for n in self.layers]
        self.n_var = sum(rank * i + o * rank for o, i in self.shapes)
        self.leaves = _leaves(self.suffix, "")
        self.fast_path = all(isinstance(m, _FAST) for _, m in self.leaves) and all(
            not isinstance(m, nn.Flatten) or (m.start_dim, m.end_dim) == (1, -1) for _, m in self.leaves)
        self.subsets = list(dict.fromkeys(o.subset for o in objectives))
        self.inputs_: dict[str, torch.Tensor] = {}
        for s in self.subsets:
            self.inputs(s)
        self.labels = {s: getattr(task, s).y for s in SPLITS}
        macs = count_macs(model, task.forget.x)
        in_suffix = [k for k in macs if any(k == n or k.startswith(n + ".") for n, _ in children[first:])]
        self.suffix_fraction_ = sum(macs[k] for k in in_suffix) / max(sum(macs.values()), 1.0)
        widest = self._widest_activation()
        self.chunk_size = chunk_size or max(1, _BUDGET // max(1, self.n_rows * widest))

    @property
    def n_rows(self) -> int:
        return sum(len(getattr(self.task, s)) for s in self.subsets)

    @torch.no_grad()
    def _widest_activation(self) -> int:
        sizes = [1]

        def record(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            sizes.append(int(output[0].numel()))

        handles = [m.register_forward_hook(record) for _, m in self.leaves]
        try:
            self.suffix(self.inputs(self.subsets[0])[:1])
        finally:
            for h in handles:
                h.remove()
        return max(sizes)

    @torch.no_grad()
    def inputs(self, subset: str) -> torch.Tensor:
        """Cached input of the first adapted stage on a split (computed at θ0 on first use)."""
        if subset not in self.inputs_:
            x = getattr(self.task, subset).x
            self.inputs_[subset] = torch.cat([self.prefix(x[i : i + 2048]) for i in range(0, len(x), 2048)])
        return self.inputs_[subset]

    def factors(self, X: np.ndarray | torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Per adapted layer, A [P, r, in'] and B [P, out, r] of the genomes ``X`` [P, n_var] (float32)."""
        device = next(iter(self.weights0.values())).device
        if isinstance(X, torch.Tensor):  # a genome being differentiated: keep its graph
            X = X.to(device=device, dtype=torch.float32).reshape(-1, self.n_var)
        else:
            X = torch.as_tensor(np.asarray(X, dtype=np.float32), device=device).reshape(-1, self.n_var)
        out, offset, r = {}, 0, self.rank
        for name, (o, i), a in zip(self.layers, self.shapes, self.units, strict=True):
            A = a * X[:, offset : offset + r * i].reshape(-1, r, i)
            offset += r * i
            B = a * X[:, offset : offset + o * r].reshape(-1, o, r)
            offset += o * r
            out[name] = (A, B)
        return out

    @torch.no_grad()
    def logits(self, X: np.ndarray | torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """Logits [P, n, C] of every genome on cached stage inputs ``h`` [n, ...]."""
        factors = self.factors(X)
        P = next(iter(factors.values()))[0].shape[0]
        out = []
        for start in range(0, P, self.chunk_size):
            chunk = {k: (A[start : start + self.chunk_size], B[start : start + self.chunk_size])
                     for k, (A, B) in factors.items()}
            out.append(self._fast(chunk, h) if self.fast_path else self._vmap(chunk, h))
        return torch.cat(out)

    def _fast(self, factors: dict[str, tuple[torch.Tensor, torch.Tensor]], h: torch.Tensor) -> torch.Tensor:
        P = next(iter(factors.values()))[0].shape[0]
        batched = False
        for name, module in self.leaves:
            if isinstance(module, nn.Linear):
                base = torch.nn.functional.linear(h, module.weight, module.bias)
                if name in factors:
                    A, B = factors[name]
                    if batched:
                        low = torch.bmm(torch.bmm(h, A.transpose(1, 2)), B.transpose(1, 2))
                    else:
                        t = (h @ A.reshape(-1, A.shape[-1]).T).view(len(h), P, -1).transpose(0, 1)
                        low = torch.bmm(t, B.transpose(1, 2))
                    h, batched = base + low, True
                else:
                    h = base
            elif isinstance(module, nn.ReLU):
                h = torch.relu_(h) if batched else torch.relu(h)
            elif isinstance(module, nn.Flatten):
                h = h.flatten(2) if batched else h.flatten(1)
        return h if batched else h.unsqueeze(0).expand(P, *h.shape)

    def _vmap(self, factors: dict[str, tuple[torch.Tensor, torch.Tensor]], h: torch.Tensor) -> torch.Tensor:
        params = {**dict(self.suffix.named_parameters()), **dict(self.suffix.named_buffers())}
        names = list(factors)

        def one(deltas: tuple[torch.Tensor, ...], x: torch.Tensor) -> torch.Tensor:
            state = dict(params)
            for name, delta in zip(names, deltas, strict=True):
                state[f"{name}.weight"] = self.weights0[name] + delta.view_as(self.weights0[name])
            return functional_call(self.suffix, state, (x,))

        deltas = tuple(torch.bmm(B, A) for A, B in factors.values())
        return torch.vmap(one, in_dims=(0, None))(deltas, h)

    @torch.no_grad()
    def evaluate(self, X: np.ndarray | torch.Tensor) -> np.ndarray:
        """Objectives [P, m] (float64) of the genomes ``X`` [P, n_var]."""
        h = torch.cat([self.inputs(s) for s in self.subsets])
        logits = self.logits(X, h)
        parts, start = {}, 0
        for s in self.subsets:
            n = len(self.inputs(s))
            parts[s] = logits[:, start : start + n]
            start += n
        F = self.objectives.from_logits(parts, {s: self.labels[s] for s in self.subsets})
        return F.double().cpu().numpy()

    @torch.no_grad()
    def predictions(self, X: np.ndarray) -> list[Predictions]:
        """Logits of each genome on the four metric splits (from cached stage inputs)."""
        per_split = {s: self.logits(X, self.inputs(s)) for s in SPLITS}
        return [Predictions(*(per_split[s][i] for s in SPLITS)) for i in range(len(X))]

    @property
    def setup_passes(self) -> float:
        """Caching runs the frozen prefix once per sample: its share of a full pass."""
        return self.n_rows * (1.0 - self.suffix_fraction_)

    def losses(self, x: torch.Tensor) -> torch.Tensor:
        """The objectives [m] of one genome ``x`` [n_var] (float32), differentiable in ``x``: full batch on
        the cached stage inputs, the same functions :meth:`evaluate` computes."""
        factors = self.factors(x[None])
        h = torch.cat([self.inputs(s) for s in self.subsets])
        logits = self._fast(factors, h) if self.fast_path else self._vmap(factors, h)
        parts, start = {}, 0
        for s in self.subsets:
            n = len(self.inputs(s))
            parts[s] = logits[:, start : start + n]
            start += n
        return self.objectives.from_logits(parts, {s: self.labels[s] for s in self.subsets})[0]

    def rebuild_fields(self) -> dict[str, Any]:
        """What :func:`build_lora_model` needs besides the genome."""
        return {"layers": list(self.layers), "rank": int(self.rank), "units": [float(u) for u in self.units],
                "scale": float(self.scale)}


def build_lora_model(task: UnlearningTask, genome: np.ndarray, *, layers: Sequence[str], rank: int,
                     units: Sequence[float]) -> nn.Module:
    """θ0 with W += B·A on each adapted layer (A = a·x_A, B = a·x_B, genome layout as in the space)."""
    model = task.copy_original()
    modules = dict(model.named_modules())
    x = torch.as_tensor(np.asarray(genome, dtype=np.float32)).reshape(-1)
    offset = 0
    with torch.no_grad():
        for name, a in zip(layers, units, strict=True):
            module = modules.get(name)
            if not isinstance(module, (nn.Linear, nn.Conv2d)):
                raise CacheError(f"lora rebuild: θ0 has no nn.Linear / nn.Conv2d named {name!r}")
            o, i = _flat_weight_shape(module)
            if offset + rank * (i + o) > x.numel():
                raise CacheError(f"lora rebuild: the genome has {x.numel()} values, too few for layer "
                                 f"{name!r}")
            A = a * x[offset : offset + rank * i].view(rank, i).to(module.weight.device)
            B = a * x[offset + rank * i : offset + rank * (i + o)].view(o, rank).to(module.weight.device)
            offset += rank * (i + o)
            module.weight.add_((B @ A).view_as(module.weight))
    if offset != x.numel():
        raise CacheError(f"lora rebuild: the genome has {x.numel()} values, the layers need {offset}")
    return model


@rebuilder("lora")
def _rebuild(task: UnlearningTask, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> nn.Module:
    return build_lora_model(task, arrays[spec["array"]], layers=spec["layers"], rank=int(spec["rank"]),
                            units=[float(u) for u in spec["units"]])


class LoRASpace(SearchSpace):
    """Rank-r deltas Δ = B·A of chosen layers, the rest of θ0 frozen and the prefix's activations cached.

    Parameters
    ----------
    layers : sequence of str, optional
        Adapted layers (qualified names); default the last two nn.Linear / nn.Conv2d.
    rank : int
        Rank r of each delta (default 2).
    scale : float
        Genome unit: a = sqrt(scale · std(W0)) per layer (default 8, chosen by HV on digits).
    init_sigma, init_sigma_a : float
        Standard deviations of an evolutionary initial population's B and A entries (0.3, 0.5); A ≠ 0
        and B ≠ 0 in every perturbed row, so each has Δ ≠ 0 (B·A is zero whenever B is).
    chunk_size : int, optional
        Individuals per batched call (default: from a memory budget).

    A gradient solver in this space starts at x = 0, where B = 0 and A = 0 make every gradient of B·A
    zero; it starts instead from the first perturbed row of a seeded draw (see
    :meth:`gradient_start`).
    """

    name = "lora"
    rebuild_kind = "lora"
    unrecorded: ClassVar[tuple[str, ...]] = ("chunk_size",)  # a speed setting: the points do not depend on it

    def __init__(self, *, layers: Sequence[str] | None = None, rank: int = 2,
                 scale: float = DEFAULT_LORA_SCALE, init_sigma: float = 0.3, init_sigma_a: float = 0.5,
                 chunk_size: int | None = None) -> None:
        self.layers = layers
        self.rank = rank
        self.scale = scale
        self.init_sigma = init_sigma
        self.init_sigma_a = init_sigma_a
        self.chunk_size = chunk_size

    def validate(self) -> None:
        if not (isinstance(self.rank, int) and not isinstance(self.rank, bool) and self.rank >= 1):
            raise ConfigError(f"LoRASpace: `rank` must be an integer >= 1. Got {self.rank!r}.")
        if not (isinstance(self.scale, (int, float)) and np.isfinite(self.scale) and self.scale > 0):
            raise ConfigError(f"LoRASpace: `scale` must be a positive number. Got {self.scale!r}.")
        if not (isinstance(self.init_sigma_a, (int, float)) and self.init_sigma_a > 0):
            raise ConfigError(f"LoRASpace: `init_sigma_a` must be a positive number. "
                              f"Got {self.init_sigma_a!r}.")
        if self.chunk_size is not None and not (isinstance(self.chunk_size, int) and self.chunk_size >= 1):
            raise ConfigError(f"LoRASpace: `chunk_size` must be None or an integer >= 1. "
                              f"Got {self.chunk_size!r}.")
        if isinstance(self.layers, str):
            raise ConfigError(f"LoRASpace: `layers` must be a list of layer names. "
                              f"Got the string {self.layers!r}.")

    def bind(self, task: UnlearningTask, objectives: Objectives) -> LoRAEvaluator:
        return LoRAEvaluator(task, objectives, layers=self.layers, rank=self.rank, scale=self.scale,
                             chunk_size=self.chunk_size)

    def initial_rows(self, bound: BoundSpace, n: int, rng: np.random.Generator) -> np.ndarray:
        rows = np.zeros((n, bound.n_var))
        offset, r = 0, self.rank
        for o, i in bound.shapes:  # type: ignore[attr-defined]  # a LoRAEvaluator's layer shapes
            rows[:, offset : offset + r * i] = rng.normal(0.0, self.init_sigma_a, size=(n, r * i))
            offset += r * i
            rows[:, offset : offset + o * r] = rng.normal(0.0, self.init_sigma, size=(n, o * r))
            offset += o * r
        rows[0] = 0.0
        return rows

    def gradient_start(self, bound: BoundSpace, seed: int) -> np.ndarray:
        """Where a gradient solver starts: a small seeded draw of A (B = 0, so Δ = 0: the model is θ0's),
        since at A = B = 0 every gradient of B·A is zero."""
        rows = self.initial_rows(bound, 2, np.random.default_rng([seed, 20251]))
        start, offset, r = np.zeros(bound.n_var), 0, self.rank
        for o, i in bound.shapes:  # type: ignore[attr-defined]
            start[offset : offset + r * i] = rows[1, offset : offset + r * i]
            offset += r * i + o * r
        return start
