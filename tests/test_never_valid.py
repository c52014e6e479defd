"""A marker whose label a capture holds but that has no valid frame in the whole trial is
treated as absent, in every chunk alike: SACR then comes from LPSI and RPSI as when its
label is absent, and a model left out names it "never valid"."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import xarray as xr

from chainlab import read_c3d
from chainlab.agreement import equivalent_difference
from chainlab.kinematics import compute_kinematics
from chainlab.options import KinematicsOptions
from chainlab.pipeline import run_kinematics, run_trial
from chainlab.results import TrialResult, TrialRow

from .conftest import SHARED, STUDY

WALK = STUDY / "HC030A" / "Straight" / "HC030A05.c3d"
STATIC = STUDY / "HC030A" / "Static" / "HC030A01.c3d"
FUNCTIONAL_WALK = SHARED / "vendors" / "FunctionalWalk.c3d"
HALF_PSIS_M = 0.05  # the PSIS written 50 mm either side of SACR, along the lab's y axis


def _copy(path, out, sacr: str):
    """HC030A05 with LPSI and RPSI (the head markers LBHD and RBHD relabelled, their
    trajectories SACR -+ 50 mm along y: their mid-point is SACR) and SACR either relabelled
    away (`sacr` "removed") or kept with no valid frame ("emptied")."""
    ezc3d = pytest.importorskip("ezc3d")
    c = ezc3d.c3d(str(path))
    labels = list(c["parameters"]["POINT"]["LABELS"]["value"])
    i, le, ri = labels.index("SACR"), labels.index("LBHD"), labels.index("RBHD")
    pts = c["data"]["points"]  # (4, point, frame), mm
    res = c["data"]["meta_points"]["residuals"]
    side = np.array([0.0, 1000 * HALF_PSIS_M, 0.0])[:, None]
    pts[:3, le] = pts[:3, i] + side
    pts[:3, ri] = pts[:3, i] - side
    res[0, le], res[0, ri] = res[0, i], res[0, i]
    labels[le], labels[ri] = "LPSI", "RPSI"
    if sacr == "removed":
        labels[i] = "XSACR"
    else:
        pts[:3, i] = np.nan
        res[0, i] = -1.0
    c["parameters"]["POINT"]["LABELS"]["value"] = labels
    c["data"]["points"] = pts
    c["data"]["meta_points"]["residuals"] = res
    c.write(str(out))
    return out


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    d = tmp_path_factory.mktemp("sacr")
    return {k: _copy(WALK, d / f"HC030A05_{k}.c3d", k) for k in ("removed", "emptied")}


def test_the_emptied_copy_has_sacr_with_no_valid_frame(copies):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = read_c3d(copies["emptied"])
    assert "SACR" in ds.marker.values and not np.isfinite(ds.markers.sel(marker="SACR").values).any()
    mid = 0.5 * (ds.markers.sel(marker="LPSI") + ds.markers.sel(marker="RPSI"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sacr = read_c3d(WALK).markers.sel(marker="SACR")
    assert float(np.nanmax(np.abs(mid.values - sacr.values))) < 1e-6  # m: the PSIs' mid-point is SACR


def test_sacr_never_valid_gives_the_angles_of_sacr_absent_with_the_reason_named(copies, tmp_path):
    runs = {}
    for k, path in copies.items():
        for chunk in (10_000, 40):  # 40 frames: five chunks, SACR absent from each alike
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                run_kinematics(path, STATIC, tmp_path / f"{k}{chunk}.h5", chunk_frames=chunk, progress=False,
                               kinetics=None)
            runs[k, chunk] = xr.load_dataset(tmp_path / f"{k}{chunk}.h5")
    ref = runs["removed", 10_000]
    assert "pig" in ref.attrs["models"].split(",")
    for key, ds in runs.items():
        assert list(ds.output.values) == list(ref.output.values), key
        np.testing.assert_array_equal(ds.angles.values, ref.angles.values, err_msg=str(key))
    emptied = runs["emptied", 40]
    assert json.loads(emptied.attrs["markers_never_valid"]) == {"HC030A05_emptied.c3d": ["SACR"]}
    assert "HC030A05_emptied.c3d: SACR has no valid frame; sacrum built from LPSI, RPSI" in \
        " ".join(json.loads(emptied.attrs["input_notes"]))
    assert json.loads(ref.attrs["markers_never_valid"]) == {}
    # the same angles as the walk's own SACR, within the float32 rounding of the PSIs written
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        own = compute_kinematics(read_c3d(WALK), read_c3d(STATIC))
    pig = [o for o in ref.output.values if "Lumbar" not in o]
    d = np.abs(own.angles.sel(output=pig).values - ref.angles.sel(output=pig).values)
    assert np.nanmax(d) < 1e-3


def test_in_memory_kinematics_make_the_same_choice(copies, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mem = compute_kinematics(read_c3d(copies["emptied"]), read_c3d(STATIC))
        run_kinematics(copies["emptied"], STATIC, tmp_path / "e.h5", chunk_frames=50, progress=False, kinetics=None)
    on_disk = xr.load_dataset(tmp_path / "e.h5")
    np.testing.assert_array_equal(mem.angles.values, on_disk.angles.values)
    assert mem.attrs["markers_never_valid"] == on_disk.attrs["markers_never_valid"]


def _emptied(tmp_path, names):
    ezc3d = pytest.importorskip("ezc3d")
    c = ezc3d.c3d(str(WALK))
    labels = list(c["parameters"]["POINT"]["LABELS"]["value"])
    pts, res = c["data"]["points"], c["data"]["meta_points"]["residuals"]
    for m in names:
        pts[:3, labels.index(m)], res[0, labels.index(m)] = np.nan, -1.0
    c["data"]["points"], c["data"]["meta_points"]["residuals"] = pts, res
    out = tmp_path / f"no{'_'.join(names)}.c3d"
    c.write(str(out))
    return out


def test_a_model_marker_never_valid_is_named_so_and_the_trial_problems_say_it(tmp_path):
    # C7 and T10 never valid: two thorax markers left, too few to rebuild them; trunk left out
    path = _emptied(tmp_path, ["C7", "T10"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run_trial(TrialRow("HC030A", "Straight", "t", STATIC, path), tmp_path / "t.h5")
    assert isinstance(res, TrialResult)
    left = json.loads(res.models_left_out)
    assert left["trunk"] == f"never valid in {path.name} (label present, no valid frame): C7, T10"
    assert f"{path.name}: C7, T10 have no valid frame in the whole trial: treated as absent" in res.problems
    # C7 alone never valid: rebuilt from the static's thorax, as a C7 never labelled is
    path = _emptied(tmp_path, ["C7"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run_trial(TrialRow("HC030A", "Straight", "c", STATIC, path), tmp_path / "c.h5")
    assert "trunk" not in json.loads(res.models_left_out)
    with xr.open_dataset(tmp_path / "c.h5", group="kinematics") as k:
        assert json.loads(k.attrs["rebuilt_markers"])["C7"].startswith("197 of 197 frames rebuilt")
        assert json.loads(k.attrs["markers_never_valid"]) == {path.name: ["C7"]}


@pytest.mark.skipif(not FUNCTIONAL_WALK.exists(), reason="../shared vendors not present")
def test_functional_walk_runs_plug_in_gait_on_its_psis(tmp_path):
    """Vicon Workstation's FunctionalWalk: SACR labelled, never valid; Workstation built the
    pelvis from the PSIs, and so does chainlab: its stored hip angles are met to 1e-4 deg."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_kinematics(FUNCTIONAL_WALK, None, tmp_path / "fw.h5", KinematicsOptions(models=("pig",)),
                       progress=False, kinetics=None)
        cap = read_c3d(FUNCTIONAL_WALK)
    k = xr.load_dataset(tmp_path / "fw.h5")
    assert k.attrs["models"] == "pig"
    for name in ("LPelvisAngles", "RPelvisAngles", "LHipAngles", "RHipAngles", "LKneeAngles", "RKneeAngles"):
        d = equivalent_difference(k.angles.sel(output=name).values, cap.model_outputs.sel(output=name).values)
        assert np.nanmax(np.abs(d)) < 1e-4, name
    warned = " ".join(k.attrs["kinematics_warnings"])
    assert "outside [-0.8, 0.8] rad" in warned and "used as stored" in warned


