"""Check a trial and calibrate the direct models for it (:func:`prepare`).

What the models need before any frame is computed: the markers each model needs (present and
valid somewhere, in the trial and in the static trial), the subject's measurements and the
calibration values (from config, the trials' PROCESSING groups, or computed from the static
trial), the progression frame, the OFM cluster means, the doubts about the static trial being
the same subject's, and the output's attributes.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from chainlab.errors import ModelInputError
from chainlab.kinematics.summary import PAIRS, TrialSummary, gap_text, missing_in
from chainlab.model import lumbar, ofm, ofm_posture, pig
from chainlab.model.continuity import norm_of
from chainlab.model.marker_arrays import marker_arrays
from chainlab.model.measurements import from_dataset, resolve
from chainlab.model.plausibility import MEASUREMENT_RANGES
from chainlab.options import MODELS, KinematicsOptions
from chainlab.schema import SPATIOTEMPORAL_MARKERS


class KinematicsWarning(UserWarning):
    """Kinematics ran, but something about the inputs is doubtful (e.g. another subject)."""


def never_valid(ds: xr.Dataset) -> list[str]:
    """The markers whose label `ds` holds but that have no valid frame in it. Only a whole
    trial's answer is a decision: a piece of a trial may fall inside a marker's gap."""
    mk = ds.markers.transpose("frame", "marker", "axis").values
    seen = np.isfinite(mk).all(axis=-1).any(axis=0)
    return [str(m) for m, ok in zip(ds.marker.values, seen) if not ok]


def without_markers(ds: xr.Dataset, names: Sequence[str]) -> xr.Dataset:
    """`ds` without the markers `names` (those it has), which the attribute ``_never_valid``
    records: markers never valid in the whole trial are treated as absent in each of its
    pieces, so that every piece makes the same choice (SACR from the PSIs, a cluster marker
    rebuilt, a model left out)."""
    drop = [m for m in names if m in set(ds.marker.values.tolist())]
    out = ds.drop_sel(marker=drop) if drop else ds
    return out.assign_attrs(_never_valid=list(dict.fromkeys(list(ds.attrs.get("_never_valid", [])) + list(names))))


def absent_if_never_valid(ds: xr.Dataset) -> xr.Dataset:
    """A whole trial (`ds`) without its markers that have no valid frame (:func:`without_markers`)."""
    gone = never_valid(ds)
    return without_markers(ds, gone) if gone else ds


def never_valid_text(names: Sequence[str], source: str) -> str:
    """``FILE: SACR, C7 have no valid frame: treated as absent``."""
    verb = "have" if len(names) > 1 else "has"
    return f"{source}: {', '.join(names)} {verb} no valid frame in the whole trial: treated as absent"


def _with_sacrum(ds: xr.Dataset, warn: list[str]) -> xr.Dataset:
    """A trial with SACR: the mid-point of LPSI and RPSI when it has those instead (PiG)."""
    names = set(ds.marker.values.tolist())
    if "SACR" in names or not {"LPSI", "RPSI"} <= names:
        return ds
    sacr = 0.5 * (ds.markers.sel(marker="LPSI") + ds.markers.sel(marker="RPSI"))
    extra = sacr.expand_dims(marker=["SACR"]).transpose("frame", "marker", "axis")
    out = xr.concat([ds.markers, extra], dim="marker", coords="minimal", compat="override")
    warn.append(_sacrum_text(ds.attrs.get("source_file", ""), ds.attrs.get("_never_valid", ())))
    return ds.drop_dims("marker").assign(markers=out)


def _sacrum_text(source: str, gone) -> str:
    if "SACR" in gone:
        return f"{source}: SACR has no valid frame; sacrum built from LPSI, RPSI (their mid-point, as Plug-in Gait)"
    return f"{source}: SACR taken as the mid-point of LPSI and RPSI"


def with_sacrum(ds: xr.Dataset) -> xr.Dataset:
    """`ds` with SACR made from LPSI and RPSI when it lacks it (:func:`prepare` warns), and
    the trial's own marker names in the attribute ``_raw_marker_names``."""
    raw = [str(m) for m in ds.marker.values]
    out = _with_sacrum(ds, [])
    return out.assign_attrs({**ds.attrs, "_raw_marker_names": raw})


def sided(names: Sequence[str]) -> tuple[str, ...]:
    """Each name with the L and R prefixes: ("ANK",) -> ("LANK", "RANK")."""
    return tuple(f"{s}{n}" for s in pig.SIDES for n in names)


def _calibration_values(names, overrides, static, dynamic) -> tuple[dict[str, float], str]:
    """Calibration values from config, else the static (then dynamic) trial's PROCESSING
    group when it holds all of them, else 'computed' (empty: the caller computes them)."""
    given = {n: float(overrides[n]) for n in names if n in overrides}
    if len(given) == len(names):
        return given, "config"
    for label, ds in (("static PROCESSING", static), ("dynamic PROCESSING", dynamic)):
        stored = from_dataset(ds)
        if all(np.isfinite(stored.get(n, np.nan)) for n in names) and any(stored[n] != 0.0 for n in names):
            # all zeros: the values were never calibrated (a static trial stores them so)
            return {**{n: stored[n] for n in names}, **given}, label
    return given, "computed"


