"""Dask execution: the same fronts as a serial run, work really spread over workers, a killed worker costs
nothing, and a scheduler that does not answer is one clear error."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time

import numpy as np
import pytest
import torch

from pareto_unlearn.cli import main
from pareto_unlearn.config import RunConfig
from pareto_unlearn.distributed import (
    DaskExecutor,
    SerialExecutor,
    SharedObject,
    connect,
    make_executor,
    parse_dask_address,
)
from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.experiments import explore
from pareto_unlearn.solvers import EvolutionaryLSWarm, EvolutionaryLSWeights, EvolutionarySolver
from pareto_unlearn.spaces import LastLayerSpace

SEARCH = {"pop_size": 6, "n_gen": 3, "max_epochs": 2, "seed": 0, "progress": False}


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of two worker processes, one torch thread each (the session's serial count)."""
    assert torch.get_num_threads() == 1
    with connect("local:2", threads=1) as client:
        yield client


@pytest.fixture(scope="module")
def serial_search(digits_task, digits_objectives):
    return EvolutionaryLSWeights(**SEARCH).run(digits_task, digits_objectives)


def _same_front(a, b) -> None:
    np.testing.assert_array_equal(a.F, b.F)
    assert sorted(a.metrics) == sorted(b.metrics)
    for key in a.metrics:
        np.testing.assert_array_equal(a.metrics[key], b.metrics[key])
    np.testing.assert_array_equal(a.cost["forward_passes"], b.cost["forward_passes"])


def test_a_local_cluster_wakes_the_client_process_seldom(client):
    """The scheduler and the nannies run in the client's process: their ticks and monitors at the intervals
    of LOCAL_QUIET_CONFIG, not Dask's 20-500 ms; the workers' sampling profiler off."""
    import dask

    in_process = [client.cluster.scheduler, *client.cluster.workers.values()]
    for server in in_process:
        times = {name: pc.callback_time for name, pc in server.periodic_callbacks.items()}
        assert times["tick"] >= 1000 and times["monitor"] >= 2000, times
        assert times.get("memory_monitor", 1000) >= 1000, times
    profiling = client.run(lambda: dask.config.get("distributed.worker.profile.enabled"))
    assert len(profiling) == 2 and not any(profiling.values())


@pytest.mark.parametrize("spec, parsed", [("local:2", ("local", 2)), ("tcp://10.1.2.3:8786",
                                                                         ("remote", "tcp://10.1.2.3:8786"))])
def test_parse_dask_address(spec, parsed):
    assert parse_dask_address(spec) == parsed


@pytest.mark.parametrize("spec", ["local:0", "local", "2", "http://x:1", "tcp://"])
def test_bad_dask_address_names_it_and_the_forms(spec):
    with pytest.raises(ConfigError, match="local:N") as info:
        parse_dask_address(spec)
    assert repr(spec) in str(info.value)


def test_serial_executor_keeps_order_and_reports_each_result():
    seen = []
    out = make_executor(None).map(lambda k, x: k * x, [3, 1, 2], shared=(10,),
                                  on_result=lambda i, v: seen.append((i, v)))
    assert out == [30, 10, 20] and seen == [(0, 30), (1, 10), (2, 20)]
    assert isinstance(make_executor(None), SerialExecutor)
    with pytest.raises(ConfigError, match="dask.distributed.Client"):
        make_executor("tcp://host:1")


def test_ls_weights_on_two_workers_gives_the_serial_front(client, digits_task, digits_objectives,
                                                           serial_search):
    solver = EvolutionaryLSWeights(**SEARCH)
    front = solver.run(digits_task, digits_objectives, executor=client)
    _same_front(serial_search, front)
    assert len(solver.executor_.workers_) >= 2, solver.executor_.workers_


def test_warm_search_on_two_workers_gives_the_serial_front(client, digits_task, digits_objectives):
    serial = EvolutionaryLSWarm(**SEARCH).run(digits_task, digits_objectives)
    solver = EvolutionaryLSWarm(**SEARCH)
    parallel = solver.run(digits_task, digits_objectives, executor=client)
    _same_front(serial, parallel)
    assert sorted(serial.arrays) == sorted(parallel.arrays)
    for key in serial.arrays:  # the survivors' parameters, too
        np.testing.assert_array_equal(serial.arrays[key], parallel.arrays[key])
    assert len(solver.executor_.workers_) >= 2


