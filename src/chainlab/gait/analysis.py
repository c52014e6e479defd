"""One trial from angles to per-cycle measures: events, cycles, curves, metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import xarray as xr

from chainlab.gait.cycles import find_cycles
from chainlab.gait.events import PlateEventOptions, gait_events
from chainlab.gait.metrics import cycle_curves, cycle_metrics


@dataclass
class GaitResult:
    events: pd.DataFrame
    cycles: pd.DataFrame
    curves: xr.DataArray
    metrics: pd.DataFrame
    problems: list[str] = field(default_factory=list)  # what was left out, and why


def analyse_trial(trial: xr.Dataset, kinematics: xr.Dataset,
                  plate_options: PlateEventOptions | None = None, chain_frame: str = "heading") -> GaitResult:
    """Events of `trial` (read_c3d), cycles, and the measures of `kinematics` in each cycle
    (the chain's pelvic tilt and tibial rotation in `chain_frame`: chainlab.gait.heading).

    Never raises for a trial without usable events: it returns no cycles and says why.
    """
    ev = gait_events(trial, plate_options=plate_options)
    cyc = find_cycles(ev.events)
    curves = cycle_curves(kinematics, cyc.cycles, chain_frame)
    metrics = cycle_metrics(kinematics, cyc.cycles, curves)
    return GaitResult(ev.events, cyc.cycles, curves, metrics,
                      gait_problems(trial.attrs.get("source_file", ""), ev, cyc, metrics))


#: The model each chain variable (chainlab.gait.metrics.SOURCES) comes from.
VARIABLE_MODELS = {"rearfoot_eversion": "ofm", "tibial_rotation_lab": "ofm", "tibial_rotation_femur": "pig",
                   "pelvic_tilt": "pig", "lordosis": "lumbar"}


def gait_problems(name: str, ev, cyc, metrics: pd.DataFrame, not_run: dict[str, str] | None = None) -> list[str]:
    """What the gait analysis of the capture `name` left out, and why: rejected plate
    contacts, no events at all, dropped cycles, cycles with gaps (events, cycles: the results
    of :func:`gait_events` and :func:`find_cycles`). A variable whose model did not run
    (`not_run`: model -> reason) is said once, with that reason, not as a gap."""
    not_run = not_run or {}
    problems = list(ev.rejected)
    if ev.events.empty:
        problems.append("no usable gait events (no plate contact, no C3D events, no heel/toe markers)")
    problems += cyc.dropped
    unmeasured = {}
    for row in metrics.itertuples():
        gaps = [g for g in str(row.gaps or "").split(",") if g]
        for g in gaps:
            if VARIABLE_MODELS.get(g) in not_run:
                unmeasured.setdefault(VARIABLE_MODELS[g], set()).add(g)
        gaps = [g for g in gaps if VARIABLE_MODELS.get(g) not in not_run]
        if gaps:
            problems.append(f"{row.side} cycle {row.cycle}: gaps in {','.join(gaps)}; their measures are NaN")
    for model, variables in sorted(unmeasured.items()):
        problems.append(f"{', '.join(sorted(variables))} not measured: model {model!r} did not run "
                        f"({not_run[model]})")
    return [f"{name}: {p}" for p in problems]
