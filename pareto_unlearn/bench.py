"""``pareto-unlearn bench``: measured speed ratios of the fast paths against plain idiomatic code.

Benchmarks are not tests: nothing here asserts; it prints what it measured, with the machine.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import torch

from pareto_unlearn.distributed import DaskExecutor, connect, warm_up
from pareto_unlearn.front import Front
from pareto_unlearn.manifest import manifest
from pareto_unlearn.metrics import MetricEvaluator
from pareto_unlearn.objectives import Objectives, make_objectives
from pareto_unlearn.selection import OracleFree
from pareto_unlearn.solvers import EvolutionaryLSWeights, default_settings, make_aggregator
from pareto_unlearn.solvers._jd import _assign_grad, jd_direction
from pareto_unlearn.solvers.evolutionary import bench as space_bench
from pareto_unlearn.task import UnlearningTask, load_task
from pareto_unlearn.task._training import one_cpu_thread

__all__ = ["run_bench", "time_ms", "bench_parallel_efficiency", "per_task_overhead_ms",
           "bench_oracle_free_select"]

logger = logging.getLogger(__name__)


def time_ms(fn: Callable[[], Any], *, repeat: int, warmup: int = 2) -> float:
    """Median wall-clock milliseconds of ``fn()`` over ``repeat`` runs, after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def _ratio(
    name: str, numerator: str, num_ms: float, denominator: str, den_ms: float, goal: str, **extra: Any
) -> dict[str, Any]:
    return {
        "ratio": num_ms / den_ms,
        "numerator": numerator,
        "numerator_ms": num_ms,
        "denominator": denominator,
        "denominator_ms": den_ms,
        "goal": goal,
        **extra,
    }


def bench_upgrad_vs_ls(task: UnlearningTask, *, repeat: int) -> dict[str, Any]:
    """One ``jd`` (UPGrad) step over one ``ls`` step on the same two batches, same model and dtype."""
    from torchjd.aggregation import UPGrad


    objectives = make_objectives(task, reference="uniform")
    forget_kl, retain_ce = objectives
    model = task.copy_original()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=1e-4, momentum=0.9, weight_decay=5e-4)
    xf, yf = task.forget.x[:64], task.forget.y[:64]
    xr, yr = task.retain.x[:64], task.retain.y[:64]
    upgrad = UPGrad()

    def jd_step() -> None:
        losses = [forget_kl(model(xf), yf), retain_ce(model(xr), yr)]
        _assign_grad(params, jd_direction(losses, params, upgrad))
        optimizer.step()

    def ls_step() -> None:
        loss = 0.5 * forget_kl(model(xf), yf) + 0.5 * retain_ce(model(xr), yr)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    jd_ms = time_ms(jd_step, repeat=repeat)

    ls_ms = time_ms(ls_step, repeat=repeat)
    return _ratio(
        "upgrad_vs_ls_step",
        "JD step (autograd.grad per objective + torchjd UPGrad on J [2, n])",
        jd_ms,
        "LS step (one backward of ½f_F + ½f_R)",
        ls_ms,
        "<= 1.2",
        n_params=sum(p.numel() for p in params),
        batch=64,
    )


def bench_pama_vs_upgrad(task: UnlearningTask, *, repeat: int) -> dict[str, Any]:
    """One aggregation of a real [2, n] Jacobian (forget_kl, retain_ce at θ0) by PAMA's closed form
    against UPGrad's QP (issue 7: PAMA's step cost)."""

    forget_kl, retain_ce = make_objectives(task, reference="uniform")
    model = task.copy_original()
    params = [p for p in model.parameters() if p.requires_grad]
    rows = []
    for objective, subset in ((forget_kl, task.forget), (retain_ce, task.retain)):
        grads = torch.autograd.grad(objective(model(subset.x[:64]), subset.y[:64]), params)
        rows.append(torch.cat([g.reshape(-1) for g in grads]))
    jacobian = torch.stack(rows)
    pama, upgrad = make_aggregator("pama"), make_aggregator("upgrad")
    pama_ms = time_ms(lambda: pama(jacobian), repeat=repeat * 4)
    upgrad_ms = time_ms(lambda: upgrad(jacobian), repeat=repeat * 4)
    return _ratio("pama_vs_upgrad_aggregation", "PAMA closed form on J [2, n]", pama_ms,
                  "UPGrad (quadprog) on the same J", upgrad_ms, "report only", n_params=jacobian.shape[1])


