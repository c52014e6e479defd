"""Per-cycle kinetic measures and curves, from a trial's Plug-in Gait kinetics.

The kinetics (:mod:`chainlab.kinetics`) give, per side, the internal joint moments (N m/kg,
Nexus' components: x sagittal, + extensor at hip and knee, + plantarflexor at the ankle; y
frontal, + abductor, the knee's being the external adduction moment of the literature) and
the joint powers (W/kg, + generation). Per complete gait cycle of a side (``docs/gait.md``),
over its stance (Foot Strike to Foot Off, the frames within it):

======================================  ========================================================
column                                  definition
======================================  ========================================================
``peak_knee_adduction_moment_1_Nm_kg``  max knee moment y, first half of stance
``peak_knee_adduction_moment_2_Nm_kg``  max knee moment y, second half of stance
``peak_knee_extensor_moment_Nm_kg``     max knee moment x in stance
``peak_hip_extensor_moment_Nm_kg``      max hip moment x in stance
``peak_hip_flexor_moment_Nm_kg``        -min hip moment x in stance (a flexor moment, positive)
``peak_ankle_plantarflexor_moment_Nm_kg`` max ankle moment x in stance
``peak_ankle_power_A2_W_kg``            max ankle power, second half of stance (push-off)
``hip_power_H1_W_kg``                   max hip power, first half of stance (extensors, generation)
``hip_power_H2_W_kg``                   min hip power, second half of stance (flexors, absorption; negative)
``hip_power_H3_W_kg``                   max hip power from mid-stance to mid-swing (flexors, pull-off)
``hip_work_stance_J_kg`` (knee, ankle)  net work over stance, the integral of the power (trapezoid)
``kinetics_reason``                     why the cycle has no kinetic measures ('' when it has)
======================================  ========================================================

A cycle whose stance has a frame without kinetics (the stance not on one force plate alone,
Nexus' rule; or the trial has no kinetics at all) gets NaN for every measure and the reason
in ``kinetics_reason``; H3 also needs the swing's first half.

Curves (:func:`kinetic_curves`): ``moment_curves`` (cycle, moment_joint, axis, percent) in
N m/kg and ``power_curves`` (cycle, power_joint, percent) in W/kg, 0-100 % of the cycle on
the cycle's side, NaN where the kinetics have none.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from chainlab.conventions import KINETIC_UNITS
from chainlab.gait.cycles import POINTS, normalise
from chainlab.schema import KINETIC_METRIC_COLUMNS

JOINTS = ("Hip", "Knee", "Ankle")
NUMERIC = [c for c in KINETIC_METRIC_COLUMNS if c != "kinetics_reason"]


def _trapezoid(y: np.ndarray, t: np.ndarray) -> float:
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(t))) if y.size > 1 else float("nan")


def cycle_kinetic_measures(time: np.ndarray, moments: dict[str, np.ndarray], powers: dict[str, np.ndarray],
                           start: float, foot_off: float, end: float) -> dict[str, float]:
    """The measures of one cycle from one side's series: `moments[joint]` (n, 3) N m/kg,
    `powers[joint]` (n,) W/kg at `time` (n,) s; NaN where a frame they need has none."""
    out = dict.fromkeys(NUMERIC, float("nan"))
    st = (time >= start) & (time <= foot_off)
    if st.sum() < 2:
        return out
    mid = 0.5 * (start + foot_off)
    first, second = st & (time <= mid), st & (time >= mid)
    swing_mid = foot_off + 0.5 * (end - foot_off)
    late = (time >= mid) & (time <= swing_mid)
    ts = time[st]
    need = [moments[j][st] for j in JOINTS] + [powers[j][st] for j in JOINTS]
    if not all(np.isfinite(x).all() for x in need):
        return out
    knee_y, knee_x = moments["Knee"][:, 1], moments["Knee"][:, 0]
    hip_x, ankle_x = moments["Hip"][:, 0], moments["Ankle"][:, 0]
    out["peak_knee_adduction_moment_1_Nm_kg"] = float(np.max(knee_y[first]))
    out["peak_knee_adduction_moment_2_Nm_kg"] = float(np.max(knee_y[second]))
    out["peak_knee_extensor_moment_Nm_kg"] = float(np.max(knee_x[st]))
    out["peak_hip_extensor_moment_Nm_kg"] = float(np.max(hip_x[st]))
    out["peak_hip_flexor_moment_Nm_kg"] = float(-np.min(hip_x[st]))
    out["peak_ankle_plantarflexor_moment_Nm_kg"] = float(np.max(ankle_x[st]))
    out["peak_ankle_power_A2_W_kg"] = float(np.max(powers["Ankle"][second]))
    out["hip_power_H1_W_kg"] = float(np.max(powers["Hip"][first]))
    out["hip_power_H2_W_kg"] = float(np.min(powers["Hip"][second]))
    h3 = powers["Hip"][late]
    out["hip_power_H3_W_kg"] = float(np.max(h3)) if h3.size and np.isfinite(h3).all() else float("nan")
    for j in JOINTS:
        out[f"{j.lower()}_work_stance_J_kg"] = _trapezoid(powers[j][st], ts)
    return out


def _side_series(kin: xr.Dataset, side: str) -> tuple[dict, dict]:
    s = side[0]
    moments = {j: kin.moments.sel(moment_output=f"{s}{j}Moment").values for j in JOINTS}
    powers = {j: kin.powers.sel(power_output=f"{s}{j}Power").values for j in JOINTS}
    return moments, powers


def kinetic_metrics(kin: xr.Dataset | None, cycles: pd.DataFrame, absent: str = "",
                    refused: str = "") -> pd.DataFrame:
    """One row per row of `cycles` (:data:`~chainlab.schema.KINETIC_METRIC_COLUMNS`) from the
    kinetics `kin` (frames covering the cycles; None: the trial has none, `absent` says why).
    `refused` names the trial's refused plate contacts, quoted in the reason of a cycle whose
    stance has no kinetics."""
    rows = []
    series = {}
    for row in cycles.itertuples():
        if kin is None:
            rows.append({**dict.fromkeys(NUMERIC, np.nan), "kinetics_reason": f"no kinetics: {absent}"})
            continue
        if row.side not in series:
            series[row.side] = _side_series(kin, row.side)
        m = cycle_kinetic_measures(kin.time.values, *series[row.side], row.start, row.foot_off, row.end)
        why = ""
        if np.isnan(m["peak_knee_extensor_moment_Nm_kg"]):
            why = "stance not on one force plate alone (no kinetics in stance)"
            if refused:
                why += f"; refused contacts: {refused}"
        rows.append({**m, "kinetics_reason": why})
    return pd.DataFrame(rows, columns=KINETIC_METRIC_COLUMNS).astype({c: float for c in NUMERIC})


def kinetic_curves(kin: xr.Dataset | None, cycles: pd.DataFrame, points: int = POINTS) -> xr.Dataset:
    """``moment_curves`` (cycle, moment_joint, axis, percent) N m/kg and ``power_curves``
    (cycle, power_joint, percent) W/kg of each cycle's side (NaN without kinetics)."""
    n = len(cycles)
    mc = np.full((n, len(JOINTS), 3, points), np.nan)
    pc = np.full((n, len(JOINTS), points), np.nan)
    if kin is not None and n:
        t = kin.time.values
        series = {}
        for i, row in enumerate(cycles.itertuples()):
            if row.side not in series:
                series[row.side] = _side_series(kin, row.side)
            moments, powers = series[row.side]
            for k, j in enumerate(JOINTS):
                mc[i, k] = normalise(t, moments[j], row.start, row.end, points).T
                pc[i, k] = normalise(t, powers[j], row.start, row.end, points)
    return xr.Dataset(
        {"moment_curves": (("cycle", "moment_joint", "axis", "percent"), mc,
                           {"units": KINETIC_UNITS["moments"],
                            "long_name": "time-normalised internal joint moments of the cycle's side, Nexus components"}),
         "power_curves": (("cycle", "power_joint", "percent"), pc,
                          {"units": KINETIC_UNITS["powers"], "long_name": "time-normalised joint powers of the cycle's side"})},
        coords={"moment_joint": [f"{j}Moment" for j in JOINTS], "power_joint": [f"{j}Power" for j in JOINTS],
                "axis": ["x", "y", "z"]})


def kinetic_measures(kin: xr.Dataset | None, cycles: pd.DataFrame, absent: str = "",
                     refused: str = "") -> tuple[xr.Dataset, pd.DataFrame]:
    """(:func:`kinetic_curves`, :func:`kinetic_metrics`) of a trial's cycles."""
    return kinetic_curves(kin, cycles), kinetic_metrics(kin, cycles, absent, refused)


__all__ = ["JOINTS", "cycle_kinetic_measures", "kinetic_curves", "kinetic_measures", "kinetic_metrics"]
