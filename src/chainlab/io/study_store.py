"""The study store: one netCDF4/HDF5 file per study (``results/<study>/study.h5``).

Groups (``docs/schema.md`` has every variable and worked queries in Python and R):

* ``/cycles``: ``curves`` (cycle, variable, percent) of the chain's variables,
  ``angle_curves`` (cycle, joint, axis, percent) of every angle output on the cycle's side,
  ``moment_curves`` (cycle, moment_joint, axis, percent, N m/kg) and ``power_curves``
  (cycle, power_joint, percent, W/kg) of its kinetics,
  with ``subject``, ``condition``, ``trial``, ``side`` and ``cycle_in_trial`` on ``cycle``;
* ``/metrics``: the per-cycle table, one variable per column along the same ``cycle``;
* ``/trials/<trial>``: time series of each trial: ``angles`` (frame, output, axis), events,
  plate vertical force, plate contacts and why a trial has no kinetics; per trial and marker:
  mean residual, % of frames missing, gaps;
* ``/subjects``: one row per subject (dim ``subject``): the standing chain from its static
  trial and the gait's symmetry indices (:mod:`chainlab.subjects`), units per variable;
* ``/measures``: the config's own measures, one row per measure and window (dim ``row``:
  subject, condition, trial and :data:`chainlab.schema.MEASURE_COLUMNS`); their per-cycle
  values are columns of ``/metrics`` (``{measure}_{units}``);
* ``/tests``: the config's tests between conditions on them (dim ``row``; ``tests.csv``);
* ``/statistics``: mixed-model terms (dim ``row``), SPM t curves (variable, percent) with
  their clusters, bootstrap bands of the mean curves (condition, variable, percent), the
  between-subject standing questions (dim ``standing_row``);
* ``/problems``: one row per problem of a computed trial (``problem`` dim; trial, stage,
  check, markers, segment, value, threshold, message: :mod:`chainlab.problems`): quality
  checks, models that did not run, trials without angles or cycles;
* ``/provenance``: inputs with sha256, failures (trial, stage, reason), versions, config.

Written to a temporary file and renamed into place. Array contents depend on the inputs only
(sorted by trial id), so two builds of the same study hold identical arrays.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import xarray as xr

from chainlab import __version__
from chainlab.io._netcdf import write_groups
from chainlab.io._streams import Streams
from chainlab.io._subjects import standing_dataset, subjects_dataset
from chainlab.io.store import atomic_path
from chainlab.io.study_rows import measures_table, own_metric_vars, problems_dataset, read_rows, rows_dataset
from chainlab.io.trial_file import marker_quality as _marker_quality, placed
from chainlab.problems import PROBLEM_COLUMNS, headline, problem_rows, problems_table
from chainlab.reach import condition_reach_text, reach_sentences, spm_reach
from chainlab.schema import CONTACT_COLUMNS, METRIC_COLUMNS, METRIC_UNITS, TEXT_METRIC_COLUMNS, joint_name

ENGINE = "h5netcdf"
# shuffle first: float arrays compress 1.3-30x instead of 1.15x, and 2-7x faster
# (bench/RESULTS.md, study store writes)
_COMPRESS = {"compression": "gzip", "compression_opts": 4, "shuffle": True}


ID_COLUMNS = ["subject", "condition", "trial", "side", "cycle"]  # metrics.csv's first columns


def _shortest(values) -> list[str]:
    """Each value's shortest decimal that reads back as the same float32."""
    return [np.format_float_positional(x, unique=True) for x in np.asarray(values, np.float64).astype(np.float32)]


def capture_precision(values) -> np.ndarray:
    """Times at the capture's precision: each value's shortest decimal that reads back as the
    same float32 (event and frame times are float32 in C3D files: 1.350000023841858 -> 1.35).
    NaN stays NaN."""
    return np.array([float(x) for x in _shortest(values)], dtype=np.float64)


