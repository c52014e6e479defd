"""User-defined measures (chainlab.gait.measures) and tests between conditions
(chainlab.stats.hypotheses): analytic curves, window rules, scipy's tests on the same numbers,
exclusions, refusals."""

from __future__ import annotations

from dataclasses import replace
from importlib import resources

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from scipy import stats

from chainlab.gait.events import c3d_events, kinematic_events, plate_events
from chainlab.gait.measures import (
    compute_measures,
    parse_measures,
    per_cycle,
    trial_outputs,
    windows,
)
from chainlab.stats.hypotheses import parse_tests, run_tests

from .conftest import ROOT, SHARED

RATE = 100.0
T = np.arange(0, 201) / RATE  # 0 .. 2 s


def _da(values: np.ndarray, units: str = "deg") -> xr.DataArray:
    return xr.DataArray(values, dims=("frame", "axis"), coords={"time": ("frame", T), "axis": ["x", "y", "z"]},
                        attrs={"units": units})


def _curves() -> xr.DataArray:
    """x: a ramp 5 + 4 t; y: a parabola 2 + 10 (t - 0.43)^2; z: sin(2 pi t)."""
    return _da(np.stack([5 + 4 * T, 2 + 10 * (T - 0.43) ** 2, np.sin(2 * np.pi * T)], axis=1))


def _events(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["side", "label", "time", "source"])
    df["frame"] = np.rint(df.time * RATE).astype(int) + 1
    return df.sort_values("time").reset_index(drop=True)


# right stance 0.2-0.8 s on plate 1, then swing to 1.3 s and a second stance (kinematic events) to 1.9 s
EVENTS = _events([
    ("Right", "Foot Strike", 0.20, "plate 1"), ("Left", "Foot Off", 0.30, "c3d"),
    ("Left", "Foot Strike", 0.70, "c3d"), ("Right", "Foot Off", 0.80, "plate 1"),
    ("Left", "Foot Off", 1.20, "c3d"), ("Right", "Foot Strike", 1.30, "kinematic"),
    ("Right", "Foot Off", 1.90, "kinematic"),
])


def _measure(**kw):
    base = {"name": "m", "output": "HipAngles", "component": "y", "side": "right", "window": "stance", "stat": "max"}
    return parse_measures([{**base, **kw}])[0]


def _one(measure, outputs=None, events=EVENTS, **kw) -> pd.Series:
    outputs = outputs or {"HipAngles": {"Right": _curves(), "Left": _curves()}}
    return compute_measures([measure], outputs, events, **kw).iloc[0]


@pytest.mark.parametrize("component,stat,expected,seconds", [
    ("y", "min", 2.0, np.nan),
    ("y", "max", 2 + 10 * 0.37 ** 2, np.nan),  # at the window's end, 0.8 s
    ("y", "range", 10 * 0.37 ** 2, np.nan),
    ("y", "at_start", 2 + 10 * 0.23 ** 2, np.nan),
    ("y", "at_end", 2 + 10 * 0.37 ** 2, np.nan),
    ("x", "mean", 5 + 4 * 0.5, np.nan),  # a ramp's mean over evenly spaced samples is its middle
    # 61 samples 0.01 s apart around 0.5 s: mean (t - 0.43)^2 = their variance + 0.07^2
    ("y", "mean", 2 + 10 * (1e-4 * (61 ** 2 - 1) / 12 + 0.07 ** 2), np.nan),
    ("x", "range", 4 * 0.6, np.nan),
    ("y", "time_of_min", 100 * 0.23 / 0.6, 0.23),
    ("z", "time_of_max", 100 * 0.05 / 0.6, 0.05),  # sin(2 pi t) peaks at 0.25 s
    ("z", "time_of_min", 100 * 0.55 / 0.6, 0.55),  # and is lowest at 0.75 s
])
def test_each_statistic_on_an_analytic_curve(component, stat, expected, seconds):
    row = _one(_measure(component=component, stat=stat))
    assert (row.start_s, row.end_s) == (0.2, 0.8)
    assert row.value == pytest.approx(expected, abs=1e-9)
    assert row.units == ("%" if stat.startswith("time_of") else "deg")
    assert row.time_s == pytest.approx(seconds, abs=1e-9, nan_ok=True)
    assert row.reason == ""


