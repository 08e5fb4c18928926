"""The last-layer space: Δ of the final linear layer, a whole population evaluated on cached features.

Genome and operators
--------------------
x ∈ [-1, 1]^(C·d + C): ΔW = u · x[:C·d].view(C, d), Δb = u · x[C·d:], with the unit u = ``scale`` × the
standard deviation of θ0's final weight. Initial rows: θ0 (x = 0), the user's ``initial`` genomes, and
x ~ N(0, ``init_sigma``²) clipped to the box; then SBX (η 15, p 0.9) and polynomial mutation (η 20,
pymoo's per-variable probability 1 / n_var), duplicates eliminated.

The defaults ``scale=8``, ``init_sigma=0.3`` were chosen by HV on digits (CNN, ``random:0.5``, uniform
reference, pop 40, 30 generations; HV of the final population against the task's reference point
(2.322, 2.326), mean of seeds 0 and 1):

=====  =============  ============  ============  ============  =============
scale  init_sigma .05  .1            .2            .3            .5
=====  =============  ============  ============  ============  =============
0.5    0.054                        0.057
1      0.055                        0.070
2      0.058                        0.143
4      0.085                        0.689         0.957
6                     0.352                       1.012
8      0.269          0.652         1.093         **1.239**     0.966 (.4: 1.157)
12                    0.992                       1.040
16                                  1.053         0.985         0.978
32                                  0.868                       0.788
=====  =============  ============  ============  ============  =============

Speed (digits CNN, P = 200, N = 1,295 forget + retain rows; ``pareto_unlearn.spaces.benchmark_last_layer``,
best of 60 interleaved runs on a shared 2-core CPU, so ±10 %): with one thread the vectorised
evaluation is 610–850× faster than the elementwise twin (a full model per individual on raw inputs)
and costs 2.13–2.33× the bare GEMM features [N, d] @ W_all [d, P·C] (5 ms); ``compile=True`` gives
1.94–2.03×; the plain eager ``from_logits`` path costs 7.1–7.3×. With two threads: 2.37× eager, 2.21×
compiled. Those figures predate the fused path's base-2 logits (one ``exp2`` per logit, about a third
of torch's ``exp``) and equal chunks: on the same machine, lightly loaded, 1.90× against 2.64× before
(docs/speed.md, "Where the rest of eval_vs_gemm went").
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

from pareto_unlearn.exceptions import CacheError, ConfigError
from pareto_unlearn.metrics import PREDICTION_SPLITS, Predictions
from pareto_unlearn.spaces._fused import fused_plan
from pareto_unlearn.spaces._macs import count_macs
from pareto_unlearn.spaces._rebuild import rebuilder
from pareto_unlearn.spaces._space import BoundSpace, SearchSpace
from pareto_unlearn.task import last_linear

if TYPE_CHECKING:
    from pareto_unlearn.objectives import Objectives
    from pareto_unlearn.task import UnlearningTask

__all__ = ["LastLayerSpace", "LastLayerEvaluator", "genome_from_model", "build_last_layer_model",
           "DEFAULT_SCALE"]

logger = logging.getLogger(__name__)

DEFAULT_SCALE = 8.0
SPLITS = PREDICTION_SPLITS


@torch.no_grad()
def _layer_inputs(model: nn.Module, layer: nn.Linear, x: torch.Tensor,
                  batch_size: int = 2048) -> torch.Tensor:
    """Inputs [n, d] of ``layer`` on ``x``; refuses models whose output is not that layer's output."""
    captured: list[torch.Tensor] = []
    outputs: list[torch.Tensor] = []

    def record(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        captured.append(inputs[0])
        outputs.append(output)

    handle = layer.register_forward_hook(record)
    try:
        model.eval()
        for i in range(0, len(x), batch_size):
            logits = model(x[i : i + batch_size])
            if not torch.equal(outputs[-1], logits):
                raise ConfigError("LastLayerSpace: the model's output is not the output of its last "
                                  "nn.Linear; the last-layer space needs logits = last_linear(features)")
    finally:
        handle.remove()
    return torch.cat(captured).reshape(len(x), -1)


class LastLayerEvaluator(BoundSpace):
    """Objectives of a whole population of last-layer genomes, from features cached once at θ0.

    Parameters
    ----------
    task : UnlearningTask
    objectives : Objectives
    scale : float
        Genome unit relative to the std of θ0's final weight (Δ = scale · std · x, x ∈ [-1, 1]).
    chunk_size : int, optional
        Individuals per GEMM; default: as many as keep a chunk's logits near 2^19 floats (cache-sized).
    compile : bool
        Fuse the work after each GEMM with ``torch.compile`` (falls back to eager, with a warning, when
        compiling is not possible). Costs a compilation (seconds) at the first population.

    Attributes
    ----------
    layer_name : str
    unit : float
    n_var : int
    features_ : dict of str → Tensor [n, d]
        Penultimate features of each split cached so far (forget and retain at construction).
    suffix_fraction_ : float
        The last layer's share of the network's multiply-accumulates (a cached-suffix pass counts so).
    """

    def __init__(self, task: UnlearningTask, objectives: Objectives, *, scale: float = DEFAULT_SCALE,
                 chunk_size: int | None = None, compile: bool = False) -> None:
        self.task = task
        self.objectives = objectives
        self.layer_name, layer = last_linear(task.original)
        self.W0 = layer.weight.detach().clone()  # [C, d]
        self.has_bias = layer.bias is not None
        self.b0 = (layer.bias.detach().clone() if self.has_bias
                   else torch.zeros(len(self.W0), device=self.W0.device))
        self.n_classes, self.dim = self.W0.shape
        self.scale = scale
        self.unit = float(scale * self.W0.std())
        self.n_var = self.n_classes * self.dim + (self.n_classes if self.has_bias else 0)
        self.subsets = list(dict.fromkeys(o.subset for o in objectives))
        self.features_: dict[str, torch.Tensor] = {}
        for s in self.subsets:
            self.features(s)
        self.labels = {s: getattr(task, s).y for s in SPLITS}
        macs = count_macs(task.original, task.forget.x)
        self.suffix_fraction_ = macs.get(self.layer_name, 0.0) / max(sum(macs.values()), 1.0)
        n_rows = sum(len(self.features_[s]) for s in self.subsets)
        self.chunk_size = chunk_size or max(1, (1 << 19) // max(1, n_rows * self.n_classes))
        self.plan_ = fused_plan(objectives, self.features_, self.labels, self.W0, self.b0, compile=compile)

    @property
    def n_rows(self) -> int:
        """Samples per individual evaluation (the objectives' splits)."""
        return sum(len(getattr(self.task, s)) for s in self.subsets)

    def features(self, subset: str) -> torch.Tensor:
        """Cached penultimate features [n, d] of a split (computed at θ0 on first use)."""
        if subset not in self.features_:
            layer = dict(self.task.original.named_modules())[self.layer_name]
            self.features_[subset] = _layer_inputs(self.task.original, layer, getattr(self.task, subset).x)
        return self.features_[subset]

    def genomes(self, X: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The genomes ``X`` [P, n_var] as float32 tensors: xW [P, C, d] and xb [P, C] (None without bias)."""
        X = torch.as_tensor(np.asarray(X, dtype=np.float32), device=self.W0.device).reshape(-1, self.n_var)
        C, d = self.n_classes, self.dim
        return X[:, : C * d].view(-1, C, d), (X[:, C * d :] if self.has_bias else None)

    def weights(self, X: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Weights [P, C, d] and biases [P, C] of the genomes ``X`` [P, n_var] (float32)."""
        xW, xb = self.genomes(X)
        W = self.W0 + self.unit * xW
        b = self.b0 + self.unit * xb if xb is not None else self.b0.expand(len(xW), self.n_classes)
        return W, b

    @torch.no_grad()
    def logits(self, X: np.ndarray | torch.Tensor, subset: str) -> torch.Tensor:
        """Logits [P, n, C] of every genome on a split (plain batched matmul)."""
        W, b = self.weights(X)
        return torch.matmul(self.features(subset), W.transpose(1, 2)) + b[:, None, :]

    @torch.no_grad()
    def evaluate(self, X: np.ndarray | torch.Tensor) -> np.ndarray:
        """Objectives [P, m] (float64) of the genomes ``X`` [P, n_var]: fused path when it applies."""
        if self.plan_ is None:
            return self.evaluate_generic(X)
        xW, xb = self.genomes(X)
        return self.plan_(xW, xb, self.unit, self.chunk_size).double().cpu().numpy()

    @torch.no_grad()
    def evaluate_generic(self, X: np.ndarray | torch.Tensor) -> np.ndarray:
        """The plain reference of :meth:`evaluate`: batched logits, then ``objectives.from_logits``."""
        X = np.asarray(X, dtype=np.float32).reshape(-1, self.n_var)
        out = []
        for i in range(0, len(X), self.chunk_size):
            logits = {s: self.logits(X[i : i + self.chunk_size], s) for s in self.subsets}
            out.append(self.objectives.from_logits(logits, {s: self.labels[s] for s in self.subsets}))
        return torch.cat(out).double().cpu().numpy()

    def gemm_operands(self, X: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The bare GEMM's operands: features [N, d] of the objectives' splits and W_all [d, P·C]."""
        W, _ = self.weights(X)
        H = torch.cat([self.features(s) for s in self.subsets])
        return H, W.reshape(-1, self.dim).T.contiguous()

    @torch.no_grad()
    def predictions(self, X: np.ndarray) -> list[Predictions]:
        """Logits of each genome on the four metric splits (from cached features)."""
        per_split = {s: self.logits(X, s) for s in SPLITS}
        return [Predictions(*(per_split[s][i] for s in SPLITS)) for i in range(len(X))]

    @property
    def setup_passes(self) -> float:
        """Caching the features is one full forward pass per sample of the objectives' splits."""
        return float(self.n_rows)

    def losses(self, x: torch.Tensor) -> torch.Tensor:
        """The objectives [m] of one genome ``x`` [n_var] (float32), differentiable in ``x``: full batch on
        the cached features, the same functions :meth:`evaluate` computes."""
        C, d = self.n_classes, self.dim
        W = self.W0 + self.unit * x[: C * d].view(C, d)
        b = self.b0 + self.unit * x[C * d :] if self.has_bias else self.b0
        logits = {s: (self.features(s) @ W.T + b)[None] for s in self.subsets}
        return self.objectives.from_logits(logits, {s: self.labels[s] for s in self.subsets})[0]

    def rebuild_fields(self) -> dict[str, Any]:
        """What :func:`build_last_layer_model` needs besides the genome."""
        return {"layer": self.layer_name, "unit": self.unit, "scale": float(self.scale)}


def build_last_layer_model(task: UnlearningTask, genome: np.ndarray, *, layer: str, unit: float) -> nn.Module:
    """θ0 with its final linear layer moved by the genome (ΔW = unit · x[:C·d], Δb = unit · x[C·d:])."""
    model = task.copy_original()
    module = dict(model.named_modules()).get(layer)
    if not isinstance(module, nn.Linear):
        raise CacheError(f"last-layer rebuild: θ0 has no nn.Linear named {layer!r}")
    x = torch.as_tensor(np.asarray(genome, dtype=np.float32), device=module.weight.device).reshape(-1)
    C, d = module.weight.shape
    expected = C * d + (C if module.bias is not None else 0)
    if x.numel() != expected:
        raise CacheError(f"last-layer rebuild: the genome has {x.numel()} values, layer {layer!r} needs "
                         f"{expected}")
    with torch.no_grad():
        module.weight.add_(unit * x[: C * d].view(C, d))
        if module.bias is not None:
            module.bias.add_(unit * x[C * d :])
    return model


@rebuilder("last_layer")
def _rebuild(task: UnlearningTask, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> nn.Module:
    return build_last_layer_model(task, arrays[spec["array"]], layer=spec["layer"], unit=float(spec["unit"]))


def genome_from_model(task: UnlearningTask, model: nn.Module, *, scale: float = DEFAULT_SCALE) -> np.ndarray:
    """The last-layer genome [n_var] of any model of the task's architecture (e.g. an LS or JD solution).

    Only its final linear layer is read: x = (W − W0) / unit. Entries beyond [-1, 1] mean the model moved
    further than the space reaches; the solver clips them (with a warning) when given as ``initial``.

    Examples
    --------
    >>> x = genome_from_model(task, rebuild_model(task, ls_front, 0))  # an LS point  # doctest: +SKIP
    >>> solver = EvolutionarySolver(space=LastLayerSpace(), initial=x[None])  # doctest: +SKIP
    >>> front = solver.run(task, objectives)  # doctest: +SKIP
    """
    name, layer0 = last_linear(task.original)
    layer = dict(model.named_modules()).get(name)
    if not isinstance(layer, nn.Linear) or layer.weight.shape != layer0.weight.shape:
        raise ConfigError(f"genome_from_model: the model has no nn.Linear {name!r} shaped like θ0's")
    unit = float(scale * layer0.weight.detach().std())
    parts = [(layer.weight.detach() - layer0.weight.detach()).reshape(-1)]
    if layer0.bias is not None:
        parts.append(layer.bias.detach() - layer0.bias.detach())
    return (torch.cat(parts) / unit).double().cpu().numpy()


class LastLayerSpace(SearchSpace):
    """Δ of the final linear layer, a whole population evaluated on penultimate features cached at θ0.

    Parameters
    ----------
    scale : float
        Genome unit relative to the std of θ0's final weight (ΔW = scale · std · x, x ∈ [-1, 1]; default 8,
        chosen by HV on digits, see the module's table).
    init_sigma : float
        Standard deviation of an evolutionary initial population's perturbed rows (default 0.3).
    chunk_size : int, optional
        Individuals per GEMM (memory / cache trade-off; results do not depend on it beyond rounding).
    compile : bool
        Fuse the objectives through ``torch.compile`` (eager fallback); see :class:`LastLayerEvaluator`.

    Examples
    --------
    >>> from pareto_unlearn.solvers import EvolutionarySolver
    >>> EvolutionarySolver(space=LastLayerSpace(), pop_size=20, n_gen=5).name
    'nsga2-last-layer'
    """

    name = "last-layer"
    rebuild_kind = "last_layer"
    unrecorded: ClassVar[tuple[str, ...]] = ("chunk_size", "compile")  # speed only: same points

    def __init__(self, *, scale: float = DEFAULT_SCALE, init_sigma: float = 0.3,
                 chunk_size: int | None = None, compile: bool = False) -> None:
        self.scale = scale
        self.init_sigma = init_sigma
        self.chunk_size = chunk_size
        self.compile = compile

    def validate(self) -> None:
        if not (isinstance(self.scale, (int, float)) and np.isfinite(self.scale) and self.scale > 0):
            raise ConfigError(f"LastLayerSpace: `scale` must be a positive number. Got {self.scale!r}.")
        if self.chunk_size is not None and not (isinstance(self.chunk_size, int) and self.chunk_size >= 1):
            raise ConfigError(f"LastLayerSpace: `chunk_size` must be None or an integer >= 1. "
                              f"Got {self.chunk_size!r}.")

    def bind(self, task: UnlearningTask, objectives: Objectives) -> LastLayerEvaluator:
        return LastLayerEvaluator(task, objectives, scale=self.scale, chunk_size=self.chunk_size,
                                  compile=self.compile)

    def initial_rows(self, bound: BoundSpace, n: int, rng: np.random.Generator) -> np.ndarray:
        rows = rng.normal(0.0, self.init_sigma, size=(n, bound.n_var))
        rows[0] = 0.0
        return rows
