"""`chainlab info`: summaries of C3D captures."""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from chainlab.cli._common import add_markers_argument
from chainlab.errors import C3DError, C3DWarning
from chainlab.info import format_summary, summarize


def add_info(sub, help: str) -> None:
    p = sub.add_parser(
        "info",
        help=help,
        description=(
            "Summarise C3D captures: system, rates, frames, duration, markers, model outputs, "
            "force plates, events and subject measurements. A file that cannot be read is "
            "reported on stderr and the others are still summarised; the exit status is 1 if "
            "any failed."
        ),
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="C3D files")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per file")
    p.add_argument("--marker-fractions", action="store_true",
                   help="with --json: give each marker's fraction of valid frames, not only its name")
    add_markers_argument(p)
    p.set_defaults(func=run_info)


def run_info(args: argparse.Namespace) -> int:
    failed = 0
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", C3DWarning)  # listed in each summary instead
        for i, path in enumerate(args.files):
            try:
                s = summarize(path, markers=args.markers)
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
        if not args.marker_fractions:
            for r in results:
                if "markers" in r:
                    r["markers"] = [m["name"] for m in r["markers"]]
        json.dump(results, sys.stdout, indent=1)
        print()
    return 1 if failed else 0
