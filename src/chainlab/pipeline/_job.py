"""A trial's job (:mod:`chainlab.pipeline`): what every pass needs to know of the trial, and
its reading, a window of frames at a time (:func:`_read`).

A trial of one chunk is read once: its passes (summary, frames, the quality checks) ask for
the same window, every frame, and :func:`_read` gives them the same Dataset, its arrays
read-only, instead of reading the capture again (``_Job.keep_read``). A trial of several
chunks reads each window when a task asks for it, so that memory stays bounded.
"""

from __future__ import annotations

import ctypes
import warnings
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import xarray as xr

from chainlab.errors import C3DWarning
from chainlab.gait.events import c3d_events
from chainlab.io.c3d import read_events
from chainlab.io.mapped import read_capture
from chainlab.model.measurements import from_dataset
from chainlab.kinematics import (
    TEMPLATE_FRAMES,
    KinematicsOptions,
    _with_sacrum,
    static_chain,
    template_chain,
    without_markers,
)
from chainlab.kinematics.stored import StoredPlan, plan_from_stored
from chainlab.kinetics import KineticsOptions
from chainlab.model.clusters import rebuild_markers
from chainlab.options import PlateEventOptions


def _read(job: "_Job", a: int, b: int) -> xr.Dataset:
    """Frames [a, b) of the trial, with its marker mapping, without its markers never valid in
    the whole trial, and with its rebuilt cluster markers (the one kept when `job` keeps its
    read and asks for the same window again)."""
    key = (a, b, job.absent, job.rebuild)
    if job.keep_read and job.last_read is not None and job.last_read[0] == key:
        return job.last_read[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", C3DWarning)  # issued once, by the head read
        ds = read_capture(job.path, slice(a, b), job.mapping)
    ds = without_markers(ds, job.absent) if job.absent else ds  # never valid in the whole trial: in no chunk
    if job.rebuild:
        ds, _ = rebuild_markers(ds, job.static, only=job.rebuild)
    if job.keep_read:
        for var in ds.variables.values():  # shared by the passes: none may change it
            if isinstance(var.data, np.ndarray):
                var.data.flags.writeable = False
        job.last_read = (key, ds)
    return ds


def _malloc_trim():
    """glibc's ``malloc_trim``, or None (another C library)."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return None


_TRIM = _malloc_trim()


def release_freed_memory() -> None:
    """Give the memory freed by a trial of several chunks back to the system (glibc's
    ``malloc_trim``; nothing elsewhere). The chunks' arrays, once freed, otherwise stay in the
    allocator's free lists (one arena per worker thread) and count in the process' memory:
    after the summary and frames passes of an hour at 200 Hz, 150-250 MiB of it. Called
    between passes and as chunks are written, not for a trial of one chunk."""
    if _TRIM is not None:
        _TRIM(0)


def _spans(n: int, size: int) -> list[tuple[int, int]]:
    return [(a, min(n, a + size)) for a in range(0, max(n, 1), size)]


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
    plate_options: PlateEventOptions | None = None
    mapping: dict | None = None  # the lab's marker labels -> chainlab's
    rebuild: tuple = ()  # cluster markers absent from the whole trial, rebuilt from the static
    absent: tuple = ()  # markers whose label is there but never valid in the whole trial: dropped
    stored: StoredPlan | None = None  # no static trial: the calibration stored in the capture
    chain_frame: str = "heading"  # the chain's study measures: heading or lab (chainlab.gait.heading)
    kinetics: KineticsOptions | None = None  # asked for; computed when the capture has plates
    kinetics_absent: str = "kinetics not asked for (kinetics.enabled: false)"  # why the trial has none ('' when it has)
    contacts_refused: str = ""  # the refused plate contacts, named
    keep_read: bool = False  # a trial of one chunk: its window read once, for every pass (_read)
    last_read: tuple | None = field(default=None, repr=False)  # ((a, b, absent, rebuild), Dataset) when keep_read

    @cached_property
    def capture_events(self) -> xr.Dataset:  # the capture's EVENT group, read once per trial
        return read_events(self.path)

    @property
    def plate_loads(self) -> bool:
        """Whether the summary pass gathers the plates' loads for the kinetics."""
        return (self.kinetics is not None and bool(self.head.sizes.get("plate", 0)) and "pig" in self.options.models
                and self.options.solver == "direct" and self.has_body_mass)

    @property
    def has_body_mass(self) -> bool:
        """Whether the capture's PROCESSING or the subject's measurements give the body mass:
        without it the kinetics are refused (:func:`chainlab.kinetics.trial.trial_setup`, with
        the same reason) and the plates' loads are not gathered."""
        mass = {**from_dataset(self.head), **dict(self.options.subject or {})}.get("Bodymass", np.nan)
        return bool(np.isfinite(float(mass)) and float(mass) > 0)

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


def _job(path, static, opt: KinematicsOptions, need_gait: bool, plate_options=None, kinetics=None,
         mapping=None, chunk_frames: int | None = None) -> _Job:
    """The trial's job; `chunk_frames`: the trial's reads are kept when it is one chunk."""
    path = Path(path)  # as given: the file's messages name it so
    head = read_capture(path, slice(0, 1), mapping)  # issues the file's read warnings once
    n = int(head.attrs["frames_in_file"])
    # the tasks open it by its absolute path: they may run in another folder (a distributed worker)
    job = _Job(path.resolve(), n, head, static, opt, plate_options=plate_options, kinetics=kinetics,
               mapping=mapping, keep_read=chunk_frames is not None and n <= chunk_frames)
    job.first_frame = int(head.frame.values[0]) if head.sizes["frame"] else int(head.attrs.get("first_frame", 1))
    if static is None:  # the calibration stored in the capture (kinematics.stored)
        job.stored = plan_from_stored(_read(job, 0, min(n, 1000)), opt)
        static, opt = job.stored.static, job.stored.options
        job.static, job.options = static, opt
    if opt.solver == "global":
        direct = replace(opt, solver="direct")
        job.static = _with_sacrum(static, [])
        window = _read(job, 0, min(n, TEMPLATE_FRAMES))  # bounded: the template's frames
        job.chain = template_chain(static_chain(job.static, opt.chain, direct), window, job.static, opt)
    if need_gait:
        job.ratio = int(head.sizes["analog_sample"]) if head.sizes["frame"] else 0
        if head.sizes.get("plate", 0) and n * job.ratio >= 16:
            job.plates = [(int(p), head.plate_corners.sel(plate=p).values) for p in head.plate.values]
        job.need_zeni = c3d_events(job.capture_events).empty
    return job
