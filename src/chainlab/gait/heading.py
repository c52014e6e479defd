"""The heading frame: the chain's study measures relative to the direction of travel.

The Nexus-named outputs (``?PelvisAngles``, ``?TIBA``) are measured in a frame fixed for the
whole trial (the lab axis nearest the pelvis' travel, or the lab turned with the pelvis'
facing): on a turn, pelvic tilt then turns into obliquity and the tibia's rotation into the
heading change. The per-cycle measures of the chain (:mod:`chainlab.gait.metrics`) take
pelvic tilt and tibial rotation in the lab from a frame that turns with the walk instead
(``gait: chain_frame: heading``, the default; ``lab`` gives the Nexus outputs' values):

* **Heading** at frame t: the horizontal direction of the mid-ASIS point's chord from
  t - W/2 to t + W/2, W the trial's median stride time (:func:`stride_window`; 1 s,
  :data:`WINDOW_S`, without cycles): over one stride the pelvis' side-to-side sway and its
  speed changes within the stride cancel; near the trial's ends the window slides to stay
  whole inside the trial (a chord cut short there keeps part of the sway: it made the
  simulated study's lab tibial transfer interval 3 times wider, its cycles lying near the
  trials' ends); the chord's ends are the first and last frames with both ASIS markers
  inside the window;
  oriented the way the pelvis faces (a step backwards does not turn the frame round).
* **Slow frames**: below :data:`SLOW_M_S` of chord speed the direction of travel means
  little; the heading turns towards the pelvis' own facing (its x axis on the floor), in
  proportion (speed / SLOW_M_S of travel, the rest facing), so that standing frames take the
  pelvis' facing and the heading stays continuous. No pelvis: NaN.
* Heading frame H: x the heading, z lab up, y = z × x (left).
* ``pelvic_tilt``: x of the YXZ Cardan angles of the Plug-in Gait pelvis in H (as
  ``?PelvisAngles`` x in the progression frame). Anterior +.
* ``tibial_rotation_lab``: z of ``?TIBA``'s construction (XYZ Cardan of the OFM's lab tibia,
  output l (90 - c), l = +1 left, -1 right) with H turned as Nexus' lab reference is to a walk
  along lab +Y (the reference's y the heading, x = y × z, pointing right). Internal +.
* Lordosis (``LumbarCurvature`` x) is measured in the pelvis' own planes and rearfoot
  eversion and the femur-referenced tibial rotation are joint angles: none depends on the
  frame.

On a walk turned about the vertical the heading turns with it, so the measures do not change
(tests/test_heading.py: 45 deg, within float32 storage).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from chainlab.model.geometry import cardan

WINDOW_S = 1.0  #: s, the heading's window when the trial has no cycle (about a stride)
SLOW_M_S = 0.2  #: m/s, below this chord speed the heading turns towards the pelvis' facing
FRAMES = ("heading", "lab")
#: the chain variables that the frame changes, and the segments they are measured from
SEGMENTS = {"pelvic_tilt": ("Pelvis",), "tibial_rotation_lab": ("LeftLabTibia", "RightLabTibia")}


#: TIBA's reference in H: Nexus measures the tibia in the lab with its Y axis the walking
#: direction (travel along lab Y, TravelDirectionX = 0): y = heading, x = heading × z.
_TIBA_REFERENCE = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def check_frame(frame: str) -> str:
    if frame not in FRAMES:
        raise ValueError(f"chain_frame must be one of {', '.join(FRAMES)}; found {frame!r}")
    return frame


def stride_window(cycles) -> float:
    """The heading's window (s): the median stride time of the trial's `cycles` (a table with
    ``start`` and ``end``, s), :data:`WINDOW_S` without any."""
    if cycles is None or len(cycles) == 0:
        return WINDOW_S
    t = np.asarray(cycles["end"], dtype=float) - np.asarray(cycles["start"], dtype=float)
    t = t[np.isfinite(t) & (t > 0)]
    return float(np.median(t)) if t.size else WINDOW_S


def margin_frames(rate: float, window_s: float = WINDOW_S) -> int:
    """Frames needed on each side of a frame to compute its heading."""
    return int(np.ceil(window_s / 2.0 * rate)) + 1


def _nearest_valid(ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each index: the first valid index at or after it, and the last at or before it
    (len / -1 when none)."""
    n = len(ok)
    idx = np.where(ok, np.arange(n), n)
    after = np.minimum.accumulate(idx[::-1])[::-1]
    idx = np.where(ok, np.arange(n), -1)
    before = np.maximum.accumulate(idx)
    return after, before


