"""Gait cycles: foot strike to the next foot strike of the same side, time-normalised.

A cycle needs a foot off of its side between its two strikes (the stance/swing split) and a
plausible duration; any other pair of strikes is dropped with its reason. Curves are
normalised to 101 points (0-100 % of the cycle) by linear interpolation at times spaced
evenly from the first strike to the second, so the end points fall on the events exactly
(methods reference section 5; spm1d's interpolation stretches the grid instead). A sample
that needs a missing frame is NaN, never invented.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from chainlab.gait.events import OFF, STRIKE

POINTS = 101
STRIDE_LIMITS = (0.4, 3.0)  # s


@dataclass
class CycleResult:
    cycles: pd.DataFrame  # one row per complete cycle
    dropped: list[str] = field(default_factory=list)


def find_cycles(events: pd.DataFrame, stride_limits: tuple[float, float] = STRIDE_LIMITS) -> CycleResult:
    """Complete cycles per side: strike, the side's foot off, next strike.

    Returns a table with ``side``, ``cycle`` (0, 1, ... per side), ``start``, ``foot_off``,
    ``end`` (s), ``stride_time`` (s) and ``stance`` (% of the cycle).
    """
    rows, dropped = [], []
    for side in ("Left", "Right"):
        ev = events[events.side == side].sort_values("time")
        strikes = ev[ev.label == STRIKE].time.to_numpy()
        offs = ev[ev.label == OFF].time.to_numpy()
        if strikes.size < 2:
            dropped.append(f"{side}: {strikes.size} foot strike(s); a cycle needs two")
            continue
        for a, b in zip(strikes[:-1], strikes[1:]):
            between = offs[(offs > a) & (offs < b)]
            where = f"{side} {a:.2f}-{b:.2f} s"
            if between.size != 1:
                dropped.append(f"{where}: {between.size} foot offs between the strikes; expected 1")
                continue
            if not stride_limits[0] <= b - a <= stride_limits[1]:
                dropped.append(f"{where}: stride time {b - a:.2f} s outside {stride_limits} s")
                continue
            rows.append({"side": side, "start": a, "foot_off": between[0], "end": b})
    df = pd.DataFrame(rows, columns=["side", "start", "foot_off", "end"])
    df["cycle"] = df.groupby("side").cumcount() if len(df) else pd.Series(dtype=int)
    df["stride_time"] = df.end - df.start
    df["stance"] = 100.0 * (df.foot_off - df.start) / df.stride_time
    return CycleResult(df[["side", "cycle", "start", "foot_off", "end", "stride_time", "stance"]], dropped)


def normalise(time: np.ndarray, values: np.ndarray, start: float, end: float, points: int = POINTS) -> np.ndarray:
    """Values (n, ...) sampled at `time` (n,), at `points` times evenly from start to end.

    Linear interpolation between the two frames around each time; NaN where either is NaN
    or the time lies outside the samples.
    """
    t = np.linspace(start, end, points)
    n = len(time)
    out = np.full((points,) + values.shape[1:], np.nan)
    if n == 0:
        return out
    ok = (t >= time[0]) & (t <= time[-1])
    # the frame at or before each time and the next one; the weight from their times only, so a
    # window of frames around the cycle gives exactly what the whole trial gives
    lo = np.clip(np.searchsorted(time, t[ok], side="right") - 1, 0, n - 1)
    hi = np.minimum(lo + 1, n - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(hi > lo, (t[ok] - time[lo]) / (time[hi] - time[lo]), 0.0)
    w = w.reshape((-1,) + (1,) * (values.ndim - 1))
    out[ok] = values[lo] * (1.0 - w) + values[hi] * w
    return out
