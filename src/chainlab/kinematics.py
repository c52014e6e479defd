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
===================  ==================================  =======

``output`` takes the names Vicon Nexus uses (``LPelvisAngles``, ``LHipAngles``, ...,
``LThoraxAngles``, ``LSpineAngles``) plus chainlab's ``LumbarCurvature`` and
``LumbarPelvisAngles``; ``axis`` is x, y, z in Nexus' component order. ``segment_axes``
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
from chainlab.model import lumbar, ofm, pig
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


def _valid_names(ds: xr.Dataset) -> list[str]:
    """Markers with at least one valid sample."""
    ok = np.isfinite(ds.markers.values[..., 0]).any(axis=0)
    return [str(m) for m, v in zip(ds.marker.values, ok) if v]


def _missing(ds: xr.Dataset, names: Sequence[str]) -> list[str]:
    """Markers absent from the trial, or present but invalid in every frame."""
    present = set(ds.marker.values.tolist())
    out = [n for n in names if n not in present]
    out += [n for n in names if n in present and not np.isfinite(ds.markers.sel(marker=n).values).any()]
    return out


def _gap_ranges(valid: np.ndarray, frames: np.ndarray) -> str:
    """'12-15,80' for the frame numbers where `valid` is False."""
    bad = np.flatnonzero(~valid)
    if bad.size == 0:
        return ""
    breaks = np.flatnonzero(np.diff(bad) > 1)
    starts = np.concatenate([[bad[0]], bad[breaks + 1]])
    ends = np.concatenate([bad[breaks], [bad[-1]]])
    return ",".join(
        f"{frames[a]}" if a == b else f"{frames[a]}-{frames[b]}" for a, b in zip(starts, ends)
    )


def _same_subject_checks(dynamic: xr.Dataset, static: xr.Dataset) -> list[str]:
    """Reasons to doubt that the static trial is the same subject's as the dynamic one."""
    doubts = []
    sd, ss = dynamic.attrs.get("subject", ""), static.attrs.get("subject", "")
    if sd and ss and sd != ss:
        doubts.append(f"subject names differ: dynamic {sd!r}, static {ss!r}")
    for name in ("Bodymass", "Height", "LLegLength", "RLegLength"):
        a = dynamic.measurements.to_series().get(name) if "measurement" in dynamic.coords else None
        b = static.measurements.to_series().get(name) if "measurement" in static.coords else None
        if a and b and abs(a - b) > 0.02 * max(abs(a), abs(b)):
            doubts.append(f"{name} differs: dynamic {a:g}, static {b:g}")
    for a, b in (("LASI", "RASI"), ("LKNE", "LANK"), ("RKNE", "RANK")):
        try:
            ld = np.nanmedian(np.linalg.norm(dynamic.markers.sel(marker=a) - dynamic.markers.sel(marker=b), axis=-1))
            ls = np.nanmedian(np.linalg.norm(static.markers.sel(marker=a) - static.markers.sel(marker=b), axis=-1))
        except KeyError:
            continue
        if np.isfinite(ld) and np.isfinite(ls) and abs(ld - ls) > 0.1 * ls:
            doubts.append(f"{a}-{b} distance differs: dynamic {ld * 1000:.0f} mm, static {ls * 1000:.0f} mm")
    return doubts


