"""chainlab's angles against the outputs Nexus stored in the same capture (chainlab.agreement)."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from chainlab import read_c3d
from chainlab.agreement import agreement, equivalent_difference, format_agreement, largest, stored_name
from chainlab.kinematics import compute_kinematics

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
    from chainlab.agreement import agree_files

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = agree_files(STUDY / "HC033A" / "Straight" / "HC033A10.c3d")
    assert table.attrs["calibration"] == "stored: HC033A10.c3d PROCESSING"
    knee = table[table.output.str.endswith("KneeAngles")]
    assert len(knee) == 6 and (knee.rms_deg < 1e-4).all()
