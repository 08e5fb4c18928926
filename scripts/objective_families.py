"""Objective families and aggregators side by side: a small ``jd`` front per objective family
(forget_kl against the uniform and against the held-out reference, the push–pull distillation pair) and
per aggregator (UPGrad, PAMA, MGDA), with its Avg. Gap figures; then how often each aggregator's update
conflicts with one objective along UPGrad's trajectory.

Usage: ``python scripts/objective_families.py [--quick]`` (digits MLP, random 50 %, seed 0; models from
the model cache). ``--quick`` runs one lr for one epoch: a smoke test, not a measurement.

Prints the family table (``compare_families``) and the conflict rates (``aggregator_conflicts``); the
second is a private helper of the library (``pareto_unlearn.experiments._families``).
"""

from __future__ import annotations

import argparse

import pandas as pd
import torch

from pareto_unlearn.experiments import compare_families
from pareto_unlearn.experiments._families import aggregator_conflicts
from pareto_unlearn.objectives import make_objectives
from pareto_unlearn.task import load_task

AGGREGATORS = ("upgrad", "pama", "mgda")
PAIRS = {"forget_kl pair": ("forget_kl", "retain_ce"), "push-pull pair": ("push_pull", "distill_retain")}


def main(argv: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run both parts; returns (families, conflicts)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one lr, one epoch (smoke test)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    lrs, epochs = ([0.1], 1) if args.quick else ([0.05, 0.1, 0.15, 0.2, 0.3], 5)
    task = load_task("digits", forget="random:0.5", seed=0, progress=False)
    families = pd.concat([compare_families(task, lrs=lrs, epochs=epochs, aggregator=a) for a in AGGREGATORS],
                         ignore_index=True)
    print(families.to_string(float_format=lambda v: f"{v:.3f}"), flush=True)
    conflicts = pd.concat([
        aggregator_conflicts(task, make_objectives(task, names=names), epochs=epochs).assign(pair=pair)
        for pair, names in PAIRS.items()], ignore_index=True)
    print(conflicts.to_string(float_format=lambda v: f"{v:.3f}"))
    return families, conflicts


if __name__ == "__main__":
    main()
