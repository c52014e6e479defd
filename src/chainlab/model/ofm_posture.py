"""Oxford Foot Model posture outputs as Vicon Nexus 2.2.3 reports them.

``?HFTFL`` (hindfoot to floor), ``?FETBA`` (femur to OFM tibia), ``?ArchHeightIndex`` and
the arch height behind it, from chainlab's OFM and Plug-in Gait segments
(:mod:`chainlab.model.ofm`, :mod:`chainlab.model.pig`) and the forefoot markers. The
definitions were recovered against the values Nexus stores in the biomechzoo trials
(``docs/kinematics.md`` gives the agreement):

* HFTFL: XYZ Cardan (a, b, c) of the hindfoot (Z anterior, Y left) in the lab, turned
  180 deg about the vertical on frames where the pelvis faces the negative travel axis
  (as for TIBA); output (a + 90, -l b, l (90 - c)), l = +1 left, -1 right: x is the hindfoot's
  pitch to the floor (the heel-to-plantar-point line's rise, dorsiflexion +), y its
  inversion (+) / eversion (-) against the floor, z its internal (+) rotation.
  Continuous by the largest component step (the TIBA rule).
  The reference is the lab itself, turned per frame with the pelvis' facing: with Nexus'
  own hindfoot (the points ``?HDF0``..``?HDF3`` it stores) this rule gives Nexus' HFTFL to
  0.003 deg on every frame of the biomechzoo walks, turns included, but the frames where
  the facing switches (listed, with TIBA's, in ``ofm_tiba_switch_frames``).
* FETBA: YXZ Cardan (a, b, c) of the OFM tibia in the Plug-in Gait femur, output
  (a, -l b, -l c): the knee angles with the OFM tibia (flexion +, varus +, internal +).
  In a static trial Nexus takes both segments about the knee axis it stores as the point
  ``?KAX`` (lateral of KNE): the knee centre KJCs = KNE - (KneeWidth / 2 + marker radius)
  along KAX - KNE; the femur as Plug-in Gait's (Z = HJC - KJCs, X from KNE, HJC), the tibia
  as the OFM's with origin AJCs = mid(ANK, MMA): Z = KJCs - AJCs, X from l (ANK - AJCs)
  (:func:`static_femur_tibia`).
* Arch height (Nexus' OFM "lateral forefoot" construction): P1M, D1M and D5M are kept, from
  the static trial, in the frame of the lateral forefoot (origin P5M, X along D5M - P5M, Z
  normal to the plane of D5M - P5M and TOE - D5M, after REPLACE4 of the forefoot cluster).
  In each frame the arch height is the distance from P1M (measured, after REPLACE4) to the
  plane through the rebuilt D1M, the measured D5M and P5M, the plane's projection of the
  rebuilt P1M being the foot of that distance: in the static trial P1M's height above the
  plane of the metatarsal heads and P5M. ``ArchHeightIndex`` = 100 x arch height / foot
  length (mean HEE-TOE distance of the static trial), in % of foot length. Nexus also
  writes the index as the z of the point ``?ArchHeight`` (not a length).

Lengths in metres unless a name says otherwise; calibration values in Nexus' units (mm).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from chainlab.conventions import AXES
from chainlab.model.continuity import continuous
from chainlab.model.geometry import cardan, relative, to_lab, to_local
from chainlab.model.marker_arrays import marker_arrays
from chainlab.model.measurements import from_dataset
from chainlab.model.ofm import (
    CLUSTERS,
    MM,
    _lcs,
    _plane_projection,
    cluster_means,
    facing_sign,
    replace4,
)
from chainlab.model.pig import SIDES, _long_axis_frame

#: Angle outputs, Nexus' names.
ANGLE_OUTPUTS = tuple(f"{s}{n}" for s in SIDES for n in ("HFTFL", "FETBA"))
#: Arch outputs: name -> units.
ARCH_OUTPUTS = {f"{s}{n}": u for s in SIDES for n, u in (("ArchHeight", "mm"), ("ArchHeightIndex", "%"))}
#: Lateral-forefoot calibration points (static trial), as Nexus names them in PROCESSING.
LATERAL = ("D1Mlat", "P1Mlat", "D5Mlat")
FOREFOOT = CLUSTERS[2]  # P1M D5M TOE P5M


def _side_names(s: str) -> tuple[str, str]:
    return ("Left" if s == "L" else "Right"), s


# --------------------------------------------------------------------------- angles


#: The continuity rule of each angle output (:class:`chainlab.model.continuity.Continuity`).
RULES = {name: ("max" if name.endswith("HFTFL") else "sum") for name in ANGLE_OUTPUTS}


def _hindfoot_to_floor(hindfoot: np.ndarray, facing: np.ndarray, side: str,
                       reference: np.ndarray | None = None) -> np.ndarray:
    lsign = 1.0 if side == "L" else -1.0
    if reference is not None:  # a fixed frame (the walking direction), as TIBA takes it
        ref = relative(reference, hindfoot)
    else:
        ref = hindfoot.copy()
        ref[:, :2, :] *= np.asarray(facing, float)[:, None, None]  # the lab turned 180 deg
    a, b, c = np.moveaxis(np.degrees(cardan(ref, "xyz")), -1, 0)
    return np.stack([a + 90.0, -lsign * b, lsign * (90.0 - c)], axis=-1)


def _femur_tibia(femur: np.ndarray, tibia: np.ndarray, side: str) -> np.ndarray:
    lsign = 1.0 if side == "L" else -1.0
    a, b, c = np.moveaxis(np.degrees(cardan(relative(femur, tibia), "yxz")), -1, 0)
    return np.stack([a, -lsign * b, -lsign * c], axis=-1)


def hindfoot_to_floor(hindfoot: np.ndarray, facing: np.ndarray, side: str) -> np.ndarray:
    """``?HFTFL`` (n, 3) deg from the hindfoot axes (n, 3, 3) in the lab and the pelvis'
    facing along the travel axis (+1/-1 per frame, :func:`chainlab.model.ofm.facing_sign`)."""
    return continuous(_hindfoot_to_floor(hindfoot, facing, side), norm=RULES[f"{side}HFTFL"])


def femur_tibia(femur: np.ndarray, tibia: np.ndarray, side: str) -> np.ndarray:
    """``?FETBA`` (n, 3) deg: the OFM tibia (n, 3, 3) in the Plug-in Gait femur (n, 3, 3)."""
    return continuous(_femur_tibia(femur, tibia, side), norm=RULES[f"{side}FETBA"])


#: How FETBA of a static trial is made: the static definition, or why it could not be.
WALKING_FETBA = "walking: the OFM tibia in the Plug-in Gait femur"
STATIC_FETBA = "static: femur and tibia about Nexus' knee axis ?KAX (ofm_posture.static_femur_tibia)"


def static_segments(static: xr.Dataset, kinematics: xr.Dataset) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], str]:
    """Side -> (femur, tibia) axes (n, 3, 3) of a static trial about Nexus' knee axis ?KAX
    (module docstring), and a note: :data:`STATIC_FETBA`, or ``"not reproduced: ..."`` (no
    segments) naming what is missing. `kinematics`: ``compute_kinematics(static, static)``
    (its ``?HJC``, and the resolved ``pig_?KneeWidth`` and ``pig_MarkerDiameter``, mm)."""
    names = set(static.marker.values.astype(str).tolist())
    points = set(kinematics.point.values.astype(str).tolist()) if "point" in kinematics.coords else set()
    need = [f"{s}{m}" for s in SIDES for m in ("KAX", "KNE", "ANK", "MMA") if f"{s}{m}" not in names]
    need += [f"{s}HJC" for s in SIDES if f"{s}HJC" not in points]
    sizes = [f"pig_{s}KneeWidth" for s in SIDES] + ["pig_MarkerDiameter"]
    need += [k[4:] for k in sizes if not np.isfinite(float(kinematics.attrs.get(k, np.nan)))]
    if need:
        return {}, ("not reproduced: Nexus' static FETBA takes the knee axis point ?KAX, and "
                    f"{', '.join(need)} are not in the static trial; FETBA here is the walking definition")
    mk = marker_arrays(static, names)
    radius = float(kinematics.attrs["pig_MarkerDiameter"]) / 2.0
    out = {}
    for s in SIDES:
        lsign = 1.0 if s == "L" else -1.0
        hjc = kinematics.joint_centres.sel(point=f"{s}HJC").values
        kne, ank = mk[f"{s}KNE"], mk[f"{s}ANK"]
        width = (float(kinematics.attrs[f"pig_{s}KneeWidth"]) / 2.0 + radius) * MM
        axis = mk[f"{s}KAX"] - kne
        kjc = kne - width * axis / np.linalg.norm(axis, axis=-1, keepdims=True)
        ajc = 0.5 * (ank + mk[f"{s}MMA"])
        out[s] = (_long_axis_frame(hjc, kjc, kne, hjc, s), _lcs(kjc - ajc, lsign * (ank - ajc), "zxy"))
    return out, STATIC_FETBA


def static_femur_tibia(static: xr.Dataset, kinematics: xr.Dataset) -> tuple[dict[str, np.ndarray], str]:
    """``?FETBA`` (n, 3) deg of a static trial as Nexus makes it, before continuity, and the
    note of :func:`static_segments` (no angles when it says "not reproduced")."""
    segments, note = static_segments(static, kinematics)
    return {f"{s}FETBA": _femur_tibia(f, t, s) for s, (f, t) in segments.items()}, note


def is_static_run(kinematics: xr.Dataset) -> bool:
    """Whether `kinematics` are of the static trial itself (same file as its static)."""
    a, b = kinematics.attrs.get("dynamic_sha256", ""), kinematics.attrs.get("static_sha256", "")
    if a and b:
        return a == b
    return bool(kinematics.attrs.get("dynamic_file")) and \
        kinematics.attrs.get("dynamic_file") == kinematics.attrs.get("static_file")


# --------------------------------------------------------------------------- arch


def _forefoot(mk: Mapping[str, np.ndarray], s: str, means: np.ndarray | None = None) -> list[np.ndarray]:
    cluster = [mk[f"{s}{m}"] for m in FOREFOOT]
    return replace4(cluster, cluster_means(cluster) if means is None else means)


def _lateral_frame(d5m: np.ndarray, toe: np.ndarray, p5m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return p5m, _lcs(d5m - p5m, toe - d5m, "xyz")


def calibrate_arch(static: Mapping[str, np.ndarray], marker_diameter: float) -> dict[str, float]:
    """Arch calibration from a static trial's markers (m): ``%?D1MlatX`` ... (mm, lateral
    forefoot frame) for :data:`LATERAL`, and ``?FootLength`` (mm): the mean HEE-TOE distance
    less a marker radius (`marker_diameter` in mm), which is Plug-in Gait's foot length.

    Needs ?P1M ?D5M ?TOE ?P5M ?D1M ?HEE per side.
    """
    missing = [f"{s}{m}" for s in SIDES for m in FOREFOOT + ("D1M", "HEE") if f"{s}{m}" not in static]
    if missing:
        raise KeyError(f"arch calibration needs the static markers {', '.join(missing)}; not found")
    out: dict[str, float] = {}
    for s in SIDES:
        p1m, d5m, toe, p5m = _forefoot(static, s)
        origin, r = _lateral_frame(d5m, toe, p5m)
        for name, point in (("D1Mlat", static[f"{s}D1M"]), ("P1Mlat", p1m), ("D5Mlat", d5m)):
            v = np.nanmean(to_local(r, origin, point), axis=0) / MM
            out.update({f"%{s}{name}{a}": float(x) for a, x in zip("XYZ", v)})
        length = np.linalg.norm(static[f"{s}HEE"] - static[f"{s}TOE"], axis=-1)
        out[f"{s}FootLength"] = float(np.nanmean(length)) / MM - marker_diameter / 2.0
    return out


def arch_height(markers: Mapping[str, np.ndarray], cal: Mapping[str, float], side: str,
                means: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(arch height (n,) m, ArchHeightIndex (n,) % of foot length) of one side.

    `markers`: ?P1M ?D5M ?TOE ?P5M (m); `cal`: :func:`calibrate_arch` (or Nexus' %-values
    and ``?FootLength``, mm); `means`: the forefoot cluster's trial-mean positions
    (:func:`chainlab.model.ofm.cluster_means` of P1M D5M TOE P5M) when `markers` hold only
    some frames of the trial (default: computed from `markers`).
    """
    s = side
    p1m, d5m, toe, p5m = _forefoot(markers, s, means)
    origin, r = _lateral_frame(d5m, toe, p5m)
    rebuilt = {n: to_lab(r, origin, np.array([cal[f"%{s}{n}{a}"] for a in "XYZ"]) * MM) for n in LATERAL}
    foot = _plane_projection(rebuilt["P1Mlat"], rebuilt["D1Mlat"], d5m, p5m)
    height = np.linalg.norm(foot - p1m, axis=-1)
    return height, 100.0 * height / (cal[f"{s}FootLength"] * MM)


