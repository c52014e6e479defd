"""Vectorised rigid-body geometry: unit vectors, segment frames, Cardan angles.

A segment frame is a rotation matrix ``R`` of shape (n, 3, 3) whose **columns** are the
segment's x, y and z axes expressed in the lab frame, plus an origin (n, 3). The orientation
of a distal segment relative to a proximal one is ``R_p^T R_d``. Every function works on
whole trials at once (leading axis = frames) and propagates NaN.
"""

from __future__ import annotations

import numpy as np

_AXIS = {"x": 0, "y": 1, "z": 2}


def unit(v: np.ndarray) -> np.ndarray:
    """v / |v| along the last axis; NaN where |v| is 0 or NaN."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / np.sqrt(dot(v, v))[..., None]


def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot product of (..., 3) arrays."""
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product of (..., 3) arrays (np.cross is several times slower)."""
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    out = np.empty(a.shape if a.shape == b.shape else np.broadcast_shapes(a.shape, b.shape))
    np.subtract(a1 * b2, a2 * b1, out=out[..., 0])
    np.subtract(a2 * b0, a0 * b2, out=out[..., 1])
    np.subtract(a0 * b1, a1 * b0, out=out[..., 2])
    return out


def frame(primary: np.ndarray, secondary: np.ndarray, axes: str = "zx", *, orthogonal: bool = False) -> np.ndarray:
    """Orthonormal frame from a primary axis and a vector in the plane of the second axis.

    Parameters
    ----------
    primary : (n, 3) ndarray
        Direction of axis ``axes[0]``, kept exactly.
    secondary : (n, 3) ndarray
        A vector whose component orthogonal to `primary` gives axis ``axes[1]``.
    axes : str
        Two of "x", "y", "z": which axes `primary` and `secondary` define. The third axis
        completes a right-handed frame.
    orthogonal : bool
        `secondary` is orthogonal to `primary` already (e.g. a cross product with it): skip
        the projection.

    Returns
    -------
    (n, 3, 3) ndarray
        Columns are the x, y and z axes in the lab frame.
    """
    i, j = _AXIS[axes[0]], _AXIS[axes[1]]
    k = 3 - i - j
    a = unit(primary)
    b = unit(secondary if orthogonal else secondary - dot(secondary, a)[..., None] * a)
    # right-handed: e_k = e_i x e_j when (i, j, k) is cyclic, else e_j x e_i
    c = cross(a, b) if (j - i) % 3 == 1 else cross(b, a)
    r = np.empty(a.shape[:-1] + (3, 3))
    r[..., :, i], r[..., :, j], r[..., :, k] = a, b, c
    return r


def relative(r_proximal: np.ndarray, r_distal: np.ndarray) -> np.ndarray:
    """Orientation of the distal frame in the proximal one: R_p^T R_d, (n, 3, 3)."""
    return np.swapaxes(r_proximal, -1, -2) @ r_distal


def cardan(r: np.ndarray, sequence: str) -> np.ndarray:
    """Cardan (Tait-Bryan) angles of rotation matrices, rotating axes.

    ``r = R_a(alpha) R_b(beta) R_c(gamma)`` for ``sequence = "abc"`` (e.g. "yxz": flexion
    about y first, then x, then z). Returns (n, 3) radians [alpha, beta, gamma], beta in
    [-pi/2, pi/2].
    """
    i, j, k = (_AXIS[s] for s in sequence.lower())
    if len({i, j, k}) != 3:
        raise ValueError(f"sequence must name three different axes; found {sequence!r}")
    e = 1.0 if (j - i) % 3 == 1 else -1.0
    beta = np.arcsin(np.clip(e * r[..., i, k], -1.0, 1.0))
    alpha = np.arctan2(-e * r[..., j, k], r[..., k, k])
    gamma = np.arctan2(-e * r[..., i, j], r[..., i, i])
    return np.stack([alpha, beta, gamma], axis=-1)


def rotation(axis: str, angle: np.ndarray | float) -> np.ndarray:
    """Rotation matrices about a frame axis by `angle` radians, shape angle.shape + (3, 3)."""
    a = np.asarray(angle, dtype=float)
    c, s = np.cos(a), np.sin(a)
    one, zero = np.ones_like(a), np.zeros_like(a)
    rows = {
        "x": [[one, zero, zero], [zero, c, -s], [zero, s, c]],
        "y": [[c, zero, s], [zero, one, zero], [-s, zero, c]],
        "z": [[c, -s, zero], [s, c, zero], [zero, zero, one]],
    }[axis]
    return np.moveaxis(np.array(rows), (0, 1), (-2, -1))


def compose(sequence: str, angles: np.ndarray) -> np.ndarray:
    """Inverse of :func:`cardan`: R_a(alpha) R_b(beta) R_c(gamma) from (n, 3) radians."""
    a, b, c = (rotation(ax, angles[..., m]) for m, ax in enumerate(sequence.lower()))
    return a @ b @ c


def to_local(r: np.ndarray, origin: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Lab points (n, 3) expressed in the segment frame (n, 3)."""
    return np.einsum("...ji,...j->...i", r, points - origin)


def to_lab(r: np.ndarray, origin: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Segment-frame coordinates (n, 3) or (3,) back in the lab, (n, 3)."""
    return np.einsum("...ij,...j->...i", r, local) + origin
