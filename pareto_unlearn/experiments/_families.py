"""Objective families and aggregators side by side (issue #7): which objective family gives the front
closest to Retrain, what the oracle-free rule picks from it, and how often an aggregator's update
increases one objective to first order on real mini-batches, at what cost per aggregation.

Examples
--------
A toy task (:func:`~pareto_unlearn.task.toy_task`) stands in for a real one:

>>> from pareto_unlearn.task import toy_task
>>> task = toy_task()
>>> table = compare_families(task, lrs=[0.05, 0.1], epochs=2)  # one row per family
>>> list(table["family"]), list(table["n_points"])
(['forget_kl-uniform', 'forget_kl-heldout', 'push-pull'], [4, 4, 4])
>>> conflicts = aggregator_conflicts(task, make_objectives(task, names=("push_pull", "distill_retain")))
>>> list(conflicts["aggregator"]), bool((conflicts["steps"] > 0).all())
(['pama', 'upgrad', 'mgda'], True)
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.front import Front
from pareto_unlearn.metrics import MetricEvaluator
from pareto_unlearn.objectives import Objective, Objectives, make_objectives
from pareto_unlearn.selection import OracleFree
from pareto_unlearn.solvers import JacobianDescent, jd_direction, make_aggregator, paired_batches
from pareto_unlearn.solvers._jd import _assign_grad

if TYPE_CHECKING:
    from pareto_unlearn.task import UnlearningTask

__all__ = ["FAMILIES", "aggregation_cost", "aggregator_conflicts", "compare_families"]

# Family name → keyword arguments of make_objectives.
FAMILIES: dict[str, dict[str, Any]] = {
    "forget_kl-uniform": {"reference": "uniform", "names": ("forget_kl", "retain_ce")},
    "forget_kl-heldout": {"reference": "heldout", "names": ("forget_kl", "retain_ce")},
    "push-pull": {"names": ("push_pull", "distill_retain")},
}


def compare_families(
    task: UnlearningTask,
    *,
    lrs: Sequence[float],
    epochs: int,
    aggregator: str = "upgrad",
    families: Mapping[str, Mapping[str, Any]] | None = None,
    batch_size: int = 64,
    seed: int = 0,
    progress: bool = False,
) -> pd.DataFrame:
    """A small ``jd`` front per objective family (one trajectory per lr), and its Avg. Gap figures.

    Parameters
    ----------
    task : UnlearningTask
    lrs : sequence of float
        Learning rates; each gives one trajectory of ``epochs`` points.
    epochs : int
    aggregator : str
        Name for :func:`~pareto_unlearn.solvers.make_aggregator` (``upgrad``, ``pama``, ``mgda``, ...).
    families : mapping, optional
        Family name → keyword arguments of :func:`~pareto_unlearn.objectives.make_objectives`; default
        :data:`FAMILIES`.
    batch_size, seed, progress
        Passed to :class:`~pareto_unlearn.solvers.JacobianDescent`.

    Returns
    -------
    pandas.DataFrame
        One row per family: ``family``, ``objectives``, ``aggregator``, ``n_points``, ``original_gap``
        (θ0's Avg. Gap, the same in every row), ``best_gap`` (the lowest Avg. Gap on the front, an oracle
        figure for evaluation only), ``oracle_free_gap`` (Avg. Gap of the point that
        :meth:`OracleFree.for_task` picks; NaN, with the reason in ``note``, when the rule cannot rank this
        family), ``oracle_free_lr``, ``oracle_free_epoch``, ``wall_s`` (solver time), ``note``.
    """
    families = FAMILIES if families is None else families
    evaluator = MetricEvaluator(task)
    original_gap = float(evaluator(task.original)["gap"])
    rule = OracleFree.for_task(task)
    rows = []
    for family, spec in families.items():
        objectives = make_objectives(task, **spec)
        common: dict[str, Any] = {"epochs": epochs, "batch_size": batch_size, "seed": seed,
                                  "progress": progress}
        fronts = [
            JacobianDescent(aggregator=aggregator, lr=lr, **common).run(task, objectives, evaluator=evaluator)
            for lr in lrs
        ]
        front = Front.concat(fronts)
        gap = np.asarray(front.metrics["gap"], dtype=float)
        row: dict[str, Any] = {
            "family": family,
            "objectives": ",".join(objectives.names),
            "aggregator": aggregator,
            "n_points": len(front),
            "original_gap": original_gap,
            "best_gap": float(np.nanmin(gap)),
            "oracle_free_gap": np.nan,
            "oracle_free_lr": np.nan,
            "oracle_free_epoch": np.nan,
            "wall_s": float(sum(f.cost["wall_s"].max() for f in fronts)),
            "note": "",
        }
        try:
            pick = rule(front)
        except ConfigError as exc:  # e.g. class-wise rule without a retain_ce objective
            row["note"] = str(exc)
        else:
            provenance = front.provenance[pick]
            row.update(
                oracle_free_gap=float(gap[pick]),
                oracle_free_lr=float(provenance["hyperparameters"]["lr"]),
                oracle_free_epoch=int(provenance["epoch"]),
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _batch_loss(objective: Objective, logits: torch.Tensor, y: torch.Tensor,
                idx: torch.Tensor) -> torch.Tensor:
    batch_loss = getattr(objective, "batch_loss", None)  # objectives with per-sample teachers need idx
    return batch_loss(logits, y, idx) if batch_loss is not None else objective(logits, y)


def _min_cosine(jacobian: torch.Tensor, direction: torch.Tensor) -> float:
    """min_i ⟨d, g_i⟩ / (‖d‖ ‖g_i‖); +1 when d = 0 (no objective moves)."""
    norm = direction.norm()
    if norm == 0:
        return 1.0
    return float(((jacobian @ direction) / (jacobian.norm(dim=1).clamp_min(1e-30) * norm)).min())


def aggregator_conflicts(
    task: UnlearningTask,
    objectives: Objectives,
    *,
    aggregators: Sequence[str] = ("pama", "upgrad", "mgda"),
    follow: str = "upgrad",
    lr: float = 0.1,
    epochs: int = 1,
    batch_size: int = 64,
    seed: int = 0,
    tolerances: Sequence[float] = (0.0, 1e-6, 1e-3),
) -> pd.DataFrame:
    """First-order conflicts and cost of several aggregators on the same real Jacobians.

    The model follows the trajectory of JD with ``follow`` (SGD as :class:`JacobianDescent`: momentum
    0.9, weight decay 5e-4, BatchNorm frozen, paired forget / retain batches); at every step the
    Jacobian J [m, n] of the mini-batch objectives is aggregated by each of ``aggregators``. A step is a
    conflict for an aggregator when its update d has ⟨d, g_i⟩ < 0 for some i; with each tolerance τ of
    ``tolerances`` it is counted as min_i cos(d, g_i) < −τ (τ > 0 guards against rounding, and against
    UPGrad's own regularisation of the Gramian, ``reg_eps`` = 1e-4, which leaves tiny negatives).

    Returns
    -------
    pandas.DataFrame
        One row per aggregator: ``aggregator``, ``follow``, ``steps``, ``conflict_rate@τ`` for each τ,
        ``median_min_cos`` and ``worst_min_cos`` (of min_i cos(d, g_i) over steps),
        ``gradient_conflict_rate`` (share of steps with ⟨g_i, g_j⟩ < 0 for some pair, the same for every
        row), ``median_min_norm_share`` (median of min_i ‖g_i‖² / Σ_i ‖g_i‖²: below UPGrad's 1e-4 its
        regularisation hides the small gradient), ``median_ms`` (per aggregation, on these Jacobians).
    """
    built = {name: make_aggregator(name) for name in dict.fromkeys([*aggregators, follow])}
    warm = torch.tensor([[1.0, 0.0], [-0.5, 1.0]])
    for aggregator in built.values():
        aggregator(warm)  # first-call initialisation off the clock
    model = task.copy_original()
    model.eval()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=5e-4)
    generator = torch.Generator().manual_seed(seed)
    records: dict[str, list[tuple[float, float]]] = {name: [] for name in aggregators}
    gradient_conflicts = 0
    norm_shares = []
    steps = 0
    for _ in range(epochs):
        for f_idx, r_idx in paired_batches(len(task.forget), len(task.retain), batch_size, generator):
            batches = {"forget": f_idx, "retain": r_idx}
            logits = {}
            for subset in dict.fromkeys(o.subset for o in objectives):
                logits[subset] = model(getattr(task, subset).x[batches[subset].to(task.device)])
            losses = []
            for o in objectives:
                idx = batches[o.subset].to(task.device)
                losses.append(_batch_loss(o, logits[o.subset], getattr(task, o.subset).y[idx], idx))
            identity = _Identity()
            jacobian = jd_direction(losses, params, identity).detach()
            gram = jacobian @ jacobian.T
            gradient_conflicts += bool((gram.triu(1) < 0).any())
            norm_shares.append(float(gram.diagonal().min() / gram.diagonal().sum().clamp_min(1e-30)))
            for name in aggregators:
                start = time.perf_counter()
                direction = built[name](jacobian)
                elapsed = time.perf_counter() - start
                records[name].append((_min_cosine(jacobian, direction), elapsed))
            step = built[follow](jacobian)
            _assign_grad(params, step)
            optimizer.step()
            steps += 1
    rows = []
    for name in aggregators:
        cosines = np.array([c for c, _ in records[name]])
        times = np.array([t for _, t in records[name]])
        rows.append(
            {
                "aggregator": name,
                "follow": follow,
                "steps": steps,
                **{f"conflict_rate@{tau:g}": float(np.mean(cosines < -tau)) for tau in tolerances},
                "median_min_cos": float(np.median(cosines)),
                "worst_min_cos": float(np.min(cosines)),
                "gradient_conflict_rate": gradient_conflicts / max(steps, 1),
                "median_min_norm_share": float(np.median(norm_shares)),
                "median_ms": 1000 * float(np.median(times)),
            }
        )
    return pd.DataFrame(rows)


class _Identity:
    """Stands in for an aggregator in :func:`jd_direction` to get the Jacobian itself."""

    def __call__(self, matrix: torch.Tensor) -> torch.Tensor:
        return matrix


def aggregation_cost(
    n_params: int,
    *,
    aggregators: Sequence[str] = ("pama", "upgrad", "mgda"),
    n_obj: int = 2,
    repeats: int = 200,
    seed: int = 0,
) -> pd.DataFrame:
    """Milliseconds per aggregation of a random Jacobian [n_obj, n_params] (median and best of
    ``repeats``, calls interleaved so every aggregator sees the same machine load)."""
    generator = torch.Generator().manual_seed(seed)
    jacobians = [torch.randn(n_obj, n_params, generator=generator) for _ in range(8)]
    built = {name: make_aggregator(name) for name in aggregators}
    times: dict[str, list[float]] = {name: [] for name in aggregators}
    for aggregator in built.values():
        aggregator(jacobians[0])
    for r in range(repeats):
        for name, aggregator in built.items():
            jacobian = jacobians[r % len(jacobians)]
            start = time.perf_counter()
            aggregator(jacobian)
            times[name].append(time.perf_counter() - start)
    return pd.DataFrame(
        [
            {
                "aggregator": name,
                "n_obj": n_obj,
                "n_params": n_params,
                "median_ms": 1000 * float(np.median(t)),
                "best_ms": 1000 * float(np.min(t)),
            }
            for name, t in times.items()
        ]
    )
