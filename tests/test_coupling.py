"""Coupling measures on analytic cases."""

from __future__ import annotations

import numpy as np
import pytest

from chainlab.gait.coupling import (
    bin_fractions,
    circular_mean,
    continuous_relative_phase,
    coupling_angles,
    excursions,
)

T = np.linspace(0.0, 2.0 * np.pi, 201)


def test_in_phase_and_anti_phase():
    x = np.linspace(0.0, 10.0, 50)
    g = coupling_angles(x, x)
    np.testing.assert_allclose(g, 45.0)
    assert bin_fractions(g)["in_phase"] == 100.0
    g = coupling_angles(x, -x)
    np.testing.assert_allclose(g, 315.0)
    assert bin_fractions(g)["anti_phase"] == 100.0
    assert bin_fractions(coupling_angles(x, 0 * x))["proximal"] == 100.0
    assert bin_fractions(coupling_angles(0 * x, x))["distal"] == 100.0


def test_circular_mean_wraps_around_zero():
    mean, r = circular_mean(np.array([350.0, 10.0]))
    assert mean == pytest.approx(0.0, abs=1e-9) or mean == pytest.approx(360.0, abs=1e-9)
    assert r == pytest.approx(np.cos(np.radians(10.0)))
    mean, r = circular_mean(np.array([90.0, 270.0]))
    assert r == pytest.approx(0.0, abs=1e-12)


def test_coupling_angle_wrap_around():
    """A loop in the angle-angle plane goes once round the circle: uniform bins, r near 0."""
    g = coupling_angles(np.cos(T), np.sin(T))
    _, r = circular_mean(g)
    assert r < 0.02
    fractions = bin_fractions(g)
    assert fractions["in_phase"] == pytest.approx(25.0, abs=1.5)
    assert fractions["anti_phase"] == pytest.approx(25.0, abs=1.5)


@pytest.mark.parametrize("lag_deg", [0.0, 30.0, 90.0, 150.0])
def test_crp_of_a_known_phase_lag(lag_deg):
    lag = np.radians(lag_deg)
    crp = continuous_relative_phase(np.sin(T), np.sin(T - lag))
    marp = np.mean(np.abs(crp[5:-5]))
    assert marp == pytest.approx(lag_deg, abs=1.5)


def test_ratio_and_transfer_coefficient_of_ramps():
    ev = np.concatenate([np.linspace(0.0, 10.0, 30), np.linspace(10.0, 2.0, 20)])
    tir = 0.5 * ev + 3.0
    out = excursions(tir, ev)
    assert out["peak_index"] == 29
    assert out["distal_excursion"] == pytest.approx(10.0)
    assert out["proximal_excursion"] == pytest.approx(5.0)
    assert out["ratio"] == pytest.approx(2.0)
    assert out["transfer_coefficient"] == pytest.approx(0.5)
