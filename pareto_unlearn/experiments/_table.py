"""``pareto-unlearn table``: the layout of the paper's Table 1 on any task (docs/definitions.md §2, §3, §6).

Every method's lr (and α) comes from its grid and is chosen by the oracle-free rule of definitions §6 (grid
points are its candidates: the band around the lowest predicted gap, then its lowest retain_ce) on D_f,
D_r and D_h,sel — never by Retrain's metrics or test data. Grid, predicted gaps, band and choice are
recorded in ``results.json``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from pareto_unlearn._io import atomic_write_json, atomic_write_text
from pareto_unlearn.checkpoint import UnitStore, unit_key
from pareto_unlearn.config import MethodSpec, RunConfig, task_from_config
from pareto_unlearn.distributed import make_executor
from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.front import Front
from pareto_unlearn.manifest import manifest
from pareto_unlearn.metrics import MetricEvaluator
from pareto_unlearn.objectives import Objectives, make_objectives
from pareto_unlearn.selection import OracleFree
from pareto_unlearn.solvers import JacobianDescent, LinearScalarization, Solver, rebuild_model
from pareto_unlearn.solvers._registry import baseline_candidates, solver_names

if TYPE_CHECKING:
    from pareto_unlearn.task import UnlearningTask

__all__ = ["run_table", "TABLE_ROWS", "format_table", "grid_choice"]

logger = logging.getLogger(__name__)

TABLE_ROWS = (
    "Retrain",
    "Original",
    *solver_names("baseline"),
    "UniDist-RAUL-LS",
    "UniDist-RAUL-UPGrad",
    "HeldDist-RAUL-LS",
    "HeldDist-RAUL-UPGrad",
)
_METHOD_OF_ROW = {
    **{name: name for name in solver_names("baseline")},
    "UniDist-RAUL-LS": "RAUL-LS",
    "UniDist-RAUL-UPGrad": "RAUL-UPGrad",
    "HeldDist-RAUL-LS": "RAUL-LS",
    "HeldDist-RAUL-UPGrad": "RAUL-UPGrad",
}


def grid_candidates(row: str, spec: MethodSpec, batch_size: int, seed: int):
    """Solvers of one row's grid (record='last': the row is the last epoch)."""
    common: dict[str, Any] = {
        "epochs": spec.epochs,
        "batch_size": batch_size,
        "seed": seed,
        "progress": False,
        "record": "last",
    }
    method = _METHOD_OF_ROW[row]
    if method == "RAUL-LS":
        return [LinearScalarization(weight=0.5, lr=lr, name=row, **common) for lr in spec.lr]
    if method == "RAUL-UPGrad":
        return [JacobianDescent(aggregator="upgrad", lr=lr, name=row, **common) for lr in spec.lr]
    return baseline_candidates(method, epochs=spec.epochs, lr=spec.lr, alpha=spec.alpha,
                               batch_size=batch_size, seed=seed)


def solver_unit_key(prefix: str, solver: Solver) -> str:
    """The checkpoint key of one run (a grid candidate, a sweep point): ``prefix`` and the solver's class
    and configuration, not its place in a grid."""
    return unit_key(prefix, {"solver": type(solver).__name__, **solver.hyperparameters()})


def _row(method: str, seed: int, metrics: dict, F: np.ndarray, wall_s: float, hp: dict) -> dict[str, Any]:
    return {
        "method": method,
        "seed": seed,
        **{k: float(metrics[k]) for k in ("UA", "RA", "TA", "MIA", "gap")},
        # Class-wise forgetting: TA is on the retained classes; this is the forgotten classes' test accuracy.
        **({"TA_forgotten": float(metrics["TA_forgotten"])} if "TA_forgotten" in metrics else {}),
        "forget_kl": float(F[0]),
        "retain_ce": float(F[1]),
        "wall_s": float(wall_s),
        "hyperparameters": hp,
    }


def _family(row: str) -> str:
    """Which objectives a row optimises: the heldout reference for HeldDist rows, else uniform."""
    return row.split("-")[0] if row.startswith(("UniDist", "HeldDist")) else "UniDist"


