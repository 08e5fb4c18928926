"""Selection rules (SPEC §6): small callables, configured once, that pick one point of a Front.

Every rule returns the integer index of the chosen point in the Front it is called on (never an index
into a subset), looks at feasible points only (finite objectives), and raises ConfigError when the front
is empty or has no feasible point.
"""

from __future__ import annotations

import math
import numbers
import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.front import Front, nondominated_mask

__all__ = ["OracleFree", "Knee", "Preference", "Constrained", "ClosestToRetrain", "make_rule"]

Rule = Callable[[Front], int]


def _feasible_rows(front: Any, owner: str) -> np.ndarray:
    """Indices of the feasible points of ``front``; ConfigError when there is none."""
    if not isinstance(front, Front):
        raise ConfigError(f"{owner}: expected a Front. Got {type(front).__name__}.")
    rows = np.flatnonzero(front.feasible)
    if len(rows) == 0:
        what = "is empty" if len(front) == 0 else f"has {len(front)} points, none with finite objectives"
        raise ConfigError(f"{owner}: there is no feasible point to choose from; the front {what}")
    return rows


def _nondominated_rows(front: Front, owner: str) -> np.ndarray:
    """Indices of the feasible points that no feasible point of any solver dominates."""
    rows = _feasible_rows(front, owner)
    return rows[nondominated_mask(front.F[rows])]


def _argmin_rows(values: np.ndarray, rows: np.ndarray, *, ties: np.ndarray | None = None) -> int:
    """The row (of ``rows``) with the lowest finite value, ties broken by ``ties`` then by position."""
    keys = (rows, values[rows]) if ties is None else (rows, ties[rows], values[rows])
    return int(rows[np.lexsort(keys)[0]])


SEL_ACC_MARGIN = 5.0  # the utility guard: D_h,sel accuracy within this many points of θ0's


class OracleFree:
    """The oracle-free operating point (SPEC §6): no test data, no Retrain, only D_h,sel.

    ``kind="random"`` (random forgetting): the forget set should look like unseen data of the same
    classes; the score ``|acc(D_f) − acc(D_h,sel)| + 100 · KS(conf(D_f), conf(D_h,sel))`` is computed
    by the evaluation code and stored in ``front.metrics["oracle_free"]``; the lowest finite score wins.

    ``kind="class"`` (class-wise forgetting): a forgotten class is unseen, so it cannot be predicted;
    among points with forget accuracy ``<= 100 / n_classes`` the lowest ``retain_ce`` objective wins;
    if there is none, the lowest forget accuracy (ties: lowest retain_ce). Forget accuracy is
    ``metrics["forget_acc"]``, or ``100 − UA`` when that column is absent (the same number, SPEC §3).

    Parameters
    ----------
    kind : {"random", "class"}
    n_classes : int, optional
        Number of classes C; required for ``kind="class"``.
    min_sel_acc : float, optional
        Rank only points whose accuracy on D_h,sel (``metrics["sel_acc"]``) is
        at least this (all points if none is). The plain score is near 0 for a collapsed model under random
        forgetting (both accuracies at chance, both confidence distributions at 1/C), and under class-wise
        forgetting a collapsed model passes the forget-accuracy test; pareto_unlearn's commands pass
        θ0's D_h,sel accuracy − 5 — the selection set only, so still no oracle and no test data.

    Raises
    ------
    ConfigError
        At call time: the front is empty or all infeasible, or the needed column is missing or NaN
        for every feasible point.

    Examples
    --------
    >>> import numpy as np
    >>> from pareto_unlearn.front import Front
    >>> F = np.array([[0.1, 1.0], [0.2, 0.5], [0.4, 0.2]])
    >>> front = Front.from_points(F, metrics={"oracle_free": [9.0, 3.0, 5.0], "forget_acc": [0.0, 8.0, 40.0]})
    >>> OracleFree("random")(front)
    1
    >>> OracleFree("class", n_classes=10)(front)
    1
    """

    def __init__(self, kind: str, n_classes: int | None = None, *, min_sel_acc: float | None = None) -> None:
        if kind not in ("random", "class"):
            raise ConfigError(f"OracleFree: `kind` must be 'random' or 'class'. Got {kind!r}.")
        if kind == "class" and not (isinstance(n_classes, numbers.Integral) and n_classes >= 2):
            raise ConfigError(f"OracleFree: kind='class' needs `n_classes`, an integer >= 2. "
                              f"Got {n_classes!r}.")
        self.kind = kind
        self.n_classes = None if n_classes is None else int(n_classes)
        self.min_sel_acc = min_sel_acc

    @classmethod
    def for_task(cls, task: Any, *, min_sel_acc: float | None = None) -> OracleFree:
        """The rule that fits ``task``: its forget kind (``task.forget_spec.kind``) and ``task.n_classes``."""
        return cls(task.forget_spec.kind, n_classes=task.n_classes, min_sel_acc=min_sel_acc)

    def __call__(self, front: Front, /) -> int:
        rows = _feasible_rows(front, "OracleFree")
        if self.min_sel_acc is not None and "sel_acc" in front.metrics:
            useful = rows[front.metrics["sel_acc"][rows] >= self.min_sel_acc]
            rows = useful if len(useful) else rows
        if self.kind == "random":
            if "oracle_free" not in front.metrics:
                raise ConfigError("OracleFree: this front has no 'oracle_free' metric; "
                                  "score its points on D_h,sel first")
            score = front.metrics["oracle_free"]
            rows = rows[np.isfinite(score[rows])]
            if len(rows) == 0:
                raise ConfigError("OracleFree: no feasible point has a finite 'oracle_free' score")
            return _argmin_rows(score, rows)
        if "retain_ce" not in front.objective_names:
            raise ConfigError(f"OracleFree: kind='class' ranks by the 'retain_ce' objective, which this "
                              f"front lacks; its objectives are {list(front.objective_names)}")
        if "forget_acc" in front.metrics:
            forget_acc = front.metrics["forget_acc"]
        elif "UA" in front.metrics:
            forget_acc = 100.0 - front.metrics["UA"]
        else:
            raise ConfigError("OracleFree: kind='class' needs a 'forget_acc' (or 'UA') metric; "
                              "evaluate the front first")
        retain_ce = front.F[:, front.objective_names.index("retain_ce")]
        rows = rows[np.isfinite(forget_acc[rows])]
        if len(rows) == 0:
            raise ConfigError("OracleFree: no feasible point has a finite forget accuracy")
        unseen = rows[forget_acc[rows] <= 100.0 / self.n_classes + 1e-9]
        if len(unseen):
            return _argmin_rows(retain_ce, unseen)
        return _argmin_rows(forget_acc, rows, ties=retain_ce)

    def __repr__(self) -> str:
        return f"OracleFree(kind={self.kind!r}, n_classes={self.n_classes}, min_sel_acc={self.min_sel_acc})"


