"""OFM posture (HFTFL, FETBA, arch height and its index) against the values Nexus stores."""

from __future__ import annotations

import numpy as np
import pytest

from chainlab import read_c3d
from chainlab.kinematics import compute_kinematics
from chainlab.model import ofm
from chainlab.model.geometry import compose, frame
from chainlab.model.ofm import cluster_means
from chainlab.model.ofm_posture import FOREFOOT, arch_calibration, arch_height, femur_tibia, hindfoot_to_floor, ofm_posture

from .conftest import SHARED, STUDY


def _subjects():
    roots = [STUDY] + ([SHARED / "biomechzoo"] if (SHARED / "biomechzoo").is_dir() else [])
    out = {}
    for root in roots:
        for subject in sorted(p for p in root.iterdir() if p.is_dir()):
            out.setdefault(subject.name, subject)
    return sorted(out.values())


def _trial(subject, condition):
    return next((subject / condition).glob("*.c3d"))


@pytest.fixture(scope="module")
def cache():
    return {}


def _posture(cache, subject, condition):
    key = (subject, condition)
    if key not in cache:
        static = read_c3d(_trial(subject, "Static"))
        ds = static if condition == "Static" else read_c3d(_trial(subject, condition))
        kin = compute_kinematics(ds, static)
        cache[key] = (ds, kin, ofm_posture(kin, static))
    return cache[key]


def _wrapped_rms(ours, nexus, keep=None):
    d = (ours - nexus + 180.0) % 360.0 - 180.0
    if keep is not None:
        d = d[keep]
    return np.sqrt(np.nanmean(d**2, axis=0))


@pytest.mark.parametrize("condition", ["Static", "Straight", "Turn"])
@pytest.mark.parametrize("subject", _subjects(), ids=lambda p: p.name)
def test_arch_height_index_equals_nexus(cache, subject, condition):
    """ArchHeightIndex within 0.001 (walks; measured < 1e-5) and 0.15 (static; measured
    0.11) RMS of Nexus' (bar of the issue: 0.5); the arch height in mm within 0.25 mm of
    Nexus' index times its foot length (measured 0.18 static; bar: 0.5 mm)."""
    ds, kin, post = _posture(cache, subject, condition)
    length = dict(zip(ds.measurement.values.astype(str), ds.measurements.values))
    for s in "LR":
        nexus = ds.model_outputs.sel(output=f"{s}ArchHeightIndex").values[:, 2]
        point = ds.markers.sel(marker=f"{s}ArchHeight").values[:, 2] * 1e3  # the same number as a point
        np.testing.assert_allclose(point, nexus, atol=1e-4)
        ours = post.arch.sel(arch_output=f"{s}ArchHeightIndex").values
        rms = np.sqrt(np.nanmean((ours - nexus) ** 2))
        assert rms < (0.15 if condition == "Static" else 1e-3), f"{s}ArchHeightIndex RMS {rms}"
        height = post.arch.sel(arch_output=f"{s}ArchHeight").values
        expected = nexus * length[f"{s}FootLength"] / 100.0
        assert np.sqrt(np.nanmean((height - expected) ** 2)) < 0.25
    assert dict(zip(post.arch_output.values, post.arch_units.values))["LArchHeight"] == "mm"


