"""The kinetics in the one trial pipeline: the trial file, the per-cycle measures, the store."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from chainlab import read_c3d
from chainlab.config import ConfigError, StudyConfig, read_sheet
from chainlab.gait.kinetic_metrics import cycle_kinetic_measures, kinetic_curves, kinetic_metrics
from chainlab.io.trial_file import open_trial_file
from chainlab.kinematics import compute_kinematics
from chainlab.kinetics import compute_kinetics
from chainlab.options import parse_plates
from chainlab.pipeline import run_trial
from chainlab.results import TrialRow
from chainlab.schema import KINETIC_METRIC_COLUMNS, METRIC_UNITS
from chainlab.stats.study import study_statistics

from .conftest import SHARED, STUDY

HC030A = (STUDY / "HC030A" / "Straight" / "HC030A05.c3d", STUDY / "HC030A" / "Static" / "HC030A01.c3d")
VARIABLES = ("moments", "joint_forces", "powers", "GroundReactionForce", "NormalisedGRF")


def _row(dyn, sta, plates=""):
    return TrialRow("S", "C", dyn.stem, sta, dyn, plates)


@pytest.fixture(scope="module")
def whole():
    dyn, sta = HC030A
    trial = read_c3d(dyn)
    return compute_kinetics(trial, compute_kinematics(trial, read_c3d(sta)))


@pytest.mark.parametrize("chunk", [10_000, 37])
def test_trial_file_kinetics_equal_the_whole_trial(whole, tmp_path, chunk):
    """In one span and in spans of 37 frames (5 overlapping on each side), the trial file's
    kinetics are compute_kinetics of the whole trial, NaN for NaN."""
    dyn, sta = HC030A
    out = tmp_path / "t.h5"
    res = run_trial(_row(dyn, sta), out, chunk_frames=chunk, progress=False)
    assert not hasattr(res, "stage"), res
    with xr.open_dataset(out, group="kinetics", engine="h5netcdf") as k:
        for v in VARIABLES:
            np.testing.assert_array_equal(k[v].values, whole[v].values, err_msg=v)
            assert k[v].attrs["units"] == whole[v].attrs["units"]
        assert k.moments.attrs["units"] == "N m/kg" and k.powers.attrs["units"] == "W/kg"
        assert json.loads(k.attrs["contacts"])[0]["status"] == "accepted"
    t = open_trial_file(out)
    assert t.kinetics_absent == "" and list(t.contacts.status) == ["accepted", "accepted"]
    assert list(t.contacts.plate) == [1, 2] and list(t.contacts.side) == ["L", "R"]
    # both cycles' stances are on a plate: every kinetic measure is a number
    assert len(res.metrics) == 2 and res.metrics[KINETIC_METRIC_COLUMNS[:-1]].notna().all().all()
    assert (res.metrics.kinetics_reason == "").all()
    curves = t.moment_curves()
    # values up to the cycle's end (the right side's next stance is on no plate: its strike,
    # stored as 4.05000019 s, is interpolated with the frame after it, which has none)
    assert curves.shape == (2, 3, 3, 101) and np.isfinite(curves[..., :100]).all()


def test_a_trial_without_plates_runs_and_says_why(tmp_path):
    from chainlab.simulate import Condition, SimulationOptions, simulate_study

    sheet = simulate_study(HC030A[1], HC030A[0], tmp_path, SimulationOptions(
        subjects=1, conditions=(Condition("control"),), trials=1, cycles=3, plates=False, truth=False))
    r = sheet.iloc[0]
    out = tmp_path / "t.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run_trial(TrialRow("S01", "control", r.trial, tmp_path / r.static, tmp_path / r.dynamic), out)
    assert len(res.metrics) >= 2
    t = open_trial_file(out)
    assert t.kinetics_absent == "the capture has no force plates" and t.contacts.empty
    with xr.open_dataset(out, engine="h5netcdf") as root:
        assert root.attrs["kinetics_absent"] == "the capture has no force plates"
    import h5py

    with h5py.File(out, "r") as f:
        assert "kinetics" not in f and "contacts" not in f
    assert res.metrics[KINETIC_METRIC_COLUMNS[:-1]].isna().all().all()
    assert (res.metrics.kinetics_reason == "no kinetics: the capture has no force plates").all()
    assert np.isnan(t.moment_curves()).all() and np.isnan(t.power_curves()).all()


def test_kinetics_disabled_by_config(tmp_path):
    dyn, sta = HC030A
    cfg = StudyConfig.from_dict({"study": "s", "trials": "-", "kinetics": {"enabled": False}})
    run_trial(_row(dyn, sta), tmp_path / "t.h5", cfg)
    assert open_trial_file(tmp_path / "t.h5").kinetics_absent == "kinetics not asked for (kinetics.enabled: false)"


def test_plate_overrides_from_the_sheet_win_over_the_config(tmp_path):
    dyn, sta = HC030A
    cfg = StudyConfig.from_dict({"study": "s", "trials": "-", "kinetics": {"plates": {1: "L", 2: "L"}}})
    assert cfg.kinetics["plates"] == {"1": "L", "2": "L"}
    opt = cfg.kinetics_options("2=R, 1=-")
    assert dict(opt.plates) == {1: None, 2: "R"}
    run_trial(_row(dyn, sta, "1=-"), tmp_path / "t.h5", cfg)
    c = open_trial_file(tmp_path / "t.h5").contacts
    assert list(c.status) == ["ignored", "accepted"] and list(c.side) == ["", "L"]  # plate 2 from the config
    assert c.reason.tolist()[1] == "mapped by the caller"


def test_plate_overrides_are_checked(tmp_path):
    assert parse_plates("") == {} and parse_plates("3=R") == {3: "R"}
    for bad, said in (("1=X", "'1=X' is not PLATE=SIDE"), ("1=R,1=L", "plate 1 named twice"),
                      ("0=R", "plate 0 is not a plate number")):
        with pytest.raises(ValueError, match=said):
            parse_plates(bad, "row 3")
    with pytest.raises(ConfigError, match=r"kinetics.plates.1: 'X' is not one of"):
        StudyConfig.from_dict({"study": "s", "trials": "-", "kinetics": {"plates": {1: "X"}}})
    with pytest.raises(ConfigError, match=r"kinetics: unknown key\(s\) \['plate'\]"):
        StudyConfig.from_dict({"study": "s", "trials": "-", "kinetics": {"plate": {1: "R"}}})
    sheet = tmp_path / "trials.tsv"
    sheet.write_text("subject\tcondition\ttrial\tstatic\tdynamic\tplates\nA\tB\tT1\ts.c3d\td.c3d\t1=R,2=L\n"
                     "A\tB\tT2\ts.c3d\td.c3d\t1:R\n")
    with pytest.raises(ConfigError, match=r"line 3 \(trial T2\): column 'plates'"):
        read_sheet(sheet)
    # a plate the capture does not have: the trial runs, without kinetics, and says why
    dyn, sta = HC030A
    run_trial(_row(dyn, sta, "5=R"), tmp_path / "t.h5")
    assert "plate 5 is mapped but the capture has plates [1, 2]" in open_trial_file(tmp_path / "t.h5").kinetics_absent


def _analytic():
    """A 1 s cycle at 100 Hz, stance 0-0.6 s: curves whose measures are known."""
    t = np.round(np.arange(0, 101) * 0.01, 10)
    s = np.clip(t / 0.6, 0, 1)
    hump = lambda c, w: np.exp(-((t - c) / w) ** 2)  # noqa: E731
    knee = np.stack([0.6 * hump(0.10, 0.05) - 0.2 * hump(0.5, 0.05),  # extensor 0.6 at 0.10 s
                     0.5 * hump(0.15, 0.06) + 0.3 * hump(0.45, 0.06),  # adduction peaks 0.5, 0.3
                     np.zeros_like(t)], axis=1)
    hip = np.stack([1.1 * hump(0.05, 0.05) - 0.7 * hump(0.5, 0.06), np.zeros_like(t), np.zeros_like(t)], axis=1)
    ankle = np.stack([1.4 * hump(0.48, 0.06), np.zeros_like(t), np.zeros_like(t)], axis=1)
    p_ankle = np.where(t <= 0.6, 2.0 * np.sin(np.pi * s), 0.0)  # work 2 * 0.6 * 2 / pi
    p_hip = 0.8 * hump(0.1, 0.04) - 0.6 * hump(0.4, 0.05) + 1.2 * hump(0.65, 0.05)
    p_knee = np.where(t <= 0.6, -1.0, 0.0)  # work -0.6
    return t, {"Hip": hip, "Knee": knee, "Ankle": ankle}, {"Hip": p_hip, "Knee": p_knee, "Ankle": p_ankle}


def test_kinetic_measures_of_analytic_curves():
    t, m, p = _analytic()
    out = cycle_kinetic_measures(t, m, p, 0.0, 0.6, 1.0)
    assert out["peak_knee_adduction_moment_1_Nm_kg"] == pytest.approx(0.5, abs=1e-3)
    assert out["peak_knee_adduction_moment_2_Nm_kg"] == pytest.approx(0.3, abs=1e-3)
    assert out["peak_knee_extensor_moment_Nm_kg"] == pytest.approx(0.6, abs=1e-3)
    assert out["peak_hip_extensor_moment_Nm_kg"] == pytest.approx(1.1, abs=1e-3)
    assert out["peak_hip_flexor_moment_Nm_kg"] == pytest.approx(0.7, abs=1e-3)
    assert out["peak_ankle_plantarflexor_moment_Nm_kg"] == pytest.approx(1.4, abs=1e-3)
    assert out["peak_ankle_power_A2_W_kg"] == pytest.approx(2.0, abs=1e-3)  # the sine's top at 0.3 s: mid-stance
    assert out["hip_power_H1_W_kg"] == pytest.approx(0.8, abs=1e-3)
    assert out["hip_power_H2_W_kg"] == pytest.approx(-0.6, abs=1e-3)
    assert out["hip_power_H3_W_kg"] == pytest.approx(1.2, abs=1e-3)
    assert out["ankle_work_stance_J_kg"] == pytest.approx(2.4 / np.pi, abs=2e-4)  # trapezoid at 100 Hz
    assert out["knee_work_stance_J_kg"] == pytest.approx(-0.6, abs=1e-9)
    # a frame without kinetics in stance: every measure NaN, and the table says why
    m["Knee"][30, 0] = np.nan
    assert all(np.isnan(v) for v in cycle_kinetic_measures(t, m, p, 0.0, 0.6, 1.0).values())


def test_kinetic_table_and_curves_say_why():
    t, m, p = _analytic()
    names = lambda kind: [f"{s}{j}{kind}" for s in "LR" for j in ("Hip", "Knee", "Ankle")]  # noqa: E731
    kin = xr.Dataset({"moments": (("frame", "moment_output", "axis"), np.stack([m[j] for j in ("Hip", "Knee", "Ankle")] * 2, 1)),
                      "powers": (("frame", "power_output"), np.stack([p[j] for j in ("Hip", "Knee", "Ankle")] * 2, 1))},
                     coords={"time": ("frame", t), "moment_output": names("Moment"), "power_output": names("Power")})
    kin.moments.values[20:25, 3:] = np.nan  # the right stance not on a plate
    cycles = pd.DataFrame({"side": ["Left", "Right"], "start": [0.0, 0.0], "foot_off": [0.6, 0.6], "end": [1.0, 1.0]})
    table = kinetic_metrics(kin, cycles, refused="plate 1 frames 1-60: - shared")
    assert table.peak_knee_adduction_moment_1_Nm_kg.iloc[0] == pytest.approx(0.5, abs=1e-3)
    assert np.isnan(table.peak_knee_adduction_moment_1_Nm_kg.iloc[1])
    assert table.kinetics_reason.tolist() == ["", "stance not on one force plate alone (no kinetics in stance); "
                                              "refused contacts: plate 1 frames 1-60: - shared"]
    c = kinetic_curves(kin, cycles)
    np.testing.assert_allclose(c.moment_curves.sel(moment_joint="KneeMoment", axis="y").values[0], m["Knee"][:, 1])
    assert c.moment_curves.attrs["units"] == "N m/kg" and c.power_curves.attrs["units"] == "W/kg"
    assert list(kinetic_metrics(None, cycles, "the capture has no force plates").kinetics_reason) == \
        ["no kinetics: the capture has no force plates"] * 2


def test_units_by_name():
    assert METRIC_UNITS["peak_knee_adduction_moment_1_Nm_kg"] == "N m/kg"
    assert METRIC_UNITS["peak_ankle_power_A2_W_kg"] == "W/kg" and METRIC_UNITS["hip_work_stance_J_kg"] == "J/kg"
    assert METRIC_UNITS["walking_speed_m_s"] == "m s-1" and METRIC_UNITS["stride_time_s"] == "s"


def test_the_kinetic_model_is_skipped_by_name_without_kinetics():
    rng = np.random.default_rng(0)
    n = 40
    metrics = pd.DataFrame({"subject": np.repeat(["A", "B", "C", "D"], 10), "trial": np.repeat(list("abcdefgh"), 5),
                            "condition": np.tile(["x", "y"], 20), "side": np.tile(["Left", "Left", "Right", "Right"], 10),
                            "peak_eversion_deg": rng.normal(size=n), "peak_knee_adduction_moment_1_Nm_kg": np.nan,
                            "kinetics_reason": "no kinetics: the capture has no force plates"})
    curves = xr.DataArray(np.zeros((0, 1, 101)), dims=("cycle", "variable", "percent"),
                          coords={"variable": ["v"], "subject": ("cycle", []), "condition": ("cycle", [])})
    formula = "peak_knee_adduction_moment_1_Nm_kg ~ peak_eversion_deg + C(condition) + C(side)"
    s = study_statistics(metrics, curves, models=(formula,), n_permutations=100)
    assert not s.models
    assert s.problems == [f"model {formula!r} skipped: the study has no kinetic measures "
                          "(no kinetics: the capture has no force plates)"]
    metrics["peak_knee_adduction_moment_1_Nm_kg"] = 0.3 + 0.05 * metrics.peak_eversion_deg + rng.normal(0, 0.01, n)
    s = study_statistics(metrics, curves, models=(formula,), n_permutations=100)
    est = s.models[0].table.set_index("term").estimate
    assert est["peak_eversion_deg"] == pytest.approx(0.05, abs=0.01)


@pytest.mark.skipif(not (SHARED / "biomechzoo" / "HC031A").is_dir(), reason="needs ../shared (biomechzoo HC031A)")
def test_a_shared_contact_is_named_in_the_trial_file_and_the_store(tmp_path):
    from chainlab.io.study_store import open_study, write_study_store

    dyn = SHARED / "biomechzoo" / "HC031A" / "Turn" / "HC031A23.c3d"
    sta = next((SHARED / "biomechzoo" / "HC031A" / "Static").glob("*.c3d"))
    res = run_trial(TrialRow("HC031A", "Turn", "HC031A23", sta, dyn), tmp_path / "t.h5")
    t = open_trial_file(tmp_path / "t.h5")
    assert t.kinetics_absent == ""
    shared = t.contacts[t.contacts.status == "shared"]
    assert list(shared.plate) == [1] and "both feet under the centre of pressure" in shared.reason.iloc[0]
    with xr.open_dataset(tmp_path / "t.h5", engine="h5netcdf") as root:
        assert root.attrs["contacts_refused"].startswith("plate 1 frames 256-362: - shared")
    refused = res.metrics[res.metrics.kinetics_reason != ""]
    assert len(refused) and all("plate 1 frames 256-362: - shared" in r for r in refused.kinetics_reason)
    store = write_study_store([t], [], tmp_path / "study.h5")
    one = open_study(store).trial("HC031A23")
    assert "shared" in one.contact_status.values.tolist() and one.trial_kinetics_absent.item() == ""
    from chainlab.report import _kinetics

    text = _kinetics(open_study(store))  # the report's Kinetics section
    assert "1 of 1 trial(s) have Plug-in Gait kinetics" in text and "Plate contacts refused" in text
    assert "<td>HC031A23</td><td class=n>1</td><td>256-362</td><td>-</td><td>shared</td>" in text


def test_the_kinematics_file_holds_the_kinetics(whole, tmp_path):
    """`chainlab kinematics`: the kinetics beside the angles in the root group, in spans too."""
    from chainlab.cli import main
    from chainlab.pipeline import run_kinematics

    dyn, sta = HC030A
    run_kinematics(dyn, sta, tmp_path / "k.h5", chunk_frames=50, progress=False)
    assert main(["kinematics", str(dyn), "--static", str(sta), "-o", str(tmp_path / "one.h5")]) == 0
    for name in ("k.h5", "one.h5"):
        with xr.open_dataset(tmp_path / name, engine="h5netcdf") as k:
            for v in VARIABLES:
                np.testing.assert_array_equal(k[v].values, whole[v].values, err_msg=f"{name} {v}")
            assert k.moments.attrs["units"] == "N m/kg" and k.attrs["kinetics_absent"] == ""
            assert k.frame.values[0] == whole.frame.values[0]
    assert main(["kinematics", str(dyn), "--static", str(sta), "-o", str(tmp_path / "no.h5"), "--no-kinetics"]) == 0
    with xr.open_dataset(tmp_path / "no.h5", engine="h5netcdf") as k:
        assert "moments" not in k and k.attrs["kinetics_absent"].startswith("kinetics not asked for")
    assert main(["kinematics", str(dyn), "--static", str(sta), "-o", str(tmp_path / "x.h5"), "--plates", "1=Q"]) == 2


def test_body_mass_from_the_subject_and_lengths_from_the_static(tmp_path):
    """A capture without PROCESSING (the simulator's): no kinetics, saying the body mass is
    missing; with the body mass given as a subject measurement, the segment lengths are
    measured on the static trial and the stances on a plate get their measures."""
    import dataclasses

    from chainlab.simulate import Condition, SimulationOptions, simulate_study

    sheet = simulate_study(HC030A[1], HC030A[0], tmp_path, SimulationOptions(
        subjects=1, conditions=(Condition("control"),), trials=1, cycles=3, truth=False))
    r = sheet.iloc[0]
    row = TrialRow("S01", "control", r.trial, tmp_path / r.static, tmp_path / r.dynamic)
    cfg = StudyConfig.defaults()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_trial(row, tmp_path / "none.h5", cfg)
        opt = dataclasses.replace(cfg.kinematics_options(), subject={"Bodymass": 70.0})
        res = run_trial(row, tmp_path / "t.h5", cfg, options=opt)
    assert "missing or not positive: Bodymass" in open_trial_file(tmp_path / "none.h5").kinetics_absent
    t = open_trial_file(tmp_path / "t.h5")
    assert t.kinetics_absent == "" and list(t.contacts.status) == ["accepted", "accepted"]
    with xr.open_dataset(tmp_path / "t.h5", group="kinetics", engine="h5netcdf") as k:
        assert k.attrs["contacts"] and np.isfinite(k.moments.values).any()
    measured = res.metrics[res.metrics.kinetics_reason == ""]
    assert len(measured) == 2 and measured.peak_knee_extensor_moment_Nm_kg.gt(0).all()


def test_the_reasons_a_trial_has_no_kinetics():
    from chainlab.kinematics import KinematicsOptions
    from chainlab.kinetics import KineticsOptions
    from chainlab.kinetics.trial import trial_kinetics

    head = read_c3d(HC030A[0], frames=slice(0, 1))
    rows = {k: np.zeros((2, 3)) for k in ("LASI", "RASI", "SACR")}
    cases = [(KineticsOptions(), KinematicsOptions(models=("ofm", "trunk")), rows,
              "Plug-in Gait is not among the models run (kinematics.models)"),
             (KineticsOptions(), KinematicsOptions(solver="global"), rows,
              "kinetics are computed on the direct solver's Plug-in Gait segments (kinematics.solver: global)"),
             (None, KinematicsOptions(), rows, "kinetics not asked for (kinetics.enabled: false)"),
             (KineticsOptions(), KinematicsOptions(), {}, "the pelvis markers are never seen (no progression frame)")]
    for kinetics, kinematics, pelvis, why in cases:
        assert trial_kinetics("t", head, [], None, kinetics, kinematics, pelvis, None) == (None, why)
    no_plates = head.drop_dims("plate")
    assert trial_kinetics("t", no_plates, [], None, KineticsOptions(), KinematicsOptions(), rows, None) == \
        (None, "the capture has no force plates")
