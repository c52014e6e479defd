"""Gait events: from force plates, from the C3D EVENT group, and from kinematics.

Every event is a row of a table (:class:`pandas.DataFrame`) with ``side`` ("Left", "Right"),
``label`` ("Foot Strike", "Foot Off"), ``time`` (s, the trial clock of
:func:`chainlab.read_c3d`), ``frame`` (frame number, ``round(time * rate) + 1``) and
``source`` ("plate 1", "c3d", "kinematic"). :func:`gait_events` merges the three: a plate
event replaces any other event of the same side and label within ``merge_window``, and a
C3D event replaces a kinematic one.

* Plates (Tirosh & Sparrow; methods reference section 5): the plate's normal force,
  low-pass filtered (4th-order zero-lag Butterworth, 25 Hz), rising through 20 N is a foot
  strike, falling through 10 N a foot off. The contact is the foot's whose heel or toe
  marker stands over the plate (inside its outline, slower than 0.8 m/s, for 3 frames) and
  whose heel and toe are both over it at mid-contact; a contact is rejected, with its reason, when
  both feet are over the plate during it, when the foot is only partly on it, when no foot
  is over it, or when it starts or ends outside the capture.
* Kinematics (Zeni 2008): along the pelvis' forward axis, the heel's distance ahead of the
  sacrum peaks at foot strike and the toe's distance behind it peaks at foot off.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from chainlab.options import PlateEventOptions
from chainlab.schema import EVENT_COLUMNS as COLUMNS

SIDES = {"L": "Left", "R": "Right"}
STRIKE, OFF = "Foot Strike", "Foot Off"


@dataclass
class EventResult:
    events: pd.DataFrame
    rejected: list[str] = field(default_factory=list)  # "plate 2, 3.41-3.95 s: reason"


def _frame_of(time: np.ndarray | float, rate: float) -> np.ndarray:
    return np.rint(np.asarray(time) * rate).astype(np.int64) + 1


def _table(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=COLUMNS)
    return df.sort_values("time", kind="stable").reset_index(drop=True)


def c3d_events(ds: xr.Dataset) -> pd.DataFrame:
    """The events stored in the file's EVENT group (Foot Strike / Foot Off only)."""
    rows = [
        {"side": str(side), "label": str(lab), "time": float(t), "frame": int(f), "source": "c3d"}
        for side, lab, t, f in zip(ds.event_side.values, ds.event_label.values, ds.event_time.values,
                                   ds.event_frame.values)
        if lab in (STRIKE, OFF) and side in SIDES.values()
    ]
    return _table(rows)


def _inside(points: np.ndarray, corners: np.ndarray, margin: float) -> np.ndarray:
    """Whether points (n, 2) lie within a convex quadrilateral (4, 2) grown by `margin`."""
    centre = corners.mean(axis=0)
    inside = np.ones(len(points), dtype=bool)
    for k in range(4):
        a, b = corners[k], corners[(k + 1) % 4]
        edge = b - a
        normal = np.array([edge[1], -edge[0]]) / np.hypot(*edge)
        if np.dot(centre - a, normal) > 0:
            normal = -normal  # outward
        inside &= (points - a) @ normal <= margin
    return inside


def plate_filter(analog_rate: float, options: PlateEventOptions | None = None):
    """The (b, a) coefficients of the plates' low-pass filter. A cut-off at or above the
    analogs' Nyquist frequency (half `analog_rate`) is refused, naming the config key and the
    allowed range (never clamped: the filter asked for cannot be made)."""
    from scipy.signal import butter  # here, not at the top: scipy.signal takes a second to import

    opt = options or PlateEventOptions()
    nyquist = analog_rate / 2.0
    if not (0.0 < opt.cutoff_hz < nyquist):
        raise ValueError(f"gait.cutoff_Hz {opt.cutoff_hz:g} Hz: allowed 0 < cutoff_Hz < {nyquist:g} Hz, the "
                         f"Nyquist frequency of the plates' analogs sampled at {analog_rate:g} Hz")
    return butter(4, opt.cutoff_hz / nyquist)


