"""Write ``docs/demo.md`` and the ``docs/demo_*.png`` figures from a run of ``pareto-unlearn demo``.

Usage::

    python scripts/demo_docs.py                      # demo (--force) into runs/demo, then the docs
    python scripts/demo_docs.py --skip-demo          # the docs from the run already in runs/demo
    python scripts/demo_docs.py --run DIR --docs OUT --skip-demo

Runs, in this process through :func:`pareto_unlearn.cli.main`: ``demo --out RUN --no-progress --force``
(timed; unless ``--skip-demo``), ``compare RUN --out RUN-compare``, ``select RUN --method oracle-free``
and ``report RUN``; then writes ``DOCS/demo.md`` (task, Original and Retrain, the solver table, the
oracle-free pick) and copies the figures the run directory holds to ``DOCS/demo_<name>.png`` (an
explore figure wins over the report's of the same name), removing ``DOCS/demo_*.png`` files the run no
longer writes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import time
from pathlib import Path

import pandas as pd

from pareto_unlearn.cli import main as cli

COLUMNS = ["solver", "hv", "hv_gain", "hv_utility", "igd_plus", "n_points", "n_nondominated", "wall_s",
           "sample_passes", "hv_at_budget_s", "best_gap_nd", "oracle_free_gap"]
CAPTIONS = {
    "fronts": "Objective space: each solver's points, its non-dominated front in bold, Original and Retrain.",
    "metric_space": "The same points in metric space: UA against TA, MIA-efficacy against RA.",
    "anytime": "Anytime hypervolume: HV reached against wall-clock seconds and sample-passes.",
    "trajectories": "Gradient solvers epoch by epoch over the other fronts.",
    "parallel_metrics": "UA, RA, TA, MIA and gap of the non-dominated points.",
}


def _run(argv: list[str]) -> str:
    """One CLI command in this process; its printed output (SystemExit on failure)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = cli(argv)
    if code != 0:
        raise SystemExit(f"pareto-unlearn {' '.join(argv)} exited with {code}")
    return buffer.getvalue()


def _fmt(value) -> str:
    if isinstance(value, str):
        return value
    if pd.isna(value):
        return "—"
    if float(value).is_integer() and abs(value) < 1e6:
        return f"{int(value)}"
    return f"{value:.4g}"


def _copy_figures(run: Path, docs: Path) -> list[str]:
    """Copy RUN/*.png to DOCS/demo_<stem>.png; returns the stems written, in order."""
    chosen: dict[str, Path] = {}
    for path in sorted(run.glob("report_*.png")):
        chosen[path.stem.removeprefix("report_")] = path
    for path in sorted(run.glob("*.png")):
        if not path.name.startswith("report_"):
            chosen[path.stem] = path  # the explore figure of that name wins over the report's
    written = []
    for stem in [*(s for s in CAPTIONS if s in chosen), *sorted(set(chosen) - set(CAPTIONS))]:
        shutil.copyfile(chosen[stem], docs / f"demo_{stem}.png")
        written.append(stem)
    for stale in docs.glob("demo_*.png"):
        if stale.stem.removeprefix("demo_") not in written:
            stale.unlink()
    return written


