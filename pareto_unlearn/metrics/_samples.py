"""Per-sample results of the oracle-free estimate, carried as metric columns of a Front
(docs/definitions.md §6).

The oracle-free rule compares every candidate with a Retrain drawn anew in each replicate, so it needs
each candidate's per-sample 0/1 results, not its accuracies: forget sample correct and forget sample
called non-member by the M̃IA attack (D_f is never resampled, but the calls are kept per sample so that
any subset of a front can be re-scored), and D_h sample correct (D_h = D_h,sel ∪ D_h,ref, every held-out
sample θ0 never trained on; T̃A resamples it). They are computed once per evaluated model (the attack
fitted once) and packed, 52 bits to a float64 metric column, so they travel with every point through
concatenation, subsets, checkpoints, Dask workers and ``Front.save`` / ``Front.load`` like any other
metric. θ0's results on D_h (its errors and its 5-fold cross-fitted non-member calls: what Retrain's
predictive distribution is drawn from) are packed the same way on every row, with the sizes the draw
needs: a rule given any subset of a front has what it needs, and nothing in these columns comes from
Retrain or from test data (``ofs.n_test`` is the test split's size, a count).

Columns (``PREFIX`` = ``"ofs."``): ``ofs.n_forget``, ``ofs.n_heldout``, ``ofs.n_retain``, ``ofs.n_test``
(sizes), ``ofs.forget_correct.K``, ``ofs.forget_nonmember.K`` (random forgetting only),
``ofs.heldout_correct.K`` (D_h, retained classes), ``ofs.target.heldout_correct.K`` and
``ofs.target.heldout_nonmember.K`` (θ0; the calls cross-fitted), ``ofs.target.RA``. Runs made before
D_h replaced D_h,sel carry ``ofs.n_sel`` instead of ``ofs.n_heldout`` and must be evaluated again.

Examples
--------
>>> import numpy as np
>>> bits = np.array([[1, 0, 1], [0, 0, 1]], dtype=bool)
>>> columns = pack_bits("forget_correct", bits)
>>> sorted(columns)
['ofs.forget_correct.0']
>>> unpack_bits(columns, "forget_correct", 3).astype(int).tolist()
[[1, 0, 1], [0, 0, 1]]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import torch
from sklearn.svm import SVC

if TYPE_CHECKING:
    from pareto_unlearn.metrics._metrics import Predictions
    from pareto_unlearn.task import UnlearningTask

__all__ = ["PREFIX", "BITS_PER_COLUMN", "N_FOLDS", "pack_bits", "unpack_bits", "is_sample_column",
           "sample_columns", "target_columns", "heldout_members", "heldout_labels", "heldout_logits",
           "cross_fitted_nonmember"]

PREFIX = "ofs."
BITS_PER_COLUMN = 52  # a float64 holds every integer below 2**53 exactly
_WEIGHTS = (1 << np.arange(BITS_PER_COLUMN, dtype=np.uint64)).astype(np.uint64)


def is_sample_column(name: str) -> bool:
    """Whether a metric column holds packed per-sample results (kept out of tables and summaries)."""
    return name.startswith(PREFIX)


def pack_bits(part: str, bits: np.ndarray) -> dict[str, np.ndarray]:
    """Columns ``ofs.<part>.K`` [n] holding the rows of the 0/1 array ``bits`` [n, s] (or [s] for one)."""
    bits = np.atleast_2d(np.asarray(bits, dtype=bool))
    n, s = bits.shape
    width = -(-s // BITS_PER_COLUMN) * BITS_PER_COLUMN
    padded = np.zeros((n, width), dtype=np.uint64)
    padded[:, :s] = bits
    words = (padded.reshape(n, -1, BITS_PER_COLUMN) * _WEIGHTS).sum(axis=2, dtype=np.uint64)
    return {f"{PREFIX}{part}.{k}": words[:, k].astype(np.float64) for k in range(words.shape[1])}


def unpack_bits(metrics: Mapping[str, np.ndarray], part: str, size: int) -> np.ndarray:
    """The bool array [n, size] packed by :func:`pack_bits` under ``part``; KeyError when absent, ValueError
    when a row is NaN (a point evaluated without per-sample results)."""
    n_words = -(-int(size) // BITS_PER_COLUMN)
    columns = [np.atleast_1d(np.asarray(metrics[f"{PREFIX}{part}.{k}"], dtype=np.float64))
               for k in range(n_words)]
    words: np.ndarray = np.stack(columns, axis=1)
    if not np.isfinite(words).all():
        raise ValueError(f"some points have no per-sample '{part}' results")
    words = words.astype(np.uint64)
    bits = (words[:, :, None] & _WEIGHTS) != 0
    return bits.reshape(len(words), -1)[:, :size]


def _confidence(logits: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    probs = torch.softmax(logits.double(), dim=-1)
    return probs.gather(-1, y.unsqueeze(-1)).squeeze(-1).cpu().numpy()


def _attack(member_conf: np.ndarray, nonmember_conf: np.ndarray) -> SVC:
    """The attack of docs/definitions.md §3 (SVC(C=3, gamma="auto", rbf) on the true-label confidence),
    fitted once."""
    features = np.concatenate([member_conf, nonmember_conf]).reshape(-1, 1)
    labels = np.concatenate([np.ones(len(member_conf)), np.zeros(len(nonmember_conf))])
    # random_state: keeps NumPy's global generator untouched (see mia_efficacy); the attack is the same
    return SVC(C=3, gamma="auto", kernel="rbf", random_state=0).fit(features, labels)


def _called_nonmember(attack: SVC, conf: np.ndarray) -> np.ndarray:
    return attack.predict(conf.reshape(-1, 1)) == 0


N_FOLDS = 5  # θ0's cross-fitted non-member calls on D_h (docs/definitions.md §6)


def heldout_labels(task: UnlearningTask) -> torch.Tensor:
    """Labels of D_h = D_h,sel then D_h,ref (every held-out sample, in that order)."""
    return torch.cat([task.heldout_selection.y, task.heldout_reference.y])


def heldout_logits(pred: Predictions) -> torch.Tensor:
    """A model's logits on D_h = D_h,sel then D_h,ref, from its :class:`Predictions`."""
    if pred.heldout_reference is None:
        raise ValueError("the oracle-free columns need the model's logits on D_h,ref too "
                         "(Predictions.heldout_reference; see metrics.PREDICTION_SPLITS)")
    return torch.cat([pred.heldout_selection, pred.heldout_reference])


