"""The hypervolume reference point of a task (docs/definitions.md §4): :func:`hv_reference_point` from a
task and its objectives, :func:`hv_reference_point_from_values` from the two bounding vectors."""

from __future__ import annotations

from typing import Any

import numpy as np

from pareto_unlearn.exceptions import ConfigError

__all__ = ["hv_reference_point", "hv_reference_point_from_values"]


def _as_vector(value: Any, name: str, owner: str) -> np.ndarray:
    """``value`` as a finite 1-D float64 array (numpy, torch or a sequence), else ConfigError."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ConfigError(f"{owner}: `{name}` must be a vector of numbers. Got {value!r}.") from None
    if array.ndim != 1 or array.size == 0:
        raise ConfigError(f"{owner}: `{name}` must be a non-empty 1-D vector. Found shape {array.shape}.")
    if not np.isfinite(array).all():
        raise ConfigError(f"{owner}: `{name}` must be finite. Got {array.tolist()}.")
    return array


def hv_reference_point(task: Any, objectives: Any, factor: float = 1.01) -> np.ndarray:
    """One HV reference point per task and objective list, the same for every solver
    (docs/definitions.md §4): ``factor`` × the worse of the value at θ0 and at a uniform predictor, per
    objective (:func:`hv_reference_point_from_values`). For (forget_kl, retain_ce) with ``model-ref`` and
    the uniform reference this is 1.01 × (f_F(θ0), log C).

    Parameters
    ----------
    task : UnlearningTask
        Its original model θ0 (``task.original``) is evaluated.
    objectives : Objectives
        Anything with ``evaluate(model, task)`` and ``at_uniform_predictor(task)`` (both [m]).
    factor : float, default 1.01

    Examples
    --------
    A toy task (:func:`~pareto_unlearn.task.toy_task`) stands in for a real one:

    >>> import numpy as np
    >>> from pareto_unlearn.objectives import make_objectives
    >>> from pareto_unlearn.task import toy_task
    >>> task = toy_task()
    >>> objectives = make_objectives(task)
    >>> r = hv_reference_point(task, objectives)
    >>> bool(np.array_equal(r, hv_reference_point_from_values(objectives.evaluate(task.original, task),
    ...                                                         objectives.at_uniform_predictor(task))))
    True
    """
    if not (hasattr(objectives, "evaluate") and hasattr(objectives, "at_uniform_predictor")):
        raise ConfigError(
            "hv_reference_point(task, objectives): `objectives` must be an Objectives (make_objectives). "
            f"Got {type(objectives).__name__}; for two vectors of values use hv_reference_point_from_values."
        )
    return hv_reference_point_from_values(
        objectives.evaluate(task.original, task), objectives.at_uniform_predictor(task), factor=factor
    )


def hv_reference_point_from_values(at_theta0: Any, at_uniform: Any, /, *, factor: float = 1.01) -> np.ndarray:
    """Reference point for HV and IGD+: per objective ``factor × max(value at θ0, value at uniform)``.

    docs/definitions.md §4 fixes ``r = 1.01 × (f_F(θ0), log C)`` for (forget_kl, retain_ce) with the
    ``model-ref`` direction; this is the same rule for any objective list: each objective is bounded by
    the worse of its value at the original model θ0 and at a uniform predictor (which has
    ``forget_kl = 0`` against the uniform reference and ``retain_ce = log C``). One reference point per
    task and objective list, the same for every solver.

    Parameters
    ----------
    at_theta0 : array-like [m]
        Objective values of the original model θ0.
    at_uniform : array-like [m]
        Objective values of a predictor that outputs the uniform distribution.
    factor : float, default 1.01
        Margin, at least 1, so that the extreme points still add volume.

    Returns
    -------
    np.ndarray [m]
        The reference point.

    Raises
    ------
    ConfigError
        If the vectors differ in length, are not finite, ``factor < 1``, or an objective's bound is not
        positive (then a multiplicative margin would not move it outwards).

    Examples
    --------
    >>> import math
    >>> r = hv_reference_point_from_values([0.9, 0.05], [0.0, math.log(10)])
    >>> r.round(4).tolist()
    [0.909, 2.3256]
    """
    theta0 = _as_vector(at_theta0, "at_theta0", "hv_reference_point_from_values")
    uniform = _as_vector(at_uniform, "at_uniform", "hv_reference_point_from_values")
    if theta0.shape != uniform.shape:
        raise ConfigError(
            f"hv_reference_point_from_values: `at_theta0` and `at_uniform` must have the same length. "
            f"Found {theta0.size} and {uniform.size}."
        )
    if not (np.isfinite(factor) and factor >= 1.0):
        raise ConfigError(f"hv_reference_point_from_values: `factor` must be a float >= 1. Got {factor!r}.")
    worst = np.maximum(theta0, uniform)
    if (worst <= 0).any():
        raise ConfigError(
            f"hv_reference_point_from_values: every objective needs a positive bound; got max(θ0, uniform) = "
            f"{worst.tolist()}. Give the reference point explicitly for objectives that can be <= 0."
        )
    return factor * worst