def test_population_pieces_on_workers_give_the_serial_front(client, digits_task, digits_objectives):
    settings = {"pop_size": 12, "n_gen": 3, "population_chunks": 3, "seed": 0, "progress": False}
    serial = EvolutionarySolver(space=LastLayerSpace(), **settings).run(digits_task, digits_objectives)
    solver = EvolutionarySolver(space=LastLayerSpace(), **settings)
    _same_front(serial, solver.run(digits_task, digits_objectives, executor=client))
    assert len(solver.executor_.workers_) >= 2


def test_explore_sweeps_on_dask_give_the_serial_run(client, tmp_path, cache_dir):
    cfg = RunConfig(solvers=["ls", "jd"], cache_dir=str(cache_dir), threads=1,
                    explore={"ls": {"weights": [0.3, 0.7], "epochs": 1},
                             "jd": {"lrs": [0.1, 0.2], "epochs": 1}})
    serial = explore(cfg, tmp_path / "serial", quick=True, progress=False)
    dask = explore(cfg, tmp_path / "dask", quick=True, progress=False, client=client)
    _same_front(serial.front, dask.front)
    assert (tmp_path / "dask" / "summary.json").is_file()


def test_killed_worker_loses_nothing(client, digits_task, digits_objectives, serial_search):
    pids = client.run(os.getpid)
    done, killed = threading.Event(), {}

    def kill_a_busy_worker() -> None:
        deadline = time.monotonic() + 120
        while not done.is_set() and time.monotonic() < deadline:
            busy = [address for address, keys in client.processing().items() if keys]
            if busy:
                killed["pid"], killed["before_end"] = pids[busy[0]], not done.is_set()
                os.kill(pids[busy[0]], signal.SIGKILL)
                return
            time.sleep(0.005)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    try:
        front = EvolutionaryLSWeights(**SEARCH).run(digits_task, digits_objectives, executor=client)
    finally:
        done.set()
        killer.join()
    assert killed.get("before_end"), "no worker was killed while the search ran"
    with pytest.raises(ProcessLookupError):
        os.kill(killed["pid"], 0)  # that worker process is gone
    _same_front(serial_search, front)


KILL_REPEATS = int(os.environ.get("PARETO_UNLEARN_KILL_REPEATS", "2"))  # raise it to hunt the race


def _worker_pids(client) -> dict[str, int]:
    client.wait_for_workers(2, timeout=120)  # a killed worker's nanny starts a new one
    return client.run(os.getpid)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


class _KillingClient:
    """A client whose ``scatter`` kills workers at a chosen moment: ``during`` (one worker while the
    objects are on their way) or ``after`` (every worker that holds them, so the cluster loses the
    scattered data and the tasks depending on it are cancelled)."""

    def __init__(self, client, moment: str) -> None:
        self.client, self.moment, self.kills = client, moment, 0

    def __getattr__(self, name):
        return getattr(self.client, name)

    def scatter(self, data, **kwargs):
        if self.kills:  # the first scatter only: the executor's re-send must go through
            return self.client.scatter(data, **kwargs)
        self.kills += 1
        pids = _worker_pids(self.client)
        if self.moment == "during":
            victim = sorted(pids.values())[0]
            threading.Timer(0.005, _kill, args=(victim,)).start()
            return self.client.scatter(data, **kwargs)
        futures = self.client.scatter(data, **kwargs)
        for holders in self.client.who_has(futures).values():
            for address in holders:
                _kill(pids[address])
        return futures


def _unit_fn():
    """A unit of about 20 ms whose result depends on the shared array and the item (pickled by value)."""

    def unit(table, offset, item):
        time.sleep(0.02)
        return float(table[item % len(table)] * item + offset)

    return unit


ITEMS = list(range(24))
TABLE = np.arange(1000, dtype=np.float64) / 7.0


@pytest.fixture
def fresh_client():
    """A cluster of its own for each kill: one killed in an earlier test may still be restarting."""
    with connect("local:2", threads=1) as client:
        yield client


