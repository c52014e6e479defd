"""One trial, the one way: read -> calibrate -> kinematics -> events and cycles -> measures -> write.

Every entry point runs a trial here (``chainlab trial``, ``trials``, ``study``, ``gait``,
``kinematics``, the workflow, the tests): :func:`run_trial` into its trial file
(:mod:`chainlab.io.trial_file`), :func:`run_kinematics` into a kinematics file.

A trial is computed in **chunks**: spans of `chunk_frames` frames, each one unit of work. A
trial that fits in one chunk is plain function calls in this thread (no dask scheduler, no dask
import) and is written in one pass; a longer one runs its chunks as dask tasks
(:func:`chainlab.parallel.in_order`) and is written as they arrive, so peak memory is bounded by
the chunk size (times the tasks in flight), whatever the capture's length. The result does not
depend on the chunk size (tests/test_long_and_chunks.py). Each chunk reads its own frames from
the C3D (:func:`chainlab.read_c3d` with ``frames=``), never the rest. Three passes:

1. **Summary** (spans of :data:`SUMMARY_SPAN`-multiples of frames): the trial-wide quantities
   of the direct models (:class:`chainlab.kinematics.TrialSummary`: the frames where the
   pelvis is first and last seen, for the progression frame; the OFM cluster sums, for
   REPLACE4's trial means; the pelvis' facing switches; which markers are ever valid and
   their gaps; the same-subject distances), combined in frame order. With ``--solver
   global`` the chain is fitted first (on whole IK blocks) and its markers summarised. The
   same pass filters each plate's normal force with an overlap of :data:`PLATE_OVERLAP_S` on
   each side (the zero-lag Butterworth's response to the cut has decayed below 1e-50 after
   2 s) and keeps its threshold crossings; when the file stores no events, it finds Zeni's
   kinematic peaks with an overlap of :data:`ZENI_OVERLAP_S`.
2. **Frames** (chunks): segments, joint centres and raw angles
   (:func:`chainlab.kinematics.frames_kinematics`; global IK from the chunk's block start),
   the plate forces and marker residuals, and the verdict on each plate contact that starts
   in the chunk (read with the frame before and after it), written in order after the
   continuity rule of the angle series (:class:`chainlab.model.continuity.Continuity`, carried from
   chunk to chunk).
3. **Cycles**: events (:func:`chainlab.gait.events.contact_events`, the same assembly as a
   whole trial's), cycles, and per cycle the chain's curves, every angle output's curve and
   the measures, windows of cycles at a time, from the angles written; the kinetic curves and
   measures (:mod:`chainlab.gait.kinetic_metrics`) from the kinetics written, windows of cycles
   at a time too; each window's curves written as they come; the config's own
   measures (:func:`chainlab.gait.measures.trial_measures`) into ``/measures``, their per-cycle
   values joined onto the metrics (:mod:`chainlab.pipeline.cycles`).

**Kinetics** (:mod:`chainlab.kinetics.trial` has the recipe) when the capture has plates
and Plug-in Gait runs, into ``/kinetics`` (a kinematics file: beside the angles); otherwise
the root's ``kinetics_absent`` says why.

The file is written to a temporary name beside the output and renamed when complete.

**Failures.** A trial that fails returns (and records in its file) a
:class:`chainlab.results.TrialFailure` naming the stage (read, kinematics, gait) and the
reason; the study goes on. A fault of the machine (:func:`is_trial_fault`: out of memory, an
I/O error once the captures are read) is raised with nothing written, so that a rerun can
succeed; a mistake in the call's arguments (an unknown scheduler, chunks below one frame)
raises :class:`TrialSetupError`.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from chainlab.errors import C3DError, ChainlabError, ModelInputError
from chainlab.gait import heading
from chainlab.gait.events import (
    crossings,
    foot_markers,
    judge_feet,
    kinematic_peaks,
    kinematic_signals,
    normal_force,
    plate_filter,
)
from chainlab.io.mapped import load_marker_mapping, mapping_text, read_capture
from chainlab.io.store import atomic_path
from chainlab.io.trial_file import TITLE, TrialWriter, write_trial_failure
from chainlab.kinematics import (
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
    summarise,
    with_sacrum,
    without_markers,
)
from chainlab.kinetics import KineticsOptions
from chainlab.kinetics.trial import OVERLAP, TrialKinetics, contacts_dataset, refused_text, span_loads, trial_kinetics
from chainlab.model._spans import SPAN as SUMMARY_SPAN
from chainlab.model.ik import BLOCK, IKResult
from chainlab.parallel import Progress, SchedulerError, in_order, scheduler_name
from chainlab.results import TrialFailure, TrialResult, TrialRow
from chainlab.kinematics.stored import stored_attrs
from chainlab.pipeline._job import _Job, _job, _read, _spans, release_freed_memory
from chainlab.subjects import standing_of_static
from chainlab.trial_checks import CHECK_FRAMES, input_attrs, quality_problems, rebuild_candidates

if TYPE_CHECKING:  # imported by run_trial when it runs
    from chainlab.config import StudyConfig

DEFAULT_CHUNK_FRAMES = 10_000
PLATE_OVERLAP_S = 2.0
ZENI_OVERLAP_S = 10.0


class TrialSetupError(ValueError):
    """A mistake in how a trial was asked to run (an unknown scheduler, `chunk_frames` below
    1, an unknown solver): the caller's, not the trial's; nothing is written."""


def is_trial_fault(exc: BaseException, stage: str) -> bool:
    """Whether an error at `stage` is the trial's (recorded as its failure, and the study goes
    on) rather than the machine's: running out of memory, or an I/O error once the captures
    are read (a full disk, a lost dask worker), fails the job instead, so that a rerun or
    Snakemake's retry can succeed."""
    if isinstance(exc, MemoryError):
        return False
    if isinstance(exc, OSError):
        return stage == "read"  # the captures cannot be opened or read
    return True  # bad data: ChainlabError, ValueError, or any error a trial's numbers raise


