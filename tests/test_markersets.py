"""Marker-label mapping at read time (issue #18 item 2): subject prefixes, a lab's labels
mapped to chainlab's, presets and their loader."""

from __future__ import annotations

import json
import warnings

import ezc3d
import numpy as np
import pytest
import xarray as xr

from chainlab import C3DWarning, read_c3d
from chainlab.io.markersets import load_mapping, presets, validate_mapping
from chainlab.pipeline import run_kinematics

from .conftest import STUDY, fixture

WALK = STUDY / "HC030A" / "Straight" / "HC030A05.c3d"
STATIC = STUDY / "HC030A" / "Static" / "HC030A01.c3d"
RENAMED = {"LASI": "L.ASIS", "RASI": "R.ASIS", "LTIB": "LSHA", "RTIB": "RSHA", "LKNE": "L.Knee"}


def _relabel(tmp_path, prefix: str = "HC030A:", renamed: dict[str, str] = RENAMED, name="relabelled.c3d",
             source=WALK):
    """HC030A05 (or `source`) written by ezc3d with `prefix` on every point label and some renamed."""
    c = ezc3d.c3d(str(source))
    point = c["parameters"]["POINT"]
    for key in ("LABELS", "LABELS2"):
        point[key]["value"] = [prefix + renamed.get(lab, lab) for lab in point[key]["value"]]
    path = tmp_path / name
    c.write(str(path))
    return path


@pytest.fixture(scope="module")
def original():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", C3DWarning)
        return read_c3d(WALK)


