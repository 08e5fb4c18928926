"""The oracle-free rule (docs/definitions.md §6): predict Retrain from unseen data, and say how sure.

Every candidate θ gets an oracle-free metric vector from D_f, D_r and D_h = D_h,sel ∪ D_h,ref: UA and
M̃IA exactly on D_f (never resampled, as in the true gap), RA on D_r, and T̃A = acc_θ(D_h) − acc_θ0(D_h)
on a paired resample of D_h. It is compared with a Retrain drawn anew in every replicate b (B = 400):
θ0's unseen error e from its Jeffreys posterior on D_h, Retrain's e_R = min(1, e (1 − r)^(−a)) with the
learning-curve allowance a ~ U(0, 1) (class-wise a = 0), then binomial measurements of UA on n_f and of
TA on n_test (a size), and M̃IA the same way from θ0's cross-fitted non-member calls on D_h. The
predicted gap g̃(θ) is the replicate mean of mean_k |candidate_k − Retrain_k,b| (an expected gap); the
band is the one-standard-error set around the lowest g̃ (the SD of the paired replicate differences), the
pick its least-change point (lowest retain_ce, ties highest forget_kl), θ0 when θ0 is in the band; the
pick's 5th–95th percentile of replicate gaps is a prediction interval for its true Avg. Gap. Nothing here
reads Retrain's metrics or test data: only the ``ofs.*`` columns (:mod:`pareto_unlearn.metrics._samples`),
RA, the objectives and which point is θ0.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.front import Front
from pareto_unlearn.metrics._samples import PREFIX, unpack_bits
from pareto_unlearn.selection._feasible import _feasible_rows

__all__ = ["OracleFree", "OracleFreeData", "GapEstimate", "OracleFreePick", "estimate_gaps",
           "retrain_draws", "INDISTINGUISHABLE", "N_BOOT"]

logger = logging.getLogger(__name__)

INDISTINGUISHABLE = "D_f is already indistinguishable from unseen data at this sample size"
KINDS = ("random", "class")
N_BOOT = 400
_UNSCORED = ("OracleFree: this front has no per-sample oracle-free results on all of D_h (ofs.n_heldout "
             "and the ofs.* columns); evaluate its points with MetricEvaluator (runs made before the "
             "oracle-free estimate used all of D_h must be run again)")
_SIZES = ("n_forget", "n_heldout", "n_retain", "n_test")


@dataclass(frozen=True)
class OracleFreeData:
    """Per-sample results of n candidates and of θ0, the whole input of :func:`estimate_gaps`.

    Attributes
    ----------
    kind : {"random", "class"}
    forget_correct : bool array [n, n_f]
        Forget sample correctly classified by the candidate.
    heldout_correct : bool array [n, n_h]
        D_h sample (D_h,sel ∪ D_h,ref, retained classes) correctly classified by the candidate.
    RA : float array [n]
        Retain accuracy of the candidate (percent).
    target_heldout_correct : bool array [n_h]
        D_h sample correctly classified by θ0.
    target_RA : float
        RA(θ0), Retrain's RA in the oracle-free vector.
    n_retain, n_test : int
        |D_r| (with n_f it gives r = n_f / (n_f + n_r)) and the size of the test split (retained classes):
        Retrain's TA is a measurement on that many samples. A size, not test data.
    forget_nonmember, target_heldout_nonmember : bool arrays [n, n_f] and [n_h], random forgetting only
        Forget sample called non-member by the candidate's M̃IA attack; D_h sample called non-member by
        θ0's 5-fold cross-fitted attack.
    """

    kind: str
    forget_correct: np.ndarray
    heldout_correct: np.ndarray
    RA: np.ndarray
    target_heldout_correct: np.ndarray
    target_RA: float
    n_retain: int
    n_test: int
    forget_nonmember: np.ndarray | None = None
    target_heldout_nonmember: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"OracleFreeData: `kind` must be 'random' or 'class'. Got {self.kind!r}.")
        fc, hc = np.atleast_2d(self.forget_correct), np.atleast_2d(self.heldout_correct)
        n = len(fc)
        shapes_ok = (len(hc) == n and np.shape(self.RA) == (n,) and fc.shape[1] > 0 and hc.shape[1] > 0
                     and np.shape(self.target_heldout_correct) == (hc.shape[1],))
        if self.kind == "random":
            shapes_ok &= (self.forget_nonmember is not None and self.target_heldout_nonmember is not None
                          and np.shape(self.forget_nonmember) == fc.shape
                          and np.shape(self.target_heldout_nonmember) == (hc.shape[1],))
        if not shapes_ok or n == 0:
            raise ConfigError(
                f"OracleFreeData: inconsistent shapes (forget {fc.shape}, D_h {hc.shape}, RA "
                f"{np.shape(self.RA)}, θ0 {np.shape(self.target_heldout_correct)}); every candidate needs "
                "its per-sample results on the same D_f and D_h"
                + ("; random forgetting also needs the M̃IA calls" if self.kind == "random" else ""))
        if not (int(self.n_retain) >= 0 and int(self.n_test) >= 1):
            raise ConfigError(f"OracleFreeData: `n_retain` must be >= 0 and `n_test` >= 1. Got "
                              f"{self.n_retain!r} and {self.n_test!r}.")

    @property
    def forget_ratio(self) -> float:
        """r = |D_f| / (|D_f| + |D_r|): the share of its training data Retrain lacks."""
        n_f = self.forget_correct.shape[-1]
        return n_f / (n_f + int(self.n_retain))

    @classmethod
    def from_front(cls, front: Front, kind: str) -> OracleFreeData:
        """Unpack the ``ofs.*`` columns of every point of ``front`` (ConfigError when they are missing)."""
        metrics = front.metrics
        if any(f"{PREFIX}{k}" not in metrics for k in _SIZES) or f"{PREFIX}target.RA" not in metrics:
            raise ConfigError(_UNSCORED)
        sizes = {}
        for k in _SIZES:
            values = {int(v) for v in metrics[f"{PREFIX}{k}"]}
            if len(values) != 1:
                raise ConfigError(f"OracleFree: the points were evaluated on different data ({k} differs)")
            sizes[k] = values.pop()
        n_f, n_h = sizes["n_forget"], sizes["n_heldout"]
        try:
            data = {
                "forget_correct": unpack_bits(metrics, "forget_correct", n_f),
                "heldout_correct": unpack_bits(metrics, "heldout_correct", n_h),
                "target_heldout_correct": unpack_bits(metrics, "target.heldout_correct", n_h)[0],
            }
            if kind == "random":
                data["forget_nonmember"] = unpack_bits(metrics, "forget_nonmember", n_f)
                data["target_heldout_nonmember"] = unpack_bits(metrics, "target.heldout_nonmember", n_h)[0]
        except KeyError as exc:
            raise ConfigError(f"OracleFree(kind={kind!r}): this front lacks the column {exc.args[0]!r}; "
                              "was it made under the other kind of forgetting?") from None
        return cls(kind=kind, RA=np.asarray(metrics["RA"], dtype=float),
                   target_RA=float(metrics[f"{PREFIX}target.RA"][0]), n_retain=sizes["n_retain"],
                   n_test=sizes["n_test"], **data)


def _jeffreys(rng: np.random.Generator, hits: int, n: int, size: int) -> np.ndarray:
    """``size`` draws of a rate from its Jeffreys posterior after ``hits`` of ``n``: Beta(k + ½, n − k + ½)
    with k = ``hits``."""
    return rng.beta(hits + 0.5, n - hits + 0.5, size=size)


def retrain_draws(data: OracleFreeData, rng: np.random.Generator, n_boot: int) -> dict[str, np.ndarray]:
    """Retrain's oracle-free vector drawn ``n_boot`` times (docs/definitions.md §6), shared by every
    candidate: ``UA``, ``RA``, ``TA`` (Retrain's TA minus θ0's unseen accuracy 100 (1 − e), the same
    scale as a candidate's T̃A) and, random forgetting, ``MIA``; plus the draws behind them: ``e``
    (θ0's unseen error), ``a`` (the learning-curve exponent), ``e_R`` (Retrain's error), ``m_R``.

    Examples
    --------
    >>> import numpy as np
    >>> data = OracleFreeData("class", np.zeros((1, 50), bool), np.ones((1, 200), bool), np.array([99.0]),
    ...                       np.r_[np.zeros(10, bool), np.ones(190, bool)], 100.0, n_retain=900,
    ...                       n_test=300)
    >>> draws = retrain_draws(data, np.random.default_rng(0), 4000)
    >>> float(draws["UA"].min()), bool(abs(draws["e"].mean() - 10.5 / 201) < 0.003)
    (100.0, True)
    """
    n_f, n_h = data.forget_correct.shape[-1], data.heldout_correct.shape[-1]
    e = _jeffreys(rng, int(n_h - np.count_nonzero(data.target_heldout_correct)), n_h, n_boot)
    a = rng.uniform(0.0, 1.0, size=n_boot) if data.kind == "random" else np.zeros(n_boot)
    factor = (1.0 - data.forget_ratio) ** (-a)  # Retrain learns from less data: it errs more
    e_R = np.minimum(1.0, e * factor)
    n_test = int(data.n_test)
    out = {"e": e, "a": a, "e_R": e_R,
           "UA": (100.0 * rng.binomial(n_f, e_R) / n_f if data.kind == "random" else np.full(n_boot, 100.0)),
           "RA": np.full(n_boot, float(data.target_RA)),
           "TA": 100.0 * (1.0 - rng.binomial(n_test, e_R) / n_test) - 100.0 * (1.0 - e)}
    if data.kind == "random":
        assert data.target_heldout_nonmember is not None  # __post_init__
        m = _jeffreys(rng, int(np.count_nonzero(data.target_heldout_nonmember)), n_h, n_boot)
        out["m_R"] = np.minimum(1.0, m * factor)
        out["MIA"] = 100.0 * rng.binomial(n_f, out["m_R"]) / n_f
    return out


def _resample_counts(rng: np.random.Generator, n_boot: int, size: int) -> np.ndarray:
    """[B, size] multiplicities of each sample in B resamples with replacement (row sums = size)."""
    draws = rng.integers(0, size, size=(n_boot, size))
    flat = (draws + size * np.arange(n_boot)[:, None]).ravel()
    return np.bincount(flat, minlength=n_boot * size).reshape(n_boot, size).astype(np.float64)


def _rate(bits: np.ndarray) -> np.ndarray:
    """100 × the share of ones along the last axis."""
    return 100.0 * np.asarray(bits, dtype=np.float64).mean(axis=-1)


def candidate_values(data: OracleFreeData, heldout_weights: np.ndarray) -> dict[str, np.ndarray]:
    """Each candidate's oracle-free vector on the D_h resamples ``heldout_weights`` [B, n_h] (rows sum to
    n_h), as [B, n] arrays: UA, RA and M̃IA exact (D_f and D_r are never resampled: the same value on
    every replicate), T̃A = acc_θ − acc_θ0 on the replicate's resample of D_h (paired)."""
    n_boot, n_h = heldout_weights.shape
    held = np.asarray(data.heldout_correct, dtype=np.float64)
    target = np.asarray(data.target_heldout_correct, dtype=np.float64)
    ta = 100.0 * (heldout_weights @ (held - target).T) / n_h
    shape = ta.shape
    out = {"UA": np.broadcast_to(100.0 - _rate(data.forget_correct), shape),
           "RA": np.broadcast_to(np.asarray(data.RA, dtype=np.float64), shape), "TA": ta}
    if data.kind == "random":
        assert data.forget_nonmember is not None  # __post_init__
        out["MIA"] = np.broadcast_to(_rate(data.forget_nonmember), shape)
    return out


