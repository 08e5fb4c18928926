"""Search spaces: what a point of a space is, how a population of them is evaluated, and how a point's
model is rebuilt from θ0.

- the last linear layer: Δ of its weight and bias on cached penultimate features
  (:class:`LastLayerSpace`; bound: :class:`LastLayerEvaluator`; :func:`build_last_layer_model`,
  :func:`genome_from_model`);
- low-rank adapters Δ = B·A of chosen layers, the frozen prefix's activations cached
  (:class:`LoRASpace`; bound: :class:`LoRAEvaluator`; :func:`build_lora_model`);
- low-dimensional genomes of those two, x = clip(x0 + M z) with a basis from θ0's own weights
  (:class:`LastLayerSVDSpace`, :class:`LoRASVDSpace`), from θ0's activations (:class:`LoRAActivationSpace`)
  or a random one (:class:`ProjectionSpace`); bound:
  :class:`SubspaceEvaluator`;
- every parameter (a flat parameter vector: :func:`flat_params`, :func:`set_flat_params`).

The solvers that search them live in :mod:`pareto_unlearn.solvers`; each space registers how its points
are rebuilt (:func:`rebuilder`), and ``pareto_unlearn.rebuild_model(task, front, i)`` rebuilds any point.

Examples
--------
>>> from pareto_unlearn.spaces import REBUILDERS
>>> {'last_layer', 'lora', 'original', 'params', 'subspace'} <= set(REBUILDERS)
True
"""

from pareto_unlearn.spaces._activations import LoRAActivationSpace
from pareto_unlearn.spaces._last_layer import (
    DEFAULT_SCALE,
    LastLayerEvaluator,
    LastLayerSpace,
    build_last_layer_model,
    genome_from_model,
)
from pareto_unlearn.spaces._lora import (
    DEFAULT_LORA_SCALE,
    LoRAEvaluator,
    LoRASpace,
    build_lora_model,
    default_lora_layers,
)
from pareto_unlearn.spaces._macs import count_macs
from pareto_unlearn.spaces._projection import ProjectionSpace
from pareto_unlearn.spaces._rebuild import (
    REBUILDERS,
    flat_params,
    rebuild_from_spec,
    rebuilder,
    set_flat_params,
)
from pareto_unlearn.spaces._space import BoundSpace, SearchSpace
from pareto_unlearn.spaces._subspace import SUBSPACE_BASES, LinearSubspace, SubspaceEvaluator, subspace_basis
from pareto_unlearn.spaces._svd import LastLayerSVDSpace, LoRASVDSpace

__all__ = [
    "DEFAULT_LORA_SCALE", "DEFAULT_SCALE", "BoundSpace", "LastLayerEvaluator", "LastLayerSVDSpace",
    "LastLayerSpace", "LinearSubspace", "LoRAActivationSpace", "LoRAEvaluator", "LoRASVDSpace", "LoRASpace",
    "ProjectionSpace",
    "REBUILDERS", "SUBSPACE_BASES", "SearchSpace", "SubspaceEvaluator", "subspace_basis",
    "build_last_layer_model", "build_lora_model", "count_macs", "default_lora_layers", "flat_params",
    "genome_from_model", "rebuild_from_spec", "rebuilder", "set_flat_params",
]
