"""``pareto-unlearn explore`` / ``demo``: every solver on the same objectives, one Front, one run
directory."""

from __future__ import annotations

import copy
import logging
import shutil
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
from pareto_unlearn.metrics import MetricEvaluator, is_sample_column
from pareto_unlearn.objectives import hv_reference_point, make_objectives
from pareto_unlearn.rundir import write_run_dir
from pareto_unlearn.selection import OracleFree
from pareto_unlearn.solvers import AGGREGATORS, JacobianDescent, LinearScalarization

__all__ = ["explore", "ExploreResult", "SOLVERS", "BASELINES", "default_settings", "spread_first"]

logger = logging.getLogger(__name__)

NSGA2_SOLVERS = ("nsga2-last-layer", "nsga2-lora", "nsga2-ls-weights", "nsga2-ls-warm", "sms-emoa-ls-warm")
WARM_SOLVERS = ("nsga2-ls-warm", "sms-emoa-ls-warm")
SOLVERS = (*NSGA2_SOLVERS, "jd", "ls", *(f"jd-{a}" for a in AGGREGATORS if a != "upgrad"))
BASELINES = ("FT", "GA", "RL", "SalUn", "l1-sparse")


def spread_first(weights) -> list[float]:
    """``weights`` (in [0, 1]) in the order a sweep should run them so that every prefix spans the front:
    each next weight is the one farthest from 0, 1 and the weights before it (ties: the smaller). An
    extreme weight alone gives a corner of the front, a middle one most of its hypervolume, so a sweep
    read at any cost (``compare``'s budget, a user who stops it) holds the most it can.

    Examples
    --------
    >>> spread_first([0.1, 0.3, 0.5, 0.7, 0.9])
    [0.5, 0.3, 0.7, 0.1, 0.9]
    """
    left = sorted(float(w) for w in weights)
    chosen: list[float] = []
    while left:
        covered = np.array([0.0, 1.0, *chosen])
        spread = [round(float(np.abs(covered - w).min()), 9) for w in left]  # 0.55 − 0.45 ties 0.25 − 0.15
        chosen.append(left.pop(int(np.argmax(spread))))
    return chosen


def default_settings(task: str, *, quick: bool = False) -> dict[str, dict[str, Any]]:
    """Per-solver settings. ``quick`` keeps every solver with at least 5 non-dominated points on digits."""
    lrs = [0.05, 0.1, 0.15, 0.2, 0.3] if task == "digits" else [1e-3, 2.5e-3, 5e-3, 7.5e-3, 1e-2]
    settings: dict[str, dict[str, Any]] = {
        "jd": {"lrs": lrs, "epochs": 5, "pref_vectors": None},
        # middle weights first: the sweep's anytime front spans the trade-off from its first point on
        "ls": {"weights": spread_first(np.round(np.linspace(0.05, 0.95, 10), 2)), "lr": lrs[-2], "epochs": 5},
        # population_chunks > 1: pieces of each population evaluated on the Dask workers (large models)
        "nsga2-last-layer": {"pop_size": 100, "n_gen": 100, "population_chunks": 1},
        "nsga2-lora": {"pop_size": 60, "n_gen": 60, "population_chunks": 1},
        "nsga2-ls-weights": {"pop_size": 16, "n_gen": 8, "max_epochs": 5},
    }
    if quick:
        settings["jd"].update(lrs=lrs[1::2], epochs=5)
        settings["ls"].update(weights=spread_first([0.1, 0.3, 0.5, 0.7, 0.9]))
        settings["nsga2-last-layer"].update(pop_size=40, n_gen=25)
        settings["nsga2-lora"].update(pop_size=30, n_gen=15)
        settings["nsga2-ls-weights"].update(pop_size=8, n_gen=3)
    # generation 1 is the ls sweep itself (seeding, charged to it); then 6 offspring a generation, each 2
    # epochs on from the nearest survivor's model (issue 6's seeding and warm-start levers)
    settings["nsga2-ls-warm"] = _ls_warm_settings(settings["ls"], n_gen=5 if quick else 12)
    # the same search with SMS-EMOA's survival (issue 6's "other pymoo algorithms" lever)
    settings["sms-emoa-ls-warm"] = {**settings["nsga2-ls-warm"], "algorithm": "sms-emoa"}
    return settings


def _ls_warm_settings(ls: dict[str, Any], *, n_gen: int) -> dict[str, Any]:
    return {"pop_size": len(ls["weights"]), "n_offsprings": 6, "n_gen": n_gen, "max_epochs": 2,
            "lr_bounds": [-1.2, -0.4],
            "seed_sweep": {"weights": list(ls["weights"]), "lr": ls["lr"], "epochs": ls["epochs"]}}


