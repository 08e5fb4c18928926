"""Configuration read back from a constructor's signature (scikit-learn's ``get_params`` idea), shared by
solvers and search spaces.

Examples
--------
>>> class Box(Configurable):
...     def __init__(self, *, width: float = 1.0, seed: int = 0) -> None:
...         self.width, self.seed = width, seed
>>> Box(width=2.0).get_params()
{'width': 2.0, 'seed': 0}
>>> Box(width=2.0)
Box(width=2.0)
"""

from __future__ import annotations

import inspect
from typing import Any

from pareto_unlearn.exceptions import ConfigError

__all__ = ["Configurable"]


class Configurable:
    """Keyword-only constructor parameters, stored under their own names, read back by :meth:`get_params`."""

    @classmethod
    def param_names(cls) -> list[str]:
        """Keyword parameters of the constructors along the class's MRO (a subclass passing ``**kwargs`` up
        takes its parents' parameters too), in definition order."""
        return list(cls._defaults())

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        defaults: dict[str, Any] = {}
        for klass in cls.__mro__:
            init = klass.__dict__.get("__init__")
            if init is None or klass is object:
                continue
            parameters = inspect.signature(init).parameters.values()
            for p in parameters:
                if p.kind is p.KEYWORD_ONLY:
                    defaults.setdefault(p.name, p.default)
            if not any(p.kind is p.VAR_KEYWORD for p in parameters):
                break
        return defaults

    def get_params(self) -> dict[str, Any]:
        """The configuration: every constructor parameter and its current value."""
        return {name: getattr(self, name) for name in self.param_names() if hasattr(self, name)}

    def set_params(self, **params: Any) -> Any:
        """Change the configuration (checked when the work starts); returns ``self``."""
        valid = self.param_names()
        for key, value in params.items():
            if key not in valid:
                raise ConfigError(f"{type(self).__name__} has no parameter {key!r}; "
                                  f"valid: {', '.join(valid)}")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        defaults = self._defaults()
        shown = {k: v for k, v in self.get_params().items()
                 if not _same(v, defaults.get(k, inspect.Parameter.empty))}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):  # arrays compare element-wise
        return a is b
