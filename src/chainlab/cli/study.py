"""The commands of a study: `chainlab study` (the whole study in one process) and the
workflow's steps, `chainlab trial`, `trials`, `store` and `statistics`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from chainlab import pipeline, study
from chainlab.cli._common import add_dask_arguments, add_markers_argument, say_problems
from chainlab.config import ConfigError, batch_rows, read_rows, read_sheet, select_rows, settings_from, sheet_records
from chainlab.errors import ChainlabError
from chainlab.io.study_store import open_study
from chainlab.results import TrialFailure, TrialRow

SETTINGS_HELP = ("the study's settings: a config file (YAML, chainlab.config) or the JSON of some of its "
                 "sections, as the workflow passes them (default: every default)")


def add_study(sub, help: str) -> None:
    p = sub.add_parser(
        "study",
        help=help,
        description=(
            "Read the config (study name, sample sheet), run every trial through reading, "
            "kinematics and gait analysis, fit the study statistics, and write "
            "OUT/<study>/study.h5 (the study store, docs/schema.md), metrics.csv, "
            "tests.csv (the config's tests of its own measures) and failures.tsv. A trial that fails is listed in failures.tsv with its stage and "
            "reason; the others go on. The config's subjects table (subjects: config/subjects.tsv) gives subject "
            "measurements over the captures' (docs/workflow.md, Subject measurements)."
        ),
    )
    p.add_argument("config", nargs="?", default="config/config.yaml", help="default: %(default)s")
    p.add_argument("--out", default="results", help="output folder (default: %(default)s)")
    p.add_argument("--permutations", type=int, default=None,
                       help="SPM permutations (default: the config's statistics.permutations, 2000)")
    p.set_defaults(func=run_study)


def run_study(args: argparse.Namespace) -> int:
    try:
        store = study.build_study(args.config, args.out, n_permutations=args.permutations)
    except (ChainlabError, OSError, ValueError) as exc:
        print(f"chainlab study: {exc}", file=sys.stderr)
        return 1
    s = open_study(store)
    fails = s.provenance.sizes.get("failure", 0)
    print(f"{store}: {len(s.trials)} trials, {s.cycles.sizes['cycle']} cycles"
          + (f", {fails} trial(s) failed (see failures.tsv)" if fails else ""))
    print(s.headline() + " (failures.tsv, problems.tsv)")
    return 0


def _add_trial_run_arguments(p: argparse.ArgumentParser) -> None:
    """How `chainlab trial` and `chainlab trials` compute a trial: settings, solver, dask."""
    p.add_argument("--settings", metavar="CONFIG|JSON", help=SETTINGS_HELP + "; kinematics, gait and kinetics apply")
    p.add_argument("--solver", choices=("direct", "global"), default=None,
                   help="kinematics solver, instead of the settings' (see chainlab kinematics --help)")
    p.add_argument("--subjects", default=None, metavar="SUBJECTS.tsv",
                   help="the study's subjects table (column subject and Nexus' measurement names, Nexus' units; "
                        "docs/workflow.md): its values replace the captures' for each row's subject, as "
                        "`chainlab kinematics --subject` (default: the --settings config's subjects, else none)")
    add_markers_argument(p)
    add_dask_arguments(p)


def _settings(args: argparse.Namespace, command: str):
    """The config a workflow step runs with (--settings; --subjects, --solver replacing its
    subjects table and solver), or None after printing why not."""
    try:
        config = settings_from(args.settings).with_subjects(getattr(args, "subjects", None))
    except ValueError as exc:
        print(f"chainlab {command}: {exc}", file=sys.stderr)
        return None
    if getattr(args, "solver", None):
        config = dataclasses.replace(config, kinematics={**config.kinematics, "solver": args.solver})
    return config


def _run_one(row: dict, output, config, args: argparse.Namespace, read_static=None):
    return pipeline.run_trial(TrialRow.of(row), output, config, chunk_frames=args.chunk_frames, threads=args.threads,
                              scheduler=args.scheduler, read_static=read_static, markers=args.markers)


def add_trial(sub, help: str) -> None:
    p = sub.add_parser(
        "trial",
        help=help,
        description="Read, compute the kinematics and the gait analysis of one trial and write its "
                    "result file; a trial that fails writes a file recording the stage and reason "
                    "instead, and the command still succeeds so that the study goes on. The trial is "
                    "computed in chunks of --chunk-frames frames (dask tasks when several), written incrementally "
                    "(progress on stderr when there is more than one chunk); peak memory is bounded by the chunk "
                    "but for the per-cycle curves, held until written (docs/long_captures.md).",
    )
    for name, what in (("subject", "subject id"), ("condition", "condition"), ("trial", "trial id"),
                       ("dynamic", "the dynamic trial (C3D)")):
        p.add_argument(f"--{name}", required=True, help=what)
    p.add_argument("--static", default="", help="the subject's static trial (C3D); default: the calibration "
                                                "stored in the dynamic capture")
    p.add_argument("-o", "--output", required=True, metavar="TRIAL.h5", help="result file (written atomically)")
    _add_trial_run_arguments(p)
    p.set_defaults(func=run_trial)


def run_trial(args: argparse.Namespace) -> int:
    config = _settings(args, "trial")
    if config is None:
        return 2
    row = {k: getattr(args, k) for k in ("subject", "condition", "trial", "static", "dynamic")}
    try:
        res = _run_one(row, args.output, config, args)
    except pipeline.TrialSetupError as exc:
        print(f"chainlab trial: {exc}", file=sys.stderr)
        return 2
    if isinstance(res, TrialFailure):
        print(f"chainlab trial: {args.trial} failed at {res.stage}: {res.reason}", file=sys.stderr)
        return 0  # recorded: the study goes on
    for p in res.problems:
        print(f"chainlab trial: {p}", file=sys.stderr)
    say_problems("trial", res)
    print(f"{args.output}: {len(res.metrics)} cycles")
    return 0


def add_trials(sub, help: str) -> None:
    p = sub.add_parser(
        "trials",
        help=help,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Run several trials one after the other in one process, each exactly as `chainlab trial`\n"
            "runs it, into DIR/<trial>.h5 (the same file `chainlab trial` writes). Python's\n"
            "imports and the first-call warm-up are paid once, not per trial, and each static\n"
            "capture is read once. A trial that fails (a capture missing or broken, markers\n"
            "missing for a model, any error of its data) writes a file recording the stage and\n"
            "the reason, and the next trial goes on; a fault of the machine (out of memory, an\n"
            "I/O error once the captures are read) stops the command with an error, so that a\n"
            "rerun can succeed. Progress on stderr, one line per trial:\n"
            "  [k/n] TRIAL: CYCLES cycles, SECONDS s\n"
            "  [k/n] TRIAL: failed at STAGE: REASON"
        ),
        epilog=(
            "A --sheet's relative capture paths are relative to the sheet's folder (as everywhere);\n"
            "the --rows' are used as written, relative to the current folder (the workflow passes\n"
            "them relative to the study folder). Examples:\n"
            "  chainlab trials --sheet config/trials.tsv --out-dir results/default/trials\n"
            "  chainlab trials --sheet trials.tsv --only S01_control_01 --only S01_control_02 --out-dir out\n"
            "  chainlab trials --sheet trials.tsv --batch 2 --batch-size 20 --out-dir out   (rows 21-40)\n"
            "  chainlab trials --rows '[{\"subject\": \"S01\", \"condition\": \"control\", \"trial\": \"T1\",\n"
            "                           \"static\": \"S01/static.c3d\", \"dynamic\": \"S01/T1.c3d\"}]' --out-dir out"
        ),
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--rows", metavar="JSON",
                       help="the trials: a JSON list of objects with keys subject, condition, trial, static, "
                            "dynamic (the workflow's batch of sample-sheet rows)")
    which.add_argument("--sheet", metavar="TRIALS.tsv",
                       help="the trials: a sample sheet (chainlab.config.read_sheet; columns subject, condition, "
                            "trial, static, dynamic), every row unless --only")
    p.add_argument("--batch", type=int, metavar="K",
                     help="run only the K-th batch of --batch-size consecutive rows (1 is the first; the workflow's job)")
    p.add_argument("--batch-size", type=int, metavar="N", help="rows per batch, with --batch")
    p.add_argument("--only", action="append", metavar="TRIAL",
                     help="run only this trial of the rows (repeat for more; sheet order is kept)")
    p.add_argument("--out-dir", required=True, metavar="DIR",
                     help="folder of the result files, DIR/<trial>.h5 (created; each written atomically)")
    _add_trial_run_arguments(p)
    p.set_defaults(func=run_trials)


def run_trials(args: argparse.Namespace) -> int:
    config = _settings(args, "trials")
    if config is None:
        return 2
    try:
        rows = sheet_records(read_sheet(args.sheet)) if args.sheet else read_rows(args.rows)
        rows = select_rows(batch_rows(rows, args.batch, args.batch_size), args.only)
    except ConfigError as exc:
        print(f"chainlab trials: {exc}", file=sys.stderr)
        return 2
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    read_static = study.static_reader()  # each static capture read once (a failed read is tried again)

    n, failed = len(rows), 0
    for k, row in enumerate(rows, 1):
        t0 = time.perf_counter()
        try:
            res = _run_one(row, out_dir / f"{row['trial']}.h5", config, args, read_static)
        except pipeline.TrialSetupError as exc:
            print(f"chainlab trials: {exc}", file=sys.stderr)
            return 2
        except Exception as exc:  # the machine's fault: the command fails (a rerun can succeed)
            print(f"[{k}/{n}] {row['trial']}: stopped, not the trial's fault: {type(exc).__name__}: {exc}",
                  file=sys.stderr, flush=True)
            raise
        if isinstance(res, TrialFailure):
            failed += 1
            print(f"[{k}/{n}] {row['trial']}: failed at {res.stage}: {res.reason}", file=sys.stderr, flush=True)
            continue
        for p in res.problems:
            print(f"  {row['trial']}: {p}", file=sys.stderr)
        say_problems("trials", res, row["trial"])
        print(f"[{k}/{n}] {row['trial']}: {len(res.metrics)} cycles, {time.perf_counter() - t0:.2f} s",
              file=sys.stderr, flush=True)
    print(f"{out_dir}: {n} trial(s), {n - failed} done, {failed} failed (recorded in their files)")
    return 0


def add_store(sub, help: str) -> None:
    p = sub.add_parser(
        "store",
        help=help,
        description="Assemble the results of `chainlab trial` into a study store (docs/schema.md) "
                    "without its statistics, and write metrics.csv (one row per cycle) and "
                    "failures.tsv (trial, stage, reason) beside it.",
    )
    p.add_argument("trials", nargs="+", metavar="TRIAL.h5")
    p.add_argument("-o", "--output", required=True, metavar="TABLES.h5")
    p.set_defaults(func=run_store)


def run_store(args: argparse.Namespace) -> int:
    def say(msg):
        print(f"chainlab store: {msg}", file=sys.stderr, flush=True)

    try:
        run = study.open_trial_files(args.trials, progress=say)
        store = study.store_tables(run, args.output, progress=say)
    except (ChainlabError, OSError, ValueError) as exc:
        print(f"chainlab store: {exc}", file=sys.stderr)
        return 1
    print(f"{store}: {len(run.trials)} trials, {sum(len(t.metrics) for t in run.trials)} cycles, "
          f"{len(run.failures)} failed")
    print(open_study(store).headline() + " (failures.tsv, problems.tsv)")
    return 0


def add_statistics(sub, help: str) -> None:
    p = sub.add_parser(
        "statistics",
        help=help,
        description="Fit the study statistics (mixed models, SPM, bootstrap bands; docs/gait.md) to "
                    "the per-cycle table and curves of the trial result files, and write the study store "
                    "with its /statistics group (the store `chainlab store` writes, with the statistics), and the "
                    "config's tests of its own measures into /tests and tests.csv beside the store. "
                    "What cannot be tested is listed.",
    )
    p.add_argument("trials", nargs="+", metavar="TRIAL.h5")
    p.add_argument("-o", "--output", required=True, metavar="STUDY.h5")
    p.add_argument("--settings", metavar="CONFIG|JSON", help=SETTINGS_HELP + "; statistics, measures and tests apply")
    p.set_defaults(func=run_statistics)


def run_statistics(args: argparse.Namespace) -> int:
    config = _settings(args, "statistics")
    if config is None:
        return 2

    def say(msg):
        print(f"chainlab statistics: {msg}", file=sys.stderr, flush=True)

    try:
        run = study.open_trial_files(args.trials, progress=say)
        store = study.store_statistics(run, args.output, config, progress=say)
    except (ChainlabError, OSError, ValueError) as exc:
        print(f"chainlab statistics: {exc}", file=sys.stderr)
        return 1
    st = open_study(store).statistics
    print(f"{store}: {st.sizes.get('row', 0)} model terms, {st.sizes.get('spm_variable', 0)} SPM tests")
    for p in json.loads(st.attrs.get("problems", "[]")):
        print(f"chainlab statistics: left out: {p}", file=sys.stderr)
    return 0
