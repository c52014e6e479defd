"""Atomic writes: a reader never sees a half-written output, no temporary file outlives a
successful write of its target, and writers running at once never remove each other's."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from chainlab.io.store import _host, atomic_path, write_text_atomic

from .conftest import ROOT


def _dead_pid() -> int:
    """The pid of a process that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            assert tmp.name.startswith(f".out.txt.{_host()}.")  # the writer named in the temporary
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_temporaries_of_killed_writers_are_removed_by_the_next_write(tmp_path):
    host, dead = _host(), _dead_pid()
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as live:
        try:
            files = {
                "stale": tmp_path / f".out.txt.{host}.{dead}.abc123.tmp",  # a writer killed with SIGKILL
                "live": tmp_path / f".out.txt.{host}.{live.pid}.abc123.tmp",  # a writer still running
                "remote": tmp_path / f".out.txt.otherhost.{dead}.abc123.tmp",  # another machine's
                "old": tmp_path / ".out.txt.abc123.tmp",  # no writer named: not ours to judge
                "other": tmp_path / f".other.txt.{host}.{dead}.abc123.tmp",  # another output's
                "longer": tmp_path / f".out.txt.x.txt.{host}.{dead}.abc123.tmp",  # out.txt.x.txt's
            }
            for p in files.values():
                p.write_text("half")
            write_text_atomic("new", tmp_path / "out.txt")
        finally:
            live.kill()
    assert (tmp_path / "out.txt").read_text() == "new"
    assert {k for k, p in files.items() if p.exists()} == {"live", "remote", "old", "other", "longer"}


_WRITER = """
import sys, time
from chainlab.io.store import atomic_path
for i in range(300):
    with atomic_path(sys.argv[1]) as tmp:
        tmp.write_text(sys.argv[2] * 1000)
        time.sleep(0.001)  # a writer busy with its temporary while the other one finishes
"""


@pytest.mark.parametrize("names", [("T.h5", "T.h5"), ("T.h5", "T.h5.x.h5")])
def test_writers_at_once_do_not_collide(tmp_path, names):
    """Two processes writing one file (or T.h5 and T.h5.x.h5, whose temporaries share a
    prefix) 300 times each at once: every write succeeds (the old writer, which removed every
    `.T.h5.*.tmp` after its write, failed here) and no temporary is left."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path / n), c], env=env,
                              stderr=subprocess.PIPE, text=True) for n, c in zip(names, "ab")]
    errors = [p.communicate()[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(set(names))
    assert (tmp_path / names[1]).read_text() in ("a" * 1000, "b" * 1000)


def test_two_studies_at_once_both_succeed(tmp_path):
    """`chainlab study` twice at once on one config and results folder (the probe that failed
    when a writer removed the other's temporaries): both exit 0 and the store is whole."""
    import h5py

    data = ROOT / "data" / "biomechzoo" / "HC030A"
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "trials.tsv").write_text(
        "subject\tcondition\ttrial\tstatic\tdynamic\n"
        f"HC030A\tStraight\tHC030A05\t{data / 'Static/HC030A01.c3d'}\t{data / 'Straight/HC030A05.c3d'}\n")
    (tmp_path / "config" / "config.yaml").write_text(
        "study: duo\ntrials: config/trials.tsv\nstatistics:\n  permutations: 100\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-c", "import sys; from chainlab.cli import main; sys.exit(main(sys.argv[1:]))",
           "study", "config/config.yaml", "--out", "results"]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for _ in range(2)]
    logs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs
    out = tmp_path / "results" / "duo"
    with h5py.File(out / "study.h5") as h:
        assert "statistics" in h or "metrics" in h
    assert list(out.rglob(".*.tmp")) == []
