"""Pass 3 of a trial (:mod:`chainlab.pipeline`): its events (the plates' contacts with the
frames pass' verdicts, the C3D's, Zeni's), its cycles, and per cycle the chain's curves, every
angle output's curve, the kinetic curves and the measures, windows of cycles at a time, from
the angles and kinetics written, each window's curves written into ``/curves`` as they come
(not held: :meth:`chainlab.io.trial_file.TrialWriter.rows`); the config's own measures
(:func:`chainlab.gait.measures.trial_measures`) into ``/measures``, their per-cycle values
joined onto the metrics."""

from __future__ import annotations

import contextlib
import json
import sys

import numpy as np
import pandas as pd
import xarray as xr

from chainlab.gait import heading
from chainlab.gait.analysis import gait_problems, mark_not_measured
from chainlab.gait.cycles import find_cycles
from chainlab.gait.events import EventResult, c3d_events, contact_events, merge_events, zeni_events
from chainlab.gait.kinetic_metrics import kinetic_measures
from chainlab.gait.measures import per_cycle, trial_measures
from chainlab.gait.metrics import angle_curves, arch_absent, cycle_curves, cycle_metrics, with_arch
from chainlab.gait.spatiotemporal import missing_markers, spatiotemporal_of_trial
from chainlab.io.trial_file import TrialWriter, table_dataset
from chainlab.parallel import Progress
from chainlab.pipeline._job import release_freed_memory
from chainlab.schema import joint_name

MEASURE_FRAMES = 1000  # at least this many frames per window of cycles measured together


def _plates_ds(job, cap: xr.Dataset, first_sample: int) -> xr.Dataset:
    """A chunk's plate forces (pass 2), with the trial's analog times."""
    attrs = {"source_sha256": cap.attrs["source_sha256"], "source_file": cap.attrs["source_file"]}
    if not cap.sizes.get("plate", 0):
        return xr.Dataset(attrs=attrs)
    k = np.arange(first_sample, first_sample + cap.sizes["analog_sample"])
    cap = cap.assign_coords(analog_time=("analog_sample", job.analog_time(k), cap.analog_time.attrs))
    return xr.Dataset({"plate_force": cap.plate_force.astype(np.float32)}, coords={"analog_time": cap.analog_time},
                      attrs=attrs)


def _plate_crossings(job, plates: dict) -> list[tuple]:
    return [(p, plates[p][2], plates[p][0], plates[p][1]) for p, _ in job.plates]


def _contact_frames(job, t0: float, t1: float) -> np.ndarray:
    """The frame indices of the trial within [t0, t1] (a plate contact)."""
    guess0 = int(np.floor(t0 * job.point_rate)) - job.first_frame + 1
    guess1 = int(np.ceil(t1 * job.point_rate)) - job.first_frame + 1
    idx = np.arange(max(0, guess0 - 3), min(job.n, guess1 + 4))
    t = job.frame_time(idx)
    return idx[(t >= t0) & (t <= t1)]


def _contacts(job, plates: dict) -> list[tuple]:
    """The plate contacts to judge (those with marker frames), as (key, first frame index,
    last frame index, corners): listed by the same loop that assembles the events."""
    corners = dict(job.plates)
    todo = []

    def listed(p, start, stop, t0, t1):
        inside = _contact_frames(job, t0, t1)
        if inside.size:
            todo.append(((p, start), int(inside[0]), int(inside[-1]), corners[p]))
        return None, ""

    contact_events(_plate_crossings(job, plates), lambda k: float(job.analog_time(k)), listed, job.point_rate,
                   job.plate_options)
    return todo


