"""Options of the computations, as plain dataclasses (below every layer that uses them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PlateEventOptions:
    """Plate events' thresholds and filter (:mod:`chainlab.gait.events`)."""

    strike_threshold: float = 20.0  # N
    off_threshold: float = 10.0  # N
    cutoff_hz: float = 25.0
    margin: float = 0.02  # m around the plate outline for "over the plate"
    standing_speed: float = 0.8  # m/s: a heel or toe slower than this over the plate stands on it
