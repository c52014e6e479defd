"""read_c3d against ezc3d, against twin files in other formats, and against known values."""

from __future__ import annotations

import struct

import ezc3d
import numpy as np
import pytest

import chainlab
from chainlab import C3DError, read_c3d

from .conftest import fixture, shared_vendor_files

ALL_FIXTURES = sorted(p for p in fixture("").iterdir() if p.suffix.lower() in (".c3d", ".txt"))
MUST_FAIL = {
    "BTKData-Copyright.txt",
    "c3dorg_sample10_README.TXT",
    "c3dorg_sample15_readme.txt",
    "c3dorg_sample28_readme.txt",
    "c3dorg_sample18_bad_parameter_section.c3d",  # a record runs past its section
}
# ezc3d 1.7.2 itself reads a description length >= 128 as negative: gigabytes and tens of
# seconds on this file, so the comparison with it is skipped (chainlab keeps it from ezc3d)
EZC3D_UNSAFE = {"c3dorg_sample22_BKINtechnologies.c3d"}


def _ezc3d_labels(c):
    point = c["parameters"]["POINT"]
    labels = list(point["LABELS"]["value"])
    for k in range(2, 10):
        if f"LABELS{k}" not in point:
            break
        labels += list(point[f"LABELS{k}"]["value"])
    return labels


def _ezc3d_points_by_label(c):
    return _ezc3d_labels(c), c["data"]["points"][:3].transpose(2, 1, 0)


def _ours_by_label(ds, labels_file_order):
    """Markers (file units) and outputs, back in the file's point order."""
    to_unit = {"mm": 1e3, "m": 1.0, "cm": 1e2}[ds.attrs["point_units_in_file"]]
    mk = {m: i for i, m in enumerate(ds.marker.values)}
    out = {o: i for i, o in enumerate(ds.output.values)}
    cols = []
    for lab in labels_file_order:
        name = lab.rsplit(":", 1)[-1].strip()
        if name in mk:
            cols.append(ds.markers.values[:, mk[name]] * to_unit)
        else:
            cols.append(ds.model_outputs.values[:, out[name]])
    return np.stack(cols, axis=1)


def test_walk_matches_ezc3d_values_and_units(walk, walk_path):
    c = ezc3d.c3d(str(walk_path))
    labels, ez = _ezc3d_points_by_label(c)
    ours = _ours_by_label(walk, labels)
    both = np.isfinite(ours)
    assert both.mean() > 0.5
    np.testing.assert_allclose(ours[both], ez[both], rtol=0, atol=1e-9)
    # invalid samples (negative residual in the file) are NaN, not ezc3d's zeros or values
    res = c["data"]["meta_points"]["residuals"][0].T
    assert np.all(np.isnan(ours[res < 0]))
    # markers are in metres: the pelvis markers of a walking child are 0.6-1.0 m high
    z = walk.markers.sel(marker=["LASI", "RASI"], axis="z")
    assert 0.6 < float(z.mean()) < 1.0
    assert walk.markers.attrs["units"] == "m"
    np.testing.assert_allclose(
        walk.analogs.values, c["data"]["analogs"][0].T, rtol=0, atol=1e-9
    )


def test_model_outputs_are_kept_apart_with_kind_and_units(walk):
    assert "LPelvisAngles" not in walk.marker.values
    assert "LASI" not in walk.output.values
    kinds = dict(zip(walk.output.values, walk.output_kind.values))
    units = dict(zip(walk.output.values, walk.output_units.values))
    assert kinds["LPelvisAngles"] == "angle" and units["LPelvisAngles"] == "deg"
    assert kinds["LHFTBA"] == "angle"
    assert kinds["LHipMoment"] == "moment" and units["LHipMoment"] == "Nmm"
    assert kinds["LHipPower"] == "power" and units["LHipPower"] == "W"
    assert kinds["LGroundReactionForce"] == "force"
    # pelvic tilt of a walking child: anterior, within a few tens of degrees
    tilt = walk.model_outputs.sel(output="LPelvisAngles", axis="x").values
    assert 0 < np.nanmean(tilt) < 30