def _time_search(task: UnlearningTask, objectives: Objectives, settings: dict[str, Any],
                 address: str | None) -> dict[str, Any]:
    """One LS-weights search, serial (``address`` None) or on Dask: total seconds (cluster start-up and
    shutdown included), start-up seconds, seconds of generations 2..n (after the workers warmed up), the
    front and the solver."""

    start = time.perf_counter()
    solver = EvolutionaryLSWeights(**settings)
    startup = 0.0
    if address is None:
        front = solver.run(task, objectives)
    else:
        with connect(address) as client:
            startup = time.perf_counter() - start
            front = solver.run(task, objectives, executor=client)
    total = time.perf_counter() - start
    log = solver.anytime_
    later = log[-1]["wall_s"] - log[0]["wall_s"] if len(log) > 1 else float("nan")
    return {"total_s": total, "startup_s": startup, "later_generations_s": later, "front": front,
            "solver": solver}


def bench_dask_speedup(task: UnlearningTask, *, quick: bool, workers: int = 2,
                       cnn_task: UnlearningTask | None = None) -> dict[str, Any]:
    """The demo's LS-weights search (digits, its model and settings) on a ``local:2`` Dask cluster,
    start-up and shutdown included, against the same search serially at torch's default thread count.

    Also reported: the cluster's start-up seconds, the ratio over generations 2..n only (workers warm:
    what a longer search tends to), and with ``cnn_task`` the same on the digits CNN, where torch's own
    threads already speed one fine-tune up. Both fronts' objectives agree to float32 rounding (the thread
    counts differ, so bit-identity is not expected; ``max_abs_objective_diff``).
    """
    import numpy as np


    search = EvolutionaryLSWeights().name
    settings = {**default_settings("digits", quick=quick)[search], "seed": 0, "progress": False}
    objectives = make_objectives(task, reference="uniform")
    serial = _time_search(task, objectives, settings, None)
    parallel = _time_search(task, objectives, settings, f"local:{workers}")
    extra: dict[str, Any] = {
        "startup_s": parallel["startup_s"],
        "warm_generations_ratio": serial["later_generations_s"] / parallel["later_generations_s"],
    }
    if cnn_task is not None:
        cnn_settings = {**settings, "pop_size": 8, "n_gen": 2 if quick else 4}
        cnn_objectives = make_objectives(cnn_task, reference="uniform")
        cnn_serial = _time_search(cnn_task, cnn_objectives, cnn_settings, None)
        cnn_parallel = _time_search(cnn_task, cnn_objectives, cnn_settings, f"local:{workers}")
        extra.update(cnn_ratio=cnn_serial["total_s"] / cnn_parallel["total_s"],
                     cnn_fine_tunes=cnn_settings["pop_size"] * cnn_settings["n_gen"])
    return _ratio(
        "dask_speedup_2_workers",
        f"serial LS-weights search, {task.describe()['model']} ({torch.get_num_threads()} torch threads)",
        serial["total_s"] * 1e3,
        f"the same on --dask local:{workers}, cluster start-up included",
        parallel["total_s"] * 1e3,
        ">= 1.5",
        workers_used=len(parallel["solver"].executor_.workers_),
        fine_tunes=settings["pop_size"] * settings["n_gen"],
        max_abs_objective_diff=float(np.nanmax(np.abs(serial["front"].F - parallel["front"].F))),
        **extra,
    )


def _sleep_unit(seconds: float, item: int) -> int:
    time.sleep(seconds)
    return item