def _offsets_times(ds, factor):
    """`ds` with Plug-in Gait's stored foot offsets multiplied by `factor`."""
    out = ds.copy()
    sel = out.measurement.str.contains("StaticPlantFlex|StaticRotOff")
    out["measurements"] = out.measurements.where(~sel, out.measurements * factor)
    return out


def test_foot_offsets_stored_in_degrees_are_computed_from_the_static_and_said_so(hc030a_pair):
    """A static whose PROCESSING holds the foot offsets in degrees (beyond 0.8 rad; nothing in
    a file says which unit): not used, the offsets computed from the static's markers, the same
    angles as when nothing is stored (0: never calibrated)."""
    dyn, static, _ = hc030a_pair
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        deg = compute_kinematics(dyn, _offsets_times(static, 180 / np.pi))
        none = compute_kinematics(_offsets_times(dyn, 0.0), _offsets_times(static, 0.0))
        rad = compute_kinematics(dyn, static)
    assert deg.attrs["pig_static_offsets_source"] == none.attrs["pig_static_offsets_source"] == "computed"
    assert rad.attrs["pig_static_offsets_source"] == "static PROCESSING"
    assert any("outside [-0.8, 0.8] rad" in w and "computed from the static trial" in w
               for w in deg.attrs["kinematics_warnings"])
    np.testing.assert_array_equal(deg.angles.values, none.angles.values)