def write_demo_docs(run: Path, compare_dir: Path, docs: Path, *, select_text: str,
                    demo_s: float | None) -> Path:
    """``DOCS/demo.md`` from the run, its comparison and the oracle-free pick's text."""
    summary = json.loads((run / "summary.json").read_text())
    table = pd.read_csv(compare_dir / "compare.csv")
    task, hardware = summary["task"], summary["manifest"]["hardware"]
    versions = summary["manifest"]["versions"]
    o, r = summary["original"]["metrics"], summary["retrain"]["metrics"]
    sizes = ", ".join(f"{k} {v}" for k, v in task["sizes"].items())
    docs.mkdir(parents=True, exist_ok=True)
    figures = _copy_figures(run, docs)
    columns = [c for c in COLUMNS if c in table.columns]
    lines = [
        "# What the demo shows",
        "",
        f"Written by `python scripts/demo_docs.py`, which runs `pareto-unlearn demo --out {run} "
        f"--no-progress --force`, `pareto-unlearn compare {run} --out {compare_dir}`, "
        f"`pareto-unlearn select {run} --method oracle-free` and `pareto-unlearn report {run}`, "
        "and copies the run's figures here. Definitions: [definitions.md](definitions.md).",
        "",
        f"- task: {task['name']} ({task['n_classes']} classes), model {task['model']}, forget "
        f"{task['forget']}, seed {task['seed']}; split sizes {sizes}",
        f"- objectives: {', '.join(summary['objectives'])}; reference `{summary['reference']}`, KL direction "
        f"`{summary['kl_direction']}`; HV reference point "
        f"({', '.join(f'{v:.4f}' for v in summary['hv_reference_point'])}); HV@utility counts points with "
        f"RA ≥ {summary['hv_utility_ra_min']:g}",
        f"- solvers: {', '.join(summary['settings']['solvers'])}",
        f"- machine: {hardware['cpu']}, {hardware['cpu_count']} cores, torch threads "
        f"{hardware['torch_threads']}, device {hardware['device']}; torch {versions['torch']}, "
        f"pymoo {versions['pymoo']}, torchjd {versions['torchjd']}",
    ]
    if demo_s is not None:
        lines.append(f"- the demo took {demo_s:.1f} s here (models cached; wall-clock on this machine "
                     "moves with its load)")
    lines += [
        "",
        "## Original and Retrain",
        "",
        "| model | UA | RA | TA | MIA | Avg. Gap |",
        "|---|---:|---:|---:|---:|---:|",
        "| Original (θ0) | " + " | ".join(f"{o[k]:.2f}" for k in ("UA", "RA", "TA", "MIA", "gap")) + " |",
        "| Retrain | " + " | ".join(f"{r[k]:.2f}" for k in ("UA", "RA", "TA", "MIA")) + " | 0 |",
        "",
        "## Solvers",
        "",
        f"From `{compare_dir}/compare.csv` (every column: `compare.md` there). `hv_at_budget_s`: the HV "
        "reached within the cheapest solver's wall-clock; `best_gap_nd`: the lowest Avg. Gap to Retrain "
        "among the solver's non-dominated points (evaluation only: it reads Retrain); `oracle_free_gap`: "
        "the Avg. Gap of the point the oracle-free rule picks among the solver's points and θ0.",
        "",
        "| " + " | ".join(columns) + " |",
        "|---|" + "---:|" * (len(columns) - 1),
    ]
    lines += ["| " + " | ".join(_fmt(row[c]) for c in columns) + " |" for _, row in table.iterrows()]
    lines += [
        "",
        "## The oracle-free pick",
        "",
        f"`pareto-unlearn select {run} --method oracle-free` (among every point of the run and θ0):",
        "",
        "```text",
        select_text.strip(),
        "```",
        "",
        "## Figures",
        "",
    ]
    for stem in figures:
        lines += [f"![{stem}](demo_{stem}.png)", "", CAPTIONS.get(stem, stem.replace("_", " ")), ""]
    path = docs / "demo.md"
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=Path("runs/demo"),
                        help="run directory (default runs/demo)")
    parser.add_argument("--docs", type=Path, default=Path("docs"), help="where demo.md goes (default docs)")
    parser.add_argument("--skip-demo", action="store_true", help="use the run already in --run")
    args = parser.parse_args(argv)
    demo_s = None
    if not args.skip_demo:
        start = time.perf_counter()
        _run(["demo", "--out", str(args.run), "--no-progress", "--force"])
        demo_s = time.perf_counter() - start
    compare_dir = args.run.with_name(args.run.name + "-compare")
    _run(["compare", str(args.run), "--out", str(compare_dir)])
    select_text = _run(["select", str(args.run), "--method", "oracle-free"])
    _run(["report", str(args.run)])
    path = write_demo_docs(args.run, compare_dir, args.docs, select_text=select_text, demo_s=demo_s)
    print(f"wrote {path}" + (f" (demo {demo_s:.1f} s)" if demo_s is not None else ""))
    return path


if __name__ == "__main__":
    main()
