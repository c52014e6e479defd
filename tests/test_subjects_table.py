"""A study's subjects table (config key ``subjects``): the measurements a capture lacks or
stores wrongly, given per subject, reach that subject's trials as ``chainlab kinematics
--subject`` gives them; known answers from the captures themselves."""

from __future__ import annotations

import json
import math
import warnings

import h5py
import numpy as np
import pytest
import xarray as xr

from chainlab import read_c3d
from chainlab.cli import main
from chainlab.io.trial_file import open_trial_file
from chainlab.model.measurements import from_dataset

from .conftest import SHARED, STUDY

FUNCTIONAL_WALK = SHARED / "vendors" / "FunctionalWalk.c3d"
WALK = STUDY / "HC030A" / "Straight" / "HC030A05.c3d"
STATIC = STUDY / "HC030A" / "Static" / "HC030A01.c3d"
#: Vicon Workstation 5.2.9 stored FunctionalWalk's foot offsets in degrees (12.7, 12.9 ...)
OFFSETS = ("LStaticPlantFlex", "RStaticPlantFlex", "LStaticRotOff", "RStaticRotOff")


def _study(d, rows, table: str | None, models="[pig]"):
    """A study folder: config/config.yaml, config/trials.tsv (`rows`), config/subjects.tsv (`table`)."""
    (d / "config").mkdir(parents=True, exist_ok=True)
    (d / "config" / "trials.tsv").write_text("subject\tcondition\ttrial\tstatic\tdynamic\n"
                                             + "".join("\t".join(map(str, r)) + "\n" for r in rows))
    text = f"study: s\ntrials: config/trials.tsv\nkinematics:\n  models: {models}\nstatistics:\n  permutations: 100\n"
    if table is not None:
        (d / "config" / "subjects.tsv").write_text(table)
        text += "subjects: config/subjects.tsv\n"
    (d / "config" / "config.yaml").write_text(text)
    return d / "config" / "config.yaml"


@pytest.mark.skipif(not FUNCTIONAL_WALK.exists(), reason="../shared vendors not present")
def test_offsets_stored_in_degrees_corrected_by_the_table_as_by_subject(tmp_path, capsys):
    """FunctionalWalk (no static; its stored calibration, offsets in degrees): the table giving
    the four offsets in radians makes `chainlab study` compute the angles `chainlab kinematics
    --subject` computes with them, and those meet Workstation's own ankle and foot progression
    angles (stored in the capture) within 1e-5 deg; without the table they are degrees off."""
    stored = from_dataset(read_c3d(FUNCTIONAL_WALK))
    rad = {n: math.radians(stored[n]) for n in OFFSETS}
    table = "subject\t" + "\t".join(OFFSETS) + "\nFW\t" + "\t".join(repr(rad[n]) for n in OFFSETS) + "\n"
    config = _study(tmp_path / "study", [("FW", "walk", "FW01", "", FUNCTIONAL_WALK)], table)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["study", str(config), "--out", str(tmp_path / "results")]) == 0
        args = [x for n in OFFSETS for x in ("--subject", f"{n}={rad[n]!r}")]
        assert main(["kinematics", str(FUNCTIONAL_WALK), "--models", "pig", "-o", str(tmp_path / "k.h5"), *args]) == 0
        assert main(["kinematics", str(FUNCTIONAL_WALK), "--models", "pig", "-o", str(tmp_path / "raw.h5")]) == 0
        cap = read_c3d(FUNCTIONAL_WALK)
    trial = tmp_path / "results" / "s" / "trials" / "FW01.h5"
    with xr.open_dataset(trial, group="kinematics") as t, xr.open_dataset(tmp_path / "k.h5") as k, \
            xr.open_dataset(tmp_path / "raw.h5") as raw:
        np.testing.assert_array_equal(t.angles.values, k.angles.values)
        assert t.attrs["pig_static_offsets_source"] == k.attrs["pig_static_offsets_source"] == "config"
        for name in ("LAnkleAngles", "RAnkleAngles", "LFootProgressAngles", "RFootProgressAngles"):
            nexus = cap.model_outputs.sel(output=name).values
            assert np.nanmax(np.abs(t.angles.sel(output=name).values - nexus)) < 1e-5, name
            assert np.nanmax(np.abs(raw.angles.sel(output=name).values - nexus)) > 1.0, name  # as stored: off
    with h5py.File(trial) as f:
        assert json.loads(f.attrs["subject_measurements"]) == rad


