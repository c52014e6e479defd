"""Plausibility checks of a trial: no silently wrong number from a swapped, misplaced or
mislabelled marker, another subject's static trial or a mistyped measurement.

:func:`check_trial` takes the dynamic and static trials (Datasets from
:func:`chainlab.read_c3d`) and, optionally, the kinematics of the trial, and returns a list
of :class:`QualityProblem`: the check, the markers or segment concerned, the value, the
threshold and a message. A trial with problems keeps its outputs; the problems say which
numbers not to trust. Every threshold is written beside its reason (physiology or published
numbers), and docs/kinematics.md lists them.

Checks (``check`` names):

``segment_length``
    Two markers on one segment (or a marker and the hip joint centre) keep their distance:
    its median in the walk must equal the static trial's within :data:`LENGTH_TOLERANCE`. A
    swapped, misplaced or mislabelled marker changes the length of every pair it is in.
``segment_length_range``
    The same distance must not vary within the walk by more than :data:`RANGE_TOLERANCE`
    (p2-p98): a label swapped for part of the trial.
``thigh_wand_direction`` / ``shank_wand_direction``
    Plug-in Gait's thigh (shank) wand marker must lie lateral of the thigh (shank) axis: the
    angle about that axis between the wand and the pelvis' lateral direction
    (:data:`WAND_MAX_DEG`), less the wand's ``?ThighRotation`` (``?ShankRotation``) offset when
    one is given: a knee-alignment-device calibration places the wand anywhere and says where
    (ktk_walk's LTHI, 100 deg behind lateral with ThighRotation -1.74 rad, is sound; LTHI2
    mapped in its place is 101 deg off, RTHI2 116, and both are named). A thigh marker
    elsewhere turns the knee's flexion axis (ktk_walk's LTHI with its offset ignored: knee
    flexion -49..-20 deg against Nexus' 12..55).
``pelvis_orientation`` / ``side``
    The pelvis' vertical axis must point up (LASI and RASI not swapped; the lab's vertical +z),
    and each left marker of a pair (LKNE, RKNE ...) must lie left of the right one in the
    pelvis frame.
``angle_range``
    Angles outside physiological ranges in walking (:data:`ANGLE_RANGES`), by the 5th and 95th
    percentiles over the frames.
``foot_orientation``
    Oxford Foot Model segments that are not anatomical: forefoot long axis more than
    :data:`FOREFOOT_HINDFOOT_MAX_DEG` from the hindfoot's, or the hindfoot's long axis not
    roughly perpendicular to the tibia (:data:`HINDFOOT_TIBIA_DEG`).
``measurement_range``
    Subject measurements outside human ranges (:data:`MEASUREMENT_RANGES`; e.g. a leg length of
    3,320 mm, foot offsets stored in degrees).
``measurement_geometry``
    Measurements that disagree with the static trial's markers: leg length against the
    ASIS-ankle marker distance, inter-ASIS distance against the ASIS markers.
``same_subject``
    The static trial names another subject, or its measurements differ from the walk's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import xarray as xr

from chainlab.model import pig
from chainlab.model.geometry import cross, dot, unit
from chainlab.model.measurements import PIG_OPTIONAL, from_dataset, resolve
from chainlab.subject_values import MEASUREMENT_RANGES, range_key

# --------------------------------------------------------------------------- thresholds

#: segment_length: |median walk - median static| above max(20 mm, 10 % of the static length).
#: Skin markers move against the bone by up to 10-30 mm on the thigh and 10-15 mm on the shank
#: in walking (soft-tissue artefact: Cappozzo et al. 1996, Leardini et al. 2005), so two markers
#: of a segment may change their median distance by well under 20 mm; a swapped marker or one
#: on another segment changes it by several centimetres. 10 % keeps long pairs (pelvis,
#: hip-knee 300-450 mm) from flagging a few % of skin stretch.
LENGTH_TOLERANCE = (0.020, 0.10)
#: segment_length_range: p98 - p2 within the walk above max(40 mm, 20 %): two markers each
#: moving up to 20 mm against the bone in opposite directions (same sources).
RANGE_TOLERANCE = (0.040, 0.20)
#: thigh/shank wand: largest |median angle| (deg) between the wand's direction from the segment
#: axis and the pelvis' lateral direction. The wand is placed lateral, in the plane of the hip
#: and knee joint centres and the knee's flexion axis (Plug-in Gait; Davis et al. 1991);
#: in walking the hip rotates within about +-15 deg (Kadaba et al. 1990); a wand placed off the
#: plane on purpose is measured from where its ThighRotation/ShankRotation offset (knee
#: alignment device) places it; the shank also carries the tibial torsion (up to 30-40 deg
#: external). 45 deg (thigh) and 70 deg (shank) leave that margin; a wand in front of or behind
#: the segment without such an offset is 90 deg or more. (Measured on the 18 biomechzoo captures
#: and 6 Nexus captures of other labs: thigh |median| at most 30 deg; ktk_walk's LTHI 133 deg
#: from lateral, 33 deg from where its LThighRotation of -99.75 deg places it.)
WAND_MAX_DEG = {"THI": 45.0, "TIB": 70.0}
#: angle_range: (lower, upper) deg for the 5th / 95th percentile of each component in walking.
#: Normative walking ranges (Kadaba et al. 1990; Perry & Burnfield 2010) widened for pathological
#: gait (crouch, equinus, recurvatum): a value beyond them is rather a marker problem.
ANGLE_RANGES: dict[str, tuple[str, float, float, str]] = {
    "KneeAngles": ("x", -20.0, 100.0, "knee flexion: walking 0-70 deg; recurvatum rarely beyond -15, crouch up to 90"),
    "HipAngles": ("x", -40.0, 90.0, "hip flexion: walking -20..40 deg; contractures and crouch widen it"),
    "AnkleAngles": ("x", -50.0, 45.0, "ankle dorsiflexion: walking -25..20 deg; equinus to -45"),
    "PelvisAngles": ("x", -20.0, 50.0, "pelvic tilt: 5-20 deg anterior; up to 40 in pathological gait"),
}
ANGLE_RANGES_Y: dict[str, tuple[str, float, float, str]] = {
    "KneeAngles": ("y", -40.0, 40.0, "knee varus/valgus: within +-15 deg in walking; +-40 leaves cross-talk margin"),
    "HFTBA": ("y", -45.0, 45.0, "hindfoot inversion/eversion: within +-20 deg in walking (Stebbins et al. 2006)"),
}
#: foot_orientation: forefoot long axis within 60 deg of the hindfoot's (midfoot motion in walking
#: is 10-25 deg in any plane, Stebbins et al. 2006; 60 deg admits deformity, not a reversed segment).
FOREFOOT_HINDFOOT_MAX_DEG = 60.0
#: hindfoot long axis against the tibia's: 90 deg +- 50 (ankle and subtalar motion in walking span
#: about -25..+20 deg about neutral; 50 admits equinus and calcaneus feet).
HINDFOOT_TIBIA_DEG = (40.0, 140.0)
#: measurement_range: human ranges (Nexus units): chainlab.subject_values.MEASUREMENT_RANGES, where a
#: value given by a user is checked against them too.
#: measurement_geometry: |leg length - ASIS-ankle marker distance in the static| above 15 %.
#: The markers sit on the skin beside the landmarks (ASIS, lateral vs medial malleolus: 10-30 mm),
#: under 5 % of a leg; another subject's static differs more.
LEG_LENGTH_TOLERANCE = 0.15
#: measurement_geometry: |inter-ASIS distance - LASI-RASI marker distance| above max(40 mm, 20 %).
#: Calipers measure between the bony spines; the marker centres sit a radius plus 5-15 mm of soft
#: tissue beside each spine, often lateral of it: up to about 40 mm more in all (HC030A: 204 mm
#: typed, 236 mm between the markers). Another subject's pelvis differs by more.
IAD_TOLERANCE = (40.0, 0.20)
#: same_subject: measurements of static and walk that must agree within 2 % (the same subject's
#: values are copied, not remeasured, between trials of one session).
SAME_SUBJECT_TOLERANCE = 0.02

#: Marker pairs on one segment; "HJC" is the Plug-in Gait hip joint centre of that side.
SIDED_PAIRS = (
    ("thigh", "HJC", "KNE"), ("thigh", "HJC", "THI"), ("thigh", "THI", "KNE"),
    ("shank", "TIB", "ANK"), ("shank", "ANK", "HFB"), ("shank", "ANK", "TUB"), ("shank", "ANK", "SHN"),
    ("shank", "TUB", "SHN"), ("shank", "HFB", "SHN"),
    ("foot", "HEE", "TOE"), ("hindfoot", "HEE", "LCA"), ("hindfoot", "HEE", "STL"),
    ("hindfoot", "LCA", "STL"), ("hindfoot", "HEE", "CPG"),
    ("forefoot", "P1M", "D5M"), ("forefoot", "TOE", "P5M"), ("forefoot", "P1M", "P5M"), ("forefoot", "D5M", "TOE"),
    ("forefoot", "P1M", "TOE"), ("forefoot", "D5M", "P5M"),
)
#: Markers whose left one must lie left of the right one in the pelvis frame (side check).
SIDED_MARKERS = ("PSI", "THI", "KNE", "TIB", "ANK", "HEE", "TOE")
CENTRAL_PAIRS = (
    ("pelvis", "LASI", "RASI"), ("pelvis", "LPSI", "RPSI"), ("pelvis", "LASI", "LPSI"), ("pelvis", "RASI", "RPSI"),
    ("pelvis", "LASI", "SACR"), ("pelvis", "RASI", "SACR"),
    ("thorax", "C7", "T10"), ("thorax", "CLAV", "STRN"), ("thorax", "C7", "CLAV"), ("thorax", "T10", "STRN"),
)


@dataclass
class QualityProblem:
    """One failed check: which, where (markers or segment), the value and the threshold."""

    check: str
    markers: tuple[str, ...]  # markers (or outputs / measurements) concerned
    segment: str
    value: float
    threshold: str
    message: str

    def as_dict(self) -> dict:
        out = asdict(self)
        out["markers"] = ",".join(self.markers)
        return out


# --------------------------------------------------------------------------- helpers


def _points(ds: xr.Dataset, meas: Mapping[str, float]) -> dict[str, np.ndarray]:
    """The trial's markers (m), with SACR from the PSIS when absent and the Plug-in Gait hip
    joint centres (LHJC, RHJC) when the pelvis markers and the measurements allow."""
    names = [str(m) for m in ds.marker.values]
    xyz = ds.markers.transpose("frame", "marker", "axis").values
    pts = {m: xyz[:, i] for i, m in enumerate(names)}
    if "SACR" not in pts and {"LPSI", "RPSI"} <= set(pts):
        pts["SACR"] = 0.5 * (pts["LPSI"] + pts["RPSI"])
    need = ("LLegLength", "RLegLength")
    if {"LASI", "RASI", "SACR"} <= set(pts) and all(meas.get(k) for k in need):
        m = {"MarkerDiameter": PIG_OPTIONAL["MarkerDiameter"], **{k: v for k, v in meas.items() if np.isfinite(v)}}
        if not m.get("InterAsisDistance"):
            m["InterAsisDistance"] = float(np.nanmedian(np.linalg.norm(pts["LASI"] - pts["RASI"], axis=-1)) * 1000)
        origin, r = pig.pelvis_frame(pts["LASI"], pts["RASI"], pts["SACR"])
        for s, p in pig.hip_joint_centres(origin, r, m).items():
            pts[f"{s}HJC"] = p
    return pts


def _distance(pts, a, b) -> np.ndarray | None:
    if a not in pts or b not in pts:
        return None
    d = np.linalg.norm(pts[a] - pts[b], axis=-1)
    return d if np.isfinite(d).sum() >= 3 else None


def _pairs() -> list[tuple[str, str, str]]:
    out = [(f"{'left' if s == 'L' else 'right'} {seg}", f"{s}{a}", f"{s}{b}")
           for s in pig.SIDES for seg, a, b in SIDED_PAIRS]
    return out + list(CENTRAL_PAIRS)


# --------------------------------------------------------------------------- checks


def segment_lengths(dynamic: xr.Dataset, static: xr.Dataset | None, meas: Mapping[str, float]) -> list[QualityProblem]:
    """``segment_length`` and ``segment_length_range`` (module docstring)."""
    dyn = _points(dynamic, meas)
    sta = _points(static, meas) if static is not None else {}
    out = []
    for seg, a, b in _pairs():
        d = _distance(dyn, a, b)
        if d is None:
            continue
        lo, hi = np.nanpercentile(d, [2, 98])
        tol = max(RANGE_TOLERANCE[0], RANGE_TOLERANCE[1] * float(np.nanmedian(d)))
        if hi - lo > tol:
            out.append(QualityProblem(
                "segment_length_range", (a, b), seg, float(hi - lo), f"> {tol * 1000:.0f} mm",
                f"{a}-{b} distance varies by {(hi - lo) * 1000:.0f} mm within the trial ({lo * 1000:.0f}.."
                f"{hi * 1000:.0f} mm), more than skin movement ({tol * 1000:.0f} mm): a marker swapped or "
                f"lost for part of the trial?"))
        s = _distance(sta, a, b)
        if s is None:
            continue
        md, ms = float(np.nanmedian(d)), float(np.nanmedian(s))
        tol = max(LENGTH_TOLERANCE[0], LENGTH_TOLERANCE[1] * ms)
        if abs(md - ms) > tol:
            out.append(QualityProblem(
                "segment_length", (a, b), seg, md - ms, f"|difference| > {tol * 1000:.0f} mm",
                f"{a}-{b} distance is {md * 1000:.0f} mm in the trial and {ms * 1000:.0f} mm in the static "
                f"trial: a swapped, misplaced or mislabelled marker ({seg})"))
    return _name_culprits(out)


def _name_culprits(problems: list[QualityProblem]) -> list[QualityProblem]:
    """Put the markers common to several failed pairs first in each message (the likely culprit)."""
    length = [p for p in problems if p.check == "segment_length"]
    counts: dict[str, int] = {}
    for p in length:
        for m in p.markers:
            if not m.endswith("HJC"):
                counts[m] = counts.get(m, 0) + 1
    suspects = [m for m, c in sorted(counts.items(), key=lambda kv: -kv[1]) if c >= 2]
    if suspects:
        for p in length:
            named = [m for m in p.markers if m in suspects]
            if named:
                p.message += f"; suspect: {', '.join(named)} (in {max(counts[m] for m in named)} failed pairs)"
    return problems


def wand_directions(dynamic: xr.Dataset, meas: Mapping[str, float]) -> list[QualityProblem]:
    """``thigh_wand_direction`` and ``shank_wand_direction`` (module docstring)."""
    pts = _points(dynamic, meas)
    if not {"LASI", "RASI", "SACR"} <= set(pts):
        return []
    _, r = pig.pelvis_frame(pts["LASI"], pts["RASI"], pts["SACR"])
    out = []
    for s, sign in (("L", 1.0), ("R", -1.0)):
        lateral = r[..., 1] * sign
        for wand, (top, bottom), seg, key in (("THI", ("HJC", "KNE"), "thigh", "ThighRotation"),
                                              ("TIB", ("KNE", "ANK"), "shank", "ShankRotation")):
            names = (f"{s}{wand}", f"{s}{top}", f"{s}{bottom}")
            if not all(n in pts for n in names):
                continue
            axis = unit(pts[names[1]] - pts[names[2]])
            ref = unit(lateral - dot(lateral, axis)[:, None] * axis)
            w = pts[names[0]] - pts[names[2]]
            w = unit(w - dot(w, axis)[:, None] * axis)
            angle = np.degrees(np.arctan2(dot(cross(ref, w), axis), dot(ref, w))) * sign
            if not np.isfinite(angle).any():
                continue
            # a wand placed off the plane on purpose: Nexus' offset (rad; the same sign on both sides here)
            offset = float(np.degrees(meas.get(f"{s}{key}", 0.0) or 0.0))
            offset = offset if np.isfinite(offset) else 0.0
            med = float(np.nanmedian(angle)) - offset
            med = (med + 180.0) % 360.0 - 180.0
            limit = WAND_MAX_DEG[wand]
            if abs(med) > limit:
                where = f"where {s}{key} ({offset:.1f} deg) places the wand" if offset else "lateral"
                out.append(QualityProblem(
                    f"{seg}_wand_direction", (names[0],), f"{'left' if s == 'L' else 'right'} {seg}", med,
                    f"|angle| > {limit:g} deg",
                    f"{names[0]} lies {abs(med):.0f} deg from {where} about the {seg} axis "
                    f"({names[1]}-{names[2]}); Plug-in Gait needs the {seg} wand lateral (within {limit:g} deg, "
                    f"or where the {s}{key} offset says): a marker placed or labelled as {names[0]} that is not "
                    f"the {seg} wand turns the knee{'' if wand == 'THI' else ' and ankle'} axes"))
    return out


def pelvis_and_sides(dynamic: xr.Dataset) -> list[QualityProblem]:
    """``pelvis_orientation`` and ``side`` (module docstring)."""
    pts = _points(dynamic, {})
    if not {"LASI", "RASI", "SACR"} <= set(pts):
        return []
    _, r = pig.pelvis_frame(pts["LASI"], pts["RASI"], pts["SACR"])
    up = float(np.nanmedian(r[:, 2, 2]))
    if up < 0:
        return [QualityProblem(
            "pelvis_orientation", ("LASI", "RASI"), "pelvis", up, "> 0",
            "the pelvis' vertical axis (from LASI, RASI, SACR) points down in the lab: LASI and RASI swapped "
            "(or the lab's vertical is not +z); every angle of the trial is wrong")]
    out = []
    for m in SIDED_MARKERS:
        a, b = f"L{m}", f"R{m}"
        if a in pts and b in pts:
            lateral = float(np.nanmedian(dot(pts[a] - pts[b], r[..., 1])))
            if lateral < 0:
                out.append(QualityProblem(
                    "side", (a, b), "left/right", lateral, "> 0 m",
                    f"{a} lies {abs(lateral) * 1000:.0f} mm to the right of {b} in the pelvis frame: left and "
                    "right swapped"))
    return out


def angle_ranges(kinematics: xr.Dataset) -> list[QualityProblem]:
    """``angle_range`` (module docstring)."""
    out = []
    names = kinematics.output.values.tolist()
    for table in (ANGLE_RANGES, ANGLE_RANGES_Y):
        for base, (axis, lo, hi, why) in table.items():
            for s in pig.SIDES:
                name = f"{s}{base}"
                if name not in names:
                    continue
                v = kinematics.angles.sel(output=name, axis=axis).values
                if np.isfinite(v).sum() < 3:
                    continue
                p5, p95 = np.nanpercentile(v, [5, 95])
                if p5 < lo or p95 > hi:
                    out.append(QualityProblem(
                        "angle_range", (name,), name, float(p5 if p5 < lo else p95), f"[{lo:g}, {hi:g}] deg",
                        f"{name} {axis} spans {p5:.0f}..{p95:.0f} deg (5th-95th percentile), outside "
                        f"[{lo:g}, {hi:g}] ({why}): check the markers of the segments it joins"))
    return out


def foot_orientation(kinematics: xr.Dataset) -> list[QualityProblem]:
    """``foot_orientation`` (module docstring): from the OFM segments' axes."""
    if "segment_axes" not in kinematics:
        return []
    segs = kinematics.segment.values.tolist()
    out = []
    for side in ("Left", "Right"):
        hf, ff, tb = f"{side}Hindfoot", f"{side}Forefoot", f"{side}OFMTibia"
        if hf not in segs:
            continue
        z_hf = kinematics.segment_axes.sel(segment=hf, segment_axis="z").values
        pairs = []
        if ff in segs:
            pairs.append((ff, kinematics.segment_axes.sel(segment=ff, segment_axis="z").values, 0.0,
                          FOREFOOT_HINDFOOT_MAX_DEG, "forefoot long axis against the hindfoot's"))
        if tb in segs:
            pairs.append((tb, kinematics.segment_axes.sel(segment=tb, segment_axis="z").values,
                          HINDFOOT_TIBIA_DEG[0], HINDFOOT_TIBIA_DEG[1], "hindfoot long axis against the tibia's"))
        for other, z, lo, hi, what in pairs:
            with np.errstate(invalid="ignore"):
                ang = np.degrees(np.arccos(np.clip(dot(z_hf, z), -1.0, 1.0)))
            if not np.isfinite(ang).any():
                continue
            med = float(np.nanmedian(ang))
            if med < lo or med > hi:
                out.append(QualityProblem(
                    "foot_orientation", (hf, other), hf, med, f"[{lo:g}, {hi:g}] deg",
                    f"{what}: {med:.0f} deg (median), outside [{lo:g}, {hi:g}]: the foot segments are not "
                    "anatomical; check the OFM foot markers (a swapped or misplaced marker)"))
    return out


