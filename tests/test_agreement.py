"""chainlab's angles against the outputs Nexus stored in the same capture (chainlab.agreement)."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from chainlab import read_c3d
from chainlab.agreement import (
    COLUMNS,
    HINDFOOT_OUTPUTS,
    agree_files,
    agreement,
    equivalent_difference,
    format_agreement,
    largest,
    nexus_heel_runs,
    stored_name,
)
from chainlab.cli import main
from chainlab.kinematics import compute_kinematics
from chainlab.model import ofm

from .conftest import ROOT, SHARED, STUDY

SHARED_C3D = Path(os.environ.get("CHAINLAB_SHARED_C3D", SHARED))


def _run(dyn_path, static_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dyn, static = read_c3d(dyn_path), read_c3d(static_path)
        return dyn, compute_kinematics(dyn, static)


@pytest.fixture(scope="module")
def walk_and_kin():
    return _run(STUDY / "HC030A" / "Straight" / "HC030A05.c3d", STUDY / "HC030A" / "Static" / "HC030A01.c3d")


def test_an_edited_stored_output_is_found(walk_and_kin):
    dyn, kin = walk_and_kin
    before = agreement(dyn, kin).set_index(["output", "component"])
    edited = dyn.copy(deep=True)
    i = list(edited.output.values).index("LKneeAngles")
    edited.model_outputs.values[10:20, i, 0] += 5.0  # 10 frames of knee flexion 5 deg off
    after = agreement(edited, kin).set_index(["output", "component"])
    n = int(after.loc[("LKneeAngles", "x"), "frames"])
    assert after.loc[("LKneeAngles", "x"), "max_deg"] == pytest.approx(5.0, abs=1e-4)
    assert after.loc[("LKneeAngles", "x"), "rms_deg"] == pytest.approx(5.0 * np.sqrt(10 / n), abs=1e-4)
    unchanged = after.drop(index=[("LKneeAngles", "x")])
    assert np.allclose(unchanged.rms_deg, before.drop(index=[("LKneeAngles", "x")]).rms_deg, equal_nan=True)
    assert "LKneeAngles" in format_agreement(after.reset_index())


def test_invalid_frames_are_left_out_and_counted(walk_and_kin):
    dyn, kin = walk_and_kin
    edited = dyn.copy(deep=True)
    i = list(edited.output.values).index("RHipAngles")
    edited.model_outputs.values[:7, i, :] = np.nan  # Nexus marks these frames invalid
    row = agreement(edited, kin).set_index(["output", "component"]).loc[("RHipAngles", "y")]
    assert row.frames_left_out == 7 and row.frames == dyn.sizes["frame"] - 7
    assert row.rms_deg < 1e-4


def test_the_other_cardan_solution_and_360_wraps_count_as_equal():
    rng = np.random.default_rng(3)
    ours = rng.uniform(-170, 170, (50, 3))
    other = ours * [1, -1, 1] + [180, 180, 180]  # the same angle, Nexus' other branch
    wrapped = ours + 360.0 * rng.integers(-2, 3, (50, 3))
    assert np.allclose(equivalent_difference(ours, other), 0.0, atol=1e-9)
    assert np.allclose(equivalent_difference(ours, wrapped), 0.0, atol=1e-9)
    shifted = ours + [0.0, 2.0, 0.0]
    assert np.allclose(equivalent_difference(ours, shifted), [0.0, -2.0, 0.0])


def test_a_point_suffix_is_matched():
    stored = ["LHipAnglesV", "LKneeAnglesV", "LKneeAnglesV2", "RHipAngles", "LAnkleAnglesX_PiG"]
    assert stored_name("LHipAngles", stored) == "LHipAnglesV"
    assert stored_name("RHipAngles", stored) == "RHipAngles"
    assert stored_name("LKneeAngles", stored) is None  # two candidates: none chosen
    assert stored_name("LAnkleAngles", stored) == "LAnkleAnglesX_PiG"
    assert stored_name("LFootProgressAngles", stored) is None


def _documented() -> dict[tuple[str, str], float]:
    text = (ROOT / "docs" / "kinematics.md").read_text()
    block = text.split("## Agreement with Nexus on the biomechzoo trials", 1)[1]
    out = {}
    for name, x, y, z in re.findall(r"^\| (\w+) \| ([\d.e+-]+) \| ([\d.e+-]+) \| ([\d.e+-]+) \|$", block, re.M):
        out |= {(name, "x"): float(x), (name, "y"): float(y), (name, "z"): float(z)}
    return out


def _trials(root: Path):
    for subject in sorted(p for p in root.iterdir() if p.is_dir()):
        static = next((subject / "Static").glob("*.c3d"))
        for cond in ("Straight", "Turn"):
            yield next((subject / cond).glob("*.c3d")), static


def test_embedded_walks_within_the_documented_agreement():
    """The embedded walks are the 12 that docs/kinematics.md's table measures."""
    documented = _documented()
    assert len(documented) == 24 * 3
    worst = largest(agreement(*_run(d, s)) for d, s in _trials(STUDY)).set_index(["output", "component"])
    for key, value in documented.items():
        assert worst.loc[key, "rms_deg"] <= value * 1.05 + 1e-7, key  # the table prints 2 digits


def test_shared_walks_reproduce_the_documented_table():
    root = SHARED_C3D / "biomechzoo"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    documented = _documented()
    worst = largest(agreement(*_run(d, s)) for d, s in _trials(root)).set_index(["output", "component"])
    for key, value in documented.items():
        assert float(f"{worst.loc[key, 'rms_deg']:.1e}") == pytest.approx(value, rel=0.06), key


