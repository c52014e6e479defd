"""Benchmark: chainlab.read_c3d against ezc3d on a real trial and a long synthetic capture.

    python bench/read_c3d.py [--frames 60000] [--markers 100] [--repeat 3] [--rounds 1]
    python bench/read_c3d.py --first-call [--rounds 7] [--keep DIR]

Each reader runs in its own subprocess so that its peak memory (ru_maxrss) is its own.
Prints a Markdown table: best wall time of --repeat runs, MB/s of file size, peak RSS.

--first-call (issue #17): the first `read_c3d` in a fresh process (imports done before the
clock starts: `from chainlab import read_c3d`; the call still imports ezc3d, about 10 ms, on
its first parameter parse) against the reference `np.fromfile` of the same bytes + the points'
float64 conversion, in separate fresh processes, interleaved for --rounds rounds; medians.
The plates are computed on first use: a second chainlab row reads and then takes every plate
variable's values. A second reference row runs the reference in a process that has made the
reader's imports first: on a shared VM the kernel's page faults of a process that has imported
xarray and pandas can cost several times those of a bare numpy process (measured on
2026-12-03), which the plain reference row does not see. CPU = user + sys of the process over the timed part (threads included).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

READERS = {
    # `from chainlab import ...`: `import chainlab` alone is lazy, and the RSS "over imports"
    # is taken after the setup
    "chainlab.read_c3d": "from chainlab import read_c3d as f",
    "chainlab.read_c3d, then every plate variable's values": (
        "from chainlab import read_c3d\n"
        "def f(p):\n"
        "    ds = read_c3d(p)\n"
        "    for k in ('plate_force', 'plate_moment', 'plate_free_moment', 'plate_cop'): ds[k].values"
    ),
    "chainlab, 10k-frame chunks": (
        "from chainlab import iter_c3d_chunks\n"
        "def f(p):\n"
        "    for c in iter_c3d_chunks(p, chunk_frames=10_000): pass"
    ),
    "ezc3d.c3d(p, extract_forceplat_data=True)": (
        "import ezc3d; f = lambda p: ezc3d.c3d(p, extract_forceplat_data=True)"
    ),
    "ezc3d.c3d(p)": "import ezc3d; f = lambda p: ezc3d.c3d(p)",
}

CHILD = """
import resource, sys, time, warnings, json
warnings.simplefilter("ignore")
{setup}
path, repeat = sys.argv[1], int(sys.argv[2])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
times = []
for _ in range(repeat):
    t = time.perf_counter(); f(path); times.append(time.perf_counter() - t)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"best_s": min(times), "peak_rss_mb": peak / 1024, "rss_over_import_mb": (peak - base) / 1024}}))
"""


_REFERENCE = """
import numpy as np, sys, time, json, resource
path = sys.argv[1]
head = open(path, "rb").read(512)
n_points = int.from_bytes(head[2:4], "little"); n_analog = int.from_bytes(head[4:6], "little")
start = (int.from_bytes(head[16:18], "little") - 1) * 512
r0 = resource.getrusage(resource.RUSAGE_SELF)
t = time.perf_counter()
words = np.fromfile(path, dtype="<f4", offset=start)
frame = 4 * n_points + n_analog
words = words[: words.size // frame * frame].reshape(-1, frame)
points = words[:, : 4 * n_points].reshape(len(words), n_points, 4)[..., :3].astype(np.float64)
s = time.perf_counter() - t
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"s": s, "cpu": r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime}))
"""

FIRST = {
    "np.fromfile + points to float64 (reference)": _REFERENCE,
    "the reference after the reader's imports (`from chainlab import read_c3d` first)": (
        "from chainlab import read_c3d\n" + _REFERENCE),
    "chainlab.read_c3d, first call": """
import sys, time, json, warnings, resource
warnings.simplefilter("ignore")
from chainlab import read_c3d  # `import chainlab` alone is lazy: this imports the reader (xarray, pandas)
r0 = resource.getrusage(resource.RUSAGE_SELF)
t = time.perf_counter()
ds = read_c3d(sys.argv[1])
s = time.perf_counter() - t
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"s": s, "cpu": r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime,
                  "dask_imported": "dask" in sys.modules, "output_MB": ds.nbytes / 1e6}))
""",
    "chainlab.read_c3d, first call, then every plate variable's values": """
import sys, time, json, warnings, resource
warnings.simplefilter("ignore")
from chainlab import read_c3d
r0 = resource.getrusage(resource.RUSAGE_SELF)
t = time.perf_counter()
ds = read_c3d(sys.argv[1])
for k in ("plate_force", "plate_moment", "plate_free_moment", "plate_cop"):
    ds[k].values
