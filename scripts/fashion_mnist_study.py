"""Fashion-MNIST on a CPU: the paper's Table 1, θ0's gap, the fronts, the oracle-free pick, the comparison.

For each forget set F (random 10 %, random 50 %, class 3) this runs what a user runs on Debian's
``dataset-fashion-mnist`` (the CPU recipe: the small CNN on ``--size small``, docs/definitions.md §2):

    pareto-unlearn table   --task fashion-mnist --forget F --seeds 0,1,2 --out W/table-F
    pareto-unlearn explore --task fashion-mnist --forget F --seeds 0 --quick --baselines --out W/explore-F
    pareto-unlearn select  W/explore-F                      # the oracle-free pick and its interval
    pareto-unlearn compare W/explore-F --out W/compare-F --budgets 1,2,5,10

and writes ``docs/fashion_mnist.md`` (the tables, θ0's Avg. Gap per seed, the pick against Retrain, the
same-space / across-space budget table of scripts/fair_comparison.py, and the measured time of every
step) and ``docs/fashion_mnist_<F>.png`` (each explore run's fronts, copied from the run). A step whose
output is already in W is reused with ``--reuse``, so an interrupted study continues.

Usage::

    python scripts/fashion_mnist_study.py --jobs 3                 # the full study, a process per forget set
    python scripts/fashion_mnist_study.py --forgets random:0.1 --seeds 0   # one forget set, one seed
    python scripts/fashion_mnist_study.py --reuse --write-only     # the doc from the runs finished so far
    python scripts/fashion_mnist_study.py --quick --data-root DIR --work /tmp/w --md /tmp/f.md   # a test
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from pareto_unlearn._io import atomic_write_text
from pareto_unlearn.cli import main as cli_main
from pareto_unlearn.config import load_config, task_from_config
from pareto_unlearn.experiments import budget_table
from pareto_unlearn.metrics import MetricEvaluator
from pareto_unlearn.selection_export import select_and_export

FORGETS = ("random:0.1", "random:0.5", "class:3")
SEEDS = (0, 1, 2)
BUDGETS = (1, 2, 5, 10)
QUICK_SOLVERS = "nsga2-last-layer,ls-last-layer,jd-last-layer,jd,ls"
# --quick (a test): tiny recipe, one grid point per method, tiny searches, on whatever --data-root holds.
QUICK_CONFIG = """\
task = "fashion-mnist"
model = "mlp"
batch_size = 64
[recipe]
epochs = 2
lr = 0.05
batch_size = 32
milestones = [1]
[methods.FT]
epochs = 1
lr = [0.05]
[methods.GA]
epochs = 1
lr = [0.01]
[methods.RL]
epochs = 1
lr = [0.01]
[methods.SalUn]
epochs = 1
lr = [0.01]
[methods.l1-sparse]
epochs = 1
lr = [0.01]
alpha = [0.0001]
[methods.RAUL-LS]
epochs = 1
lr = [0.01]
[methods.RAUL-UPGrad]
epochs = 1
lr = [0.01]
[explore.nsga2-last-layer]
pop_size = 6
n_gen = 2
[explore.ls-last-layer]
weights = [0.3, 0.7]
epochs = 10
[explore.jd-last-layer]
lrs = [0.3]
epochs = 10
pref_vectors = [[0.5, 0.5]]
[explore.jd]
lrs = [0.01]
epochs = 1
[explore.ls]
weights = [0.3, 0.7]
epochs = 1
"""


def _fair_comparison() -> ModuleType:
    """scripts/fair_comparison.py, for its per-space budget summary (the same table as its study)."""
    path = Path(__file__).with_name("fair_comparison.py")
    spec = importlib.util.spec_from_file_location("fair_comparison_script", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cli(args: list[str]) -> str:
    """Run one pareto-unlearn command; its printed output, or SystemExit naming the command."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = cli_main(args)
    if code != 0:
        raise SystemExit(f"pareto-unlearn {' '.join(args)} failed (exit {code})")
    return buffer.getvalue()


