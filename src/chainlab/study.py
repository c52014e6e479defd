"""A study: every trial of a sample sheet through the stages, one bad trial never stopping it.

``run_study(sheet)`` reads each row's dynamic and static captures, computes the kinematics
and the gait analysis, and collects what each trial gave or why it failed (stage and reason);
:func:`chainlab.io.study_store.write_study_store` then writes the study store.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from chainlab.errors import ChainlabError
from chainlab.gait.analysis import GaitResult, analyse_trial
from chainlab.io.c3d import read_c3d
from chainlab.kinematics import KinematicsOptions, compute_kinematics

SHEET_COLUMNS = ("subject", "condition", "trial", "static", "dynamic")


@dataclass
class TrialResult:
    subject: str
    condition: str
    trial: str
    dynamic: Path
    static: Path
    capture: xr.Dataset
    kinematics: xr.Dataset
    gait: GaitResult


@dataclass
class StudyResult:
    trials: list[TrialResult] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)  # trial, stage, reason


def read_sheet(path: str | Path) -> pd.DataFrame:
    """The sample sheet (TSV): subject, condition, trial, static, dynamic; paths relative to
    the sheet's folder's parent when not absolute (config/trials.tsv -> the project root)."""
    path = Path(path)
    sheet = pd.read_csv(path, sep="\t", dtype=str, comment="#")
    missing = [c for c in SHEET_COLUMNS if c not in sheet.columns]
    if missing:
        raise ValueError(f"{path}: columns {missing} missing; expected {list(SHEET_COLUMNS)}")
    dup = sheet.trial[sheet.trial.duplicated()].tolist()
    if dup:
        raise ValueError(f"{path}: trial ids {dup} appear more than once")
    return sheet


def run_study(sheet: pd.DataFrame, root: str | Path = ".", options: KinematicsOptions | None = None,
              progress: Callable[[str], None] | None = None) -> StudyResult:
    """Every row of `sheet`; a failing trial is recorded (trial, stage, reason), never raised."""
    root = Path(root)
    out = StudyResult()
    say = progress or (lambda msg: print(msg, file=sys.stderr))
    statics: dict[Path, xr.Dataset] = {}
    for i, row in enumerate(sheet.itertuples(), 1):
        dyn, sta = root / row.dynamic, root / row.static
        say(f"[{i}/{len(sheet)}] {row.trial}")
        stage = "read"
        try:
            capture = read_c3d(dyn)
            if sta not in statics:
                statics[sta] = read_c3d(sta)
            stage = "kinematics"
            kin = compute_kinematics(capture, statics[sta], options)
            stage = "gait"
            gait = analyse_trial(capture, kin)
        except (ChainlabError, OSError, ValueError) as exc:
            out.failures.append({"trial": row.trial, "stage": stage, "reason": str(exc)})
            say(f"  failed at {stage}: {exc}")
            continue
        out.trials.append(TrialResult(row.subject, row.condition, row.trial, dyn, sta, capture, kin, gait))
    return out


def study_tables(result: StudyResult) -> tuple[pd.DataFrame, xr.DataArray]:
    """The per-cycle table and curves of all trials, with subject, condition and trial."""
    tables, curves = [], []
    for t in sorted(result.trials, key=lambda t: t.trial):
        n = len(t.gait.metrics)
        tables.append(t.gait.metrics.assign(subject=t.subject, condition=t.condition, trial=t.trial))
        curves.append(t.gait.curves.assign_coords(subject=("cycle", [t.subject] * n),
                                                  condition=("cycle", [t.condition] * n)))
    metrics = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    cur = xr.concat(curves, dim="cycle") if curves else xr.DataArray(
        np.zeros((0, 0, 101)), dims=("cycle", "variable", "percent"),
        coords={"variable": [], "subject": ("cycle", []), "condition": ("cycle", [])})
    return metrics, cur


def build_study(config_path: str | Path, out_root: str | Path = "results", n_permutations: int = 2000,
                progress: Callable[[str], None] | None = None) -> Path:
    """Run a study from its config (YAML: study, trials) and write ``<out>/<study>/``:
    ``study.h5`` (the store), ``metrics.csv`` (the per-cycle table) and ``failures.tsv``."""
    import yaml

    from chainlab.io.store import write_text_atomic
    from chainlab.io.study_store import write_study_store
    from chainlab.stats.study import study_statistics

    config_path = Path(config_path)
    text = config_path.read_text()
    config = yaml.safe_load(text) or {}
    for key in ("study", "trials"):
        if key not in config:
            raise ValueError(f"{config_path}: key {key!r} missing; expected study: NAME and trials: SHEET.tsv")
    root = config_path.resolve().parent.parent
    sheet = read_sheet(root / config["trials"])
    result = run_study(sheet, root, progress=progress)
    out = Path(out_root) / str(config["study"])
    metrics, curves = study_tables(result)
    stats = study_statistics(metrics, curves, n_permutations=n_permutations) if len(metrics) else None
    store = write_study_store(result, out / "study.h5", stats, text)
    write_text_atomic(metrics.to_csv(index=False), out / "metrics.csv")
    fails = pd.DataFrame(result.failures, columns=["trial", "stage", "reason"])
    write_text_atomic(fails.to_csv(sep="\t", index=False), out / "failures.tsv")
    return store
