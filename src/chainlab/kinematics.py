"""Joint angles of one trial: calibrate the models on the static trial, apply them to a walk.

``compute_kinematics(dynamic, static)`` takes two trial Datasets (from
:func:`chainlab.read_c3d`) and returns one Dataset:

===================  ==================================  =======
variable             dims                                units
===================  ==================================  =======
``angles``           (frame, output, axis)               deg
``segment_origin``   (frame, segment, axis)              m
``segment_axes``     (frame, segment, axis, segment_axis)  1
``joint_centres``    (frame, point, axis)                m
``markers``          (frame, marker, axis)               m
``arch``             (frame, arch_output)                mm, %
===================  ==================================  =======

``output`` takes the names Vicon Nexus uses (``LPelvisAngles``, ``LHipAngles``, ...,
``LThoraxAngles``, ``LSpineAngles``) plus chainlab's ``LumbarCurvature`` and
``LumbarPelvisAngles``, and with the OFM ``?HFTFL`` and ``?FETBA``
(:mod:`chainlab.model.ofm_posture`, whose ``?ArchHeight`` (mm) and ``?ArchHeightIndex`` (%
of foot length) are ``arch``, units per output in ``arch_units``; left out when the static
lacks their markers); ``axis`` is x, y, z in Nexus' component order. ``segment_axes``
holds each segment's x, y, z axes (``segment_axis``) as lab vectors (``axis``).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import xarray as xr

from chainlab import __version__
from chainlab.conventions import AXES
from chainlab.errors import ModelInputError
from chainlab.model import lumbar, ofm, ofm_posture, pig
from chainlab.model.chain import ChainOptions, describe
from chainlab.model.geometry import cardan
from chainlab.model.measurements import resolve

MODELS = ("pig", "ofm", "trunk", "lumbar")


class KinematicsWarning(UserWarning):
    """Kinematics ran, but something about the inputs is doubtful (e.g. another subject)."""


@dataclass
class KinematicsOptions:
    """What a study's config may set; defaults reproduce Vicon Nexus."""

    models: Sequence[str] = MODELS
    progression: str = "lab"  # "lab" (Nexus) or "travel"
    flat_foot: bool = True
    partial: bool = False  # allow models whose markers are missing to be left out
    subject: Mapping[str, float] = field(default_factory=dict)  # measurement overrides
    solver: str = "direct"  # "direct": each segment from its markers; "global": the chain fitted
    chain: ChainOptions | None = None  # the global solver's chain (dofs, weights, limits)


def _markers(ds: xr.Dataset, names: Sequence[str]) -> dict[str, np.ndarray]:
    present = set(ds.marker.values.tolist())
    return {n: ds.markers.sel(marker=n).values for n in names if n in present}


def _with_sacrum(ds: xr.Dataset, warn: list[str]) -> xr.Dataset:
    """A trial with SACR: the mid-point of LPSI and RPSI when it has those instead (PiG)."""
    names = set(ds.marker.values.tolist())
    if "SACR" in names or not {"LPSI", "RPSI"} <= names:
        return ds
    sacr = 0.5 * (ds.markers.sel(marker="LPSI") + ds.markers.sel(marker="RPSI"))
    extra = sacr.expand_dims(marker=["SACR"]).transpose("frame", "marker", "axis")
    out = xr.concat([ds.markers, extra], dim="marker", coords="minimal", compat="override")
    warn.append(f"{ds.attrs.get('source_file', '')}: SACR taken as the mid-point of LPSI and RPSI")
    return ds.drop_dims("marker").assign(markers=out)


