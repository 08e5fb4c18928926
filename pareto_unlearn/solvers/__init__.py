"""Solvers: every one honours one contract (:class:`Solver`: configuration in the constructor, one
``run(task, objectives, ...) -> Front``) and is registered by name (:mod:`._registry`).

- gradient: Jacobian descent with any torchjd aggregator (:class:`JacobianDescent`), linear
  scalarisation (:class:`LinearScalarization`);
- evolutionary: a pymoo algorithm over a search space (:class:`EvolutionarySolver` given a
  :class:`~pareto_unlearn.spaces.SearchSpace`; :class:`EvolutionaryLSWeights` and
  :class:`EvolutionaryLSWarm` over LS fine-tune settings);
- baselines: FT, GA, IU (:class:`InfluenceUnlearning`), ℓ1-sparse, RL, SalUn.

:func:`rebuild_model` rebuilds the model of any point of any of their Fronts.

Examples
--------
>>> from pareto_unlearn.solvers import JacobianDescent, get_entry
>>> JacobianDescent(aggregator="mgda").name
'jd-mgda'
>>> get_entry("jd-mgda").family
'gradient'
"""

from pareto_unlearn.solvers._base import FAMILIES, Solver
from pareto_unlearn.solvers._baselines import FineTune, GradientAscent, L1Sparse, RandomLabel, SalUn
from pareto_unlearn.solvers._cost import CostMeter
from pareto_unlearn.solvers._gradient import GradientSolver, paired_batches
from pareto_unlearn.solvers._influence import InfluenceUnlearning, influence_direction
from pareto_unlearn.solvers._jd import (
    AGGREGATORS,
    JacobianDescent,
    LinearScalarization,
    jd_direction,
    make_aggregator,
)
from pareto_unlearn.solvers._pama import PAMA, PAMAWeighting, pama_weights
from pareto_unlearn.solvers._rebuild import rebuild_model
from pareto_unlearn.solvers._registry import (
    REGISTRY,
    SolverEntry,
    default_settings,
    default_solvers,
    get_entry,
    solver_names,
    spread_first,
    sweep_units,
)
from pareto_unlearn.solvers.evolutionary import (
    EvolutionaryLSWarm,
    EvolutionaryLSWeights,
    EvolutionarySolver,
)

__all__ = [
    "AGGREGATORS",
    "FAMILIES",
    "PAMA",
    "REGISTRY",
    "CostMeter",
    "EvolutionaryLSWarm",
    "EvolutionaryLSWeights",
    "EvolutionarySolver",
    "FineTune",
    "GradientAscent",
    "GradientSolver",
    "InfluenceUnlearning",
    "JacobianDescent",
    "L1Sparse",
    "LinearScalarization",
    "PAMAWeighting",
    "RandomLabel",
    "SalUn",
    "Solver",
    "SolverEntry",
    "default_settings",
    "default_solvers",
    "get_entry",
    "influence_direction",
    "jd_direction",
    "make_aggregator",
    "pama_weights",
    "paired_batches",
    "rebuild_model",
    "solver_names",
    "spread_first",
    "sweep_units",
]