@dataclass(frozen=True)
class GapEstimate:
    """What :func:`estimate_gaps` returns for n candidates and B replicates.

    Attributes
    ----------
    gap : [n]  predicted gap g̃: the replicate mean of each candidate's gap to the drawn Retrain
    replicates : [B, n]  each candidate's gap to replicate b's Retrain (paired: one Retrain and one D_h
        resample per replicate for every candidate)
    best : int  position of the lowest g̃ (ties: the first)
    se_to_best : [n]  replicate standard deviation of gap_b(θ) − gap_b(best)
    in_band : bool [n]  g̃(θ) − g̃(best) <= se_to_best(θ)
    low, high : [n]  the ``level`` prediction interval (replicate percentiles) of each candidate's gap
    terms : dict of str → [n]  expected |candidate − Retrain| per term (UA, RA, TA, MIA)
    term_low, term_high : dict of str → [n]  the ``level`` interval of each term's |candidate − Retrain|
    candidate : dict of str → [B, n]  the candidates' oracle-free vectors per replicate
    retrain : dict of str → [B]  Retrain's drawn vectors (and the draws behind them)
    """

    gap: np.ndarray
    replicates: np.ndarray
    best: int
    se_to_best: np.ndarray
    in_band: np.ndarray
    low: np.ndarray
    high: np.ndarray
    terms: dict[str, np.ndarray]
    term_low: dict[str, np.ndarray] = field(default_factory=dict)
    term_high: dict[str, np.ndarray] = field(default_factory=dict)
    candidate: dict[str, np.ndarray] = field(default_factory=dict)
    retrain: dict[str, np.ndarray] = field(default_factory=dict)