def per_task_overhead_ms(client: Any, *, units: int = 40, unit_s: float = 0.05) -> dict[str, float]:
    """Milliseconds Dask adds to each task: ``units`` sleeps of ``unit_s`` on the cluster, one unit a
    task, against what the workers could do with no overhead (units × unit_s / workers)."""

    n_workers = max(1, len(client.scheduler_info()["workers"]))
    executor = DaskExecutor(client, chunk_size=1)
    executor.map(_sleep_unit, list(range(n_workers)), shared=(0.0,))  # one round trip to warm the path
    start = time.perf_counter()
    executor.map(_sleep_unit, list(range(units)), shared=(unit_s,))
    elapsed = time.perf_counter() - start
    overhead = (elapsed * n_workers - units * unit_s) / units
    return {"per_task_overhead_ms": overhead * 1e3, "unit_ms": unit_s * 1e3,
            "overhead_share_of_unit": overhead / unit_s}


def bench_parallel_efficiency(task: UnlearningTask, *, settings: dict[str, Any], workers: int = 2,
                              label: str = "") -> dict[str, Any]:
    """Parallel efficiency of an LS-settings search (``EvolutionaryLSWeights(**settings)``) on ``local:N``:
    serial seconds at one torch thread / (N × seconds on N workers at one thread each), with the
    cluster's start-up (processes, imports, warm-up) excluded and included, and the per-task overhead.

    Both runs use one thread per process, so they compute the same front (checked: ``identical_front``)
    and the ratio measures the engine, not torch's own threads. The serial search runs before and after
    the parallel one and the ratio takes the mean of the two: a host whose speed drifts over minutes
    would bias a single serial run (``serial_after_s / serial_before_s`` shows the drift).

    The ratio is about ``workers_cpu_share / workers_cpu_per_serial_cpu``:

    - ``workers_cpu_share``: the CPU seconds of the worker processes over N × the parallel wall seconds,
      the share of the cores the workers had (the rest went to the client and scheduler, or was idle);
      a host that is slower all through leaves it as it is;
    - ``workers_cpu_per_serial_cpu``: those CPU seconds over the serial search's (mean of the two): about
      1 when the same fine-tunes cost the workers what they cost serially, above 1 when they cost more
      there (the workers' own Dask work, or a host on which two busy cores are slower than one).
    """
    import numpy as np


    objectives = make_objectives(task, reference="uniform")

    def serial_search() -> tuple[Front, float, float]:
        with one_cpu_thread():
            warm_up()  # the one-time imports the workers pay at start-up, paid here before the clock too
            start, cpu = time.perf_counter(), time.process_time()
            front = EvolutionaryLSWeights(**settings).run(task, objectives)
            return front, time.perf_counter() - start, time.process_time() - cpu

    serial, serial_before_s, cpu_before_s = serial_search()
    start = time.perf_counter()
    with connect(f"local:{workers}", threads=1) as client:
        startup_s = time.perf_counter() - start
        solver = EvolutionaryLSWeights(**settings)
        cpu_before = client.run(time.process_time)
        begun = time.perf_counter()
        parallel = solver.run(task, objectives, executor=client)
        search_s = time.perf_counter() - begun
        cpu_after = client.run(time.process_time)
        overhead = per_task_overhead_ms(client)
    _, serial_after_s, cpu_after_s = serial_search()
    serial_s = (serial_before_s + serial_after_s) / 2
    workers_cpu_s = sum(cpu_after[w] - cpu_before[w] for w in cpu_before.keys() & cpu_after.keys())
    same = bool(np.array_equal(serial.F, parallel.F, equal_nan=True))
    dask_executor = cast(DaskExecutor, solver.executor_)  # the run had a client
    return _ratio(
        f"parallel_efficiency{label}",
        f"serial LS-settings search, {task.describe()['model']}, 1 torch thread (mean of a run before and "
        "one after)",
        serial_s * 1e3,
        f"{workers} × the same on --dask local:{workers} (1 thread each), start-up excluded",
        workers * search_s * 1e3,
        ">= 0.85 (>= 0.7 with start-up)",
        with_startup=serial_s / (workers * (startup_s + search_s)),
        startup_s=startup_s,
        serial_s=serial_s,
        serial_before_s=serial_before_s,
        serial_after_s=serial_after_s,
        workers_cpu_share=workers_cpu_s / (workers * search_s),
        workers_cpu_per_serial_cpu=workers_cpu_s / ((cpu_before_s + cpu_after_s) / 2),
        fine_tunes=settings["pop_size"] * settings["n_gen"],
        tasks=dask_executor.tasks_,
        workers_used=len(dask_executor.workers_),
        identical_front=same,
        **overhead,
    )


