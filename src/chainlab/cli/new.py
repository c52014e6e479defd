"""`chainlab new`: a study folder (config and sample sheet) from a folder of C3D captures."""

from __future__ import annotations

import argparse
import sys

from chainlab.errors import ChainlabError
from chainlab.scaffold import new_study, summary


def add_new(sub, help: str) -> None:
    p = sub.add_parser(
        "new",
        help=help,
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
            "                      end of the sheet)\n"
            "  measurements        a subject whose captures lack Bodymass or Plug-in Gait's leg\n"
            "                      lengths, knee and ankle widths (PROCESSING) gets a row of empty\n"
            "                      cells to fill in DIR/config/subjects.tsv, named by the config"
        ),
        epilog=(
            "Capture paths in the sheet are relative to the sheet's folder when the captures lie\n"
            "inside DIR, else absolute. Then, from the chainlab folder:\n"
            "  snakemake --cores 2 --directory DIR      (reads DIR/config/config.yaml alone)\n"
            "  chainlab study DIR/config/config.yaml --out DIR/results      (without Snakemake)"
        ),
    )
    p.add_argument("folder", metavar="DIR", help="the study folder (created)")
    p.add_argument("--captures", required=True, metavar="RAW", help="folder of the C3D captures (searched whole)")
    p.add_argument("--study", help="the study's name, results/<study>/ (default: DIR's name)")
    p.add_argument("--force", action="store_true", help="write over DIR's config, sample sheet and subjects table")
    p.set_defaults(func=run_new)


def run_new(args: argparse.Namespace) -> int:
    try:
        made = new_study(args.folder, args.captures, study=args.study, force=args.force)
    except (ChainlabError, OSError) as exc:
        print(f"chainlab new: {exc}", file=sys.stderr)
        return 1
    print(summary(made))
    return 0
