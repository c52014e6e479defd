"""Statistics on data whose truth is known: mixed models, SPM, bootstrap bands."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chainlab.stats import spm
from chainlab.stats.bands import bootstrap_band
from chainlab.stats.mixed import mixed_model


def _study(seed, slope=0.3, condition_effect=1.5, subjects=8, trials=5, cycles=2):
    """Per-cycle table: tilt = 10 + subject + slope * eversion + effect * wedge + noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(subjects):
        s_tilt, s_ev = rng.normal(0, 3), rng.normal(8, 2)
        for cond, wedge in (("barefoot", 0.0), ("wedge", 1.0)):
            for _ in range(trials * cycles):
                ev = s_ev + 2.0 * wedge + rng.normal(0, 1.5)
                tilt = 10 + s_tilt + slope * ev + condition_effect * wedge + rng.normal(0, 1.0)
                rows.append({"subject": f"S{s}", "condition": cond, "peak_eversion_deg": ev,
                             "pelvic_tilt_mean_deg": tilt})
    return pd.DataFrame(rows)


def test_mixed_model_recovers_known_effects():
    """Over 40 seeded studies the 95 % CIs contain the true effects about 95 % of the time."""
    hits = {"peak_eversion_deg": 0, "C(condition)[T.wedge]": 0}
    for seed in range(40):
        res = mixed_model(_study(seed, trials=2), "pelvic_tilt_mean_deg ~ peak_eversion_deg + C(condition)")
        t = res.table.set_index("term")
        for term, truth in (("peak_eversion_deg", 0.3), ("C(condition)[T.wedge]", 1.5)):
            hits[term] += t.loc[term, "ci_low"] < truth < t.loc[term, "ci_high"]
    assert res.n_groups == 8 and res.n_obs == 64
    for term, n in hits.items():
        assert n >= 34, (term, n)  # 85 % of 40; nominal 95 %


def test_mixed_model_nominal_rejection_rate_without_coupling():
    """No slope, no condition effect: p < 0.05 in about 5 % of 100 seeded studies."""
    rejections = sum(
        mixed_model(_study(seed, slope=0.0, condition_effect=0.0, trials=2),
                    "pelvic_tilt_mean_deg ~ peak_eversion_deg").table.set_index("term").loc["peak_eversion_deg", "p"] < 0.05
        for seed in range(100)
    )
    assert 1 <= rejections <= 12


def test_mixed_model_reports_what_it_left_out_and_refuses_one_subject():
    d = _study(2)
    d.loc[:9, "peak_eversion_deg"] = np.nan
    res = mixed_model(d, "pelvic_tilt_mean_deg ~ peak_eversion_deg")
    assert res.n_obs == 150 and "10 of 160 rows" in res.left_out[0]
    with pytest.raises(ValueError, match="1 subject"):
        mixed_model(d[d.subject == "S3"], "pelvic_tilt_mean_deg ~ peak_eversion_deg")
    with pytest.raises(ValueError, match="not in the data"):
        mixed_model(d, "lordosis_mean_deg ~ peak_eversion_deg")


def _smooth_noise(rng, n, q=101, width=8.0):
    white = rng.normal(size=(n, q + 40))
    kernel = np.exp(-0.5 * (np.arange(-20, 21) / width) ** 2)
    sm = np.stack([np.convolve(w, kernel, mode="valid") for w in white])
    return sm / sm.std()


def test_spm_finds_a_known_effect_where_it_is():
    rng = np.random.default_rng(3)
    y = _smooth_noise(rng, 12)
    effect = np.zeros(101)
    effect[40:61] = 1.5
    res = spm.one_sample(y + effect, n_permutations=1000)
    assert res.significant
    best = min(res.clusters, key=lambda c: c.p)
    assert 35 <= best.start <= 50 and 50 <= best.end <= 66


def test_spm_two_sample_and_regression():
    rng = np.random.default_rng(4)
    a, b = _smooth_noise(rng, 10), _smooth_noise(rng, 10)
    b[:, 60:80] += 1.5
    assert spm.two_sample(a, b, n_permutations=1000).significant
    x = rng.normal(size=15)
    y = _smooth_noise(rng, 15) + np.outer(x, np.r_[np.zeros(50), np.ones(51)])
    res = spm.regression(y, x, n_permutations=1000)
    assert res.significant and min(res.clusters, key=lambda c: c.p).start >= 45


