"""`chainlab info`: the human summary, the JSON form, failures and --help."""

from __future__ import annotations

import json
import subprocess

from chainlab.cli import main

from .conftest import STUDY, fixture


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
    assert len(data) == len(files) == 9
    for d in data:
        assert {"frames", "point_rate", "markers", "model_outputs", "plates", "events"} <= d.keys()
    walk = next(d for d in data if d["file"].endswith("HC030A05.c3d"))
    assert walk["frames"] == 197 and walk["point_rate"] == 100.0
    assert "LASI" in walk["markers"]
    assert {"name": "LHFTBA", "kind": "angle", "units": "deg"} in walk["model_outputs"]
    assert [p["type"] for p in walk["plates"]] == [2, 2]
    assert walk["events"][0] == {"label": "Foot Strike", "side": "Right", "time_s": 3.02, "frame": 303}


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
    for cmd, needle in (("info", "--json"), ("kinematics", "--static"), ("gait", "METRICS.csv")):
        out = subprocess.run([exe, cmd, "--help"], capture_output=True, text=True)
        assert out.returncode == 0 and needle in out.stdout, cmd