def arch_calibration(static_ds: xr.Dataset, marker_diameter: float | None = None) -> tuple[dict[str, float], str]:
    """The arch values of a subject: each value from the static trial's PROCESSING group
    when stored there (Nexus' calibration: the lateral-forefoot %-values, ``?FootLength``),
    else computed from its markers (:func:`calibrate_arch`). Returns (values, source:
    "static PROCESSING", "computed" or "mixed"). `marker_diameter` (mm) is used when
    PROCESSING has no MarkerDiameter (the kinematics' resolved value)."""
    mk = marker_arrays(static_ds)
    stored = from_dataset(static_ds)
    diameter = stored.get("MarkerDiameter", np.nan)
    if not np.isfinite(diameter) and marker_diameter is not None:
        diameter = float(marker_diameter)
    if not np.isfinite(diameter):
        name = static_ds.attrs.get("source_file", "static trial")
        raise KeyError(f"{name}: the arch calibration needs PROCESSING MarkerDiameter (mm); not found")
    own = calibrate_arch(mk, diameter)
    used = {k: stored[k] for k in own if k in stored and np.isfinite(stored[k]) and stored[k] != 0.0}
    source = "static PROCESSING" if len(used) == len(own) else ("computed" if not used else "mixed")
    return {**own, **used}, source