def times_at_capture_precision(table: pd.DataFrame) -> pd.DataFrame:
    """The per-cycle table with ``start_s`` and ``end_s`` at the capture's precision
    (:func:`capture_precision`) and ``stride_time_s`` rounded to the decimals of its start and
    end (2.276 - 1.35 = 0.926, not 0.9259999761581419)."""
    t = table.copy()
    decimals = []
    for c in ("start_s", "end_s"):
        if c in t:
            text = _shortest(t[c].to_numpy())
            t[c] = np.array([float(x) for x in text], dtype=np.float64)
            decimals.append([len(x.partition(".")[2]) if x not in ("nan", "inf", "-inf") else 0 for x in text])
    if "stride_time_s" in t and decimals and len(t):
        d = np.max(np.array(decimals), axis=0)
        t["stride_time_s"] = np.array([round(float(v), int(k)) if np.isfinite(v) else np.nan
                                       for v, k in zip(t.stride_time_s.to_numpy(np.float64), d)])
    return t


class StoreError(ValueError):
    """A study store cannot be read or queried; the message says what exists instead."""


def _angle_curves(trials, percent, streams: Streams) -> xr.DataArray:
    """(cycle, joint, axis, percent) of all trials, on the union of their joints."""
    joints = sorted({joint_name(o) for t in trials for o in t.outputs})
    n = len(percent)
    data = streams.lazy(trials, lambda t: t.angle_curves(joints), lambda t: (len(t.metrics), len(joints), 3, n),
                        np.float64, (0, len(joints), 3, n), "/cycles/angle_curves")
    return xr.DataArray(data, dims=("cycle", "joint", "axis", "percent"),
                        coords={"joint": joints, "axis": ["x", "y", "z"]},
                        attrs={"units": "deg", "long_name": "time-normalised angle outputs of the cycle's side"})


KINETIC_JOINTS = ("Hip", "Knee", "Ankle")


def _kinetic_curves(trials, streams: Streams) -> dict[str, xr.DataArray]:
    """``moment_curves`` (cycle, moment_joint, axis, percent) N m/kg and ``power_curves``
    (cycle, power_joint, percent) W/kg of all trials (NaN where a trial has no kinetics)."""
    n = 101
    m = streams.lazy(trials, lambda t: t.moment_curves().astype(np.float64), lambda t: (len(t.metrics), 3, 3, n),
                     np.float64, (0, 3, 3, n), "/cycles/moment_curves")
    p = streams.lazy(trials, lambda t: t.power_curves().astype(np.float64), lambda t: (len(t.metrics), 3, n),
                     np.float64, (0, 3, n), "/cycles/power_curves")
    return {
        "moment_curves": xr.DataArray(m, dims=("cycle", "moment_joint", "axis", "percent"),
                                      coords={"moment_joint": [f"{j}Moment" for j in KINETIC_JOINTS]},
                                      attrs={"units": "N m/kg", "long_name": "time-normalised internal joint moments of "
                                             "the cycle's side (Plug-in Gait, Nexus components)"}),
        "power_curves": xr.DataArray(p, dims=("cycle", "power_joint", "percent"),
                                     coords={"power_joint": [f"{j}Power" for j in KINETIC_JOINTS]},
                                     attrs={"units": "W/kg", "long_name": "time-normalised joint powers of the cycle's side"}),
    }


def kinetic_curve_names() -> list[str]:
    """The names :func:`query` takes for the kinetic curves: ``HipMoment_x`` ... ``AnklePower``."""
    return [f"{j}Moment_{a}" for j in KINETIC_JOINTS for a in "xyz"] + [f"{j}Power" for j in KINETIC_JOINTS]


def marker_quality(residuals: xr.DataArray | None, markers: list[str]) -> np.ndarray:
    """(3, marker) quality of one trial's markers: mean residual (mm) over the frames where
    the marker is seen, % of frames where it is missing, and the number of gaps (runs of
    missing frames). NaN for a marker the trial lacks, or every marker without residuals."""
    if residuals is None or residuals.sizes.get("frame", 0) == 0:
        return np.full((3, len(markers)), np.nan)
    names = [str(m) for m in residuals.marker.values]
    own = _marker_quality(residuals.transpose("frame", "marker").values)
    return placed(own[:, [names.index(m) for m in markers if m in names]], [m for m in markers if m in names],
                   list(markers), 1, np.float64)


