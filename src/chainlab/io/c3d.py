"""Read one C3D capture into one :class:`xarray.Dataset`.

ezc3d parses the parameter section. chainlab checks the file's structure first (see
:mod:`chainlab.io._c3dformat`), converts SGI/MIPS parameter sections, which ezc3d 1.7.2
rejects, and maps the data section with numpy, so that any window of frames of an
arbitrarily long capture is read without loading the rest.

The reader's parts: :mod:`~chainlab.io._c3dstructure` (header, parameters, data layout,
reading frames), :mod:`~chainlab.io._c3dlabels` (point and channel names, subject prefixes,
marker mappings), :mod:`~chainlab.io._c3ddata` (points, analogs, plates in SI units),
:mod:`~chainlab.io._c3devents` (EVENT and PROCESSING groups), :mod:`~chainlab.io._dataset`
(the Dataset built without importing dask); this module assembles them and holds the
public API.

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

Number types: markers float64; residuals float32 (the float64 residual rounded once);
analogs float32 where that holds the scaled value exactly, float64 otherwise; the plate
variables float64, computed on their first use ("Number types" in ``docs/conventions.md``).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from chainlab.conventions import AXES
from chainlab.errors import C3DError, C3DWarning
from chainlab.io._c3ddata import PLATE_VARIABLES, _analogs, _plates, _points, plate_data
from chainlab.io._c3devents import _add_events, _add_measurements
from chainlab.io._c3dlabels import _labels, _length_scale, point_names
from chainlab.io._c3dstructure import LONG_CAPTURE_HEADER_FRAMES, _Structure
from chainlab.io._dataset import dataset
from chainlab.io.forceplates import DEFAULT_COP_THRESHOLD

__all__ = [
    "LONG_CAPTURE_HEADER_FRAMES",
    "c3d_frame_count",
    "iter_c3d_chunks",
    "read_c3d",
    "read_events",
    "sha256_file",
]


# --------------------------------------------------------------------------- public API


def read_c3d(
    path: str | os.PathLike,
    *,
    frames: slice | None = None,
    cop_threshold: float = DEFAULT_COP_THRESHOLD,
    markers: Mapping[str, str] | str | os.PathLike | None = None,
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
    markers : mapping, str or path-like, optional
        The lab's marker labels -> chainlab's (``{"VSAC": "SACR"}``), or a preset name or
        YAML file for :func:`chainlab.io.markersets.load_mapping`. Keys match a label
        without its subject prefix, or the whole label; labels not in the mapping keep
        their names; model outputs are not renamed. The entries applied are recorded in
        ``attrs["marker_mapping"]`` (JSON). A ``Subject:`` prefix shared by every prefixed
        label is stripped whether or not a mapping is given; the labels as stored are in
        ``attrs["point_labels_in_file"]`` (JSON list).

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
    mapping = None if markers is None else _as_mapping(markers)
    try:
        st = _Structure(path)
        start, stop, _ = window.indices(st.n_frames)
        stop = max(stop, start)
        hashing = None
        if start == 0 and stop == st.n_frames and _sha_key(path) not in _SHA_CACHE:
            # The whole file is read once: its sha256 is computed from the same bytes in
            # a thread (hashlib releases the GIL) while the numbers are converted.
            buffer = np.fromfile(path, dtype=np.uint8)
            hashing = threading.Thread(target=_hash_bytes, args=(path, buffer), daemon=True)
            hashing.start()
            words = st.read_words(start, stop, buffer)
        else:
            words = st.read_words(start, stop)
        return _build_dataset(st, words, start, cop_threshold, mapping, hashing)
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


def _as_mapping(markers: Mapping[str, str] | str | os.PathLike) -> dict[str, str]:
    # imported here: it imports yaml, which `import chainlab` does not otherwise need
    from chainlab.io.markersets import load_mapping, validate_mapping

    if isinstance(markers, Mapping):
        return validate_mapping(markers, "the markers mapping")
    return load_mapping(markers)


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
    return dataset(data_vars, coords, attrs={"source_file": path.name, "point_rate": st.point_rate})


def c3d_frame_count(path: str | os.PathLike) -> int:
    """Number of 3D frames in a capture, without reading its data section."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", C3DWarning)
        return _Structure(Path(path)).n_frames


