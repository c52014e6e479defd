"""The `chainlab` command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from chainlab import __version__
from chainlab.errors import C3DError, C3DWarning, ChainlabError

DEFAULT_CHUNK_FRAMES = 10_000  # chainlab.pipeline.DEFAULT_CHUNK_FRAMES (not imported: keeps --help fast)


def _cmd_info(args: argparse.Namespace) -> int:
    from chainlab.info import format_summary, summarize

    failed = 0
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", C3DWarning)  # listed in each summary instead
        for i, path in enumerate(args.files):
            try:
                s = summarize(path)
            except (C3DError, OSError) as exc:
                failed += 1
                msg = str(exc)
                print(f"chainlab info: {msg}", file=sys.stderr)
                results.append({"file": str(path), "error": msg})
                continue
            if not args.json:
                print(("\n" if i else "") + format_summary(s))
            results.append(s)
    if args.json:
        if not args.markers:
            for r in results:
                if "markers" in r:
                    r["markers"] = [m["name"] for m in r["markers"]]
        json.dump(results, sys.stdout, indent=1)
        print()
    return 1 if failed else 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from chainlab.simulate import Condition, SimulationOptions, simulate_study

    conditions = []
    for item in args.condition or ["control", "wedge:3"]:
        name, *values = item.split(":")
        try:
            conditions.append(Condition(name, *(float(v) for v in values[:2])))
        except ValueError:
            print(f"chainlab simulate: --condition expects NAME[:EVERSION[:STANCE]]; found {item!r}", file=sys.stderr)
            return 2
    opt = SimulationOptions(subjects=args.subjects, conditions=conditions, trials=args.trials, cycles=args.cycles,
                            duration_s=args.duration, transfer=args.transfer, pelvic_tilt_per_deg=args.tilt,
                            lordosis_per_deg=args.lordosis, noise_mm=args.noise, sta_mm=args.sta, gaps=args.gaps,
                            seed=args.seed, rate=args.rate, truth=not args.no_truth)
    total = args.subjects * len(conditions) * args.trials
    done = []

    def progress(name):
        done.append(name)
        print(f"[{len(done)}/{total}] {name}", file=sys.stderr)

    def trial_progress(frames, n):
        print(f"  [{len(done) + 1}/{total}] {frames}/{n} frames written", file=sys.stderr, flush=True)

    try:
        sheet = simulate_study(args.static, args.dynamic, args.out, opt, progress=progress,
                               trial_progress=trial_progress if args.duration else None)
    except (C3DError, ChainlabError, OSError, ValueError) as exc:
        print(f"chainlab simulate: {exc}", file=sys.stderr)
        return 1
    from chainlab.io.store import write_text_atomic
    from chainlab.scaffold import config_text, safe_name

    config = Path(args.out) / "config" / "config.yaml"  # a study folder: run as `chainlab new` makes one
    if not config.exists():
        write_text_atomic(config_text(safe_name(Path(args.out).resolve().name, "simulated"), "trials.tsv"), config)
    print(f"{len(sheet)} trials in {args.out} (sample sheet {args.out}/trials.tsv, config {config}); run: "
          f"snakemake --cores 2 --directory {args.out}  or  chainlab study {config} --out {args.out}/results")
    return 0


def _cmd_kinematics(args: argparse.Namespace) -> int:
    from chainlab import pipeline  # the scientific stack: imported by the commands that compute (fast --help)
    from chainlab.kinematics import KinematicsOptions
    from chainlab.model.chain import ChainOptions

    subject = {}
    for item in args.subject or []:
        key, _, value = item.partition("=")
        try:
            subject[key.strip()] = float(value)
        except ValueError:
            print(f"chainlab kinematics: --subject expects NAME=NUMBER; found {item!r}", file=sys.stderr)
            return 2
    options = KinematicsOptions(
        models=tuple(m.strip() for m in args.models.split(",") if m.strip()),
        progression=args.progression,
        flat_foot=not args.no_flat_foot,
        partial=args.partial,
        subject=subject,
        solver=args.solver,
        chain=ChainOptions(dofs={"knee": args.knee}) if args.knee else None,
    )
    try:
        from chainlab.kinetics.trial import kinetics_options

        kinetics = None if args.no_kinetics else kinetics_options({}, args.plates, "--plates")
        res = pipeline.run_kinematics(args.dynamic, args.static, args.output, options, chunk_frames=args.chunk_frames,
                                      threads=args.threads, scheduler=args.scheduler, kinetics=kinetics)
    except (C3DError, ChainlabError, OSError) as exc:
        print(f"chainlab kinematics: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # options the models do not accept, or an unknown scheduler
        print(f"chainlab kinematics: {exc}", file=sys.stderr)
        return 2
    state = " (partial: " + res.models_left_out + ")" if res.partial else ""
    print(f"{args.output}: {res.n_frames} frames, {res.outputs} outputs{state}")
    if res.problems:  # run_kinematics: why there are no kinetics
        print(f"chainlab kinematics: {'; '.join(res.problems)}", file=sys.stderr)
    return 0


def _cmd_gait(args: argparse.Namespace) -> int:
    from chainlab import pipeline  # the scientific stack (fast --help)
    from chainlab.io.store import write_text_atomic
    from chainlab.kinematics import KinematicsOptions
    from chainlab.results import TrialFailure

    try:
        result = pipeline.measure_trial(args.dynamic, args.static, KinematicsOptions(partial=args.partial))
    except OSError as exc:  # the machine's fault, after the captures were read
        print(f"chainlab gait: {exc}", file=sys.stderr)
        return 1
    if isinstance(result, TrialFailure):
        print(f"chainlab gait: failed at {result.stage}: {result.reason}", file=sys.stderr)
        return 1
    for p in result.problems:
        print(f"chainlab gait: {p}", file=sys.stderr)
    try:
        write_text_atomic(result.metrics.to_csv(index=False), args.output)
    except OSError as exc:
        print(f"chainlab gait: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"{args.output}: {len(result.metrics)} cycles ({len(result.events)} events)")
    return 0


def _cmd_study(args: argparse.Namespace) -> int:
    from chainlab import study  # the scientific stack (fast --help)
    from chainlab.io.study_store import open_study

    try:
        store = study.build_study(args.config, args.out, n_permutations=args.permutations)
    except (ChainlabError, OSError, ValueError) as exc:
        print(f"chainlab study: {exc}", file=sys.stderr)
        return 1
    s = open_study(store)
    fails = s.provenance.sizes.get("failure", 0)
    print(f"{store}: {len(s.trials)} trials, {s.cycles.sizes['cycle']} cycles"
          + (f", {fails} trial(s) failed (see failures.tsv)" if fails else ""))
    return 0


def _cmd_new(args: argparse.Namespace) -> int:
    from chainlab.scaffold import new_study, summary

    try:
        made = new_study(args.folder, args.captures, study=args.study, force=args.force)
    except (ChainlabError, OSError) as exc:
        print(f"chainlab new: {exc}", file=sys.stderr)
        return 1
    print(summary(made))
    return 0


def _settings(args: argparse.Namespace, command: str):
    """The config a workflow step runs with (--settings; --solver replacing its solver), or
    None after printing why not."""
    from chainlab.config import settings_from  # pandas, jsonschema (fast --help)

    try:
        config = settings_from(args.settings)
    except ValueError as exc:
        print(f"chainlab {command}: {exc}", file=sys.stderr)
        return None
    if getattr(args, "solver", None):
        config = dataclasses.replace(config, kinematics={**config.kinematics, "solver": args.solver})
    return config


def _run_one(row: dict, output, config, args: argparse.Namespace, read_static=None):
    from chainlab import pipeline  # the scientific stack (fast --help)
    from chainlab.results import TrialRow

    return pipeline.run_trial(TrialRow.of(row), output, config, chunk_frames=args.chunk_frames, threads=args.threads,
                              scheduler=args.scheduler, read_static=read_static)


def _cmd_trial(args: argparse.Namespace) -> int:
    from chainlab import pipeline  # the scientific stack (fast --help)
    from chainlab.results import TrialFailure

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
    print(f"{args.output}: {len(res.metrics)} cycles")
    return 0


def _cmd_trials(args: argparse.Namespace) -> int:
    from chainlab import pipeline  # the scientific stack (fast --help)
    from chainlab.config import ConfigError, batch_rows, read_rows, read_sheet, select_rows, sheet_records
    from chainlab.io.c3d import read_c3d
    from chainlab.results import TrialFailure

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
    statics: dict = {}  # each static capture read once (a failed read is tried again by its next trial)

    def read_static(path):
        key = os.path.abspath(path)
        if key not in statics:
            statics[key] = read_c3d(path)
        return statics[key]

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
        print(f"[{k}/{n}] {row['trial']}: {len(res.metrics)} cycles, {time.perf_counter() - t0:.2f} s",
              file=sys.stderr, flush=True)
    print(f"{out_dir}: {n} trial(s), {n - failed} done, {failed} failed (recorded in their files)")
    return 0


def _cmd_store(args: argparse.Namespace) -> int:
    from chainlab import study  # the scientific stack (fast --help)

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
    return 0


def _cmd_statistics(args: argparse.Namespace) -> int:
    from chainlab import study  # the scientific stack (fast --help)
    from chainlab.io.study_store import open_study

    config = _settings(args, "statistics")
    if config is None:
        return 2
    try:
        store = study.add_statistics(args.tables, args.output, config)
    except (ChainlabError, OSError, ValueError) as exc:
        print(f"chainlab statistics: {exc}", file=sys.stderr)
        return 1
    st = open_study(store).statistics
    print(f"{store}: {st.sizes.get('row', 0)} model terms, {st.sizes.get('spm_variable', 0)} SPM tests")
    for p in json.loads(st.attrs.get("problems", "[]")):
        print(f"chainlab statistics: left out: {p}", file=sys.stderr)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from chainlab.io.study_store import StoreError
    from chainlab.report import write_report

    try:
        out = write_report(args.store, args.figures, args.output, workflow=args.workflow)
    except (StoreError, OSError, ValueError) as exc:
        print(f"chainlab report: {exc}", file=sys.stderr)
        return 1
    print(out)
    return 0


def _cmd_query(args: argparse.Namespace) -> int:
    from chainlab.io.study_store import StoreError, open_study, query, query_table

    where = {}
    for item in (args.where or "").split(","):
        if item.strip():
            key, _, value = item.partition("=")
            where[key.strip()] = value.strip()
    try:
        if args.table != "metrics":
            df = query_table(open_study(args.store), args.table, where)
        elif not args.var:
            raise StoreError("--var is needed for --table metrics (comma-separated columns or curve variables)")
        else:
            df = query(open_study(args.store), [v for v in args.var.split(",") if v], where)
    except StoreError as exc:
        print(f"chainlab query: {exc}", file=sys.stderr)
        return 1
    if args.format == "csv":
        sys.stdout.write(df.to_csv(index=False))
    elif args.format == "json":
        sys.stdout.write(df.to_json(orient="records") + "\n")
    else:
        if not args.output:
            print("chainlab query: --format parquet needs -o FILE", file=sys.stderr)
            return 2
        try:
            df.to_parquet(args.output)
        except ImportError as exc:
            print(f"chainlab query: parquet needs pyarrow ({exc})", file=sys.stderr)
            return 2
    return 0


# --- chainlab figures -------------------------------------------------------------------
def _cmd_figures(args: argparse.Namespace) -> int:
    import time

    from chainlab.figures import FORMATS, draw_all
    from chainlab.io.study_store import StoreError, open_study

    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    bad = sorted(set(formats) - set(FORMATS))
    if bad:
        print(f"chainlab figures: unknown format(s) {bad}; expected some of {list(FORMATS)}", file=sys.stderr)
        return 2
    formats = sorted(set(formats) | {"html", "json"}, key=FORMATS.index)  # HTML and JSON always
    only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    t0 = time.perf_counter()
    try:
        index, failures = draw_all(open_study(args.store), args.output, formats, only=only)
    except (StoreError, ValueError, OSError) as exc:
        print(f"chainlab figures: {exc}", file=sys.stderr)
        return 1
    n_files = sum(len(e["files"]) for e in index)
    print(f"{Path(args.output) / 'index.json'}: {len(index)} figures, {n_files} files "
          f"({time.perf_counter() - t0:.1f} s)")
    for e in index:
        print(f"  {e['name']}: {', '.join(e['files'])}")
    for f in failures:
        print(f"chainlab figures: {f}", file=sys.stderr)
    return 1 if failures else 0


def _add_figures_parser(sub) -> None:
    from chainlab.figures import FIGURES

    fig = sub.add_parser(
        "figures",
        help="draw the study's figures from its store (HTML, JSON, SVG, PDF)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Draw every figure of a study from its study store alone: self-contained HTML\n"
            "(plotly.js inlined, works offline, byte-identical on a rerun) and the figure's JSON,\n"
            "and SVG and PDF through kaleido when a Chrome/Chromium is installed ($BROWSER_PATH,\n"
            "chromium, chromium-browser or google-chrome; without one: a message, HTML and JSON\n"
            "only). Writes OUTDIR/index.json with each figure's caption, data and files.\n\n"
            "figures:\n" + "\n".join(f"  {f.name}" for f in FIGURES)
        ),
        epilog="docs/figures.md says what each figure shows and from which store variables.",
    )
    fig.add_argument("store", metavar="STUDY.h5", help="the study store (chainlab study)")
    fig.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for the figures")
    fig.add_argument("--formats", default="html,svg,pdf",
                     help="comma-separated among html, json, svg, pdf; HTML and JSON are always "
                          "written (default: %(default)s)")
    fig.add_argument("--only", metavar="NAME,...", help="draw only these figures")
    fig.set_defaults(func=_cmd_figures)
# --- end chainlab figures ---------------------------------------------------------------


def _add_trial_run_arguments(p: argparse.ArgumentParser, settings_help: str) -> None:
    """How `chainlab trial` and `chainlab trials` compute a trial: settings, solver, dask."""
    p.add_argument("--settings", metavar="CONFIG|JSON", help=settings_help + "; kinematics, gait and kinetics apply")
    p.add_argument("--solver", choices=("direct", "global"), default=None,
                   help="kinematics solver, instead of the settings' (see chainlab kinematics --help)")
    _add_dask_arguments(p, chunks=True)


def _add_dask_arguments(parser: argparse.ArgumentParser, chunks: bool = False) -> None:
    """--threads and --scheduler of a command that computes with dask (chainlab.parallel), and
    --chunk-frames of one that computes a trial in chunks (chainlab.pipeline)."""
    if chunks:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chainlab",
        description="Motion capture of the kinetic chain, foot to lumbar spine.",
    )
    parser.add_argument("--version", action="version", version=f"chainlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    info = sub.add_parser(
        "info",
        help="summarise C3D captures",
        description=(
            "Summarise C3D captures: system, rates, frames, duration, markers, model outputs, "
            "force plates, events and subject measurements. A file that cannot be read is "
            "reported on stderr and the others are still summarised; the exit status is 1 if "
            "any failed."
        ),
    )
    info.add_argument("files", nargs="+", metavar="FILE", help="C3D files")
    info.add_argument("--json", action="store_true", help="print a JSON list, one object per file")
    info.add_argument(
        "--markers",
        action="store_true",
        help="with --json: give each marker's fraction of valid frames, not only its name",
    )
    info.set_defaults(func=_cmd_info)

    kin = sub.add_parser(
        "kinematics",
        help="joint angles of a trial (Plug-in Gait, Oxford Foot Model, trunk, lumbar)",
        description=(
            "Calibrate Plug-in Gait on the subject's static trial and compute the joint angles "
            "of a dynamic trial: LPelvisAngles, LHipAngles, LKneeAngles, LAnkleAngles, "
            "LFootProgressAngles, LHFTBA, LFFHFA, LFFTBA, LHXFFA, LTIBA, LThoraxAngles, "
            "LSpineAngles, LumbarCurvature, "
            "LumbarPelvisAngles and R* twins, in degrees, with segment poses and joint centres. "
            "Writes a netCDF4/HDF5 file that xarray.open_dataset opens. Subject measurements "
            "come from the static trial's PROCESSING group unless given with --subject. "
            "The trial is computed in chunks of --chunk-frames frames, as dask tasks when there are several "
            "(docs/long_captures.md): memory stays bounded for captures of any length, and the result does "
            "not depend on the chunk size."
        ),
    )
    kin.add_argument("dynamic", metavar="DYNAMIC.c3d", help="the trial to compute")
    kin.add_argument("--static", required=True, metavar="STATIC.c3d", help="the subject's static trial")
    kin.add_argument("-o", "--output", required=True, metavar="OUT.h5", help="output file (written atomically)")
    kin.add_argument("--models", default="pig,ofm,trunk,lumbar",
                     help="comma-separated models among pig, ofm, trunk, lumbar (default: %(default)s)")
    kin.add_argument("--progression", choices=("lab", "travel"), default="lab",
                     help="walking direction: nearest lab axis as Nexus (default) or the direction of travel")
    kin.add_argument("--no-flat-foot", action="store_true", help="static trial not stood with flat feet")
    kin.add_argument("--partial", action="store_true",
                     help="leave out models whose markers are missing instead of failing (output marked partial)")
    kin.add_argument("--subject", action="append", metavar="NAME=VALUE",
                     help="override a subject measurement, e.g. --subject LLegLength=830 (mm)")
    kin.add_argument("--solver", choices=("direct", "global"), default="direct",
                     help="'direct': each segment from its own markers (default); 'global': the whole chain "
                          "fitted to every frame, the same outputs plus marker residuals (see docs/kinematics.md)")
    kin.add_argument("--knee", choices=("y", "yxz"), default=None,
                     help="global solver: the knee's free axes, 'y' (hinge) or 'yxz' (default)")
    kin.add_argument("--plates", default="", metavar="1=R,2=L",
                     help="kinetics: the foot on each named plate (L, R, or - to leave it out); others automatic")
    kin.add_argument("--no-kinetics", action="store_true",
                     help="no kinetics (by default a capture with force plates gets the Plug-in Gait joint moments, "
                          "forces and powers in group /kinetics, docs/kinetics.md)")
    _add_dask_arguments(kin, chunks=True)
    kin.set_defaults(func=_cmd_kinematics)

    sim = sub.add_parser(
        "simulate",
        help="write a synthetic study whose true angles are known",
        description=(
            "Walk the chain of a real template subject (its static trial and a walk with foot strike "
            "events) by forward kinematics and write a study: per subject a static trial and trials per "
            "condition (C3D with markers, two force plates and events), each with its truth "
            "(<trial>.truth.h5: the true angles, chain coordinates and coupling offsets), trials.tsv "
            "(the sample sheet) and truth.json. A condition adds rearfoot eversion that propagates up "
            "the chain with the given coefficients. The same --seed gives the same files."
        ),
    )
    sim.add_argument("out", metavar="OUT_DIR", help="folder for the study (created)")
    sim.add_argument("--static", default="data/biomechzoo/HC030A/Static/HC030A01.c3d",
                     help="template subject's static trial (default: %(default)s)")
    sim.add_argument("--dynamic", default="data/biomechzoo/HC030A/Straight/HC030A05.c3d",
                     help="template subject's walk (default: %(default)s)")
    sim.add_argument("--subjects", type=int, default=8, help="default: %(default)s")
    sim.add_argument("--trials", type=int, default=5, help="trials per subject and condition (default: %(default)s)")
    sim.add_argument("--cycles", type=int, default=4, help="gait cycles per trial (default: %(default)s)")
    sim.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                     help="one long treadmill-like capture per trial instead of --cycles (e.g. 3600)")
    sim.add_argument("--condition", action="append", metavar="NAME[:EVERSION[:STANCE]]",
                     help="a condition and the eversion it adds, deg, throughout and at peak stance "
                          "(default: control and wedge:3)")
    sim.add_argument("--transfer", type=float, default=0.68,
                     help="tibial internal rotation per degree of eversion (default: %(default)s)")
    sim.add_argument("--tilt", type=float, default=0.5, help="pelvic tilt per degree of peak eversion (default: %(default)s)")
    sim.add_argument("--lordosis", type=float, default=0.3, help="lordosis per degree of peak eversion (default: %(default)s)")
    sim.add_argument("--noise", type=float, default=0.0, metavar="MM", help="marker noise, mm (default: 0)")
    sim.add_argument("--sta", type=float, default=0.0, metavar="MM", help="soft-tissue artefact at the thigh, mm RMS")
    sim.add_argument("--gaps", type=float, default=0.0, metavar="FRACTION",
                     help="fraction of frames in which one marker per segment is missing")
    sim.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    sim.add_argument("--rate", type=float, default=None, metavar="HZ",
                     help="frame rate of the simulated captures (default: the template walk's; its cycle is "
                          "resampled); force plates at about 1 kHz")
    sim.add_argument("--no-truth", action="store_true",
                     help="do not write <trial>.truth.h5 (the truth holds every frame in memory: use it for "
                          "long --duration captures)")
    sim.set_defaults(func=_cmd_simulate)

    gait = sub.add_parser(
        "gait",
        help="gait events, cycles and per-cycle coupling measures of a trial",
        description=(
            "Find the trial's gait events (force plates, the C3D EVENT group, or kinematics), "
            "its complete cycles per side, and per cycle: peak rearfoot eversion and its timing, "
            "eversion and tibial internal-rotation excursions, their ratio and transfer "
            "coefficient, vector-coding coupling and Chang bins, MARP, pelvic tilt and lordosis "
            "mean and range, stride time and walking speed. Writes one CSV row per cycle; what "
            "was left out is reported on stderr."
        ),
    )
    gait.add_argument("dynamic", metavar="DYNAMIC.c3d")
    gait.add_argument("--static", required=True, metavar="STATIC.c3d")
    gait.add_argument("-o", "--output", required=True, metavar="METRICS.csv")
    gait.add_argument("--partial", action="store_true", help="run the models that can run")
    gait.set_defaults(func=_cmd_gait)

    study = sub.add_parser(
        "study",
        help="run a whole study: every trial of the sample sheet into the study store",
        description=(
            "Read the config (study name, sample sheet), run every trial through reading, "
            "kinematics and gait analysis, fit the study statistics, and write "
            "OUT/<study>/study.h5 (the study store, docs/schema.md), metrics.csv, "
            "tests.csv (the config's tests of its own measures) and failures.tsv. A trial that fails is listed in failures.tsv with its stage and "
            "reason; the others go on."
        ),
    )
    study.add_argument("config", nargs="?", default="config/config.yaml", help="default: %(default)s")
    study.add_argument("--out", default="results", help="output folder (default: %(default)s)")
    study.add_argument("--permutations", type=int, default=None,
                       help="SPM permutations (default: the config's statistics.permutations, 2000)")
    study.set_defaults(func=_cmd_study)

    new = sub.add_parser(
        "new",
        help="a study folder (config and sample sheet) from a folder of C3D captures",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Scaffold the study folder DIR from the captures under RAW (each file's header read,\n"
            "no data): DIR/config/config.yaml, a complete config of the study's own (every key at\n"
            "its default, described), DIR/config/trials.tsv, the sample sheet, one row per dynamic\n"
            "trial, and DIR/GUESSES.md, every guess made and every file left out with the reason.\n"
            "The guesses, to check before running:\n"
            "  subject, condition  SUBJECT/SESSION/trial.c3d (Nexus' Patient/Session, or the last two\n"
            "                      folders of a deeper tree); one folder level: the folder is the\n"
            "                      subject, or the session when a sibling is Static/Cal...; flat\n"
            "                      files: the subject named in the capture, else the file name's\n"
            "                      first word, and the condition from the file name's other words\n"
            "  static trial        in a folder Static/Cal..., or a name with static, cal(ibration)\n"
            "                      or standing, or a TRIAL_TYPE static; else (weaker) the subject's\n"
            "                      shortest capture without gait events, up to 10 s. Each trial takes\n"
            "                      its subject's static in the same folder, else the subject's first\n"
            "  trial id            the file name (letters, digits, _ . -), given the subject in front\n"
            "                      when several subjects share it\n"
            "  left out            unreadable files (the reason), captures without markers, and the\n"
            "                      trials of a subject without a static trial (comment lines at the\n"
            "                      end of the sheet)"
        ),
        epilog=(
            "Capture paths in the sheet are relative to the sheet's folder when the captures lie\n"
            "inside DIR, else absolute. Then, from the chainlab folder:\n"
            "  snakemake --cores 2 --directory DIR      (reads DIR/config/config.yaml alone)\n"
            "  chainlab study DIR/config/config.yaml --out DIR/results      (without Snakemake)"
        ),
    )
    new.add_argument("folder", metavar="DIR", help="the study folder (created)")
    new.add_argument("--captures", required=True, metavar="RAW", help="folder of the C3D captures (searched whole)")
    new.add_argument("--study", help="the study's name, results/<study>/ (default: DIR's name)")
    new.add_argument("--force", action="store_true", help="write over DIR's config and sample sheet")
    new.set_defaults(func=_cmd_new)

    settings_help = ("the study's settings: a config file (YAML, chainlab.config) or the JSON of some of its "
                     "sections, as the workflow passes them (default: every default)")
    tr = sub.add_parser(
        "trial",
        help="one trial through every stage into its output file (a workflow step)",
        description="Read, compute the kinematics and the gait analysis of one trial and write its "
                    "result file; a trial that fails writes a file recording the stage and reason "
                    "instead, and the command still succeeds so that the study goes on. The trial is "
                    "computed in chunks of --chunk-frames frames (dask tasks when several), written incrementally "
                    "(progress on stderr when there is more than one chunk); peak memory does not grow "
                    "with the capture's length (docs/long_captures.md).",
    )
    for name, what in (("subject", "subject id"), ("condition", "condition"), ("trial", "trial id"),
                       ("static", "the subject's static trial (C3D)"), ("dynamic", "the dynamic trial (C3D)")):
        tr.add_argument(f"--{name}", required=True, help=what)
    tr.add_argument("-o", "--output", required=True, metavar="TRIAL.h5", help="result file (written atomically)")
    _add_trial_run_arguments(tr, settings_help)
    tr.set_defaults(func=_cmd_trial)

    trs = sub.add_parser(
        "trials",
        help="several trials in one process, each as `chainlab trial` runs it (a workflow step)",
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
    which = trs.add_mutually_exclusive_group(required=True)
    which.add_argument("--rows", metavar="JSON",
                       help="the trials: a JSON list of objects with keys subject, condition, trial, static, "
                            "dynamic (the workflow's batch of sample-sheet rows)")
    which.add_argument("--sheet", metavar="TRIALS.tsv",
                       help="the trials: a sample sheet (chainlab.config.read_sheet; columns subject, condition, "
                            "trial, static, dynamic), every row unless --only")
    trs.add_argument("--batch", type=int, metavar="K",
                     help="run only the K-th batch of --batch-size consecutive rows (1 is the first; the workflow's job)")
    trs.add_argument("--batch-size", type=int, metavar="N", help="rows per batch, with --batch")
    trs.add_argument("--only", action="append", metavar="TRIAL",
                     help="run only this trial of the rows (repeat for more; sheet order is kept)")
    trs.add_argument("--out-dir", required=True, metavar="DIR",
                     help="folder of the result files, DIR/<trial>.h5 (created; each written atomically)")
    _add_trial_run_arguments(trs, settings_help)
    trs.set_defaults(func=_cmd_trials)

    st = sub.add_parser(
        "store",
        help="the study store without statistics, from trial result files (a workflow step)",
        description="Assemble the results of `chainlab trial` into a study store (docs/schema.md) "
                    "without its statistics, and write metrics.csv (one row per cycle) and "
                    "failures.tsv (trial, stage, reason) beside it.",
    )
    st.add_argument("trials", nargs="+", metavar="TRIAL.h5")
    st.add_argument("-o", "--output", required=True, metavar="TABLES.h5")
    st.set_defaults(func=_cmd_store)

    sa = sub.add_parser(
        "statistics",
        help="the study statistics, added to the store (a workflow step)",
        description="Fit the study statistics (mixed models, SPM, bootstrap bands; docs/gait.md) to "
                    "the per-cycle table and curves of a store written by `chainlab store`, and write "
                    "the study store with its /statistics group. What cannot be tested is listed.",
    )
    sa.add_argument("tables", metavar="TABLES.h5")
    sa.add_argument("-o", "--output", required=True, metavar="STUDY.h5")
    sa.add_argument("--settings", metavar="CONFIG|JSON", help=settings_help + "; statistics applies")
    sa.set_defaults(func=_cmd_statistics)

    rp = sub.add_parser(
        "report",
        help="one self-contained HTML report of a study (store, figures, statistics, provenance)",
        description="Write a single HTML file that works offline: the study's trials and failures, "
                    "the model estimates and what was left out, every figure of FIGURES/index.json "
                    "(`chainlab figures`) with its caption, and the provenance (inputs, versions, config).",
    )
    rp.add_argument("store", metavar="STUDY.h5")
    rp.add_argument("--figures", required=True, metavar="DIR", help="folder written by `chainlab figures`")
    rp.add_argument("-o", "--output", required=True, metavar="REPORT.html")
    rp.add_argument("--workflow", metavar="TEXT.rst", help="a description of the workflow to include")
    rp.set_defaults(func=_cmd_report)

    q = sub.add_parser(
        "query",
        help="pull variables out of a study store",
        description="Print per-cycle measures or curves from a study store, filtered by subject, "
                    "condition, trial or side.",
    )
    q.add_argument("store", metavar="STUDY.h5")
    q.add_argument("--table", choices=("metrics", "measures", "tests"), default="metrics",
                   help="metrics: per-cycle measures or curves (--var); measures: the config's measures, a row per "
                        "window; tests: the config's tests (tests.csv); --where filters on any of their columns")
    q.add_argument("--var", default="",
                   help="(--table metrics) comma-separated metrics columns (e.g. peak_knee_adduction_moment_1_Nm_kg) or curve "
                        "variables (rearfoot_eversion ...; the kinetic curves HipMoment_x ... AnkleMoment_z, HipPower ...)")
    q.add_argument("--where", default="", help="e.g. subject=HC030A,side=Left")
    q.add_argument("--format", choices=("csv", "json", "parquet"), default="csv")
    q.add_argument("-o", "--output", help="file for parquet")
    q.set_defaults(func=_cmd_query)

    _add_figures_parser(sub)
    return parser


def _exit_on_sigterm() -> None:
    """SIGTERM (a workflow stopped, a cluster job cancelled) exits like Ctrl-C does, so the
    temporary file of an output being written is removed, never left half-written."""
    import signal

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, stop)


def main(argv: Sequence[str] | None = None) -> int:
    _exit_on_sigterm()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except BrokenPipeError:  # e.g. `chainlab info --json ... | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