def _check_settings(n_boot: Any, level: Any) -> None:
    if not (isinstance(n_boot, (int, np.integer)) and not isinstance(n_boot, bool) and n_boot >= 2):
        raise ConfigError(f"OracleFree: `n_boot` must be an integer >= 2, e.g. {N_BOOT}. Got {n_boot!r}.")
    if not (isinstance(level, (float, np.floating)) and 0.0 < float(level) < 1.0):
        raise ConfigError(f"OracleFree: `level` must be a float in (0, 1), e.g. 0.9. Got {level!r}.")


def estimate_gaps(data: OracleFreeData, *, n_boot: int = N_BOOT, seed: int = 0,
                  level: float = 0.9) -> GapEstimate:
    """Predicted gaps to a drawn Retrain, their prediction intervals and the one-standard-error band
    (docs/definitions.md §6).

    Parameters
    ----------
    data : OracleFreeData
    n_boot : int, default 400
        B, the number of replicates; each draws one Retrain and one resample of D_h, shared by every
        candidate (drawn from ``seed``, the sizes and θ0's results only: the same seed gives the same band).
    seed : int, default 0
    level : float, default 0.9
        Coverage of the prediction intervals (``low``, ``high``).

    Examples
    --------
    Class-wise forgetting (Retrain's UA is 100): the candidate that fails on D_f and keeps RA wins.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> held0 = rng.random(280) < 0.95                    # θ0: 95 % on unseen data
    >>> forget = np.stack([rng.random(300) < p for p in (1.0, 0.0, 0.2)])
    >>> data = OracleFreeData("class", forget, np.stack([held0] * 3), np.array([100.0, 99.5, 99.0]),
    ...                       held0, 100.0, n_retain=1000, n_test=300)
    >>> est = estimate_gaps(data)
    >>> est.best, est.in_band.tolist()
    (1, [False, True, False])
    >>> bool(np.ptp(est.candidate["UA"][:, 1]) == 0)     # D_f is never resampled
    True
    """
    _check_settings(n_boot, level)
    n_boot = int(n_boot)
    rng = np.random.default_rng(seed)
    weights = _resample_counts(rng, n_boot, data.heldout_correct.shape[-1])
    retrain = retrain_draws(data, rng, n_boot)
    candidate = candidate_values(data, weights)
    term_reps = {k: np.abs(v - retrain[k][:, None]) for k, v in candidate.items()}  # each [B, n]
    replicates = np.mean(list(term_reps.values()), axis=0)
    gap = replicates.mean(axis=0)
    best = int(np.argmin(gap))
    se = (replicates - replicates[:, [best]]).std(axis=0, ddof=1)
    in_band = gap - gap[best] <= se + 1e-9
    tail = 100.0 * (1.0 - float(level)) / 2.0
    low, high = np.percentile(replicates, [tail, 100.0 - tail], axis=0)
    bounds = {k: np.percentile(v, [tail, 100.0 - tail], axis=0) for k, v in term_reps.items()}
    return GapEstimate(gap=gap, replicates=replicates, best=best, se_to_best=se, in_band=in_band, low=low,
                       high=high, terms={k: v.mean(axis=0) for k, v in term_reps.items()},
                       term_low={k: v[0] for k, v in bounds.items()},
                       term_high={k: v[1] for k, v in bounds.items()}, candidate=candidate, retrain=retrain)


