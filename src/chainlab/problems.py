"""What went wrong with a study's trials, counted honestly: the problems table and the headline.

Below io (the study store writes the table, the report and the commands print the headline).
One row per problem of a trial that was computed (failed trials are listed in ``failures.tsv``):

========== ==============================================================================
column     meaning
========== ==============================================================================
trial      the trial id
stage      where it arose: ``kinematics`` (a plausibility check, a model that did not run,
           no angle at all) or ``gait`` (no complete cycle)
check      the check (docs/quality.md), or ``model_not_run``, ``no_angles``, ``no_cycles``,
           ``sheet_subject``
markers    the markers (or outputs, measurements) concerned, comma-separated
segment    the segment, model or ``subject``
value      the value found (NaN when the check has none)
threshold  what it had to be
message    the reason, in words
========== ==============================================================================
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

PROBLEM_COLUMNS = ["trial", "stage", "check", "markers", "segment", "value", "threshold", "message"]
#: Checks that mean a trial gave nothing to analyse (the headline counts them apart).
NOT_ANALYSED = ("no_angles", "no_cycles")


def _row(trial, stage, check, markers="", segment="", value=math.nan, threshold="", message="") -> dict:
    return {"trial": trial, "stage": stage, "check": check, "markers": markers, "segment": segment,
            "value": float(value), "threshold": threshold, "message": message}


def sheet_subject_problem(sheet_subject: str, capture_subject: str, capture: str) -> list[dict]:
    """The sample sheet's subject against the name the capture stores (C3D SUBJECTS:NAMES,
    Nexus' subject): a problem (a dict of the check's fields) when both are given and differ
    (compared trimmed, case-insensitive)."""
    a, b = str(sheet_subject or "").strip(), str(capture_subject or "").strip()
    if not a or not b or a.casefold() == b.casefold():
        return []
    return [{"check": "sheet_subject", "markers": "", "segment": "subject", "value": math.nan,
             "threshold": "equal names",
             "message": f"the sample sheet says subject {a!r}, the capture {capture} is of {b!r}: "
                        "a trial filed under another subject?"}]


def trial_rows(trial: str, quality_problems: Iterable[Mapping], models_left_out: Mapping[str, str],
               n_outputs: int, n_cycles: int, gait_problems: Sequence[str] = ()) -> list[dict]:
    """The problem rows of one computed trial (module docstring)."""
    rows = [_row(trial, "kinematics", **{k: p.get(k, "") for k in ("check", "markers", "segment", "threshold",
                                                                      "message")},
                 value=p.get("value", math.nan) if p.get("value") is not None else math.nan)
            for p in quality_problems]
    for model, reason in sorted(models_left_out.items()):
        rows.append(_row(trial, "kinematics", "model_not_run", segment=model,
                         message=f"model {model!r} did not run: {reason}"))
    if n_outputs == 0:
        rows.append(_row(trial, "kinematics", "no_angles", message="no model could run: the trial has no angle"))
    if n_cycles == 0:
        why = [p.split(": ", 1)[-1] for p in gait_problems]
        rows.append(_row(trial, "gait", "no_cycles",
                         message="no complete gait cycle" + (f" ({'; '.join(why)})" if why else "")))
    return rows


def problem_rows(trials) -> list[dict]:
    """The rows of trial views (:class:`chainlab.io.trial_file.TrialFile`: trial,
    quality_problems, models_left_out, outputs, metrics, problems), in trial order."""
    out = []
    for t in sorted(trials, key=lambda t: t.trial):
        out += trial_rows(t.trial, t.quality_problems, t.models_left_out, len(t.outputs), len(t.metrics),
                          t.problems)
    return out


def problems_table(rows: Iterable[Mapping]) -> pd.DataFrame:
    """The rows as the table ``problems.tsv`` and the store's ``/problems`` hold."""
    return pd.DataFrame(list(rows), columns=PROBLEM_COLUMNS)


def _names(trials: Sequence[str], n: int = 5) -> str:
    trials = list(trials)
    return ", ".join(trials[:n]) + (f" and {len(trials) - n} more" if len(trials) > n else "")


def headline(trials: Sequence[str], failures: Sequence[Mapping], rows: Iterable[Mapping]) -> str:
    """One line counting the study's trials: ``10 trials: 7 analysed, 2 without cycles (A,
    B), 1 with a quality problem (C)``. Each trial is counted once, by the first that applies:
    failed, without angles, without cycles, with a quality problem, analysed; models that did
    not run are said after (the trial's other models were analysed)."""
    rows = list(rows)
    failed = sorted({str(f["trial"]) for f in failures})
    by: dict[str, set[str]] = {}
    for r in rows:
        by.setdefault(r["check"], set()).add(str(r["trial"]))
    no_angles = sorted(by.get("no_angles", set()) - set(failed))
    no_cycles = sorted(by.get("no_cycles", set()) - set(failed) - set(no_angles))
    quality = {str(r["trial"]) for r in rows if r["check"] not in (*NOT_ANALYSED, "model_not_run")}
    quality = sorted(quality - set(failed) - set(no_angles) - set(no_cycles))
    total = len(set(map(str, trials)) | set(failed))
    analysed = total - len(failed) - len(no_angles) - len(no_cycles) - len(quality)
    parts = [f"{analysed} analysed"]
    for n, what in ((no_cycles, "without cycles"), (no_angles, "without angles"),
                    (quality, "with a quality problem"), (failed, "failed")):
        if n:
            parts.append(f"{len(n)} {what} ({_names(n)})")
    text = f"{total} trial{'s' if total != 1 else ''}: " + ", ".join(parts)
    left = {}
    for r in rows:
        if r["check"] == "model_not_run":
            left.setdefault(str(r["trial"]), []).append(str(r["segment"]))
    if left:
        models = sorted({m for v in left.values() for m in v})
        text += f"; model(s) {', '.join(models)} not run in {len(left)} ({_names(sorted(left))})"
    return text


__all__ = ["NOT_ANALYSED", "PROBLEM_COLUMNS", "headline", "problem_rows", "problems_table", "sheet_subject_problem",
           "trial_rows"]
