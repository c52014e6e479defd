"""chainlab against pyCGM on one Vicon Nexus trial: whole process, in memory, agreement with Nexus.

pyCGM lives in its own environment, never the project's; this script downloads nothing. Make it
once (pyCGM 1.0 from PyPI needs only NumPy; leave ezc3d out of it, so pyCGM uses its own reader):

    python3.11 -m venv /work/pycgm-venv
    /work/pycgm-venv/bin/pip install numpy pycgm==1.0
        (offline: pip download --no-deps pycgm==1.0, then
         pip install numpy ./pyCGM-1.0-py3-none-any.whl)

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
- `chainlab --help`, and `python -X importtime -c "import chainlab.cli.kinematics"` (what the
  command imports; largest cumulative entries), `import chainlab` and `import chainlab.cli`;
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
import resource
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
VSK_NAMES = {k: k for k in ("Bodymass", "Height", "InterAsisDistance")} | {
    f"{side}{name}": f"{side[0]}{name}"
    for side in ("Left", "Right")
    for name in ("LegLength", "KneeWidth", "AnkleWidth", "TibialTorsion", "ShoulderOffset",
                 "ElbowWidth", "WristWidth", "HandThickness", "AsisTrocanterDistance")
}
# Nexus' static foot offsets (radians), as a Nexus .vsk holds them: pyCGM's command line ignores
# them (it computes its own); pycgm_worker.py also runs pyCGM with them
VSK_OFFSETS = {f"{side}Static{name}": f"{side[0]}Static{name}"
               for side in ("Right", "Left") for name in ("RotOff", "PlantFlex")}
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
    where = ("import importlib.util as u; "
             "print(u.find_spec('pyCGM_Single').submodule_search_locations[0])")
    found = subprocess.run([py, "-c", where], capture_output=True, text=True)
    if found.returncode:
        sys.exit(f"{py}: pyCGM is not installed there (no module pyCGM_Single): "
                 f"{found.stderr.strip()[-300:]}")
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    shutil.copytree(Path(found.stdout.strip()), WORK / "pyCGM_Single",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name, old, new in PATCHES:
        f = WORK / "pyCGM_Single" / name
        text = f.read_text()
        if text.count(old) != 1:
            sys.exit(f"{f}: expected the text {old!r} once (pyCGM 1.0), found it "
                     f"{text.count(old)} times")
        f.write_text(text.replace(old, new))
    for src in (dynamic, static):
        shutil.copyfile(src, WORK / src.name)
    meas = read_c3d(static).measurements
    have = set(meas.measurement.values.tolist())
    missing = sorted(v for v in (VSK_NAMES | VSK_OFFSETS).values() if v not in have)
    if missing:
        sys.exit(f"{static}: PROCESSING lacks {missing}, needed for pyCGM's subject file")
    rows = "".join(f'  <Parameter NAME="{k}" VALUE="{float(meas.sel(measurement=v))!r}"/>\n'
                   for k, v in (VSK_NAMES | VSK_OFFSETS).items())
    (WORK / "subject.vsk").write_text(f'<?xml version="1.0"?>\n<KinematicModel>\n <Parameters>\n'
                                      f'{rows} </Parameters>\n</KinematicModel>\n')


CPU: dict[str, list[float]] = {}  # CPU s (user + system) of each timed command, by name


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(cmd: list, env: dict | None = None, name: str | None = None) -> float:
    """Wall time of `cmd`; its CPU time (user + system) is kept in CPU[name]."""
    c = _children_cpu()
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=WORK, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t
    if p.returncode:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    if name is not None:
        CPU.setdefault(name, []).append(_children_cpu() - c)
    return dt


def stats(xs: list[float]) -> str:
    return f"{min(xs):.2f} | {statistics.median(xs):.2f} | {max(xs):.2f}"


def import_table(top: int, module: str = "chainlab") -> tuple[list, float]:
    """`python -X importtime -c "import MODULE"`: the `top` largest cumulative entries
    (cumulative ms, self ms, name), and the import's total (ms)."""
    p = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                       capture_output=True, text=True, check=True)
    rows, total = [], 0.0
    parts = module.split(".")
    parents = {".".join(parts[: i + 1]) for i in range(len(parts))}
    for line in p.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append((int(m[2]) / 1e3, int(m[1]) / 1e3, m[4]))
            if len(m[3]) == 1 and m[4] in parents:  # top level: `module` and its packages
                total += int(m[2]) / 1e3
    return sorted(rows, reverse=True)[:top], total