def test_agree_files_without_a_static_uses_the_stored_calibration():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = agree_files(STUDY / "HC033A" / "Straight" / "HC033A10.c3d")
    assert table.attrs["calibration"] == "stored: HC033A10.c3d PROCESSING"
    knee = table[table.output.str.endswith("KneeAngles")]
    assert len(knee) == 6 and (knee.rms_deg < 1e-4).all()


def _agree(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return agree_files(path)


def _notes(table):
    """{output: note} of the rows with a note; every output's three rows carry the same."""
    assert (table.groupby("output").note.nunique() == 1).all()
    return {o: n for o, n in zip(table.output, table.note) if n}


def test_nexus_ofm_run_five_times_is_said_on_the_hindfoot_rows(capsys):
    """HC036A23: Nexus' ?HE1 is the heel smoothed by 5 runs of its OFM on both sides (to float32
    precision), so its HFTBA, FFHFA and HFTFL are of 5 runs; chainlab's are of one."""
    path = STUDY / "HC036A" / "Turn" / "HC036A23.c3d"
    table = _agree(path)
    assert tuple(table.columns) == COLUMNS
    noted = _notes(table)
    assert sorted(noted) == sorted(f"{s}{n}" for s in "LR" for n in HINDFOOT_OUTPUTS)
    for name, note in noted.items():
        assert note.startswith("Nexus' OFM ran 5 times on this file"), note
        assert f"{name[0]}HE1" in note and "chainlab's of one" in note
    ds = read_c3d(path)
    for s in "LR":
        k, rms = nexus_heel_runs(ds, s)
        assert k == 5 and rms < 1e-3, (s, k, rms)
    text = format_agreement(table)
    assert "LHFTBA, LFFHFA, LHFTFL: Nexus' OFM ran 5 times on this file (LHE1" in text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["agree", str(path)]) == 0
    out = capsys.readouterr().out
    assert "RHFTBA, RFFHFA, RHFTFL: Nexus' OFM ran 5 times on this file (RHE1" in out
    assert next(x for x in out.splitlines() if x.startswith("LKneeAngles ")).split()[-1] == "223"


def test_nexus_ofm_run_once_carries_no_note():
    """HC036A10: Nexus' heel is one run of its OFM, chainlab's (docs/kinematics.md)."""
    path = STUDY / "HC036A" / "Straight" / "HC036A10.c3d"
    table = _agree(path)
    assert "LHFTBA" in set(table.output) and _notes(table) == {}
    ds = read_c3d(path)
    for s in "LR":
        k, rms = nexus_heel_runs(ds, s)
        assert k == 1 and rms < 1e-3, (s, k, rms)
    assert "Nexus' OFM ran" not in format_agreement(table, markdown=True)


def test_nexus_ofm_run_twice_is_said_in_markdown_too():
    path = STUDY / "HC033A" / "Straight" / "HC033A10.c3d"
    table = _agree(path)
    noted = _notes(table)
    assert len(noted) == 6 and all(n.startswith("Nexus' OFM ran 2 times") for n in noted.values())
    assert "- LHFTBA, LFFHFA, LHFTFL: Nexus' OFM ran 2 times" in format_agreement(table, markdown=True)
    assert table[~table.output.isin(noted)].note.eq("").all()


def test_a_heel_of_no_run_count_is_said_with_its_distance(walk_and_kin):
    """HC030A05: left ?HE1 is 3 runs' heel; right is 0.21 mm RMS from every run count's
    (docs/kinematics.md), which the note says instead of a run count."""
    dyn, kin = walk_and_kin
    assert nexus_heel_runs(dyn, "L")[0] == 3 and nexus_heel_runs(dyn, "L")[1] < 1e-3
    k, rms = nexus_heel_runs(dyn, "R")
    assert k == 3 and rms == pytest.approx(0.212, abs=0.002)
    noted = _notes(agreement(dyn, kin))
    assert noted["LHFTBA"].startswith("Nexus' OFM ran 3 times")
    assert noted["RFFHFA"].startswith("Nexus' RHE1 is 0.21 mm RMS from the heel of any run count")
    assert "not of one run" in noted["RHFTFL"]


def test_run_count_read_from_an_edited_he1_and_none_without_it(walk_and_kin):
    dyn, kin = walk_and_kin
    edited = dyn.copy(deep=True)
    names = edited.marker.values.tolist()
    cluster = [edited.markers.sel(marker=f"L{m}").values for m in ofm.CLUSTERS[1]]
    edited.markers.values[:, names.index("LHE1")] = ofm.heel_after_runs(cluster, 4)[0]
    assert nexus_heel_runs(edited, "L") == (4, pytest.approx(0.0, abs=1e-9))
    assert _notes(agreement(edited, kin))["LHFTBA"].startswith("Nexus' OFM ran 4 times")
    edited.markers.values[:, names.index("LHE1")] = ofm.heel_after_runs(cluster, 1)[0]
    assert "LHFTBA" not in _notes(agreement(edited, kin))  # one run: chainlab's
    no_he1 = dyn.sel(marker=[m for m in names if m != "RHE1"])
    assert nexus_heel_runs(no_he1, "R") is None
    assert not any(o.startswith("R") for o in _notes(agreement(no_he1, kin)))
