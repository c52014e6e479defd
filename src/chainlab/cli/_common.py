"""Arguments shared by the commands that compute a trial (kinematics, trial, trials, agree),
and their report of a trial's models left out and quality problems."""

from __future__ import annotations

import argparse
import json
import sys

from chainlab.pipeline import DEFAULT_CHUNK_FRAMES
from chainlab.trial_checks import problem_lines


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


def add_markers_argument(p: argparse.ArgumentParser) -> None:
    """--markers: the lab's marker mapping (a YAML file or a preset)."""
    p.add_argument("--markers", metavar="MAP.yaml|PRESET", default=None,
                   help="the lab's marker labels -> chainlab's: a YAML file of 'LABEL: NAME' lines or a preset "
                        "(plug-in-gait, ofm, helen-hayes; docs/conventions.md); the output records it")


def say_problems(command: str, res, trial: str = "") -> None:
    """A trial's models left out and quality problems, one line each on stderr."""
    for model, reason in json.loads(res.models_left_out or "{}").items():
        print(f"chainlab {command}: {trial + ': ' if trial else ''}model {model!r} not run: {reason}", file=sys.stderr)
    for line in problem_lines(res.quality_problems, trial):
        print(f"chainlab {command}: {line}", file=sys.stderr)
