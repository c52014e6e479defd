"""`chainlab agree`: chainlab's angles of a capture against the Nexus outputs stored in it."""

from __future__ import annotations

import argparse
import sys

from chainlab.agreement import agree_files, format_agreement
from chainlab.cli._common import add_markers_argument
from chainlab.errors import C3DError, ChainlabError
from chainlab.options import KinematicsOptions


def add_agree(sub, help: str) -> None:
    p = sub.add_parser(
        "agree",
        help=help,
        description="Compute the models on CAPTURE (calibrated on --static, or on the calibration stored in "
                    "the capture) and print, per output and component, the RMS and largest difference (deg) "
                    "from the output of the same name that Nexus stored in the file (docs/quality.md); under the table, "
                    "a note where Nexus' OFM ran on the file more than once (read from its ?HE1), its hindfoot "
                    "angles then being of several runs (docs/kinematics.md).",
    )
    p.add_argument("capture", metavar="CAPTURE.c3d")
    p.add_argument("--static", default=None, metavar="STATIC.c3d", help="the subject's static trial")
    p.add_argument("--markdown", action="store_true", help="a Markdown table")
    add_markers_argument(p)
    p.set_defaults(func=run_agree)


def run_agree(args: argparse.Namespace) -> int:
    try:
        table = agree_files(args.capture, args.static, KinematicsOptions(), markers=args.markers)
    except (C3DError, ChainlabError, OSError, ValueError) as exc:
        print(f"chainlab agree: {exc}", file=sys.stderr)
        return 1
    a = table.attrs
    print(f"{args.capture}: calibration {a.get('calibration', '')}; models {a.get('models', '')}"
          + (f"; left out {a['models_left_out']}" if a.get("models_left_out", "{}") not in ("", "{}") else "")
          + (f"; marker mapping {a['marker_mapping']}" if a.get("marker_mapping") else ""))
    if table.empty:
        print("no output of chainlab's has a stored Nexus output of the same name to compare with")
        return 0
    print(format_agreement(table, markdown=args.markdown))
    return 0