def test_windows_swing_cycle_and_between_named_events():
    assert windows(EVENTS, "Right", "stance")[["start", "end"]].values.tolist() == [[0.2, 0.8], [1.3, 1.9]]
    assert windows(EVENTS, "Right", "swing")[["start", "end"]].values.tolist() == [[0.8, 1.3]]
    assert windows(EVENTS, "Right", "cycle")[["start", "end"]].values.tolist() == [[0.2, 1.3]]
    # right foot strike to the left foot's off (first double support)
    w = windows(EVENTS, "Right", ("Foot Strike", "Opposite Foot Off"))
    assert w[["start", "end"]].values.tolist() == [[0.2, 0.3]]  # none after 1.3 s: the left foot comes off at 1.2 s
    row = _one(_measure(window={"from": "Opposite Foot Strike", "to": "Foot Off"}, stat="at_start"))
    assert (row.start_s, row.end_s) == (0.7, 0.8)
    assert row.value == pytest.approx(2 + 10 * 0.27 ** 2)
    # the swing's value, and the cycle each window starts in
    table = compute_measures([_measure(window="swing", stat="min", component="z")],
                             {"HipAngles": {"Right": _curves()}}, EVENTS)
    assert table.value.iloc[0] == pytest.approx(np.sin(2 * np.pi * 0.8))
    assert table.cycle.iloc[0] == 0


def test_stance_on_a_plate_is_needed_for_a_ground_reaction():
    grf = {"GroundReactionForce": {"Right": _da(np.tile(-np.sin(np.pi * T)[:, None], 3), "N/kg")}}
    m = _measure(output="GroundReactionForce", component="x", stat="min")
    table = compute_measures([m], grf, EVENTS)
    # the plate's stance (strike and off from plate 1) is measured, the kinematic one is not
    assert table.plate.tolist() == ["plate 1", ""]
    assert table.value.iloc[0] == pytest.approx(-1.0)  # -sin(pi t) is lowest at 0.5 s
    assert np.isnan(table.value.iloc[1])
    assert "not within one stance wholly on one force plate" in table.reason.iloc[1]
    assert "kinematic" in table.reason.iloc[1]
    # an angle needs no plate unless asked
    hip = compute_measures([_measure(), _measure(name="h2", plate=True)],
                           {"HipAngles": {"Right": _curves()}}, EVENTS)
    assert hip.value.notna().tolist() == [True, True, True, False]
    # the kinetics' accepted contact spanning the second stance puts it on plate 2
    contacts = pd.DataFrame({"plate": [2], "first": [132], "last": [191], "side": ["R"], "status": ["accepted"]})
    table = compute_measures([m], grf, EVENTS, contacts=contacts, rate=RATE)
    assert table.plate.tolist() == ["plate 1", "plate 2"]
    assert table.value.notna().all()
    # a gap in the output inside the window: NaN, with the frames named
    gappy = grf["GroundReactionForce"]["Right"].copy()
    gappy[50, 0] = np.nan
    row = _one(m, {"GroundReactionForce": {"Right": gappy}})
    assert np.isnan(row.value) and "missing in 1 of 61 frames" in row.reason


