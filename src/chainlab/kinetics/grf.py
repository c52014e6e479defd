"""Ground reaction of each force plate at the point (marker) rate.

Vicon Nexus gives frame i the mean of the r + 1 analog samples from i*r - r/2 to i*r + r/2
(r analog samples per frame; frame i's own samples are i*r .. i*r + r - 1): chainlab's
``plate_force`` averaged so equals Nexus' ``GroundReactionForce`` x body mass to 1e-4 N on the
biomechzoo walks (tests/test_kinetics.py). Near the ends of the capture (or of a window read
with ``read_c3d(frames=...)``) the window holds the samples that exist.

The force and the moment about the plate's surface centre S are averaged (both are linear in
the channels); the centre of pressure P and the free moment T then follow from the averaged
wrench: with n the plate normal, P = S + (n x M_S) / (n . F) and T = (M_S - (P - S) x F) . n.
A joint moment computed from (F, M_S) needs no centre of pressure at all, so the
inverse dynamics use the wrench and are exact whatever the COP threshold.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from chainlab.conventions import AXES, KINETICS_COP_THRESHOLD_N
from chainlab.io._dataset import dataset


def _window_mean(samples: np.ndarray, r: int, n: int) -> np.ndarray:
    """(n, ...) mean of samples[i*r - r//2 : i*r + r//2 + 1] for each frame i (clipped)."""
    if r == 1:
        return samples[:n].copy()
    h = r // 2
    s = samples.shape[0]
    c = np.concatenate([np.zeros((1,) + samples.shape[1:]), np.cumsum(samples, axis=0)])
    lo = np.clip(np.arange(n) * r - h, 0, s)
    hi = np.clip(np.arange(n) * r + h + 1, 0, s)
    count = (hi - lo).reshape((n,) + (1,) * (samples.ndim - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (c[hi] - c[lo]) / count


def plate_normals(corners: np.ndarray) -> np.ndarray:
    """(P, 3) unit normal of each plate from its corners (P, 4, 3): (c1 - c2) x (c1 - c4)."""
    z = np.cross(corners[:, 0] - corners[:, 1], corners[:, 0] - corners[:, 3])
    return z / np.linalg.norm(z, axis=-1, keepdims=True)


def ground_reaction(trial: xr.Dataset, cop_threshold: float = KINETICS_COP_THRESHOLD_N) -> xr.Dataset:
    """Each plate's ground reaction at the point rate, in the lab frame.

    Parameters
    ----------
    trial : xarray.Dataset
        A capture from :func:`chainlab.read_c3d` (``plate_force``, ``plate_moment`` per analog
        sample, ``plate_corners``; attrs ``point_rate`` and ``analog_rate``).
    cop_threshold : float
        Vertical force (N) below which the centre of pressure and free moment are NaN.

    Returns
    -------
    xarray.Dataset
        ``force`` (frame, plate, axis) N, ``moment`` (frame, plate, axis) N m about the plate's
        surface centre, ``cop`` (frame, plate, axis) m, ``free_moment`` (frame, plate, axis)
        N m (along the plate normal), ``centre`` (plate, axis) m and ``normal`` (plate, axis);
        the load on the subject, as Nexus' ``GroundReactionForce`` (x body mass).
    """
    name = trial.attrs.get("source_file", "trial")
    n = trial.sizes["frame"]
    n_plates = trial.sizes.get("plate", 0)
    point_rate = float(trial.attrs.get("point_rate", 0) or 0)
    analog_rate = float(trial.attrs.get("analog_rate", 0) or 0)
    if n_plates and not (point_rate > 0 and analog_rate > 0):
        raise ValueError(f"{name}: point_rate {point_rate} and analog_rate {analog_rate} must both be > 0")
    r = int(round(analog_rate / point_rate)) if n_plates else 1
    if n_plates and abs(analog_rate / point_rate - r) > 1e-6:
        raise ValueError(f"{name}: analog rate {analog_rate} Hz is not a whole multiple of the point rate {point_rate} Hz")
    force = _window_mean(trial.plate_force.values, r, n) if n_plates else np.zeros((n, 0, 3))
    moment = _window_mean(trial.plate_moment.values, r, n) if n_plates else np.zeros((n, 0, 3))
    corners = trial.plate_corners.values if n_plates else np.zeros((0, 4, 3))
    centre = corners.mean(axis=1)
    normal = plate_normals(corners) if n_plates else np.zeros((0, 3))
    fn = np.einsum("fpk,pk->fp", force, normal)
    loaded = np.abs(force[..., 2]) >= cop_threshold
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.cross(normal[None], moment) / fn[..., None]
    d[~loaded] = np.nan
    cop = centre[None] + d
    t = np.einsum("fpk,pk->fp", moment - np.cross(d, force), normal)
    free = t[..., None] * normal[None]
    coords = {
        "frame": ("frame", trial.frame.values),
        "time": ("frame", trial.time.values, {"units": "s"}),
        "plate": ("plate", np.arange(1, n_plates + 1)),
        "axis": ("axis", np.array(AXES)),
    }
    dims = ("frame", "plate", "axis")
    return dataset(  # xr.Dataset's, without importing dask (chainlab.io._dataset)
        {
            "force": (dims, force, {"units": "N", "long_name": "ground reaction force on the subject, lab frame"}),
            "moment": (dims, moment, {"units": "N m", "long_name": "ground reaction moment about the plate surface centre, lab frame"}),
            "cop": (dims, cop, {"units": "m", "long_name": "centre of pressure, lab frame"}),
            "free_moment": (dims, free, {"units": "N m", "long_name": "free moment about the normal through the COP, lab frame"}),
            "centre": (("plate", "axis"), centre, {"units": "m", "long_name": "plate surface centre"}),
            "normal": (("plate", "axis"), normal, {"units": "1", "long_name": "plate normal (c1 - c2) x (c1 - c4)"}),
            "corners": (("plate", "corner", "axis"), corners, {"units": "m"}),
        },
        coords,
        attrs={"source_file": name, "analog_per_frame": r, "cop_threshold_N": float(cop_threshold)},
    )
