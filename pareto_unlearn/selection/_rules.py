"""Selection rules (docs/definitions.md §6): small callables, configured once, that pick one point of a Front.

Every rule returns the integer index of the chosen point in the Front it is called on (never an index
into a subset), looks at feasible points only (finite objectives), and raises ConfigError when the front
is empty or has no feasible point.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.front import Front, nondominated_mask
from pareto_unlearn.selection._feasible import _feasible_rows
from pareto_unlearn.selection._oracle_free import OracleFree

__all__ = ["OracleFree", "Knee", "Preference", "Constrained", "ClosestToRetrain", "make_rule"]

Rule = Callable[[Front], int]


def _nondominated_rows(front: Front, owner: str) -> np.ndarray:
    """Indices of the feasible points that no feasible point of any solver dominates."""
    rows = _feasible_rows(front, owner)
    return rows[nondominated_mask(front.F[rows])]


def _argmin_rows(values: np.ndarray, rows: np.ndarray, *, ties: np.ndarray | None = None) -> int:
    """The row (of ``rows``) with the lowest finite value, ties broken by ``ties`` then by position."""
    keys = (rows, values[rows]) if ties is None else (rows, ties[rows], values[rows])
    return int(rows[np.lexsort(keys)[0]])


class Knee:
    """The knee of the non-dominated feasible set (docs/definitions.md §6).

    Each objective is divided by its range on that set; the answer is the point farthest from the
    straight line (for m > 2, the hyperplane) through the extreme points, **on its ideal side** (the side
    of the origin, where a point beats the extremes' trade-off); if no point lies strictly on that side
    (a straight or bulging front), the extreme point with the lowest sum of normalised objectives (ties,
    as always in two dimensions: the lowest sum of the objectives themselves, then front order). The
    extremes are the minimiser of each objective (ties broken by the sum of the others); if they do not
    span a hyperplane, the hyperplane normal to (1, …, 1) through their centroid is used. A set of one
    distinct point gives that point; ties go to the first point in front order.

    Raises
    ------
    ConfigError
        If the front is empty or has no feasible point.

    Examples
    --------
    >>> import numpy as np
    >>> from pareto_unlearn.front import Front
    >>> F = np.array([[0.0, 1.0], [0.1, 0.3], [0.5, 0.1], [1.0, 0.0], [0.6, 0.6]])
    >>> Knee()(Front.from_points(F))
    1
    >>> bulging = np.array([[0.0, 1.0], [0.7, 0.9], [1.0, 0.0]])  # the middle point is beyond the line
    >>> Knee()(Front.from_points(bulging))
    0
    """

    def __call__(self, front: Front, /) -> int:
        nd = _nondominated_rows(front, "Knee")
        return int(nd[_knee_position(front.F[nd])])

    def __repr__(self) -> str:
        return "Knee()"


def _knee_position(F: np.ndarray) -> int:
    """Position in ``F`` [n, m] (mutually non-dominated) of the point farthest from the extremes' plane on
    its ideal side; else of the extreme point with the lowest normalised sum."""
    n, m = F.shape
    if n == 1:
        return 0
    low, span = F.min(axis=0), np.ptp(F, axis=0)
    Z = (F - low) / np.where(span > 0, span, 1.0)
    extremes = [int(np.lexsort((Z.sum(axis=1) - Z[:, j], Z[:, j]))[0]) for j in range(m)]
    E = Z[extremes]
    centre = E.mean(axis=0)
    _, s, vt = np.linalg.svd(E - centre)
    rank = int((s > 1e-12 * max(s.max(initial=0.0), 1.0)).sum())
    normal = vt[-1] if rank == m - 1 else np.full(m, 1.0 / math.sqrt(m))
    if (0.0 - centre) @ normal > 0:  # orient the normal towards the ideal point (the origin of Z)
        normal = -normal
    depth = -(Z - centre) @ normal  # > 0 on the ideal side
    if (depth > 1e-12).any():
        return int(np.argmax(depth))
    # normalised sums tie in two dimensions ((0, 1) and (1, 0)): the raw sums, then position, break ties
    sums, raw = Z[extremes].sum(axis=1).round(12), F[extremes].sum(axis=1)
    return int(extremes[int(np.lexsort((extremes, raw, sums))[0])])


class Preference:
    """The non-dominated feasible point whose pymoo pseudo-weights are closest to ``weights``
    (docs/definitions.md §6).

    A point's pseudo-weight for objective i is its normalised distance to the worst value of i on the
    non-dominated set, so ``weights=(0.8, 0.2)`` asks for a point good in the first objective. Weights are
    rescaled to sum to 1. Objectives constant on the set are dropped with their weights (they cannot
    discriminate); a set of one distinct point gives that point.

    Parameters
    ----------
    weights : sequence of float [m] or str
        Non-negative, not all zero; a string ``"0.7,0.3"`` is read as a list (for the CLI).

    Raises
    ------
    ConfigError
        At construction for bad weights; at call time for a front that is empty, has no feasible point,
        or has another number of objectives.

    Examples
    --------
    >>> import numpy as np
    >>> from pareto_unlearn.front import Front
    >>> front = Front.from_points(np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]]))
    >>> Preference([0.9, 0.1])(front), Preference([0.5, 0.5])(front)
    (0, 1)
    """

    def __init__(self, weights: Sequence[float] | str) -> None:
        if isinstance(weights, str):
            try:
                weights = [float(w) for w in weights.split(",")]
            except ValueError:
                raise ConfigError(f"Preference: cannot read `weights` {weights!r}; "
                                  "write e.g. '0.7,0.3'") from None
        w = np.asarray(weights, dtype=float).reshape(-1)
        if w.size < 2 or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ConfigError(f"Preference: `weights` must be >= 2 non-negative numbers, not all zero. "
                              f"Got {np.asarray(weights).tolist()}.")
        self.weights = w / w.sum()

    def __call__(self, front: Front, /) -> int:
        from pymoo.mcdm.pseudo_weights import PseudoWeights

        nd = _nondominated_rows(front, "Preference")
        if self.weights.size != front.n_obj:
            raise ConfigError(f"Preference: {self.weights.size} weights for a front with {front.n_obj} "
                              f"objectives {list(front.objective_names)}")
        F = front.F[nd]
        varies = np.ptp(F, axis=0) > 0
        if varies.sum() < 1:
            return int(nd[0])
        weights = self.weights[varies] / max(self.weights[varies].sum(), 1e-300)
        return int(nd[PseudoWeights(weights).do(F[:, varies])])

    def __repr__(self) -> str:
        return f"Preference(weights={self.weights.round(6).tolist()})"


_OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt,
}
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_CONSTRAINT = re.compile(rf"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|>|<)\s*({_NUMBER})\s*$")
_FORM = "write NAME OP NUMBER with OP one of >=, <=, >, < (e.g. 'RA >= 99', or 'RA>=99,TA>=95' for several)"


def _parse_constraints(constraints: str | Sequence[str]) -> tuple[tuple[str, str, float], ...]:
    items = [constraints] if isinstance(constraints, str) else list(constraints)
    parsed = []
    for item in items:
        if not isinstance(item, str):
            raise ConfigError(f"Constrained: each constraint must be a string; {_FORM}. Got {item!r}.")
        for piece in item.split(","):
            if not piece.strip():
                continue
            match = _CONSTRAINT.match(piece)
            if match is None:
                raise ConfigError(f"Constrained: cannot read the constraint {piece.strip()!r}; {_FORM}")
            name, op, value = match.groups()
            parsed.append((name, op, float(value)))
    if not parsed:
        raise ConfigError(f"Constrained: no constraint given; {_FORM}")
    return tuple(parsed)


class Constrained:
    """Keep the feasible points that satisfy every constraint, then apply the rule ``then`` to them.

    Constraints name a metric (``RA``, ``TA``, ``UA``, ``MIA``, ``gap``, any extra column) or an
    objective (``forget_kl``, ``retain_ce``), compare with ``>=``, ``<=``, ``>`` or ``<`` to a number, and
    combine by AND; a NaN value never satisfies a constraint. The answer is an index into the front the
    rule is called on.

    Parameters
    ----------
    constraints : str or sequence of str
        ``"RA >= 99"``, ``["RA>=99", "TA>=95"]`` or ``"RA>=99,TA>=95"``.
    then : callable
        A rule (Knee(), Preference(...), OracleFree(...), ...) applied to the points that pass.

    Raises
    ------
    ConfigError
        At construction, for a malformed constraint (the message names it and shows the form); at call
        time, for an unknown name, an empty or all-infeasible front, or when no point satisfies them.

    Examples
    --------
    >>> import numpy as np
    >>> from pareto_unlearn.front import Front
    >>> F = np.array([[0.0, 1.0], [0.1, 0.3], [0.2, 0.2], [0.5, 0.1], [1.0, 0.0]])
    >>> RA, TA = [99.5, 98.0, 99.3, 99.2, 99.9], [96.0, 97.0, 95.8, 95.5, 94.0]
    >>> Constrained("RA>=99,TA>=95", then=Knee())(Front.from_points(F, metrics={"RA": RA, "TA": TA}))
    2
    """

    def __init__(self, constraints: str | Sequence[str], then: Rule) -> None:
        self.constraints = _parse_constraints(constraints)
        if not callable(then):
            raise ConfigError(f"Constrained: `then` must be a selection rule (e.g. Knee()). Got {then!r}.")
        self.then = then

    def rows(self, front: Front, /) -> np.ndarray:
        """Indices (into ``front``) of the feasible points that satisfy every constraint; ConfigError
        when there is none."""
        rows = _feasible_rows(front, "Constrained")
        keep = np.ones(len(front), dtype=bool)
        for name, op, value in self.constraints:
            if name in front.objective_names:
                column = front.F[:, front.objective_names.index(name)]
            elif name in front.metrics:
                column = front.metrics[name]
            else:
                names = list(front.objective_names) + sorted(front.metrics)
                raise ConfigError(f"Constrained: {name!r} is neither an objective nor a metric of this "
                                  f"front; use one of {names}")
            with np.errstate(invalid="ignore"):
                keep &= _OPS[op](column, value)
        rows = rows[keep[rows]]
        if len(rows) == 0:
            raise ConfigError(f"Constrained: no feasible point satisfies {self._text()}; "
                              "relax the constraints")
        return rows

    def __call__(self, front: Front, /) -> int:
        rows = self.rows(front)
        return int(rows[self.then(front.take(rows))])

    def _text(self) -> str:
        return ", ".join(f"{name} {op} {value:g}" for name, op, value in self.constraints)

    def __repr__(self) -> str:
        return f"Constrained({self._text()!r}, then={self.then!r})"


class ClosestToRetrain:
    """The feasible point with the lowest Avg. Gap to Retrain (``metrics["gap"]``).

    For evaluation only — it reads Retrain's metrics, which docs/definitions.md §6 forbids for choosing
    anything — so it is never a default. Points with a NaN gap do not count.

    Raises
    ------
    ConfigError
        If the front is empty, has no feasible point, or no feasible point with a finite gap.

    Examples
    --------
    >>> import numpy as np
    >>> from pareto_unlearn.front import Front
    >>> front = Front.from_points(np.array([[0.0, 1.0], [1.0, 0.0]]), metrics={"gap": [3.0, 1.5]})
    >>> ClosestToRetrain()(front)
    1
    """

    def __call__(self, front: Front, /) -> int:
        rows = _feasible_rows(front, "ClosestToRetrain")
        if "gap" not in front.metrics:
            raise ConfigError("ClosestToRetrain: this front has no 'gap' metric; evaluate it against Retrain")
        gap = front.metrics["gap"]
        rows = rows[np.isfinite(gap[rows])]
        if len(rows) == 0:
            raise ConfigError("ClosestToRetrain: no feasible point has a finite 'gap' "
                              "(was Retrain evaluated?)")
        return _argmin_rows(gap, rows)

    def __repr__(self) -> str:
        return "ClosestToRetrain()"


_RULES: dict[str, type] = {
    "oracle-free": OracleFree, "knee": Knee, "preference": Preference, "closest-to-retrain": ClosestToRetrain,
}


def make_rule(name: str, /, *, constraints: str | Sequence[str] | None = None, **kwargs: Any) -> Rule:
    """A rule from its CLI name, optionally behind constraints.

    Parameters
    ----------
    name : {"oracle-free", "knee", "preference", "closest-to-retrain"}
    constraints : str or sequence of str, optional
        When given, the rule is wrapped in :class:`Constrained`.
    **kwargs
        The rule's own parameters (``kind`` or ``task``, and ``n_boot``, ``seed``, ``level`` for
        oracle-free; ``weights`` for preference).

    Examples
    --------
    >>> make_rule("knee")
    Knee()
    >>> make_rule("preference", weights="0.7,0.3", constraints="RA>=99")
    Constrained('RA >= 99', then=Preference(weights=[0.7, 0.3]))
    """
    if name not in _RULES:
        raise ConfigError(f"unknown selection rule {name!r}; use one of {', '.join(_RULES)}")
    try:
        if name == "oracle-free" and "task" in kwargs:
            task = kwargs.pop("task")
            rule: Rule = OracleFree.for_task(task, **kwargs)
        else:
            rule = _RULES[name](**kwargs)
    except TypeError as exc:
        raise ConfigError(f"selection rule {name!r}: bad parameters {sorted(kwargs)} ({exc})") from None
    return rule if constraints is None else Constrained(constraints, then=rule)
