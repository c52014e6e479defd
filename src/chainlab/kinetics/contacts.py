"""Which foot stands on which force plate, contact by contact.

A *contact* is a run of frames in which a plate carries a vertical force of at least
``threshold`` N (gaps of up to two frames closed). Each contact gets a status:

``"accepted"``  one foot, wholly on this plate, alone: its ground reaction drives that side's
                inverse dynamics;
``"shared"``    the centre of pressure lies under both feet during the contact (both feet on
                the plate, e.g. biomechzoo HC031A23 plate 1);
``"partial"``   one foot, but its heel or toe marker leaves the plate's outline
                while it is loaded, or the side's stance (Foot Strike to Foot Off events) begins
                or ends away from the plate's loading: the foot bore weight off the plate
                (e.g. HC032A18 plate 1);
``"cut"``       the contact begins or ends at the edge of the capture;
``"ignored"``   the plate is mapped to ``None`` by the caller;
``"no_foot"``   no foot's markers are near the centre of pressure (not a foot contact).

Only accepted contacts are used; the others are named (the ``reason`` column says why) and
left out, and the stance of that foot has no kinetics (Nexus' rule: a stance not wholly on one
plate has none). A mapping ``{plate: "L" | "R" | None}`` overrides the automatic choice for a
plate: its contacts are that side's (still refused when cut by the capture's edge).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from chainlab.conventions import KINETICS_COP_THRESHOLD_N
from chainlab.options import OUTLINE_MARGIN
from chainlab.schema import CONTACT_COLUMNS

SIDES = ("L", "R")
FOOT_MARKERS = ("HEE", "TOE", "ANK")
#: Horizontal distance (m) from the centre of pressure to a foot's heel-toe line within which
#: that foot may be the one loading the plate.
FOOT_REACH = 0.10
#: Largest time (s) between a contact's start (end) and the side's Foot Strike (Foot Off).
EVENT_TOLERANCE_S = 0.05
#: Markers whose horizontal position must stay over the plate while it is loaded (the ankle
#: marker sits lateral to the sole and is not one of them).
OUTLINE_MARKERS = ("HEE", "TOE")


@dataclass(frozen=True)
class Contact:
    """One plate's loading, first and last frame numbers inclusive."""

    plate: int
    first: int
    last: int
    side: str | None
    status: str
    reason: str = ""

    def text(self) -> str:
        """'plate 1 frames 256-362: - shared (why)': the contact in one line."""
        return (f"plate {self.plate} frames {self.first}-{self.last}: {self.side or '-'} {self.status}"
                + (f" ({self.reason})" if self.reason else ""))


def _runs(mask: np.ndarray, max_gap: int = 2) -> list[tuple[int, int]]:
    """[first, last] index pairs of the True runs of `mask`, gaps <= max_gap closed."""
    idx = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    runs = [[int(a), int(b) - 1] for a, b in zip(idx[::2], idx[1::2])]
    merged: list[list[int]] = []
    for r in runs:
        if merged and r[0] - merged[-1][1] - 1 <= max_gap:
            merged[-1][1] = r[1]
        else:
            merged.append(r)
    return [(a, b) for a, b in merged]


def _inside(points: np.ndarray, corners: np.ndarray, margin: float) -> np.ndarray:
    """(..., ) whether points (..., 3) project inside the plate outline (4, 3) grown by margin."""
    c = corners.mean(axis=0)
    ex = corners[0] - corners[1]
    ey = corners[0] - corners[3]
    hx, hy = np.linalg.norm(ex) / 2, np.linalg.norm(ey) / 2
    ex, ey = ex / (2 * hx), ey / (2 * hy)
    d = points - c
    return (np.abs(d @ ex) <= hx + margin) & (np.abs(d @ ey) <= hy + margin)


def _distance_to_foot(cop: np.ndarray, heel: np.ndarray, toe: np.ndarray) -> np.ndarray:
    """Horizontal distance (n,) from the COP to the heel-toe segment (NaN where unknown)."""
    p, a, b = cop[:, :2], heel[:, :2], toe[:, :2]
    ab = b - a
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.clip(np.sum((p - a) * ab, axis=1) / np.sum(ab * ab, axis=1), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1)


def _stances(trial: xr.Dataset, side: str) -> list[tuple[int | None, int | None]]:
    """(strike, off) frame numbers of each stance of `side` from the events (None: not in the
    capture: a stance under way at its start, or not ended by its end)."""
    if "event_label" not in trial.coords:
        return []
    full = "Left" if side == "L" else "Right"
    ev = [(int(f), str(lab)) for lab, s, f in zip(trial.event_label.values, trial.event_side.values,
                                                   trial.event_frame.values) if str(s) == full]
    ev = [e for e in sorted(ev) if e[1] in ("Foot Strike", "Foot Off")]
    out: list[tuple[int | None, int | None]] = []
    strike: int | None = None
    for i, (f, lab) in enumerate(ev):
        if lab == "Foot Strike":
            if strike is not None:  # two strikes without an off: the first stance's end unknown
                out.append((strike, None))
            strike = f
        else:
            if strike is not None or i == 0:
                out.append((strike, f))
            strike = None
    if strike is not None:
        out.append((strike, None))
    return out


def stances(trial: xr.Dataset) -> dict[str, list[tuple[int | None, int | None]]]:
    """Each side's stances (Foot Strike, Foot Off) as frame numbers, None where outside the capture."""
    return {s: _stances(trial, s) for s in SIDES}


