"""NSGA-II, NSGA-III and SMS-EMOA on three objectives: the warm LS-settings search on forget_kl against
the uniform and against the held-out reference beside retain_ce, explore's default warm settings
(generation 1 = the ``ls`` sweep), beside the ``ls`` sweep and ``jd`` on the same objectives.

Usage: ``python scripts/three_objective_algorithms.py [--quick]`` (digits MLP, models from the model
cache; one thread). ``--quick`` runs one case with 3-point sweeps of 1 epoch and 2 generations: a smoke
test, not a measurement.

Prints, per case and method: the 3-D HV (explore's reference point), HV within 2 × the ls sweep's cost,
cost. It builds the sweeps with explore's private helpers (``pareto_unlearn.experiments._explore``).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from pareto_unlearn.front import Front
from pareto_unlearn.indicators import hv_reference_point
from pareto_unlearn.metrics import MetricEvaluator
from pareto_unlearn.objectives import make_objectives
from pareto_unlearn.solvers import EvolutionaryLSWarm, default_settings, sweep_units
from pareto_unlearn.solvers.evolutionary import population_hv
from pareto_unlearn.task import load_task

NAMES = ("forget_kl:uniform", "forget_kl:heldout", "retain_ce")
ALGORITHMS = ("nsga2", "nsga3", "sms-emoa")
CASES = [("random:0.5", 0), ("random:0.5", 1), ("random:0.5", 2), ("class:3", 0)]


def sweep(name, settings, task, objectives, evaluator, seed) -> tuple[np.ndarray, float]:
    """The ``ls`` or ``jd`` sweep as explore runs it: its points and its total seconds."""
    fronts = [run.run(task, objectives, evaluator=evaluator)
              for run in sweep_units(name, settings, seed=seed, batch_size=64)]
    return Front.concat(fronts).F, sum(float(f.cost["wall_s"][-1]) for f in fronts)  # run one after another


def _quick_settings() -> dict:
    settings = default_settings("digits", quick=True)
    settings["ls"].update(weights=[0.5, 0.2, 0.8], epochs=1)
    settings["jd"].update(lrs=[0.1], epochs=1)
    settings["nsga2-ls-warm"].update(pop_size=3, n_offsprings=2, n_gen=2,
                                     seed_sweep={"weights": [0.5, 0.2, 0.8], "lr": 0.2, "epochs": 1})
    return settings


def main(argv: list[str] | None = None) -> list[str]:
    """Run every case; returns the printed lines."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one case, tiny settings (smoke test)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    settings = _quick_settings() if args.quick else default_settings("digits")
    warm = settings["nsga2-ls-warm"]
    lines = []

    def say(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    for forget, seed in CASES[:1] if args.quick else CASES:
        task = load_task("digits", forget=forget, seed=seed, progress=False)
        objectives = make_objectives(task, names=NAMES)
        evaluator = MetricEvaluator(task)
        ref = np.asarray(hv_reference_point(task, objectives))
        ls_F, ls_s = sweep("ls", settings, task, objectives, evaluator, seed)
        jd_F, jd_s = sweep("jd", settings, task, objectives, evaluator, seed)
        say(f"{forget} seed {seed} | ls sweep | HV {population_hv(ls_F, ref):.3f} | cost {ls_s:.2f} s")
        say(f"{forget} seed {seed} | jd       | HV {population_hv(jd_F, ref):.3f} | cost {jd_s:.2f} s")
        for algorithm in ALGORITHMS:
            solver = EvolutionaryLSWarm(**{**warm, "algorithm": algorithm}, seed=seed, progress=False,
                                        ref_point=ref)
            front = solver.run(task, objectives, evaluator=evaluator)
            within = max([a["hv"] for a in solver.anytime_ if a["wall_s"] <= 2 * ls_s] or [0.0])
            say(f"{forget} seed {seed} | {solver.name:16s} | HV {population_hv(front.F, ref):.3f} | "
                f"HV within 2 × the ls sweep's cost {within:.3f} | cost {front.cost['wall_s'][0]:.2f} s")
    return lines


if __name__ == "__main__":
    main()
