"""Objectives (docs/definitions.md §1): forget_kl against a fixed reference, and retain_ce; push–pull
distillation (``push_pull``, ``distill_retain``) against teachers fixed from θ0."""

from pareto_unlearn.objectives._distill import (
    DISTILL_OBJECTIVES,
    DistillRetain,
    PushPull,
    Teacher,
    forget_teacher,
    retain_teacher,
    topk_kl,
    topk_push,
)
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
    "DISTILL_OBJECTIVES",
    "KL_DIRECTIONS",
    "OBJECTIVES",
    "REFERENCES",
    "DistillRetain",
    "ForgetKL",
    "Objective",
    "Objectives",
    "PushPull",
    "Reference",
    "RetainCE",
    "Teacher",
    "forget_teacher",
    "hv_reference_point",
    "make_objectives",
    "make_reference",
    "retain_teacher",
    "topk_kl",
    "topk_push",
]
