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

Importing the package is cheap: each name below is imported from its module on first use (PEP 562), so
``pareto-unlearn`` installs its Ctrl-C and SIGTERM handling before torch loads, and a script that needs
only the Front or the exceptions does not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Public name → the module that defines it; the only list of what the package exports.
_EXPORTS: dict[str, str] = {
    "RunConfig": "pareto_unlearn.config",
    "load_config": "pareto_unlearn.config",
    "CacheError": "pareto_unlearn.exceptions",
    "ConfigError": "pareto_unlearn.exceptions",
    "DataError": "pareto_unlearn.exceptions",
    "IncompatibleRunsError": "pareto_unlearn.exceptions",
    "ParetoUnlearnError": "pareto_unlearn.exceptions",
    "RunDirError": "pareto_unlearn.exceptions",
    "compare": "pareto_unlearn.experiments",
    "explore": "pareto_unlearn.experiments",
    "run_table": "pareto_unlearn.experiments",
    "write_report": "pareto_unlearn.experiments",
    "Front": "pareto_unlearn.front",
    "HV": "pareto_unlearn.indicators",
    "HVAtUtility": "pareto_unlearn.indicators",
    "hv_reference_point": "pareto_unlearn.indicators",
    "hypervolume": "pareto_unlearn.indicators",
    "igd_plus": "pareto_unlearn.indicators",
    "MetricEvaluator": "pareto_unlearn.metrics",
    "make_objectives": "pareto_unlearn.objectives",
    "ClosestToRetrain": "pareto_unlearn.selection",
    "Constrained": "pareto_unlearn.selection",
    "Knee": "pareto_unlearn.selection",
    "OracleFree": "pareto_unlearn.selection",
    "Preference": "pareto_unlearn.selection",
    "EvolutionaryLSWarm": "pareto_unlearn.solvers",
    "EvolutionaryLSWeights": "pareto_unlearn.solvers",
    "EvolutionarySolver": "pareto_unlearn.solvers",
    "FineTune": "pareto_unlearn.solvers",
    "GradientAscent": "pareto_unlearn.solvers",
    "JacobianDescent": "pareto_unlearn.solvers",
    "L1Sparse": "pareto_unlearn.solvers",
    "LinearScalarization": "pareto_unlearn.solvers",
    "RandomLabel": "pareto_unlearn.solvers",
    "SalUn": "pareto_unlearn.solvers",
    "Solver": "pareto_unlearn.solvers",
    "get_entry": "pareto_unlearn.solvers",
    "rebuild_model": "pareto_unlearn.solvers",
    "solver_names": "pareto_unlearn.solvers",
    "LastLayerSpace": "pareto_unlearn.spaces",
    "LoRASpace": "pareto_unlearn.spaces",
    "SearchSpace": "pareto_unlearn.spaces",
    "UnlearningTask": "pareto_unlearn.task",
    "load_task": "pareto_unlearn.task",
}

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


def __getattr__(name: str) -> Any:
    """Import a public name (or a subpackage) the first time it is used."""
    module = _EXPORTS.get(name)
    if module is None:
        try:  # ``pareto_unlearn.experiments`` and the like, as with an eager package
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
