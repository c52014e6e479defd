"""Force-plate wrenches from analog channels, for C3D plate TYPE 1, 2, 3 and 4.

Conventions (also in ``docs/conventions.md``):

* The plate frame comes from FORCE_PLATFORM:CORNERS (lab coordinates):
  x = c1 - c2, y = c1 - c4, z = x × y, and y re-orthogonalised as z × x (C3D guide).
  The plate's surface centre S is the mean of the four corners.
* FORCE_PLATFORM:ORIGIN is the C3D "position of the plate's (sensor) origin relative to the
  centre of its surface", in plate coordinates. For plates whose z axis points down into the
  plate this has z > 0. Files that store it with z < 0 wrote the opposite vector; it is
  negated to the same meaning (the rule of BTK and ezc3d).
* The plate's channels, rotated into the lab frame, give the **ground reaction** (the load on
  the subject; vertical component positive upwards for a person standing on a level plate).
  This is the reading of BTK and of Vicon Nexus, whose ``GroundReactionForce`` outputs equal
  ``plate_force`` / body mass on the shared biomechzoo trials (a test checks it). chainlab
  reports ``force``, ``moment`` (about the surface centre S) and ``free_moment`` (about the
  normal through the centre of pressure), all in the lab frame, in N and N·m, and ``cop`` in
  metres in the lab frame.
* The centre of pressure is NaN while the normal force is below a threshold (default 10 N):
  it is undefined when nothing stands on the plate.

Type formulas: TYPE 2 channels are Fx, Fy, Fz, Mx, My, Mz about the sensor origin; TYPE 4 the
same after multiplication by the 6x6 CAL_MATRIX; TYPE 1 carries Fx, Fy, Fz, COPx, COPy, Tz;
TYPE 3 is the Kistler 8-channel plate (fx12, fx34, fy14, fy23, fz1..fz4) with ORIGIN holding
the sensor offsets a, b and az0 (Kistler, "Force plate formulae"). The Kistler COP
correction polynomial (FPCOPPOLY) is not applied.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Number of analog channels each plate type reads.
CHANNELS_PER_TYPE = {1: 6, 2: 6, 3: 8, 4: 6}
DEFAULT_COP_THRESHOLD = 10.0  # N


@dataclass(frozen=True)
class Plate:
    """One plate's geometry and channels, in SI units (m)."""

    type: int
    channels: tuple[int, ...]  # 0-based analog channel indices
    corners: np.ndarray  # (4, 3) lab coordinates, m
    origin: np.ndarray  # (3,) plate coordinates, m (C3D ORIGIN, before the sign rule)
    cal_matrix: np.ndarray | None  # (n, n) or None
    moment_scale: float  # multiplies moment channels to give N·m
    cop_scale: float  # TYPE 1: multiplies COP channels to give m

    def __post_init__(self) -> None:
        self.rotation  # noqa: B018 - raises ValueError for degenerate corners

    @property
    def rotation(self) -> np.ndarray:
        """(3, 3) matrix whose columns are the plate axes in the lab frame."""
        c = self.corners
        x = c[0] - c[1]
        y = c[0] - c[3]
        z = np.cross(x, y)
        y = np.cross(z, x)
        r = np.stack([x, y, z], axis=1)
        norms = np.linalg.norm(r, axis=0)
        if not np.all(norms > 0):
            raise ValueError("FORCE_PLATFORM:CORNERS are degenerate (corners coincide)")
        return r / norms

    @property
    def centre(self) -> np.ndarray:
        return self.corners.mean(axis=0)


