"""chainlab against pyCGM on one Vicon Nexus trial: whole process, in memory, agreement with Nexus.

pyCGM lives in its own environment, never the project's; this script downloads nothing. Make it
once (pyCGM 1.0 from PyPI needs only NumPy; leave ezc3d out of it, so pyCGM uses its own reader):

    python3.11 -m venv /work/pycgm-venv
    /work/pycgm-venv/bin/pip install numpy pycgm==1.0
        (offline: pip download --no-deps pycgm==1.0, then pip install numpy ./pyCGM-1.0-py3-none-any.whl)

then, from the repository root, with chainlab's environment active:

    PYTHONPATH=$PWD/src python bench/vs_pycgm.py --pycgm /work/pycgm-venv [--repeat 10]

The PyPI 1.0 wheel does not run on Python >= 3.9 as installed. This script copies its package
(pyCGM_Single) into bench/out/vs_pycgm/ and patches the copy, never the install (PATCHES below):
array.fromstring -> array.frombytes (removed in Python 3.9), and the command line's
`import pycgmIO` (a module that imports package-relatively) -> `from pyCGM_Single import ...`.
pyCGM's command line is then `python -m pyCGM_Single.runpyCGM -i DYN -o OUT -v SUBJECT.vsk
--staticinput STATIC`, run from that folder (it opens './' + DYN).

Both tools get the same files: the trial and its static copied into that folder. pyCGM reads the
subject's measurements from a .vsk; it is written from the static trial's PROCESSING group (the
values Nexus used; VSK_NAMES). Measured:

- whole process: `chainlab kinematics DYN --static STATIC --models pig -o out.h5` and pyCGM's
  command, one untimed run each, then --repeat interleaved runs (order alternating); wall time;
- `chainlab --help`, and `python -X importtime -c "import chainlab"` (largest cumulative entries);
- in memory, data already loaded: `compute_kinematics(dyn, static, pig only)` against pyCGM's
  `pycgmStatic.getStatic` + `pycgmCalc.calcAngles` (bench/pycgm_worker.py, in pyCGM's environment);
- agreement: RMS (deg) of each output against the Nexus outputs stored in the trial, x, y, z,
  differences wrapped into [-180, 180), over the frames where both are finite.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from chainlab import read_c3d
from chainlab.kinematics import KinematicsOptions, compute_kinematics

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "c3d" / "biomechzoo"
DYNAMIC = DATA / "HC032A" / "Turn" / "HC032A18.c3d"  # 337 frames, Nexus 2.2
STATIC = DATA / "HC032A" / "Static" / "HC032A01.c3d"
WORK = ROOT / "bench" / "out" / "vs_pycgm"

# (file in pyCGM_Single, text in the wheel, replacement): each must occur exactly once
PATCHES = (
    ("c3dpy3.py", "elems.fromstring(self.bytes)", "elems.frombytes(self.bytes)"),
    ("runpyCGM.py", "import pycgmStatic\nimport pycgmIO\nimport pycgmCalc",
     "from pyCGM_Single import pycgmStatic, pycgmIO, pycgmCalc"),
)
# pyCGM's .vsk names -> the PROCESSING parameter Nexus stores
VSK_NAMES = {"Bodymass": "Bodymass", "Height": "Height", "InterAsisDistance": "InterAsisDistance"} | {
    f"{side}{name}": f"{side[0]}{name}"
    for side in ("Left", "Right")
    for name in ("LegLength", "KneeWidth", "AnkleWidth", "TibialTorsion", "ShoulderOffset",
                 "ElbowWidth", "WristWidth", "HandThickness", "AsisTrocanterDistance")
}
# Nexus output -> pyCGM's label (pycgmIO.writeResult); pyCGM has one pelvis output
COMPARED = {
    "LPelvisAngles": "Pelvis", "RPelvisAngles": "Pelvis",
    **{f"{s}{n}Angles": f"{s} {p}" for s in "LR" for n, p in
       (("Hip", "Hip"), ("Knee", "Knee"), ("Ankle", "Ankle"), ("FootProgress", "Foot"))},
}


def pycgm_python(path: Path) -> Path:
    """The Python of a pyCGM environment: `path` itself, or path/bin/python."""
    py = path if path.is_file() else path / "bin" / "python"
    if not py.is_file():
        sys.exit(f"--pycgm {path}: no Python there (expected a venv folder with bin/python, or the "
                 "python executable); make one as this script's docstring says")
    return py


def prepare(py: Path, dynamic: Path, static: Path) -> None:
    """Copy pyCGM's package into WORK and patch it; copy the trials; write the subject's .vsk."""
    found = subprocess.run(
        [py, "-c", "import importlib.util as u; print(u.find_spec('pyCGM_Single').submodule_search_locations[0])"],
        capture_output=True, text=True)
    if found.returncode:
        sys.exit(f"{py}: pyCGM is not installed there (no module pyCGM_Single): {found.stderr.strip()[-300:]}")
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    shutil.copytree(Path(found.stdout.strip()), WORK / "pyCGM_Single",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name, old, new in PATCHES:
        f = WORK / "pyCGM_Single" / name
        text = f.read_text()
        if text.count(old) != 1:
            sys.exit(f"{f}: expected the text {old!r} once (pyCGM 1.0), found it {text.count(old)} times")
        f.write_text(text.replace(old, new))
    for src in (dynamic, static):
        shutil.copyfile(src, WORK / src.name)
    meas = read_c3d(static).measurements
    have = set(meas.measurement.values.tolist())
    missing = sorted(v for v in VSK_NAMES.values() if v not in have)
    if missing:
        sys.exit(f"{static}: PROCESSING lacks {missing}, needed for pyCGM's subject file")
    rows = "".join(f'  <Parameter NAME="{k}" VALUE="{float(meas.sel(measurement=v))!r}"/>\n'
                   for k, v in VSK_NAMES.items())
    (WORK / "subject.vsk").write_text(
        f'<?xml version="1.0"?>\n<KinematicModel>\n <Parameters>\n{rows} </Parameters>\n</KinematicModel>\n')


def run(cmd: list, env: dict | None = None) -> float:
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=WORK, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t
    if p.returncode:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    return dt


def stats(xs: list[float]) -> str:
    return f"{min(xs):.2f} | {statistics.median(xs):.2f} | {max(xs):.2f}"


def import_table(top: int, module: str = "chainlab") -> tuple[list[tuple[float, float, str]], float]:
    """`python -X importtime -c "import MODULE"`: the `top` largest cumulative entries (ms), total."""
    p = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                       capture_output=True, text=True, check=True)
    rows = []
    for line in p.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m:
            rows.append((int(m[2]) / 1e3, int(m[1]) / 1e3, m[4]))
    total = next(c for c, _, name in rows if name == module)
    return sorted(rows, reverse=True)[:top], total


def rms(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
    d = (a - b + 180.0) % 360.0 - 180.0
    ok = np.isfinite(d).all(axis=1)
    return np.sqrt(np.mean(d[ok] ** 2, axis=0)), int(ok.sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pycgm", type=Path, required=True, help="pyCGM's venv folder (or its python)")
    ap.add_argument("--dynamic", type=Path, default=DYNAMIC)
    ap.add_argument("--static", type=Path, default=STATIC)
    ap.add_argument("--repeat", type=int, default=10, help="timed runs of each command")
    ap.add_argument("--repeat-memory", type=int, default=5, help="timed in-memory runs of each tool")
    ap.add_argument("--import-rows", type=int, default=15)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    py = pycgm_python(args.pycgm)
    chainlab_exe = shutil.which("chainlab")
    if chainlab_exe is None:
        sys.exit("no `chainlab` command on PATH: activate chainlab's environment")
    for f in (args.dynamic, args.static):
        if not f.is_file():
            sys.exit(f"{f}: no such trial (give --dynamic and --static)")
    prepare(py, args.dynamic, args.static)
    dyn_name, st_name = args.dynamic.name, args.static.name
    cmd_chainlab = [chainlab_exe, "kinematics", dyn_name, "--static", st_name, "--models", "pig",
                    "-o", "chainlab_out.h5"]
    cmd_pycgm = [py, "-m", "pyCGM_Single.runpyCGM", "-i", dyn_name, "-o", "pycgm_out", "-v",
                 "subject.vsk", "--staticinput", st_name]
    load0 = os.getloadavg()
    pyver = subprocess.run([py, "-c", "import sys, numpy; print(sys.version.split()[0], numpy.__version__)"],
                           capture_output=True, text=True, check=True).stdout.split()

    # whole process, interleaved
    run(cmd_chainlab), run(cmd_pycgm)  # untimed: bytecode compiled, files cached
    times: dict[str, list[float]] = {"chainlab": [], "pyCGM": [], "help": []}
    for i in range(args.repeat):
        pair = (("chainlab", cmd_chainlab), ("pyCGM", cmd_pycgm))
        for name, cmd in pair if i % 2 == 0 else pair[::-1]:
            times[name].append(run(cmd))
        times["help"].append(run([chainlab_exe, "--help"]))
    imports, import_total = import_table(args.import_rows)
    cli_total = import_table(0, "chainlab.cli")[1]

    # in memory
    t = time.perf_counter()
    dyn, static = read_c3d(WORK / dyn_name), read_c3d(WORK / st_name)
    chainlab_load = time.perf_counter() - t
    opts = KinematicsOptions(models=("pig",))
    kin = compute_kinematics(dyn, static, opts)  # untimed first call
    chainlab_mem = []
    for _ in range(args.repeat_memory):
        t = time.perf_counter()
        kin = compute_kinematics(dyn, static, opts)
        chainlab_mem.append(time.perf_counter() - t)
    npz = WORK / "pycgm_memory.npz"
    subprocess.run([py, ROOT / "bench" / "pycgm_worker.py", WORK, dyn_name, st_name, "subject.vsk",
                    str(args.repeat_memory), npz], cwd=WORK, check=True)
    pc = np.load(npz)
    pc_total = [a + b for a, b in zip(pc["static_s"], pc["frames_s"])]
    load1 = os.getloadavg()

    # agreement with Nexus
    frames = dyn.sizes["frame"]
    labels = list(pc["labels"])
    if pc["angles"].shape[0] != frames:
        sys.exit(f"pyCGM returned {pc['angles'].shape[0]} frames for {dyn_name}, chainlab read {frames}")
    agree = []
    for out, label in COMPARED.items():
        nexus = dyn.model_outputs.sel(output=out).values
        c, nc = rms(kin.angles.sel(output=out).values, nexus)
        p, npc = rms(pc["angles"][:, labels.index(label)], nexus)
        agree.append((out, label, c, nc, p, npc))

    # report
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()[:10]
    print(f"command: PYTHONPATH=$PWD/src python bench/vs_pycgm.py --pycgm {args.pycgm} "
          f"--repeat {args.repeat} --repeat-memory {args.repeat_memory}")
    print(f"trial: {args.dynamic.relative_to(ROOT.parent) if args.dynamic.is_relative_to(ROOT.parent) else args.dynamic}"
          f" ({frames} frames, {dyn.attrs.get('software', '')} {dyn.attrs.get('software_version', '')}), "
          f"static {args.static.name} ({static.sizes['frame']} frames)")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()} "
          f"(chainlab), Python {pyver[0]} + NumPy {pyver[1]} (pyCGM 1.0, patched copy); load average "
          f"(1 min) {load0[0]:.1f} at the start, {load1[0]:.1f} at the end")
    print("```\n" + "\n".join(lscpu) + "\n```\n")
    print("Whole process (s, wall, subprocess from this script):\n")
    print("| command | runs | min | median | max |\n|---|---|---|---|---|")
    print(f"| `chainlab kinematics {dyn_name} --static {st_name} --models pig -o out.h5` | "
          f"{args.repeat} | {stats(times['chainlab'])} |")
    print(f"| `python -m pyCGM_Single.runpyCGM -i {dyn_name} -o out -v subject.vsk --staticinput {st_name}` | "
          f"{args.repeat} | {stats(times['pyCGM'])} |")
    print(f"| `chainlab --help` | {args.repeat} | {stats(times['help'])} |")
    ratio = statistics.median(times["chainlab"]) / statistics.median(times["pyCGM"])
    print(f"\nchainlab / pyCGM, medians: {ratio:.2f}\n")
    print("In memory, trials already loaded (s; calibration on the static + every frame of the trial):\n")
    print("| tool | call | runs | min | median | max | frames/s (median) |\n|---|---|---|---|---|---|---|")
    print(f"| chainlab | `compute_kinematics(dyn, static, KinematicsOptions(models=('pig',)))` | "
          f"{args.repeat_memory} | {stats(chainlab_mem)} | {frames / statistics.median(chainlab_mem):,.0f} |")
    print(f"| pyCGM | `getStatic` + `calcAngles` | {args.repeat_memory} | {stats(pc_total)} | "
          f"{frames / statistics.median(pc_total):,.0f} |")
    print(f"| pyCGM | of which `calcAngles` | {args.repeat_memory} | {stats(list(pc['frames_s']))} | "
          f"{frames / statistics.median(pc['frames_s']):,.0f} |")
    print(f"\npyCGM / chainlab in memory, medians: "
          f"{statistics.median(pc_total) / statistics.median(chainlab_mem):.1f}x. Reading both trials, "
          f"first call in the process: chainlab `read_c3d` {chainlab_load:.2f} s, pyCGM `loadData` + "
          f"`loadVSK` {float(pc['load_s']):.2f} s.\n")
    print("Agreement with the Nexus outputs stored in the trial (RMS, deg; frames compared):\n")
    print("| Nexus output | pyCGM output | chainlab x | y | z | frames | pyCGM x | y | z | frames |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for out, label, c, nc, p, npc in agree:
        print(f"| {out} | {label} | {c[0]:.2g} | {c[1]:.2g} | {c[2]:.2g} | {nc} | "
              f"{p[0]:.3g} | {p[1]:.3g} | {p[2]:.3g} | {npc} |")
    print(f"\n`python -X importtime -c \"import chainlab\"`: chainlab {import_total:,.0f} ms cumulative; "
          f"the {len(imports)} largest cumulative entries (`import chainlab.cli`, what the command "
          f"imports: {cli_total:,.0f} ms cumulative):\n")
    print("| module | cumulative ms | self ms |\n|---|---|---|")
    for cum, own, name in imports:
        print(f"| {name} | {cum:,.1f} | {own:,.1f} |")


if __name__ == "__main__":
    main()