# --------------------------------------------------------------------------- pieces of a trial


def posture_frames(segments: Mapping[str, tuple[np.ndarray, np.ndarray]], markers: Mapping[str, np.ndarray],
                   facing: np.ndarray, cal: Mapping[str, float] | None,
                   forefoot_means: Mapping[str, np.ndarray], reference: np.ndarray | None = None
                   ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """HFTFL and FETBA (before the continuity of the series: :data:`RULES`, applied piece by
    piece by the caller) and the arch measures of some frames of a trial.

    `segments`: name -> (origin, axes) with ``?Hindfoot``, ``?OFMTibia``, ``?Femur``
    (:func:`chainlab.kinematics.frames_kinematics`' models); `markers`: ?P1M ?D5M ?TOE ?P5M
    (m); `facing`: :func:`chainlab.model.ofm.facing_sign` of the frames; `cal`:
    :func:`arch_calibration` values (None: no arch); `forefoot_means`: side -> the forefoot
    cluster's trial-mean positions; `reference`: a fixed (3, 3) frame for HFTFL instead of
    Nexus' lab turned with the pelvis' facing (the walking frame of ``progression: travel``,
    as TIBA). Returns (angles deg, arch: ``?ArchHeight`` mm and ``?ArchHeightIndex`` % of
    foot length)."""
    angles, arch = {}, {}
    for s in SIDES:
        long, _ = _side_names(s)
        angles[f"{s}HFTFL"] = _hindfoot_to_floor(segments[f"{long}Hindfoot"][1], facing, s, reference)
        angles[f"{s}FETBA"] = _femur_tibia(segments[f"{long}Femur"][1], segments[f"{long}OFMTibia"][1], s)
        if cal is not None:
            h, index = arch_height(markers, cal, s, forefoot_means[s])
            arch[f"{s}ArchHeight"] = h / MM
            arch[f"{s}ArchHeightIndex"] = index
    return angles, arch


def arch_variable(arch: Mapping[str, np.ndarray], n: int) -> xr.Dataset:
    """The arch measures as ``arch`` (frame, arch_output) with ``arch_units`` (mm, %)."""
    names = list(arch)
    values = np.stack([arch[k] for k in names], axis=1) if names else np.zeros((n, 0))
    return xr.Dataset(
        {"arch": (("frame", "arch_output"), values,
                  {"long_name": "OFM arch height (mm) and arch height index (% of foot length); units per "
                                "output in arch_units"})},
        coords={"arch_output": np.array(names, dtype=str),
                "arch_units": ("arch_output", np.array([ARCH_OUTPUTS[k] for k in names], dtype=str))})


# --------------------------------------------------------------------------- dataset


def ofm_posture(kinematics: xr.Dataset, static: xr.Dataset, *, travel_x: bool = False,
                forefoot_means: Mapping[str, np.ndarray] | None = None) -> xr.Dataset:
    """HFTFL, FETBA and the arch measures of one trial.

    Parameters
    ----------
    kinematics : Dataset
        :func:`chainlab.kinematics.compute_kinematics` of the trial (its segments
        ``?Hindfoot``, ``?OFMTibia``, ``?Femur`` and markers LASI RASI SACR ?P1M ?D5M ?TOE ?P5M).
    static : Dataset
        The subject's static trial (:func:`chainlab.io.c3d.read_c3d`): the arch calibration.
    travel_x : bool
        PROCESSING TravelDirectionX (the facing rule of HFTFL).
    forefoot_means : dict, optional
        Side -> the forefoot cluster's trial-mean positions, for a piece of a trial
        (:func:`arch_height`). The angles' continuity is that of the frames given.

    Returns
    -------
    Dataset
        ``angles`` (frame, output, axis) deg for :data:`ANGLE_OUTPUTS`; ``arch`` (frame,
        arch_output) with ``arch_units`` per output (mm, % of foot length); attrs
        ``arch_calibration_source`` and ``fetba_definition`` (:data:`WALKING_FETBA`; for the
        static trial itself :data:`STATIC_FETBA`, or ``"not reproduced: ..."`` naming what
        the static lacks, the walking definition then standing in).
    """
    segs = [str(s) for s in kinematics.segment.values]
    mk = marker_arrays(kinematics)
    need = [f"{side}{n}" for side in ("Left", "Right") for n in ("Hindfoot", "OFMTibia", "Femur") if f"{side}{n}" not in segs]
    need_mk = [m for m in ("LASI", "RASI", "SACR") + tuple(f"{s}{m}" for s in SIDES for m in FOREFOOT) if m not in mk]
    if need or need_mk:
        name = kinematics.attrs.get("dynamic_file", "kinematics")
        raise KeyError(f"{name}: OFM posture needs the segments {need} and markers {need_mk}; not found")
    segments = {f"{side}{n}": (None, kinematics.segment_axes.sel(segment=f"{side}{n}").values)
                for side in ("Left", "Right") for n in ("Hindfoot", "OFMTibia", "Femur")}
    cal, source = arch_calibration(static)
    raw, arch = posture_frames(segments, mk, facing_sign(mk, travel_x), cal,
                               dict.fromkeys(SIDES) if forefoot_means is None else forefoot_means)
    definition = WALKING_FETBA
    if is_static_run(kinematics):
        fetba, definition = static_femur_tibia(static, kinematics)
        raw |= fetba
    angles = {k: continuous(v, norm=RULES[k]) for k, v in raw.items()}
    names = list(angles)
    arch_names = list(arch)
    return xr.Dataset(
        {
            "angles": (("frame", "output", "axis"), np.stack([angles[k] for k in names], axis=1),
                       {"units": "deg", "long_name": "OFM posture angles, Nexus component order"}),
            "arch": (("frame", "arch_output"), np.stack([arch[k] for k in arch_names], axis=1),
                     {"long_name": "arch height (mm) and arch height index (% of foot length)"}),
        },
        coords={
            "frame": kinematics.frame.values,
            "time": ("frame", kinematics.time.values, {"units": "s"}),
            "output": np.array(names, dtype=str),
            "axis": list(AXES),
            "arch_output": np.array(arch_names, dtype=str),
            "arch_units": ("arch_output", np.array([ARCH_OUTPUTS[k] for k in arch_names], dtype=str)),
        },
        attrs={"arch_calibration_source": source, "fetba_definition": definition,
               **{f"arch_{k}": v for k, v in cal.items()}},
    )