def _sided(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(f"{s}{n}" for s in pig.SIDES for n in names)


def _processing(ds: xr.Dataset) -> dict[str, float]:
    if "measurement" not in ds.coords:
        return {}
    return {str(k): float(v) for k, v in zip(ds.measurement.values, ds.measurements.values)}


def _calibration_values(names, overrides, static, dynamic) -> tuple[dict[str, float], str]:
    """Calibration values from config, else the static (then dynamic) trial's PROCESSING
    group when it holds all of them, else 'computed' (empty: the caller computes them)."""
    given = {n: float(overrides[n]) for n in names if n in overrides}
    if len(given) == len(names):
        return given, "config"
    for label, ds in (("static PROCESSING", static), ("dynamic PROCESSING", dynamic)):
        stored = _processing(ds)
        if all(np.isfinite(stored.get(n, np.nan)) for n in names) and any(stored[n] != 0.0 for n in names):
            # all zeros: the values were never calibrated (a static trial stores them so)
            return {**{n: stored[n] for n in names}, **given}, label
    return given, "computed"


def _missing(ds: xr.Dataset, names: Sequence[str]) -> list[str]:
    """Markers absent from the trial, or present but invalid in every frame."""
    present = set(ds.marker.values.tolist())
    out = [n for n in names if n not in present]
    out += [n for n in names if n in present and not np.isfinite(ds.markers.sel(marker=n).values).any()]
    return out


def _same_subject_checks(dynamic: xr.Dataset, static: xr.Dataset, medians: Mapping) -> list[str]:
    """Reasons to doubt that the static trial is the same subject's as the dynamic one;
    `medians` holds the dynamic trial's median distance of each pair of :data:`PAIRS`."""
    doubts = []
    sd, ss = dynamic.attrs.get("subject", ""), static.attrs.get("subject", "")
    if sd and ss and sd != ss:
        doubts.append(f"subject names differ: dynamic {sd!r}, static {ss!r}")
    for name in ("Bodymass", "Height", "LLegLength", "RLegLength"):
        a = dynamic.measurements.to_series().get(name) if "measurement" in dynamic.coords else None
        b = static.measurements.to_series().get(name) if "measurement" in static.coords else None
        if a and b and abs(a - b) > 0.02 * max(abs(a), abs(b)):
            doubts.append(f"{name} differs: dynamic {a:g}, static {b:g}")
    for a, b in PAIRS:
        if (a, b) not in medians:
            continue
        try:
            ls = np.nanmedian(np.linalg.norm(static.markers.sel(marker=a) - static.markers.sel(marker=b), axis=-1))
        except KeyError:
            continue
        ld = medians[(a, b)]
        if np.isfinite(ld) and np.isfinite(ls) and abs(ld - ls) > 0.1 * ls:
            doubts.append(f"{a}-{b} distance differs: dynamic {ld * 1000:.0f} mm, static {ls * 1000:.0f} mm")
    return doubts


# --------------------------------------------------------------------------- the whole trial

PAIRS = (("LASI", "RASI"), ("LKNE", "LANK"), ("RKNE", "RANK"))  # distances of the same-subject check


@dataclass
class TrialSummary:
    """What the models need of the whole trial, gathered piece by piece (:func:`summarise`,
    :meth:`then`): the direct models' trial-wide quantities and the output's attributes.

    Everything is small except `distances` (one float per frame and pair, for the medians of
    the same-subject check) and, for the global solver, `rms` (one per frame).
    """

    n_frames: int
    first_frame: int  # frame number of trial index 0
    names: list[str]  # markers of the trial (with SACR when made from LPSI/RPSI)
    any_valid: dict[str, bool]
    gap_runs: dict[str, list[list[int]]]  # invalid runs [start, stop) of trial indices
    pelvis_rows: dict[str, np.ndarray]  # LASI, RASI, SACR at the first and last frames with mid-ASIS and SACR
    cluster_sums: dict[str, list[list[np.ndarray]]]  # side -> per OFM cluster, (4, 4) sums per span
    facing: dict[bool, tuple[list[int], float | None]]  # travel_x -> (switch indices, last valid facing)
    distances: dict[tuple[str, str], list[np.ndarray]]
    rms: list[np.ndarray] = field(default_factory=list)  # global solver: per-frame marker RMS
    measured_gap_runs: dict[str, list[list[int]]] = field(default_factory=dict)  # global: of the measured markers
    first_facing: dict[bool, tuple[int, float] | None] = field(default_factory=lambda: {False: None, True: None})

    def then(self, nxt: "TrialSummary") -> "TrialSummary":
        """This summary followed by the next piece's."""
        def runs(a, b):
            out = {k: [list(r) for r in v] for k, v in a.items()}
            for k, v in b.items():
                cur = out.setdefault(k, [])
                for r in v:
                    if cur and cur[-1][1] == r[0]:
                        cur[-1][1] = r[1]
                    else:
                        cur.append(list(r))
            return out

        rows = {}
        for k in set(self.pelvis_rows) | set(nxt.pelvis_rows):
            a, b = self.pelvis_rows.get(k), nxt.pelvis_rows.get(k)
            rows[k] = a if b is None else b if a is None else np.stack([a[0], b[-1]])
        facing = {}
        for tx in (False, True):
            (sa, la), (sb, lb) = self.facing[tx], nxt.facing[tx]
            extra = list(sb)
            if la is not None and lb is not None and nxt.first_facing[tx] is not None \
                    and nxt.first_facing[tx][1] != la:
                extra = [nxt.first_facing[tx][0]] + extra
            facing[tx] = (list(sa) + extra, lb if lb is not None else la)
        out = TrialSummary(
            n_frames=self.n_frames + nxt.n_frames,
            first_frame=self.first_frame,
            names=self.names,
            any_valid={k: self.any_valid.get(k, False) or nxt.any_valid.get(k, False)
                       for k in dict.fromkeys(self.names + nxt.names)},
            gap_runs=runs(self.gap_runs, nxt.gap_runs),
            pelvis_rows=rows,
            cluster_sums={s: [a + b for a, b in zip(self.cluster_sums[s], nxt.cluster_sums[s])]
                          for s in self.cluster_sums if s in nxt.cluster_sums},
            facing=facing,
            distances={k: self.distances.get(k, []) + nxt.distances.get(k, []) for k in self.distances},
            rms=self.rms + nxt.rms,
            measured_gap_runs=runs(self.measured_gap_runs, nxt.measured_gap_runs),
            first_facing={tx: self.first_facing[tx] if self.first_facing[tx] is not None else nxt.first_facing[tx]
                          for tx in (False, True)},
        )
        return out


def _runs(invalid: np.ndarray, start: int) -> list[list[int]]:
    bad = np.flatnonzero(invalid)
    if bad.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(bad) > 1)
    a = np.concatenate([[bad[0]], bad[breaks + 1]])
    b = np.concatenate([bad[breaks], [bad[-1]]]) + 1
    return [[int(x) + start, int(y) + start] for x, y in zip(a, b)]


