"""A gradient-informed (trajectory) subspace for NSGA-II: θ = θ0 + c @ D, where D holds the top-K
principal directions of the ``ls`` sweep's per-epoch parameter deltas (θ_i − θ0), seeded by the sweep's
own points. The sweep is charged to the search. Digits MLP, random 50 %, uniform reference, seeds 0-2.

Usage: ``python scripts/trajectory_subspace.py [K ...] [--quick]`` (default K = 3 6 12); models from the
model cache. ``--quick`` runs K = 2 on seed 0 with a 3-point sweep of 1 epoch, population 12 and 3
generations: a smoke test, not a measurement.

Prints the sweep's cost and HV, then the archive's HV within 2, 3 and 4 s and at the end. It reads the
flat parameter vector with a private helper of the library (``pareto_unlearn.spaces``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.core.callback import Callback
from pymoo.core.problem import Problem
from pymoo.optimize import minimize
from torch.func import functional_call, vmap

from pareto_unlearn.indicators import hv_reference_point
from pareto_unlearn.objectives import make_objectives
from pareto_unlearn.solvers import LinearScalarization
from pareto_unlearn.solvers.evolutionary._solver import population_hv
from pareto_unlearn.spaces import flat_params
from pareto_unlearn.task import load_task

POP, N_GEN = 60, 60
WEIGHTS, EPOCHS = np.linspace(0.05, 0.95, 10).round(2), 5
QUICK = {"pop": 12, "n_gen": 3, "weights": np.array([0.5, 0.2, 0.8]), "epochs": 1}


class NoMetrics:
    def from_predictions(self, pred) -> dict:
        return {}


def ls_sweep(task, objectives, seed: int, weights=WEIGHTS, epochs: int = EPOCHS):
    """The explore ``ls`` sweep (10 weights, lr 0.2, 5 epochs), every epoch kept: parameters, objectives."""
    params, F = [], []
    for w in weights:
        front = LinearScalarization(weight=float(w), lr=0.2, epochs=epochs, seed=seed, record="epoch",
                                    progress=False).run(task, objectives, evaluator=NoMetrics())
        params += [front.arrays[front.rebuild[i]["array"]] for i in range(len(front))]
        F += list(front.F)
    return np.stack(params), np.stack(F)


def run(seed: int, k: int, *, pop: int = POP, n_gen: int = N_GEN, weights=WEIGHTS,
        epochs: int = EPOCHS) -> str:
    task = load_task("digits", forget="random:0.5", seed=seed, progress=False)
    objectives = make_objectives(task)
    ref = np.asarray(hv_reference_point(task, objectives))
    start = time.perf_counter()
    params, F_seed = ls_sweep(task, objectives, seed, weights, epochs)
    sweep_s = time.perf_counter() - start
    model = task.original.eval()
    theta0 = torch.from_numpy(flat_params(model)).float()
    deltas = torch.from_numpy(params).float() - theta0
    directions = torch.linalg.svd(deltas, full_matrices=False).Vh[:k]  # [k, P], orthonormal rows
    coords = (deltas @ directions.T).numpy().astype(float)              # the seeds in the subspace
    names, shapes = zip(*[(n, p.shape) for n, p in model.named_parameters()], strict=True)
    sizes = [int(np.prod(s)) for s in shapes]
    data = {s: (getattr(task, s).x, getattr(task, s).y) for s in ("forget", "retain")}

    def evaluate(c: torch.Tensor) -> torch.Tensor:
        theta = theta0 + c @ directions
        pieces = zip(names, theta.split(sizes, dim=1), shapes, strict=True)
        batch = {n: p.reshape(-1, *s) for n, p, s in pieces}
        logits = {s: vmap(lambda p, x=x: functional_call(model, p, (x,)))(batch)
                  for s, (x, _) in data.items()}
        return objectives.from_logits(logits, {s: y for s, (_, y) in data.items()})

    lo, hi = coords.min(0), coords.max(0)
    xl, xu = lo - 0.5 * (hi - lo), hi + 0.5 * (hi - lo)

    class Subspace(Problem):
        def __init__(self) -> None:
            super().__init__(n_var=k, n_obj=len(objectives), xl=xl, xu=xu)

        def _evaluate(self, X, out, *args, **kwargs) -> None:
            with torch.no_grad():
                out["F"] = evaluate(torch.from_numpy(np.asarray(X)).float()).double().numpy()

    archive, log = [F_seed], []

    class Log(Callback):
        def notify(self, algorithm) -> None:
            archive.append(algorithm.pop.get("F"))
            log.append((time.perf_counter() - start, population_hv(np.vstack(archive), ref)))

    rng = np.random.default_rng(seed)
    extra = coords[rng.integers(0, len(coords), max(pop - len(coords), 0))]
    extra = extra + rng.normal(0.0, 0.05, extra.shape) * (hi - lo)
    sampling = np.clip(np.vstack([coords, extra]), xl, xu)
    minimize(Subspace(), NSGA2(pop_size=pop, sampling=sampling), ("n_gen", n_gen), seed=seed, callback=Log(),
             verbose=False)
    seed_hv = population_hv(F_seed, ref)
    within = [max([h for t, h in log if t <= b] or [seed_hv]) for b in (2.0, 3.0, 4.0)]
    return (f"seed {seed}, K = {k}: sweep {sweep_s:.2f} s, HV {seed_hv:.3f} | HV within 2 / 3 / 4 s "
            f"{within[0]:.3f} / {within[1]:.3f} / {within[2]:.3f} | final {log[-1][1]:.3f} "
            f"at {log[-1][0]:.2f} s")


def main(argv: list[str] | None = None) -> list[str]:
    """Run every K and seed; returns the printed lines."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("k", nargs="*", type=int, help="subspace dimensions (default 3 6 12)")
    parser.add_argument("--quick", action="store_true", help="K = 2, seed 0, tiny settings (smoke test)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.quick:
        settings, ks, seeds = QUICK, args.k or [2], (0,)
    else:
        settings, ks, seeds = {}, args.k or [3, 6, 12], (0, 1, 2)
    lines = []
    for k in ks:
        for seed in seeds:
            lines.append(run(seed, k, **settings))
            print(lines[-1], flush=True)
    return lines


if __name__ == "__main__":
    main()
