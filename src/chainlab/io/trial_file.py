"""The trial file: one trial's results in one netCDF4/HDF5 file, written and read here only.

Groups: ``/`` (attributes: subject, condition, trial, dynamic, static, settings,
subject_measurements (JSON: the measurements the study's subjects table gives the subject), problems,
standing: the standing chain of the static trial as JSON, :mod:`chainlab.subjects`;
quality_problems (JSON rows of the problems table, :mod:`chainlab.problems`), models_left_out,
``kinetics_absent``: why the trial has no kinetics, '' when it has; ``contacts_refused``),
``/kinematics`` (the angles and the rest of the kinematics, along ``frame``), ``/plates``
(plate forces, along ``analog_sample``), ``/markers`` (marker residuals), ``/events``,
``/cycles`` and ``/metrics`` (tables, dim ``row``) and ``/curves`` (``curves`` (cycle,
variable, percent) of the chain's variables and ``angle_curves`` (cycle, joint, axis, percent)
of every angle output on the cycle's side; ``moment_curves`` (cycle, moment_joint, axis,
percent) N m/kg and ``power_curves`` (cycle, power_joint, percent) W/kg), and, when the
capture has plates and Plug-in Gait ran, ``/kinetics`` (``moments``, ``joint_forces``,
``powers``, ``GroundReactionForce``, ``NormalisedGRF`` along ``frame``) and ``/contacts``
(plate, first, last, side, status, reason). A trial that failed is a file of attributes only
(``failed``, trial, stage, reason).

* :class:`TrialWriter` writes it, a span of frames at a time (grown along ``frame`` /
  ``analog_sample``) and the per-cycle curves a group of cycles at a time (at their rows), or
  buffered and written in one pass when the trial is one span;
* :func:`open_trial_file` reads it as a :class:`TrialFile` view (attributes, tables and
  markers' quality at once; the time series when asked, one array at a time), or its
  :class:`chainlab.results.TrialFailure`;
* :func:`write_trial_failure` writes a failure record.

A trial file that lacks what the study store needs, or whose arrays disagree with its tables,
raises ValueError naming the file.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import xarray as xr

from chainlab.io import _dataset  # noqa: F401 (xarray's dask probes quiet while dask is not imported)
from chainlab.io._netcdf import write_groups
from chainlab.io.store import atomic_path
from chainlab.results import TrialFailure
from chainlab.schema import (
    CONTACT_COLUMNS,
    CYCLE_COLUMNS,
    EVENT_COLUMNS,
    MEASURE_COLUMNS,
    METRIC_COLUMNS,
    TEXT_METRIC_COLUMNS,
)

TITLE = "chainlab trial"
WRITE_BLOCK = 4096  # frames per HDF5 chunk of the datasets grown along frame
ROW_CHUNK_BYTES = 2**20  # bytes per HDF5 chunk of the datasets written a few rows at a time (TrialWriter.rows)
GROUPS = ("kinematics", "plates", "events", "cycles", "metrics", "curves")


# --------------------------------------------------------------------------- tables


def table_dataset(df: pd.DataFrame) -> xr.Dataset:
    """A table as a Dataset along ``row`` (text columns as fixed strings)."""
    ds = xr.Dataset({c: ("row", df[c].to_numpy()) for c in df.columns})
    for c in df.columns:
        if df[c].dtype == object:
            ds[c] = ("row", df[c].to_numpy(dtype=str))
    return ds


def marker_quality(residuals: np.ndarray | None) -> np.ndarray:
    """(3, marker) quality of one trial's markers from its (frame, marker) residuals (m):
    mean residual (mm) over the frames where the marker is seen, % of frames where it is
    missing, and the number of gaps (runs of missing frames); NaN without frames."""
    n = 0 if residuals is None else residuals.shape[1]
    out = np.full((3, n), np.nan)
    if residuals is None or residuals.shape[0] == 0:
        return out
    for j in range(n):
        x = residuals[:, j]
        missing = np.isnan(x)
        out[0, j] = float(np.mean(x[~missing])) * 1000.0 if (~missing).any() else np.nan
        out[1, j] = 100.0 * missing.mean()
        out[2, j] = int(np.sum(missing[1:] & ~missing[:-1]) + missing[0])
    return out


# --------------------------------------------------------------------------- writing


def _synchronous():
    """Writes happen here, in this process: not through a dask scheduler (whose distributed
    lock xarray would otherwise take). Without dask imported, nothing to set, and nothing of
    dask is imported by the write (:func:`chainlab.io._dataset._quiet_dask_probes`)."""
    if "dask" not in sys.modules:
        return contextlib.nullcontext()
    import dask  # already imported: only when the trial ran its spans as dask tasks

    return dask.config.set(scheduler="synchronous")


class TrialWriter:
    """Datasets written to groups of one trial file, grown along a dimension.

    `buffered` (a trial of one span): the groups are kept and written in one pass by
    :meth:`close`, the file opened once instead of once per group (a third of a short trial's
    time); the contents are the same, and compressed files the same HDF5 chunks (uncompressed
    ones are contiguous; the frame dimension is fixed, not unlimited).

    Groups written with :meth:`rows` (the per-cycle curves) are written window by window at
    their rows, so that they are not held in memory (buffered: kept, and written last).
    """

    def __init__(self, path: Path, compress: bool = False, buffered: bool = False):
        self.path, self.compress, self.buffered = Path(path), compress, buffered
        self.created: set[str] = set()
        self.file = None
        self.dims: dict[str, str] = {}
        self.groups: dict[str, xr.Dataset] = {}  # buffered groups, in order
        self.parts: dict[str, list] = {}  # buffered groups written by rows(): [(rows, Dataset)]

    def _close(self):
        if self.file is not None:
            self.file.close()
            self.file = None

    def _h5(self):
        import h5netcdf  # the incremental writes of a trial of several spans

        if self.file is None:
            self.file = h5netcdf.File(self.path, "a")
        return self.file

    def root(self, ds: xr.Dataset, dim: str | None = None):
        self._write_new("/", ds, dim, mode="w")

    def _encoding(self, ds: xr.Dataset, dim: str | None, grown: bool, by_bytes: bool = False) -> dict:
        """HDF5 chunks (and gzip when compressed) of the variables along `dim`: WRITE_BLOCK
        rows, or (`by_bytes`) as many rows as fit in ROW_CHUNK_BYTES."""
        encoding = {}
        if dim is None or dim not in ds.dims:
            return encoding
        for name, var in ds.variables.items():
            if not var.dims or var.dims[0] != dim or var.dtype.kind not in "fiub":
                continue
            if not grown and (not self.compress or not var.size):
                continue
            first = WRITE_BLOCK if grown else min(WRITE_BLOCK, var.shape[0])
            if by_bytes:
                first = max(1, ROW_CHUNK_BYTES // (var.dtype.itemsize * int(np.prod(var.shape[1:], dtype=np.int64))))
            enc = {"chunksizes": (first,) + tuple(max(1, s) for s in var.shape[1:])}
            if self.compress and var.dtype.kind == "f" and var.ndim >= 2:
                enc |= {"compression": "gzip", "compression_opts": 4}
            encoding[name] = enc
        return encoding

    def _write_new(self, group: str, ds: xr.Dataset, dim: str | None, mode: str = "a"):
        self.created.add(group)
        self.dims[group] = dim
        if self.buffered:
            self.groups[group] = ds
            return
        self._close()
        with _synchronous():
            ds.to_netcdf(self.path, mode=mode, group=None if group == "/" else group, engine="h5netcdf",
                         unlimited_dims=[dim] if dim is not None and dim in ds.dims else None,
                         encoding=self._encoding(ds, dim, grown=True))

    def append(self, group: str, ds: xr.Dataset, dim: str):
        """`ds` added to `group` along `dim` (the group is created by the first)."""
        if group not in self.created:
            return self._write_new(group, ds, dim)
        if dim not in ds.dims or ds.sizes[dim] == 0:
            return
        if self.buffered:
            self.groups[group] = xr.concat([self.groups[group], ds], dim=dim, data_vars="minimal",
                                           coords="minimal", compat="override", combine_attrs="override")
            return
        f = self._h5()
        g = f if group == "/" else f[group.strip("/")]
        n0 = g.dimensions[dim].size
        k = ds.sizes[dim]
        g.resize_dimension(dim, n0 + k)
        for name, var in ds.variables.items():
            if var.dims and var.dims[0] == dim:
                g.variables[name][n0:n0 + k, ...] = var.values

    def rows(self, group: str, ds: xr.Dataset, dim: str, at: np.ndarray, size: int):
        """`ds` written at rows `at` (its rows' indices along `dim`, any order) of `group`,
        which has `size` rows (the first call creates it, `dim` unlimited, and every row is
        written by some call). Every call's `ds` has the same variables, coordinates and
        attributes."""
        at = np.asarray(at, dtype=np.int64)
        if self.buffered:
            self.created.add(group)
            self.dims[group] = dim
            self.parts.setdefault(group, []).append((at, ds))
            return
        f = self._h5()
        if group not in self.created:
            self.created.add(group)
            self.dims[group] = dim
            from xarray.backends import H5NetCDFStore  # with h5netcdf, as _h5

            store = H5NetCDFStore(f, group=group.strip("/"), mode="a")  # through this file handle
            with _synchronous():
                ds.isel({dim: slice(0, 0)}).dump_to_store(store, encoding=self._encoding(ds, dim, True, True),
                                                          unlimited_dims=[dim])
            f[group.strip("/")].resize_dimension(dim, size)
        if not at.size:
            return
        g = f[group.strip("/")]
        order = np.argsort(at, kind="stable")
        at = at[order]
        breaks = np.flatnonzero(np.diff(at) != 1) + 1
        for run in np.split(np.arange(at.size), breaks):  # runs of consecutive rows: one write each
            s0, s1 = int(at[run[0]]), int(at[run[-1]]) + 1
            for name, var in ds.variables.items():
                if var.dims and var.dims[0] == dim:
                    values = var.values[order[run]]
                    g.variables[name][s0:s1, ...] = values.astype(object) if values.dtype.kind == "U" else values

    def _gathered(self, group: str) -> xr.Dataset:
        """A buffered group written by :meth:`rows`, in the order of its rows."""
        parts = self.parts.pop(group)
        at = np.concatenate([a for a, _ in parts])
        ds = parts[0][1] if len(parts) == 1 else xr.concat([d for _, d in parts], dim=self.dims[group],
                                                             data_vars="minimal", coords="minimal",
                                                             compat="override", combine_attrs="override")
        back = np.argsort(at, kind="stable")
        return ds if np.array_equal(back, np.arange(at.size)) else ds.isel({self.dims[group]: back})

    def group(self, group: str, ds: xr.Dataset):
        """A whole group (a table)."""
        self.created.add(group)
        if self.buffered:
            self.groups[group] = ds
            return
        self._close()
        with _synchronous():
            ds.to_netcdf(self.path, mode="a", group=group, engine="h5netcdf")

    def dataset(self, group: str):
        """A group written so far, to read (a context manager): read through the file handle
        the writes go through, so that :meth:`rows` can write while it is open."""
        if self.buffered:
            return contextlib.nullcontext(self.groups[group])
        from xarray.backends import H5NetCDFStore  # with h5netcdf, as _h5

        store = H5NetCDFStore(self._h5(), group=None if group == "/" else group.strip("/"), mode="a")
        return contextlib.nullcontext(xr.open_dataset(store))  # not closed: the handle is the writer's

    def set_attrs(self, group: str, attrs: dict):
        if self.buffered:
            self.groups[group] = self.groups[group].assign_attrs(attrs)
            return
        f = self._h5()
        g = f if group == "/" else f[group.strip("/")]
        for k, v in attrs.items():
            g.attrs[k] = v

    def close(self):
        for group in list(self.parts):  # written last, as when written at once
            self.groups[group] = self._gathered(group)
        if self.buffered and self.groups:
            key = lambda g: "/" if g == "/" else f"/{g}"  # noqa: E731
            tree = xr.DataTree.from_dict({key(g): ds for g, ds in self.groups.items()})
            encoding = {key(g): self._encoding(ds, self.dims.get(g), grown=False) for g, ds in self.groups.items()}
            nodes = {node.path: node.to_dataset(inherit=node is tree) for node in tree.subtree}
            if not write_groups(self.path, nodes, encoding):  # what the one-pass writer does not write
                with _synchronous():
                    tree.to_netcdf(self.path, mode="w", engine="h5netcdf", encoding=encoding)
            self.groups = {}
        self._close()


def write_trial_failure(failure: TrialFailure, path: str | Path, provenance: dict | None = None) -> TrialFailure:
    """A trial file that records why the trial failed (so a workflow step still ends); the
    failure, now naming its file."""
    with atomic_path(path) as tmp, _synchronous():
        xr.Dataset(attrs={"title": TITLE, "failed": 1, **failure.record(), **(provenance or {})}).to_netcdf(
            tmp, engine="h5netcdf")
    return TrialFailure(failure.trial, failure.stage, failure.reason, Path(path))


# --------------------------------------------------------------------------- reading


def _strings(ds) -> np.ndarray:
    if h5py.check_string_dtype(ds.dtype) is not None:
        return np.asarray(ds.asstr()[()], dtype=object)
    return ds[()]


def _table(f, group: str, columns: list[str]) -> pd.DataFrame:
    g = f.get(group)
    if g is None or "row" not in g:
        return pd.DataFrame(columns=columns)
    n = g["row"].shape[0]
    # a column added to the schema after the file was written reads as "" (the measures' frame:
    # "lab", set by the reader)
    names = set(g)  # one listing of the group, not a lookup per column
    return pd.DataFrame({c: _strings(g[c]) if c in names else [""] * n for c in columns})


def _attr(a, key, default=""):
    v = a.get(key, default)
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.size == 1:
        return v.item()
    return v


def placed(values: np.ndarray, own: list[str], union: list[str], axis: int, dtype) -> np.ndarray:
    """`values` with its `axis` (named `own`) spread onto `union`, NaN where it has nothing."""
    if own == union:
        return values.astype(dtype, copy=False)
    shape = list(values.shape)
    shape[axis] = len(union)
    out = np.full(shape, np.nan, dtype)
    idx = [union.index(o) for o in own]
    out[(slice(None),) * axis + (idx,)] = values
    return out


class TrialFile:
    """A trial file on disk, as the study store reads it (:func:`open_trial_file`): its
    attributes, tables and markers' quality (0.37 MB of float32 residuals for 2,000 frames of
    46 markers, read and dropped) at once; its angles, plate forces and cycle curves when
    asked, one trial at a time, so the store's memory is that of its tables."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self._open()
        except (KeyError, TypeError, AttributeError) as exc:  # h5py's "object ... doesn't exist" and the like
            raise ValueError(f"{self.path}: not a complete chainlab trial output ({exc}); "
                             "expected the output of `chainlab trial`") from None
        n = {"cycles": len(self.cycles), "metrics": len(self.metrics), "curves": self._shapes["curves/curves"][0]}
        if len(set(n.values())) > 1:
            raise ValueError(f"{self.path}: its cycles disagree: {n} rows; expected one per cycle in each")
        for name, shape in (("kinematics/angles", (self.n_frames, len(self.outputs), 3)),
                            ("curves/curves", (n["cycles"], len(self.curve_variables), None)),
                            ("curves/angle_curves", (n["cycles"], len(self.joints), 3, None)),
                            ("curves/moment_curves", (n["cycles"], 3, 3, None)),
                            ("curves/power_curves", (n["cycles"], 3, None))):
            got = self._shapes[name]
            if len(got) != len(shape) or any(e is not None and g != e for g, e in zip(got, shape)):
                raise ValueError(f"{self.path}: {name} has shape {got}; expected {shape} (frames, outputs, "
                                 "axes / cycles, variables, points / cycles, joints, axes, points)")

    def _open(self):
        with h5py.File(self.path, "r") as f:
            self.n_plates = self.n_plates_in(f)
            needed = ["kinematics/time"] + (["plates/plate_force", "plates/axis"] if self.n_plates else [])
            for name in needed:  # what the readers below and the store's will ask for (KeyError if absent)
                f[name]
            # the shapes the tables must agree with (checked in __init__)
            self._shapes = {n: f[n].shape for n in ("kinematics/angles", "curves/curves", "curves/angle_curves",
                                                    "curves/moment_curves", "curves/power_curves")}
            a = f.attrs
            self.trial, self.subject, self.condition = (str(_attr(a, k)) for k in ("trial", "subject", "condition"))
            self.dynamic, self.static = Path(_attr(a, "dynamic")), Path(_attr(a, "static"))
            self.settings = str(_attr(a, "settings"))
            # the subject's measurements given by the study (its subjects table), Nexus' units
            self.subject_measurements = json.loads(_attr(a, "subject_measurements", "{}") or "{}")
            self.outputs_version = int(_attr(a, "outputs_version", 0) or 0)
            self.problems = json.loads(_attr(a, "problems", "[]") or "[]")
            self.standing = json.loads(_attr(a, "standing", "") or "null")  # the static's standing chain
            self.quality_problems = json.loads(_attr(a, "quality_problems", "[]") or "[]")
            kin, plates = f["kinematics"], f["plates"]
            self.models_left_out = json.loads(_attr(a, "models_left_out", "") or _attr(kin.attrs, "models_left_out", "")
                                              or "{}")
            self.calibration_source = str(_attr(kin.attrs, "calibration_source"))
            self.marker_mapping = str(_attr(kin.attrs, "marker_mapping"))
            self.rebuilt_markers = str(_attr(kin.attrs, "rebuilt_markers", "{}") or "{}")
            self.static_sha256 = str(_attr(kin.attrs, "static_sha256"))
            self.source_sha256 = str(_attr(plates.attrs, "source_sha256"))
            self.outputs = [str(o) for o in _strings(kin["output"])]
            self.n_frames = int(kin["frame"].shape[0])
            self.n_analog = int(plates["analog_time"].shape[0]) if self.n_plates else 0
            m = f.get("markers")
            if m is not None and "residuals" in m:
                self.markers = [str(x) for x in _strings(m["marker"])]
                self.quality = marker_quality(m["residuals"][()])
            else:
                self.markers, self.quality = [], np.zeros((3, 0))
            self.events = _table(f, "events", EVENT_COLUMNS)
            self.cycles = _table(f, "cycles", CYCLE_COLUMNS)
            columns = list(f["metrics"]) if "metrics" in f else None
            own = [c for c in columns if c not in METRIC_COLUMNS and c != "row"] if columns is not None else []
            self.metrics = _table(f, "metrics", METRIC_COLUMNS + sorted(own))  # + the config's measures'
            older = [c for c in METRIC_COLUMNS if c not in TEXT_METRIC_COLUMNS and columns is not None
                     and c not in columns]
            self.metrics[older] = np.nan  # a number column the file predates (the arch's)
            if older and len(self.metrics):  # said as the gait problems say a measure left out
                self.problems = self.problems + [
                    f"{self.dynamic.name}: {', '.join(older)} not measured: not in this trial file (written "
                    "before them); run the trial again to measure them"]
            self.measures = _table(f, "measures", MEASURE_COLUMNS)
            if "measures" in f and "frame" not in f["measures"]:
                self.measures["frame"] = "lab"  # files before the frame key: every measure in the lab's axes
            # the frame of the chain's measures (chainlab.gait.heading); files before it: lab
            self.chain_frame = str(_attr(f["metrics"].attrs, "frame", "lab")) if "metrics" in f else "lab"
            self.curve_variables = [str(v) for v in _strings(f["curves/variable"])]
            self.joints = [str(v) for v in _strings(f["curves/joint"])]
            self.kinetics_absent = str(_attr(a, "kinetics_absent", ""))
            self.contacts = _table(f, "contacts", CONTACT_COLUMNS)

    @staticmethod
    def n_plates_in(f) -> int:
        p = f["plates"]
        return int(p["plate"].shape[0]) if "plate" in p else 0

    def _read(self, name: str) -> np.ndarray:
        """One array of the file, read now."""
        try:
            with h5py.File(self.path, "r") as f:
                return f[name][()]
        except (OSError, KeyError) as exc:  # changed or removed since it was opened
            raise ValueError(f"{self.path}: cannot read {name}: {exc}") from None

    def angles(self) -> np.ndarray:
        """(frame, output, axis) deg."""
        return self._read("kinematics/angles")

    def frame(self) -> np.ndarray:
        return self._read("kinematics/frame")

    def time(self) -> np.ndarray:
        """(frame,) s."""
        return self._read("kinematics/time")

    def plate_vertical(self) -> np.ndarray:
        """(analog_sample, plate) N."""
        if not self.n_plates:
            return np.zeros((0, 0), np.float32)
        try:
            with h5py.File(self.path, "r") as f:
                axes = [str(x) for x in _strings(f["plates/axis"])]
                return f["plates/plate_force"][:, :, axes.index("z")]
        except (OSError, KeyError, ValueError) as exc:
            raise ValueError(f"{self.path}: cannot read the plate forces: {exc}") from None

    def analog_time(self) -> np.ndarray:
        return self._read("plates/analog_time") if self.n_plates else np.zeros(0)

    def curves(self) -> np.ndarray:
        """(cycle, variable, percent) deg."""
        return self._read("curves/curves")

    def moment_curves(self) -> np.ndarray:
        """(cycle, moment_joint (Hip, Knee, Ankle), axis, percent) N m/kg."""
        return self._read("curves/moment_curves")

    def power_curves(self) -> np.ndarray:
        """(cycle, power_joint (Hip, Knee, Ankle), percent) W/kg."""
        return self._read("curves/power_curves")

    def angle_curves(self, joints: list[str]) -> np.ndarray:
        """(cycle, joint, axis, percent) deg of every angle output on the cycle's side, on
        `joints` (NaN for a joint the trial does not have)."""
        return placed(self._read("curves/angle_curves"), self.joints, list(joints), 1, np.float64)


def open_trial_file(path: str | Path) -> TrialFile | TrialFailure:
    """A trial file's view, or the failure it records."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            a = f.attrs
            if _attr(a, "failed", 0):
                return TrialFailure(str(_attr(a, "trial")), str(_attr(a, "stage")), str(_attr(a, "reason")), path)
            missing = [g for g in GROUPS if g not in f]
            if _attr(a, "title") != TITLE or missing:
                raise ValueError(f"{path}: not a chainlab trial output (title {_attr(a, 'title')!r}, "
                                 f"missing groups {missing}); expected the output of `chainlab trial`")
    except OSError as exc:
        raise OSError(f"{path}: cannot read the trial output: {exc}") from exc
    return TrialFile(path)
