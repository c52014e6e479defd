"""The study store: built from the default study, read with h5py, xarray and R."""

from __future__ import annotations

import dataclasses
import json
import shutil

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from chainlab.io.query import query
from chainlab.io.study_store import StoreError, open_study
from chainlab.study import build_study

from .conftest import ROOT, run_r, three_subject_config


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    config = three_subject_config(tmp_path_factory.mktemp("study"))
    return build_study(config, out, n_permutations=200, progress=lambda m: None)


def test_h5py_alone_sees_the_groups_and_units(store):
    with h5py.File(store, "r") as f:
        assert {"cycles", "metrics", "trials", "statistics", "provenance"} <= set(f.keys())
        assert f["trials/trial"].shape == (6,) and f["trials/frame_count"][()].sum() == f["trials/angles"].shape[0]
        ev = f["metrics/peak_eversion_deg"]
        assert ev.attrs["units"] in (b"deg", "deg") and ev.shape == (27,)
        assert f["cycles/curves"].shape == (27, 5, 101)
        assert f["cycles/curves"].compression == "gzip"


def test_xarray_and_the_python_api(store):
    s = open_study(store)
    assert s.trials == ["HC002D06", "HC002D25", "HC030A05", "HC030A22", "HC033A10", "HC033A22"]
    m = s.metrics
    assert len(m) == s.cycles.sizes["cycle"] == 27
    assert set(m.subject) == {"HC002D", "HC030A", "HC033A"} and set(m.condition) == {"Straight", "Turn"}
    with xr.open_dataset(store, group="cycles", engine="h5netcdf") as cyc:
        eversion = cyc.curves.sel(variable="rearfoot_eversion")
        assert eversion.dims == ("cycle", "percent") and cyc.curves.attrs["units"] == "deg"
        left = cyc.angle_curves.sel(joint="HFTBA", axis="y").where(cyc.side == "Left", drop=True)
        np.testing.assert_allclose(-left.values, eversion.where(cyc.side == "Left", drop=True).values)
    trial = s.trial("HC030A05")
    assert "LPelvisAngles" in trial.output.values and trial.angles.attrs.get("units") == "deg"
    assert trial.sizes["event"] >= 4
    prov = s.provenance
    assert prov.sizes["input"] == 9 and len(prov.input_sha256.values[0]) == 64
    used = json.loads(prov.attrs["config"])  # the settings that made the store, defaults filled in
    assert used["statistics"]["permutations"] == 200 and used["kinematics"]["solver"] == "direct"
    assert set(used) == {"kinematics", "gait", "kinetics", "markers", "measures", "statistics", "tests"}


def test_query(store):
    s = open_study(store)
    df = query(s, ["peak_eversion_deg", "pelvic_tilt_mean_deg"], {"subject": "HC030A", "side": "Left"})
    assert len(df) == 5 and set(df.side) == {"Left"}
    long = query(s, ["rearfoot_eversion"], {"trial": "HC030A05"})
    assert len(long) == 2 * 101 and set(long.variable) == {"rearfoot_eversion"}
    with pytest.raises(StoreError, match="separate queries"):
        query(s, ["peak_eversion_deg", "rearfoot_eversion"], {})
    with pytest.raises(StoreError, match="unknown variable.*peak_eversion_deg"):
        query(s, ["nope"], {})
    with pytest.raises(StoreError, match="no subject 'XX'.*HC002D"):
        query(s, ["peak_eversion_deg"], {"subject": "XX"})
    with pytest.raises(StoreError, match="no trial 'X'"):
        s.trial("X")


