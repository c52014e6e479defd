"""Spatiotemporal parameters: an analytic walk, a simulated walk, and Nexus' stored events."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from chainlab import read_c3d
from chainlab.gait.cycles import find_cycles
from chainlab.gait.events import c3d_events
from chainlab.gait.spatiotemporal import COLUMNS, spatiotemporal, summary
from chainlab.simulate import Condition, SimulationOptions, load_template, simulate_study

from .conftest import SHARED, STUDY


def _footprints_walk(stride=1.2, T=1.0, stance=0.62, width=0.1, right_at=0.5, progression=(8.0, -4.0),
                     heading=30.0, rate=200.0, cycles=4, foot=0.2):
    """Feet that stand still on footprints in stance and glide between them in swing.

    Left strikes at k T (footprints k stride along the heading, width/2 to the left), right
    at (k + right_at) T, `right_at` of a stride ahead; foot progression `progression` (deg,
    internal +) for (left, right)."""
    h = np.radians(heading)
    d = np.array([np.cos(h), np.sin(h), 0.0])
    left_of = np.array([-d[1], d[0], 0.0])
    t = np.arange(0.0, (cycles + 1) * T, 1.0 / rate)
    mk, rows = {}, []
    for s, phase, side_sign, prog in (("L", 0.0, 1.0, progression[0]), ("R", right_at, -1.0, progression[1])):
        strikes = (np.arange(-1, cycles + 2) + phase) * T
        prints = (np.arange(-1, cycles + 2) + phase)[:, None] * stride * d + side_sign * width / 2 * left_of
        heel = np.empty((len(t), 3))
        for i, ti in enumerate(t):
            k = np.searchsorted(strikes, ti, side="right") - 1
            u = (ti - strikes[k]) / T
            if u <= stance:
                heel[i] = prints[k]
            else:
                w = (u - stance) / (1 - stance)
                heel[i] = (1 - w) * prints[k] + w * prints[k + 1]
        turn = np.radians(-prog if s == "L" else prog)  # counterclockwise from d
        axis = np.array([np.cos(turn) * d[0] - np.sin(turn) * d[1], np.sin(turn) * d[0] + np.cos(turn) * d[1], 0.0])
        mk[f"{s}HEE"], mk[f"{s}TOE"] = heel, heel + foot * axis
        side = "Left" if s == "L" else "Right"
        for ts in strikes:
            if 0 <= ts <= t[-1]:
                rows.append({"side": side, "label": "Foot Strike", "time": ts})
            if 0 <= ts + stance * T <= t[-1]:
                rows.append({"side": side, "label": "Foot Off", "time": ts + stance * T})
    return pd.DataFrame(rows).sort_values("time").reset_index(drop=True), mk, t


def test_analytic_walk_gives_its_geometry_and_timing():
    ev, mk, t = _footprints_walk()
    tab = spatiotemporal(ev, mk, t)
    assert set(tab.side) == {"Left", "Right"} and len(tab) >= 6
    expect = {"stride_time_s": 1.0, "cadence_steps_per_min": 120.0, "stride_speed_m_s": 1.2,
              "stride_length_m": 1.2, "step_length_m": 0.6, "step_width_m": 0.1, "stance_pct": 62.0,
              "swing_pct": 38.0, "double_support_pct": 24.0, "single_support_pct": 38.0}
    for col, v in expect.items():
        np.testing.assert_allclose(tab[col], v, atol=1e-9, err_msg=col)
    np.testing.assert_allclose(tab[tab.side == "Left"].foot_progression_deg, 8.0, atol=1e-9)
    np.testing.assert_allclose(tab[tab.side == "Right"].foot_progression_deg, -4.0, atol=1e-9)
    assert tab.attrs["units"]["cadence_steps_per_min"] == "steps/min"
    assert set(COLUMNS) <= set(summary(tab).columns)


def test_asymmetric_steps_and_a_missing_opposite_event():
    ev, mk, t = _footprints_walk(right_at=0.45, stance=0.6)
    tab = spatiotemporal(ev, mk, t)
    left, right = tab[tab.side == "Left"], tab[tab.side == "Right"]
    np.testing.assert_allclose(left.step_length_m, 0.55 * 1.2, atol=1e-9)  # left lands 0.55 stride ahead of right
    np.testing.assert_allclose(right.step_length_m, 0.45 * 1.2, atol=1e-9)
    # left cycle: right off at 0.05 T (right struck at -0.55 T), right strike at 0.45 T, left off at 0.6 T
    np.testing.assert_allclose(left.double_support_pct, 5.0 + 15.0, atol=1e-9)
    np.testing.assert_allclose(left.single_support_pct, 40.0, atol=1e-9)
    # without the right foot's offs: the support columns of the left cycles are NaN, the rest stays
    cut = ev[~((ev.side == "Right") & (ev.label == "Foot Off"))]
    tab2 = spatiotemporal(cut, mk, t)
    assert tab2[tab2.side == "Left"].single_support_pct.isna().all()
    np.testing.assert_allclose(tab2[tab2.side == "Left"].stride_length_m, 1.2, atol=1e-9)


def test_missing_markers_are_named():
    ev, mk, t = _footprints_walk()
    del mk["RTOE"]
    with pytest.raises(KeyError, match="RTOE"):
        spatiotemporal(ev, mk, t)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    static = STUDY / "HC030A/Static/HC030A01.c3d"
    walk = STUDY / "HC030A/Straight/HC030A05.c3d"
    out = tmp_path_factory.mktemp("walk")
    opt = SimulationOptions(subjects=1, conditions=(Condition("control"),), trials=1, cycles=4, seed=3,
                            stride_sd=0.0, plates=False)
    sheet = simulate_study(static, walk, out, opt)
    scale = json.loads((out / "truth.json").read_text())["trials"][0]["scale"]
    return read_c3d(out / sheet.dynamic[0]), load_template(static, walk), scale


def test_simulated_walk_gives_the_template_stride_and_timing(simulated):
    """The simulator walks the template cycle along +x: stride = template stride x subject
    scale, stride time = cycle frames / rate, stance = the template's foot off."""
    ds, template, scale = simulated
    tab = spatiotemporal(c3d_events(ds), ds)
    assert len(tab) >= 4
    T = len(template.root) / template.rate
    np.testing.assert_allclose(tab.stride_time_s, T, atol=2e-6)
    np.testing.assert_allclose(tab.cadence_steps_per_min, 120.0 / T, rtol=1e-5)
    np.testing.assert_allclose(tab.stride_length_m, template.stride * scale, atol=2e-3)
    np.testing.assert_allclose(tab.stride_speed_m_s, template.stride * scale / T, atol=2e-3)
    for side in ("Left", "Right"):
        strike = 0.0 if side == "Left" else template.events["RightFoot Strike"]
        stance = (template.events[f"{side}Foot Off"] - strike) % 1.0
        np.testing.assert_allclose(tab[tab.side == side].stance_pct, 100 * stance, atol=0.01)
    # consecutive steps add up to the stride; both feet's support phases fill the cycle
    steps = tab.groupby("side").step_length_m.mean()
    assert abs(steps.sum() - template.stride * scale) < 4e-3
    np.testing.assert_allclose(tab.single_support_pct + tab.double_support_pct, tab.stance_pct, atol=1e-9)