def summarise(ds: xr.Dataset, start: int = 0) -> TrialSummary:
    """The :class:`TrialSummary` of the frames of `ds`, which begin at trial index `start`
    (a multiple of :data:`chainlab.model._chunks.CHUNK`, for the OFM cluster sums)."""
    names = [str(m) for m in ds.marker.values]
    mk = ds.markers.transpose("frame", "marker", "axis").values
    valid = np.isfinite(mk[..., 0])
    index = {m: i for i, m in enumerate(names)}
    any_valid = dict(zip(names, valid.any(axis=0).tolist()))
    gap_runs = {m: _runs(~valid[:, i], start) for i, m in enumerate(names) if not valid[:, i].all()}
    rows: dict[str, np.ndarray] = {}
    first_facing = {False: None, True: None}
    facing = {False: ([], None), True: ([], None)}
    if {"LASI", "RASI", "SACR"} <= set(names):
        lasi, rasi, sacr = (mk[:, index[m]] for m in ("LASI", "RASI", "SACR"))
        o = (lasi + rasi) / 2.0
        ok = np.flatnonzero(np.all(np.isfinite(o), axis=1) & np.all(np.isfinite(sacr), axis=1))
        if ok.size:
            pick = [ok[0], ok[-1]]
            rows = {"LASI": lasi[pick], "RASI": rasi[pick], "SACR": sacr[pick]}
        for tx in (False, True):
            f = ofm.facing_sign({"LASI": lasi, "RASI": rasi, "SACR": sacr}, tx)
            v = np.flatnonzero(np.isfinite(f))
            if v.size:
                first_facing[tx] = (int(v[0]) + start, float(f[v[0]]))
                facing[tx] = ((ofm.facing_switches(f) + start).tolist(), float(f[v[-1]]))
    sums = {}
    for s in pig.SIDES:
        clusters = [[f"{s}{m}" for m in c] for c in ofm.CLUSTERS]
        if all(m in index for c in clusters for m in c):
            sums[s] = [ofm.cluster_span_sums([mk[:, index[m]] for m in c], start) for c in clusters]
    distances = {}
    for a, b in PAIRS:
        if a in index and b in index:
            distances[(a, b)] = [np.linalg.norm(mk[:, index[a]] - mk[:, index[b]], axis=-1)]
    first = int(ds.frame.values[0]) - start if ds.sizes["frame"] else 1 - start
    return TrialSummary(len(mk), first, names, any_valid, gap_runs, rows, sums, facing, distances,
                        first_facing=first_facing)


def _missing_in(summary: TrialSummary, names: Sequence[str]) -> list[str]:
    present = set(summary.names)
    return [n for n in names if n not in present] + [
        n for n in names if n in present and not summary.any_valid[n]]


def _gap_text(runs: list[list[int]], first_frame: int) -> str:
    return ",".join(f"{a + first_frame}" if a == b - 1 else f"{a + first_frame}-{b - 1 + first_frame}"
                    for a, b in runs)


@dataclass
class Prepared:
    """Everything trial-wide the direct models need: calibration, progression, cluster
    means, the markers used and the output's attributes. Frames are computed from it piece
    by piece (:func:`frames_kinematics`)."""

    options: KinematicsOptions
    run: list[str]
    cal: object = None
    meas: dict = field(default_factory=dict)
    prog: np.ndarray | None = None
    ofm_values: dict = field(default_factory=dict)
    ofm_args: dict = field(default_factory=dict)
    means: dict = field(default_factory=dict)
    which: object = None
    used: list[str] = field(default_factory=list)
    attrs: dict = field(default_factory=dict)
    static: xr.Dataset | None = None
    arch: dict | None = None  # the OFM arch calibration (None: no arch measures)


