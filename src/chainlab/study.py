"""A study: a sheet of trials -> the pipeline per trial -> the study store -> its statistics.

``chainlab study`` (:func:`build_study`) runs every row of the sample sheet through
:func:`chainlab.pipeline.run_trial` into ``<out>/<study>/trials/<trial>.h5`` (one bad trial
never stops it), then writes the study store with its statistics, ``metrics.csv`` and
``failures.tsv``. The workflow makes the same files in steps: ``chainlab trial(s)``, then
:func:`store_tables` (``chainlab store``: the store without statistics, ``metrics.csv``,
``failures.tsv``), then :func:`store_statistics` (``chainlab statistics``: the store with its
statistics, and the config's tests in ``tests.csv``). Every store is assembled by the one writer,
:func:`chainlab.io.study_store.write_study_store`, from the trial files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from chainlab.config import TRIAL_SECTIONS, StudyConfig, read_sheet, settings_from, subjects_not_in_sheet
from chainlab.schema import OUTPUTS_VERSION
from chainlab.io.c3d import sha256_file
from chainlab.io.mapped import load_marker_mapping, mapping_text, read_capture
from chainlab.io.store import write_text_atomic
from chainlab.io.study_rows import measures_table
from chainlab.io.study_store import ID_COLUMNS, times_at_capture_precision, write_study_store
from chainlab.io.trial_file import TrialFile, open_trial_file
from chainlab.pipeline import run_trial
from chainlab.problems import problem_rows, problems_table
from chainlab.results import TrialFailure, TrialRow
from chainlab.stats.hypotheses import COLUMNS as TEST_COLUMNS
from chainlab.stats.hypotheses import run_tests
from chainlab.stats.standing import standing_regressions
from chainlab.stats.study import StudyStatistics, study_statistics
from chainlab.subjects import subjects_table


@dataclass
class StudyRun:
    """The trials of a study as their trial files' views, and the trials that failed."""

    trials: list[TrialFile] = field(default_factory=list)
    failures: list[TrialFailure] = field(default_factory=list)


def _up_to_date(saved: Path, row: TrialRow, settings: str, config: StudyConfig) -> TrialFile | None:
    """The trial file `saved` when it was made from the same input files (sha256) with the
    same settings, marker mapping and subject measurements (the subjects table's), for the same
    subject and condition; None otherwise."""
    try:
        mapping = mapping_text(load_marker_mapping(row.markers or config.markers))
    except ValueError:
        return None  # the trial says why when it runs
    try:
        kept = open_trial_file(saved)
    except (OSError, ValueError, KeyError):
        return None  # unreadable or from another version: computed again
    if not isinstance(kept, TrialFile) or (kept.subject, kept.condition) != (row.subject, row.condition) \
            or kept.settings != settings or kept.outputs_version != OUTPUTS_VERSION \
            or kept.subject_measurements != config.subject_measurements(row.subject) \
            or not kept.markers or kept.marker_mapping != mapping \
            or kept.source_sha256 != sha256_file(row.dynamic) \
            or kept.static_sha256 != (sha256_file(row.static) if row.static is not None else ""):
        return None
    kept.dynamic, kept.static = row.dynamic, row.static if row.static is not None else Path("")
    return kept


