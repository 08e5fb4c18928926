"""``pareto-unlearn explore`` / ``demo``: every solver on the same objectives, one Front, one run
directory."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from tqdm.auto import tqdm

from pareto_unlearn.checkpoint import UnitStore
from pareto_unlearn.config import RunConfig, task_from_config
from pareto_unlearn.distributed import make_executor
from pareto_unlearn.experiments._table import grid_candidates, grid_choice, solver_unit_key
from pareto_unlearn.front import COST_NAMES, ORIGINAL, Front
from pareto_unlearn.indicators import anytime_hv, hv_reference_point
from pareto_unlearn.manifest import manifest
from pareto_unlearn.metrics import MetricEvaluator, is_sample_column
from pareto_unlearn.objectives import Objectives, make_objectives
from pareto_unlearn.plotting import plot_anytime, plot_fronts, plot_metric_space
from pareto_unlearn.rundir import write_run_dir
from pareto_unlearn.selection import OracleFree
from pareto_unlearn.solvers._registry import (
    build_search,
    get_entry,
    resolve_settings,
    solver_names,
    sweep_units,
)
from pareto_unlearn.summary import summarize

if TYPE_CHECKING:
    from pareto_unlearn.solvers import Solver
    from pareto_unlearn.task import UnlearningTask

__all__ = ["explore", "ExploreResult", "resolve_settings"]

logger = logging.getLogger(__name__)


@dataclass
class ExploreResult:
    """What ``explore`` returns: the union Front and its summary (``pareto_unlearn.summary.summarize``:
    what ``summary.json`` holds, with or without ``out``; ``compare`` takes it)."""

    front: Front
    summary: dict[str, Any]
    task: Any = field(repr=False)
    out: Path | None = None


def _chain_costs(fronts: list[Front]) -> tuple[list[Front], dict[str, float]]:
    """Charge runs as if made one after another: each front's cost columns start where the previous
    run ended (a sweep is charged as one solver). Returns the shifted fronts and the total cost."""
    chained, offset = [], dict.fromkeys(COST_NAMES, 0.0)
    for front in fronts:
        front = front.with_(cost={k: v + offset[k] for k, v in front.cost.items()})
        offset = {k: float(front.cost[k][-1]) for k in COST_NAMES}
        chained.append(front)
    return chained, offset


def _solver_unit(task: UnlearningTask, objectives: Objectives, evaluator: MetricEvaluator,
                 solver: Solver) -> Front:
    """One independent run (a sweep point, a grid candidate): the unit sent to a Dask worker."""
    return solver.run(task, objectives, evaluator=evaluator)


def _sweep_front(name: str, fronts: list[Front], ref_point: np.ndarray) -> Front:
    fronts, _ = _chain_costs(fronts)
    front = Front.concat(fronts)
    times, hv = anytime_hv(front.F, front.cost["wall_s"], ref_point)
    order = np.argsort(front.cost["wall_s"], kind="stable")
    anytime = [
        {
            "solver": name,
            "wall_s": float(t),
            "hv": float(h),
            "forward_passes": float(front.cost["forward_passes"][i]),
            "backward_passes": float(front.cost["backward_passes"][i]),
        }
        for t, h, i in zip(times, hv, order)
    ]
    return front.with_(solver=np.array([name] * len(front), dtype=object), anytime=anytime)


def _reuses_sweep(name: str, settings: dict[str, dict[str, Any]], names: list[str]) -> bool:
    """Whether a warm search's seed sweep is this run's sweep it is seeded by (then it continues that one)."""
    entry = get_entry(name)
    sweep = entry.seeded_by
    if sweep is None:
        return False
    if entry.fixed.get("seeded"):  # only continues the sweep, which the settings check put in the run
        return True
    if sweep not in names:
        return False
    ls, warm = settings[get_entry(sweep).settings], settings[name]
    same = {"weights": list(ls["weights"]), "lr": ls["lr"], "epochs": ls["epochs"]}
    # batch size, momentum and weight decay cannot differ: a config cannot set them for a warm search,
    # and the search's seed_front check refuses a sweep that ran with others
    return warm.get("seed_sweep") == same


def _search_front(name: str, settings: dict[str, dict[str, Any]], task: UnlearningTask,
                  objectives: Objectives, evaluator: MetricEvaluator, seed: int, progress: bool, *,
                  client: Any = None, checkpoint: Path | None = None, batch_size: int | None = None,
                  seed_front: Front | None = None) -> Front:
    solver = build_search(name, settings, seed=seed, progress=progress, batch_size=batch_size,
                          seed_front=seed_front)
    return solver.run(task, objectives, evaluator=evaluator, executor=client, checkpoint=checkpoint)


def _baseline_point(name: str, fronts: list[Front], evaluator: MetricEvaluator,
                    task: UnlearningTask) -> Front:
    """One point: the baseline grid's oracle-free pick (definitions §6, the grid points its candidates, as in
    ``table``), the whole grid charged."""

    fronts, offset = _chain_costs(fronts)
    grid = Front.concat(fronts)
    hyperparameters = [f.provenance[0]["hyperparameters"] for f in fronts]
    record = grid_choice(OracleFree.for_task(task), grid, hyperparameters)
    point = grid.take([record["chosen_index"]])
    provenance = {
        **point.provenance[0],
        "chosen_by": "oracle-free",
        "grid": record["grid"],
        "oracle_free": {k: record[k] for k in ("predicted_gap", "interval", "in_band", "oracle_free")},
    }
    return point.with_(cost={k: np.array([offset[k]]) for k in COST_NAMES}, provenance=[provenance])


def _original_front(task: UnlearningTask, objectives: Objectives, evaluator: MetricEvaluator) -> Front:
    metrics = evaluator.original_
    columns: dict[str, Any] = {k: [v] for k, v in metrics.items()}  # Front makes them arrays
    zero_cost: dict[str, Any] = {k: [0.0] for k in COST_NAMES}
    return Front(
        objectives.names,
        objectives.evaluate(task.original, task)[None, :],
        np.array([ORIGINAL], dtype=object),
        metrics=columns,
        cost=zero_cost,
        provenance=[{"space": "none", "reference": "", "hyperparameters": {}, "seed": task.seed}],
        rebuild=[{"kind": "original"}],
        task=task,
    )


def _unit_solvers(name: str, cfg: RunConfig, settings: dict[str, dict[str, Any]], seed: int,
                  batch_size: int) -> list:
    """The independent runs of a sweep or a baseline's grid; none for an evolutionary solver (one run
    here)."""
    family = get_entry(name).family
    if family == "evolutionary":
        return []
    if family == "baseline":
        return grid_candidates(name, cfg.method_specs()[name], batch_size, seed)
    return sweep_units(name, settings, seed=seed, batch_size=batch_size)


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
        Run directory; without it nothing is written and the result still carries its summary.
        Finished units (each sweep point, grid candidate and evolutionary run) and the NSGA-II
        state after every generation are checkpointed under ``out/checkpoints``; calling ``explore`` again
        on the same ``out`` with the same settings continues from them to the same front. On Ctrl-C the
        finished solvers are written with ``complete: false`` before ``KeyboardInterrupt`` propagates.
    quick, baselines, progress, seed
        Small settings; add FT, GA, IU, ℓ1-sparse, RL, SalUn; tqdm bars; the seed (default ``cfg.seeds[0]``).
    client : dask.distributed.Client, optional
        Runs the sweep points, baseline grids and the LS-weights search's fine-tunes on the cluster.
    """

    settings = resolve_settings(cfg.task, cfg.explore, cfg.solvers, quick=quick)
    seed = cfg.seeds[0] if seed is None else seed
    task = task_from_config(cfg, seed, progress=progress)
    objectives = make_objectives(
        task, reference=cfg.reference, kl_direction=cfg.kl_direction, names=cfg.objectives
    )
    evaluator = MetricEvaluator(task)
    ref_point = hv_reference_point(task, objectives)
    batch_size = cfg.unlearn_batch_size()
    baseline_names = solver_names("baseline")
    names = list(cfg.solvers) + (list(baseline_names) if baselines else [])
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
        })  # no baseline grids: a grid candidate's key holds its configuration (a longer grid resumes)
    executor = make_executor(client, threads=cfg.threads)

    # Every sweep point and grid candidate is an independent unit; NSGA-II runs here meanwhile.
    plan = {name: _unit_solvers(name, cfg, settings, seed, batch_size) for name in names}
    units = [(solver_unit_key(name, solver), solver) for name, solvers in plan.items() for solver in solvers]
    done: dict[str, Front] = {}
    if store is not None:
        stored = {key: store.get(key, task) for key, _ in units + [(n, None) for n in names]}
        done = {key: front for key, front in stored.items() if front is not None}
    todo = [(key, solver) for key, solver in units if key not in done]
    if done:
        logger.info("resuming: %d of %d units already finished", len(done), len(units) + len(names))

    def finished(name: str) -> Front | None:
        if name in done:
            return done[name]
        family = get_entry(name).family
        if family == "evolutionary":
            return None
        parts = [done.get(solver_unit_key(name, solver)) for solver in plan[name]]
        if any(p is None for p in parts):
            return None
        fronts = cast("list[Front]", parts)  # none is None
        return _baseline_point(name, fronts, evaluator, task) if family == "baseline" else \
            _sweep_front(name, fronts, ref_point)

    def keep(key: str, front: Front) -> None:
        done[key] = front
        if store is not None:
            store.put(key, front)

    # A warm search seeded by a sweep continues it (same points, charged once): that sweep runs first.
    reuse = [n for n in names if n not in done and _reuses_sweep(n, settings, names)]
    seeds = {get_entry(n).seeded_by for n in reuse}
    first = [(key, solver) for key, solver in todo if key.rsplit(".", 1)[0] in seeds]
    later = [(key, solver) for key, solver in todo if key.rsplit(".", 1)[0] not in seeds]
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

        searches = [n for n in names if get_entry(n).family == "evolutionary"]
        for name in tqdm(searches, desc="evolutionary", disable=not progress):
            if name in done:
                continue
            if name in reuse and first and batches and batches[0][0] is first:
                wait_for_next_batch()
            logger.info("running %s", name)
            state = None if checkpoints is None else checkpoints / name
            seed_front = finished(get_entry(name).seeded_by or "") if name in reuse else None
            keep(name, _search_front(name, settings, task, objectives, evaluator, seed, progress,
                                     client=client, checkpoint=state, batch_size=batch_size,
                                     seed_front=seed_front))
            if state is not None:  # the finished front is stored as a unit; its generations are not needed
                shutil.rmtree(state, ignore_errors=True)
        while batches:
            wait_for_next_batch()
        bar.close()
    except KeyboardInterrupt:
        if out is not None:
            logger.info("interrupted: writing the finished solvers to %s with complete: false", out)
            partial = [f for f in (finished(n) for n in names) if f is not None]
            _write(out, [original_front, *partial], task, cfg, objectives, evaluator, ref_point, original,
                   retrain, seed, run_settings, complete=False)
        raise
    fronts = cast("list[Front]", [original_front, *(finished(name) for name in names)])  # all finished here
    front, summary = _write(out, fronts, task, cfg, objectives, evaluator, ref_point, original, retrain, seed,
                            run_settings, complete=True)
    return ExploreResult(front=front, summary=summary, task=task, out=Path(out) if out else None)