@dataclass
class ExploreResult:
    """What ``explore`` returns: the union Front and the facts written to the run directory."""

    front: Front
    summary: dict[str, Any]
    task: Any = field(repr=False)
    out: Path | None = None


def _chain_costs(fronts: list[Front]) -> tuple[list[Front], dict[str, float]]:
    """Charge runs as if made one after another: each front's cost columns start where the previous
    run ended (a sweep is charged as one solver). Returns the shifted fronts and the total cost."""
    chained, offset = [], dict.fromkeys(COST_NAMES, 0.0)
    for front in fronts:
        front = copy.copy(front)
        front.cost = {k: v + offset[k] for k, v in front.cost.items()}
        offset = {k: float(front.cost[k][-1]) for k in COST_NAMES}
        chained.append(front)
    return chained, offset


def _solver_unit(task, objectives, evaluator, solver) -> Front:
    """One independent run (a sweep point, a grid candidate): the unit sent to a Dask worker."""
    return solver.run(task, objectives, evaluator=evaluator)


def _sweep_front(name: str, fronts: list[Front], ref_point) -> Front:
    fronts, _ = _chain_costs(fronts)
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


def _sweep_solvers(name, settings, seed, batch_size) -> list:
    """The runs of the ``ls`` or ``jd*`` sweep, in order."""
    common = {"batch_size": batch_size, "seed": seed, "progress": False}
    if name == "ls":
        s = settings["ls"]
        return [
            LinearScalarization(weight=w, lr=s["lr"], epochs=s["epochs"], record="last", **common)
            for w in s["weights"]
        ]
    s = settings["jd"]
    aggregator = "upgrad" if name == "jd" else name[3:]
    prefs = s.get("pref_vectors") or [None]
    return [
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


def _reuses_ls(name: str, settings: dict[str, dict[str, Any]], names: list[str]) -> bool:
    """Whether a warm search's seed sweep is this run's ``ls`` sweep (then it continues that one)."""
    if name not in WARM_SOLVERS or "ls" not in names:
        return False
    ls, warm = settings["ls"], settings[name]
    same = {"weights": list(ls["weights"]), "lr": ls["lr"], "epochs": ls["epochs"]}
    # batch size, momentum and weight decay cannot differ: a config cannot set them for a warm search,
    # and the search's seed_front check refuses a sweep that ran with others
    return warm.get("seed_sweep") == same


def _nsga2_front(name, settings, task, objectives, evaluator, ref_point, seed, progress, *,
                 client=None, checkpoint=None, batch_size: int | None = None,
                 seed_front: Front | None = None) -> Front:
    from pareto_unlearn import spaces

    cls = {
        "nsga2-last-layer": spaces.NSGA2LastLayer,
        "nsga2-lora": spaces.NSGA2LoRA,
        "nsga2-ls-weights": spaces.NSGA2LSWeights,
        "nsga2-ls-warm": spaces.NSGA2LSWarm,
        "sms-emoa-ls-warm": spaces.NSGA2LSWarm,
    }[name]
    kwargs = dict(settings[name])
    if issubclass(cls, spaces.NSGA2LSWeights) and batch_size is not None:
        kwargs.setdefault("batch_size", batch_size)  # the task's unlearning batch, as the ls sweep uses
    solver = cls(**kwargs, seed=seed, progress=progress)
    more = {} if seed_front is None else {"seed_front": seed_front}
    return solver.run(task, objectives, evaluator=evaluator, ref_point=ref_point, client=client,
                      checkpoint=checkpoint, **more)


def _baseline_point(name: str, fronts: list[Front], evaluator, task) -> Front:
    """One point: the baseline grid's oracle-free pick (definitions §6, the grid points its candidates, as in
    ``table``), the whole grid charged."""
    from pareto_unlearn.experiments._table import grid_choice

    fronts, offset = _chain_costs(fronts)
    grid = Front.concat(fronts)
    hyperparameters = [f.provenance[0]["hyperparameters"] for f in fronts]
    record = grid_choice(OracleFree.for_task(task), grid, hyperparameters)
    point = grid.take([record["chosen_index"]])
    point.cost = {k: np.array([offset[k]]) for k in COST_NAMES}
    point.provenance[0] = {
        **point.provenance[0],
        "chosen_by": "oracle-free",
        "grid": record["grid"],
        "oracle_free": {k: record[k] for k in ("predicted_gap", "interval", "in_band", "oracle_free")},
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


def _check_settings(cfg: RunConfig, quick: bool) -> dict[str, dict[str, Any]]:
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
    for name, algorithm in (("nsga2-ls-warm", "nsga2"), ("sms-emoa-ls-warm", "sms-emoa")):
        if settings[name].get("algorithm", "nsga2") != algorithm:
            raise ConfigError(f"[explore.{name}] algorithm = {settings[name]['algorithm']!r} contradicts the "
                              f"solver's name; leave it out (run 'nsga2-ls-warm' for NSGA-II, "
                              f"'sms-emoa-ls-warm' for SMS-EMOA)")
        warm = cfg.explore.get(name, {})
        if "ls" in cfg.explore and "seed_sweep" not in warm:  # the seed stays the ls sweep the user set
            seeded = _ls_warm_settings(settings["ls"], n_gen=settings[name]["n_gen"])
            settings[name]["seed_sweep"] = seeded["seed_sweep"]
            if "pop_size" not in warm:
                settings[name]["pop_size"] = seeded["pop_size"]
    return settings


def _unit_solvers(name: str, cfg: RunConfig, settings, seed: int, batch_size: int) -> list:
    """The independent runs of a sweep or a baseline's grid; none for an NSGA-II solver (one run here)."""
    if name in NSGA2_SOLVERS:
        return []
    if name in BASELINES:
        return grid_candidates(name, cfg.method_specs()[name], batch_size, seed)
    return _sweep_solvers(name, settings, seed, batch_size)


def explore(
    cfg: RunConfig,
    out: str | Path | None = None,
    *,
    quick: bool = False,
    baselines: bool = False,
    progress: bool = True,
    seed: int | None = None,
    client: Any = None,
) -> ExploreResult:
    """Run every solver of ``cfg.solvers`` (and the baselines) on one task and seed; write ``out``.

    Parameters
    ----------
    cfg : RunConfig
    out : path, optional
        Run directory. Finished units (each sweep point, grid candidate and NSGA-II run) and the NSGA-II
        state after every generation are checkpointed under ``out/checkpoints``; calling ``explore`` again
        on the same ``out`` with the same settings continues from them to the same front. On Ctrl-C the
        finished solvers are written with ``complete: false`` before ``KeyboardInterrupt`` propagates.
    quick, baselines, progress, seed
        Small settings; add FT, GA, RL, SalUn, ℓ1-sparse; tqdm bars; the seed (default ``cfg.seeds[0]``).
    client : dask.distributed.Client, optional
        Runs the sweep points, baseline grids and the LS-weights search's fine-tunes on the cluster.
    """
    from pareto_unlearn.checkpoint import UnitStore
    from pareto_unlearn.distributed import make_executor

    settings = _check_settings(cfg, quick)
    seed = cfg.seeds[0] if seed is None else seed
    task = task_from_config(cfg, seed, progress=progress)
    objectives = make_objectives(
        task, reference=cfg.reference, kl_direction=cfg.kl_direction, names=cfg.objectives
    )
    evaluator = MetricEvaluator(task)
    ref_point = hv_reference_point(task, objectives)
    batch_size = cfg.unlearn_batch_size()
    names = list(cfg.solvers) + (list(BASELINES) if baselines else [])
    run_settings = {"solvers": names, "quick": quick, "solver_settings": settings,
                    "config": {k: v for k, v in vars(cfg).items()}}
    original_front = _original_front(task, objectives, evaluator)
    original = {
        "objectives": original_front.F[0].tolist(),
        "metrics": {k: float(v[0]) for k, v in original_front.metrics.items() if not is_sample_column(k)},
    }
    retrain = {
        "objectives": objectives.evaluate(task.retrain, task).tolist(),
        "metrics": dict(evaluator.retrain_),
    }
    checkpoints = Path(out) / "checkpoints" if out is not None else None
    store = None
    if checkpoints is not None:
        store = UnitStore(checkpoints / "units", {
            "seed": seed, "theta0_sha256": task.theta0_hash, "task": task.describe(),
            "objectives": objectives.describe(), "settings": settings, "batch_size": batch_size,
            "baseline_grids": {n: vars(cfg.method_specs()[n]) for n in BASELINES if n in names},
        })
    executor = make_executor(client, threads=cfg.threads)

    # Every sweep point and grid candidate is an independent unit; NSGA-II runs here meanwhile.
    plan = {name: _unit_solvers(name, cfg, settings, seed, batch_size) for name in names}
    units = [(f"{name}.{i}", solver) for name, solvers in plan.items() for i, solver in enumerate(solvers)]
    done: dict[str, Front] = {}
    if store is not None:
        done = {key: store.get(key, task) for key, _ in units + [(n, None) for n in names] if store.has(key)}
    todo = [(key, solver) for key, solver in units if key not in done]
    if done:
        logger.info("resuming: %d of %d units already finished", len(done), len(units) + len(names))

    def finished(name: str) -> Front | None:
        if name in done:
            return done[name]
        if name in NSGA2_SOLVERS:
            return None
        parts = [done.get(f"{name}.{i}") for i in range(len(plan[name]))]
        if any(p is None for p in parts):
            return None
        return _baseline_point(name, parts, evaluator, task) if name in BASELINES else \
            _sweep_front(name, parts, ref_point)

    def keep(key: str, front: Front) -> None:
        done[key] = front
        if store is not None:
            store.put(key, front)

    # A warm search seeded by the ls sweep continues it (same points, charged once): ls runs first.
    reuse = [n for n in names if n not in done and _reuses_ls(n, settings, names)]
    first = [(key, solver) for key, solver in todo if reuse and key.startswith("ls.")]
    later = [(key, solver) for key, solver in todo if not (reuse and key.startswith("ls."))]
    try:
        shared = executor.share(task, objectives, evaluator)
        batches = [(part, executor.submit(_solver_unit, [solver for _, solver in part], shared=shared))
                   for part in (first, later) if part]
        bar = tqdm(total=len(todo), desc="sweep points", disable=not progress or not todo)

        def wait_for_next_batch() -> None:
            part, pending = batches.pop(0)

            def arrived(i: int, front: Front) -> None:
                keep(part[i][0], front)
                bar.update()

            pending.wait(arrived)

        for name in tqdm([n for n in names if n in NSGA2_SOLVERS], desc="NSGA-II", disable=not progress):
            if name in done:
                continue
            if name in reuse and first and batches and batches[0][0] is first:
                wait_for_next_batch()
            logger.info("running %s", name)
            state = None if checkpoints is None else checkpoints / name
            keep(name, _nsga2_front(name, settings, task, objectives, evaluator, ref_point, seed, progress,
                                    client=client, checkpoint=state, batch_size=batch_size,
                                    seed_front=finished("ls") if name in reuse else None))
            if state is not None:  # the finished front is stored as a unit; its generations are not needed
                shutil.rmtree(state, ignore_errors=True)
        while batches:
            wait_for_next_batch()
        bar.close()
    except KeyboardInterrupt:
        if out is not None:
            logger.warning("interrupted: writing the finished solvers to %s with complete: false", out)
            partial = [f for f in (finished(n) for n in names) if f is not None]
            _write(out, [original_front, *partial], task, cfg, objectives, evaluator, ref_point, original,
                   retrain, seed, run_settings, complete=False)
        raise
    fronts = [original_front, *(finished(name) for name in names)]
    front, summary = _write(out, fronts, task, cfg, objectives, evaluator, ref_point, original, retrain, seed,
                            run_settings, complete=True)
    return ExploreResult(front=front, summary=summary or {}, task=task, out=Path(out) if out else None)


def _write(out, fronts, task, cfg, objectives, evaluator, ref_point, original, retrain, seed, run_settings, *,
           complete: bool) -> tuple[Front, dict[str, Any] | None]:
    front = Front.concat(fronts)
    front.task = task
    if out is None:
        return front, None
    from pareto_unlearn.plotting import plot_anytime, plot_fronts, plot_metric_space, save_figure

    solvers = front.take(front.solver != "Original")
    figure = plot_fronts(solvers, original=original["objectives"], retrain=retrain["objectives"],
                         ref_point=ref_point)
    summary = write_run_dir(
        out,
        front,
        task_info=task.describe(),
        reference=cfg.reference,
        kl_direction=cfg.kl_direction,
        ref_point=ref_point,
        original=original,
        retrain=retrain,
        complete=complete,
        manifest=manifest(seeds=[seed], theta0_sha256=task.theta0_hash, objectives=objectives.describe()),
        settings=run_settings,
        figure=figure,
        splits=task.splits,
    )
    # the figures the README shows beside fronts.png (``report`` adds the others)
    save_figure(plot_metric_space(solvers, original=original.get("metrics"), retrain=retrain.get("metrics")),
                Path(out) / "metric_space.png")
    save_figure(plot_anytime(solvers), Path(out) / "anytime.png")
    return front, summary
