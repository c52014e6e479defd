"""The data section of a C3D capture as numbers in SI units: points (markers and model
outputs), analog channels, and the force plates' geometry and wrenches."""

from __future__ import annotations

from typing import Any

import numpy as np
from xarray.backends import BackendArray
from xarray.core import indexing

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
    """Positions (x to_unit, float64) and residuals (float32) of the points `idx`; invalid
    samples NaN.

    A negative fourth word marks a sample invalid (C3D guide); its low byte times
    |POINT:SCALE| is the residual, computed in float64 and stored rounded to float32 (what
    the trial file keeps of it). With `drop_zeros`, a stored (0, 0, 0) is a gap too.
    """
    n, m = pts.shape[0], idx.size
    every = m == pts.shape[1]
    scale = to_unit if st.is_float else to_unit * st.point_scale
    res_scale = st.point_scale * to_unit
    xyz = np.empty((n, m, 3))
    residual = np.empty((n, m), np.float32)
    step = max(1, BLOCK_POINTS // max(m, 1))
    w = np.empty((min(n, step), m), dtype=np.int32)
    for s in range(0, n, step):
        e = min(n, s + step)
        sub = pts[s:e] if every else pts[s:e, idx]
        x = xyz[s:e]
        x[...] = sub[..., :3]  # float64(stored) * scale, as np.multiply(..., dtype=float64)
        x *= scale
        wb = w[: e - s]
        if st.is_float:
            np.rint(sub[..., 3], out=wb, casting="unsafe")
        else:
            wb[...] = sub[..., 3]
        gaps = np.flatnonzero(wb < 0)
        np.bitwise_and(wb, 0xFF, out=wb)
        r = residual[s:e]
        # in float64, rounded once to float32: equal to float32(float64 residual)
        np.multiply(wb, res_scale, out=r, dtype=np.float64, casting="same_kind")
        if drop_zeros:  # a stored 0 (or -0) is the only value that scales to 0
            zero = np.flatnonzero(sub[..., 0] == 0)  # few: y and z checked for these only
            if zero.size:
                i, j = np.divmod(zero, m)
                zero = zero[(sub[i, j, 1] == 0) & (sub[i, j, 2] == 0)]
                gaps = np.union1d(gaps, zero)
        if gaps.size:
            x.reshape(-1, 3)[gaps] = np.nan
            r.reshape(-1)[gaps] = np.nan
    return xyz, residual


def _analogs(st: _Structure, words: np.ndarray, n: int) -> np.ndarray:
    """(raw - OFFSET) * SCALE * GEN_SCALE per channel, computed in float64; stored as float32
    where that is exact for every sample (:func:`_float32_exact`), float64 otherwise."""
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
    exact = _float32_exact(raw.dtype, offset, factor)
    a = np.empty((n, raw.shape[1]), np.float32 if exact else np.float64)
    step = max(1, BLOCK_SAMPLES // max(st.analog_ratio, 1))
    for s in range(0, n, step):  # (raw - OFFSET) * SCALE * GEN_SCALE, frames s:e
        block = np.array(raw[s : s + step], dtype=np.float64) if exact else a[s : s + step]
        if not exact:
            block[...] = raw[s : s + step]
        flat = block.reshape(-1, st.n_channels)
        flat -= offset
        flat *= factor
        if exact:
            a[s : s + step] = block  # float64 -> float32, exact by the rule
    return a.reshape(n * st.analog_ratio, st.n_channels)


def _float32_exact(stored: np.dtype, offset: np.ndarray, factor: np.ndarray) -> bool:
    """Whether (stored - offset) * factor, computed in float64, is a float32 for every
    stored value, so that float32 keeps it exactly (and float64(float32) gives it back).

    Float storage: when OFFSET is 0 and SCALE * GEN_SCALE is 1 or -1 (Vicon's files: the
    stored float32 itself). Integer storage (int16 or uint16 counts): when OFFSET is a whole
    count of at most 16 bits and SCALE * GEN_SCALE a power of two not far from 1 (the count
    difference needs at most 17 of float32's 24 bits, and a power of two only moves the
    exponent). Any other channel scaling rounds: float64 is kept.
    """
    if stored.kind == "f":
        return bool(np.all(offset == 0) and np.all(np.abs(factor) == 1))
    mantissa, exponent = np.frexp(factor)
    return bool(np.all(np.abs(mantissa) == 0.5) and np.all(np.abs(exponent) < 64)
                and np.all(offset == np.round(offset)) and np.all(np.abs(offset) < 65536))


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
    """(samples, plate, 3) float64 arrays of every plate's wrench, each filled in place."""
    n = analog.shape[0]
    out = {key: np.empty((n, len(plates), 3)) for key, _, _ in PLATE_VARIABLES}
    for s in range(0, n, BLOCK_SAMPLES):
        e = min(n, s + BLOCK_SAMPLES)
        for i, pl in enumerate(plates):
            plate_wrench(analog[s:e], pl, cop_threshold, out={k: v[s:e, i, :] for k, v in out.items()})
    return out


def plate_data(analog: np.ndarray, plates: list[Plate], cop_threshold: float) -> dict[str, Any]:
    """The data of the ``plate_*`` variables, by key of :data:`PLATE_VARIABLES`.

    With plates and samples, each is a lazily indexed float64 array: the four are computed
    together from `analog` on the first access to any of them (``.values``, ``.data``,
    ``.load()``, a selection's values) and kept, so a reader that never looks at the plates
    (a static trial, markers only) does not pay for them. Their values are those
    :func:`_plate_arrays` gives (the same function computes them). `analog` must not be
    changed in place before then.
    """
    n = analog.shape[0]
    if n == 0 or not plates:
        return _plate_arrays(analog, plates, cop_threshold)
    source = _Wrenches(analog, plates, cop_threshold)
    return {key: indexing.LazilyIndexedArray(_Wrench(source, key, (n, len(plates), 3)))
            for key, _, _ in PLATE_VARIABLES}


class _Wrenches:
    """Every plate's wrench of one read, computed on first use (all four arrays at once)."""

    def __init__(self, analog: np.ndarray, plates: list[Plate], cop_threshold: float) -> None:
        self._inputs: tuple | None = (analog, plates, cop_threshold)
        self._arrays: dict[str, np.ndarray] | None = None

    def __getitem__(self, key: str) -> np.ndarray:
        if self._arrays is None:  # two threads at once would both compute the same arrays
            arrays = _plate_arrays(*self._inputs)
            self._arrays, self._inputs = arrays, None
        return self._arrays[key]


class _Wrench(BackendArray):
    """One ``plate_*`` variable of :class:`_Wrenches`, as xarray's lazily indexed arrays
    (those of a file opened by ``xarray.open_dataset``) expect."""

    def __init__(self, source: _Wrenches, key: str, shape: tuple[int, ...]) -> None:
        self.source, self.key, self.shape, self.dtype = source, key, shape, np.dtype(np.float64)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._get)

    def _get(self, key: tuple) -> np.ndarray:
        return self.source[self.key][key]