def prepare(head: xr.Dataset, summary: TrialSummary, static: xr.Dataset | None,
            options: KinematicsOptions | None = None) -> Prepared:
    """Check a trial and calibrate the direct models for it.

    `head` is any piece of the trial (for its attributes and parameters; it is given SACR
    when it has LPSI and RPSI instead, as the summary's pieces must be), `summary` the
    :class:`TrialSummary` of all its frames. Raises what :func:`compute_kinematics` raises.
    """
    opt = options or KinematicsOptions()
    name = head.attrs.get("source_file", "dynamic trial")
    if opt.progression not in ("lab", "travel"):
        raise ValueError(f"progression must be 'lab' or 'travel'; found {opt.progression!r}")
    if summary.n_frames == 0:
        raise ModelInputError(f"{name}: the trial has 0 frames")
    unknown = sorted(set(opt.models) - set(MODELS))
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; expected some of {list(MODELS)}")
    if "ofm" in opt.models and "pig" not in opt.models:
        raise ValueError("model 'ofm' needs 'pig' too: the OFM tibia is the Plug-in Gait tibia")
    if static is None:
        raise ModelInputError(f"{name}: kinematics need the subject's static trial; none was given")
    warn: list[str] = []
    raw_names = set(head.attrs.get("_raw_marker_names", summary.names))
    if "SACR" not in raw_names and {"LPSI", "RPSI"} <= raw_names:
        warn.append(f"{head.attrs.get('source_file', '')}: SACR taken as the mid-point of LPSI and RPSI")
    static = _with_sacrum(static, warn)
    medians = {}
    for pair, parts in summary.distances.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            medians[pair] = np.nanmedian(np.concatenate(parts)) if parts else np.nan
    for doubt in _same_subject_checks(head, static, medians):
        warn.append(f"static trial {static.attrs.get('source_file', '')} may be another subject's: {doubt}")

    needs = {
        "pig": (pig.DYNAMIC_MARKERS, pig.MARKERS),
        "ofm": (pig.DYNAMIC_MARKERS + _sided(ofm.DYNAMIC), pig.MARKERS),
        "trunk": (pig.TRUNK_MARKERS + ("LASI", "RASI", "SACR"), ()),
        "lumbar": (("LASI", "RASI", "SACR"), ()),
    }
    valid_names = [m for m in summary.names if summary.any_valid[m]]
    skipped: dict[str, str] = {}
    run = []
    for model in opt.models:
        dyn_need, static_need = needs[model]
        miss_d, miss_s = _missing_in(summary, dyn_need), _missing(static, static_need)
        if model == "lumbar":
            try:
                lumbar.choose_markers(valid_names)
            except ValueError as exc:
                miss_d = miss_d + [str(exc)]
        if miss_d or miss_s:
            reason = "; ".join(
                x for x in (
                    f"missing from {name}: {', '.join(miss_d)}" if miss_d else "",
                    f"missing from static {static.attrs.get('source_file', '')}: {', '.join(miss_s)}" if miss_s else "",
                ) if x
            )
            if not opt.partial:
                raise ModelInputError(f"{name}: model {model!r} cannot run ({reason}); "
                                      "run with partial output allowed to leave it out")
            skipped[model] = reason
        else:
            run.append(model)

    prep = Prepared(options=opt, run=run, static=static)
    attrs: dict[str, object] = {}
    used: list[str] = []
    first_frame = summary.first_frame
    if summary.pelvis_rows:
        r = summary.pelvis_rows
        prep.prog = pig.progression_frame(r["LASI"], r["RASI"], r["SACR"], opt.progression)
    else:
        prep.prog = np.full((3, 3), np.nan)
    if "pig" in run:
        meas, origin = resolve(static, head, opt.subject, trial=name)
        if origin["MarkerDiameter"] == "default":
            warn.append("MarkerDiameter not given; 14 mm (Vicon's default marker) assumed")
        names = [f"{s}{n}" for s in pig.SIDES for n in ("StaticPlantFlex", "StaticRotOff")]
        offsets, offsets_from = _calibration_values(names, opt.subject, static, head)
        cal = pig.calibrate(_markers(static, pig.MARKERS), meas | offsets, flat_foot=opt.flat_foot)
        attrs["pig_static_offsets_source"] = offsets_from
        attrs["flat_foot"] = int(opt.flat_foot) if offsets_from == "computed" else f"not used: offsets from {offsets_from}"
        for s in pig.SIDES:
            for key in ("ThighRotation", "ShankRotation"):
                if meas.get(f"{s}{key}"):
                    warn.append(f"{s}{key} = {meas[f'{s}{key}']:g} is not applied (not implemented)")
        prep.cal, prep.meas = cal, meas
        attrs |= cal.as_attrs()
        attrs["measurement_sources"] = json.dumps(origin, sort_keys=True)
        used += list(pig.DYNAMIC_MARKERS)
    if "ofm" in run:
        processing = {**_processing(head), **_processing(static)}
        names = [f"%{s}{n}{a}" for s in pig.SIDES for n in ofm.CALIBRATION for a in "XYZ"]
        values, source = _calibration_values(names, opt.subject, static, head)
        if source == "computed":
            lacking = _missing(static, _sided(ofm.STATIC))
            if lacking:
                raise ModelInputError(
                    f"{name}: the OFM calibration values are not stored and the static trial "
                    f"{static.attrs.get('source_file', '')} lacks {', '.join(lacking)} to compute them")
            values = {**ofm.calibrate(_markers(static, _sided(ofm.STATIC))), **values}
        travel_x = bool(processing.get("TravelDirectionX", 0.0))
        prep.ofm_values = values
        prep.ofm_args = dict(marker_diameter=prep.meas["MarkerDiameter"],
                             proxff_factor=processing.get("ProxFFfactor", 2.0) or 2.0, travel_x=travel_x,
                             reference=None if opt.progression == "lab" else prep.prog)
        prep.means = {s: [ofm.means_from_sums(c) for c in summary.cluster_sums[s]] for s in pig.SIDES}
        switch = np.asarray(summary.facing[travel_x][0], dtype=np.int64) if opt.progression == "lab" \
            else np.empty(0, np.int64)
        attrs["ofm_calibration_source"] = source
        attrs |= {f"ofm_{k}": v for k, v in values.items()}
        attrs["ofm_tiba_switch_frames"] = json.dumps(
            {f"{s}TIBA": (switch + first_frame).tolist() for s in pig.SIDES if switch.size})
        try:  # the arch measures need the static forefoot markers (and D1M)
            prep.arch, arch_source = ofm_posture.arch_calibration(static, prep.meas["MarkerDiameter"])
            attrs["arch_calibration_source"] = arch_source
        except KeyError as exc:
            attrs["arch_calibration_source"] = f"none: {exc.args[0]}"
            warn.append(f"no arch measures: {exc.args[0]}")
        used += list(_sided(ofm.DYNAMIC + ("HLX",)))
    if "trunk" in run:
        used += list(pig.TRUNK_MARKERS)
    if "lumbar" in run:
        which = lumbar.choose_markers(valid_names)
        prep.which = which
        attrs["lumbar_markers"] = f"top={which.top},apex={which.apex},bottom={which.bottom},above_bottom={which.above_bottom}"
        used += [which.top, which.apex, which.bottom, which.above_bottom, "LASI", "RASI", "SACR"]

    present = set(summary.names)
    used = list(dict.fromkeys(m for m in used if m in present))
    prep.used = used
    gaps = {m: _gap_text(summary.gap_runs[m], first_frame) for m in used if m in summary.gap_runs}
    prep.attrs = attrs | {
        "models": ",".join(run),
        "models_left_out": json.dumps(skipped),
        "partial": int(bool(skipped)),
        "progression": opt.progression,
        "gap_frames": json.dumps(gaps),
        "kinematics_warnings": list(warn),
    }
    for w in warn:
        warnings.warn(f"{name}: {w}", KinematicsWarning, stacklevel=3)
    return prep