def _without_bodymass(src, dst):
    """A copy of the capture `src` whose PROCESSING group has no Bodymass."""
    ezc3d = pytest.importorskip("ezc3d")
    c = ezc3d.c3d(str(src))
    del c["parameters"]["PROCESSING"]["Bodymass"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c.write(str(dst))
    return dst


def test_body_mass_given_by_the_table_gives_the_kinetics_of_the_original_capture(tmp_path, capsys):
    """HC030A05 and its static with Bodymass removed: no kinetics, saying so; with the table
    giving the body mass the original capture stores, `chainlab trials --subjects` computes the
    original's kinetics exactly, and the trial records the value and its origin (config)."""
    _without_bodymass(WALK, tmp_path / "walk.c3d")
    _without_bodymass(STATIC, tmp_path / "static.c3d")
    mass = from_dataset(read_c3d(WALK))["Bodymass"]
    assert "Bodymass" not in from_dataset(read_c3d(tmp_path / "walk.c3d"))
    sheet = tmp_path / "trials.tsv"
    sheet.write_text("subject\tcondition\ttrial\tstatic\tdynamic\n"
                     "HC030A\tStraight\tORIGINAL\t" f"{STATIC}\t{WALK}\n"
                     "HC030A\tStraight\tNOMASS\tstatic.c3d\twalk.c3d\n")
    table = tmp_path / "subjects.tsv"
    table.write_text(f"# body mass in kg, as Nexus stores it\nsubject\tBodymass\tHeight\nHC030A\t{mass!r}\t\n")
    settings = '{"kinematics": {"models": ["pig"]}}'
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["trials", "--sheet", str(sheet), "--only", "NOMASS", "--settings", settings,
                     "--out-dir", str(tmp_path / "none")]) == 0
        assert main(["trials", "--sheet", str(sheet), "--subjects", str(table), "--settings", settings,
                     "--out-dir", str(tmp_path / "given")]) == 0
    assert "Bodymass" in open_trial_file(tmp_path / "none" / "NOMASS.h5").kinetics_absent
    given = open_trial_file(tmp_path / "given" / "NOMASS.h5")
    assert given.kinetics_absent == "" and given.subject_measurements == {"Bodymass": mass}
    with xr.open_dataset(tmp_path / "given" / "NOMASS.h5", group="kinetics") as a, \
            xr.open_dataset(tmp_path / "given" / "ORIGINAL.h5", group="kinetics") as b:
        assert np.isfinite(a.moments.values).any()
        for v in ("moments", "joint_forces", "powers"):
            np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)
    with xr.open_dataset(tmp_path / "given" / "NOMASS.h5", group="kinematics") as k:
        assert json.loads(k.attrs["measurement_sources"])["Bodymass"] == "config"


def test_chainlab_study_recomputes_the_trials_whose_subject_row_changed(tmp_path):
    """Two subjects; the table's row of one is edited: `chainlab study` computes that subject's
    trial again and keeps the other's (up to date); a subject only in the table is warned of."""
    rows = [("HC030A", "Straight", "A05", STATIC, WALK),
            ("HC033A", "Straight", "B10", STUDY / "HC033A/Static/HC033A01.c3d", STUDY / "HC033A/Straight/HC033A10.c3d")]
    config = _study(tmp_path / "study", rows, "subject\tBodymass\nHC030A\t46\nHC033A\t60\nNOBODY\t70\n")
    said: list[str] = []
    from chainlab.study import build_study

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_study(config, tmp_path / "results", progress=said.append)
        assert any("subject(s) NOBODY not in the sample sheet" in s for s in said), said
        (config.parent / "subjects.tsv").write_text("subject\tBodymass\nHC030A\t46\nHC033A\t61.5\n")
        said.clear()
        build_study(config, tmp_path / "results", progress=said.append)
    assert "[1/2] A05: up to date" in said and "[2/2] B10" in said, said
    assert open_trial_file(tmp_path / "results" / "s" / "trials" / "B10.h5").subject_measurements == {"Bodymass": 61.5}
    for trial, mass in (("A05", 46.0), ("B10", 61.5)):  # the mass the kinetics used, HC033A10's from the table
        with xr.open_dataset(tmp_path / "results" / "s" / "trials" / f"{trial}.h5", group="kinetics") as k:
            assert k.attrs["body_mass_kg"] == mass and k.moments.attrs["units"] == "N m/kg"
