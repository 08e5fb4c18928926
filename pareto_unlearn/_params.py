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

What a point records of its configuration (its provenance's ``hyperparameters``) comes from the same
signature: every parameter but the run-time ones a class declares ``unrecorded``, those in
``recorded_if_changed`` only when they differ from their default, a nested configuration (a search space)
by its own record:

>>> class Search(Configurable):
...     unrecorded = ("seed",)
...     recorded_if_changed = ("space",)
...     def __init__(self, *, pop_size: int = 40, seed: int = 0, space: Box | None = None) -> None:
...         self.pop_size, self.seed, self.space = pop_size, seed, space
>>> Search(seed=3).hyperparameters(), Search(space=Box(width=2.0)).hyperparameters()
({'pop_size': 40}, {'pop_size': 40, 'width': 2.0, 'seed': 0})
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, ClassVar

from pareto_unlearn.exceptions import ConfigError

__all__ = ["Configurable"]


class Configurable:
    """Keyword-only constructor parameters, stored under their own names, read back by :meth:`get_params`;
    what a point records of them, by :meth:`hyperparameters`."""

    # Declared per class and merged along the MRO: constructor parameters a point does not record (run-time
    # settings such as seed and progress), and those it records only when they differ from the default.
    unrecorded: ClassVar[tuple[str, ...]] = ()
    recorded_if_changed: ClassVar[tuple[str, ...]] = ()

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

    @classmethod
    def _declared(cls, attribute: str) -> set[str]:
        return {name for klass in cls.__mro__ for name in klass.__dict__.get(attribute, ())}

    def hyperparameters(self) -> dict[str, Any]:
        """What a point records of this configuration, as JSON values: every constructor parameter but the
        ``unrecorded`` ones, a ``recorded_if_changed`` one only away from its default, a nested
        configuration (a search space) by its own record (see :meth:`_recorded`)."""
        defaults = self._defaults()
        unrecorded, if_changed = self._declared("unrecorded"), self._declared("recorded_if_changed")
        record: dict[str, Any] = {}
        for name in self.param_names():
            if name in unrecorded or not hasattr(self, name):
                continue
            value = getattr(self, name)
            if name in if_changed and _same(value, defaults.get(name, inspect.Parameter.empty)):
                continue
            record.update(self._recorded(name, value))
        return record

    def _recorded(self, name: str, value: Any) -> dict[str, Any]:
        """The record of one parameter: a nested configuration's own record, else ``{name: value}``."""
        if isinstance(value, Configurable):
            return value.hyperparameters()
        return {name: _json_value(value)}

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


def _json_value(value: Any) -> Any:
    """``value`` as JSON has it: tuples as lists, mappings as dicts, NumPy scalars as Python numbers."""
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        return value.item()
    return value


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):  # arrays compare element-wise
        return a is b
