"""Cluster markers rebuilt from the others by a rigid fit of the static's shape (chainlab.model.clusters)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from chainlab.errors import ModelInputError
from chainlab.kinematics import KinematicsOptions, compute_kinematics
from chainlab.model.clusters import kabsch, rebuild_markers
from chainlab.model.geometry import rotation


def test_kabsch_recovers_a_rigid_motion():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(4, 3)) * 0.05
    r = rotation("z", np.array([0.3, -1.2])) @ rotation("x", np.array([0.5, 2.0]))
    t = np.array([[1.0, 2.0, 0.5], [-0.3, 0.1, 0.9]])
    target = np.einsum("nij,kj->nki", r, src) + t[:, None]
    r_fit, t_fit, rms = kabsch(src, target)
    assert np.allclose(r_fit, r, atol=1e-12) and np.allclose(t_fit, t, atol=1e-12)
    assert np.all(rms < 1e-12)
    mirrored = target * np.array([1.0, 1.0, -1.0])  # a reflection is no rotation: it does not fit
    assert np.allclose(np.linalg.det(kabsch(src, mirrored)[0]), 1.0)


def test_a_never_labelled_shin_marker_is_rebuilt(hc030a_pair):
    dyn, static, original = hc030a_pair
    cut = dyn.drop_sel(marker="LSHN")
    with pytest.raises(ModelInputError, match="LSHN"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compute_kinematics(cut, static, KinematicsOptions(partial=False))
    rebuilt, report = rebuild_markers(cut, static)
    assert set(report) == {"LSHN"}
    assert report["LSHN"].frames == dyn.sizes["frame"] and report["LSHN"].frames_left_missing == 0
    assert report["LSHN"].from_markers == ["LANK", "LHFB", "LTUB", "LTIB"]
    assert any("LSHN" in t for t in rebuilt.attrs["rebuilt_markers"])
    err = np.linalg.norm(rebuilt.markers.sel(marker="LSHN").values - dyn.markers.sel(marker="LSHN").values, axis=-1)
    assert np.median(err) < 0.004 and err.max() < 0.006  # measured: 2.1 mm median, 3.5 mm max
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = compute_kinematics(rebuilt, static)
    for name in ("LHFTBA", "LFFTBA", "LFFHFA", "LHXFFA"):  # the OFM tibia follows Plug-in Gait's
        d = again.angles.sel(output=name).values - original.angles.sel(output=name).values
        assert np.nanmax(np.abs(d)) < 0.01, name
    d = again.angles.sel(output="LTIBA").values - original.angles.sel(output="LTIBA").values
    assert np.sqrt(np.nanmean(d**2)) < 2.0  # measured: 1.5 deg RMS (TIBA's lab tibia uses SHN)
    right = ("RHFTBA", "RTIBA", "LKneeAngles")
    assert np.array_equal(again.angles.sel(output=list(right)).values, original.angles.sel(output=list(right)).values)


def test_gaps_are_left_to_the_ofm_unless_asked(hc030a_pair):
    dyn, static, _ = hc030a_pair
    holed = dyn.copy(deep=True)
    i = list(holed.marker.values).index("RTUB")
    truth = holed.markers.values[40:60, i].copy()
    holed.markers.values[40:60, i] = np.nan
    same, report = rebuild_markers(holed, static)
    assert report == {} and np.isnan(same.markers.values[40:60, i]).all()
    filled, report = rebuild_markers(holed, static, gaps=True, only=["RTUB"])
    assert report["RTUB"].frames == 20
    err = np.linalg.norm(filled.markers.values[40:60, i] - truth, axis=-1)
    assert err.max() < 0.015  # TUB moves against the shank: measured 4-10 mm
    assert np.array_equal(filled.markers.values[:40], holed.markers.values[:40])


def test_a_cluster_marker_on_another_segment_is_not_fitted(hc030a_pair):
    """A misplaced marker makes the rigid fit fail: those frames are left missing, not invented."""
    dyn, static, _ = hc030a_pair
    wrong = dyn.copy(deep=True)
    names = list(wrong.marker.values)
    wrong.markers.values[:, names.index("LTUB")] = wrong.markers.values[:, names.index("LTOE")]
    rebuilt, report = rebuild_markers(wrong.drop_sel(marker="LSHN"), static)
    assert "LSHN" not in report
    assert "LSHN" not in rebuilt.marker.values


def test_a_marker_the_static_lacks_is_named(hc030a_pair):
    dyn, static, _ = hc030a_pair
    with pytest.raises(ModelInputError, match="LSHN.*HC030A01.c3d lacks it"):
        rebuild_markers(dyn.drop_sel(marker="LSHN"), static.drop_sel(marker="LSHN"), only=["LSHN"])
    with pytest.raises(ModelInputError, match="LKJC belong"):
        rebuild_markers(dyn, static, only=["LKJC"])
