"""The global solver against the direct models on the real biomechzoo walks.

    python bench/global_vs_direct.py [--markers] [--segments] [ROOT ...]
        (default roots: data/biomechzoo and /work/shared/data/c3d/biomechzoo, i.e. ../../shared
        or ../shared of the repository, whichever exists)

Per trial: RMS of (global - direct) for the sagittal (x) component of the pelvis, hip, knee
and ankle angles, split into its mean (an offset) and the rest (a pattern over the cycle),
and the fit's per-frame marker RMS (unweighted: all chain markers alike; median and 95th percentile, mm). ``--markers`` adds each
chain marker's RMS residual (mm) per trial; ``--segments`` the direct models' thigh and shank
lengths over the walk (HJC-KJC, KJC-AJC: median and 5-95 % range, mm) and the chain's.
Options of the chain may be given as ``--knee y`` (hinge knee) or ``--chain key=value``
(ChainOptions field, Python literal); ``--previous`` runs the chain as it was before the trial
template, the slides and the present weights (static template, rigid segments, pelvis markers
10, every other marker 1): the "before" column of docs/kinematics.md.
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from chainlab import read_c3d
from chainlab.kinematics import KinematicsOptions, compute_kinematics
from chainlab.model.chain import DEFAULT_WEIGHTS, ChainOptions

ROOT = Path(__file__).resolve().parents[1]
ANGLES = ("LPelvisAngles", "LHipAngles", "RHipAngles", "LKneeAngles", "RKneeAngles", "LAnkleAngles", "RAnkleAngles")
SHORT = ("pelvis", "Lhip", "Rhip", "Lknee", "Rknee", "Lankle", "Rankle")


def trials(roots):
    seen = set()
    for root in roots:
        for subject in sorted(p for p in root.iterdir() if p.is_dir()):
            static = next((subject / "Static").glob("*.c3d"))
            for cond in ("Straight", "Turn"):
                path = next((subject / cond).glob("*.c3d"))
                if path.name not in seen:
                    seen.add(path.name)
                    yield subject.name, cond, path, static


def compare(dyn, static, chain_options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = compute_kinematics(dyn, static)
        t0 = time.perf_counter()
        g = compute_kinematics(dyn, static, KinematicsOptions(solver="global", chain=chain_options))
        dt = time.perf_counter() - t0
    diff = {o: g.angles.sel(output=o).values[:, 0] - d.angles.sel(output=o).values[:, 0] for o in ANGLES}
    return d, g, diff, dt


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("roots", nargs="*", type=Path)
    ap.add_argument("--markers", action="store_true")
    ap.add_argument("--segments", action="store_true")
    ap.add_argument("--knee", default=None)
    ap.add_argument("--chain", action="append", default=[], help="ChainOptions field=value")
    ap.add_argument("--previous", action="store_true", help="the chain before the trial template and slides")
    a = ap.parse_args(argv)
    kw = {}
    for item in a.chain:
        k, v = item.split("=", 1)
        kw[k] = ast.literal_eval(v)
    if a.previous:
        kw = {"template": "static", "slides": {}, "weights": {m: 1.0 for m in DEFAULT_WEIGHTS} | {
            m: 10.0 for m in ("LASI", "RASI", "SACR", "LPSI", "RPSI")}, **kw}
    if a.knee is not None:
        kw["dofs"] = {**kw.get("dofs", {}), "knee": a.knee}
    copt = ChainOptions(**kw)
    default = [ROOT / "data" / "biomechzoo"] + [p / "shared" / "data" / "c3d" / "biomechzoo" for p in ROOT.parents[:2]]
    roots = a.roots or [p for p in default if p.is_dir()]
    print(f"chain options: {copt}")
    print("RMS(global - direct), sagittal, deg; in brackets |mean| / SD of the difference")
    print("| trial | " + " | ".join(SHORT) + " | marker RMS median / p95 mm | s |")
    print("|---" * (len(SHORT) + 3) + "|")
    worst = np.zeros(len(ANGLES))
    marker_rows = {}
    seg_rows = []
    for subject, cond, path, static_path in trials(roots):
        static, dyn = read_c3d(static_path), read_c3d(path)
        d, g, diff, dt = compare(dyn, static, copt)
        cells = []
        for i, o in enumerate(ANGLES):
            x = diff[o]
            rms = float(np.sqrt(np.nanmean(x**2)))
            worst[i] = max(worst[i], rms)
            cells.append(f"{rms:.2f} ({abs(np.nanmean(x)):.1f}/{np.nanstd(x):.1f})")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # markers never measured
            r = np.sqrt(np.nanmean(g.marker_residual.values**2, axis=1)) * 1000  # unweighted, per frame
        print(f"| {path.stem} {cond} | " + " | ".join(cells) + f" | {np.nanmedian(r):.1f} / {np.nanpercentile(r, 95):.1f} | {dt:.2f} |")
        sys.stdout.flush()
        if a.markers:
            res = g.marker_residual.values * 1000
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                marker_rows[path.stem] = dict(zip(g.chain_marker.values, np.sqrt(np.nanmean(res**2, axis=0))))
        if a.segments:
            row = [path.stem]
            for kin in (d, g):
                for s in "LR":
                    h, k, j = (kin.joint_centres.sel(point=f"{s}{p}").values for p in ("HJC", "KJC", "AJC"))
                    for L in (np.linalg.norm(h - k, axis=1), np.linalg.norm(k - j, axis=1)):
                        L = L * 1000
                        row.append(f"{np.nanmedian(L):.0f} [{np.nanpercentile(L, 5):.0f}-{np.nanpercentile(L, 95):.0f}]")
            seg_rows.append(row)
    print("| max | " + " | ".join(f"{w:.2f}" for w in worst) + " | | |")
    if marker_rows:
        names = list(next(iter(marker_rows.values())))
        print("\nRMS residual per marker, mm")
        print("| marker | " + " | ".join(marker_rows) + " |")
        print("|---" * (len(marker_rows) + 1) + "|")
        for m in names:
            print(f"| {m} | " + " | ".join(f"{marker_rows[t].get(m, np.nan):.1f}" for t in marker_rows) + " |")
    if seg_rows:
        print("\nsegment lengths, mm: median [5-95 %]")
        print("| trial | direct L thigh | L shank | R thigh | R shank | global L thigh | L shank | R thigh | R shank |")
        print("|---" * 9 + "|")
        for row in seg_rows:
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
