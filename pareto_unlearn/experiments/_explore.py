"""``pareto-unlearn explore`` / ``demo``: every solver on the same objectives, one Front, one run
directory."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from pareto_unlearn.config import RunConfig, task_from_config
from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.experiments._table import grid_candidates
from pareto_unlearn.front import COST_NAMES, Front
from pareto_unlearn.indicators import anytime_hv
from pareto_unlearn.manifest import manifest
from pareto_unlearn.metrics import MetricEvaluator
from pareto_unlearn.objectives import hv_reference_point, make_objectives
from pareto_unlearn.rundir import write_run_dir
from pareto_unlearn.selection import SEL_ACC_MARGIN, OracleFree
from pareto_unlearn.solvers import AGGREGATORS, JacobianDescent, LinearScalarization

__all__ = ["explore", "ExploreResult", "SOLVERS", "BASELINES", "default_settings"]

logger = logging.getLogger(__name__)

NSGA2_SOLVERS = ("nsga2-last-layer", "nsga2-lora", "nsga2-ls-weights")
SOLVERS = (*NSGA2_SOLVERS, "jd", "ls", *(f"jd-{a}" for a in AGGREGATORS if a != "upgrad"))
BASELINES = ("FT", "GA", "RL", "SalUn", "l1-sparse")


def default_settings(task: str, *, quick: bool = False) -> dict[str, dict[str, Any]]:
    """Per-solver settings. ``quick`` keeps every solver with at least 5 non-dominated points on digits."""
    lrs = [0.05, 0.1, 0.15, 0.2, 0.3] if task == "digits" else [1e-3, 2.5e-3, 5e-3, 7.5e-3, 1e-2]
    settings: dict[str, dict[str, Any]] = {
        "jd": {"lrs": lrs, "epochs": 5, "pref_vectors": None},
        "ls": {"weights": [round(w, 2) for w in np.linspace(0.05, 0.95, 10)], "lr": lrs[-2], "epochs": 5},
        "nsga2-last-layer": {"pop_size": 100, "n_gen": 100},
        "nsga2-lora": {"pop_size": 60, "n_gen": 60},
        "nsga2-ls-weights": {"pop_size": 16, "n_gen": 8},
    }
    if quick:
        settings["jd"].update(lrs=lrs[1::2], epochs=5)
        settings["ls"].update(weights=[0.1, 0.3, 0.5, 0.7, 0.9])
        settings["nsga2-last-layer"].update(pop_size=40, n_gen=25)
        settings["nsga2-lora"].update(pop_size=30, n_gen=15)
        settings["nsga2-ls-weights"].update(pop_size=8, n_gen=3)
    return settings


@dataclass
class ExploreResult:
    """What ``explore`` returns: the union Front and the facts written to the run directory."""

    front: Front
    summary: dict[str, Any]
    task: Any = field(repr=False)
    out: Path | None = None


def _run_in_sequence(solvers, task, objectives, evaluator, progress: bool = False, desc: str = ""):
    """Run solvers one after another; each front's cost columns start where the previous run ended
    (a sweep is charged as one solver). Returns the fronts and the total cost."""
    fronts, offset = [], dict.fromkeys(COST_NAMES, 0.0)
    for solver in tqdm(solvers, desc=desc, disable=not progress, leave=False):
        front = copy.copy(solver.run(task, objectives, evaluator=evaluator))
        front.cost = {k: v + offset[k] for k, v in front.cost.items()}
        offset = {k: float(front.cost[k][-1]) for k in COST_NAMES}
        fronts.append(front)
    return fronts, offset


def _sweep(name: str, solvers, task, objectives, evaluator, ref_point, progress: bool) -> Front:
    fronts, _ = _run_in_sequence(solvers, task, objectives, evaluator, progress, desc=name)
    front = Front.concat(fronts)
    front.solver = np.array([name] * len(front), dtype=object)
    times, hv = anytime_hv(front.F, front.cost["wall_s"], ref_point)
    order = np.argsort(front.cost["wall_s"], kind="stable")
    front.anytime = [
        {
            "solver": name,
            "wall_s": float(t),
            "hv": float(h),
            "forward_passes": float(front.cost["forward_passes"][i]),
            "backward_passes": float(front.cost["backward_passes"][i]),
        }
        for t, h, i in zip(times, hv, order)
    ]
    return front


def _gradient_front(
    name, settings, task, objectives, evaluator, ref_point, seed, batch_size, progress
) -> Front:
    common = {"batch_size": batch_size, "seed": seed, "progress": False}
    if name == "ls":
        s = settings["ls"]
        solvers = [
            LinearScalarization(weight=w, lr=s["lr"], epochs=s["epochs"], record="last", **common)
            for w in s["weights"]
        ]
    else:
        s = settings["jd"]
        aggregator = "upgrad" if name == "jd" else name[3:]
        prefs = s.get("pref_vectors") or [None]
        solvers = [
            JacobianDescent(
                aggregator=aggregator,
                pref_vector=p,
                lr=lr,
                epochs=s["epochs"],
                name=name,
                record="epoch",
                **common,
            )
            for lr in s["lrs"]
            for p in prefs
        ]
    return _sweep(name, solvers, task, objectives, evaluator, ref_point, progress)


def _nsga2_front(name, settings, task, objectives, evaluator, ref_point, seed, progress) -> Front:
    from pareto_unlearn import spaces

    cls = {
        "nsga2-last-layer": spaces.NSGA2LastLayer,
        "nsga2-lora": spaces.NSGA2LoRA,
        "nsga2-ls-weights": spaces.NSGA2LSWeights,
    }[name]
    solver = cls(**settings[name], seed=seed, progress=progress)
    return solver.run(task, objectives, evaluator=evaluator, ref_point=ref_point)


def _baseline_front(name, cfg, task, objectives, evaluator, seed, batch_size) -> Front:
    """One point: the baseline's grid run, its oracle-free pick kept, the whole grid charged."""
    spec = cfg.method_specs()[name]
    fronts, offset = _run_in_sequence(
        grid_candidates(name, spec, batch_size, seed), task, objectives, evaluator
    )
    grid = Front.concat(fronts)
    rule = OracleFree.for_task(task, min_sel_acc=evaluator.original_["sel_acc"] - SEL_ACC_MARGIN)
    chosen = rule(grid)
    point = grid.take([chosen])
    point.cost = {k: np.array([offset[k]]) for k in COST_NAMES}
    point.provenance[0] = {
        **point.provenance[0],
        "chosen_by": "oracle-free",
        "grid": [f.provenance[0]["hyperparameters"] for f in fronts],
    }
    return point


