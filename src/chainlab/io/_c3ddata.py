"""The data section of a C3D capture as numbers in SI units: points (markers and model
outputs), analog channels, and the force plates' geometry and wrenches."""

from __future__ import annotations

import numpy as np

from chainlab.conventions import LENGTH_TO_METRE
from chainlab.io._c3dstructure import _Structure
from chainlab.io.forceplates import CHANNELS_PER_TYPE, Plate, plate_wrench

#: Point samples (frames x points) or analog samples converted at a time: the temporaries
#: stay small and in cache, and only the outputs are allocated at full size.
BLOCK_POINTS = 65536
BLOCK_SAMPLES = 32768


def _points(
    st: _Structure, pts: np.ndarray, idx: np.ndarray, to_unit: float, drop_zeros: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (x to_unit) and residuals of the points `idx`; invalid samples NaN.

    A negative fourth word marks a sample invalid (C3D guide); its low byte times
    |POINT:SCALE| is the residual. With `drop_zeros`, a stored (0, 0, 0) is a gap too.
    """
    n, m = pts.shape[0], idx.size
    every = m == pts.shape[1]
    scale = to_unit if st.is_float else to_unit * st.point_scale
    res_scale = st.point_scale * to_unit
    xyz = np.empty((n, m, 3))
    residual = np.empty((n, m))
    step = max(1, BLOCK_POINTS // max(m, 1))
    for s in range(0, n, step):
        e = min(n, s + step)
        sub = pts[s:e] if every else pts[s:e, idx]
        x = xyz[s:e]
        x[...] = sub[..., :3]  # float64(stored) * scale, as np.multiply(..., dtype=float64)
        x *= scale
        w = np.empty(sub.shape[:2], dtype=np.int32)
        if st.is_float:
            np.rint(sub[..., 3], out=w, casting="unsafe")
        else:
            w[...] = sub[..., 3]
        bad = w < 0
        np.bitwise_and(w, 0xFF, out=w)
        r = residual[s:e]
        np.multiply(w, res_scale, out=r, dtype=np.float64)
        if drop_zeros:  # a stored 0 (or -0) is the only value that scales to 0
            zero = sub[..., 0] == 0
            zero &= sub[..., 1] == 0
            zero &= sub[..., 2] == 0
            bad |= zero
        gaps = np.flatnonzero(bad)
        if gaps.size:
            x.reshape(-1, 3)[gaps] = np.nan
            r.reshape(-1)[gaps] = np.nan
    return xyz, residual


def _analogs(st: _Structure, words: np.ndarray, n: int) -> np.ndarray:
    if st.n_channels == 0:
        return np.zeros((0, 0))
    p = st.params
    raw = words[:, 4 * st.n_points :]
    unsigned = str(p.first("ANALOG", "FORMAT", "") or "").strip().upper() == "UNSIGNED"
    if unsigned and raw.dtype.itemsize == 2:
        raw = raw.view(raw.dtype.str.replace("i", "u"))  # same byte order, unsigned
    offset = _per_channel(p.numbers("ANALOG", "OFFSET"), st.n_channels, 0.0)
    if unsigned:  # OFFSET is stored as int16 but means an unsigned count (C3D guide)
        offset = np.mod(offset, 65536)
    scale = _per_channel(p.numbers("ANALOG", "SCALE"), st.n_channels, 1.0)
    gen = float(p.first("ANALOG", "GEN_SCALE", 1.0) or 1.0)
    factor = scale * gen
    a = np.empty((n, raw.shape[1]))
    step = max(1, BLOCK_SAMPLES // max(st.analog_ratio, 1))
    for s in range(0, n, step):  # (raw - OFFSET) * SCALE * GEN_SCALE, frames s:e
        block = a[s : s + step]
        block[...] = raw[s : s + step]
        block = block.reshape(-1, st.n_channels)
        block -= offset
        block *= factor
    return a.reshape(n * st.analog_ratio, st.n_channels)


def _per_channel(values: np.ndarray, n: int, fill: float) -> np.ndarray:
    out = np.full(n, fill)
    out[: min(n, values.size)] = values[:n]
    return out


_MOMENT_UNITS = {"nmm": 1e-3, "n.mm": 1e-3, "n*mm": 1e-3, "nm": 1.0, "n.m": 1.0, "n*m": 1.0}


def _plates(st: _Structure, unit: str, to_m: float, ch_units: list[str]) -> list[Plate]:
    p = st.params
    n_plates = int(p.first("FORCE_PLATFORM", "USED", 0) or 0)
    if n_plates == 0 or st.n_channels == 0:
        return []
    types = p.numbers("FORCE_PLATFORM", "TYPE").astype(int)
    channel = np.asarray(p.value("FORCE_PLATFORM", "CHANNEL", []), dtype=int)
    corners = np.asarray(p.value("FORCE_PLATFORM", "CORNERS", []), dtype=float)
    origin = np.asarray(p.value("FORCE_PLATFORM", "ORIGIN", []), dtype=float)
    cal = np.asarray(p.value("FORCE_PLATFORM", "CAL_MATRIX", []), dtype=float)
    plates = []
    for i in range(n_plates):
        where = f"force plate {i + 1}"
        if i >= types.size:
            st.warn(f"{where}: no FORCE_PLATFORM:TYPE; plate skipped")
            continue
        t = int(types[i])
        if t not in CHANNELS_PER_TYPE:
            st.warn(f"{where}: TYPE {t} is not supported (1, 2, 3 and 4 are); plate skipped")
            continue
        nch = CHANNELS_PER_TYPE[t]
        try:
            chans = tuple(int(c) - 1 for c in channel.reshape(channel.shape[0], -1, order="F")[:nch, i]) if channel.ndim == 2 else ()
            corner = corners.reshape(3, 4, -1)[:, :, i].T * to_m
            orig = origin.reshape(3, -1)[:, i] * to_m
        except (IndexError, ValueError):
            st.warn(f"{where}: FORCE_PLATFORM CHANNEL, CORNERS or ORIGIN is incomplete; plate skipped")
            continue
        if len(chans) != nch or min(chans) < 0 or max(chans) >= st.n_channels:
            st.warn(f"{where}: FORCE_PLATFORM:CHANNEL {list(chans)} is out of range; plate skipped")
            continue
        cal_i = None
        if t != 4:
            pass  # TYPE 1-3 channels are calibrated already; a CAL_MATRIX there is ignored
        elif cal.ndim == 3 and cal.shape[2] > i and cal.shape[0] >= nch and cal.shape[1] >= nch:
            cal_i = cal[:nch, :nch, i]
        else:
            st.warn(f"{where}: TYPE 4 without a CAL_MATRIX; the identity is used")
        moment_channel = chans[5] if t == 1 else chans[3]
        moment_scale = _MOMENT_UNITS.get(ch_units[moment_channel].replace(" ", "").lower(), to_m) if t != 3 else to_m
        cop_unit = ch_units[chans[3]].strip().lower() if t == 1 else ""
        cop_scale = LENGTH_TO_METRE.get(cop_unit, to_m)
        try:
            pl = Plate(t, chans, corner, orig, cal_i, moment_scale, cop_scale)
        except ValueError as exc:
            st.warn(f"{where}: {exc}; plate skipped")
            continue
        plates.append(pl)
    return plates



#: The plate variables of the Dataset: key of :func:`plate_wrench`, long name, units.
PLATE_VARIABLES = (
    ("force", "ground reaction force", "N"),
    ("moment", "ground reaction moment about the plate surface centre", "N m"),
    ("free_moment", "free moment about the vertical through the centre of pressure", "N m"),
    ("cop", "centre of pressure", "m"),
)


def _plate_arrays(analog: np.ndarray, plates: list[Plate], cop_threshold: float) -> dict[str, np.ndarray]:
    """(samples, plate, 3) arrays of every plate's wrench, each filled in place."""
    n = analog.shape[0]
    out = {key: np.empty((n, len(plates), 3)) for key, _, _ in PLATE_VARIABLES}
    for s in range(0, n, BLOCK_SAMPLES):
        e = min(n, s + BLOCK_SAMPLES)
        for i, pl in enumerate(plates):
            plate_wrench(analog[s:e], pl, cop_threshold, out={k: v[s:e, i, :] for k, v in out.items()})
    return out