def compute_kinematics(
    dynamic: xr.Dataset, static: xr.Dataset | None, options: KinematicsOptions | None = None
) -> xr.Dataset:
    """Plug-in Gait, Oxford Foot Model, trunk and lumbar angles of `dynamic`, calibrated on `static`.

    Calibration values (Plug-in Gait's static foot offsets, the OFM's %-values) come from
    `options.subject` when given there, else from the static (then dynamic) trial's PROCESSING
    group when it holds them all (Nexus' calibration of that subject), else they are computed
    from the static trial's markers; ``*_source`` attributes say which.

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
    if opt.solver == "global":
        if static is None:
            raise ModelInputError(f"{name}: kinematics need the subject's static trial; none was given")
        return _global_kinematics(dynamic, static, opt)
    if opt.progression not in ("lab", "travel"):
        raise ValueError(f"progression must be 'lab' or 'travel'; found {opt.progression!r}")
    if dynamic.sizes["frame"] == 0:
        raise ModelInputError(f"{name}: the trial has 0 frames")
    unknown = sorted(set(opt.models) - set(MODELS))
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; expected some of {list(MODELS)}")
    if "ofm" in opt.models and "pig" not in opt.models:
        raise ValueError("model 'ofm' needs 'pig' too: the OFM tibia is the Plug-in Gait tibia")
    if static is None:
        raise ModelInputError(f"{name}: kinematics need the subject's static trial; none was given")
    warn: list[str] = []
    dynamic, static = _with_sacrum(dynamic, warn), _with_sacrum(static, warn)
    for doubt in _same_subject_checks(dynamic, static):
        warn.append(f"static trial {static.attrs.get('source_file', '')} may be another subject's: {doubt}")

    needs = {
        "pig": (pig.DYNAMIC_MARKERS, pig.MARKERS),
        "ofm": (pig.DYNAMIC_MARKERS + _sided(ofm.DYNAMIC), pig.MARKERS),
        "trunk": (pig.TRUNK_MARKERS + ("LASI", "RASI", "SACR"), ()),
        "lumbar": (("LASI", "RASI", "SACR"), ()),
    }
    skipped: dict[str, str] = {}
    run = []
    for model in opt.models:
        dyn_need, static_need = needs[model]
        miss_d, miss_s = _missing(dynamic, dyn_need), _missing(static, static_need)
        if model == "lumbar":
            try:
                lumbar.choose_markers(_valid_names(dynamic))
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

    frames = dynamic.frame.values
    angles: dict[str, np.ndarray] = {}
    segments: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    points: dict[str, np.ndarray] = {}
    attrs: dict[str, object] = {}
    used: list[str] = []
    if "pig" in run:
        meas, origin = resolve(static, dynamic, opt.subject, trial=name)
        if origin["MarkerDiameter"] == "default":
            warn.append("MarkerDiameter not given; 14 mm (Vicon's default marker) assumed")
        names = [f"{s}{n}" for s in pig.SIDES for n in ("StaticPlantFlex", "StaticRotOff")]
        offsets, offsets_from = _calibration_values(names, opt.subject, static, dynamic)
        cal = pig.calibrate(_markers(static, pig.MARKERS), meas | offsets, flat_foot=opt.flat_foot)
        attrs["pig_static_offsets_source"] = offsets_from
        attrs["flat_foot"] = int(opt.flat_foot) if offsets_from == "computed" else f"not used: offsets from {offsets_from}"
        for s in pig.SIDES:
            for key in ("ThighRotation", "ShankRotation"):
                if meas.get(f"{s}{key}"):
                    warn.append(f"{s}{key} = {meas[f'{s}{key}']:g} is not applied (not implemented)")
        res = pig.pig(_markers(dynamic, pig.DYNAMIC_MARKERS), cal, progression=opt.progression)
        angles |= res.angles
        segments |= res.segments
        points |= res.points
        attrs |= cal.as_attrs()
        attrs["measurement_sources"] = json.dumps(origin, sort_keys=True)
        used += list(pig.DYNAMIC_MARKERS)
    if "ofm" in run:
        processing = {**_processing(dynamic), **_processing(static)}
        names = [f"%{s}{n}{a}" for s in pig.SIDES for n in ofm.CALIBRATION for a in "XYZ"]
        values, source = _calibration_values(names, opt.subject, static, dynamic)
        if source == "computed":
            lacking = _missing(static, _sided(ofm.STATIC))
            if lacking:
                raise ModelInputError(
                    f"{name}: the OFM calibration values are not stored and the static trial "
                    f"{static.attrs.get('source_file', '')} lacks {', '.join(lacking)} to compute them")
            values = {**ofm.calibrate(_markers(static, _sided(ofm.STATIC))), **values}
        res = ofm.ofm(
            _markers(dynamic, _sided(ofm.DYNAMIC + ("HLX",)) + ("LASI", "RASI", "SACR")),
            values,
            points,
            marker_diameter=meas["MarkerDiameter"],
            proxff_factor=processing.get("ProxFFfactor", 2.0) or 2.0,
            travel_x=bool(processing.get("TravelDirectionX", 0.0)),
            reference=None if opt.progression == "lab" else pig.progression_frame(
                dynamic.markers.sel(marker="LASI").values, dynamic.markers.sel(marker="RASI").values,
                dynamic.markers.sel(marker="SACR").values, opt.progression),
        )
        angles |= res.angles
        segments |= res.segments
        points |= res.points
        attrs["ofm_calibration_source"] = source
        attrs |= {f"ofm_{k}": v for k, v in values.items()}
        attrs["ofm_tiba_switch_frames"] = json.dumps(
            {k: frames[v].tolist() for k, v in res.transition_frames.items() if v.size}
        )
        used += list(_sided(ofm.DYNAMIC + ("HLX",)))
    if "trunk" in run:
        pelvis = segments["Pelvis"][1] if "Pelvis" in segments else None
        res = pig.trunk(_markers(dynamic, needs["trunk"][0]), progression=opt.progression, pelvis=pelvis)
        angles |= res.angles
        segments |= res.segments
        used += list(pig.TRUNK_MARKERS)
    if "lumbar" in run:
        mk = _markers(dynamic, lumbar.SPINE_ORDER + ("LASI", "RASI", "SACR"))
        which = lumbar.choose_markers(_valid_names(dynamic))
        p_r = segments["Pelvis"][1] if "Pelvis" in segments else pig.pelvis_frame(mk["LASI"], mk["RASI"], mk["SACR"])[1]
        angles |= lumbar.lumbar_angles(mk, p_r, which)
        attrs["lumbar_markers"] = f"top={which.top},apex={which.apex},bottom={which.bottom},above_bottom={which.above_bottom}"
        used += [which.top, which.apex, which.bottom, which.above_bottom, "LASI", "RASI", "SACR"]

    used = list(dict.fromkeys(m for m in used if m in set(dynamic.marker.values.tolist())))
    mk_used = dynamic.markers.sel(marker=used)
    valid = np.isfinite(mk_used.values[..., 0])
    gaps = {m: _gap_ranges(valid[:, i], frames) for i, m in enumerate(used) if not valid[:, i].all()}
    for w in warn:
        warnings.warn(f"{name}: {w}", KinematicsWarning, stacklevel=2)
    return _assemble(dynamic, static, angles, segments, points, mk_used, attrs | {
        "models": ",".join(run),
        "models_left_out": json.dumps(skipped),
        "partial": int(bool(skipped)),
        "progression": opt.progression,
        "gap_frames": json.dumps(gaps),
        "kinematics_warnings": list(warn),
    })


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


def _global_kinematics(dynamic: xr.Dataset, static: xr.Dataset, opt: KinematicsOptions) -> xr.Dataset:
    """Fit the chain to every frame, then the direct models on the chain's markers.

    With ``ChainOptions.template == "trial"`` (default) the chain's marker coordinates and joint
    centres are first re-estimated over this trial from the direct models' segments
    (:func:`chainlab.model.chain.calibrate_on_trial`; docs/kinematics.md says why).
    """
    from chainlab.model import ik
    from chainlab.model.chain import build_chain, calibrate_on_trial

    direct = replace(opt, solver="direct")
    dynamic, static = _with_sacrum(dynamic, []), _with_sacrum(static, [])
    chain = build_chain(static, opt.chain, direct)
    names = chain.markers
    present = set(dynamic.marker.values.tolist())
    n = dynamic.sizes["frame"]
    measured = np.stack([dynamic.markers.sel(marker=m).values if m in present else np.full((n, 3), np.nan)
                         for m in names], axis=1)
    copt = opt.chain or ChainOptions()
    if copt.template not in ("trial", "static"):
        raise ValueError(f"chain template must be 'trial' or 'static'; found {copt.template!r}")
    if copt.template == "trial":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            own = compute_kinematics(dynamic, static, replace(direct, partial=True))
        chain = calibrate_on_trial(chain, own, measured)
    res = ik.solve(chain, measured, first_frame=0)
    # the chain's markers replace the measured ones (and stand in for those never measured)
    all_markers = list(dynamic.marker.values.tolist()) + [m for m in names if m not in present]
    fitted_ds = dynamic.reindex(marker=all_markers)
    values = fitted_ds.markers.transpose("frame", "marker", "axis").values.copy()
    index = {m: i for i, m in enumerate(all_markers)}
    values[:, [index[m] for m in names]] = res.markers
    fitted_ds["markers"] = fitted_ds.markers.transpose("frame", "marker", "axis").copy(data=values)
    out = compute_kinematics(fitted_ds, static, direct)
    valid = np.isfinite(measured[..., 0])
    frames = dynamic.frame.values
    gaps = {m: _gap_ranges(valid[:, i], frames) for i, m in enumerate(names) if not valid[:, i].all()}
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
    out.attrs |= {
        "solver": "global",
        "chain": describe(chain),
        "chain_template": copt.template,
        "measured_gap_frames": json.dumps(gaps),
        "chain_markers_not_measured": ",".join(m for m in names if m not in present),
        "marker_rms_median_m": float(np.nanmedian(res.rms)) if np.isfinite(res.rms).any() else float("nan"),
    }
    return out


def kinematics_from_files(dynamic_path, static_path, options: KinematicsOptions | None = None) -> xr.Dataset:
    """Read both trials and compute their kinematics (:func:`compute_kinematics`)."""
    from chainlab.io.c3d import read_c3d

    return compute_kinematics(read_c3d(dynamic_path), read_c3d(static_path), options)


__all__ = ["KinematicsOptions", "KinematicsWarning", "compute_kinematics", "kinematics_from_files"]
