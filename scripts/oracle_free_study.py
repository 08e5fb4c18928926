"""Does the oracle-free pick (definitions.md §6) beat doing nothing, and does its interval hold the true gap?

For every forget scenario F and seed S this runs what a new user runs,

    pareto-unlearn explore --task digits --forget F --seeds S --baselines --out D
    pareto-unlearn select D --method oracle-free

(in-process: ``pareto_unlearn.cli.main`` for explore and table, the Python API of ``select`` for the
numbers) and writes ``docs/oracle_free.md``: per F, the mean over seeds of the pick's Avg. Gap beside
θ0's, beside the best single-point row of ``pareto-unlearn table`` for the same F and seeds, and beside the
front's best point (Retrain read for evaluation only); the share of runs whose 90 % interval holds the
pick's true gap and the median half-width; and whether the issue's goals are met.

Usage::

    python scripts/oracle_free_study.py                      # the nine runs and the three tables
    python scripts/oracle_free_study.py --table-dir runs/t   # reuse tables in runs/t/<F>/ (table output)
    python scripts/oracle_free_study.py --quick --forget random:0.5 --seeds 0 --work /tmp/w --md /tmp/o.md
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pareto_unlearn.cli import main as cli_main
from pareto_unlearn.rundir import load_run
from pareto_unlearn.selection_export import select_and_export

logger = logging.getLogger("oracle_free_study")

FORGETS = ("random:0.1", "random:0.5", "class:3")
SEEDS = (0, 1, 2)
# --quick: one epoch, one learning rate per baseline and RAUL row (the ones test_cli uses), tiny sweeps
QUICK_CONFIG = """
[methods.FT]
epochs = 1
lr = [0.1]

[methods.GA]
epochs = 1
lr = [0.05]

[methods.RL]
epochs = 1
lr = [0.003]

[methods.SalUn]
epochs = 1
lr = [0.003]

[methods.l1-sparse]
epochs = 1
lr = [0.05]
alpha = [0.001]

[methods.RAUL-LS]
epochs = 1
lr = [0.1]

[methods.RAUL-UPGrad]
epochs = 1
lr = [0.1]

[explore.jd]
lrs = [0.1]
epochs = 2

[explore.ls]
weights = [0.3, 0.7]
lr = 0.2
epochs = 2
"""
QUICK_SOLVERS = "jd,ls"


def _cli(argv: list[str]) -> None:
    """Run one pareto-unlearn command in-process, its printed table kept out of the study's output."""
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli_main(argv)
    if code != 0:
        raise SystemExit(f"pareto-unlearn {' '.join(argv)} exited with {code}")


def _slug(forget: str) -> str:
    return forget.replace(":", "").replace(",", "-").replace(".", "")


def run_one(forget: str, seed: int, work: Path, common: list[str]) -> dict[str, Any]:
    """explore + select for one (F, S); the pick's metrics, its report, θ0's and the front's best."""
    out = work / f"explore-{_slug(forget)}-seed{seed}"
    if not (out / "summary.json").is_file():
        _cli(["explore", "--task", "digits", "--forget", forget, "--seeds", str(seed), "--baselines",
              "--out", str(out), "--force", *common])
    result = select_and_export(out, method="oracle-free")
    summary, front = load_run(out)
    # The solvers' own wall-clock, as the run recorded it (also when an earlier run is reused).
    explore_s = float(sum(row.get("wall_s") or 0.0 for row in summary["solvers"].values()))
    point, report, theta0 = result["point"], result["oracle_free"], summary["original"]["metrics"]
    feasible = front.feasible & np.isfinite(front.metrics["gap"])
    return {
        "forget": forget, "seed": seed, "solver": point["solver"],
        **{f"pick_{k}": float(point[k]) for k in ("gap", "UA", "RA", "TA", "MIA")},
        **{f"theta0_{k}": float(theta0[k]) for k in ("gap", "RA", "TA")},
        "front_best_gap": float(front.metrics["gap"][feasible].min()),
        "predicted": report["gap"], "low": report["low"], "high": report["high"],
        "band_size": report["band_size"], "n_candidates": report["n_candidates"],
        "theta0_in_band": report["theta0_in_band"], "explore_s": explore_s,
    }