def test_spm_nominal_rate_under_the_null():
    rejections = sum(spm.one_sample(_smooth_noise(np.random.default_rng(100 + s), 10),
                                    n_permutations=400, seed=s).significant for s in range(100))
    assert 1 <= rejections <= 12


def test_bootstrap_band_covers_the_true_mean():
    truth = np.sin(np.linspace(0, np.pi, 101))
    covered = 0
    for s in range(60):
        rng = np.random.default_rng(s)
        curves = truth + _smooth_noise(rng, 20) * 0.5
        _, lo, hi = bootstrap_band(curves, n_boot=500, seed=s)
        covered += np.all((lo <= truth) & (truth <= hi))
    assert covered / 60 >= 0.85  # nominal 0.95 for the whole curve


def _curves(metrics: pd.DataFrame, shift_in_wedge: float, seed: int = 0):
    import xarray as xr

    rng = np.random.default_rng(seed)
    n = len(metrics)
    base = np.sin(np.linspace(0, 2 * np.pi, 101))
    data = base + 0.3 * _smooth_noise(rng, n)
    wedge = (metrics.condition == "wedge").to_numpy()
    data[wedge, 10:40] += shift_in_wedge
    data = np.repeat(data[:, None, :], 2, axis=1)
    return xr.DataArray(data, dims=("cycle", "variable", "percent"),
                        coords={"variable": ["rearfoot_eversion", "pelvic_tilt"], "percent": np.arange(101.0),
                                "subject": ("cycle", metrics.subject.to_numpy()),
                                "condition": ("cycle", metrics.condition.to_numpy())})


def test_study_statistics_runs_what_is_valid_and_says_what_is_not():
    from chainlab.stats.study import study_statistics

    m = _study(5, trials=2)
    s = study_statistics(m, _curves(m, 1.0), models=("pelvic_tilt_mean_deg ~ peak_eversion_deg + C(condition)",
                                                      "lordosis_mean_deg ~ peak_eversion_deg"), n_permutations=500)
    assert len(s.models) == 1 and any("lordosis_mean_deg" in p and "not in the data" in p for p in s.problems)
    res = s.spm["rearfoot_eversion"]
    assert res.significant and 5 <= min(res.clusters, key=lambda c: c.p).start <= 20
    assert s.bands["mean"].shape == (2, 2, 101)
    # a third condition with a single subject is reported and left out of the curve statistics
    extra = m[m.subject == "S0"].assign(condition="orthosis")
    m3 = pd.concat([m, extra], ignore_index=True)
    s3 = study_statistics(m3, _curves(m3, 1.0), n_permutations=200,
                          models=("pelvic_tilt_mean_deg ~ peak_eversion_deg",))
    assert any("'orthosis' has 1 subject" in p for p in s3.problems)
    assert list(s3.bands.condition.values) == ["barefoot", "wedge"] and "rearfoot_eversion" in s3.spm


def test_study_statistics_names_the_cycles_it_leaves_out():
    from chainlab.stats.study import study_statistics

    m = _study(6, trials=2).assign(side="Left", cycle=0)
    m["trial"] = [f"{s}_{c}_{i // 2}" for i, (s, c) in enumerate(zip(m.subject, m.condition))]
    m.loc[[3, 40], "peak_eversion_deg"] = np.nan
    curves = _curves(m, 0.0)
    curves[5, 0, 50:55] = np.nan  # a cycle with a gap in eversion
    s = study_statistics(m, curves, models=("pelvic_tilt_mean_deg ~ peak_eversion_deg + C(condition) + C(side)",),
                         n_permutations=200)
    res = s.models[0]
    assert res.n_obs == len(m) - 2 and res.random == "(1 | subject/trial)"
    assert res.formula == "pelvic_tilt_mean_deg ~ peak_eversion_deg + C(condition)"  # one side: dropped, and said
    said = "\n".join(s.problems)
    assert "C(side) dropped: one level (Left)" in said
    assert f"2 of {len(m)} rows have NaN" in said and f"({m.trial[3]} Left 0, {m.trial[40]} Left 0)" in said
    assert "bands rearfoot_eversion 'wedge': 1 of" in said and "cycles with gaps left out" in said