def run_study(sheet: pd.DataFrame, trial_dir: str | Path, root: str | Path = ".",
              progress: Callable[[str], None] | None = None, config: StudyConfig | None = None) -> StudyRun:
    """Every row of `sheet` (paths relative to `root`) into ``<trial_dir>/<trial>.h5``; a
    failing trial is recorded (trial, stage, reason), never raised. A trial whose file is
    there and was made from the same input files (sha256) with the same settings is kept, not
    recomputed, so adding a trial to the sheet computes that trial only."""
    root, trial_dir = Path(root), Path(trial_dir)
    config = config or StudyConfig.defaults()
    settings = config.settings(*TRIAL_SECTIONS)
    out = StudyRun()
    say = progress or (lambda msg: print(msg, file=sys.stderr))
    read_static = static_reader()

    recorded = recorded_checksums(trial_dir)
    for i, r in enumerate(sheet.to_dict("records"), 1):
        markers = str(r.get("markers") or "").strip()
        if markers and (markers.endswith((".yaml", ".yml")) or "/" in markers):
            markers = str(root / markers)  # a mapping file, relative to the project folder
        row = TrialRow.of({**r, "dynamic": root / r["dynamic"], "markers": markers,
                           "static": root / r["static"] if str(r["static"]).strip() else ""})
        saved = trial_dir / f"{row.trial}.h5"
        if saved.exists() and saved.name in recorded and _digest(saved) != recorded[saved.name][0]:
            say(f"{saved}: damaged: not the file its run wrote (checksum in {recorded[saved.name][1]}); "
                "computed again")
            saved.unlink()
        kept = _up_to_date(saved, row, settings, config) if saved.exists() else None
        if kept is not None:
            say(f"[{i}/{len(sheet)}] {row.trial}: up to date")
            out.trials.append(kept)
            continue
        say(f"[{i}/{len(sheet)}] {row.trial}")
        result = run_trial(row, saved, config, read_static=read_static)
        if isinstance(result, TrialFailure):
            out.failures.append(result)
            say(f"  failed at {result.stage}: {result.reason}")
            continue
        out.trials.append(TrialFile(saved))
    done = [trial_dir / f"{t}.h5" for t in sheet.trial if (trial_dir / f"{t}.h5").exists()]
    write_text_atomic("".join(f"{_digest(p)}  {p.as_posix()}\n" for p in done), trial_dir.parent / STUDY_CHECKSUMS)
    return out


STUDY_CHECKSUMS = "checksums/study_trials.sha256"  # chainlab study's record of its trial files