def angle_rules(prep: Prepared) -> dict[str, str | None]:
    """Per angle output, the continuity rule its series follows ("sum", "max", or None)."""
    rules: dict[str, str | None] = {}
    if "pig" in prep.run:
        rules |= {k: "sum" for k in pig.OUTPUTS}
    if "ofm" in prep.run:
        rules |= {k: ("max" if k.endswith("TIBA") else "sum") for k in ofm.OUTPUTS}
        rules |= ofm_posture.RULES
    if "trunk" in prep.run:
        rules |= {k: "sum" for k in pig.TRUNK_OUTPUTS}
    rules |= {"LumbarCurvature": None, "LumbarPelvisAngles": None}
    return rules


def frames_kinematics(prep: Prepared, dynamic: xr.Dataset) -> xr.Dataset:
    """The output of some consecutive frames of a trial (with SACR added as in `prepare`),
    its angles before the continuity rule (:func:`make_continuous` applies it in order)."""
    angles: dict[str, np.ndarray] = {}
    segments: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    points: dict[str, np.ndarray] = {}
    run = prep.run
    if "pig" in run:
        res = pig.pig_frames(_markers(dynamic, pig.DYNAMIC_MARKERS), prep.cal, prep.prog)
        angles |= res.angles
        segments |= res.segments
        points |= res.points
    if "ofm" in run:
        res = ofm.ofm_frames(_markers(dynamic, _sided(ofm.DYNAMIC + ("HLX",)) + ("LASI", "RASI", "SACR")),
                             prep.ofm_values, points, prep.means, **prep.ofm_args)
        angles |= res.angles
        segments |= res.segments
        points |= res.points
        mk = _markers(dynamic, _sided(ofm_posture.FOREFOOT) + ("LASI", "RASI", "SACR"))
        facing = ofm.facing_sign(mk, prep.ofm_args["travel_x"])
        posture, arch = ofm_posture.posture_frames(segments, mk, facing, prep.arch,
                                                   {s: prep.means[s][2] for s in pig.SIDES},
                                                   prep.ofm_args["reference"])
        angles |= posture
    if "trunk" in run:
        pelvis = segments["Pelvis"][1] if "Pelvis" in segments else None
        res = pig.trunk_frames(_markers(dynamic, pig.TRUNK_MARKERS + ("LASI", "RASI", "SACR")), prep.prog, pelvis)
        angles |= res.angles
        segments |= res.segments
    if "lumbar" in run:
        mk = _markers(dynamic, lumbar.SPINE_ORDER + ("LASI", "RASI", "SACR"))
        p_r = segments["Pelvis"][1] if "Pelvis" in segments else pig.pelvis_frame(mk["LASI"], mk["RASI"], mk["SACR"])[1]
        angles |= lumbar.lumbar_angles(mk, p_r, prep.which)
    out = _assemble(dynamic, prep.static, angles, segments, points, dynamic.markers.sel(marker=prep.used), prep.attrs)
    if "ofm" in run and arch:
        out = out.assign(ofm_posture.arch_variable(arch, out.sizes["frame"]))
    return out