@pytest.mark.parametrize("condition", ["Static", "Straight", "Turn"])
@pytest.mark.parametrize("subject", _subjects(), ids=lambda p: p.name)
def test_hindfoot_to_floor_against_nexus(cache, subject, condition):
    """HFTFL within 1 deg RMS (worst measured: static 0.19, Straight 0.63). In Turn trials the
    frames where the hindfoot points across the lab (Nexus' y beyond 60 deg: the XYZ sequence
    near its singularity) and those next to a switch of the pelvis' facing are left out;
    on the rest the worst is 1.30 deg (HC032A18, right), from the hindfoot origin that OFM's
    HFTBA shares (docs/kinematics.md)."""
    ds, kin, post = _posture(cache, subject, condition)
    mk = {str(m): kin.markers.sel(marker=m).values for m in ("LASI", "RASI", "SACR")}
    near = np.zeros(kin.sizes["frame"], bool)
    for i in ofm.facing_switches(ofm.facing_sign(mk)):
        near[max(0, i - 1): i + 2] = True
    for s in "LR":
        nexus = ds.model_outputs.sel(output=f"{s}HFTFL").values
        keep = ~near & (np.abs(nexus[:, 1]) < 60.0)
        rms = _wrapped_rms(post.angles.sel(output=f"{s}HFTFL").values, nexus, keep)
        assert np.all(rms < (1.4 if condition == "Turn" else 1.0)), f"{s}HFTFL RMS {rms}"
        if condition != "Turn":
            assert keep.all()


@pytest.mark.parametrize("condition", ["Straight", "Turn"])
@pytest.mark.parametrize("subject", _subjects(), ids=lambda p: p.name)
def test_femur_tibia_against_nexus(cache, subject, condition):
    """FETBA within 0.4 deg RMS of Nexus in walking trials (worst measured 0.323: HC032A
    Straight, right, y). The static trials' stored FETBA is not reproduced (docs/kinematics.md)."""
    ds, kin, post = _posture(cache, subject, condition)
    for s in "LR":
        rms = _wrapped_rms(post.angles.sel(output=f"{s}FETBA").values, ds.model_outputs.sel(output=f"{s}FETBA").values)
        assert np.all(rms < 0.4), f"{s}FETBA RMS {rms}"


def test_angles_of_known_rotations():
    """Analytic cases: a hindfoot pitched, inverted and turned by known angles, and a tibia
    flexed, in varus and turned in the femur."""
    n = 4
    lab = np.broadcast_to(np.eye(3), (n, 3, 3))
    # hindfoot Z anterior (+y lab), Y left (-x lab), X up: the foot flat along +y
    flat = frame(np.tile([0.0, 1.0, 0.0], (n, 1)), np.tile([-1.0, 0.0, 0.0], (n, 1)), "zy")
    zero = hindfoot_to_floor(flat, np.ones(n), "L")
    np.testing.assert_allclose(zero, 0.0, atol=1e-9)
    # toes up by 10 deg: rotation about the hindfoot's Y (left) axis by -10 deg raises Z
    pitched = flat @ compose("yxz", np.radians(np.tile([-10.0, 0.0, 0.0], (n, 1))))
    np.testing.assert_allclose(hindfoot_to_floor(pitched, np.ones(n), "L")[:, 0], 10.0, atol=1e-9)
    # facing the other way: the same foot turned 180 deg about the vertical, same angles
    turned = compose("xyz", np.radians(np.tile([0.0, 0.0, 180.0], (n, 1)))) @ pitched
    np.testing.assert_allclose(hindfoot_to_floor(turned, -np.ones(n), "L"), hindfoot_to_floor(pitched, np.ones(n), "L"), atol=1e-9)
    # FETBA: tibia = femur rotated by YXZ (a, b, c) gives (a, -b, -c) left, (a, b, c) right
    abc = np.tile([30.0, 5.0, -8.0], (n, 1))
    tib = lab @ compose("yxz", np.radians(abc))
    np.testing.assert_allclose(femur_tibia(lab, tib, "L"), abc * [1, -1, -1], atol=1e-9)
    np.testing.assert_allclose(femur_tibia(lab, tib, "R"), abc, atol=1e-9)