def test_a_stance_opened_and_closed_by_different_plates_is_not_on_a_plate():
    """The foot struck plate 1 and came off plate 2 (it slid across, or stood on both): the
    ground reaction of that stance is not one plate's, and an angle asked to be on a plate is
    not measured either."""
    events = _events([("Right", "Foot Strike", 0.20, "plate 1"), ("Right", "Foot Off", 0.80, "plate 2"),
                      ("Right", "Foot Strike", 1.30, "plate 2"), ("Right", "Foot Off", 1.90, "plate 2")])
    grf = {"GroundReactionForce": {"Right": _da(np.tile(-np.sin(np.pi * T)[:, None], 3), "N/kg")},
           "HipAngles": {"Right": _curves()}}
    table = compute_measures([_measure(output="GroundReactionForce", component="x", stat="min"),
                              _measure(name="h", plate=True)], grf, events)
    assert table.plate.tolist() == ["", "plate 2", "", "plate 2"]
    assert table.value.isna().tolist() == [True, False, True, False]
    assert "events from plate 1 and plate 2" in table.reason.iloc[0]
    assert table.value.iloc[1] == pytest.approx(-np.sin(np.pi * 1.9))  # -sin(pi t) rises to 1 at 1.5 s, then falls


def test_stance_from_plate_events_on_a_real_walk(walk):
    """HC030A05: the right stance found by plate 2 is that plate's contact, and knee flexion at
    its start is Nexus' RKneeAngles at the strike's frame."""
    plates = plate_events(walk).events
    nexus = {"KneeAngles": {"Right": xr.DataArray(walk.model_outputs.sel(output="RKneeAngles").values,
                                                  dims=("frame", "axis"),
                                                  coords={"time": ("frame", walk.time.values)},
                                                  attrs={"units": "deg"})}}
    m = _measure(output="KneeAngles", component="x", stat="at_start", plate=True)
    table = compute_measures([m], nexus, plates)
    right = plates[plates.side == "Right"]
    assert len(table) == 1 and table.plate.iloc[0] == "plate 2"
    assert table.start_s.iloc[0] == right[right.label == "Foot Strike"].time.iloc[0]
    assert table.end_s.iloc[0] == right[right.label == "Foot Off"].time.iloc[0]
    frame = int(np.argmin(np.abs(walk.time.values - table.start_s.iloc[0])))
    assert table.value.iloc[0] == walk.model_outputs.sel(output="RKneeAngles").values[frame, 0]


@pytest.mark.parametrize("walk_file", ["HC002D/Straight/HC002D06.c3d", "HC030A/Turn/HC030A22.c3d",
                                       "HC033A/Straight/HC033A10.c3d"])
def test_stance_from_kinematic_events_matches_the_stored_events(walk_file):
    """The stances of Zeni's events on the embedded walks are those of Nexus' stored events:
    each opens 0-0.07 s before the stored Foot Strike (Zeni's strike comes early on these
    children, 0.02-0.06 s) and closes within 0.04 s of the stored Foot Off."""
    from chainlab import read_c3d

    walk = read_c3d(ROOT / "data" / "biomechzoo" / walk_file)
    kin, stored = kinematic_events(walk).events, c3d_events(walk)
    matched = 0
    for side in ("Left", "Right"):
        a, b = windows(kin, side, "stance"), windows(stored, side, "stance")
        for w in a.itertuples():
            near = b[(b.start < w.end) & (b.end > w.start)]  # the stored stance it overlaps
            assert len(near) == 1, (side, w.start, b.start.tolist())
            assert 0.0 <= near.start.iloc[0] - w.start <= 0.07
            assert abs(near.end.iloc[0] - w.end) <= 0.04
            matched += 1
    assert matched >= 3