def _slug(forget: str) -> str:
    return forget.replace(":", "-").replace(",", "_").replace(".", "")


class _Clock:
    """Wall-clock and CPU seconds of each step (the machine may be shared: CPU seconds say what one
    core spent). Each step's figures are kept in ``work/times/``, so a step reused from an earlier (or a
    parallel) run of the study still shows what it cost when it ran."""

    def __init__(self, work: Path) -> None:
        self.folder = work / "times"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.rows: list[tuple[str, float, float, bool]] = []
        self.started = time.time()  # a step recorded before this is from an earlier run, not this run's jobs

    def _file(self, name: str) -> Path:
        return self.folder / (_slug("".join(c if c.isalnum() or c in ":.," else "-" for c in name)) + ".json")

    @contextlib.contextmanager
    def step(self, name: str, reused: bool = False, continued: bool = False):
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        recorded = self._file(name)
        earlier = False
        if reused and recorded.is_file():
            earlier = recorded.stat().st_mtime < self.started
            kept = json.loads(recorded.read_text())
            continued = bool(kept.get("continued"))
            wall, cpu = float(kept["wall_s"]), float(kept["cpu_s"])
        elif not reused:
            atomic_write_text(recorded, json.dumps({"wall_s": wall, "cpu_s": cpu, "continued": continued}))
        if continued:  # the cut part's time was lost with it: say that this is the rest only
            name += " (only the part after a cut: continued with --resume)"
        self.rows.append((name, wall, cpu, earlier))

    def total_s(self) -> float:
        """The steps' wall seconds, reused ones as they were recorded."""
        return sum(wall for _, wall, _, _ in self.rows)

    def reused(self) -> int:
        """How many steps were taken from an earlier run of the study (their recorded figures shown)."""
        return sum(earlier for *_, earlier in self.rows)

    def markdown(self) -> list[str]:
        lines = ["| step | wall s | CPU s (this process) |", "|---|---|---|"]
        for name, wall, cpu, earlier in self.rows:
            lines.append(f"| {name}{' (reused: as recorded when it ran)' if earlier else ''} | {wall:.0f} | "
                         f"{cpu:.0f} |")
        return lines


def _pick(run_dir: Path) -> list[str]:
    """The oracle-free pick of a run: its predicted gap and interval against its measured gap."""
    result = select_and_export(run_dir, method="oracle-free")
    point, certainty = result["point"], result.get("oracle_free") or {}
    lines = [f"- chosen: `{point['solver']}` point {point['point']}: UA {point['UA']:.2f}, "
             f"RA {point['RA']:.2f}, TA {point['TA']:.2f}, MIA {point['MIA']:.2f}; "
             f"measured gap to Retrain **{point['gap']:.2f}**"]
    if certainty:
        inside = certainty["low"] <= point["gap"] <= certainty["high"]
        lines.append(f"- predicted without Retrain or test data: {certainty['gap']:.2f} "
                     f"({100 * certainty['level']:.0f} % interval "
                     f"{certainty['low']:.2f}–{certainty['high']:.2f}; "
                     f"the measured gap is {'inside' if inside else 'outside'} it). {certainty['message']}")
    return lines


def _front_summary(run_dir: Path) -> list[str]:
    """Per solver: HV, non-dominated points, the best gap to Retrain among its points, its wall time."""
    summary = json.loads((run_dir / "summary.json").read_text())
    points = pd.read_csv(run_dir / "points.csv")
    original = summary["original"]["metrics"]
    lines = [f"θ0 in this run: UA {original['UA']:.2f}, RA {original['RA']:.2f}, TA {original['TA']:.2f}, "
             f"MIA {original['MIA']:.2f}, gap {original['gap']:.2f}.", "",
             "| solver | HV | non-dominated | best gap of its points | wall s |", "|---|---|---|---|---|"]
    for name, info in summary["solvers"].items():
        gaps = points.loc[points["solver"] == name, "gap"] if "gap" in points else pd.Series(dtype=float)
        best = f"{gaps.min():.2f}" if len(gaps) and np.isfinite(gaps.min()) else "–"
        lines.append(f"| {name} | {info['hv']:.4g} | {info['n_nondominated']} | {best} | "
                     f"{info['wall_s']:.1f} |")
    return lines


