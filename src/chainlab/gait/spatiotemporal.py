"""Spatiotemporal gait parameters per cycle and side, from the events and the foot markers.

A cycle of side X runs from X's foot strike (t0) through X's foot off (tf) to X's next strike
(t1) (:func:`chainlab.gait.cycles.find_cycles`); within it the opposite foot's off (too)
and strike (to) are the ones after t0. With T = t1 - t0, heels H (``?HEE``) and toes
(``?TOE``) linearly interpolated at the event times, horizontal = the lab's x-y plane (lab
vertical +z, as everywhere in chainlab):

* ``stride_time_s`` T; ``cadence_steps_per_min`` 120 / T (two steps per stride);
* ``stride_length_m`` |H_X(t1) - H_X(t0)| horizontal; the stride's direction d is the
  direction of progression of the cycle; ``stride_speed_m_s`` stride length / T (the
  heels' speed; the per-cycle table's ``walking_speed_m_s`` is the pelvis', and this one is
  not in it);
* ``step_length_m`` (H_X(t1) - H_opp(to)) · d: how far X lands ahead of the opposite heel;
* ``step_width_m`` the horizontal distance of H_opp(to) from the line H_X(t0) H_X(t1);
* ``stance_pct`` 100 (tf - t0) / T, ``swing_pct`` 100 - stance; ``double_support_pct``
  100 ((too - t0) + (tf - to)) / T (both feet down: loading and pre-swing);
  ``single_support_pct`` 100 (to - too) / T (the opposite foot in swing);
* ``foot_progression_deg`` at mid-stance ((t0 + tf) / 2): the angle of the horizontal
  heel-to-toe line against d, internal rotation (toe in) positive, as Nexus'
  ``?FootProgressAngles`` z.

A cycle whose opposite events are missing or out of order gets NaN in the columns that need
them (its row stays); so does a cycle with a marker gap at an event.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import xarray as xr

from chainlab.gait.cycles import find_cycles
from chainlab.gait.events import OFF, STRIKE
from chainlab.model.marker_arrays import marker_arrays
from chainlab.schema import SPATIOTEMPORAL_COLUMNS, SPATIOTEMPORAL_MARKERS

#: Output columns -> units.
COLUMNS = {
    "stride_time_s": "s",
    "cadence_steps_per_min": "steps/min",
    "stride_speed_m_s": "m/s",
    "stride_length_m": "m",
    "step_length_m": "m",
    "step_width_m": "m",
    "stance_pct": "% of cycle",
    "swing_pct": "% of cycle",
    "single_support_pct": "% of cycle",
    "double_support_pct": "% of cycle",
    "foot_progression_deg": "deg (internal +)",
}
OPPOSITE = {"Left": "Right", "Right": "Left"}


def _sample(time: np.ndarray, xyz: np.ndarray, t: float) -> np.ndarray:
    """(3,) marker position at time t, linear between frames; NaN outside or next to a gap."""
    if not np.isfinite(t) or t < time[0] or t > time[-1]:
        return np.full(3, np.nan)
    i = int(np.clip(np.searchsorted(time, t) - 1, 0, len(time) - 2))
    w = (t - time[i]) / (time[i + 1] - time[i])
    return (1.0 - w) * xyz[i] + w * xyz[i + 1]


def _markers(markers: xr.Dataset | Mapping[str, np.ndarray], names: list[str]) -> dict[str, np.ndarray]:
    if isinstance(markers, xr.Dataset):
        present = set(markers.marker.values.astype(str).tolist())
        missing = [n for n in names if n not in present]
        if missing:
            where = markers.attrs.get("source_file", "trial")
            raise KeyError(f"{where}: spatiotemporal parameters need the markers {missing}; not found")
        return marker_arrays(markers, names)
    missing = [n for n in names if n not in markers]
    if missing:
        raise KeyError(f"spatiotemporal parameters need the markers {missing}; not found")
    return {n: np.asarray(markers[n], float) for n in names}


def _first_after(times: np.ndarray, t: float, before: float) -> float:
    inside = times[(times > t) & (times < before)]
    return float(inside[0]) if inside.size else np.nan


def spatiotemporal(events: pd.DataFrame, markers: xr.Dataset | Mapping[str, np.ndarray],
                   time: np.ndarray | None = None, *, heel: str = "HEE", toe: str = "TOE") -> pd.DataFrame:
    """Spatiotemporal parameters of every complete cycle of a trial.

    Parameters
    ----------
    events : DataFrame
        ``side`` ("Left"/"Right"), ``label`` ("Foot Strike"/"Foot Off"), ``time`` (s), as
        :func:`chainlab.gait.events.gait_events` gives.
    markers : Dataset or dict
        A trial (:func:`chainlab.read_c3d`, or kinematics output: ``markers`` (frame, marker,
        axis) in m, ``time`` (s)) or a dict of (n, 3) arrays in m with `time`.
    time : (n,) ndarray, optional
        Frame times (s) when `markers` is a dict.
    heel, toe : str
        Marker names without the side letter.

    Returns
    -------
    DataFrame
        One row per cycle: ``side``, ``cycle``, ``start``, ``foot_off``, ``end`` (s) and
        :data:`COLUMNS` (units in the names; ``DataFrame.attrs["units"]`` maps each).
    """
    names = [f"{s}{m}" for s in "LR" for m in (heel, toe)]
    mk = _markers(markers, names)
    if time is None:
        if not isinstance(markers, xr.Dataset):
            raise ValueError("spatiotemporal: give `time` (s) with a dict of marker arrays")
        time = markers.time.values
    time = np.asarray(time, float)
    cycles = find_cycles(events).cycles
    rows = []
    # each side's foot-off and foot-strike times, in the events' order (selected once, not per cycle)
    by_side = {sd: events[events.side == sd] for sd in OPPOSITE.values()}
    times = {(sd, lb): ev[ev.label == lb].time.to_numpy(float) for sd, ev in by_side.items() for lb in (OFF, STRIKE)}
    for c in cycles.itertuples(index=False):
        s, opp = c.side[0], OPPOSITE[c.side][0]
        too = _first_after(times[OPPOSITE[c.side], OFF], c.start, c.end)
        to = _first_after(times[OPPOSITE[c.side], STRIKE], c.start, c.end)
        if not (too < to <= c.foot_off):  # loading, single support, pre-swing in this order
            too = to = np.nan
        T = c.end - c.start
        h0, h1 = _sample(time, mk[s + heel], c.start), _sample(time, mk[s + heel], c.end)
        ho = _sample(time, mk[opp + heel], to)
        stride = (h1 - h0)[:2]
        length = float(np.hypot(*stride))
        d = stride / length if length > 0 else np.full(2, np.nan)
        normal = np.array([-d[1], d[0]])
        mid = 0.5 * (c.start + c.foot_off)
        foot = (_sample(time, mk[s + toe], mid) - _sample(time, mk[s + heel], mid))[:2]
        turn = np.degrees(np.arctan2(d[0] * foot[1] - d[1] * foot[0], d @ foot))  # d -> foot, counterclockwise
        rows.append({
            "side": c.side, "cycle": int(c.cycle), "start": c.start, "foot_off": c.foot_off, "end": c.end,
            "stride_time_s": T,
            "cadence_steps_per_min": 120.0 / T,
            "stride_speed_m_s": length / T,
            "stride_length_m": length,
            "step_length_m": float((h1[:2] - ho[:2]) @ d),
            "step_width_m": float(abs((ho[:2] - h0[:2]) @ normal)),
            "stance_pct": 100.0 * (c.foot_off - c.start) / T,
            "swing_pct": 100.0 * (c.end - c.foot_off) / T,
            "single_support_pct": 100.0 * (to - too) / T,
            "double_support_pct": 100.0 * ((too - c.start) + (c.foot_off - to)) / T,
            "foot_progression_deg": float(-turn if s == "L" else turn),
        })
    out = pd.DataFrame(rows, columns=["side", "cycle", "start", "foot_off", "end", *COLUMNS])
    out.attrs["units"] = dict(COLUMNS)
    return out


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean of each parameter per side (rows Left/Right), with the number of cycles."""
    g = table.groupby("side")[list(COLUMNS)]
    out = g.mean()
    out["cycles"] = g.size()
    return out


