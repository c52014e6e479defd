"""The `chainlab` command line."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence

from chainlab import __version__
from chainlab.errors import C3DError, C3DWarning


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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
