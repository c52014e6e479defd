"""Figures drawn from a real study store (the embedded default study), their files and the report."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
from html import escape as html_escape
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import h5py
import numpy as np
import plotly.io as pio
import pytest
import xarray as xr

from chainlab import figures
from chainlab.cli import main
from chainlab.figures import FIGURES, PLOTLYJS, caption_rst, find_browser, write_figure, write_figures
from chainlab.figures._style import MAX_WIDTH, OKABE_ITO, PLATE_COLOURS, SIDE_COLOURS
from chainlab.io.study_store import StoreError, marker_quality, open_study
from chainlab.report import build_report
from chainlab.stats import spm as spm_stats
from chainlab.study import build_study

from ._workflow import assert_report_embeds_the_figures
from .conftest import ROOT, STUDY

BROWSER = find_browser()
NAMES = [f.name for f in FIGURES]
UNIT = re.compile(r"\((deg|%|N|s|mm|1|count|N m/kg|W/kg)\)")
CATEGORICAL = {"trial", "coupling-angle bin (Chang 2008)", "marker", "SPM{t}", "condition"}  # SPM{t}: a t statistic


# The three subjects embedded in data/biomechzoo, a walk of each condition: the store these
# tests know the answers of (whatever study config/config.yaml names).
EMBEDDED = [("HC002D", "HC002D02", {"Straight": "HC002D06", "Turn": "HC002D25"}),
            ("HC030A", "HC030A01", {"Straight": "HC030A05", "Turn": "HC030A22"}),
            ("HC033A", "HC033A01", {"Straight": "HC033A10", "Turn": "HC033A22"})]


def _embedded_study(project: Path) -> Path:
    """config/config.yaml and config/trials.tsv (absolute paths) of the embedded study in `project`."""
    (project / "config").mkdir(parents=True, exist_ok=True)
    rows = ["subject\tcondition\ttrial\tstatic\tdynamic"] + [
        f"{s}\t{c}\t{t}\t{STUDY / s / 'Static' / (static + '.c3d')}\t{STUDY / s / c / (t + '.c3d')}"
        for s, static, walks in EMBEDDED for c, t in walks.items()]
    (project / "config" / "trials.tsv").write_text("\n".join(rows) + "\n")
    (project / "config" / "config.yaml").write_text(  # and a measure and its test (figure measure_tests)
        "study: default\ntrials: config/trials.tsv\nmeasures:\n  - {name: hip_add_max, output: HipAngles, "
        "component: y, side: right, window: stance, stat: max, plate: true}\n"
        "tests:\n  - {measure: hip_add_max, compare: condition, test: paired_t}\n")
    return project / "config" / "config.yaml"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    project = tmp_path_factory.mktemp("project")
    return build_study(_embedded_study(project), project / "results", n_permutations=200, progress=lambda m: None)


@pytest.fixture(scope="module")
def study(store):
    return open_study(store)


@pytest.fixture(scope="module")
def drawn(study, tmp_path_factory):
    """Every figure written once (SVG and PDF too where a browser is), with the log."""
    out = tmp_path_factory.mktemp("figures")
    log: list[str] = []
    t0 = time.perf_counter()
    index, failures = figures.draw_all(study, out, say=log.append)
    return out, index, failures, log, time.perf_counter() - t0


def _figure(study, name):
    return next(f for f in FIGURES if f.name == name).draw(study)


def _axes(fig):
    layout = fig.to_plotly_json()["layout"]
    return {k: v for k, v in layout.items() if re.fullmatch(r"[xy]axis\d*", k)}


def test_curves_per_condition_are_the_store_means_with_sd_and_bootstrap_band(study):
    fig = _figure(study, "curves_rearfoot_eversion")
    cycles, stats = study.cycles, study.statistics
    ev = cycles.curves.sel(variable="rearfoot_eversion")
    means = {t.name.split(" mean")[0]: t for t in fig.data if " mean (" in (t.name or "")}
    assert sorted(means) == ["Straight", "Turn"]
    assert means["Straight"].name == "Straight mean (8 cycles, 3 subjects)"
    assert means["Turn"].name == "Turn mean (19 cycles, 3 subjects)"
    for c, trace in means.items():
        v = ev.values[cycles.condition.values == c]
        np.testing.assert_allclose(trace.y, v.mean(axis=0))  # every cycle is complete here
        sd = next(t for t in fig.data if t.name == f"{c} ± SD")
        np.testing.assert_allclose(np.asarray(sd.y)[:101], v.mean(axis=0) + v.std(axis=0, ddof=1))
        band = [t for t in fig.data if t.name == f"{c} bootstrap 95 % band"]
        assert len(band) == 2
        np.testing.assert_allclose(band[0].y, stats.band_low.sel(band_condition=c, band_variable="rearfoot_eversion"))
        np.testing.assert_allclose(band[1].y, stats.band_high.sel(band_condition=c, band_variable="rearfoot_eversion"))
    assert fig.layout.xaxis.title.text == "gait cycle (%)"
    assert fig.layout.yaxis.title.text == "rearfoot eversion (deg)"


@pytest.mark.parametrize("name", NAMES)
def test_every_axis_title_carries_a_unit(study, name):
    axes = _axes(_figure(study, name))
    titled = {k: v["title"]["text"] for k, v in axes.items() if v.get("title", {}).get("text")}
    assert len(titled) >= 2, titled
    for k, text in titled.items():
        assert UNIT.search(text) or text in CATEGORICAL, f"{name} {k}: {text!r} has no unit"


def test_the_fit_lines_are_the_stores_mixed_model(store, study):
    with xr.open_dataset(store, group="statistics", engine="h5netcdf") as st:
        rows = st.model.values == "pelvic_tilt_mean_deg ~ peak_eversion_deg + C(condition) + C(side)"
        est = dict(zip(st.term.values[rows], st.estimate.values[rows]))
        assert set(st.random.values[rows]) == {"(1 | subject/trial)"}
    fig = _figure(study, "peak_eversion_vs_pelvic_tilt")
    lines = {t.name.split()[0]: t for t in fig.data if t.name.endswith("mixed-model fit")}
    assert sorted(lines) == ["Straight", "Turn"]
    for c, t in lines.items():
        x, y = np.asarray(t.x), np.asarray(t.y)
        assert (y[1] - y[0]) / (x[1] - x[0]) == pytest.approx(est["peak_eversion_deg"], rel=1e-9)
        shift = est["C(condition)[T.Turn]"] if c == "Turn" else 0.0
        m = study.metrics[study.metrics.condition == c]
        shift += est["C(side)[T.Right]"] * (m.side == "Right").mean()  # the line of the average side
        assert y[0] == pytest.approx(est["Intercept"] + shift + est["peak_eversion_deg"] * x[0])
    assert "(1 | subject/trial)" in fig.layout.title.text
    m = study.metrics
    dots = next(t for t in fig.data if t.name == "Straight cycles (8)")
    np.testing.assert_allclose(sorted(dots.x), sorted(m.peak_eversion_deg[m.condition == "Straight"]))
    assert f"{est['peak_eversion_deg']:.3f}" in fig.layout.title.text


def test_moment_and_power_curves_are_the_store_means_of_the_cycles_with_kinetics(study):
    """Two plates per walk: one stance per side on a plate, 6 cycles per condition with
    kinetic measures; each panel's mean is theirs, point by point."""
    cyc, m = study.cycles, study.metrics
    keep = (m.kinetics_reason == "").to_numpy()
    assert keep.sum() == 12
    for name, var, sel, axis in (("moment_curves", "moment_curves", {"moment_joint": "KneeMoment", "axis": "y"}, "x5"),
                                 ("moment_curves", "moment_curves", {"moment_joint": "AnkleMoment", "axis": "x"}, "x7"),
                                 ("power_curves", "power_curves", {"power_joint": "AnklePower"}, "x3")):
        fig = _figure(study, name)
        y = cyc[var].sel(**sel).values
        means = {t.name.split(" mean")[0]: t for t in fig.data if " mean (" in (t.name or "") and t.xaxis == axis}
        assert sorted(means) == ["Straight", "Turn"], (name, sel)
        for c, trace in means.items():
            rows = (cyc.condition.values == c) & keep
            assert rows.sum() == 6 and trace.name == f"{c} mean (6 cycles)"
            np.testing.assert_allclose(trace.y, np.nanmean(y[rows], axis=0))
    fig = _figure(study, "moment_curves")
    assert fig.layout.yaxis.title.text == "moment (N m/kg)" and "N m/kg" in fig.layout.title.text
    knee = next(t for t in fig.data if t.xaxis == "x5" and t.name == "Straight mean (6 cycles)")
    assert 0.1 < np.nanmax(knee.y) < 0.5  # an adult's knee adduction moment, N m/kg
    ankle = next(t for t in _figure(study, "power_curves").data if t.xaxis == "x3" and t.name.endswith("mean (6 cycles)"))
    assert 2.0 < np.nanmax(ankle.y) < 5.0  # A2, W/kg