def measurement_checks(dynamic: xr.Dataset, static: xr.Dataset | None,
                       overrides: Mapping[str, float] | None = None) -> list[QualityProblem]:
    """``measurement_range``, ``measurement_geometry`` and ``same_subject`` (module docstring)."""
    md, ms = from_dataset(dynamic), from_dataset(static)
    meas = {**md, **ms, **dict(overrides or {})}
    out = []
    for name, v in sorted(meas.items()):
        key = range_key(name)
        if key is None or not np.isfinite(v) or (v == 0.0 and key != "Bodymass"):
            continue  # 0: not measured (Nexus' default)
        lo, hi, why = MEASUREMENT_RANGES[key]
        if not lo <= v <= hi:
            out.append(QualityProblem("measurement_range", (name,), "subject", v, f"[{lo:g}, {hi:g}]",
                                      f"{name} = {v:g} is outside [{lo:g}, {hi:g}] ({why})"))
    if static is not None:
        pts = _points(static, meas)
        for s in pig.SIDES:
            leg = meas.get(f"{s}LegLength")
            d = _distance(pts, f"{s}ASI", f"{s}ANK")
            if leg and d is not None:
                length = float(np.nanmedian(d)) * 1000.0
                if abs(length - leg) > LEG_LENGTH_TOLERANCE * leg:
                    out.append(QualityProblem(
                        "measurement_geometry", (f"{s}LegLength", f"{s}ASI", f"{s}ANK"), "subject", length - leg,
                        f"|difference| > {LEG_LENGTH_TOLERANCE:.0%}",
                        f"{s}LegLength = {leg:g} mm but the static trial's {s}ASI-{s}ANK distance is {length:.0f} mm: "
                        "a mistyped measurement, or the static trial of another subject"))
        iad = meas.get("InterAsisDistance")
        d = _distance(pts, "LASI", "RASI")
        if iad and d is not None:
            length = float(np.nanmedian(d)) * 1000.0
            tol = max(IAD_TOLERANCE[0], IAD_TOLERANCE[1] * iad)
            if abs(length - iad) > tol:
                out.append(QualityProblem(
                    "measurement_geometry", ("InterAsisDistance", "LASI", "RASI"), "pelvis", length - iad,
                    f"|difference| > {tol:.0f} mm",
                    f"InterAsisDistance = {iad:g} mm but the static trial's LASI-RASI distance is {length:.0f} mm"))
        sd, ss = dynamic.attrs.get("subject", ""), static.attrs.get("subject", "")
        if sd and ss and sd != ss:
            out.append(QualityProblem("same_subject", (), "subject", float("nan"), "equal names",
                                      f"the static trial is of subject {ss!r}, the trial of {sd!r}"))
        for name in ("Bodymass", "Height", "LLegLength", "RLegLength", "LKneeWidth", "RKneeWidth"):
            a, b = md.get(name), ms.get(name)
            if a and b and np.isfinite(a) and np.isfinite(b) and abs(a - b) > SAME_SUBJECT_TOLERANCE * max(a, b):
                out.append(QualityProblem("same_subject", (name,), "subject", a - b,
                                          f"|difference| > {SAME_SUBJECT_TOLERANCE:.0%}",
                                          f"{name} is {a:g} in the trial and {b:g} in the static trial: another "
                                          "subject's static?"))
    return out


