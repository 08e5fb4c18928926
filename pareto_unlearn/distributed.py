"""Where independent units of work run: in this process (the default) or on a Dask cluster.

An executor maps a pure function over items, in order: ``executor.map(fn, items, shared=(a, b))`` returns
``[fn(a, b, item) for item in items]``. The shared objects (a task, its objectives) go to every worker once.
With Dask the units run on the cluster's workers, each with a fixed torch thread count, so a unit gives
the same numbers as in a serial run with that thread count; the order of the results never depends on
which worker finished first.

Dask is optional, the ``dask`` extra (``pip install 'pareto-unlearn[dask]'``): it is imported only once a
cluster is asked for (:func:`connect`, or a client given to :func:`make_executor`), and asking for one
without it is a one-line :class:`~pareto_unlearn.exceptions.ConfigError` (:func:`require_dask`).

Examples
--------
>>> ex = make_executor(None)  # serial, in this process
>>> ex.map(lambda k, x: k * x, [1, 2, 3], shared=(10,))
[10, 20, 30]
>>> with connect("local:2") as client:  # doctest: +SKIP
...     front = EvolutionaryLSWeights(pop_size=8, n_gen=3).run(task, objectives, executor=client)
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pareto_unlearn.exceptions import ComputeError, ConfigError

__all__ = ["Pending", "SerialExecutor", "DaskExecutor", "SharedObject", "make_executor", "connect",
           "parse_dask_address", "require_dask", "warm_up", "DASK_MISSING"]

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0  # how long to wait for a remote scheduler to answer
DASK_MISSING = "--dask needs the dask extra: pip install 'pareto-unlearn[dask]'"
_LOCAL = re.compile(r"^local:(\d+)$")
_REMOTE = re.compile(r"^(tcp|tls|ws|wss|inproc)://[^\s/]+$")


OnResult = Callable[[int, Any], None]


class Pending:
    """Units handed to an executor; :meth:`wait` returns their results in the order of the items."""

    def __init__(self, compute: Callable[[OnResult | None], list[Any]]) -> None:
        self._compute = compute

    def wait(self, on_result: OnResult | None = None) -> list[Any]:
        """All results, in order; ``on_result(i, value)`` is called as each one arrives (to checkpoint it)."""
        return self._compute(on_result)


class SerialExecutor:
    """Runs every unit here, one after another (no cluster); :meth:`submit` defers the work to ``wait``."""

    distributed = False

    def submit(self, fn: Callable[..., Any], items: Sequence[Any], *, shared: Sequence[Any] = (),
               longest_first: Sequence[float] | None = None) -> Pending:
        """``fn(*shared, item)`` for every item, run here, in order, when the caller waits
        (``longest_first`` matters only to executors that run units side by side)."""
        def compute(on_result: OnResult | None) -> list[Any]:
            results = []
            for i, item in enumerate(items):
                results.append(fn(*shared, item))
                if on_result is not None:
                    on_result(i, results[-1])
            return results

        return Pending(compute)

    def map(self, fn: Callable[..., Any], items: Sequence[Any], *, shared: Sequence[Any] = (),
            on_result: OnResult | None = None, longest_first: Sequence[float] | None = None) -> list[Any]:
        """``[fn(*shared, item) for item in items]``."""
        return self.submit(fn, items, shared=shared).wait(on_result)

    def share(self, *objects: Any) -> tuple[Any, ...]:
        """The objects themselves: nothing to send in one process."""
        return objects


def _on_worker(fn: Callable[..., Any], threads: int | None, items: Sequence[Any],
               *shared: Any) -> tuple[str, list[Any]]:
    """A chunk of units as one Dask task: fixed torch threads, and the worker's address for the record."""
    import torch
    from distributed import get_worker

    if threads and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    values = [s.value if isinstance(s, _Payload) else s for s in shared]
    return get_worker().address, [fn(*values, item) for item in items]


# How often each shared object arrived in this process (a worker counts its own): scattered once and
# copied once to each worker, every count is 1; an object shipped with each task would count per task.
_RECEIVED: dict[str, int] = {}