def main(argv: list[str] | None = None) -> list[str]:
    """Run the study; returns the lines of the written markdown."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one forget set, one seed, tiny settings")
    parser.add_argument("--forgets", help="forget sets separated by ';', default: " + "; ".join(FORGETS))
    parser.add_argument("--seeds", help="comma-separated table seeds, default 0,1,2")
    parser.add_argument("--data-root", help="folder of the idx files (default: Debian's package)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of each command (default 1)")
    parser.add_argument("--work", default="runs/fashion_mnist", help="folder of the runs")
    parser.add_argument("--md", default="docs/fashion_mnist.md", help="the markdown to write")
    parser.add_argument("--reuse", action="store_true", help="keep runs already finished in --work")
    parser.add_argument("--jobs", type=int, default=1,
                        help="run the forget sets as this many processes at once (each --threads), then "
                             "write the doc from their runs")
    parser.add_argument("--write-only", action="store_true",
                        help="with --reuse: write the doc from the finished runs in --work, run nothing new")
    args = parser.parse_args(argv)
    work, md = Path(args.work), Path(args.md)
    work.mkdir(parents=True, exist_ok=True)
    forgets = tuple(args.forgets.split(";")) if args.forgets else (FORGETS[:1] if args.quick else FORGETS)
    seeds = (tuple(int(s) for s in args.seeds.split(",")) if args.seeds
             else (SEEDS[:1] if args.quick else SEEDS))
    common = ["--task", "fashion-mnist", "--threads", str(args.threads), "--no-progress"]
    if args.data_root:
        common += ["--data-root", args.data_root]
    explore_extra = ["--quick"]
    config = None
    if args.quick:
        config = work / "quick.toml"
        config.write_text(QUICK_CONFIG)
        common += ["--config", str(config)]
        explore_extra += ["--solvers", QUICK_SOLVERS]
    base_cfg = load_config(config).merged({"task": "fashion-mnist", "data_root": args.data_root})
    fair = _fair_comparison()
    clock = _Clock(work)
    started = time.perf_counter()
    if args.jobs > 1 and len(forgets) > 1 and not args.write_only:
        _run_jobs(args, forgets, seeds, work)
        args.reuse = True  # what the jobs ran is read back below
    command = "python scripts/fashion_mnist_study.py" + (" --quick" if args.quick else "") + (
        f" --jobs {args.jobs}" if args.jobs > 1 else "") + (
        " --reuse --write-only" if args.write_only else "")
    lines = ["# Fashion-MNIST on a CPU", "",
             f"Written by `{command}` (forget sets {', '.join(forgets)}; table seeds "
             f"{', '.join(map(str, seeds))}): `pareto-unlearn table`, `explore --quick --baselines` (seed "
             f"{seeds[0]}), `select` and `compare --budgets` on `--task fashion-mnist` with its CPU recipe "
             "(docs/definitions.md §2: the small CNN, `--size small` = stratified subsets: 10,000 of the "
             "60,000 training images and 2,000 of the 10,000 test images; one torch thread). Metrics in % "
             "(§3); Avg. Gap is to Retrain at the same seed.", "",
             "**Unlearning settings.** Fashion-MNIST (and MNIST) have their own lr grids and quick "
             "settings (`pareto_unlearn/solvers/_registry.py`, docs/definitions.md §2), chosen by a scan "
             "on `--size small`, random:0.1, seed 0 (its figures stand beside the settings): CIFAR's lrs "
             "(≤ 0.01) barely leave θ0 of this CNN (trained at lr 0.05), so `jd`/`ls` sweep 0.005–0.05 and"
             " every baseline grid runs 2 epochs from 'barely leaves θ0' to 'retain accuracy collapses'. "
             "GA's, RL's and SalUn's grids reach lower for large forget sets: on random:0.5 (seeds 0, 1) "
             "every GA point down to 0.005 diverged or collapsed and RL / SalUn at 0.001 lost 20–36 points "
             "of RA, so their grids end at GA 0.001 and RL / SalUn 1e-4. "
             "`--quick` keeps 2-epoch `jd`/`ls` sweeps, a 4 × 2 LS-weights search and 3 × 2 one-epoch warm"
             " offspring.", ""]
    # Phase 1, every forget set and seed: θ0 and Retrain alone (their training measured apart) and how far
    # θ0 is from Retrain; written before the long phase, so that a cut study keeps it.
    lines += ["## θ0 against Retrain", "",
              "θ0 and Retrain trained (or read from the model cache) on one thread; their SalUn metrics and "
              "θ0's Avg. Gap to Retrain (on digits it is 1.2–2.8, docs/table1_digits.md). Training seconds "
              "are as recorded when the models were trained (wall / CPU of this process).", "",
              "| forget | seed | θ0 UA | RA | TA | MIA | Retrain UA | RA | TA | MIA | θ0's Avg. Gap | "
              "θ0 + Retrain training s (wall / CPU) |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    gaps: dict[str, list[float]] = {}
    for seed in seeds:  # seed-major: every forget set's first seed is measured first
        for forget in forgets:
            with clock.step(f"θ0 + Retrain {forget}, seed {seed} (trained or read from the cache)"):
                task = task_from_config(base_cfg.merged({"forget": forget}), seed, progress=False)
                evaluator = MetricEvaluator(task)
                o, r = evaluator.original_, evaluator.retrain_
            gaps.setdefault(forget, []).append(float(o["gap"]))
            wall, cpu = sum(task.train_seconds.values()), sum(task.train_cpu_seconds.values())
            keys = ("UA", "RA", "TA", "MIA")
            lines.append(f"| {forget} | {seed} | " + " | ".join(f"{o[k]:.2f}" for k in keys)
                         + " | " + " | ".join(f"{r[k]:.2f}" for k in keys)
                         + f" | **{o['gap']:.2f}** | {wall:.0f} / {cpu:.0f} |")
            _write(md, lines, clock, started, done=False)
    lines += ["", "Mean θ0's Avg. Gap: " + ", ".join(f"{f} {np.mean(g):.2f} ± {np.std(g):.2f}"
                                                   for f, g in gaps.items()) + ".", ""]
    _write(md, lines, clock, started, done=False)
    for forget in forgets:
        slug = _slug(forget)
        table_dir, explore_dir = work / f"table-{slug}", work / f"explore-{slug}"
        reuse_table = args.reuse and _complete(table_dir / "results.json")
        if args.write_only and not reuse_table:
            lines += [f"## {forget}", "", f"Not finished (`table-{slug}` was cut before it completed).", ""]
            continue
        how = _continue(table_dir, args.reuse)
        with clock.step(f"table {forget}, seeds {','.join(map(str, seeds))}", reuse_table,
                        continued=how == ["--resume"]):
            if not reuse_table:
                _cli(["table", *common, "--forget", forget, "--seeds", ",".join(map(str, seeds)),
                      "--out", str(table_dir), *how])
        lines += [f"## {forget}", "", "### Table 1", "", (table_dir / "table.md").read_text().strip(), ""]
        reuse_explore = args.reuse and _complete(explore_dir / "summary.json")
        if args.write_only and not reuse_explore:
            lines += [f"### Fronts, pick and comparison: not finished (`explore-{slug}` was cut before it "
                      "completed; rerun the study with `--reuse` to continue it)", ""]
            _write(md, lines, clock, started, done=False)
            continue
        how = _continue(explore_dir, args.reuse)
        with clock.step(f"explore --quick --baselines {forget}, seed {seeds[0]}", reuse_explore,
                        continued=how == ["--resume"]):
            if not reuse_explore:
                _cli(["explore", *common, "--forget", forget, "--seeds", str(seeds[0]), *explore_extra,
                      "--baselines", "--out", str(explore_dir), *how])
        figure = md.with_name(f"{md.stem}_{slug}.png")
        if (explore_dir / "fronts.png").is_file():
            shutil.copyfile(explore_dir / "fronts.png", figure)
        lines += [f"### Fronts (explore --quick --baselines, seed {seeds[0]})", "",
                  f"![fronts]({figure.name})", "", *_front_summary(explore_dir), ""]
        with clock.step(f"select {forget}"):
            pick = _pick(explore_dir)
        lines += ["### The oracle-free pick (`pareto-unlearn select`)", "", *pick, ""]
        with clock.step(f"compare --budgets {forget}"):
            _cli(["compare", str(explore_dir), "--out", str(work / f"compare-{slug}"),
                  "--budgets", ",".join(map(str, BUDGETS))])
            mean = fair._mean(budget_table([explore_dir], BUDGETS))
        lines += ["### Same space and across spaces (`compare --budgets`)", "",
                  "Each space's best evolutionary and best gradient front at 1, 2, 5 and 10 times the "
                  "cheapest full-space gradient front's wall-clock cost (the table of "
                  "[fair_comparison.md](fair_comparison.md), one seed):", "",
                  *fair._markdown(mean, tuple(dict.fromkeys(mean.space))), ""]
        _write(md, lines, clock, started, done=forget == forgets[-1])
    return _write(md, lines, clock, started, done=not args.write_only or all(
        _complete(work / f"explore-{_slug(f)}" / "summary.json") for f in forgets))


def _complete(result: Path) -> bool:
    """Whether a run's results.json / summary.json says it finished (a cut run writes complete: false)."""
    try:
        return bool(json.loads(result.read_text()).get("complete"))
    except (OSError, ValueError):
        return False


