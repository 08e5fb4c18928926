"""Timing of the last-layer space for ``pareto-unlearn bench``: the vectorised population evaluation
against its elementwise twin (a full model per individual) and against the bare GEMM."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from pymoo.core.problem import ElementwiseProblem

from pareto_unlearn.objectives import Objectives, make_objectives
from pareto_unlearn.solvers.evolutionary._solver import SpaceProblem
from pareto_unlearn.spaces._last_layer import DEFAULT_SCALE, LastLayerEvaluator, build_last_layer_model

if TYPE_CHECKING:
    from pareto_unlearn.task import UnlearningTask

__all__ = ["LastLayerElementwiseProblem", "bench", "benchmark_last_layer"]


class LastLayerElementwiseProblem(ElementwiseProblem):
    """The per-individual twin of the vectorised problem (for timing): each genome builds the full model
    and runs it on the raw inputs of the objectives' splits."""

    def __init__(self, task: UnlearningTask, objectives: Objectives, *, layer: str, unit: float,
                 n_var: int) -> None:
        super().__init__(n_var=n_var, n_obj=len(objectives), xl=-np.ones(n_var), xu=np.ones(n_var))
        self.task, self.objectives, self.layer, self.unit = task, objectives, layer, unit

    def _evaluate(self, x: np.ndarray, out: dict[str, Any], *args, **kwargs):
        model = build_last_layer_model(self.task, x, layer=self.layer, unit=self.unit)
        out["F"] = self.objectives.evaluate(model, self.task)


def _best_times(fns: dict[str, Any], repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` seconds of each callable, run interleaved so all see the same machine load."""
    best = {name: math.inf for name in fns}
    for fn in fns.values():
        fn()  # warm-up
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def benchmark_last_layer(task: UnlearningTask, objectives: Objectives, *, pop_size: int = 200,
                         scale: float = DEFAULT_SCALE, seed: int = 0, repeats: int = 20,
                         elementwise_repeats: int = 1, compile: bool = False) -> dict[str, float]:
    """Time one population evaluation: vectorised (fused), vectorised (plain ``from_logits``), the bare GEMM
    features [N, d] @ W_all [d, P·C], the elementwise twin (a full model per individual) and, with
    ``compile=True``, the ``torch.compile`` path, all on the same genomes x ~ N(0, 0.3²) clipped.

    Returns best-of-``repeats`` seconds (interleaved runs), the ratios ``speedup_vs_elementwise``
    (elementwise / vectorised) and ``eval_over_gemm`` (vectorised / GEMM), and ``max_abs_diff`` between
    the vectorised and elementwise objectives.

    Examples
    --------
    >>> result = benchmark_last_layer(task, objectives, pop_size=200)  # doctest: +SKIP
    >>> result["speedup_vs_elementwise"] > 50, result["vectorised_over_gemm"]  # doctest: +SKIP
    (True, 2.2...)
    """
    ev = LastLayerEvaluator(task, objectives, scale=scale)
    rng = np.random.default_rng(seed)
    X = np.clip(rng.normal(0.0, 0.3, size=(pop_size, ev.n_var)), -1, 1)
    bounds = {"xl": -np.ones(ev.n_var), "xu": np.ones(ev.n_var)}
    vectorised = SpaceProblem(ev.evaluate, n_var=ev.n_var, n_obj=len(objectives), owner="benchmark", **bounds)
    elementwise = LastLayerElementwiseProblem(task, objectives, layer=ev.layer_name, unit=ev.unit,
                                              n_var=ev.n_var)
    H, W_all = ev.gemm_operands(X)
    fns = {"vectorised": lambda: vectorised.evaluate(X), "generic": lambda: ev.evaluate_generic(X),
           "gemm": lambda: H @ W_all}
    if compile:
        compiled = LastLayerEvaluator(task, objectives, scale=scale, compile=True)
        fns["compiled"] = lambda: compiled.evaluate(X)
    best = _best_times(fns, repeats)
    best["elementwise"] = _best_times({"elementwise": lambda: elementwise.evaluate(X)},
                                      elementwise_repeats)["elementwise"]
    diff = float(np.abs(ev.evaluate(X) - elementwise.evaluate(X)).max())
    out: dict[str, float] = {"pop_size": pop_size, "threads": torch.get_num_threads(), "max_abs_diff": diff}
    out.update({f"{k}_s": v for k, v in best.items()})
    out["speedup_vs_elementwise"] = best["elementwise"] / best["vectorised"]
    for key in ("vectorised", "generic", "compiled"):
        if key in best:
            out[f"{key}_over_gemm"] = best[key] / best["gemm"]
    return out


def bench(task: UnlearningTask, *, repeat: int = 10, pop_size: int = 200,
          compile: bool = False) -> dict[str, dict[str, Any]]:
    """The NSGA-II ratios of ``pareto-unlearn bench``: vectorised vs elementwise population evaluation, and
    population evaluation vs the bare GEMM (forget_kl against the uniform reference, retain_ce).

    Times are the best of ``repeat`` interleaved runs (one run for the slow elementwise twin).
    """
    result = benchmark_last_layer(task, make_objectives(task, reference="uniform"), pop_size=pop_size,
                                  repeats=repeat, compile=compile)
    extra = {"pop_size": pop_size, "threads": result["threads"], "max_abs_diff": result["max_abs_diff"],
             "timing": f"best of {repeat} interleaved runs"}
    vec_ms, gemm_ms = 1e3 * result["vectorised_s"], 1e3 * result["gemm_s"]
    elem_ms = 1e3 * result["elementwise_s"]
    out = {
        "vectorized_vs_elementwise": {
            "ratio": elem_ms / vec_ms, "numerator": "elementwise (full model per individual, raw inputs)",
            "numerator_ms": elem_ms, "denominator": "vectorised (cached features, fused objectives)",
            "denominator_ms": vec_ms, "goal": ">= 50", **extra},
        "eval_vs_gemm": {
            "ratio": vec_ms / gemm_ms, "numerator": "population evaluation (fused, eager)",
            "numerator_ms": vec_ms,
            "denominator": "bare GEMM features [N, d] @ W_all [d, P·C]", "denominator_ms": gemm_ms,
            "goal": "<= 2.0", "plain_from_logits_ratio": result["generic_over_gemm"], **extra},
    }
    if compile:
        out["eval_vs_gemm"]["compiled_ratio"] = result["compiled_over_gemm"]
    return out
