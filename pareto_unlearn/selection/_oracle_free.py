"""The oracle-free rule (docs/definitions.md §6): estimate Retrain from unseen data, respect the noise,
say how sure.

Every candidate θ gets an oracle-free metric vector (UA, RA, T̃A, M̃IA) from D_f, D_r and D_h,sel, and is
compared with Retrain's oracle-free target estimated from θ0 on D_h,sel; the predicted gap g̃(θ) is the
mean of the absolute differences. A paired bootstrap (every replicate resamples D_f and D_h,sel once and
re-scores every candidate and the target on it, by index arithmetic over per-sample 0/1 results) gives
g̃'s noise; the band is the one-standard-error set around the lowest g̃, the pick its least-change point
(lowest retain_ce, ties highest forget_kl), θ0 when θ0 is in the band. Nothing here reads Retrain's
metrics or the test set: only the ``ofs.*`` columns (:mod:`pareto_unlearn.metrics._samples`), RA, the
objectives and which point is θ0.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.front import Front
from pareto_unlearn.metrics._samples import PREFIX, unpack_bits
from pareto_unlearn.selection._feasible import _feasible_rows

__all__ = ["OracleFree", "OracleFreeData", "GapEstimate", "OracleFreePick", "estimate_gaps",
           "INDISTINGUISHABLE"]

logger = logging.getLogger(__name__)

INDISTINGUISHABLE = "D_f is already indistinguishable from unseen data at this sample size"
KINDS = ("random", "class")
_UNSCORED = ("OracleFree: this front has no per-sample oracle-free results (ofs.* columns); evaluate its "
             "points with MetricEvaluator (runs made before the oracle-free estimate must be run again)")


@dataclass(frozen=True)
class OracleFreeData:
    """Per-sample results of n candidates and of the target, the whole input of :func:`estimate_gaps`.

    Attributes
    ----------
    kind : {"random", "class"}
    forget_correct : bool array [n, n_f]
        Forget sample correctly classified by the candidate.
    sel_correct : bool array [n, n_s]
        D_h,sel sample (retained classes) correctly classified by the candidate.
    RA : float array [n]
        Retain accuracy of the candidate (percent; D_r is not resampled).
    target_sel_correct : bool array [n_s]
        D_h,sel sample correctly classified by θ0.
    target_RA : float
        RA(θ0).
    forget_nonmember, target_sel_nonmember : bool arrays [n, n_f] and [n_s], random forgetting only
        Forget sample called non-member by the candidate's M̃IA attack; D_h,sel sample called non-member
        by θ0's cross-fitted attack.
    """

    kind: str
    forget_correct: np.ndarray
    sel_correct: np.ndarray
    RA: np.ndarray
    target_sel_correct: np.ndarray
    target_RA: float
    forget_nonmember: np.ndarray | None = None
    target_sel_nonmember: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"OracleFreeData: `kind` must be 'random' or 'class'. Got {self.kind!r}.")
        fc, sc = np.atleast_2d(self.forget_correct), np.atleast_2d(self.sel_correct)
        n = len(fc)
        shapes_ok = (len(sc) == n and np.shape(self.RA) == (n,) and fc.shape[1] > 0 and sc.shape[1] > 0
                     and np.shape(self.target_sel_correct) == (sc.shape[1],))
        if self.kind == "random":
            shapes_ok &= (self.forget_nonmember is not None and self.target_sel_nonmember is not None
                          and np.shape(self.forget_nonmember) == fc.shape
                          and np.shape(self.target_sel_nonmember) == (sc.shape[1],))
        if not shapes_ok or n == 0:
            raise ConfigError(
                f"OracleFreeData: inconsistent shapes (forget {fc.shape}, sel {sc.shape}, RA "
                f"{np.shape(self.RA)}, target {np.shape(self.target_sel_correct)}); every candidate needs "
                "its per-sample results on the same D_f and D_h,sel"
                + ("; random forgetting also needs the M̃IA calls" if self.kind == "random" else ""))

    @classmethod
    def from_front(cls, front: Front, kind: str) -> OracleFreeData:
        """Unpack the ``ofs.*`` columns of every point of ``front`` (ConfigError when they are missing)."""
        metrics = front.metrics
        if f"{PREFIX}n_forget" not in metrics or f"{PREFIX}target.RA" not in metrics:
            raise ConfigError(_UNSCORED)
        sizes = {int(v) for v in metrics[f"{PREFIX}n_forget"]}, {int(v) for v in metrics[f"{PREFIX}n_sel"]}
        if len(sizes[0]) != 1 or len(sizes[1]) != 1:
            raise ConfigError("OracleFree: the points were evaluated on different forget or selection sets")
        n_f, n_s = sizes[0].pop(), sizes[1].pop()
        try:
            data = {
                "forget_correct": unpack_bits(metrics, "forget_correct", n_f),
                "sel_correct": unpack_bits(metrics, "sel_correct", n_s),
                "target_sel_correct": unpack_bits(metrics, "target.sel_correct", n_s)[0],
            }
            if kind == "random":
                data["forget_nonmember"] = unpack_bits(metrics, "forget_nonmember", n_f)
                data["target_sel_nonmember"] = unpack_bits(metrics, "target.sel_nonmember", n_s)[0]
        except KeyError as exc:
            raise ConfigError(f"OracleFree(kind={kind!r}): this front lacks the column {exc.args[0]!r}; "
                              "was it made under the other kind of forgetting?") from None
        return cls(kind=kind, RA=np.asarray(metrics["RA"], dtype=float),
                   target_RA=float(metrics[f"{PREFIX}target.RA"][0]), **data)


@dataclass(frozen=True)
class GapEstimate:
    """What :func:`estimate_gaps` returns for n candidates and B replicates.

    Attributes
    ----------
    gap : [n]  predicted gap g̃ on the full samples
    replicates : [B, n]  g̃ on each bootstrap replicate (paired: same resamples for every candidate)
    best : int  position of the lowest g̃ (ties: the first)
    se_to_best : [n]  bootstrap standard error of g̃(θ) − g̃(best)
    in_band : bool [n]  g̃(θ) − g̃(best) <= se_to_best(θ)
    low, high : [n]  the bootstrap ``level`` interval (percentiles) of each candidate's g̃
    terms : dict of str → [n]  |candidate − target| per term (UA, RA, TA, MIA) on the full samples
    """

    gap: np.ndarray
    replicates: np.ndarray
    best: int
    se_to_best: np.ndarray
    in_band: np.ndarray
    low: np.ndarray
    high: np.ndarray
    terms: dict[str, np.ndarray]


def _resample_counts(rng: np.random.Generator, n_boot: int, size: int) -> np.ndarray:
    """[B, size] multiplicities of each sample in B resamples with replacement (row sums = size)."""
    draws = rng.integers(0, size, size=(n_boot, size))
    flat = (draws + size * np.arange(n_boot)[:, None]).ravel()
    return np.bincount(flat, minlength=n_boot * size).reshape(n_boot, size).astype(np.float64)


def _rates(weights: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """100 × weighted mean of 0/1 results: weights [k, s] (rows sum to s), bits [n, s] or [s] → [k, n]/[k]."""
    return 100.0 * (weights @ np.asarray(bits, dtype=np.float64).T) / weights.shape[1]


def _terms(data: OracleFreeData, w_f: np.ndarray, w_s: np.ndarray) -> dict[str, np.ndarray]:
    """|candidate − target| per term on the resamples given by the weights ([k, n] each)."""
    ta = _rates(w_s, data.sel_correct)
    ta_target = _rates(w_s, data.target_sel_correct)[:, None]
    ua = 100.0 - _rates(w_f, data.forget_correct)
    ua_target = 100.0 if data.kind == "class" else 100.0 - ta_target  # Retrain treats D_f as unseen data
    terms = {"UA": np.abs(ua - ua_target), "RA": np.broadcast_to(np.abs(data.RA - data.target_RA), ua.shape),
             "TA": np.abs(ta - ta_target)}
    if data.kind == "random":
        assert data.forget_nonmember is not None and data.target_sel_nonmember is not None  # __post_init__
        mia = _rates(w_f, data.forget_nonmember)
        terms["MIA"] = np.abs(mia - _rates(w_s, data.target_sel_nonmember)[:, None])
    return terms


def estimate_gaps(data: OracleFreeData, *, n_boot: int = 200, seed: int = 0,
                  level: float = 0.9) -> GapEstimate:
    """Predicted gaps, their paired bootstrap and the one-standard-error band (docs/definitions.md §6).

    Parameters
    ----------
    data : OracleFreeData
    n_boot : int, default 200
        B, the number of replicates; each resamples D_f and D_h,sel once, for every candidate and the
        target alike (drawn from ``seed`` and the sample sizes only, so the same seed gives the same band).
    seed : int, default 0
    level : float, default 0.9
        Coverage of the percentile interval (``low``, ``high``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> sel0 = rng.random(200) < 0.9                      # θ0: 90 % on unseen data
    >>> forget = np.stack([rng.random(300) < p for p in (1.0, 0.0, 0.2)])  # class-wise: Retrain has 0 %
    >>> data = OracleFreeData("class", forget, np.stack([sel0] * 3), np.array([100.0, 98.0, 99.0]), sel0,
    ...                       100.0)
    >>> est = estimate_gaps(data, n_boot=100)
    >>> est.best, est.in_band.tolist(), round(float(est.gap[1]), 2)
    (1, [False, True, False], 0.67)
    """
    if not (isinstance(n_boot, (int, np.integer)) and n_boot >= 2):
        raise ConfigError(f"OracleFree: `n_boot` must be an integer >= 2. Got {n_boot!r}.")
    if not 0.0 < float(level) < 1.0:
        raise ConfigError(f"OracleFree: `level` must lie in (0, 1), e.g. 0.9. Got {level!r}.")
    n_f, n_s = data.forget_correct.shape[1], data.sel_correct.shape[1]
    rng = np.random.default_rng(seed)
    w_f, w_s = _resample_counts(rng, int(n_boot), n_f), _resample_counts(rng, int(n_boot), n_s)
    full = _terms(data, np.ones((1, n_f)), np.ones((1, n_s)))
    gap = np.mean([t[0] for t in full.values()], axis=0)
    replicates = np.mean(list(_terms(data, w_f, w_s).values()), axis=0)  # [B, n]
    best = int(np.argmin(gap))
    se = (replicates - replicates[:, [best]]).std(axis=0, ddof=1)
    in_band = gap - gap[best] <= se + 1e-9
    tail = 100.0 * (1.0 - float(level)) / 2.0
    low, high = np.percentile(replicates, [tail, 100.0 - tail], axis=0)
    return GapEstimate(gap=gap, replicates=replicates, best=best, se_to_best=se, in_band=in_band, low=low,
                       high=high, terms={k: v[0] for k, v in full.items()})


@dataclass(frozen=True)
class OracleFreePick:
    """The oracle-free choice and how sure it is.

    ``index`` is into the front the rule was called on; ``gap`` is g̃ of the pick and (``low``, ``high``)
    its bootstrap interval (an estimate of its Avg. Gap to Retrain made without Retrain); ``band_size``
    counts the candidates in the one-standard-error band, of ``n_candidates``; ``theta0_in_band`` says
    whether θ0 was in it (then θ0 is the pick).
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

    @property
    def message(self) -> str:
        """One line for the user: θ0's verdict, or the band around the lowest predicted gap."""
        if self.theta0_in_band:
            return f"θ0 is in the band: {INDISTINGUISHABLE}; no unlearning step is needed"
        return (f"band of {self.band_size} of {self.n_candidates} candidates within one bootstrap standard "
                f"error of the lowest predicted gap ({self.best_gap:.2f}); the pick is its least-change "
                "point")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "message": self.message}


