"""OFM posture (HFTFL, FETBA, arch height and its index) against the values Nexus stores."""

from __future__ import annotations

import numpy as np
import pytest

from chainlab import read_c3d
from chainlab.agreement import equivalent_difference, nexus_heel_runs
from chainlab.kinematics import compute_kinematics
from chainlab.model import ofm
from chainlab.model.geometry import compose, frame, to_lab, unit
from chainlab.model.ofm import cluster_means, heel_after_runs, heel_rms_mm
from chainlab.model.ofm_posture import (
    FOREFOOT,
    STATIC_FETBA,
    WALKING_FETBA,
    arch_calibration,
    arch_height,
    femur_tibia,
    hindfoot_to_floor,
    ofm_posture,
    static_segments,
)

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


def _orientation_error(ours, nexus, to_matrix, side):
    """Per frame, the angle (deg) of the rotation between the orientations two angle triplets
    stand for: free of the Cardan sequence's amplification where its middle angle nears 90."""
    m = np.swapaxes(to_matrix(ours, side), -1, -2) @ to_matrix(nexus, side)
    return np.degrees(np.arccos(np.clip((np.trace(m, axis1=-2, axis2=-1) - 1.0) / 2.0, -1.0, 1.0)))


def _hftfl_matrix(out, side):
    lsign = 1.0 if side == "L" else -1.0
    abc = np.stack([out[:, 0] - 90.0, -lsign * out[:, 1], 90.0 - lsign * out[:, 2]], axis=1)
    return compose("xyz", np.radians(abc))


def _hftba_matrix(out, side):
    lsign = 1.0 if side == "L" else -1.0
    abc = np.stack([90.0 - out[:, 0], lsign * out[:, 1], -lsign * out[:, 2]], axis=1)
    return compose("yxz", np.radians(abc))


def _switch_frames(kin, name):
    import json

    frames = json.loads(kin.attrs["ofm_tiba_switch_frames"]).get(name, [])
    return np.isin(kin.frame.values, frames)


def _rotation_from(local, lab):
    """Per frame the rotation R (n, 3, 3) taking the vectors `local` (k, 3) to `lab` (n, k, 3)
    (least squares, Kabsch)."""
    h = np.einsum("ki,nkj->nij", local, lab)
    u, _, vt = np.linalg.svd(h)
    r = np.swapaxes(vt, 1, 2) @ np.swapaxes(u, 1, 2)
    flip = np.linalg.det(r) < 0
    vt[flip, 2] *= -1
    return np.swapaxes(vt, 1, 2) @ np.swapaxes(u, 1, 2)


def _nexus_hindfoot(ds, side):
    """Nexus' own hindfoot axes from the points it draws: ?HDF0 the origin, ?HDF2 and ?HDF3
    50 mm along y and z (x = y x z)."""
    o = ds.markers.sel(marker=f"{side}HDF0").values
    y, z = (unit(ds.markers.sel(marker=f"{side}HDF{k}").values - o) for k in "23")
    return np.stack([np.cross(y, z), y, z], axis=-1)


@pytest.mark.parametrize("condition", ["Straight", "Turn"])
@pytest.mark.parametrize("subject", _subjects(), ids=lambda p: p.name)
def test_hindfoot_to_floor_rule_on_nexus_hindfoot_equals_nexus(cache, subject, condition):
    """The floor rule (the lab turned 180 deg about the vertical where the pelvis faces the
    negative travel axis, frame by frame) applied to Nexus' own hindfoot gives Nexus' HFTFL
    to 0.01 deg on every frame of straight and turning walks but the facing switches: the
    reference is neither a per-trial axis nor the foot's or pelvis' heading (measured worst
    0.003 deg)."""
    ds, kin, post = _posture(cache, subject, condition)
    mk = {m: kin.markers.sel(marker=m).values for m in ("LASI", "RASI", "SACR")}
    facing = ofm.facing_sign(mk)
    for s in "LR":
        keep = ~_switch_frames(kin, f"{s}HFTFL")
        nexus = ds.model_outputs.sel(output=f"{s}HFTFL").values
        ours = hindfoot_to_floor(_nexus_hindfoot(ds, s), facing, s)
        err = _orientation_error(ours, nexus, _hftfl_matrix, s)[keep]
        assert np.nanmax(err) < 0.01, f"{s}HFTFL from Nexus' hindfoot: {np.nanmax(err)} deg"
        assert np.nanmax(np.abs(equivalent_difference(ours, nexus)[keep & (np.abs(nexus[:, 1]) < 80)])) < 0.05