def _table_unit(task: UnlearningTask, objectives_by_family: dict[str, Objectives], evaluator: MetricEvaluator,
                item: tuple[str, Solver]) -> Front:
    """One grid candidate of one row: the unit a Dask worker runs."""
    family, solver = item
    return solver.run(task, objectives_by_family[family], evaluator=evaluator)


def run_table(
    cfg: RunConfig, out: str | Path, *, rows: tuple[str, ...] = TABLE_ROWS, progress: bool = True,
    client: Any = None,
) -> dict[str, Any]:
    """Run every row over every seed, write table.md / table.csv / results.json / splits*.npz to ``out``.

    Every grid candidate of every row and seed is an independent unit: run on the Dask ``client`` when
    given, and checkpointed under ``out/checkpoints`` as it finishes, so calling ``run_table`` again on
    the same ``out`` with the same settings continues from the finished candidates.
    """

    out = Path(out)
    specs = cfg.method_specs()
    batch_size = cfg.unlearn_batch_size()
    for row in rows:  # a grid a method refuses stops the run before any model is trained or file written
        if row not in ("Retrain", "Original"):
            grid_candidates(row, specs[_METHOD_OF_ROW[row]], batch_size, cfg.seeds[0])
    executor = make_executor(client, threads=cfg.threads)
    per_seed = []
    for seed in cfg.seeds:
        task = task_from_config(cfg, seed, progress=progress)
        task.splits.save(out / ("splits.npz" if seed == cfg.seeds[0] else f"splits_seed{seed}.npz"))
        evaluator = MetricEvaluator(task)
        objectives = {
            "UniDist": make_objectives(task, reference="uniform", kl_direction=cfg.kl_direction),
            "HeldDist": make_objectives(task, reference="heldout", kl_direction=cfg.kl_direction),
        }
        units = {
            row: [(_family(row), solver)
                  for solver in grid_candidates(row, specs[_METHOD_OF_ROW[row]], batch_size, seed)]
            for row in rows if row not in ("Retrain", "Original")
        }
        per_seed.append((seed, task, evaluator, objectives, units))
    # The grids are not in the fingerprint: each unit's key holds its configuration, so a run resumed with
    # other grids or rows keeps the candidates it shares with them and computes only the new ones.
    store = UnitStore(out / "checkpoints" / "units", {
        "seeds": list(cfg.seeds), "task": per_seed[0][1].describe(),
        "theta0_sha256": [task.theta0_hash for _, task, *_ in per_seed], "kl_direction": cfg.kl_direction,
        "batch_size": batch_size,
    })
    fronts: dict[str, Front] = {}
    pending = []
    for seed, task, evaluator, objectives, units in per_seed:
        keys = [solver_unit_key(f"seed{seed}.{row}", solver)
                for row, items in units.items() for _, solver in items]
        items = [item for row_items in units.values() for item in row_items]
        for key in keys:
            front = store.get(key, task)
            if front is not None:
                fronts[key] = front
        todo = [(k, item) for k, item in zip(keys, items) if k not in fronts]
        shared = executor.share(task, objectives, evaluator)
        pending.append((todo, executor.submit(_table_unit, [item for _, item in todo], shared=shared)))
    bar = tqdm(total=sum(len(todo) for todo, _ in pending), desc="table", disable=not progress)
    try:
        for todo, job in pending:
            def arrived(i: int, front: Front, todo: list[tuple[str, tuple[str, Solver]]] = todo) -> None:
                fronts[todo[i][0]] = front
                store.put(todo[i][0], front)
                bar.update()

            job.wait(arrived)
    except KeyboardInterrupt:  # the finished grid points are in the checkpoints; say how far it got
        n_units = sum(len(items) for *_, units in per_seed for items in units.values())
        atomic_write_json(out / "results.json", {"complete": False, "finished_units": len(fronts),
                                                 "units": n_units, "resume": "rerun with --resume"})
        raise
    finally:
        bar.close()
    results: list[dict[str, Any]] = []
    for seed, task, evaluator, _, units in per_seed:
        results.extend(_seed_rows(seed, task, evaluator, cfg, rows, units, fronts))
    tasks_info = [task.describe() for _, task, *_ in per_seed]
    frame = summarize(results, rows)
    payload: dict[str, Any] = {
        "complete": True,
        "task": {**tasks_info[0], "seeds": list(cfg.seeds), "per_seed": tasks_info},
        "rows": results,
        "manifest": manifest(seeds=list(cfg.seeds), theta0=[t["theta0_sha256"] for t in tasks_info]),
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "table.csv", frame.to_csv(index=False))
    atomic_write_text(out / "table.md", format_table(frame, cfg, payload["manifest"]))
    atomic_write_json(out / "results.json", payload)
    return {"frame": frame, "results": payload}