class _Payload:
    """A shared object on its way to the workers, counted in :data:`_RECEIVED` where it is unpickled."""

    def __init__(self, value: Any, token: str) -> None:
        self.value, self.token = value, token

    def __reduce__(self) -> tuple[Any, ...]:
        return _arrive, (self.value, self.token)


def _arrive(value: Any, token: str) -> _Payload:
    _RECEIVED[token] = _RECEIVED.get(token, 0) + 1
    return _Payload(value, token)


def _received() -> dict[str, int]:
    return dict(_RECEIVED)


def warm_up() -> None:
    """Import torch, run one small forward and backward pass and one SGD step, so that the first real unit
    of a process costs what every later one does: ``connect`` runs it on every local worker as part of the
    start-up, and a gradient solver before its clock starts. The first ``torch.optim`` optimizer of a
    process imports ``torch._dynamo``: 1–2 s, a fifth of a 12-generation MLP search's worker time when it
    was left to the first unit. No random draw: the caller's RNG streams are left as they were."""
    import torch

    x = torch.nn.Parameter(torch.ones(8, 4))
    (torch.nn.functional.linear(x, torch.ones(3, 4)).square().sum()).backward()
    torch.optim.SGD([x], lr=0.1, momentum=0.9).step()


class SharedObject:
    """An object sent to every worker once (:meth:`DaskExecutor.share`), and what sends it again.

    ``future`` is the handle the tasks depend on; when a lost worker takes the last copy with it (or a
    restarted worker joins without it), :meth:`DaskExecutor.submit` re-scatters ``value`` and replaces
    ``future``, so every later call with this handle uses the new copy.
    """

    def __init__(self, value: Any, future: Any, token: str) -> None:
        self.value = value
        self.future = future
        self.token = token


def _is_worker_loss(exc: BaseException) -> bool:
    """A unit failed because a worker or data went away, not because its function raised."""
    from concurrent.futures import CancelledError

    from distributed.scheduler import KilledWorker

    return isinstance(exc, (CancelledError, KilledWorker))


