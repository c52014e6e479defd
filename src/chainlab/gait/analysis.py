"""One trial from angles to per-cycle measures: events, cycles, curves, metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import xarray as xr

from chainlab.gait.cycles import find_cycles
from chainlab.gait.events import PlateEventOptions, gait_events
from chainlab.gait.metrics import arch_absent, cycle_curves, cycle_metrics, with_arch
from chainlab.gait.spatiotemporal import missing_markers, spatiotemporal_of_trial


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
    time = kinematics.time.values
    metrics = spatiotemporal_of_trial(metrics, ev.events, kinematics, lambda k: time[k], len(time))
    metrics = with_arch(metrics, kinematics)
    absent, no_arch = missing_markers(kinematics), arch_absent(kinematics)
    metrics = mark_not_measured(metrics, None, absent, no_arch)
    return GaitResult(ev.events, cyc.cycles, curves, metrics,
                      gait_problems(trial.attrs.get("source_file", ""), ev, cyc, metrics, None, absent, no_arch))


#: The model each chain variable (chainlab.gait.metrics.SOURCES) comes from.
VARIABLE_MODELS = {"rearfoot_eversion": "ofm", "tibial_rotation_lab": "ofm", "tibial_rotation_femur": "pig",
                   "pelvic_tilt": "pig", "lordosis": "lumbar"}


def mark_not_measured(metrics: pd.DataFrame, not_run: dict[str, str] | None = None,
                      spatiotemporal_absent: str = "", arch_absent: str = "") -> pd.DataFrame:
    """`metrics` with ``not_measured`` filled: the chain variables whose model did not run
    (`not_run`: model -> reason) move out of ``gaps`` (a gap is a hole in what was measured),
    and ``spatiotemporal`` (``arch``) is named when `spatiotemporal_absent` (`arch_absent`)
    says why those columns are NaN."""
    not_run = not_run or {}
    out = metrics.copy()
    out.attrs = dict(metrics.attrs)
    if out.empty:
        return out
    gaps, unmeasured = [], []
    for g in out.gaps.fillna(""):
        parts = [v for v in str(g).split(",") if v]
        gaps.append(",".join(v for v in parts if VARIABLE_MODELS.get(v) not in not_run))
        unmeasured.append(",".join([v for v in parts if VARIABLE_MODELS.get(v) in not_run]
                                   + (["spatiotemporal"] if spatiotemporal_absent else [])
                                   + (["arch"] if arch_absent else [])))
    out["gaps"], out["not_measured"] = gaps, unmeasured
    return out


def gait_problems(name: str, ev, cyc, metrics: pd.DataFrame, not_run: dict[str, str] | None = None,
                  spatiotemporal_absent: str = "", arch_absent: str = "") -> list[str]:
    """What the gait analysis of the capture `name` left out, and why: rejected plate
    contacts, no events at all, dropped cycles, cycles with gaps (events, cycles: the results
    of :func:`gait_events` and :func:`find_cycles`; `metrics` as :func:`mark_not_measured`
    leaves it). A variable whose model did not run (`not_run`: model -> reason) is said once,
    with that reason, not as a gap; so are the spatiotemporal parameters without their markers."""
    not_run = not_run or {}
    problems = list(ev.rejected)
    if ev.events.empty:
        problems.append("no usable gait events (no plate contact, no C3D events, no heel/toe markers)")
    problems += cyc.dropped
    unmeasured: dict[str, set] = {}
    for row in metrics.itertuples():
        gaps = [g for g in str(row.gaps or "").split(",") if g]
        if gaps:
            problems.append(f"{row.side} cycle {row.cycle}: gaps in {','.join(gaps)}; their measures are NaN")
        for v in str(getattr(row, "not_measured", "") or "").split(","):
            if v in VARIABLE_MODELS:
                unmeasured.setdefault(VARIABLE_MODELS[v], set()).add(v)
    for model, variables in sorted(unmeasured.items()):
        problems.append(f"{', '.join(sorted(variables))} not measured: model {model!r} did not run "
                        f"({not_run.get(model, 'left out')})")
    if spatiotemporal_absent and len(metrics):
        problems.append(f"spatiotemporal parameters not measured: {spatiotemporal_absent}")
    if arch_absent and len(metrics):
        problems.append(f"arch measures not measured: {arch_absent}")
    return [f"{name}: {p}" for p in problems]
