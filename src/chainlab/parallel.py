"""Where chainlab's dask work runs: threads of this process, or a distributed scheduler.

Every stage that computes with dask does so inside :func:`dask_scheduler`::

    with dask_scheduler(threads=2):
        result = dask.compute(...)

The scheduler is chosen, in this order, by

1. the ``scheduler`` argument (a command's ``--scheduler``),
2. the environment variable ``CHAINLAB_DASK_SCHEDULER``: set by the user before
   ``snakemake`` (local jobs inherit it, SLURM jobs get it through ``sbatch --export=ALL``), or
   by the workflow from its config key ``dask_scheduler`` (``--config dask_scheduler=...`` or a
   profile's ``config:``; docs/workflow.md),
3. the default: dask's threaded scheduler with ``threads`` workers (a Snakemake rule's
   ``threads``, passed to the command as ``--threads``), so a job never uses more cores than
   the workflow gave it.

A value is ``threads``, ``synchronous`` (one thread, for debugging), ``processes``, or the
address of a running ``dask.distributed`` scheduler (``tcp://host:port``, for a
``LocalCluster`` or a cluster started with dask-jobqueue); connecting to one needs the
``distributed`` package.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator

ENV = "CHAINLAB_DASK_SCHEDULER"
LOCAL = ("threads", "synchronous", "processes")
_OPEN: list[str] = []  # the distributed schedulers this process is connected to, innermost last


class SchedulerError(ValueError):
    """The dask scheduler asked for is unknown or cannot be reached: the command's mistake
    (or the machine's), never a trial's."""


def scheduler_name(scheduler: str | None = None) -> str:
    """The scheduler that :func:`dask_scheduler` would use: an argument, else the environment,
    else ``threads``."""
    value = (scheduler or os.environ.get(ENV, "") or "threads").strip()
    if value not in LOCAL and "://" not in value:
        raise SchedulerError(
            f"dask scheduler must be one of {', '.join(LOCAL)} or a scheduler address such as "
            f"tcp://127.0.0.1:8786 (from --scheduler or ${ENV}); found {value!r}"
        )
    return value


def default_threads() -> int:
    """Cores this process may use (its CPU affinity, which SLURM and taskset restrict)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def dask_scheduler(threads: int | None = None, scheduler: str | None = None) -> Iterator[str]:
    """Run the dask computations of the ``with`` block on the chosen scheduler; yields its name.

    `threads` bounds the local schedulers' workers (default: the cores this process may use);
    a distributed scheduler has its own workers (:func:`in_order` still keeps at most
    2 x `threads` of a trial's chunks in flight, which bounds the job's memory). Inside a block on the same
    distributed scheduler (a command's, around a stage that opens its own), the client of the
    outer block is used, not a second one.
    """
    import dask

    name = scheduler_name(scheduler)
    threads = max(1, int(threads)) if threads else default_threads()
    if name not in LOCAL and _OPEN and _OPEN[-1] == name:
        yield name
        return
    if name in LOCAL:
        with dask.config.set(scheduler=name, num_workers=threads):
            yield name
        return
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise SchedulerError(
            f"dask scheduler {name!r} is a distributed address, but the 'distributed' package "
            "is not installed (pip install distributed)"
        ) from exc
    try:
        # named, so that the scheduler's event log tells chainlab's jobs from other clients
        client = Client(name, timeout="20s", set_as_default=False, name="chainlab")
    except OSError as exc:
        raise SchedulerError(f"cannot reach the dask scheduler at {name} (from --scheduler or ${ENV}): {exc}") from exc
    try:
        # the current client too: what finds it by get_client() (xarray's distributed lock
        # when writing netCDF/HDF5 under this scheduler) must see this one
        with client.as_current(), dask.config.set(scheduler=client.get):
            _OPEN.append(name)
            try:
                yield name
            finally:
                _OPEN.pop()
    finally:
        client.close()


def in_order(fn: Callable, items: list, threads: int | None = None, scheduler: str | None = None) -> Iterator:
    """``fn(*item)`` for every item, yielded in order: one item is a plain call in this thread
    (no scheduler started, nothing of dask imported); more are dask tasks on the scheduler of
    :func:`dask_scheduler`, at most ``2 * threads`` results held at once."""
    if len(items) <= 1:
        yield from (fn(*item) for item in items)
        return
    import dask  # only for work of more than one task

    batch = 2 * max(1, int(threads) if threads else default_threads())
    with dask_scheduler(threads, scheduler):
        for k in range(0, len(items), batch):
            tasks = [dask.delayed(fn, pure=False, traverse=False)(*item) for item in items[k:k + batch]]
            yield from dask.compute(*tasks)


class Progress:
    """Progress of a pass over a trial's frames on stderr (when `enabled`)."""

    def __init__(self, name: str, stage: str, total: int, enabled: bool):
        self.name, self.stage, self.total, self.enabled = name, stage, total, enabled
        self.t0 = time.monotonic()

    def __call__(self, done: int) -> None:
        if self.enabled:
            pct = 100.0 * done / max(self.total, 1)
            print(f"{self.name}: {self.stage} {done}/{self.total} frames ({pct:.0f} %), "
                  f"{time.monotonic() - self.t0:.0f} s", file=sys.stderr, flush=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.t0
