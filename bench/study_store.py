"""Study store: write a large synthetic study, then open it and pull one variable.

    python bench/study_store.py [--trials 1000]

The study repeats the default study's six real trials under new trial and subject ids (the
store's size and layout are those of a real study of that many trials). Reports the write
time, the file size, and the time to open the store and read one per-cycle measure and one
curve for all cycles (target < 1 s).
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import resource
import tempfile
import time
import warnings
from pathlib import Path

from chainlab.io.study_store import open_study, write_study_store
from chainlab.study import read_sheet, run_study

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=1000)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    work = Path(tempfile.mkdtemp())
    base = run_study(read_sheet(ROOT / "config/trials.tsv"), work / "trials", ROOT, progress=lambda m: None)
    big = []
    for i in range(args.trials):  # views of the six trial files under new ids
        t = copy.copy(base.trials[i % len(base.trials)])
        t.trial, t.subject = f"T{i:05d}", f"S{i // 10:04d}"
        big.append(t)
    path = work / "study.h5"
    t0 = time.perf_counter()
    write_study_store(big, [], path)
    t_write = time.perf_counter() - t0
    timings = []
    for _ in range(2):  # the first round includes xarray's one-time lazy imports in this process
        t0 = time.perf_counter()
        ev = open_study(path).metrics["peak_eversion_deg"].to_numpy()
        t_metric = time.perf_counter() - t0
        t0 = time.perf_counter()
        curve = open_study(path).cycles.curves.sel(variable="rearfoot_eversion").values
        timings.append((t_metric, time.perf_counter() - t0))
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"command: python bench/study_store.py --trials {args.trials}\n")
    print("| trials | cycles | write s | file MB | open + one measure, all cycles s (first / again) "
          "| open + one curve, all cycles s (first / again) | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    (m0, c0), (m1, c1) = timings
    print(f"| {args.trials} | {len(ev)} | {t_write:.1f} | {path.stat().st_size / 1e6:.1f} | {m0:.3f} / {m1:.3f} | "
          f"{c0:.3f} / {c1:.3f} ({curve.shape}) | {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} |")
    path.unlink()


if __name__ == "__main__":
    main()
