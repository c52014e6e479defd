"""Frames per second of the direct models (Plug-in Gait + OFM + trunk + lumbar), one core.

    OMP_NUM_THREADS=1 taskset -c 1 python bench/kinematics_speed.py [--frames 200000] [--repeat 3]

Times, on data already in memory (reading the C3D is benchmarked by bench/read_c3d.py), a
biomechzoo walk and a long trial made by repeating it end to end:

* ``models``: the model functions on marker arrays (:mod:`chainlab.model`);
* ``compute_kinematics``: the whole in-memory path, trial Dataset in, kinematics Dataset out
  (:func:`chainlab.kinematics.compute_kinematics`), on the walk's 56 captured markers (the
  file's Nexus virtual points and model outputs left out).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np

import xarray as xr

from chainlab import read_c3d
from chainlab.kinematics import compute_kinematics
from chainlab.model import lumbar, ofm, pig
from chainlab.model.measurements import resolve

ROOT = Path(__file__).resolve().parents[1]


def run_models(mk: dict[str, np.ndarray], cal: pig.PigCalibration, ofm_cal: dict) -> None:
    res = pig.pig(mk, cal)
    ofm.ofm(mk, ofm_cal, res.points, marker_diameter=cal.measurements["MarkerDiameter"])
    pelvis = res.segments["Pelvis"][1]
    pig.trunk(mk, pelvis=pelvis)
    lumbar.lumbar_angles(mk, pelvis, lumbar.choose_markers(list(mk)))


def long_trial(walk: xr.Dataset, n: int) -> xr.Dataset:
    """`walk`'s captured markers (from LFHD to RHLX) repeated end to end to `n` frames."""
    names = walk.marker.values.tolist()
    kept = names[names.index("LFHD"):names.index("RHLX") + 1]
    mk = walk.markers.sel(marker=kept).transpose("frame", "marker", "axis").values
    reps = -(-n // len(mk))
    frame = np.arange(n) + int(walk.frame.values[0])
    rate = float(walk.attrs["point_rate"])
    return xr.Dataset(
        {"markers": (("frame", "marker", "axis"), np.tile(mk, (reps, 1, 1))[:n], {"units": "m"}),
         "measurements": walk.measurements},
        coords={"frame": frame, "time": ("frame", (frame - 1) / rate, {"units": "s"}),
                "marker": np.array(kept, dtype=str), "axis": walk.axis.values},
        attrs=walk.attrs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--what", choices=("models", "compute_kinematics", "both"), default="both")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    static = read_c3d(ROOT / "data/biomechzoo/HC030A/Static/HC030A01.c3d")
    walk = read_c3d(ROOT / "data/biomechzoo/HC030A/Straight/HC030A05.c3d")
    meas, _ = resolve(static, walk)
    cal = pig.calibrate({k: static.markers.sel(marker=k).values for k in pig.MARKERS}, meas)
    ofm_cal = ofm.calibrate({k: static.markers.sel(marker=k).values for k in static.marker.values})
    ofm_markers = tuple(f"{s}{m}" for s in "LR" for m in ofm.DYNAMIC + ("HLX",))
    names = set(pig.DYNAMIC_MARKERS + ofm_markers + pig.TRUNK_MARKERS + ("T10", "T12", "SACR"))
    mk = {k: walk.markers.sel(marker=k).values for k in names}
    reps = -(-args.frames // walk.sizes["frame"])
    long_mk = {k: np.tile(v, (reps, 1))[: args.frames] for k, v in mk.items()}
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"load average {' '.join(open('/proc/loadavg').read().split()[:3])}")
    print(f"command: python bench/kinematics_speed.py --frames {args.frames} --repeat {args.repeat} "
          f"--what {args.what}\n")
    print("| what | trial | frames | best wall s | frames/s | best CPU s | frames/CPU s |\n"
          "|---|---|---|---|---|---|---|")
    # the two measures interleaved, run by run, so that both see the same load on a shared machine
    kin_walk, kin_long = long_trial(walk, walk.sizes["frame"]), long_trial(walk, args.frames)
    cases = []
    if args.what in ("models", "both"):
        cases += [("models", "HC030A05 (walk)", mk, lambda m: run_models(m, cal, ofm_cal)),
                  ("models", f"HC030A05 x {reps} (long)", long_mk, lambda m: run_models(m, cal, ofm_cal))]
    if args.what in ("compute_kinematics", "both"):
        cases += [("compute_kinematics", "HC030A05 (walk)", kin_walk, lambda d: compute_kinematics(d, static)),
                  ("compute_kinematics", f"HC030A05 x {reps} (long)", kin_long, lambda d: compute_kinematics(d, static))]
    runs: list[list[tuple[float, float]]] = [[] for _ in cases]
    for _ in range(args.repeat):
        for k, (_, _, data, fn) in enumerate(cases):
            runs[k].append(_timed(fn, data))
    for (what, label, data, _), r in zip(cases, runs):
        n = len(data["LASI"]) if isinstance(data, dict) else data.sizes["frame"]
        print(_row(what, label, n, r))


def _timed(f, *a) -> tuple[float, float]:
    """Wall and CPU seconds of f(*a) (CPU time, user + system, is what a shared machine's load
    does not inflate, short of memory bandwidth)."""
    t, c = time.perf_counter(), time.process_time()
    f(*a)
    return time.perf_counter() - t, time.process_time() - c


def _row(what: str, label: str, n: int, runs: list[tuple[float, float]]) -> str:
    wall, cpu = min(r[0] for r in runs), min(r[1] for r in runs)
    return f"| {what} | {label} | {n} | {wall:.4f} | {n / wall:,.0f} | {cpu:.4f} | {n / cpu:,.0f} |"


if __name__ == "__main__":
    main()