def test_attrs_measurements_and_events(walk, walk_path):
    a = walk.attrs
    assert a["point_rate"] == 100.0 and a["analog_rate"] == 1000.0
    assert a["manufacturer"] == "Vicon" and a["software"] == "Vicon Nexus"
    assert a["subject"] == "HC030A"
    assert a["source_sha256"] == chainlab.io.c3d.sha256_file(walk_path)
    assert a["source_sha256"].startswith("c75ba86a1c2abbe5")  # ../shared MANIFEST.tsv
    m = walk.measurements.to_series()
    assert m["Bodymass"] == pytest.approx(45.8, abs=1e-4)
    assert m["LLegLength"] == 830.0
    units = dict(zip(walk.measurement.values, walk.measurement_units.values))
    assert units["Bodymass"] == "kg" and units["LLegLength"] == "mm"
    # events: sorted, frame = round(time * rate) + 1 on the same clock as the frames
    t = walk.event_time.values
    assert np.all(np.diff(t) >= 0) and len(t) == 8
    np.testing.assert_array_equal(walk.event_frame.values, np.rint(t * 100).astype(int) + 1)
    assert set(walk.event_side.values) == {"Left", "Right"}
    assert set(walk.event_label.values) == {"Foot Strike", "Foot Off"}
    f0, f1 = walk.frame.values[[0, -1]]
    assert np.all((walk.event_frame.values >= f0) & (walk.event_frame.values <= f1))
    np.testing.assert_allclose(walk.time.values, (walk.frame.values - 1) / 100.0)