def _walks():
    roots = [STUDY] + ([SHARED / "biomechzoo"] if (SHARED / "biomechzoo").is_dir() else [])
    out = {}
    for root in roots:
        for subject in sorted(p for p in root.iterdir() if p.is_dir()):
            f = next((subject / "Straight").glob("*.c3d"))
            out.setdefault(f.name, f)
    return sorted(out.values())


@pytest.mark.parametrize("path", _walks(), ids=lambda p: p.name)
def test_from_nexus_events_against_nexus_outputs(path):
    """From the events Nexus stored: stance equals the cycles' (same events); the walking
    speed is the pelvis' mean speed over the cycle within 5 % (measured: 4.2 % worst); the
    foot progression at mid-stance is Nexus' FootProgressAngles z there within 5 deg (heel-toe
    line vs Plug-in Gait foot; measured: 4.7 worst, median 0.9)."""
    ds = read_c3d(path)
    ev = c3d_events(ds)
    tab = spatiotemporal(ev, ds)
    cyc = find_cycles(ev).cycles
    assert len(tab) == len(cyc) > 0
    np.testing.assert_allclose(tab.stance_pct.to_numpy(), cyc.stance.to_numpy(), atol=1e-9)
    t = ds.time.values
    pelvis = 0.5 * (ds.markers.sel(marker="LASI") + ds.markers.sel(marker="RASI")).values[:, :2]
    for r in tab.itertuples():
        p0 = np.array([np.interp(r.start, t, pelvis[:, i]) for i in range(2)])
        p1 = np.array([np.interp(r.end, t, pelvis[:, i]) for i in range(2)])
        speed = np.hypot(*(p1 - p0)) / r.stride_time_s
        assert abs(r.stride_speed_m_s / speed - 1) < 0.05
        nexus = np.interp(0.5 * (r.start + r.foot_off), t,
                          ds.model_outputs.sel(output=f"{r.side[0]}FootProgressAngles").values[:, 2])
        assert abs(r.foot_progression_deg - nexus) < 5.0
        assert 0.02 < r.step_width_m < 0.2 and 0.9 < r.stride_length_m < 1.5


