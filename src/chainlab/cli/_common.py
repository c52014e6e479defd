"""Arguments shared by the commands that compute a trial (kinematics, trial, trials)."""

from __future__ import annotations

import argparse

from chainlab.pipeline import DEFAULT_CHUNK_FRAMES


def add_dask_arguments(parser: argparse.ArgumentParser) -> None:
    """--chunk-frames of a command that computes a trial in chunks (chainlab.pipeline), and
    --threads and --scheduler of its dask work (chainlab.parallel)."""
    parser.add_argument("--chunk-frames", type=int, default=DEFAULT_CHUNK_FRAMES, metavar="N",
                        help="frames per chunk: each chunk is one dask task, and peak memory grows with N, "
                             "not with the capture's length (a shorter trial is one chunk; default: %(default)s)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="cores for dask's local schedulers (a workflow rule's threads; "
                             "default: the cores this process may use)")
    parser.add_argument("--scheduler", default=None, metavar="NAME|ADDRESS",
                        help="dask scheduler: threads, synchronous, processes, or the address of a "
                             "dask.distributed scheduler (tcp://HOST:PORT); default: "
                             "$CHAINLAB_DASK_SCHEDULER, else threads")