def _write(out: str | Path | None, fronts: list[Front], task: UnlearningTask, cfg: RunConfig,
           objectives: Objectives, evaluator: MetricEvaluator, ref_point: np.ndarray,
           original: dict[str, Any], retrain: dict[str, Any], seed: int, run_settings: dict[str, Any], *,
           complete: bool) -> tuple[Front, dict[str, Any]]:
    """Summarise the union front (always), then write the run directory when ``out`` is given."""
    front = Front.concat(fronts).with_(task=task)
    summary = summarize(
        front,
        ref_point=ref_point,
        original=original,
        retrain=retrain,
        task_info=task.describe(),
        reference=cfg.reference,
        kl_direction=cfg.kl_direction,
        manifest=manifest(seeds=[seed], theta0_sha256=task.theta0_hash, objectives=objectives.describe()),
        complete=complete,
        settings=run_settings,
    )
    if out is None:
        return front, summary
    solvers = front.take(front.solver != ORIGINAL)
    figures = {
        "fronts.png": plot_fronts(solvers, original=original["objectives"], retrain=retrain["objectives"],
                                  ref_point=ref_point),
        # the figures the README shows beside fronts.png (``report`` adds the others)
        "metric_space.png": plot_metric_space(solvers, original=original.get("metrics"),
                                              retrain=retrain.get("metrics")),
        "anytime.png": plot_anytime(solvers),
    }
    write_run_dir(out, front, summary, figures=figures, splits=task.splits)
    return front, summary
