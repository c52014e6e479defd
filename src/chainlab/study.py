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

from chainlab.config import SHEET_COLUMNS, TRIAL_SECTIONS, StudyConfig, read_sheet  # noqa: F401 (re-exported)
from chainlab.errors import ChainlabError
from chainlab.gait.analysis import GaitResult, analyse_trial
from chainlab.io.c3d import read_c3d
from chainlab.kinematics import KinematicsOptions, compute_kinematics



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
    settings: str = ""  # the kinematics and gait settings it was computed with (JSON)


@dataclass
class StudyResult:
    trials: list[TrialResult] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)  # trial, stage, reason


def run_trial(subject: str, condition: str, trial: str, dynamic: Path, static: Path,
              options: KinematicsOptions | None = None,
              statics: dict[Path, xr.Dataset] | None = None,
              config: StudyConfig | None = None) -> TrialResult | dict:
    """One trial through reading, kinematics and gait analysis: its result, or a failure
    record ``{"trial", "stage", "reason"}`` (never an exception for a bad trial).

    `config` gives the stages' settings (its kinematics and gait sections; defaults
    without one); `options`, when given, replaces its kinematics section.
    """
    config = config or StudyConfig.defaults()
    settings = config.settings(*TRIAL_SECTIONS) if options is None else ""  # "": not reusable
    options = options or config.kinematics_options()
    stage = "read"
    try:
        capture = read_c3d(dynamic)
        cache = statics if statics is not None else {}
        if static not in cache:
            cache[static] = read_c3d(static)
        stage = "kinematics"
        kin = compute_kinematics(capture, cache[static], options)
        stage = "gait"
        gait = analyse_trial(capture, kin, config.plate_event_options())
    except (ChainlabError, OSError, ValueError) as exc:
        return {"trial": trial, "stage": stage, "reason": str(exc)}
    return TrialResult(subject, condition, trial, Path(dynamic), Path(static), capture, kin, gait, settings)


def run_study(sheet: pd.DataFrame, root: str | Path = ".",
              progress: Callable[[str], None] | None = None, trial_dir: str | Path | None = None,
              config: StudyConfig | None = None) -> StudyResult:
    """Every row of `sheet`; a failing trial is recorded (trial, stage, reason), never raised.

    With `trial_dir`, each trial's result is kept in ``<trial_dir>/<trial>.h5``; a trial whose
    file is there and was made from the same input files (sha256) with the same settings is
    loaded, not recomputed, so adding a trial to the sheet computes that trial only.
    """
    from chainlab.io.c3d import sha256_file

    root = Path(root)
    config = config or StudyConfig.defaults()
    settings = config.settings(*TRIAL_SECTIONS)
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
                        and "residuals" in kept.capture and kept.settings == settings \
                        and kept.capture.attrs.get("source_sha256") == sha256_file(dyn) \
                        and kept.kinematics.attrs.get("static_sha256") == sha256_file(sta):
                    say(f"[{i}/{len(sheet)}] {row.trial}: up to date")
                    out.trials.append(dataclasses.replace(kept, dynamic=dyn, static=sta))
                    continue
            except (OSError, ValueError, KeyError):
                pass  # unreadable or from another version: computed again
        say(f"[{i}/{len(sheet)}] {row.trial}")
        result = run_trial(row.subject, row.condition, row.trial, dyn, sta, None, statics, config)
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


def write_trial_output(t: TrialResult, path: str | Path, provenance: dict | None = None) -> Path:
    """One trial's results (kinematics, gait, plate forces, marker residuals) in one file,
    atomically; `provenance` (e.g. the dask scheduler used) goes into the root attributes."""
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
                             "settings": t.settings,
                             "problems": json.dumps(t.gait.problems), **(provenance or {})})
    g = t.gait
    tree = xr.DataTree.from_dict({
        "/": root, "/kinematics": t.kinematics, "/plates": plates, "/markers": markers,
        "/events": _table_to_ds(g.events), "/cycles": _table_to_ds(g.cycles),
        "/metrics": _table_to_ds(g.metrics), "/curves": g.curves.to_dataset(name="curves"),
    })
    with atomic_path(path) as tmp:
        tree.to_netcdf(tmp, engine="h5netcdf")
    return Path(path)


