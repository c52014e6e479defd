"""Any lab's captures through the pipeline: models left out by default, quality problems
stored and counted, a walk without its static, marker mappings, rebuilt cluster markers,
``chainlab agree``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from chainlab import read_c3d
from chainlab.cli import main
from chainlab.config import StudyConfig
from chainlab.io.study_store import open_study, write_study_store
from chainlab.io.trial_file import open_trial_file
from chainlab.pipeline import run_kinematics, run_trial
from chainlab.problems import headline
from chainlab.report import _not_measured, _summary
from chainlab.results import TrialFailure, TrialResult, TrialRow
from chainlab.study import run_study, store_tables

from .conftest import SHARED, STUDY, fixture

VENDORS = SHARED / "vendors"
KTK = VENDORS / "ktk_walk.c3d"
WALK = STUDY / "HC030A" / "Straight" / "HC030A05.c3d"
STATIC = STUDY / "HC030A" / "Static" / "HC030A01.c3d"
KTK_MAP = {"LTHI": "LTHI_1", "LTHI2": "LTHI", "RTHI": "RTHI_1", "RTHI2": "RTHI"}
needs_shared = pytest.mark.skipif(not KTK.exists(), reason="../shared vendors not present")


def _checks(problems):
    return {(p["check"], p["markers"]) for p in problems}


@needs_shared
def test_ktk_walk_runs_clean_as_labelled_and_a_wrong_mapping_is_named(tmp_path, capsys):
    # no static: the calibration stored in the capture, with its knee alignment device offsets
    # (LTHI 100 deg behind lateral by LThighRotation); default options: OFM, trunk, lumbar left out
    assert main(["kinematics", str(KTK), "-o", str(tmp_path / "k.h5")]) == 0
    err = capsys.readouterr().err
    assert "quality problem" not in err and "model 'ofm' not run" in err
    with xr.open_dataset(tmp_path / "k.h5") as k:
        assert json.loads(k.attrs["quality_problems"]) == []
        assert k.attrs["calibration_source"] == "stored: ktk_walk.c3d PROCESSING"
        assert set(json.loads(k.attrs["models_left_out"])) == {"ofm", "trunk", "lumbar"}
        ours = k.angles.sel(output=["LKneeAngles", "RAnkleAngles"]).values
    nexus = read_c3d(KTK).model_outputs.sel(output=["LKneeAngles", "RAnkleAngles"]).values
    assert np.nanmax(np.abs(ours - nexus)) < 1e-4  # deg; measured 8e-6
    # LTHI2 (the lateral marker) mapped in as LTHI: the offsets no longer fit, and it is named
    (tmp_path / "ktk.yaml").write_text("".join(f"{a}: {b}\n" for a, b in KTK_MAP.items()))
    assert main(["kinematics", str(KTK), "-o", str(tmp_path / "k2.h5"), "--markers", str(tmp_path / "ktk.yaml")]) == 0
    assert "quality problem [thigh_wand_direction] LTHI" in capsys.readouterr().err
    with xr.open_dataset(tmp_path / "k2.h5") as k:
        assert json.loads(k.attrs["marker_mapping"]) == KTK_MAP
        assert {("thigh_wand_direction", "LTHI"), ("thigh_wand_direction", "RTHI")} <= _checks(
            json.loads(k.attrs["quality_problems"]))


def test_btk_gait_runs_with_the_helen_hayes_preset_and_names_what_it_lacks(tmp_path, capsys):
    """BTK's Gait.c3d (Helen Hayes labels, no static trial, no PROCESSING group): with the
    preset it runs to the end; every model left out is named with the values or markers it
    lacks, and its shank wands (LSHA/RSHA mapped as LTIB/RTIB, 81-86 deg from lateral) are named."""
    out = tmp_path / "gait.h5"
    assert main(["kinematics", str(fixture("Gait.c3d")), "--markers", "helen-hayes", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "model 'pig' not run: calibration not stored: LLegLength" in err
    assert "model 'ofm' not run: calibration not stored" in err  # the OFM needs Plug-in Gait's calibration
    assert "quality problem [shank_wand_direction] LTIB" in err and "[shank_wand_direction] RTIB" in err
    with xr.open_dataset(out) as k:
        assert set(json.loads(k.attrs["models_left_out"])) == {"pig", "ofm", "trunk", "lumbar"}
        assert json.loads(k.attrs["marker_mapping"])["LSHA"] == "LTIB"
        assert {("shank_wand_direction", "LTIB"), ("shank_wand_direction", "RTIB")} <= _checks(
            json.loads(k.attrs["quality_problems"]))
        assert k.sizes.get("output", 0) == 0  # no angle computed, none silently wrong


@pytest.mark.parametrize("a, b, named", [
    ("LKNE", "LTHI", {("segment_length", "LHJC,LKNE"), ("segment_length", "LHJC,LTHI"),
                      ("thigh_wand_direction", "LTHI")}),
    ("LANK", "LHEE", {("segment_length", "LTIB,LANK"), ("segment_length", "LHEE,LTOE")}),
])
def test_two_labels_swapped_in_the_file_are_named_on_stderr_and_in_the_output(tmp_path, capsys, a, b, named):
    """Two markers' labels swapped in a copy of HC030A05 (ezc3d), run as a lab would: the
    problems name the markers on stderr and in the output's quality_problems."""
    ezc3d = pytest.importorskip("ezc3d")
    c = ezc3d.c3d(str(WALK))
    labels = list(c["parameters"]["POINT"]["LABELS"]["value"])
    i, j = labels.index(a), labels.index(b)
    labels[i], labels[j] = labels[j], labels[i]
    c["parameters"]["POINT"]["LABELS"]["value"] = labels
    c.write(str(tmp_path / "swapped.c3d"))
    out = tmp_path / "k.h5"
    assert main(["kinematics", str(tmp_path / "swapped.c3d"), "--static", str(STATIC), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    for check, markers in named:
        assert f"quality problem [{check}] {markers}" in err
    assert {a, b} <= {m for _, markers in named for m in markers.split(",")}  # both swapped markers named
    with xr.open_dataset(out) as k:
        found = json.loads(k.attrs["quality_problems"])
    assert named <= {(p["check"], ",".join(p["markers"]) if isinstance(p["markers"], list) else p["markers"])
                     for p in found}


@needs_shared
def test_a_pig_only_trial_runs_by_default_with_ofm_named(tmp_path):
    row = TrialRow("S", "c", "pig", VENDORS / "PiG_Calibration3_FF.c3d", VENDORS / "PiG_Motion3_FF.c3d")
    res = run_trial(row, tmp_path / "pig.h5")
    assert isinstance(res, TrialResult)
    left = json.loads(res.models_left_out)
    assert "LTUB" in left["ofm"] and res.outputs == 10
    assert not any("gaps in rearfoot_eversion" in p for p in res.problems)
    assert any("rearfoot_eversion, tibial_rotation_lab not measured: model 'ofm' did not run" in p
               for p in res.problems) or len(res.metrics) == 0
    strict = StudyConfig.from_dict({"study": "s", "trials": "-", "kinematics": {"strict": True}})
    fail = run_trial(row, tmp_path / "pig_strict.h5", strict)
    assert isinstance(fail, TrialFailure) and fail.stage == "kinematics"
    assert "'ofm' cannot run" in fail.reason and "--strict" in fail.reason


def test_a_walk_without_its_static_runs_from_the_stored_calibration(tmp_path):
    with_static = run_trial(TrialRow("HC030A", "Straight", "a", STATIC, WALK), tmp_path / "a.h5")
    stored = run_trial(TrialRow("HC030A", "Straight", "b", None, WALK), tmp_path / "b.h5")
    assert isinstance(stored, TrialResult) and len(stored.metrics) == len(with_static.metrics) > 0
    with xr.open_dataset(tmp_path / "a.h5", group="kinematics") as a, \
            xr.open_dataset(tmp_path / "b.h5", group="kinematics") as b:
        assert b.attrs["calibration_source"] == "stored: HC030A05.c3d PROCESSING"
        assert a.attrs["calibration_source"] == "static: HC030A01.c3d"
        assert float(np.nanmax(np.abs(a.angles.values - b.angles.values))) < 1e-6


def test_a_cluster_marker_never_labelled_is_rebuilt_before_the_models(tmp_path):
    # the mapping hides LSHN in the walk only (the static is read as it is): absent for the whole trial
    row = TrialRow("HC030A", "Straight", "noshn", STATIC, WALK, markers="")
    res = run_trial(row, tmp_path / "t.h5", markers={"LSHN": "LSHN_hidden"},
                    read_static=lambda path, mapping=None: read_c3d(path))
    assert isinstance(res, TrialResult) and "ofm" not in json.loads(res.models_left_out)
    with xr.open_dataset(tmp_path / "t.h5", group="kinematics") as k:
        rebuilt = json.loads(k.attrs["rebuilt_markers"])
        assert list(rebuilt) == ["LSHN"] and rebuilt["LSHN"].startswith("197 of 197 frames")
        hfbta = k.angles.sel(output="LHFTBA").values
    run_trial(TrialRow("HC030A", "Straight", "all", STATIC, WALK), tmp_path / "all.h5")
    with xr.open_dataset(tmp_path / "all.h5", group="kinematics") as k:
        measured = k.angles.sel(output="LHFTBA").values
    # the OFM tibia follows Plug-in Gait's: HFTBA unchanged by the rebuilt LSHN (docs/quality.md)
    assert np.nanmax(np.abs(hfbta - measured)) < 0.01


def test_a_study_counts_its_failures_and_problems(tmp_path):
    import pandas as pd

    sheet = pd.DataFrame([
        {"subject": "HC030A", "condition": "Straight", "trial": "good", "static": str(STATIC), "dynamic": str(WALK)},
        {"subject": "HC002D", "condition": "Straight", "trial": "filed_wrong", "static": str(STATIC),
         "dynamic": str(WALK)},
        {"subject": "HC030A", "condition": "Straight", "trial": "lost", "static": str(STATIC),
         "dynamic": str(tmp_path / "missing.c3d")},
        {"subject": "HC030A", "condition": "Straight", "trial": "stored", "static": "", "dynamic": str(WALK)},
    ])
    run = run_study(sheet, tmp_path / "trials", progress=lambda m: None)
    assert [f.trial for f in run.failures] == ["lost"]
    store = store_tables(run, tmp_path / "study_tables.h5")
    study = open_study(store)
    problems = study.problems
    assert problems[problems.check == "sheet_subject"].trial.tolist() == ["filed_wrong"]
    assert "'HC002D'" in problems.message[problems.check == "sheet_subject"].iloc[0]
    assert study.headline() == "4 trials: 2 analysed, 1 with a quality problem (filed_wrong), 1 failed (lost)"
    tsv = pd.read_csv(tmp_path / "problems.tsv", sep="\t")
    assert tsv.check.tolist() == problems.check.tolist()
    assert pd.read_csv(tmp_path / "failures.tsv", sep="\t").trial.tolist() == ["lost"]
    page = _summary(study)
    assert "4 trials: 2 analysed" in page and "sheet_subject" in page
    trials = study._group("trials")
    cal = dict(zip(trials.trial.values.tolist(), trials.trial_calibration_source.values.tolist()))
    assert cal["stored"].startswith("stored:") and cal["good"].startswith("static:")


def test_the_headline_counts_each_trial_once():
    rows = [{"trial": "a", "check": "no_cycles", "segment": ""}, {"trial": "a", "check": "segment_length",
                                                                   "segment": "thigh"},
            {"trial": "b", "check": "model_not_run", "segment": "ofm"},
            {"trial": "c", "check": "no_angles", "segment": ""}, {"trial": "c", "check": "no_cycles", "segment": ""}]
    text = headline(["a", "b", "c", "d"], [{"trial": "e", "stage": "read"}], rows)
    assert text == ("5 trials: 2 analysed, 1 without cycles (a), 1 without angles (c), 1 failed (e); "
                    "model(s) ofm not run in 1 (b)")


def test_chainlab_agree_prints_the_agreement_table(capsys):
    assert main(["agree", str(WALK), "--static", str(STATIC)]) == 0
    out = capsys.readouterr().out
    assert "calibration static HC030A01.c3d" in out
    cells = next(x for x in out.splitlines() if x.startswith("LKneeAngles ")).split()
    assert cells[-1] == "197"  # frames compared
    assert max(float(c) for c in cells[1:7]) < 1e-3  # RMS and max: Plug-in Gait equals Nexus to float32 precision


def test_config_markers_and_strict_are_validated(tmp_path):
    from chainlab.config import ConfigError, read_sheet

    base = {"study": "s", "trials": "-"}
    assert StudyConfig.from_dict(base).kinematics_options().partial is True  # models left out by default
    assert StudyConfig.from_dict({**base, "kinematics": {"strict": True}}).kinematics_options().partial is False
    assert StudyConfig.from_dict({**base, "markers": "helen-hayes"}).markers == "helen-hayes"
    cfg = StudyConfig.from_dict({**base, "markers": {"LTHI2": "LTHI"}})
    assert json.loads(cfg.settings("markers")) == {"markers": {"LTHI2": "LTHI"}}  # a trial records it
    with pytest.raises(ConfigError, match="markers"):
        StudyConfig.from_dict({**base, "markers": 3})
    sheet = tmp_path / "trials.tsv"
    sheet.write_text("subject\tcondition\ttrial\tstatic\tdynamic\tmarkers\n"
                     f"S\tc\tt1\t\t{WALK}\t\nS\tc\tt2\t{STATIC}\t{WALK}\tmap.yaml\n")
    rows = read_sheet(sheet)
    assert rows.static.tolist() == ["", str(STATIC)] and rows.markers.tolist() == ["", "map.yaml"]
    assert TrialRow.of(rows.iloc[0]).static is None and TrialRow.of(rows.iloc[1]).markers == "map.yaml"


def test_a_mapping_file_that_is_not_one_fails_the_trial_naming_it(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("- LTHI\n- LTHI2\n")
    res = run_trial(TrialRow("HC030A", "Straight", "t", STATIC, WALK, markers=str(bad)), tmp_path / "t.h5")
    assert isinstance(res, TrialFailure) and res.stage == "read" and "bad.yaml" in res.reason


def test_a_trial_without_ofm_markers_keeps_its_plug_in_gait_measures(tmp_path):
    # LTUB and RTUB mapped away in the walk and its static: the OFM cannot run (nor rebuild them)
    res = run_trial(TrialRow("HC030A", "Straight", "t", STATIC, WALK), tmp_path / "t.h5",
                    markers={"LTUB": "LTUB_away", "RTUB": "RTUB_away"})
    assert isinstance(res, TrialResult) and len(res.metrics) > 0
    assert json.loads(res.models_left_out)["ofm"].startswith("missing from HC030A05.c3d: LTUB")
    assert res.metrics.pelvic_tilt_mean_deg.notna().all() and res.metrics.peak_eversion_deg.isna().all()
    said = [p for p in res.problems if "not measured" in p]
    assert len(said) == 2 and "rearfoot_eversion, tibial_rotation_lab not measured: model 'ofm' did not run" in said[0]
    assert "arch measures not measured: model 'ofm' did not run" in said[1]
    # the capture's own heel and toe markers give the spatiotemporal parameters without the OFM
    assert (res.metrics.not_measured == "rearfoot_eversion,tibial_rotation_lab,arch").all()
    full = run_trial(TrialRow("HC030A", "Straight", "t", STATIC, WALK), tmp_path / "full.h5")
    columns = ["cadence_steps_per_min", "stride_length_m", "step_length_m", "step_width_m", "foot_progression_deg"]
    assert np.isfinite(res.metrics[columns].to_numpy()).all()
    np.testing.assert_array_equal(res.metrics[columns].to_numpy(), full.metrics[columns].to_numpy())
    assert not res.metrics.gaps.str.contains("rearfoot_eversion").any()
    assert not any("gaps in" in p and "rearfoot_eversion" in p for p in res.problems)
    with xr.open_dataset(tmp_path / "t.h5", group="kinematics") as k:
        assert json.loads(k.attrs["marker_mapping"]) == {"LTUB": "LTUB_away", "RTUB": "RTUB_away"}


def test_the_report_names_what_a_trial_could_not_measure(tmp_path):
    """A trial without the OFM's TUB markers: its store row's problems and the report's 'Not
    measured' table name the variables and why; a trial that measured everything adds none."""
    run_trial(TrialRow("HC030A", "Straight", "pig_only", STATIC, WALK), tmp_path / "pig_only.h5",
              markers={"LTUB": "LTUB_away", "RTUB": "RTUB_away"})
    run_trial(TrialRow("HC030A", "Straight", "full", STATIC, WALK), tmp_path / "full.h5")
    views = [open_trial_file(tmp_path / f"{t}.h5") for t in ("full", "pig_only")]
    write_study_store(views, [], tmp_path / "study.h5")
    rows = _not_measured(open_study(tmp_path / "study.h5"))
    assert {t for t, _ in rows} == {"pig_only"}
    said = " | ".join(p for _, p in rows)
    assert "rearfoot_eversion, tibial_rotation_lab not measured: model 'ofm' did not run" in said
    assert "arch measures not measured: model 'ofm' did not run" in said and "spatiotemporal" not in said


def test_a_trial_file_written_before_the_arch_columns_reads_them_as_nan(tmp_path):
    """A trial output from before the per-cycle arch columns: they read as NaN (numbers), the
    store is written from it, and the rest of its table is unchanged."""
    import h5py

    run_trial(TrialRow("HC030A", "Straight", "t", STATIC, WALK), tmp_path / "t.h5")
    new = open_trial_file(tmp_path / "t.h5").metrics
    with h5py.File(tmp_path / "t.h5", "r+") as f:
        for c in ("arch_height_index_stance_mean_pct", "arch_height_index_stance_min_pct"):
            del f[f"metrics/{c}"]
    old = open_trial_file(tmp_path / "t.h5")
    assert old.metrics.arch_height_index_stance_mean_pct.isna().all() and np.isfinite(new.arch_height_index_stance_mean_pct).all()
    np.testing.assert_array_equal(old.metrics.step_length_m.to_numpy(float), new.step_length_m.to_numpy(float))
    write_study_store([old], [], tmp_path / "study.h5")
    assert open_study(tmp_path / "study.h5").metrics.arch_height_index_stance_min_pct.isna().all()


def test_a_trial_file_written_before_the_measures_frame_reads_its_measures_as_lab(tmp_path):
    """A trial output whose /measures predates the ``frame`` column: every measure then was
    taken in the lab's axes, so the column reads "lab" (not "", which no query for frame=lab
    finds), and the store written from it says so."""
    import h5py
    import yaml

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"study": "s", "trials": "t.tsv", "measures": [
        {"name": "grf_ml_min", "output": "GroundReactionForce", "component": "x", "side": "right",
         "window": "stance", "stat": "min"}]}))
    run_trial(TrialRow("HC030A", "Straight", "t", STATIC, WALK), tmp_path / "t.h5", StudyConfig.load(cfg))
    assert set(open_trial_file(tmp_path / "t.h5").measures.frame) == {"lab"}
    with h5py.File(tmp_path / "t.h5", "r+") as f:
        del f["measures/frame"]
    old = open_trial_file(tmp_path / "t.h5")
    assert len(old.measures) > 0 and set(old.measures.frame) == {"lab"}
    write_study_store([old], [], tmp_path / "study.h5")
    assert set(open_study(tmp_path / "study.h5").measures.frame) == {"lab"}


def test_a_trial_file_before_the_arch_columns_says_why_they_are_nan(tmp_path):
    """A trial file kept from before the arch columns (a study reuses it when its inputs and
    settings are unchanged): the NaN columns are named in the trial's problems, so the store
    does not show holes without a reason."""
    import h5py

    run_trial(TrialRow("HC030A", "Straight", "t", STATIC, WALK), tmp_path / "t.h5")
    assert not any("arch_height_index" in p for p in open_trial_file(tmp_path / "t.h5").problems)
    with h5py.File(tmp_path / "t.h5", "r+") as f:
        for c in ("arch_height_index_stance_mean_pct", "arch_height_index_stance_min_pct"):
            del f[f"metrics/{c}"]
    old = open_trial_file(tmp_path / "t.h5")
    said = [p for p in old.problems if "arch_height_index_stance_mean_pct" in p]
    assert len(said) == 1 and "written before" in said[0] and said[0].startswith("HC030A05.c3d: ")
    write_study_store([old], [], tmp_path / "study.h5")
    with xr.open_dataset(tmp_path / "study.h5", group="trials") as ds:
        assert "arch_height_index_stance_min_pct" in str(ds.trial_problems.values[0])
