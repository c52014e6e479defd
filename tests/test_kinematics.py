"""Kinematics I: Plug-in Gait, trunk and lumbar against Nexus' outputs, invariances, bad input."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import xarray as xr

from chainlab import read_c3d
from chainlab.errors import ModelInputError
from chainlab.kinematics import KinematicsOptions, KinematicsWarning, compute_kinematics
from chainlab.model import ofm, pig
from chainlab.model.measurements import resolve

from .conftest import SHARED, STUDY

NEXUS_OUTPUTS = pig.OUTPUTS + pig.TRUNK_OUTPUTS


def _trials():
    """(static, dynamic) pairs: the embedded study, and every biomechzoo subject in ../shared."""
    roots = [STUDY] + ([SHARED / "biomechzoo"] if (SHARED / "biomechzoo").is_dir() else [])
    pairs = {}
    for root in roots:
        for subject in sorted(p for p in root.iterdir() if p.is_dir()):
            static = next((subject / "Static").glob("*.c3d"))
            for cond in ("Straight", "Turn"):
                dyn = next((subject / cond).glob("*.c3d"))
                pairs.setdefault(dyn.name, (static, dyn))
    return sorted(pairs.values(), key=lambda p: p[1].name)


@pytest.fixture(scope="module")
def cache():
    return {}


def _kin(cache, static, dynamic, **kw):
    key = (static, dynamic, tuple(sorted(kw.items())))
    if key not in cache:
        cache[key] = compute_kinematics(read_c3d(dynamic), read_c3d(static), KinematicsOptions(**kw))
    return cache[key]


@pytest.mark.parametrize("static, dynamic", _trials(), ids=lambda p: p.name)
def test_angles_equal_nexus(cache, static, dynamic):
    """Plug-in Gait outputs within 0.001 deg RMS of Nexus (bar: 0.5); thorax and spine 0.2.

    Thorax and spine match Nexus to 1e-5 deg on 11 of the 12 biomechzoo trials; on HC036A10
    Nexus' own thorax axes (TRX* points) sit 0.03 deg from the markers' (0.07-0.12 deg in
    the angles), a difference in the stored data we cannot trace (docs/kinematics.md).
    """
    kin = _kin(cache, static, dynamic)
    ref = read_c3d(dynamic).model_outputs
    for name in NEXUS_OUTPUTS:
        ours = kin.angles.sel(output=name).values
        nexus = ref.sel(output=name).values
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(nexus), err_msg=f"{name}: gaps differ")
        rms = np.sqrt(np.nanmean((ours - nexus) ** 2, axis=0))
        bar = 0.2 if name in pig.TRUNK_OUTPUTS else 1e-3
        assert np.all(rms < bar), f"{name}: RMS {rms} deg"


# Oxford Foot Model bars (deg RMS): the 2 deg for HFTBA, FFHFA and TIBA; what the
# current definitions reach elsewhere (docs/kinematics.md explains the remaining differences).
OFM_BARS = {"HFTBA": 1.5, "FFHFA": 1.5, "FFTBA": 0.25, "HXFFA": 0.01, "TIBA": 0.01}


@pytest.mark.parametrize("static, dynamic", _trials(), ids=lambda p: p.name)
def test_oxford_foot_model_against_nexus(cache, static, dynamic):
    kin = _kin(cache, static, dynamic)
    ref = read_c3d(dynamic).model_outputs
    switches = json.loads(kin.attrs["ofm_tiba_switch_frames"])
    assert kin.attrs["ofm_calibration_source"] == "static PROCESSING"
    for s in "LR":
        for short, bar in OFM_BARS.items():
            name = f"{s}{short}"
            ours = kin.angles.sel(output=name).values.copy()
            nexus = ref.sel(output=name).values
            # marker gaps are bridged as Nexus does (REPLACE4): no frame missing that Nexus has
            assert not np.any(np.isnan(ours[:, 0]) & np.isfinite(nexus[:, 0])), f"{name}: frames missing"
            if short == "TIBA":  # Nexus writes one unexplained frame where the facing flips
                ours[np.isin(kin.frame.values, switches.get(name, []))] = np.nan
            rms = np.sqrt(np.nanmean((ours - nexus) ** 2, axis=0))
            assert np.all(rms < bar), f"{name}: RMS {rms} deg"


@pytest.mark.parametrize(
    "static", sorted({p[0] for p in _trials() if not p[0].name.startswith("HC036A")}), ids=lambda p: p.name
)
def test_oxford_foot_model_calibration_equals_nexus(static):
    """%-values from the static markers equal Nexus' (HC036A's stored ones were not made from
    its static file: RMMA differs by 143 mm; docs/kinematics.md)."""
    st = read_c3d(static)
    own = ofm.calibrate({m: st.markers.sel(marker=m).values for m in st.marker.values})
    stored = st.measurements.to_series()
    diff = max(abs(v - stored[k]) for k, v in own.items())
    assert diff < 0.1  # mm


@pytest.mark.parametrize("static, dynamic", _trials(), ids=lambda p: p.name)
def test_static_offsets_computed_from_the_static_trial_equal_nexus(static, dynamic):
    st = read_c3d(static)
    meas, _ = resolve(st)
    for k in [k for k in meas if "Static" in k]:
        del meas[k]
    cal = pig.calibrate({m: st.markers.sel(marker=m).values for m in pig.MARKERS}, meas)
    stored = read_c3d(dynamic).measurements.to_series()
    for s in "LR":
        assert cal.static_plantflex[s] == pytest.approx(stored[f"{s}StaticPlantFlex"], abs=1e-6)
        assert cal.static_rotoff[s] == pytest.approx(stored[f"{s}StaticRotOff"], abs=1e-6)


def test_joint_centres_equal_nexus_bone_origins(cache):
    static, dynamic = _trials()[0]
    kin = _kin(cache, static, dynamic)
    ds = read_c3d(dynamic)
    for s in "LR":
        for ours, theirs in ((f"{s}KJC", f"{s}FEO"), (f"{s}AJC", f"{s}TIO")):
            d = np.linalg.norm(kin.joint_centres.sel(point=ours).values - ds.markers.sel(marker=theirs).values, axis=-1)
            assert np.nanmax(d) < 1e-5  # m


def _transform(ds: xr.Dataset, rot: np.ndarray, shift: np.ndarray, scale_units: bool = False) -> xr.Dataset:
    """The same trial in another lab frame (markers and plates together)."""
    out = ds.copy(deep=True)
    out["markers"] = (ds.markers.dims, ds.markers.values @ rot.T + shift)
    for var in ("plate_force", "plate_moment", "plate_free_moment"):
        out[var] = (ds[var].dims, ds[var].values @ rot.T)
    out["plate_cop"] = (ds.plate_cop.dims, ds.plate_cop.values @ rot.T + shift)
    return out


def _rot_z(deg):
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])


JOINT_OUTPUTS = [f"{s}{n}" for s in "LR" for n in ("HipAngles", "KneeAngles", "AnkleAngles", "SpineAngles",
                                                  "HFTBA", "FFHFA", "FFTBA", "HXFFA")]


@pytest.mark.parametrize("deg", [37.0, 90.0, 180.0, -90.0])
def test_invariant_to_rotating_and_translating_the_lab(deg):
    """Markers and plates moved together; 180 deg is the subject walking the other way."""
    static, dynamic = read_c3d(STUDY / "HC030A/Static/HC030A01.c3d"), read_c3d(STUDY / "HC030A/Straight/HC030A05.c3d")
    shift = np.array([3.2, -1.5, 0.0])
    rot = _rot_z(deg)
    base = compute_kinematics(dynamic, static)
    moved = compute_kinematics(_transform(dynamic, rot, shift), _transform(static, rot, shift))
    # joint angles and the lumbar angles: any rotation about the vertical
    names = JOINT_OUTPUTS + ["LumbarCurvature", "LumbarPelvisAngles"]
    d = np.abs(moved.angles.sel(output=names) - base.angles.sel(output=names)).max().item()
    assert d < 0.01
    # angles relative to the walking direction: Nexus' lab-axis rule is invariant to quarter
    # turns (walking the other way included); "travel" to any rotation
    # (TIBA follows Nexus' travel axis setting, TravelDirectionX, which a quarter turn changes)
    rel = [f"{s}{n}" for s in "LR" for n in ("PelvisAngles", "FootProgressAngles", "ThoraxAngles")]
    if deg % 90 == 0:
        d = np.abs(moved.angles.sel(output=rel) - base.angles.sel(output=rel)).max().item()
        assert d < 0.01
    opt = KinematicsOptions(progression="travel")
    a = compute_kinematics(dynamic, static, opt)
    b = compute_kinematics(_transform(dynamic, rot, shift), _transform(static, rot, shift), opt)
    assert np.abs(a.angles - b.angles).max().item() < 0.01


def test_units_in_metres_or_millimetres_give_the_same_angles(tmp_path):
    """A copy of the trials written with POINT:UNITS m (values / 1000) gives the same angles."""
    import ezc3d

    paths = {}
    for name in ("HC030A/Static/HC030A01.c3d", "HC030A/Straight/HC030A05.c3d"):
        c = ezc3d.c3d(str(STUDY / name))
        c["parameters"]["POINT"]["UNITS"]["value"] = ["m"]
        labels = c["parameters"]["POINT"]["LABELS"]["value"] + c["parameters"]["POINT"]["LABELS2"]["value"]
        outputs = set()
        for group in ("ANGLES", "FORCES", "MOMENTS", "POWERS", "SCALARS"):
            outputs |= set(c["parameters"]["POINT"].get(group, {}).get("value", []))
        pts = c["data"]["points"]
        is_marker = np.array([lab not in outputs for lab in labels])
        pts[:3, is_marker] /= 1000.0
        c["data"]["points"] = pts
        paths[name] = tmp_path / name.replace("/", "_")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c.write(str(paths[name]))
    static_m, dyn_m = (read_c3d(p) for p in paths.values())
    assert static_m.attrs["point_units_in_file"] == "m"
    base = compute_kinematics(read_c3d(STUDY / "HC030A/Straight/HC030A05.c3d"), read_c3d(STUDY / "HC030A/Static/HC030A01.c3d"))
    in_m = compute_kinematics(dyn_m, static_m)
    assert np.abs(in_m.angles - base.angles).max().item() < 0.01


def test_no_static_trial_and_missing_measurements():
    dynamic = read_c3d(STUDY / "HC030A/Straight/HC030A05.c3d")
    with pytest.raises(ModelInputError, match="static trial"):
        compute_kinematics(dynamic, None)
    static = read_c3d(STUDY / "HC030A/Static/HC030A01.c3d")
    for ds in (static, dynamic):
        ds["measurements"] = ds.measurements.where(~ds.measurement.isin(["LKneeWidth", "RAnkleWidth"]), 0.0)
    with pytest.raises(ModelInputError, match="LKneeWidth, RAnkleWidth"):
        compute_kinematics(dynamic, static)
    kin = compute_kinematics(dynamic, static, KinematicsOptions(subject={"LKneeWidth": 102, "RAnkleWidth": 59}))
    assert '"LKneeWidth": "config"' in kin.attrs["measurement_sources"]


def test_markers_missing_for_the_whole_trial_are_listed():
    static = read_c3d(STUDY / "HC030A/Static/HC030A01.c3d")
    dynamic = read_c3d(STUDY / "HC030A/Straight/HC030A05.c3d")
    dynamic["markers"] = dynamic.markers.where(~dynamic.marker.isin(["LTOE", "CLAV"]))
    with pytest.raises(ModelInputError, match="LTOE.*without --strict"):
        compute_kinematics(dynamic, static, KinematicsOptions(partial=False))  # strict
    kin = compute_kinematics(dynamic, static)  # by default the models that cannot run are left out
    assert kin.attrs["partial"] == 1
    assert "LTOE" in kin.attrs["models_left_out"] and "CLAV" in kin.attrs["models_left_out"]
    assert "LHipAngles" not in kin.output.values and "LumbarCurvature" in kin.output.values


def test_gaps_give_nan_angles_and_are_listed():
    static = read_c3d(STUDY / "HC030A/Static/HC030A01.c3d")
    dynamic = read_c3d(STUDY / "HC030A/Straight/HC030A05.c3d")
    gap = slice(40, 46)
    vals = dynamic.markers.values.copy()
    vals[gap, list(dynamic.marker.values).index("LKNE")] = np.nan
    dynamic["markers"] = (dynamic.markers.dims, vals)
    kin = compute_kinematics(dynamic, static)
    f = dynamic.frame.values
    assert f"{f[40]}-{f[45]}" in kin.attrs["gap_frames"] and "LKNE" in kin.attrs["gap_frames"]
    knee = kin.angles.sel(output="LKneeAngles").values
    assert np.all(np.isnan(knee[gap])) and np.all(np.isfinite(knee[50:60]))
    assert np.all(np.isfinite(kin.angles.sel(output="RKneeAngles").values[gap]))


def test_static_from_another_subject_warns():
    other = read_c3d(STUDY / "HC033A/Static/HC033A01.c3d")
    dynamic = read_c3d(STUDY / "HC030A/Straight/HC030A05.c3d")
    with pytest.warns(KinematicsWarning, match="another subject"):
        kin = compute_kinematics(dynamic, other)
    assert any("subject names differ" in w for w in kin.attrs["kinematics_warnings"])


def test_same_subject_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", KinematicsWarning)
        compute_kinematics(read_c3d(STUDY / "HC030A/Turn/HC030A22.c3d"), read_c3d(STUDY / "HC030A/Static/HC030A01.c3d"))


def test_cli_writes_a_file_xarray_opens(tmp_path):
    from chainlab.cli import main

    out = tmp_path / "k.h5"
    rc = main(["kinematics", str(STUDY / "HC033A/Turn/HC033A22.c3d"), "--static",
               str(STUDY / "HC033A/Static/HC033A01.c3d"), "-o", str(out)])
    assert rc == 0
    with xr.open_dataset(out) as ds:
        assert ds.angles.attrs["units"] == "deg"
        assert {"LPelvisAngles", "RFootProgressAngles", "LSpineAngles", "LumbarCurvature"} <= set(ds.output.values)
        assert list(ds.axis.values) == ["x", "y", "z"]
        assert ds.attrs["static_sha256"] and ds.attrs["dynamic_file"] == "HC033A22.c3d"
        assert ds.segment_axes.sel(segment="Pelvis").shape[1:] == (3, 3)
    assert not list(tmp_path.glob(".*tmp"))  # no temporary left behind
    rc = main(["kinematics", str(STUDY / "HC033A/Turn/HC033A22.c3d"), "--static", "missing.c3d", "-o", str(tmp_path / "x.h5")])
    assert rc == 1 and not (tmp_path / "x.h5").exists()


def test_static_offsets_from_config_win():
    static = read_c3d(STUDY / "HC030A/Static/HC030A01.c3d")
    dynamic = read_c3d(STUDY / "HC030A/Straight/HC030A05.c3d")
    base = compute_kinematics(dynamic, static)
    pf = base.attrs["pig_LStaticPlantFlex_rad"] + np.deg2rad(5.0)
    moved = compute_kinematics(dynamic, static, KinematicsOptions(subject={"LStaticPlantFlex": pf}))
    assert moved.attrs["pig_LStaticPlantFlex_rad"] == pf
    d = (moved.angles.sel(output="LAnkleAngles", axis="x") - base.angles.sel(output="LAnkleAngles", axis="x")).values
    np.testing.assert_allclose(d, 5.0, atol=0.2)  # 5 deg more plantar flexion offset
    np.testing.assert_array_equal(moved.angles.sel(output="RAnkleAngles").values, base.angles.sel(output="RAnkleAngles").values)


def test_ofm_calibration_computed_when_not_stored_and_its_markers_named_when_missing():
    static = read_c3d(STUDY / "HC030A/Static/HC030A01.c3d")
    dynamic = read_c3d(STUDY / "HC030A/Straight/HC030A05.c3d")
    for ds in (static, dynamic):
        ds["measurements"] = ds.measurements.where(~ds.measurement.str.startswith("%"))
    kin = compute_kinematics(dynamic, static)
    assert kin.attrs["ofm_calibration_source"] == "computed"
    ref = read_c3d(STUDY / "HC030A/Straight/HC030A05.c3d").model_outputs
    d = kin.angles.sel(output="LHFTBA").values - ref.sel(output="LHFTBA").values
    assert np.all(np.sqrt(np.nanmean(d**2, axis=0)) < 1.5)
    static["markers"] = static.markers.where(static.marker != "LMMA")
    with pytest.raises(ModelInputError, match="lacks LMMA"):
        compute_kinematics(dynamic, static)


@pytest.mark.parametrize("deg", [-100.3, -12.7, 0.5, 45.0, 170.0])
def test_the_chord_with_a_wand_offset_places_the_wand_at_that_angle(deg):
    """Analytic: the joint centre keeps |J - M| = delta and the right angle P-J-M, and the wand
    lies `deg` about J -> P from M (Plug-in Gait's ThighRotation / ShankRotation); 0 is the plain
    chord, in the wand's plane."""
    rng = np.random.default_rng(7)
    n = 50
    lateral = rng.normal(0.0, 0.02, (n, 3)) + [0.05, 0.0, 0.5]
    proximal = rng.normal(0.0, 0.02, (n, 3)) + [0.0, 0.0, 0.9]
    wand = rng.normal(0.0, 0.02, (n, 3)) + [0.10, 0.05, 0.7]
    delta = 0.06
    j = pig.chord(wand, proximal, lateral, delta, np.radians(deg))
    assert np.allclose(np.linalg.norm(j - lateral, axis=-1), delta, atol=1e-12)
    assert np.allclose(np.einsum("ij,ij->i", proximal - j, lateral - j), 0.0, atol=1e-12)
    assert np.allclose(np.degrees(pig.wand_angle(wand, proximal, j, lateral)), deg, atol=1e-7)
    plain = pig.chord(wand, proximal, lateral, delta)
    assert np.allclose(pig.wand_angle(wand, proximal, plain, lateral), 0.0, atol=1e-9)
    near_zero = pig.offset_chord(wand, proximal, lateral, delta, 1e-9)
    assert np.allclose(near_zero, plain, atol=1e-9)
    ajc = pig.ankle_abadd(j, proximal, lateral, np.radians(12.5))
    assert np.allclose(np.linalg.norm(ajc - lateral, axis=-1), delta, atol=1e-12)
    turned = np.einsum("ij,ij->i", pig.unit(j - lateral), pig.unit(ajc - lateral))
    assert np.allclose(np.degrees(np.arccos(turned)), 12.5, atol=1e-6)  # about the ankle marker
    normal = np.cross(proximal - j, lateral - j)
    assert np.allclose(np.einsum("ij,ij->i", normal, ajc - j), 0.0, atol=1e-12)  # in the chord's plane
    opened = np.einsum("ij,ij->i", pig.unit(proximal - ajc), pig.unit(lateral - ajc))
    assert (np.degrees(np.arccos(opened)) > 90.0 + 12.5).all()  # the right angle opens (ktk_walk: 102.61)


def test_a_zero_offset_in_the_static_does_not_hide_the_walks_value():
    """An optional value whose neutral is 0 (an offset, a distance not measured): the static's
    0 (processed before the offsets were set) gives way to the walk's value; a non-zero static
    value still comes first, and a 0 given on the command line wins over both."""
    def trial(**values):
        return xr.Dataset({"measurements": ("measurement", list(values.values()))},
                          coords={"measurement": list(values)})

    base = dict(Bodymass=40.0, LLegLength=800.0, RLegLength=800.0, LKneeWidth=100.0, RKneeWidth=100.0,
                LAnkleWidth=70.0, RAnkleWidth=70.0)
    static = trial(**base, LThighRotation=0.0, RThighRotation=0.2)
    walk = trial(**base, LThighRotation=-1.7, RThighRotation=-1.5)
    meas, origin = resolve(static, walk)
    assert (meas["LThighRotation"], origin["LThighRotation"]) == (-1.7, "dynamic")
    assert (meas["RThighRotation"], origin["RThighRotation"]) == (0.2, "static")
    meas, origin = resolve(static, walk, overrides={"LThighRotation": 0.0})
    assert (meas["LThighRotation"], origin["LThighRotation"]) == (0.0, "config")
    meas, origin = resolve(static, trial(**base))
    assert (meas["LThighRotation"], origin["LThighRotation"]) == (0.0, "static")