def _theta0_rows(front: Front) -> np.ndarray:
    return np.array([s == "Original" or r.get("kind") == "original"
                     for s, r in zip(front.solver, front.rebuild, strict=True)], dtype=bool)


class OracleFree:
    """The oracle-free operating point (docs/definitions.md §6): no test data, no Retrain, only D_f, D_r
    and D_h,sel.

    The candidates are the feasible points of the front with per-sample results (θ0 is one of them when
    the front holds it: ``select`` and ``compare`` always add it). Call it for the index; :meth:`choose`
    also says how sure it is; :meth:`explain` lists every candidate.

    Parameters
    ----------
    kind : {"random", "class"}
        Random forgetting (4 terms: UA, RA, T̃A, M̃IA; Retrain's UA estimated by θ0's D_h,sel error) or
        class-wise (3 terms; Retrain's UA is 100).
    n_boot : int, default 200
    seed : int, default 0
        Of the bootstrap replicates (the same seed gives the same band).
    level : float, default 0.9
        Coverage of the reported interval.

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
    >>> sel0 = rng.random(150) < 0.9
    >>> forget = np.stack([np.ones(150, bool), rng.random(150) < 0.0, rng.random(150) < 0.2])
    >>> columns = {"ofs.n_forget": [150] * 3, "ofs.n_sel": [150] * 3, "ofs.target.RA": [100.0] * 3,
    ...            "RA": [100.0, 98.0, 99.0], **pack_bits("forget_correct", forget),
    ...            **pack_bits("sel_correct", np.stack([sel0] * 3)),
    ...            **pack_bits("target.sel_correct", np.stack([sel0] * 3))}
    >>> front = Front.from_points(np.array([[2.3, 0.01], [0.1, 0.30], [0.4, 0.20]]), metrics=columns)
    >>> OracleFree("class")(front)
    1
    >>> table = OracleFree("class").explain(front)
    >>> int(table["index"][0]), bool(table["chosen"][0]), table["in_band"].tolist()
    (1, True, [True, False, False])
    """

    def __init__(self, kind: str, *, n_boot: int = 200, seed: int = 0, level: float = 0.9) -> None:
        if kind not in KINDS:
            raise ConfigError(f"OracleFree: `kind` must be 'random' or 'class'. Got {kind!r}.")
        if not (isinstance(n_boot, (int, np.integer)) and n_boot >= 2):
            raise ConfigError(f"OracleFree: `n_boot` must be an integer >= 2. Got {n_boot!r}.")
        if not (isinstance(level, float) and 0.0 < level < 1.0):
            raise ConfigError(f"OracleFree: `level` must be a float in (0, 1), e.g. 0.9. Got {level!r}.")
        self.kind, self.n_boot, self.seed, self.level = kind, int(n_boot), int(seed), level

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
        if f"{PREFIX}n_forget" not in front.metrics or "RA" not in front.metrics:
            raise ConfigError(_UNSCORED)
        scored = np.isfinite(front.metrics[f"{PREFIX}n_forget"]) & np.isfinite(front.metrics["RA"])
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
            best_index=int(rows[est.best]), best_gap=float(est.gap[est.best]))
        logger.info("oracle-free: %s (g̃ %.2f, %g %% interval %.2f–%.2f)", pick.message, pick.gap,
                    100 * self.level, pick.low, pick.high)
        return pick

    def __call__(self, front: Front, /) -> int:
        return self.choose(front).index

    def explain(self, front: Front, /) -> pd.DataFrame:
        """Every candidate, sorted by predicted gap: ``index`` (into ``front``), ``solver``, ``theta0``,
        ``predicted_gap`` (g̃), ``low`` / ``high`` (the interval), ``se_to_best``, ``in_band``, ``chosen``,
        the terms ``UA_term`` … and the objectives."""
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
