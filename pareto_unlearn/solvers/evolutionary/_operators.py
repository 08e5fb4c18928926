"""Variation operators the evolutionary solvers take from pymoo, where pymoo needs a correction.

:class:`SeededDEX` is pymoo's differential-evolution crossover (``DEX``, DE/rand/1/bin) with its bound
repair drawn from the algorithm's seeded generator. pymoo 0.6.2's ``DEX.do`` calls
``repair_random_init`` without its ``random_state``, which then draws from a fresh unseeded generator:
every child that left the box got other values on every run, so the same seed gave different fronts.

Examples
--------
>>> import numpy as np
>>> from pymoo.core.population import Population
>>> from pymoo.core.problem import Problem
>>> problem = Problem(n_var=3, n_obj=2, xl=-np.ones(3), xu=np.ones(3))
>>> parents = Population.new("X", np.array([[0.9, 0.9, 0.9], [1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]]))
>>> children = [SeededDEX(F=0.5, CR=1.0).do(problem, parents, [[0, 1, 2]],
...                                          random_state=np.random.default_rng(7)).get("X")
...             for _ in range(2)]
>>> bool(np.all(np.abs(children[0]) <= 1)), bool(np.array_equal(children[0], children[1]))
(True, True)
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from pymoo.core.population import Population
from pymoo.operators.crossover.dex import DEX
from pymoo.operators.repair.bounds_repair import repair_random_init

__all__ = ["SeededDEX"]


class SeededDEX(DEX):
    """pymoo's ``DEX`` whose children are put back in the box with the caller's ``random_state``: each
    coordinate out of bounds is drawn between its base parent's value and the bound it crossed (pymoo's
    ``repair_random_init``; DEX's own re-draws of F for such children are left out)."""

    def do(self, problem: Any, pop: Any, parents: Any = None, *args: Any, random_state: Any,
           **kwargs: Any) -> Population:
        if parents is not None:  # as DEX.do reads them: one mating per row, its base first
            pop = [pop[mating] for mating in parents]
        base = np.array([mating[0].get("X") for mating in pop])
        unbounded = copy.copy(problem)
        unbounded.xl = unbounded.xu = None  # DEX skips its own (unseeded) repair
        children = super().do(unbounded, pop, *args, random_state=random_state, **kwargs)
        if problem.has_bounds():
            X = repair_random_init(children.get("X"), base, *problem.bounds(), random_state=random_state)
            children.set("X", X)
        return children