@pytest.mark.parametrize("condition", ["Static", "Straight", "Turn"])
@pytest.mark.parametrize("subject", _subjects(), ids=lambda p: p.name)
def test_hindfoot_to_floor_against_nexus(cache, subject, condition):
    """chainlab's HFTFL against Nexus' (facing-switch frames left out, as the kinematics
    output lists them). Its orientation differs from Nexus' exactly as HFTBA's does (within
    0.2 deg per frame): the whole difference is the hindfoot segment, not the floor. Worst
    orientation RMS: static 0.21, Straight 0.81, Turn 1.49 deg (HC032A18 right; HC036A23
    1.19 / 1.37), where Nexus' model ran on the file more than once, smoothing the heel
    each time (two runs, the first over other frames; five runs: the next test). Per component (modulo the two Cardan solutions): Static
    and Straight within 1 deg (worst 0.63); in turns, on frames with |y| < 60 deg, within
    1.35 (worst 1.29) -- beyond, the XYZ sequence nears its singularity and amplifies the
    hindfoot's difference (x and z up to 3.2 deg RMS over all frames)."""
    ds, kin, post = _posture(cache, subject, condition)
    for s in "LR":
        keep = ~_switch_frames(kin, f"{s}HFTFL")
        assert condition == "Turn" or keep.all()
        ours = post.angles.sel(output=f"{s}HFTFL").values
        nexus = ds.model_outputs.sel(output=f"{s}HFTFL").values
        err = _orientation_error(ours, nexus, _hftfl_matrix, s)
        rms = np.sqrt(np.nanmean(err[keep] ** 2))
        assert rms < {"Static": 0.25, "Straight": 1.0, "Turn": 1.55}[condition], f"{s}HFTFL orientation RMS {rms}"
        d = equivalent_difference(ours, nexus)
        low = keep & (np.abs(nexus[:, 1]) < 60.0)
        comp = np.sqrt(np.nanmean(d[low] ** 2, axis=0))
        assert np.all(comp < (1.35 if condition == "Turn" else 1.0)), f"{s}HFTFL RMS {comp}"
        if condition != "Static":
            hftba = _orientation_error(kin.angles.sel(output=f"{s}HFTBA").values,
                                       ds.model_outputs.sel(output=f"{s}HFTBA").values, _hftba_matrix, s)
            assert np.nanmax(np.abs(err - hftba)[keep]) < 0.2


HEEL = ofm.CLUSTERS[1]  # HEE LCA STL CPG
#: Runs of Nexus' OFM on each walk's heel cluster, read from its ?HE1 (chainlab.agreement.nexus_heel_runs).
NEXUS_HEEL_RUNS = {"HC036A10": 1, "HC030A05": 3, "HC036A23": 5}  # every other walk: 2


def _hindfoot_axes(heel, kin, side):
    """The OFM hindfoot (n, 3, 3) from a smoothed heel cluster, as chainlab.model.ofm builds it,
    with the calibration the kinematics used (``ofm_%...`` attributes, mm)."""
    hee, lca, stl, _ = heel
    r = ofm._lcs(hee - 0.5 * (stl + lca), stl - lca, "xyz")
    pca, plantar = (to_lab(r, hee, np.array([kin.attrs[f"ofm_%{side}{n}{a}"] for a in "XYZ"]) * 1e-3)
                    for n in ("PCA", "HFplantar"))
    return ofm._lcs(plantar - hee, pca - hee, "zyx")


