"""Independent tasks run in this process or as Ray tasks: the only module of packer that imports ray.

Without Ray (the default, and all there is without the ``packer[ray]`` extra) a :class:`TaskPool`
runs its tasks one after the other in this process. With an address it runs them as Ray tasks:
``"local"`` starts a Ray instance on this machine with its cores (and stops it on :meth:`close`),
anything else (``HOST:PORT``, ``ray://HOST:PORT``, ``auto``) joins an existing cluster, whose nodes
need packer installed in the same version. A task is a picklable callable applied to one picklable
item; the callable travels once (Ray's object store), each item with its task.

Clean shutdown: tasks still running at the time-out are cancelled (their worker processes are
killed; a CP-SAT search does not look at Python signals) and answer None; on Ctrl-C or an error
every outstanding task is cancelled before the exception goes on.
"""

from __future__ import annotations

import argparse
import importlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from packer.errors import InputError

#: The address that starts a Ray instance on this machine.
LOCAL = "local"
#: Seconds to wait for a cluster's address to accept a connection before giving up.
CONNECT_TIMEOUT_S = 5.0
#: Seconds a trial join (``ray.init`` in a child process) may take: Ray itself retries for many minutes
#: against an address that accepts connections but is no Ray cluster (13 min measured).
JOIN_TIMEOUT_S = 45.0
#: Object store of a local Ray: tasks carry sub-instances and seeds, never big arrays, and the
#: machine is shared.
LOCAL_OBJECT_STORE_BYTES = 256 * 1024 * 1024
#: Seconds between looks at finished tasks while waiting (Ctrl-C is seen at least this often).
POLL_S = 0.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds ``--ray`` and ``--ray-address ADDR`` (mutually exclusive) to a subcommand's parser."""
    g = parser.add_mutually_exclusive_group()
    g.add_argument("--ray", action="store_true",
                   help="run independent tasks on a local Ray with this machine's cores (needs packer[ray])")
    g.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="run independent tasks on the Ray cluster at ADDR (HOST:PORT, ray://HOST:PORT, auto)")


def address_of(args: argparse.Namespace) -> str | None:
    """The Ray address the parsed arguments ask for: None (in process), :data:`LOCAL` or ADDR."""
    if getattr(args, "ray_address", None):
        return str(args.ray_address)
    return LOCAL if getattr(args, "ray", False) else None


def _ray():  # type: ignore[no-untyped-def]
    try:
        import ray
    except ImportError:
        raise InputError("Ray is not installed; install the extra: pip install 'packer[ray]'",
                         field="--ray") from None
    return ray


def _reachable(address: str) -> None:
    """Raises InputError naming ``--ray-address`` unless ``HOST:PORT`` of ``address`` accepts a connection."""
    rest = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise InputError(f"{address!r} is not HOST:PORT, ray://HOST:PORT, auto or local", field="--ray-address")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as e:
        raise InputError(f"cannot reach a Ray cluster at {address}: {e.strerror or e}",
                         field="--ray-address") from None
    # Something listens there; whether it is a Ray cluster only a join tells, and a join that cannot
    # be stopped from this process is tried in a child that can be.
    code = ("import sys, ray; ray.init(address=sys.argv[1], log_to_driver=False, logging_level='ERROR'); "
            "ray.shutdown()")
    try:
        subprocess.run([sys.executable, "-c", code, address], capture_output=True, timeout=JOIN_TIMEOUT_S,
                       check=True)
    except subprocess.TimeoutExpired:
        raise InputError(f"no Ray cluster answered at {address} within {JOIN_TIMEOUT_S:g} s",
                         field="--ray-address") from None
    except subprocess.CalledProcessError as e:
        last = (e.stderr or b"").decode(errors="replace").strip().splitlines()[-1:] or ["ray.init failed"]
        raise InputError(f"cannot join a Ray cluster at {address}: {last[0]}", field="--ray-address") from None


def check_address(address: str) -> None:
    """Raises InputError unless Ray is installed and, for a cluster's ``HOST:PORT``, that address answers.

    For commands that may not need Ray after all (a solve too small to decompose): the flag still
    fails where it could not work.
    """
    _ray()
    if address not in (LOCAL, "auto"):
        _reachable(address)


def _call(fn: Callable[[Any], Any], item: Any) -> Any:
    """The body of every Ray task: ``fn(item)``."""
    return fn(item)


def _import(modules: tuple[str, ...]) -> None:
    """Imports ``modules`` in a Ray worker process (which keeps them for the tasks that follow)."""
    for m in modules:
        importlib.import_module(m)