def _trials_ragged(trials, streams: Streams) -> xr.Dataset:
    """All trials' time series as CF contiguous ragged arrays (one set of variables, a count
    per trial): a handful of HDF5 objects whatever the number of trials, so opening the
    store stays fast. :meth:`Study.trial` cuts one trial back out. The angles and plate
    forces are dask arrays, read from each trial when written."""
    outputs = sorted({o for t in trials for o in t.outputs})
    n_plates = max([t.n_plates for t in trials] + [0])
    n_out = len(outputs)

    def angles(t):
        return placed(t.angles(), t.outputs, outputs, 1, np.float32)

    def force(t):
        f = t.plate_vertical()
        out = np.full((t.n_analog, n_plates), np.nan, np.float32)
        out[:, :f.shape[1]] = f
        return out

    ev_rows = [t.events for t in trials]
    markers = sorted({m for t in trials for m in t.markers})
    quality = np.stack([placed(t.quality, t.markers, markers, 1, np.float64) if t.markers
                        else np.full((3, len(markers)), np.nan) for t in trials], axis=1) \
        if trials else np.zeros((3, 0, len(markers)))
    events = pd.concat(ev_rows, ignore_index=True) if ev_rows else pd.DataFrame(columns=["side", "label", "time", "source"])
    with_plates = [t for t in trials if t.n_plates]
    contacts = pd.concat([t.contacts for t in trials], ignore_index=True) if trials \
        else pd.DataFrame(columns=CONTACT_COLUMNS)
    ds = xr.Dataset(
        {
            "angles": (("frame_sample", "output", "axis"),
                       streams.lazy(trials, angles, lambda t: (t.n_frames, n_out, 3), np.float32, (0, n_out, 3),
                                    "/trials/angles"),
                       {"units": "deg", "long_name": "angle outputs of every frame of every trial"}),
            "event_time": ("event_sample", events.time.to_numpy(float), {"units": "s", "long_name": "event time"}),
            "plate_vertical_force": (("analog_sample", "plate"),
                                     streams.lazy(trials, force, lambda t: (t.n_analog, n_plates), np.float32,
                                                  (0, n_plates), "/trials/plate_vertical_force"),
                                     {"units": "N", "long_name": "plate ground reaction, vertical"}),
            "frame_count": ("trial", np.array([t.n_frames for t in trials], dtype=np.int64), {"sample_dimension": "frame_sample", "units": "1", "long_name": "frames of each trial"}),
            "event_count": ("trial", np.array([len(e) for e in ev_rows], dtype=np.int64), {"sample_dimension": "event_sample", "units": "1", "long_name": "events of each trial"}),
            "analog_count": ("trial", np.array([t.n_analog for t in trials], dtype=np.int64), {"sample_dimension": "analog_sample", "units": "1", "long_name": "analog samples of each trial"}),
            "contact_count": ("trial", np.array([len(t.contacts) for t in trials], dtype=np.int64),
                              {"sample_dimension": "contact_sample", "units": "1", "long_name": "plate contacts of each trial"}),
            "contact_first": ("contact_sample", contacts["first"].to_numpy(np.int64),
                              {"units": "1", "long_name": "first loaded frame (C3D frame number)"}),
            "contact_last": ("contact_sample", contacts["last"].to_numpy(np.int64),
                             {"units": "1", "long_name": "last loaded frame (C3D frame number)"}),
            "marker_residual_mean": (("trial", "marker"), quality[0],
                                     {"units": "mm", "long_name": "mean reconstruction residual where the marker is seen"}),
            "marker_missing_pct": (("trial", "marker"), quality[1],
                                   {"units": "%", "long_name": "frames where the marker is missing"}),
            "marker_gap_count": (("trial", "marker"), quality[2],
                                 {"units": "1", "long_name": "runs of missing frames (gaps)"}),
        },
        coords={
            "trial": np.array([t.trial for t in trials], dtype=str),
            "trial_subject": ("trial", np.array([t.subject for t in trials], dtype=str)),
            "trial_condition": ("trial", np.array([t.condition for t in trials], dtype=str)),
            "trial_problems": ("trial", np.array([json.dumps(t.problems) for t in trials], dtype=str),
                               {"units": "1", "long_name": "what the gait analysis left out, and why (JSON list)"}),
            "trial_models_left_out": ("trial", np.array([json.dumps(t.models_left_out, sort_keys=True) for t in trials],
                                                        dtype=str),
                                      {"units": "1", "long_name": "models that did not run, and why (JSON object)"}),
            "trial_calibration_source": ("trial", np.array([t.calibration_source for t in trials], dtype=str),
                                         {"units": "1", "long_name": "the static trial, or the calibration stored in "
                                                                     "the capture"}),
            "trial_marker_mapping": ("trial", np.array([t.marker_mapping for t in trials], dtype=str),
                                     {"units": "1", "long_name": "the marker mapping the trial was read with (JSON)"}),
            "trial_rebuilt_markers": ("trial", np.array([t.rebuilt_markers for t in trials], dtype=str),
                                      {"units": "1", "long_name": "cluster markers rebuilt from the static (JSON)"}),
            "dynamic_file": ("trial", np.array([t.dynamic.name for t in trials], dtype=str)),
            "trial_kinetics_absent": ("trial", np.array([t.kinetics_absent for t in trials], dtype=str),
                                      {"units": "1", "long_name": "why the trial has no kinetics ('' when it has)"}),
            "contact_plate": ("contact_sample", contacts["plate"].to_numpy(np.int64)),
            "contact_side": ("contact_sample", contacts["side"].to_numpy(str)),
            "contact_status": ("contact_sample", contacts["status"].to_numpy(str),
                               {"units": "1", "long_name": "accepted, or why refused: shared, partial, cut, ignored, no_foot"}),
            "contact_reason": ("contact_sample", contacts["reason"].to_numpy(str)),
            "static_file": ("trial", np.array([t.static.name for t in trials], dtype=str)),
            "dynamic_sha256": ("trial", np.array([t.source_sha256 for t in trials], dtype=str)),
            "output": np.array(outputs, dtype=str),
            "marker": np.array(markers, dtype=str),
            "axis": ["x", "y", "z"],
            "frame": ("frame_sample", streams.lazy(trials, lambda t: t.frame().astype(np.int64), lambda t: (t.n_frames,),
                                                   np.int64, (0,), "/trials/frame", say=False)),
            "time": ("frame_sample", streams.lazy(trials, lambda t: t.time().astype(np.float64), lambda t: (t.n_frames,),
                                                  np.float64, (0,), "/trials/time", say=False), {"units": "s"}),
            "event_side": ("event_sample", events.side.to_numpy(str)),
            "event_label": ("event_sample", events.label.to_numpy(str)),
            "event_source": ("event_sample", events.source.to_numpy(str)),
            "analog_time": ("analog_sample", streams.lazy(with_plates, lambda t: t.analog_time().astype(np.float64),
                                                          lambda t: (t.n_analog,), np.float64, (0,), "/trials/analog_time",
                                                          say=False),
                            {"units": "s"}),
        },
    )
    ds.attrs["description"] = "CF contiguous ragged arrays: trial i owns the next *_count[i] samples"
    return ds


