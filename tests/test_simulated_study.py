"""The chain measured on a simulated study whose effects are known (issue #5's acceptance).

8 subjects x 2 conditions x 3 trials of 3 cycles, noise-free markers (marker noise in the
predictor, peak eversion, attenuates any regression slope: errors in variables, see
docs/gait.md), through the whole study path (direct models, events from the plates, cycles,
per-cycle metrics) and the study statistics with their default models: the 95 % confidence
intervals must contain the effects the study was built with. The rates at which these
intervals miss, and at which the tests reject without coupling, over many seeded studies:
``bench/null_rate.py`` (bench/RESULTS.md). Three trials, not five: five take 110 s here on a
loaded 2-core machine (seed 2024 with five trials: every interval holds its truth but the
femur-referenced transfer's, 0.6852 [0.6804, 0.6899] for 0.68, see docs/gait.md).
"""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest
import xarray as xr

from chainlab.gait.cycles import normalise
from chainlab.simulate import Condition, SimulationOptions, simulate_study
from chainlab.stats.study import DEFAULT_MODELS, study_statistics
from chainlab.study import curves_table, metrics_table, run_study, trial_summaries

from .conftest import ROOT

STATIC = ROOT / "data/biomechzoo/HC030A/Static/HC030A01.c3d"
WALK = ROOT / "data/biomechzoo/HC030A/Straight/HC030A05.c3d"
TRUTH = {"transfer": 0.68, "tilt": 0.5, "lordosis": 0.3}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("simstudy")
    opt = SimulationOptions(subjects=8, conditions=(Condition("control"), Condition("wedge", 3.0, 1.0)), trials=3,
                            cycles=3, noise_mm=0.0, transfer=TRUTH["transfer"], pelvic_tilt_per_deg=TRUTH["tilt"],
                            lordosis_per_deg=TRUTH["lordosis"], seed=2024)
    # trials=3: see the module docstring
    sheet = simulate_study(STATIC, WALK, out, opt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_study(sheet, out / "trials", out, progress=lambda msg: None)
    assert not result.failures, result.failures
    metrics, curves = metrics_table(result.trials), curves_table(result.trials)
    stats = study_statistics(metrics, curves, n_permutations=200, trials=trial_summaries(result), failures=[])
    return out, metrics, stats


def test_every_simulated_cycle_is_measured(study):
    _, metrics, stats = study
    # 3 cycles per trial and side minus the edges: at least 2 complete cycles per side
    per_trial = metrics.groupby(["trial", "side"]).size()
    assert len(per_trial) == 8 * 2 * 3 * 2 and per_trial.min() >= 2
    # nothing left out; the simulator writes no body mass, so the kinetic model is skipped, by name
    kinetic = [p for p in stats.problems if "peak_knee_adduction_moment_1_Nm_kg" in p]
    assert [p for p in stats.problems if p not in kinetic] == []
    assert len(kinetic) == 1 and "skipped: the study has no kinetic measures (no kinetics: " in kinetic[0]
    assert "missing or not positive: Bodymass" in kinetic[0]


def test_the_measures_move_exactly_as_the_simulator_built_them(study):
    """The coefficient's definition and the measure agree cycle by cycle: per cycle, the mean
    pelvic tilt minus the cycle mean of the tilt the simulator added (0.5 x the trial's change
    of peak eversion + the cycle-to-cycle noise) is one constant, and the peak eversion minus
    the trial's built-in change of peak eversion is one constant per side."""
    out, metrics, _ = study
    drawn = pd.DataFrame(json.loads((out / "truth.json").read_text())["trials"]).set_index("trial")
    added = []
    for (subject, trial), cycles in metrics.groupby(["subject", "trial"], sort=False):
        with xr.open_dataset(out / subject / f"{trial}.truth.h5") as t:
            time, tilt = t.time.values, t.pelvic_tilt_offset.values
        added += [(i, normalise(time, tilt, r.start_s, r.end_s).mean()) for i, r in cycles.iterrows()]
    added = pd.Series(dict(added)).loc[metrics.index]
    tilt_rest = metrics.pelvic_tilt_mean_deg - added
    ev_rest = metrics.peak_eversion_deg - drawn.loc[metrics.trial, "peak_eversion_change_deg"].to_numpy()
    assert tilt_rest.std() < 0.01
    assert ev_rest.groupby(metrics.side).std().max() < 0.05


@pytest.mark.parametrize("formula,term,truth", [
    (DEFAULT_MODELS[0], "peak_eversion_deg", TRUTH["tilt"]),
    (DEFAULT_MODELS[1], "peak_eversion_deg", TRUTH["lordosis"]),
    (DEFAULT_MODELS[3], "eversion_excursion_deg", TRUTH["transfer"]),  # the simulator's definition: tibia/femur
    # (not the lab tibia, DEFAULT_MODELS[2]: not a coordinate of the simulator, it moves 0.683-0.689
    # per degree, docs/gait.md; its interval held 0.68 in 18 of 20 studies)
    (DEFAULT_MODELS[0], "C(condition)[T.wedge]", 0.0),  # the wedge acts through the eversion only
    (DEFAULT_MODELS[1], "C(condition)[T.wedge]", 0.0),
])
def test_the_study_statistics_intervals_contain_the_built_in_effects(study, formula, term, truth):
    _, _, stats = study
    res = next(m for m in stats.models if m.formula == formula)
    assert res.random == "(1 | subject/trial)" and res.n_groups == 8 and res.n_nested == 48
    row = res.table.set_index("term").loc[term]
    assert row.ci_low <= truth <= row.ci_high, (formula, term, row.ci_low, row.estimate, row.ci_high)
    if term != "C(condition)[T.wedge]":
        assert row.ci_high - row.ci_low < 0.2  # and say something: the interval is not vacuous


@pytest.mark.slow
def test_without_coupling_the_tests_rarely_reject_on_simulated_studies():
    """10 small simulated studies (4 subjects x 2 identical conditions x 2 trials) with no
    coupling, through bench/null_rate.py's path: the pelvic-tilt and lordosis slopes, every
    condition effect and each variable's SPM reject in at most 3 of 10 (a loose bound:
    P(>= 4 of 10) = 0.001 at the nominal 5 %; the rates over 100 larger studies are in
    bench/RESULTS.md). The tibial excursions on eversion excursion are not null in the
    measured variables (~0.005-0.01 deg/deg without any transfer: the peak-eversion sample
    that ends both excursions, and subject size, docs/gait.md): their slopes only stay
    small."""
    import argparse
    import importlib.util

    from chainlab.simulate import load_template

    spec = importlib.util.spec_from_file_location("null_rate", ROOT / "bench" / "null_rate.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    args = argparse.Namespace(subjects=4, trials=2, cycles=3, noise_mm=0.0, permutations=200, alpha=0.05,
                              coupled=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        template = load_template(STATIC, WALK)
    records = [bench.one_study(seed, args, template) for seed in range(500, 510)]
    terms = pd.DataFrame([t for r in records for t in r["terms"]])
    assert len(terms) == 10 * 8 and (terms.truth == 0).all()
    tibial = terms.response.str.startswith("tibial") & (terms.term == "eversion_excursion_deg")
    assert terms[~tibial].groupby(["response", "term"]).rejected.sum().max() <= 3
    assert terms[tibial].estimate.abs().max() < 0.1
    spm = pd.DataFrame([r["spm"] for r in records])
    assert spm.shape == (10, 5) and spm.sum().max() <= 3