def test_the_per_cycle_table_gets_them_from_the_frames_around_the_events():
    """The trial pipeline's way (:func:`spatiotemporal_of_trial`: the markers read at the
    frames around the events only) gives the whole arrays' values, in the per-cycle table's
    columns after walking_speed_m_s; events on frame times and between them (right_at 0.45
    of a 1 s stride at 200 Hz: on frames; the offs at 0.62 s: on frames too; shifted by a
    third of a frame: between)."""
    import xarray as xr

    from chainlab.gait.spatiotemporal import MARKERS, frames_around, sample_times, spatiotemporal_of_trial
    from chainlab.schema import METRIC_COLUMNS, SPATIOTEMPORAL_COLUMNS

    for shift in (0.0, 1.0 / 600.0):
        ev, mk, t = _footprints_walk(right_at=0.45)
        ev = ev.assign(time=ev.time + shift)
        kin = xr.Dataset({"markers": (("frame", "marker", "axis"), np.stack([mk[m] for m in MARKERS], axis=1))},
                         coords={"marker": list(MARKERS), "time": ("frame", t)})
        whole = spatiotemporal(ev, mk, t)
        base = pd.DataFrame({"side": whole.side, "cycle": whole.cycle, "walking_speed_m_s": 1.2, "gaps": ""})
        got = spatiotemporal_of_trial(base, ev, kin, lambda k: t[k], len(t))
        assert list(got.columns) == ["side", "cycle", "walking_speed_m_s", *SPATIOTEMPORAL_COLUMNS, "gaps"]
        for c in SPATIOTEMPORAL_COLUMNS:
            np.testing.assert_array_equal(got[c].to_numpy(), whole[c].to_numpy(), err_msg=c)
        np.testing.assert_allclose(got.step_width_m, 0.1, atol=1e-9)
        assert len(frames_around(sample_times(ev), lambda k: t[k], len(t))) < len(t) / 4
    assert set(SPATIOTEMPORAL_COLUMNS) <= set(METRIC_COLUMNS)
    # without heel and toe markers: the columns are there, NaN
    none = spatiotemporal_of_trial(base, ev, kin.sel(marker=["LHEE"]), lambda k: t[k], len(t))
    assert none[SPATIOTEMPORAL_COLUMNS].isna().all().all()


def test_trial_pipeline_metrics_equal_the_function_on_the_capture(tmp_path):
    """A default-study trial through the pipeline: its per-cycle spatiotemporal columns are
    :func:`spatiotemporal` of its events and its whole capture."""
    from chainlab.pipeline import measure_trial

    dyn, sta = STUDY / "HC030A" / "Turn" / "HC030A22.c3d", STUDY / "HC030A" / "Static" / "HC030A01.c3d"
    res = measure_trial(dyn, sta)
    expected = spatiotemporal(res.events, read_c3d(dyn))
    assert len(res.metrics) == len(expected) > 2
    for c in ("cadence_steps_per_min", "stride_length_m", "step_length_m", "step_width_m", "double_support_pct",
              "foot_progression_deg"):
        np.testing.assert_allclose(res.metrics[c].to_numpy(), expected[c].to_numpy(), rtol=0, atol=1e-12, err_msg=c)


# --------------------------------------------------------------------------- Plug-in Gait-only captures


def _pig_only(ds):
    """The capture with only Plug-in Gait's markers (its heel markers kept): no OFM cluster."""
    from chainlab.model import pig

    keep = set(pig.MARKERS) | {"C7", "T10", "CLAV", "STRN", "RBAK"}
    return ds.sel(marker=[m for m in ds.marker.values.astype(str) if m in keep])


