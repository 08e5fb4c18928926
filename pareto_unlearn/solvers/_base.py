"""The contract every solver honours (scikit-learn's estimator idea, pymoo's one verb).

- configuration in ``__init__``, keyword-only, stored under the same names; nothing else happens there;
- :meth:`Solver.get_params` reads the configuration back from the constructor's signature;
- ``name`` says which solver the configuration makes (``jd``, ``nsga2-lora``, ``sms-emoa-ls-warm``);
- ``family`` is ``"gradient"``, ``"evolutionary"`` or ``"baseline"``;
- one verb, ``run(task, objectives, *, evaluator=None, executor=None, checkpoint=None, progress=None)``,
  returns a :class:`~pareto_unlearn.front.Front` whose points carry objectives, metrics, cost, provenance
  and a rebuild spec (``pareto_unlearn.rebuild_model(task, front, i)``).

``tests/test_solver_contract.py`` checks every registered solver against this contract.

Examples
--------
>>> from pareto_unlearn.solvers import JacobianDescent
>>> solver = JacobianDescent(aggregator="mgda", lr=0.1)
>>> solver.name, solver.family, solver.get_params()["lr"]
('jd-mgda', 'gradient', 0.1)
"""

from __future__ import annotations

from typing import Any, ClassVar

from pareto_unlearn._params import Configurable
from pareto_unlearn.exceptions import ConfigError

__all__ = ["FAMILIES", "Solver"]

FAMILIES = ("gradient", "evolutionary", "baseline")


class Solver(Configurable):
    """Base of every solver: configuration in the constructor, work in :meth:`run`, results returned."""

    family: ClassVar[str] = ""
    name: str = ""
    # the space of the points when no SearchSpace is given: every parameter, or a search's own fixed
    # space ("ls-weights"); "" where a space must be given
    fixed_space: ClassVar[str] = "all-parameters"

    @property
    def space_name(self) -> str:
        """The search space of the solver's points: its ``space`` object's name, else :attr:`fixed_space`."""
        space = getattr(self, "space", None)
        if space is not None:
            return str(space.name)
        if not self.fixed_space:
            raise ConfigError(f"{type(self).__name__}: give the space to search, e.g. "
                              "EvolutionarySolver(space=LastLayerSpace())")
        return self.fixed_space

    def run(self, task: Any, objectives: Any, *, evaluator: Any = None, executor: Any = None,
            checkpoint: Any = None, progress: bool | None = None) -> Any:  # pragma: no cover
        """Solve ``task`` on ``objectives``; returns a Front.

        ``evaluator`` scores every point (default: a fresh MetricEvaluator); ``executor`` runs independent
        work on Dask (a Client or an executor; default: serially here); ``checkpoint`` is a folder the solver
        may keep its state in to resume; ``progress`` overrides the constructor's tqdm setting.
        """
        raise NotImplementedError