def test_a_study_with_bad_input_reports_each_case_and_the_statistics_run_on_the_rest(tmp_path):
    """A trial with no usable events, a cycle with a gap in eversion, a condition with one
    subject and a trial that cannot be read, in the default study: each is in the store with
    its reason, and the models are fitted on the rest."""
    import copy
    import json
    import warnings

    from chainlab.gait.analysis import analyse_trial
    from chainlab.gait.metrics import angle_curves
    from chainlab.io.c3d import read_c3d
    from chainlab.io.study_store import open_study
    from chainlab.kinematics import compute_kinematics
    from chainlab.study import (
        StudyConfig,
        read_sheet,
        run_study,
        store_statistics,
        write_study,
    )

    from .conftest import ROOT

    sheet = read_sheet(ROOT / "config/trials.tsv")
    bad = sheet.iloc[[0]].assign(trial="MISSING01", dynamic="data/no/such/file.c3d")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_study(pd.concat([sheet, bad], ignore_index=True), tmp_path / "trials", ROOT,
                           progress=lambda m: None)
    by = {t.trial: t for t in result.trials}

    def analysed(trial, capture, kin):
        """The trial's view with the gait analysis of `capture` and `kin` (the whole-trial pass)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g = analyse_trial(capture, kin)
        view = copy.copy(by[trial])
        view.events, view.cycles, view.metrics, view.problems = g.events, g.cycles, g.metrics, g.problems
        view.curves = lambda: g.curves.values
        view.angle_curves = lambda joints: angle_curves(kin, g.cycles, joints).values
        n = len(g.metrics)
        for name in ("moment_curves", "power_curves"):  # the file's, where its cycles are these; else none
            kept = getattr(by[trial], name)()
            setattr(view, name, lambda kept=kept: kept if len(kept) == n else np.full((n, *kept.shape[1:]), np.nan))
        return view, g

    def whole(trial):
        row = sheet.set_index("trial").loc[trial]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            capture = read_c3d(ROOT / row.dynamic)
            return capture, compute_kinematics(capture, read_c3d(ROOT / row.static))

    # no usable events: no plates, no C3D events, no heel markers
    capture, kin = whole("HC002D25")
    bare = capture.isel(event=slice(0, 0), plate=slice(0, 0)).drop_sel(marker=["LHEE", "RHEE"])
    by["HC002D25"], _ = analysed("HC002D25", bare, kin)
    # a gap in rearfoot eversion inside the first cycle of HC030A22
    capture, kin = whole("HC030A22")
    first = by["HC030A22"].cycles.iloc[0]
    inside = (kin.time > first.start + 0.1) & (kin.time < first.start + 0.15)
    kin["angles"] = kin.angles.where(~(inside & (kin.output == f"{first.side[0]}HFTBA")))
    by["HC030A22"], _ = analysed("HC030A22", capture, kin)
    # a condition with one subject
    other = copy.copy(by["HC033A10"])
    other.trial, other.condition = "HC033A10x", "Orthosis"
    by["HC033A10x"] = other
    result.trials = list(by.values())

    config = StudyConfig.from_dict({"study": "bad", "trials": "-", "statistics": {"permutations": 200}})
    store = open_study(write_study(result, tmp_path, config))
    st = store.statistics
    problems = json.loads(st.attrs["problems"])
    # the workflow's statistics step says the same
    two = store_statistics(result, tmp_path / "wf" / "study.h5", config)
    assert json.loads(open_study(two).statistics.attrs["problems"]) == problems
    said = "\n".join(problems)
    assert "trial 'MISSING01' left out: failed at read" in said and "cannot open" in said
    assert "trial 'HC002D25' (HC002D, Turn) gave no gait cycle and is left out" in said
    assert "no usable gait events" in said
    assert f"HC030A22 {first.side} 0" in said and "rows have NaN in" in said
    assert "condition 'Orthosis' has 1 subject(s); it is left out of the curve statistics" in said
    # the rest is fitted: every default model, the SPM between the two usable conditions, the bands
    from chainlab.stats.study import DEFAULT_MODELS

    assert sorted(set(st.model.values)) == sorted(DEFAULT_MODELS)
    assert np.isfinite(st.estimate.values).all()
    assert "rearfoot_eversion" in st.spm_variable.values and list(st.band_condition.values) == ["Straight", "Turn"]
    assert "lordosis" in st.spm_variable.values or "SPM lordosis: fewer than 2 subjects" in said  # HC033A's gaps
    assert "MISSING01" in (tmp_path / "failures.tsv").read_text()
    assert "HC002D25" not in set(store.metrics.trial)
