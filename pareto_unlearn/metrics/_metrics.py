"""Unlearning metrics of the SalUn protocol (docs/definitions.md §3) and the per-sample results of the
oracle-free estimate (docs/definitions.md §6, :mod:`pareto_unlearn.metrics._samples`).

Everything is computed from logits, so a model, a batch of subspace individuals or a cached prediction
all go through the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.svm import SVC

from pareto_unlearn.metrics._samples import sample_columns, target_columns

if TYPE_CHECKING:
    from pareto_unlearn.task import UnlearningTask

__all__ = [
    "Predictions",
    "predict_logits",
    "predict",
    "unlearning_metrics",
    "avg_gap",
    "mia_efficacy",
    "MetricEvaluator",
    "METRICS",
    "PREDICTION_SPLITS",
]

METRICS = ("UA", "RA", "TA", "MIA")
# The splits a model's logits are kept on, in the field order of Predictions: D_h,ref is among them
# because the oracle-free rule scores every candidate on all of D_h (docs/definitions.md §6).
PREDICTION_SPLITS = ("forget", "retain", "test", "heldout_selection", "heldout_reference")


@torch.no_grad()
def predict_logits(model: torch.nn.Module, x: torch.Tensor, *, batch_size: int = 2048) -> torch.Tensor:
    """Logits [n, C] of ``model`` in eval mode, in batches."""
    model.eval()
    if len(x) == 0:
        raise ValueError("predict_logits got an empty input")
    return torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


@dataclass(frozen=True)
class Predictions:
    """Logits [n, C] of one model on the splits that metrics need (``PREDICTION_SPLITS``, in order)."""

    forget: torch.Tensor
    retain: torch.Tensor
    test: torch.Tensor
    heldout_selection: torch.Tensor
    heldout_reference: torch.Tensor | None = None  # needed by the oracle-free columns, not by the metrics

    def __reduce__(self) -> str | tuple[Any, ...]:
        # Pickled as NumPy arrays: Dask moves every evaluated point's logits between processes, and a
        # torch tensor pickles through torch's own serializer, 10-25x slower per tensor than an array
        # (0.7 ms against 0.03 ms to unpickle one point's five splits on the digits MLP).
        values = [getattr(self, name) for name in PREDICTION_SPLITS]
        if not all(v is None or (v.dtype in _NUMPY_DTYPES and v.device.type == "cpu") for v in values):
            return super().__reduce__()  # other dtypes and devices as torch pickles them
        return (_predictions_from_arrays, tuple(None if v is None else v.detach().numpy() for v in values))


_NUMPY_DTYPES = (torch.float16, torch.float32, torch.float64, torch.int64)


def _predictions_from_arrays(forget: np.ndarray, retain: np.ndarray, test: np.ndarray,
                             selection: np.ndarray, reference: np.ndarray | None) -> Predictions:
    """A :class:`Predictions` back from the arrays its ``__reduce__`` gave."""
    return Predictions(_tensor(forget), _tensor(retain), _tensor(test), _tensor(selection),
                       None if reference is None else _tensor(reference))


def _tensor(array: np.ndarray) -> torch.Tensor:
    # an unpickled array may be a read-only buffer, and torch keeps no read-only tensors: copy those
    return torch.from_numpy(array if array.flags.writeable else array.copy())


def predict(model: torch.nn.Module, task: UnlearningTask, *, batch_size: int = 2048) -> Predictions:
    """Logits of ``model`` on every split of ``PREDICTION_SPLITS``."""
    return Predictions(
        *(predict_logits(model, getattr(task, s).x, batch_size=batch_size) for s in PREDICTION_SPLITS)
    )


def _accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    if len(y) == 0:
        return float("nan")
    return 100.0 * float((logits.argmax(dim=-1) == y).double().mean())


def _confidence(logits: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Softmax probability of the true label (the MIA feature)."""
    probs = torch.softmax(logits.double(), dim=-1)
    return probs.gather(-1, y.unsqueeze(-1)).squeeze(-1).cpu().numpy()


def mia_efficacy(member_conf: np.ndarray, nonmember_conf: np.ndarray, forget_conf: np.ndarray) -> float:
    """MIA-efficacy: share (%) of forget samples an SVC attack calls non-member.

    The attack is ``SVC(C=3, gamma="auto", kernel="rbf")`` on the confidence, fitted on members (label 1)
    and non-members (label 0), re-fitted for every model.
    """
    features = np.concatenate([member_conf, nonmember_conf]).reshape(-1, 1)
    labels = np.concatenate([np.ones(len(member_conf)), np.zeros(len(nonmember_conf))])
    # random_state: without it every fit draws a libsvm seed from NumPy's global generator (unused
    # without probability estimates, so the attack is the same either way; the caller's state is kept)
    attack = SVC(C=3, gamma="auto", kernel="rbf", random_state=0)
    attack.fit(features, labels)
    return 100.0 * float((attack.predict(forget_conf.reshape(-1, 1)) == 0).mean())