def assign_contacts(
    trial: xr.Dataset,
    grf: xr.Dataset,
    mapping: Mapping[int, str | None] | None = None,
    *,
    threshold: float = KINETICS_COP_THRESHOLD_N,
    outline_margin: Mapping[str, float] | None = None,
) -> list[Contact]:
    """The contacts of every plate of a capture, each with its foot and status.

    Parameters
    ----------
    trial : xarray.Dataset
        The whole capture from :func:`chainlab.read_c3d` (markers ``?HEE``, ``?TOE``,
        ``?ANK``; Foot Strike / Foot Off events when it has them).
    grf : xarray.Dataset
        :func:`chainlab.kinetics.grf.ground_reaction` of the same frames.
    mapping : dict, optional
        ``{plate number (1-based): "L", "R" or None}``: the foot on that plate, or None to
        leave the plate out; plates not named are assigned automatically.
    threshold : float
        Vertical force (N) from which a plate is loaded.
    outline_margin : dict, optional
        ``{"HEE": m, "TOE": m}``: how far each marker may lie outside the plate outline with
        the foot still on it (default :data:`OUTLINE_MARGIN`).
    """
    name = trial.attrs.get("source_file", "trial")
    mapping = dict(mapping or {})
    margin = {**OUTLINE_MARGIN, **(outline_margin or {})}
    for plate, side in mapping.items():
        if side not in (None, *SIDES):
            raise ValueError(f"{name}: plate {plate} is mapped to {side!r}; expected 'L', 'R' or None")
        if plate not in grf.plate.values.tolist():
            raise ValueError(f"{name}: plate {plate} is mapped but the capture has plates {grf.plate.values.tolist()}")
    frames = grf.frame.values
    n = frames.size
    rate = float(trial.attrs.get("point_rate", 100.0) or 100.0)
    tol = max(2, int(round(EVENT_TOLERANCE_S * rate)))
    present = set(trial.marker.values.tolist()) if "marker" in trial.coords else set()
    feet = {s: {m: trial.markers.sel(marker=s + m).values for m in FOOT_MARKERS if s + m in present} for s in SIDES}
    st = stances(trial)
    out: list[Contact] = []
    for j, plate in enumerate(grf.plate.values.tolist()):
        fz = np.abs(grf.force.values[:, j, 2])
        cop = grf.cop.values[:, j]
        corners = grf.corners.values[j]
        for a, b in _runs(fz >= threshold):
            first, last = int(frames[a]), int(frames[b])
            if plate in mapping and mapping[plate] is None:
                out.append(Contact(plate, first, last, None, "ignored", "plate mapped to None"))
                continue
            if a == 0 or b == n - 1:
                side = mapping.get(plate)
                out.append(Contact(plate, first, last, side, "cut", "loaded at the edge of the capture"))
                continue
            if plate in mapping:
                out.append(Contact(plate, first, last, mapping[plate], "accepted", "mapped by the caller"))
                continue
            out.append(_judge(plate, first, last, slice(a, b + 1), cop, corners, feet, st, tol, margin))
    return out


def _judge(plate, first, last, sl, cop, corners, feet, st, tol, margin) -> Contact:
    loaded = sl.stop - sl.start
    # each foot's distance to the COP (None: no heel or toe marker)
    dist = {s: _distance_to_foot(cop[sl], f["HEE"][sl], f["TOE"][sl]) if {"HEE", "TOE"} <= set(f) else None
            for s, f in feet.items()}
    none = np.zeros(loaded, dtype=bool)
    near = {s: none if d is None else d <= FOOT_REACH for s, d in dist.items()}
    other = {"L": "R", "R": "L"}
    # the foot nearer the COP in each frame where one is near
    counts = {}
    for s in SIDES:
        o = other[s]
        closer = none if dist[s] is None or dist[o] is None else dist[o] < dist[s]
        counts[s] = int(np.sum(near[s] & ~(near[o] & closer)))
    minimum = max(3, loaded // 10)
    owners = [s for s in SIDES if counts[s] >= minimum]
    if not owners:
        return Contact(plate, first, last, None, "no_foot", "no foot's heel-toe line within 0.10 m of the centre of pressure")
    if len(owners) == 2:
        return Contact(plate, first, last, None, "shared",
                       f"both feet under the centre of pressure (L {counts['L']}, R {counts['R']} of {loaded} frames)")
    side = owners[0]
    outside = [m for m, xyz in feet[side].items() if m in OUTLINE_MARKERS
               and not np.all(_inside(xyz[sl][np.isfinite(xyz[sl]).all(1)], corners, margin[m]))]
    if outside:
        return Contact(plate, first, last, side, "partial", f"{side}{'/'.join(outside)} outside the plate outline while it is loaded")
    stance = [s for s in st[side] if _overlaps(s, first, last)]
    if stance:
        strike, off = stance[0]
        if strike is not None and abs(strike - first) > tol:
            return Contact(plate, first, last, side, "partial", f"{side} Foot Strike at frame {strike}, plate loaded from {first}")
        if off is not None and abs(off - last) > tol:
            return Contact(plate, first, last, side, "partial", f"{side} Foot Off at frame {off}, plate unloaded after {last}")
    return Contact(plate, first, last, side, "accepted", "")


def _overlaps(stance, first, last) -> bool:
    s, o = stance
    lo = -np.inf if s is None else s
    hi = np.inf if o is None else o
    return lo <= last and hi >= first


def contacts_table(contacts: list[Contact]) -> pd.DataFrame:
    """The contacts as a pandas DataFrame (:data:`chainlab.schema.CONTACT_COLUMNS`)."""
    return pd.DataFrame([c.__dict__ for c in contacts], columns=CONTACT_COLUMNS)