def make_continuous(ds: xr.Dataset, state: dict, rules: dict[str, str | None]) -> xr.Dataset:
    """Apply each angle's continuity rule to a piece of output, in place; `state` (a dict,
    empty before the first piece) carries from piece to piece."""
    values = ds.angles.values
    for j, name in enumerate(ds.output.values.tolist()):
        rule = rules.get(name)
        if rule is None:
            continue
        c = state.setdefault(name, pig.Continuity(rule))
        values[:, j] = c(values[:, j])
    return ds


def compute_kinematics(
    dynamic: xr.Dataset, static: xr.Dataset | None, options: KinematicsOptions | None = None
) -> xr.Dataset:
    """Plug-in Gait, Oxford Foot Model, trunk and lumbar angles of `dynamic`, calibrated on `static`.

    Calibration values (Plug-in Gait's static foot offsets, the OFM's %-values) come from
    `options.subject` when given there, else from the static (then dynamic) trial's PROCESSING
    group when it holds them all (Nexus' calibration of that subject), else they are computed
    from the static trial's markers; ``*_source`` attributes say which.

    This is the one-piece case of the chunked computation (:mod:`chainlab.pipeline`): the
    trial-wide quantities from :func:`summarise`, the frames from :func:`frames_kinematics`,
    the continuity of the angles by :func:`make_continuous`.

    Raises
    ------
    ModelInputError
        No static trial; markers missing (listed) for a requested model (unless
        ``options.partial``, which leaves that model out and marks the output partial);
        required subject measurements missing (listed; give them in ``options.subject``).
    """
    opt = options or KinematicsOptions()
    name = dynamic.attrs.get("source_file", "dynamic trial")
    if opt.solver not in ("direct", "global"):
        raise ValueError(f"solver must be 'direct' or 'global'; found {opt.solver!r}")
    if static is None:
        raise ModelInputError(f"{name}: kinematics need the subject's static trial; none was given")
    if opt.solver == "global":
        return _global_kinematics(dynamic, static, opt)
    if opt.progression not in ("lab", "travel"):
        raise ValueError(f"progression must be 'lab' or 'travel'; found {opt.progression!r}")
    if dynamic.sizes["frame"] == 0:
        raise ModelInputError(f"{name}: the trial has 0 frames")
    dyn = with_sacrum(dynamic)
    prep = prepare(dyn, summarise(dyn, 0), static, opt)
    out = frames_kinematics(prep, dyn)
    return make_continuous(out, {}, angle_rules(prep))


def with_sacrum(ds: xr.Dataset) -> xr.Dataset:
    """`ds` with SACR made from LPSI and RPSI when it lacks it (:func:`prepare` warns)."""
    raw = [str(m) for m in ds.marker.values]
    out = _with_sacrum(ds, [])
    out.attrs = {**ds.attrs, "_raw_marker_names": raw}
    return out