def best_table_row(forget: str, seeds: tuple[int, ...], work: Path, table_dir: Path | None,
                   common: list[str]) -> tuple[str, float]:
    """The single-point row of ``table`` (Retrain and Original left out) with the lowest mean Avg. Gap."""
    out = (table_dir or work) / f"table-{_slug(forget)}"
    if table_dir is None and not (out / "table.csv").is_file():
        _cli(["table", "--task", "digits", "--forget", forget, "--seeds", ",".join(map(str, seeds)),
              "--out", str(out), "--force", *common])
    results = json.loads((out / "results.json").read_text())
    ran = sorted({int(r["seed"]) for r in results["rows"]})
    if ran != sorted(seeds):
        raise SystemExit(f"{out}: the table ran seeds {ran}, the study needs {sorted(seeds)}")
    frame = pd.read_csv(out / "table.csv")
    rows = frame[~frame["method"].isin(("Retrain", "Original"))]
    best = rows.loc[rows["gap"].idxmin()]
    return str(best["method"]), float(best["gap"])


def write_markdown(runs: pd.DataFrame, tables: dict[str, tuple[str, float]], path: Path, *,
                   quick: bool, command: str) -> dict[str, Any]:
    """docs/oracle_free.md: the table per F, the interval's coverage, the goals."""
    lines = ["# The oracle-free pick against θ0, the table's best row and the front's best point", "",
             f"Written by `{command}`" + (" (**--quick**: tiny settings, not the study)." if quick else "."),
             "Digits, MLP; per forget set the mean over seeds of the Avg. Gap to Retrain "
             "([definitions](definitions.md) §3) of: the point `pareto-unlearn select --method oracle-free` "
             "picks after `explore --baselines`; θ0; the "
             "best single-point row of `pareto-unlearn table` (same forget set and seeds; the lowest mean "
             "gap of its rows, whose grid choices the same rule made); the front's best point (read from "
             "Retrain: evaluation only).", "",
             "The rule ([definitions](definitions.md) §6) never reads Retrain or the test set: each "
             "candidate's (UA, RA, accuracy on D_h,sel, M̃IA with D_h,sel as non-members) is compared with "
             "Retrain's estimate from θ0 on "
             "D_h,sel; a paired bootstrap (B = 200) gives the noise; the pick is the lowest retain_ce within "
             "one standard error of the lowest predicted gap g̃, θ0 when θ0 is in that band. The interval "
             "below is g̃'s 90 % bootstrap interval for the pick, read as an estimate of its true gap.", "",
             "| forget | seeds | pick gap | θ0 gap | best table row | front's best | pick − θ0 RA | "
             "pick − θ0 TA | θ0 in band |", "|---|---|---:|---:|---|---:|---:|---:|---:|"]
    goals: dict[str, Any] = {}
    for forget, part in runs.groupby("forget", sort=False):
        name, gap = tables.get(forget, ("—", float("nan")))
        d_ra, d_ta = part["pick_RA"] - part["theta0_RA"], part["pick_TA"] - part["theta0_TA"]
        pick, theta0, best = part["pick_gap"].mean(), part["theta0_gap"].mean(), part["front_best_gap"].mean()
        in_band = f"{int(part['theta0_in_band'].sum())}/{len(part)}"
        lines.append(f"| {forget} | {','.join(map(str, part['seed']))} | {pick:.2f} | {theta0:.2f} | "
                     f"{name} {gap:.2f} | {best:.2f} | {d_ra.min():+.2f} | {d_ta.min():+.2f} | {in_band} |")
        if forget.startswith("class"):
            goals[f"{forget}: pick mean gap <= best table row's"] = bool(pick <= gap)
        else:
            goals[f"{forget}: pick mean gap <= θ0's"] = bool(pick <= theta0)
            goals[f"{forget}: no pick with RA > 1 or TA > 2 points below θ0's"] = bool(
                (d_ra >= -1.0).all() and (d_ta >= -2.0).all())
    held = (runs["low"] <= runs["pick_gap"]) & (runs["pick_gap"] <= runs["high"])
    half = (runs["high"] - runs["low"]) / 2
    coverage = float(held.mean())
    goals["90 % interval holds the true gap in >= 80 % of runs"] = bool(coverage >= 0.8)
    lines += ["", "`pick − θ0 RA / TA`: the worst (lowest) over seeds, in points.", "",
              f"**The 90 % interval**: it holds the pick's true gap in {int(held.sum())} of {len(runs)} runs "
              f"({coverage:.2f}); median half-width {half.median():.2f}.", "",
              "## Goals (issue 15)", ""]
    lines += [f"- {'met' if ok else '**not met**'}: {goal}" for goal, ok in goals.items()]
    lines += ["", "## Every run", "",
              "| forget | seed | pick (solver) | pick gap | g̃ | 90 % interval | band | θ0 gap | "
              "front's best | UA | RA | TA | MIA | solvers' s |",
              "|---|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs.itertuples(index=False):
        lines.append(f"| {r.forget} | {r.seed} | {r.solver} | {r.pick_gap:.2f} | {r.predicted:.2f} | "
                     f"{r.low:.2f}–{r.high:.2f} | {r.band_size}/{r.n_candidates} | {r.theta0_gap:.2f} | "
                     f"{r.front_best_gap:.2f} | {r.pick_UA:.2f} | {r.pick_RA:.2f} | {r.pick_TA:.2f} | "
                     f"{r.pick_MIA:.2f} | {r.explore_s:.0f} |")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"coverage": coverage, "median_half_width": float(half.median()), "goals": goals}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forget", action="append", help=f"forget set (repeatable; default {FORGETS})")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)), help="comma-separated seeds")
    parser.add_argument("--work", type=Path, default=Path("runs/oracle_free_study"), help="run directories")
    parser.add_argument("--table-dir", type=Path, help="existing table outputs: DIR/table-<F>/ (skip table)")
    parser.add_argument("--no-table", action="store_true", help="leave the table column out")
    parser.add_argument("--md", type=Path, default=Path("docs/oracle_free.md"), help="the Markdown to write")
    parser.add_argument("--quick", action="store_true", help="tiny settings (a smoke test, not the study)")
    parser.add_argument("--cache-dir", help="model cache (default $PARETO_UNLEARN_CACHE)")
    args = parser.parse_args(argv)
    forgets = tuple(args.forget or FORGETS)
    seeds = tuple(int(s) for s in args.seeds.split(",") if s.strip())
    args.work.mkdir(parents=True, exist_ok=True)
    common = ["--no-progress"] + (["--cache-dir", args.cache_dir] if args.cache_dir else [])
    explore_common = list(common)
    if args.quick:
        config = args.work / "quick.toml"
        config.write_text(QUICK_CONFIG, encoding="utf-8")
        common += ["--config", str(config)]
        explore_common = [*common, "--quick", "--solvers", QUICK_SOLVERS]
    runs = []
    for forget in forgets:
        for seed in seeds:
            runs.append(run_one(forget, seed, args.work, explore_common))
            logger.info("%s seed %d: pick gap %.2f (θ0 %.2f)", forget, seed, runs[-1]["pick_gap"],
                        runs[-1]["theta0_gap"])
    tables = {} if args.no_table else {f: best_table_row(f, seeds, args.work, args.table_dir, common)
                                       for f in forgets}
    frame = pd.DataFrame(runs)
    frame.to_csv(args.work / "oracle_free_runs.csv", index=False)
    command = "python scripts/oracle_free_study.py" + (" " + " ".join(argv) if argv else "")
    return {"runs": frame, "tables": tables, **write_markdown(frame, tables, args.md, quick=args.quick,
                                                              command=command)}


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    outcome = main()
    print(json.dumps({k: outcome[k] for k in ("coverage", "median_half_width", "goals", "tables")}, indent=1))