def _kept_heldout(task: UnlearningTask) -> torch.Tensor:
    """D_h samples of the retained classes (all of them under random forgetting)."""
    y = heldout_labels(task)
    keep = torch.ones_like(y, dtype=torch.bool)
    for c in task.forgotten_classes:
        keep &= y != c
    return keep


def heldout_members(task: UnlearningTask) -> np.ndarray:
    """Positions in ``task.retain`` of M̃IA's fixed member subset: as many as D_h holds, seeded."""
    n = min(len(task.retain), len(task.heldout_selection) + len(task.heldout_reference))
    rng = np.random.default_rng([int(task.seed), 61])
    return np.sort(rng.choice(len(task.retain), size=n, replace=False))


def _sizes(task: UnlearningTask) -> dict[str, float]:
    keep = _kept_heldout(task)
    return {f"{PREFIX}n_forget": float(len(task.forget.y)), f"{PREFIX}n_heldout": float(int(keep.sum())),
            f"{PREFIX}n_retain": float(len(task.retain.y)),
            f"{PREFIX}n_test": float(int(task.test_nonforgotten_mask().sum()))}


def _member_confidence(pred: Predictions, task: UnlearningTask, members: np.ndarray) -> np.ndarray:
    index = torch.as_tensor(members, device=pred.retain.device)
    return _confidence(pred.retain[index], task.retain.y[index.to(task.retain.y.device)])


def sample_columns(pred: Predictions, task: UnlearningTask) -> dict[str, float]:
    """A model's per-sample columns from its logits ``pred`` (a :class:`Predictions`): its results on D_f
    and D_h and, under random forgetting, M̃IA's calls of D_f (members: a fixed subset of D_r the size
    of D_h; non-members: D_h)."""
    f_y, h_y = task.forget.y, heldout_labels(task)
    h_logits = heldout_logits(pred)
    keep = _kept_heldout(task)
    out = _sizes(task)
    forget_correct = (pred.forget.argmax(-1) == f_y).cpu().numpy()
    heldout_correct = (h_logits.argmax(-1) == h_y)[keep].cpu().numpy()
    columns = {**pack_bits("forget_correct", forget_correct), **pack_bits("heldout_correct", heldout_correct)}
    if not task.forgotten_classes:
        attack = _attack(_member_confidence(pred, task, heldout_members(task)), _confidence(h_logits, h_y))
        called = _called_nonmember(attack, _confidence(pred.forget, f_y))
        columns.update(pack_bits("forget_nonmember", called))
    out.update({k: float(v[0]) for k, v in columns.items()})
    return out


def cross_fitted_nonmember(member_conf: np.ndarray, heldout_conf: np.ndarray, *, seed: int,
                           n_folds: int = N_FOLDS) -> np.ndarray:
    """Which D_h samples θ0's attack calls non-member, each called by an attack that never saw it.

    D_h and the members are each cut into ``n_folds`` seeded folds; the samples of fold j are called by
    the §3 attack fitted on the members outside fold j vs the D_h samples outside fold j (members are
    folded too, so every attack sees members and non-members in the 1 : 1 ratio of the candidates'
    attack).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> calls = cross_fitted_nonmember(rng.uniform(0.9, 1.0, 200), rng.uniform(0.0, 1.0, 200), seed=0)
    >>> calls.shape, bool(calls.mean() > 0.5)
    ((200,), True)
    """
    rng = np.random.default_rng([int(seed), 67])
    heldout_fold = rng.permutation(len(heldout_conf)) % n_folds
    member_fold = rng.permutation(len(member_conf)) % n_folds
    called = np.zeros(len(heldout_conf), dtype=bool)
    for fold in range(n_folds):
        inside = heldout_fold == fold
        attack = _attack(member_conf[member_fold != fold], heldout_conf[~inside])
        called[inside] = _called_nonmember(attack, heldout_conf[inside])
    return called


def target_columns(pred0: Predictions, task: UnlearningTask, ra0: float) -> dict[str, float]:
    """What Retrain's predictive distribution is drawn from, from θ0's logits ``pred0``: θ0's results on
    D_h (retained classes), its cross-fitted M̃IA calls of D_h (random forgetting,
    :func:`cross_fitted_nonmember`), RA(θ0) = ``ra0``, and the sizes."""
    h_y, h_logits = heldout_labels(task), heldout_logits(pred0)
    keep = _kept_heldout(task)
    correct = (h_logits.argmax(-1) == h_y)[keep].cpu().numpy()
    columns = pack_bits("target.heldout_correct", correct)
    if not task.forgotten_classes:
        called = cross_fitted_nonmember(_member_confidence(pred0, task, heldout_members(task)),
                                        _confidence(h_logits, h_y), seed=int(task.seed))
        columns.update(pack_bits("target.heldout_nonmember", called))
    out = {k: float(v[0]) for k, v in columns.items()}
    out[f"{PREFIX}target.RA"] = float(ra0)
    out.update(_sizes(task))
    return out
