"""Plausibility checks name the marker, segment or measurement behind a wrong number
(chainlab.model.plausibility)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from chainlab import read_c3d
from chainlab.kinematics import KinematicsOptions, compute_kinematics
from chainlab.model.plausibility import check_trial, foot_orientation, format_problems

from .conftest import SHARED, STUDY

VENDORS = Path(os.environ.get("CHAINLAB_SHARED_C3D", SHARED)) / "vendors"
SUBJECTS = ("HC002D", "HC030A", "HC033A")


def _read(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_c3d(path)


def _kin(dyn, static, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compute_kinematics(dyn, static, KinematicsOptions(partial=True, **kw))


def _static(subject):
    return _read(next((STUDY / subject / "Static").glob("*.c3d")))


def _walk(subject, cond="Straight"):
    return _read(next((STUDY / subject / cond).glob("*.c3d")))


def _swap(ds, a, b):
    names = ds.marker.values.tolist()
    i, j = names.index(a), names.index(b)
    names[i], names[j] = b, a
    return ds.assign_coords(marker=names)


def _named(problems):
    return {(p.check, m) for p in problems for m in p.markers}


@pytest.mark.parametrize("subject", SUBJECTS)
def test_untouched_walks_have_no_problem(subject):
    static = _static(subject)
    for cond in ("Straight", "Turn"):
        dyn = _walk(subject, cond)
        problems = check_trial(dyn, static, _kin(dyn, static))
        assert problems == [], format_problems(problems, f"{subject} {cond}")


@pytest.mark.parametrize("a,b,expected", [
    ("LKNE", "LTHI", {("segment_length", "LKNE"), ("segment_length", "LTHI"), ("thigh_wand_direction", "LTHI")}),
    ("RANK", "RTIB", {("segment_length", "RANK"), ("shank_wand_direction", "RTIB")}),
    ("LASI", "RASI", {("pelvis_orientation", "LASI"), ("pelvis_orientation", "RASI")}),
    ("LKNE", "RKNE", {("side", "LKNE"), ("side", "RKNE")}),
    ("RTUB", "RSHN", {("segment_length", "RTUB"), ("segment_length", "RSHN")}),
    ("LP1M", "LD5M", {("segment_length", "LP1M"), ("segment_length", "LD5M")}),
    ("C7", "T10", {("segment_length", "C7"), ("segment_length", "T10")}),
])
def test_two_swapped_labels_are_named(a, b, expected):
    static, dyn = _static("HC030A"), _swap(_walk("HC030A"), a, b)
    problems = check_trial(dyn, static, _kin(dyn, static))
    assert expected <= _named(problems), format_problems(problems)
    assert a in format_problems(problems) and b in format_problems(problems)


def test_the_static_of_another_subject_is_named():
    dyn, other = _walk("HC030A"), _static("HC033A")
    problems = check_trial(dyn, other)
    checks = {p.check for p in problems}
    assert "same_subject" in checks and "segment_length" in checks
    assert any("LLegLength" in p.markers for p in problems if p.check == "same_subject")


def test_a_mistyped_leg_length_is_named():
    dyn, static = _walk("HC033A"), _static("HC033A")
    static = static.copy()
    static["measurements"] = static.measurements.where(static.measurement != "LLegLength", 3320.0)
    problems = check_trial(dyn, static)
    assert ("measurement_range", "LLegLength") in _named(problems)
    assert ("measurement_geometry", "LLegLength") in _named(problems)  # against the ASIS-ankle markers
    assert ("same_subject", "LLegLength") in _named(problems)  # the walk stores the right one


def test_knee_alignment_offsets_given_in_degrees_are_named():
    """The offsets are radians (as Nexus stores them); a value typed in degrees is named."""
    dyn, static = _walk("HC030A"), _static("HC030A")
    given = {"LTibialTorsion": 17.5, "RThighRotation": -100.3, "LAnkleAbAdd": 12.5, "RShankRotation": -0.16}
    problems = check_trial(dyn, static, overrides=given, checks=("measurements",))
    named = {m for c, m in _named(problems) if c == "measurement_range"}
    assert named == {"LTibialTorsion", "RThighRotation", "LAnkleAbAdd"}  # -0.16 rad is a plausible offset


def test_angles_outside_physiological_ranges_are_named():
    dyn, static = _walk("HC030A"), _static("HC030A")
    kin = _kin(dyn, static).copy(deep=True)
    i = list(kin.output.values).index("RKneeAngles")
    kin.angles.values[:, i, 0] -= 60.0  # knee flexion -60..0 deg: a misplaced thigh marker's signature
    problems = [p for p in check_trial(dyn, static, kin) if p.check == "angle_range"]
    assert [p.markers for p in problems] == [("RKneeAngles",)]


def test_a_reversed_forefoot_is_not_anatomical():
    dyn, static = _walk("HC030A"), _static("HC030A")
    kin = _kin(dyn, static).copy(deep=True)
    assert foot_orientation(kin) == []
    j = list(kin.segment.values).index("LeftForefoot")
    kin.segment_axes.values[:, j, :, :] *= -1.0  # long axis pointing to the heel
    problems = foot_orientation(kin)
    assert [p.markers for p in problems] == [("LeftHindfoot", "LeftForefoot")]
    assert problems[0].value > 120


def test_ktk_walk_thigh_marker_is_checked_against_its_thigh_rotation():
    """ktk_walk's LTHI/RTHI sit about 100 deg behind lateral, where its knee alignment device
    calibration put them (?ThighRotation -1.741 / -1.751 rad): no problem, and Nexus' knee
    flexion. LTHI2/RTHI2 (lateral) mapped in their place, or the offsets dropped, are named."""
    path = VENDORS / "ktk_walk.c3d"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    dyn = _read(path)
    kin = _kin(dyn, dyn)  # no static: the walk's own PROCESSING holds the measurements
    assert check_trial(dyn, None, kin) == []
    flexion = kin.angles.sel(output="LKneeAngles", axis="x").values
    nexus = dyn.model_outputs.sel(output="LKneeAngles", axis="x").values
    assert np.nanmax(np.abs(flexion - nexus)) < 1e-4
    relabelled = dyn.assign_coords(marker=[{"LTHI": "LTHI_KTK", "RTHI": "RTHI_KTK", "LTHI2": "LTHI",
                                            "RTHI2": "RTHI"}.get(m, m) for m in dyn.marker.values.tolist()])
    problems = check_trial(relabelled, None, _kin(relabelled, relabelled))
    assert {("thigh_wand_direction", "LTHI"), ("thigh_wand_direction", "RTHI")} <= _named(problems)
    said = next(p.message for p in problems if p.markers == ("LTHI",))
    assert "where LThighRotation (-99.8 deg) places the wand" in said  # measured: 101 deg from it
    names = dyn.measurement.values.tolist()
    dropped = dyn.copy(deep=True)
    for side in "LR":
        dropped.measurements.values[names.index(f"{side}ThighRotation")] = 0.0
    problems = check_trial(dropped, None, _kin(dropped, dropped))
    assert {("thigh_wand_direction", "LTHI"), ("thigh_wand_direction", "RTHI"),
            ("angle_range", "LKneeAngles")} <= _named(problems)  # knee flexion -49..-20 deg


def test_labels_swapped_in_the_file_are_named(tmp_path):
    """The swap written into a copy of the capture (ezc3d), read back as a lab would."""
    ezc3d = pytest.importorskip("ezc3d")
    c = ezc3d.c3d(str(STUDY / "HC030A" / "Straight" / "HC030A05.c3d"))
    labels = list(c["parameters"]["POINT"]["LABELS"]["value"])
    i, j = labels.index("LKNE"), labels.index("LTHI")
    labels[i], labels[j] = labels[j], labels[i]
    c["parameters"]["POINT"]["LABELS"]["value"] = labels
    c.write(str(tmp_path / "swapped.c3d"))
    dyn, static = _read(tmp_path / "swapped.c3d"), _static("HC030A")
    problems = check_trial(dyn, static, _kin(dyn, static))
    assert {("segment_length", "LKNE"), ("segment_length", "LTHI"), ("thigh_wand_direction", "LTHI")} <= _named(problems)
    assert ("angle_range", "LKneeAngles") in _named(problems)  # measured: flexion -68..4 deg


def test_shared_biomechzoo_and_nexus_14_walks_have_no_problem():
    root = VENDORS.parent / "biomechzoo"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    pairs = [(next((s / c).glob("*.c3d")), next((s / "Static").glob("*.c3d")))
             for s in sorted(p for p in root.iterdir() if p.is_dir()) for c in ("Straight", "Turn")]
    pairs += [(VENDORS / "PiG_Motion-FlatFoot-Full.c3d", VENDORS / "PiG_Calibration-FlatFoot-Full.c3d"),
              (VENDORS / "PiG_Motion3_FF.c3d", VENDORS / "PiG_Calibration3_FF.c3d")]
    assert len(pairs) == 14
    for dyn_path, static_path in pairs:
        dyn, static = _read(dyn_path), _read(static_path)
        problems = check_trial(dyn, static, _kin(dyn, static))
        assert problems == [], format_problems(problems, dyn_path.name)
