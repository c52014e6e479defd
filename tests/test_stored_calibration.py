"""A walk computed from the calibration Nexus stored in it (no static trial), the marker
diameter read back from the stored joint centres, SoleDelta, and the Nexus 1.4 flat-foot trials."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from chainlab import read_c3d
from chainlab.agreement import agreement
from chainlab.errors import ModelInputError
from chainlab.kinematics import KinematicsOptions, compute_kinematics
from chainlab.kinematics.stored import kinematics_from_stored
from chainlab.model import pig
from chainlab.model.marker_diameter import marker_diameter_from_outputs
from chainlab.model.stored_calibration import stored_calibration

from .conftest import SHARED

# CHAINLAB_SHARED_C3D: where ../shared/data/c3d is when the clone is not beside it (a worktree)
VENDORS = Path(os.environ.get("CHAINLAB_SHARED_C3D", SHARED)) / "vendors"


def test_walk_from_its_stored_calibration_equals_the_static_run_and_nexus(hc030a_pair):
    dyn, _, with_static = hc030a_pair
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = kinematics_from_stored(dyn)
    assert out.attrs["calibration_source"] == "stored: HC030A05.c3d PROCESSING"
    assert out.attrs["static_file"] == ""
    assert out.attrs["pig_static_offsets_source"].startswith("stored")
    assert out.attrs["ofm_calibration_source"].startswith("stored")
    assert out.attrs["calibration_not_applied"] == "{}"  # HC030A: every such option 0
    assert list(out.output.values) == list(with_static.output.values)
    diff = np.abs(out.angles.values - with_static.angles.values)
    assert np.nanmax(diff) < 0.1  # measured: 0 (the static stores the same values)
    table = agreement(dyn, out).set_index(["output", "component"])
    pig_rows = table[table.index.get_level_values(0).str.endswith(("HipAngles", "KneeAngles", "AnkleAngles"))]
    assert (pig_rows.rms_deg < 1e-4).all()


def test_a_walk_without_stored_foot_offsets_names_them(hc030a_pair):
    dyn = hc030a_pair[0].copy()
    zero = dyn.measurement.str.contains("StaticPlantFlex|StaticRotOff")
    dyn["measurements"] = dyn.measurements.where(~zero, 0.0)  # never calibrated: Nexus stores 0
    cal = stored_calibration(dyn)
    assert not cal.complete("pig") and cal.complete("ofm")
    with pytest.raises(ModelInputError, match="LStaticPlantFlex.*calibration is not stored|calibration is not stored.*LStaticPlantFlex"):
        kinematics_from_stored(dyn, KinematicsOptions(partial=False))
    out = kinematics_from_stored(dyn)  # by default Plug-in Gait (and the OFM on it) left out, named
    assert "LStaticPlantFlex" in json.loads(out.attrs["models_left_out"])["pig"]


def test_marker_diameter_read_back_from_the_stored_joint_centres(hc030a_pair):
    dyn = hc030a_pair[0]
    stored = float(dyn.measurements.sel(measurement="MarkerDiameter"))
    assert stored == 10.0
    value, how = marker_diameter_from_outputs(dyn)
    assert value == stored and "HC030A05" in how


def test_sole_delta_raises_the_flat_foot_heel(hc030a_pair):
    """Flat foot with SoleDelta d is the heel placed d above the toe with flat_foot off."""
    static = hc030a_pair[1]
    mk = {m: static.markers.sel(marker=m).values for m in pig.MARKERS}
    meas = {k: float(v) for k, v in zip(static.measurement.values, static.measurements.values)
            if k in ("LLegLength", "RLegLength", "LKneeWidth", "RKneeWidth", "LAnkleWidth", "RAnkleWidth",
                     "MarkerDiameter", "InterAsisDistance")}
    raised = dict(mk)
    for s in pig.SIDES:
        raised[f"{s}HEE"] = mk[f"{s}HEE"].copy()
        raised[f"{s}HEE"][:, 2] = mk[f"{s}TOE"][:, 2] + 0.012
    a = pig.calibrate(mk, meas | {"LSoleDelta": 12.0, "RSoleDelta": 12.0}, flat_foot=True)
    b = pig.calibrate(raised, meas, flat_foot=False)
    flat = pig.calibrate(mk, meas, flat_foot=True)
    for s in pig.SIDES:
        assert a.static_plantflex[s] == pytest.approx(b.static_plantflex[s], abs=1e-12)
        assert a.static_rotoff[s] == pytest.approx(b.static_rotoff[s], abs=1e-12)
        assert abs(a.static_plantflex[s] - flat.static_plantflex[s]) > 0.01  # 12 mm of heel is ~4 deg


FLAT = [("PiG_Motion-FlatFoot-Full.c3d", "PiG_Calibration-FlatFoot-Full.c3d", 16.0),
        ("PiG_Motion3_FF.c3d", "PiG_Calibration3_FF.c3d", 14.0)]


@pytest.mark.parametrize("motion,calibration,diameter", FLAT)
def test_nexus_14_flat_foot_trials_agree_with_nexus(motion, calibration, diameter):
    if not (VENDORS / motion).is_file():
        pytest.skip(f"{VENDORS / motion} not found")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dyn, static = read_c3d(VENDORS / motion), read_c3d(VENDORS / calibration)
        out = compute_kinematics(dyn, static, KinematicsOptions(models=("pig",)))
    assert out.attrs["pig_MarkerDiameter"] == diameter  # neither file stores it
    table = agreement(dyn, out)
    assert len(table) == 30  # the ten Plug-in Gait outputs (Motion3_FF: with Nexus' suffix V)
    assert table.rms_deg.max() < 1e-3, table.sort_values("rms_deg").tail()  # was 0.5 deg (foot, 14 mm)


def test_nexus_14_flat_foot_walk_from_its_stored_calibration():
    motion = VENDORS / "PiG_Motion-FlatFoot-Full.c3d"
    if not motion.is_file():
        pytest.skip(f"{motion} not found")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dyn = read_c3d(motion)
        out = kinematics_from_stored(dyn, KinematicsOptions(models=("pig",)))
    assert agreement(dyn, out).rms_deg.max() < 1e-3


def test_knee_alignment_walk_without_its_static_equals_nexus():
    """ktk_walk (Nexus 2.12, a knee alignment device, no static trial): its PROCESSING holds
    ?ThighRotation (-1.741 rad: the wand LTHI 100 deg behind lateral), ?ShankRotation,
    ?AnkleAbAdd and ?TibialTorsion in radians; applied, its stored calibration gives Nexus' angles
    and joint centres (before: 11-17 deg RMS off in hip and knee rotation with LTHI2 as the wand,
    up to 140 deg as labelled)."""
    path = VENDORS / "ktk_walk.c3d"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dyn = read_c3d(path)
        cal = stored_calibration(dyn)
        out = kinematics_from_stored(dyn, KinematicsOptions(models=("pig",)))
    assert cal.values["LThighRotation"] == pytest.approx(-1.741, abs=1e-3)
    assert cal.values["RAnkleAbAdd"] == pytest.approx(0.1894, abs=1e-4)
    assert cal.not_applied == {} and out.attrs["calibration_not_applied"] == "{}"
    assert json.loads(out.attrs["pig_offsets_applied_rad"])["RTibialTorsion"] == pytest.approx(-0.5819, abs=1e-4)
    assert cal.values["MarkerDiameter"] == 9.5 and "joint centres" in cal.sources["MarkerDiameter"]
    table = agreement(dyn, out)
    assert len(table) == 30 and (table.frames == 221).all()
    assert table.rms_deg.max() < 1e-4 and table.max_deg.max() < 1e-4  # measured: 5e-6 and 8e-6
    for s in "LR":  # Nexus' knee and ankle joint centres (the femur and tibia origins)
        for ours, theirs in ((f"{s}KJC", f"{s}FEO"), (f"{s}AJC", f"{s}TIO")):
            d = np.linalg.norm(out.joint_centres.sel(point=ours).values - dyn.markers.sel(marker=theirs).values,
                               axis=-1)
            assert np.nanmax(d) < 1e-6  # m




def test_walk_without_sacr_from_its_stored_calibration_says_so_once(tmp_path):
    """The walk stands in for its static and its kinetics measure the static's segments: the
    SACR built from the PSIs is one trial's fact, said once, naming the file once (it was said
    three times, two of them with the file named twice)."""
    from chainlab import pipeline
    from chainlab.kinematics import KinematicsWarning

    motion = VENDORS / "PiG_Motion3_FF.c3d"
    if not motion.is_file():
        pytest.skip(f"{motion} not found")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pipeline.run_kinematics(motion, None, tmp_path / "out.h5", KinematicsOptions(models=("pig",)))
    said = [str(w.message) for w in caught if issubclass(w.category, KinematicsWarning) and "SACR" in str(w.message)]
    assert said == ["PiG_Motion3_FF.c3d: SACR taken as the mid-point of LPSI and RPSI"]