# --------------------------------------------------------------------------- pass 1: summary


def _summary_task(job: _Job, a: int, b: int) -> dict:
    ov = 0
    if job.plates:
        ov = int(np.ceil(PLATE_OVERLAP_S * job.point_rate))
    if job.need_zeni:
        ov = max(ov, int(np.ceil(ZENI_OVERLAP_S * job.point_rate)))
    if job.plate_loads:
        ov = max(ov, 1)  # the ground reaction's window mean reaches half a frame of samples
    w0, w1 = max(0, a - ov), min(job.n, b + ov)
    ds = _read(job, w0, w1)
    core = ds.isel(frame=slice(a - w0, b - w0))
    if job.chain is not None:
        fitted, res, measured = fit_frames(job.chain, core, a)
        summary = global_summary(job.chain, with_sacrum(fitted), res, measured, a)
        del fitted, res, measured
    else:
        summary = summarise(with_sacrum(core), a)
    out = {"summary": summary, "plates": {}, "zeni": {},
           "rebuilt": {m: int(np.isfinite(core.markers.sel(marker=m).values).all(axis=-1).sum()) for m in job.rebuild}}
    if job.plate_loads:
        out["loads"] = span_loads(ds, a - w0, b - w0, job.kinetics.threshold)
    r = job.ratio
    if job.plates:
        # here, only when plates are read: scipy.signal imports scipy.stats (a second), which
        # `chainlab kinematics` does not need
        from scipy.signal import filtfilt

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
        signals = kinematic_signals(with_sacrum(ds))  # SACR from the PSIs, as the models take it
        if isinstance(signals, list):
            out["zeni"] = signals
        else:
            for key, d in signals.items():
                pk = kinematic_peaks(d, job.point_rate)
                pk = pk[(pk >= a - w0) & (pk < b - w0)] + w0
                out["zeni"][key] = pk
    return out


