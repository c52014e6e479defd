"""The standing chain from a static trial: against Nexus' static outputs, and analytic cases."""

from __future__ import annotations

import numpy as np
import pytest

from chainlab import read_c3d
from chainlab.kinematics import compute_kinematics
from chainlab.model.standing import UNITS, standing_posture

from .conftest import SHARED, STUDY

_ROOTS = [STUDY] + ([SHARED / "biomechzoo"] if (SHARED / "biomechzoo").is_dir() else [])
STATICS = sorted({p.name: p for root in reversed(_ROOTS) for p in root.glob("*/Static/*.c3d")}.values())


@pytest.fixture(scope="module")
def cache():
    return {}


def _run(cache, path):
    if path not in cache:
        st = read_c3d(path)
        cache[path] = (st, compute_kinematics(st, st))
    return cache[path]


@pytest.mark.parametrize("path", STATICS, ids=lambda p: p.name)
def test_standing_chain_against_nexus_static_outputs(cache, path):
    st, kin = _run(cache, path)
    row = standing_posture(st, kin)
    assert list(row) == list(UNITS)
    nexus = st.model_outputs
    assert row["pelvic_tilt_deg"] == pytest.approx(float(np.nanmean(nexus.sel(output="LPelvisAngles").values[:, 0])), abs=1e-3)
    assert row["pelvic_obliquity_deg"] == pytest.approx(float(np.nanmean(nexus.sel(output="LPelvisAngles").values[:, 1])), abs=1e-3)
    for s in "LR":
        assert row[f"knee_flexion_{s}_deg"] == pytest.approx(float(np.nanmean(nexus.sel(output=f"{s}KneeAngles").values[:, 0])), abs=1e-3)
        assert row[f"hip_adduction_{s}_deg"] == pytest.approx(float(np.nanmean(nexus.sel(output=f"{s}HipAngles").values[:, 1])), abs=1e-3)
        # static HFTFL 0.19 deg RMS at worst, ArchHeightIndex 0.11 (test_ofm_posture)
        assert row[f"rearfoot_to_floor_{s}_deg"] == pytest.approx(float(np.nanmean(nexus.sel(output=f"{s}HFTFL").values[:, 1])), abs=0.25)
        assert row[f"arch_height_index_{s}_pct"] == pytest.approx(float(np.nanmean(nexus.sel(output=f"{s}ArchHeightIndex").values[:, 2])), abs=0.15)
        leg = st.measurements.sel(measurement=f"{s}LegLength").item()
        assert row[f"leg_length_processing_{s}_mm"] == leg
        # ASIS to medial malleolus (marker centres) is within 6 % of the tape-measured leg length
        assert abs(row[f"leg_length_markers_{s}_mm"] / leg - 1) < 0.06
    assert row["leg_length_difference_markers_mm"] == pytest.approx(row["leg_length_markers_L_mm"] - row["leg_length_markers_R_mm"])
    assert row["static_frames"] == st.sizes["frame"]


def test_a_longer_left_leg_and_missing_markers(cache):
    st, kin = _run(cache, STATICS[0])
    base = standing_posture(st, kin)
    moved = st.copy(deep=True)
    asis = moved.markers.sel(marker="LASI").values
    mma = moved.markers.sel(marker="LMMA").values
    along = (mma - asis) / np.linalg.norm(mma - asis, axis=1, keepdims=True)
    i = list(moved.marker.values).index("LMMA")
    moved.markers.values[:, i] = mma + 0.012 * along  # the malleolus 12 mm further from the ASIS
    row = standing_posture(moved, kin)
    assert row["leg_length_markers_L_mm"] - base["leg_length_markers_L_mm"] == pytest.approx(12.0, abs=1e-6)
    assert row["leg_length_difference_markers_mm"] - base["leg_length_difference_markers_mm"] == pytest.approx(12.0, abs=1e-6)
    # without the OFM and the lumbar outputs: NaN there, the rest stays
    lean = kin.sel(output=[o for o in kin.output.values if o not in ("LumbarCurvature",)],
                   segment=[s for s in kin.segment.values if "Hindfoot" not in s])
    row = standing_posture(st.drop_sel(marker=["RMMA"]), lean)
    assert np.isnan(row["lumbar_curvature_deg"]) and np.isnan(row["arch_height_index_L_pct"])
    assert np.isnan(row["leg_length_markers_R_mm"]) and np.isfinite(row["leg_length_markers_L_mm"])
    assert row["pelvic_tilt_deg"] == base["pelvic_tilt_deg"]


# --------------------------------------------------------------------------- between subjects


def test_standing_questions_on_known_lines():
    """OLS across subjects: an exact line gives its slope and intercept with a zero-width
    interval; a known noisy case equals statsmodels' OLS (slope, its CI, p); below 3
    subjects, or with a constant predictor, the question is skipped and says why."""
    import pandas as pd
    import statsmodels.api as sm

    from chainlab.stats.standing import QUESTIONS, standing_regressions

    x = np.array([5.0, 8.0, 12.0, 20.0])
    exact = pd.DataFrame({"pelvic_tilt_deg": 2.0 * x + 1.0, "rearfoot_to_floor_deg": x})
    row = standing_regressions(exact, [("pelvic_tilt_deg", "rearfoot_to_floor_deg")]).iloc[0]
    assert row.n == 4 and row.skipped == ""
    assert row.slope == pytest.approx(2.0) and row.intercept == pytest.approx(1.0)
    assert row.ci_high - row.ci_low == pytest.approx(0.0, abs=1e-9)
    y = np.array([20.0, 23.5, 21.0, 27.0, 25.5])
    x5 = np.array([4.0, 9.0, 6.0, 15.0, 11.0])
    noisy = pd.DataFrame({"pelvic_tilt_deg": y, "rearfoot_to_floor_deg": x5})
    row = standing_regressions(noisy, [("pelvic_tilt_deg", "rearfoot_to_floor_deg")]).iloc[0]
    fit = sm.OLS(y, sm.add_constant(x5)).fit()
    assert row.slope == pytest.approx(fit.params[1]) and row.p == pytest.approx(fit.pvalues[1])
    assert (row.ci_low, row.ci_high) == pytest.approx(tuple(fit.conf_int()[1]))
    assert row.r2 == pytest.approx(fit.rsquared)
    two = noisy.iloc[:2]
    row = standing_regressions(two, [("pelvic_tilt_deg", "rearfoot_to_floor_deg")]).iloc[0]
    assert row.n == 2 and "at least 3" in row.skipped and np.isnan(row.slope)
    flat = noisy.assign(rearfoot_to_floor_deg=1.0)
    assert "same for every subject" in standing_regressions(flat, [("pelvic_tilt_deg", "rearfoot_to_floor_deg")]).skipped[0]
    everything = standing_regressions(None)
    assert len(everything) == len(QUESTIONS) and everything.skipped.str.contains("no").all()


def test_symmetry_index():
    from chainlab.subjects import symmetry_index

    assert symmetry_index(11.0, 9.0) == pytest.approx(20.0)
    assert symmetry_index(-2.0, 2.0) == pytest.approx(-200.0)  # magnitudes in the denominator
    assert np.isnan(symmetry_index(0.0, 0.0)) and np.isnan(symmetry_index(np.nan, 1.0))