#: The markers :func:`spatiotemporal` reads by default (defined with the columns, in the core
#: schema, so that the kinematics keep them without importing gait).
MARKERS = SPATIOTEMPORAL_MARKERS


def sample_times(events: pd.DataFrame) -> np.ndarray:
    """Every time (s) at which :func:`spatiotemporal` samples a marker: the events and the
    cycles' mid-stance instants. A trial's markers at the frames around them are enough."""
    cycles = find_cycles(events).cycles
    mids = 0.5 * (cycles.start.to_numpy(float) + cycles.foot_off.to_numpy(float))
    t = np.concatenate([events.time.to_numpy(float), mids])
    return np.unique(t[np.isfinite(t)])


def frames_around(times: np.ndarray, frame_time, n: int) -> np.ndarray:
    """The sorted trial frame indices bracketing each of `times` (two or three per time),
    `frame_time(index)` giving the time of a frame index, `n` frames in the trial."""
    if not len(times) or n == 0:
        return np.empty(0, np.int64)
    t0 = float(frame_time(0))
    rate = (n - 1) / (float(frame_time(n - 1)) - t0) if n > 1 else 1.0
    i = np.floor((np.asarray(times) - t0) * rate).astype(np.int64)
    idx = np.concatenate([i - 1, i, i + 1, i + 2])
    return np.unique(idx[(idx >= 0) & (idx < n)])


