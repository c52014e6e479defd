"""The workflow on real engines: the local profile, a dask.distributed LocalCluster shared by the
jobs, and a real SLURM cluster through snakemake-executor-plugin-slurm (.ci/slurm-up starts a
single-node one on loopback). Each run gives the same outputs as the local run.

The tiny study of tests/_workflow.py (two real walks, a simulated trial, a broken and a missing
capture), each run in a project of its own; the local run is the session's `tiny_run`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import h5py
import pandas as pd
import pytest

from chainlab.io.study_store import open_study

from ._workflow import make_tiny_study
from .conftest import ROOT, STUDY
from .outputs import assert_same_outputs

pytestmark = pytest.mark.slow

SNAKEMAKE = shutil.which("snakemake")
PROFILES = ROOT / "workflow" / "profiles"
SLURM_UP_DIR = Path(os.environ.get("SLURM_UP_DIR", "/tmp/chainlab-slurm"))


@pytest.fixture(scope="module")
def make_project(tmp_path_factory):
    """A new project folder holding the tiny study (tests/_workflow.py)."""
    if SNAKEMAKE is None:
        pytest.skip("snakemake not installed (pip install -e '.[test]' installs it)")
    return lambda name: make_tiny_study(tmp_path_factory.mktemp(name) / "study")


def snakemake(project: Path, *args: str, env: dict | None = None, timeout: float = 600):
    """snakemake on `project`; on a timeout its whole process group is killed (the SLURM
    plugin does not always stop on SIGTERM) and the test fails with the log's tail."""
    cmd = [SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(project), *args]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})}, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"snakemake did not finish in {timeout:.0f} s:\n{out[-3000:]}")
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, out[-3000:]
    return out, seconds


def trial_files(out: Path) -> list[Path]:
    """The trial outputs of a run."""
    return sorted((out / "trials").glob("*.h5"))


@pytest.fixture(scope="module")
def local_run(tiny_run):
    project, log = tiny_run
    return project / "results" / "tiny", log


@pytest.fixture(scope="module")
def cluster():
    """A dask.distributed LocalCluster on loopback, worker processes, no dashboard."""
    distributed = pytest.importorskip("distributed", reason="distributed not installed (pip install -e '.[test]')")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as c, distributed.Client(c, set_as_default=False) as client:
        yield c, client


def chainlab_clients(client) -> list[str]:
    """Ids of the clients that chainlab's jobs connected to the scheduler with."""
    return [msg["client"] for _, msg in client.get_events("all")
            if isinstance(msg, dict) and msg.get("action") == "add-client"
            and str(msg.get("client", "")).startswith("Client-chainlab-")]


def test_the_local_profile_runs_the_study_with_the_rules_threads(local_run):
    out, log = local_run
    fails = pd.read_csv(out / "failures.tsv", sep="\t")
    assert list(fails.trial) == ["BROKEN", "MISSING"]
    assert open_study(out / "study.h5").trials == ["HC030A05", "HC033A10", "SYNTH01"]
    commands = [line for line in log.splitlines() if re.match(r"Shell command: chainlab trials ", line)]
    # the 5 rows in one batch (trials_per_job: 20 by default)
    assert len(commands) == 1 and all(re.search(r" --threads \d+ ", c) for c in commands), commands
    for f in trial_files(out):  # dask's threaded scheduler when no other is named
        with h5py.File(f) as h:
            assert h.attrs["dask_scheduler"] == "threads", f


@pytest.fixture
def fake_trial(tmp_path, monkeypatch):
    """`chainlab trial`'s argv for a trial of several chunks, with the chunks' task
    (chainlab.pipeline._frames_task) replaced by one that notes dask's scheduler and workers
    and computes a dask array (then fails the trial, which the command records); returns
    (argv, notes)."""
    import dask
    import dask.array as da

    import chainlab.pipeline

    seen = []

    def fake_frames_task(*args, **kwargs):
        seen.append((dask.config.get("scheduler", None), dask.config.get("num_workers", None),
                     int(da.ones(10, chunks=5).sum().compute())))
        raise ValueError("test")

    monkeypatch.setattr(chainlab.pipeline, "_frames_task", fake_frames_task)
    monkeypatch.delenv("CHAINLAB_DASK_SCHEDULER", raising=False)
    argv = ["trial", "--subject", "S", "--condition", "C", "--trial", "T", "--chunk-frames", "50",
            "--static", str(STUDY / "HC030A/Static/HC030A01.c3d"),
            "--dynamic", str(STUDY / "HC030A/Straight/HC030A05.c3d"), "-o", str(tmp_path / "t.h5")]
    return argv, seen


