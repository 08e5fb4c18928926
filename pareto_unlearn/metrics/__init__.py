"""Unlearning metrics (SPEC §3): UA, RA, TA, MIA, Avg. Gap; and the oracle-free score (SPEC §6)."""

from pareto_unlearn.metrics._metrics import (
    METRICS,
    MetricEvaluator,
    Predictions,
    avg_gap,
    mia_efficacy,
    oracle_free_score,
    predict,
    predict_logits,
    unlearning_metrics,
)

__all__ = [
    "METRICS",
    "MetricEvaluator",
    "Predictions",
    "avg_gap",
    "mia_efficacy",
    "oracle_free_score",
    "predict",
    "predict_logits",
    "unlearning_metrics",
]
