"""The config's measures and tests through the whole study path: the pipeline's /measures of
each trial file, the store's /measures and /tests, metrics.csv's columns, tests.csv, the query
command, R, and the refusals (an unknown output, a test of no measure)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from scipy import stats

from chainlab.cli import main
from chainlab.config import ConfigError, StudyConfig
from chainlab.gait.measures import compute_measures, parse_measures, trial_heading, trial_outputs
from chainlab.io.study_store import open_study
from chainlab.io.trial_file import TrialFile
from chainlab.pipeline import run_trial
from chainlab.results import TrialFailure, TrialRow
from chainlab.stats.hypotheses import COLUMNS, run_tests
from chainlab.study import build_study

from .conftest import ROOT, run_r

MEASURES = [
    {"name": "grf_ml_min", "output": "GroundReactionForce", "component": "x", "side": "right", "window": "stance",
     "stat": "min"},
    {"name": "hip_add_max", "output": "HipAngles", "component": "y", "side": "right", "window": "stance",
     "stat": "max", "plate": True},
    {"name": "knee_flx_mean", "output": "KneeAngles", "component": "x", "side": "both", "window": "cycle",
     "stat": "mean"},
    {"name": "grf_ml_walk", "output": "GroundReactionForce", "component": "x", "side": "right", "window": "stance",
     "stat": "min", "frame": "walking"},
]
TESTS = [
    {"measure": "grf_ml_min", "compare": "condition", "test": "paired_t", "exclude": ["HC002D25"]},
    {"measure": "hip_add_max", "compare": "condition", "test": "paired_t"},
    {"measure": "knee_flx_mean", "compare": "condition", "test": "mixed"},
]


def _config(folder, measures=MEASURES, tests=TESTS, study="own"):
    (folder / "config").mkdir(parents=True, exist_ok=True)
    sheet = pd.read_csv(ROOT / "config" / "trials.tsv", sep="\t")
    for col in ("static", "dynamic"):
        sheet[col] = [str((ROOT / "config" / p).resolve()) for p in sheet[col]]
    sheet.to_csv(folder / "config" / "trials.tsv", sep="\t", index=False)
    cfg = folder / "config" / "config.yaml"
    cfg.write_text(yaml.safe_dump({"study": study, "trials": "config/trials.tsv", "measures": measures,
                                   "tests": tests}, sort_keys=False))
    return cfg


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("own")
    out = folder / "results"
    store = build_study(_config(folder), out, n_permutations=100, progress=lambda m: None)
    return store, out / "own"


def test_the_trial_file_holds_the_measures_of_the_whole_trial(built):
    _, out = built
    path = out / "trials" / "HC030A05.h5"
    t = TrialFile(path)
    with xr.open_dataset(path, group="kinematics", engine="h5netcdf") as kin, \
            xr.open_dataset(path, group="kinetics", engine="h5netcdf") as kt:
        outputs = trial_outputs(kin[["angles", "markers"]].load(), kt.load())
    contacts = t.contacts.astype({"first": int, "last": int, "plate": int})
    cycles = t.cycles.astype({"cycle": int, "start": float, "end": float})
    with xr.open_dataset(path, group="kinematics", engine="h5netcdf") as kin:
        heading = trial_heading(kin, cycles)
    expected = compute_measures(parse_measures(MEASURES), outputs, t.events, contacts=contacts, rate=100.0,
                                cycles=cycles, heading=heading)
    got = t.measures
    assert len(got) == len(expected) > 0
    assert list(got.measure) == list(expected.measure) and list(got.reason) == list(expected.reason)
    np.testing.assert_allclose(got.value.astype(float), expected.value.astype(float), equal_nan=True)
    # the ground reaction is measured in the stance on the plate only, the others say why not
    grf = got[got.measure == "grf_ml_min"]
    assert grf.value.notna().sum() == 1 and (grf.plate[grf.value.notna()] != "").all()
    assert grf.reason[grf.value.isna()].str.contains("not within one stance wholly on one force plate").all()
    # per cycle, joined onto the trial's metrics with the units in the names
    m = t.metrics.set_index(["side", "cycle"])
    for r in got[got.cycle.notna()].itertuples():
        col = {"grf_ml_min": "grf_ml_min_N_per_kg", "hip_add_max": "hip_add_max_deg",
               "knee_flx_mean": "knee_flx_mean_deg", "grf_ml_walk": "grf_ml_walk_N_per_kg"}[r.measure]
        np.testing.assert_equal(float(m.loc[(r.side, int(r.cycle)), col]), float(r.value))


def test_the_store_and_the_csv_files(built):
    store, out = built
    s = open_study(store)
    long = s.measures
    assert {"subject", "condition", "trial", "measure", "value", "units", "reason"} <= set(long.columns)
    assert sorted(set(long.trial)) == s.trials and set(long.measure) == {m["name"] for m in MEASURES}
    tests = pd.read_csv(out / "tests.csv")
    assert list(tests.columns) == COLUMNS
    assert {"measure", "test", "n", "statistic", "p", "estimate", "ci_low", "ci_high"} <= set(tests.columns)
    pd.testing.assert_frame_equal(s.tests[["measure", "n", "p"]], tests[["measure", "n", "p"]], check_dtype=False)
    assert tests.test.iloc[2].startswith("mixed")
    metrics = pd.read_csv(out / "metrics.csv")
    for col in ("grf_ml_min_N_per_kg", "hip_add_max_deg", "knee_flx_mean_deg"):
        assert col in metrics.columns and col in s.metrics.columns
    for group in ("measures", "tests"):
        with xr.open_dataset(store, group=group, engine="h5netcdf") as ds:
            assert all("units" in v.attrs and "long_name" in v.attrs for v in ds.data_vars.values()), group
            assert group != "measures" or ds.start_s.attrs["units"] == "s"
    with xr.open_dataset(store, group="metrics", engine="h5netcdf") as ds:
        assert ds.grf_ml_min_N_per_kg.attrs["units"] == "N/kg" and ds.hip_add_max_deg.attrs["units"] == "deg"
    # the paired test is scipy's on the subjects' means of the store's windows
    hip = long[(long.measure == "hip_add_max") & long.value.notna()]
    means = hip.groupby(["subject", "condition"]).value.mean().unstack()
    ref = stats.ttest_rel(means.Turn, means.Straight)
    row = tests[tests.measure == "hip_add_max"].iloc[0]
    assert row.n == len(means) == 6  # the six subjects of config/trials.tsv, each walking both ways
    assert row.p == pytest.approx(ref.pvalue, rel=1e-12) and row.statistic == pytest.approx(ref.statistic, rel=1e-12)


def test_an_excluded_trial_is_left_out_of_its_test(built):
    store, out = built
    s = open_study(store)
    long, tests = s.measures, pd.read_csv(out / "tests.csv")
    grf = tests[tests.measure == "grf_ml_min"].iloc[0]
    assert "HC002D25" in grf.excluded and "subjects with one level only: HC002D" in grf.left_out
    kept = long[(long.measure == "grf_ml_min") & long.value.notna() & (long.trial != "HC002D25")]
    means = kept.groupby(["subject", "condition"]).value.mean().unstack().dropna()
    assert grf.n == len(means) == 5 and "HC002D" not in means.index  # six subjects, HC002D left out
    assert grf.p == pytest.approx(stats.ttest_rel(means.Turn, means.Straight).pvalue, rel=1e-12)
    # with the trial in, the test pairs HC002D too (the exclusion changed the result)
    kept_in = run_tests([{**TESTS[0], "exclude": []}], long)
    assert kept_in.n.iloc[0] == 6 and kept_in.p.iloc[0] != pytest.approx(grf.p)
    # the trial's windows are still in the store's measures
    assert (long[long.measure == "grf_ml_min"].trial == "HC002D25").any()


def test_the_walking_frame_turns_the_reversed_walk_back(built):
    """HC002D25 walked along -y: in the lab its right foot's x minimum is the lateral peak
    (-1.90 N/kg), in the walking frame its medial force never goes below 0 (the tutorial's
    outlier is one of the lab frame); HC002D06, along +y, is the same in both frames to
    0.01 N/kg."""
    store, _ = built
    long = open_study(store).measures
    on_plate = long[long.value.notna() & long.measure.isin(["grf_ml_min", "grf_ml_walk"])]
    v = on_plate.set_index(["trial", "measure"]).value
    assert set(on_plate[on_plate.measure == "grf_ml_walk"].frame) == {"walking"}
    assert set(on_plate[on_plate.measure == "grf_ml_min"].frame) == {"lab"}
    assert v["HC002D25", "grf_ml_min"] == pytest.approx(-1.904, abs=2e-3)
    assert -0.01 <= v["HC002D25", "grf_ml_walk"] <= 0.01
    assert v["HC002D06", "grf_ml_walk"] == pytest.approx(v["HC002D06", "grf_ml_min"], abs=0.01)


def test_query_and_r_read_the_tests(built, capsys):
    store, out = built
    assert main(["query", str(store), "--table", "tests", "--where", "measure=hip_add_max"]) == 0
    printed = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert len(printed) == 1 and printed.p.iloc[0] == pytest.approx(pd.read_csv(out / "tests.csv").p.iloc[1])
    assert main(["query", str(store), "--table", "tests", "--where", "nope=1"]) == 1
    assert "its columns" in capsys.readouterr().err
    script = (f'library(ncdf4); nc <- nc_open("{store}"); '
              'cat(ncvar_get(nc, "tests/measure"), sep="\\n"); cat("--\\n"); '
              'cat(sprintf("%.12f", ncvar_get(nc, "tests/p")), sep="\\n"); nc_close(nc)')
    names, p = (part.split() for part in run_r(script).split("--\n"))
    tests = pd.read_csv(out / "tests.csv")
    assert names == list(tests.measure)
    np.testing.assert_allclose(np.array(p, float), tests.p.to_numpy(), atol=1e-12)


def test_an_unknown_output_is_refused_with_the_outputs_that_exist(tmp_path):
    cfg = StudyConfig.load(_config(tmp_path, [dict(MEASURES[1], output="HipAngle")], []))
    row = TrialRow("HC030A", "Straight", "HC030A05", ROOT / "data/biomechzoo/HC030A/Static/HC030A01.c3d",
                   ROOT / "data/biomechzoo/HC030A/Straight/HC030A05.c3d")
    result = run_trial(row, tmp_path / "t.h5", cfg)
    assert isinstance(result, TrialFailure) and result.stage == "gait"
    assert "'HipAngle' is not one of them; did you mean 'HipAngles'" in result.reason
    assert "KneeAngles" in result.reason and "GroundReactionForce" in result.reason  # the names that exist


def test_the_config_refuses_what_it_can_at_load(tmp_path):
    with pytest.raises(ConfigError, match="carries a side; give 'HipAngles' and side: right"):
        StudyConfig.load(_config(tmp_path, [dict(MEASURES[1], output="RHipAngles")], []))
    with pytest.raises(ConfigError, match="measure .hip_add. is not a measure of the config .did you mean .hip_add_max.*measures: grf_ml_min"):
        StudyConfig.load(_config(tmp_path, MEASURES, [{"measure": "hip_add", "test": "paired_t"}]))
    with pytest.raises(ConfigError, match="stat"):
        StudyConfig.load(_config(tmp_path, [dict(MEASURES[1], stat="peak")], []))
    # measures are a trial setting (a changed measure reruns the trials), tests a statistics one
    cfg = StudyConfig.load(_config(tmp_path))
    from chainlab.config import TRIAL_SECTIONS

    assert "measures" in TRIAL_SECTIONS and "tests" not in TRIAL_SECTIONS
    assert '"measures"' in cfg.settings(*TRIAL_SECTIONS)


def test_the_figure_and_the_report_show_each_test(built):
    from chainlab.figures import measure_tests
    from chainlab.report import _tests

    store, out = built
    s = open_study(store)
    fig = measure_tests(s)
    tests = pd.read_csv(out / "tests.csv")
    panels = [a.text for a in fig.layout.annotations]
    assert len(panels) == len(tests) and all(p.startswith(m) for p, m in zip(panels, tests.measure))
    # the hip panel: each subject's mean per condition, and the mean of those means with its t interval
    long = s.measures
    hip = long[(long.measure == "hip_add_max") & long.value.notna()]
    means = hip.groupby(["subject", "condition"]).value.mean().unstack()
    subjects = [tr for tr in fig.data if tr.xaxis == "x2" and tr.mode == "lines+markers"]
    assert sorted(tr.name for tr in subjects) == sorted(means.index)
    for tr in subjects:
        np.testing.assert_allclose(np.asarray(tr.y, float), means.loc[tr.name, list(tr.x)].to_numpy(float))
    turn = next(tr for tr in fig.data if tr.xaxis == "x2" and tr.mode == "markers" and tr.x[0] == "Turn")
    v = means.Turn.to_numpy()
    half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    assert turn.y[0] == pytest.approx(v.mean()) and turn.error_y.array[0] == pytest.approx(half)
    # the excluded trial is not among the ground reaction's points: HC002D has one condition left
    grf = [tr for tr in fig.data if tr.xaxis == "x" and tr.mode == "lines+markers" and tr.name == "HC002D"]
    assert np.isnan(np.asarray(grf[0].y, float)).sum() == 1
    html = _tests(s)
    assert all(f"<h3>{m}: " in html for m in tests.measure) and "HC002D25" in html


def test_the_schema_fragment_is_the_configs():
    from chainlab.config import schema

    fragment = yaml.safe_load((ROOT / "src" / "chainlab" / "schemas" / "measures.schema.yaml").read_text())
    for key in ("measure_defaults", "measures", "tests"):
        assert schema("config")["properties"][key] == fragment["properties"][key]


def test_a_measure_of_an_unknown_output_fails_every_trial_and_the_study_says_why(tmp_path):
    """The whole study path with a bad measure: each trial's failure names the outputs, and the
    tests say they have nothing to test rather than stopping the study."""
    cfg = _config(tmp_path, [dict(MEASURES[1], output="HipAngle")], [TESTS[1] | {"measure": "hip_add_max"}])
    sheet = tmp_path / "config" / "trials.tsv"
    pd.read_csv(sheet, sep="\t").iloc[:1].to_csv(sheet, sep="\t", index=False)  # one trial suffices
    store = build_study(cfg, tmp_path / "results", n_permutations=100, progress=lambda m: None)
    fails = pd.read_csv(store.parent / "failures.tsv", sep="\t")
    assert len(fails) == 1 and "did you mean 'HipAngles'" in fails.reason[0]
    tests = pd.read_csv(store.parent / "tests.csv")
    assert tests.n.tolist() == [0] and "no measures to test" in tests.left_out[0] and np.isnan(tests.p[0])