def test_the_kinetic_question_is_drawn_with_its_model(study):
    fig = _figure(study, "peak_eversion_vs_knee_adduction_moment")
    m = study.metrics
    dots = {t.name: t for t in fig.data if t.mode == "markers"}
    assert sorted(dots) == ["Straight cycles (6)", "Turn cycles (6)"]
    np.testing.assert_allclose(sorted(dots["Turn cycles (6)"].y),
                               sorted(m.peak_knee_adduction_moment_1_Nm_kg[(m.condition == "Turn") & (m.kinetics_reason == "")]))
    formula, terms = figures.model_terms(study, "peak_knee_adduction_moment_1_Nm_kg", "peak_eversion_deg")
    assert f"{terms['peak_eversion_deg']['estimate']:.3f} N m/kg per deg" in fig.layout.title.text


def test_a_model_the_store_lacks_gives_the_dots_and_says_so(study):
    fig = figures.scatter_fit(study, "lordosis_range_deg")  # no such model is fitted
    # 5 of the 27 cycles have a gap in lordosis (the store's problems say so for the lordosis model)
    assert [t.name for t in fig.data] == ["Straight cycles (6)", "Turn cycles (16)"]
    assert "no mixed model in the store" in fig.layout.title.text
    assert fig.layout.annotations[0].text.startswith("no mixed model lordosis_range_deg ~ peak_eversion_deg")
    with pytest.raises(StoreError, match=r"no mixed model 'lordosis_range_deg ~ peak_eversion_deg.*it has \["):
        figures.model_terms(study, "lordosis_range_deg", "peak_eversion_deg")