def heading_frames(mid_asis: np.ndarray, facing: np.ndarray, time: np.ndarray,
                   window_s: float = WINDOW_S) -> np.ndarray:
    """(n, 3, 3) heading frames (columns x, y, z as lab vectors) from the mid-ASIS path (n, 3),
    m, the pelvis' x axis (n, 3) and the frames' times (s), over a window of `window_s`;
    NaN where neither is known."""
    n = len(mid_asis)
    out = np.full((n, 3, 3), np.nan)
    if n == 0:
        return out
    rate = 1.0 / float(np.median(np.diff(time))) if n > 1 else 1.0
    h = int(round(window_s / 2.0 * rate))
    ok = np.isfinite(mid_asis).all(axis=1)
    after, before = _nearest_valid(ok)
    k = np.arange(n)
    first = np.clip(k - h, 0, max(n - 1 - 2 * h, 0))  # near the ends the window slides inside, whole
    a = after[first]
    b = before[np.minimum(first + 2 * h, n - 1)]
    good = (a < n) & (b >= 0) & (b > a)
    chord = np.full((n, 2), np.nan)
    dt = np.full(n, np.nan)
    chord[good] = mid_asis[b[good], :2] - mid_asis[a[good], :2]
    dt[good] = time[b[good]] - time[a[good]]
    with np.errstate(invalid="ignore", divide="ignore"):
        length = np.hypot(chord[:, 0], chord[:, 1])
        speed = length / dt
        travel = chord / length[:, None]
        face = facing[:, :2] / np.hypot(facing[:, 0], facing[:, 1])[:, None]
    has_face = np.isfinite(face).all(axis=1)
    has_travel = np.isfinite(travel).all(axis=1)
    # oriented the way the pelvis faces
    flip = has_face & has_travel & ((travel * face).sum(axis=1) < 0)
    travel[flip] *= -1.0
    w = np.where(has_travel, np.clip(speed / SLOW_M_S, 0.0, 1.0), 0.0)
    w = np.where(has_face, w, np.where(has_travel, 1.0, np.nan))
    d = w[:, None] * np.where(has_travel[:, None], travel, 0.0) + (1.0 - w[:, None]) * np.where(
        has_face[:, None], face, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = d / np.hypot(d[:, 0], d[:, 1])[:, None]
    out[:, 0, 0], out[:, 1, 0], out[:, 2, 0] = d[:, 0], d[:, 1], 0.0  # x: heading
    out[:, 0, 1], out[:, 1, 1], out[:, 2, 1] = -d[:, 1], d[:, 0], 0.0  # y = z × x
    out[:, :, 2] = np.where(np.isfinite(d).all(axis=1)[:, None], [0.0, 0.0, 1.0], np.nan)
    return out


def _segment(kin: xr.Dataset, name: str) -> np.ndarray | None:
    if "segment_axes" not in kin or name not in set(kin.segment.values.tolist()):
        return None
    return kin.segment_axes.sel(segment=name).transpose("frame", "axis", "segment_axis").values


def heading_of(kin: xr.Dataset, window_s: float = WINDOW_S) -> np.ndarray:
    """(n, 3, 3) heading frames of a kinematics Dataset (mid-ASIS from its ``markers``, the
    pelvis' facing from its ``Pelvis`` segment) over a window of `window_s`."""
    n = kin.sizes["frame"]
    names = set(kin.marker.values.tolist()) if "marker" in kin.dims else set()
    if {"LASI", "RASI"} <= names:
        mid = 0.5 * (kin.markers.sel(marker="LASI").values + kin.markers.sel(marker="RASI").values)
    else:
        mid = np.full((n, 3), np.nan)
    pelvis = _segment(kin, "Pelvis")
    facing = pelvis[:, :, 0] if pelvis is not None else np.full((n, 3), np.nan)
    return heading_frames(mid.astype(float), facing.astype(float), kin.time.values.astype(float), window_s)


def heading_series(kin: xr.Dataset, variable: str, side: str, heading: np.ndarray) -> np.ndarray:
    """`variable` (a key of :data:`SEGMENTS`) of `side` in the heading frames `heading`, deg."""
    n = kin.sizes["frame"]
    if variable == "pelvic_tilt":
        r = _segment(kin, "Pelvis")
        if r is None:
            return np.full(n, np.nan)
        rel = np.swapaxes(heading, -1, -2) @ r
        return np.degrees(cardan(rel, "yxz"))[:, 0]
    if variable == "tibial_rotation_lab":
        r = _segment(kin, f"{'Left' if side[0] == 'L' else 'Right'}LabTibia")
        if r is None:
            return np.full(n, np.nan)
        rel = np.swapaxes(heading @ _TIBA_REFERENCE, -1, -2) @ r
        c = np.degrees(cardan(rel, "xyz"))[:, 2]
        lsign = 1.0 if side[0] == "L" else -1.0
        return (lsign * (90.0 - c) + 180.0) % 360.0 - 180.0
    raise ValueError(f"{variable!r} is not measured in the heading frame; expected one of {', '.join(SEGMENTS)}")


def inputs(kin: xr.Dataset, frame: str) -> list[str]:
    """The segments a window of `kin` must carry for the chain variables in `frame`."""
    if check_frame(frame) == "lab":
        return []
    have = set(kin.segment.values.tolist()) if "segment" in kin.dims else set()
    return [s for names in SEGMENTS.values() for s in names if s in have]


__all__ = ["FRAMES", "SEGMENTS", "SLOW_M_S", "WINDOW_S", "check_frame", "heading_frames", "heading_of",
           "heading_series", "inputs", "margin_frames", "stride_window"]