def _continue(run_dir: Path, reuse: bool) -> list[str]:
    """--resume for a cut run's checkpoints when reusing, else --force (start over)."""
    return ["--resume"] if reuse and (run_dir / "checkpoints").is_dir() else ["--force"]


def _run_jobs(args: argparse.Namespace, forgets: tuple[str, ...], seeds: tuple[int, ...], work: Path) -> None:
    """Each forget set as its own process of this script (``args.jobs`` at a time), into the same work
    folder and model cache; every job runs to its end (they are independent), then a failure is raised."""
    base = [sys.executable, str(Path(__file__).resolve()), "--seeds", ",".join(map(str, seeds)),
            "--threads", str(args.threads), "--work", str(work)]
    base += ["--quick"] if args.quick else []
    base += ["--data-root", args.data_root] if args.data_root else []
    base += ["--reuse"] if args.reuse else []

    def job(forget: str) -> int:
        md = work / f"{_slug(forget)}.md"
        return subprocess.run([*base, "--forgets", forget, "--md", str(md)]).returncode

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        codes = list(pool.map(job, forgets))
    failed = [f"{forget} (exit {code})" for forget, code in zip(forgets, codes) if code != 0]
    if failed:
        raise SystemExit(f"the jobs for {', '.join(failed)} failed; rerun with --reuse to continue them")


def _write(md: Path, lines: list[str], clock: _Clock, started: float, *, done: bool) -> list[str]:
    """Write the markdown so far (after every forget set, so that a cut study keeps what it finished)."""
    out = [*lines, "", "## Measured times", "",
           ("" if done else "**The study is still running or was cut here: the sections above are what it "
                            "finished.** ")
           + "On this machine (2 cores, shared with other work while it ran: the CPU seconds are what this "
           "process spent, all its threads, and say more than the wall seconds). "
           + (f"{clock.reused()} steps were reused from an earlier run of the study in the same work folder "
              "(`--reuse`): they show the figures recorded when they ran, and this run took "
              if clock.reused() else "The study took ")
           + f"{time.perf_counter() - started:.0f} s wall in all; its steps (run as --jobs processes at once "
           f"where the command says so) add up to {clock.total_s():.0f} s.", "", *clock.markdown(), ""]
    atomic_write_text(md, "\n".join(out))
    return out


if __name__ == "__main__":
    main()