def _first_run_mean(cluster, runs, he1):
    """The first run's trial mean of HEE in its cluster frame for which the last run's heel
    comes nearest Nexus' ?HE1 (least squares; the heel is affine in it)."""
    m0 = cluster_means(cluster)[0]
    h0 = heel_after_runs(cluster, runs, m0)[0]
    jac = np.stack([(heel_after_runs(cluster, runs, m0 + 1e-3 * e)[0] - h0) / 1e-3 for e in np.eye(3)], axis=-1)
    ok = np.isfinite(h0).all(-1) & np.isfinite(he1).all(-1) & np.isfinite(jac).all((-1, -2))
    step = np.linalg.lstsq(jac[ok].reshape(-1, 3), (he1 - h0)[ok].reshape(-1), rcond=None)[0]
    return m0 + step


@pytest.mark.parametrize("condition", ["Straight", "Turn"])
@pytest.mark.parametrize("subject", _subjects(), ids=lambda p: p.name)
def test_nexus_hindfoot_is_its_heel_cluster_smoothed_once_per_run(cache, subject, condition):
    """What is left between chainlab's HFTFL (and HFTBA, FFHFA) and Nexus' in the walks:
    Nexus' hindfoot is the OFM's (chainlab's, REPLACE4 of the heel cluster) as it comes out
    of k runs of the model on the trial, each run taking the heel the previous run wrote
    (?HE1) as HEE: ?HE1 = copy + (HEE - copy) / 2^k, the copy rebuilt from the stored LCA STL
    CPG. k is read from ?HE1 (the run count, 1-6, nearest it): 1 in HC036A10
    (chainlab's single run, exact), 3 in HC030A05, 5 in HC036A23, 2 in the other nine walks.
    In the Turn walks the first run's heel-cluster mean is not these frames' (in HC032A18
    right 2.6 mm from it, from no run of frames in the file; elsewhere < 0.15 mm): it is
    solved from ?HE1 (3 numbers). Then Nexus' hindfoot axes (?HDF0-3, which ?HE1 does not
    give) are reproduced within 0.05 deg RMS and its HFTFL (facing-switch frames left out)
    within 0.05 deg RMS on 23 of 24 sides (worst measured 0.03); HC030A05 right is not
    reproduced by any run count (0.2 deg; HFTFL 0.81 with one run)."""
    ds, kin, _ = _posture(cache, subject, condition)
    trial = _trial(subject, condition).stem
    facing = ofm.facing_sign({m: kin.markers.sel(marker=m).values for m in ("LASI", "RASI", "SACR")})
    for s in "LR":
        cluster = [ds.markers.sel(marker=f"{s}{m}").values for m in HEEL]
        he1 = ds.markers.sel(marker=f"{s}HE1").values
        runs, rms = nexus_heel_runs(ds, s)
        first = cluster_means(cluster)[0]
        if rms > 0.01:
            first = _first_run_mean(cluster, runs, he1)
        heel = heel_after_runs(cluster, runs, first)
        offset = 1e3 * np.linalg.norm(first - cluster_means(cluster)[0])
        exception = (trial, s) == ("HC030A05", "R")
        if not exception:
            assert runs == NEXUS_HEEL_RUNS.get(trial, 2), f"{trial} {s}: {runs} runs"
            assert heel_rms_mm(heel[0], he1) < 0.01, f"{trial} {s}: ?HE1 {heel_rms_mm(heel[0], he1)} mm"
            assert offset < (3.0 if (trial, s) == ("HC032A18", "R") else 0.15), f"{trial} {s}: {offset} mm"
        hindfoot = _hindfoot_axes(heel, kin, s)
        err = _orientation_error(hindfoot_to_floor(hindfoot, facing, s),
                                 ds.model_outputs.sel(output=f"{s}HFTFL").values, _hftfl_matrix, s)
        keep = ~_switch_frames(kin, f"{s}HFTFL")
        hftfl = np.sqrt(np.nanmean(err[keep] ** 2))
        m = np.swapaxes(hindfoot, -1, -2) @ _nexus_hindfoot(ds, s)
        angle = np.degrees(np.arccos(np.clip((np.trace(m, axis1=-2, axis2=-1) - 1.0) / 2.0, -1.0, 1.0)))
        axes = np.sqrt(np.nanmean(angle**2))
        bar = 0.25 if exception else 0.05
        assert axes < bar and hftfl < bar, f"{trial} {s}: hindfoot {axes} deg, HFTFL {hftfl} deg"
        # chainlab's hindfoot is the single run's
        one = _hindfoot_axes(heel_after_runs(cluster, 1), kin, s)
        ours = kin.segment_axes.sel(segment=("Left" if s == "L" else "Right") + "Hindfoot").values
        np.testing.assert_allclose(one, ours, atol=1e-6)