s = time.perf_counter() - t
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"s": s, "cpu": r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime,
                  "dask_imported": "dask" in sys.modules}))
""",
}


PRIME = "import numpy as np; a = np.ones({mb} * 125_000); a += 1"


def first_call(path: Path, rounds: int, other_src: str | None = None, prime_mb: int = 0) -> None:
    """`other_src`: another checkout's src folder, run as a third reader (e.g. before a change).
    `prime_mb`: before each measured process, one that touches and frees this much memory, so
    that every reader starts as if after the same neighbour (see --prime)."""
    runs = {name: (code, None) for name, code in FIRST.items()}
    if other_src:
        env = dict(os.environ, PYTHONPATH=other_src)
        for name, code in FIRST.items():
            if name.startswith("chainlab."):
                runs[f"{name}, {other_src}"] = (code, env)
    times: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    extra = {}
    for _ in range(rounds):
        for name, (code, env) in runs.items():
            if prime_mb:
                subprocess.run([sys.executable, "-c", PRIME.format(mb=prime_mb)], check=True)
            out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                                 check=True, env=env)
            r = json.loads(out.stdout)
            times[name].append(r.pop("s"))
            cpu[name].append(r.pop("cpu"))
            extra[name] = r
    ref = float(np.median(times[next(iter(FIRST))]))
    ref_cpu = float(np.median(cpu[next(iter(FIRST))]))
    print("| reader (fresh process, first call) | median wall s | min s | max s | x reference (wall) "
          "| median CPU s (user+sys) | x reference (CPU) | notes |")
    print("|---|---|---|---|---|---|---|---|")
    for name, ts in times.items():
        med, mc = float(np.median(ts)), float(np.median(cpu[name]))
        notes = ", ".join(f"{k} {v:.0f}" if isinstance(v, float) else f"{k} {v}" for k, v in extra[name].items())
        print(f"| {name} | {med:.3f} | {min(ts):.3f} | {max(ts):.3f} | {med / ref:.1f} | {mc:.3f} | "
              f"{mc / ref_cpu:.1f} | {notes} |", flush=True)


def make_long_capture(path: Path, n_frames: int, n_markers: int) -> Path:
    """A float capture: n_markers at 100 Hz, two TYPE 2 plates (12 channels) at 1 kHz.

    ezc3d writes a short template with every parameter; the data section is then written
    here with numpy (walking markers, a sine load on each plate) and the header patched.
    """
    import ezc3d

    ratio, n_ch = 10, 12
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [100.0]
    c["parameters"]["POINT"]["UNITS"]["value"] = ["mm"]
    c["parameters"]["POINT"]["LABELS"]["value"] = tuple(f"M{i:03d}" for i in range(n_markers))
    c["parameters"]["ANALOG"]["RATE"]["value"] = [1000.0]
    c["parameters"]["ANALOG"]["LABELS"]["value"] = tuple(
        f"{q}{p}" for p in (1, 2) for q in ("Fx", "Fy", "Fz", "Mx", "My", "Mz")
    )
    c["parameters"]["ANALOG"]["UNITS"]["value"] = tuple(["N"] * 3 + ["Nmm"] * 3) * 2
    c["data"]["points"] = np.ones((4, n_markers, 1))
    c["data"]["analogs"] = np.zeros((1, n_ch, ratio))
    fp = c["parameters"]["FORCE_PLATFORM"]
    fp["USED"]["value"] = [2]
    fp["TYPE"]["value"] = [2, 2]
    fp["ZERO"]["value"] = [1, 0]
    corners = np.array(
        [[[0.5, 0, 0], [0, 0, 0], [0, 0.6, 0], [0.5, 0.6, 0]],
         [[1.0, 0, 0], [0.5, 0, 0], [0.5, 0.6, 0], [1.0, 0.6, 0]]]
    ) * 1000
    fp["CORNERS"]["value"] = corners.transpose(2, 1, 0)
    fp["ORIGIN"]["value"] = np.array([[0.0, 0.0, 40.0]] * 2).T
    fp["CHANNEL"]["value"] = np.arange(1, 13).reshape(2, 6).T
    fp["CAL_MATRIX"]["value"] = np.zeros((6, 6, 0))
    c.add_parameter("TRIAL", "ACTUAL_START_FIELD", [1, 0])
    c.add_parameter("TRIAL", "ACTUAL_END_FIELD", [n_frames % 65536, n_frames // 65536])
    tmpl = path.with_suffix(".template.c3d")
    c.write(str(tmpl))
    raw = bytearray(tmpl.read_bytes())
    tmpl.unlink()
    data_start = (int.from_bytes(raw[16:18], "little") - 1) * 512
    raw[8:10] = min(n_frames, 65535).to_bytes(2, "little")
    from chainlab.io import _c3dformat as fmt

    lay = fmt.read_layout(bytes(raw), len(raw))
    frames = fmt.find(lay, "POINT", "FRAMES")
    at = lay.param_start + frames.data_pos
    raw[at : at + 2] = min(n_frames, 65535).to_bytes(2, "little")  # as Vicon does (unsigned)
    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        f.write(raw[:data_start])
        step = 10_000
        offsets = rng.uniform(0, 1500, (n_markers, 3)).astype(np.float32)
        for s in range(0, n_frames, step):
            n = min(step, n_frames - s)
            t = (s + np.arange(n)) / 100.0
            pts = np.zeros((n, n_markers, 4), np.float32)
            pts[..., :3] = offsets + (1000 * t)[:, None, None] % 5000
            pts[..., 1] += (30 * np.sin(2 * np.pi * t))[:, None]
            ta = (s * ratio + np.arange(n * ratio)) / 1000.0
            load = np.clip(np.sin(2 * np.pi * ta), 0, None) * 700
            an = np.zeros((n * ratio, n_ch), np.float32)
            an[:, 2] = -load  # z points into these plates: the reaction is along -z
            an[:, 8] = -load[::-1]
            an[:, 3] = -20 * load
            an[:, 10] = 15 * load
            frame = np.concatenate([pts.reshape(n, -1), an.reshape(n, -1)], axis=1)
            f.write(frame.astype("<f4").tobytes())
        f.write(b"\0" * (-f.tell() % 512))
    return path


def run(reader: str, path: Path, repeat: int) -> dict:
    code = CHILD.format(setup=READERS[reader])
    out = subprocess.run([sys.executable, "-c", code, str(path), str(repeat)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=60_000)
    ap.add_argument("--markers", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--trial", default=str(ROOT / "data/biomechzoo/HC030A/Turn/HC030A22.c3d"))
    ap.add_argument("--first-call", action="store_true", help="first call vs np.fromfile (issue #17)")
    ap.add_argument("--rounds", type=int, default=1, help="interleaved rounds (medians reported)")
    ap.add_argument("--keep", help="folder to keep (and reuse) the long capture in")
    ap.add_argument("--other-src", help="with --first-call: also time chainlab from this src folder")
    ap.add_argument("--prime", type=int, default=0, metavar="MB",
                    help="with --first-call: run a process touching MB of memory before each measured one. "
                         "On this VM a process's first-touch page faults cost from 0.1 to 2 s for the same "
                         "300 MB depending on what the process before it freed; this evens that out")
    args = ap.parse_args()
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="chainlab-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    long_path = tmp / f"long_{args.frames}x{args.markers}.c3d"
    if not long_path.exists():
        make_long_capture(long_path, args.frames, args.markers)
    print(f"made {long_path} ({long_path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t:.1f} s",
          file=sys.stderr)
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {platform.platform()}")
    if args.first_call:
        print(f"command: python bench/read_c3d.py --first-call --frames {args.frames} --markers {args.markers} "
              f"--rounds {args.rounds}" + (f" --other-src {args.other_src}" if args.other_src else "")
              + (f" --prime {args.prime}" if args.prime else "") + "\n")
        first_call(long_path, args.rounds, args.other_src, args.prime)
        if not args.keep:
            long_path.unlink()
        return
    print(f"command: python bench/read_c3d.py --frames {args.frames} --markers {args.markers} "
          f"--repeat {args.repeat}\n")
    print("| file | MB | reader | best s | MB/s | peak RSS MB | RSS over imports MB |")
    print("|---|---|---|---|---|---|---|")
    for path in (Path(args.trial), long_path):
        mb = path.stat().st_size / 1e6
        for reader in READERS:
            if reader.startswith("chainlab, 10k") and path != long_path:
                continue
            r = run(reader, path, args.repeat)
            print(f"| {path.name} | {mb:.1f} | {reader} | {r['best_s']:.3f} | {mb / r['best_s']:.0f} | "
                  f"{r['peak_rss_mb']:.0f} | {r['rss_over_import_mb']:.0f} |", flush=True)
    if not args.keep:
        long_path.unlink()


if __name__ == "__main__":
    main()