def test_the_kinetics_are_in_the_store_with_units(store, capsys):
    """The default study's plates give kinetic measures where a stance is on one plate alone,
    NaN with the reason elsewhere; curves with units; the query takes both."""
    s = open_study(store)
    m = s.metrics
    kam = m.peak_knee_adduction_moment_1_Nm_kg
    has = kam.notna()
    assert has.sum() == 12 and (m.kinetics_reason[has] == "").all()
    assert (m.kinetics_reason[~has] == "stance not on one force plate alone (no kinetics in stance)").all()
    assert 0.05 < kam.min() and kam.max() < 1.0  # N m/kg: an adult's knee adduction moment
    assert m.peak_ankle_power_A2_W_kg[has].between(1.0, 6.0).all()
    with h5py.File(store, "r") as f:
        for col, units in (("peak_knee_adduction_moment_1_Nm_kg", "N m/kg"), ("peak_ankle_power_A2_W_kg", "W/kg"),
                           ("ankle_work_stance_J_kg", "J/kg"), ("kinetics_reason", "1")):
            got = f[f"metrics/{col}"].attrs["units"]
            assert (got.decode() if isinstance(got, bytes) else got) == units, col
        assert f["cycles/moment_curves"].shape == (27, 3, 3, 101) and f["cycles/power_curves"].shape == (27, 3, 101)
    cyc = s.cycles
    assert cyc.moment_curves.attrs["units"] == "N m/kg" and cyc.power_curves.attrs["units"] == "W/kg"
    df = query(s, ["peak_knee_adduction_moment_1_Nm_kg"], {"trial": "HC030A05"})
    np.testing.assert_allclose(df.peak_knee_adduction_moment_1_Nm_kg, [0.144676, 0.130354], atol=1e-6)
    long = query(s, ["KneeMoment_y", "AnklePower"], {"trial": "HC030A05", "side": "Left"})
    assert len(long) == 2 * 101 and set(long.units) == {"N m/kg", "W/kg"}
    knee = long[long.variable == "KneeMoment_y"].value.to_numpy()
    np.testing.assert_allclose(knee, cyc.moment_curves.sel(moment_joint="KneeMoment", axis="y").values[8])
    with pytest.raises(StoreError, match="KneeMoment_y"):
        query(s, ["KneeMoment_q"], {})
    from chainlab.cli import main

    capsys.readouterr()
    assert main(["query", str(store), "--var", "peak_knee_adduction_moment_1_Nm_kg", "--where", "trial=HC030A05"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(",peak_knee_adduction_moment_1_Nm_kg") and lines[1].startswith("HC030A,Straight,HC030A05,Left,0,0.1446")
    one = s.trial("HC030A05")
    assert one.contact_status.values.tolist() == ["accepted", "accepted"] and one.trial_kinetics_absent.item() == ""
    st = s.statistics
    assert "peak_knee_adduction_moment_1_Nm_kg ~ peak_eversion_deg + C(condition) + C(side)" in st.model.values


def test_two_builds_hold_identical_arrays(store, tmp_path):
    again = build_study(three_subject_config(tmp_path / "study"), tmp_path, n_permutations=200, progress=lambda m: None)
    with h5py.File(store, "r") as a, h5py.File(again, "r") as b:
        names = []
        a.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
        assert len(names) > 50
        for name in names:
            x, y = a[name][()], b[name][()]
            if isinstance(x, np.ndarray) and x.dtype.kind == "f":
                np.testing.assert_array_equal(x, y, err_msg=name)
            else:
                assert np.array_equal(x, y), name


def test_truncated_or_foreign_files_give_clear_errors(store, tmp_path):
    cut = tmp_path / "cut.h5"
    cut.write_bytes(store.read_bytes()[:5000])
    with pytest.raises(StoreError, match="not a readable HDF5 study store"):
        open_study(cut)
    other = tmp_path / "other.h5"
    xr.Dataset({"a": ("x", [1.0])}).to_netcdf(other, engine="h5netcdf")
    with pytest.raises(StoreError, match="not a chainlab study store"):
        open_study(other)


R_SCRIPT = """
library(ncdf4)
nc <- nc_open("{path}")
ev <- ncvar_get(nc, "metrics/peak_eversion_deg")
subject <- ncvar_get(nc, "metrics/subject")
curves <- ncvar_get(nc, "cycles/curves")   # R's order: percent x variable x cycle
vars <- ncvar_get(nc, "cycles/variable")
cat(sprintf("%.10f", ev), sep = "\\n")
cat("--\\n")
cat(subject, sep = "\\n")
cat("--\\n")
cat(sprintf("%.10f", curves[, which(vars == "rearfoot_eversion"), 1]), sep = "\\n")
cat("--\\n")
kam <- ncvar_get(nc, "metrics/peak_knee_adduction_moment_1_Nm_kg")
cat(sprintf("%.10f", kam), sep = "\\n")
cat(ncatt_get(nc, "metrics/peak_knee_adduction_moment_1_Nm_kg", "units")$value, "\\n")
cat("--\\n")
moments <- ncvar_get(nc, "cycles/moment_curves")  # percent x axis x moment_joint x cycle
joints <- ncvar_get(nc, "cycles/moment_joint")
cat(sprintf("%.10f", moments[, 2, which(joints == "KneeMoment"), 9]), sep = "\\n")
nc_close(nc)
"""


def test_r_reads_the_documented_query(store):
    ev, subjects, curve, kam, knee = (part.split() for part in run_r(R_SCRIPT.format(path=store)).split("--\n"))
    s = open_study(store)
    np.testing.assert_allclose(np.array(ev, float), s.metrics.peak_eversion_deg.values, atol=1e-8)
    assert subjects == list(s.metrics.subject)
    np.testing.assert_allclose(np.array(curve, float), s.cycles.curves.sel(variable="rearfoot_eversion").values[0],
                               atol=1e-8)
    assert kam[-2:] == ["N", "m/kg"]  # NA for the cycles without kinetics
    np.testing.assert_allclose(np.array([np.nan if v == "NA" else float(v) for v in kam[:-2]]),
                               s.metrics.peak_knee_adduction_moment_1_Nm_kg.values, atol=1e-8)
    np.testing.assert_allclose(np.array(knee, float),
                               s.cycles.moment_curves.sel(moment_joint="KneeMoment", axis="y").values[8], atol=1e-8)


def _config(tmp_path, rows):
    import pandas as pd

    sheet = pd.read_csv(ROOT / "config" / "trials.tsv", sep="\t")
    sheet = sheet.iloc[rows].copy()
    for col in ("static", "dynamic"):
        sheet[col] = [str((ROOT / "config" / p).resolve()) for p in sheet[col]]  # sheet-relative paths
    (tmp_path / "config").mkdir(exist_ok=True)
    sheet.to_csv(tmp_path / "config" / "trials.tsv", sep="\t", index=False)
    cfg = tmp_path / "config" / "config.yaml"
    cfg.write_text("study: part\ntrials: config/trials.tsv\n")
    return cfg


def test_rebuilt_from_trial_outputs_and_adding_a_trial_computes_only_it(store, tmp_path):
    out = tmp_path / "results"
    messages = []
    first = build_study(_config(tmp_path, list(range(5))), out, n_permutations=200, progress=messages.append)
    kept = {p.name: p.stat().st_mtime_ns for p in (out / "part" / "trials").iterdir()}
    assert len(kept) == 5 and not any("up to date" in m for m in messages)
    messages.clear()
    build_study(_config(tmp_path, list(range(6))), out, n_permutations=200, progress=messages.append)
    assert sum("up to date" in m for m in messages) == 5
    now = {p.name: p.stat().st_mtime_ns for p in (out / "part" / "trials").iterdir()}
    assert len(now) == 6 and all(now[k] == v for k, v in kept.items())
    # the store assembled from saved trial outputs equals the one computed in one go
    with h5py.File(store, "r") as a, h5py.File(first.parent / "study.h5", "r") as b:
        np.testing.assert_array_equal(a["cycles/curves"][()], b["cycles/curves"][()])
        np.testing.assert_array_equal(a["metrics/peak_eversion_deg"][()], b["metrics/peak_eversion_deg"][()])


def test_a_trial_file_of_other_outputs_is_computed_again(tmp_path):
    """A trial file written by a chainlab whose outputs differ (its outputs_version) is not
    reused although its inputs and settings are the same: its numbers may be stale."""
    import hashlib

    from chainlab.schema import OUTPUTS_VERSION

    out = tmp_path / "results"
    build_study(_config(tmp_path, [0, 1]), out, n_permutations=50, progress=lambda m: None)
    trials = sorted((out / "part" / "trials").glob("*.h5"))
    with h5py.File(trials[0], "r") as f:
        assert f.attrs["outputs_version"] == OUTPUTS_VERSION
    with h5py.File(trials[0], "a") as f:  # as an earlier chainlab wrote it
        f.attrs["outputs_version"] = OUTPUTS_VERSION - 1
    record = out / "part" / "checksums" / "study_trials.sha256"  # and recorded as intact
    digest = hashlib.sha256(trials[0].read_bytes()).hexdigest()
    record.write_text("".join(f"{digest}  {line.split('  ', 1)[1]}\n" if trials[0].name in line else line + "\n"
                              for line in record.read_text().splitlines()))
    messages = []
    build_study(_config(tmp_path, [0, 1]), out, n_permutations=50, progress=messages.append)
    said = [m for m in messages if m.startswith("[")]
    assert [("up to date" in m) for m in said] == [trials[0].stem not in m for m in said]
    assert sum("up to date" in m for m in said) == 1
    with h5py.File(trials[0], "r") as f:
        assert f.attrs["outputs_version"] == OUTPUTS_VERSION


def test_cli_query_formats(store, tmp_path, capsys):
    import json

    import pandas as pd

    from chainlab.cli import main

    assert main(["query", str(store), "--var", "peak_eversion_deg", "--where", "subject=HC030A,side=Left"]) == 0
    csv = capsys.readouterr().out
    assert csv.splitlines()[0] == "subject,condition,trial,side,cycle_in_trial,peak_eversion_deg"
    assert len(csv.splitlines()) == 6
    assert main(["query", str(store), "--var", "pelvic_tilt", "--where", "trial=HC030A05", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 202 and rows[0]["variable"] == "pelvic_tilt"
    out = tmp_path / "q.parquet"
    assert main(["query", str(store), "--var", "lordosis_mean_deg", "--format", "parquet", "-o", str(out)]) == 0
    assert len(pd.read_parquet(out)) == 27
    assert main(["query", str(store), "--var", "nope"]) == 1
    assert "unknown variable" in capsys.readouterr().err


def test_every_data_variable_has_units_and_a_long_name(store):
    missing = []
    for group in ("cycles", "metrics", "trials", "statistics", "provenance", "subjects"):
        with xr.open_dataset(store, group=group, engine="h5netcdf") as ds:
            missing += [f"{group}/{k}" for k, v in ds.data_vars.items()
                        if "units" not in v.attrs or "long_name" not in v.attrs]
    assert not missing, missing


def test_the_store_from_trial_file_views_equals_the_one_pass_store(store, tmp_path):
    """`chainlab store`'s way in (trial outputs opened as views, time series read while
    writing) gives the arrays of the one-pass build, from the same trials."""
    from chainlab.study import open_trial_files, store_tables

    paths = sorted((store.parent / "trials").glob("*.h5"))
    views = open_trial_files(paths)
    assert len(views.trials) == len(paths) == 6
    messages = []
    out = store_tables(views, tmp_path / "tables.h5", progress=messages.append)
    assert "/trials/angles: 6/6 trials" in messages
    with h5py.File(store, "r") as a, h5py.File(out, "r") as b:
        for name in ("cycles/curves", "cycles/angle_curves", "trials/angles", "trials/frame", "trials/time",
                     "trials/plate_vertical_force", "trials/analog_time", "trials/marker_residual_mean",
                     "metrics/peak_eversion_deg", "metrics/pelvic_tilt_mean_deg"):
            assert a[name].dtype == b[name].dtype, name
            np.testing.assert_array_equal(a[name][()], b[name][()], err_msg=name)


def test_a_bad_trial_output_is_named_and_leaves_no_store(store, tmp_path):
    from chainlab.io.trial_file import open_trial_file
    from chainlab.study import StudyRun, store_tables

    src = min((store.parent / "trials").glob("*.h5"))
    for removed in ("kinematics/angles", "curves/variable"):
        bad = tmp_path / f"no_{removed.replace('/', '_')}.h5"
        shutil.copyfile(src, bad)
        with h5py.File(bad, "a") as f:
            del f[removed]
        with pytest.raises(ValueError, match=rf"{bad.name}: not a complete chainlab trial output .*{removed.split('/')[1]}"):
            open_trial_file(bad)
    # arrays that disagree with the tables are caught while writing, naming the file
    view = open_trial_file(src)
    view.angles = lambda: np.zeros((3, len(view.outputs), 3))
    target = tmp_path / "out" / "tables.h5"
    # whichever reader dask runs first names it: the angles' shape check, or the angle curves' read
    with pytest.raises(ValueError, match=rf"{src.name}: /(trials/angles|cycles/angle_curves) of trial '{view.trial}'.*\b3\b"):
        store_tables(StudyRun(trials=[view]), target)
    assert not target.exists() and not list(target.parent.glob("*.tmp"))


def test_bootstrap_band_equals_the_resampled_nanmeans():
    """The band from per-group sums is the one of 2,000 explicit resamples (same draws)."""
    from chainlab.stats.bands import bootstrap_band

    def explicit(y, n_boot=2000, seed=0, groups=None, alpha=0.05):
        rng = np.random.default_rng(seed)
        mean = np.nanmean(y, axis=0)
        if groups is None:
            idx = rng.integers(0, len(y), size=(n_boot, len(y)))
            boots = np.stack([np.nanmean(y[i], axis=0) for i in idx])
        else:
            labels = np.unique(groups)
            members = [np.flatnonzero(groups == g) for g in labels]
            pick = rng.integers(0, len(labels), size=(n_boot, len(labels)))
            boots = np.stack([np.nanmean(y[np.concatenate([members[k] for k in p])], axis=0) for p in pick])
        sd = boots.std(axis=0, ddof=1)
        c = float(np.quantile(np.nanmax(np.abs(boots - mean) / sd, axis=1), 1 - alpha))
        return mean, mean - c * sd, mean + c * sd

    rng = np.random.default_rng(3)
    y = rng.normal(size=(120, 101)) + np.sin(np.linspace(0, 6, 101))
    y[4, 10:30] = np.nan
    y[9] = np.nan
    groups = np.repeat(np.arange(12), 10)
    for g in (None, groups):
        for a, b in zip(bootstrap_band(y, groups=g, seed=5), explicit(y, groups=g, seed=5)):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- subjects, spatiotemporal (issue #16)

SUBJECTS = ["HC002D", "HC030A", "HC033A"]


def test_subjects_one_row_each_with_the_standing_chain_of_its_static(store):
    """/subjects: one row per subject, the standing chain equal to the models run on its
    static trial (mean LPelvisAngles x, PROCESSING LegLength), units per column."""
    import warnings

    from chainlab import read_c3d
    from chainlab.kinematics import KinematicsOptions, compute_kinematics

    sub = open_study(store).subjects
    assert list(sub.subject) == SUBJECTS
    assert sub.attrs["units"]["pelvic_tilt_deg"] == "deg" and sub.attrs["units"]["arch_height_index_L_pct"] \
        == "% of foot length" and sub.attrs["units"]["symmetry_index_step_length_pct"] == "%"
    row = sub.set_index("subject").loc["HC030A"]
    static = read_c3d(ROOT / "data" / "biomechzoo" / "HC030A" / "Static" / "HC030A01.c3d")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kin = compute_kinematics(static, static, KinematicsOptions(partial=True))
    tilt = float(np.nanmean(kin.angles.sel(output="LPelvisAngles").values[:, 0]))
    assert row.pelvic_tilt_deg == pytest.approx(tilt, abs=1e-9)
    stored = dict(zip(static.measurement.values.astype(str), static.measurements.values))
    assert row.leg_length_processing_L_mm == stored["LLegLength"] and row.leg_length_processing_R_mm == stored["RLegLength"]
    assert row.leg_length_difference_processing_mm == stored["LLegLength"] - stored["RLegLength"]
    assert row.rearfoot_to_floor_deg == pytest.approx(0.5 * (row.rearfoot_to_floor_L_deg + row.rearfoot_to_floor_R_deg))
    assert 10 < row.arch_height_index_L_pct < 30 and row.standing_problem == ""


def test_subjects_symmetry_indices_from_their_cycles(store):
    """SI = 100 (L - R) / (0.5 (|L| + |R|)) of the subject's side means over its cycles."""
    s = open_study(store)
    m, sub = s.metrics, s.subjects.set_index("subject")
    for subject in SUBJECTS:
        g = m[m.subject == subject]
        for name, col in (("peak_eversion", "peak_eversion_deg"), ("step_length", "step_length_m")):
            left, right = g[g.side == "Left"][col].mean(), g[g.side == "Right"][col].mean()
            expected = 100 * (left - right) / (0.5 * (abs(left) + abs(right)))
            assert sub.loc[subject, f"symmetry_index_{name}_pct"] == pytest.approx(expected, rel=1e-12)
        assert sub.loc[subject, "cycles_left"] + sub.loc[subject, "cycles_right"] == len(g)


def test_standing_questions_are_least_squares_across_the_subjects(store):
    """/statistics standing_*: the slope of numpy's least squares line through the three
    subjects' rows, n = 3; a predictor equal for every subject is skipped and says so."""
    s = open_study(store)
    st, sub = s.statistics, s.subjects
    assert st.sizes["standing_row"] == 6 and set(st.standing_n.values) == {3}
    for r, p, b, sk in zip(st.standing_response.values, st.standing_predictor.values, st.standing_slope.values,
                           st.standing_skipped.values):
        x, y = sub[str(p)].to_numpy(float), sub[str(r)].to_numpy(float)
        if np.ptp(x) == 0:
            assert "same for every subject" in str(sk) and np.isnan(b)
        else:
            assert str(sk) == "" and b == pytest.approx(np.polyfit(x, y, 1)[0], rel=1e-9)
    assert st.standing_slope.attrs["units"] and st.standing_n.attrs["units"] == "1"


def test_spatiotemporal_columns_in_the_store(store):
    """The spatiotemporal columns, with units; cadence is 120 / stride time, stance + swing
    is the cycle, single + double support is the stance."""
    s = open_study(store)
    m = s.metrics
    for c in ("cadence_steps_per_min", "stride_length_m", "step_length_m", "step_width_m", "swing_pct",
              "single_support_pct", "double_support_pct", "foot_progression_deg"):
        assert np.isfinite(m[c]).all(), c
    np.testing.assert_allclose(m.cadence_steps_per_min, 120.0 / m.stride_time_s, rtol=1e-6)  # times at the capture's precision
    np.testing.assert_allclose(m.stance_pct + m.swing_pct, 100.0)
    np.testing.assert_allclose(m.single_support_pct + m.double_support_pct, m.stance_pct, atol=1e-9)
    with h5py.File(store, "r") as f:
        units = {c: f[f"metrics/{c}"].attrs["units"] for c in ("cadence_steps_per_min", "step_width_m",
                                                              "walking_speed_m_s")}
    assert {k: v.decode() if isinstance(v, bytes) else v for k, v in units.items()} \
        == {"cadence_steps_per_min": "min-1", "step_width_m": "m", "walking_speed_m_s": "m s-1"}


def test_cli_query_spatiotemporal_and_subjects(store, capsys):
    from chainlab.cli import main

    assert main(["query", str(store), "--var", "cadence_steps_per_min,step_width_m"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "subject,condition,trial,side,cycle_in_trial,cadence_steps_per_min,step_width_m"
    assert len(lines) == 28
    assert main(["query", str(store), "--table", "subjects", "--var", "pelvic_tilt_deg,leg_length_difference_markers_mm",
                 "--where", "subject=HC030A"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "subject,pelvic_tilt_deg,leg_length_difference_markers_mm" and len(lines) == 2
    assert lines[1].startswith("HC030A,")
    assert main(["query", str(store), "--table", "subjects", "--var", "nope"]) == 1
    assert "unknown subjects column" in capsys.readouterr().err
    # the same --where and --format as the other tables: several subjects, parquet
    out = store.parent / "subjects.parquet"
    assert main(["query", str(store), "--table", "subjects", "--var", "pelvic_tilt_deg", "--where",
                 "subject=HC030A|HC002D", "--format", "parquet", "-o", str(out)]) == 0
    assert sorted(pd.read_parquet(out).subject) == ["HC002D", "HC030A"]


def test_arch_in_the_store_per_cycle_and_per_subject(store, capsys):
    """The OFM arch reaches the store and the query: per cycle the side's ArchHeightIndex over
    stance (mean, lowest; % of foot length) equal to Nexus' stored index over the same stance
    (within 1e-3: chainlab's index is Nexus' to 1e-5); per subject the static's index (mean
    of the static frames) within 0.15 of Nexus' (measured 0.11) and its height in mm."""
    from chainlab import read_c3d
    from chainlab.cli import main
    from chainlab.gait.cycles import normalise

    s = open_study(store)
    m = s.metrics
    cols = ["arch_height_index_stance_mean_pct", "arch_height_index_stance_min_pct"]
    assert np.isfinite(m[cols].to_numpy()).all() and (m[cols[1]] <= m[cols[0]]).all()
    with h5py.File(store, "r") as f:
        assert all(f[f"metrics/{c}"].attrs["units"] in ("%", b"%") for c in cols)
    one = m[m.trial.astype(str).str.contains("HC030A05")]
    assert len(one) == 2
    capture = read_c3d(ROOT / "data" / "biomechzoo" / "HC030A" / "Straight" / "HC030A05.c3d")
    for row in one.itertuples():
        nexus = capture.model_outputs.sel(output=f"{row.side[0]}ArchHeightIndex").values[:, 2]
        stance = normalise(capture.time.values, nexus, row.start_s, row.end_s)[:int(round(row.stance_pct)) + 1]
        assert row.arch_height_index_stance_mean_pct == pytest.approx(stance.mean(), abs=1e-3)
        assert row.arch_height_index_stance_min_pct == pytest.approx(stance.min(), abs=1e-3)
    sub = s.subjects.set_index("subject")
    assert sub.attrs["units"]["arch_height_L_mm"] == "mm"
    for subject in SUBJECTS:
        static = read_c3d(next((ROOT / "data" / "biomechzoo" / subject / "Static").glob("*.c3d")))
        for side in "LR":
            nexus = float(np.nanmean(static.model_outputs.sel(output=f"{side}ArchHeightIndex").values[:, 2]))
            assert sub.loc[subject, f"arch_height_index_{side}_pct"] == pytest.approx(nexus, abs=0.15)
            assert 5 < sub.loc[subject, f"arch_height_{side}_mm"] < 80
    assert main(["query", str(store), "--var", ",".join(cols), "--where", "subject=HC030A"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(",".join(cols)) and len(lines) > 1
    assert main(["query", str(store), "--table", "subjects", "--var", "arch_height_index_L_pct,arch_height_R_mm"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1 + len(SUBJECTS)


R_SUBJECTS = """
library(ncdf4)
nc <- nc_open("{path}")
cat(ncvar_get(nc, "subjects/subject"), sep = "\\n")
cat("--\\n")
cat(sprintf("%.10f", ncvar_get(nc, "subjects/pelvic_tilt_deg")), sep = "\\n")
cat("--\\n")
cat(ncatt_get(nc, "subjects/arch_height_index_L_pct", "units")$value, "\\n")
nc_close(nc)
"""


def test_r_reads_the_subjects(store):
    names, tilt, units = (part.split("\n") for part in run_r(R_SUBJECTS.format(path=store)).split("--\n"))
    sub = open_study(store).subjects
    assert [n for n in names if n] == list(sub.subject)
    np.testing.assert_allclose(np.array([t for t in tilt if t], float), sub.pelvic_tilt_deg.values, atol=1e-8)
    assert units[0].strip() == "% of foot length"


def test_the_store_is_the_file_xarray_writes(store, tmp_path, monkeypatch):
    """The store written in one pass with h5py (chainlab.io._netcdf, the time series a trial at
    a time) is the file xarray's writer makes of the same groups: every object, its order,
    chunks, compression, values and attributes (but _NCProperties), statistics included."""
    from datetime import datetime

    from chainlab.config import StudyConfig
    from chainlab.io import study_store
    from chainlab.study import open_trial_files, write_study

    from .test_trial_file_writer import differences

    class Fixed(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 1, 1, tzinfo=tz)

    monkeypatch.setattr(study_store, "datetime", Fixed)
    config = StudyConfig.load(three_subject_config(tmp_path / "study"))
    config = dataclasses.replace(config, statistics={**config.statistics, "permutations": 200})
    run = open_trial_files(sorted((store.parent / "trials").glob("*.h5")))
    fast = write_study(run, tmp_path / "fast", config)
    monkeypatch.setattr(study_store, "write_groups", lambda *a, **k: False)
    slow = write_study(run, tmp_path / "xarray", config)
    with h5py.File(fast, "r") as f, h5py.File(slow, "r") as s:
        assert "chainlab=" in f.attrs["_NCProperties"].decode() and "chainlab=" not in s.attrs["_NCProperties"].decode()
        assert f["statistics"]["spm_t"].size and f["trials/angles"].size
    assert differences(slow, fast) == []


def test_a_study_opens_each_group_once_and_hands_out_copies(store, monkeypatch):
    opened = []
    real = xr.open_dataset

    def counting(*args, **kwargs):
        opened.append(kwargs.get("group"))
        return real(*args, **kwargs)

    monkeypatch.setattr(xr, "open_dataset", counting)
    study = open_study(store)
    first = study.metrics
    first["stride_time_s"] = -1.0
    mine = study.cycles
    mine.attrs["changed"] = 1
    mine["curves"] = mine["curves"] * 0
    assert (study.metrics["stride_time_s"] > 0).all()
    again = study.cycles
    assert "changed" not in again.attrs and float(np.nanmax(np.abs(again["curves"].values))) > 1.0
    study.trial(study.trials[0])
    study.trial(study.trials[-1])
    assert opened.count("metrics") == opened.count("cycles") == opened.count("trials") == 1
