"""Wall time and peak memory of the Snakemake workflow: the default study and synthetic studies.

    python bench/workflow_scale.py                 # default study, then 10, 100, 1000 trials
    python bench/workflow_scale.py --trials 10 100 --no-default

The synthetic studies' rows share a pool of 40 trials made once by the simulator (10
subjects x 2 conditions x 2 trials of 2,000 frames at the template's 100 Hz, both plates;
bench/out/workflow/pool; simulating 1,000 distinct trials would take longer than running
them), each row a trial of its own; every study is run from an empty results folder with `snakemake --cores N` (figures as HTML, JSON and SVG when a
browser is installed). Peak memory is the largest sum of the resident memory of Snakemake and
all its child processes, sampled every 0.1 s; the largest single process is given too. The
steps' times are from the start to the last trial output, then between the modification times
of the store, the store with statistics, the figures' index and the report.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "workflow"


def _pool():
    """40 simulated trials (10 subjects x 2 conditions x 2 trials of 2,000 frames), made once."""
    import pandas as pd

    from chainlab.simulate import SimulationOptions, simulate_study

    d = OUT / "pool"
    if not (d / "trials.tsv").exists():
        t0 = time.perf_counter()
        simulate_study(ROOT / "data/biomechzoo/HC030A/Static/HC030A01.c3d",
                       ROOT / "data/biomechzoo/HC030A/Straight/HC030A05.c3d", d,
                       SimulationOptions(subjects=10, trials=2, duration_s=20.0, seed=1))
        print(f"  simulated the pool of 40 trials in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return pd.read_csv(d / "trials.tsv", sep="\t", dtype=str)


def make_study(n_trials: int) -> Path:
    """A study of `n_trials` rows over the pool's captures: replica k of the pool's subject S
    is subject S_k, so every row is a trial of its own with its subject's static trial."""
    import pandas as pd

    pool = _pool()
    rows = []
    for i in range(n_trials):
        r = pool.iloc[i % len(pool)]
        rows.append({"subject": f"{r.subject}_{i // len(pool)}", "condition": r.condition, "trial": f"T{i:04d}",
                     "static": f"{OUT}/pool/{r.static}", "dynamic": f"{OUT}/pool/{r.dynamic}"})
    d = OUT / f"study_{n_trials}"
    (d / "config").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(d / "config" / "trials.tsv", sep="\t", index=False)
    (d / "config" / "config.yaml").write_text(f"study: sim{n_trials}\ntrials: config/trials.tsv\n")
    return d


def default_study() -> Path:
    d = OUT / "default"
    shutil.rmtree(d, ignore_errors=True)
    (d / "config").mkdir(parents=True)
    sheet = (ROOT / "config" / "trials.tsv").read_text().replace("\t../data/", f"\t{ROOT}/data/")
    (d / "config" / "trials.tsv").write_text(sheet)
    shutil.copy(ROOT / "config" / "config.yaml", d / "config" / "config.yaml")
    return d


def _rows(project: Path) -> int:
    """The sample sheet's trial rows."""
    lines = (project / "config" / "trials.tsv").read_text().splitlines()
    return sum(1 for line in lines[1:] if line.strip() and not line.lstrip().startswith("#"))


def run(project: Path, cores: int) -> dict:
    shutil.rmtree(project / "results", ignore_errors=True)
    shutil.rmtree(project / ".snakemake", ignore_errors=True)
    cmd = [shutil.which("snakemake"), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(project),
           "--cores", str(cores), "--quiet", "all"]
    peak = {"sum": 0, "single": 0}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    start = time.time()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def sample():
        p = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                rss = [p.memory_info().rss] + [c.memory_info().rss for c in p.children(recursive=True)]
            except psutil.Error:
                rss = [0]
            peak["sum"], peak["single"] = max(peak["sum"], sum(rss)), max(peak["single"], max(rss))
            time.sleep(0.1)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # user + sys of Snakemake and every process it waited for: less sensitive than wall to a
    # machine shared with other work
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    done.set()
    t.join()
    if proc.returncode:
        raise SystemExit(f"snakemake failed on {project}:\n{err[-3000:]}")
    # when each step ended (its outputs' modification times), from the start
    res = next((project / "results").iterdir())
    ends = {"trials": max(p.stat().st_mtime for p in (res / "trials").glob("*.h5"))}
    for step, name in (("store", "study_tables.h5"), ("statistics", "study.h5"),
                       ("figures", "figures/index.json"), ("report", "report.html")):
        ends[step] = (res / name).stat().st_mtime
    steps, prev = {}, start
    for step, end in ends.items():
        steps[step] = end - prev
        prev = end
    return {"wall_s": wall, "cpu_s": cpu, "peak_sum_mb": peak["sum"] / 2**20, "peak_single_mb": peak["single"] / 2**20,
            "steps": steps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, nargs="*", default=[10, 100, 1000])
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--no-default", action="store_true")
    args = ap.parse_args()
    print(f"# {platform.node()}: {psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
          f"Python {platform.python_version()}, snakemake --cores {args.cores}")
    print(f"# load average at the start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| study | trials | wall s | s per trial | CPU s (user + sys, all processes) | CPU s per trial "
          "| peak RSS, all processes MB | largest process MB | trials, store, statistics, figures, report s |")
    print("|---|---|---|---|---|---|---|---|---|")
    studies = [] if args.no_default else [("default", _rows(d := default_study()), d)]
    studies += [(f"synthetic {n}", n, make_study(n)) for n in args.trials]
    for name, n, d in studies:
        r = run(d, args.cores)
        print(f"| {name} | {n} | {r['wall_s']:.1f} | {r['wall_s'] / n:.2f} | {r['cpu_s']:.1f} | {r['cpu_s'] / n:.2f} | "
              f"{r['peak_sum_mb']:.0f} | "
              f"{r['peak_single_mb']:.0f} | {', '.join(f'{v:.1f}' for v in r['steps'].values())} |", flush=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