def fmt(values, spec: str) -> str:
    return " ".join(format(x, spec) for x in values)


def rms(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
    d = (a - b + 180.0) % 360.0 - 180.0
    ok = np.isfinite(d).all(axis=1)
    return np.sqrt(np.mean(d[ok] ** 2, axis=0)), int(ok.sum())


def whole_process(cmds: dict[str, list], repeat: int, envs: dict | None = None) -> dict[str, list[float]]:
    """Wall times of each command (run with envs[name] when given): one untimed run each, then
    `repeat` interleaved rounds (the order reversed every other round); CPU times in CPU."""
    envs = envs or {}
    for name, cmd in cmds.items():
        run(cmd, envs.get(name))  # bytecode compiled, files cached
    names = list(cmds)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(repeat):
        for name in names if i % 2 == 0 else names[::-1]:
            times[name].append(run(cmds[name], envs.get(name), name))
    return times


def in_memory(py: Path, dyn_name: str, st_name: str, repeat: int):
    """chainlab's and pyCGM's models on trials already loaded; chainlab's result, pyCGM's npz."""
    t = time.perf_counter()
    dyn, static = read_c3d(WORK / dyn_name), read_c3d(WORK / st_name)
    load_s = time.perf_counter() - t
    opts = KinematicsOptions(models=("pig",))
    kin = compute_kinematics(dyn, static, opts)  # untimed first call
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        kin = compute_kinematics(dyn, static, opts)
        times.append(time.perf_counter() - t)
    npz = WORK / "pycgm_memory.npz"
    subprocess.run([py, ROOT / "bench" / "pycgm_worker.py", WORK, dyn_name, st_name,
                    "subject.vsk", str(repeat), npz], cwd=WORK, check=True)
    return dyn, static, kin, load_s, times, dict(np.load(npz))


def agreement(dyn, kin, pc: dict) -> list[tuple]:
    """RMS against Nexus of each compared output: chainlab, then pyCGM's three runs."""
    labels = list(pc["labels"])
    if pc["angles"].shape[0] != dyn.sizes["frame"]:
        sys.exit(f"pyCGM returned {pc['angles'].shape[0]} frames for {dyn.attrs['source_file']}, "
                 f"chainlab read {dyn.sizes['frame']}")
    rows = []
    for out, label in COMPARED.items():
        nexus = dyn.model_outputs.sel(output=out).values
        c, nc = rms(kin.angles.sel(output=out).values, nexus)
        k = labels.index(label)
        p, npc = rms(pc["angles"][:, k], nexus)
        p_y, _ = rms(pc["angles_gcs_y"][:, k], nexus)
        p_yo, _ = rms(pc["angles_gcs_y_nexus_offsets"][:, k], nexus)
        rows.append((out, label, c, p, p_y, p_yo, nc if nc == npc else f"{nc} / {npc}"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pycgm", type=Path, required=True,
                    help="pyCGM's venv folder (or its python)")
    ap.add_argument("--dynamic", type=Path, default=DYNAMIC)
    ap.add_argument("--static", type=Path, default=STATIC)
    ap.add_argument("--repeat", type=int, default=10, help="timed runs of each command")
    ap.add_argument("--repeat-memory", type=int, default=5,
                    help="timed in-memory runs of each tool")
    ap.add_argument("--import-rows", type=int, default=15)
    ap.add_argument("--other-src", type=Path, default=None,
                    help="another checkout's src folder (e.g. before a change): its `chainlab kinematics` "
                         "is timed too, interleaved, and compared run by run")
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
    cmds = {
        "chainlab": [chainlab_exe, "kinematics", dyn_name, "--static", st_name, "--models", "pig",
                     "-o", "chainlab_out.h5"],
        "pyCGM": [py, "-m", "pyCGM_Single.runpyCGM", "-i", dyn_name, "-o", "pycgm_out", "-v",
                  "subject.vsk", "--staticinput", st_name],
        "help": [chainlab_exe, "--help"],
    }
    envs = {}
    if args.other_src:  # the same command from another checkout, interleaved with the others
        cmds["other"] = list(cmds["chainlab"][:-1]) + ["other_out.h5"]
        envs["other"] = dict(os.environ, PYTHONPATH=str(args.other_src.resolve()))
    load0 = os.getloadavg()
    pyver = subprocess.run(
        [py, "-c", "import sys, numpy; print(sys.version.split()[0], numpy.__version__)"],
        capture_output=True, text=True, check=True).stdout.split()
    times = whole_process(cmds, args.repeat, envs)
    # what `chainlab kinematics` imports: the dispatcher loads chainlab.cli.kinematics alone
    imports, import_total = min((import_table(args.import_rows, "chainlab.cli.kinematics") for _ in range(3)),
                                key=lambda r: r[1])
    chainlab_total = min(import_table(0, "chainlab")[1] for _ in range(3))
    cli_total = min(import_table(0, "chainlab.cli")[1] for _ in range(3))
    dyn, static, kin, load_s, mem, pc = in_memory(py, dyn_name, st_name, args.repeat_memory)
    load1 = os.getloadavg()
    n = pc["angles"][0].size
    cli_angles = np.loadtxt(WORK / "pycgm_out.csv", delimiter=",")[:, 1 : 1 + n]
    cli_vs_memory = np.nanmax(np.abs(cli_angles - pc["angles"].reshape(len(cli_angles), n)))
    rows = agreement(dyn, kin, pc)

    # report (Markdown)
    med = statistics.median
    frames = dyn.sizes["frame"]
    pc_total = [a + b for a, b in zip(pc["static_s"], pc["frames_s"])]
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()[:10]
    trial = (args.dynamic.relative_to(ROOT.parent) if args.dynamic.is_relative_to(ROOT.parent)
             else args.dynamic)
    print(f"command: PYTHONPATH=$PWD/src python bench/vs_pycgm.py --pycgm {args.pycgm} "
          f"--repeat {args.repeat} --repeat-memory {args.repeat_memory}"
          + (f" --other-src {args.other_src}" if args.other_src else ""))
    print(f"trial: {trial} ({frames} frames, {dyn.attrs.get('software', '')} "
          f"{dyn.attrs.get('software_version', '')}), static {args.static.name} "
          f"({static.sizes['frame']} frames)")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()} (chainlab), Python {pyver[0]} + NumPy {pyver[1]} "
          f"(pyCGM 1.0, patched copy); load average (1 min) {load0[0]:.1f} at the start, "
          f"{load1[0]:.1f} at the end")
    print("```\n" + "\n".join(lscpu) + "\n```\n")
    print("Whole process (s, wall, subprocess from this script; CPU: user + system of the process):\n")
    print("| command | runs | min | median | max | CPU s median |\n|---|---|---|---|---|---|")
    cpu = {k: f"{med(v):.2f}" for k, v in CPU.items()}
    print(f"| `chainlab kinematics {dyn_name} --static {st_name} --models pig -o out.h5` | "
          f"{args.repeat} | {stats(times['chainlab'])} | {cpu['chainlab']} |")
    if args.other_src:
        print(f"| the same, chainlab of {args.other_src} | {args.repeat} | {stats(times['other'])} | "
              f"{cpu['other']} |")
    print(f"| `python -m pyCGM_Single.runpyCGM -i {dyn_name} -o out -v subject.vsk --staticinput "
          f"{st_name}` | {args.repeat} | {stats(times['pyCGM'])} | {cpu['pyCGM']} |")
    print(f"| `chainlab --help` | {args.repeat} | {stats(times['help'])} | {cpu['help']} |")
    pair = lambda a, b: [x / y for x, y in zip(times[a], times[b])]  # noqa: E731 (run by run, same round)
    print(f"\nchainlab / pyCGM, medians: {med(times['chainlab']) / med(times['pyCGM']):.2f} (wall), "
          f"{med(CPU['chainlab']) / med(CPU['pyCGM']):.2f} (CPU); per round (wall): "
          + " ".join(f"{r:.2f}" for r in pair("chainlab", "pyCGM")))
    if args.other_src:
        print(f"\nchainlab / chainlab of {args.other_src}, per round (wall): "
              + " ".join(f"{r:.2f}" for r in pair("chainlab", "other"))
              + f"; median of the rounds {med(pair('chainlab', 'other')):.2f}; other / pyCGM, medians "
              f"{med(times['other']) / med(times['pyCGM']):.2f}")
    print()
    print("In memory, trials already loaded (s; calibration on the static + every frame of the "
          "trial):\n")
    print("| tool | call | runs | min | median | max | frames/s (median) |")
    print("|---|---|---|---|---|---|---|")
    k = args.repeat_memory
    print(f"| chainlab | `compute_kinematics(dyn, static, KinematicsOptions(models=('pig',)))` | "
          f"{k} | {stats(mem)} | {frames / med(mem):,.0f} |")
    print(f"| pyCGM | `getStatic` + `calcAngles` | {k} | {stats(pc_total)} | "
          f"{frames / med(pc_total):,.0f} |")
    print(f"| pyCGM | of which `calcAngles` | {k} | {stats(list(pc['frames_s']))} | "
          f"{frames / med(pc['frames_s']):,.0f} |")
    print(f"\npyCGM / chainlab in memory, medians: {med(pc_total) / med(mem):.1f}x. Reading both "
          f"trials, first call in the process: chainlab `read_c3d` {load_s:.2f} s, pyCGM "
          f"`loadData` + `loadVSK` {float(pc['load_s']):.2f} s.\n")
    print(f"pyCGM's command line (its CSV) and its in-memory run agree to {cli_vs_memory:.1e} "
          "deg.\n")
    print("Agreement with the Nexus outputs stored in the trial (RMS, deg, x y z; frames compared, "
          "chainlab / pyCGM when they differ). pyCGM as its command line runs it (lab axes for a "
          "walk along +X, its own static foot offsets); in memory with its lab axes set for a walk "
          "along +Y (`GCS`); and with those axes and Nexus' static foot offsets:\n")
    print("| Nexus output | pyCGM output | chainlab | pyCGM | pyCGM, GCS +Y | pyCGM, GCS +Y, "
          "Nexus' offsets | frames |")
    print("|---|---|---|---|---|---|---|")
    for out, label, c, p, p_y, p_yo, nf in rows:
        print(f"| {out} | {label} | {fmt(c, '.1e')} | {fmt(p, '.2f')} | {fmt(p_y, '.2f')} | "
              f"{fmt(p_yo, '.2f')} | {nf} |")
    print("\nStatic foot offsets (rad), pyCGM's from the static trial / Nexus': " + ", ".join(
        f"{name} {a:.3f} / {b:.3f}" for name, (a, b) in zip(VSK_OFFSETS, pc["offsets"])))
    print(f"\n`python -X importtime -c \"import chainlab.cli.kinematics\"` (what `chainlab kinematics` "
          f"imports), the fastest of 3: {import_total:,.0f} ms cumulative (`import chainlab`: "
          f"{chainlab_total:,.0f} ms; `import chainlab.cli`, the dispatcher `chainlab --help` runs: "
          f"{cli_total:,.0f} ms); the {len(imports)} largest cumulative entries:\n")
    print("| module | cumulative ms | self ms |\n|---|---|---|")
    for cum, own, name in imports:
        print(f"| {name} | {cum:,.1f} | {own:,.1f} |")


if __name__ == "__main__":
    main()
