"""Long captures, frame windows, chunks, units and labels, on files written here with ezc3d."""

from __future__ import annotations

import warnings

import ezc3d
import numpy as np
import pytest

from chainlab import C3DWarning, c3d_frame_count, iter_c3d_chunks, read_c3d


def write_c3d(path, n_frames, labels=("A", "B"), units="mm", scale=1.0, trial=None, long_frames=None,
              analog_ratio=0):
    """A float C3D with marker x = frame index * scale (units), y = marker index, z = 1."""
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [200.0]
    c["parameters"]["POINT"]["UNITS"]["value"] = [units]
    c["parameters"]["POINT"]["LABELS"]["value"] = tuple(labels)
    pts = np.ones((4, len(labels), n_frames))
    pts[0] = np.arange(n_frames) * scale
    pts[1] = np.arange(len(labels))[:, None]
    pts[3] = 0.0
    c["data"]["points"] = pts
    if analog_ratio:
        c["parameters"]["ANALOG"]["RATE"]["value"] = [200.0 * analog_ratio]
        c["parameters"]["ANALOG"]["LABELS"]["value"] = ("ch1",)
        c["data"]["analogs"] = np.arange(n_frames * analog_ratio, dtype=float)[None, None, :]
    if trial:
        c.add_parameter("TRIAL", "ACTUAL_START_FIELD", [trial[0] % 65536, trial[0] // 65536])
        c.add_parameter("TRIAL", "ACTUAL_END_FIELD", [trial[1] % 65536, trial[1] // 65536])
    if long_frames:
        c.add_parameter("POINT", "LONG_FRAMES", [float(long_frames)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c.write(str(path))
    return path


N_LONG = 70_000


@pytest.fixture(scope="module")
def long_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("long") / "long.c3d"
    return write_c3d(path, N_LONG, trial=(1, N_LONG), analog_ratio=2)


def test_header_says_65535_for_the_long_capture(long_file):
    raw = long_file.read_bytes()
    assert int.from_bytes(raw[8:10], "little") == 65535  # what any header can hold
    assert ezc3d.c3d(str(long_file))["data"]["points"].shape[2] == 65535  # ezc3d stops there


def test_long_capture_is_read_whole(long_file):
    ds = read_c3d(long_file)
    assert ds.sizes["frame"] == N_LONG
    np.testing.assert_allclose(ds.markers.values[:, 0, 0], np.arange(N_LONG) / 1000.0, rtol=1e-12)
    assert ds.frame.values[-1] == N_LONG
    assert ds.sizes["analog_sample"] == 2 * N_LONG
    np.testing.assert_array_equal(ds.analogs.values[:, 0], np.arange(2 * N_LONG))
    assert c3d_frame_count(long_file) == N_LONG


def test_long_frames_parameter_and_file_size_fallback(tmp_path):
    a = write_c3d(tmp_path / "lf.c3d", 66_000, long_frames=66_000)
    assert read_c3d(a).sizes["frame"] == 66_000
    b = write_c3d(tmp_path / "none.c3d", 66_000)
    with pytest.warns(C3DWarning, match="66000 frames fit"):
        ds = read_c3d(b)
    assert ds.sizes["frame"] == 66_000


def test_frame_windows_and_chunks_equal_the_whole(long_file):
    whole = read_c3d(long_file)
    window = read_c3d(long_file, frames=slice(65_000, 65_700))
    assert window.sizes["frame"] == 700
    for var in ("markers", "analogs"):
        dim = "frame" if var == "markers" else "analog_sample"
        k = 1 if var == "markers" else 2
        np.testing.assert_array_equal(
            window[var].values, whole[var].isel({dim: slice(65_000 * k, 65_700 * k)}).values
        )
    np.testing.assert_array_equal(window.frame.values, whole.frame.values[65_000:65_700])
    np.testing.assert_allclose(window.analog_time.values, whole.analog_time.values[130_000:131_400])
    chunks = list(iter_c3d_chunks(long_file, chunk_frames=30_000))
    assert [c.sizes["frame"] for c in chunks] == [30_000, 30_000, 10_000]
    for var, dim in (("markers", "frame"), ("time", "frame"), ("analogs", "analog_sample"),
                     ("residuals", "frame")):
        joined = np.concatenate([c[var].values for c in chunks])
        np.testing.assert_array_equal(joined, whole[var].values, err_msg=var)


def test_units_in_metres_whatever_the_file_says(tmp_path):
    mm = read_c3d(write_c3d(tmp_path / "mm.c3d", 50, units="mm", scale=1.0))
    m = read_c3d(write_c3d(tmp_path / "m.c3d", 50, units="m", scale=1e-3))
    np.testing.assert_allclose(mm.markers.sel(axis="x").values, m.markers.sel(axis="x").values, rtol=1e-6)
    assert (mm.attrs["point_units_in_file"], m.attrs["point_units_in_file"]) == ("mm", "m")


def test_prefixed_duplicate_and_empty_labels(tmp_path):
    path = write_c3d(tmp_path / "labels.c3d", 10, labels=("HC030A:LASI", "HC030A:RASI", "HC030A:LASI", " "))
    with pytest.warns(C3DWarning) as record:
        ds = read_c3d(path)
    assert list(ds.marker.values) == ["LASI", "RASI", "LASI_2", "point4"]
    text = " ".join(str(w.message) for w in record)
    assert "duplicate" in text and "empty" in text and str(path) in text
    assert any("duplicate" in w for w in ds.attrs["read_warnings"])


def test_invalid_and_zero_samples_are_nan(tmp_path):
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [100.0]
    c["parameters"]["POINT"]["LABELS"]["value"] = ("A", "B")
    pts = np.ones((4, 2, 5))
    pts[3] = 0.0
    pts[:3, 0, 1] = 0.0  # exact zeros: a gap some systems write
    c["data"]["points"] = pts
    path = tmp_path / "gaps.c3d"
    c.write(str(path))
    # ezc3d writes residual words of 0; mark marker B in frame 2 invalid (residual -1)
    raw = bytearray(path.read_bytes())
    data_start = (int.from_bytes(raw[16:18], "little") - 1) * 512
    raw[data_start + (2 * 8 + 1 * 4 + 3) * 4 : data_start + (2 * 8 + 1 * 4 + 4) * 4] = np.float32(-1).tobytes()
    path.write_bytes(bytes(raw))
    ds = read_c3d(path)
    assert np.isnan(ds.residuals.values[2, 1]) and ds.residuals.values[2, 0] == 0.0
    isnan = np.isnan(ds.markers.values[..., 0])
    assert isnan[1, 0] and isnan[2, 1] and isnan.sum() == 2


def test_a_window_carries_only_its_events(walk_path):
    whole = read_c3d(walk_path)
    first = read_c3d(walk_path, frames=slice(0, 60))  # frames 286-345
    assert whole.sizes["event"] == 8
    inside = (whole.event_frame >= 286) & (whole.event_frame <= 345)
    assert first.sizes["event"] == int(inside.sum()) == 2
    np.testing.assert_array_equal(first.event_frame.values, whole.event_frame.values[inside.values])
    assert list(first.event_label.values) == list(whole.event_label.values[inside.values])
    chunks = list(iter_c3d_chunks(walk_path, chunk_frames=50))
    assert sum(c.sizes["event"] for c in chunks) == 8
    with pytest.raises(TypeError, match="slice"):
        read_c3d(walk_path, frames=5)


def test_unsigned_analogs_in_big_endian_files_equal_their_intel_twin(tmp_path):
    """ANALOG:FORMAT UNSIGNED read the same from SGI/MIPS and Intel bytes."""
    from chainlab.io.c3d import _Structure, _analogs
    from pathlib import Path

    from .conftest import fixture

    out = []
    for name in ("c3dorg_sample02_sgi_int.c3d", "c3dorg_sample02_pc_int.c3d"):
        st = _Structure(Path(fixture(name)))
        st.params.raw["ANALOG"]["FORMAT"] = {"value": ["UNSIGNED"]}
        words = st.read_words(0, st.n_frames)
        out.append(_analogs(st, words, st.n_frames))
    np.testing.assert_array_equal(out[0], out[1])  # reading big-endian bytes as little would garble
