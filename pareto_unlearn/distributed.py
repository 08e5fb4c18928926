"""Where independent units of work run: in this process (the default) or on a Dask cluster.

An executor maps a pure function over items, in order: ``executor.map(fn, items, shared=(a, b))`` returns
``[fn(a, b, item) for item in items]``. The shared objects (a task, its objectives) go to every worker once.
With Dask the units run on the cluster's workers, each with a fixed torch thread count, so a unit gives
the same numbers as in a serial run with that thread count; the order of the results never depends on
which worker finished first.

Examples
--------
>>> ex = make_executor(None)  # serial, in this process
>>> ex.map(lambda k, x: k * x, [1, 2, 3], shared=(10,))
[10, 20, 30]
>>> with connect("local:2") as client:  # doctest: +SKIP
...     front = NSGA2LSWeights(pop_size=8, n_gen=3).run(task, objectives, client=client)
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pareto_unlearn.exceptions import ConfigError, MissingDependencyError

__all__ = ["Pending", "SerialExecutor", "DaskExecutor", "make_executor", "connect", "parse_dask_address"]

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0  # how long to wait for a remote scheduler to answer
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

    def submit(self, fn: Callable[..., Any], items: Sequence[Any], *, shared: Sequence[Any] = ()) -> Pending:
        def compute(on_result: OnResult | None) -> list[Any]:
            results = []
            for i, item in enumerate(items):
                results.append(fn(*shared, item))
                if on_result is not None:
                    on_result(i, results[-1])
            return results

        return Pending(compute)

    def map(self, fn: Callable[..., Any], items: Sequence[Any], *, shared: Sequence[Any] = (),
            on_result: OnResult | None = None) -> list[Any]:
        """``[fn(*shared, item) for item in items]``."""
        return self.submit(fn, items, shared=shared).wait(on_result)

    def share(self, *objects: Any) -> tuple[Any, ...]:
        return objects


def _on_worker(fn: Callable[..., Any], threads: int | None, item: Any, *shared: Any) -> tuple[str, Any]:
    """The unit of work as a Dask task: fixed torch threads, and the worker's address for the record."""
    import torch
    from distributed import get_worker

    if threads and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return get_worker().address, fn(*shared, item)


class DaskExecutor:
    """Runs the units as tasks of a ``dask.distributed.Client``.

    Parameters
    ----------
    client : distributed.Client
    threads : int, optional
        torch threads of each unit on its worker (default: the worker's own count; a local cluster from
        :func:`connect` gives each worker the machine's cores divided among the workers). A serial run and
        a Dask run compute the same numbers when their thread counts agree (``--threads``).

    Attributes
    ----------
    workers_ : set[str]
        Addresses of the workers that ran at least one unit.
    """

    distributed = True

    def __init__(self, client: Any, *, threads: int | None = None) -> None:
        self.client = client
        self.threads = threads
        self.workers_: set[str] = set()

    def share(self, *objects: Any) -> tuple[Any, ...]:
        """Send ``objects`` to every worker once; returns handles to pass as ``shared``."""
        # A list, so that a dict is sent as one object under a fresh key (scatter splits dicts by key).
        return tuple(self.client.scatter([obj], broadcast=True, hash=False)[0] for obj in objects)

    def submit(self, fn: Callable[..., Any], items: Sequence[Any], *, shared: Sequence[Any] = ()) -> Pending:
        """Start the units on the cluster now; ``wait`` collects them."""
        from distributed import as_completed

        futures = [self.client.submit(_on_worker, fn, self.threads, item, *shared, pure=False)
                   for item in items]
        index = {f.key: i for i, f in enumerate(futures)}

        def compute(on_result: OnResult | None) -> list[Any]:
            results: list[Any] = [None] * len(futures)
            for future, (worker, value) in as_completed(futures, with_results=True):
                self.workers_.add(worker)
                results[index[future.key]] = value
                if on_result is not None:
                    on_result(index[future.key], value)
            return results

        return Pending(compute)

    def map(self, fn: Callable[..., Any], items: Sequence[Any], *, shared: Sequence[Any] = (),
            on_result: OnResult | None = None) -> list[Any]:
        """``[fn(*shared, item) for item in items]``, computed on the workers."""
        return self.submit(fn, items, shared=shared).wait(on_result)


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


@contextlib.contextmanager
def connect(spec: str, *, threads: int | None = None, timeout: float | None = None) -> Iterator[Any]:
    """A Dask client for ``local:N`` (a LocalCluster of N worker processes, closed on exit) or for the
    scheduler at ``tcp://HOST:PORT`` (left running on exit).

    ``threads`` sets each local worker process's torch threads (default: this machine's cores divided
    among the workers, at least 1).
    """
    kind, value = parse_dask_address(spec)
    timeout = CONNECT_TIMEOUT_S if timeout is None else timeout
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - a declared dependency
        raise MissingDependencyError("--dask needs dask.distributed; pip install 'dask[distributed]'") \
            from None
    if kind == "local":
        per_worker = threads or max(1, (os.cpu_count() or 1) // int(value))
        try:
            cluster = LocalCluster(n_workers=int(value), threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR,
                                   env={"OMP_NUM_THREADS": str(per_worker)})
        except RuntimeError as exc:  # the spawned workers re-import __main__; a bare script breaks that
            raise ConfigError(f"--dask {spec}: the local Dask workers did not start ({exc}); from a script, "
                              "call this under `if __name__ == '__main__':`") from None
        client = Client(cluster)
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
