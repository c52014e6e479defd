"""Shared fixtures: the embedded default study, the vendor fixtures and (if present) ../shared."""

from __future__ import annotations

import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "data" / "biomechzoo"
FIXTURES = Path(__file__).resolve().parent / "data" / "c3d"
SHARED = ROOT.parent / "shared" / "data" / "c3d"


def fixture(name: str) -> Path:
    return FIXTURES / name


@pytest.fixture(scope="session")
def walk_path() -> Path:
    """A Vicon Nexus walk with plates, events, PiG/OFM outputs and measurements."""
    return STUDY / "HC030A" / "Straight" / "HC030A05.c3d"


@pytest.fixture(scope="session")
def walk(walk_path):
    from chainlab import read_c3d

    return read_c3d(walk_path)


@pytest.fixture(scope="session")
def hc030a_pair():
    """HC030A's walk (HC030A05), its static (HC030A01) and the walk's kinematics, read with
    the readers' warnings silenced: (dynamic, static, kinematics). Tests copy before changing."""
    from chainlab import read_c3d
    from chainlab.kinematics import compute_kinematics

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dyn = read_c3d(STUDY / "HC030A" / "Straight" / "HC030A05.c3d")
        static = read_c3d(STUDY / "HC030A" / "Static" / "HC030A01.c3d")
        return dyn, static, compute_kinematics(dyn, static)


def run_r(script: str) -> str:
    """`Rscript -e script`'s standard output; skips where R is absent, fails on R's error."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("Rscript not found: .ci/run installs r-base-core and r-cran-ncdf4 (Debian)")
    run = subprocess.run([rscript, "-e", script], check=False, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return run.stdout


def shared_vendor_files() -> list[Path]:
    """Every file of ../shared/data/c3d/vendors (empty where the clone has no ../shared)."""
    d = SHARED / "vendors"
    return sorted(d.iterdir()) if d.is_dir() else []


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The workflow run once on the tiny study (tests/_workflow.py): (project folder, log)."""
    from ._workflow import make_tiny_study, run_snakemake, snakemake_or_skip

    snakemake_or_skip()
    project = make_tiny_study(tmp_path_factory.mktemp("tiny") / "study")
    run = run_snakemake(project)
    assert run.returncode == 0, run.stderr[-3000:]
    return project, run.stdout + run.stderr


# The default study (config/trials.tsv) has six subjects; tests that know the answers of the
# first three embedded (27 cycles, 6 trials) run on a sheet of their own.
EMBEDDED3 = ("HC002D", "HC030A", "HC033A")


def three_subject_config(folder: Path, study: str = "default") -> Path:
    """`folder`/config/config.yaml and its sheet: the rows of config/trials.tsv of EMBEDDED3
    (capture paths made absolute); returns the config's path."""
    lines = (ROOT / "config" / "trials.tsv").read_text().splitlines()
    rows = [lines[0]]
    for line in lines[1:]:
        cells = line.split("\t")
        if cells[0] in EMBEDDED3:
            rows.append("\t".join(cells[:3] + [str((ROOT / "config" / c).resolve()) for c in cells[3:]]))
    (folder / "config").mkdir(parents=True, exist_ok=True)
    (folder / "config" / "trials.tsv").write_text("\n".join(rows) + "\n")
    config = folder / "config" / "config.yaml"
    config.write_text(f"study: {study}\ntrials: config/trials.tsv\n")
    return config