@pytest.mark.slow  # a fresh two-worker cluster each: about 10 s a case, 90 s for the 8 cases
@pytest.mark.parametrize("repeat", range(KILL_REPEATS))
@pytest.mark.parametrize("moment", ["before", "during", "after", "mid-run"])
def test_units_survive_a_worker_killed_at_any_moment(fresh_client, moment, repeat):
    """Cancelled futures, lost scattered data and a restarted worker without the shared objects all end
    in the lost units being resubmitted with the objects re-sent, and in the serial results."""
    client = fresh_client
    expected = SerialExecutor().map(_unit_fn(), ITEMS, shared=(TABLE, 0.5))
    pids = _worker_pids(client)
    executor = DaskExecutor(_KillingClient(client, moment) if moment in ("during", "after") else client,
                            threads=1)
    if moment == "before":  # its nanny restarts it while the objects are sent and the units start
        _kill(sorted(pids.values())[repeat % 2])
    shared = executor.share(TABLE)
    pending = executor.submit(_unit_fn(), ITEMS, shared=(*shared, 0.5))
    if moment == "mid-run":
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            busy = [address for address, keys in client.processing().items() if keys]
            if busy:
                _kill(pids[busy[0]])
                break
            time.sleep(0.002)
    assert pending.wait() == expected
    assert isinstance(shared[0], SharedObject)
    if moment == "after":  # every holder died: the units could only finish on a re-sent copy
        assert executor.resubmitted_ >= 1


def test_a_search_ships_each_shared_object_to_each_worker_once(client, digits_task, digits_objectives):
    """θ0 travels inside the task: each worker receives it once for the whole search (counted where it
    is unpickled), not once per unit."""
    executor = DaskExecutor(client, threads=1, chunk_size=1)
    solver = EvolutionaryLSWeights(**SEARCH)
    solver.run(digits_task, digits_objectives, executor=executor)
    assert executor.tasks_ >= SEARCH["pop_size"] * SEARCH["n_gen"]
    tokens = [handle.token for handle in solver.shared_]
    received = executor.received()
    assert len(received) == 2
    for worker, counts in received.items():
        assert [counts.get(token) for token in tokens] == [1] * len(tokens), (worker, counts)


@pytest.mark.parametrize("chunk_size", [1, 4, None], ids=["unchunked", "chunks-of-4", "auto"])
def test_chunked_tasks_give_the_serial_front(client, digits_task, digits_objectives, serial_search,
                                             chunk_size):
    executor = DaskExecutor(client, threads=1, chunk_size=chunk_size)
    front = EvolutionaryLSWeights(**SEARCH).run(digits_task, digits_objectives, executor=executor)
    _same_front(serial_search, front)
    if chunk_size == 4:  # 6 units a generation in chunks of 4, 4 and 2: two tasks a generation
        assert executor.tasks_ < SEARCH["pop_size"] * SEARCH["n_gen"]


def test_chunks_keep_the_order_of_the_items(client):
    seen = []
    out = DaskExecutor(client, chunk_size=3).map(lambda k, x: k * x, list(range(10)), shared=(2,),
                                                 on_result=lambda i, v: seen.append((i, v)))
    assert out == [2 * x for x in range(10)]
    assert sorted(seen) == [(i, 2 * i) for i in range(10)]


def test_a_unit_that_raises_is_not_resubmitted(client):
    def unit(x):
        raise ConfigError(f"bad item {x}")

    executor = DaskExecutor(client, threads=1)
    with pytest.raises(ConfigError, match="bad item 1"):
        executor.map(unit, [1])
    assert executor.resubmitted_ == 0


