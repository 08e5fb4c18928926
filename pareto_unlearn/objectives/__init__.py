"""Objectives (docs/definitions.md §1): forget_kl against a fixed reference, and retain_ce; push–pull
distillation (``push_pull``, ``distill_retain``) against teachers fixed from θ0.

``Objectives.spec()`` records them (JSON-able) and ``objectives_from_spec(task, spec)`` rebuilds them;
``reference_label(objectives)`` is the effective reference that provenance records. The HV reference
point is an indicator: ``pareto_unlearn.indicators.hv_reference_point(task, objectives)``.
"""

from pareto_unlearn.objectives._base import Objective
from pareto_unlearn.objectives._distill import (
    DEFAULT_PUSH_K,
    DEFAULT_PUSH_WEIGHT,
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
    SPEC_VERSION,
    ForgetKL,
    Objectives,
    RetainCE,
    make_objectives,
    objectives_from_spec,
    reference_label,
)
from pareto_unlearn.objectives._reference import REFERENCES, Reference, effective_reference, make_reference

__all__ = [
    "DEFAULT_PUSH_K",
    "DEFAULT_PUSH_WEIGHT",
    "DISTILL_OBJECTIVES",
    "KL_DIRECTIONS",
    "OBJECTIVES",
    "REFERENCES",
    "SPEC_VERSION",
    "DistillRetain",
    "ForgetKL",
    "Objective",
    "Objectives",
    "PushPull",
    "Reference",
    "RetainCE",
    "Teacher",
    "effective_reference",
    "forget_teacher",
    "make_objectives",
    "make_reference",
    "objectives_from_spec",
    "reference_label",
    "retain_teacher",
    "topk_kl",
    "topk_push",
]
