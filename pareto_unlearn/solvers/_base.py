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
>>> class Constant(Solver):
...     family = "gradient"
...     def __init__(self, *, value: float = 1.0, seed: int = 0) -> None:
...         self.value, self.seed = value, seed
>>> Constant(value=2.0).get_params()
{'value': 2.0, 'seed': 0}
>>> Constant(value=2.0)
Constant(value=2.0)
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

from pareto_unlearn.exceptions import ConfigError

__all__ = ["FAMILIES", "Solver"]

FAMILIES = ("gradient", "evolutionary", "baseline")


class Solver:
    """Base of every solver: configuration in the constructor, work in :meth:`run`, results returned."""

    family: ClassVar[str] = ""
    name: str = ""

    @classmethod
    def param_names(cls) -> list[str]:
        """Keyword parameters of the constructors along the class's MRO (a subclass passing ``**kwargs`` up
        takes its parents' parameters too), in definition order."""
        names: list[str] = []
        for klass in cls.__mro__:
            init = klass.__dict__.get("__init__")
            if init is None or klass is object:
                continue
            for p in inspect.signature(init).parameters.values():
                if p.kind is p.KEYWORD_ONLY and p.name not in names:
                    names.append(p.name)
            if not any(p.kind is p.VAR_KEYWORD for p in inspect.signature(init).parameters.values()):
                break
        return names

    def get_params(self) -> dict[str, Any]:
        """The configuration: every constructor parameter and its current value."""
        return {name: getattr(self, name) for name in self.param_names() if hasattr(self, name)}

    def set_params(self, **params: Any) -> Solver:
        """Change the configuration (checked when :meth:`run` starts); returns ``self``."""
        valid = self.param_names()
        for key, value in params.items():
            if key not in valid:
                raise ConfigError(f"{type(self).__name__} has no parameter {key!r}; "
                                  f"valid: {', '.join(valid)}")
            setattr(self, key, value)
        return self

    def run(self, task: Any, objectives: Any, *, evaluator: Any = None, executor: Any = None,
            checkpoint: Any = None, progress: bool | None = None) -> Any:  # pragma: no cover
        """Solve ``task`` on ``objectives``; returns a Front.

        ``evaluator`` scores every point (default: a fresh MetricEvaluator); ``executor`` runs independent
        work on Dask (a Client or an executor; default: serially here); ``checkpoint`` is a folder the solver
        may keep its state in to resume; ``progress`` overrides the constructor's tqdm setting.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        defaults: dict[str, Any] = {}
        for klass in type(self).__mro__:
            init = klass.__dict__.get("__init__")
            if init is None or klass is object:
                continue
            for p in inspect.signature(init).parameters.values():
                if p.kind is p.KEYWORD_ONLY:
                    defaults.setdefault(p.name, p.default)
        shown = {k: v for k, v in self.get_params().items()
                 if not _same(v, defaults.get(k, inspect.Parameter.empty))}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):  # arrays compare element-wise
        return a is b
