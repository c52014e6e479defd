"""`chainlab kinematics` (joint angles of a trial) and `chainlab gait` (its per-cycle measures)."""

from __future__ import annotations

import argparse
import sys

from chainlab import pipeline
from chainlab.cli._common import add_dask_arguments, add_markers_argument, say_problems
from chainlab.errors import C3DError, ChainlabError
from chainlab.io.store import write_text_atomic
from chainlab.options import ChainOptions, KinematicsOptions, kinetics_options
from chainlab.results import TrialFailure
from chainlab.subject_values import check_values


def add_kinematics(sub, help: str) -> None:
    p = sub.add_parser(
        "kinematics",
        help=help,
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
    p.add_argument("dynamic", metavar="DYNAMIC.c3d", help="the trial to compute")
    p.add_argument("--static", default=None, metavar="STATIC.c3d",
                   help="the subject's static trial (default: the calibration Nexus stored in the capture's "
                        "PROCESSING group; the output's calibration_source says which)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.h5", help="output file (written atomically)")
    p.add_argument("--models", default="pig,ofm,trunk,lumbar",
                   help="comma-separated models among pig, ofm, trunk, lumbar (default: %(default)s)")
    p.add_argument("--progression", choices=("lab", "travel"), default="lab",
                   help="walking direction: nearest lab axis as Nexus (default) or the direction of travel")
    p.add_argument("--no-flat-foot", action="store_true", help="static trial not stood with flat feet")
    p.add_argument("--partial", action="store_true",
                   help="the default: models whose markers are missing are left out and named (kept for old scripts)")
    p.add_argument("--strict", action="store_true",
                   help="all or nothing: fail when a requested model cannot run (docs/quality.md)")
    add_markers_argument(p)
    p.add_argument("--subject", action="append", metavar="NAME=VALUE",
                   help="override a subject measurement in Nexus' units, e.g. --subject LLegLength=830 (mm); "
                        "the angular offsets (LThighRotation, LTibialTorsion, LStaticPlantFlex ...) in radians")
    p.add_argument("--solver", choices=("direct", "global"), default="direct",
                   help="'direct': each segment from its own markers (default); 'global': the whole chain "
                        "fitted to every frame, the same outputs plus marker residuals (see docs/kinematics.md)")
    p.add_argument("--knee", choices=("y", "yxz"), default=None,
                   help="global solver: the knee's free axes, 'y' (hinge) or 'yxz' (default)")
    p.add_argument("--plates", default="", metavar="1=R,2=L",
                   help="kinetics: the foot on each named plate (L, R, or - to leave it out); others automatic")
    p.add_argument("--no-kinetics", action="store_true",
                   help="no kinetics (by default a capture with force plates gets the Plug-in Gait joint moments, "
                        "forces and powers in group /kinetics, docs/kinetics.md)")
    add_dask_arguments(p)
    p.set_defaults(func=run_kinematics)


def run_kinematics(args: argparse.Namespace) -> int:
    given = {}
    for item in args.subject or []:
        key, eq, value = item.partition("=")
        if not eq:
            print(f"chainlab kinematics: --subject expects NAME=NUMBER; found {item!r}", file=sys.stderr)
            return 2
        given[key.strip()] = value.strip()
    # one check with a study's subjects table (chainlab.subject_values): a name no model reads
    # would be ignored, an offset typed in degrees run as radians; both refused here
    subject, problems = check_values(given)
    if problems:
        for p in problems:
            print(f"chainlab kinematics: --subject {p}", file=sys.stderr)
        return 2
    options = KinematicsOptions(
        models=tuple(m.strip() for m in args.models.split(",") if m.strip()),
        progression=args.progression,
        flat_foot=not args.no_flat_foot,
        partial=not args.strict,
        subject=subject,
        solver=args.solver,
        chain=ChainOptions(dofs={"knee": args.knee}) if args.knee else None,
    )
    try:
        kinetics = None if args.no_kinetics else kinetics_options({}, args.plates, "--plates")
        res = pipeline.run_kinematics(args.dynamic, args.static, args.output, options, chunk_frames=args.chunk_frames,
                                      threads=args.threads, scheduler=args.scheduler, kinetics=kinetics,
                                      markers=args.markers)
    except (C3DError, ChainlabError, OSError) as exc:
        print(f"chainlab kinematics: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # options the models do not accept, or an unknown scheduler
        print(f"chainlab kinematics: {exc}", file=sys.stderr)
        return 2
    say_problems("kinematics", res)
    state = " (partial: " + res.models_left_out + ")" if res.partial else ""
    calibration = "" if args.static else "; calibration stored in the capture (no static trial)"
    print(f"{args.output}: {res.n_frames} frames, {res.outputs} outputs{state}{calibration}")
    if res.problems:  # run_kinematics: why there are no kinetics
        print(f"chainlab kinematics: {'; '.join(res.problems)}", file=sys.stderr)
    return 0


def add_gait(sub, help: str) -> None:
    p = sub.add_parser(
        "gait",
        help=help,
        description=(
            "Find the trial's gait events (force plates, the C3D EVENT group, or kinematics), "
            "its complete cycles per side, and per cycle: peak rearfoot eversion and its timing, "
            "eversion and tibial internal-rotation excursions, their ratio and transfer "
            "coefficient, vector-coding coupling and Chang bins, MARP, pelvic tilt and lordosis "
            "mean and range, stride time and walking speed. Writes one CSV row per cycle; what "
            "was left out is reported on stderr."
        ),
    )
    p.add_argument("dynamic", metavar="DYNAMIC.c3d")
    p.add_argument("--static", default=None, metavar="STATIC.c3d",
                   help="the subject's static trial (default: the calibration stored in the capture)")
    p.add_argument("-o", "--output", required=True, metavar="METRICS.csv")
    p.add_argument("--partial", action="store_true", help="the default: run the models that can run")
    p.add_argument("--strict", action="store_true", help="fail when a requested model cannot run")
    add_markers_argument(p)
    p.set_defaults(func=run_gait)


def run_gait(args: argparse.Namespace) -> int:
    try:
        result = pipeline.measure_trial(args.dynamic, args.static, KinematicsOptions(partial=not args.strict),
                                        markers=args.markers)
    except OSError as exc:  # the machine's fault, after the captures were read
        print(f"chainlab gait: {exc}", file=sys.stderr)
        return 1
    if isinstance(result, TrialFailure):
        print(f"chainlab gait: failed at {result.stage}: {result.reason}", file=sys.stderr)
        return 1
    for p in result.problems:
        print(f"chainlab gait: {p}", file=sys.stderr)
    say_problems("gait", result)
    try:
        write_text_atomic(result.metrics.to_csv(index=False), args.output)
    except OSError as exc:
        print(f"chainlab gait: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"{args.output}: {len(result.metrics)} cycles ({len(result.events)} events)")
    return 0