def check_trial(dynamic: xr.Dataset, static: xr.Dataset | None = None, kinematics: xr.Dataset | None = None,
                overrides: Mapping[str, float] | None = None, checks: Sequence[str] | None = None
                ) -> list[QualityProblem]:
    """Every plausibility check that the inputs allow (module docstring), as a list of problems
    (empty: none found). `overrides` are the config's subject measurements; `checks` limits the
    run to those groups: "lengths", "wands" (with the pelvis and side checks), "angles", "foot",
    "measurements"."""
    run = set(checks or ("lengths", "wands", "angles", "foot", "measurements"))
    meas = {**from_dataset(dynamic), **from_dataset(static), **dict(overrides or {})}
    # the optional values (the offsets the wand checks allow for) as the kinematics take them
    meas |= resolve(static, dynamic, overrides, required=())[0]
    out: list[QualityProblem] = []
    if "measurements" in run:
        out += measurement_checks(dynamic, static, overrides)
    if "lengths" in run:
        out += segment_lengths(dynamic, static, meas)
    if "wands" in run:
        sides = pelvis_and_sides(dynamic)
        out += sides
        if not any(p.check == "pelvis_orientation" for p in sides):
            out += wand_directions(dynamic, meas)
    if kinematics is not None and "angles" in run:
        out += angle_ranges(kinematics)
    if kinematics is not None and "foot" in run:
        out += foot_orientation(kinematics)
    return out


def format_problems(problems: Sequence[QualityProblem], trial: str = "") -> str:
    """One line per problem, as ``chainlab kinematics`` prints them on stderr."""
    head = f"{trial}: " if trial else ""
    return "\n".join(f"{head}quality problem [{p.check}] {', '.join(p.markers) or p.segment}: {p.message}"
                     for p in problems)


__all__ = ["QualityProblem", "angle_ranges", "check_trial", "foot_orientation", "format_problems",
           "measurement_checks", "pelvis_and_sides", "segment_lengths", "wand_directions"]
