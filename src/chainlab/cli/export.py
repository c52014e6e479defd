"""`chainlab export`: a capture's OpenSim inputs (markers, ground reactions, external loads)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chainlab.io.c3d import read_c3d
from chainlab.io.opensim import assignment_from_contacts, export_trial
from chainlab.kinetics import assign_contacts, ground_reaction
from chainlab.options import parse_plates


def add_export(sub, help: str) -> None:
    p = sub.add_parser(
        "export",
        help=help,
        description="Write a capture's markers as .trc (OpenSim's Y up) and, with force plates, each foot's ground "
                    "reaction as .mot with its ExternalLoads .xml, each plate contact assigned to a foot as the "
                    "kinetics do (chainlab.kinetics.assign_contacts; contacts not accepted are left out). "
                    "Marker names stay Plug-in Gait/OFM's (docs/gait.md, OpenSim files).",
    )
    p.add_argument("trial", metavar="TRIAL.c3d")
    p.add_argument("--opensim", required=True, metavar="DIR", help="folder for the files")
    p.add_argument("--static", metavar="STATIC.c3d", help="also write the static capture's .trc (for scaling)")
    p.add_argument("--units", choices=("mm", "m"), default="mm", help="the .trc's units (default mm)")
    p.add_argument("--plates", default="", metavar="1=R,2=L",
                   help="force a plate's foot (L, R, or - to leave the plate out), as chainlab kinematics --plates")
    p.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    trial = Path(args.trial)
    if trial.suffix.lower() != ".c3d":
        print(f"chainlab export: {trial}: expected a .c3d capture (the trial file keeps no markers to export)",
              file=sys.stderr)
        return 2
    try:
        mapping = parse_plates(args.plates, "--plates")
    except ValueError as exc:
        print(f"chainlab export: {exc}", file=sys.stderr)
        return 2
    try:
        ds = read_c3d(trial)
        assignment = None
        if ds.sizes.get("plate", 0):
            contacts = assign_contacts(ds, ground_reaction(ds), mapping)
            assignment = assignment_from_contacts(contacts, ds.frame.values, ds.time.values)
            for c in contacts:
                if c.status != "accepted":
                    print(f"{trial.name}: plate {c.plate} frames {c.first}-{c.last} left out: {c.status} {c.reason}",
                          file=sys.stderr)
        paths = export_trial(ds, args.opensim, assignment, units=args.units)
        if args.static:
            paths["static_trc"] = export_trial(read_c3d(args.static), args.opensim, None, units=args.units)["trc"]
    except (OSError, ValueError, KeyError) as exc:
        print(f"chainlab export: {exc}", file=sys.stderr)
        return 1
    for kind, path in paths.items():
        print(f"{kind}\t{path}")
    return 0
