"""Force plates: analytic wrenches for every TYPE, twin files, and Nexus' own outputs."""

from __future__ import annotations

import numpy as np
import pytest

from chainlab import read_c3d
from chainlab.io.forceplates import Plate, plate_wrench

from .conftest import fixture

# A plate whose z axis points down into it (AMTI style), rotated 30 degrees about the lab
# vertical and set 0.2 m / 0.5 m from the lab origin: corners in the C3D order.
_ANG = np.deg2rad(30.0)
_RZ = np.array([[np.cos(_ANG), -np.sin(_ANG), 0], [np.sin(_ANG), np.cos(_ANG), 0], [0, 0, 1]])
_PLATE_TO_LAB = _RZ @ np.diag([1.0, -1.0, -1.0])  # columns: plate axes in the lab frame
_CENTRE = np.array([0.2, 0.5, 0.0])
_CORNERS = np.array([_CENTRE + _PLATE_TO_LAB @ c for c in ([0.2, 0.3, 0], [-0.2, 0.3, 0], [-0.2, -0.3, 0], [0.2, -0.3, 0])])


def _load(n=50, seed=0):
    """Known ground reaction: force, centre of pressure on the surface, free moment (lab)."""
    rng = np.random.default_rng(seed)
    force = np.column_stack([rng.normal(0, 40, n), rng.normal(0, 40, n), rng.uniform(200, 900, n)])
    cop_plate = np.column_stack([rng.uniform(-0.15, 0.15, n), rng.uniform(-0.25, 0.25, n), np.zeros(n)])
    cop = cop_plate @ _PLATE_TO_LAB.T + _CENTRE
    tz = rng.normal(0, 3, n)  # about the plate normal
    return force, cop, tz


def _channels(ptype, force, cop, tz, origin, cal=None):
    """The analog channels a plate of `ptype` would record for the given load."""
    r = _PLATE_TO_LAB
    f = force @ r  # plate coordinates
    p = (cop - _CENTRE) @ r
    m_s = np.cross(p, f) + np.outer(tz, [0, 0, 1])  # about the surface centre
    if ptype == 1:
        return np.column_stack([f, p[:, :2] * 1000.0, tz * 1000.0])  # mm, N mm
    if ptype in (2, 4):
        d = -origin  # surface centre relative to the sensor origin (origin has z > 0)
        m_o = m_s - np.cross(f, d)
        ch = np.column_stack([f, m_o * 1000.0])  # N, N mm
        return ch if cal is None else ch @ np.linalg.inv(cal).T
    a, b, az0 = origin[0], origin[1], -abs(origin[2])
    m_o = m_s - np.cross(f, [0, 0, az0])
    fz = np.linalg.lstsq(
        np.array([[1, 1, 1, 1], [b, b, -b, -b], [-a, a, a, -a]], float), np.vstack([f[:, 2], m_o[:, 0], m_o[:, 1]]), rcond=None
    )[0].T
    fx34_minus_fx12 = m_o[:, 2] / b
    fx12 = (f[:, 0] - fx34_minus_fx12) / 2
    return np.column_stack([fx12, f[:, 0] - fx12, f[:, 1] / 2, f[:, 1] / 2, fz])


@pytest.mark.parametrize("ptype", [1, 2, 3, 4])
def test_every_plate_type_returns_the_known_load(ptype):
    force, cop, tz = _load()
    origin = np.array([0.12, 0.2, 0.04]) if ptype == 3 else np.array([0.001, -0.002, 0.04])
    cal = None
    if ptype == 4:
        rng = np.random.default_rng(1)
        cal = np.diag([1.5, 1.5, 6.0, 740.0, 740.0, 390.0]) + rng.normal(0, 0.5, (6, 6))
    channels = _channels(ptype, force, cop, tz, origin, cal)
    plate = Plate(
        type=ptype,
        channels=tuple(range(channels.shape[1])),
        corners=_CORNERS,
        origin=origin,
        cal_matrix=cal,
        moment_scale=1.0 if ptype == 3 else 1e-3,
        cop_scale=1e-3,
    )
    w = plate_wrench(channels, plate)
    np.testing.assert_allclose(w["force"], force, atol=1e-9)
    np.testing.assert_allclose(w["cop"], cop, atol=1e-9)
    normal = _PLATE_TO_LAB[:, 2]
    np.testing.assert_allclose(w["free_moment"], np.outer(tz, normal), atol=1e-9)
    # moment about the surface centre = (COP - centre) x F + free moment
    expected = np.cross(cop - _CENTRE, force) + np.outer(tz, normal)
    np.testing.assert_allclose(w["moment"], expected, atol=1e-9)