class DaskExecutor:
    """Runs the units as tasks of a ``dask.distributed.Client``.

    Small units are chunked: each task runs ``chunk_size`` consecutive items, so that Dask's cost per
    task is paid once a chunk (the results are those of one unit a task, in the same order). The shared
    objects go to one worker and are copied once to every other one; tasks refer to them by key.

    A lost worker costs nothing but time: a chunk that was cancelled, killed with its worker or lost the
    scattered objects it depends on is submitted again (with the shared objects re-sent), up to
    ``max_attempts`` times; the results are those of a run without the loss.

    Parameters
    ----------
    client : distributed.Client
    threads : int, optional
        torch threads of each unit on its worker (default: the worker's own count; a local cluster from
        :func:`connect` gives each worker the machine's cores divided among the workers). A serial run and
        a Dask run compute the same numbers when their thread counts agree (``--threads``).
    chunk_size : int, optional
        Units per task; default: chunks that shrink with the work left, each about 1 / (workers ×
        ``chunks_per_worker``) of it, down to single units at the end.
    chunks_per_worker : int
        With the default ``chunk_size``: more chunks balance uneven units better, fewer cost less.
    max_attempts : int
        How often one chunk may be submitted (and a shared object sent) before its loss is an error.
    scatter_timeout_s : float
        How long sending the shared objects may take before it is tried again (a worker that dies while
        receiving them can hold the send until the comm times out).

    Attributes
    ----------
    workers_ : set[str]
        Addresses of the workers that ran at least one unit.
    resubmitted_ : int
        How many chunks were submitted again after a worker loss.
    tasks_ : int
        How many Dask tasks were submitted (chunks, retries included).
    """

    distributed = True

    def __init__(self, client: Any, *, threads: int | None = None, chunk_size: int | None = None,
                 chunks_per_worker: int = 2, max_attempts: int = 5, scatter_timeout_s: float = 20.0) -> None:
        if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
            raise ConfigError(
                f"DaskExecutor: `chunk_size` must be an integer >= 1 or None. Got {chunk_size!r}."
            )
        self.client = client
        self.threads = threads
        self.chunk_size = chunk_size
        self.chunks_per_worker = chunks_per_worker
        self.max_attempts = max_attempts
        self.scatter_timeout_s = scatter_timeout_s
        self.workers_: set[str] = set()
        self.resubmitted_ = 0
        self.tasks_ = 0

    def _scatter(self, value: Any, token: str) -> Any:
        # A list, so that a dict is sent as one object under a fresh key (scatter splits dicts by key).
        for attempt in range(1, self.max_attempts + 1):
            try:
                future = self.client.scatter([_Payload(value, token)], hash=False,
                                             timeout=self.scatter_timeout_s)[0]
            # A worker that died while receiving it: the scheduler may still list it (KeyError once it
            # is gone, a closed comm or no answer while it goes).
            except (OSError, TimeoutError, KeyError) as exc:
                if attempt == self.max_attempts:
                    raise ComputeError(f"Dask: could not send a shared object to the workers after "
                                       f"{attempt} tries ({type(exc).__name__}: {exc})") from None
                logger.warning("Dask: sending a shared object failed (%s: %s); sending it again",
                               type(exc).__name__, exc)
                continue
            self._replicate(future)
            return future
        raise AssertionError("unreachable")

    def _replicate(self, future: Any) -> None:
        """Copy a scattered object to every worker, so that each unit can run where it is sent (the
        scheduler otherwise keeps short units beside the only copy). Bounded in time: a replication to a
        worker that died meanwhile can wait for good, and is then left to Dask's on-demand transfers."""
        try:
            self.client.sync(self.client._replicate, [future], callback_timeout=self.scatter_timeout_s)
        # Only a speed-up, and it fails in many ways while a worker goes (a closed comm, no answer, the
        # scheduler sampling from an empty worker set, a client without ``_replicate``): the copy sent
        # stays usable, and a unit whose copy is lost is submitted again.
        except Exception as exc:  # noqa: BLE001
            logger.warning("Dask: copying a shared object to every worker failed (%s: %s); workers fetch "
                           "it when they need it", type(exc).__name__, exc)

    def share(self, *objects: Any) -> tuple[SharedObject, ...]:
        """Send ``objects`` to every worker once; returns handles to pass as ``shared``."""
        handles = []
        for obj in objects:
            token = f"{type(obj).__name__}-{uuid.uuid4().hex[:12]}"  # unique across executors
            handles.append(SharedObject(obj, self._scatter(obj, token), token))
        return tuple(handles)

    def received(self) -> dict[str, dict[str, int]]:
        """Per worker, how often each shared object (by ``SharedObject.token``) arrived there."""
        return self.client.run(_received)

    def _chunks(self, n: int, longest_first: Sequence[float] | None = None) -> list[list[int]]:
        """Item indices of each task, in the order they are submitted.

        A fixed ``chunk_size`` cuts equal chunks. By default the chunks shrink as the work left shrinks
        (guided self-scheduling): each takes about 1 / (workers × ``chunks_per_worker``) of the cost not yet
        chunked, so the first tasks are large (Dask's cost per task is paid rarely) and the last are single
        short units (a generation's barrier leaves a worker idle for at most one short unit).
        """
        order = list(range(n))
        if longest_first is not None:  # the costliest units first, so the last to finish are short ones
            order = sorted(order, key=lambda i: -float(longest_first[i]))
        if self.chunk_size is not None:
            return [order[a : a + self.chunk_size] for a in range(0, n, self.chunk_size)]
        try:
            n_workers = max(1, len(self.client.scheduler_info()["workers"]))
        except Exception:  # noqa: BLE001 - no scheduler information: one unit a task
            return [[i] for i in order]
        cost = [1.0 if longest_first is None else max(float(longest_first[i]), 0.0) for i in order]
        left, share = sum(cost), 1.0 / (n_workers * self.chunks_per_worker)
        chunks: list[list[int]] = []
        a = 0
        while a < n:
            b, taken, target = a + 1, cost[a], left * share
            while b < n and taken + cost[b] <= target:
                taken, b = taken + cost[b], b + 1
            chunks.append(order[a:b])
            left, a = left - taken, b
        return chunks

    def _submit_chunk(self, fn: Callable[..., Any], items: list[Any],
                      shared: Sequence[Any]) -> tuple[Any, list[Any]]:
        """The chunk's future and the shared-object futures it depends on."""
        used = [h.future for h in shared if isinstance(h, SharedObject)]
        args = [h.future if isinstance(h, SharedObject) else h for h in shared]
        self.tasks_ += 1
        return self.client.submit(_on_worker, fn, self.threads, items, *args, pure=False), used

    def _reshare(self, shared: Sequence[Any], used: list[Any]) -> None:
        """Send again the shared objects a lost chunk depended on, unless an earlier loss already did."""
        handles = [h for h in shared if isinstance(h, SharedObject)]
        for handle, future in zip(handles, used):
            if handle.future is future:
                handle.future = self._scatter(handle.value, handle.token)

    def submit(self, fn: Callable[..., Any], items: Sequence[Any], *, shared: Sequence[Any] = (),
               longest_first: Sequence[float] | None = None) -> Pending:
        """Start the units on the cluster now; ``wait`` collects them (in the order of the items).

        ``longest_first`` (one expected cost per item, any unit) submits the costliest units first: a
        generation then ends on short units, and the workers wait less for the last one.
        """
        from distributed import as_completed

        chunks = self._chunks(len(items), longest_first)
        submitted = [self._submit_chunk(fn, [items[i] for i in chunk], shared) for chunk in chunks]

        def compute(on_result: OnResult | None) -> list[Any]:
            results: list[Any] = [None] * len(items)
            attempts = [1] * len(chunks)
            chunk_of = {future.key: (c, used) for c, (future, used) in enumerate(submitted)}
            # with_results: the client's event loop fetches each result as its task ends, instead of one
            # round trip per result from this thread (7.5 ms each: a generation's last results queued)
            running = as_completed([future for future, _ in submitted], with_results=True, raise_errors=False)
            for future, fetched in running:
                c, used = chunk_of.pop(future.key)
                try:
                    # a failed or lost chunk raises its own exception here, as a plain result() would
                    worker, values = fetched if future.status == "finished" else future.result()
                except BaseException as exc:
                    if not _is_worker_loss(exc):
                        raise
                    if attempts[c] >= self.max_attempts:
                        raise ComputeError(f"Dask: units {_span(chunks[c])} were lost "
                                           f"{attempts[c]} times with their worker ({exc}); check the "
                                           "workers' memory and logs") from None
                    logger.warning("Dask: units %s lost with a worker (%s); submitting them again",
                                   _span(chunks[c]), exc)
                    # Their dependencies may have gone with the worker: send them again (once per loss).
                    self._reshare(shared, used)
                    attempts[c] += 1
                    self.resubmitted_ += 1
                    retry, used = self._submit_chunk(fn, [items[i] for i in chunks[c]], shared)
                    chunk_of[retry.key] = (c, used)
                    running.add(retry)
                    continue
                self.workers_.add(worker)
                for i, value in zip(chunks[c], values):
                    results[i] = value
                    if on_result is not None:
                        on_result(i, value)
            return results

        return Pending(compute)

    def map(self, fn: Callable[..., Any], items: Sequence[Any], *, shared: Sequence[Any] = (),
            on_result: OnResult | None = None, longest_first: Sequence[float] | None = None) -> list[Any]:
        """``[fn(*shared, item) for item in items]``, computed on the workers (see :meth:`submit`)."""
        return self.submit(fn, items, shared=shared, longest_first=longest_first).wait(on_result)


