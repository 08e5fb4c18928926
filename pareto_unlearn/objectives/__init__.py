"""Objectives (SPEC §1): forget_kl against a fixed reference, and retain_ce."""

from pareto_unlearn.objectives._objectives import (
    KL_DIRECTIONS,
    OBJECTIVES,
    ForgetKL,
    Objective,
    Objectives,
    RetainCE,
    hv_reference_point,
    make_objectives,
)
from pareto_unlearn.objectives._reference import REFERENCES, Reference, make_reference

__all__ = [
    "KL_DIRECTIONS",
    "OBJECTIVES",
    "REFERENCES",
    "ForgetKL",
    "Objective",
    "Objectives",
    "Reference",
    "RetainCE",
    "hv_reference_point",
    "make_objectives",
    "make_reference",
]
