"""Evolutionary solvers: a pymoo algorithm (NSGA-II by default; SMS-EMOA, MOEA/D, NSGA-III) searching one
space: :class:`EvolutionarySolver` is given a :class:`~pareto_unlearn.spaces.SearchSpace` (the last linear
layer, low-rank adapters); :class:`EvolutionaryLSWeights` and :class:`EvolutionaryLSWarm` search LS
fine-tune settings (from θ0, or continuing from survivors' models, seeded by an LS sweep).

Each is configured in its constructor and run by ``run(task, objectives)``, which returns a Front of the
final population (:class:`EvolutionaryLSWarm`: its archive of non-dominated individuals) with a
per-generation log in ``front.anytime``.

Examples
--------
>>> from pareto_unlearn.solvers.evolutionary import EvolutionarySolver
>>> from pareto_unlearn.spaces import LoRASpace
>>> EvolutionarySolver(space=LoRASpace(rank=2), pop_size=20, n_gen=5).name
'nsga2-lora'
>>> EvolutionarySolver(space=LoRASpace(), algorithm="sms-emoa").name
'sms-emoa-lora'
"""

from pareto_unlearn.solvers.evolutionary._bench import (
    LastLayerElementwiseProblem,
    bench,
    benchmark_last_layer,
)
from pareto_unlearn.solvers.evolutionary._ls_warm import EvolutionaryLSWarm
from pareto_unlearn.solvers.evolutionary._ls_weights import (
    DEFAULT_LR_BOUNDS,
    EvolutionaryLSWeights,
    FineTuneOutcome,
    decode_genome,
    individual_seed,
    ls_finetune,
    replay_ls_finetune,
)
from pareto_unlearn.solvers.evolutionary._solver import ALGORITHMS, EvolutionarySolver, population_hv

__all__ = [
    "ALGORITHMS",
    "DEFAULT_LR_BOUNDS",
    "EvolutionaryLSWarm",
    "EvolutionaryLSWeights",
    "EvolutionarySolver",
    "FineTuneOutcome",
    "LastLayerElementwiseProblem",
    "bench",
    "benchmark_last_layer",
    "decode_genome",
    "individual_seed",
    "ls_finetune",
    "population_hv",
    "replay_ls_finetune",
]