def _digest(path: Path) -> str:
    """sha256 of an output, read now (not cached: a damaged file keeps its size and time)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def recorded_checksums(trial_dir: str | Path) -> dict[str, tuple[str, Path]]:
    """Trial file name -> (sha256 when it was written, the record saying so), from the
    records beside `trial_dir` (``checksums/*.sha256``, sha256sum's format): ``chainlab
    study``'s and the workflow's (workflow/rules/common.smk), the newest record winning."""
    out: dict[str, tuple[str, Path]] = {}
    records = sorted((Path(trial_dir).parent / "checksums").glob("*.sha256"), key=lambda p: p.stat().st_mtime_ns)
    for record in records:
        try:
            lines = record.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for line in lines:
            digest, _, name = line.partition("  ")
            if Path(name).parent.name == Path(trial_dir).name and name.endswith(".h5"):
                out[Path(name).name] = (digest, record)
    return out


def static_reader():
    """A function reading static captures (with a marker mapping when given), each path and
    mapping once (a failed read is tried again): a study's, a batch's trials share them."""
    statics: dict[tuple[str, str], xr.Dataset] = {}

    def read_static(path, mapping=None):
        key = (os.path.abspath(path), mapping_text(mapping))
        if key not in statics:
            statics[key] = read_capture(path, mapping=mapping)
        return statics[key]

    return read_static


def open_trial_files(paths, progress: Callable[[str], None] | None = None) -> StudyRun:
    """The trial files `paths` (the workflow's trial step) as views and failures."""
    out = StudyRun()
    paths = sorted(map(Path, paths))
    for i, p in enumerate(paths, 1):
        r = open_trial_file(p)
        (out.failures.append(r) if isinstance(r, TrialFailure) else out.trials.append(r))
        if progress is not None and (i % 100 == 0 or i == len(paths)):
            progress(f"read {i}/{len(paths)} trial outputs")
    return out


def metrics_table(trials) -> pd.DataFrame:
    """The per-cycle table of the trials' views, with subject, condition and trial."""
    views = sorted(trials, key=lambda t: t.trial)
    tables = [t.metrics.assign(subject=t.subject, condition=t.condition, trial=t.trial) for t in views]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def curves_table(trials) -> xr.DataArray:
    """(cycle, variable, percent) of every trial's cycles, with subject and condition."""
    parts = []
    for t in sorted(trials, key=lambda t: t.trial):
        c = t.curves()
        n = c.shape[0]
        parts.append(xr.DataArray(c, dims=("cycle", "variable", "percent"),
                                  coords={"variable": t.curve_variables, "percent": np.linspace(0.0, 100.0, c.shape[2]),
                                          "subject": ("cycle", [t.subject] * n),
                                          "condition": ("cycle", [t.condition] * n)}))
    if not parts:
        return xr.DataArray(np.zeros((0, 0, 101)), dims=("cycle", "variable", "percent"),
                            coords={"variable": [], "subject": ("cycle", []), "condition": ("cycle", [])})
    return xr.concat(parts, dim="cycle")


def trial_summaries(run: StudyRun) -> list[tuple]:
    """(trial, subject, condition, number of cycles, gait problems) of every trial (what the
    statistics say of trials that gave nothing)."""
    return [(t.trial, t.subject, t.condition, len(t.metrics), t.problems) for t in run.trials]


def metrics_csv(metrics: pd.DataFrame) -> str:
    """``metrics.csv``'s text: the identifiers first (subject, condition, trial, side, cycle),
    then the measures; times at the capture's precision (:func:`times_at_capture_precision`)."""
    m = times_at_capture_precision(metrics)
    first = [c for c in ID_COLUMNS if c in m]
    return m[first + [c for c in m.columns if c not in first]].to_csv(index=False)


def _write_tables(metrics: pd.DataFrame, failures: list[TrialFailure], out: Path, trials=()) -> None:
    write_text_atomic(metrics_csv(metrics), out / "metrics.csv")
    fails = pd.DataFrame([f.record() for f in failures], columns=["trial", "stage", "reason"]).sort_values("trial")
    write_text_atomic(fails.to_csv(sep="\t", index=False), out / "failures.tsv")
    write_text_atomic(problems_table(problem_rows(trials)).to_csv(sep="\t", index=False), out / "problems.tsv")


def _statistics(metrics: pd.DataFrame, curves: xr.DataArray, config: StudyConfig, trials, failures,
                subjects: pd.DataFrame | None = None):
    """The study statistics; `trials` as (trial, subject, condition, cycles, problems) and the
    failures let them say which trials contributed nothing and why; `subjects` (one row per
    subject) gives the between-subject standing questions."""
    if not len(metrics) and subjects is None:
        return None
    st = config.statistics
    out = study_statistics(metrics, curves, alpha=st["alpha"], n_permutations=st["permutations"], seed=st["seed"],
                           trials=trials, failures=[f.record() for f in failures]) if len(metrics) \
        else StudyStatistics()
    if subjects is not None:
        out.standing = standing_regressions(subjects, alpha=st["alpha"])
    return out


def study_tests(config: StudyConfig, measures: pd.DataFrame, out_dir: str | Path | None = None) -> pd.DataFrame:
    """The config's tests (:func:`chainlab.stats.hypotheses.run_tests`) on the study's long
    table of measures (subject, condition, trial, ...), written to ``<out_dir>/tests.csv``
    when `out_dir` is given (with its header only when the config has no tests)."""
    if config.tests and len(measures):
        tests = run_tests(config.tests, measures)
    else:  # a row per test saying why it has no result (every trial failed: failures.tsv says why)
        why = "the study has no measures to test (no trial computed them; see failures.tsv)"
        tests = pd.DataFrame([{**dict.fromkeys(TEST_COLUMNS, np.nan), "measure": t["measure"], "test": t["test"],
                               "compare": t.get("compare", "condition"), "level_1": "", "level_2": "",
                               "alpha": t.get("alpha", 0.05), "units": "", "excluded": "", "n": 0, "n_windows": 0,
                               "left_out": why} for t in config.tests], columns=TEST_COLUMNS)
    if out_dir is not None:
        write_text_atomic(tests.to_csv(index=False), Path(out_dir) / "tests.csv")
    return tests


def _statistics_and_tests(run: StudyRun, metrics: pd.DataFrame, subjects: pd.DataFrame, config: StudyConfig,
                          out_dir: Path):
    """The study statistics of the trials' per-cycle table (`metrics`), curves and `subjects`,
    and the config's tests of their measures (written to ``<out_dir>/tests.csv``)."""
    stats = _statistics(metrics, curves_table(run.trials), config, trial_summaries(run), run.failures, subjects)
    return stats, study_tests(config, measures_table(run.trials), out_dir)


def write_study(run: StudyRun, out_dir: str | Path, config: StudyConfig) -> Path:
    """The study store ``study.h5`` with its statistics and tests, ``metrics.csv``,
    ``tests.csv`` and ``failures.tsv`` in `out_dir`, from the trials' files (``chainlab study``)."""
    out = Path(out_dir)
    metrics = metrics_table(run.trials)
    subjects = subjects_table(run.trials, metrics, config.kinematics_options())
    stats, tests = _statistics_and_tests(run, metrics, subjects, config, out)
    store = write_study_store(run.trials, run.failures, out / "study.h5", stats,
                              config.settings(*TRIAL_SECTIONS, "statistics", "tests"), subjects=subjects, tests=tests)
    _write_tables(metrics, run.failures, out, run.trials)
    return store


def _trials_settings(run: StudyRun) -> str:
    """The settings the trials were computed with, as their files record them (one JSON
    object, or a list of them when the trials differ)."""
    used = sorted({t.settings for t in run.trials})
    return used[0] if len(used) == 1 else json.dumps([json.loads(u or "{}") for u in used])


def _subjects(run: StudyRun, metrics: pd.DataFrame) -> pd.DataFrame:
    """The one-row-per-subject table (:func:`chainlab.subjects.subjects_table`), the standing
    chain with the trials' kinematics settings (every default when the trials differ)."""
    used = sorted({t.settings for t in run.trials})
    try:
        options = settings_from(used[0]).kinematics_options() if len(used) == 1 else None
    except ValueError:
        options = None
    return subjects_table(run.trials, metrics, options)


def store_tables(run: StudyRun, path: str | Path, progress: Callable[[str], None] | None = None) -> Path:
    """The study store without its statistics at `path` (its ``/subjects`` computed with the
    trials' kinematics settings: :func:`_subjects`), and ``metrics.csv`` and ``failures.tsv``
    beside it (the workflow's ``store`` step). Its provenance records the settings the trials
    were computed with."""
    path = Path(path)
    metrics = metrics_table(run.trials)
    store = write_study_store(run.trials, run.failures, path, None, _trials_settings(run), progress,
                              subjects=_subjects(run, metrics))
    _write_tables(metrics, run.failures, path.parent, run.trials)
    return store


def store_statistics(run: StudyRun, path: str | Path, config: StudyConfig,
                     progress: Callable[[str], None] | None = None) -> Path:
    """The study store with its statistics at `path` (the workflow's ``statistics`` step):
    the statistics of the trials' per-cycle table and curves, as :func:`write_study` computes
    them, and the store written by the one writer,
    :func:`chainlab.io.study_store.write_study_store`. Its provenance records the trials'
    settings with `config`'s statistics and tests; the config's tests of the trials' measures
    are in the store's ``/tests`` and ``tests.csv`` beside it."""
    metrics = metrics_table(run.trials)
    subjects = _subjects(run, metrics)
    stats, tests = _statistics_and_tests(run, metrics, subjects, config, Path(path).parent)
    used = json.loads(_trials_settings(run) or "{}")
    if isinstance(used, dict):  # the trials' settings, now with the statistics' and the tests'
        used = {**used, "statistics": config.statistics, "tests": config.tests}
    return write_study_store(run.trials, run.failures, path, stats,
                             json.dumps(used, sort_keys=True, separators=(",", ":")), progress, subjects=subjects,
                             tests=tests)


def build_study(config_path: str | Path, out_root: str | Path = "results", n_permutations: int | None = None,
                progress: Callable[[str], None] | None = None) -> Path:
    """Run a study from its config file (``config/config.yaml``; chainlab.config) and write
    ``<out>/<study>/``: ``trials/<trial>.h5`` (each trial's results, reused while its inputs
    and settings are unchanged), ``study.h5`` (the store, assembled from them),
    ``metrics.csv`` (the per-cycle table, with the config's measures), ``tests.csv`` (the
    config's tests) and ``failures.tsv``. `n_permutations` overrides
    the config's ``statistics.permutations``."""
    config_path = Path(config_path)
    config = StudyConfig.load(config_path)
    if n_permutations is not None:
        config = dataclasses.replace(config, statistics={**config.statistics, "permutations": int(n_permutations)})
    root = config_path.resolve().parent.parent
    sheet = read_sheet(root / config.trials)
    if extra := subjects_not_in_sheet(config, sheet):
        (progress or (lambda msg: print(msg, file=sys.stderr)))(f"warning: {extra}")
    out = config.results_dir(out_root)
    run = run_study(sheet, out / "trials", root, progress=progress, config=config)
    return write_study(run, out, config)