def _seed_rows(seed: int, task: UnlearningTask, evaluator: MetricEvaluator, cfg: RunConfig,
               rows: tuple[str, ...], units: dict[str, list[tuple[str, Solver]]],
               fronts: dict[str, Front]) -> list[dict[str, Any]]:
    """The table rows of one seed, each grid's oracle-free pick (the grid runs are in ``fronts``)."""
    # forget_kl / retain_ce columns: against the uniform reference, whatever the row optimises.
    report_objectives = make_objectives(task, reference="uniform", kl_direction=cfg.kl_direction)
    rule = OracleFree.for_task(task)
    results = []
    for row in rows:
        if row in ("Retrain", "Original"):
            model = task.retrain if row == "Retrain" else task.original
            metrics = evaluator.retrain_ if row == "Retrain" else evaluator.original_
            wall = task.train_seconds.get(row.lower(), float("nan"))
            results.append(_row(row, seed, metrics, report_objectives.evaluate(model, task), wall,
                                {"recipe": task.recipe.to_dict()}))
            continue
        grid_fronts = [fronts[solver_unit_key(f"seed{seed}.{row}", solver)] for _, solver in units[row]]
        front = Front.concat(grid_fronts)
        grid = [f.provenance[0]["hyperparameters"] for f in grid_fronts]
        grid_wall_s = float(sum(f.cost["wall_s"][-1] for f in grid_fronts))
        if not np.isfinite(front.F).all(axis=1).any():
            # every grid point diverged: the row says so (NaN) instead of stopping the whole table
            logger.warning("table: %s, seed %d: every grid point has non-finite objectives", row, seed)
            nan = float("nan")
            results.append(_row(row, seed, dict.fromkeys(("UA", "RA", "TA", "MIA", "gap"), nan),
                                np.array([nan, nan]), grid_wall_s,
                                {"grid": grid, "chosen": None, "diverged": True}))
            continue
        hp = grid_choice(rule, front, grid)
        chosen = hp["chosen_index"]
        hp["grid_wall_s"] = grid_wall_s
        model = rebuild_model(task, front, chosen)
        metrics = {k: front.metrics[k][chosen] for k in ("UA", "RA", "TA", "MIA", "gap", "TA_forgotten")
                   if k in front.metrics}
        results.append(_row(row, seed, metrics, report_objectives.evaluate(model, task),
                            front.cost["wall_s"][chosen], hp))
    return results


def grid_choice(rule: OracleFree, front: Front, grid: list[dict[str, Any]]) -> dict[str, Any]:
    """The oracle-free choice among a method's grid points (one point per grid entry, in grid order) and
    its record: the grid, the chosen entry and its index, every candidate's predicted gap g̃, interval
    and band membership, the pick's report (``oracle_free``) and the forget accuracies."""
    if len(grid) != len(front):
        raise ConfigError(f"grid_choice: {len(grid)} grid entries for {len(front)} points")
    pick = rule.choose(front)
    table = rule.explain(front).set_index("index").reindex(range(len(front)))
    return {
        "grid": grid,
        "chosen": grid[pick.index],
        "chosen_index": pick.index,
        "rule": repr(rule),
        "predicted_gap": table["predicted_gap"].tolist(),
        "interval": [[lo, hi] for lo, hi in zip(table["low"], table["high"], strict=True)],
        "in_band": [bool(b) if b == b else False for b in table["in_band"]],
        "oracle_free": pick.to_dict(),
        "forget_acc": front.metrics["forget_acc"].tolist(),
    }


