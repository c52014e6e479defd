"""Plug-in Gait lower body (the Conventional Gait Model, CGM1), as Vicon Nexus computes it.

Davis 1991 (hip joint centre), Kadaba 1990; the definitions below reproduce the Nexus 2.2.3
outputs stored in the biomechzoo trials to float32 precision (tests/test_kinematics.py). Every step
is vectorised over frames. Lengths are in metres; subject measurements arrive in Nexus'
units (mm, rad, deg) and are converted here. Frames are rotation matrices whose columns are
the segment axes in the lab (:mod:`chainlab.model.geometry`).

Segments (X anterior, Y left, Z proximal on both sides; the foot: X dorsal, Y left,
Z posterior):

* Pelvis: O = mid-ASIS, Y = LASI - RASI, X = O - SACR made orthogonal to Y, Z = X × Y.
* Hip joint centres in the pelvis frame (Davis): C = 0.115 L - 15.3 mm (L the mean leg
  length), x = C cos θ sin β - (ATD + r) cos β, y = ±(IAD/2 - C sin θ) (+ left),
  z = -C cos θ cos β - (ATD + r) sin β, with θ = 0.5 rad, β = 0.314 rad, r the marker radius,
  ATD the ASIS-trochanter distance (0.1288 L - 48.56 mm when not measured).
* Knee and ankle joint centres by the chord function: the point J in the plane of
  (wand marker, proximal joint centre P, lateral marker M) with |J - M| = width/2 + r and
  the angle P-J-M a right angle (closed form).
* Knee-alignment-device offsets (rad, as Nexus stores them; left as stored, right mirrored):
  with ``?ThighRotation`` (``?ShankRotation``) the wand lies that angle about J -> P from M
  instead of in the plane (:func:`offset_chord`); ``?AnkleAbAdd`` then turns the AJC about
  ANK by that angle about (KJC - AJC) × (ANK - AJC) (:func:`ankle_abadd`).
* Femur: origin KJC, Z = HJC - KJC; X = (KNE - HJC) × Z (left), Z × (KNE - HJC) (right).
* Tibia: origin AJC, Z = KJC - AJC; the ankle's tibia: Y towards ANK (left; from ANK on the
  right), i.e. X = (TIB - ANK) × Z (left), Z × (TIB - ANK) (right) when the wand is in the
  plane; the tibia (Nexus' ``?TI*`` segment, used by the knee angles and the foot) is the
  ankle's tibia turned by ``?TibialTorsion`` (rad; left as stored, right mirrored) about Z.
  Without offsets all of these are the plain chord construction. Reproduces the joint centres
  (1e-4 mm) and angles (1e-5 deg) Nexus stored in ktk_walk (thigh -99.75 / -100.31 deg, shank
  -12.72 / -9.04 deg, ankle ab/add 12.48 / 10.85 deg, torsion -17.49 / -33.34 deg).
* Foot: Z = AJC - TOE, X = Y_tibia × Z, then turned by StaticPlantFlex about Y and by
  StaticRotOff (sign by side) about the new X. The static offsets come from the static trial:
  the same construction with the heel marker in place of the AJC (the heel lowered to the
  toe's height with `flat_foot`), YXZ Cardan angles of that foot in the uncorrected one,
  StaticPlantFlex = -mean(first), StaticRotOff = ∓mean(second) (left -, right +).
* Progression frame (pelvis and foot progression angles): the lab ±X or ±Y axis closest to
  the direction the pelvis travelled over the trial, lab Z up (Nexus); with
  ``progression="travel"`` the horizontal direction of travel itself, which makes those
  angles independent of how the lab axes are laid.

Angles: YXZ Cardan decomposition of distal in proximal (a, b, c); s = +1 right, -1 left:

========================  ==========================  ========  =====  =====
output                    proximal -> distal           x         y      z
========================  ==========================  ========  =====  =====
``?PelvisAngles``         progression -> pelvis        a         -s b   s c
``?HipAngles``            pelvis -> femur              -a        s b    s c
``?KneeAngles``           femur -> tibia               a         s b    s c
``?AnkleAngles``          ankle's tibia -> foot        -a - 90   s c    s b
``?FootProgressAngles``   progression -> foot          a         -s c   s b
========================  ==========================  ========  =====  =====

Trunk (:func:`trunk`): thorax Z from mid(STRN, T10) to mid(CLAV, C7), X from mid(C7, T10)
towards mid(CLAV, STRN) made orthogonal to Z, Y = Z × X; origin reported at mid(CLAV, C7).
``?ThoraxAngles`` = YXZ of thorax in the progression frame, (a, -s b, s c) like the pelvis;
``?SpineAngles`` = ZXY (γ about z, then α about x, then β about y) of thorax in pelvis,
output (β, s α, -s γ).

Nexus keeps each series continuous rather than wrapping it to ±180 deg, choosing between
(x, y, z) and (x + 180, 180 - y, z + 180) frame by frame
(:func:`chainlab.model.continuity.continuous`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from chainlab.model._spans import by_spans
from chainlab.model.continuity import continuous
from chainlab.model.geometry import cardan, cross, dot, frame, relative, rotation, unit

#: Davis 1991 angles as Nexus applies them (float32 values of 0.5 and 0.314 rad).
DAVIS_THETA = 0.500000178813934
DAVIS_BETA = 0.314000427722931
MM = 1e-3
SIDES = ("L", "R")
OUTPUTS = tuple(
    f"{s}{name}"
    for s in SIDES
    for name in ("PelvisAngles", "HipAngles", "KneeAngles", "AnkleAngles", "FootProgressAngles")
)
MARKERS = ("LASI", "RASI", "SACR") + tuple(
    f"{s}{m}" for s in SIDES for m in ("THI", "KNE", "TIB", "ANK", "HEE", "TOE")
)
TRUNK_MARKERS = ("C7", "T10", "CLAV", "STRN")
TRUNK_OUTPUTS = tuple(f"{s}{n}" for s in SIDES for n in ("ThoraxAngles", "SpineAngles"))
#: Knee-alignment-device and torsion offsets (rad) the models apply when given (config or PROCESSING).
KAD_OFFSETS = tuple(f"{s}{n}" for s in SIDES for n in ("ThighRotation", "ShankRotation", "AnkleAbAdd",
                                                       "TibialTorsion"))
#: The heel is used only by the static calibration.
DYNAMIC_MARKERS = tuple(m for m in MARKERS if not m.endswith("HEE"))


@dataclass
class PigCalibration:
    """What the static trial and the subject measurements fix for every dynamic trial."""

    measurements: dict[str, float]  # Nexus units: mm, rad (static, KAD and torsion offsets)
    static_plantflex: dict[str, float] = field(default_factory=dict)  # rad, by side
    static_rotoff: dict[str, float] = field(default_factory=dict)  # rad, by side

    def as_attrs(self) -> dict[str, float]:
        out = {f"pig_{k}": v for k, v in self.measurements.items()}
        for s in SIDES:
            out[f"pig_{s}StaticPlantFlex_rad"] = self.static_plantflex[s]
            out[f"pig_{s}StaticRotOff_rad"] = self.static_rotoff[s]
        return out


@dataclass
class PigResult:
    angles: dict[str, np.ndarray]  # name -> (n, 3) deg
    segments: dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (origin (n, 3) m, R (n, 3, 3))
    points: dict[str, np.ndarray]  # joint centres, (n, 3) m


# --------------------------------------------------------------------------- pieces


def chord(wand: np.ndarray, proximal: np.ndarray, lateral: np.ndarray, delta: float,
          angle: float = 0.0) -> np.ndarray:
    """Joint centre J with |J - lateral| = delta and the angle proximal-J-lateral 90 deg (J on
    the circle of diameter proximal-lateral), placed by the wand: with ``angle = 0`` in the plane
    (wand, proximal, lateral), on the side away from the wand (closed form); otherwise where the
    wand lies `angle` (rad) about the axis J -> proximal from the lateral marker's direction,
    right-handed (Plug-in Gait's thigh and shank rotation offsets: :func:`offset_chord`)."""
    if angle:
        return offset_chord(wand, proximal, lateral, delta, angle)
    v = proximal - lateral
    d = np.linalg.norm(v, axis=-1, keepdims=True)
    e = v / d
    n = unit(cross(wand - lateral, v))
    with np.errstate(invalid="ignore"):
        t = 2.0 * np.arccos(delta / d)
    return (proximal + lateral) / 2.0 + (d / 2.0) * (e * np.cos(t) + cross(n, e) * np.sin(t))


def wand_angle(wand: np.ndarray, proximal: np.ndarray, joint: np.ndarray, lateral: np.ndarray) -> np.ndarray:
    """(n,) rad: the angle about the axis joint -> proximal from the lateral marker's direction
    to the wand's (both taken perpendicular to the axis), right-handed; 0 for a joint centre
    made by :func:`chord` with ``angle = 0``."""
    a = unit(proximal - joint)
    u, w = lateral - joint, wand - joint
    u = u - dot(u, a)[..., None] * a
    w = w - dot(w, a)[..., None] * a
    return np.arctan2(dot(cross(u, w), a), dot(u, w))


def offset_chord(wand: np.ndarray, proximal: np.ndarray, lateral: np.ndarray, delta: float,
                 angle: float) -> np.ndarray:
    """:func:`chord` with the wand `angle` (rad) off the joint's plane.

    With M the lateral marker, X = proximal - M, T = wand - M and R = J - M: |R| = delta and
    R.X = delta^2 put J on the circle; the wand's angle about J -> proximal from M has cosine
    (delta^2 - s) / (delta |T - R| sin(T - R, axis)) with s = T.R, which squared is a quadratic
    in s. Each of its two roots gives two points of the circle, mirror images through the plane
    (wand, proximal, M); of the four, the one whose :func:`wand_angle` is `angle` is kept (NaN
    where none is within 1e-6 rad: no point of the circle sees the wand so).
    """
    x = proximal - lateral
    t = wand - lateral
    x2 = dot(x, x)
    d2 = delta * delta
    normal = unit(cross(x, t))
    e = unit(cross(x, normal))  # in the plane, perpendicular to X, away from the wand
    tx, tt, et = dot(t, x), dot(t, t), dot(e, t)
    k = np.cos(angle) ** 2 * d2
    h = x2 - d2
    qa = 1.0 + k / h
    qb = 2.0 * (k - k * tx / h - d2)
    qc = d2 * d2 + k * tx * tx / h - k * (tt + d2)
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.sqrt(np.maximum(qb * qb - 4.0 * qa * qc, 0.0))
        along = x * (d2 / x2)[..., None]
        rho2 = d2 * (1.0 - d2 / x2)
        best = np.full(x.shape, np.nan)
        err = np.full(x2.shape, np.inf)
        for sign_s in (1.0, -1.0):
            s = (-qb + sign_s * root) / (2.0 * qa)
            mu = (s - tx * d2 / x2) / et
            nu = np.sqrt(np.maximum(rho2 - mu * mu, 0.0))  # 0 within rounding: the in-plane point
            for sign_n in (1.0, -1.0):
                j = lateral + along + e * mu[..., None] + normal * (sign_n * nu)[..., None]
                off = np.abs(np.angle(np.exp(1j * (wand_angle(wand, proximal, j, lateral) - angle))))
                better = off < err
                best[better], err[better] = j[better], off[better]
    best[~(err < 1e-6)] = np.nan
    return best


def ankle_abadd(ajc: np.ndarray, kjc: np.ndarray, ank: np.ndarray, angle: float) -> np.ndarray:
    """The ankle joint centre turned about the ankle marker by `angle` (rad, Plug-in Gait's
    ``?AnkleAbAdd``) about the axis (KJC - AJC) x (ANK - AJC): |AJC - ANK| is kept and the AJC
    stays in the plane (KJC, AJC, ANK); the chord's right angle KJC-AJC-ANK opens by about
    `angle` (ktk_walk: 12.48 deg gives 102.61)."""
    n = unit(cross(kjc - ajc, ank - ajc))
    v = ajc - ank
    c, s = np.cos(angle), np.sin(angle)
    return ank + v * c + cross(n, v) * s + n * (dot(n, v) * (1.0 - c))[..., None]


def pelvis_frame(lasi: np.ndarray, rasi: np.ndarray, sacr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    origin = (lasi + rasi) / 2.0
    return origin, frame(lasi - rasi, origin - sacr, "yx")


def hip_joint_centres(origin: np.ndarray, r: np.ndarray, m: Mapping[str, float]) -> dict[str, np.ndarray]:
    """Davis 1991 hip joint centres, (n, 3) m, by side."""
    radius = m["MarkerDiameter"] / 2.0
    leg = (m["LLegLength"] + m["RLegLength"]) / 2.0
    c = 0.115 * leg - 15.3
    half_asis = m["InterAsisDistance"] / 2.0
    out = {}
    for side, sign in (("L", 1.0), ("R", -1.0)):
        atd = m.get(f"{side}AsisTrocanterDistance", 0.0) or (0.1288 * m[f"{side}LegLength"] - 48.56)
        local = np.array(
            [
                c * np.cos(DAVIS_THETA) * np.sin(DAVIS_BETA) - (atd + radius) * np.cos(DAVIS_BETA),
                sign * (half_asis - c * np.sin(DAVIS_THETA)),
                -c * np.cos(DAVIS_THETA) * np.cos(DAVIS_BETA) - (atd + radius) * np.sin(DAVIS_BETA),
            ]
        ) * MM
        out[side] = origin + r @ local
    return out


def _long_axis_frame(proximal: np.ndarray, distal: np.ndarray, a: np.ndarray, b: np.ndarray, side: str) -> np.ndarray:
    """Z = proximal - distal; X = (a - b) × Z on the left, Z × (a - b) on the right."""
    z = proximal - distal
    x = cross(a - b, z) if side == "L" else cross(z, a - b)
    return frame(z, x, "zx", orthogonal=True)


def _uncorrected_foot(ajc: np.ndarray, toe: np.ndarray, tibia_y: np.ndarray) -> np.ndarray:
    z = ajc - toe
    return frame(z, cross(tibia_y, z), "zx", orthogonal=True)


def progression_frame(lasi: np.ndarray, rasi: np.ndarray, sacr: np.ndarray, mode: str = "lab") -> np.ndarray:
    """(3, 3) progression frame for a trial: X along the walking direction, Z = lab Z.

    ``mode="lab"``: the lab ±X or ±Y axis nearest the mid-ASIS displacement from the first
    to the last valid frame (the pelvis X axis when it moved less than 0.1 m, as in a
    static trial). ``mode="travel"``: that displacement's horizontal direction itself.
    """
    o = (lasi + rasi) / 2.0
    ok = np.flatnonzero(np.all(np.isfinite(o), axis=1) & np.all(np.isfinite(sacr), axis=1))
    if ok.size == 0:
        return np.full((3, 3), np.nan)
    d = o[ok[-1]] - o[ok[0]]
    if np.hypot(d[0], d[1]) < 0.1:
        d = pelvis_frame(lasi[ok[:1]], rasi[ok[:1]], sacr[ok[:1]])[1][0, :, 0]
    if mode == "lab":
        k = int(np.argmax(np.abs(d[:2])))
        x = np.zeros(3)
        x[k] = np.sign(d[k])
    elif mode == "travel":
        x = np.array([d[0], d[1], 0.0])
    else:
        raise ValueError(f"progression must be 'lab' or 'travel'; found {mode!r}")
    return frame(np.array([0.0, 0.0, 1.0]), x, "zx")


def _yxz_deg(proximal: np.ndarray, distal: np.ndarray) -> np.ndarray:
    return np.degrees(cardan(relative(proximal, distal), "yxz"))


# --------------------------------------------------------------------------- model


def _offset(m: Mapping[str, float], name: str) -> float:
    """A Plug-in Gait offset (rad) as the models apply it: 0 when absent or NaN."""
    v = m.get(name, 0.0)
    return float(v) if v and np.isfinite(v) else 0.0


def _segments(mk: Mapping[str, np.ndarray], m: Mapping[str, float]) -> dict:
    """Pelvis, hip joint centres and, by side, the knee and ankle joint centres, the femur, the
    tibia (Nexus' ``?TI*`` segment: knee angles, foot) and the ankle's tibia (ankle angles)."""
    p_origin, p_r = pelvis_frame(mk["LASI"], mk["RASI"], mk["SACR"])
    hjc = hip_joint_centres(p_origin, p_r, m)
    radius = m["MarkerDiameter"] / 2.0
    seg = {"pelvis": (p_origin, p_r), "hjc": hjc}
    for s in SIDES:
        side = 1.0 if s == "L" else -1.0  # the offsets' sign: Nexus stores them mirrored on the right
        kne, ank = mk[f"{s}KNE"], mk[f"{s}ANK"]
        kjc = chord(mk[f"{s}THI"], hjc[s], kne, (m[f"{s}KneeWidth"] / 2.0 + radius) * MM,
                    side * _offset(m, f"{s}ThighRotation"))
        shank = side * _offset(m, f"{s}ShankRotation")
        ajc = chord(mk[f"{s}TIB"], kjc, ank, (m[f"{s}AnkleWidth"] / 2.0 + radius) * MM, shank)
        abadd = _offset(m, f"{s}AnkleAbAdd")
        if abadd:
            ajc = ankle_abadd(ajc, kjc, ank, abadd)
        femur = _long_axis_frame(hjc[s], kjc, kne, hjc[s], s)
        if shank or abadd:  # Y along the ankle marker (lateral), off the wand's plane
            ankle_tibia = frame(kjc - ajc, side * (ank - ajc), "zy")
        else:  # the same frame: the wand's plane holds the ankle marker and both joint centres
            ankle_tibia = _long_axis_frame(kjc, ajc, mk[f"{s}TIB"], ank, s)
        torsion = _offset(m, f"{s}TibialTorsion")
        tibia = ankle_tibia @ rotation("z", side * torsion) if torsion else ankle_tibia
        seg[s] = {"kjc": kjc, "ajc": ajc, "femur": femur, "tibia": tibia, "ankle_tibia": ankle_tibia}
    return seg


def calibrate(
    static: Mapping[str, np.ndarray], measurements: Mapping[str, float], *, flat_foot: bool = True
) -> PigCalibration:
    """Static offsets of the feet (and the inter-ASIS distance when not measured).

    Parameters
    ----------
    static : dict of (n, 3) ndarray
        The static trial's markers (m), :data:`MARKERS` at least.
    measurements : dict
        Subject measurements in Nexus units (see :mod:`chainlab.model.measurements`).
    flat_foot : bool
        The subject stood with the sole flat: the heel is lowered to the toe's height plus
        ``?SoleDelta`` (mm, the shoe's heel minus its toe sole thickness; 0 when absent).

    ``?StaticPlantFlex`` / ``?StaticRotOff`` (rad) present in `measurements` are used as
    given instead of being computed (the kinematics pass them when set in config or stored,
    non-zero, in a PROCESSING group); `flat_foot` then has no effect.
    """
    m = dict(measurements)
    given = {s: (m.get(f"{s}StaticPlantFlex"), m.get(f"{s}StaticRotOff")) for s in SIDES}
    if not m.get("InterAsisDistance"):
        m["InterAsisDistance"] = float(np.nanmean(np.linalg.norm(static["LASI"] - static["RASI"], axis=-1)) / MM)
    seg = _segments(static, m)
    cal = PigCalibration(measurements=m)
    for s in SIDES:
        toe, hee = static[f"{s}TOE"], static[f"{s}HEE"].copy()
        if flat_foot:  # the heel at the toe's height, raised by the sole's heel (SoleDelta, mm)
            hee[:, 2] = toe[:, 2] + (m.get(f"{s}SoleDelta", 0.0) or 0.0) * MM
        tib_y = seg[s]["tibia"][..., 1]
        uncorrected = _uncorrected_foot(seg[s]["ajc"], toe, tib_y)
        anatomical = _uncorrected_foot(hee, toe, tib_y)
        a, b, _ = np.radians(np.nanmean(_yxz_deg(uncorrected, anatomical), axis=0))
        cal.static_plantflex[s] = float(-a)
        cal.static_rotoff[s] = float(-b if s == "L" else b)
        plantflex, rotoff = given[s]
        if plantflex is not None:  # given in config: they win over the static trial
            cal.static_plantflex[s] = float(plantflex)
        if rotoff is not None:
            cal.static_rotoff[s] = float(rotoff)
    return cal


def pig(markers: Mapping[str, np.ndarray], cal: PigCalibration, *, progression: str = "lab") -> PigResult:
    """Plug-in Gait lower-body angles, segments and joint centres of one trial.

    Parameters
    ----------
    markers : dict of (n, 3) ndarray
        Marker positions in metres, :data:`DYNAMIC_MARKERS` at least; NaN in gaps, which
        leave the angles that need them NaN.
    cal : PigCalibration
        From :func:`calibrate` on the subject's static trial.
    progression : {"lab", "travel"}
        How the walking direction is taken (see :func:`progression_frame`).
    """
    prog = progression_frame(markers["LASI"], markers["RASI"], markers["SACR"], progression)
    res = pig_frames(markers, cal, prog)
    res.angles = {k: continuous(v) for k, v in res.angles.items()}
    return res


def pig_frames(markers: Mapping[str, np.ndarray], cal: PigCalibration, prog: np.ndarray) -> PigResult:
    """:func:`pig` on some frames of a trial whose progression frame `prog` is known, before
    the continuity of the angle series (:class:`chainlab.model.continuity.Continuity`, in
    frame order)."""
    return by_spans(_pig_frames, len(markers["LASI"]), markers, cal, prog)


def _pig_frames(markers: Mapping[str, np.ndarray], cal: PigCalibration, prog: np.ndarray) -> PigResult:
    """One span of :func:`pig`, before the continuity of the angle series."""
    m = cal.measurements
    seg = _segments(markers, m)
    p_origin, p_r = seg["pelvis"]
    prog = np.broadcast_to(prog, p_r.shape)
    angles: dict[str, np.ndarray] = {}
    segments: dict[str, tuple[np.ndarray, np.ndarray]] = {
        "Pelvis": ((seg["hjc"]["L"] + seg["hjc"]["R"]) / 2.0, p_r)
    }
    points: dict[str, np.ndarray] = {}
    for s in SIDES:
        sg = 1.0 if s == "R" else -1.0
        g = seg[s]
        foot = _uncorrected_foot(g["ajc"], markers[f"{s}TOE"], g["tibia"][..., 1])
        foot = foot @ rotation("y", -cal.static_plantflex[s])
        foot = foot @ rotation("x", -(cal.static_rotoff[s] if s == "L" else -cal.static_rotoff[s]))
        a, b, c = np.moveaxis(_yxz_deg(prog, p_r), -1, 0)
        angles[f"{s}PelvisAngles"] = np.stack([a, -sg * b, sg * c], axis=-1)
        a, b, c = np.moveaxis(_yxz_deg(p_r, g["femur"]), -1, 0)
        angles[f"{s}HipAngles"] = np.stack([-a, sg * b, sg * c], axis=-1)
        a, b, c = np.moveaxis(_yxz_deg(g["femur"], g["tibia"]), -1, 0)
        angles[f"{s}KneeAngles"] = np.stack([a, sg * b, sg * c], axis=-1)
        a, b, c = np.moveaxis(_yxz_deg(g["ankle_tibia"], foot), -1, 0)
        angles[f"{s}AnkleAngles"] = np.stack([-a - 90.0, sg * c, sg * b], axis=-1)
        a, b, c = np.moveaxis(_yxz_deg(prog, foot), -1, 0)
        angles[f"{s}FootProgressAngles"] = np.stack([a, -sg * c, sg * b], axis=-1)
        side = "Left" if s == "L" else "Right"
        segments[f"{side}Femur"] = (g["kjc"], g["femur"])
        segments[f"{side}Tibia"] = (g["ajc"], g["tibia"])
        segments[f"{side}Foot"] = (markers[f"{s}TOE"], foot)
        points[f"{s}HJC"], points[f"{s}KJC"], points[f"{s}AJC"] = seg["hjc"][s], g["kjc"], g["ajc"]
    return PigResult(angles=angles, segments=segments, points=points)


def trunk(
    markers: Mapping[str, np.ndarray], *, progression: str = "lab", pelvis: np.ndarray | None = None
) -> PigResult:
    """Plug-in Gait thorax and spine angles (thorax in the lab, thorax in the pelvis).

    `pelvis` (n, 3, 3), when given, is the pelvis frame already computed (:func:`pig`).
    """
    prog = progression_frame(markers["LASI"], markers["RASI"], markers["SACR"], progression)
    res = trunk_frames(markers, prog, pelvis)
    res.angles = {k: continuous(v) for k, v in res.angles.items()}
    return res


def trunk_frames(markers: Mapping[str, np.ndarray], prog: np.ndarray, pelvis: np.ndarray | None = None) -> PigResult:
    """:func:`trunk` on some frames, given the trial's progression frame, before continuity."""
    if pelvis is None:
        pelvis = pelvis_frame(markers["LASI"], markers["RASI"], markers["SACR"])[1]
    return by_spans(_trunk_frames, len(markers["LASI"]), {**markers, "pelvis": pelvis}, prog)


def _trunk_frames(markers: Mapping[str, np.ndarray], prog: np.ndarray) -> PigResult:
    mk = markers
    top, bottom = (mk["CLAV"] + mk["C7"]) / 2.0, (mk["STRN"] + mk["T10"]) / 2.0
    front, back = (mk["CLAV"] + mk["STRN"]) / 2.0, (mk["C7"] + mk["T10"]) / 2.0
    thorax = frame(top - bottom, front - back, "zx")
    p_r = mk["pelvis"]
    prog = np.broadcast_to(prog, thorax.shape)
    a, b, c = np.moveaxis(_yxz_deg(prog, thorax), -1, 0)
    rel = relative(p_r, thorax)
    gamma, alpha, beta = np.moveaxis(np.degrees(cardan(rel, "zxy")), -1, 0)
    angles = {}
    for s in SIDES:
        sg = 1.0 if s == "R" else -1.0
        angles[f"{s}ThoraxAngles"] = np.stack([a, -sg * b, sg * c], axis=-1)
        angles[f"{s}SpineAngles"] = np.stack([beta, sg * alpha, -sg * gamma], axis=-1)
    return PigResult(angles=angles, segments={"Thorax": (top, thorax)}, points={})