def _span(indices: Sequence[int]) -> str:
    """Item indices for a message: ``3–6`` when consecutive, else the list."""
    if list(indices) == list(range(indices[0], indices[-1] + 1)):
        return f"{indices[0]}–{indices[-1]}"
    return ", ".join(map(str, indices))


def make_executor(client: Any = None, *, threads: int | None = None) -> SerialExecutor | DaskExecutor:
    """The executor for ``client``: serial when ``None``, else a :class:`DaskExecutor`."""
    if client is None:
        return SerialExecutor()
    if isinstance(client, (SerialExecutor, DaskExecutor)):
        return client
    if not hasattr(client, "submit") or not hasattr(client, "scatter"):
        raise ConfigError(f"`client` must be a dask.distributed.Client or None. Got {type(client).__name__}.")
    return DaskExecutor(client, threads=threads)


def parse_dask_address(spec: str) -> tuple[str, int | str]:
    """``("local", N)`` for ``local:N``, ``("remote", address)`` for a scheduler address.

    Examples
    --------
    >>> parse_dask_address("local:2")
    ('local', 2)
    >>> parse_dask_address("tcp://10.0.0.5:8786")
    ('remote', 'tcp://10.0.0.5:8786')
    """
    text = str(spec).strip()
    local = _LOCAL.match(text)
    if local:
        n = int(local.group(1))
        if n < 1:
            raise ConfigError(f"--dask {spec!r}: local:N needs N >= 1 worker processes, e.g. local:2")
        return "local", n
    if _REMOTE.match(text):
        return "remote", text
    raise ConfigError(f"--dask {spec!r} is not understood; give local:N (N worker processes on this machine) "
                      "or a scheduler address like tcp://HOST:8786")


