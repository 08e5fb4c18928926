"""Per-sample results of the oracle-free estimate, carried as metric columns of a Front
(docs/definitions.md §6).

The oracle-free rule resamples D_f and D_h,sel, so it needs each candidate's per-sample 0/1 results, not
its accuracies: forget sample correct, forget sample called non-member by the M̃IA attack, D_h,sel sample
correct. They are computed once per evaluated model (the attack fitted once) and packed, 52 bits to a
float64 metric column, so they travel with every point through concatenation, subsets, checkpoints,
Dask workers and ``Front.save`` / ``Front.load`` like any other metric. Retrain's oracle-free target,
estimated from θ0 on D_h,sel, is packed the same way on every row (a few columns): a rule given any
subset of a front has what it needs, and nothing in these columns comes from Retrain or the test set.

Columns (``PREFIX`` = ``"ofs."``): ``ofs.n_forget``, ``ofs.n_sel`` (sizes), ``ofs.forget_correct.K``,
``ofs.forget_nonmember.K`` (random forgetting only), ``ofs.sel_correct.K`` (D_h,sel, retained classes),
``ofs.target.sel_correct.K`` and ``ofs.target.sel_nonmember.K`` (θ0, cross-fitted), ``ofs.target.RA``.

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

import numpy as np
import torch
from sklearn.svm import SVC

__all__ = ["PREFIX", "BITS_PER_COLUMN", "pack_bits", "unpack_bits", "is_sample_column", "sample_columns",
           "target_columns", "selection_members"]

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


def _kept_selection(task) -> torch.Tensor:
    """D_h,sel samples of the retained classes (all of them under random forgetting)."""
    y = task.heldout_selection.y
    keep = torch.ones_like(y, dtype=torch.bool)
    for c in task.forgotten_classes:
        keep &= y != c
    return keep


def selection_members(task) -> np.ndarray:
    """Positions in ``task.retain`` of M̃IA's fixed member subset: as many as D_h,sel holds, seeded."""
    n = min(len(task.retain), len(task.heldout_selection))
    rng = np.random.default_rng([int(task.seed), 61])
    return np.sort(rng.choice(len(task.retain), size=n, replace=False))


def sample_columns(pred, task) -> dict[str, float]:
    """A model's per-sample columns from its logits ``pred`` (a :class:`Predictions`)."""
    f_y, s_y = task.forget.y, task.heldout_selection.y
    keep = _kept_selection(task)
    out: dict[str, float] = {f"{PREFIX}n_forget": float(len(f_y)), f"{PREFIX}n_sel": float(int(keep.sum()))}
    forget_correct = (pred.forget.argmax(-1) == f_y).cpu().numpy()
    sel_correct = (pred.heldout_selection.argmax(-1) == s_y)[keep].cpu().numpy()
    columns = {**pack_bits("forget_correct", forget_correct), **pack_bits("sel_correct", sel_correct)}
    if not task.forgotten_classes:
        members = torch.as_tensor(selection_members(task), device=pred.retain.device)
        r_y = task.retain.y
        attack = _attack(_confidence(pred.retain[members], r_y[members]),
                         _confidence(pred.heldout_selection, s_y))
        nonmember = _called_nonmember(attack, _confidence(pred.forget, f_y))
        columns.update(pack_bits("forget_nonmember", nonmember))
    out.update({k: float(v[0]) for k, v in columns.items()})
    return out


def target_columns(pred0, task, ra0: float) -> dict[str, float]:
    """Retrain's oracle-free target from θ0's logits ``pred0``: D_h,sel correctness (retained classes),
    the cross-fitted M̃IA calls of D_h,sel (random forgetting), and RA(θ0) = ``ra0``.

    Cross-fitting: D_h,sel and the member subset are each cut in two seeded halves; the attack fitted on
    members A vs D_h,sel half A calls the samples of half B, and the other way round, so no D_h,sel
    sample is scored by an attack that saw it.
    """
    s_y = task.heldout_selection.y
    keep = _kept_selection(task)
    correct = (pred0.heldout_selection.argmax(-1) == s_y)[keep].cpu().numpy()
    columns = pack_bits("target.sel_correct", correct)
    if not task.forgotten_classes:
        members = selection_members(task)
        r_y = task.retain.y
        member_conf = _confidence(pred0.retain[torch.as_tensor(members, device=pred0.retain.device)],
                                  r_y[torch.as_tensor(members, device=r_y.device)])
        sel_conf = _confidence(pred0.heldout_selection, s_y)
        rng = np.random.default_rng([int(task.seed), 67])
        sel_half = rng.permutation(len(sel_conf)) < len(sel_conf) // 2
        member_half = rng.permutation(len(member_conf)) < len(member_conf) // 2
        called = np.zeros(len(sel_conf), dtype=bool)
        for side in (True, False):
            attack = _attack(member_conf[member_half == side], sel_conf[sel_half == side])
            called[sel_half != side] = _called_nonmember(attack, sel_conf[sel_half != side])
        columns.update(pack_bits("target.sel_nonmember", called))
    out = {k: float(v[0]) for k, v in columns.items()}
    out[f"{PREFIX}target.RA"] = float(ra0)
    return out
