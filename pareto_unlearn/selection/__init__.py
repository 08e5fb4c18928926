"""Selection rules: pick one operating point of a Front (docs/definitions.md §6), by index into that Front.

Rules are configured in their constructor and called on a Front; they look at feasible points only and
raise ConfigError when there is none. They are a family apart from the indicators: no rule computes or
inherits an indicator.

Examples
--------
>>> import numpy as np
>>> from pareto_unlearn.front import Front
>>> from pareto_unlearn.selection import Constrained, Knee, make_rule
>>> F = np.array([[0.0, 2.3], [0.2, 0.4], [0.6, 0.1], [0.9, 0.05]])
>>> front = Front.from_points(F, metrics={"RA": [12.0, 97.0, 99.4, 100.0]})
>>> Knee()(front)
1
>>> Constrained("RA >= 99", then=Knee())(front)
2
>>> make_rule("knee", constraints="RA>=99")(front)
2
"""

from __future__ import annotations

from pareto_unlearn.selection._oracle_free import (
    INDISTINGUISHABLE,
    GapEstimate,
    OracleFreeData,
    OracleFreePick,
    estimate_gaps,
)
from pareto_unlearn.selection._rules import (
    ClosestToRetrain,
    Constrained,
    Knee,
    OracleFree,
    Preference,
    make_rule,
)

__all__ = [
    "OracleFree",
    "OracleFreePick",
    "OracleFreeData",
    "GapEstimate",
    "estimate_gaps",
    "INDISTINGUISHABLE",
    "Knee",
    "Preference",
    "Constrained",
    "ClosestToRetrain",
    "make_rule",
]
