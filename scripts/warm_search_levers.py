"""Levers of the warm LS-settings search (``nsga2-ls-warm``): explore's default settings, then one change
at a time; the memetic lever (offspring continue with UPGrad steps, preference [w, 1 - w], instead of LS
steps); pymoo's SMS-EMOA in place of NSGA-II (hypervolume-contribution survival, same operators and
budget) and pymoo's MOEA/D (Tchebycheff subproblems, about the same number of fine-tunes).

Usage: ``python scripts/warm_search_levers.py [VARIANT ...] [--quick]`` (default: every variant on the
four cases below; digits MLP, models from the model cache; one thread). ``--quick`` runs one case with a
3-point seed sweep of 1 epoch and 2 generations: a smoke test, not a measurement.

Prints, per case and variant: final HV, HV@utility, HV over the seed sweep, HV within 3 s charged, cost.

The memetic variant replaces the library's private fine-tune of the LS-settings space
(``pareto_unlearn.solvers.evolutionary._ls_weights._fine_tune``) while it runs, and restores it afterwards.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import pareto_unlearn.solvers.evolutionary._ls_weights as ls_weights
from pareto_unlearn.indicators import hv_reference_point
from pareto_unlearn.metrics import MetricEvaluator, PredictionRecorder
from pareto_unlearn.objectives import make_objectives
from pareto_unlearn.solvers import EvolutionaryLSWarm, JacobianDescent, default_settings
from pareto_unlearn.solvers.evolutionary import population_hv
from pareto_unlearn.task import load_task

LS_FINE_TUNE = ls_weights._fine_tune
VARIANTS = {
    "default (6 offspring, E=2)": {},
    "10 offspring": {"n_offsprings": 10},
    "3 offspring": {"n_offsprings": 3},
    "E=1": {"max_epochs": 1},
    "E=3": {"max_epochs": 3},
    "lr in [10^-1.5, 10^-0.5]": {"lr_bounds": [-1.5, -0.5]},
    "no archive": {"archive": False},
    "UPGrad steps (memetic)": {},
    "SMS-EMOA": {"algorithm": "sms-emoa"},
    # one offspring per subproblem a generation: 8 generations of 10 ≈ the default's 10 + 11 × 6 fine-tunes
    "MOEA/D": {"algorithm": "moead", "n_offsprings": None, "n_gen": 8},
}
CASES = [("random:0.5", "uniform", 0), ("random:0.5", "uniform", 1), ("random:0.5", "uniform", 2),
         ("class:3", "heldout", 2)]
QUICK = {"pop_size": 3, "n_offsprings": 2, "n_gen": 2,
         "seed_sweep": {"weights": [0.5, 0.2, 0.8], "lr": 0.2, "epochs": 1}}


def upgrad_fine_tune(task, objectives, genome, seed, *, max_epochs, batch_size, momentum, weight_decay,
                     start=None, lr=None, epochs=None):
    """Seeds (start None) stay LS runs; offspring take UPGrad steps with the preference [w, 1 - w]."""
    if start is None:
        return LS_FINE_TUNE(task, objectives, genome, seed, max_epochs=max_epochs, batch_size=batch_size,
                            momentum=momentum, weight_decay=weight_decay, lr=lr, epochs=epochs)
    w, genome_lr, genome_epochs = ls_weights.decode_genome(genome, max_epochs=max_epochs)
    lr = genome_lr if lr is None else lr
    epochs = genome_epochs if epochs is None else epochs
    solver = JacobianDescent(aggregator="upgrad", pref_vector=[max(w, 1e-3), max(1 - w, 1e-3)], lr=lr,
                             epochs=epochs, seed=int(seed), record="last", progress=False,
                             batch_size=batch_size, momentum=momentum, weight_decay=weight_decay, start=start)
    capture = PredictionRecorder()
    return solver.run(task, objectives, evaluator=capture), capture


def main(argv: list[str] | None = None) -> list[str]:
    """Run the chosen variants; returns the printed lines."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="*", help=f"variant names (default: all of {list(VARIANTS)})")
    parser.add_argument("--quick", action="store_true", help="one case, tiny settings (smoke test)")
    args = parser.parse_args(argv)
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    torch.set_num_threads(1)
    base = {**default_settings("digits")[EvolutionaryLSWarm().name], **(QUICK if args.quick else {})}
    lines = []
    for forget, reference, seed in CASES[:1] if args.quick else CASES:
        task = load_task("digits", forget=forget, seed=seed, progress=False)
        objectives = make_objectives(task, reference=reference)
        evaluator = MetricEvaluator(task)
        ref = np.asarray(hv_reference_point(task, objectives))
        for name, change in VARIANTS.items():
            if args.variants and name not in args.variants:
                continue
            if args.quick and change.get("n_gen"):
                change = {**change, "n_gen": QUICK["n_gen"]}
            ls_weights._fine_tune = upgrad_fine_tune if "UPGrad" in name else LS_FINE_TUNE
            try:
                solver = EvolutionaryLSWarm(**{**base, **change}, seed=seed, progress=False, ref_point=ref)
                front = solver.run(task, objectives, evaluator=evaluator)
            finally:
                ls_weights._fine_tune = LS_FINE_TUNE
            hv = population_hv(front.F, ref)
            seeds = max(a["hv"] for a in solver.anytime_ if a["generation"] == 1)
            within = max([a["hv"] for a in solver.anytime_ if a["wall_s"] <= 3.0] or [0.0])
            utility = solver.anytime_[-1].get("hv_utility", float("nan"))
            line = (f"{forget} {reference} seed {seed} | {name:27s} | HV {hv:.3f} | "
                    f"HV@utility {utility:.3f} | over seeds {hv - seeds:.3f} | HV within 3 s {within:.3f} | "
                    f"cost {front.cost['wall_s'][0]:.2f} s")
            print(line, flush=True)
            lines.append(line)
    return lines


if __name__ == "__main__":
    main()