def write_trial_failure(failure: dict, path: str | Path, provenance: dict | None = None) -> Path:
    """A trial output that records why the trial failed (so a workflow step still ends)."""
    from chainlab.io.store import atomic_path

    with atomic_path(path) as tmp:
        xr.Dataset(attrs={"title": "chainlab trial", "failed": 1, **failure, **(provenance or {})}).to_netcdf(
            tmp, engine="h5netcdf")
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
                       capture, tree["kinematics"].to_dataset(), gait, a.get("settings", ""))


def study_tables(result: StudyResult) -> tuple[pd.DataFrame, xr.DataArray]:
    """The per-cycle table and curves of all trials, with subject, condition and trial."""
    curves = []
    for t in sorted(result.trials, key=lambda t: t.trial):
        n = len(t.gait.metrics)
        curves.append(t.gait.curves.assign_coords(subject=("cycle", [t.subject] * n),
                                                  condition=("cycle", [t.condition] * n)))
    metrics = _metrics_table(result.trials)
    cur = xr.concat(curves, dim="cycle") if curves else xr.DataArray(
        np.zeros((0, 0, 101)), dims=("cycle", "variable", "percent"),
        coords={"variable": [], "subject": ("cycle", []), "condition": ("cycle", [])})
    return metrics, cur


def _metrics_table(trials) -> pd.DataFrame:
    """The per-cycle table of `trials` (results or :mod:`chainlab.io.trial_output` views),
    with subject, condition and trial, as :func:`study_tables` gives it."""
    from chainlab.io.trial_output import as_view

    views = sorted(map(as_view, trials), key=lambda t: t.trial)
    tables = [t.metrics.assign(subject=t.subject, condition=t.condition, trial=t.trial) for t in views]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def _write_tables(metrics: pd.DataFrame, failures: list[dict], out: Path) -> None:
    from chainlab.io.store import write_text_atomic

    write_text_atomic(metrics.to_csv(index=False), out / "metrics.csv")
    fails = pd.DataFrame(failures, columns=["trial", "stage", "reason"]).sort_values("trial")
    write_text_atomic(fails.to_csv(sep="\t", index=False), out / "failures.tsv")


def _statistics(metrics: pd.DataFrame, curves: xr.DataArray, config: StudyConfig, trials, failures):
    """The study statistics; `trials` as (trial, subject, condition, cycles, problems) and the
    failures let them say which trials contributed nothing and why."""
    from chainlab.stats.study import study_statistics

    if not len(metrics):
        return None
    st = config.statistics
    return study_statistics(metrics, curves, alpha=st["alpha"], n_permutations=st["permutations"], seed=st["seed"],
                            trials=trials, failures=failures)


def trial_summaries(results: StudyResult) -> list[tuple]:
    return [(t.trial, t.subject, t.condition, len(t.gait.metrics), t.gait.problems) for t in results.trials]


def assemble_study(results: StudyResult, out_dir: str | Path, config: StudyConfig) -> Path:
    """Statistics, the study store ``study.h5``, ``metrics.csv`` and ``failures.tsv`` in
    `out_dir` from the trials' results (in one pass: ``chainlab study``)."""
    from chainlab.io.study_store import write_study_store

    out = Path(out_dir)
    metrics, curves = study_tables(results)
    stats = _statistics(metrics, curves, config, trial_summaries(results), results.failures)
    store = write_study_store(results, out / "study.h5", stats, config.settings(*TRIAL_SECTIONS, "statistics"))
    _write_tables(metrics, results.failures, out)
    return store


def store_tables(results: StudyResult, path: str | Path, progress: Callable[[str], None] | None = None) -> Path:
    """The study store without its statistics at `path`, and ``metrics.csv`` and
    ``failures.tsv`` beside it (the workflow's ``store`` step; :func:`add_statistics` follows).
    Its provenance records the settings the trials were computed with."""
    from chainlab.io.study_store import write_study_store

    path = Path(path)
    metrics = _metrics_table(results.trials)
    used = sorted({t.settings for t in results.trials})
    settings = used[0] if len(used) == 1 else json.dumps([json.loads(u or "{}") for u in used])
    store = write_study_store(results, path, None, settings, progress)
    _write_tables(metrics, results.failures, path.parent)
    return store


