"""Kinetics: speed of the inverse dynamics and agreement with Nexus' stored kinetics.

    taskset -c 0 python bench/kinetics.py [--shared ../shared/data/c3d/biomechzoo]

Speed: frames/s of :func:`chainlab.kinetics.joint_kinetics` (ground reaction at the point
rate and contacts given; the kinematics tiled to 100,000 frames). Agreement: every walk with
Nexus' ``?HipMoment`` ... in the file, per joint and component: RMS and max |difference| over
the frames where both have values, and the share of Nexus' frames covered.
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from chainlab import read_c3d
from chainlab.kinematics import KinematicsOptions, compute_kinematics
from chainlab.kinetics import assign_contacts, body_parameters, compute_kinetics, ground_reaction, joint_kinetics
from chainlab.kinetics.inverse_dynamics import trial_progression

ROOT = Path(__file__).resolve().parents[1]
HELD_OUT = [("PiG_Motion3_FF.c3d", "PiG_Calibration3_FF.c3d"),
            ("PiG_Motion-FlatFoot-Full.c3d", "PiG_Calibration-FlatFoot-Full.c3d")]


def _walks(root: Path):
    for dyn in sorted(root.glob("*/*/*.c3d")):
        if dyn.parent.name == "Static":
            continue
        static = sorted((dyn.parents[1] / "Static").glob("*.c3d"))
        if static:
            yield dyn, static[0]


def speed(dyn: Path, static: Path, frames: int = 100_000) -> float:
    d, s = read_c3d(dyn), read_c3d(static)
    k = compute_kinematics(d, s, KinematicsOptions(models=("pig",)))
    reps = -(-frames // d.sizes["frame"])
    kk = xr.concat([k] * reps, dim="frame", data_vars="minimal", coords="minimal", compat="override")
    kk = kk.assign_coords(frame=np.arange(kk.sizes["frame"]), time=("frame", np.arange(kk.sizes["frame"]) / 100.0))
    g = ground_reaction(d)
    gg = xr.concat([g] * reps, dim="frame", data_vars="minimal", coords="minimal", compat="override").assign_coords(frame=kk.frame.values)
    contacts = assign_contacts(d, g)
    body = body_parameters(d)
    prog = trial_progression(k)
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        joint_kinetics(kk, gg, contacts, body, None, None, prog)
        best = min(best, time.perf_counter() - t0)
    return kk.sizes["frame"] / best


def agreement(dyn: Path, static: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d, s = read_c3d(dyn), read_c3d(static)
        if "LKneeMoment" not in d.output.values.tolist():
            return None
        k = compute_kinematics(d, s, KinematicsOptions(models=("pig",)))
    kin = compute_kinetics(d, k)
    rows = []
    for name in kin.moment_output.values.tolist():
        ref = d.model_outputs.sel(output=name).values / 1000.0
        mine = kin.moments.sel(moment_output=name).values
        both = np.isfinite(ref[:, 0]) & np.isfinite(mine[:, 0])
        diff = mine[both] - ref[both]
        p_name = name.replace("Moment", "Power")
        p_ref = d.model_outputs.sel(output=p_name).values[:, 2]
        p = kin.powers.sel(power_output=p_name).values
        ok = np.isfinite(p_ref) & np.isfinite(p)
        rows.append((name, np.sqrt(np.mean(diff**2, axis=0)), np.abs(diff).max(axis=0),
                     both.sum() / max(1, np.isfinite(ref[:, 0]).sum()),
                     np.sqrt(np.mean((p[ok] - p_ref[ok]) ** 2)), np.abs(p[ok] - p_ref[ok]).max()))
    return kin.attrs["contacts"], rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data" / "c3d" / "biomechzoo")
    ap.add_argument("--frames", type=int, default=100_000)
    args = ap.parse_args()
    roots = [args.shared] if args.shared.is_dir() else [ROOT / "data" / "biomechzoo"]
    walks = [w for r in roots for w in _walks(r)]
    vendors = args.shared.parent / "vendors"  # other labs' Nexus walks, held out
    walks += [(vendors / a, vendors / b) for a, b in HELD_OUT if (vendors / a).is_file()]
    print(f"# machine: {platform.processor() or platform.machine()}, python {platform.python_version()}, numpy {np.__version__}")
    fps = speed(*walks[0], frames=args.frames)
    print(f"inverse dynamics: {fps:,.0f} frames/s ({args.frames:,} frames, best of 3)")
    print("| walk | output | RMS x, y, z (N m/kg) | max x, y, z (N m/kg) | frames | power RMS / max (W/kg) |")
    print("|---|---|---|---|---|---|")
    worst: dict[str, np.ndarray] = {}
    for dyn, static in walks:
        res = agreement(dyn, static)
        if res is None:
            print(f"| {dyn.stem} | no Nexus kinetics in the file | | | | |")
            continue
        contacts, rows = res
        for name, rms, mx, cover, prms, pmax in rows:
            j = name[1:]
            worst[j] = np.maximum(worst.get(j, 0), rms)
            worst[j + "Power"] = np.maximum(worst.get(j + "Power", 0), prms)
            print(f"| {dyn.stem} | {name} | {rms[0]:.4f}, {rms[1]:.4f}, {rms[2]:.4f} | {mx[0]:.3f}, {mx[1]:.3f}, {mx[2]:.3f} "
                  f"| {cover:.0%} | {prms:.3f} / {pmax:.3f} |")
        print(f"| {dyn.stem} | contacts | {'; '.join(contacts)} | | | |")
    print("worst RMS:", {k: np.round(v, 4).tolist() for k, v in worst.items()})


if __name__ == "__main__":
    main()
