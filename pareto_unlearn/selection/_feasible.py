"""What every selection rule starts from: the feasible points of a Front (finite objectives), apart from
the rules so that :mod:`pareto_unlearn.selection._rules` and :mod:`pareto_unlearn.selection._oracle_free`
both use it and only ``_rules`` imports ``_oracle_free``."""

from __future__ import annotations

from typing import Any

import numpy as np

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.front import Front

__all__: list[str] = []


def _feasible_rows(front: Any, owner: str) -> np.ndarray:
    """Indices of the feasible points of ``front``; ConfigError when there is none."""
    if not isinstance(front, Front):
        raise ConfigError(f"{owner}: expected a Front. Got {type(front).__name__}.")
    rows = np.flatnonzero(front.feasible)
    if len(rows) == 0:
        what = "is empty" if len(front) == 0 else f"has {len(front)} points, none with finite objectives"
        raise ConfigError(f"{owner}: there is no feasible point to choose from; the front {what}")
    return rows
