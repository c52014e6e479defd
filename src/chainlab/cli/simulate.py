"""`chainlab simulate`: a synthetic study whose true angles are known."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chainlab.errors import C3DError, ChainlabError
from chainlab.io.store import write_text_atomic
from chainlab.scaffold import config_text, safe_name
from chainlab.simulate import Condition, SimulationOptions, simulate_study


def add_simulate(sub, help: str) -> None:
    p = sub.add_parser(
        "simulate",
        help=help,
        description=(
            "Walk the chain of a real template subject (its static trial and a walk with foot strike "
            "events) by forward kinematics and write a study: per subject a static trial and trials per "
            "condition (C3D with markers, two force plates and events), each with its truth "
            "(<trial>.truth.h5: the true angles, chain coordinates and coupling offsets), trials.tsv "
            "(the sample sheet) and truth.json. A condition adds rearfoot eversion that propagates up "
            "the chain with the given coefficients. The same --seed gives the same files."
        ),
    )
    p.add_argument("out", metavar="OUT_DIR", help="folder for the study (created)")
    p.add_argument("--static", default="data/biomechzoo/HC030A/Static/HC030A01.c3d",
                   help="template subject's static trial (default: %(default)s)")
    p.add_argument("--dynamic", default="data/biomechzoo/HC030A/Straight/HC030A05.c3d",
                   help="template subject's walk (default: %(default)s)")
    p.add_argument("--subjects", type=int, default=8, help="default: %(default)s")
    p.add_argument("--trials", type=int, default=5, help="trials per subject and condition (default: %(default)s)")
    p.add_argument("--cycles", type=int, default=4, help="gait cycles per trial (default: %(default)s)")
    p.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                   help="one long treadmill-like capture per trial instead of --cycles (e.g. 3600)")
    p.add_argument("--condition", action="append", metavar="NAME[:EVERSION[:STANCE]]",
                   help="a condition and the eversion it adds, deg, throughout and at peak stance "
                        "(default: control and wedge:3)")
    p.add_argument("--transfer", type=float, default=0.68,
                   help="tibial internal rotation per degree of eversion (default: %(default)s)")
    p.add_argument("--tilt", type=float, default=0.5, help="pelvic tilt per degree of peak eversion (default: %(default)s)")
    p.add_argument("--lordosis", type=float, default=0.3, help="lordosis per degree of peak eversion (default: %(default)s)")
    p.add_argument("--noise", type=float, default=0.0, metavar="MM", help="marker noise, mm (default: 0)")
    p.add_argument("--sta", type=float, default=0.0, metavar="MM", help="soft-tissue artefact at the thigh, mm RMS")
    p.add_argument("--gaps", type=float, default=0.0, metavar="FRACTION",
                   help="fraction of frames in which one marker per segment is missing")
    p.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    p.add_argument("--rate", type=float, default=None, metavar="HZ",
                   help="frame rate of the simulated captures (default: the template walk's; its cycle is "
                        "resampled); force plates at about 1 kHz")
    p.add_argument("--kinetics", action="store_true",
                   help="smooth motion and plates whose ground reaction follows it (the foot's share of the "
                        "body's M (a - g), centre of pressure from heel to toe, a free moment), body mass and "
                        "segment lengths in the trials' PROCESSING: the simulated trials get kinetics "
                        "(chainlab.simulate.plate_wrench); without it the files of before")
    p.add_argument("--no-truth", action="store_true",
                   help="do not write <trial>.truth.h5 (the truth holds every frame in memory: use it for "
                        "long --duration captures)")
    p.set_defaults(func=run_simulate)


def run_simulate(args: argparse.Namespace) -> int:
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
                            seed=args.seed, rate=args.rate, truth=not args.no_truth,
                            kinetics=args.kinetics)
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
    config = Path(args.out) / "config" / "config.yaml"  # a study folder: run as `chainlab new` makes one
    if not config.exists():
        write_text_atomic(config_text(safe_name(Path(args.out).resolve().name, "simulated"), "trials.tsv"), config)
    print(f"{len(sheet)} trials in {args.out} (sample sheet {args.out}/trials.tsv, config {config}); run: "
          f"snakemake --cores 2 --directory {args.out}  or  chainlab study {config} --out {args.out}/results")
    return 0
