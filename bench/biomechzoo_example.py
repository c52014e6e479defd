"""The biomechZoo sample study's three hypotheses on the shared captures (docs/example_biomechzoo.md).

Per trial of config/biomechzoo_example_trials.tsv: chainlab's kinematics (compute_kinematics on
the dynamic and static trials), the gait events (plates first, then the file's), the right
foot's ground reaction from the force plates (each plate's force at the point rate as Nexus
averages it, given to the foot whose stance the plate's events found, in N/kg), the config's
measures, then its tests. The same measures are also taken on Nexus' own angles stored in the
files, and each test is rerun with the variants the document discusses.

    PYTHONPATH=src python bench/biomechzoo_example.py [--out results/biomechzoo_example]

Prints the per-trial values and the tests beside the published p-values; with --out writes
measures.csv (every measure and variant, every window), tests.csv (the config's tests) and
variants.csv (every variant's tests) there.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from chainlab import read_c3d
from chainlab.config import read_sheet
from chainlab.conventions import AXES
from chainlab.gait.cycles import find_cycles
from chainlab.gait.events import gait_events
from chainlab.gait.measures import compute_measures, parse_measures, trial_heading, trial_outputs
from chainlab.kinematics import compute_kinematics
from chainlab.measure_specs import apply_measure_defaults
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


#: Each measure of the config again under another name, with what changes (the variants the
#: document discusses); taken with the config's in one pass per trial.
VARIANT_MEASURES = {
    "grf_ml_min": {"grf_ml_min_walking": {"frame": "walking"}},
    "hip_add_max": {"hip_add_max_every": {"plate": False}},
    "knee_flx_fs": {"knee_flx_fs_every": {"plate": False}, "knee_flx_fo": {"stat": "at_end"},
                    "knee_flx_fo_every": {"stat": "at_end", "plate": False}},
}


def study_measures(config: dict) -> list[dict]:
    """The config's measures (its measure_defaults filled in) and their variants."""
    entries = apply_measure_defaults(config["measures"], config.get("measure_defaults"))
    out = list(entries)
    for e in entries:
        for name, change in VARIANT_MEASURES.get(e["name"], {}).items():
            out.append({**e, "name": name, **change})
    return out


def run(config: dict, sheet: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Long measures tables (with subject, condition and trial) per source: ``chainlab`` the
    config's measures and their variants (:data:`VARIANT_MEASURES`) on chainlab's angles and
    the plates' ground reaction; ``nexus_angles`` the config's on Nexus' stored angles;
    ``plate_axis`` the ground reaction's x along the plate's own x axis."""
    tables: dict[str, list[pd.DataFrame]] = {v: [] for v in ("chainlab", "nexus_angles", "plate_axis")}
    entries = study_measures(config)
    for row in sheet.itertuples():
        dyn = read_c3d(row.dynamic)
        static = read_c3d(row.static)
        kin = compute_kinematics(dyn, static)
        events = gait_events(dyn).events
        cycles = find_cycles(events).cycles
        mass = float(dyn.measurements.sel(measurement="Bodymass"))
        grf = side_ground_reaction(dyn, events, mass)
        outputs = trial_outputs(kin, extra={"GroundReactionForce": grf})
        measures = parse_measures(entries, outputs)
        config_measures = measures[:len(config["measures"])]
        ids = {"subject": row.subject, "condition": row.condition, "trial": row.trial}
        heading = trial_heading(kin, cycles)
        tables["chainlab"].append(compute_measures(measures, outputs, events, cycles=cycles, heading=heading)
                                  .assign(**ids))
        tables["nexus_angles"].append(compute_measures(
            config_measures, dict(nexus_angles(dyn), GroundReactionForce=grf), events, cycles=cycles,
            heading=heading).assign(**ids))
        lab = [m for m in config_measures if m.output == "GroundReactionForce"]
        lab = [replace(m, frame="lab") for m in lab]
        tables["plate_axis"].append(compute_measures(
            lab, dict(outputs, GroundReactionForce=plate_axis(dyn, events, grf)), events, cycles=cycles)
            .assign(**ids))
    return {k: pd.concat(v, ignore_index=True) for k, v in tables.items()}


def variants(config: dict, tables: dict[str, pd.DataFrame]) -> dict[str, tuple[pd.DataFrame, list[dict]]]:
    """{label: (measures table, tests)}: the config's tests and the document's variants of them."""
    tests = {t["measure"]: t for t in config["tests"]}
    grf, hip, knee = tests["grf_ml_min"], tests["hip_add_max"], tests["knee_flx_fs"]
    kept = dict(grf, exclude=[])
    own = tables["chainlab"]
    return {
        "as configured": (own, config["tests"]),
        "the issue's lines alone (angles in every right stance)": (
            own, [grf, dict(hip, measure="hip_add_max_every"), dict(knee, measure="knee_flx_fs_every")]),
        "Nexus' stored angles": (tables["nexus_angles"], [hip, knee]),
        "knee flexion at foot off (at_end), plate stance": (own, [dict(knee, measure="knee_flx_fo")]),
        "knee flexion at foot off (at_end), every right stance": (own, [dict(knee, measure="knee_flx_fo_every")]),
        "HC002D25 kept": (own, [kept]),
        "HC036A10 excluded too (both walks along -y)": (own, [dict(grf, exclude=["HC002D25", "HC036A10"])]),
        "GRF x in the walking frame (frame: walking)": (own, [dict(grf, measure="grf_ml_min_walking")]),
        "GRF x in the walking frame, HC002D25 kept": (own, [dict(kept, measure="grf_ml_min_walking")]),
        "GRF x along the plate's own x axis": (tables["plate_axis"], [grf]),
        "GRF x along the plate's own x axis, HC002D25 kept": (tables["plate_axis"], [kept]),
        "Wilcoxon": (own, [dict(t, test="wilcoxon") for t in config["tests"]]),
        "mixed model": (own, [dict(t, test="mixed") for t in config["tests"]]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "config" / "biomechzoo_example.yaml"))
    ap.add_argument("--out", default=None, help="folder for measures.csv, tests.csv and variants.csv")
    args = ap.parse_args()
    config = yaml.safe_load(Path(args.config).read_text())
    sheet = read_sheet(ROOT / config["trials"])  # paths relative to the sheet's folder
    t0 = time.perf_counter()
    tables = run(config, sheet)
    took = time.perf_counter() - t0
    table = tables["chainlab"]
    pd.set_option("display.width", 250)
    valued = table[table.value.notna() & table.measure.isin([m["name"] for m in config["measures"]])]
    print(valued[["trial", "measure", "frame", "start_s", "end_s", "plate", "value", "units"]]
          .to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\n{len(sheet)} trials in {took:.1f} s")
    results = []
    for label, (tab, ts) in variants(config, tables).items():
        r = run_tests(ts, tab).assign(variant=label)
        r["published_p"] = [next((p for k, p in PUBLISHED.items() if m.startswith(k[:8])), np.nan) for m in r.measure]
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
        res.to_csv(out / "variants.csv", index=False)
        print(f"wrote {out / 'measures.csv'}, {out / 'tests.csv'} and {out / 'variants.csv'}")


if __name__ == "__main__":
    main()
