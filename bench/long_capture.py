"""Peak memory and wall time of long captures end to end (issue #4: one hour at 200 Hz in <= 2 GB).

For each duration: ``chainlab simulate`` writes one treadmill-like capture at 200 Hz with both
force plates (analogs at 1 kHz, markers with 1 mm noise and 1 % gaps), then ``chainlab trial``
runs it through reading, kinematics, gait events, cycles and measures into its trial output
file, in chunks. Each command runs as a child process; its peak RSS is the child's
``ru_maxrss`` (os.wait4), which other processes on the machine do not disturb. Wall times are
what they are on the machine at the time (shared machines: say so).

    python bench/long_capture.py                       # 10, 30 and 60 minutes
    python bench/long_capture.py --minutes 60 --chunk-frames 20000 --threads 2
    python bench/long_capture.py --minutes 10 --one-chunk   # also the whole capture as one chunk, for comparison

Captures are kept in --work (default /tmp/chainlab-long) and reused when already there.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "data/biomechzoo/HC030A/Static/HC030A01.c3d"
DYNAMIC = ROOT / "data/biomechzoo/HC030A/Straight/HC030A05.c3d"

def run(cmd: list[str], log: Path) -> tuple[float, float, int]:
    """Run a command; (wall s, peak RSS MiB, return code). stderr goes to `log`."""
    t0 = time.monotonic()
    with open(log, "w") as err:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        out = p.stdout.read()
        _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    if out.strip():
        print("   ", out.strip().splitlines()[-1])
    return wall, usage.ru_maxrss / 1024.0, p.returncode  # ru_maxrss is in KiB on Linux


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1])
        mem = f"{kb / 1024**2:.0f} GiB RAM"
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, {mem}, Python {platform.python_version()}, {platform.system()}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, nargs="+", default=[10, 30, 60])
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--chunk-frames", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--solver", default="direct", choices=("direct", "global"))
    ap.add_argument("--work", default="/tmp/chainlab-long")
    ap.add_argument("--one-chunk", action="store_true", help="also run the whole capture as one chunk")
    args = ap.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    chainlab = ["chainlab"]
    print(f"machine: {machine()}")
    print(f"chunk {args.chunk_frames} frames, {args.threads} threads, solver {args.solver}")
    rows = []
    for minutes in args.minutes:
        seconds = minutes * 60.0
        sim = work / f"sim_{minutes:g}min_{args.rate:g}Hz"
        dyn, sta = sim / "S01" / "S01_control_01.c3d", sim / "S01" / "S01_static.c3d"
        sim_wall = sim_rss = float("nan")
        if not dyn.exists():
            cmd = chainlab + ["simulate", str(sim), "--static", str(STATIC), "--dynamic", str(DYNAMIC),
                              "--subjects", "1", "--trials", "1", "--condition", "control",
                              "--duration", f"{seconds:g}", "--rate", f"{args.rate:g}", "--no-truth",
                              "--noise", "1", "--gaps", "0.01", "--seed", "0"]
            print("$", " ".join(cmd))
            sim_wall, sim_rss, rc = run(cmd, work / f"simulate_{minutes:g}.log")
            if rc:
                print(f"simulate failed (rc {rc}); see {work}/simulate_{minutes:g}.log")
                return 1
        out = work / f"trial_{minutes:g}min.h5"
        cmd = chainlab + ["trial", "--subject", "S01", "--condition", "control", "--trial", "S01_control_01",
                          "--static", str(sta), "--dynamic", str(dyn), "-o", str(out),
                          "--chunk-frames", str(args.chunk_frames), "--threads", str(args.threads),
                          "--solver", args.solver]
        print("$", " ".join(cmd))
        wall, rss, rc = run(cmd, work / f"trial_{minutes:g}.log")
        failed = subprocess.run([sys.executable, "-c", "import sys, h5py; a = h5py.File(sys.argv[1]).attrs; "
                                 "print(a.get('reason', '') if a.get('failed') else '')", str(out)],
                                capture_output=True, text=True).stdout.strip()
        if rc or failed:
            print(f"trial failed (rc {rc}) {failed}; see {work}/trial_{minutes:g}.log")
            return 1
        frames = int(round(seconds * args.rate))
        row = {"minutes": minutes, "frames": frames, "c3d_MiB": dyn.stat().st_size / 2**20,
               "out_MiB": out.stat().st_size / 2**20, "trial_wall_s": wall, "trial_peak_rss_MiB": rss,
               "simulate_wall_s": sim_wall, "simulate_peak_rss_MiB": sim_rss}
        if args.one_chunk:
            i = cmd.index("--chunk-frames")
            cmd = cmd[:i] + ["--chunk-frames", str(frames)] + cmd[i + 2:]
            cmd[cmd.index("-o") + 1] = str(work / f"trial_{minutes:g}min_one_chunk.h5")
            print("$", " ".join(cmd))
            row["one_chunk_wall_s"], row["one_chunk_peak_rss_MiB"], rc = run(cmd, work / f"one_chunk_{minutes:g}.log")
            if rc:
                print(f"   one-chunk run failed (rc {rc}); see {work}/one_chunk_{minutes:g}.log")
        rows.append(row)
        print("   " + ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
    print()
    print("| capture | frames | C3D (MiB) | trial output (MiB) | `chainlab trial` peak RSS (MiB) | wall (s, under load) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['minutes']:g} min | {r['frames']:,} | {r['c3d_MiB']:.0f} | {r['out_MiB']:.0f} | "
              f"{r['trial_peak_rss_MiB']:.0f} | {r['trial_wall_s']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
