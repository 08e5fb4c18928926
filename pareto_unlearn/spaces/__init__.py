"""Search spaces for NSGA-II: the last linear layer, low-rank adapters, and LS fine-tune settings
(from θ0: ``NSGA2LSWeights``; continuing from survivors' models, seeded by an LS sweep: ``NSGA2LSWarm``).

Each solver is configured in its constructor and run by ``run(task, objectives)``, which returns a
Front of the final population (``NSGA2LSWarm``: its archive of non-dominated individuals) with a
per-generation log in ``front.anytime``; ``front.model(i)``
rebuilds a point from θ0 (the rebuild kinds ``last_layer``, ``lora`` and ``ls_finetune`` are
registered in ``pareto_unlearn.solvers._rebuild.REBUILDERS`` when this package is imported).

Examples
--------
>>> from pareto_unlearn.spaces import NSGA2LastLayer, NSGA2LoRA, NSGA2LSWeights
>>> NSGA2LoRA(rank=2, pop_size=20, n_gen=5).name
'nsga2-lora'
>>> from pareto_unlearn.task import load_task
>>> from pareto_unlearn.objectives import make_objectives
>>> task = load_task("digits", forget="random:0.5", model="cnn", progress=False)  # doctest: +SKIP
>>> objectives = make_objectives(task)  # doctest: +SKIP
>>> front = NSGA2LastLayer(pop_size=40, n_gen=30, seed=0).run(task, objectives)  # doctest: +SKIP
>>> model = front.model(int(front.nondominated().argmax()))  # doctest: +SKIP
"""

from pareto_unlearn.solvers._rebuild import REBUILDERS
from pareto_unlearn.spaces._bench import bench, benchmark_last_layer
from pareto_unlearn.spaces._last_layer import (
    DEFAULT_SCALE,
    LastLayerElementwiseProblem,
    LastLayerEvaluator,
    NSGA2LastLayer,
    build_last_layer_model,
    genome_from_model,
)
from pareto_unlearn.spaces._last_layer import _rebuild as _rebuild_last_layer
from pareto_unlearn.spaces._lora import (
    DEFAULT_LORA_SCALE,
    LoRAEvaluator,
    NSGA2LoRA,
    build_lora_model,
    default_lora_layers,
)
from pareto_unlearn.spaces._lora import _rebuild as _rebuild_lora
from pareto_unlearn.spaces._ls_warm import NSGA2LSWarm
from pareto_unlearn.spaces._ls_weights import (
    DEFAULT_LR_BOUNDS,
    FineTuneOutcome,
    NSGA2LSWeights,
    decode_genome,
    individual_seed,
    ls_finetune,
    replay_ls_finetune,
)
from pareto_unlearn.spaces._ls_weights import _rebuild as _rebuild_ls_finetune
from pareto_unlearn.spaces._nsga2 import NSGA2Solver, count_macs

REBUILDERS.update(
    {"last_layer": _rebuild_last_layer, "lora": _rebuild_lora, "ls_finetune": _rebuild_ls_finetune}
)

__all__ = [
    "DEFAULT_LORA_SCALE", "DEFAULT_LR_BOUNDS", "DEFAULT_SCALE", "FineTuneOutcome",
    "LastLayerElementwiseProblem", "LastLayerEvaluator", "LoRAEvaluator", "NSGA2LSWarm", "NSGA2LSWeights",
    "NSGA2LastLayer", "NSGA2LoRA", "NSGA2Solver", "bench", "benchmark_last_layer", "build_last_layer_model",
    "build_lora_model", "count_macs", "decode_genome", "default_lora_layers", "genome_from_model",
    "individual_seed", "ls_finetune", "replay_ls_finetune",
]
