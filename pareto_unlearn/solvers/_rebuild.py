"""``rebuild_model(task, front, i)``: the ``nn.Module`` of any point of any solver's Front."""

from __future__ import annotations

from typing import Any

from torch import nn

# Imported for their ``@rebuilder`` registrations: every space a solver of this package searches.
import pareto_unlearn.solvers.evolutionary._ls_weights  # noqa: F401
import pareto_unlearn.spaces  # noqa: F401
from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.front import Front
from pareto_unlearn.spaces._rebuild import rebuild_from_spec

__all__ = ["rebuild_model"]


def rebuild_model(task: Any, front: Front, i: int) -> nn.Module:
    """The model of point ``i`` of ``front``, rebuilt from θ0 of ``task`` (None: the task the front was
    made on or loaded with), in eval mode.

    Examples
    --------
    >>> from pareto_unlearn import Front
    >>> rebuild_model(None, Front.from_points([[1.0, 2.0]]), 0)
    Traceback (most recent call last):
    ...
    pareto_unlearn.exceptions.ConfigError: rebuild_model needs the task: pass it, or Front.load(dir, task)
    """
    task = task if task is not None else front.task
    if task is None:
        raise ConfigError("rebuild_model needs the task: pass it, or Front.load(dir, task)")
    if not 0 <= int(i) < len(front):
        raise ConfigError(f"point {i} does not exist; this front has points 0..{len(front) - 1}")
    return rebuild_from_spec(task, front.rebuild[int(i)], front.arrays)