def c3d_header(path: str | os.PathLike) -> dict[str, Any]:
    """What a capture says about itself, without reading its data section: ``frames``,
    ``rate`` (Hz), ``markers`` (POINT:USED), ``subjects`` (SUBJECTS:NAMES), ``events``
    (EVENT:LABELS), ``trial_type`` (a TRIAL_TYPE parameter, as some Nexus versions write, or
    ""), ``measurements`` (PROCESSING's numbers by name, Nexus' units). Raises
    :class:`chainlab.C3DError` for a file that cannot be read."""
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
                    "trial_type": kind.strip(),
                    "measurements": {k: float(v.ravel()[0]) for k, e in p.raw.get("PROCESSING", {}).items()
                                     if not k.startswith("__") and (v := np.asarray(e.get("value", []))).size == 1
                                     and np.issubdtype(v.dtype, np.number)}}
        except C3DError:
            raise
        except (ValueError, IndexError, KeyError, TypeError, OverflowError) as exc:
            raise C3DError(path, f"inconsistent content ({type(exc).__name__}: {exc})") from exc


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def _sha_key(path: str | os.PathLike) -> tuple[str, int, int]:
    st = os.stat(path)
    return (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def _hash_bytes(path: Path, buffer: np.ndarray) -> None:
    """Cache the sha256 of `path` from its bytes `buffer`, read just after `path` was stat'ed."""
    key = _sha_key(path)
    if key[1] == buffer.size:
        _SHA_CACHE[key] = hashlib.sha256(memoryview(buffer)).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    """sha256 of a file, computed once per (path, size, modification time) in a process."""
    key = _sha_key(path)
    if key not in _SHA_CACHE:
        with open(path, "rb") as f:
            _SHA_CACHE[key] = hashlib.file_digest(f, "sha256").hexdigest()
    return _SHA_CACHE[key]




# --------------------------------------------------------------------------- assembly


def _build_dataset(
    st: _Structure,
    words: np.ndarray,
    start: int,
    cop_threshold: float,
    mapping: Mapping[str, str] | None = None,
    hashing: threading.Thread | None = None,
) -> xr.Dataset:
    n = words.shape[0]
    p = st.params
    unit, to_m = _length_scale(st)

    # points: (n, n_points, 4); markers and model outputs are taken apart before scaling
    pts = words[:, : 4 * st.n_points].reshape(n, st.n_points, 4)
    names = point_names(st, mapping)
    labels, kinds = names.names, names.kinds
    mk = np.flatnonzero(~names.is_output)
    out = np.flatnonzero(names.is_output)
    markers, residual_m = _points(st, pts, mk, to_m, drop_zeros=True)
    outputs, _ = _points(st, pts, out, 1.0, drop_zeros=False)
    marker_names = [labels[i] for i in mk]

    frame_numbers = st.first_frame + start + np.arange(n)
    time = (frame_numbers - 1) / st.point_rate if st.point_rate else np.zeros(n)

    coords: dict[str, Any] = {
        "frame": ("frame", frame_numbers.astype(np.int64), {"long_name": "frame number"}),
        "time": ("frame", time, {"units": "s", "long_name": "time of the frame, frame 1 at 0 s"}),
        "axis": ("axis", list(AXES)),
        "marker": ("marker", np.array(marker_names, dtype=str)),
        "marker_modeled": ("marker", names.modeled[mk]),
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
    wrenches = plate_data(analog, plates, cop_threshold)  # computed on first use
    for key, long_name, units in PLATE_VARIABLES:
        data_vars[f"plate_{key}"] = (
            ("analog_sample", "plate", "axis"),
            wrenches[key],
            {"units": units, "long_name": long_name + " in the lab frame"},
        )

    whole = start == 0 and n == st.n_frames
    _add_events(st, coords, data_vars, None if whole else (int(frame_numbers[0]), int(frame_numbers[-1])) if n else (0, -1))
    _add_measurements(st, coords, data_vars)

    if hashing is not None:
        hashing.join()
    subjects = [s for s in p.strings("SUBJECTS", "NAMES") if s]
    attrs = {
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
    if names.prefix or mapping is not None:
        attrs["point_labels_in_file"] = json.dumps(names.in_file)
        attrs["marker_prefix"] = names.prefix
    if mapping is not None:
        attrs["marker_mapping"] = json.dumps(names.mapping)
    return dataset(data_vars, coords, attrs)