class Knee:
    """The knee of the non-dominated feasible set (SPEC §6).

    Each objective is divided by its range on that set; for two objectives the answer is the point
    farthest (Euclidean, either side) from the straight line through the two extreme points. For m > 2
    the same rule in m dimensions: the farthest point from the hyperplane through the m extreme points
    (the minimiser of each objective, ties broken by the sum of the others); if those extremes do not
    span a hyperplane, the hyperplane normal to (1, …, 1) through their centroid. A set of one distinct
    point gives that point; ties go to the first point in front order.

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
    """

    def __call__(self, front: Front, /) -> int:
        nd = _nondominated_rows(front, "Knee")
        return int(nd[_knee_position(front.F[nd])])

    def __repr__(self) -> str:
        return "Knee()"


def _knee_position(F: np.ndarray) -> int:
    """Position in ``F`` [n, m] (mutually non-dominated) of the point farthest from the extremes' plane."""
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
    return int(np.argmax(np.abs((Z - centre) @ normal)))


class Preference:
    """The non-dominated feasible point whose pymoo pseudo-weights are closest to ``weights`` (SPEC §6).

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

    def __call__(self, front: Front, /) -> int:
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
        return int(rows[self.then(front.take(rows))])

    def _text(self) -> str:
        return ", ".join(f"{name} {op} {value:g}" for name, op, value in self.constraints)

    def __repr__(self) -> str:
        return f"Constrained({self._text()!r}, then={self.then!r})"


class ClosestToRetrain:
    """The feasible point with the lowest Avg. Gap to Retrain (``metrics["gap"]``).

    For evaluation only — it reads Retrain's metrics, which SPEC §6 forbids for choosing anything — so it
    is never a default. Points with a NaN gap do not count.

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
        The rule's own parameters (``kind``, ``n_classes`` or ``task`` for oracle-free; ``weights`` for
        preference).

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
            min_sel_acc = kwargs.pop("min_sel_acc", None)
            if kwargs:
                raise TypeError(f"unexpected {sorted(kwargs)} beside task")
            rule: Rule = OracleFree.for_task(task, min_sel_acc=min_sel_acc)
        else:
            rule = _RULES[name](**kwargs)
    except TypeError as exc:
        raise ConfigError(f"selection rule {name!r}: bad parameters {sorted(kwargs)} ({exc})") from None
    return rule if constraints is None else Constrained(constraints, then=rule)