def _missing_text(missing: Sequence[str], gone: Sequence[str], where: str) -> tuple[str, str]:
    """Why a model cannot run: the markers `missing` from `where`, those whose label is there
    but never valid (`gone`) said so rather than as missing."""
    never = [m for m in missing if m in gone]
    absent = [m for m in missing if m not in never]
    return (f"missing from {where}: {', '.join(absent)}" if absent else "",
            f"never valid in {where} (label present, no valid frame): {', '.join(never)}" if never else "")


def _plausible_offsets(offsets: dict, source: str, given: Mapping, static: xr.Dataset, warn: list[str]):
    """Plug-in Gait's foot offsets and their source, those stored in a PROCESSING group
    outside the range of radians (:data:`MEASUREMENT_RANGES`; stored in degrees, say: nothing
    in a file says so) not used: computed from the static trial instead, or, without one (the
    stand-in for it is the walk), used as stored and named."""
    bad = {k: v for k, v in offsets.items() if k not in given and k[1:] in MEASUREMENT_RANGES
           and not MEASUREMENT_RANGES[k[1:]][0] <= v <= MEASUREMENT_RANGES[k[1:]][1]}
    if not bad or source in ("config", "computed"):
        return offsets, source
    text = ", ".join(f"{k} {v:.4g}" for k, v in bad.items())
    if static.attrs.get("stand_in_for_static"):
        warn.append(f"foot offsets in the {static.attrs['stand_in_for_static']} outside [-0.8, 0.8] rad ({text}; stored in degrees?): used as "
                    "stored, no static trial to compute them from; the ankle and foot progression angles are doubtful")
        return offsets, source
    warn.append(f"foot offsets in {source} outside [-0.8, 0.8] rad ({text}; stored in degrees?): not used, "
                "computed from the static trial")
    return {k: v for k, v in offsets.items() if k in given}, "computed"


