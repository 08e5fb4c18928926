"""Unlearning metrics (docs/definitions.md §3): UA, RA, TA, MIA, Avg. Gap; and the per-sample results
(``ofs.*`` columns) of the oracle-free estimate (docs/definitions.md §6)."""

from pareto_unlearn.metrics._metrics import (
    METRICS,
    PREDICTION_SPLITS,
    MetricEvaluator,
    PredictionRecorder,
    Predictions,
    avg_gap,
    mia_efficacy,
    predict,
    predict_logits,
    unlearning_metrics,
)
from pareto_unlearn.metrics._samples import is_sample_column, pack_bits, unpack_bits

__all__ = [
    "PredictionRecorder",
    "METRICS",
    "PREDICTION_SPLITS",
    "MetricEvaluator",
    "Predictions",
    "avg_gap",
    "mia_efficacy",
    "is_sample_column",
    "pack_bits",
    "unpack_bits",
    "predict",
    "predict_logits",
    "unlearning_metrics",
]