def test_spm_draws_the_stores_t_curves_thresholds_and_clusters(study):
    fig = _figure(study, "spm")
    st = study.statistics
    ts = [t for t in fig.data if t.name == "t"]
    assert len(ts) == st.sizes["spm_variable"] == 5
    first = ts[0]  # rearfoot eversion comes first
    np.testing.assert_allclose(first.y, st.spm_t.sel(spm_variable="rearfoot_eversion"))
    u = float(st.spm_threshold.sel(spm_variable="rearfoot_eversion"))
    limits = [t for t in fig.data if t.legendgroup == "u" and t.xaxis == "x"]
    assert sorted(y for t in limits for y in t.y) == pytest.approx([-u, -u, u, u])
    assert len(fig.layout.shapes) == st.sizes["spm_cluster"]
    assert "Turn minus Straight" in fig.layout.title.text
    assert {v["title"]["text"] for k, v in _axes(fig).items() if k.startswith("y")} == {"SPM{t}"}


def test_angle_angle_and_coupling_bins_hold_every_cycle(study):
    fig = _figure(study, "angle_angle_eversion_tibial_rotation")
    assert {t.name for t in fig.data if "cycles" in t.name} == {"Straight cycles (8)", "Turn cycles (19)"}
    fig = _figure(study, "coupling_bins")
    m = study.metrics
    turn = next(t for t in fig.data if t.name.startswith("Turn"))
    assert len(turn.y) == 4 * 19
    np.testing.assert_allclose(np.asarray(turn.y)[:19], m.coupling_in_phase_pct[m.condition == "Turn"])


def test_qc_markers_shows_labelled_markers_with_their_worst_and_says_why_residuals_are_empty(study):
    q = study.marker_quality
    labelled = [str(m) for m in q.marker.values if not re.fullmatch(r"\*\d+", str(m))]
    assert len(labelled) == q.sizes["marker"] - 5  # *179 ... *183: unlabelled trajectories
    fig = _figure(study, "qc_markers")
    missing = fig.data[0]
    assert list(missing.y) == labelled and list(missing.x) == [str(t) for t in q.trial.values]
    np.testing.assert_array_equal(np.asarray(missing.z, float),
                                  q.marker_missing_pct.sel(marker=labelled).transpose("marker", "trial").values)
    # the headline is the worst labelled marker, not an unlabelled one's 99.8 %
    assert float(q.marker_missing_pct.max()) == pytest.approx(99.8, abs=0.05)
    worst = float(q.marker_missing_pct.sel(marker=labelled).max())
    assert worst == pytest.approx(37.06, abs=0.01)
    title = fig.layout.title.text
    assert "worst: 37.1 % of frames missing" in title and "99.8" not in title
    assert "5 unlabelled trajectories (*179, *180, *181 and 2 more) left out" in title
    # the captures record residuals of 0 only (C3D's 0: a gap-filled or computed sample): said in the panel
    assert np.nanmax(q.marker_residual_mean.values) == 0.0
    residual = [t for t in fig.data if t.xaxis == "x3"]
    assert len(residual) == 1 and residual[0].showscale is False
    notes = [a.text for a in fig.layout.annotations if a.xref == "x3 domain"]
    assert len(notes) == 1 and "every residual the<br>captures record is 0" in notes[0]


def test_qc_markers_draws_residuals_where_the_store_has_some(study, monkeypatch):
    q = study.marker_quality.copy()
    q["marker_residual_mean"] = q.marker_residual_mean + 0.7  # mm
    monkeypatch.setattr(type(study), "marker_quality", property(lambda self: q))
    fig = figures.marker_quality(study)
    residual = next(t for t in fig.data if t.xaxis == "x3")
    assert residual.colorbar.title.text == "mean residual (mm)" and residual.zmax == pytest.approx(0.7)
    assert not [a for a in fig.layout.annotations if a.xref == "x3 domain"]