def test_a_relabelled_capture_read_with_a_mapping_equals_the_original(tmp_path, original):
    path = _relabel(tmp_path)
    mapping = {lab: ours for ours, lab in RENAMED.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", C3DWarning)
        ds = read_c3d(path, markers=mapping)
        plain = read_c3d(path)
    assert list(ds.marker.values) == list(original.marker.values)
    np.testing.assert_array_equal(ds.markers.values, original.markers.values)
    np.testing.assert_array_equal(ds.residuals.values, original.residuals.values)
    assert list(ds.output.values) == list(original.output.values)  # outputs keep their names
    np.testing.assert_array_equal(ds.marker_modeled.values, original.marker_modeled.values)
    # what was applied, and the labels as stored
    applied = json.loads(ds.attrs["marker_mapping"])
    assert applied == {f"HC030A:{lab}": ours for ours, lab in RENAMED.items()}
    in_file = json.loads(ds.attrs["point_labels_in_file"])
    assert "HC030A:L.ASIS" in in_file and "LASI" not in in_file
    assert ds.attrs["marker_prefix"] == "HC030A"
    # without the mapping: the prefix alone is stripped, the lab's names stay
    assert "L.ASIS" in plain.marker.values and "LASI" not in plain.marker.values
    assert "marker_mapping" not in plain.attrs and plain.attrs["marker_prefix"] == "HC030A"
    # the original (no prefix, no mapping) carries neither attribute: its output is unchanged
    assert "point_labels_in_file" not in original.attrs and "marker_mapping" not in original.attrs


def test_a_relabelled_walk_and_static_run_with_a_mapping_file_give_identical_angles(tmp_path):
    """Walk and static written with a `Subject:` prefix and a lab's names (L.ASIS, LSHA, L.Knee
    ...), run through the pipeline with a mapping file: every angle and joint centre equals the
    original capture's, to the bit."""
    walk = _relabel(tmp_path)
    static = _relabel(tmp_path, name="relabelled_static.c3d", source=STATIC)
    (tmp_path / "lab.yaml").write_text("".join(f"{lab}: {ours}\n" for ours, lab in RENAMED.items()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mapped = run_kinematics(walk, static, tmp_path / "mapped.h5", markers=str(tmp_path / "lab.yaml"),
                                kinetics=None)
        plain = run_kinematics(WALK, STATIC, tmp_path / "plain.h5", kinetics=None)
    assert mapped.quality_problems == plain.quality_problems == []
    with xr.open_dataset(tmp_path / "mapped.h5") as a, xr.open_dataset(tmp_path / "plain.h5") as b:
        assert a.angles.size > 0 and list(a.output.values) == list(b.output.values)
        np.testing.assert_array_equal(a.angles.values, b.angles.values)
        np.testing.assert_array_equal(a.joint_centres.values, b.joint_centres.values)
        assert json.loads(a.attrs["marker_mapping"]) == {lab: ours for ours, lab in RENAMED.items()}
        assert "marker_mapping" not in b.attrs or b.attrs["marker_mapping"] == ""


def test_two_labels_mapped_to_one_name_are_warned(tmp_path, original):
    path = _relabel(tmp_path, prefix="", renamed={}, name="same.c3d")
    with pytest.warns(C3DWarning, match=r"labels LASI, RASI all map to 'LASI'"):
        ds = read_c3d(path, markers={"RASI": "LASI"})
    names = list(ds.marker.values)
    assert "LASI_2" in names and "RASI" not in names
    # file order decides: the first of the two keeps the name, the later one is LASI_2
    first, later = sorted(["LASI", "RASI"], key=list(original.marker.values).index)
    np.testing.assert_array_equal(ds.markers.sel(marker="LASI").values, original.markers.sel(marker=first).values)
    np.testing.assert_array_equal(ds.markers.sel(marker="LASI_2").values, original.markers.sel(marker=later).values)


def test_labels_with_different_prefixes_keep_them(tmp_path):
    c = ezc3d.c3d(str(WALK))
    point = c["parameters"]["POINT"]
    point["LABELS"]["value"] = [("A:" if i % 2 else "B:") + lab for i, lab in enumerate(point["LABELS"]["value"])]
    path = tmp_path / "two_subjects.c3d"
    c.write(str(path))
    with pytest.warns(C3DWarning, match=r"2 different subject prefixes \(A, B\); kept"):
        ds = read_c3d(path)
    assert "B:HEDO" in ds.marker.values and "A:HEDA" in ds.marker.values
    assert "marker_prefix" not in ds.attrs or ds.attrs["marker_prefix"] == ""


def test_helen_hayes_preset_on_btk_gait():
    """BTK's Gait.c3d (Helen Hayes labels): VSAC and the shank wands become SACR, xTIB."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", C3DWarning)
        plain = read_c3d(fixture("Gait.c3d"))
        ds = read_c3d(fixture("Gait.c3d"), markers="helen-hayes")
    names = list(ds.marker.values)
    assert {"SACR", "LTIB", "RTIB"} <= set(names) and not {"VSAC", "LSHA", "RSHA"} & set(names)
    np.testing.assert_array_equal(ds.markers.sel(marker="SACR").values, plain.markers.sel(marker="VSAC").values)
    np.testing.assert_array_equal(ds.markers.sel(marker="LTIB").values, plain.markers.sel(marker="LSHA").values)
    assert json.loads(ds.attrs["marker_mapping"])["VSAC"] == "SACR"


def test_presets_load_and_validate():
    assert {"plug-in-gait", "ofm", "helen-hayes"} <= set(presets())
    pig = load_mapping("plug-in-gait")
    assert pig["SACR"] == "SACR" and all(k == v for k, v in pig.items())
    ofm = load_mapping("ofm")
    assert ofm["LHFB"] == "LHFB" and all(k == v for k, v in ofm.items())
    hh = load_mapping("helen-hayes")
    assert hh["VSAC"] == "SACR" and hh["LSHA"] == "LTIB" and hh["V.Sacral"] == "SACR"


def test_a_mapping_file_and_its_errors(tmp_path):
    good = tmp_path / "lab.yaml"
    good.write_text("# our lab\nVSAC: SACR\nL.Knee: LKNE\n")
    assert load_mapping(good) == {"VSAC": "SACR", "L.Knee": "LKNE"}
    assert load_mapping(str(good)) == {"VSAC": "SACR", "L.Knee": "LKNE"}

    with pytest.raises(FileNotFoundError, match="no such preset; presets: .*helen-hayes"):
        load_mapping("helen-hays")
    with pytest.raises(FileNotFoundError, match="missing.yaml: no such file"):
        load_mapping(tmp_path / "missing.yaml")
    cases = {
        "list.yaml": ("- VSAC\n- SACR\n", r"list.yaml: expected a mapping .* found list"),
        "empty.yaml": ("", r"empty.yaml: expected a mapping .* found nothing"),
        "number.yaml": ("VSAC: 12\n", r"number.yaml: key 'VSAC': the name 12 is not a marker label"),
        "colon.yaml": ("'S1:VSAC': SACR\n", r"colon.yaml: key 'S1:VSAC': the label 'S1:VSAC'"),
        "nested.yaml": ("VSAC:\n  a: b\n", r"nested.yaml: key 'VSAC': the name \{'a': 'b'\}"),
        "twice.yaml": ("VSAC: SACR\nVSAC: LPSI\n", r"twice.yaml: not valid YAML .*'VSAC' given twice \(line 2\)"),
        "broken.yaml": ("VSAC: [SACR\n", r"broken.yaml: not valid YAML"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(ValueError, match=message):
            load_mapping(path)
    with pytest.raises(ValueError, match="the markers mapping: key 'VSAC'"):
        read_c3d(WALK, markers={"VSAC": ""})
    assert validate_mapping({"A": "B"}) == {"A": "B"}