def test_origin_sign_conventions_agree():
    """ORIGIN written sensor-to-surface (z < 0) or surface-to-sensor (z > 0) reads the same."""
    force, cop, tz = _load()
    origin = np.array([0.001, -0.002, 0.04])
    ch = _channels(2, force, cop, tz, origin)
    kw = dict(type=2, channels=tuple(range(6)), corners=_CORNERS, cal_matrix=None, moment_scale=1e-3, cop_scale=1e-3)
    a = plate_wrench(ch, Plate(origin=origin, **kw))
    b = plate_wrench(ch, Plate(origin=-origin, **kw))
    for key in ("force", "moment", "cop", "free_moment"):
        np.testing.assert_allclose(a[key], b[key], err_msg=key)
    np.testing.assert_allclose(a["cop"], cop, atol=1e-9)


def test_cop_is_nan_below_the_threshold():
    force, cop, tz = _load()
    force[:10] *= 1e-3  # under 1 N
    ch = _channels(2, force, cop, tz, np.array([0, 0, 0.04]))
    plate = Plate(2, tuple(range(6)), _CORNERS, np.array([0, 0, 0.04]), None, 1e-3, 1e-3)
    w = plate_wrench(ch, plate, cop_threshold=10.0)
    assert np.all(np.isnan(w["cop"][:10])) and np.all(np.isfinite(w["cop"][10:]))
    assert np.all(np.isfinite(w["force"]))


@pytest.mark.parametrize(
    "type2, type4, cop_mm, force_frac",
    [
        # same recording, Motion Analysis system: diagonal-only vs full calibration
        ("c3dorg_sample10_type-2a.c3d", "c3dorg_sample10_type-4a.c3d", 2.0, 0.005),
        # same recording, Vicon system: TYPE-2 uses the sensitivity matrix's diagonal only,
        # which differs from the full CAL_MATRIX by up to 5 % per channel (README of sample10)
        ("c3dorg_sample10_TYPE-2.C3D", "c3dorg_sample10_TYPE-4.C3D", 15.0, 0.02),
    ],
)
def test_sample10_type2_and_type4_agree(type2, type4, cop_mm, force_frac):
    a, b = read_c3d(fixture(type2)), read_c3d(fixture(type4))
    assert set(a.plate_type.values) == {2} and set(b.plate_type.values) == {4}
    for p in a.plate.values:
        fa = a.plate_force.sel(plate=p).values
        fb = b.plate_force.sel(plate=p).values
        loaded = np.abs(fa[:, 2]) > 50
        assert loaded.sum() > 100
        peak = np.abs(fa[loaded]).max()
        rms_f = np.sqrt(np.mean((fa[loaded] - fb[loaded]) ** 2, axis=0))
        assert np.all(rms_f < force_frac * peak), rms_f
        ca = a.plate_cop.sel(plate=p).values[loaded]
        cb = b.plate_cop.sel(plate=p).values[loaded]
        rms_c = np.sqrt(np.nanmean((ca - cb) ** 2, axis=0)) * 1000
        assert np.all(rms_c < cop_mm), rms_c


def test_plate_force_is_nexus_ground_reaction(walk):
    """Nexus stores GroundReactionForce per foot (N per kg); chainlab's plates give the same."""
    mass = float(walk.measurements.sel(measurement="Bodymass"))
    ratio = int(walk.attrs["analog_rate"] / walk.attrs["point_rate"])
    per_frame = walk.plate_force.values[::ratio] / mass  # analog sample at each frame's start
    for side in "LR":
        nexus = walk.model_outputs.sel(output=f"{side}GroundReactionForce").values
        on = np.isfinite(nexus[:, 2]) & (np.abs(nexus[:, 2]) > 1.0)
        assert on.sum() > 20
        # the plate under that foot is the one with the larger load in those frames
        p = np.argmax(np.abs(per_frame[on, :, 2]).sum(axis=0))
        # Nexus smooths its output; the analog sample at each frame start stays within 1 %
        # of the peak (RMS) of it, with the same signs: the reaction pushes up.
        rms = np.sqrt(np.mean((per_frame[on, p] - nexus[on]) ** 2, axis=0))
        assert np.all(rms < 0.01 * np.abs(nexus[on, 2]).max()), rms
        assert np.corrcoef(per_frame[on, p, 2], nexus[on, 2])[0, 1] > 0.999
        assert np.all(per_frame[on, p, 2] > 0)


def test_cop_lies_under_the_stance_foot(walk):
    ratio = int(walk.attrs["analog_rate"] / walk.attrs["point_rate"])
    cop = walk.plate_cop.values[::ratio]
    for side in "LR":
        heel = walk.markers.sel(marker=f"{side}HEE").values
        toe = walk.markers.sel(marker=f"{side}TOE").values
        nexus = walk.model_outputs.sel(output=f"{side}GroundReactionForce").values
        on = np.isfinite(nexus[:, 2]) & (np.abs(nexus[:, 2]) > 5.0)  # mid-stance, well loaded
        p = np.argmax(np.isfinite(cop[on, :, 0]).sum(axis=0))
        c = cop[on, p, :2]
        lo = np.minimum(heel[on, :2], toe[on, :2]) - 0.05
        hi = np.maximum(heel[on, :2], toe[on, :2]) + 0.05
        inside = np.all((c >= lo) & (c <= hi), axis=1)
        assert inside.mean() > 0.9