def with_spatiotemporal(metrics: pd.DataFrame, table: pd.DataFrame | None) -> pd.DataFrame:
    """The per-cycle table `metrics` with :data:`chainlab.schema.SPATIOTEMPORAL_COLUMNS` from
    `table` (:func:`spatiotemporal` of the same events; None or a missing cycle: NaN), in
    :data:`chainlab.schema.METRIC_COLUMNS`' order (after ``walking_speed_m_s``)."""
    out = metrics.copy()
    keyed = {} if table is None else {(str(r.side), int(r.cycle)): r for r in table.itertuples(index=False)}
    for c in SPATIOTEMPORAL_COLUMNS:
        out[c] = [float(getattr(keyed[(str(s), int(k))], c)) if (str(s), int(k)) in keyed else np.nan
                  for s, k in zip(metrics.side, metrics.cycle)]
    base = [c for c in metrics.columns if c not in SPATIOTEMPORAL_COLUMNS]
    at = base.index("walking_speed_m_s") + 1 if "walking_speed_m_s" in base else len(base)
    return out[base[:at] + SPATIOTEMPORAL_COLUMNS + base[at:]]


def missing_markers(kinematics: xr.Dataset) -> str:
    """Why a trial's kinematics cannot give the spatiotemporal parameters ('' when it can):
    the heel and toe markers (:data:`MARKERS`) it lacks, named."""
    present = set(kinematics.marker.values.astype(str).tolist())
    missing = [m for m in MARKERS if m not in present]
    return f"markers {', '.join(missing)} not among the trial's markers" if missing else ""


def spatiotemporal_of_trial(metrics: pd.DataFrame, events: pd.DataFrame, kinematics: xr.Dataset, frame_time,
                            n: int) -> pd.DataFrame:
    """`metrics` with the spatiotemporal parameters of its cycles (:func:`with_spatiotemporal`),
    read from a trial's kinematics (``markers``, ``time``; lazy: only the frames around the
    event times are read). Without heel and toe markers the columns are NaN."""
    present = set(kinematics.marker.values.astype(str).tolist())
    if not len(metrics) or not set(MARKERS) <= present:
        return with_spatiotemporal(metrics, None)
    idx = frames_around(sample_times(events), frame_time, n)
    part = kinematics[["markers"]].sel(marker=list(MARKERS)).isel(frame=idx).load()
    mk = {m: part.markers.sel(marker=m).values for m in MARKERS}
    return with_spatiotemporal(metrics, spatiotemporal(events, mk, part.time.values))
