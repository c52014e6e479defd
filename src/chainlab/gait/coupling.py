"""Coupling of two joint angles within a stride (methods reference section 3).

Conventions: ``proximal`` is the proximal angle (tibial internal rotation, internal positive)
and ``distal`` the distal one (rearfoot eversion, eversion positive), so that both rise
together when the foot pronates; all angles in degrees.

* Vector coding (Chang 2008; Needham 2014): the coupling angle between successive points is
  γ = atan2(Δdistal, Δproximal) in [0, 360). Chang's bins: proximal phase (0-22.5,
  157.5-202.5, 337.5-360), in-phase (22.5-67.5, 202.5-247.5), distal phase (67.5-112.5,
  247.5-292.5), anti-phase (112.5-157.5, 292.5-337.5). Averages are circular: mean of
  cos γ and sin γ, γ̄ = atan2, resultant length r̄ (1: no variability).
* Continuous relative phase (Hamill 2000): each angle scaled to [-1, 1] over the cycle, its
  velocity divided by its largest magnitude; phase φ = atan2(ω̂, θ̂); CRP = φ_proximal -
  φ_distal wrapped to [-180, 180); MARP = mean |CRP|.
* Excursions from initial contact (first sample) to the distal angle's peak: the EV/TIR
  ratio is distal excursion / proximal excursion; the transfer coefficient is the
  least-squares slope of proximal on distal over the same samples (Fischer 2018).
"""

from __future__ import annotations

import numpy as np

BINS = {
    "proximal": ((0.0, 22.5), (157.5, 202.5), (337.5, 360.0)),
    "in_phase": ((22.5, 67.5), (202.5, 247.5)),
    "distal": ((67.5, 112.5), (247.5, 292.5)),
    "anti_phase": ((112.5, 157.5), (292.5, 337.5)),
}


def coupling_angles(proximal: np.ndarray, distal: np.ndarray) -> np.ndarray:
    """Vector-coding coupling angles (deg, [0, 360)) between successive samples, (n - 1,)."""
    gamma = np.degrees(np.arctan2(np.diff(distal), np.diff(proximal)))
    return np.mod(gamma, 360.0)


def circular_mean(angles_deg: np.ndarray, axis: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Circular mean (deg, [0, 360)) and resultant length r̄ in [0, 1], ignoring NaN."""
    rad = np.radians(angles_deg)
    c, s = np.nanmean(np.cos(rad), axis=axis), np.nanmean(np.sin(rad), axis=axis)
    return np.mod(np.degrees(np.arctan2(s, c)), 360.0), np.hypot(c, s)


def bin_fractions(angles_deg: np.ndarray) -> dict[str, float]:
    """Percentage of finite coupling angles in each of Chang's four bins."""
    g = angles_deg[np.isfinite(angles_deg)]
    if g.size == 0:
        return {k: float("nan") for k in BINS}
    return {k: 100.0 * float(sum(((g >= lo) & (g < hi)).sum() for lo, hi in spans)) / g.size
            for k, spans in BINS.items()}


def _phase(angle: np.ndarray) -> np.ndarray:
    lo, hi = np.nanmin(angle), np.nanmax(angle)
    theta = 2.0 * (angle - lo) / (hi - lo) - 1.0 if hi > lo else np.zeros_like(angle)
    omega = np.gradient(angle)
    peak = np.nanmax(np.abs(omega))
    omega = omega / peak if peak > 0 else omega
    return np.degrees(np.arctan2(omega, theta))


def continuous_relative_phase(proximal: np.ndarray, distal: np.ndarray) -> np.ndarray:
    """CRP (deg, [-180, 180)) at every sample of a cycle."""
    return np.mod(_phase(proximal) - _phase(distal) + 180.0, 360.0) - 180.0


def excursions(proximal: np.ndarray, distal: np.ndarray) -> dict[str, float]:
    """From the first sample to the distal peak: excursions, their ratio, the transfer slope."""
    if not np.isfinite(distal).any():
        return {k: float("nan") for k in ("peak_index", "distal_excursion", "proximal_excursion",
                                          "ratio", "transfer_coefficient")}
    k = int(np.nanargmax(distal))
    d_exc = distal[k] - distal[0]
    p_exc = proximal[k] - proximal[0]
    x, y = distal[: k + 1], proximal[: k + 1]
    ok = np.isfinite(x) & np.isfinite(y)
    slope = float(np.polyfit(x[ok], y[ok], 1)[0]) if ok.sum() >= 3 and np.ptp(x[ok]) > 0 else float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(d_exc / p_exc) if p_exc != 0 else float("nan")
    return {"peak_index": k, "distal_excursion": float(d_exc), "proximal_excursion": float(p_exc),
            "ratio": ratio, "transfer_coefficient": slope}