def _original_front(task, objectives, evaluator) -> Front:
    metrics = evaluator.original_
    return Front(
        objectives.names,
        objectives.evaluate(task.original, task)[None, :],
        np.array(["Original"], dtype=object),
        metrics={k: [v] for k, v in metrics.items()},
        cost={k: [0.0] for k in COST_NAMES},
        provenance=[{"space": "none", "reference": "", "hyperparameters": {}, "seed": task.seed}],
        rebuild=[{"kind": "original"}],
        task=task,
    )


def explore(
    cfg: RunConfig,
    out: str | Path | None = None,
    *,
    quick: bool = False,
    baselines: bool = False,
    progress: bool = True,
    seed: int | None = None,
) -> ExploreResult:
    """Run every solver of ``cfg.solvers`` (and the baselines) on one task and seed; write ``out``."""
    unknown = [s for s in cfg.solvers if s not in SOLVERS]
    if unknown:
        raise ConfigError(f"unknown solver {unknown[0]!r}; choose from {', '.join(SOLVERS)}")
    settings = default_settings(cfg.task, quick=quick)
    for name, values in cfg.explore.items():
        key = "jd" if name.startswith("jd") else name
        if key not in settings or not isinstance(values, dict):
            raise ConfigError(
                f"[explore.{name}] is not a solver's settings table; valid: {', '.join(settings)}"
            )
        bad = sorted(set(values) - set(settings[key]))
        if bad:
            raise ConfigError(
                f"[explore.{name}] has unknown key {bad[0]!r}; valid: {', '.join(settings[key])}"
            )
        for item, value in values.items():
            default = settings[key][item]
            if isinstance(default, list) and not isinstance(value, list):
                raise ConfigError(f"[explore.{name}] {item} must be a list like {default!r}, got {value!r}")
            if isinstance(default, (int, float)) and not isinstance(value, (int, float)):
                raise ConfigError(f"[explore.{name}] {item} must be a number like {default!r}, got {value!r}")
        settings[key] = {**settings[key], **values}
    seed = cfg.seeds[0] if seed is None else seed
    task = task_from_config(cfg, seed, progress=progress)
    objectives = make_objectives(
        task, reference=cfg.reference, kl_direction=cfg.kl_direction, names=cfg.objectives
    )
    evaluator = MetricEvaluator(task)
    ref_point = hv_reference_point(task, objectives)
    batch_size = cfg.unlearn_batch_size()
    fronts = [_original_front(task, objectives, evaluator)]
    names = list(cfg.solvers) + (list(BASELINES) if baselines else [])
    for name in tqdm(names, desc="solvers", disable=not progress):
        logger.info("running %s", name)
        if name in NSGA2_SOLVERS:
            fronts.append(
                _nsga2_front(name, settings, task, objectives, evaluator, ref_point, seed, progress)
            )
        elif name in BASELINES:
            fronts.append(_baseline_front(name, cfg, task, objectives, evaluator, seed, batch_size))
        else:
            fronts.append(
                _gradient_front(
                    name, settings, task, objectives, evaluator, ref_point, seed, batch_size, progress
                )
            )
    front = Front.concat(fronts)
    front.task = task
    original = {
        "objectives": fronts[0].F[0].tolist(),
        "metrics": {k: float(v[0]) for k, v in fronts[0].metrics.items()},
    }
    retrain = {
        "objectives": objectives.evaluate(task.retrain, task).tolist(),
        "metrics": dict(evaluator.retrain_),
    }
    summary = None
    if out is not None:
        from pareto_unlearn.plotting import plot_fronts

        figure = plot_fronts(
            front.take(front.solver != "Original"),
            original=original["objectives"],
            retrain=retrain["objectives"],
        )
        summary = write_run_dir(
            out,
            front,
            task_info=task.describe(),
            reference=cfg.reference,
            kl_direction=cfg.kl_direction,
            ref_point=ref_point,
            original=original,
            retrain=retrain,
            complete=True,
            manifest=manifest(seeds=[seed], theta0_sha256=task.theta0_hash, objectives=objectives.describe()),
            settings={
                "solvers": names,
                "quick": quick,
                "solver_settings": settings,
                "config": {k: v for k, v in vars(cfg).items()},
            },
            figure=figure,
            splits=task.splits,
        )
    return ExploreResult(front=front, summary=summary or {}, task=task, out=Path(out) if out else None)