def test_arch_of_a_piece_with_the_trial_means_equals_the_whole(cache):
    subject = _subjects()[0]
    ds, kin, post = _posture(cache, subject, "Straight")
    static = read_c3d(_trial(subject, "Static"))
    cal, _ = arch_calibration(static)
    mk = {m: kin.markers.sel(marker=m).values for m in kin.marker.values.astype(str)}
    piece = {m: v[40:90] for m, v in mk.items()}
    for s in "LR":
        means = cluster_means([mk[f"{s}{m}"] for m in FOREFOOT])
        h, index = arch_height(piece, cal, s, means)
        np.testing.assert_allclose(index, post.arch.sel(arch_output=f"{s}ArchHeightIndex").values[40:90], atol=1e-12)
        # the piece's own means give another (slightly different) smoothing
        h2, _ = arch_height(piece, cal, s)
        assert np.abs(h2 - h).max() > 0


# --------------------------------------------------------------------------- in the trial outputs


def test_kinematics_command_writes_hftfl_fetba_and_the_arch_in_chunks_as_in_one(tmp_path, cache):
    """``chainlab kinematics`` (whole, and in chunks of 23 frames: HFTFL's and FETBA's
    continuity carried from chunk to chunk) writes ?HFTFL and ?FETBA in ``angles`` and the
    arch measures as ``arch`` (frame, arch_output) with their units: the values of
    :func:`ofm_posture`, within Nexus' on the arch (1e-3) and HFTFL (1 deg RMS)."""
    import xarray as xr

    from chainlab.cli import main

    subject = next(p for p in _subjects() if p.name == "HC033A")
    dyn, sta = _trial(subject, "Turn"), _trial(subject, "Static")
    n = read_c3d(dyn).sizes["frame"]
    assert n > 3 * 23
    for name, chunk in (("one.nc", n), ("many.nc", 23)):
        assert main(["kinematics", str(dyn), "--static", str(sta), "-o", str(tmp_path / name), "--chunk-frames", str(chunk)]) == 0
    with xr.open_dataset(tmp_path / "one.nc", engine="h5netcdf") as one, \
            xr.open_dataset(tmp_path / "many.nc", engine="h5netcdf") as many:
        np.testing.assert_allclose(many.angles.values, one.angles.values, rtol=0, atol=1e-9)
        np.testing.assert_allclose(many.arch.values, one.arch.values, rtol=0, atol=1e-12)
        assert dict(zip(one.arch_output.values.astype(str), one.arch_units.values.astype(str))) == {
            "LArchHeight": "mm", "LArchHeightIndex": "%", "RArchHeight": "mm", "RArchHeightIndex": "%"}
        ds, kin, post = _posture(cache, subject, "Turn")
        for o in ("LHFTFL", "RHFTFL", "LFETBA", "RFETBA"):
            np.testing.assert_allclose(one.angles.sel(output=o).values, post.angles.sel(output=o).values, atol=1e-9)
        for s in "LR":
            index = one.arch.sel(arch_output=f"{s}ArchHeightIndex").values
            np.testing.assert_allclose(index, post.arch.sel(arch_output=f"{s}ArchHeightIndex").values, atol=1e-12)
            nexus = ds.model_outputs.sel(output=f"{s}ArchHeightIndex").values[:, 2]
            assert np.sqrt(np.nanmean((index - nexus) ** 2)) < 1e-3
        assert one.attrs["arch_calibration_source"] in ("static PROCESSING", "mixed", "computed")


def test_a_static_without_the_arch_markers_leaves_the_arch_out_and_says_why(cache):
    """No D1M in the static trial: the angles are there, ``arch`` is not, and the output's
    attributes say why (the trial is not refused)."""
    import warnings

    subject = _subjects()[0]
    static = read_c3d(_trial(subject, "Static"))
    ds = read_c3d(_trial(subject, "Straight"))
    keep = [m for m in static.marker.values.astype(str) if m not in ("LD1M", "RD1M")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kin = compute_kinematics(ds, static.sel(marker=keep))
    assert "arch" not in kin and "LHFTFL" in kin.output.values
    assert kin.attrs["arch_calibration_source"].startswith("none:") and "LD1M" in kin.attrs["arch_calibration_source"]
