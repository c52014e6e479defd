"""Helpers of the workflow tests: a tiny study and running Snakemake on it (tests/outputs.py
compares two runs' outputs)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd

from chainlab.figures import find_browser

from .conftest import ROOT, STUDY


def snakemake_or_skip():
    import pytest

    exe = shutil.which("snakemake")
    if exe is None:
        pytest.skip("snakemake not installed (pip install -e '.[test]' installs it)")
    return exe


def make_tiny_study(d: Path, permutations: int = 200) -> Path:
    """A study folder: two real walks of data/biomechzoo, a synthetic trial made by the
    simulator, a truncated (broken) capture and a row whose capture does not exist. The sheet
    is config/trials.tsv: its relative paths start at config/ (../captures/...)."""
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
        ("S01", "Straight", "SYNTH01", f"../captures/synthetic/{sim.static[0]}",
         f"../captures/synthetic/{sim.dynamic[0]}"),
        ("HC030A", "Turn", "BROKEN", static, "../captures/broken.c3d"),
        ("HC030A", "Turn", "MISSING", static, "../captures/not_there.c3d"),
    ]
    (d / "config").mkdir(exist_ok=True)
    pd.DataFrame(rows, columns=["subject", "condition", "trial", "static", "dynamic"]).to_csv(
        d / "config" / "trials.tsv", sep="\t", index=False)
    (d / "config" / "config.yaml").write_text(
        "study: tiny\ntrials: config/trials.tsv\n"
        f"statistics:\n  permutations: {permutations}\n"
        "figures:\n  formats: [html, json, svg]\n")
    return d


def run_snakemake(project: Path, *args: str, timeout: float = 900, env: dict | None = None
                  ) -> subprocess.CompletedProcess:
    """snakemake --cores 2 on `project`, started in the project root (so the default profile
    is read as a user's `snakemake` reads it)."""
    exe = snakemake_or_skip()
    return subprocess.run([exe, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(project),
                           "--cores", "2", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, **(env or {})})


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


def assert_report_embeds_the_figures(report: Path, figures: Path, names) -> None:
    """A report of `snakemake --report` loads no script from the network, embeds each named
    figure's SVG byte for byte (every one where a Chrome/Chromium is there to draw them) and
    the study's own report.html (every figure interactive, plotly.js once), and no figure HTML
    (which needs plotly.min.js beside it, so would show nothing there)."""
    import base64
    import re

    text = report.read_text()
    assert not re.search(r"<script[^>]+src=\"https?:", text)

    def embedded(name):
        m = re.search(rf"data:[^;,]+;charset=utf8;filename={re.escape(name)};base64,([A-Za-z0-9+/=]+)", text)
        return base64.b64decode(m.group(1)) if m else None

    browser = find_browser()
    for name in names:
        assert embedded(f"{name}.html") is None, f"{name}.html in the report: it would render blank"
        svg = figures / f"{name}.svg"
        if browser or svg.exists():
            assert svg.exists(), f"{svg} not drawn, though {browser} is there to draw it"
            assert embedded(f"{name}.svg") == svg.read_bytes(), f"{name}.svg not in the report"
    if (figures.parent / "report.html").exists():  # a workflow that ran its report rule
        study_report = embedded("report.html")
        assert study_report == (figures.parent / "report.html").read_bytes()
        assert study_report.count(b"plotly.js v") == 1  # plotly.js once (its banner), not per figure
