"""User-defined discrete measures: a statistic of one output's component over a window of a side.

A study's config names them (``measures:``; the schema fragment is
``chainlab/schemas/measures.schema.yaml``)::

    measures:
      - {name: grf_ml_min, output: GroundReactionForce, component: x, side: right, window: stance, stat: min}
      - {name: hip_add_max, output: HipAngles, component: y, side: right, window: stance, stat: max}
      - {name: knee_flx_fs, output: KneeAngles, component: x, side: right, window: stance, stat: at_start}

``output`` is the side-less Nexus name (``HipAngles`` for ``LHipAngles``/``RHipAngles``,
``GroundReactionForce``, ``HEE`` for the markers ``LHEE``/``RHEE``; an output without a side,
such as ``LumbarCurvature`` or ``SACR``, serves both sides). ``side`` is left, right or both
(a row per side). ``window`` is

* ``stance``: the side's Foot Strike to its next Foot Off;
* ``swing``: the side's Foot Off to its next Foot Strike;
* ``cycle``: Foot Strike to the next Foot Strike of the side, with one Foot Off between
  (the cycles of :func:`chainlab.gait.cycles.find_cycles`);
* ``{from: EVENT, to: EVENT}``: each EVENT ``from`` to the first EVENT ``to`` after it (before
  the next ``from``); events are ``Foot Strike``, ``Foot Off`` of the side and ``Opposite Foot
  Strike``, ``Opposite Foot Off`` of the other side.

``stat`` is min, max, mean, range, at_start, at_end, time_of_min or time_of_max. A window's
samples are the output's frames from the frame nearest its start event to the frame nearest
its end event, both included (as biomechZoo partitions a trial between two events); ``mean`` is
their arithmetic mean; ``time_of_*`` is in % of the window (0 at its start, 100 at its end) with
the seconds from the window's start in ``time_s``.

Plate outputs (:data:`chainlab.measure_specs.PLATE_OUTPUTS`, the ground reactions) are measured
only in a window within one stance wholly on one force plate: the stance's Foot Strike and Foot Off both found by the
same plate (events ``source`` "plate k", :func:`chainlab.gait.events.gait_events`), or, when the
kinetics' plate contacts are given, an accepted contact of that side spanning the stance. Any
other window gets NaN and its reason. ``plate: true`` asks the same of a measure of any output
(the biomechZoo example measures its angles in the plate stance only); ``plate: false`` drops
the rule. A window with a missing sample (NaN) is NaN with the frames missing named.

``frame`` (ground reaction force only, :data:`chainlab.measure_specs.FRAME_OUTPUTS`) is ``lab``
(the default: the capture's axes, as Nexus' ``GroundReactionForce``) or ``walking`` (x to the
subject's right, y the direction of travel, z up, at each frame:
:data:`chainlab.conventions.MEASURE_FRAMES`), so that x is medio-lateral on a turn or a walk
the other way. A study's ``measure_defaults: {plate: ..., frame: ...}`` gives every measure
the keys it does not give itself (:func:`chainlab.measure_specs.apply_measure_defaults`).

:func:`compute_measures` returns one row per measure and window (long table, columns
:data:`COLUMNS`); :func:`per_cycle` spreads it to one row per side and cycle with the units in
the column names, beside :func:`chainlab.gait.metrics.cycle_metrics`' columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from chainlab.conventions import AXES, KINETIC_UNITS, WALKING_IN_HEADING
from chainlab.gait import heading as heading_frame
from chainlab.gait.cycles import find_cycles
from chainlab.gait.events import OFF, STRIKE
from chainlab.measure_specs import (  # the config's list parsed there (chainlab.config checks it on load)
    SIDES,
    Measure,
    _choices,
    parse_measures,
)
from chainlab.schema import MEASURE_COLUMNS, unit_suffix

#: Frames a kinetics contact's first (last) frame may lie from the stance's strike (off).
CONTACT_TOLERANCE = 5
COLUMNS = MEASURE_COLUMNS
_OTHER = {"Left": "Right", "Right": "Left"}


# -- the trial's outputs, side-less ----------------------------------------------------------

def split_side(name: str) -> tuple[str | None, str]:
    """("Left", "HipAngles") for LHipAngles, (None, "LumbarCurvature") for a side-less name."""
    if name[:1] in "LR" and len(name) > 1 and name[1:2].isupper():
        return ("Left" if name[0] == "L" else "Right"), name[1:]
    return None, name


def _add(out: dict, name: str, values: np.ndarray, time: np.ndarray, units: str) -> None:
    side, base = split_side(name)
    da = xr.DataArray(values, dims=("frame", "axis"), coords={"time": ("frame", time), "axis": list(AXES)},
                      attrs={"units": units})
    for s in ((side,) if side else ("Left", "Right")):
        out.setdefault(base, {}).setdefault(s, da)


def trial_outputs(kinematics: xr.Dataset | None = None, kinetics: xr.Dataset | None = None,
                  extra: Mapping[str, Mapping[str, xr.DataArray]] | None = None,
                  ) -> dict[str, dict[str, xr.DataArray]]:
    """{side-less name: {"Left"/"Right": (frame, axis) DataArray with ``time`` and units}}.

    From `kinematics` (:func:`chainlab.kinematics.compute_kinematics`): ``angles`` (deg) and
    ``markers`` (m); from `kinetics` (the kinetics layer's Dataset): every (frame, output, axis)
    variable under its output names (``GroundReactionForce``, ``HipMoment`` ...) and the powers
    (frame, output) as their z component, as Nexus stores them; `extra` is added as given
    (e.g. a ground reaction built elsewhere). An output without a side serves both sides.
    """
    out: dict[str, dict[str, xr.DataArray]] = {}
    for ds in (kinematics, kinetics):
        if ds is None:
            continue
        time = ds.time.values
        for var in ds.data_vars:
            da = ds[var]
            if da.dims[0] != "frame" or len(da.dims) not in (2, 3):
                continue
            units = str(da.attrs.get("units", ""))
            names = da[da.dims[1]].values
            vals = da.values
            for j, n in enumerate(names):
                v = vals[:, j]
                if v.ndim == 1:  # a power: Nexus stores it in z
                    v = np.stack([np.full_like(v, np.nan), np.full_like(v, np.nan), v], axis=1)
                if v.shape[1] == 3:
                    _add(out, str(n), v, time, units)
    for name, per_side in (extra or {}).items():
        for side, da in per_side.items():
            out.setdefault(name, {})[side] = da
    return out


def available_outputs(outputs: Mapping[str, Mapping[str, xr.DataArray]]) -> list[str]:
    """The side-less names a measure may name, sorted."""
    return sorted(outputs)


# -- windows from the events -----------------------------------------------------------------

def _event_times(events: pd.DataFrame, side: str, label: str) -> pd.DataFrame:
    if label.startswith("Opposite "):
        side, label = _OTHER[side], label[len("Opposite "):]
    return events[(events.side == side) & (events.label == label)].sort_values("time")


def windows(events: pd.DataFrame, side: str, window: str | tuple[str, str]) -> pd.DataFrame:
    """The windows of `side` ("Left"/"Right"): start, end (s), and the ``source`` of each end's
    event (plate k, c3d, kinematic), in time order."""
    cols = ["start", "end", "start_source", "end_source"]
    if window == "cycle":
        cyc = find_cycles(events[events.side == side]).cycles
        src = dict(zip(events.time, events.source)) if "source" in events else {}
        rows = [(r.start, r.end, src.get(r.start, ""), src.get(r.end, "")) for r in cyc.itertuples()]
        return pd.DataFrame(rows, columns=cols)
    first, second = {"stance": (STRIKE, OFF), "swing": (OFF, STRIKE)}.get(window, window)
    a = _event_times(events, side, first)
    b = _event_times(events, side, second)
    at, bt = a.time.to_numpy(dtype=float), b.time.to_numpy(dtype=float)
    asrc = a.source.to_numpy() if "source" in a else np.full(len(a), "")
    bsrc = b.source.to_numpy() if "source" in b else np.full(len(b), "")
    rows = []
    for k, t0 in enumerate(at):
        nxt = at[k + 1] if k + 1 < len(at) else np.inf
        later = np.flatnonzero((bt > t0) & (bt < nxt))
        if later.size:
            j = later[0]
            rows.append((t0, bt[j], str(asrc[k]), str(bsrc[j])))
    return pd.DataFrame(rows, columns=cols)


def plate_of(stance_row, contacts: pd.DataFrame | None, side: str, rate: float | None) -> str:
    """"plate k" when the stance (start, end, start_source, end_source) is wholly on plate k,
    else ""."""
    if contacts is not None and len(contacts) and rate:
        c = contacts[(contacts.status == "accepted") & (contacts.side.astype(str).str[0] == side[0])]
        f0 = stance_row.start * rate + 1
        f1 = stance_row.end * rate + 1
        hit = c[(np.abs(c["first"] - f0) <= CONTACT_TOLERANCE) & (np.abs(c["last"] - f1) <= CONTACT_TOLERANCE)]
        if len(hit):
            return f"plate {int(hit.plate.iloc[0])}"
    s0, s1 = str(stance_row.start_source), str(stance_row.end_source)
    if s0.startswith("plate") and s0 == s1:
        return s0
    return ""


# -- the statistics ----------------------------------------------------------------------------

def window_stat(values: np.ndarray, time: np.ndarray, stat: str) -> tuple[float, float]:
    """(value, seconds) of `stat` on a window's samples (n,) at `time` (n,); seconds only for
    time_of_* (from the window's start), NaN otherwise. The value of time_of_* is % of the
    window."""
    n = len(values)
    if stat == "min":
        return float(np.min(values)), np.nan
    if stat == "max":
        return float(np.max(values)), np.nan
    if stat == "mean":
        return float(np.mean(values)), np.nan
    if stat == "range":
        return float(np.ptp(values)), np.nan
    if stat == "at_start":
        return float(values[0]), np.nan
    if stat == "at_end":
        return float(values[-1]), np.nan
    k = int(np.argmin(values) if stat == "time_of_min" else np.argmax(values))
    span = time[-1] - time[0]
    pct = 100.0 * (time[k] - time[0]) / span if span > 0 else (0.0 if n == 1 else np.nan)
    return float(pct), float(time[k] - time[0])


def _series(da, time: np.ndarray | None, component: str | None, what: str,
            walking: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """(values of `component`, times, units) of an output; with `walking` ((n, 3, 3) walking
    frames, columns x, y, z as lab vectors, one per sample) the vector is first expressed in
    them."""
    if isinstance(da, xr.DataArray):
        t = da["time"].values if "time" in da.coords else time
        units = str(da.attrs.get("units", ""))
        v = da.values
    else:
        t, units, v = time, "", np.asarray(da, dtype=float)
    if t is None:
        raise ValueError(f"{what}: an array without a time coordinate needs compute_measures(time=...)")
    if v.ndim == 1:
        return v, np.asarray(t, dtype=float), units
    if component is None and np.isfinite(v[:, :2]).any():
        raise ValueError(f"{what}: the output has x, y and z; give component: x, y or z")
    if walking is not None:
        if walking.shape != (len(v), 3, 3):
            raise ValueError(f"{what}: frame: walking needs one walking frame per sample of the output "
                             f"({len(v)}); found {walking.shape[0]}")
        v = np.einsum("nij,ni->nj", walking, v)
    k = AXES.index(component) if component is not None else 2
    return v[:, k], np.asarray(t, dtype=float), units


def walking_frames(heading: np.ndarray) -> np.ndarray:
    """(n, 3, 3) walking frames (:data:`chainlab.conventions.MEASURE_FRAMES`; columns x right,
    y forward, z up, as lab vectors) from heading frames (:func:`chainlab.gait.heading.heading_of`)."""
    return np.asarray(heading, dtype=float) @ np.array(WALKING_IN_HEADING)


def _cycle_of(cycles: pd.DataFrame | None, side: str, t0: float) -> float:
    if cycles is None or not len(cycles):
        return np.nan
    c = cycles[(cycles.side == side) & (cycles.start <= t0 + 1e-9) & (cycles.end > t0 + 1e-9)]
    return float(c.cycle.iloc[0]) if len(c) else np.nan


def compute_measures(measures: Sequence[Measure], outputs: Mapping[str, Mapping[str, object]],
                     events: pd.DataFrame, *, time: np.ndarray | None = None,
                     contacts: pd.DataFrame | None = None, rate: float | None = None,
                     cycles: pd.DataFrame | None = None, heading: np.ndarray | None = None) -> pd.DataFrame:
    """One row per measure and window of its side(s) (columns :data:`COLUMNS`).

    Parameters
    ----------
    measures : list of Measure
        From :func:`parse_measures`.
    outputs : mapping
        ``{side-less name: {"Left"/"Right": values}}`` (:func:`trial_outputs`); values are
        (frame, axis) or (frame,) DataArrays with a ``time`` coordinate and ``units``, or
        arrays sampled at `time`.
    events : DataFrame
        side, label, time, source (:func:`chainlab.gait.events.gait_events`).
    contacts : DataFrame, optional
        The kinetics' plate contacts (plate, first, last, side, status; frame numbers):
        a stance spanned by an accepted contact of its side is on that plate.
    rate : float, optional
        Frames per second, to compare `contacts`' frame numbers with event times.
    cycles : DataFrame, optional
        :func:`chainlab.gait.cycles.find_cycles` cycles: ``cycle`` says which one a window
        starts in (NaN when none, e.g. a stance without a complete cycle).
    heading : (n, 3, 3) array, optional
        The trial's heading frames (:func:`chainlab.gait.heading.heading_of`), one per sample
        of the outputs: needed by a measure with ``frame: walking``.

    Returns
    -------
    DataFrame
        ``value`` in ``units`` (% of the window for time_of_*, with ``time_s`` in s), the
        window's ``start_s``/``end_s``, ``plate`` ("plate k" for a stance wholly on plate k),
        ``reason`` why a value is NaN ("" otherwise).
    """
    rows = []
    if cycles is None:
        cycles = find_cycles(events).cycles
    for m in measures:
        if m.output not in outputs:
            raise ValueError(f"measure {m.name!r}: output {m.output!r} not in this trial; "
                             f"{_choices(m.output, outputs)}")
        for side in SIDES[m.side]:
            base = {"measure": m.name, "output": m.output, "component": m.component or "", "frame": m.frame,
                    "side": side, "window": m.window_name, "stat": m.stat}
            wins = windows(events, side, m.window)
            stances = windows(events, side, "stance") if m.needs_plate else None
            da = outputs[m.output].get(side)
            walking, unknown = None, None
            if m.frame == "walking":
                if heading is None:
                    raise ValueError(f"measure {m.name!r}: frame: walking needs the trial's heading "
                                     "(compute_measures(heading=...), from the pelvis markers LASI, RASI)")
                walking = walking_frames(heading)
                unknown = ~np.isfinite(walking).all(axis=(1, 2))  # no heading: no pelvis markers there
            if da is not None:
                v, t, units = _series(da, time, m.component, f"measure {m.name!r}", walking)
            for k, w in enumerate(wins.itertuples()):
                row = dict(base, instance=k, cycle=_cycle_of(cycles, side, w.start), start_s=w.start, end_s=w.end,
                           value=np.nan, units="", time_s=np.nan, plate="", reason="")
                if m.window == "stance":
                    row["plate"] = plate_of(w, contacts, side, rate)
                elif stances is not None:
                    inside = stances[(stances.start <= w.start + 1e-9) & (stances.end >= w.end - 1e-9)]
                    row["plate"] = plate_of(next(inside.itertuples()), contacts, side, rate) if len(inside) else ""
                rows.append(row)
                if da is None:
                    row["reason"] = f"no {side} {m.output} in this trial"
                    continue
                row["units"] = "%" if m.stat.startswith("time_of") else units
                if m.needs_plate and not row["plate"]:
                    row["reason"] = (f"{side} {m.window_name} {w.start:.3f}-{w.end:.3f} s is not within one stance "
                                     f"wholly on one force plate (events from {w.start_source or '?'} and "
                                     f"{w.end_source or '?'})")
                    continue
                i0, i1 = (int(np.argmin(np.abs(t - x))) for x in (w.start, w.end))
                seg, ts = v[i0:i1 + 1], t[i0:i1 + 1]
                bad = ~np.isfinite(seg)
                lost = unknown[i0:i1 + 1] & bad if unknown is not None and len(unknown) == len(v) else bad[:0]
                if lost.any():
                    row["reason"] = (f"{side} {m.output} {m.component or ''}: the walking frame's heading is unknown "
                                     f"in {int(lost.sum())} of {seg.size} frames of the {m.window_name} "
                                     f"{w.start:.3f}-{w.end:.3f} s (it needs the pelvis markers LASI and RASI)")
                    continue
                if seg.size == 0 or bad.any():
                    row["reason"] = (f"{side} {m.output} {m.component or ''} missing in {int(bad.sum())} of "
                                     f"{seg.size} frames of the {m.window_name} {w.start:.3f}-{w.end:.3f} s")
                    continue
                row["value"], row["time_s"] = window_stat(seg, ts, m.stat)
    return pd.DataFrame(rows, columns=COLUMNS)


def per_cycle(table: pd.DataFrame) -> pd.DataFrame:
    """The long table spread to one row per side and cycle: a column ``{measure}_{units}`` per
    measure (and ``{measure}_s`` for time_of_*); windows outside a complete cycle are left out
    (they stay in the long table). With more than one window of a measure in a cycle (a
    swing and a later stance of the same cycle), the first is kept."""
    t = table[table.cycle.notna()].copy()
    if t.empty:
        return pd.DataFrame(columns=["side", "cycle"])
    cols = []
    for name, g in t.groupby("measure", sort=False):
        units = next((u for u in g.units if u), "")
        col = f"{name}_{unit_suffix(units)}" if unit_suffix(units) else name
        w = g.drop_duplicates(["side", "cycle"]).set_index(["side", "cycle"])
        cols.append(w["value"].rename(col))
        if g.stat.iloc[0].startswith("time_of"):
            cols.append(w["time_s"].rename(f"{name}_s"))
    out = pd.concat(cols, axis=1).reset_index()
    out["cycle"] = out.cycle.astype(int)
    return out


# -- a trial's measures, as the pipeline computes them ------------------------------------------

#: The kinetics' outputs (side-less): a measure may name them in any trial; a trial without
#: kinetics gives NaN with the reason it has none.
KINETIC_OUTPUTS = tuple(f"{j}{k}" for k in ("Moment", "Force", "Power") for j in ("Hip", "Knee", "Ankle")) + (
    "GroundReactionForce", "NormalisedGRF")
#: The trial file's variables measures read: (group, variable).
SOURCES = (("kinematics", "angles"), ("kinematics", "markers"), ("kinetics", "moments"),
           ("kinetics", "joint_forces"), ("kinetics", "powers"), ("kinetics", "GroundReactionForce"),
           ("kinetics", "NormalisedGRF"))


def _needed(ds: xr.Dataset | None, variables: Sequence[str], bases: set[str]) -> xr.Dataset | None:
    """The variables of `ds` (frame, name[, axis]) cut to the names whose side-less name is
    in `bases`, loaded; the names of every one in ``attrs["all_names"]``."""
    if ds is None:
        return None
    keep, every = {}, []
    for var in variables:
        if var not in ds:
            continue
        da = ds[var]
        names = [str(n) for n in da[da.dims[1]].values]
        every += names
        mine = [n for n in names if split_side(n)[1] in bases]
        if mine:
            keep[var] = da.sel({da.dims[1]: mine}).load()
    out = xr.Dataset(keep, coords={"time": ds["time"].load()} if "time" in ds.coords or "time" in ds else None)
    out.attrs["all_names"] = every
    return out


def trial_measures(entries: Sequence[Mapping], kinematics: xr.Dataset, kinetics: xr.Dataset | None,
                   events: pd.DataFrame, cycles: pd.DataFrame, *, contacts: pd.DataFrame | None = None,
                   rate: float | None = None, kinetics_absent: str = "", where: str = "measures") -> pd.DataFrame:
    """The config's measures (`entries`) of one trial: its angles and markers (`kinematics`,
    the trial file's group), its kinetics (None when it has none: `kinetics_absent` says why),
    its events, cycles and plate contacts (kinetics' frame numbers, at `rate`). Only the
    outputs the measures name are read.

    A measure naming an output the trial does not have, and that is not a kinetics output,
    raises ValueError naming the outputs it has; a kinetics output of a trial without
    kinetics gives NaN rows with the reason.
    """
    measures = parse_measures(entries, where=where)
    if not measures:
        return pd.DataFrame(columns=COLUMNS)
    bases = {m.output for m in measures}
    kin = _needed(kinematics, [v for g, v in SOURCES if g == "kinematics"], bases)
    kt = _needed(kinetics, [v for g, v in SOURCES if g == "kinetics"], bases)
    names = {split_side(n)[1] for d in (kin, kt) if d is not None for n in d.attrs["all_names"]}
    parse_measures(entries, sorted(names | set(KINETIC_OUTPUTS)), where=where)
    outputs = trial_outputs(kin, kt)
    for m in measures:
        outputs.setdefault(m.output, {})
    walking = any(m.frame == "walking" for m in measures)
    table = compute_measures(measures, outputs, events, contacts=contacts, rate=rate, cycles=cycles,
                             heading=trial_heading(kinematics, cycles) if walking else None)
    gone = table.output.isin(KINETIC_OUTPUTS) & (table.units == "") & table.reason.str.startswith("no ")
    if gone.any():  # the units the kinetics would have had: the same columns in every trial
        table.loc[gone, "units"] = [_kinetic_units(o, s) for o, s in zip(table.output[gone], table.stat[gone])]
        if kinetics_absent:
            table.loc[gone, "reason"] = table.loc[gone, "reason"] + f": {kinetics_absent}"
    return table


def trial_heading(kinematics: xr.Dataset, cycles: pd.DataFrame | None = None) -> np.ndarray:
    """(frame, 3, 3) heading frames of a trial's kinematics (the trial file's group: LASI and
    RASI from ``markers``, the pelvis' facing from ``segment_axes``) over its median stride
    (:func:`chainlab.gait.heading.stride_window`), as the chain's heading frame takes them."""
    names = set(kinematics.marker.values.tolist()) if "marker" in kinematics.dims else set()
    keep = [m for m in ("LASI", "RASI") if m in names]
    small = kinematics[["markers"]].sel(marker=keep)
    if "segment_axes" in kinematics and "Pelvis" in set(kinematics.segment.values.tolist()):
        small["segment_axes"] = kinematics["segment_axes"].sel(segment=["Pelvis"])
    return heading_frame.heading_of(small.load(), heading_frame.stride_window(cycles))


def _kinetic_units(output: str, stat: str) -> str:
    if stat.startswith("time_of"):
        return "%"
    kind = next((k for k in ("Moment", "Force", "Power") if output.endswith(k) and output != "GroundReactionForce"),
                None)
    return KINETIC_UNITS[{"Moment": "moments", "Force": "joint_forces", "Power": "powers"}[kind]] if kind \
        else KINETIC_UNITS[output]
