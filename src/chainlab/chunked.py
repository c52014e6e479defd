"""Trials in chunks of frames, computed by dask: kinematics, gait analysis and the trial output.

``chainlab kinematics`` and ``chainlab trial`` run every trial this way; a short trial is one
chunk. Peak memory is bounded by the chunk size (times the tasks in flight), whatever the
capture's length, and the result equals the in-memory one (:func:`chainlab.kinematics.
compute_kinematics`, :func:`chainlab.gait.analysis.analyse_trial`): tests/test_long_and_chunks.py.

Three passes over the file, each task reading its own frames from the C3D
(:func:`chainlab.read_c3d` with ``frames=``), never the rest:

1. **Summary** (tasks of :data:`SUMMARY_SPAN`-multiples of frames): the trial-wide quantities
   of the direct models (:class:`chainlab.kinematics.TrialSummary`: the frames where the
   pelvis is first and last seen, for the progression frame; the OFM cluster sums, for
   REPLACE4's trial means; the pelvis' facing switches; which markers are ever valid and
   their gaps; the same-subject distances), combined in frame order. With ``--solver
   global`` the tasks fit the chain first (on whole IK blocks) and summarise its markers.
   The same tasks filter each plate's normal force with an overlap of
   :data:`PLATE_OVERLAP_S` on each side (the zero-lag Butterworth's response to the cut has
   decayed below 1e-50 after 2 s) and keep its threshold crossings in their own frames; when
   the file stores no events, they find Zeni's kinematic peaks with an overlap of
   :data:`ZENI_OVERLAP_S`.
2. **Frames** (tasks of `chunk_frames`): segments, joint centres and raw angles of each chunk
   (:func:`chainlab.kinematics.frames_kinematics`; global IK from the chunk's block start),
   the plate forces and marker residuals, and the verdict on each plate contact that starts
   in the chunk (read with the frame before and after it). At most ``2 * threads`` chunks
   are in flight; results are written as they arrive, in order, after the continuity rule
   of the angle series (:class:`chainlab.model.continuity.Continuity`, which carries from chunk to
   chunk) into HDF5 datasets grown along ``frame`` / ``analog_sample``.
3. **Cycles**: events, cycles, and the curves and measures of the cycles, windows of cycles
   at a time, from the angles just written.

The file is written to a temporary name beside the output and renamed when complete.
Every dask computation runs in :func:`chainlab.parallel.dask_scheduler` (``--threads``,
``--scheduler`` or ``CHAINLAB_DASK_SCHEDULER``).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from chainlab.errors import C3DError, C3DWarning
from chainlab.io.c3d import c3d_frame_count, read_c3d, read_events
from chainlab.kinematics import (
    TEMPLATE_FRAMES,
    KinematicsOptions,
    TrialSummary,
    add_global_frames,
    angle_rules,
    fit_frames,
    frames_kinematics,
    global_attrs,
    global_summary,
    make_continuous,
    prepare,
    static_chain,
    summarise,
    template_chain,
    with_sacrum,
)
from chainlab.model._spans import SPAN as SUMMARY_SPAN

DEFAULT_CHUNK_FRAMES = 10_000
PLATE_OVERLAP_S = 2.0
ZENI_OVERLAP_S = 10.0
WRITE_CHUNK = 4096  # frames per HDF5 chunk of the growing datasets


def _read(path: Path, a: int, b: int) -> xr.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", C3DWarning)  # issued once, by the head read
        return read_c3d(path, frames=slice(a, b))


def _spans(n: int, chunk: int) -> list[tuple[int, int]]:
    return [(a, min(n, a + chunk)) for a in range(0, max(n, 1), chunk)]


@dataclass
class _Job:
    path: Path
    n: int
    head: xr.Dataset  # the first frame (attributes, parameters, markers names)
    static: xr.Dataset
    options: KinematicsOptions
    chain: object = None
    plates: list = field(default_factory=list)  # (plate number, corners)
    ratio: int = 1  # analog samples per frame
    need_zeni: bool = False
    first_frame: int = 1
    plate_options: object = None  # chainlab.gait.events.PlateEventOptions (None: the defaults)

    @property
    def point_rate(self) -> float:
        return float(self.head.attrs["point_rate"])

    @property
    def analog_rate(self) -> float:
        return float(self.head.attrs["analog_rate"])

    def analog_time(self, k):
        """Time of analog sample(s) k of the whole trial (as read_c3d computes it)."""
        a0 = (self.first_frame - 1) / self.point_rate if self.point_rate else 0.0
        return a0 + np.asarray(k, dtype=np.int64) / self.analog_rate if self.analog_rate else np.zeros(np.shape(k))

    def frame_time(self, i):
        return (self.first_frame + np.asarray(i, dtype=np.int64) - 1) / self.point_rate


def _job(path, static, options, need_gait: bool, plate_options=None) -> _Job:
    path = Path(path)  # as given: the file's messages name it so
    n = c3d_frame_count(path)
    head = read_c3d(path, frames=slice(0, 1))  # issues the file's read warnings once
    opt = options or KinematicsOptions()
    # the tasks open it by its absolute path: they may run in another folder (a distributed worker)
    job = _Job(path.resolve(), n, head, static, opt, plate_options=plate_options)
    job.first_frame = int(head.frame.values[0]) if head.sizes["frame"] else int(head.attrs.get("first_frame", 1))
    if opt.solver == "global":
        from chainlab.kinematics import _with_sacrum

        direct = replace(opt, solver="direct")
        job.static = _with_sacrum(static, [])
        window = read_c3d(path, frames=slice(0, min(n, TEMPLATE_FRAMES)))  # bounded: the template's frames
        job.chain = template_chain(static_chain(job.static, opt.chain, direct), window, job.static, opt)
    if need_gait:
        n_samples = head.sizes["analog_sample"]
        job.ratio = int(n_samples) if head.sizes["frame"] else 0
        if head.sizes.get("plate", 0) and n * job.ratio >= 16:
            job.plates = [(int(p), head.plate_corners.sel(plate=p).values) for p in head.plate.values]
        from chainlab.gait.events import c3d_events

        job.need_zeni = c3d_events(read_events(path)).empty
    return job


# --------------------------------------------------------------------------- dask


def _in_order(fn: Callable, items: list, threads: int | None, scheduler: str | None) -> Iterator:
    """``fn(*item)`` for every item as dask tasks, yielded in order, with at most 2 * threads
    results held at once."""
    import dask

    from chainlab.parallel import default_threads, dask_scheduler

    batch = 2 * max(1, int(threads) if threads else default_threads())
    with dask_scheduler(threads, scheduler):
        for k in range(0, len(items), batch):
            tasks = [dask.delayed(fn, pure=False, traverse=False)(*item) for item in items[k:k + batch]]
            yield from dask.compute(*tasks)


class _Progress:
    def __init__(self, name: str, stage: str, total: int, enabled: bool):
        self.name, self.stage, self.total, self.enabled = name, stage, total, enabled
        self.t0 = time.monotonic()

    def __call__(self, done: int) -> None:
        if self.enabled:
            pct = 100.0 * done / max(self.total, 1)
            print(f"{self.name}: {self.stage} {done}/{self.total} frames ({pct:.0f} %), "
                  f"{time.monotonic() - self.t0:.0f} s", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- pass 1


def _summary_task(job: _Job, a: int, b: int) -> dict:
    from scipy.signal import filtfilt

    from chainlab.gait.events import crossings, kinematic_peaks, kinematic_signals, normal_force, plate_filter

    ov = 0
    if job.plates:
        ov = int(np.ceil(PLATE_OVERLAP_S * job.point_rate))
    if job.need_zeni:
        ov = max(ov, int(np.ceil(ZENI_OVERLAP_S * job.point_rate)))
    w0, w1 = max(0, a - ov), min(job.n, b + ov)
    ds = _read(job.path, w0, w1)
    core = ds.isel(frame=slice(a - w0, b - w0))
    if job.chain is not None:
        fitted, res, measured = fit_frames(job.chain, core, a)
        summary = global_summary(job.chain, with_sacrum(fitted), res, measured, a)
        del fitted, res, measured
    else:
        summary = summarise(with_sacrum(core), a)
    out = {"summary": summary, "plates": {}, "zeni": {}}
    r = job.ratio
    if job.plates:
        fb, fa = plate_filter(job.analog_rate, job.plate_options)
        lo, hi = (a - w0) * r, (b - w0) * r
        for p, corners in job.plates:
            fn = filtfilt(fb, fa, normal_force(ds.plate_force.sel(plate=p).values, corners))
            s0 = max(lo - 1, 0)
            up, down = crossings(fn[s0:hi], job.plate_options)
            up, down = up + s0, down + s0
            keep = lambda k: k[(k >= lo) & (k < hi)] + w0 * r  # noqa: E731
            out["plates"][p] = (keep(up), keep(down), float(fn[0]) if a == 0 else None)
    if job.need_zeni:
        signals = kinematic_signals(ds)
        if isinstance(signals, list):
            out["zeni"] = signals
        else:
            for key, d in signals.items():
                pk = kinematic_peaks(d, job.point_rate)
                pk = pk[(pk >= a - w0) & (pk < b - w0)] + w0
                out["zeni"][key] = pk
    return out


def _summarise(job: _Job, chunk_frames: int, threads, scheduler, say: bool) -> dict:
    span = max(SUMMARY_SPAN, -(-chunk_frames // SUMMARY_SPAN) * SUMMARY_SPAN)
    spans = _spans(job.n, span)
    progress = _Progress(job.path.name, "summary", job.n, say)
    summary: TrialSummary | None = None
    plates: dict = {p: ([], [], None) for p, _ in job.plates}
    zeni: dict | list = {}
    for (a, b), part in zip(spans, _in_order(_summary_task, [(job, a, b) for a, b in spans], threads, scheduler)):
        summary = part["summary"] if summary is None else summary.then(part["summary"])
        for p, (up, down, fn0) in part["plates"].items():
            u, d, f0 = plates[p]
            plates[p] = (u + [up], d + [down], fn0 if fn0 is not None else f0)
        if isinstance(part["zeni"], list):
            zeni = part["zeni"]
        else:
            for key, pk in part["zeni"].items():
                zeni.setdefault(key, []).append(pk)
        progress(b)
    plates = {p: (np.concatenate(u) if u else np.empty(0, np.int64), np.concatenate(d) if d else np.empty(0, np.int64),
                  f0 if f0 is not None else 0.0) for p, (u, d, f0) in plates.items()}
    if isinstance(zeni, dict):
        zeni = {k: np.concatenate(v) for k, v in zeni.items()}
    return {"summary": summary, "plates": plates, "zeni": zeni}


# --------------------------------------------------------------------------- pass 2


def _cut_ik(res, s: slice):
    from chainlab.model.ik import IKResult

    return IKResult(res.pose.take(s), res.markers[s], res.residual[s], res.rms[s], res.max[s], res.iterations[s],
                    res.converged[s])


def _plates_ds(job: _Job, cap: xr.Dataset, first_sample: int) -> xr.Dataset:
    attrs = {"source_sha256": cap.attrs["source_sha256"], "source_file": cap.attrs["source_file"]}
    if not cap.sizes.get("plate", 0):
        return xr.Dataset(attrs=attrs)
    k = np.arange(first_sample, first_sample + cap.sizes["analog_sample"])
    cap = cap.assign_coords(analog_time=("analog_sample", job.analog_time(k), cap.analog_time.attrs))
    return xr.Dataset({"plate_force": cap.plate_force.astype(np.float32)}, coords={"analog_time": cap.analog_time},
                      attrs=attrs)


def _frames_task(job: _Job, prep, gattrs: dict, a: int, b: int, contacts: list, gait: bool) -> dict:
    from chainlab.gait.events import foot_markers, judge_feet
    from chainlab.model.ik import BLOCK

    lo, hi = a, b
    for _, f_lo, f_hi, _ in contacts:
        lo, hi = min(lo, f_lo - 1), max(hi, f_hi + 2)
    if job.chain is not None:
        a0, e0 = (a // BLOCK) * BLOCK, min(job.n, -(-b // BLOCK) * BLOCK)
        lo, hi = min(lo, a0), max(hi, e0)
    w0, w1 = max(0, lo), min(job.n, hi)
    ds = _read(job.path, w0, w1)
    core = ds.isel(frame=slice(a - w0, b - w0))
    if job.chain is not None:
        fitted, res, measured = fit_frames(job.chain, ds.isel(frame=slice(a0 - w0, e0 - w0)), a0)
        cut = slice(a - a0, b - a0)
        fitted = with_sacrum(fitted.isel(frame=cut))
        out = frames_kinematics(prep, fitted)
        out = add_global_frames(out, job.chain, _cut_ik(res, cut), measured[cut], gattrs)
    else:
        out = frames_kinematics(prep, with_sacrum(core))
    result = {"kinematics": out}
    if gait:
        r = job.ratio
        cap = core.isel(analog_sample=slice((a - w0) * r, (b - w0) * r))
        result["plates"] = _plates_ds(job, cap, a * r)
        result["markers"] = xr.Dataset({"residuals": cap.residuals.astype(np.float32)} if "residuals" in cap else {})
        verdicts = {}
        feet = foot_markers(ds) if contacts else {}
        for key, f_lo, f_hi, corners in contacts:
            s0, s1 = max(0, f_lo - 1), min(job.n, f_hi + 2)
            frames = np.zeros(s1 - s0, bool)
            frames[f_lo - s0:f_hi + 1 - s0] = True
            verdicts[key] = judge_feet({k: v[s0 - w0:s1 - w0] for k, v in feet.items()}, corners, frames,
                                       job.point_rate, job.plate_options)
        result["verdicts"] = verdicts
    return result


# --------------------------------------------------------------------------- writing


class _Writer:
    """Datasets written to groups of one netCDF4/HDF5 file, grown along a dimension.

    `buffered` (a trial of one chunk): the groups are kept and written in one pass by
    :meth:`close`, the file opened once instead of once per group (a third of a short trial's
    time); the contents are the same, and compressed files the same chunks (uncompressed ones are
    contiguous; the frame dimension is fixed, not unlimited).
    """

    def __init__(self, path: Path, compress: bool = False, buffered: bool = False):
        self.path, self.compress, self.buffered = Path(path), compress, buffered
        self.created: set[str] = set()
        self.file = None
        self.dims: dict[str, str] = {}
        self.groups: dict[str, xr.Dataset] = {}  # buffered groups, in order

    def _close(self):
        if self.file is not None:
            self.file.close()
            self.file = None

    def root(self, ds: xr.Dataset, dim: str | None = None):
        self._write_new("/", ds, dim, mode="w")

    def _write_new(self, group: str, ds: xr.Dataset, dim: str | None, mode: str = "a"):
        if self.buffered:
            self.groups[group] = ds
            self.created.add(group)
            self.dims[group] = dim
            return
        self._close()
        encoding = {}
        if dim is not None and dim in ds.dims:
            for name, var in ds.variables.items():
                if var.dims and var.dims[0] == dim and var.dtype.kind in "fiub":
                    enc = {"chunksizes": (WRITE_CHUNK,) + tuple(max(1, s) for s in var.shape[1:])}
                    if self.compress and var.dtype.kind == "f" and var.ndim >= 2:
                        enc |= {"compression": "gzip", "compression_opts": 4}
                    encoding[name] = enc
        import dask

        # written here, in this process: not through the tasks' scheduler (whose distributed lock
        # xarray would otherwise take)
        with dask.config.set(scheduler="synchronous"):
            ds.to_netcdf(self.path, mode=mode, group=None if group == "/" else group, engine="h5netcdf",
                         unlimited_dims=[dim] if dim is not None and dim in ds.dims else None, encoding=encoding)
        self.created.add(group)
        self.dims[group] = dim

    def append(self, group: str, ds: xr.Dataset, dim: str):
        if group not in self.created:
            return self._write_new(group, ds, dim)
        if dim not in ds.dims or ds.sizes[dim] == 0:
            return
        if self.buffered:
            self.groups[group] = xr.concat([self.groups[group], ds], dim=dim, data_vars="minimal",
                                           coords="minimal", compat="override", combine_attrs="override")
            return
        import h5netcdf

        if self.file is None:
            self.file = h5netcdf.File(self.path, "a")
        g = self.file if group == "/" else self.file[group.strip("/")]
        n0 = g.dimensions[dim].size
        k = ds.sizes[dim]
        g.resize_dimension(dim, n0 + k)
        for name, var in ds.variables.items():
            if var.dims and var.dims[0] == dim:
                g.variables[name][n0:n0 + k, ...] = var.values

    def group(self, group: str, ds: xr.Dataset):
        """A whole group (a table)."""
        if self.buffered:
            self.groups[group] = ds
        else:
            self._close()
            ds.to_netcdf(self.path, mode="a", group=group, engine="h5netcdf")
        self.created.add(group)

    def dataset(self, group: str):
        """A group written so far, to read (a context manager)."""
        if self.buffered:
            return contextlib.nullcontext(self.groups[group])
        self._close()
        return xr.open_dataset(self.path, group=group, engine="h5netcdf")

    def set_attrs(self, group: str, attrs: dict):
        if self.buffered:
            self.groups[group] = self.groups[group].assign_attrs(attrs)
            return
        import h5netcdf

        if self.file is None:
            self.file = h5netcdf.File(self.path, "a")
        g = self.file if group == "/" else self.file[group.strip("/")]
        for k, v in attrs.items():
            g.attrs[k] = v

    def close(self):
        if self.buffered and self.groups:
            import dask

            tree = xr.DataTree.from_dict({("/" if g == "/" else f"/{g}"): ds for g, ds in self.groups.items()})
            encoding = {}
            for g, ds in self.groups.items():  # compressed: in chunks of frames, as the incremental writes
                enc, dim = {}, self.dims.get(g)
                for name, var in ds.variables.items():
                    if not self.compress or dim is None or not var.size or not var.dims or var.dims[0] != dim \
                            or var.dtype.kind not in "fiub":
                        continue
                    enc[name] = {"chunksizes": (min(WRITE_CHUNK, var.shape[0]),) + tuple(max(1, k) for k in var.shape[1:])}
                    if self.compress and var.dtype.kind == "f" and var.ndim >= 2:
                        enc[name] |= {"compression": "gzip", "compression_opts": 4}
                encoding["/" if g == "/" else f"/{g}"] = enc
            with dask.config.set(scheduler="synchronous"):
                tree.to_netcdf(self.path, mode="w", engine="h5netcdf", encoding=encoding)
            self.groups = {}
        self._close()


# --------------------------------------------------------------------------- the trial


@dataclass
class ChunkedResult:
    path: Path
    n_frames: int
    outputs: int
    partial: bool
    models_left_out: str
    events: pd.DataFrame | None = None
    cycles: pd.DataFrame | None = None
    metrics: pd.DataFrame | None = None
    problems: list[str] = field(default_factory=list)


def _contacts(job: _Job, plates: dict):
    """Per plate, its contacts in order (rejections or contacts to judge), and the contacts
    to judge as (key, first frame index, last frame index, corners)."""
    from chainlab.gait.events import plate_contacts

    items, todo = {}, []
    for p, corners in job.plates:
        up, down, fn0 = plates[p]
        where = f"plate {p}"
        listed = plate_contacts(fn0, up, down, job.analog_time, where, job.plate_options)
        out = []
        for item in listed:
            if isinstance(item, str):
                out.append(item)
                continue
            start, stop = item
            t0, t1 = float(job.analog_time(start)), float(job.analog_time(stop))
            span = f"{where}, {t0:.2f}-{t1:.2f} s"
            guess0 = int(np.floor(t0 * job.point_rate)) - job.first_frame + 1
            guess1 = int(np.ceil(t1 * job.point_rate)) - job.first_frame + 1
            idx = np.arange(max(0, guess0 - 3), min(job.n, guess1 + 4))
            t = job.frame_time(idx)
            inside = idx[(t >= t0) & (t <= t1)]
            if inside.size == 0:
                out.append(f"{span}: no marker frame during the contact")
                continue
            key = (p, start)
            out.append((key, span, t0, t1))
            todo.append((key, int(inside[0]), int(inside[-1]), corners))
        items[p] = out
    return items, todo


def _events(job: _Job, first: dict, verdicts: dict):
    from chainlab.gait.events import (
        EventResult,
        _table,
        c3d_events,
        contact_rows,
        merge_events,
    )

    rows, rejected = [], []
    items, _ = _contacts(job, first["plates"]) if job.plates else ({}, [])
    for p, _ in job.plates:
        for item in items[p]:
            if isinstance(item, str):
                rejected.append(item)
                continue
            key, span, t0, t1 = item
            side, reason = verdicts[key]
            if side is None:
                rejected.append(f"{span}: {reason}")
            else:
                rows += contact_rows(side, t0, t1, job.point_rate, f"plate {p}")
    plates = EventResult(_table(rows), rejected)
    stored = c3d_events(read_events(job.path))
    if stored.empty:
        zeni = first["zeni"]
        if isinstance(zeni, list):
            kin = EventResult(_table([]), [f"kinematic events need {', '.join(zeni)}"])
        else:
            krows = []
            for (side, lab), pk in zeni.items():
                krows += [{"side": side, "label": lab, "time": float(job.frame_time(i)),
                           "frame": int(job.first_frame + i), "source": "kinematic"} for i in pk]
            kin = EventResult(_table(krows), [])
    else:
        kin = EventResult(_table([]))
    return merge_events(plates, stored, kin)


def _cycle_measures(job: _Job, kin: xr.Dataset, cycles: pd.DataFrame, chunk_frames: int):
    """Curves and measures of every cycle, from windows of the written angles."""
    from chainlab.gait.metrics import cycle_curves, cycle_metrics

    markers = [m for m in ("LASI", "RASI") if m in set(kin.marker.values.tolist())]
    small = kin[["angles", "markers"]].sel(marker=markers)
    if cycles.empty:
        w = small.isel(frame=slice(0, min(1, job.n))).load()
        curves = cycle_curves(w, cycles)
        return curves, cycle_metrics(w, cycles, curves)
    rate = job.point_rate
    index = lambda t: t * rate - job.first_frame + 1  # noqa: E731
    lo = np.maximum(0, np.floor(index(cycles.start.to_numpy())).astype(int) - 2)
    hi = np.minimum(job.n, np.ceil(index(cycles.end.to_numpy())).astype(int) + 3)
    order = np.argsort(lo, kind="stable")
    groups, cur = [], []
    for i in order:
        if cur and max(hi[j] for j in cur + [i]) - lo[cur[0]] > chunk_frames:
            groups.append(cur)
            cur = []
        cur.append(i)
    groups.append(cur)
    data = None
    tables, rows = [], []
    template = None
    for g in groups:
        w = small.isel(frame=slice(int(lo[g[0]]), int(max(hi[j] for j in g)))).load()
        sub = cycles.iloc[g]
        c = cycle_curves(w, sub)
        if data is None:
            template = c
            data = np.full((len(cycles),) + c.shape[1:], np.nan)
        data[g] = c.values
        tables.append(cycle_metrics(w, sub, c))
        rows += list(g)
    curves = xr.DataArray(data, dims=template.dims,
                          coords={"variable": template["variable"].values, "percent": template["percent"].values,
                                  "side": ("cycle", cycles.side.to_numpy(dtype=str))},
                          attrs=template.attrs)
    metrics = pd.concat(tables, ignore_index=True)
    metrics = metrics.iloc[np.argsort(rows, kind="stable")].reset_index(drop=True)
    return curves, metrics


def run_chunked(dynamic, static: xr.Dataset, out_path, options: KinematicsOptions | None = None, *,
                chunk_frames: int = DEFAULT_CHUNK_FRAMES, threads: int | None = None, scheduler: str | None = None,
                gait: bool = True, trial_attrs: dict | None = None, compress: bool = False,
                progress: bool | None = None, plate_options=None) -> ChunkedResult:
    """One trial in chunks into its output file (see the module docstring).

    With `gait`, the trial output of :func:`chainlab.study.write_trial_output` (groups
    kinematics, plates, markers, events, cycles, metrics, curves; `trial_attrs` in the root);
    without, the kinematics file of ``chainlab kinematics`` (the kinematics Dataset in the root
    group). `plate_options` (:class:`chainlab.gait.events.PlateEventOptions`) sets the plate
    events' thresholds and filter. `progress` (default: when the trial has more than one chunk) prints each chunk's
    progress on stderr.
    """
    stage = ["setup"]
    try:
        return _run_chunked(dynamic, static, out_path, options, chunk_frames, threads, scheduler, gait,
                            trial_attrs, compress, progress, stage, plate_options)
    except Exception as exc:
        exc.chainlab_stage = "read" if isinstance(exc, C3DError) else stage[0]
        raise


def _run_chunked(dynamic, static, out_path, options, chunk_frames, threads, scheduler, gait, trial_attrs, compress,
                 progress, stage, plate_options=None) -> ChunkedResult:
    from chainlab.io.store import atomic_path
    from chainlab.parallel import scheduler_name
    from chainlab.study import _table_to_ds

    scheduler_name(scheduler)  # an unknown scheduler fails before any work
    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be >= 1; found {chunk_frames}")
    opt = options or KinematicsOptions()
    if opt.solver not in ("direct", "global"):
        raise ValueError(f"solver must be 'direct' or 'global'; found {opt.solver!r}")
    stage[0] = "read"
    job = _job(dynamic, static, opt, gait, plate_options)
    stage[0] = "kinematics"
    name = job.path.name
    say = progress if progress is not None else job.n > chunk_frames
    first = _summarise(job, chunk_frames, threads, scheduler, say)
    direct = replace(opt, solver="direct")
    head = with_sacrum(job.head)
    gattrs = {}
    if job.chain is not None:
        head = with_sacrum(job.head.reindex(marker=list(dict.fromkeys(job.head.marker.values.tolist()
                                                                       + list(job.chain.markers)))))
        head.attrs["_raw_marker_names"] = first["summary"].names  # the fitted markers, as in memory
        gattrs = global_attrs(job.chain, first["summary"], job.head.marker.values.tolist(), opt)
    prep = prepare(head, first["summary"], job.static, direct)
    rules = angle_rules(prep)

    contacts = _contacts(job, first["plates"])[1] if gait and job.plates else []
    spans = _spans(job.n, chunk_frames)
    starts = np.array([a for a, _ in spans])
    per_chunk: list[list] = [[] for _ in spans]
    for c in contacts:
        per_chunk[int(np.searchsorted(starts, c[1], side="right") - 1)].append(c)
    items = [(job, prep, gattrs, a, b, per_chunk[k], gait) for k, (a, b) in enumerate(spans)]
    state: dict = {}
    verdicts: dict = {}
    say_frames = _Progress(name, "frames", job.n, say)
    kin_group = "kinematics" if gait else "/"
    outputs, partial, left_out = 0, False, "{}"
    with atomic_path(out_path) as tmp:
        w = _Writer(tmp, compress=compress, buffered=len(spans) == 1)
        if gait:
            root = dict(trial_attrs or {})
            root.setdefault("title", "chainlab trial")
            root["problems"] = "[]"
            w.root(xr.Dataset(attrs=root))
        for (a, b), res in zip(spans, _in_order(_frames_task, items, threads, scheduler)):
            kin = make_continuous(res["kinematics"], state, rules)
            outputs, partial, left_out = kin.sizes["output"], bool(kin.attrs["partial"]), kin.attrs["models_left_out"]
            if gait:
                w.append(kin_group, kin, "frame")
                w.append("plates", res["plates"], "analog_sample")
                w.append("markers", res["markers"], "frame")
                verdicts |= res["verdicts"]
            elif kin_group not in w.created:
                w.root(kin, "frame")
            else:
                w.append("/", kin, "frame")
            say_frames(b)
        if not gait:
            w.close()
        result = ChunkedResult(Path(out_path), job.n, outputs, partial, left_out)
        if gait:
            stage[0] = "gait"
            ev = _events(job, first, verdicts)
            from chainlab.gait.analysis import gait_problems
            from chainlab.gait.cycles import find_cycles

            cyc = find_cycles(ev.events)
            with w.dataset("kinematics") as kin:
                curves, metrics = _cycle_measures(job, kin, cyc.cycles, max(chunk_frames, 1000))
            if say:
                print(f"{name}: {len(ev.events)} events, {len(metrics)} cycles measured, "
                      f"{time.monotonic() - say_frames.t0:.0f} s", file=sys.stderr, flush=True)
            problems = gait_problems(name, ev, cyc, metrics)
            for group, ds in (("events", _table_to_ds(ev.events)), ("cycles", _table_to_ds(cyc.cycles)),
                              ("metrics", _table_to_ds(metrics)), ("curves", curves.to_dataset(name="curves"))):
                w.group(group, ds)
            w.set_attrs("/", {"problems": json.dumps(problems)})
            w.close()
            result.events, result.cycles, result.metrics, result.problems = ev.events, cyc.cycles, metrics, problems
    return result


__all__ = ["DEFAULT_CHUNK_FRAMES", "ChunkedResult", "run_chunked"]
