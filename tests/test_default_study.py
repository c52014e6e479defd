"""The default study (six subjects), what a store says its tests cannot reach, metrics.csv,
a study whose every trial failed, damaged trial outputs rebuilt by `chainlab study`, the
plate filter's cut-off checked against the capture, and one-line warnings."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pandas as pd
import pytest

from chainlab.config import read_sheet
from chainlab.errors import warning_line
from chainlab.figures import FIGURES, draw_all
from chainlab.gait.events import plate_filter
from chainlab.io.study_store import capture_precision, open_study, statistics_dataset
from chainlab.options import PlateEventOptions
from chainlab.report import write_report
from chainlab.reach import permutations_text, smallest_sign_flip_p, subjects_needed
from chainlab.schema import ANGLE_METRIC_COLUMNS, KINETIC_METRIC_COLUMNS, METRIC_COLUMNS, column_units
from chainlab.stats.mixed import MixedResult
from chainlab.stats.spm import SPMResult
from chainlab.stats.study import StudyStatistics
from chainlab.study import build_study

from .conftest import ROOT, SHARED, STUDY, three_subject_config


def test_the_default_study_has_six_subjects_in_both_conditions():
    sheet = read_sheet(ROOT / "config" / "trials.tsv")
    assert sorted(sheet.subject.unique()) == ["HC002D", "HC030A", "HC031A", "HC032A", "HC033A", "HC036A"]
    assert (sheet.groupby("condition").subject.nunique() == 6).all() and len(sheet) == 12
    # six subjects are the fewest whose paired sign-flip test can reach alpha 0.05
    assert subjects_needed(0.05) == sheet.subject.nunique()
    for p in sorted(set(sheet.static) | set(sheet.dynamic)):
        assert os.path.isfile(p), p
        shared = SHARED / "biomechzoo" / os.path.relpath(p, STUDY)
        if shared.is_file():  # copied unchanged
            assert os.path.getsize(p) == shared.stat().st_size, p


def _spm(n_subjects, n_permutations=2000):
    return SPMResult(np.zeros(101), 3.0, 0.05, [], n_permutations, n_subjects)


def test_the_store_says_which_tests_cannot_reach_significance():
    table = pd.DataFrame({"term": ["Intercept", "C(condition)[T.Turn]", "peak_eversion_deg"], "estimate": [1.0, 2, 3],
                          "se": 1.0, "ci_low": 0.0, "ci_high": 4.0, "p": 0.5})
    model = MixedResult("y ~ peak_eversion_deg + C(condition)", table, 40, 8, random="(1 | subject/trial)")
    stats = StudyStatistics(models=[model],
                            spm={"lordosis": _spm(5), "pelvic_tilt": _spm(6), "rearfoot_eversion": _spm(3)},
                            subjects={"Straight": 6, "Turn": 2})
    ds = statistics_dataset(stats)
    assert ds.model_reach.values.tolist()[0] == "" and ds.model_reach.values.tolist()[2] == ""
    assert str(ds.model_reach.values[1]).startswith("Condition 'Turn' has 2 subjects (fewer than 3): ")
    reach = dict(zip(ds.spm_variable.values, ds.spm_reach.values))
    assert reach["pelvic_tilt"].startswith("SPM pelvic_tilt can reach significance: 6 subjects paired, "
                                           "smallest attainable p 1/32 = 0.0312 < alpha 0.05")
    assert reach["lordosis"].startswith("SPM lordosis cannot reach significance: it pairs 5 subjects, 32 sign "
                                        "flips, so p is at least 1/16 = 0.0625, not below alpha 0.05")
    assert "1/4 = 0.25" in reach["rearfoot_eversion"] and "6 subjects in both conditions are needed" in \
        reach["rearfoot_eversion"]
    said = json.loads(ds.attrs["reach"])
    assert said[0].startswith("Condition 'Turn' has 2 subjects (fewer than 3)")
    assert [s.split(" cannot")[0] for s in said[1:]] == ["SPM rearfoot_eversion", "SPM lordosis"]
    # too few permutations for a p below alpha, whatever the subjects
    few = statistics_dataset(StudyStatistics(spm={"lordosis": _spm(8, 10)}))
    assert "10 permutations: a permutation p is at least 1/11" in str(few.spm_reach.values[0])
    assert permutations_text(19, 0.05) and not permutations_text(20, 0.05)
    assert smallest_sign_flip_p(6) == 1 / 32


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    config = three_subject_config(tmp_path_factory.mktemp("study"))
    out = tmp_path_factory.mktemp("results")
    return build_study(config, out, n_permutations=200, progress=lambda m: None)


def test_a_three_subject_store_says_why_in_words(three):
    st = open_study(three).statistics
    assert all("cannot reach significance" in str(r) for r in st.spm_reach.values)
    said = json.loads(st.attrs["reach"])
    assert any(s.startswith("SPM ") and "pairs 3 subjects, 8 sign flips, so p is at least 1/4 = 0.25" in s
               for s in said)
    assert all(r == "" for r in st.band_reach.values)  # 3 subjects per condition: bands say nothing


def test_metrics_csv_identifiers_first_and_times_at_capture_precision(three):
    text = (three.parent / "metrics.csv").read_text()
    header = text.splitlines()[0].split(",")
    assert header[:5] == ["subject", "condition", "trial", "side", "cycle"]
    # the measures after them in the table's order, the kinetic ones last with units in their names
    assert METRIC_COLUMNS[:2] == ["side", "cycle"]
    assert [c for c in header[5:] if c in METRIC_COLUMNS] == [c for c in METRIC_COLUMNS[2:] if c in header]
    kinetic = [c for c in header if c in KINETIC_METRIC_COLUMNS]
    assert kinetic == [c for c in KINETIC_METRIC_COLUMNS if c in header] and len(kinetic) == len(KINETIC_METRIC_COLUMNS)
    assert header.index(kinetic[0]) > max(header.index(c) for c in header if c in ANGLE_METRIC_COLUMNS)
    assert {column_units(c) for c in kinetic} == {"N m/kg", "W/kg", "J/kg", "1"}  # 1: kinetics_reason
    with h5py.File(three, "r") as f:
        for c in kinetic:
            got = f[f"metrics/{c}"].attrs["units"]
            assert (got.decode() if isinstance(got, bytes) else got) == column_units(c), c
    m = pd.read_csv(three.parent / "metrics.csv", dtype=str)
    first = m[(m.trial == "HC002D06") & (m.side == "Left") & (m.cycle == "0")].iloc[0]
    # a strike at a frame of the 100 Hz markers (1.35 s), the next from a plate's 1 kHz force (2.276 s)
    assert (first.start_s, first.end_s, first.stride_time_s) == ("1.35", "2.276", "0.926")
    for col in ("start_s", "end_s", "stride_time_s"):
        assert m[col].str.len().max() <= 6, m[col].tolist()  # no 1.350000023841858
    with h5py.File(three, "r") as f:  # the store's /metrics alike
        np.testing.assert_array_equal(f["metrics/start_s"][()], pd.read_csv(three.parent / "metrics.csv").start_s)
    np.testing.assert_array_equal(capture_precision([1.350000023841858, 0.9259999761581419, np.nan]),
                                  [1.35, 0.926, np.nan])


def test_chainlab_study_rebuilds_a_damaged_trial_output(three, tmp_path):
    config = three_subject_config(tmp_path / "study", "two")
    sheet = config.parent / "trials.tsv"
    sheet.write_text("\n".join(sheet.read_text().splitlines()[:3]) + "\n")
    first = build_study(config, tmp_path / "results", n_permutations=200, progress=lambda m: None)
    clean = {k: open_study(first).metrics[k].to_numpy() for k in ("peak_eversion_deg", "start_s")}
    victim = first.parent / "trials" / "HC002D25.h5"
    stat = victim.stat()
    data = bytearray(victim.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(b ^ 0xFF for b in data[middle:middle + 64])  # same size and time
    victim.write_bytes(bytes(data))
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    said = []
    again = build_study(config, tmp_path / "results", n_permutations=200, progress=said.append)
    assert any(m.startswith(f"{victim}: damaged") and "computed again" in m for m in said), said
    assert any("HC002D06: up to date" in m for m in said)  # the intact one is kept
    assert victim.read_bytes() != bytes(data)
    for k, v in clean.items():
        np.testing.assert_array_equal(open_study(again).metrics[k].to_numpy(), v)


def test_a_study_whose_every_trial_failed_still_has_figures_and_a_report(tmp_path, capsys):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "trials.tsv").write_text(
        "subject\tcondition\ttrial\tstatic\tdynamic\n"
        "S1\tA\tT1\tnot_there.c3d\tnot_there_either.c3d\nS2\tB\tT2\tnot_there.c3d\tgone.c3d\n")
    (tmp_path / "config" / "config.yaml").write_text("study: none\ntrials: config/trials.tsv\n")
    store = build_study(tmp_path / "config" / "config.yaml", tmp_path / "results", progress=lambda m: None)
    said = []
    index, failures = draw_all(open_study(store), tmp_path / "figures", ("html", "json"), browser=None,
                               say=said.append)
    assert failures == [] and [e["name"] for e in index] == [f.name for f in FIGURES]
    assert sum("nothing to draw: every trial of the study failed (2;" in m for m in said) == len(FIGURES)
    spm = json.loads((tmp_path / "figures" / "spm.json").read_text())
    assert "every trial of the study failed" in spm["layout"]["annotations"][0]["text"]
    page = write_report(store, tmp_path / "figures", tmp_path / "report.html").read_text()
    assert "Nothing to analyse: every trial of the study failed (2;" in page
    assert "not_there.c3d" in page  # the failures and their reasons listed


def test_a_cutoff_above_nyquist_is_refused_naming_the_key(tmp_path):
    with pytest.raises(ValueError, match=r"gait.cutoff_Hz 600 Hz: allowed 0 < cutoff_Hz < 500 Hz, the Nyquist "
                                         r"frequency of the plates' analogs sampled at 1000 Hz"):
        plate_filter(1000.0, PlateEventOptions(cutoff_hz=600.0))
    b, a = plate_filter(1000.0, PlateEventOptions(cutoff_hz=499.0))  # just below: made as asked, not clamped
    assert np.isfinite(b).all() and np.isfinite(a).all()
    config = three_subject_config(tmp_path / "study", "hot")
    sheet = config.parent / "trials.tsv"
    sheet.write_text("\n".join(sheet.read_text().splitlines()[:2]) + "\n")
    config.write_text(config.read_text() + "gait:\n  cutoff_Hz: 2000\n")
    store = build_study(config, tmp_path / "results", n_permutations=200, progress=lambda m: None)
    fails = pd.read_csv(store.parent / "failures.tsv", sep="\t")
    assert fails.trial.tolist() == ["HC002D06"]
    assert "gait.cutoff_Hz 2000 Hz: allowed 0 < cutoff_Hz < 500 Hz" in fails.reason[0]


def test_warnings_are_one_line_without_source_lines():
    class KinematicsWarning(UserWarning):
        pass

    line = warning_line("a.c3d: SACR taken\n  as the mid-point", KinematicsWarning, "/x/pipeline.py", 522, "code")
    assert line == "KinematicsWarning: a.c3d: SACR taken as the mid-point\n"


VENDORS = SHARED / "vendors"


@pytest.mark.skipif(not (VENDORS / "PiG_Motion3_FF.c3d").is_file(), reason="../shared vendor captures absent")
def test_cli_warnings_name_the_file_once(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cli = "import sys; from chainlab.cli import main; sys.exit(main(sys.argv[1:]))"
    run = subprocess.run([sys.executable, "-c", cli, "gait", str(VENDORS / "PiG_Motion3_FF.c3d"),
                          "--static", str(VENDORS / "PiG_Calibration3_FF.c3d"), "--partial",
                          "-o", str(tmp_path / "g.h5")], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "KinematicsWarning: PiG_Motion3_FF.c3d: SACR taken as the mid-point of LPSI and RPSI\n" in run.stderr
    assert "KinematicsWarning: PiG_Calibration3_FF.c3d: SACR taken" in run.stderr
    assert "PiG_Motion3_FF.c3d: PiG_Motion3_FF.c3d" not in run.stderr and ".py:" not in run.stderr