def _term_report(est: GapEstimate, i: int, level: float) -> dict[str, dict[str, float]]:
    """Per term, for candidate ``i``: its value, Retrain's predicted mean and ``level`` interval, and the
    expected |difference| with its interval (TA on the scale 'minus θ0's unseen accuracy')."""
    tail = 100.0 * (1.0 - level) / 2.0
    out = {}
    for k, gap in est.terms.items():
        r_low, r_high = np.percentile(est.retrain[k], [tail, 100.0 - tail])
        out[k] = {"candidate": float(est.candidate[k][:, i].mean()), "retrain": float(est.retrain[k].mean()),
                  "retrain_low": float(r_low), "retrain_high": float(r_high), "gap": float(gap[i]),
                  "low": float(est.term_low[k][i]), "high": float(est.term_high[k][i])}
    return out


@dataclass(frozen=True)
class OracleFreePick:
    """The oracle-free choice and how sure it is.

    ``index`` is into the front the rule was called on; ``gap`` is g̃ of the pick (its expected Avg. Gap
    to a Retrain drawn from unseen data) and (``low``, ``high``) its ``level`` prediction interval (meant to
    hold the true Avg. Gap to the run's one Retrain); ``band_size`` counts the candidates in the
    one-standard-error band, of ``n_candidates``; ``theta0_in_band`` says whether θ0 was in it (then θ0
    is the pick); ``terms`` gives, per metric, the pick's oracle-free value, Retrain's predicted value
    (mean and interval), and the expected |difference| with its interval (TA as the difference to θ0's
    unseen accuracy); ``n_boot`` is B.
    """

    index: int
    gap: float
    low: float
    high: float
    level: float
    band_size: int
    n_candidates: int
    theta0_in_band: bool
    best_index: int
    best_gap: float
    terms: dict[str, dict[str, float]] = field(default_factory=dict)
    n_boot: int = N_BOOT

    @property
    def message(self) -> str:
        """One line for the user: θ0's verdict, or the band around the lowest predicted gap."""
        if self.theta0_in_band:
            return f"θ0 is in the band: {INDISTINGUISHABLE}; no unlearning step is needed"
        return (f"band of {self.band_size} of {self.n_candidates} candidates within one replicate standard "
                f"deviation of the lowest predicted gap ({self.best_gap:.2f}); the pick is its least-change "
                "point")

    def to_dict(self) -> dict[str, Any]:
        """Every field and the message (JSON-ready)."""
        return {**asdict(self), "message": self.message}


