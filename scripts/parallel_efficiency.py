"""Parallel efficiency of the LS-settings search on ``local:2``, several runs: min / median / max.

The rows ``parallel_efficiency_mlp`` / ``_cnn`` of ``pareto-unlearn bench`` (the same function, the same
searches), repeated so that a figure for docs/speed.md is three runs on an idle machine::

    python scripts/parallel_efficiency.py --runs 3 [--models mlp,cnn] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics

from pareto_unlearn._io import atomic_write_json
from pareto_unlearn.bench import EFFICIENCY_SEARCHES, bench_parallel_efficiency
from pareto_unlearn.task import load_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--models", default="mlp,cnn")
    parser.add_argument("--json", default=None, help="also write every run's record here")
    args = parser.parse_args()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    tasks = {m: load_task("digits", forget="random:0.5", seed=0, model=m, device="cpu", progress=False)
             for m in models}
    records = []
    for run in range(args.runs):
        for name, task in tasks.items():
            out = bench_parallel_efficiency(task, settings={**EFFICIENCY_SEARCHES[name], "seed": 0,
                                                            "progress": False}, label=f"_{name}")
            record = {"run": run, "model": name, **{k: out[k] for k in (
                "ratio", "with_startup", "serial_s", "serial_before_s", "serial_after_s", "workers_cpu_share",
                "workers_cpu_per_serial_cpu", "startup_s", "tasks", "identical_front",
                "per_task_overhead_ms")}}
            records.append(record)
            print(json.dumps(record), flush=True)
    for name in models:
        ratios = sorted(r["ratio"] for r in records if r["model"] == name)
        startup = sorted(r["with_startup"] for r in records if r["model"] == name)
        share = sorted(r["workers_cpu_share"] for r in records if r["model"] == name)
        per_serial = sorted(r["workers_cpu_per_serial_cpu"] for r in records if r["model"] == name)
        print(f"parallel_efficiency_{name}: min {ratios[0]:.3f} median {statistics.median(ratios):.3f} "
              f"max {ratios[-1]:.3f} (with start-up {startup[0]:.3f}-{startup[-1]:.3f}; workers' CPU share "
              f"{share[0]:.3f}-{share[-1]:.3f}; workers' CPU / serial CPU {per_serial[0]:.3f}-"
              f"{per_serial[-1]:.3f})")
    if args.json:
        atomic_write_json(args.json, records)


if __name__ == "__main__":
    main()