def _missing(ds: xr.Dataset, names: Sequence[str]) -> list[str]:
    """Markers absent from the trial, or present but invalid in every frame."""
    present = set(ds.marker.values.tolist())
    out = [n for n in names if n not in present]
    mk = marker_arrays(ds, [n for n in names if n in present])
    out += [n for n in names if n in mk and not np.isfinite(mk[n]).any()]
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
    gone = list(head.attrs.get("_never_valid", []))  # labels never valid in the whole trial, dropped
    gone += [m for m in summary.names if not summary.any_valid.get(m, True) and m not in gone]
    if "SACR" not in raw_names and {"LPSI", "RPSI"} <= raw_names:
        warn.append(_sacrum_text(head.attrs.get("source_file", ""), gone))
    static = absent_if_never_valid(static)
    if static.attrs.get("stand_in_for_static"):  # the walk itself: its markers are named once, as the walk's
        static = static.assign_attrs(_never_valid=[])
    static_gone = list(static.attrs.get("_never_valid", []))
    # the walk standing in for its static: its SACR is the walk's, named once above
    static = _with_sacrum(static, [] if static.attrs.get("stand_in_for_static") else warn)
    medians = {}
    for pair, parts in summary.distances.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            medians[pair] = np.nanmedian(np.concatenate(parts)) if parts else np.nan
    for doubt in _same_subject_checks(head, static, medians):
        warn.append(f"static trial {static.attrs.get('source_file', '')} may be another subject's: {doubt}")

    needs = {
        "pig": (pig.DYNAMIC_MARKERS, pig.MARKERS),
        "ofm": (pig.DYNAMIC_MARKERS + sided(ofm.DYNAMIC), pig.MARKERS),
        "trunk": (pig.TRUNK_MARKERS + ("LASI", "RASI", "SACR"), ()),
        "lumbar": (("LASI", "RASI", "SACR"), ()),
    }
    valid_names = [m for m in summary.names if summary.any_valid[m]]
    skipped: dict[str, str] = {}
    run = []
    for model in opt.models:
        dyn_need, static_need = needs[model]
        miss_d, miss_s = missing_in(summary, dyn_need), _missing(static, static_need)
        if model == "lumbar":
            try:
                lumbar.choose_markers(valid_names)
            except ValueError as exc:
                miss_d = miss_d + [str(exc)]
        if miss_d or miss_s:
            reason = "; ".join(x for x in (
                *_missing_text(miss_d, gone, name),
                *_missing_text(miss_s, static_gone, f"static {static.attrs.get('source_file', '')}")) if x)
            if not opt.partial:
                raise ModelInputError(f"{name}: model {model!r} cannot run ({reason}); without --strict "
                                      "(config kinematics: strict: false) it is left out and named")
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
        offsets, offsets_from = _plausible_offsets(offsets, offsets_from, opt.subject, static, warn)
        cal = pig.calibrate(marker_arrays(static, pig.MARKERS), meas | offsets, flat_foot=opt.flat_foot)
        attrs["pig_static_offsets_source"] = offsets_from
        attrs["flat_foot"] = int(opt.flat_foot) if offsets_from == "computed" else f"not used: offsets from {offsets_from}"
        applied = {k: meas[k] for k in pig.KAD_OFFSETS if meas.get(k)}
        attrs["pig_offsets_applied_rad"] = json.dumps(applied, sort_keys=True)
        prep.cal, prep.meas = cal, meas
        attrs |= cal.as_attrs()
        attrs["measurement_sources"] = json.dumps(origin, sort_keys=True)
        used += list(pig.DYNAMIC_MARKERS)
    if "ofm" in run:
        processing = {**from_dataset(head), **from_dataset(static)}
        names = [f"%{s}{n}{a}" for s in pig.SIDES for n in ofm.CALIBRATION for a in "XYZ"]
        values, source = _calibration_values(names, opt.subject, static, head)
        if source == "computed":
            lacking = _missing(static, sided(ofm.STATIC))
            if lacking:
                raise ModelInputError(
                    f"{name}: the OFM calibration values are not stored and the static trial "
                    f"{static.attrs.get('source_file', '')} lacks {', '.join(lacking)} to compute them")
            values = {**ofm.calibrate(marker_arrays(static, sided(ofm.STATIC))), **values}
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
        # TIBA and HFTFL take the lab turned with the pelvis' facing: at a switch Nexus writes
        # a value no rule explains (docs/kinematics.md)
        attrs["ofm_tiba_switch_frames"] = json.dumps(
            {f"{s}{n}": (switch + first_frame).tolist() for s in pig.SIDES for n in ("TIBA", "HFTFL") if switch.size})
        own = head.attrs.get("source_sha256", "")
        attrs["fetba_definition"] = ofm_posture.WALKING_FETBA + (
            "; this is the static trial, whose Nexus FETBA is another definition (ofm_posture.ofm_posture gives it)"
            if own and own == static.attrs.get("source_sha256") else "")
        try:  # the arch measures need the static forefoot markers (and D1M)
            prep.arch, arch_source = ofm_posture.arch_calibration(static, prep.meas["MarkerDiameter"])
            attrs["arch_calibration_source"] = arch_source
        except KeyError as exc:
            attrs["arch_calibration_source"] = f"none: {exc.args[0]}"
            warn.append(f"no arch measures: {exc.args[0]}")
        used += list(sided(ofm.DYNAMIC + ("HLX",)))
    if "trunk" in run:
        used += list(pig.TRUNK_MARKERS)
    if "lumbar" in run:
        which = lumbar.choose_markers(valid_names)
        prep.which = which
        attrs["lumbar_markers"] = f"top={which.top},apex={which.apex},bottom={which.bottom},above_bottom={which.above_bottom}"
        used += [which.top, which.apex, which.bottom, which.above_bottom, "LASI", "RASI", "SACR"]

    # the heel and toe markers of the spatiotemporal parameters, kept whenever the capture has
    # them: Plug-in Gait's walking trials read TOE but not HEE, so a PiG-only lab needs this
    used += list(SPATIOTEMPORAL_MARKERS)
    present = set(summary.names)
    used = list(dict.fromkeys(m for m in used if m in present))
    prep.used = used
    gaps = {m: gap_text(summary.gap_runs[m], first_frame) for m in used if m in summary.gap_runs}
    never = {k: v for k, v in ((name, gone), (f"static {static.attrs.get('source_file', '')}", static_gone)) if v}
    notes = [never_valid_text(names, where) for where, names in never.items()]
    warn += notes
    notes += [w for w in warn if "SACR has no valid frame" in w]  # named among the trial's problems too
    prep.attrs = attrs | {
        "markers_never_valid": json.dumps(never),
        "input_notes": json.dumps(notes),
        "models": ",".join(run),
        "models_left_out": json.dumps(skipped),
        "partial": int(bool(skipped)),
        "progression": opt.progression,
        "gap_frames": json.dumps(gaps),
        "kinematics_warnings": list(warn),
    }
    for w in warn:  # named once: a message that names its file (the static's, say) keeps that name alone
        named = w.split(": ", 1)[0].rstrip(")").lower().endswith(".c3d")
        warnings.warn(w if named else f"{name}: {w.lstrip(': ')}", KinematicsWarning, stacklevel=3)
    return prep


def angle_rules(prep: Prepared) -> dict[str, str | None]:
    """Per angle output, the continuity rule its series follows ("sum", "max", or None)."""
    rules: dict[str, str | None] = {}
    if "pig" in prep.run:
        rules |= {k: "sum" for k in pig.OUTPUTS}
    if "ofm" in prep.run:
        rules |= {k: norm_of(k) for k in ofm.OUTPUTS}
        rules |= ofm_posture.RULES
    if "trunk" in prep.run:
        rules |= {k: "sum" for k in pig.TRUNK_OUTPUTS}
    rules |= {"LumbarCurvature": None, "LumbarPelvisAngles": None}
    return rules
