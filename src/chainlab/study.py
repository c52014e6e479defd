"""A study: every trial of a sample sheet through the stages, one bad trial never stopping it.

``run_study(sheet)`` reads each row's dynamic and static captures, computes the kinematics
and the gait analysis, and collects what each trial gave or why it failed (stage and reason);
:func:`chainlab.io.study_store.write_study_store` then writes the study store.
"""

from __future__ import annotations

import dataclasses
import json
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


def run_trial(subject: str, condition: str, trial: str, dynamic: Path, static: Path,
              options: KinematicsOptions | None = None,
              statics: dict[Path, xr.Dataset] | None = None) -> TrialResult | dict:
    """One trial through reading, kinematics and gait analysis: its result, or a failure
    record ``{"trial", "stage", "reason"}`` (never an exception for a bad trial)."""
    stage = "read"
    try:
        capture = read_c3d(dynamic)
        cache = statics if statics is not None else {}
        if static not in cache:
            cache[static] = read_c3d(static)
        stage = "kinematics"
        kin = compute_kinematics(capture, cache[static], options)
        stage = "gait"
        gait = analyse_trial(capture, kin)
    except (ChainlabError, OSError, ValueError) as exc:
        return {"trial": trial, "stage": stage, "reason": str(exc)}
    return TrialResult(subject, condition, trial, Path(dynamic), Path(static), capture, kin, gait)


def run_study(sheet: pd.DataFrame, root: str | Path = ".", options: KinematicsOptions | None = None,
              progress: Callable[[str], None] | None = None, trial_dir: str | Path | None = None) -> StudyResult:
    """Every row of `sheet`; a failing trial is recorded (trial, stage, reason), never raised.

    With `trial_dir`, each trial's result is kept in ``<trial_dir>/<trial>.h5``; a trial whose
    file is there and was made from the same input files (sha256) is loaded, not recomputed,
    so adding a trial to the sheet computes that trial only.
    """
    from chainlab.io.c3d import sha256_file

    root = Path(root)
    out = StudyResult()
    say = progress or (lambda msg: print(msg, file=sys.stderr))
    statics: dict[Path, xr.Dataset] = {}
    for i, row in enumerate(sheet.itertuples(), 1):
        dyn, sta = root / row.dynamic, root / row.static
        saved = Path(trial_dir) / f"{row.trial}.h5" if trial_dir is not None else None
        if saved is not None and saved.exists():
            try:
                kept = read_trial_output(saved)
                if isinstance(kept, TrialResult) and (kept.subject, kept.condition) == (row.subject, row.condition) \
                        and "residuals" in kept.capture \
                        and kept.capture.attrs.get("source_sha256") == sha256_file(dyn) \
                        and kept.kinematics.attrs.get("static_sha256") == sha256_file(sta):
                    say(f"[{i}/{len(sheet)}] {row.trial}: up to date")
                    out.trials.append(dataclasses.replace(kept, dynamic=dyn, static=sta))
                    continue
            except (OSError, ValueError, KeyError):
                pass  # unreadable or from another version: computed again
        say(f"[{i}/{len(sheet)}] {row.trial}")
        result = run_trial(row.subject, row.condition, row.trial, dyn, sta, options, statics)
        if isinstance(result, dict):
            out.failures.append(result)
            say(f"  failed at {result['stage']}: {result['reason']}")
            if saved is not None:
                write_trial_failure(result, saved)
            continue
        if saved is not None:
            write_trial_output(result, saved)
        out.trials.append(result)
    return out


def _table_to_ds(df: pd.DataFrame) -> xr.Dataset:
    ds = xr.Dataset({c: ("row", df[c].to_numpy()) for c in df.columns})
    for c in df.columns:
        if df[c].dtype == object:
            ds[c] = ("row", df[c].to_numpy(dtype=str))
    return ds


def _ds_to_table(ds: xr.Dataset, columns: list[str]) -> pd.DataFrame:
    if "row" not in ds.dims:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame({c: ds[c].values for c in columns})


def write_trial_output(t: TrialResult, path: str | Path) -> Path:
    """One trial's results (kinematics, gait, plate forces, marker residuals) in one file,
    atomically."""
    from chainlab.io.store import atomic_path

    cap = t.capture
    plates = xr.Dataset(
        {"plate_force": cap.plate_force.astype(np.float32)} if cap.sizes.get("plate", 0) else {},
        coords={"analog_time": cap.analog_time} if cap.sizes.get("plate", 0) else {},
        attrs={"source_sha256": cap.attrs["source_sha256"], "source_file": cap.attrs["source_file"]},
    )
    markers = xr.Dataset({"residuals": cap.residuals.astype(np.float32)} if "residuals" in cap else {})
    root = xr.Dataset(attrs={"title": "chainlab trial", "subject": t.subject, "condition": t.condition,
                             "trial": t.trial, "dynamic": str(t.dynamic), "static": str(t.static),
                             "problems": json.dumps(t.gait.problems)})
    g = t.gait
    tree = xr.DataTree.from_dict({
        "/": root, "/kinematics": t.kinematics, "/plates": plates, "/markers": markers,
        "/events": _table_to_ds(g.events), "/cycles": _table_to_ds(g.cycles),
        "/metrics": _table_to_ds(g.metrics), "/curves": g.curves.to_dataset(name="curves"),
    })
    with atomic_path(path) as tmp:
        tree.to_netcdf(tmp, engine="h5netcdf")
    return Path(path)


