"""IGD+ to a reference front (pymoo's IGDPlus, moocore underneath)."""

from __future__ import annotations

from typing import Any

import numpy as np

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.indicators._hv import _objectives
from pareto_unlearn.indicators._reference_point import _as_vector

__all__ = ["igd_plus"]


def igd_plus(F: Any, reference_F: Any, scale: Any, /) -> float:
    """IGD+ of ``F`` to the reference front ``reference_F``, both divided by ``scale`` first.

    IGD+ = mean over reference points z of min over a in F of ‖max(a − z, 0)‖ (Ishibuchi et al., 2015);
    lower is better, 0 when F weakly dominates every reference point. docs/definitions.md §4: the
    reference front is the non-dominated union of every feasible point of the run, and ``scale`` is the
    HV reference point, so every objective counts on the same footing. Infeasible rows (NaN or inf) of
    either set are dropped.

    Parameters
    ----------
    F : array-like [n, m] or Front
        The approximation set.
    reference_F : array-like [k, m] or Front
        The reference front.
    scale : array-like [m]
        Positive divisor per objective (the HV reference point).

    Returns
    -------
    float
        NaN when ``F`` has no feasible row: an empty set has no distance to anything, and NaN keeps it
        out of averages instead of faking a value.

    Raises
    ------
    ConfigError
        If ``reference_F`` has no feasible row, ``scale`` is not positive, or the widths differ.

    Examples
    --------
    >>> igd_plus([[1.0, 1.0]], [[0.0, 2.0], [2.0, 0.0]], [1.0, 1.0])
    1.0
    >>> igd_plus([[2.0, 2.0]], [[1.0, 1.0]], [2.0, 4.0])
    0.5590169943749475
    """
    from pymoo.indicators.igd_plus import IGDPlus

    scale = _as_vector(scale, "scale", "igd_plus")
    if (scale <= 0).any():
        raise ConfigError(f"igd_plus: `scale` must be positive in every objective. Got {scale.tolist()}.")
    F = _objectives(F, "igd_plus", scale.size)
    reference = _objectives(reference_F, "igd_plus", scale.size)
    reference = reference[np.isfinite(reference).all(axis=1)]
    if len(reference) == 0:
        raise ConfigError("igd_plus: `reference_F` has no feasible point; build it from the run's union")
    F = F[np.isfinite(F).all(axis=1)] if len(F) else F
    if len(F) == 0:
        return float("nan")
    return float(IGDPlus(reference / scale)(F / scale))
