"""Geometry primitives: analytic cases and round trips."""

from __future__ import annotations

import numpy as np
import pytest

from chainlab.model.geometry import cardan, compose, frame, relative, rotation, to_lab, to_local, unit

SEQUENCES = ["xyz", "xzy", "yxz", "yzx", "zxy", "zyx"]


@pytest.mark.parametrize("seq", SEQUENCES)
def test_cardan_round_trip(seq):
    rng = np.random.default_rng(3)
    angles = rng.uniform(-1.4, 1.4, (500, 3))
    np.testing.assert_allclose(cardan(compose(seq, angles), seq), angles, atol=1e-12)


def test_cardan_yxz_analytic():
    # 30 deg about y only: alpha = 30 deg, the others 0
    r = rotation("y", np.deg2rad([30.0]))
    np.testing.assert_allclose(np.rad2deg(cardan(r, "yxz")), [[30.0, 0.0, 0.0]], atol=1e-12)


def test_frame_is_right_handed_and_keeps_the_primary_axis():
    rng = np.random.default_rng(4)
    p, s = rng.normal(size=(100, 3)), rng.normal(size=(100, 3))
    for axes in ("zx", "xz", "yz", "zy", "xy", "yx"):
        r = frame(p, s, axes)
        np.testing.assert_allclose(np.einsum("nji,njk->nik", r, r), np.broadcast_to(np.eye(3), (100, 3, 3)), atol=1e-12)
        np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-12)
        i = "xyz".index(axes[0])
        np.testing.assert_allclose(r[:, :, i], unit(p), atol=1e-12)


def test_relative_and_local_coordinates():
    rng = np.random.default_rng(5)
    ra = compose("zyx", rng.uniform(-1, 1, (10, 3)))
    rb = compose("zyx", rng.uniform(-1, 1, (10, 3)))
    np.testing.assert_allclose(ra @ relative(ra, rb), rb, atol=1e-12)
    origin, pts = rng.normal(size=(10, 3)), rng.normal(size=(10, 3))
    np.testing.assert_allclose(to_lab(ra, origin, to_local(ra, origin, pts)), pts, atol=1e-12)


def test_nan_propagates():
    p = np.array([[np.nan, 0, 1], [0, 0, 1]])
    r = frame(p, np.array([[1.0, 0, 0], [1.0, 0, 0]]))
    assert np.all(np.isnan(r[0])) and np.all(np.isfinite(r[1]))
    assert np.all(np.isnan(unit(np.zeros((1, 3)))))
