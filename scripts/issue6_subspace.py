"""Issue 6's gradient-informed subspace lever: NSGA-II over θ = θ0 + c @ D, where D holds the top-K
principal directions of the ``ls`` sweep's per-epoch parameter deltas (θ_i − θ0), seeded by the sweep's
own points. The sweep is charged to the search. Digits MLP, random 50 %, uniform reference, seeds 0-2.

Usage: ``python scripts/issue6_subspace.py [K ...]`` (default K = 3 6 12); models from the default cache.
Prints the sweep's cost and HV, then the archive's HV within 2, 3 and 4 s and at the end.
"""

import sys
import time

import numpy as np
import torch
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.core.callback import Callback
from pymoo.core.problem import Problem
from pymoo.optimize import minimize
from torch.func import functional_call, vmap

from pareto_unlearn.objectives import hv_reference_point, make_objectives
from pareto_unlearn.solvers import LinearScalarization
from pareto_unlearn.solvers._rebuild import flat_params
from pareto_unlearn.spaces._nsga2 import population_hv
from pareto_unlearn.task import load_task

POP, N_GEN = 60, 60


class NoMetrics:
    def from_predictions(self, pred) -> dict:
        return {}


def ls_sweep(task, objectives, seed: int):
    """The explore ``ls`` sweep (10 weights, lr 0.2, 5 epochs), every epoch kept: parameters, objectives."""
    params, F = [], []
    for w in np.linspace(0.05, 0.95, 10).round(2):
        front = LinearScalarization(weight=float(w), lr=0.2, epochs=5, seed=seed, record="epoch",
                                    progress=False).run(task, objectives, evaluator=NoMetrics())
        params += [front.arrays[front.rebuild[i]["array"]] for i in range(len(front))]
        F += list(front.F)
    return np.stack(params), np.stack(F)


def run(seed: int, k: int) -> str:
    task = load_task("digits", forget="random:0.5", seed=seed, progress=False)
    objectives = make_objectives(task)
    ref = np.asarray(hv_reference_point(task, objectives))
    start = time.perf_counter()
    params, F_seed = ls_sweep(task, objectives, seed)
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
    extra = coords[rng.integers(0, len(coords), POP - len(coords))]
    extra = extra + rng.normal(0.0, 0.05, extra.shape) * (hi - lo)
    sampling = np.clip(np.vstack([coords, extra]), xl, xu)
    minimize(Subspace(), NSGA2(pop_size=POP, sampling=sampling), ("n_gen", N_GEN), seed=seed, callback=Log(),
             verbose=False)
    seed_hv = population_hv(F_seed, ref)
    within = [max([h for t, h in log if t <= b] or [seed_hv]) for b in (2.0, 3.0, 4.0)]
    return (f"seed {seed}, K = {k}: sweep {sweep_s:.2f} s, HV {seed_hv:.3f} | HV within 2 / 3 / 4 s "
            f"{within[0]:.3f} / {within[1]:.3f} / {within[2]:.3f} | final {log[-1][1]:.3f} "
            f"at {log[-1][0]:.2f} s")


if __name__ == "__main__":
    torch.set_num_threads(1)
    for k in [int(v) for v in sys.argv[1:]] or [3, 6, 12]:
        for seed in (0, 1, 2):
            print(run(seed, k), flush=True)
