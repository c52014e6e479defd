"""Figures drawn from a real study store (the embedded default study), their files and the report."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
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
from chainlab.figures import FIGURES, caption_rst, find_browser, write_figure, write_figures
from chainlab.io.study_store import StoreError, marker_quality, open_study
from chainlab.study import build_study

from ._workflow import assert_report_embeds_the_figures
from .conftest import ROOT

BROWSER = find_browser()
NAMES = [f.name for f in FIGURES]
UNIT = re.compile(r"\((deg|%|N|s|mm|1|count)\)")
CATEGORICAL = {"trial", "coupling-angle bin (Chang 2008)", "marker (grey: not in the trial)"}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    return build_study(ROOT / "config" / "config.yaml", out, n_permutations=200, progress=lambda m: None)


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


def test_angle_angle_and_coupling_bins_hold_every_cycle(study):
    fig = _figure(study, "angle_angle_eversion_tibial_rotation")
    assert {t.name for t in fig.data if "cycles" in t.name} == {"Straight cycles (8)", "Turn cycles (19)"}
    fig = _figure(study, "coupling_bins")
    m = study.metrics
    turn = next(t for t in fig.data if t.name.startswith("Turn"))
    assert len(turn.y) == 4 * 19
    np.testing.assert_allclose(np.asarray(turn.y)[:19], m.coupling_in_phase_pct[m.condition == "Turn"])


def test_qc_figures_show_the_stores_marker_quality_and_events(study):
    q = study.marker_quality
    fig = _figure(study, "qc_markers")
    missing = fig.data[0]
    np.testing.assert_array_equal(np.asarray(missing.z, float), q.marker_missing_pct.transpose("trial", "marker").values)
    assert q.marker_missing_pct.max() > 50  # some markers are gone for most of a trial
    fig = _figure(study, "qc_events_force")
    tr = study.trial("HC030A05")
    third = [t for t in fig.data if t.xaxis == "x3"]  # the third trial, HC030A05
    strikes = [t for t in third if "foot strike" in t.name]
    drawn_times = sorted(x for t in strikes for x in np.asarray(t.x)[::3])  # one 3-point segment each
    stored = sorted(tr.event_time.values[tr.event_label.values == "Foot Strike"])
    assert len(stored) == 4 and drawn_times == pytest.approx(stored)
    forces = [t for t in third if t.name.startswith("plate")]
    np.testing.assert_allclose(forces[0].y, tr.plate_vertical_force.isel(plate=0).values)


def test_marker_quality_counts_gaps_and_residuals():
    r = np.array([[1.0, 0.002], [np.nan, 0.004], [np.nan, np.nan], [2.0, 0.006], [np.nan, 0.002]]) / [1000, 1]
    res = xr.DataArray(r, dims=("frame", "marker"), coords={"marker": ["A", "B"]})
    q = marker_quality(res, ["A", "B", "C"])
    np.testing.assert_allclose(q[:, 0], [1.5, 60.0, 2])  # mm, % of frames, gaps
    np.testing.assert_allclose(q[:, 1], [3.5, 20.0, 1])
    assert np.isnan(q[:, 2]).all()  # C is not in the trial


def test_html_is_self_contained_and_identical_on_rerun_and_json_roundtrips(study, tmp_path):
    fig = _figure(study, "curves_lordosis")
    a = write_figure(fig, tmp_path / "a", "curves_lordosis", browser=None)
    b = write_figure(_figure(study, "curves_lordosis"), tmp_path / "b", "curves_lordosis", browser=None)
    assert [p.name for p in a] == ["curves_lordosis.html", "curves_lordosis.json"]
    assert a[0].read_bytes() == b[0].read_bytes() and a[1].read_bytes() == b[1].read_bytes()
    html = a[0].read_text()
    assert 'id="chainlab-curves_lordosis"' in html and "plotly.js v" in html
    assert not re.search(r"<script[^>]+src=", html)  # nothing fetched: works offline
    text = a[1].read_text()
    assert json.loads(pio.from_json(text).to_json()) == json.loads(text)
    assert pio.from_json(text).layout.yaxis.title.text == "lordosis (deg)"


def test_without_a_browser_html_and_json_only_with_one_message(study, tmp_path, monkeypatch, capsys):
    fig = _figure(study, "coupling_bins")
    said: list[str] = []
    out = write_figures({"coupling_bins": fig}, tmp_path, browser=None, say=said.append)
    assert [p.name for p in out["coupling_bins"]] == ["coupling_bins.html", "coupling_bins.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coupling_bins.html", "coupling_bins.json"]
    assert len(said) == 1 and "no Chrome/Chromium found" in said[0] and "apt-get install chromium" in said[0]
    # the command line, with no browser to be found
    monkeypatch.setattr(figures._write, "find_browser", lambda: None)
    assert main(["figures", str(study.path), "-o", str(tmp_path / "cli"), "--only", "spm,coupling_bins"]) == 0
    err = capsys.readouterr().err
    assert err.count("no Chrome/Chromium found") == 1
    assert sorted(p.suffix for p in (tmp_path / "cli").iterdir()) == [".html", ".html", ".json", ".json", ".json"]


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


def test_all_figures_are_written_with_an_index(drawn):
    out, index, failures, log, seconds = drawn
    assert failures == []
    assert [e["name"] for e in index] == NAMES
    on_disk = json.loads((out / "index.json").read_text())
    assert on_disk["figures"] == index and on_disk["store"] == "study.h5"
    for e in index:
        assert {f"{e['name']}.html", f"{e['name']}.json"} <= set(e["files"])
        assert all((out / f).exists() for f in e["files"])
    assert any(line.startswith("[11/11] qc_events_force") for line in log)
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
    (tmp_path / "config").mkdir()
    sheet = (ROOT / "config" / "trials.tsv").read_text().replace("\t../data/", f"\t{ROOT}/data/")
    (tmp_path / "config" / "trials.tsv").write_text(sheet)
    (tmp_path / "config" / "config.yaml").write_text("study: default\ntrials: config/trials.tsv\n")
    (tmp_path / "results" / "default").mkdir(parents=True)
    shutil.copy(store, tmp_path / "results" / "default" / "study.h5")
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
