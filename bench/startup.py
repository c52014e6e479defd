"""Start-up of the command line and of `import chainlab` (issue #17): import times and
`chainlab --help` wall time, for one or more source trees, runs interleaved.

    PYTHONPATH=$PWD/src python bench/startup.py [--src OLD/src --src NEW/src] [--repeat 10]

Per tree: `python -X importtime -c "import M"` (M's cumulative import time, the fastest of
--repeat, ms) for the modules below, and the wall time of `python -m chainlab.cli --help`
(the console script's work: the same `main`), min and median of --repeat runs, s. Also says
which heavy packages `import M` loads.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

MODULES = ("chainlab", "chainlab.config", "chainlab.options", "chainlab.cli", "chainlab.cli.kinematics")
HEAVY = ("numpy", "pandas", "xarray", "scipy", "scipy.stats", "dask", "distributed", "statsmodels", "plotly",
         "kaleido", "h5py", "numba")


def import_ms(src: str, module: str) -> float | None:
    p = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True,
                       text=True, env={**os.environ, "PYTHONPATH": src})
    if p.returncode:
        return None
    parts = module.split(".")
    parents = {".".join(parts[: i + 1]) for i in range(len(parts))}
    total = 0.0
    for line in p.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m and len(m[3]) == 1 and m[4] in parents:
            total += int(m[2]) / 1e3
    return total


def heavy(src: str, module: str) -> str:
    code = f"import sys, {module}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": src})
    return p.stdout.strip() if p.returncode == 0 else "(not importable)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", action="append", help="a source tree (default: ./src)")
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    trees = [str(Path(s).resolve()) for s in (args.src or ["src"])]
    ms = {(t, m): [] for t in trees for m in MODULES}
    helps = {t: [] for t in trees}
    for _ in range(args.repeat):
        for t in trees:  # interleaved: the load of the moment falls on every tree alike
            for m in MODULES:
                v = import_ms(t, m)
                if v is not None:
                    ms[t, m].append(v)
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "chainlab.cli", "--help"], capture_output=True,
                           env={**os.environ, "PYTHONPATH": t}, check=True)
            helps[t].append(time.perf_counter() - t0)
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores; Python "
          f"{sys.version.split()[0]}; {args.repeat} runs each, interleaved\n")
    print("| tree | command | fastest ms / min s | median | heavy packages loaded |\n|---|---|---|---|---|")
    for t in trees:
        for m in MODULES:
            v = ms[t, m]
            if v:
                print(f"| {t} | `python -X importtime -c \"import {m}\"` | {min(v):.0f} ms | "
                      f"{statistics.median(v):.0f} ms | {heavy(t, m) or 'none'} |")
        h = helps[t]
        print(f"| {t} | `chainlab --help` (wall) | {min(h):.2f} s | {statistics.median(h):.2f} s | |")


if __name__ == "__main__":
    main()
