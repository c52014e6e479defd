"""Helpers of the workflow tests: a tiny study, running Snakemake on it, comparing outputs."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from .conftest import ROOT, STUDY

#: Files whose bytes legitimately differ between two runs of the same study.
VOLATILE = {".pdf"}  # PDFs carry their creation time


def snakemake_or_skip():
    import pytest

    exe = shutil.which("snakemake")
    if exe is None:
        pytest.skip("snakemake not installed (pip install -e '.[test]' installs it)")
    return exe


def make_tiny_study(d: Path, permutations: int = 200) -> Path:
    """A study folder: two real walks of data/biomechzoo, a synthetic trial made by the
    simulator, a truncated (broken) capture and a row whose capture does not exist."""
    from chainlab.simulate import Condition, SimulationOptions, simulate_study

    d.mkdir(parents=True, exist_ok=True)
    broken = d / "captures" / "broken.c3d"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_bytes((STUDY / "HC030A/Turn/HC030A22.c3d").read_bytes()[:20_000])
    sim = simulate_study(STUDY / "HC030A/Static/HC030A01.c3d", STUDY / "HC030A/Straight/HC030A05.c3d",
                         d / "captures" / "synthetic",
                         SimulationOptions(subjects=1, trials=1, cycles=3, conditions=(Condition("Straight"),),
                                           seed=3))
    static = STUDY / "HC030A/Static/HC030A01.c3d"
    rows = [
        ("HC030A", "Straight", "HC030A05", static, STUDY / "HC030A/Straight/HC030A05.c3d"),
        ("HC033A", "Straight", "HC033A10", STUDY / "HC033A/Static/HC033A01.c3d",
         STUDY / "HC033A/Straight/HC033A10.c3d"),
        ("S01", "Straight", "SYNTH01", f"captures/synthetic/{sim.static[0]}", f"captures/synthetic/{sim.dynamic[0]}"),
        ("HC030A", "Turn", "BROKEN", static, "captures/broken.c3d"),
        ("HC030A", "Turn", "MISSING", static, "captures/not_there.c3d"),
    ]
    (d / "config").mkdir(exist_ok=True)
    pd.DataFrame(rows, columns=["subject", "condition", "trial", "static", "dynamic"]).to_csv(
        d / "config" / "trials.tsv", sep="\t", index=False)
    (d / "config" / "config.yaml").write_text(
        "study: tiny\ntrials: config/trials.tsv\n"
        f"statistics:\n  permutations: {permutations}\n"
        "figures:\n  formats: [html, json, svg]\n")
    return d


def run_snakemake(project: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    exe = snakemake_or_skip()
    return subprocess.run([exe, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(project),
                           "--cores", "2", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def start_snakemake(project: Path, *args: str) -> subprocess.Popen:
    """Snakemake in its own process group (so the test can stop it and its jobs)."""
    exe = snakemake_or_skip()
    return subprocess.Popen([exe, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(project),
                             "--cores", "2", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            cwd=ROOT, start_new_session=True)


def stop_when(proc: subprocess.Popen, ready, sig: int, timeout: float = 300) -> None:
    """Send `sig` to the process group of `proc` once ``ready()`` is true."""
    t0 = time.monotonic()
    while not ready():
        if proc.poll() is not None:
            raise AssertionError("the run ended before it could be stopped:\n" + proc.stdout.read().decode()[-2000:])
        if time.monotonic() - t0 > timeout:
            raise AssertionError("timed out waiting to stop the run")
        time.sleep(0.05)
    os.killpg(proc.pid, sig)
    proc.wait(timeout=120)


def outputs(results: Path) -> list[Path]:
    """Every output file under `results` (relative), logs and temporary files aside."""
    return sorted(p.relative_to(results) for p in results.rglob("*")
                  if p.is_file() and "logs" not in p.relative_to(results).parts and not p.name.startswith("."))


def _h5_items(path: Path) -> dict:
    items = {}

    def visit(name, obj):
        # "created" is a timestamp; dimension-scale references point into their own file
        attrs = {k: v for k, v in obj.attrs.items() if k not in ("created", "DIMENSION_LIST", "REFERENCE_LIST")}
        items[name] = (obj[()] if isinstance(obj, h5py.Dataset) else None, attrs)

    with h5py.File(path, "r") as f:
        visit("/", f)
        f.visititems(visit)
    return items


def _same_value(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype.kind != b.dtype.kind:
            return False
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return bool(a == b)


def differences(a: Path, b: Path) -> list[str]:
    """What differs between two results folders: files present in one only, HDF5 files whose
    datasets or attributes differ (but for their creation time), other files whose bytes
    differ (but for PDFs)."""
    fa, fb = outputs(a), outputs(b)
    diff = [f"only in {a}: {p}" for p in sorted(set(fa) - set(fb))]
    diff += [f"only in {b}: {p}" for p in sorted(set(fb) - set(fa))]
    for p in sorted(set(fa) & set(fb)):
        if p.suffix in VOLATILE:
            continue
        if p.suffix == ".h5":
            ia, ib = _h5_items(a / p), _h5_items(b / p)
            if set(ia) != set(ib):
                diff.append(f"{p}: objects {sorted(set(ia) ^ set(ib))} in one only")
            for name in sorted(set(ia) & set(ib)):
                (da, aa), (db, ab) = ia[name], ib[name]
                if (da is None) != (db is None) or (da is not None and not _same_value(da, db)):
                    diff.append(f"{p}: {name} differs")
                if set(aa) != set(ab) or any(not _same_value(aa[k], ab[k]) for k in aa):
                    diff.append(f"{p}: attributes of {name} differ")
        elif (a / p).read_bytes() != (b / p).read_bytes():
            diff.append(f"{p}: bytes differ")
    return diff