def statistics_dataset(statistics) -> xr.Dataset:
    """The store's ``/statistics`` group (empty without statistics) from the study statistics
    (:class:`chainlab.stats.study.StudyStatistics`: models, spm, bands, problems)."""
    percent = np.linspace(0.0, 100.0, 101)
    stats = xr.Dataset()
    if statistics is not None:
        rows = [(m.formula, *r) for m in statistics.models for r in m.table.itertuples(index=False)]
        if rows:
            f, term, est, se, lo, hi, p = (np.array(c) for c in zip(*rows))
            unit = "units of the model's response per unit of the term"
            stats = xr.Dataset({
                "estimate": ("row", est.astype(float), {"units": unit, "long_name": "fixed-effect estimate"}),
                "se": ("row", se.astype(float), {"units": unit, "long_name": "standard error"}),
                "ci_low": ("row", lo.astype(float), {"units": unit, "long_name": "95 % confidence interval, low"}),
                "ci_high": ("row", hi.astype(float), {"units": unit, "long_name": "95 % confidence interval, high"}),
                "p": ("row", p.astype(float), {"units": "1", "long_name": "p value (Wald)"}),
            }, coords={"model": ("row", f.astype(str)), "term": ("row", term.astype(str)),
                       "random": ("row", np.array([m.random for m in statistics.models for _ in m.table.term],
                                                  dtype=str))})
            few = " ".join(t for c, n in sorted(getattr(statistics, "subjects", {}).items())
                           if (t := condition_reach_text(c, n)))
            stats["model_reach"] = ("row", np.array([few if str(t).startswith("C(condition)") else "" for t in term],
                                                    dtype=str),
                                    {"units": "1", "long_name": "why a condition effect rests on too few subjects "
                                     "('' when every condition has 3 or more)"})
        if statistics.spm:
            names = sorted(statistics.spm)
            stats["spm_t"] = (("spm_variable", "percent"), np.stack([statistics.spm[k].t for k in names]),
                              {"units": "1", "long_name": "SPM paired t, second condition minus first"})
            stats["spm_threshold"] = ("spm_variable", np.array([statistics.spm[k].threshold for k in names]),
                                      {"units": "1", "long_name": "critical |t| (permutation, alpha 0.05)"})
            clusters = [(k, c) for k in names for c in statistics.spm[k].clusters]
            stats["spm_cluster_start"] = ("spm_cluster", np.array([percent[c.start] for _, c in clusters], float),
                                          {"units": "%", "long_name": "first point of the supra-threshold cluster"})
            stats["spm_cluster_end"] = ("spm_cluster", np.array([percent[c.end] for _, c in clusters], float),
                                        {"units": "%", "long_name": "last point of the supra-threshold cluster"})
            stats["spm_cluster_p"] = ("spm_cluster", np.array([c.p for _, c in clusters], float),
                                      {"units": "1", "long_name": "cluster p value (permutation)"})
            stats = stats.assign_coords(spm_variable=names, percent=percent,
                                        spm_cluster_variable=("spm_cluster", np.array([k for k, _ in clusters], dtype=str)))
            stats.attrs["spm_alpha"] = float(statistics.spm[names[0]].alpha)
            said = np.array([spm_reach(statistics.spm[k], k) for k in names], dtype=str)
            stats["spm_reach"] = ("spm_variable", said, {
                "units": "1", "long_name": "whether the test can reach significance with its subjects and "
                "permutations, and why (chainlab.reach)"})
        if statistics.bands is not None:
            b = statistics.bands
            for k in ("mean", "low", "high"):
                stats[f"band_{k}"] = (("band_condition", "band_variable", "percent"), b[k].values,
                                      {"units": "deg", "long_name": f"bootstrap band of the mean curve, {k} "
                                       "(simultaneous 95 %, subjects resampled)"})
            stats = stats.assign_coords(band_condition=np.array(b.condition.values, dtype=str),
                                        band_variable=np.array(b.variable.values, dtype=str), percent=percent)
            subjects = getattr(statistics, "subjects", {})
            said = np.array([condition_reach_text(str(c), subjects[str(c)]) if str(c) in subjects else ""
                             for c in b.condition.values], dtype=str)
            stats["band_reach"] = ("band_condition", said, {
                "units": "1", "long_name": "why the band rests on too few subjects ('' from 3 on)"})
        stats = stats.merge(standing_dataset(getattr(statistics, "standing", None)))
        stats.attrs["problems"] = json.dumps(statistics.problems)
        stats.attrs["reach"] = json.dumps(reach_sentences(statistics))
    return stats