def _summarise(job: _Job, chunk_frames: int, threads, scheduler, say: bool) -> dict:
    size = max(SUMMARY_SPAN, -(-chunk_frames // SUMMARY_SPAN) * SUMMARY_SPAN)
    spans = _spans(job.n, size)
    progress = Progress(job.path.name, "summary", job.n, say)
    summary: TrialSummary | None = None
    plates: dict = {p: ([], [], None) for p, _ in job.plates}
    zeni: dict | list = {}
    rebuilt = dict.fromkeys(job.rebuild, 0)
    loads = []
    for (a, b), part in zip(spans, in_order(_summary_task, [(job, a, b) for a, b in spans], threads, scheduler)):
        summary = part["summary"] if summary is None else summary.then(part["summary"])
        rebuilt = {m: rebuilt[m] + k for m, k in part["rebuilt"].items()}
        if "loads" in part:
            loads.append(part["loads"])
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
    return {"summary": summary, "plates": plates, "zeni": zeni, "loads": loads, "rebuilt": rebuilt}


def _summarise_rebuilt(job: _Job, chunk_frames: int, threads, scheduler, say: bool) -> dict:
    """Pass 1; when markers are never valid in the whole trial, again with them dropped from
    every chunk (SACR then made from the PSIs, models left out naming them) and, when they
    belong to a cluster and the static trial allows, rebuilt
    (:func:`chainlab.trial_checks.rebuild_candidates`; not with the global solver, which fits
    the markers there are; no rebuild without a static trial)."""
    first = _summarise(job, chunk_frames, threads, scheduler, say)
    if job.chain is None:
        s = first["summary"]
        job.absent = tuple(m for m in s.names if not s.any_valid[m])
        job.rebuild = () if job.stored else tuple(rebuild_candidates(s.names, s.any_valid, job.static))
        if job.stored is not None and job.absent:  # the stand-in for the static is a window of the walk
            job.static = job.stored.static = without_markers(job.static, job.absent)
        if job.absent or job.rebuild:
            job.head = _read(job, 0, 1)
            first = _summarise(job, chunk_frames, threads, scheduler, say)
    return first


def _quality(job: _Job, w: TrialWriter, group: str, sheet_subject: str = "") -> list[dict]:
    """The trial's quality problems (chainlab.trial_checks) on its first CHECK_FRAMES frames,
    recorded as ``quality_problems`` (JSON) in `group`'s attributes and the root's."""
    m = min(job.n, CHECK_FRAMES)
    dyn = _read(job, 0, m)
    with w.dataset(group) as kin:
        window = kin.isel(frame=slice(0, m)).load()
    found = quality_problems(dyn, None if job.stored else job.static, window, job.options.subject, sheet_subject)
    text = json.dumps(found)
    w.set_attrs(group, {"quality_problems": text})
    if group != "/":
        w.set_attrs("/", {"quality_problems": text})
    return found


def _kinetics(job: _Job, first: dict) -> TrialKinetics | None:
    """The trial-wide pieces of the kinetics, or None with the reason in `job.kinetics_absent`."""
    events = job.capture_events if job.plate_loads else None
    loads = first.pop("loads")  # the plates' loads at their contacts: kept in the result, not twice
    kt, job.kinetics_absent = trial_kinetics(job.path.name, job.head, loads, events, job.kinetics,
                                             job.options, first["summary"].pelvis_rows, job.static)
    return kt


# --------------------------------------------------------------------------- pass 2: frames


def _cut_ik(res, s: slice):
    return IKResult(res.pose.take(s), res.markers[s], res.residual[s], res.rms[s], res.max[s], res.iterations[s],
                    res.converged[s], None if res.flipped is None else res.flipped[s])


def _frames_task(job: _Job, prep, gattrs: dict, a: int, b: int, contacts: list, gait: bool,
                 kinetics: TrialKinetics | None = None) -> dict:
    lo, hi = a, b
    if kinetics is not None:  # the span's kinetics need OVERLAP frames of kinematics on each side
        lo, hi = a - OVERLAP, b + OVERLAP
    for _, f_lo, f_hi, _ in contacts:
        lo, hi = min(lo, f_lo - 1), max(hi, f_hi + 2)
    if job.chain is not None:
        a0, e0 = (a // BLOCK) * BLOCK, min(job.n, -(-b // BLOCK) * BLOCK)
        lo, hi = min(lo, a0), max(hi, e0)
    w0, w1 = max(0, lo), min(job.n, hi)
    ds = _read(job, w0, w1)
    core = ds.isel(frame=slice(a - w0, b - w0))
    if job.chain is not None:
        fitted, res, measured = fit_frames(job.chain, ds.isel(frame=slice(a0 - w0, e0 - w0)), a0)
        cut = slice(a - a0, b - a0)
        fitted = with_sacrum(fitted.isel(frame=cut))
        out = frames_kinematics(prep, fitted)
        out = add_global_frames(out, job.chain, _cut_ik(res, cut), measured[cut], gattrs)
    elif kinetics is not None:
        e0, e1 = max(0, a - OVERLAP), min(job.n, b + OVERLAP)
        wide = frames_kinematics(prep, with_sacrum(ds.isel(frame=slice(e0 - w0, e1 - w0))))
        out = wide.isel(frame=slice(a - e0, b - e0))  # each frame's kinematics are its own
    else:
        out = frames_kinematics(prep, with_sacrum(core))
    result = {"kinematics": out}
    if kinetics is not None:
        result["kinetics"] = kinetics.span(wide, a, b)
        del wide
    if gait:
        r = job.ratio
        cap = core.isel(analog_sample=slice((a - w0) * r, (b - w0) * r))
        from chainlab.pipeline.cycles import _plates_ds  # the gait pass' module, run_trial's alone

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


def _frames_pass(job: _Job, first: dict, w: TrialWriter, chunk_frames: int, threads, scheduler, say: bool,
                 gait: bool, kinetics: TrialKinetics | None = None) -> tuple[dict, tuple]:
    """Pass 2 into `w` (the kinematics group, or the root without `gait`): the plate contacts'
    verdicts, and (outputs, partial, models left out) of the kinematics."""
    opt = job.options
    direct = replace(opt, solver="direct")
    head = with_sacrum(job.head)
    gattrs = {}
    if job.chain is not None:
        head = with_sacrum(job.head.reindex(marker=list(dict.fromkeys(job.head.marker.values.tolist()
                                                                       + list(job.chain.markers)))))
        head.attrs["_raw_marker_names"] = first["summary"].names  # the fitted markers, as in memory
        gattrs = global_attrs(job.chain, first["summary"], job.head.marker.values.tolist(), opt)
    prep = prepare(head, first["summary"], job.static, direct)
    prep.attrs |= input_attrs(job.n, mapping_text(job.mapping), job.head.attrs.get("marker_mapping", ""),
                              first["rebuilt"], None if job.stored else job.static)
    if job.stored is not None:
        prep.attrs = stored_attrs(prep.attrs, job.stored)
    rules = angle_rules(prep)

    contacts = []
    if gait and job.plates:
        from chainlab.pipeline.cycles import _contacts  # the gait pass' module, run_trial's alone

        contacts = _contacts(job, first["plates"])
    spans = _spans(job.n, chunk_frames)
    starts = np.array([a for a, _ in spans])
    per_chunk: list[list] = [[] for _ in spans]
    for c in contacts:
        per_chunk[int(np.searchsorted(starts, c[1], side="right") - 1)].append(c)
    if kinetics is not None and "pig" not in prep.run:
        job.kinetics_absent = "Plug-in Gait was left out of the kinematics (kinematics.partial: its markers are missing)"
        kinetics = None
    items = [(job, prep, gattrs, a, b, per_chunk[k], gait, kinetics) for k, (a, b) in enumerate(spans)]
    state: dict = {}
    verdicts: dict = {}
    progress = Progress(job.path.name, "frames", job.n, say)
    kin_summary = (0, False, "{}")
    for (a, b), res in zip(spans, in_order(_frames_task, items, threads, scheduler)):
        kin = make_continuous(res["kinematics"], state, rules)
        kin_summary = (kin.sizes["output"], bool(kin.attrs["partial"]), kin.attrs["models_left_out"])
        if kinetics is not None and gait:
            w.append("kinetics", res["kinetics"], "frame")
        elif kinetics is not None:  # a kinematics file: the kinetics beside the angles, in the root
            kin = kin.merge(res["kinetics"], compat="override", join="exact", combine_attrs="override")
        if gait:
            w.append("kinematics", kin, "frame")
            w.append("plates", res["plates"], "analog_sample")
            w.append("markers", res["markers"], "frame")
            verdicts |= res["verdicts"]
        elif "/" not in w.created:
            w.root(kin, "frame")
        else:
            w.append("/", kin, "frame")
        del res, kin
        if len(spans) > 1:
            release_freed_memory()
        progress(b)
    return verdicts, kin_summary


def _kinetics_record(job: _Job, w: TrialWriter, kt: TrialKinetics | None):
    """The contacts (``/contacts``) and why the trial has no kinetics (the root's
    ``kinetics_absent``, '' when it has them; refused contacts in ``contacts_refused``)."""
    if kt is not None:
        w.group("contacts", contacts_dataset(kt.contacts))
        job.contacts_refused = refused_text(kt.contacts)
    w.set_attrs("/", {"kinetics_absent": job.kinetics_absent, "contacts_refused": job.contacts_refused})


# --------------------------------------------------------------------------- entry points


def _check(opt: KinematicsOptions, chunk_frames: int, scheduler: str | None) -> str:
    """The scheduler's name, once the call's arguments are checked (TrialSetupError)."""
    try:
        name = scheduler_name(scheduler)  # an unknown scheduler fails before any work
    except SchedulerError as exc:
        raise TrialSetupError(str(exc)) from None
    if chunk_frames < 1:
        raise TrialSetupError(f"chunk_frames must be >= 1; found {chunk_frames}")
    if opt.solver not in ("direct", "global"):
        raise TrialSetupError(f"solver must be 'direct' or 'global'; found {opt.solver!r}")
    return name


def run_trial(row: TrialRow, output: str | Path, config: StudyConfig | None = None, *,
              options: KinematicsOptions | None = None, chunk_frames: int = DEFAULT_CHUNK_FRAMES,
              threads: int | None = None, scheduler: str | None = None, read_static=None,
              progress: bool | None = None, markers=None) -> TrialResult | TrialFailure:
    """One trial (`row`) through every stage into its trial file `output`: its result, or
    its failure, recorded in `output` (see the module docstring for what raises instead).

    `config` gives the stages' settings (its kinematics and gait sections; defaults without
    one); `options`, when given, replaces its kinematics section (and the file records no
    settings: it is not reused by ``chainlab study``). `read_static` reads the static capture
    (default :func:`chainlab.read_c3d`; a study reads each one once; called with the mapping
    as second argument when there is one); without a static trial (``row.static`` None) the
    calibration stored in the capture is used. `markers` (a dict, preset or YAML file) maps the
    lab's marker labels; the row's ``markers``, then `markers`, then the config's apply. The
    trial's quality problems (:mod:`chainlab.trial_checks`) are recorded, not raised.
    `progress` (default: when the trial has more than one chunk) prints each pass' progress on
    stderr.
    """
    # here: `chainlab kinematics` needs neither the study config nor the gait pass (0.05-0.1 s of imports)
    from chainlab.config import OUTPUTS_VERSION, TRIAL_SECTIONS, StudyConfig
    from chainlab.pipeline.cycles import _gait_pass

    config = config or StudyConfig.defaults()
    opt = options or config.kinematics_options(row.subject)  # with the subjects table's values
    where = {"dask_scheduler": _check(opt, chunk_frames, scheduler)}
    kinetics = config.kinetics_options(row.plates, f"{row.trial}: sample sheet column plates")
    attrs = {"title": TITLE, "subject": row.subject, "condition": row.condition, "trial": row.trial,
             "dynamic": str(row.dynamic), "static": str(row.static or ""),
             "settings": config.settings(*TRIAL_SECTIONS) if options is None else "",
             "outputs_version": OUTPUTS_VERSION, **where, "problems": "[]",
             # the measurements given for the subject (the subjects table's row), Nexus' units
             "subject_measurements": json.dumps(dict(opt.subject), sort_keys=True),
             "quality_problems": "[]"}
    stage = "read"
    try:
        mapping = load_marker_mapping(row.markers or markers or config.markers)
        static = None if row.static is None else \
            (read_static or _read_static)(row.static, mapping) if mapping else (read_static or _read_static)(row.static)
        if static is not None:  # the subject's standing chain, for the store's /subjects
            attrs["standing"] = json.dumps(standing_of_static(static, opt))
        job = _job(row.dynamic, static, opt, True, config.plate_event_options(), kinetics, mapping, chunk_frames)
        job.chain_frame = heading.check_frame(config.gait.get("chain_frame", "heading"))
        stage = "kinematics"
        say = progress if progress is not None else job.n > chunk_frames
        with atomic_path(output) as tmp:
            w = TrialWriter(tmp, buffered=job.n <= chunk_frames)
            w.root(xr.Dataset(attrs=attrs))
            first = _summarise_rebuilt(job, chunk_frames, threads, scheduler, say)
            if job.n > chunk_frames:
                release_freed_memory()
            started = Progress(job.path.name, "trial", job.n, say)
            kt = _kinetics(job, first)
            verdicts, (outputs, partial, left_out) = _frames_pass(job, first, w, chunk_frames, threads, scheduler,
                                                                  say, gait=True, kinetics=kt)
            _kinetics_record(job, w, kt)
            w.set_attrs("/", {"models_left_out": left_out})
            quality = _quality(job, w, "kinematics", row.subject)
            stage = "gait"
            events, cycles, metrics, problems = _gait_pass(job, first, verdicts, w, chunk_frames, say, started,
                                                           json.loads(left_out or "{}"), config.measures)
            w.close()
    except SchedulerError as exc:  # a distributed scheduler not reached: not the trial's fault
        raise TrialSetupError(str(exc)) from exc
    except Exception as exc:  # the trial's fault, recorded; or the machine's, raised
        stage = "read" if isinstance(exc, C3DError) else "kinematics" if isinstance(exc, ModelInputError) else stage
        if not is_trial_fault(exc, stage):
            raise
        reason = str(exc) if isinstance(exc, (ChainlabError, OSError, ValueError)) else f"{type(exc).__name__}: {exc}"
        return write_trial_failure(TrialFailure(row.trial, stage, reason), output, provenance=where)
    return TrialResult(Path(output), job.n, outputs, partial, left_out, events, cycles, metrics, problems, quality)


def run_kinematics(dynamic: str | Path, static: str | Path | None, output: str | Path,
                   options: KinematicsOptions | None = None, *, chunk_frames: int = DEFAULT_CHUNK_FRAMES,
                   threads: int | None = None, scheduler: str | None = None, compress: bool = True,
                   progress: bool | None = None, markers=None,
                   kinetics: KineticsOptions | None = KineticsOptions()) -> TrialResult:
    """The kinematics of `dynamic` (calibrated on `static`; None: on the calibration stored in
    `dynamic`, :mod:`chainlab.kinematics.stored`) into the kinematics file `output` (the
    kinematics Dataset in the root group; ``chainlab kinematics``), computed as
    :func:`run_trial` computes a trial's, `markers` the lab's marker mapping (a dict, preset
    or YAML file), with the kinetics beside the angles when the capture has plates
    (`kinetics`: their options; None: none; the result's problems say why there are none).
    Its quality problems are in the result and the file's ``quality_problems``. Errors are
    raised (TrialSetupError for the call's)."""
    opt = options or KinematicsOptions()
    _check(opt, chunk_frames, scheduler)
    try:
        mapping = load_marker_mapping(markers)
        job = _job(dynamic, None if static is None else _read_static(static, mapping), opt, False,
                   kinetics=kinetics, mapping=mapping, chunk_frames=chunk_frames)
        say = progress if progress is not None else job.n > chunk_frames
        with atomic_path(output) as tmp:
            w = TrialWriter(tmp, compress=compress, buffered=job.n <= chunk_frames)
            first = _summarise_rebuilt(job, chunk_frames, threads, scheduler, say)
            if job.n > chunk_frames:
                release_freed_memory()
            kt = _kinetics(job, first)
            _, (outputs, partial, left_out) = _frames_pass(job, first, w, chunk_frames, threads, scheduler, say,
                                                           gait=False, kinetics=kt)
            _kinetics_record(job, w, kt)
            quality = _quality(job, w, "/")
            w.close()
    except SchedulerError as exc:
        raise TrialSetupError(str(exc)) from exc
    absent = [f"no kinetics: {job.kinetics_absent}"] if kinetics is not None and job.kinetics_absent else []
    return TrialResult(Path(output), job.n, outputs, partial, left_out, problems=absent, quality_problems=quality)


def _read_static(path, mapping=None) -> xr.Dataset:
    """The static capture, with the trial's marker mapping."""
    return read_capture(path, mapping=mapping)


def measure_trial(dynamic: str | Path, static: str | Path | None, options: KinematicsOptions | None = None,
                  config: StudyConfig | None = None, markers=None) -> TrialResult | TrialFailure:
    """A trial's events, cycles and per-cycle measures (``chainlab gait``): :func:`run_trial`
    into a temporary trial file, which is removed (the result's tables stay)."""
    dynamic = Path(dynamic)
    row = TrialRow("", "", dynamic.stem, None if static is None else Path(static), dynamic)
    with tempfile.TemporaryDirectory(prefix="chainlab-") as tmp:
        return run_trial(row, Path(tmp) / f"{dynamic.stem}.h5", config, options=options, markers=markers)


__all__ = ["DEFAULT_CHUNK_FRAMES", "TrialSetupError", "is_trial_fault", "measure_trial", "run_kinematics",
           "run_trial"]
