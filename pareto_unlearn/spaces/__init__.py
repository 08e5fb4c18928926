"""Search spaces for NSGA-II: the last linear layer, low-rank adapters, and LS fine-tune settings.

Each solver is configured in its constructor and run by ``run(task, objectives)``, which returns a
Front of the final population; ``front.model(i)`` rebuilds a point from θ0 (the rebuild kinds
``last_layer``, ``lora`` and ``ls_finetune`` are registered here, on import).

Examples
--------
>>> from pareto_unlearn.spaces import NSGA2LastLayer
>>> solver = NSGA2LastLayer(pop_size=20, n_gen=5, seed=0, progress=False)
>>> solver
NSGA2LastLayer(pop_size=20, n_gen=5, init_sigma=0.05, crossover_eta=15.0, crossover_prob=0.9, mutation_eta=20.0, scale=4.0, seed=0)
"""

from pareto_unlearn.solvers._rebuild import REBUILDERS
from pareto_unlearn.spaces._last_layer import (
    DEFAULT_SCALE,
    LastLayerElementwiseProblem,
    LastLayerEvaluator,
    NSGA2LastLayer,
    benchmark_last_layer,
    build_last_layer_model,
    genome_from_model,
)
from pareto_unlearn.spaces._last_layer import _rebuild as _rebuild_last_layer
from pareto_unlearn.spaces._nsga2 import NSGA2Solver, count_macs

REBUILDERS.setdefault("last_layer", _rebuild_last_layer)

__all__ = [
    "DEFAULT_SCALE", "LastLayerElementwiseProblem", "LastLayerEvaluator", "NSGA2LastLayer", "NSGA2Solver",
    "benchmark_last_layer", "build_last_layer_model", "count_macs", "genome_from_model",
]