def study_datasets(trials, failures, statistics=None, config_text: str = "", progress=None,
                   subjects: pd.DataFrame | None = None, tests: pd.DataFrame | None = None) -> dict[str, xr.Dataset]:
    """The groups of the store as Datasets (group path -> Dataset); the trials' time series as
    dask arrays, read when computed."""
    streams = Streams(progress)
    groups = _study_groups(trials, failures, statistics, config_text, streams, subjects, tests)
    streams.to_dask(groups)
    return groups


def _study_groups(trials, failures, statistics, config_text: str, streams: Streams,
                  subjects: pd.DataFrame | None, tests: pd.DataFrame | None) -> dict[str, xr.Dataset]:
    """The groups of the store as Datasets (group path -> Dataset); the trials' time series
    as placeholders of `streams`, read when written (see :func:`write_study_store`)."""
    trials = sorted(trials, key=lambda t: t.trial)
    ids = {
        "subject": [], "condition": [], "trial": [], "side": [], "cycle_in_trial": [],
    }
    metrics = []
    for t in trials:
        n = len(t.metrics)
        ids["subject"] += [t.subject] * n
        ids["condition"] += [t.condition] * n
        ids["trial"] += [t.trial] * n
        ids["side"] += t.metrics.side.tolist()
        ids["cycle_in_trial"] += t.metrics.cycle.astype(int).tolist()
        metrics.append(t.metrics)
    n_cycles = len(ids["trial"])
    coords = {k: ("cycle", np.array(v, dtype=int if k == "cycle_in_trial" else str)) for k, v in ids.items()}
    percent = np.linspace(0.0, 100.0, 101)
    variables = sorted({v for t in trials for v in t.curve_variables})
    if trials and all(t.curve_variables == trials[0].curve_variables for t in trials):
        variables = trials[0].curve_variables  # the chain's order (chainlab.gait.metrics.SOURCES)
    curves = streams.lazy(trials, lambda t: placed(t.curves(), t.curve_variables, variables, 1, np.float64),
                          lambda t: (len(t.metrics), len(variables), len(percent)), np.float64,
                          (0, len(variables), 101), "/cycles/curves")
    cur = xr.DataArray(curves, dims=("cycle", "variable", "percent"),
                       coords={"variable": np.array(variables, dtype=str), "percent": percent})
    frames = sorted({getattr(t, "chain_frame", "lab") for t in trials})
    frame = {"frame": ",".join(frames)}  # of pelvic_tilt, tibial_rotation_lab (chainlab.gait.heading)
    cycles = xr.Dataset(
        {"curves": cur.assign_attrs(units="deg", long_name="time-normalised chain variables", **frame),
         "angle_curves": _angle_curves(trials, percent, streams), **_kinetic_curves(trials, streams)},
        coords={"cycle": np.arange(n_cycles), "percent": ("percent", percent, {"units": "%"}), **coords},
    )
    cycles.attrs["description"] = "one row per complete gait cycle; see docs/schema.md"

    table = pd.concat(metrics, ignore_index=True) if metrics else pd.DataFrame(columns=METRIC_COLUMNS)
    table = times_at_capture_precision(table)
    mvars = {}
    for col in METRIC_COLUMNS:
        if col in ("side", "cycle"):
            continue
        values = table[col].to_numpy()
        if col in TEXT_METRIC_COLUMNS:
            what = {"gaps": "variables with gaps in the cycle",
                    "not_measured": "variables not measured: their model or markers absent (the trial's problems say why)",
                    "kinetics_reason": "why the cycle has no kinetic measures ('' when it has)"}[col]
            mvars[col] = ("cycle", values.astype(str), {"units": "1", "long_name": what})
        else:
            mvars[col] = ("cycle", values.astype(float), {"units": METRIC_UNITS[col], "long_name": col.replace("_", " ")})
    long = measures_table(trials)
    mvars.update(own_metric_vars(table, long))  # the config's measures' per-cycle columns
    metrics_ds = xr.Dataset(mvars, coords={"cycle": np.arange(n_cycles), **coords}, attrs=frame)

    groups = {"cycles": cycles, "metrics": metrics_ds, "trials": _trials_ragged(trials, streams),
              "measures": rows_dataset(long, "the config's measures, one row per measure and window"),
              "tests": rows_dataset(tests, "the config's tests between conditions (tests.csv)")}

    groups["subjects"] = subjects_dataset(subjects)
    groups["statistics"] = statistics_dataset(statistics)
    groups["problems"] = problems_dataset(problem_rows(trials))

    inputs = sorted({(str(t.dynamic), t.source_sha256, "dynamic") for t in trials}
                    | {(str(t.static), t.static_sha256, "static") for t in trials if t.static_sha256})
    versions = {}
    for pkg in ("chainlab", "ezc3d", "numpy", "scipy", "xarray", "h5py", "h5netcdf", "pandas", "statsmodels"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    fail = [f.record() for f in failures]
    groups["provenance"] = xr.Dataset(
        {"input_sha256": ("input", np.array([i[1] for i in inputs], dtype=str),
                          {"units": "1", "long_name": "sha256 of the input file"}),
         "failure_reason": ("failure", np.array([f["reason"] for f in fail], dtype=str),
                            {"units": "1", "long_name": "why the trial failed"})},
        coords={"input_path": ("input", np.array([i[0] for i in inputs], dtype=str)),
                "input_role": ("input", np.array([i[2] for i in inputs], dtype=str)),
                "failure_trial": ("failure", np.array([f["trial"] for f in fail], dtype=str)),
                "failure_stage": ("failure", np.array([f["stage"] for f in fail], dtype=str))},
        attrs={"chainlab_version": __version__, "versions": json.dumps(versions, sort_keys=True),
               "config": config_text, "config_sha256": hashlib.sha256(config_text.encode()).hexdigest(),
               "created": datetime.now(timezone.utc).isoformat(timespec="seconds")},
    )
    return groups


def write_study_store(trials, failures, path: str | os.PathLike, statistics=None,
                      config_text: str = "", progress=None, subjects: pd.DataFrame | None = None,
                      tests: pd.DataFrame | None = None) -> Path:
    """The study store at `path`, streamed: every group written to a temporary file beside
    `path` in one pass, the trials' time series one trial at a time, then renamed into place.

    `trials` are trial files' views (:class:`chainlab.io.trial_file.TrialFile`), `failures`
    :class:`chainlab.results.TrialFailure`; `statistics` the study statistics (None: an empty
    ``/statistics`` group). `progress` (a callable taking a
    message) hears how far the writing of each time series is, a tenth of the trials at a time.
    `subjects`: the one-row-per-subject table (``/subjects``; None: an empty group).
    """
    path = Path(path)
    root = xr.Dataset(attrs={"title": "chainlab study store", "Conventions": "CF-1.8",
                             "chainlab_version": __version__, "schema": "docs/schema.md"})
    streams = Streams(progress)
    groups = _study_groups(trials, failures, statistics, config_text, streams, subjects, tests)
    encoding = {
        f"/{g}": {k: dict(_COMPRESS, chunksizes=_chunks(v)) for k, v in ds.data_vars.items()
                  if v.dtype.kind == "f" and v.ndim >= 1 and v.size}
        for g, ds in groups.items()
    }
    # the groups as xarray's writer of a DataTree takes them (data variables first)
    tree = xr.DataTree.from_dict({"/": root, **{f"/{g}": ds for g, ds in groups.items()}})
    nodes = {node.path: node.to_dataset(inherit=node is tree) for node in tree.subtree}
    with atomic_path(path) as tmp:
        # one pass with h5py, the file xarray writes (chainlab.io._netcdf); the time series read
        # a trial at a time and written a row of HDF5 chunks at a time
        if write_groups(tmp, nodes, encoding, streams.by_group()):
            return path
        _write_with_xarray(tmp, groups, streams, root, encoding)
    return path


def _write_with_xarray(tmp: Path, groups: dict[str, xr.Dataset], streams: Streams, root: xr.Dataset,
                       encoding: dict) -> None:
    """The store as xarray writes it (what :func:`chainlab.io._netcdf.write_groups` does not
    write), the time series as dask arrays read a trial at a time."""
    import dask

    streams.to_dask(groups)
    for g, ds in groups.items():  # the time series: written in whole HDF5 chunks, none rewritten
        for k, v in ds.variables.items():
            if v.chunks is not None and v.size:
                first = encoding[f"/{g}"].get(k, {}).get("chunksizes", (4096,))[0]
                ds[k] = v.chunk({v.dims[0]: first})
    tree = xr.DataTree.from_dict({"/": root, **{f"/{g}": ds for g, ds in groups.items()}})
    with dask.config.set(scheduler="synchronous"):  # in this thread: HDF5 serialises reads and writes anyway
        tree.to_netcdf(tmp, mode="w", engine=ENGINE, encoding=encoding)


def _chunks(v: xr.DataArray) -> tuple[int, ...]:
    """Chunks for the common query, one variable over all cycles: up to 4096 rows of the
    first dimension, one entry of each middle dimension, the whole last one (a curve)."""
    last = len(v.shape) - 1
    return tuple(min(s, 4096) if i == 0 else (s if i == last else 1) for i, s in enumerate(v.shape))


@dataclass
class Study:
    """An open study store (:func:`open_study`)."""

    path: Path
    # each group opened once (~0.1 s each; the figures ask dozens of times), handed out as shallow copies
    _opened: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def _group(self, group: str) -> xr.Dataset:
        if group not in self._opened:
            try:
                self._opened[group] = xr.open_dataset(self.path, group=group, engine=ENGINE)
            except OSError as exc:
                raise StoreError(f"{self.path}: group {group!r} missing: {exc}") from None
        return self._opened[group].copy(deep=False)

    @property
    def cycles(self) -> xr.Dataset:
        return self._group("cycles")

    @property
    def metrics(self) -> pd.DataFrame:
        ds = self._group("metrics")
        df = ds.to_dataframe().reset_index()
        return df

    @property
    def trials(self) -> list[str]:
        with h5py.File(self.path, "r") as f:
            return [t.decode() if isinstance(t, bytes) else str(t) for t in f["trials/trial"][()]]

    def trial(self, name: str) -> xr.Dataset:
        """One trial's time series (angles, events, plate vertical force)."""
        ds = self._group("trials")
        names = [str(t) for t in ds.trial.values]
        if name not in names:
            raise StoreError(f"{self.path}: no trial {name!r}; the store has {names}")
        i = names.index(name)
        cut = {}
        counts = [("frame_sample", "frame_count"), ("event_sample", "event_count"), ("analog_sample", "analog_count")]
        if "contact_count" in ds:
            counts.append(("contact_sample", "contact_count"))
        for dim, count in counts:
            c = ds[count].values
            cut[dim] = slice(int(c[:i].sum()), int(c[: i + 1].sum()))
        one = ds.drop_vars([c for _, c in counts]).isel(trial=i, **cut)
        frames = one.frame.values
        renames = {"frame_sample": "frame", "event_sample": "event"}
        if "contact_sample" in one.dims:
            renames["contact_sample"] = "contact"
        one = one.drop_vars("frame").rename_dims(renames)
        return one.assign_coords(frame=("frame", frames)).load()

    @property
    def marker_quality(self) -> xr.Dataset:
        """Per trial and marker: ``marker_residual_mean`` (mm), ``marker_missing_pct`` (%),
        ``marker_gap_count``; dims (trial, marker)."""
        names = ["marker_residual_mean", "marker_missing_pct", "marker_gap_count"]
        ds = self._group("trials")
        missing = [n for n in names if n not in ds]
        if missing:
            raise StoreError(f"{self.path}: /trials has no {missing} (a store written before marker "
                             "quality was kept); rebuild it with `chainlab study`")
        keep = ["trial_subject", "trial_condition"]
        return ds[names].assign_coords({k: ds[k] for k in keep}).load()

    @property
    def measures(self) -> pd.DataFrame:
        """The config's measures, one row per measure and window (empty in a store without)."""
        return read_rows(self.path, "measures", ENGINE)

    @property
    def tests(self) -> pd.DataFrame:
        """The config's tests between conditions (``tests.csv``; empty in a store without)."""
        return read_rows(self.path, "tests", ENGINE)

    @property
    def statistics(self) -> xr.Dataset:
        return self._group("statistics")

    @property
    def subjects(self) -> pd.DataFrame:
        """One row per subject (``/subjects``), ``attrs["units"]`` per column."""
        with h5py.File(self.path, "r") as f:
            if "subjects" not in f:
                raise StoreError(f"{self.path}: no /subjects group (a store written before it was kept); "
                                 "rebuild it with `chainlab study`")
        ds = self._group("subjects")
        df = ds.to_dataframe().reset_index() if ds.sizes.get("subject", 0) else pd.DataFrame(
            columns=["subject", *ds.data_vars])
        df.attrs["units"] = {k: str(v.attrs.get("units", "1")) for k, v in ds.data_vars.items()}
        return df

    @property
    def provenance(self) -> xr.Dataset:
        return self._group("provenance")

    @property
    def problems(self) -> pd.DataFrame:
        """The ``/problems`` table (empty for a store written before it existed)."""
        with h5py.File(self.path, "r") as f:
            has = "problems" in f
        if not has:
            return problems_table([])
        ds = self._group("problems")
        return pd.DataFrame({c: ds[c].values.astype(float if c == "value" else str) for c in PROBLEM_COLUMNS})

    def headline(self) -> str:
        """The study's count of trials (:func:`chainlab.problems.headline`)."""
        prov = self.provenance
        fails = [{"trial": str(t), "stage": str(s)} for t, s in zip(prov.failure_trial.values,
                                                                     prov.failure_stage.values)]
        return headline(self.trials, fails, self.problems.to_dict("records"))


def open_study(path: str | os.PathLike) -> Study:
    """Open a study store, checking it is one; raise :class:`StoreError` otherwise."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            missing = [g for g in ("cycles", "metrics", "provenance") if g not in f]
            title = f.attrs.get("title", b"")
    except OSError as exc:
        raise StoreError(f"{path}: not a readable HDF5 study store ({exc})") from None
    if isinstance(title, bytes):
        title = title.decode()
    if missing or title != "chainlab study store":
        raise StoreError(f"{path}: not a chainlab study store (missing groups {missing}, title {title!r})")
    return Study(path)