def test_an_output_that_does_not_exist_is_refused_with_the_names_that_do():
    ok = ["GroundReactionForce", "HipAngles", "KneeAngles", "PelvisAngles"]
    with pytest.raises(ValueError) as e:
        parse_measures([{"name": "a", "output": "HipAngle", "component": "y", "side": "right", "window": "stance",
                         "stat": "max"}], outputs=ok)
    msg = str(e.value)
    assert "'HipAngle'" in msg and "did you mean 'HipAngles'" in msg
    assert all(name in msg for name in ok) and "measure 1 ('a')" in msg
    with pytest.raises(ValueError, match="carries a side; give 'HipAngles' and side: right"):
        parse_measures([{"name": "a", "output": "RHipAngles", "side": "right", "window": "stance", "stat": "max"}])
    bad = [({"stat": "maximum"}, "did you mean 'max'"), ({"window": "stanse"}, "did you mean 'stance'"),
           ({"window": {"from": "Foot Strike", "to": "Heel Off"}}, "window to"), ({"side": "R"}, "side 'R'"),
           ({"component": "w"}, "component 'w'"), ({"colour": 1}, r"unknown keys \['colour'\]")]
    for change, text in bad:
        entry = {"name": "a", "output": "HipAngles", "side": "right", "window": "stance", "stat": "max", **change}
        with pytest.raises(ValueError, match=text):
            parse_measures([entry], outputs=ok)
    with pytest.raises(ValueError, match="used twice"):
        parse_measures([{"name": "a", "output": "HipAngles", "side": "right", "window": "stance", "stat": "max"}] * 2)
    with pytest.raises(ValueError, match="give component: x, y or z"):
        compute_measures(parse_measures([{"name": "a", "output": "HipAngles", "side": "right", "window": "stance",
                                          "stat": "max"}]), {"HipAngles": {"Right": _curves()}}, EVENTS)
    with pytest.raises(ValueError, match="not in this trial.*HipAngles"):
        compute_measures(parse_measures([{"name": "a", "output": "KneeAngles", "side": "right", "window": "stance",
                                          "stat": "max"}]), {"HipAngles": {"Right": _curves()}}, EVENTS)


def test_trial_outputs_are_side_less_with_units():
    kin = xr.Dataset({"angles": (("frame", "output", "axis"), np.ones((len(T), 3, 3)), {"units": "deg"}),
                      "markers": (("frame", "marker", "axis"), np.zeros((len(T), 2, 3)), {"units": "m"})},
                     coords={"time": ("frame", T), "output": ["LHipAngles", "RHipAngles", "LumbarCurvature"],
                             "marker": ["RHEE", "SACR"], "axis": ["x", "y", "z"]})
    out = trial_outputs(kin)
    assert sorted(out) == ["HEE", "HipAngles", "LumbarCurvature", "SACR"]
    assert sorted(out["HipAngles"]) == ["Left", "Right"] and sorted(out["LumbarCurvature"]) == ["Left", "Right"]
    assert list(out["HEE"]) == ["Right"]
    assert out["HipAngles"]["Left"].attrs["units"] == "deg" and out["SACR"]["Left"].attrs["units"] == "m"


def test_kinetics_outputs_and_plain_arrays():
    """The kinetics layer's Dataset shape: per-foot GroundReactionForce (N/kg) and powers
    (frame, output) stored in z, as Nexus does; plain arrays need the time."""
    n = len(T)
    kinetics = xr.Dataset(
        {"GroundReactionForce": (("frame", "grf_output", "axis"), np.ones((n, 2, 3)), {"units": "N/kg"}),
         "powers": (("frame", "power_output"), np.tile(T[:, None], 2), {"units": "W/kg"})},
        coords={"time": ("frame", T), "grf_output": ["LGroundReactionForce", "RGroundReactionForce"],
                "power_output": ["LHipPower", "RHipPower"], "axis": ["x", "y", "z"]})
    out = trial_outputs(kinetics=kinetics)
    assert sorted(out) == ["GroundReactionForce", "HipPower"]
    power = parse_measures([{"name": "p", "output": "HipPower", "side": "right", "window": "stance", "stat": "max"}])
    row = compute_measures(power, out, EVENTS).iloc[0]
    assert row.value == pytest.approx(0.8) and row.units == "W/kg"
    plain = compute_measures(power, {"HipPower": {"Right": T}}, EVENTS, time=T).iloc[0]
    assert plain.value == pytest.approx(0.8) and plain.units == ""
    with pytest.raises(ValueError, match="needs compute_measures\\(time=...\\)"):
        compute_measures(power, {"HipPower": {"Right": T}}, EVENTS)