def _events(job, first: dict, verdicts: dict) -> EventResult:
    """The trial's events: its plates' (with the contacts' verdicts), the C3D's, Zeni's."""
    def judged(p, start, stop, t0, t1):
        return verdicts.get((p, start), (None, "no marker frame during the contact"))

    plates = contact_events(_plate_crossings(job, first["plates"]), lambda k: float(job.analog_time(k)), judged,
                            job.point_rate, job.plate_options)
    stored = c3d_events(job.capture_events)
    kin = zeni_events(first["zeni"], job.frame_time, lambda i: job.first_frame + i) if stored.empty \
        else zeni_events({}, float, int)
    return merge_events(plates, stored, kin)


def _kinetic_window(job, kt: xr.Dataset | None, a: int, b: int, sub: pd.DataFrame) -> tuple[xr.Dataset, pd.DataFrame]:
    """The kinetic curves and measures of the cycles `sub` from frames [a, b) of the kinetics
    written (`kt`; None: the trial has none, NaN with the reason)."""
    if kt is None:
        return kinetic_measures(None, sub, job.kinetics_absent)
    return kinetic_measures(kt[["moments", "powers"]].isel(frame=slice(a, b)).load(), sub,
                            refused=job.contacts_refused)


def _curves_dataset(curves: xr.DataArray, joint_curves: xr.DataArray, kinetic_curves: xr.Dataset) -> xr.Dataset:
    """The ``/curves`` group of some cycles: the chain's, every angle output's, the kinetic."""
    ds = curves.to_dataset(name="curves")
    ds["angle_curves"] = joint_curves
    return ds.merge(kinetic_curves)


