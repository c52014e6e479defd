"""`chainlab query` as a statistician uses it: -o for every format, a notice when nothing
matches, several values per key, spaces, per-cycle angle curves of any joint, near-miss names."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from chainlab.cli import main
from chainlab.io.query import NOTHING_MATCHED, angle_curves_table, parse_where, query
from chainlab.io.study_store import StoreError, open_study
from chainlab.study import build_study

from .conftest import three_subject_config


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    config = three_subject_config(tmp_path_factory.mktemp("study"))
    return build_study(config, tmp_path_factory.mktemp("results"), n_permutations=200, progress=lambda m: None)


def test_where_takes_several_values_spaces_and_repeated_keys():
    assert parse_where(" subject = A | B ,  side=Left, subject=C") == {"subject": ["A", "B", "C"], "side": ["Left"]}
    assert parse_where("") == {}
    with pytest.raises(StoreError, match="expected key=value"):
        parse_where("subject")


def test_several_subjects_in_one_query(store, capsys):
    m = open_study(store).metrics
    assert main(["query", str(store), "--var", "peak_eversion_deg, stride_time_s",
                 "--where", "subject=HC002D|HC033A,  side = Left"]) == 0
    got = pd.read_csv(io.StringIO(capsys.readouterr().out))
    want = m[m.subject.isin(["HC002D", "HC033A"]) & (m.side == "Left")]
    assert list(got.columns) == ["subject", "condition", "trial", "side", "cycle_in_trial",
                                 "peak_eversion_deg", "stride_time_s"]
    assert len(got) == len(want) > 0 and set(got.subject) == {"HC002D", "HC033A"}
    np.testing.assert_allclose(got.peak_eversion_deg, want.peak_eversion_deg)
    # the Python API takes lists as well
    assert len(query(open_study(store), ["peak_eversion_deg"], {"subject": ["HC002D", "HC033A"], "side": "Left"})) \
        == len(want)


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_output_file_for_every_format(store, tmp_path, capsys, fmt):
    out = tmp_path / f"q.{fmt}"
    assert main(["query", str(store), "--var", "lordosis_mean_deg", "--format", fmt, "-o", str(out)]) == 0
    assert capsys.readouterr().out == ""  # written to the file, not to stdout
    read = {"csv": pd.read_csv, "json": lambda p: pd.DataFrame(json.loads(p.read_text())),
            "parquet": pd.read_parquet}[fmt]
    df = read(out)
    assert len(df) == 27 and "lordosis_mean_deg" in df.columns


def test_nothing_matched_says_so_on_stderr(store, tmp_path, capsys):
    # HC002D walked both conditions, but not in trial HC030A05
    out = tmp_path / "none.csv"
    rc = main(["query", str(store), "--var", "peak_eversion_deg", "--where", "subject=HC002D,trial=HC030A05",
               "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == NOTHING_MATCHED == 3
    assert "no row of" in err and "subject=HC002D, trial=HC030A05" in err and str(out) in err
    assert out.read_text().strip() == "subject,condition,trial,side,cycle_in_trial,peak_eversion_deg"


@pytest.mark.parametrize("args, said", [
    (["--var", "peak_eversoin_deg"], "did you mean 'peak_eversion_deg'"),
    (["--var", "rearfoot_eversoin"], "did you mean 'rearfoot_eversion'"),
    (["--var", "peak_eversion_deg", "--where", "subjet=HC002D"], "did you mean 'subject'"),
    (["--var", "peak_eversion_deg", "--where", "subject=HC02D"], "did you mean 'HC002D'"),
    (["--var", "peak_eversion_deg", "--where", "condition=straight"], "did you mean 'Straight'"),
    (["--curves", "KneeAngle"], "did you mean 'KneeAngles'"),
])
def test_near_miss_names_get_a_suggestion(store, capsys, args, said):
    assert main(["query", str(store), *args]) == 1
    assert said in capsys.readouterr().err


def test_joint_curves_as_a_long_table(store, tmp_path, capsys):
    out = tmp_path / "knee.csv"
    assert main(["query", str(store), "--curves", "KneeAngles", "--axis", "x", "--where", "trial=HC030A05|HC033A10",
                 "-o", str(out)]) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == ["subject", "condition", "trial", "side", "cycle", "percent", "value", "units"]
    assert set(df.units) == {"deg"} and set(df.trial) == {"HC030A05", "HC033A10"}
    with xr.open_dataset(store, group="cycles", engine="h5netcdf") as cyc:
        sel = np.isin(cyc.trial.values.astype(str), ["HC030A05", "HC033A10"])
        want = cyc.angle_curves.sel(joint="KneeAngles", axis="x").values[sel]
        sides = cyc.side.values.astype(str)[sel]
    assert len(df) == want.size == 101 * sel.sum()
    np.testing.assert_array_equal(df.value.to_numpy().reshape(want.shape), want)
    assert df.percent.iloc[:101].tolist() == pytest.approx(np.linspace(0, 100, 101))
    assert df.side.iloc[::101].tolist() == sides.tolist()
    # each cycle its own side: a knee flexes 50-70 deg in swing, whichever side
    assert (df.groupby(["trial", "side", "cycle"]).value.max() > 45).all()


def test_joint_curves_axis_and_filters(store):
    s = open_study(store)
    y = angle_curves_table(s, "HFTBA", "y", {"side": ["Left"]})
    with xr.open_dataset(store, group="cycles", engine="h5netcdf") as cyc:
        left = cyc.side.values.astype(str) == "Left"
        eversion = cyc.curves.sel(variable="rearfoot_eversion").values[left]
    # the store's rearfoot eversion is the hindfoot-tibia y angle with eversion positive
    np.testing.assert_allclose(-y.value.to_numpy().reshape(eversion.shape), eversion)
    with pytest.raises(StoreError, match="--axis 'w'"):
        angle_curves_table(s, "HFTBA", "w", {})


def test_usage_mistakes_exit_2(store, capsys):
    assert main(["query", str(store)]) == 2  # neither --var nor --curves
    assert "no variable asked for" in capsys.readouterr().err
    assert main(["query", str(store), "--var", "peak_eversion_deg", "--where", "subject"]) == 2
    assert "expected key=value" in capsys.readouterr().err
    assert main(["query", str(store), "--var", "peak_eversion_deg", "--format", "parquet"]) == 2
    assert "needs -o FILE" in capsys.readouterr().err


def test_kinetic_curves_by_joint_and_by_name(store, tmp_path, capsys):
    out = tmp_path / "moment.csv"
    assert main(["query", str(store), "--curves", "KneeMoment", "--axis", "y", "--where", "trial=HC030A05",
                 "-o", str(out)]) == 0
    df = pd.read_csv(out)
    with xr.open_dataset(store, group="cycles", engine="h5netcdf") as cyc:
        sel = cyc.trial.values.astype(str) == "HC030A05"
        want = cyc.moment_curves.sel(moment_joint="KneeMoment", axis="y").values[sel]
        power = cyc.power_curves.sel(power_joint="AnklePower").values[sel]
    assert set(df.units) == {"N m/kg"} and len(df) == want.size == 101 * sel.sum()
    np.testing.assert_array_equal(df.value.to_numpy().reshape(want.shape), want)
    # the name --var takes, and a power (no axis)
    same = angle_curves_table(open_study(store), "KneeMoment_y", None, {"trial": ["HC030A05"]})
    np.testing.assert_array_equal(same.value.to_numpy(), df.value.to_numpy())
    p = angle_curves_table(open_study(store), "AnklePower", None, {"trial": ["HC030A05"]})
    assert set(p.units) == {"W/kg"}
    np.testing.assert_array_equal(p.value.to_numpy().reshape(power.shape), power)
    assert main(["query", str(store), "--curves", "AnklePower", "--axis", "x"]) == 2
    assert "a power has no axis" in capsys.readouterr().err
    assert main(["query", str(store), "--curves", "KneeMoment_y", "--axis", "x"]) == 2
    assert main(["query", str(store), "--curves", "KneeMomnet"]) == 1
    assert "did you mean 'KneeMoment'" in capsys.readouterr().err
