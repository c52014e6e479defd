"""The `chainlab` command line: a dispatcher that loads only the module of the command run.

Each command group is one module of this package; a command there is two functions,
``add_<command>(sub, help)`` (its parser, with ``set_defaults(func=run_<command>)``) and
``run_<command>(args) -> int`` (parses nothing more: calls one package function and prints).
:data:`COMMANDS` maps each command to its module and its one-line help, so that
``chainlab --help`` lists every command without importing any of them, and ``chainlab CMD``
imports only ``chainlab.cli.<module>`` (and what that module imports).

A new command: a row in :data:`COMMANDS`, and ``add_<command>``/``run_<command>`` in the module
of its group (a new module for a new group); docs/architecture.md.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import warnings
from collections.abc import Sequence

from chainlab import __version__
from chainlab.errors import warning_line

#: command -> (module of chainlab.cli, one-line help shown by `chainlab --help`), in that order
COMMANDS: dict[str, tuple[str, str]] = {
    "info": ("info", "summarise C3D captures"),
    "kinematics": ("kinematics", "joint angles of a trial (Plug-in Gait, Oxford Foot Model, trunk, lumbar)"),
    "simulate": ("simulate", "write a synthetic study whose true angles are known"),
    "gait": ("kinematics", "gait events, cycles and per-cycle coupling measures of a trial"),
    "study": ("study", "run a whole study: every trial of the sample sheet into the study store"),
    "new": ("new", "a study folder (config and sample sheet) from a folder of C3D captures"),
    "trial": ("study", "one trial through every stage into its output file (a workflow step)"),
    "trials": ("study", "several trials in one process, each as `chainlab trial` runs it (a workflow step)"),
    "store": ("study", "the study store without statistics, from trial result files (a workflow step)"),
    "statistics": ("study", "the study store with its statistics, from trial result files (a workflow step)"),
    "report": ("report", "one self-contained HTML report of a study (store, figures, statistics, provenance)"),
    "query": ("report", "pull variables out of a study store"),
    "figures": ("report", "draw the study's figures from its store (HTML, JSON, SVG, PDF)"),
    "agree": ("agree", "chainlab's angles of a capture against the Nexus outputs stored in it"),
}


def _command(argv: Sequence[str]) -> str | None:
    """The command named on the line: the first word that is not an option (the top level
    has no option taking a value)."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with `command`'s arguments (its module imported) and every other command
    listed by name and help only; ``command="*"``: every command's arguments (every module)."""
    parser = argparse.ArgumentParser(prog="chainlab",
                                     description="Motion capture of the kinetic chain, foot to lumbar spine.")
    parser.add_argument("--version", action="version", version=f"chainlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, text) in COMMANDS.items():
        if command in (name, "*"):
            getattr(importlib.import_module(f"chainlab.cli.{module}"), f"add_{name}")(sub, text)
        else:
            sub.add_parser(name, help=text)  # listed; its arguments are parsed only when it runs
    return parser


def _exit_on_sigterm() -> None:
    """SIGTERM (a workflow stopped, a cluster job cancelled) exits like Ctrl-C does, so the
    temporary file of an output being written is removed, never left half-written."""

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, stop)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    _exit_on_sigterm()
    warnings.formatwarning = warning_line  # one line per warning, without Python's source lines
    parser = build_parser(_command(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except BrokenPipeError:  # e.g. `chainlab info --json ... | head`
        sys.stderr.close()
        return 0


__all__ = ["COMMANDS", "build_parser", "main"]