def bench_oracle_free_select(task: UnlearningTask, *, n_candidates: int = 1100,
                             repeat: int = 3) -> dict[str, Any]:
    """The oracle-free pick (definitions §6, B = 400 replicates) over ``n_candidates`` points carrying
    ``task``'s real per-sample columns (θ0 and three perturbed copies, tiled), against the 5 s goal."""
    evaluator = MetricEvaluator(task)
    generator = torch.Generator().manual_seed(0)
    rows = []
    for scale in (0.0, 0.3, 1.0, 3.0):
        model = task.copy_original()
        with torch.no_grad():
            last = [p for p in model.parameters() if p.ndim == 2][-1]
            last.add_(scale * last.std() * torch.randn(last.shape, generator=generator))
        rows.append(evaluator(model.eval()))
    take = np.r_[0, np.arange(n_candidates - 1) % 3 + 1]
    metrics = {k: np.array([rows[i][k] for i in take]) for k in rows[0]}
    F = np.column_stack([np.linspace(0.0, 1.0, n_candidates), np.linspace(1.0, 0.0, n_candidates)])
    solver = np.array(["Original"] + ["perturbed"] * (n_candidates - 1), dtype=object)
    front = Front(("forget_kl", "retain_ce"), F, solver, metrics=metrics)
    rule = OracleFree.for_task(task)
    ms = time_ms(lambda: rule.choose(front), repeat=repeat, warmup=1)
    label = f"select oracle-free, B = {rule.n_boot}, {n_candidates} candidates"
    return _ratio("oracle_free_select", label, ms, "the 5 s goal", 5000.0, "<= 1")


# LS-settings searches whose serial run takes >= 30 s at one thread on a 2-core laptop CPU (digits).
EFFICIENCY_SEARCHES = {
    "mlp": {"pop_size": 32, "n_gen": 36, "max_epochs": 5},
    "cnn": {"pop_size": 32, "n_gen": 8, "max_epochs": 5},
}


def run_bench(
    *, quick: bool = False, cache_dir: str | None = None, progress: bool = True, compile: bool = False,
    dask: bool = True,
) -> dict[str, Any]:
    """Every ratio side by side on the digits CNN (random 50 % forgetting), with the machine."""

    repeat = 10 if quick else 50
    task = load_task(
        "digits",
        forget="random:0.5",
        model="cnn",
        seed=0,
        device="cpu",
        cache_dir=cache_dir,
        progress=progress,
    )
    ratios: dict[str, Any] = {}
    ratios.update(space_bench(task, repeat=max(3, repeat // 5), compile=compile))
    ratios["upgrad_vs_ls_step"] = bench_upgrad_vs_ls(task, repeat=repeat)
    ratios["pama_vs_upgrad_aggregation"] = bench_pama_vs_upgrad(task, repeat=repeat)
    ratios["oracle_free_select"] = bench_oracle_free_select(task)
    if dask:
        demo_task = load_task("digits", forget="random:0.5", seed=0, device="cpu", cache_dir=cache_dir,
                              progress=progress)
        ratios["dask_speedup_2_workers"] = bench_dask_speedup(demo_task, quick=quick, cnn_task=task)
        for name, model_task in (("mlp", demo_task), ("cnn", task)):
            search = {**EFFICIENCY_SEARCHES[name], "seed": 0, "progress": False}
            if quick:
                search["n_gen"] = max(2, search["n_gen"] // 4)
            ratios[f"parallel_efficiency_{name}"] = bench_parallel_efficiency(
                model_task, settings=search, label=f"_{name}")
    man = manifest()
    machine = (
        f"{man['hardware']['cpu']}, {man['hardware']['cpu_count']} cores, torch {man['versions']['torch']} "
        f"with {torch.get_num_threads()} threads, float32"
    )
    return {"ratios": ratios, "machine": machine, "manifest": man, "quick": quick}
