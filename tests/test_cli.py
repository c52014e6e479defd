"""`chainlab info`: the human summary, the JSON form, failures and --help; `chainlab trials`:
several trials in one process, each as `chainlab trial` makes it."""

from __future__ import annotations

import json
import re
import subprocess

import h5py
import pytest

from chainlab.cli import main

from .conftest import STUDY, fixture
from .outputs import assert_same_outputs


def test_info_text(capsys, walk_path):
    assert main(["info", str(walk_path)]) == 0
    out = capsys.readouterr().out
    for needle in ("Vicon Nexus", "197 from frame 286 at 100 Hz (1.97 s)", "24 channels at 1000 Hz",
                   "TYPE 2", "Left Foot Strike @3.54s", "Bodymass 45.8 kg", "angle       55"):
        assert needle in out, needle


def test_info_json_has_the_documented_keys(capsys):
    files = sorted(STUDY.glob("*/*/*.c3d"))
    assert main(["info", "--json", *map(str, files)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data) == len(files) == 18
    for d in data:
        assert {"frames", "point_rate", "markers", "model_outputs", "plates", "events"} <= d.keys()
    walk = next(d for d in data if d["file"].endswith("HC030A05.c3d"))
    assert walk["frames"] == 197 and walk["point_rate"] == 100.0
    assert "LASI" in walk["markers"]
    assert {"name": "LHFTBA", "kind": "angle", "units": "deg"} in walk["model_outputs"]
    assert [p["type"] for p in walk["plates"]] == [2, 2]
    assert walk["events"][0] == {"label": "Foot Strike", "side": "Right", "time_s": 3.02, "frame": 303}


def test_info_reads_with_a_marker_mapping_and_gives_fractions(capsys, walk_path, tmp_path):
    """--markers is the lab's mapping, as in every other command; the fractions have their own flag."""
    mapping = tmp_path / "map.yaml"
    mapping.write_text("LTHI: LTHIGH\n")
    assert main(["info", "--json", "--markers", str(mapping), str(walk_path)]) == 0
    walk = json.loads(capsys.readouterr().out)[0]
    assert "LTHIGH" in walk["markers"] and "LTHI" not in walk["markers"]
    assert main(["info", "--json", "--marker-fractions", str(walk_path)]) == 0
    walk = json.loads(capsys.readouterr().out)[0]
    assert {"name": "LTHI", "valid_fraction": 1.0} in walk["markers"]
    assert main(["info", "--markers", str(tmp_path / "none.yaml"), str(walk_path)]) == 1
    assert "none.yaml" in capsys.readouterr().err


def test_info_reports_a_bad_file_and_goes_on(capsys, walk_path):
    bad = fixture("c3dorg_sample18_bad_parameter_section.c3d")
    assert main(["info", "--json", str(bad), str(walk_path)]) == 1
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data[0]["file"] == str(bad) and "parameter section" in data[0]["error"]
    assert data[1]["frames"] == 197
    assert str(bad) in captured.err


def test_console_script_help():
    import shutil

    exe = shutil.which("chainlab")
    assert exe, "the chainlab console script is not installed"
    for cmd, needle in (("info", "--json"), ("kinematics", "--static"), ("gait", "METRICS.csv"),
                        ("trials", "--rows JSON")):
        out = subprocess.run([exe, cmd, "--help"], capture_output=True, text=True)
        assert out.returncode == 0 and needle in out.stdout, cmd


def _rows(tmp_path) -> list[dict]:
    """Two walks of one subject (one static capture), a truncated capture and a missing one."""
    static = str(STUDY / "HC030A/Static/HC030A01.c3d")
    broken = tmp_path / "broken.c3d"
    broken.write_bytes((STUDY / "HC030A/Turn/HC030A22.c3d").read_bytes()[:20_000])
    return [
        {"subject": "HC030A", "condition": "Straight", "trial": "HC030A05", "static": static,
         "dynamic": str(STUDY / "HC030A/Straight/HC030A05.c3d")},
        {"subject": "HC030A", "condition": "Turn", "trial": "BROKEN", "static": static, "dynamic": str(broken)},
        {"subject": "HC030A", "condition": "Turn", "trial": "HC030A22", "static": static,
         "dynamic": str(STUDY / "HC030A/Turn/HC030A22.c3d")},
        {"subject": "HC030A", "condition": "Turn", "trial": "MISSING", "static": static,
         "dynamic": str(tmp_path / "not_there.c3d")},
    ]


def test_trials_writes_what_trial_writes_failures_included(tmp_path, capsys, monkeypatch):
    """`chainlab trials` on four rows (a bad one between good ones) gives the four files of four
    `chainlab trial` runs, dataset for dataset; the bad rows are recorded as failures, the
    next row still runs, and the shared static capture is read once."""
    import chainlab.study

    rows = _rows(tmp_path)
    one, batch = tmp_path / "one", tmp_path / "batch"
    one.mkdir()
    for r in rows:
        assert main(["trial", *(f"--{k}={v}" for k, v in r.items()), "--threads", "1",
                     "-o", str(one / f"{r['trial']}.h5")]) == 0
    capsys.readouterr()

    read = chainlab.study.read_capture  # how `chainlab trials` reads a static capture (study.static_reader)
    reads = []
    monkeypatch.setattr(chainlab.study, "read_capture",
                        lambda path, **kw: reads.append(str(path)) or read(path, **kw))
    assert main(["trials", "--rows", json.dumps(rows), "--threads", "1", "--out-dir", str(batch)]) == 0
    assert reads == [rows[0]["static"]]  # once for the three trials that reached it
    err = capsys.readouterr().err
    assert re.search(r"^\[1/4\] HC030A05: 2 cycles, [\d.]+ s$", err, re.M), err
    assert re.search(r"^\[2/4\] BROKEN: failed at read: .*broken\.c3d", err, re.M), err
    assert re.search(r"^\[3/4\] HC030A22: \d+ cycles, [\d.]+ s$", err, re.M), err
    assert re.search(r"^\[4/4\] MISSING: failed at read: .*not_there\.c3d", err, re.M), err

    compared = assert_same_outputs(one, batch)
    assert compared == ["BROKEN.h5", "HC030A05.h5", "HC030A22.h5", "MISSING.h5"]
    for name, failed in (("HC030A05", False), ("BROKEN", True), ("HC030A22", False), ("MISSING", True)):
        with h5py.File(batch / f"{name}.h5") as h:
            assert bool(h.attrs.get("failed", 0)) == failed, name
            assert h.attrs["trial"] == name and ("kinematics" in h) != failed
            if failed:
                assert h.attrs["stage"] == "read"


def test_trials_from_a_sheet_with_only(tmp_path, capsys, monkeypatch):
    rows = _rows(tmp_path)
    sheet = tmp_path / "trials.tsv"
    sheet.write_text("subject\tcondition\ttrial\tstatic\tdynamic\n"
                     + "".join("\t".join(r.values()) + "\n" for r in rows))
    out = tmp_path / "out"
    assert main(["trials", "--sheet", str(sheet), "--only", "MISSING", "--only", "HC030A05", "--out-dir", str(out),
                 "--threads", "1"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["HC030A05.h5", "MISSING.h5"]
    err = capsys.readouterr().err
    assert "[1/2] HC030A05: 2 cycles" in err and "[2/2] MISSING: failed at read" in err  # sheet order
    # --batch K --batch-size N: the sheet's rows (K-1)*N+1 to K*N (the workflow's job), then --only
    assert main(["trials", "--sheet", str(sheet), "--batch", "2", "--batch-size", "2", "--only", "MISSING",
                 "--out-dir", str(tmp_path / "b2"), "--threads", "1"]) == 0
    assert sorted(p.name for p in (tmp_path / "b2").iterdir()) == ["MISSING.h5"]


@pytest.mark.parametrize("argv, message", [
    (["--rows", "[{"], "--rows: not valid JSON"),
    (["--rows", '{"trial": "a"}'], "--rows: expected a JSON list of objects"),
    (["--rows", '[{"trial": "a b", "subject": "s", "condition": "c", "static": "s.c3d"}]'],
     "row 1 (trial a b): row: 'dynamic' is a required property; row 1 (trial a b): trial: 'a b' does not match"),
    (["--rows", '[{"trial": "a", "subject": "s", "condition": "c", "static": "s", "dynamic": "d", "x": 1}]'],
     "row 1: unknown key(s) ['x']"),
    (["--rows", json.dumps([{"trial": "a", "subject": "s", "condition": "c", "static": "s", "dynamic": "d"}] * 2)],
     "trial ids ['a'] appear more than once"),
    (["--rows", '[{"trial": "a", "subject": "s", "condition": "c", "static": "s", "dynamic": "d"}]', "--only", "b"],
     "--only: trial(s) ['b'] not among the 1 rows"),
    (["--rows", '[{"trial": "a\\n", "subject": "s", "condition": "c", "static": "s", "dynamic": "d"}]'],
     "trial: 'a\\n' does not match"),  # a trailing newline, which ^...$ would accept
    (["--rows", '[{"trial": "a", "subject": "s", "condition": "c", "static": "s", "dynamic": "d"}]', "--batch", "2",
      "--batch-size", "1"], "--batch 2: the 1 rows make 1 batch(es) of 1"),
    (["--rows", '[{"trial": "a", "subject": "s", "condition": "c", "static": "s", "dynamic": "d"}]', "--batch", "1"],
     "--batch K and --batch-size N go together"),
    (["--rows", json.dumps([{"trial": "a", "subject": "s", "condition": "c", "dynamic": "d",
                             "static": str(STUDY / "HC030A/Static/HC030A01.c3d")}]), "--chunk-frames", "0"],
     "chunk_frames must be >= 1"),  # met when the first trial starts: the command's fault, not the trial's
])
def test_trials_mistakes_of_the_command_exit_2_writing_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    assert main(["trials", *argv, "--out-dir", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


def test_a_machine_fault_fails_trials_keeping_the_trials_done(tmp_path, capsys, monkeypatch):
    """Out of memory in the second trial: the command fails (so the job fails and can be
    retried) and writes no failure record for it; the first trial's file is complete."""
    import chainlab.pipeline

    real = chainlab.pipeline._job
    calls = []

    def job(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise MemoryError("test")
        return real(*args, **kwargs)

    monkeypatch.setattr(chainlab.pipeline, "_job", job)
    rows = _rows(tmp_path)[:3]
    out = tmp_path / "out"
    with pytest.raises(MemoryError):
        main(["trials", "--rows", json.dumps(rows), "--threads", "1", "--out-dir", str(out)])
    assert len(calls) == 2 and sorted(p.name for p in out.iterdir()) == ["HC030A05.h5"]
    assert "[2/3] BROKEN: stopped, not the trial's fault: MemoryError: test" in capsys.readouterr().err


def test_kinematics_refuses_a_subject_measurement_it_does_not_read(tmp_path, capsys):
    """--subject with a name no model reads (a VSK-style LeftTibialTorsion) is refused with
    the name it likely meant, instead of being ignored while the offset stays 0."""
    walk = STUDY / "HC030A" / "Straight" / "HC030A05.c3d"
    out = tmp_path / "k.h5"
    assert main(["kinematics", str(walk), "-o", str(out), "--subject", "LeftTibialTorsion=0.3"]) == 2
    err = capsys.readouterr().err
    assert "LeftTibialTorsion" in err and "LTibialTorsion" in err and "rad" in err
    assert not out.exists()


@pytest.mark.parametrize("given", ["LTibialTorsion=15", "RThighRotation=-100", "LAnkleAbAdd=12"])
def test_kinematics_refuses_an_offset_typed_in_degrees(tmp_path, capsys, given):
    """The offsets are radians, as Nexus stores them: a value only degrees explain is refused
    with the radians it would be, not run (15 rad of tibial torsion)."""
    walk = STUDY / "HC030A" / "Straight" / "HC030A05.c3d"
    out = tmp_path / "k.h5"
    assert main(["kinematics", str(walk), "-o", str(out), "--subject", given]) == 2
    err = capsys.readouterr().err
    assert given.split("=")[0] in err and "radians" in err and "deg would be" in err
    assert not out.exists()


def test_subject_and_a_subjects_table_are_refused_in_the_same_words(tmp_path, capsys):
    """--subject and a study's subjects table go through one check (chainlab.subject_values):
    a leg length typed in metres is refused by both with the same words, before anything runs;
    `chainlab trials --subjects` refuses a bad table without writing a trial."""
    walk = STUDY / "HC030A" / "Straight" / "HC030A05.c3d"
    assert main(["kinematics", str(walk), "-o", str(tmp_path / "k.h5"), "--subject", "LLegLength=0.88"]) == 2
    said = "LLegLength = 0.88 is outside 350..1300 mm"
    assert f"chainlab kinematics: --subject {said}" in capsys.readouterr().err
    table = tmp_path / "subjects.tsv"
    table.write_text("subject\tLLegLength\nHC030A\t0.88\n")
    rows = json.dumps([{"subject": "HC030A", "condition": "Straight", "trial": "T", "static": "", "dynamic": str(walk)}])
    assert main(["trials", "--rows", rows, "--subjects", str(table), "--out-dir", str(tmp_path / "out")]) == 2
    assert f"chainlab trials: --subjects: {table}: line 2 (subject HC030A): {said}" in capsys.readouterr().err
    assert not (tmp_path / "k.h5").exists() and not (tmp_path / "out").exists()