def write_trial_failure(failure: dict, path: str | Path) -> Path:
    """A trial output that records why the trial failed (so a workflow step still ends)."""
    from chainlab.io.store import atomic_path

    with atomic_path(path) as tmp:
        xr.Dataset(attrs={"title": "chainlab trial", "failed": 1, **failure}).to_netcdf(tmp, engine="h5netcdf")
    return Path(path)


def read_trial_output(path: str | Path) -> TrialResult | dict:
    """A trial's saved result, or its failure record."""
    from chainlab.gait.events import COLUMNS as EVENT_COLUMNS
    from chainlab.gait.metrics import COLUMNS as METRIC_COLUMNS

    tree = xr.open_datatree(path, engine="h5netcdf").load()
    a = tree.attrs
    if a.get("failed"):
        return {"trial": a["trial"], "stage": a["stage"], "reason": a["reason"]}
    cycles = _ds_to_table(tree["cycles"].to_dataset(),
                          ["side", "cycle", "start", "foot_off", "end", "stride_time", "stance"])
    gait = GaitResult(
        events=_ds_to_table(tree["events"].to_dataset(), EVENT_COLUMNS),
        cycles=cycles,
        curves=tree["curves"].to_dataset()["curves"],
        metrics=_ds_to_table(tree["metrics"].to_dataset(), METRIC_COLUMNS),
        problems=json.loads(a.get("problems", "[]")),
    )
    capture = tree["plates"].to_dataset()
    if "markers" in tree.children:  # marker residuals (the store's quality summary)
        capture = capture.merge(tree["markers"].to_dataset())
    return TrialResult(a["subject"], a["condition"], a["trial"], Path(a["dynamic"]), Path(a["static"]),
                       capture, tree["kinematics"].to_dataset(), gait)


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


def assemble_study(results: StudyResult, out_dir: str | Path, config_text: str = "",
                   n_permutations: int = 2000) -> Path:
    """Statistics, the study store, metrics.csv and failures.tsv from the trials' results."""
    from chainlab.io.store import write_text_atomic
    from chainlab.io.study_store import write_study_store
    from chainlab.stats.study import study_statistics

    out = Path(out_dir)
    metrics, curves = study_tables(results)
    stats = study_statistics(metrics, curves, n_permutations=n_permutations, trials=results.trials,
                             failures=results.failures) if len(metrics) else None
    store = write_study_store(results, out / "study.h5", stats, config_text)
    write_text_atomic(metrics.to_csv(index=False), out / "metrics.csv")
    fails = pd.DataFrame(results.failures, columns=["trial", "stage", "reason"]).sort_values("trial")
    write_text_atomic(fails.to_csv(sep="\t", index=False), out / "failures.tsv")
    return store


def load_trial_outputs(paths) -> StudyResult:
    """The saved results of a workflow's trial step (:func:`write_trial_output`)."""
    out = StudyResult()
    for p in sorted(map(Path, paths)):
        r = read_trial_output(p)
        (out.failures.append(r) if isinstance(r, dict) else out.trials.append(r))
    return out


def load_config(config_path: str | Path) -> tuple[dict, str]:
    import yaml

    config_path = Path(config_path)
    text = config_path.read_text()
    config = yaml.safe_load(text) or {}
    for key in ("study", "trials"):
        if key not in config:
            raise ValueError(f"{config_path}: key {key!r} missing; expected study: NAME and trials: SHEET.tsv")
    return config, text


def build_study(config_path: str | Path, out_root: str | Path = "results", n_permutations: int = 2000,
                progress: Callable[[str], None] | None = None) -> Path:
    """Run a study from its config (YAML: study, trials) and write ``<out>/<study>/``:
    ``trials/<trial>.h5`` (each trial's results, reused while its inputs are unchanged),
    ``study.h5`` (the store, assembled from them), ``metrics.csv`` (the per-cycle table) and
    ``failures.tsv``."""
    config_path = Path(config_path)
    config, text = load_config(config_path)
    root = config_path.resolve().parent.parent
    sheet = read_sheet(root / config["trials"])
    out = Path(out_root) / str(config["study"])
    result = run_study(sheet, root, progress=progress, trial_dir=out / "trials")
    return assemble_study(result, out, text, n_permutations)