def _cycle_measures(job, kin: xr.Dataset, kt: xr.Dataset | None, cycles: pd.DataFrame, window_frames: int,
                    w: TrialWriter) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Curves of the chain, every angle output's curves, the kinetic curves and the measures of
    every cycle, from windows of the written angles and kinetics (`kt`, None without; cycles
    measured together while their frames fit in `window_frames`): each window's curves
    written into ``/curves`` of `w` at their cycles' rows as they come (so that they are not
    held), (angle measures, kinetic measures) returned in the order of `cycles`."""
    joints = sorted({joint_name(str(o)) for o in kin.output.values})
    markers = [m for m in ("LASI", "RASI") if m in set(kin.marker.values.tolist())]
    frame, segments = job.chain_frame, heading.inputs(kin, job.chain_frame)
    small = kin[["angles", "markers"] + (["segment_axes"] if segments else [])].sel(marker=markers)
    small = small.sel(segment=segments) if segments else small
    window = heading.stride_window(cycles)  # the heading's, from the whole trial's cycles
    n = len(cycles)
    if cycles.empty:
        win = small.isel(frame=slice(0, min(1, job.n))).load()
        curves = cycle_curves(win, cycles, frame, window)
        kinetic_curves, kinetic_table = _kinetic_window(job, kt, 0, min(1, job.n), cycles)
        w.rows("curves", _curves_dataset(curves, angle_curves(win, cycles, joints), kinetic_curves), "cycle",
               np.arange(0), 0)
        return cycle_metrics(win, cycles, curves), kinetic_table
    rate = job.point_rate
    index = lambda t: t * rate - job.first_frame + 1  # noqa: E731
    margin = heading.margin_frames(rate, window) if segments else 0
    lo = np.maximum(0, np.floor(index(cycles.start.to_numpy())).astype(int) - 2 - margin)
    hi = np.minimum(job.n, np.ceil(index(cycles.end.to_numpy())).astype(int) + 3 + margin)
    order = np.argsort(lo, kind="stable")
    groups, cur = [], []
    for i in order:
        if cur and max(hi[j] for j in cur + [i]) - lo[cur[0]] > window_frames:
            groups.append(cur)
            cur = []
        cur.append(i)
    groups.append(cur)
    tables, kinetic_tables, rows = [], [], []
    for g in groups:
        a, b = int(lo[g[0]]), int(max(hi[j] for j in g))
        win = small.isel(frame=slice(a, b)).load()
        sub = cycles.iloc[g]
        c = cycle_curves(win, sub, frame, window)
        kinetic_curves, kinetic_table = _kinetic_window(job, kt, a, b, sub)
        w.rows("curves", _curves_dataset(c, angle_curves(win, sub, joints), kinetic_curves), "cycle",
               np.asarray(g), n)
        tables.append(cycle_metrics(win, sub, c))
        kinetic_tables.append(kinetic_table)
        rows += list(g)
        if len(groups) > 1:
            release_freed_memory()
    back = np.argsort(rows, kind="stable")
    metrics = pd.concat(tables, ignore_index=True).iloc[back].reset_index(drop=True)
    metrics.attrs = dict(tables[0].attrs)  # the chain's frame
    kinetic = pd.concat(kinetic_tables, ignore_index=True).iloc[back].reset_index(drop=True)
    return metrics, kinetic


def _user_measures(job, w: TrialWriter, entries: list, events: pd.DataFrame,
                   cycles: pd.DataFrame) -> pd.DataFrame:
    """The config's measures (:func:`chainlab.gait.measures.trial_measures`) of the written
    outputs: the long table (its ``/measures`` group)."""
    contacts = None
    if "contacts" in w.created:
        with w.dataset("contacts") as c:
            contacts = c.to_dataframe().reset_index(drop=True)
    with w.dataset("kinematics") as kin:
        if "kinetics" not in w.created:
            return trial_measures(entries, kin, None, events, cycles, kinetics_absent=job.kinetics_absent,
                                  where=f"{job.path.name}: measures")
        with w.dataset("kinetics") as kt:
            return trial_measures(entries, kin, kt, events, cycles, contacts=contacts, rate=job.point_rate,
                                  where=f"{job.path.name}: measures")


def _gait_pass(job, first: dict, verdicts: dict, w: TrialWriter, chunk_frames: int, say: bool,
               progress: Progress, not_run: dict | None = None, measures: list | None = None):
    """Pass 3 into `w`: events, cycles, curves and measures (the config's `measures` too);
    (events, cycles, metrics, problems)."""
    ev = _events(job, first, verdicts)
    cyc = find_cycles(ev.events)
    with w.dataset("kinematics") as kin, \
            (w.dataset("kinetics") if "kinetics" in w.created else contextlib.nullcontext()) as kt:
        metrics, kinetic_table = _cycle_measures(job, kin, kt, cyc.cycles, max(chunk_frames, MEASURE_FRAMES), w)
        frame = dict(metrics.attrs)  # the chain frame the angle measures were taken in (concat drops attrs)
        metrics = spatiotemporal_of_trial(metrics, ev.events, kin, job.frame_time, job.n)
        metrics = with_arch(metrics, kin)
        absent, no_arch = missing_markers(kin), arch_absent(kin)
        # what the kinematics made of the capture's markers (never valid: treated as absent)
        notes = json.loads(kin.attrs.get("input_notes", "[]") or "[]")
    metrics = mark_not_measured(metrics, not_run, absent, no_arch)
    metrics = pd.concat([metrics, kinetic_table], axis=1)
    if measures:
        table = _user_measures(job, w, measures, ev.events, cyc.cycles)
        w.group("measures", table_dataset(table))
        spread = per_cycle(table)
        if len(spread):
            metrics = metrics.merge(spread.astype({"cycle": metrics.cycle.dtype}), on=["side", "cycle"], how="left")
    metrics.attrs = frame
    name = job.path.name
    if say:
        print(f"{name}: {len(ev.events)} events, {len(metrics)} cycles measured, {progress.elapsed():.0f} s",
              file=sys.stderr, flush=True)
    problems = notes + gait_problems(name, ev, cyc, metrics, not_run, absent, no_arch)
    for group, ds in (("events", table_dataset(ev.events)), ("cycles", table_dataset(cyc.cycles)),
                      ("metrics", table_dataset(metrics).assign_attrs(metrics.attrs))):
        w.group(group, ds)
    w.set_attrs("/", {"problems": json.dumps(problems)})
    return ev.events, cyc.cycles, metrics, problems
