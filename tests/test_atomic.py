"""Atomic writes: a reader never sees a half-written output, and no temporary file outlives a
successful write of its target."""

from __future__ import annotations

import pytest

from chainlab.io.store import atomic_path, write_text_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_temporaries_of_killed_writers_are_removed_by_the_next_write(tmp_path):
    stale = tmp_path / ".out.txt.abc123.tmp"  # a writer killed with SIGKILL left this
    other = tmp_path / ".other.txt.abc123.tmp"  # another output's: not ours to remove
    stale.write_text("half")
    other.write_text("half")
    write_text_atomic("new", tmp_path / "out.txt")
    assert (tmp_path / "out.txt").read_text() == "new"
    assert not stale.exists() and other.exists()
