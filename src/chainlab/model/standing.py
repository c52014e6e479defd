"""The standing chain: one subject's posture from the static (calibration) trial.

Means over the static trial's frames of chainlab's outputs (computed on the static trial
itself: :func:`chainlab.kinematics.compute_kinematics` with the static as both trials) and
of marker distances; one value per name, the units in the name (:data:`UNITS`):

* ``pelvic_tilt_deg`` (anterior +) and ``pelvic_obliquity_deg`` (left side up +):
  ``LPelvisAngles`` x and y (Nexus' signs; the right-side output has the obliquity's sign
  reversed);
* ``lumbar_curvature_deg``: ``LumbarCurvature`` x (lordosis +; on trials without lumbar
  markers the T10-T12-SACR proxy, docs/kinematics.md);
* per side (``_L``/``_R``): ``rearfoot_to_floor`` (``?HFTFL`` y: hindfoot inversion + /
  eversion - against the floor), ``arch_height_index`` (% of foot length) and
  ``arch_height`` (mm) (:mod:`chainlab.model.ofm_posture`), ``knee_flexion`` /
  ``knee_varus`` (``?KneeAngles`` x, y), ``hip_flexion`` / ``hip_adduction``
  (``?HipAngles`` x, y);
* leg length per side from the markers: the distance from ?ASI to ?MMA (medial malleolus),
  marker centre to marker centre, and as PROCESSING ``?LegLength`` says (the measured leg
  length Nexus was given); each difference is left minus right.

Names missing in the inputs give NaN (the model or marker was not there), never an error,
so a study's table has the same columns for every subject.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from chainlab.model.measurements import from_dataset
from chainlab.model.ofm_posture import ofm_posture

SIDES = ("L", "R")
UNITS: dict[str, str] = {
    "pelvic_tilt_deg": "deg",
    "pelvic_obliquity_deg": "deg",
    "lumbar_curvature_deg": "deg",
    **{f"{n}_{s}_{u}": u.replace("pct", "% of foot length")
       for s in SIDES for n, u in (("rearfoot_to_floor", "deg"), ("arch_height_index", "pct"), ("arch_height", "mm"),
                                   ("knee_flexion", "deg"), ("knee_varus", "deg"), ("hip_flexion", "deg"),
                                   ("hip_adduction", "deg"), ("leg_length_markers", "mm"),
                                   ("leg_length_processing", "mm"))},
    "leg_length_difference_markers_mm": "mm",
    "leg_length_difference_processing_mm": "mm",
    "static_frames": "1",
}


def _angle(kin: xr.Dataset, output: str, component: int) -> float:
    if output not in kin.output.values:
        return np.nan
    v = kin.angles.sel(output=output).values[:, component]
    return float(np.nanmean(v)) if np.isfinite(v).any() else np.nan


def _marker_distance(static: xr.Dataset, a: str, b: str) -> float:
    names = set(static.marker.values.astype(str).tolist())
    if not {a, b} <= names:
        return np.nan
    d = np.linalg.norm(static.markers.sel(marker=a).values - static.markers.sel(marker=b).values, axis=-1)
    return float(np.nanmean(d)) * 1e3 if np.isfinite(d).any() else np.nan


def standing_posture(static: xr.Dataset, kinematics: xr.Dataset) -> dict[str, float]:
    """The standing chain of one subject.

    Parameters
    ----------
    static : Dataset
        The static trial (:func:`chainlab.read_c3d`).
    kinematics : Dataset
        ``compute_kinematics(static, static)``: the models on the static trial.

    Returns
    -------
    dict
        :data:`UNITS`' names -> values (float; NaN where an input is missing).
    """
    out: dict[str, float] = {
        "pelvic_tilt_deg": _angle(kinematics, "LPelvisAngles", 0),
        "pelvic_obliquity_deg": _angle(kinematics, "LPelvisAngles", 1),
        "lumbar_curvature_deg": _angle(kinematics, "LumbarCurvature", 0),
    }
    try:
        post = ofm_posture(kinematics, static)
    except KeyError:
        post = None
    stored = from_dataset(static)
    for s in SIDES:
        if post is not None:
            hftfl = post.angles.sel(output=f"{s}HFTFL").values[:, 1]
            out[f"rearfoot_to_floor_{s}_deg"] = float(np.nanmean(hftfl))
            out[f"arch_height_index_{s}_pct"] = float(np.nanmean(post.arch.sel(arch_output=f"{s}ArchHeightIndex").values))
            out[f"arch_height_{s}_mm"] = float(np.nanmean(post.arch.sel(arch_output=f"{s}ArchHeight").values))
        else:
            out[f"rearfoot_to_floor_{s}_deg"] = out[f"arch_height_index_{s}_pct"] = out[f"arch_height_{s}_mm"] = np.nan
        out[f"knee_flexion_{s}_deg"] = _angle(kinematics, f"{s}KneeAngles", 0)
        out[f"knee_varus_{s}_deg"] = _angle(kinematics, f"{s}KneeAngles", 1)
        out[f"hip_flexion_{s}_deg"] = _angle(kinematics, f"{s}HipAngles", 0)
        out[f"hip_adduction_{s}_deg"] = _angle(kinematics, f"{s}HipAngles", 1)
        out[f"leg_length_markers_{s}_mm"] = _marker_distance(static, f"{s}ASI", f"{s}MMA")
        value = stored.get(f"{s}LegLength", np.nan)
        out[f"leg_length_processing_{s}_mm"] = float(value) if value and np.isfinite(value) else np.nan
    out["leg_length_difference_markers_mm"] = out["leg_length_markers_L_mm"] - out["leg_length_markers_R_mm"]
    out["leg_length_difference_processing_mm"] = out["leg_length_processing_L_mm"] - out["leg_length_processing_R_mm"]
    out["static_frames"] = float(static.sizes["frame"])
    return {k: out[k] for k in UNITS}