def plate_wrench(
    analog: np.ndarray,
    plate: Plate,
    cop_threshold: float = DEFAULT_COP_THRESHOLD,
    out: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Ground reaction wrench of one plate.

    Parameters
    ----------
    analog : (S, C) ndarray
        Scaled analog samples (SCALE, GEN_SCALE and OFFSET applied), float32 or float64;
        the wrench is computed in float64 either way.
    plate : Plate
    cop_threshold : float
        Normal force (N) below which the centre of pressure is NaN.
    out : dict of (S, 3) ndarray, optional
        Arrays to write ``force``, ``moment``, ``cop`` and ``free_moment`` into (views of
        larger arrays allowed); returned.

    Returns
    -------
    dict of ndarray
        ``force`` (S, 3) N, ``moment`` (S, 3) N·m about the surface centre, ``cop`` (S, 3) m,
        ``free_moment`` (S, 3) N·m; all in the lab frame, as ground reaction on the subject.
    """
    # Component by component on contiguous (S,) columns, in the order of np.cross(a, b):
    # (a1 b2 - a2 b1, a2 b0 - a0 b2, a0 b1 - a1 b0); the channels are copied once, as
    # float64 (analogs read as float32 hold their float64 values exactly).
    chans = list(plate.channels)
    if plate.cal_matrix is not None:
        raw = np.ascontiguousarray((analog[:, chans].astype(np.float64) @ plate.cal_matrix.T).T)
    elif chans == list(range(chans[0], chans[0] + len(chans))):
        raw = np.array(analog[:, chans[0] : chans[0] + len(chans)].T, dtype=np.float64, order="C")
    else:
        raw = np.array(analog[:, chans].T, dtype=np.float64, order="C")
    if plate.type in (2, 4):
        f = (raw[0], raw[1], raw[2])
        d = -_spec_origin(plate.origin)  # surface centre relative to the sensor origin
        m = [raw[3 + k] * plate.moment_scale for k in range(3)]
        _add_cross(m, f, d)
    elif plate.type == 3:
        a, b, az0 = np.abs(plate.origin[0]), np.abs(plate.origin[1]), -np.abs(plate.origin[2])
        fx12, fx34, fy14, fy23, fz1, fz2, fz3, fz4 = raw
        f = (fx12 + fx34, fy14 + fy23, fz1 + fz2 + fz3 + fz4)
        m = [
            b * (fz1 + fz2 - fz3 - fz4),
            a * (-fz1 + fz2 + fz3 - fz4),
            b * (-fx12 + fx34) + a * (fy14 - fy23),
        ]
        _add_cross(m, f, np.array([0.0, 0.0, az0]))
    elif plate.type == 1:
        f = (raw[0], raw[1], raw[2])
        px, py = raw[3] * plate.cop_scale, raw[4] * plate.cop_scale
        m = [py * f[2] - 0.0 * f[1], 0.0 * f[0] - px * f[2], px * f[1] - py * f[0]]
        m[2] += raw[5] * plate.moment_scale
    else:  # pragma: no cover - callers only pass supported types
        raise ValueError(f"force plate TYPE {plate.type} is not supported")

    fz = f[2]
    unloaded = ~(np.abs(fz) >= cop_threshold)
    with np.errstate(divide="ignore", invalid="ignore"):
        px = -m[1] / fz
        py = m[0] / fz
    np.copyto(px, np.nan, where=unloaded)
    np.copyto(py, np.nan, where=unloaded)
    tz = m[2] - (px * f[1] - py * f[0])

    r = plate.rotation
    c = plate.centre
    n = analog.shape[0]
    if out is None:
        out = {key: np.empty((n, 3)) for key in ("force", "moment", "cop", "free_moment")}
    for j in range(3):  # row j of r: the lab axis j in plate coordinates
        out["force"][:, j] = f[0] * r[j, 0] + f[1] * r[j, 1] + f[2] * r[j, 2]
        out["moment"][:, j] = m[0] * r[j, 0] + m[1] * r[j, 1] + m[2] * r[j, 2]
        out["cop"][:, j] = px * r[j, 0] + py * r[j, 1] + c[j]
        out["free_moment"][:, j] = tz * r[j, 2]
    return out


def _add_cross(m: list[np.ndarray], a: tuple[np.ndarray, ...], b: np.ndarray) -> None:
    """m += np.cross(a, b) for components `m`, `a` and a 3-vector `b`, in np.cross's order."""
    m[0] += a[1] * b[2] - a[2] * b[1]
    m[1] += a[2] * b[0] - a[0] * b[2]
    m[2] += a[0] * b[1] - a[1] * b[0]


def _spec_origin(origin: np.ndarray) -> np.ndarray:
    """ORIGIN as the sensor origin relative to the surface centre (z >= 0 for z-down plates)."""
    return -origin if origin[2] < 0 else origin
