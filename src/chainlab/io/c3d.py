"""Read one C3D capture into one :class:`xarray.Dataset`.

ezc3d parses the parameter section. chainlab checks the file's structure first (see
:mod:`chainlab.io._c3dformat`), converts SGI/MIPS parameter sections, which ezc3d 1.7.2
rejects, and maps the data section with numpy, so that any window of frames of an
arbitrarily long capture is read without loading the rest.

The Dataset (conventions in ``docs/conventions.md``):

==========================  ===================================  =========
variable                    dims                                 units
==========================  ===================================  =========
``markers``                 (frame, marker, axis)                m
``residuals``               (frame, marker)                      m
``model_outputs``           (frame, output, axis)                per output
``analogs``                 (analog_sample, channel)             per channel
``plate_force``             (analog_sample, plate, axis)         N
``plate_moment``            (analog_sample, plate, axis)         N m
``plate_free_moment``       (analog_sample, plate, axis)         N m
``plate_cop``               (analog_sample, plate, axis)         m
``measurements``            (measurement,)                       per value
``event_time``              (event,)                             s
==========================  ===================================  =========
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from chainlab.conventions import (
    AXES,
    LENGTH_TO_METRE,
    MEASUREMENT_UNITS,
    MODEL_OUTPUT_KINDS,
)
from chainlab.errors import C3DError, C3DWarning
from chainlab.io import _c3dformat as fmt
from chainlab.io.forceplates import (
    CHANNELS_PER_TYPE,
    DEFAULT_COP_THRESHOLD,
    Plate,
    plate_wrench,
)

LONG_CAPTURE_HEADER_FRAMES = 65535
_HIDDEN_ROTATION = b"XOTATION"  # the ROTATION group, renamed while ezc3d parses


# --------------------------------------------------------------------------- parameters


class _Params:
    """Read access to ezc3d's parameter dictionary, with C3D's continuation rules."""

    def __init__(self, raw: dict[str, Any]):
        self.raw = raw

    def value(self, group: str, name: str, default: Any = None) -> Any:
        try:
            return self.raw[group][name]["value"]
        except KeyError:
            return default

    def first(self, group: str, name: str, default: Any = None) -> Any:
        v = self.value(group, name)
        if v is None:
            return default
        if isinstance(v, str):
            return v
        arr = np.asarray(v).ravel()
        return arr[0].item() if arr.size else default

    def _continued(self, group: str, name: str) -> Iterator[Any]:
        """NAME, then NAME2, NAME3, ... while they exist (C3D's rule for > 255 entries)."""
        for suffix in ["", *map(str, range(2, 100))]:
            v = self.value(group, name + suffix)
            if v is None:
                return
            yield v

    def strings(self, group: str, name: str) -> list[str]:
        return [str(s).strip() for v in self._continued(group, name) for s in (v if isinstance(v, list) else [v])]

    def numbers(self, group: str, name: str) -> np.ndarray:
        parts = [np.asarray(v, dtype=float).ravel(order="F") for v in self._continued(group, name)]
        return np.concatenate(parts) if parts else np.empty(0)


# --------------------------------------------------------------------------- structure


class _Structure:
    """Everything known about a file before its data section is touched."""

    def __init__(self, path: Path):
        self.path = path
        self.warnings: list[str] = []
        try:
            size = path.stat().st_size
            with open(path, "rb") as f:
                head = f.read(512)
                start = (head[0] - 1) * fmt.BLOCK if len(head) >= 1 and head[0] >= 1 else 0
                f.seek(0)
                data = f.read(start + 256 * fmt.BLOCK)
        except OSError as exc:
            raise C3DError(path, f"cannot open: {exc.strerror or exc}") from None
        try:
            self.layout = fmt.read_layout(data, size)
        except fmt.FormatError as exc:
            raise C3DError(path, str(exc)) from None
        self.params = _Params(self._parse_parameters(data))
        self._describe_data()

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        warnings.warn(f"{self.path}: {message}", C3DWarning, stacklevel=4)

    def _parse_parameters(self, data: bytes) -> dict[str, Any]:
        """Hand ezc3d the header and parameter section alone (converted if MIPS)."""
        import ezc3d

        if not self.layout.records:
            self.warn("the parameter section is empty; the header alone describes the data")
            return {}
        blob = bytearray(self._blob_for_ezc3d(data))
        # ezc3d is given no data section: a header announcing no frames keeps it from
        # looking for any (a long capture's header otherwise makes it fail).
        first = struct.unpack_from("<H", blob, 6)[0]
        struct.pack_into("<H", blob, 8, max(first, 1) - 1)
        struct.pack_into("<H", blob, 6, max(first, 1))
        fd, tmp = tempfile.mkstemp(suffix=".c3d", prefix="chainlab-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            errors = []
            for ignore_bad in (False, True):
                try:
                    c = ezc3d.c3d(tmp, ignore_bad_formatting=ignore_bad)
                    break
                except Exception as exc:  # ezc3d raises RuntimeError and friends
                    errors.append(str(exc).split(".")[0])
            else:
                raise C3DError(self.path, f"ezc3d cannot parse the parameters: {errors[0]}")
            if errors:
                self.warn(f"non-standard parameter section read leniently ({errors[0]})")
            params = {g: dict(v) for g, v in c["parameters"].items() if g != "header"}
            hidden = _HIDDEN_ROTATION.decode()
            if hidden in params:
                params["ROTATION"] = params.pop(hidden)
            return params
        finally:
            os.unlink(tmp)

    def _blob_for_ezc3d(self, data: bytes) -> bytes:
        """Header + parameter section in a form ezc3d parses without crashing.

        MIPS files are converted to Intel. ezc3d 1.7.2 crashes (segfault) when ANALOG:USED > 0
        and ANALOG:SCALE or ANALOG:OFFSET is missing, and rejects a float OFFSET: such
        parameters are supplied (from a misspelt OFFSETS, or neutral values) with a warning.
        """
        lay = self.layout
        for repair in lay.repairs:
            self.warn(repair)
        if lay.processor == "mips":
            blob = fmt.mips_to_intel(data, lay)
        else:
            blob = fmt.repaired(data, lay)
        lay = fmt.read_layout(blob, len(blob))
        rot = fmt.find(lay, "ROTATION")
        if rot is not None:  # ezc3d would look for rotation data in the absent data section
            at = lay.param_start + rot.offset_pos - len(rot.name)
            blob = blob[:at] + _HIDDEN_ROTATION[:1] + blob[at + 1 :]
        used_rec = fmt.find(lay, "ANALOG", "USED")
        if used_rec is None or used_rec.type != 2:
            return blob
        used = int(np.asarray(fmt.record_values(blob[lay.param_start :], used_rec, lay.processor))[0])
        if used <= 0 or used > 255:
            return blob
        gid = used_rec.group_id
        for name, ptype, fill in (("SCALE", 4, 1.0), ("OFFSET", 2, 0)):
            rec = fmt.find(lay, "ANALOG", name)
            if rec is not None and (rec.type == ptype or name != "OFFSET"):
                continue
            values = np.full(used, fill, dtype=float)
            source = fmt.find(lay, "ANALOG", name + "S") if rec is None else rec
            if source is not None and source.type in (2, 4):
                vals = np.asarray(fmt.record_values(blob[lay.param_start :], source, lay.processor))
                values[: min(used, vals.size)] = vals[:used]
                if rec is not None:  # hide the float OFFSET from ezc3d, keep its values
                    at = lay.param_start + rec.offset_pos - len(rec.name)
                    blob = blob[:at] + b"X" + blob[at + 1 :]
                if rec is None:
                    self.warn(f"ANALOG:{name} is missing; ANALOG:{source.name} read in its place")
                else:
                    self.warn(f"ANALOG:{name} is stored as floats; read as integers")
            else:
                self.warn(f"ANALOG:{name} is missing; {fill} assumed for every channel")
            if ptype == 2 and not np.allclose(values, np.rint(values)):
                self.warn(f"ANALOG:{name} values are not integers; rounded")
            blob = fmt.append_parameter(blob, lay, gid, name, ptype, np.rint(values) if ptype == 2 else values)
            lay = fmt.read_layout(blob, len(blob))
        return blob

    def _describe_data(self) -> None:
        lay, p, h = self.layout, self.params, self.layout.header
        self.n_points = h.n_points
        used = p.first("POINT", "USED")
        if used is not None and int(used) != h.n_points:
            self.warn(f"POINT:USED is {used} but the header says {h.n_points}; the header wins")
        self.is_float = h.scale < 0
        scale = p.first("POINT", "SCALE", h.scale)
        self.point_scale = abs(float(scale)) if scale else abs(h.scale)
        rate = float(p.first("POINT", "RATE", h.rate) or h.rate)
        self.point_rate = rate if rate > 0 else h.rate
        n_channels = int(p.first("ANALOG", "USED", 0) or 0)
        self.n_analog_words = self._analog_words(n_channels)
        if self.n_analog_words == 0:
            n_channels, ratio = 0, 0
        elif n_channels == 0:
            self.warn(
                f"header has {self.n_analog_words} analog samples per frame but ANALOG:USED is 0; "
                "those samples are skipped"
            )
            ratio = 0
        elif self.n_analog_words % n_channels == 0:
            ratio = self.n_analog_words // n_channels
        else:
            raise C3DError(
                self.path,
                f"header has {self.n_analog_words} analog samples per frame, not a multiple of "
                f"ANALOG:USED = {n_channels}",
            )
        self.n_channels, self.analog_ratio = n_channels, ratio
        analog_rate = float(p.first("ANALOG", "RATE", 0) or 0)
        self.analog_rate = analog_rate if analog_rate > 0 else self.point_rate * ratio
        self.word = 4 if self.is_float else 2
        self.frame_words = 4 * self.n_points + self.n_analog_words
        self.frame_bytes = self.frame_words * self.word
        block = h.data_block or int(p.first("POINT", "DATA_START", 0) or 0)
        self.data_start = (block - 1) * fmt.BLOCK
        if block < 2 or self.data_start < lay.param_start + fmt.BLOCK:
            raise C3DError(
                self.path,
                f"the data section starts at block {block}, inside the header or parameter "
                "section",
            )
        self.first_frame = h.first_frame
        self.n_frames = self._count_frames()
        need = self.data_start + self.n_frames * self.frame_bytes
        if lay.size < need:
            have = max(0, (lay.size - self.data_start) // self.frame_bytes) if self.frame_bytes else 0
            raise C3DError(
                self.path,
                f"truncated: {self.n_frames} frames need {need} bytes, the file has {lay.size} "
                f"(room for {have} frames)",
            )

    def _analog_words(self, n_channels: int) -> int:
        """Analog samples per 3D frame: header word 3, unless the file's size contradicts it.

        Some writers (The MotionMonitor, c3d.org sample24) store the number of channels
        there; ANALOG:USED x (ANALOG:RATE / POINT:RATE) is then what the data section holds.
        """
        h, p = self.layout.header, self.params
        words = h.n_analog_words
        a_rate = float(p.first("ANALOG", "RATE", 0) or 0)
        if not (n_channels and a_rate > 0 and self.point_rate > 0):
            return words
        ratio = a_rate / self.point_rate
        if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
            return words
        alt = n_channels * int(round(ratio))
        if alt == words or h.frames <= 0:
            return words
        size = self.layout.size - (h.data_block - 1) * fmt.BLOCK
        w = 4 if self.is_float else 2

        def leftover(aw: int) -> int:
            return size - h.frames * (4 * h.n_points + aw) * w

        left_header, left_alt = leftover(words), leftover(alt)
        if left_alt >= 0 and (left_header < 0 or left_alt < left_header):
            self.warn(
                f"header says {words} analog samples per frame; the data section holds "
                f"ANALOG:USED x ANALOG:RATE/POINT:RATE = {alt}, which is read"
            )
            return alt
        return words

    def _count_frames(self) -> int:
        """Frame count, reading past the header's 65535 limit for long captures."""
        h, p = self.layout.header, self.params
        if h.last_frame < LONG_CAPTURE_HEADER_FRAMES:
            return max(0, h.frames)
        start = p.numbers("TRIAL", "ACTUAL_START_FIELD")
        end = p.numbers("TRIAL", "ACTUAL_END_FIELD")
        if start.size >= 2 and end.size >= 2:
            s = int(start[0]) % 65536 + 65536 * (int(start[1]) % 65536)
            e = int(end[0]) % 65536 + 65536 * (int(end[1]) % 65536)
            if e >= s:
                self.first_frame = s
                return e - s + 1
        long_frames = p.first("POINT", "LONG_FRAMES")
        if long_frames is not None and float(long_frames) > 0:
            return int(round(float(long_frames)))
        if self.frame_bytes:
            fitted = (self.layout.size - self.data_start) // self.frame_bytes
            fitted -= self._zero_padding_frames(fitted)
            if fitted > h.frames:
                self.warn(
                    f"header says {h.frames} frames (its maximum) and the file gives no "
                    f"true count; {fitted} frames fit in the data section and are read"
                )
                return int(fitted)
        return max(0, h.frames)

    def _zero_padding_frames(self, fitted: int) -> int:
        """Trailing all-zero frames within the last 512-byte block: padding, not data."""
        tail = min(fitted, fmt.BLOCK // self.frame_bytes + 1)
        if tail <= 0:
            return 0
        with open(self.path, "rb") as f:
            f.seek(self.data_start + (fitted - tail) * self.frame_bytes)
            raw = np.frombuffer(f.read(tail * self.frame_bytes), dtype=np.uint8)
        nonzero = raw.reshape(tail, self.frame_bytes).any(axis=1)
        last = np.flatnonzero(nonzero)
        return tail - (int(last[-1]) + 1 if last.size else 0)

    # ----------------------------------------------------------------------- data

    def read_words(self, start: int, stop: int) -> np.ndarray:
        """Frames [start, stop) of the data section as (n, frame_words) numbers."""
        count = stop - start
        if count <= 0 or self.frame_words == 0:
            return np.zeros((max(count, 0), self.frame_words))
        offset = self.data_start + start * self.frame_bytes
        proc = self.layout.processor
        if self.is_float and proc == "dec":
            raw = np.fromfile(self.path, dtype="<u4", count=count * self.frame_words, offset=offset)
            words = ((raw >> 16) | (raw << 16)).view("<f4") / np.float32(4.0)
        else:
            e = self.layout.byteorder
            dtype = f"{e}f4" if self.is_float else f"{e}i2"
            words = np.fromfile(self.path, dtype=dtype, count=count * self.frame_words, offset=offset)
        if words.size != count * self.frame_words:
            raise C3DError(self.path, "truncated while reading the data section")
        return words.reshape(count, self.frame_words)


# --------------------------------------------------------------------------- public API


def read_c3d(
    path: str | os.PathLike,
    *,
    frames: slice | None = None,
    cop_threshold: float = DEFAULT_COP_THRESHOLD,
) -> xr.Dataset:
    """Read one C3D capture.

    Parameters
    ----------
    path : path-like
        The C3D file.
    frames : slice, optional
        Frame indices to read (0-based, relative to the first frame of the file). Only
        these frames are read from disk, so a window of a long capture costs what the
        window costs. Default: all frames.
    cop_threshold : float
        Normal force (N) below which the centre of pressure is NaN. Default 10 N.

    Returns
    -------
    xarray.Dataset
        One trial; see the module docstring and ``docs/conventions.md``.

    Raises
    ------
    chainlab.C3DError
        The file cannot be read; the message names the file and the reason.

    Examples
    --------
    >>> ds = read_c3d("data/HC030A/Straight/HC030A05.c3d")  # doctest: +SKIP
    >>> ds.markers.sel(marker="LASI", axis="z").mean().item()  # doctest: +SKIP
    """
    path = Path(path)
    window = slice(None) if frames is None else frames
    if not isinstance(window, slice):
        raise TypeError(f"frames must be a slice of frame indices, e.g. slice(0, 1000); found {frames!r}")
    if window.step not in (None, 1):
        raise ValueError(f"frames must be a contiguous slice; found step {window.step}")
    try:
        st = _Structure(path)
        start, stop, _ = window.indices(st.n_frames)
        stop = max(stop, start)
        words = st.read_words(start, stop)
        return _build_dataset(st, words, start, cop_threshold)
    except (C3DError, MemoryError):
        raise
    except (ValueError, IndexError, KeyError, TypeError, OverflowError) as exc:
        # Parameters that contradict each other in a way no check above foresaw: still a
        # clear error for this file, never a traceback that stops a whole study.
        raise C3DError(path, f"inconsistent content ({type(exc).__name__}: {exc})") from exc


def iter_c3d_chunks(
    path: str | os.PathLike, chunk_frames: int = 10_000, **kwargs: Any
) -> Iterator[xr.Dataset]:
    """Yield a long capture as consecutive Datasets of at most `chunk_frames` frames.

    Memory stays bounded by the chunk size whatever the capture length.
    """
    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be >= 1; found {chunk_frames}")
    n = c3d_frame_count(path)
    for s in range(0, max(n, 1), chunk_frames):
        yield read_c3d(path, frames=slice(s, min(n, s + chunk_frames)), **kwargs)


def read_events(path: str | os.PathLike) -> xr.Dataset:
    """Every event of a capture's EVENT group (the ``event_*`` variables of
    :func:`read_c3d`), without reading its frames."""
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", C3DWarning)
        try:
            st = _Structure(path)
            coords: dict[str, Any] = {}
            data_vars: dict[str, Any] = {}
            _add_events(st, coords, data_vars, None)
        except C3DError:
            raise
        except (ValueError, IndexError, KeyError, TypeError, OverflowError) as exc:
            raise C3DError(path, f"inconsistent content ({type(exc).__name__}: {exc})") from exc
    return xr.Dataset(data_vars, coords, attrs={"source_file": path.name, "point_rate": st.point_rate})


def c3d_frame_count(path: str | os.PathLike) -> int:
    """Number of 3D frames in a capture, without reading its data section."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", C3DWarning)
        return _Structure(Path(path)).n_frames


def c3d_header(path: str | os.PathLike) -> dict[str, Any]:
    """What a capture says about itself, without reading its data section: ``frames``,
    ``rate`` (Hz), ``markers`` (POINT:USED), ``subjects`` (SUBJECTS:NAMES), ``events``
    (EVENT:LABELS), ``trial_type`` (a TRIAL_TYPE parameter, as some Nexus versions write, or
    ""). Raises :class:`chainlab.C3DError` for a file that cannot be read."""
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", C3DWarning)
        try:
            st = _Structure(path)
            p = st.params
            kind = next((str(p.first(g, "TRIAL_TYPE")) for g in ("TRIAL", "PROCESSING", "SUBJECTS")
                         if p.value(g, "TRIAL_TYPE") is not None), "")
            return {"frames": int(st.n_frames), "rate": float(st.point_rate),
                    "markers": int(p.first("POINT", "USED", 0) or 0),
                    "subjects": [s for s in p.strings("SUBJECTS", "NAMES") if s],
                    "events": p.strings("EVENT", "LABELS")[: int(p.first("EVENT", "USED", 0) or 0)],
                    "trial_type": kind.strip()}
        except C3DError:
            raise
        except (ValueError, IndexError, KeyError, TypeError, OverflowError) as exc:
            raise C3DError(path, f"inconsistent content ({type(exc).__name__}: {exc})") from exc


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def sha256_file(path: str | os.PathLike) -> str:
    """sha256 of a file, computed once per (path, size, modification time) in a process."""
    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        with open(path, "rb") as f:
            _SHA_CACHE[key] = hashlib.file_digest(f, "sha256").hexdigest()
    return _SHA_CACHE[key]


# --------------------------------------------------------------------------- assembly


def _unique_labels(labels: list[str], what: str, st: _Structure) -> list[str]:
    """Strip subject prefixes, name empty labels, and make duplicates unique."""
    out: list[str] = []
    seen: dict[str, int] = {}
    empty, renamed = [], []
    for i, lab in enumerate(labels):
        name = lab.rsplit(":", 1)[-1].strip()
        if not name:
            name = f"{what}{i + 1}"
            empty.append(name)
        if name in seen:
            seen[name] += 1
            new = f"{name}_{seen[name]}"
            renamed.append(f"{name}->{new}")
            name = new
        else:
            seen[name] = 1
        out.append(name)
    if empty:
        st.warn(f"{len(empty)} {what} label(s) empty, named {_short(empty)}")
    if renamed:
        st.warn(f"{len(renamed)} duplicate {what} label(s) renamed: {_short(renamed)}")
    return out


def _short(items: list[str], n: int = 4) -> str:
    return ", ".join(items[:n]) + (f", ... ({len(items) - n} more)" if len(items) > n else "")


def _labels(st: _Structure, group: str, n: int, what: str) -> list[str]:
    labels = st.params.strings(group, "LABELS")[:n]
    labels += [""] * (n - len(labels))
    return _unique_labels(labels, what, st)


def _length_scale(st: _Structure) -> tuple[str, float]:
    unit = str(st.params.first("POINT", "UNITS", "") or "").strip()
    if unit.lower() not in LENGTH_TO_METRE and unit.lower().startswith("met"):
        unit = "m"  # 'mete', 'meter', 'metres': truncated or spelt out
    if unit.lower() not in LENGTH_TO_METRE:
        st.warn(f"POINT:UNITS is {unit!r}; assumed 'mm'")
        unit = "mm"
    return unit, LENGTH_TO_METRE[unit.lower()]


def _model_output_kinds(st: _Structure) -> dict[str, tuple[str, str]]:
    """Point label -> (kind, units) for every model output listed under POINT."""
    kinds: dict[str, tuple[str, str]] = {}
    for group_name, (kind, units_param, default_units) in MODEL_OUTPUT_KINDS.items():
        units = str(st.params.first("POINT", units_param, default_units) or default_units)
        for lab in st.params.strings("POINT", group_name):
            name = lab.rsplit(":", 1)[-1].strip()
            if name:
                kinds.setdefault(name, (kind, units))
    return kinds


def _build_dataset(st: _Structure, words: np.ndarray, start: int, cop_threshold: float) -> xr.Dataset:
    n = words.shape[0]
    p = st.params
    unit, to_m = _length_scale(st)

    # points: (n, n_points, 4); markers and model outputs are taken apart before scaling
    pts = words[:, : 4 * st.n_points].reshape(n, st.n_points, 4)
    labels = _labels(st, "POINT", st.n_points, "point")
    kinds = _model_output_kinds(st)
    is_output = np.array([lab in kinds for lab in labels], dtype=bool)
    mk = np.flatnonzero(~is_output)
    out = np.flatnonzero(is_output)
    markers, residual_m = _points(st, pts, mk, to_m, drop_zeros=True)
    outputs, _ = _points(st, pts, out, 1.0, drop_zeros=False)
    marker_names = [labels[i] for i in mk]
    modeled = {m.rsplit(":", 1)[-1] for m in p.strings("POINT", "MODELED_MARKERS")}

    frame_numbers = st.first_frame + start + np.arange(n)
    time = (frame_numbers - 1) / st.point_rate if st.point_rate else np.zeros(n)

    coords: dict[str, Any] = {
        "frame": ("frame", frame_numbers.astype(np.int64), {"long_name": "frame number"}),
        "time": ("frame", time, {"units": "s", "long_name": "time of the frame, frame 1 at 0 s"}),
        "axis": ("axis", list(AXES)),
        "marker": ("marker", np.array(marker_names, dtype=str)),
        "marker_modeled": ("marker", np.array([m in modeled for m in marker_names])),
        "output": ("output", np.array([labels[i] for i in out], dtype=str)),
        "output_kind": ("output", np.array([kinds[labels[i]][0] for i in out], dtype=str)),
        "output_units": ("output", np.array([kinds[labels[i]][1] for i in out], dtype=str)),
    }
    data_vars: dict[str, Any] = {
        "markers": (
            ("frame", "marker", "axis"),
            markers,
            {"units": "m", "long_name": "marker position in the lab frame"},
        ),
        "residuals": (
            ("frame", "marker"),
            residual_m,
            {"units": "m", "long_name": "marker reconstruction residual"},
        ),
        "model_outputs": (
            ("frame", "output", "axis"),
            outputs,
            {"units": "see output_units", "long_name": "model outputs stored in the file"},
        ),
    }

    # analogs: (n * ratio, channels)
    analog = _analogs(st, words, n)
    ch_labels = _labels(st, "ANALOG", st.n_channels, "channel")
    ch_units = p.strings("ANALOG", "UNITS")[: st.n_channels]
    ch_units += [""] * (st.n_channels - len(ch_units))
    n_samples = analog.shape[0]
    a_time = (st.first_frame + start - 1) / st.point_rate if st.point_rate else 0.0
    coords["channel"] = ("channel", np.array(ch_labels, dtype=str))
    coords["channel_units"] = ("channel", np.array(ch_units, dtype=str))
    coords["analog_time"] = (
        "analog_sample",
        a_time + np.arange(n_samples) / st.analog_rate if st.analog_rate else np.zeros(n_samples),
        {"units": "s", "long_name": "time of the analog sample"},
    )
    data_vars["analogs"] = (
        ("analog_sample", "channel"),
        analog,
        {"units": "see channel_units", "long_name": "analog channels, SCALE/GEN_SCALE/OFFSET applied"},
    )

    plates = _plates(st, unit, to_m, ch_units)
    coords["plate"] = ("plate", np.arange(1, len(plates) + 1))
    coords["plate_type"] = ("plate", np.array([pl.type for pl in plates], dtype=np.int64))
    coords["plate_corners"] = (
        ("plate", "corner", "axis"),
        np.array([pl.corners for pl in plates]).reshape(len(plates), 4, 3),
        {"units": "m", "long_name": "plate corners in the lab frame"},
    )
    wrenches = [plate_wrench(analog, pl, cop_threshold) for pl in plates]
    for key, long_name, units in (
        ("force", "ground reaction force", "N"),
        ("moment", "ground reaction moment about the plate surface centre", "N m"),
        ("free_moment", "free moment about the vertical through the centre of pressure", "N m"),
        ("cop", "centre of pressure", "m"),
    ):
        arr = np.stack([w[key] for w in wrenches], axis=1) if wrenches else np.zeros((n_samples, 0, 3))
        data_vars[f"plate_{key}"] = (
            ("analog_sample", "plate", "axis"),
            arr,
            {"units": units, "long_name": long_name + " in the lab frame"},
        )

    whole = start == 0 and n == st.n_frames
    _add_events(st, coords, data_vars, None if whole else (int(frame_numbers[0]), int(frame_numbers[-1])) if n else (0, -1))
    _add_measurements(st, coords, data_vars)

    ds = xr.Dataset(data_vars, coords)
    subjects = [s for s in p.strings("SUBJECTS", "NAMES") if s]
    ds.attrs = {
        "source_file": st.path.name,
        "source_path": str(st.path),
        "source_sha256": sha256_file(st.path),
        "point_rate": st.point_rate,
        "analog_rate": float(st.analog_rate),
        "frames_in_file": st.n_frames,
        "first_frame": st.first_frame,
        "point_units_in_file": unit,
        "storage": "float" if st.is_float else "integer",
        "processor": st.layout.processor,
        "manufacturer": " ".join(p.strings("MANUFACTURER", "COMPANY")),
        "software": " ".join(p.strings("MANUFACTURER", "SOFTWARE")),
        "software_version": " ".join(p.strings("MANUFACTURER", "VERSION_LABEL")),
        "subject": ",".join(subjects),
        "cop_threshold_N": float(cop_threshold),
        "read_warnings": list(st.warnings),
    }
    return ds


def _points(
    st: _Structure, pts: np.ndarray, idx: np.ndarray, to_unit: float, drop_zeros: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (x to_unit) and residuals of the points `idx`; invalid samples NaN.

    A negative fourth word marks a sample invalid (C3D guide); its low byte times
    |POINT:SCALE| is the residual. With `drop_zeros`, (0, 0, 0) is a gap too.
    """
    sub = pts if idx.size == pts.shape[1] else pts[:, idx]
    scale = to_unit if st.is_float else to_unit * st.point_scale
    xyz = np.multiply(sub[..., :3], scale, dtype=np.float64)
    w = sub[..., 3]
    w = np.rint(w).astype(np.int32) if st.is_float else w.astype(np.int32)
    residual = np.multiply(w & 0xFF, st.point_scale * to_unit, dtype=np.float64)
    bad = w < 0
    if drop_zeros:
        bad |= ~sub[..., :3].any(axis=-1)
    xyz[bad] = np.nan
    residual[bad] = np.nan
    return xyz, residual


def _analogs(st: _Structure, words: np.ndarray, n: int) -> np.ndarray:
    if st.n_channels == 0:
        return np.zeros((0, 0))
    p = st.params
    a = words[:, 4 * st.n_points :].reshape(n * st.analog_ratio, st.n_channels)
    unsigned = str(p.first("ANALOG", "FORMAT", "") or "").strip().upper() == "UNSIGNED"
    if unsigned and a.dtype.itemsize == 2:
        a = a.view(a.dtype.str.replace("i", "u"))  # same byte order, unsigned
    a = a.astype(np.float64)
    offset = _per_channel(p.numbers("ANALOG", "OFFSET"), st.n_channels, 0.0)
    if unsigned:  # OFFSET is stored as int16 but means an unsigned count (C3D guide)
        offset = np.mod(offset, 65536)
    scale = _per_channel(p.numbers("ANALOG", "SCALE"), st.n_channels, 1.0)
    gen = float(p.first("ANALOG", "GEN_SCALE", 1.0) or 1.0)
    a -= offset
    a *= scale * gen
    return a


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


def _add_events(st: _Structure, coords: dict, data_vars: dict, window: tuple[int, int] | None) -> None:
    """The EVENT group; with a frame window, only the events inside it."""
    p = st.params
    n = int(p.first("EVENT", "USED", 0) or 0)
    times = np.asarray(p.value("EVENT", "TIMES", []), dtype=float)
    labels = p.strings("EVENT", "LABELS")
    contexts = p.strings("EVENT", "CONTEXTS")
    if n and times.ndim == 2 and times.shape[0] >= 2:
        n = min(n, times.shape[1], len(labels))
        t = times[0, :n] * 60.0 + times[1, :n]
    else:
        n, t = 0, np.empty(0)
    contexts = (contexts + [""] * n)[:n]
    frame = np.rint(t * st.point_rate).astype(np.int64) + 1 if n else np.empty(0, np.int64)
    order = np.argsort(t, kind="stable")
    if window is not None:
        order = order[(frame[order] >= window[0]) & (frame[order] <= window[1])]
    coords["event_label"] = ("event", np.array(labels[:n], dtype=str)[order])
    coords["event_side"] = ("event", np.array(contexts, dtype=str)[order])
    coords["event_frame"] = ("event", frame[order], {"long_name": "frame number of the event"})
    coords["event_source"] = ("event", np.array(["c3d"] * len(order), dtype=str))
    data_vars["event_time"] = ("event", t[order], {"units": "s", "long_name": "event time"})


def _add_measurements(st: _Structure, coords: dict, data_vars: dict) -> None:
    group = st.params.raw.get("PROCESSING", {})
    names, values = [], []
    for name, entry in group.items():
        if name.startswith("__"):
            continue
        v = np.asarray(entry.get("value", []))
        if v.size == 1 and np.issubdtype(v.dtype, np.number):
            names.append(name)
            values.append(float(v.ravel()[0]))
    coords["measurement"] = ("measurement", np.array(names, dtype=str))
    coords["measurement_units"] = (
        "measurement",
        np.array([MEASUREMENT_UNITS.get(_strip_side(n), "") for n in names], dtype=str),
    )
    data_vars["measurements"] = (
        "measurement",
        np.array(values, dtype=float),
        {"units": "see measurement_units", "long_name": "subject measurements (PROCESSING)"},
    )


def _strip_side(name: str) -> str:
    return name[1:] if name[:1] in ("L", "R") and name[1:2].isupper() else name
