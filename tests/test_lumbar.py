"""The lumbar rule: analytic spines, marker choice, invariance to the lab frame."""

from __future__ import annotations

import numpy as np
import pytest

from chainlab.model.geometry import compose, frame
from chainlab.model.lumbar import choose_markers, lumbar_angles


def _spine(lordosis_deg: float, lean_deg: float = 0.0):
    """Markers T12, L3, S1 in a pelvis frame = lab frame, with a known angle at L3."""
    half = np.deg2rad(lordosis_deg) / 2
    lean = np.deg2rad(lean_deg)
    s1 = np.array([0.0, 0.0, 1.0])
    # lordosis: going up, the spine bends backwards at L3 (L3 anterior to the T12-S1 chord);
    # the lower line S1 -> L3 leans `lean` + half the curvature forward of vertical
    d_low = np.array([np.sin(lean + half), 0.0, np.cos(lean + half)]) * 0.1
    l3 = s1 + d_low
    d_up = np.array([np.sin(lean - half), 0.0, np.cos(lean - half)]) * 0.1
    t12 = l3 + d_up
    return {"T12": t12[None], "L3": l3[None], "S1": s1[None]}


@pytest.mark.parametrize("lordosis", [-10.0, 0.0, 15.0, 40.0])
def test_known_lordosis_and_lean(lordosis):
    m = _spine(lordosis, lean_deg=5.0)
    pelvis = np.eye(3)[None]
    out = lumbar_angles(m, pelvis, choose_markers(m))
    assert out["LumbarCurvature"][0, 0] == pytest.approx(lordosis, abs=1e-9)
    assert out["LumbarCurvature"][0, 1] == pytest.approx(0.0, abs=1e-9)
    # the lowest segment S1 -> L3 leans 5 deg forward plus half the curvature
    assert out["LumbarPelvisAngles"][0, 0] == pytest.approx(5.0 + lordosis / 2, abs=1e-9)
    # the apex lies anterior to the chord exactly when the curvature is positive
    chord_mid = (m["T12"] + m["S1"]) / 2
    assert np.sign(m["L3"][0, 0] - chord_mid[0, 0]) == np.sign(lordosis)


def test_invariant_to_rotating_and_translating_the_lab():
    m = _spine(25.0, 3.0)
    rot = compose("zyx", np.array([[0.7, 0.2, -0.1]]))[0]
    moved = {k: v @ rot.T + np.array([1.0, -2.0, 0.5]) for k, v in m.items()}
    a = lumbar_angles(m, np.eye(3)[None], choose_markers(m))
    b = lumbar_angles(moved, (rot @ np.eye(3))[None], choose_markers(moved))
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=1e-9)


def test_marker_choice():
    assert choose_markers({"T10", "T12", "SACR", "C7"}).__dict__ == {
        "top": "T10", "apex": "T12", "bottom": "SACR", "above_bottom": "T12"}
    assert choose_markers({"T12", "L1", "L3", "L5", "S1", "SACR"}).__dict__ == {
        "top": "T12", "apex": "L3", "bottom": "S1", "above_bottom": "L5"}
    with pytest.raises(ValueError, match="found \\['T12', 'SACR'\\]"):
        choose_markers({"T12", "SACR"})


def test_frame_helper_for_a_pelvis():
    # a pelvis facing -x (walking the other way) flips the lab sign but not the curvature
    m = _spine(20.0)
    flip = {k: v * np.array([-1.0, -1.0, 1.0]) for k, v in m.items()}
    pelvis = frame(np.array([[-1.0, 0, 0]]), np.array([[0, -1.0, 0]]), "xy")
    out = lumbar_angles(flip, pelvis, choose_markers(flip))
    assert out["LumbarCurvature"][0, 0] == pytest.approx(20.0, abs=1e-9)


def test_frontal_curvature_and_lean_signs():
    """An apex 2 cm to the left (+y) of the T12-S1 chord, and the lowest segment leaning left."""
    s1, l3, t12 = np.array([0, 0, 1.0]), np.array([0, 0.02, 1.1]), np.array([0, 0, 1.2])
    m = {"T12": t12[None], "L3": l3[None], "S1": s1[None]}
    out = lumbar_angles(m, np.eye(3)[None], choose_markers(m))
    expected = np.degrees(2 * np.arctan2(0.02, 0.1))
    assert out["LumbarCurvature"][0, 1] == pytest.approx(expected, abs=1e-9)
    assert out["LumbarCurvature"][0, 0] == pytest.approx(0.0, abs=1e-9)
    assert out["LumbarPelvisAngles"][0, 1] == pytest.approx(np.degrees(np.arctan2(0.02, 0.1)), abs=1e-9)