@pytest.mark.parametrize("path", ALL_FIXTURES + shared_vendor_files(), ids=lambda p: p.name)
def test_every_vendor_file_matches_ezc3d_or_raises_c3derror(path):
    """Every C3D file loads with ezc3d's values (where ezc3d reads it); the text files and the
    corrupted sample18 raise C3DError, with the file and reason on one line."""
    if path.name in MUST_FAIL:
        with pytest.raises(C3DError) as info:
            read_c3d(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)
        return
    ds = read_c3d(path)
    if path.name in EZC3D_UNSAFE:
        return
    try:
        c = ezc3d.c3d(str(path))
    except Exception:
        return  # ezc3d cannot read it: the twin tests check these
    if c["data"]["points"].shape[1] and c["data"]["points"].shape[2] != ds.sizes["frame"]:
        pytest.fail("frame count differs from ezc3d's")
    if ds.sizes["channel"] and c["data"]["analogs"].shape[1] == 0:
        return  # ezc3d misreads files with ANALOG:RATE = 0 (see test_analog_rate_zero)
    n_points = c["data"]["points"].shape[1]
    if n_points == 0:
        return  # ezc3d reads no points without a parameter section (PhaseSpace sample20)
    # the reader's own names in file order (subject prefixes cut, duplicates and empty labels
    # renamed), so files with duplicate or missing labels are compared point by point too
    import warnings

    from chainlab.io.c3d import _labels, _Structure

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        st = _Structure(path)
        names = _labels(st, "POINT", st.n_points, "point")
    assert len(names) == n_points
    ours = _ours_by_label(ds, names)
    ez = c["data"]["points"][:3].transpose(2, 1, 0)
    ok = np.isfinite(ours)
    assert ok.any()
    np.testing.assert_allclose(ours[ok], ez[ok], rtol=1e-12, atol=1e-6)
    an = c["data"]["analogs"]
    if an.size and an[0].shape[0] == ds.sizes["channel"]:
        np.testing.assert_allclose(ds.analogs.values, an[0].T, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize(
    "other, intel",
    [
        ("c3dorg_sample01_Eb015si.c3d", "c3dorg_sample01_Eb015pi.c3d"),  # SGI integer
        ("c3dorg_sample01_Eb015sr.c3d", "c3dorg_sample01_Eb015pr.c3d"),  # SGI float
        ("c3dorg_sample02_sgi_int.c3d", "c3dorg_sample02_pc_int.c3d"),
        ("c3dorg_sample02_sgi_real.c3d", "c3dorg_sample02_pc_real.c3d"),
        ("c3dorg_sample01_Eb015vr.c3d", "c3dorg_sample01_Eb015pr.c3d"),  # DEC float
        ("c3dorg_sample02_Dec_real.c3d", "c3dorg_sample02_pc_real.c3d"),
    ],
)
def test_sgi_and_dec_files_equal_their_intel_twins(other, intel):
    a, b = read_c3d(fixture(other)), read_c3d(fixture(intel))
    assert a.attrs["processor"] in ("mips", "dec") and b.attrs["processor"] == "intel"
    assert list(a.marker.values) == list(b.marker.values)
    for var in ("markers", "residuals", "analogs", "plate_force", "plate_cop", "plate_moment"):
        np.testing.assert_array_equal(a[var].values, b[var].values, err_msg=var)
    assert a.attrs["point_rate"] == b.attrs["point_rate"]


def test_integer_and_float_storage_agree():
    a = read_c3d(fixture("c3dorg_sample01_Eb015pi.c3d"))
    b = read_c3d(fixture("c3dorg_sample01_Eb015pr.c3d"))
    assert (a.attrs["storage"], b.attrs["storage"]) == ("integer", "float")
    np.testing.assert_allclose(a.markers.values, b.markers.values, atol=1e-6, equal_nan=True)


def test_analog_scaling_from_raw_words():
    """(raw - OFFSET) * SCALE * GEN_SCALE, recomputed from the file's bytes."""
    path = fixture("c3dorg_sample10_TYPE-2.C3D")
    ds = read_c3d(path)
    raw = path.read_bytes()
    c = ezc3d.c3d(str(path))
    p = c["parameters"]
    n_points = p["POINT"]["USED"]["value"][0]
    data_start = (struct.unpack("<H", raw[16:18])[0] - 1) * 512
    words = np.frombuffer(raw, "<i2", offset=data_start, count=10 * (4 * n_points + 6 * 20))
    frame0 = words[: 4 * n_points + 6 * 20]
    first_sample = frame0[4 * n_points : 4 * n_points + 6].astype(float)
    scale = p["ANALOG"]["SCALE"]["value"]
    offset = p["ANALOG"]["OFFSET"]["value"]
    gen = p["ANALOG"]["GEN_SCALE"]["value"][0]
    assert np.any(offset != 0) and np.any(scale != 1)
    np.testing.assert_allclose(ds.analogs.values[0], (first_sample - offset) * scale * gen)


def test_analog_rate_zero_reads_with_the_header_ratio():
    """ANALOG:RATE = 0: the header's samples-per-frame decide (ezc3d 1.7.2 misaligns these)."""
    ds = read_c3d(fixture("c3dorg_sample28_type1.C3D"))
    assert ds.attrs["analog_rate"] == ds.attrs["point_rate"] == 100.0
    assert ds.sizes["channel"] == 6 and ds.plate_type.values.tolist() == [1]
    # markers move smoothly (misaligned reads jump by metres): median step 1.6 mm at 100 Hz
    jumps = np.abs(np.diff(ds.markers.values, axis=0))
    assert np.nanmedian(jumps) < 0.005 and np.nanmax(jumps) < 0.2
    # this lab's vertical is y: the plate carries a body weight along it
    assert np.nanmax(np.abs(ds.plate_force.sel(axis="y").values)) > 500


def test_the_dataset_equals_the_plain_constructors_and_imports_no_dask(walk):
    """read_c3d builds its Dataset without xarray's dask checks (issue #17): same variables,
    dtypes, attributes and indexes as xr.Dataset(...), and dask is not imported."""
    import subprocess
    import sys

    import xarray as xr

    data_vars = {k: (v.dims, v.values, v.attrs) for k, v in walk.data_vars.items()}
    coords = {k: (v.dims, v.values, v.attrs) for k, v in walk.coords.items()}
    plain = xr.Dataset(data_vars, coords, walk.attrs)
    assert walk.identical(plain)
    for k in plain.variables:
        assert walk[k].dtype == plain[k].dtype, k
        assert type(walk.variables[k]) is type(plain.variables[k]), k
    assert {k: str(i.index.dtype) for k, i in walk.xindexes.items()} == {
        k: str(i.index.dtype) for k, i in plain.xindexes.items()
    }
    code = (
        "import sys, warnings; warnings.simplefilter('ignore'); import chainlab; "
        f"chainlab.read_c3d({str(walk.attrs['source_path'])!r}).plate_force.values; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- output dtypes (issue #17)


def _raw_words(path):
    """The data section's words of an Intel file, straight from its bytes: (frames, words)."""
    raw = path.read_bytes()
    p = ezc3d.c3d(str(path))["parameters"]
    n_points, n_words = p["POINT"]["USED"]["value"][0], struct.unpack("<H", raw[4:6])[0]
    floats = p["POINT"]["SCALE"]["value"][0] < 0
    start = (struct.unpack("<H", raw[16:18])[0] - 1) * 512
    words = np.frombuffer(raw, "<f4" if floats else "<i2", offset=start)
    per_frame = 4 * n_points + n_words
    return words[: words.size // per_frame * per_frame].reshape(-1, per_frame), n_points, p


def test_residuals_are_the_float64_residual_rounded_to_float32():
    """Residuals: low byte of the fourth word x |POINT:SCALE|, in m, computed in float64 and
    stored as float32 (what the trial file keeps); NaN exactly where the sample is invalid
    (negative fourth word) or (0, 0, 0); markers stay float64."""
    from chainlab.conventions import LENGTH_TO_METRE

    path = fixture("c3dorg_sample01_Eb015pr.c3d")
    ds = read_c3d(path)
    words, n_points, p = _raw_words(path)
    assert ds.markers.dtype == np.float64 and ds.residuals.dtype == np.float32
    fourth = np.rint(words[:, 3 : 4 * n_points : 4]).astype(np.int32)
    to_m = LENGTH_TO_METRE[ds.attrs["point_units_in_file"]]
    expected = (fourth & 0xFF) * (abs(float(p["POINT"]["SCALE"]["value"][0])) * to_m)  # float64
    labels = _ezc3d_labels(ezc3d.c3d(str(path)))
    column = {lab.rsplit(":", 1)[-1].strip(): i for i, lab in enumerate(labels)}
    cols = [column[str(m)] for m in ds.marker.values]
    seen = np.isfinite(ds.residuals.values)
    assert 0.5 < seen.mean() < 1 and np.array_equal(seen, np.isfinite(ds.markers.values).all(axis=-1))
    assert np.all((fourth[:, cols] < 0)[~seen] | np.all(words[:, : 4 * n_points].reshape(len(words), -1, 4)[:, cols, :3] == 0, axis=-1)[~seen])
    np.testing.assert_array_equal(ds.residuals.values[seen], expected[:, cols].astype(np.float32)[seen])
    assert np.unique(ds.residuals.values[seen]).size > 10


def test_analogs_are_float32_only_where_that_is_exact(walk, walk_path):
    """Vicon float files (OFFSET 0, SCALE x GEN_SCALE 1): the stored float32, exactly; an
    integer file whose channels scale by other factors keeps float64, (raw - OFFSET) x SCALE x
    GEN_SCALE unrounded."""
    words, n_points, p = _raw_words(walk_path)
    assert walk.analogs.dtype == np.float32
    stored = words[:, 4 * n_points :].reshape(-1, walk.sizes["channel"])
    np.testing.assert_array_equal(walk.analogs.values, stored)

    path = fixture("c3dorg_sample10_TYPE-2.C3D")
    ds = read_c3d(path)
    words, n_points, p = _raw_words(path)
    assert ds.analogs.dtype == np.float64
    n_ch = ds.sizes["channel"]
    raw = words[:, 4 * n_points :].reshape(-1, n_ch).astype(np.float64)
    a = p["ANALOG"]
    expected = (raw - a["OFFSET"]["value"][:n_ch]) * (a["SCALE"]["value"][:n_ch] * a["GEN_SCALE"]["value"][0])
    np.testing.assert_array_equal(ds.analogs.values, expected)


def test_plates_are_computed_once_on_first_use_from_the_float64_analogs(walk_path, monkeypatch):
    """The plate variables are computed on first access, all four together, once, and equal
    the wrench of the analogs in float64; the Dataset pickles and copies as before."""
    import copy
    import pickle

    from chainlab.io import _c3ddata

    calls = []
    compute = _c3ddata._plate_arrays
    monkeypatch.setattr(_c3ddata, "_plate_arrays", lambda *a: calls.append(a) or compute(*a))
    ds = read_c3d(walk_path)
    assert ds.sizes["plate"] == 2 and calls == []
    assert ds.plate_force.dtype == np.float64 and ds.plate_force.shape == (ds.sizes["analog_sample"], 2, 3)
    z = ds.plate_force.sel(plate=1, axis="z").values
    assert len(calls) == 1 and z.max() > 100  # the child's weight and more, in N
    for key in ("force", "moment", "free_moment", "cop"):
        ds[f"plate_{key}"].values
    assert len(calls) == 1
    plates = calls[0][1]
    direct = compute(ds.analogs.values.astype(np.float64), plates, ds.attrs["cop_threshold_N"])
    for key in direct:
        np.testing.assert_array_equal(ds[f"plate_{key}"].values, direct[key])
    again = read_c3d(walk_path)
    assert pickle.loads(pickle.dumps(again)).identical(ds)
    assert copy.deepcopy(again).identical(ds) and again.copy(deep=True).identical(ds)
    ratio = ds.sizes["analog_sample"] // ds.sizes["frame"]
    window = read_c3d(walk_path, frames=slice(10, 30))
    np.testing.assert_array_equal(window.plate_force.values,
                                  ds.plate_force.isel(analog_sample=slice(10 * ratio, 30 * ratio)).values)