def _assemble(dynamic, static, angles, segments, points, mk_used, attrs) -> xr.Dataset:
    names = list(angles)
    n = dynamic.sizes["frame"]
    seg_names = list(segments)
    coords = {
        "frame": dynamic.frame.values,
        "time": ("frame", dynamic.time.values, {"units": "s"}),
        "output": np.array(names, dtype=str),
        "axis": list(AXES),
        "segment": np.array(seg_names, dtype=str),
        "segment_axis": list(AXES),
        "point": np.array(list(points), dtype=str),
        "marker": mk_used.marker.values.astype(str),
    }
    empty3 = np.zeros((n, 0, 3))
    ds = xr.Dataset(
        {
            "angles": (("frame", "output", "axis"),
                       np.stack([angles[k] for k in names], axis=1) if names else empty3,
                       {"units": "deg", "long_name": "joint and segment angles, Nexus component order"}),
            "segment_origin": (("frame", "segment", "axis"),
                               np.stack([segments[k][0] for k in seg_names], axis=1) if seg_names else empty3,
                               {"units": "m", "long_name": "segment origin in the lab frame"}),
            "segment_axes": (("frame", "segment", "axis", "segment_axis"),
                             np.stack([segments[k][1] for k in seg_names], axis=1) if seg_names else np.zeros((n, 0, 3, 3)),
                             {"units": "1", "long_name": "segment x, y, z axes (segment_axis) as lab unit vectors (axis)"}),
            "joint_centres": (("frame", "point", "axis"),
                              np.stack([points[k] for k in points], axis=1) if points else empty3,
                              {"units": "m", "long_name": "joint centres in the lab frame"}),
            "markers": (("frame", "marker", "axis"), mk_used.values,
                        {"units": "m", "long_name": "markers the models used"}),
        },
        coords,
    )
    ds.attrs = {
        "title": "chainlab kinematics",
        "chainlab_version": __version__,
        "solver": "direct",
        "dynamic_file": dynamic.attrs.get("source_file", ""),
        "dynamic_sha256": dynamic.attrs.get("source_sha256", ""),
        "static_file": static.attrs.get("source_file", ""),
        "static_sha256": static.attrs.get("source_sha256", ""),
        "subject": dynamic.attrs.get("subject", ""),
        "point_rate": dynamic.attrs.get("point_rate", np.nan),
        **attrs,
    }
    return ds


def measured_chain_markers(chain, ds: xr.Dataset) -> np.ndarray:
    """(n, M, 3) the chain's markers as measured in `ds`, in chain order (NaN: not in the trial)."""
    present = set(ds.marker.values.tolist())
    n = ds.sizes["frame"]
    return np.stack([ds.markers.sel(marker=m).values if m in present else np.full((n, 3), np.nan)
                     for m in chain.markers], axis=1)


#: The global solver's trial template (``ChainOptions.template == "trial"``) is calibrated on
#: the trial's first TEMPLATE_FRAMES frames: all of a walk, a bounded window of a long capture,
#: so that the whole trial and its chunks (chainlab.pipeline) share one template.
TEMPLATE_FRAMES = 12_000


def template_chain(chain, dynamic: xr.Dataset, static: xr.Dataset, opt: KinematicsOptions):
    """The chain whose marker coordinates and joint centres come from the chain's template:
    the static trial's (``template="static"``), or the trial's (``"trial"``, the default):
    their mean positions in the direct models' segments over the first
    :data:`TEMPLATE_FRAMES` frames of `dynamic` (:func:`chainlab.model.chain.calibrate_on_trial`;
    docs/kinematics.md says why)."""
    from chainlab.model.chain import calibrate_on_trial

    copt = opt.chain or ChainOptions()
    if copt.template not in ("trial", "static"):
        raise ValueError(f"chain template must be 'trial' or 'static'; found {copt.template!r}")
    if copt.template == "static":
        return chain
    window = _with_sacrum(dynamic.isel(frame=slice(0, TEMPLATE_FRAMES)), [])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        own = compute_kinematics(window, static, replace(opt, solver="direct", partial=True))
    return calibrate_on_trial(chain, own, measured_chain_markers(chain, window))


def fit_frames(chain, dynamic: xr.Dataset, first_index: int = 0):
    """Global IK of some frames of a trial, beginning at trial index `first_index` (a block
    start of :func:`chainlab.model.ik.solve` for a result equal to the whole trial's):
    the frames with the chain's markers in place of the measured ones, the IK result and the
    measured chain markers."""
    from chainlab.model import ik

    dynamic = _with_sacrum(dynamic, [])
    names = chain.markers
    present = set(dynamic.marker.values.tolist())
    measured = measured_chain_markers(chain, dynamic)
    res = ik.solve(chain, measured, first_frame=first_index)
    # the chain's markers replace the measured ones (and stand in for those never measured)
    all_markers = list(dynamic.marker.values.tolist()) + [m for m in names if m not in present]
    fitted_ds = dynamic.reindex(marker=all_markers)
    values = fitted_ds.markers.transpose("frame", "marker", "axis").values.copy()
    index = {m: i for i, m in enumerate(all_markers)}
    values[:, [index[m] for m in names]] = res.markers
    fitted_ds["markers"] = fitted_ds.markers.transpose("frame", "marker", "axis").copy(data=values)
    return fitted_ds, res, measured