def test_qc_events_force_draws_the_stores_forces_and_events(study):
    fig = _figure(study, "qc_events_force")
    tr = study.trial("HC030A05")
    third = [t for t in fig.data if t.xaxis == "x3"]  # the third trial, HC030A05
    strikes = [t for t in third if "foot strike" in t.name]
    drawn_times = sorted(x for t in strikes for x in np.asarray(t.x)[::3])  # one 3-point segment each
    stored = sorted(tr.event_time.values[tr.event_label.values == "Foot Strike"])
    assert len(stored) == 4 and drawn_times == pytest.approx(stored)
    forces = [t for t in third if t.name.startswith("plate")]
    np.testing.assert_allclose(forces[0].y, tr.plate_vertical_force.isel(plate=0).values)
    plates = {t.line.color for t in fig.data if t.name.startswith("plate")}
    events = {t.line.color for t in fig.data if "foot" in t.name}
    assert plates == set(PLATE_COLOURS[:2]) and events == set(SIDE_COLOURS.values())


def _lab(hex_colour: str) -> np.ndarray:
    """CIE L*a*b* (D65) of an sRGB colour."""
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ lin
    f = lambda t: np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)  # noqa: E731
    fx, fy, fz = f(xyz / [0.9505, 1.0, 1.089])
    return np.array([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)])


def _delta_e(a: str, b: str) -> float:
    return float(np.linalg.norm(_lab(a) - _lab(b)))


def test_plate_colours_are_far_from_the_event_colours():
    # told apart poorly before (CIE76 delta E 33 and 26): plate 1 orange beside the right side's
    # vermilion, plate 2 sky blue beside the left side's blue
    assert _delta_e(OKABE_ITO["orange"], OKABE_ITO["vermilion"]) < 35
    assert _delta_e(OKABE_ITO["sky_blue"], OKABE_ITO["blue"]) < 35
    for plate in PLATE_COLOURS:
        for side in SIDE_COLOURS.values():
            assert _delta_e(plate, side) > 40, (plate, side)