def test_plug_in_gait_only_trials_get_them_from_the_captures_heel_and_toe():
    """The OFM markers dropped from a walk and its static: the OFM does not run, yet the
    kinematics keep the capture's LHEE/RHEE/LTOE/RTOE and the per-cycle spatiotemporal
    parameters are those of the whole capture (:func:`spatiotemporal` on its own markers,
    the same events), equal to the OFM trial's; only the OFM's variables and the arch are
    not measured."""
    import warnings

    from chainlab.gait.analysis import analyse_trial
    from chainlab.kinematics import KinematicsOptions, compute_kinematics
    from chainlab.schema import SPATIOTEMPORAL_COLUMNS

    dyn, sta = read_c3d(STUDY / "HC030A" / "Turn" / "HC030A22.c3d"), read_c3d(STUDY / "HC030A" / "Static" / "HC030A01.c3d")
    lean_dyn, lean_sta = _pig_only(dyn), _pig_only(sta)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kin = compute_kinematics(lean_dyn, lean_sta, KinematicsOptions(partial=True))
        full = compute_kinematics(dyn, sta)
        res, res_full = analyse_trial(lean_dyn, kin), analyse_trial(dyn, full)
    assert "ofm" not in kin.attrs["models"].split(",") and "LHFTFL" not in kin.output.values
    assert {"LHEE", "RHEE", "LTOE", "RTOE"} <= set(kin.marker.values.astype(str))
    assert len(res.metrics) > 2
    expected = spatiotemporal(res.events, dyn)
    for c in SPATIOTEMPORAL_COLUMNS:
        np.testing.assert_allclose(res.metrics[c].to_numpy(), expected[c].to_numpy(), rtol=0, atol=1e-12, err_msg=c)
        np.testing.assert_array_equal(res.metrics[c].to_numpy(), res_full.metrics[c].to_numpy(), err_msg=c)
    assert not res.metrics.not_measured.str.contains("spatiotemporal").any()
    assert res.metrics.not_measured.str.contains("arch").all() and res.metrics.arch_height_index_stance_mean_pct.isna().all()
    assert any("arch measures not measured: model 'ofm' did not run" in p for p in res.problems)
    assert np.isfinite(res_full.metrics.arch_height_index_stance_mean_pct).all()


@pytest.mark.skipif(not (SHARED / "vendors" / "PiG_Motion3_FF.c3d").is_file(), reason="needs ../shared")
def test_a_vendor_plug_in_gait_capture_gets_them():
    """Another lab's Plug-in Gait capture (no OFM, no lumbar markers): every cycle has its
    spatiotemporal parameters, equal to :func:`spatiotemporal` on the capture's markers."""
    import warnings

    from chainlab.gait.analysis import analyse_trial
    from chainlab.kinematics import KinematicsOptions, compute_kinematics
    from chainlab.schema import SPATIOTEMPORAL_COLUMNS

    dyn = read_c3d(SHARED / "vendors" / "PiG_Motion3_FF.c3d")
    sta = read_c3d(SHARED / "vendors" / "PiG_Calibration3_FF.c3d")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kin = compute_kinematics(dyn, sta, KinematicsOptions(partial=True))
        res = analyse_trial(dyn, kin)
    assert kin.attrs["models"] == "pig" and len(res.metrics) >= 4
    expected = spatiotemporal(res.events, dyn)
    for c in SPATIOTEMPORAL_COLUMNS:
        assert np.isfinite(res.metrics[c]).all(), c
        np.testing.assert_allclose(res.metrics[c].to_numpy(), expected[c].to_numpy(), rtol=0, atol=1e-12, err_msg=c)
    assert 0.9 < res.metrics.stride_length_m.min() and res.metrics.stride_length_m.max() < 1.6


def test_an_arch_gap_in_a_stance_is_named_in_gaps():
    """Analytic: a constant arch index (20 % left, 25 % right) with one missing frame in the
    left stance: the left cycle's arch measures are NaN and ``gaps`` names the arch, as every
    other variable with a hole is named; the right cycle has its constant."""
    import xarray as xr

    from chainlab.gait.metrics import with_arch

    t = np.arange(0, 201) / 100.0
    arch = np.stack([np.full(t.size, 20.0), np.full(t.size, 25.0)], axis=1)
    arch[50, 0] = np.nan  # 0.5 s, inside the left stance 0.2-0.8 s
    kin = xr.Dataset({"arch": (("frame", "arch_output"), arch)},
                     coords={"time": ("frame", t), "arch_output": ["LArchHeightIndex", "RArchHeightIndex"]})
    metrics = pd.DataFrame({"side": ["Left", "Right"], "cycle": [0, 0], "start_s": [0.2, 0.7], "end_s": [1.2, 1.7],
                            "stance_pct": [60.0, 60.0], "gaps": ["", "pelvic_tilt"]})
    out = with_arch(metrics, kin)
    assert np.isnan(out.arch_height_index_stance_mean_pct[0]) and out.gaps[0] == "arch_height_index"
    assert out.arch_height_index_stance_mean_pct[1] == pytest.approx(25.0) and out.gaps[1] == "pelvic_tilt"