def require_dask() -> None:
    """Refuse a Dask cluster, with :data:`DASK_MISSING` as a :class:`ConfigError`, where the ``dask`` extra
    (``dask`` and ``distributed``) is not installed; this module imports Dask nowhere else before a client
    exists, so ``import pareto_unlearn`` and serial runs never need it.
    """
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise ConfigError(DASK_MISSING) from None


# A LocalCluster's scheduler and nannies live in the client's process: at Dask's defaults their event-loop
# ticks (20 ms), system and memory monitors and the workers' sampling profiler woke it about 180 times a
# second, time taken from the survival and scoring it does between generations (profiled with yappi on a
# 12-generation MLP search). A local run does not need them that often: its dashboard is off.
LOCAL_QUIET_CONFIG: dict[str, Any] = {
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.worker.profile.enabled": False,
}


@contextlib.contextmanager
def connect(spec: str, *, threads: int | None = None, timeout: float | None = None) -> Iterator[Any]:
    """A Dask client for ``local:N`` (a LocalCluster of N worker processes, closed on exit) or for the
    scheduler at ``tcp://HOST:PORT`` (left running on exit).

    ``threads`` sets each local worker process's torch threads (default: this machine's cores divided
    among the workers, at least 1).
    """
    kind, value = parse_dask_address(spec)
    timeout = CONNECT_TIMEOUT_S if timeout is None else timeout
    require_dask()
    from distributed import Client, LocalCluster

    if kind == "local":
        per_worker = threads or max(1, (os.cpu_count() or 1) // int(value))
        import dask

        try:
            # Dask sets MALLOC_TRIM_THRESHOLD_ in its workers by default; any explicit trim threshold turns
            # off glibc's dynamic mmap threshold, so every large tensor is mmap'ed and faulted in anew: a
            # digits-CNN fine-tune ran 2.6x slower on a worker than in a plain process (0.34 s vs 0.13 s).
            # The active memory manager drops the copies of the shared objects that no queued task needs
            # at that moment (every 2 s), so a worker would fetch θ0 again for its next generation.
            # silence_logs=CRITICAL: at close, a worker whose scheduler went first logs a heartbeat traceback
            # at ERROR; a task's own error still reaches the client as its exception.
            with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                                  "distributed.scheduler.active-memory-manager.start": False,
                                  **LOCAL_QUIET_CONFIG}):
                cluster = LocalCluster(n_workers=int(value), threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.CRITICAL,
                                       env={"OMP_NUM_THREADS": str(per_worker)})
        except RuntimeError as exc:  # the spawned workers re-import __main__; a bare script breaks that
            raise ConfigError(f"--dask {spec}: the local Dask workers did not start ({exc}); from a script, "
                              "call this under `if __name__ == '__main__':`") from None
        client = Client(cluster)
        client.run(warm_up)  # imports and the first autograd once per worker, as part of the start-up
        logger.info("started a LocalCluster with %d workers (%d torch threads each)", value, per_worker)
        try:
            yield client
        finally:
            client.close()
            cluster.close()
        return
    try:
        client = Client(value, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"--dask {value}: no Dask scheduler answers there within {timeout:g} s ({exc}); "
                          "start one with `dask scheduler` and workers with `dask worker ADDRESS`, or use "
                          "--dask local:N") from None
    try:
        yield client
    finally:
        client.close()
