"""The Snakemake workflow end to end on a tiny study with one broken trial."""

from __future__ import annotations

import shutil
import subprocess

import pandas as pd
import pytest

from chainlab.io.study_store import open_study

from .conftest import ROOT, STUDY


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    if shutil.which("snakemake") is None:
        pytest.skip("snakemake not installed (pip install -e '.[test]' installs it)")
    d = tmp_path_factory.mktemp("study")
    broken = d / "broken.c3d"
    broken.write_bytes((STUDY / "HC030A/Turn/HC030A22.c3d").read_bytes()[:20_000])
    static = STUDY / "HC030A/Static/HC030A01.c3d"
    rows = [
        ("HC030A", "Straight", "HC030A05", static, STUDY / "HC030A/Straight/HC030A05.c3d"),
        ("HC033A", "Straight", "HC033A10", STUDY / "HC033A/Static/HC033A01.c3d", STUDY / "HC033A/Straight/HC033A10.c3d"),
        ("HC030A", "Turn", "BROKEN", static, broken),
    ]
    (d / "config").mkdir()
    pd.DataFrame(rows, columns=["subject", "condition", "trial", "static", "dynamic"]).to_csv(
        d / "config" / "trials.tsv", sep="\t", index=False)
    (d / "config" / "config.yaml").write_text(
        "study: tiny\ntrials: config/trials.tsv\nstatistics:\n  permutations: 200\n")
    return d


def _snakemake(project, *args):
    return subprocess.run(
        [shutil.which("snakemake"), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(project),
         "--cores", "2", *args], capture_output=True, text=True, timeout=600)


def test_the_study_completes_without_the_broken_trial(project):
    run = _snakemake(project)
    assert run.returncode == 0, run.stderr[-2000:]
    out = project / "results" / "tiny"
    fails = pd.read_csv(out / "failures.tsv", sep="\t")
    assert list(fails.trial) == ["BROKEN"] and list(fails.stage) == ["read"]
    assert "broken.c3d" in fails.reason[0]  # the file named, with the reason
    s = open_study(out / "study.h5")
    assert s.trials == ["HC030A05", "HC033A10"]
    assert len(pd.read_csv(out / "metrics.csv")) == s.cycles.sizes["cycle"] > 0


def test_a_second_run_does_nothing(project):
    run = _snakemake(project, "--dry-run")
    assert run.returncode == 0
    assert "Nothing to be done" in run.stdout + run.stderr


def test_lint_is_clean_but_for_the_environment_note():
    if shutil.which("snakemake") is None:
        pytest.skip("snakemake not installed")
    run = subprocess.run([shutil.which("snakemake"), "--snakefile", str(ROOT / "Snakefile"), "--lint"],
                         capture_output=True, text=True, cwd=ROOT)
    text = run.stdout + run.stderr
    lints = [line for line in text.splitlines() if line.strip().startswith("*")]
    assert all("conda environment or container" in line for line in lints), lints