def add_statistics(tables: str | Path, path: str | Path, config: StudyConfig) -> Path:
    """The study store at `path`: the store `tables` (:func:`store_tables`) with its
    ``/statistics`` group computed from the store's own per-cycle table and curves (the
    workflow's ``statistics`` step)."""
    import hashlib
    import shutil

    import h5py

    from chainlab.io.store import atomic_path
    from chainlab.io.study_store import ENGINE, open_study, statistics_dataset

    study = open_study(tables)
    # the per-cycle table as study_tables gives it: `cycle` numbers the cycles of a trial
    metrics = study.metrics.drop(columns="cycle").rename(columns={"cycle_in_trial": "cycle"})
    curves = study.cycles.curves.load()
    prov = study.provenance
    failures = [{"trial": str(t), "stage": str(s), "reason": str(r)} for t, s, r in
                zip(prov.failure_trial.values, prov.failure_stage.values, prov.failure_reason.values)]
    tr = study._group("trials")
    cycles = metrics.trial.value_counts()
    trials = [(str(t), str(s), str(c), int(cycles.get(str(t), 0)), json.loads(str(p))) for t, s, c, p in
              zip(tr.trial.values, tr.trial_subject.values, tr.trial_condition.values, tr.trial_problems.values)]
    stats = _statistics(metrics, curves, config, trials, failures)
    used = json.loads(study.provenance.attrs.get("config") or "{}")
    if isinstance(used, dict):  # the trials' settings, now with the statistics'
        used = {**used, "statistics": config.statistics}
    settings = json.dumps(used, sort_keys=True, separators=(",", ":"))
    with atomic_path(path) as tmp:
        shutil.copyfile(tables, tmp)
        with h5py.File(tmp, "a") as f:
            if "statistics" in f:
                del f["statistics"]
            f["provenance"].attrs["config"] = settings
            f["provenance"].attrs["config_sha256"] = hashlib.sha256(settings.encode()).hexdigest()
        statistics_dataset(stats).to_netcdf(tmp, mode="a", group="statistics", engine=ENGINE)
    return Path(path)


def open_trial_outputs(paths, progress: Callable[[str], None] | None = None) -> StudyResult:
    """The workflow's trial outputs as views (:class:`chainlab.io.trial_output.TrialFile`:
    tables read, time series read when the store writes them) and failure records."""
    from chainlab.io.trial_output import open_trial_output

    return _trial_outputs(paths, open_trial_output, progress)


def load_trial_outputs(paths) -> StudyResult:
    """The saved results of a workflow's trial step (:func:`write_trial_output`), loaded whole."""
    return _trial_outputs(paths, read_trial_output)


def _trial_outputs(paths, read, progress: Callable[[str], None] | None = None) -> StudyResult:
    out = StudyResult()
    paths = sorted(map(Path, paths))
    for i, p in enumerate(paths, 1):
        r = read(p)
        (out.failures.append(r) if isinstance(r, dict) else out.trials.append(r))
        if progress is not None and (i % 100 == 0 or i == len(paths)):
            progress(f"read {i}/{len(paths)} trial outputs")
    return out


def build_study(config_path: str | Path, out_root: str | Path = "results", n_permutations: int | None = None,
                progress: Callable[[str], None] | None = None) -> Path:
    """Run a study from its config file (``config/config.yaml``; chainlab.config) and write
    ``<out>/<study>/``: ``trials/<trial>.h5`` (each trial's results, reused while its inputs
    and settings are unchanged), ``study.h5`` (the store, assembled from them),
    ``metrics.csv`` (the per-cycle table) and ``failures.tsv``. `n_permutations` overrides
    the config's ``statistics.permutations``."""
    import dataclasses as dc

    config_path = Path(config_path)
    config = StudyConfig.load(config_path)
    if n_permutations is not None:
        config = dc.replace(config, statistics={**config.statistics, "permutations": int(n_permutations)})
    root = config_path.resolve().parent.parent
    sheet = read_sheet(root / config.trials)
    out = Path(out_root) / config.study
    result = run_study(sheet, root, progress=progress, trial_dir=out / "trials", config=config)
    return assemble_study(result, out, config)
