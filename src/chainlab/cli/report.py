"""The commands that read a study store: `chainlab report`, `query` and `figures`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from chainlab.figures import FIGURES, FORMATS, draw_all
from chainlab.io.query import command as query_command
from chainlab.io.study_store import StoreError, open_study
from chainlab.report import write_report


def add_report(sub, help: str) -> None:
    p = sub.add_parser(
        "report",
        help=help,
        description="Write a single HTML file that works offline: the study's trials and failures, "
                    "the model estimates and what was left out, every figure of FIGURES/index.json "
                    "(`chainlab figures`) with its caption, and the provenance (inputs, versions, config).",
    )
    p.add_argument("store", metavar="STUDY.h5")
    p.add_argument("--figures", required=True, metavar="DIR", help="folder written by `chainlab figures`")
    p.add_argument("-o", "--output", required=True, metavar="REPORT.html")
    p.add_argument("--workflow", metavar="TEXT.rst", help="a description of the workflow to include")
    p.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    try:
        out = write_report(args.store, args.figures, args.output, workflow=args.workflow)
    except (StoreError, OSError, ValueError) as exc:
        print(f"chainlab report: {exc}", file=sys.stderr)
        return 1
    print(out)
    return 0


def add_query(sub, help: str) -> None:
    p = sub.add_parser(
        "query",
        help=help,
        description="Print (or write with -o) per-cycle measures, chain and kinetic curves or any joint's "
                    "per-cycle curves from a study store, filtered by subject, condition, trial, side or cycle.",
        epilog="Exit status: 0 rows written; 1 a name or value not in the store (the closest are "
               "suggested); 2 usage; 3 nothing matched (the header alone is written, a notice on stderr).",
    )
    p.add_argument("store", metavar="STUDY.h5")
    p.add_argument("--table", choices=("metrics", "measures", "tests", "subjects"), default="metrics",
                   help="metrics: per-cycle measures or curves (--var, --curves); measures: the config's measures, "
                        "a row per window; tests: the config's tests (tests.csv); subjects: one row per subject "
                        "(the standing chain; --var picks columns); --where filters on any of their columns")
    p.add_argument("--var", default="",
                   help="(--table metrics) comma-separated metrics columns (e.g. peak_knee_adduction_moment_1_Nm_kg) or curve "
                        "variables (rearfoot_eversion ...; the kinetic curves HipMoment_x ... AnkleMoment_z, HipPower ...)")
    p.add_argument("--curves", metavar="JOINT", help="a joint's per-cycle curves as a long table (each cycle's own "
                   "side): an angle output (KneeAngles), a moment (KneeMoment, N m/kg) or a power (KneePower, W/kg); "
                   "columns subject, condition, trial, side, cycle, percent, value, units")
    p.add_argument("--axis", choices=("x", "y", "z"),
                   help="axis of --curves for angles and moments (default x; a power has none)")
    p.add_argument("--where", default="", help="e.g. 'subject=HC030A|HC002D, side=Left' (| for several values)")
    p.add_argument("--format", choices=("csv", "json", "parquet"), default="csv")
    p.add_argument("-o", "--output", metavar="FILE", help="write the table to FILE (any format) instead of stdout")
    p.set_defaults(func=query_command)


def add_figures(sub, help: str) -> None:
    p = sub.add_parser(
        "figures",
        help=help,
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
    p.add_argument("store", metavar="STUDY.h5", help="the study store (chainlab study)")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for the figures")
    p.add_argument("--formats", default="html,svg,pdf",
                   help="comma-separated among html, json, svg, pdf; HTML and JSON are always "
                        "written (default: %(default)s)")
    p.add_argument("--only", metavar="NAME,...", help="draw only these figures")
    p.set_defaults(func=run_figures)


def run_figures(args: argparse.Namespace) -> int:
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