def test_per_cycle_puts_units_in_the_column_names():
    table = compute_measures([_measure(stat="max"), _measure(name="peak_t", stat="time_of_max", component="z")],
                             {"HipAngles": {"Right": _curves()}}, EVENTS)
    wide = per_cycle(table)
    assert wide.columns.tolist() == ["side", "cycle", "m_deg", "peak_t_pct", "peak_t_s"]
    assert len(wide) == 1 and wide.m_deg.iloc[0] == pytest.approx(2 + 10 * 0.37 ** 2)


# -- tests between conditions ------------------------------------------------------------------

def _study(seed: int = 1) -> pd.DataFrame:
    """Six subjects, two trials per condition, one window per trial."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(6):
        base = rng.normal(10, 3)
        for cond, shift in (("Straight", 0.0), ("Turn", 1.5)):
            for k in range(2):
                rows.append({"measure": "hip", "value": base + shift + rng.normal(0, 1), "units": "deg",
                             "subject": f"S{s}", "condition": cond, "trial": f"S{s}{cond[0]}{k}"})
    return pd.DataFrame(rows)


def test_paired_t_and_wilcoxon_match_scipy_on_the_subject_means():
    d = _study()
    means = d.groupby(["subject", "condition"]).value.mean().unstack()
    a, b = means.Straight.to_numpy(), means.Turn.to_numpy()
    res = run_tests([{"measure": "hip", "compare": "condition", "test": "paired_t"},
                     {"measure": "hip", "test": "wilcoxon"}], d)
    t, w = res.iloc[0], res.iloc[1]
    ref = stats.ttest_rel(b, a)
    assert (t.n, t.level_1, t.level_2, t.units) == (6, "Straight", "Turn", "deg")
    assert t.statistic == pytest.approx(ref.statistic, rel=1e-12) and t.p == pytest.approx(ref.pvalue, rel=1e-12)
    assert t.estimate == pytest.approx(np.mean(b - a))
    half = stats.t.ppf(0.975, 5) * np.std(b - a, ddof=1) / np.sqrt(6)
    assert (t.ci_low, t.ci_high) == (pytest.approx(t.estimate - half), pytest.approx(t.estimate + half))
    ref = stats.wilcoxon(b, a)
    assert w.statistic == ref.statistic and w.p == pytest.approx(ref.pvalue)
    assert w.estimate == pytest.approx(np.median(b - a)) and np.isnan(w.ci_low)
    # levels reversed: the same p, the estimate's sign flipped
    rev = run_tests([{"measure": "hip", "test": "paired_t", "levels": ["Turn", "Straight"]}], d).iloc[0]
    assert rev.p == pytest.approx(t.p) and rev.estimate == pytest.approx(-t.estimate)


def test_an_excluded_trial_is_really_left_out():
    d = _study()
    d.loc[d.trial == "S2T0", "value"] = 1e3  # an outlier: HC002D25's ground reaction in the sample study
    cfg = {"measure": "hip", "test": "paired_t", "exclude": ["S2T0", "NOPE"]}
    got = run_tests([cfg], d).iloc[0]
    ref = run_tests([{"measure": "hip", "test": "paired_t"}], d[d.trial != "S2T0"]).iloc[0]
    assert got.p == ref.p and got.estimate == ref.estimate and got.n == 6 and got.n_windows == 23
    assert got.excluded == "S2T0 (1 windows); NOPE (not in the table)"
    # excluding both of a subject's trials in one condition drops the subject from the pairs
    both = run_tests([{"measure": "hip", "test": "paired_t", "exclude": ["S2T0", "S2T1"]}], d).iloc[0]
    assert both.n == 5 and "subjects with one level only: S2" in both.left_out
    # an exclusion by file path matches the trial's stem too
    d2 = d.assign(trial=d.trial.map(lambda t: f"data/x/{t}.c3d"))
    assert run_tests([cfg], d2).iloc[0].p == ref.p


def test_the_mixed_model_estimates_the_condition_difference():
    d = _study()
    res = run_tests([{"measure": "hip", "test": "mixed"}], d).iloc[0]
    # balanced data: the REML fixed effect is the difference of the condition means
    diff = d[d.condition == "Turn"].value.mean() - d[d.condition == "Straight"].value.mean()
    assert res.estimate == pytest.approx(diff, abs=1e-6)
    assert res.n == 24 and res.ci_low < res.estimate < res.ci_high and 0 < res.p < 1
    assert res.test.startswith("mixed (1 | subject")


def test_tests_config_is_checked():
    with pytest.raises(ValueError, match="test 'anova'"):
        parse_tests([{"measure": "hip", "test": "anova"}])
    with pytest.raises(ValueError, match="did you mean 'hip_add_max'"):
        parse_tests([{"measure": "hip_add_mx", "test": "paired_t"}], ["hip_add_max", "knee_flx_fs"])
    with pytest.raises(ValueError, match="exclude must be a list"):
        parse_tests([{"measure": "hip", "test": "paired_t", "exclude": "S1"}])
    three = pd.concat([_study(), _study().assign(condition="Run")])
    with pytest.raises(ValueError, match="needs exactly two"):
        run_tests([{"measure": "hip", "test": "paired_t"}], three)


def test_the_example_config_follows_the_schema_fragment():
    import jsonschema

    schema = yaml.safe_load(resources.files("chainlab").joinpath("schemas", "measures.schema.yaml").read_text())
    config = yaml.safe_load((ROOT / "config" / "biomechzoo_example.yaml").read_text())
    jsonschema.validate({k: config[k] for k in ("measure_defaults", "measures", "tests")}, schema)
    parse_measures(config["measures"]), parse_tests(config["tests"], [m["name"] for m in config["measures"]])
    bad = {"measures": [dict(config["measures"][0], stat="peak")]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


@pytest.mark.skipif(not (SHARED / "biomechzoo" / "HC031A").is_dir(), reason="needs ../shared/data/c3d/biomechzoo")
def test_hip_adduction_of_the_plate_stance_from_chainlab_equals_nexus():
    from chainlab import read_c3d
    from chainlab.gait.events import gait_events
    from chainlab.kinematics import compute_kinematics

    d = SHARED / "biomechzoo" / "HC031A"
    dyn, static = read_c3d(d / "Straight" / "HC031A06.c3d"), read_c3d(d / "Static" / "HC031A01.c3d")
    events = gait_events(dyn).events
    m = parse_measures([{"name": "hip_add_max", "output": "HipAngles", "component": "y", "side": "right",
                         "window": "stance", "stat": "max", "plate": True}])
    ours = compute_measures(m, trial_outputs(compute_kinematics(dyn, static)), events)
    stored = xr.DataArray(dyn.model_outputs.sel(output="RHipAngles").values, dims=("frame", "axis"),
                          coords={"time": ("frame", dyn.time.values)}, attrs={"units": "deg"})
    nexus = compute_measures(m, {"HipAngles": {"Right": stored}}, events)
    valued = ours[ours.value.notna()]
    assert len(valued) == 1 and valued.plate.iloc[0] == "plate 2"
    assert valued.value.iloc[0] == pytest.approx(nexus.value.dropna().iloc[0], abs=1e-3)


def test_a_measure_column_names_its_units_as_every_per_cycle_column_does():
    """One naming rule (chainlab.schema.UNITS_AND_SUFFIXES): the units of a measure's column are
    read back from its name by the same table the built-in columns use (figures label axes so)."""
    from chainlab.schema import UNITS_AND_SUFFIXES, column_units, unit_suffix

    for units, _ in UNITS_AND_SUFFIXES:
        assert column_units(f"grf_ml_min_{unit_suffix(units)}") == units, units
    assert unit_suffix("N/kg") == "N_per_kg" and unit_suffix("") == ""


# -- the ground reaction's frame and the study's measure defaults -------------------------------

def _walk_markers(direction) -> xr.Dataset:
    """LASI/RASI of a pelvis walking at 1.2 m/s along the unit horizontal `direction`, facing it."""
    d = np.array([direction[0], direction[1], 0.0])
    right = np.array([d[1], -d[0], 0.0])  # the subject's right: direction x up
    mid = 1.2 * T[:, None] * d + [0.0, 0.0, 0.9]
    markers = np.stack([mid - 0.12 * right, mid + 0.12 * right], axis=1)  # LASI on the left
    return xr.Dataset({"markers": (("frame", "marker", "axis"), markers, {"units": "m"})},
                      coords={"time": ("frame", T), "marker": ["LASI", "RASI"], "axis": ["x", "y", "z"]})


@pytest.mark.parametrize("direction,medial_lab", [((0.0, 1.0), (-1.0, 0.0)), ((0.0, -1.0), (1.0, 0.0)),
                                                  ((1.0, 0.0), (0.0, 1.0)),
                                                  ((np.sqrt(0.5), -np.sqrt(0.5)), (np.sqrt(0.5), np.sqrt(0.5)))])
def test_the_walking_frame_puts_the_right_foots_medial_force_in_minus_x(direction, medial_lab):
    """A right foot pushed medially (towards the subject's left) by 0.5 N/kg, backwards by 0.2
    and up by 10: in the walking frame x is -0.5, y -0.2, z 10 whichever way the subject walks;
    in the lab x is the lab's x of that vector (for a walk along +y the frames agree)."""
    from chainlab.gait.measures import trial_heading

    d, m = np.array([*direction, 0.0]), np.array([*medial_lab, 0.0])
    g = 0.5 * m - 0.2 * d + [0.0, 0.0, 10.0]
    grf = {"GroundReactionForce": {"Right": _da(np.tile(g, (len(T), 1)), "N/kg")}}
    heading = trial_heading(_walk_markers(direction))
    for comp, walking in (("x", -0.5), ("y", -0.2), ("z", 10.0)):
        lab, turned = (_measure(output="GroundReactionForce", component=comp, stat="mean", frame=f)
                       for f in ("lab", "walking"))
        table = compute_measures([lab, replace(turned, name="w")], grf, EVENTS, heading=heading)
        first = table[table.instance == 0].set_index("frame").value
        assert first["walking"] == pytest.approx(walking, abs=1e-9), comp
        assert first["lab"] == pytest.approx(g["xyz".index(comp)], abs=1e-12)
    if direction == (0.0, 1.0):
        assert first["walking"] == pytest.approx(first["lab"])


def test_the_walking_frame_turns_with_the_walk_frame_by_frame():
    """Heading turning at 90 deg/s from lab +y; a ground reaction fixed along lab +x: its
    walking-frame x is cos of the turn at each frame (the right foot's lateral force fades as
    the subject turns left towards -x)."""
    theta = np.pi / 2 + np.pi / 2 * T  # heading direction from lab +x
    h = np.zeros((len(T), 3, 3))
    h[:, 0, 0], h[:, 1, 0] = np.cos(theta), np.sin(theta)
    h[:, 0, 1], h[:, 1, 1] = -np.sin(theta), np.cos(theta)
    h[:, 2, 2] = 1.0
    grf = {"GroundReactionForce": {"Right": _da(np.tile([1.0, 0.0, 0.0], (len(T), 1)), "N/kg")}}
    for stat, t in (("at_start", 0.2), ("at_end", 0.8)):
        row = _one(_measure(output="GroundReactionForce", component="x", stat=stat, frame="walking"), grf,
                   heading=h)
        assert row.value == pytest.approx(np.cos(np.pi / 2 * t), abs=1e-12) and row.frame == "walking"


def test_a_frame_is_for_the_ground_reaction_force_only():
    with pytest.raises(ValueError, match="frame 'walking' turns the ground reaction's force"):
        _measure(frame="walking")
    with pytest.raises(ValueError, match="frame: 'global' is not one of them.*lab, walking"):
        _measure(output="GroundReactionForce", component="x", frame="global")
    grf = {"GroundReactionForce": {"Right": _da(np.ones((len(T), 3)), "N/kg")}}
    with pytest.raises(ValueError, match="frame: walking needs the trial's heading"):
        compute_measures([_measure(output="GroundReactionForce", component="x", frame="walking")], grf, EVENTS)
    with pytest.raises(ValueError, match="one walking frame per sample"):
        compute_measures([_measure(output="GroundReactionForce", component="x", frame="walking")], grf, EVENTS,
                         heading=np.tile(np.eye(3), (5, 1, 1)))


def test_measure_defaults_fill_what_a_measure_does_not_say(tmp_path):
    """The study's measure_defaults: plate into every measure that does not give it, frame into
    the ground reaction's only; a measure's own key wins."""
    from chainlab.config import ConfigError, StudyConfig
    from chainlab.measure_specs import apply_measure_defaults

    issue = yaml.safe_load("""
    - {name: grf_ml_min, output: GroundReactionForce, component: x, side: right, window: stance, stat: min}
    - {name: hip_add_max, output: HipAngles, component: y, side: right, window: stance, stat: max}
    - {name: knee_any, output: KneeAngles, component: x, side: right, window: stance, stat: at_start, plate: false}
    """)
    got = apply_measure_defaults(issue, {"plate": True, "frame": "walking"})
    assert [e.get("plate") for e in got] == [True, True, False]
    assert [e.get("frame") for e in got] == ["walking", None, None]
    assert apply_measure_defaults(issue, None) == issue and "plate" not in issue[1]  # the input is not changed
    assert [m.needs_plate for m in parse_measures(issue)] == [True, False, False]  # the measures' own default
    assert [m.needs_plate for m in parse_measures(got)] == [True, True, False]
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"study": "s", "trials": "t.tsv", "measure_defaults": {"plate": True},
                                   "measures": issue}))
    measures = StudyConfig.load(cfg).measures
    assert [m.get("plate") for m in measures] == [True, True, False]
    cfg.write_text(yaml.safe_dump({"study": "s", "trials": "t.tsv", "measure_defaults": {"window": "cycle"},
                                   "measures": issue}))
    with pytest.raises(ConfigError, match="measure_defaults"):
        StudyConfig.load(cfg)


