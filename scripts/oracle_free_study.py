"""Does the oracle-free pick (definitions.md §6) beat doing nothing, and does its prediction interval hold
the true gap?

For every scenario (task, model, forget set F, seed S) this runs what a new user runs,

    pareto-unlearn explore --task T --model M --forget F --seeds S --quick --solvers ... --out D
    pareto-unlearn select D --method oracle-free

(in-process: ``pareto_unlearn.cli.main`` for explore and table, the Python API of ``select`` for the
numbers) and writes ``docs/oracle_free.md``: per forget set the mean over seeds of the pick's Avg. Gap
beside θ0's and, for class-wise forget sets, beside the best single-point row of ``pareto-unlearn table``
for the same F and seeds (Retrain read for evaluation only); the share of runs whose 90 % prediction
interval holds the pick's true gap, per term and per nominal level (the calibration table); and whether the
issue's goals are met.

Usage::

    python scripts/oracle_free_study.py                       # the full study (MLP + CNN, ~20 runs)
    python scripts/oracle_free_study.py --task fashion-mnist  # the same study on another task
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
from pareto_unlearn.selection import OracleFree
from pareto_unlearn.selection_export import select_and_export

logger = logging.getLogger("oracle_free_study")

# (model, forget set): digits MLP random 10/30/50 % and class-wise (two single classes, one pair) on
# every seed; the CNN on fewer forget sets (its runs cost more)
MLP_FORGETS = ("random:0.1", "random:0.3", "random:0.5", "class:3", "class:8", "class:3,5")
CNN_FORGETS = ("random:0.3", "class:3")
SEEDS = (0, 1, 2)
CNN_SEEDS = (0, 1, 2)
LEVELS = (0.5, 0.8, 0.9, 0.95)
# The candidates of a study run: explore's quick settings of these gradient solvers (plus the baselines'
# grids with --baselines): the population searches cost too much for ~20 runs on a shared 2-core machine.
# --full-explore runs every default solver at its full settings instead.
STUDY_SOLVERS = "jd,ls,ls-last-layer,jd-last-layer"
TERMS = ("UA", "RA", "TA", "MIA")
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


def _coverage_row(front: Any, kind: str, true_gap: float) -> dict[str, Any]:
    """The pick's prediction interval at every nominal level of LEVELS (same seed: same replicates, same
    pick) and whether it holds the true gap."""
    out: dict[str, Any] = {}
    for level in LEVELS:
        pick = OracleFree(kind, level=level).choose(front)
        out[f"held_{round(100 * level)}"] = bool(pick.low <= true_gap <= pick.high)
        out[f"low_{round(100 * level)}"], out[f"high_{round(100 * level)}"] = pick.low, pick.high
    return out


def run_one(task: str, model: str, forget: str, seed: int, work: Path, common: list[str]) -> dict[str, Any]:
    """explore + select for one scenario; the pick's metrics, its report, θ0's, and the coverage."""
    out = work / f"explore-{task}-{model}-{_slug(forget)}-seed{seed}"
    if not (out / "summary.json").is_file():
        _cli(["explore", "--task", task, "--model", model, "--forget", forget, "--seeds", str(seed),
              "--out", str(out), "--force", *common])
    result = select_and_export(out, method="oracle-free")
    summary, front = load_run(out)
    explore_s = float(sum(row.get("wall_s") or 0.0 for row in summary["solvers"].values()))
    point, report, theta0 = result["point"], result["oracle_free"], summary["original"]["metrics"]
    retrain = summary["retrain"]["metrics"]
    feasible = front.feasible & np.isfinite(front.metrics["gap"])
    kind = "class" if forget.startswith("class") else "random"
    terms = report["terms"]
    row: dict[str, Any] = {
        "task": task, "model": model, "forget": forget, "seed": seed, "kind": kind, "solver": point["solver"],
        **{f"pick_{k}": float(point[k]) for k in ("gap", *TERMS)},
        **{f"theta0_{k}": float(theta0[k]) for k in ("gap", "RA", "TA")},
        "front_best_gap": float(front.metrics["gap"][feasible].min()),
        "predicted": report["gap"], "low": report["low"], "high": report["high"],
        "band_size": report["band_size"], "n_candidates": report["n_candidates"],
        "theta0_in_band": report["theta0_in_band"], "explore_s": explore_s,
    }
    for k in TERMS:  # per term: does the term's interval hold |pick − Retrain| on that metric?
        if k in terms:
            true = abs(float(point[k]) - float(retrain[k]))
            row[f"true_{k}"], row[f"pred_{k}"] = true, terms[k]["gap"]
            row[f"held_{k}"] = bool(terms[k]["low"] <= true <= terms[k]["high"])
            # which side a miss falls on: the predicted Retrain value vs the real one (TA on θ0's scale)
            row[f"retrain_{k}"] = float(retrain[k])
            row[f"retrain_pred_{k}"] = terms[k]["retrain"]
    row.update(_coverage_row(front, kind, row["pick_gap"]))
    return row


def best_table_row(task: str, model: str, forget: str, seeds: tuple[int, ...], work: Path,
                   table_dir: Path | None, common: list[str]) -> tuple[str, float]:
    """The single-point row of ``table`` (Retrain and Original left out) with the lowest mean Avg. Gap."""
    out = (table_dir or work) / f"table-{task}-{model}-{_slug(forget)}"
    if table_dir is None and not (out / "table.csv").is_file():
        _cli(["table", "--task", task, "--model", model, "--forget", forget, "--seeds",
              ",".join(map(str, seeds)), "--out", str(out), "--force", *common])
    if not (out / "results.json").is_file():  # --table-dir without this table: the column stays empty
        logger.warning("no table in %s: the best table row of %s %s %s is left out", out, task, model, forget)
        return "—", float("nan")
    results = json.loads((out / "results.json").read_text())
    ran = sorted({int(r["seed"]) for r in results["rows"]})
    if ran != sorted(seeds):
        raise SystemExit(f"{out}: the table ran seeds {ran}, the study needs {sorted(seeds)}")
    frame = pd.read_csv(out / "table.csv")
    rows = frame[~frame["method"].isin(("Retrain", "Original"))]
    best = rows.loc[rows["gap"].idxmin()]
    return str(best["method"]), float(best["gap"])


def simulated_coverage(n_sims: int, level: float, seed: int, *, theta0_error: float | None = None) -> float:
    """Share of simulated runs in which a candidate's prediction interval holds its true gap to a Retrain
    of known error rate (no model trained: §6's model of the data, known to the simulation).

    Each run draws θ0's unseen error e0 and its non-member rate m0 (from 0.2 × Beta(½, ½), a scaled
    Jeffreys prior, unless ``theta0_error`` fixes e0), Retrain's rates e0 (1 − r)^(−a) and m0 (1 − r)^(−a)
    with a ~ U(0, 1), θ0's and the candidate's results on D_h (287 samples, the digits size; the
    candidate errs 0.5 point more), and then the one Retrain of the run: UA and M̃IA measured on D_f
    (150), TA on the test split (360).
    """
    from pareto_unlearn.selection import OracleFreeData, estimate_gaps

    n_h, n_f, n_retain, n_test, delta = 287, 150, 1000, 360, 0.005
    r = n_f / (n_f + n_retain)
    rng = np.random.default_rng(seed)
    held = 0
    for s in range(n_sims):
        e0, m0 = 0.2 * rng.beta(0.5, 0.5, size=2)
        e0 = e0 if theta0_error is None else theta0_error
        factor = (1 - r) ** -rng.uniform()
        e_R, m_R = min(1.0, e0 * factor), min(1.0, m0 * factor)
        theta0 = rng.random(n_h) >= e0
        candidate = theta0 & (rng.random(n_h) >= delta / (1 - e0))
        forget_correct, forget_nonmember = rng.random((1, n_f)) >= 0.04, rng.random((1, n_f)) < 0.05
        data = OracleFreeData("random", forget_correct, candidate[None], np.array([99.8]), theta0, 100.0,
                              n_retain=n_retain, n_test=n_test, forget_nonmember=forget_nonmember,
                              target_heldout_nonmember=rng.random(n_h) < m0)
        est = estimate_gaps(data, seed=s, level=level)
        true_gap = np.mean([abs(100 * (1 - forget_correct.mean()) - 100 * rng.binomial(n_f, e_R) / n_f),
                            0.2,
                            abs(100 * (1 - e0 - delta) - 100 * (1 - rng.binomial(n_test, e_R) / n_test)),
                            abs(100 * forget_nonmember.mean() - 100 * rng.binomial(n_f, m_R) / n_f)])
        held += est.low[0] <= true_gap <= est.high[0]
    return held / n_sims


def _fmt_cov(held: pd.Series) -> str:
    return f"{int(held.sum())}/{len(held)} ({held.mean():.2f})" if len(held) else "—"


def write_markdown(runs: pd.DataFrame, tables: dict[tuple[str, str], tuple[str, float]], path: Path, *,
                   quick: bool, command: str, explore: str = "explore") -> dict[str, Any]:
    """docs/oracle_free.md: the table per forget set, the coverage (per term, per level), every run, the
    goals."""
    lines = ["# The oracle-free pick: its gap against θ0 and the table's best row, and its prediction "
             "interval", "",
             f"Written by `{command}`" + (" (**--quick**: tiny settings, not the study)." if quick else "."),
             "Per scenario (task, model, forget set) the mean over seeds of the Avg. Gap to Retrain "
             "([definitions](definitions.md) §3) "
             f"of: the point `pareto-unlearn select --method oracle-free` picks after `{explore}`; "
             "θ0; for class-wise forget sets the best single-point row of `pareto-unlearn table` (same "
             "forget set and seeds; the lowest mean gap of its rows, whose grid choices the same rule "
             "made); the front's best point (read from Retrain: evaluation only).", "",
             "The rule ([definitions](definitions.md) §6) never reads Retrain or test data: each "
             "candidate's UA and M̃IA on D_f (not resampled), RA, and T̃A (its accuracy minus θ0's on a "
             "resample of D_h = D_h,sel ∪ D_h,ref) are compared with a Retrain drawn anew in each of "
             "B = 400 replicates (θ0's unseen error from its Jeffreys posterior on D_h, times the "
             "learning-curve factor (1 − r)^(−a), a ~ U(0, 1), class-wise a = 0; binomial measurement on "
             "n_f and on the test split's size; M̃IA the same way from θ0's 5-fold cross-fitted calls on "
             "D_h). g̃ is the mean replicate gap; the pick is the lowest retain_ce within one replicate "
             "standard deviation (of the paired difference) of the lowest g̃, θ0 when θ0 is in that band; "
             "the interval is the 5th–95th percentile of the pick's replicate gaps, a prediction "
             "interval for its true gap.", "",
             "| task | model | forget | seeds | pick gap | θ0 gap | best table row | front's best | "
             "worst pick − θ0 | worst RA drop | worst TA drop | θ0 in band | interval holds |",
             "|---|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    goals: dict[str, Any] = {}
    for (task, model, forget), part in runs.groupby(["task", "model", "forget"], sort=False):
        name, gap = tables.get((f"{task}-{model}", forget), ("—", float("nan")))
        d_ra, d_ta = part["pick_RA"] - part["theta0_RA"], part["pick_TA"] - part["theta0_TA"]
        pick, theta0, best = part["pick_gap"].mean(), part["theta0_gap"].mean(), part["front_best_gap"].mean()
        worse = (part["pick_gap"] - part["theta0_gap"]).max()
        in_band = f"{int(part['theta0_in_band'].sum())}/{len(part)}"
        held = (part["low"] <= part["pick_gap"]) & (part["pick_gap"] <= part["high"])
        table_cell = f"{name} {gap:.2f}" if np.isfinite(gap) else "—"
        lines.append(f"| {task} | {model} | {forget} | {','.join(map(str, part['seed']))} | {pick:.2f} | "
                     f"{theta0:.2f} | {table_cell} | {best:.2f} | {worse:+.2f} | {d_ra.min():+.2f} | "
                     f"{d_ta.min():+.2f} | {in_band} | {int(held.sum())}/{len(part)} |")
        label = f"{task} {model} {forget}"
        if forget.startswith("class"):
            if np.isfinite(gap):
                goals[f"{label}: pick mean gap {pick:.2f} <= best table row's {gap:.2f}"] = bool(pick <= gap)
        else:
            goals[f"{label}: pick mean gap {pick:.2f} <= θ0's {theta0:.2f}"] = bool(pick <= theta0)
            goals[f"{label}: no pick worse than θ0 by more than 0.2 (worst {worse:+.2f})"] = \
                bool(worse <= 0.2)
        goals[f"{label}: no pick with RA > 1 or TA > 2 points below θ0's (worst {d_ra.min():+.2f} / "
              f"{d_ta.min():+.2f})"] = bool((d_ra >= -1.0).all() and (d_ta >= -2.0).all())
    held = (runs["low"] <= runs["pick_gap"]) & (runs["pick_gap"] <= runs["high"])
    half = (runs["high"] - runs["low"]) / 2
    coverage = float(held.mean())
    goals[f"90 % interval holds the true gap in >= 80 % of >= 15 runs ({int(held.sum())} of {len(runs)})"] = \
        bool(coverage >= 0.8 and len(runs) >= 15)
    lines += ["", "`worst pick − θ0`: the largest pick gap minus θ0's gap over seeds; `worst RA / TA drop`: "
              "the lowest pick − θ0 over seeds, in points.", "",
              f"**The 90 % prediction interval** holds the pick's true gap in {_fmt_cov(held)} runs; median "
              f"half-width {half.median():.2f}. True gap above the interval (worse than predicted): "
              f"{int((runs['pick_gap'] > runs['high']).sum())}; below it: "
              f"{int((runs['pick_gap'] < runs['low']).sum())}.", "",
              "## Calibration: coverage of the pick's interval at each nominal level", "",
              "| nominal | all runs | random | class-wise |", "|---:|---:|---:|---:|"]
    calibration = {}
    for level in LEVELS:
        key = f"held_{round(100 * level)}"
        calibration[level] = float(runs[key].mean())
        lines.append(f"| {100 * level:.0f} % | {_fmt_cov(runs[key])} | "
                     f"{_fmt_cov(runs.loc[runs.kind == 'random', key])} | "
                     f"{_fmt_cov(runs.loc[runs.kind == 'class', key])} |")
    lines += ["", "## Which term a miss comes from", "",
              "Per term, how often the term's own 90 % interval holds |pick − Retrain| on that metric, the "
              "mean predicted and true term, and Retrain's metric predicted (mean of its draws; TA as "
              "Retrain's TA minus θ0's unseen accuracy) against its true value.", "",
              "| term | kind | interval holds | mean predicted term | mean true term | "
              "mean Retrain predicted | mean Retrain true |", "|---|---|---:|---:|---:|---:|---:|"]
    for k in TERMS:
        for kind in ("random", "class"):
            part = runs[runs.kind == kind]
            if f"held_{k}" not in part or part[f"held_{k}"].isna().all():
                continue
            part = part[part[f"held_{k}"].notna()]
            retrain_true = part[f"retrain_{k}"]
            if k == "TA":  # on the predicted scale: Retrain's TA minus θ0's TA (θ0's unseen accuracy)
                retrain_true = part["retrain_TA"] - part["theta0_TA"]
            lines.append(f"| {k} | {kind} | {_fmt_cov(part[f'held_{k}'].astype(bool))} | "
                         f"{part[f'pred_{k}'].mean():.2f} | {part[f'true_{k}'].mean():.2f} | "
                         f"{part[f'retrain_pred_{k}'].mean():.2f} | {retrain_true.mean():.2f} |")
    lines += ["", "## The same interval on simulated runs of known Retrain rate", "",
              "`simulated_coverage` (no model trained; §6's model of the data known to the simulation, "
              "200 runs per cell, seeds 0–3): coverage of the 90 % interval when θ0's unseen error is "
              "drawn from a scaled Jeffreys prior, and when it is fixed at 3 %.", "",
              "| θ0's unseen error | seed 0 | seed 1 | seed 2 | seed 3 |", "|---|---:|---:|---:|---:|"]
    for label, error in (("0.2 × Beta(½, ½)", None), ("3 % fixed", 0.03)):
        cells = [f"{simulated_coverage(200, 0.9, seed, theta0_error=error):.3f}" for seed in range(4)]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "## Goals (issue 24)", ""]
    lines += [f"- {'met' if ok else '**not met**'}: {goal}" for goal, ok in goals.items()]
    lines += ["", "## Every run", "",
              "| task | model | forget | seed | pick (solver) | pick gap | g̃ | 90 % interval | band | "
              "θ0 gap | "
              "front's best | UA | RA | TA | MIA | solvers' s |",
              "|---|---|---|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs.itertuples(index=False):
        lines.append(f"| {r.task} | {r.model} | {r.forget} | {r.seed} | {r.solver} | {r.pick_gap:.2f} | "
                     f"{r.predicted:.2f} | {r.low:.2f}–{r.high:.2f} | {r.band_size}/{r.n_candidates} | "
                     f"{r.theta0_gap:.2f} | {r.front_best_gap:.2f} | {r.pick_UA:.2f} | {r.pick_RA:.2f} | "
                     f"{r.pick_TA:.2f} | {r.pick_MIA:.2f} | {r.explore_s:.0f} |")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"coverage": coverage, "n_runs": len(runs), "median_half_width": float(half.median()),
            "calibration": calibration, "goals": goals}


def scenarios(task: str, forgets: tuple[str, ...] | None, seeds: tuple[int, ...], cnn: bool,
              cnn_seeds: tuple[int, ...]) -> list[tuple[str, str, str, int]]:
    """(task, model, forget, seed) of every run: the MLP on every forget set and seed, the CNN on fewer."""
    out = [(task, "mlp", f, s) for f in (forgets or MLP_FORGETS) for s in seeds]
    if cnn:
        out += [(task, "cnn", f, s) for f in (forgets or CNN_FORGETS) for s in cnn_seeds]
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the study (or reuse its run directories) and write the Markdown; the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="digits",
                        help="digits (default) or another task, e.g. fashion-mnist")
    parser.add_argument("--forget", action="append", help=f"forget set (repeatable; default {MLP_FORGETS})")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)), help="comma-separated seeds")
    parser.add_argument("--cnn-seeds", default=",".join(map(str, CNN_SEEDS)), help="seeds of the CNN runs")
    parser.add_argument("--no-cnn", action="store_true", help="leave the CNN runs out")
    parser.add_argument("--work", type=Path, default=Path("runs/oracle_free_study"), help="run directories")
    parser.add_argument("--table-dir", type=Path, help="existing table outputs: DIR/table-<T>-<M>-<F>/")
    parser.add_argument("--no-table", action="store_true", help="leave the table column out")
    parser.add_argument("--md", type=Path, default=Path("docs/oracle_free.md"), help="the Markdown to write")
    parser.add_argument("--quick", action="store_true", help="tiny settings (a smoke test, not the study)")
    parser.add_argument("--cache-dir", help="model cache (default $PARETO_UNLEARN_CACHE)")
    parser.add_argument("--solvers", default=STUDY_SOLVERS,
                        help=f"explore's solvers (default {STUDY_SOLVERS})")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of explore and table")
    parser.add_argument("--baselines", action="store_true",
                        help="the baselines' grid points as candidates too")
    parser.add_argument("--full-explore", action="store_true",
                        help="every default solver at full settings (slow) instead of --solvers, quick")
    args = parser.parse_args(argv)
    seeds = tuple(int(s) for s in args.seeds.split(",") if s.strip())
    cnn_seeds = tuple(int(s) for s in args.cnn_seeds.split(",") if s.strip())
    args.work.mkdir(parents=True, exist_ok=True)
    # one torch thread per process: on a shared machine more threads cost several times the CPU
    common = ["--no-progress", "--threads", str(args.threads)] + (["--cache-dir", args.cache_dir]
                                                                 if args.cache_dir else [])
    explore_common = common if args.full_explore else [*common, "--quick", "--solvers", args.solvers]
    explore_common += ["--baselines"] if args.baselines or args.quick else []
    if args.quick:
        config = args.work / "quick.toml"
        config.write_text(QUICK_CONFIG, encoding="utf-8")
        common += ["--config", str(config)]
        explore_common = [*common, "--quick", "--solvers", QUICK_SOLVERS, "--baselines"]
    todo = scenarios(args.task, tuple(args.forget) if args.forget else None, seeds,
                     not (args.no_cnn or args.quick), cnn_seeds)
    runs = []
    for task, model, forget, seed in todo:
        runs.append(run_one(task, model, forget, seed, args.work, explore_common))
        logger.info("%s %s %s seed %d: pick gap %.2f (θ0 %.2f), interval %.2f–%.2f", task, model, forget,
                    seed, runs[-1]["pick_gap"], runs[-1]["theta0_gap"], runs[-1]["low"], runs[-1]["high"])
        pd.DataFrame(runs).to_csv(args.work / "oracle_free_runs.csv", index=False)  # progress kept
    tables: dict[tuple[str, str], tuple[str, float]] = {}
    if not args.no_table:  # the class-wise goal compares with the table's best single-point row
        for task, model, forget in dict.fromkeys((t, m, f) for t, m, f, _ in todo if f.startswith("class")):
            ran = tuple(s for t, m, f, s in todo if (t, m, f) == (task, model, forget))
            tables[(f"{task}-{model}", forget)] = best_table_row(task, model, forget, ran, args.work,
                                                                 args.table_dir, common)
    frame = pd.DataFrame(runs)
    frame.to_csv(args.work / "oracle_free_runs.csv", index=False)
    command = "python scripts/oracle_free_study.py" + (" " + " ".join(argv) if argv else "")
    flags = [f for f in explore_common if f != "--no-progress"]
    flags = [f for i, f in enumerate(flags) if f != "--threads" and (i == 0 or flags[i - 1] != "--threads")]
    explore = " ".join(["explore --task T --model M --forget F --seeds S", *flags])
    return {"runs": frame, "tables": tables, **write_markdown(frame, tables, args.md, quick=args.quick,
                                                              command=command, explore=explore)}


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    outcome = main()
    print(json.dumps({k: outcome[k] for k in ("coverage", "n_runs", "median_half_width", "calibration",
                                              "goals")}, indent=1, default=str))