def normal_force(force: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """|force| along the plate's normal (N), 0 where the force is NaN, before filtering."""
    normal = np.cross(corners[0] - corners[1], corners[0] - corners[3])
    normal /= np.linalg.norm(normal)
    return np.abs(np.nan_to_num(force @ normal))


def crossings(fn: np.ndarray, options: PlateEventOptions | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sample indices where the filtered normal force rises through the strike threshold
    and falls through the off threshold."""
    opt = options or PlateEventOptions()
    up = np.flatnonzero((fn[1:] >= opt.strike_threshold) & (fn[:-1] < opt.strike_threshold)) + 1
    down = np.flatnonzero((fn[1:] < opt.off_threshold) & (fn[:-1] >= opt.off_threshold)) + 1
    return up, down


def foot_markers(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """Per side, its heel and toe markers (those the trial has), (n, k, 3)."""
    markers = set(ds.marker.values.tolist())
    out = {}
    for s, side in SIDES.items():
        feet = [m for m in (f"{s}HEE", f"{s}TOE") if m in markers]
        if feet:
            out[side] = ds.markers.sel(marker=feet).values
    return out


def judge_feet(feet: dict[str, np.ndarray], corners: np.ndarray, frames: np.ndarray, point_rate: float,
               options: PlateEventOptions | None = None) -> tuple[str | None, str]:
    """Which foot made a plate contact: (side, "") or (None, reason), from the feet's markers
    (:func:`foot_markers`).

    `frames` marks the frames of `feet` during the contact; `feet` must hold the frame before
    and after them too when the trial has them (the marker speeds are central differences).
    """
    opt = options or PlateEventOptions()
    mid = np.flatnonzero(frames)[frames.sum() // 2]
    over, partly = {}, {}
    for side, pos in feet.items():
        inside = np.stack([_inside(pos[:, k, :2], corners[:, :2], opt.margin) for k in range(pos.shape[1])], -1)
        # on the plate, not swinging over it: the marker is inside and (nearly) still
        speed = np.linalg.norm(np.gradient(pos, axis=0), axis=-1) * point_rate
        standing = inside & (speed < opt.standing_speed)
        over[side] = bool((standing[frames].sum(axis=0) >= 3).any())
        partly[side] = not bool(inside[mid].all())
    on = [side for side, v in over.items() if v]
    if len(on) == 0:
        return None, "no foot over the plate"
    if len(on) == 2:
        return None, "struck by both feet"
    if partly[on[0]]:
        return None, f"{on[0].lower()} foot only partly on the plate"
    return on[0], ""


def plate_contacts(fn0: float, up: np.ndarray, down: np.ndarray, t_analog, where: str,
                   options: PlateEventOptions | None = None) -> list:
    """A plate's contacts in order: ``(start, stop)`` sample pairs to judge, or a rejection
    message. `t_analog(k)` gives the time of sample k."""
    opt = options or PlateEventOptions()
    items: list = []
    if fn0 >= opt.strike_threshold:
        items.append(f"{where}: loaded when the capture starts; the contact is incomplete")
    for start in up:
        later = down[down > start]
        if later.size == 0:
            items.append(f"{where}, {t_analog(start):.2f} s: still loaded when the capture ends")
            continue
        items.append((int(start), int(later[0])))
    return items


def plate_events(ds: xr.Dataset, options: PlateEventOptions | None = None) -> EventResult:
    """Foot strikes and foot offs from every plate of a whole trial (see the module docstring)."""
    opt = options or PlateEventOptions()
    if ds.sizes.get("plate", 0) == 0 or ds.sizes["analog_sample"] < 16:
        return EventResult(_table([]), [])
    rate, point_rate = ds.attrs["analog_rate"], ds.attrs["point_rate"]
    from scipy.signal import filtfilt  # here, not at the top: scipy.signal takes a second to import

    b, a = plate_filter(rate, opt)
    t_analog = ds.analog_time.values
    t_frame = ds.time.values
    feet = foot_markers(ds)
    plates, corners = [], {}
    for p in ds.plate.values:
        corners[int(p)] = ds.plate_corners.sel(plate=p).values
        fn = filtfilt(b, a, normal_force(ds.plate_force.sel(plate=p).values, corners[int(p)]))
        plates.append((int(p), fn[0], *crossings(fn, opt)))

    def judge(p, start, stop, t0, t1):
        frames = (t_frame >= t0) & (t_frame <= t1)
        if not frames.any():
            return None, "no marker frame during the contact"
        idx = np.flatnonzero(frames)  # the contact's frames, and one on each side for the speeds
        s0, s1 = max(0, idx[0] - 1), min(len(frames), idx[-1] + 2)
        return judge_feet({k: v[s0:s1] for k, v in feet.items()}, corners[p], frames[s0:s1], point_rate, opt)

    return contact_events(plates, lambda k: t_analog[k], judge, point_rate, opt)


def contact_events(plates: Iterable[tuple], t_analog: Callable, judge: Callable, point_rate: float,
                   options: PlateEventOptions | None = None) -> EventResult:
    """The plate events of a trial from each plate's threshold crossings, whatever way the
    trial was read (whole, or in spans of frames).

    `plates`: (plate number, filtered normal force at the first sample, rising crossings,
    falling crossings) per plate; `t_analog(k)`: the time of analog sample k; `judge(plate,
    start, stop, t0, t1)`: which foot made the contact from sample `start` (time `t0`) to
    `stop` (`t1`), as (side, "") or (None, reason) (:func:`judge_feet`).
    """
    rows, rejected = [], []
    for p, fn0, up, down in plates:
        where = f"plate {p}"
        for item in plate_contacts(fn0, up, down, t_analog, where, options):
            if isinstance(item, str):
                rejected.append(item)
                continue
            start, stop = item
            t0, t1 = t_analog(start), t_analog(stop)
            side, reason = judge(p, start, stop, t0, t1)
            if side is None:
                rejected.append(f"{where}, {t0:.2f}-{t1:.2f} s: {reason}")
            else:
                rows += contact_rows(side, t0, t1, point_rate, where)
    return EventResult(_table(rows), rejected)


def contact_rows(side: str, t0: float, t1: float, point_rate: float, where: str) -> list[dict]:
    return [{"side": side, "label": lab, "time": float(t), "frame": int(_frame_of(t, point_rate)), "source": where}
            for lab, t in ((STRIKE, t0), (OFF, t1))]


def kinematic_signals(ds: xr.Dataset) -> dict[tuple[str, str], np.ndarray] | list[str]:
    """Zeni's signals per (side, label): the heel ahead of, the toe behind the sacrum along
    the pelvis' forward axis (-inf where unknown); or the markers missing for them."""
    need = {"LASI", "RASI", "SACR", "LHEE", "RHEE", "LTOE", "RTOE"}
    missing = sorted(need - set(ds.marker.values.tolist()))
    if missing:
        return missing
    mk = {m: ds.markers.sel(marker=m).values for m in need}
    forward = 0.5 * (mk["LASI"] + mk["RASI"]) - mk["SACR"]
    forward[:, 2] = 0.0
    forward /= np.linalg.norm(forward, axis=1, keepdims=True)
    out = {}
    for s, side in SIDES.items():
        for lab, marker, sign in ((STRIKE, f"{s}HEE", 1.0), (OFF, f"{s}TOE", -1.0)):
            d = sign * np.sum((mk[marker] - mk["SACR"]) * forward, axis=1)
            out[(side, lab)] = np.where(np.isfinite(d), d, -np.inf)
    return out


def kinematic_peaks(d: np.ndarray, rate: float, min_interval_s: float = 0.4) -> np.ndarray:
    from scipy.signal import find_peaks

    peaks, _ = find_peaks(d, distance=max(1, int(min_interval_s * rate)), prominence=0.05)
    return peaks


def kinematic_events(ds: xr.Dataset, min_interval_s: float = 0.4) -> EventResult:
    """Zeni 2008 events from the heel, toe and pelvis markers."""
    signals = kinematic_signals(ds)
    if not isinstance(signals, list):
        signals = {k: kinematic_peaks(d, ds.attrs["point_rate"], min_interval_s) for k, d in signals.items()}
    t, frame = ds.time.values, ds.frame.values
    return zeni_events(signals, lambda i: t[i], lambda i: frame[i])


def zeni_events(peaks: dict | list[str], time: Callable, frame: Callable) -> EventResult:
    """Kinematic events from Zeni's peaks: per (side, label), the frame indices of the peaks
    (:func:`kinematic_peaks`), or the markers missing for them; `time(i)` and `frame(i)`
    give the time and frame number of frame index i."""
    if isinstance(peaks, list):
        return EventResult(_table([]), [f"kinematic events need {', '.join(peaks)}"])
    rows = []
    for (side, lab), pk in peaks.items():
        rows += [{"side": side, "label": lab, "time": float(time(i)), "frame": int(frame(i)),
                  "source": "kinematic"} for i in pk]
    return EventResult(_table(rows), [])


def gait_events(ds: xr.Dataset, *, merge_window: float = 0.1,
                plate_options: PlateEventOptions | None = None) -> EventResult:
    """All events of a trial, merged by source priority: plate > c3d > kinematic.

    Kinematic events are used when the file stores no events: alone, or around the plate
    contacts; ``rejected`` lists the plate contacts left out, with reasons.
    """
    plates = plate_events(ds, plate_options)
    stored = c3d_events(ds)
    kin = kinematic_events(ds) if stored.empty else EventResult(_table([]))
    return merge_events(plates, stored, kin, merge_window)


def merge_events(plates: EventResult, stored: pd.DataFrame, kin: EventResult, merge_window: float = 0.1) -> EventResult:
    """The three sources' events merged by priority (see :func:`gait_events`)."""
    chosen: list[pd.DataFrame] = []
    for table in (plates.events, stored, kin.events):
        if table.empty:
            continue
        keep = np.ones(len(table), dtype=bool)
        side, label, t = table.side.to_numpy(), table.label.to_numpy(), table.time.to_numpy(dtype=float)
        for prior in chosen:
            for (s, lab), group in prior.groupby(["side", "label"]):
                times = np.sort(group.time.to_numpy(dtype=float))
                rows = np.flatnonzero((side == s) & (label == lab))
                if rows.size == 0:
                    continue
                # the nearest prior event of the same side and label, on either side
                k = np.searchsorted(times, t[rows])
                before = np.abs(times[np.clip(k - 1, 0, len(times) - 1)] - t[rows])
                after = np.abs(times[np.clip(k, 0, len(times) - 1)] - t[rows])
                keep[rows[np.minimum(before, after) <= merge_window]] = False
        chosen.append(table[keep])
    events = _table([r for t in chosen for r in t.to_dict("records")])
    return EventResult(events, plates.rejected + kin.rejected)