def _theta0_rows(front: Front) -> np.ndarray:
    return np.array([s == "Original" or r.get("kind") == "original"
                     for s, r in zip(front.solver, front.rebuild, strict=True)], dtype=bool)


class OracleFree:
    """The oracle-free operating point (docs/definitions.md §6): no test data, no Retrain, only D_f, D_r,
    D_h = D_h,sel ∪ D_h,ref and the test split's size.

    The candidates are the feasible points of the front with per-sample results (θ0 is one of them when
    the front holds it: ``select`` and ``compare`` always add it). Call it for the index; :meth:`choose`
    also says how sure it is; :meth:`explain` lists every candidate.

    Parameters
    ----------
    kind : {"random", "class"}
        Random forgetting (4 terms: UA, RA, T̃A, M̃IA; Retrain's error drawn from θ0's error on D_h with
        the learning-curve allowance) or class-wise (3 terms; Retrain's UA is 100, no allowance).
    n_boot : int, default 400
        B, the number of replicates (each draws one Retrain and one resample of D_h).
    seed : int, default 0
        Of the replicates (the same seed gives the same band).
    level : float, default 0.9
        Coverage of the reported prediction interval.

    Raises
    ------
    ConfigError
        At construction for a bad setting; at call time when the front is empty or all infeasible, lacks
        the per-sample columns, or lacks a ``retain_ce`` objective.

    Examples
    --------
    >>> import numpy as np
    >>> from pareto_unlearn.front import Front
    >>> from pareto_unlearn.metrics import pack_bits
    >>> rng = np.random.default_rng(0)
    >>> held0 = rng.random(280) < 0.95
    >>> forget = np.stack([np.ones(150, bool), np.zeros(150, bool), rng.random(150) < 0.2])
    >>> columns = {"ofs.n_forget": [150] * 3, "ofs.n_heldout": [280] * 3, "ofs.n_retain": [1000] * 3,
    ...            "ofs.n_test": [300] * 3, "ofs.target.RA": [100.0] * 3, "RA": [100.0, 99.5, 99.0],
    ...            **pack_bits("forget_correct", forget), **pack_bits("heldout_correct", [held0] * 3),
    ...            **pack_bits("target.heldout_correct", [held0] * 3)}
    >>> front = Front.from_points(np.array([[2.3, 0.01], [0.1, 0.30], [0.4, 0.20]]), metrics=columns)
    >>> OracleFree("class")(front)
    1
    >>> table = OracleFree("class").explain(front)
    >>> int(table["index"][0]), bool(table["chosen"][0]), table["in_band"].tolist()
    (1, True, [True, False, False])
    """

    def __init__(self, kind: str, *, n_boot: int = N_BOOT, seed: int = 0, level: float = 0.9) -> None:
        if kind not in KINDS:
            raise ConfigError(f"OracleFree: `kind` must be 'random' or 'class'. Got {kind!r}.")
        _check_settings(n_boot, level)
        self.kind, self.n_boot, self.seed, self.level = kind, int(n_boot), int(seed), float(level)

    @classmethod
    def for_task(cls, task: Any, **kwargs: Any) -> OracleFree:
        """The rule that fits ``task``: its forget kind (``task.forget_spec.kind``)."""
        return cls(task.forget_spec.kind, **kwargs)

    @classmethod
    def for_summary(cls, summary: dict[str, Any], **kwargs: Any) -> OracleFree:
        """The rule that fits a run, from its ``summary.json`` (``task.forget``)."""
        forget = str(summary.get("task", {}).get("forget", ""))
        return cls("class" if forget.startswith("class") else "random", **kwargs)

    def _candidates(self, front: Front) -> np.ndarray:
        rows = _feasible_rows(front, "OracleFree")
        if "retain_ce" not in front.objective_names:
            raise ConfigError(f"OracleFree: the pick is the lowest 'retain_ce' objective in the band; this "
                              f"front's objectives are {list(front.objective_names)}")
        if f"{PREFIX}n_heldout" not in front.metrics or "RA" not in front.metrics:
            raise ConfigError(_UNSCORED)
        scored = np.isfinite(front.metrics[f"{PREFIX}n_heldout"]) & np.isfinite(front.metrics["RA"])
        rows = rows[scored[rows]]
        if len(rows) == 0:
            raise ConfigError("OracleFree: no feasible point has per-sample oracle-free results")
        return rows

    def _estimate(self, front: Front) -> tuple[np.ndarray, GapEstimate, int]:
        rows = self._candidates(front)
        estimate = estimate_gaps(OracleFreeData.from_front(front.take(rows), self.kind), n_boot=self.n_boot,
                                 seed=self.seed, level=self.level)
        band = np.flatnonzero(estimate.in_band)
        theta0 = band[_theta0_rows(front)[rows[band]]]
        if len(theta0):
            chosen = int(theta0[0])
        else:
            names = front.objective_names
            retain_ce = front.F[rows[band], names.index("retain_ce")]
            forget_kl = (front.F[rows[band], names.index("forget_kl")] if "forget_kl" in names
                         else np.zeros_like(retain_ce))
            chosen = int(band[np.lexsort((band, -forget_kl, retain_ce))[0]])
        return rows, estimate, chosen

    def choose(self, front: Front, /) -> OracleFreePick:
        """The pick (an index into ``front``) with its predicted gap, interval, band size and θ0 verdict."""
        rows, est, chosen = self._estimate(front)
        in_band = est.in_band
        pick = OracleFreePick(
            index=int(rows[chosen]), gap=float(est.gap[chosen]), low=float(est.low[chosen]),
            high=float(est.high[chosen]), level=self.level, band_size=int(in_band.sum()),
            n_candidates=len(rows), theta0_in_band=bool(_theta0_rows(front)[rows[in_band]].any()),
            best_index=int(rows[est.best]), best_gap=float(est.gap[est.best]),
            terms=_term_report(est, chosen, self.level), n_boot=self.n_boot)
        logger.info("oracle-free: %s (g̃ %.2f, %g %% interval %.2f–%.2f)", pick.message, pick.gap,
                    100 * self.level, pick.low, pick.high)
        return pick

    def __call__(self, front: Front, /) -> int:
        return self.choose(front).index

    def explain(self, front: Front, /) -> pd.DataFrame:
        """Every candidate, sorted by predicted gap: ``index`` (into ``front``), ``solver``, ``theta0``,
        ``predicted_gap`` (g̃), ``low`` / ``high`` (the prediction interval), ``se_to_best``, ``in_band``,
        ``chosen``, the expected terms ``UA_term`` … and the objectives."""
        rows, est, chosen = self._estimate(front)
        frame = pd.DataFrame({
            "index": rows, "solver": front.solver[rows].astype(str), "theta0": _theta0_rows(front)[rows],
            "predicted_gap": est.gap, "low": est.low, "high": est.high, "se_to_best": est.se_to_best,
            "in_band": est.in_band, "chosen": np.arange(len(rows)) == chosen,
            **{f"{k}_term": v for k, v in est.terms.items()},
            **{name: front.F[rows, j] for j, name in enumerate(front.objective_names)},
        })
        return frame.sort_values(["predicted_gap", "index"], kind="stable").reset_index(drop=True)

    def __repr__(self) -> str:
        return f"OracleFree(kind={self.kind!r}, n_boot={self.n_boot}, seed={self.seed}, level={self.level})"
