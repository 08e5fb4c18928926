"""Gradient solvers: Jacobian descent (any torchjd aggregator), linear scalarisation, baselines.

Each is configured in its constructor and run by ``run(task, objectives)``, which returns a Front.
"""

from pareto_unlearn.solvers._baselines import FineTune, GradientAscent, L1Sparse, RandomLabel, SalUn
from pareto_unlearn.solvers._cost import CostMeter
from pareto_unlearn.solvers._gradient import GradientSolver, paired_batches
from pareto_unlearn.solvers._jd import (
    AGGREGATORS,
    JacobianDescent,
    LinearScalarization,
    jd_direction,
    make_aggregator,
)
from pareto_unlearn.solvers._pama import PAMA, PAMAWeighting, pama_weights

__all__ = [
    "AGGREGATORS",
    "CostMeter",
    "FineTune",
    "GradientAscent",
    "GradientSolver",
    "JacobianDescent",
    "L1Sparse",
    "LinearScalarization",
    "PAMA",
    "PAMAWeighting",
    "RandomLabel",
    "SalUn",
    "jd_direction",
    "make_aggregator",
    "paired_batches",
    "pama_weights",
]