def test_a_commands_threads_bound_dasks_workers(fake_trial, monkeypatch):
    """`chainlab trial --threads N` runs the chunks of a trial of several inside
    chainlab.parallel.dask_scheduler: dask's threaded scheduler with N workers, or what the
    environment names."""
    from chainlab.cli import main

    argv, seen = fake_trial
    assert main([*argv, "--threads", "3"]) == 0
    assert seen[-1] == ("threads", 3, 10)
    monkeypatch.setenv("CHAINLAB_DASK_SCHEDULER", "synchronous")
    assert main([*argv, "--threads", "2"]) == 0
    assert seen[-1] == ("synchronous", 2, 10)
    with h5py.File(argv[-1]) as h:
        assert h.attrs["dask_scheduler"] == "synchronous"
    monkeypatch.setenv("CHAINLAB_DASK_SCHEDULER", "nonsense")
    assert main(argv) == 2  # not a scheduler: the job fails, no trial failure is recorded


def test_a_command_computes_on_the_distributed_scheduler_named(fake_trial, monkeypatch, cluster):
    from chainlab.cli import main

    argv, seen = fake_trial
    c, client = cluster
    before = len(chainlab_clients(client))
    monkeypatch.setenv("CHAINLAB_DASK_SCHEDULER", c.scheduler_address)
    assert main([*argv, "--threads", "1"]) == 0
    assert seen == []  # not here: the chunks ran on the cluster's worker process ...
    assert len(chainlab_clients(client)) == before + 1
    # ... through the client: the scheduler knows the chunks' tasks, and the trial failed there
    prefixes = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    assert any(p.startswith("fake_frames_task") for p in prefixes), prefixes
    with h5py.File(argv[-1]) as h:
        assert h.attrs["failed"] == 1 and h.attrs["reason"] == "test"
    with h5py.File(argv[-1]) as h:
        assert h.attrs["dask_scheduler"] == c.scheduler_address


def test_the_study_with_a_distributed_scheduler_gives_the_same_outputs(make_project, local_run, cluster):
    c, client = cluster
    project = make_project("distributed")
    before = set(chainlab_clients(client))
    log, seconds = snakemake(project, env={"CHAINLAB_DASK_SCHEDULER": c.scheduler_address})
    print(f"distributed run: {seconds:.1f} s")
    out = project / "results" / "tiny"
    compared = assert_same_outputs(local_run[0], out)
    assert {"study.h5", "metrics.csv", "failures.tsv"} <= set(compared)
    # the tiny study's trials are one chunk each: plain calls, no job connected to the scheduler
    # (tests/test_long_and_chunks.py runs chunks on it); the trial files name where they ran
    jobs = sum(line.startswith("Shell command: chainlab") and " --threads " in line for line in log.splitlines())
    assert jobs > 0 and len(set(chainlab_clients(client)) - before) == 0
    for f in trial_files(out):
        with h5py.File(f) as h:
            assert h.attrs["dask_scheduler"] == c.scheduler_address, f


# --- SLURM ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def slurm() -> None:
    """Skip, saying why, unless a SLURM cluster answers with a usable node (before the local
    run is made for the comparison)."""
    hint = "(.ci/slurm-up starts a single-node cluster on loopback, as root)"
    failed = SLURM_UP_DIR / "failed"
    why = f"; .ci/slurm-up said: {failed.read_text().strip()}" if failed.is_file() else ""
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        pytest.skip(f"no SLURM here: sinfo/sbatch not found {hint}{why}")
    try:
        states = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True,
                                timeout=15).stdout.split()
    except subprocess.TimeoutExpired:
        states = []
    if not any(s.rstrip("*~#") in ("idle", "mixed", "allocated", "completing") for s in states):
        pytest.skip(f"SLURM does not answer or has no usable node (sinfo: {states or 'no answer'}) {hint}{why}")


def test_the_study_through_slurm_gives_the_same_outputs(slurm, make_project, local_run):
    project = make_project("slurm")
    log, seconds = snakemake(
        project, "--workflow-profile", str(PROFILES / "slurm"),
        "--slurm-init-seconds-before-status-checks", "1",  # the profile's 10 s is for real clusters
        "--slurm-keep-successful-logs", "--slurm-no-account", timeout=600)
    print(f"SLURM run: {seconds:.1f} s")
    compared = assert_same_outputs(local_run[0], project / "results" / "tiny")
    assert {"study.h5", "metrics.csv", "failures.tsv"} <= set(compared)

    # every job but the local target rule went through sbatch, and SLURM ran it to completion
    submitted = re.findall(r"submitted with SLURM jobid (\d+) \(log: (\S+?)\)", log)
    remote_rules = re.findall(r"^rule \w+:", log, flags=re.M)
    assert len(submitted) == len(remote_rules) >= 4, log[-3000:]
    for jobid, path in submitted:
        assert Path(path).is_file() and "Shell command: chainlab" in Path(path).read_text(), path
        info = subprocess.run(["scontrol", "show", "job", jobid], capture_output=True, text=True).stdout
        if info:  # kept by slurmctld for MinJobAge after the end
            assert "JobState=COMPLETED" in info, info