def global_summary(chain, fitted_ds: xr.Dataset, res, measured: np.ndarray, start: int = 0) -> TrialSummary:
    """:func:`summarise` of fitted frames, with what the global solver's output needs."""
    out = summarise(fitted_ds, start)
    out.rms = [res.rms]
    valid = np.isfinite(measured[..., 0])
    out.measured_gap_runs = {m: _runs(~valid[:, i], start) for i, m in enumerate(chain.markers) if not valid[:, i].all()}
    return out


def global_attrs(chain, summary: TrialSummary, raw_names, opt: KinematicsOptions) -> dict:
    rms = np.concatenate(summary.rms) if summary.rms else np.empty(0)
    gaps = {m: _gap_text(summary.measured_gap_runs[m], summary.first_frame)
            for m in chain.markers if m in summary.measured_gap_runs}
    return {
        "solver": "global",
        "chain": describe(chain),
        "chain_template": (opt.chain or ChainOptions()).template,
        "measured_gap_frames": json.dumps(gaps),
        "chain_markers_not_measured": ",".join(m for m in chain.markers if m not in set(raw_names)),
        "marker_rms_median_m": float(np.nanmedian(rms)) if np.isfinite(rms).any() else float("nan"),
    }


def add_global_frames(out: xr.Dataset, chain, res, measured: np.ndarray, attrs: dict) -> xr.Dataset:
    """The global solver's per-frame variables added to some frames' output."""
    names = chain.markers
    n = out.sizes["frame"]
    joints = ["pelvis"] + [b.name for b in chain.joints]
    coords = np.empty((n, len(joints), 3))
    coords[:, 0] = np.degrees(cardan(res.pose.rotation, "yxz"))
    coords[:, 1:] = np.degrees(res.pose.q)
    out = out.assign_coords(chain_marker=np.array(names, dtype=str), joint=np.array(joints, dtype=str),
                            joint_axis=["y", "x", "z"])
    out["marker_residual"] = (("frame", "chain_marker"), res.residual,
                              {"units": "m", "long_name": "distance from each fitted marker to the measured one (NaN: not measured)"})
    out["marker_rms"] = (("frame",), res.rms, {"units": "m", "long_name": "weighted RMS of the marker residuals"})
    out["marker_max"] = (("frame",), res.max, {"units": "m", "long_name": "largest marker residual"})
    out["markers_measured"] = (("frame", "chain_marker", "axis"), measured,
                               {"units": "m", "long_name": "measured markers the chain was fitted to"})
    out["joint_coordinates"] = (("frame", "joint", "joint_axis"), coords, {
        "units": "deg", "long_name": "chain coordinates: YXZ Cardan angles of each body in its parent's joint "
                                     "frame (pelvis: in the lab)"})
    slide = np.zeros((n, len(joints)))
    if res.pose.slide is not None:
        slide[:, 1:] = res.pose.slide
    out["joint_slide"] = (("frame", "joint"), slide, {
        "units": "m", "long_name": "slide of each body along its long axis (the thigh's or shank's change of length; "
                                   "0 where the body has no slide)"})
    out["pelvis_position"] = (("frame", "axis"), res.pose.origin, {"units": "m", "long_name": "chain root origin in the lab"})
    out["solver_iterations"] = (("frame",), res.iterations, {"units": "1"})
    out["solver_converged"] = (("frame",), res.converged.astype(np.int8), {"units": "1"})
    out.attrs |= attrs
    return out


def _global_kinematics(dynamic: xr.Dataset, static: xr.Dataset, opt: KinematicsOptions) -> xr.Dataset:
    """Fit the chain to every frame, then the direct models on the chain's markers."""
    from chainlab.model.chain import build_chain

    direct = replace(opt, solver="direct")
    static = _with_sacrum(static, [])
    chain = template_chain(build_chain(static, opt.chain, direct), dynamic, static, opt)
    fitted_ds, res, measured = fit_frames(chain, dynamic, 0)
    summary = global_summary(chain, fitted_ds, res, measured, 0)
    prep = prepare(fitted_ds, summary, static, direct)
    out = frames_kinematics(prep, fitted_ds)
    out = add_global_frames(out, chain, res, measured,
                            global_attrs(chain, summary, dynamic.marker.values.tolist(), opt))
    return make_continuous(out, {}, angle_rules(prep))


def kinematics_from_files(dynamic_path, static_path, options: KinematicsOptions | None = None) -> xr.Dataset:
    """Read both trials and compute their kinematics (:func:`compute_kinematics`)."""
    from chainlab.io.c3d import read_c3d

    return compute_kinematics(read_c3d(dynamic_path), read_c3d(static_path), options)


__all__ = ["KinematicsOptions", "KinematicsWarning", "compute_kinematics", "kinematics_from_files"]