def summarize(results: list[dict[str, Any]], rows: tuple[str, ...]) -> pd.DataFrame:
    """Mean ± std over seeds, with the mean |gap to Retrain| per metric (same seed)."""
    data = pd.DataFrame(results)
    retrain = data[data.method == "Retrain"].set_index("seed")
    retrain_wall = retrain["wall_s"]
    out = []
    for row in rows:
        part = data[data.method == row].set_index("seed")
        if part.empty:
            continue
        entry: dict[str, Any] = {"method": row}
        for k in ("UA", "RA", "TA", "MIA"):
            gap = (part[k] - retrain.loc[part.index, k]).abs().mean()
            entry[k] = part[k].mean()
            entry[f"{k}_std"] = part[k].std(ddof=0)
            entry[f"{k}_gap"] = gap
        entry["gap"] = part["gap"].mean()
        entry["diverged_seeds"] = int(part["UA"].isna().sum())  # means are over the other seeds
        if "TA_forgotten" in part:
            entry["TA_forgotten"] = part["TA_forgotten"].mean()
        entry["forget_kl"] = part["forget_kl"].mean()
        entry["retain_ce"] = part["retain_ce"].mean()
        entry["wall_s"] = part["wall_s"].mean()
        entry["wall_rel_retrain"] = (part["wall_s"] / retrain_wall.loc[part.index]).mean()
        out.append(entry)
    return pd.DataFrame(out)


def format_table(frame: pd.DataFrame, cfg: RunConfig, man: dict[str, Any]) -> str:
    """Markdown in the layout of the paper's Table 1."""
    forgotten = "TA_forgotten" in frame.columns
    header = (
        "| Method | UA | RA | TA | MIA | Avg. Gap | "
        + ("TA forgotten classes | " if forgotten else "")
        + "forget_kl | retain_ce | wall s | × Retrain |\n"
        + "|---" * (10 + forgotten)
        + "|\n"
    )
    # rows with a seed whose every grid point diverged: marked † and named under the table
    diverged = {r.method: int(getattr(r, "diverged_seeds", 0) or 0) for r in frame.itertuples(index=False)}
    lines = []
    for r in frame.itertuples(index=False):
        cells = [
            f"{getattr(r, k):.2f} ± {getattr(r, k + '_std'):.2f} ({getattr(r, k + '_gap'):.2f})"
            for k in ("UA", "RA", "TA", "MIA")
        ]
        lines.append(
            f"| {r.method}{' †' if diverged[r.method] else ''} | "
            + " | ".join(cells)
            + f" | {r.gap:.2f}"
            + (f" | {r.TA_forgotten:.2f}" if forgotten else "")
            + f" | {r.forget_kl:.4f} | {r.retain_ce:.4f} | {r.wall_s:.2f}"
            + f" | {r.wall_rel_retrain:.3f} |"
        )
    title = (
        f"**{cfg.task}, forget {cfg.forget}, seeds {','.join(map(str, cfg.seeds))}** — "
        "metrics in %, mean ± std "
        "over seeds (mean |gap to Retrain|); forget_kl against the uniform reference.\n\n"
    )
    note = "".join(f"\n† {method}: every grid point diverged (non-finite objectives) at {n} of "
                   f"{len(cfg.seeds)} seeds; its figures are over the other seeds.\n"
                   for method, n in diverged.items() if n)
    foot = note + (
        f"\nMachine: {man['hardware']['cpu']} ({man['hardware']['cpu_count']} cores), torch "
        f"{man['versions']['torch']}, device {man['hardware']['device']}.\n"
    )
    return title + header + "\n".join(lines) + "\n" + foot