@pytest.mark.parametrize("condition", ["Straight", "Turn"])
@pytest.mark.parametrize("subject", _subjects(), ids=lambda p: p.name)
def test_femur_tibia_against_nexus(cache, subject, condition):
    """FETBA within 0.4 deg RMS of Nexus in walking trials (worst measured 0.323: HC032A
    Straight, right, y)."""
    ds, kin, post = _posture(cache, subject, condition)
    assert post.attrs["fetba_definition"] == WALKING_FETBA
    for s in "LR":
        rms = _wrapped_rms(post.angles.sel(output=f"{s}FETBA").values, ds.model_outputs.sel(output=f"{s}FETBA").values)
        assert np.all(rms < 0.4), f"{s}FETBA RMS {rms}"


@pytest.mark.parametrize("subject", _subjects(), ids=lambda p: p.name)
def test_static_femur_tibia_against_nexus(cache, subject):
    """The static trial's FETBA (knee axis through Nexus' ?KAX): within 0.8 deg RMS of
    Nexus' (worst measured 0.76, HC036A left, y) on 11 of 12 sides; HC036A's right side,
    whose static outputs came from other data (Nexus' static tibia ?TIB1-3 is 68 deg from
    any tibia of this file's markers), is not reproduced. The femur alone, with Nexus' own
    static tibia, gives Nexus' FETBA within 0.2 deg on all 12 sides (worst 0.17)."""
    ds, kin, post = _posture(cache, subject, "Static")
    assert post.attrs["fetba_definition"] == STATIC_FETBA
    assert "static trial" in kin.attrs["fetba_definition"]
    for s in "LR":
        nexus = ds.model_outputs.sel(output=f"{s}FETBA").values
        rms = np.sqrt(np.nanmean(equivalent_difference(post.angles.sel(output=f"{s}FETBA").values, nexus) ** 2, axis=0))
        if (subject.name, s) != ("HC036A", "R"):
            assert np.all(rms < 0.8), f"{s}FETBA RMS {rms}"
        # the femur, with the tibia Nexus drew (?TIB1-3: origin + 50 mm x, + 50 mm y, + 400 mm z)
        p1, p2, p3 = (ds.markers.sel(marker=f"{s}TIB{k}").values for k in "123")
        tibia = _rotation_from(np.array([[50.0, -50.0, 0.0], [50.0, 0.0, -400.0], [0.0, 50.0, -400.0]]),
                               np.stack([p1 - p2, p1 - p3, p2 - p3], axis=1))
        femur = static_segments(ds, kin)[0][s][0]
        rms = np.sqrt(np.nanmean(equivalent_difference(femur_tibia(femur, tibia, s), nexus) ** 2, axis=0))
        assert np.all(rms < 0.2), f"{s}FETBA with Nexus' static tibia RMS {rms}"


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


def test_a_static_without_the_knee_axis_point_says_its_fetba_is_not_reproduced(cache):
    """No ?KAX in the static trial: its FETBA is the walking definition and the output says
    so by name instead of passing it for Nexus' static FETBA."""
    import warnings

    subject = _subjects()[0]
    static = read_c3d(_trial(subject, "Static"))
    lean = static.sel(marker=[m for m in static.marker.values.astype(str) if m not in ("LKAX", "RKAX")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kin = compute_kinematics(lean, lean)
    post = ofm_posture(kin, lean)
    note = post.attrs["fetba_definition"]
    assert note.startswith("not reproduced") and "LKAX" in note and "RKAX" in note
    walking = compute_kinematics(lean, lean).angles.sel(output="LFETBA").values
    np.testing.assert_allclose(post.angles.sel(output="LFETBA").values, walking, atol=1e-9)