def _colours_in(obj, key=""):
    """Every colour string in a figure's JSON, its template and colour scales aside."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k not in ("template", "colorscale"):
                yield from _colours_in(v, k)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _colours_in(v, key)
    elif isinstance(obj, str) and "color" in key:
        yield obj


@pytest.mark.parametrize("name", NAMES)
def test_every_colour_is_okabe_ito_or_a_grey(study, name):
    allowed = {c.upper() for c in OKABE_ITO.values()}
    for c in _colours_in(_figure(study, name).to_plotly_json()):
        m = re.fullmatch(r"rgba\((\d+),(\d+),(\d+),[\d.]+\)", c)
        hex_colour = "#%02X%02X%02X" % tuple(map(int, m.groups())) if m else c.upper()
        grey = re.fullmatch(r"#([0-9A-F]{2})\1\1", hex_colour) or c == "white"
        assert hex_colour in allowed or grey, f"{name}: colour {c} is neither Okabe-Ito nor a grey"


@pytest.mark.parametrize("name", NAMES)
def test_every_figure_fits_the_report_with_its_colour_bars(study, name):
    fig = _figure(study, name)
    width, margin = fig.layout.width, fig.layout.margin
    assert width <= MAX_WIDTH
    plot_w = width - margin.l - margin.r
    for t in fig.data:
        if getattr(t, "showscale", None) is not False and getattr(t, "colorbar", None) is not None and t.type == "heatmap":
            right = margin.l + t.colorbar.x * plot_w + t.colorbar.thickness + 45  # ticks and title beside the bar
            assert right <= width, f"{name}: colour bar {t.colorbar.title.text!r} ends at {right:.0f} px of {width}"


def test_the_smallest_p_of_a_sign_flip_test_decides_what_can_reach_significance():
    """With n subjects the paired SPM's smallest p is 1/2**(n-1): 5 subjects cannot reach 0.05
    (1/16), 6 can (1/32), however large the effect."""
    assert [figures.smallest_sign_flip_p(n) for n in (1, 2, 3, 5, 6)] == [1.0, 0.5, 0.25, 1 / 16, 1 / 32]
    assert figures.subjects_needed(0.05) == 6 and figures.subjects_needed(0.01) == 8
    rng = np.random.default_rng(1)
    for n in (5, 6):
        y = 5.0 + 0.5 * rng.normal(size=(n, 101))  # a difference of 10 SD everywhere
        result = spm_stats.one_sample(y, alpha=0.05, n_permutations=2000)
        assert result.significant == (figures.smallest_sign_flip_p(n) < 0.05), n


def test_spm_and_report_say_which_tests_cannot_reach_significance(store, study, tmp_path):
    pair, paired = figures.spm_subjects(study)
    assert pair == ("Straight", "Turn")
    assert paired["rearfoot_eversion"] == ["HC002D", "HC030A", "HC033A"]
    assert paired["lordosis"] == ["HC002D", "HC030A"]  # HC033A's lordosis curves have gaps (the store's problems)
    fig = _figure(study, "spm")
    titles = [a.text for a in fig.layout.annotations if a.xref == "paper"]
    assert "Rearfoot eversion, 3 subjects: smallest attainable p 0.25, cannot reach alpha 0.05" in titles
    assert "Lordosis, 2 subjects: smallest attainable p 0.5, cannot reach alpha 0.05" in titles
    assert "No test can reach significance" in fig.layout.title.text
    said = figures.spm_reach(study)
    assert len(said) == 2 and said[0].startswith("SPM lordosis (Turn minus Straight) cannot reach significance")
    assert "1/4 = 0.25" in said[1] and "6 subjects in both conditions are needed" in said[1]
    out = tmp_path / "figures"
    figures.draw_all(study, out, formats=("html", "json"), only=["spm", "peak_eversion_vs_pelvic_tilt"],
                     say=lambda m: None)
    page = build_report(store, out)
    assert "What these subjects cannot show" in page and html_escape(said[1]) in page
    assert "HC002D, HC030A, HC033A" in page  # the subjects named per condition
    assert "(1 | subject/trial)" in page and "random intercepts per subject and per trial within subject" in page
    assert "random intercept per subject" not in page
    index = json.loads((out / "index.json").read_text())["figures"]
    fit = next(e for e in index if e["name"] == "peak_eversion_vs_pelvic_tilt")["caption"]
    assert fit.endswith("Fitted in this store: pelvic_tilt_mean_deg ~ peak_eversion_deg + C(condition) + C(side) "
                        "+ (1 | subject/trial), on 27 cycles of 3 subjects.")
    assert next(e for e in index if e["name"] == "spm")["caption"].endswith(said[1])


def test_six_subjects_in_both_conditions_can_reach_significance(study, monkeypatch):
    """The same store read as if each SPM test paired six subjects: nothing is said."""
    monkeypatch.setattr(figures._reach, "spm_subjects",
                        lambda s: (("Straight", "Turn"), {v: list("ABCDEF") for v in ["lordosis", "pelvic_tilt",
                                   "rearfoot_eversion", "tibial_rotation_femur", "tibial_rotation_lab"]}))
    assert figures.spm_reach(study) == []


def test_marker_quality_counts_gaps_and_residuals():
    r = np.array([[1.0, 0.002], [np.nan, 0.004], [np.nan, np.nan], [2.0, 0.006], [np.nan, 0.002]]) / [1000, 1]
    res = xr.DataArray(r, dims=("frame", "marker"), coords={"marker": ["A", "B"]})
    q = marker_quality(res, ["A", "B", "C"])
    np.testing.assert_allclose(q[:, 0], [1.5, 60.0, 2])  # mm, % of frames, gaps
    np.testing.assert_allclose(q[:, 1], [3.5, 20.0, 1])
    assert np.isnan(q[:, 2]).all()  # C is not in the trial


def test_html_loads_plotlyjs_from_beside_it_and_is_identical_on_rerun_and_json_roundtrips(study, tmp_path):
    fig = _figure(study, "curves_lordosis")
    a = write_figure(fig, tmp_path / "a", "curves_lordosis", browser=None)
    b = write_figure(_figure(study, "curves_lordosis"), tmp_path / "b", "curves_lordosis", browser=None)
    assert [p.name for p in a] == ["curves_lordosis.html", "curves_lordosis.json"]
    assert a[0].read_bytes() == b[0].read_bytes() and a[1].read_bytes() == b[1].read_bytes()
    html = a[0].read_text()
    assert 'id="chainlab-curves_lordosis"' in html and "plotly.js v" not in html
    assert re.findall(r"<script[^>]+src=\"([^\"]+)\"", html) == [PLOTLYJS]  # beside it: works offline
    js = tmp_path / "a" / PLOTLYJS
    assert js.read_text().lstrip().startswith("/**") and "plotly.js v" in js.read_text()[:200]
    mtime = js.stat().st_mtime_ns
    write_figure(fig, tmp_path / "a", "curves_lordosis", browser=None)
    assert js.stat().st_mtime_ns == mtime  # written once, not again on a rerun
    text = a[1].read_text()
    assert json.loads(pio.from_json(text).to_json()) == json.loads(text)
    assert pio.from_json(text).layout.yaxis.title.text == "lordosis (deg)"


def test_the_figures_folder_holds_plotly_js_once_and_is_a_few_mb(drawn):
    out, index, *_ = drawn
    files = [p for p in out.iterdir() if p.is_file()]
    with_plotly = [p.name for p in files if p.suffix in (".html", ".js") and "plotly.js v" in p.read_text()[:5000]]
    assert with_plotly == [PLOTLYJS]
    for e in index:
        assert f'src="{PLOTLYJS}"' in (out / f"{e['name']}.html").read_text()
    total = sum(p.stat().st_size for p in files)
    js = (out / PLOTLYJS).stat().st_size
    assert 3e6 < js < 8e6 and total < 10e6, (js, total)  # 11 figures with their own plotly.js: 55 MB
    assert all((out / f"{e['name']}.html").stat().st_size < 1e6 for e in index)


def test_without_a_browser_html_and_json_only_with_one_message(study, tmp_path, monkeypatch, capsys):
    fig = _figure(study, "coupling_bins")
    said: list[str] = []
    out = write_figures({"coupling_bins": fig}, tmp_path, browser=None, say=said.append)
    assert [p.name for p in out["coupling_bins"]] == ["coupling_bins.html", "coupling_bins.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coupling_bins.html", "coupling_bins.json", PLOTLYJS]
    assert len(said) == 1 and "no Chrome/Chromium found" in said[0] and "apt-get install chromium" in said[0]
    # the command line, with no browser to be found
    monkeypatch.setattr(figures._write, "find_browser", lambda: None)
    assert main(["figures", str(study.path), "-o", str(tmp_path / "cli"), "--only", "spm,coupling_bins"]) == 0
    err = capsys.readouterr().err
    assert err.count("no Chrome/Chromium found") == 1
    assert sorted(p.suffix for p in (tmp_path / "cli").iterdir()) == [".html", ".html", ".js", ".json", ".json", ".json"]


def test_a_browser_that_never_answers_is_stopped(study, tmp_path):
    hang = tmp_path / "hanging-browser"
    hang.write_text("#!/bin/sh\nsleep 600\n")
    hang.chmod(0o755)
    said: list[str] = []
    t0 = time.perf_counter()
    out = write_figures({"spm": _figure(study, "spm")}, tmp_path, browser=str(hang), timeout=5, say=said.append)
    assert time.perf_counter() - t0 < 30
    assert [p.suffix for p in out["spm"]] == [".html", ".json"]
    assert any("stopped after 5 s" in s for s in said), said
    time.sleep(0.5)
    alive = []  # nothing of the export is left running (zombies waiting for init aside)
    for d in Path("/proc").glob("[0-9]*"):
        try:
            if str(hang) in (d / "cmdline").read_text() and " Z " not in (d / "stat").read_text():
                alive.append(d.name)
        except OSError:
            continue
    assert alive == []


def _running(program: str) -> list[str]:
    """Pids of live processes with `program` as one of their arguments (zombies left out)."""
    alive = []
    for d in Path("/proc").glob("[0-9]*"):
        try:
            if program in (d / "cmdline").read_text().split("\0") and " Z " not in (d / "stat").read_text():
                alive.append(d.name)
        except OSError:
            continue
    return alive


def test_a_terminated_figures_job_takes_its_browser_with_it(tmp_path):
    """A workflow stopping a figures job (SIGTERM) ends the export's browser too: the export
    runs in a session of its own, which the signal does not reach."""
    hang = tmp_path / "hanging-browser"
    hang.write_text("#!/bin/sh\nsleep 600\n")
    hang.chmod(0o755)
    script = ("import plotly.graph_objects as go\n"
              "from chainlab.figures import write_figures\n"
              f"write_figures({{'empty': go.Figure()}}, {str(tmp_path / 'out')!r}, browser={str(hang)!r}, timeout=300)\n")
    job = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 120
    while not _running(str(hang)) and time.monotonic() < deadline and job.poll() is None:
        time.sleep(0.2)
    assert _running(str(hang)), "the export never started its browser"
    job.send_signal(signal.SIGTERM)
    assert job.wait(timeout=60) == 143
    time.sleep(0.5)
    assert _running(str(hang)) == []


def test_all_figures_are_written_with_an_index(drawn):
    out, index, failures, log, seconds = drawn
    assert failures == []
    assert [e["name"] for e in index] == NAMES
    on_disk = json.loads((out / "index.json").read_text())
    assert on_disk["figures"] == index and on_disk["store"] == "study.h5"
    for e in index:
        assert {f"{e['name']}.html", f"{e['name']}.json"} <= set(e["files"])
        assert all((out / f).exists() for f in e["files"])
    assert any(line.startswith(f"[{len(NAMES)}/{len(NAMES)}] qc_events_force") for line in log)
    assert any("events on force: [6/6] HC033A22" in line for line in log)  # progress per trial


def test_svg_and_pdf_where_a_browser_is(drawn):
    if BROWSER is None:
        pytest.skip("no Chrome/Chromium installed (apt-get install chromium); SVG and PDF are not drawn")
    out, index, *_ = drawn
    for e in index:
        assert {f"{e['name']}.svg", f"{e['name']}.pdf"} <= set(e["files"]), e
        root = ET.parse(out / f"{e['name']}.svg").getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert (out / f"{e['name']}.pdf").read_bytes()[:5] == b"%PDF-"
    svg = (out / "curves_rearfoot_eversion.svg").read_text()
    assert "rearfoot eversion (deg)" in svg and "gait cycle (%)" in svg


def test_a_store_without_statistics_is_named_in_the_error(store, tmp_path, capsys):
    bare = tmp_path / "bare.h5"
    shutil.copy(store, bare)
    with h5py.File(bare, "a") as f:
        del f["statistics"]
    with pytest.raises(StoreError, match=r"bare\.h5: group 'statistics' missing"):
        _figure(open_study(bare), "spm")
    assert main(["figures", str(bare), "-o", str(tmp_path / "out"), "--formats", "html",
                 "--only", "coupling_bins,spm"]) == 1
    err = capsys.readouterr().err
    assert "spm: " in err and "group 'statistics' missing" in err
    assert (tmp_path / "out" / "coupling_bins.html").exists()


def test_report_captions_match_the_figures():
    for f in FIGURES:
        path = ROOT / "workflow" / "report" / f"{f.name}.rst"
        assert path.exists(), f"{path} missing"
        assert path.read_text() == caption_rst(f), (
            f"{path} is out of date; rewrite it with chainlab.figures.caption_rst")


@pytest.mark.slow
def test_snakemake_figures_and_a_self_contained_report(store, tmp_path):
    snakemake = shutil.which("snakemake")
    if snakemake is None:
        pytest.skip("snakemake not installed (pip install -e '.[test]' installs it)")
    _embedded_study(tmp_path)
    (tmp_path / "results" / "default").mkdir(parents=True)
    shutil.copy(store, tmp_path / "results" / "default" / "study.h5")
    # the statistics step's checksum of the store (sha256sum's format), which figures.smk takes as input
    (tmp_path / "results" / "default" / "checksums").mkdir()
    digest = hashlib.sha256((tmp_path / "results" / "default" / "study.h5").read_bytes()).hexdigest()
    (tmp_path / "results" / "default" / "checksums" / "study.h5.sha256").write_text(
        f"{digest}  results/default/study.h5\n")
    rules = ROOT / "workflow" / "rules"
    (tmp_path / "Snakefile").write_text(
        'configfile: "config/config.yaml"\n'
        f'include: "{rules / "common.smk"}"\ninclude: "{rules / "figures.smk"}"\n'
        'rule all:\n    input: f"{RESULTS}/figures/index.json"\n')
    run = lambda *a: subprocess.run([snakemake, "--cores", "2", *a], cwd=tmp_path,  # noqa: E731
                                    capture_output=True, text=True, timeout=300)
    r = run("figures")
    assert r.returncode == 0, r.stderr[-3000:]
    r = run("--report", "report.html")
    assert r.returncode == 0, r.stderr[-3000:]
    assert_report_embeds_the_figures(tmp_path / "report.html", tmp_path / "results" / "default" / "figures", NAMES)
    report = (tmp_path / "report.html").read_text()
    for f in FIGURES:  # each caption, rendered from its RST
        first = f.caption.split(". ")[0][:70]  # ASCII; the report escapes the rest in JSON
        assert first in report or first.replace("'", "&#x27;") in report, f.name


def test_thin_picks_evenly_spaced_items_first_and_last_included():
    from chainlab.figures._style import shown, thin

    np.testing.assert_array_equal(thin(7, 10), np.arange(7))
    pick = thin(1000, 200)
    assert len(pick) == 200 and pick[0] == 0 and pick[-1] == 999 and np.all(np.diff(pick) > 0)
    assert np.diff(pick).max() - np.diff(pick).min() <= 1  # evenly spaced
    assert (shown(8, 8), shown(200, 18500)) == ("8", "200 of 18,500 shown")


def test_a_large_study_draws_a_selection_and_says_so_the_means_and_fits_of_every_cycle(study, monkeypatch):
    """Beyond the caps (MAX_CYCLE_LINES, MAX_POINTS; here lowered to the test store's size) the
    single cycles drawn are an evenly spaced selection named in the legend; the means, boxes
    and model lines are those of every cycle."""
    from chainlab.figures import _curves, _regression

    full = figures.angle_angle(study)
    monkeypatch.setattr(_curves, "MAX_CYCLE_LINES", 3)
    monkeypatch.setattr(_curves, "MAX_POINTS", 4)
    monkeypatch.setattr(_regression, "MAX_POINTS", 5)
    fig = figures.angle_angle(study)
    thin_lines = [t for t in fig.data if " cycles (" in t.name]
    assert [t.name for t in thin_lines] == ["Straight cycles (3 of 8 shown)", "Turn cycles (3 of 19 shown)"]
    assert all(int(np.isnan(np.asarray(t.x, float)).sum()) == 3 for t in thin_lines)  # 3 lines, NaN-separated
    means = lambda f: [np.asarray(t.x) for t in f.data if t.name.endswith(" mean")]  # noqa: E731
    for a, b in zip(means(fig), means(full)):
        np.testing.assert_array_equal(a, b)
    boxes = figures.coupling_bins(study)
    assert all(t.boxpoints is False and "dots not drawn above 4" in t.name for t in boxes.data)
    m = study.metrics
    assert len(boxes.data[0].y) == 4 * int((m.condition == "Straight").sum())  # every cycle in the box
    fit = figures.scatter_fit(study, "pelvic_tilt_mean_deg")
    dots = next(t for t in fit.data if t.name.startswith("Straight cycles"))
    assert dots.name == "Straight cycles (5 of 8 shown)" and len(dots.x) == 5


CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
                 if p and os.access(p, os.X_OK)), None)
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync", "--hide-scrollbars")
WINDOW = (1400, 1000)  # px: a laptop's browser window
INK = 80.0  # grey-level variance of a drawn figure (measured 140-1,000); a page of one line of text: ~27


def _screenshot(html: Path, png: Path, window=WINDOW, timeout: float = 120) -> np.ndarray:
    """`html` opened in headless Chromium (a fresh profile) and shot at `window`; its grey
    levels (rows, columns)."""
    image = pytest.importorskip("PIL.Image", reason="pillow reads the screenshots (pip install -e '.[test]')")
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.Popen([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                                 f"--window-size={window[0]},{window[1]}", f"--screenshot={png}", html.as_uri()],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail(f"{CHROMIUM} did not shoot {html.name} in {timeout:.0f} s")
    assert png.exists(), f"{CHROMIUM} wrote no screenshot of {html.name}: {err[-1000:]}"
    with image.open(png) as im:
        return np.asarray(im.convert("L"), float)


@pytest.mark.slow
def test_every_figure_renders_in_chromium_within_the_report_width(drawn, tmp_path):
    """Each figure's HTML, opened offline in headless Chromium, draws something (not a blank
    page) of at most 1,000 px wide, colour bars included; without plotly.min.js beside it the
    same page is (nearly) blank, so the check can fail."""
    if CHROMIUM is None:
        pytest.skip("no Chromium (/usr/bin/chromium; Debian: apt-get install chromium): figures not rendered")
    out, index, *_ = drawn
    for e in index:
        grey = _screenshot(out / f"{e['name']}.html", tmp_path / f"{e['name']}.png")
        assert grey.shape == (WINDOW[1], WINDOW[0]), e["name"]
        assert grey.var() > INK, f"{e['name']}: blank screenshot (grey variance {grey.var():.1f})"
        inked = np.flatnonzero((grey < 250).any(axis=0))
        assert inked.max() < MAX_WIDTH + 10, f"{e['name']}: drawn up to x = {inked.max()} px"  # 8 px body margin
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(out / "spm.html", alone)
    grey = _screenshot(alone / "spm.html", tmp_path / "alone.png")
    assert grey.shape == (WINDOW[1], WINDOW[0]) and grey.var() < INK


def test_curves_by_side_are_the_store_means_of_each_side(study):
    """Left and right apart: one panel per side, per condition the mean of that side's cycles."""
    cycles = study.cycles
    ev = cycles.curves.sel(variable="rearfoot_eversion").values
    for name in ("curves_by_side_rearfoot_eversion", "curves_by_side_pelvic_tilt"):
        assert name in NAMES
    fig = _figure(study, "curves_by_side_rearfoot_eversion")
    means = {t.name.split(" mean")[0]: t for t in fig.data if " mean (" in (t.name or "")}
    assert sorted(means) == ["Straight Left", "Straight Right", "Turn Left", "Turn Right"]
    assert means["Straight Left"].name == "Straight Left mean (4 cycles, 3 subjects)"
    for key, trace in means.items():
        c, s = key.split()
        sel = (cycles.condition.values == c) & (cycles.side.values == s)
        np.testing.assert_allclose(trace.y, ev[sel].mean(axis=0))
        assert trace.xaxis == ("x" if s == "Left" else "x2")
    assert [a.text for a in fig.layout.annotations][:2] == ["Left cycles", "Right cycles"]


def test_standing_chain_figure_is_the_stores_subjects_and_fits(study):
    """One dot per subject at its /subjects values, the line of /statistics standing_*, n in
    the titles; the question with a constant predictor says it was not fitted."""
    fig = _figure(study, "standing_chain")
    sub = study.subjects
    dots = [t for t in fig.data if t.mode == "markers"]
    lines = [t for t in fig.data if t.mode == "lines"]
    assert len(dots) == 6 and len(lines) == 5
    np.testing.assert_allclose(dots[0].x, sub.rearfoot_to_floor_deg)
    np.testing.assert_allclose(dots[0].y, sub.pelvic_tilt_deg)
    st = study.statistics
    b, a = float(st.standing_slope.values[0]), float(st.standing_intercept.values[0])
    np.testing.assert_allclose(lines[0].y, a + b * np.asarray(lines[0].x))
    titles = [a.text for a in fig.layout.annotations]
    assert titles[0].startswith("n = 3: slope") and titles[5] == "n = 3: not fitted"
    entry = next(f for f in FIGURES if f.name == "standing_chain")
    assert "3 subjects stand behind each question" in entry.caption_for(study)