def unlearning_metrics(pred: Predictions, task: UnlearningTask) -> dict[str, float]:
    """UA, RA, TA, MIA (percent) plus forget_acc, sel_acc (D_h,sel accuracy, retained classes) and,
    under class-wise forgetting, TA_forgotten (test accuracy on the forgotten classes)."""
    f_y, r_y, t_y, s_y = task.forget.y, task.retain.y, task.test.y, task.heldout_selection.y
    if not all(
        bool(torch.isfinite(t).all()) for t in (pred.forget, pred.retain, pred.test, pred.heldout_selection)
    ):
        # A diverged model (NaN / inf logits) has no meaningful metrics; its point is infeasible anyway.
        nan = float("nan")
        out = dict.fromkeys(("UA", "RA", "TA", "MIA", "forget_acc", "sel_acc"), nan)
        if task.forgotten_classes:
            out["TA_forgotten"] = nan
        return out
    keep_test = task.test_nonforgotten_mask()
    forget_acc = _accuracy(pred.forget, f_y)
    out = {
        "UA": 100.0 - forget_acc,
        "RA": _accuracy(pred.retain, r_y),
        "TA": _accuracy(pred.test[keep_test], t_y[keep_test]),
    }
    members = torch.as_tensor(task.mia_members, device=pred.retain.device)
    forget_conf = _confidence(pred.forget, f_y)
    out["MIA"] = mia_efficacy(
        _confidence(pred.retain[members], r_y[members]),
        _confidence(pred.test[keep_test], t_y[keep_test]),
        forget_conf,
    )
    keep_sel = torch.ones_like(s_y, dtype=torch.bool)
    for c in task.forgotten_classes:
        keep_sel &= s_y != c
    sel_acc = _accuracy(pred.heldout_selection[keep_sel], s_y[keep_sel])
    out["forget_acc"] = forget_acc
    out["sel_acc"] = sel_acc
    if task.forgotten_classes:
        out["TA_forgotten"] = _accuracy(pred.test[~keep_test], t_y[~keep_test])
    return out


def avg_gap(metrics: dict[str, float], retrain: dict[str, float]) -> float:
    """Mean of |UA − UA_R|, |RA − RA_R|, |TA − TA_R|, |MIA − MIA_R|."""
    return float(np.mean([abs(metrics[k] - retrain[k]) for k in METRICS]))


class PredictionRecorder:
    """An evaluator that keeps the predictions a solver scores and computes no metric: for a solver run
    inside another one (an LS fine-tune of a search), whose metrics are computed once, later, from those
    predictions. Solvers call ``evaluator.from_predictions(pred)``; this one records ``pred`` and returns
    no metrics.

    Examples
    --------
    >>> recorder = PredictionRecorder()
    >>> recorder.from_predictions("the logits")
    {}
    >>> recorder.predictions
    'the logits'
    """

    def __init__(self) -> None:
        self.predictions: Predictions | None = None

    def from_predictions(self, pred: Predictions) -> dict[str, float]:
        """Keep ``pred``; no metrics."""
        self.predictions = pred
        return {}


class MetricEvaluator:
    """Scores models of one task: metrics plus the Avg. Gap to the task's Retrain, and the per-sample
    columns (``ofs.*``) the oracle-free rule resamples (docs/definitions.md §6).

    The ``gap`` column reads Retrain (for reporting); the ``ofs.*`` columns read only D_f, D_r and
    D_h (= D_h,sel ∪ D_h,ref) of the model itself and of θ0, and the test split's size, never Retrain
    or test data.

    Examples
    --------
    A toy task (:func:`~pareto_unlearn.task.toy_task`) stands in for a real one:

    >>> from pareto_unlearn.task import toy_task
    >>> task = toy_task()
    >>> evaluator = MetricEvaluator(task)
    >>> evaluator(task.retrain)["gap"]  # Retrain is its own target
    0.0
    >>> row = evaluator(task.original)
    >>> [k for k in ("UA", "RA", "TA", "MIA", "gap") if k in row], row["gap"] >= 0
    (['UA', 'RA', 'TA', 'MIA', 'gap'], True)
    """

    def __init__(self, task: UnlearningTask) -> None:
        self.task = task
        self.retrain_ = unlearning_metrics(predict(task.retrain, task), task)
        self.retrain_["gap"] = 0.0

    @cached_property
    def target_(self) -> dict[str, float]:
        """θ0's results on D_h that Retrain's predictive distribution is drawn from (``ofs.target.*``),
        computed once."""
        pred0 = predict(self.task.original, self.task)
        ra0 = unlearning_metrics(pred0, self.task)["RA"]
        return target_columns(pred0, self.task, ra0)

    @cached_property
    def original_(self) -> dict[str, float]:
        """θ0's metrics, computed once on first use."""
        return self(self.task.original)

    def from_predictions(self, pred: Predictions) -> dict[str, float]:
        out = unlearning_metrics(pred, self.task)
        out["gap"] = avg_gap(out, self.retrain_)
        if np.isfinite(out["RA"]):  # a diverged model has no per-sample results; its point is infeasible
            out.update(sample_columns(pred, self.task))
            out.update(self.target_)
        return out

    def __call__(self, model: torch.nn.Module) -> dict[str, float]:
        return self.from_predictions(predict(model, self.task))
