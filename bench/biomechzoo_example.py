"""The biomechZoo sample study's three hypotheses on the shared captures (docs/example_biomechzoo.md).

Per trial of config/biomechzoo_example_trials.tsv: chainlab's kinematics (compute_kinematics on
the dynamic and static trials), the gait events (plates first, then the file's), the right
foot's ground reaction from the force plates (each plate's force at the point rate as Nexus
averages it, given to the foot whose stance the plate's events found, in N/kg), the config's
measures, then its tests. The same measures are also taken on Nexus' own angles stored in the
files, and each test is rerun with the variants the document discusses.

    PYTHONPATH=src python bench/biomechzoo_example.py [--out results/biomechzoo_example]

Prints the per-trial values and the tests beside the published p-values; with --out writes
measures.csv and tests.csv there.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from chainlab import read_c3d
from chainlab.config import read_sheet
from chainlab.conventions import AXES
from chainlab.gait.events import gait_events
from chainlab.gait.measures import compute_measures, parse_measures, trial_outputs
from chainlab.kinematics import compute_kinematics
from chainlab.stats.hypotheses import run_tests

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = {"grf_ml_min": 0.006, "hip_add_max": 0.033, "knee_flx_fs": 0.356}


def plate_force_per_frame(trial: xr.Dataset) -> np.ndarray:
    """(frame, plate, 3) N: frame i's force is the mean of the analog samples i*r - r/2 ..
    i*r + r/2 (Nexus' GroundReactionForce; methods reference section 7)."""
    r = int(round(trial.attrs["analog_rate"] / trial.attrs["point_rate"]))
    f = trial.plate_force.values
    n, h = trial.sizes["frame"], r // 2
    out = np.empty((n,) + f.shape[1:])
    for i in range(n):
        out[i] = f[max(0, i * r - h): i * r + h + 1].mean(axis=0)
    return out


def side_ground_reaction(trial: xr.Dataset, events: pd.DataFrame, body_mass: float) -> dict[str, xr.DataArray]:
    """Per side, the ground reaction (frame, axis) in N/kg, lab frame: the force of the plate
    whose events (source "plate k") opened and closed that side's stance, from the frame before
    the strike to the frame after the off; NaN elsewhere."""
    force = plate_force_per_frame(trial)
    frames = trial.frame.values
    out = {}
    for side in ("Left", "Right"):
        g = np.full((len(frames), 3), np.nan)
        ev = events[(events.side == side) & events.source.str.startswith("plate")].sort_values("time")
        for src, grp in ev.groupby("source"):
            k = int(src.split()[1]) - 1
            strikes = grp[grp.label == "Foot Strike"].frame.to_numpy()
            offs = grp[grp.label == "Foot Off"].frame.to_numpy()
            for s in strikes:
                later = offs[offs > s]
                if later.size:
                    on = (frames >= s - 1) & (frames <= later[0] + 1)
                    g[on] = force[on, k] / body_mass
        out[side] = xr.DataArray(g, dims=("frame", "axis"), coords={"time": ("frame", trial.time.values),
                                                                     "axis": list(AXES)}, attrs={"units": "N/kg"})
    return out


def walking_frame(kin: xr.Dataset, grf: dict[str, xr.DataArray], half: int = 50) -> dict[str, xr.DataArray]:
    """The ground reaction in the walking direction's frame: x to the subject's right
    (horizontal, perpendicular to the pelvis' travel over +-`half` frames, about a stride at
    100 Hz, so that the pelvis' sway within a stride cancels), y forward, z up; the right foot's
    medial force is then negative x whichever way the subject walks."""
    mid = 0.5 * (kin.markers.sel(marker="LASI").values + kin.markers.sel(marker="RASI").values)
    n = len(mid)
    ahead, behind = np.minimum(np.arange(n) + half, n - 1), np.maximum(np.arange(n) - half, 0)
    h = mid[ahead] - mid[behind]
    h[:, 2] = 0.0
    h /= np.linalg.norm(h, axis=1, keepdims=True)
    right = np.stack([h[:, 1], -h[:, 0], np.zeros(n)], axis=1)
    out = {}
    for side, g in grf.items():
        v = g.values
        local = np.stack([np.sum(v * right, axis=1), np.sum(v * h, axis=1), v[:, 2]], axis=1)
        out[side] = g.copy(data=local)
    return out


def nexus_angles(trial: xr.Dataset) -> dict[str, dict[str, xr.DataArray]]:
    """Nexus' own Plug-in Gait angles stored in the file (the ``*Angles`` model outputs)."""
    out: dict[str, dict[str, xr.DataArray]] = {}
    for name in trial.output.values:
        name = str(name)
        if name[:1] in "LR" and name.endswith("Angles"):
            da = trial.model_outputs.sel(output=name).drop_vars("output", errors="ignore")
            da = xr.DataArray(da.values, dims=("frame", "axis"), coords={"time": ("frame", trial.time.values)},
                              attrs={"units": "deg"})
            out.setdefault(name[1:], {})["Left" if name[0] == "L" else "Right"] = da
    return out


def plate_axis(trial: xr.Dataset, events: pd.DataFrame, grf: dict[str, xr.DataArray]) -> dict[str, xr.DataArray]:
    """Each side's ground reaction along the x axis of the plate its stance was on (the plate's
    own channel Fx<k>, which biomechZoo's limb-side step copies to RFx), in x."""
    out = {}
    for side, g in grf.items():
        ev = events[(events.side == side) & events.source.str.startswith("plate")]
        if ev.empty:
            continue
        c = trial.plate_corners.values[int(ev.source.iloc[0].split()[1]) - 1]
        xp = (c[0] - c[1]) / np.linalg.norm(c[0] - c[1])
        along = g.values @ xp
        out[side] = g.copy(data=np.stack([along, np.full_like(along, np.nan), np.full_like(along, np.nan)], axis=1))
    return out


VARIANTS = ("config", "nexus_angles", "every_stance", "walking_frame", "plate_axis")


def run(config: dict, sheet: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Long measures tables (with subject, condition and trial) per variant: ``config`` as
    configured; ``nexus_angles`` on Nexus' stored angles; ``every_stance`` the angles in every
    right stance rather than the plate's; ``walking_frame`` and ``plate_axis`` the ground
    reaction's x in the walking frame and along the plate's own x axis."""
    tables: dict[str, list[pd.DataFrame]] = {v: [] for v in VARIANTS}
    every = parse_measures([{k: v for k, v in m.items() if k != "plate"} for m in config["measures"]])
    for row in sheet.itertuples():
        dyn = read_c3d(row.dynamic)
        static = read_c3d(row.static)
        kin = compute_kinematics(dyn, static)
        events = gait_events(dyn).events
        mass = float(dyn.measurements.sel(measurement="Bodymass"))
        grf = side_ground_reaction(dyn, events, mass)
        outputs = trial_outputs(kin, extra={"GroundReactionForce": grf})
        measures = parse_measures(config["measures"], outputs)
        ids = {"subject": row.subject, "condition": row.condition, "trial": row.trial}
        inputs = {
            "config": (measures, outputs),
            "nexus_angles": (measures, dict(nexus_angles(dyn), GroundReactionForce=grf)),
            "every_stance": (every, outputs),
            "walking_frame": (measures, dict(outputs, GroundReactionForce=walking_frame(kin, grf))),
            "plate_axis": (measures, dict(outputs, GroundReactionForce=plate_axis(dyn, events, grf))),
        }
        for name, (m, o) in inputs.items():
            tables[name].append(compute_measures(m, o, events).assign(**ids))
    return {k: pd.concat(v, ignore_index=True) for k, v in tables.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "config" / "biomechzoo_example.yaml"))
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    config = yaml.safe_load(Path(args.config).read_text())
    sheet = read_sheet(ROOT / config["trials"])  # paths relative to the sheet's folder
    t0 = time.perf_counter()
    tables = run(config, sheet)
    took = time.perf_counter() - t0
    table = tables["config"]
    pd.set_option("display.width", 250)
    valued = table[table.value.notna()]
    print(valued[["trial", "measure", "start_s", "end_s", "plate", "value", "units"]]
          .to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\n{len(sheet)} trials in {took:.1f} s; windows with a value: {len(valued)} of {len(table)} "
          f"(the others are right stances off the plates)")
    tests, grf_test = config["tests"], config["tests"][:1]
    kept = [dict(t, exclude=[]) for t in tests]
    variants = {
        "as configured": (table, tests),
        "Nexus' stored angles": (tables["nexus_angles"], tests[1:]),
        "angles in every right stance": (tables["every_stance"], tests[1:]),
        "HC002D25 kept": (table, kept[:1]),
        "GRF x along the plate's axis": (tables["plate_axis"], grf_test),
        "GRF x along the plate's axis, HC002D25 kept": (tables["plate_axis"], kept[:1]),
        "GRF x in the walking frame": (tables["walking_frame"], grf_test),
        "GRF x in the walking frame, HC002D25 kept": (tables["walking_frame"], kept[:1]),
        "Wilcoxon": (table, [dict(t, test="wilcoxon") for t in tests]),
        "mixed model": (table, [dict(t, test="mixed") for t in tests]),
    }
    results = []
    for label, (tab, ts) in variants.items():
        r = run_tests(ts, tab).assign(variant=label)
        r["published_p"] = r.measure.map(PUBLISHED)
        results.append(r)
    res = pd.concat(results, ignore_index=True)
    cols = ["variant", "measure", "test", "n", "statistic", "p", "published_p", "estimate", "ci_low", "ci_high",
            "units", "excluded"]
    print(res[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        table.to_csv(out / "measures.csv", index=False)
        res[res.variant == "as configured"].drop(columns="variant").to_csv(out / "tests.csv", index=False)
        print(f"wrote {out / 'measures.csv'} and {out / 'tests.csv'}")


if __name__ == "__main__":
    main()