def test_measure_defaults_give_plate_only_to_windows_within_a_stance():
    """A swing or a whole cycle is never on a plate: plate: true there would only empty it."""
    from chainlab.measure_specs import apply_measure_defaults, within_stance

    entries = [{"name": f"m{i}", "output": "KneeAngles", "component": "x", "side": "right", "window": w,
                "stat": "max"} for i, w in enumerate(
        ["stance", "swing", "cycle", {"from": "Foot Strike", "to": "Opposite Foot Off"},
         {"from": "Opposite Foot Strike", "to": "Foot Off"}, {"from": "Foot Off", "to": "Foot Strike"},
         {"from": "Opposite Foot Strike", "to": "Opposite Foot Off"}])]
    got = apply_measure_defaults(entries, {"plate": True})
    assert [e.get("plate") for e in got] == [True, None, None, True, True, None, None]
    assert [within_stance(e["window"]) for e in entries] == [True, False, False, True, True, False, False]


def test_a_walking_frame_without_a_heading_names_the_heading_not_the_force():
    """The pelvis markers missing over a stance: the ground reaction is there but its walking
    frame is not, and the reason says so (not that the force is missing)."""
    from chainlab.gait.measures import trial_heading

    walk = _walk_markers((0.0, 1.0))
    walk["markers"][:, 0, :] = np.nan  # LASI lost for the whole trial
    grf = {"GroundReactionForce": {"Right": _da(np.tile([0.3, 0.0, 10.0], (len(T), 1)), "N/kg")}}
    table = compute_measures([_measure(output="GroundReactionForce", component="x", stat="min", frame="walking")],
                             grf, EVENTS, heading=trial_heading(walk))
    row = table.iloc[0]
    assert np.isnan(row.value)
    assert "heading" in row.reason and "LASI" in row.reason and "GroundReactionForce x missing" not in row.reason
