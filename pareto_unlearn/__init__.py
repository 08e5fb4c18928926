"""pareto_unlearn — the whole Pareto front of machine unlearning, not one lucky point.

Data flows one way: task (data, splits, cached Original / Retrain) → objectives (forget_kl against a
fixed reference, retain_ce) → solvers (NSGA-II over parameter subspaces or LS weights, Jacobian descent,
LS sweeps, baselines) → Front → indicators / selection / plots.

Example (it trains two small models on first use, so it is not run as a doctest)::

    from pareto_unlearn import HV, JacobianDescent, Knee, hv_reference_point, load_task, make_objectives
    from pareto_unlearn import rebuild_model
    task = load_task("digits", forget="random:0.5", seed=0)             # trains or loads θ0 and Retrain
    objectives = make_objectives(task, reference="uniform")              # forget_kl, retain_ce
    front = JacobianDescent(lr=0.1, epochs=5, seed=0).run(task, objectives)
    front.to_frame()[["forget_kl", "retain_ce", "UA", "RA", "TA", "MIA", "gap"]]
    HV(hv_reference_point(task, objectives))(front)                      # hypervolume
    model = rebuild_model(task, front, Knee()(front))                    # the knee point's nn.Module
"""

from pareto_unlearn.config import RunConfig, load_config
from pareto_unlearn.exceptions import (
    CacheError,
    ConfigError,
    DataError,
    IncompatibleRunsError,
    ParetoUnlearnError,
    RunDirError,
)
from pareto_unlearn.experiments import compare, explore, run_table, write_report
from pareto_unlearn.front import Front
from pareto_unlearn.indicators import HV, HVAtUtility, hv_reference_point, hypervolume, igd_plus
from pareto_unlearn.metrics import MetricEvaluator
from pareto_unlearn.objectives import make_objectives
from pareto_unlearn.selection import ClosestToRetrain, Constrained, Knee, OracleFree, Preference
from pareto_unlearn.solvers import (
    EvolutionaryLSWarm,
    EvolutionaryLSWeights,
    EvolutionarySolver,
    FineTune,
    GradientAscent,
    JacobianDescent,
    L1Sparse,
    LinearScalarization,
    RandomLabel,
    SalUn,
    Solver,
    get_entry,
    rebuild_model,
    solver_names,
)
from pareto_unlearn.spaces import LastLayerSpace, LoRASpace, SearchSpace
from pareto_unlearn.task import UnlearningTask, load_task

__version__ = "0.1.0"

__all__ = [
    "HV",
    "CacheError",
    "ClosestToRetrain",
    "ConfigError",
    "Constrained",
    "DataError",
    "EvolutionaryLSWarm",
    "EvolutionaryLSWeights",
    "EvolutionarySolver",
    "FineTune",
    "LastLayerSpace",
    "LoRASpace",
    "Front",
    "GradientAscent",
    "HVAtUtility",
    "IncompatibleRunsError",
    "JacobianDescent",
    "Knee",
    "L1Sparse",
    "LinearScalarization",
    "MetricEvaluator",
    "OracleFree",
    "ParetoUnlearnError",
    "Preference",
    "RandomLabel",
    "RunConfig",
    "RunDirError",
    "SearchSpace",
    "SalUn",
    "Solver",
    "UnlearningTask",
    "compare",
    "explore",
    "get_entry",
    "hv_reference_point",
    "hypervolume",
    "igd_plus",
    "load_config",
    "load_task",
    "make_objectives",
    "rebuild_model",
    "run_table",
    "solver_names",
    "write_report",
]
