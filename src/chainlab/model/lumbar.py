"""Lumbar curvature and the lowest spine segment relative to the pelvis.

Skin markers over the spinous processes track changes of lumbar curvature validly but its
absolute value poorly (Zemp 2014); the markers labs use vary (Fayad 2022). chainlab therefore
states its rule and reports which markers it used.

Rule (``docs/conventions.md``; methods reference section 2):

* The spine markers present among ``SPINE_ORDER`` (top to bottom: T10, T12, L1, L3, L5, S1,
  SACR; S1 replaces SACR when both exist) form a chain. ``top`` is the highest, ``bottom`` the
  lowest, and ``apex`` the first present of L3, L1, L5, T12 that lies strictly between them.
* **Lordosis** (``LumbarCurvature`` x) is the signed angle from u = apex - top to
  v = bottom - apex, both projected on the pelvis sagittal plane (the plane of the pelvis
  x and z axes): atan2((u × v) · y_pelvis, u · v). Positive when the apex lies anterior to the
  top-bottom chord (lordosis), negative for kyphosis. ``LumbarCurvature`` y is the same
  construction in the pelvis frontal plane (y-z), positive when the apex lies to the left
  (+y) of the chord; z is NaN.
* **Lowest segment** (``LumbarPelvisAngles``): the line from ``bottom`` to the next marker
  up, in the pelvis frame: x = its inclination in the sagittal plane from the pelvis z axis,
  positive leaning forward (+x); y = its inclination in the frontal plane, positive leaning to
  the left (+y); z is NaN (a line has no axial rotation).

On the biomechzoo markers (T10, T12, SACR; no lumbar level) the curvature is that of the
thoracolumbar chain T10-T12-SACR: an honest proxy, named by the attrs of the output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chainlab.model.geometry import cross

SPINE_ORDER = ("T10", "T12", "L1", "L3", "L5", "S1", "SACR")
APEX_PREFERENCE = ("L3", "L1", "L5", "T12")


@dataclass(frozen=True)
class LumbarMarkers:
    top: str
    apex: str
    bottom: str
    above_bottom: str


def choose_markers(available: set[str] | list[str]) -> LumbarMarkers:
    """Apply the marker rule; raise ValueError naming what is missing."""
    present = [m for m in SPINE_ORDER if m in set(available)]
    if "S1" in present and "SACR" in present:
        present.remove("SACR")
    if len(present) < 3:
        raise ValueError(
            f"lumbar curvature needs three of {', '.join(SPINE_ORDER)}; found {present or 'none'}"
        )
    top, bottom = present[0], present[-1]
    inner = present[1:-1]
    apex = next((m for m in APEX_PREFERENCE if m in inner), inner[len(inner) // 2])
    return LumbarMarkers(top=top, apex=apex, bottom=bottom, above_bottom=present[-2])


def _signed_angle(u: np.ndarray, v: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Signed angle (deg) from u to v about `normal`, after projecting both on its plane."""
    u = u - np.sum(u * normal, axis=-1, keepdims=True) * normal
    v = v - np.sum(v * normal, axis=-1, keepdims=True) * normal
    s = np.sum(cross(u, v) * normal, axis=-1)
    c = np.sum(u * v, axis=-1)
    return np.degrees(np.arctan2(s, c))


def lumbar_angles(
    markers: dict[str, np.ndarray], pelvis: np.ndarray, which: LumbarMarkers
) -> dict[str, np.ndarray]:
    """``LumbarCurvature`` and ``LumbarPelvisAngles`` (n, 3) in degrees.

    Parameters
    ----------
    markers : dict of (n, 3) ndarray
        Spine marker positions in the lab frame.
    pelvis : (n, 3, 3) ndarray
        Pelvis frame (columns x anterior, y left, z up) in the lab.
    which : LumbarMarkers
        From :func:`choose_markers`.
    """
    x, y, z = pelvis[..., 0], pelvis[..., 1], pelvis[..., 2]
    top, apex, bottom = markers[which.top], markers[which.apex], markers[which.bottom]
    u, v = apex - top, bottom - apex
    n = len(top)
    curvature = np.full((n, 3), np.nan)
    curvature[:, 0] = _signed_angle(u, v, y)
    curvature[:, 1] = _signed_angle(u, v, -x)  # apex to the left (+y) of the chord: positive
    seg = markers[which.above_bottom] - bottom
    segment = np.full((n, 3), np.nan)
    segment[:, 0] = _signed_angle(z, seg, y)  # towards +x: positive
    segment[:, 1] = _signed_angle(z, seg, -x)  # towards +y: positive
    return {"LumbarCurvature": curvature, "LumbarPelvisAngles": segment}