def test_cli_dask_address_that_does_not_answer(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr("pareto_unlearn.distributed.CONNECT_TIMEOUT_S", 0.5)
    out = tmp_path / "run"
    code = main(["explore", "--solvers", "ls", "--quick", "--no-progress", "--out", str(out),
                 "--dask", "tcp://127.0.0.1:9"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "tcp://127.0.0.1:9" in err[0] and "dask scheduler" in err[0] and "local:N" in err[0]
    assert not out.exists()


def test_cli_bad_dask_spec(tmp_path, capsys):
    code = main(["table", "--out", str(tmp_path / "t"), "--dask", "many"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "'many'" in err[0] and "local:N" in err[0]
    assert not (tmp_path / "t").exists()


# Dask is the `dask` extra: a process where it cannot be imported (None in sys.modules stops the import).
_WITHOUT_DASK = "import sys\nsys.modules['dask'] = None\nsys.modules['distributed'] = None\n"


def _without_dask(code: str, tmp_path):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", _WITHOUT_DASK + code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)


def test_without_dask_the_package_imports_and_a_cluster_is_refused_in_one_line(tmp_path):
    result = _without_dask(
        "import pareto_unlearn, pareto_unlearn.cli, pareto_unlearn.bench, pareto_unlearn.experiments\n"
        "from pareto_unlearn.distributed import DASK_MISSING, connect, make_executor\n"
        "from pareto_unlearn.exceptions import ConfigError\n"
        "assert make_executor(None).map(lambda k, x: k * x, [1, 2], shared=(3,)) == [3, 6]\n"
        "pareto_unlearn.cli.build_parser().parse_args(['demo', '--out', 'x'])\n"
        "try:\n"
        "    with connect('local:2'):\n"
        "        raise SystemExit('connect started a cluster without dask')\n"
        "except ConfigError as exc:\n"
        "    assert str(exc) == DASK_MISSING, exc\n"
        "    print(exc)\n", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "--dask needs the dask extra: pip install 'pareto-unlearn[dask]'"


def test_cli_dask_without_the_dask_extra_is_one_line_exit_2(tmp_path):
    out = tmp_path / "run"
    argv = ["demo", "--dask", "local:2", "--out", str(out)]
    result = _without_dask(f"from pareto_unlearn.cli import main\nsys.exit(main({argv!r}))\n", tmp_path)
    err = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(err) == 1, result.stderr
    assert err[0].endswith("--dask needs the dask extra: pip install 'pareto-unlearn[dask]'")
    assert not out.exists()


def test_longest_units_are_submitted_first_and_results_keep_item_order(client):
    costs = [1.0, 5.0, 3.0, 5.0, 0.0]
    assert DaskExecutor(None, chunk_size=2)._chunks(5, costs) == [[1, 3], [2, 0], [4]]
    assert DaskExecutor(None, chunk_size=2)._chunks(5) == [[0, 1], [2, 3], [4]]
    seen = []
    out = DaskExecutor(client, chunk_size=1).map(lambda k, x: k * x, list(range(5)), shared=(3,),
                                                 on_result=lambda i, v: seen.append((i, v)),
                                                 longest_first=costs)
    assert out == [3 * x for x in range(5)]
    assert sorted(seen) == [(i, 3 * i) for i in range(5)]


class _TwoWorkers:
    def scheduler_info(self):
        return {"workers": {"a": {}, "b": {}}}


def test_default_chunks_shrink_with_the_work_left():
    """Guided chunks: every item once, longest first; each chunk at most 1 / (workers × chunks_per_worker)
    of the cost left (or one unit), so the chunks shrink and the last ones are single units."""
    costs = [float(c) for c in np.random.default_rng(0).integers(1, 6, size=32)]
    chunks = DaskExecutor(_TwoWorkers())._chunks(32, costs)
    order = [i for chunk in chunks for i in chunk]
    assert sorted(order) == list(range(32))
    assert [costs[i] for i in order] == sorted(costs, reverse=True)
    left = sum(costs)
    for chunk in chunks:
        taken = sum(costs[i] for i in chunk)
        assert len(chunk) == 1 or taken <= left / 4
        left -= taken
    assert len(chunks[0]) > 1 and len(chunks[-1]) == len(chunks[-2]) == 1
    assert len(chunks) < 32  # fewer tasks than units: Dask's cost per task is paid less often
    assert DaskExecutor(None)._chunks(3) == [[0], [1], [2]]  # no scheduler to ask: one unit a task


def test_warm_up_pays_the_first_optimizer_imports(tmp_path):
    # The first torch.optim optimizer of a process imports torch._dynamo (1-2 s). A worker's warm-up must
    # pay it at start-up, or the first unit on each worker carries it inside the timed search.
    import subprocess
    import sys

    code = ("import sys\nfrom pareto_unlearn.distributed import warm_up\n"
            "assert 'torch._dynamo' not in sys.modules\nwarm_up()\nprint('torch._dynamo' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_parallel_efficiency_takes_the_mean_of_the_serial_runs_around_the_parallel_one(digits_task):
    """bench's parallel efficiency: the same front serially and on two workers; its numerator is the mean
    of the serial search before and after the parallel one, and the workers' CPU is read from them."""
    from pareto_unlearn.bench import bench_parallel_efficiency

    out = bench_parallel_efficiency(digits_task, settings={**SEARCH, "pop_size": 4, "n_gen": 2})
    assert out["identical_front"]
    assert out["serial_s"] == pytest.approx((out["serial_before_s"] + out["serial_after_s"]) / 2)
    assert out["numerator_ms"] == pytest.approx(out["serial_s"] * 1e3)
    assert out["ratio"] == pytest.approx(out["numerator_ms"] / out["denominator_ms"])
    assert 0 < out["workers_cpu_share"] < 2  # two threads at most busy in a worker: its unit and its loop
    assert out["workers_cpu_per_serial_cpu"] > 0