class TaskPool:
    """Runs ``fn(item)`` for many items: in this process (``address=None``) or as Ray tasks.

    ``num_cpus``: the cores of a local Ray (default: all of this machine's); ``cpus_per_task``: what
    each task reserves (a CP-SAT sub-problem with that many search workers); ``max_parallel``: at
    most this many tasks at once (default: as many as the cluster's cores allow); ``warm``: modules
    the worker processes import at once, in the background (a Ray worker starts cold: importing
    packer's CP-SAT back end takes seconds that would otherwise fall in the first tasks' budgets).
    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None, cpus_per_task: int = 1,
                 max_parallel: int | None = None, warm: tuple[str, ...] = ()) -> None:
        self.address = address
        self.cpus_per_task = max(1, int(cpus_per_task))
        self._max_parallel = max_parallel
        self._started = False
        self._remote = None
        self._warming: list[Any] = []
        if address is None:
            return
        ray = _ray()
        if ray.is_initialized():
            return  # someone else's Ray (a test, a notebook): used, left running
        if address == LOCAL:
            ray.init(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False,
                     object_store_memory=LOCAL_OBJECT_STORE_BYTES, log_to_driver=False,
                     logging_level="WARNING")
        else:
            if address != "auto":
                _reachable(address)
            try:
                ray.init(address=address, log_to_driver=False, logging_level="WARNING")
            except (ConnectionError, RuntimeError) as e:
                raise InputError(f"cannot join the Ray cluster at {address}: {e}", field="--ray-address") from None
        self._started = True
        if warm:
            task = ray.remote(num_cpus=self.cpus_per_task, max_retries=0)(_import)
            self._warming = [task.remote(tuple(warm)) for _ in range(self.parallel)]  # type: ignore[attr-defined]

    @property
    def on_ray(self) -> bool:
        """True when tasks run as Ray tasks."""
        return self.address is not None

    @property
    def parallel(self) -> int:
        """How many tasks run at once."""
        if not self.on_ray:
            return 1
        cpus = int(_ray().cluster_resources().get("CPU", 1))
        n = max(1, cpus // self.cpus_per_task)
        return n if self._max_parallel is None else max(1, min(n, self._max_parallel))

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any], *, timeout: float | None = None,
            on_done: Callable[[int, Any], None] | None = None) -> list[Any]:
        """``[fn(item) for item in items]``, in order; None for each task not finished within ``timeout`` s.

        In process the tasks run one after the other and a task not started by the time-out is not
        started (a started one is not interrupted: give ``fn`` its own budget). ``on_done(index,
        result)`` is called in this process as each task finishes (e.g. to save results as they come).
        """
        items = list(items)
        deadline = None if timeout is None else time.perf_counter() + timeout
        if not self.on_ray:
            out: list[Any] = []
            for it in items:
                if deadline is not None and time.perf_counter() >= deadline:
                    out.append(None)
                else:
                    out.append(fn(it))
                    if on_done is not None:
                        on_done(len(out) - 1, out[-1])
            return out
        return self._map_ray(fn, items, deadline, on_done)

    def _map_ray(self, fn: Callable[[Any], Any], items: list[Any], deadline: float | None,
                 on_done: Callable[[int, Any], None] | None) -> list[Any]:
        ray = _ray()
        if self._remote is None:
            self._remote = ray.remote(num_cpus=self.cpus_per_task, max_retries=0)(_call)
        fn_ref = ray.put(fn)
        width = self.parallel if self._max_parallel is not None else len(items)
        results: list[Any] = [None] * len(items)
        running: dict[Any, int] = {}
        nxt = 0
        try:
            while nxt < len(items) or running:
                while nxt < len(items) and len(running) < width:
                    running[self._remote.remote(fn_ref, items[nxt])] = nxt  # type: ignore[attr-defined]
                    nxt += 1
                wait = POLL_S if deadline is None else min(POLL_S, deadline - time.perf_counter())
                if wait <= 0:
                    break
                done, _ = ray.wait(list(running), num_returns=1, timeout=wait)
                for ref in done:
                    i = running.pop(ref)
                    results[i] = ray.get(ref)
                    if on_done is not None:
                        on_done(i, results[i])
        finally:
            for ref in running:  # timed out, interrupted or failed elsewhere: stop them
                ray.cancel(ref, force=True)
        return results

    def close(self) -> None:
        """Stops the Ray instance this pool started (a joined cluster is only left)."""
        if self._warming and self.on_ray:
            for ref in self._warming:
                _ray().cancel(ref, force=True)
            self._warming = []
        if self._started:
            _ray().shutdown()
            self._started = False

    def __enter__(self) -> TaskPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def map_tasks(fn: Callable[[Any], Any], items: Iterable[Any], *, ray_address: str | None = None,
              timeout: float | None = None, cpus_per_task: int = 1) -> list[Any]:
    """``[fn(item) for item in items]`` in this process (``ray_address=None``) or on Ray (see :class:`TaskPool`)."""
    with TaskPool(ray_address, cpus_per_task=cpus_per_task) as pool:
        return pool.map(fn, items, timeout=timeout)


__all__ = ["LOCAL", "TaskPool", "add_arguments", "address_of", "check_address", "map_tasks"]
