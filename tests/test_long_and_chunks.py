"""Long captures, frame windows, chunks, units and labels, on files written here with ezc3d."""

from __future__ import annotations

import warnings

import ezc3d
import h5py
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


# --------------------------------------------------------------------------- chunked trials (issue #4)

import json as _json  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402

from chainlab.config import StudyConfig  # noqa: E402

from .conftest import STUDY  # noqa: E402

TOL_DEG = 1e-9


def _trial(subject, kind, name):
    return STUDY / subject / kind / f"{name}.c3d"


STATICS = {"HC030A": "HC030A01", "HC033A": "HC033A01", "HC002D": "HC002D02"}


def _run(dyn, sta, out, solver="direct", chunk=None, subject=None, **kw):
    """One trial through the pipeline into `out` (`chunk`: frames per chunk; None: one chunk;
    `subject`: measurements given, as the config's)."""
    from chainlab.kinematics import KinematicsOptions
    from chainlab.pipeline import run_trial
    from chainlab.results import TrialFailure, TrialRow

    static = read_c3d(sta) if not isinstance(sta, xr.Dataset) else sta
    row = TrialRow("S01", "control", Path(dyn).stem, Path("s.c3d"), Path(dyn))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run_trial(row, out, options=KinematicsOptions(solver=solver, subject=subject or {}),
                        chunk_frames=chunk or 10**9,
                        threads=2, read_static=lambda _: static, **kw)
    assert not isinstance(res, TrialFailure), res
    return res


GROUPS = ("kinematics", "plates", "markers", "events", "cycles", "metrics", "curves")


def _assert_same_trial(one, many):
    """The trial file of one chunk against that of many (`one`, `many`: paths)."""
    for g in GROUPS:
        with xr.open_dataset(one, group=g, engine="h5netcdf") as a, \
                xr.open_dataset(many, group=g, engine="h5netcdf") as b:
            assert list(a.variables) == list(b.variables), g
            for v in a.variables:
                x, y = a[v].values, b[v].values
                assert x.shape == y.shape and x.dtype == y.dtype, (g, v)
                if x.dtype.kind == "f":
                    np.testing.assert_array_equal(np.isnan(x), np.isnan(y), err_msg=f"{g}/{v}")
                    np.testing.assert_allclose(y, x, rtol=0, atol=TOL_DEG, equal_nan=True, err_msg=f"{g}/{v}")
                else:
                    np.testing.assert_array_equal(x, y, err_msg=f"{g}/{v}")
            assert set(a.attrs) == set(b.attrs), g
            for key, value in a.attrs.items():
                got = b.attrs[key]
                if isinstance(value, float) and np.isnan(value):
                    assert np.isnan(got), (g, key)
                else:
                    np.testing.assert_array_equal(got, value, err_msg=f"{g} {key}")
    with xr.open_dataset(one, engine="h5netcdf") as a, xr.open_dataset(many, engine="h5netcdf") as b:
        assert {k: v for k, v in a.attrs.items() if k != "dask_scheduler"} \
            == {k: v for k, v in b.attrs.items() if k != "dask_scheduler"}


@pytest.mark.parametrize("subject,kind,name,solver,chunk", [
    ("HC030A", "Straight", "HC030A05", "direct", 37),
    ("HC030A", "Straight", "HC030A05", "global", 37),
    ("HC033A", "Turn", "HC033A22", "direct", 23),  # a turn: facing switches, Cardan branch changes
    ("HC033A", "Turn", "HC033A22", "global", 61),
])
def test_a_trial_in_chunks_equals_the_trial_in_one(tmp_path, subject, kind, name, solver, chunk):
    sta, dyn = _trial(subject, "Static", STATICS[subject]), _trial(subject, kind, name)
    res = _run(dyn, sta, tmp_path / "many.h5", solver, chunk)
    assert res.n_frames == c3d_frame_count(dyn) > 3 * chunk
    one = _run(dyn, sta, tmp_path / "one.h5", solver)
    _assert_same_trial(tmp_path / "one.h5", tmp_path / "many.h5")
    assert len(one.metrics) > 0
    pd.testing.assert_frame_equal(res.metrics, one.metrics, rtol=0, atol=TOL_DEG)


def test_one_chunk_runs_without_a_scheduler(tmp_path, monkeypatch):
    """A trial of one chunk is plain calls in this thread: no dask scheduler entered, no task
    computed; with two chunks, both happen."""
    import dask

    import chainlab.parallel as parallel

    used = []

    def no_scheduler(*args, **kwargs):
        used.append("scheduler")
        raise AssertionError("a dask scheduler for a trial of one chunk")

    monkeypatch.setattr(parallel, "dask_scheduler", no_scheduler)
    monkeypatch.setattr(dask, "compute", no_scheduler)
    sta, dyn = _trial("HC030A", "Static", "HC030A01"), _trial("HC030A", "Straight", "HC030A05")
    res = _run(dyn, sta, tmp_path / "t.h5", chunk=c3d_frame_count(dyn))
    assert len(res.metrics) > 0 and used == []
    with pytest.raises(AssertionError, match="scheduler"):
        _run(dyn, sta, tmp_path / "t2.h5", chunk=c3d_frame_count(dyn) - 1)


def test_the_whole_trial_events_and_the_pipeline_agree(tmp_path):
    """The events of the whole-trial pass (gait.events.gait_events) are the pipeline's: both
    assemble them with gait.events.contact_events."""
    from chainlab.gait.events import gait_events

    sta, dyn = _trial("HC030A", "Static", "HC030A01"), _trial("HC030A", "Straight", "HC030A05")
    res = _run(dyn, sta, tmp_path / "t.h5", chunk=37)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = gait_events(read_c3d(dyn))
    pd.testing.assert_frame_equal(res.events.reset_index(drop=True), ev.events.reset_index(drop=True),
                                  check_dtype=False)
    assert len(ev.events) > 0


@pytest.fixture(scope="module")
def simulated_long(tmp_path_factory):
    """An 80 s treadmill capture at 200 Hz with both plates, noise and gaps (16,000 frames; more
    events than a C3D stores, so the gait events come from the plates and Zeni's rule)."""
    from chainlab.simulate import Condition, SimulationOptions, simulate_study

    out = tmp_path_factory.mktemp("simlong")
    opt = SimulationOptions(subjects=1, trials=1, conditions=(Condition("control"),), duration_s=80.0, rate=200.0,
                            noise_mm=1.0, gaps=0.02, truth=False, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sheet = simulate_study(_trial("HC030A", "Static", "HC030A01"), _trial("HC030A", "Straight", "HC030A05"),
                               out, opt)
    return out / sheet.dynamic[0], out / sheet.static[0]


def test_simulated_capture_at_the_asked_rate(simulated_long):
    dyn, _ = simulated_long
    head = read_c3d(dyn, frames=slice(0, 10))
    assert head.attrs["point_rate"] == 200.0 and head.attrs["analog_rate"] == 1000.0
    assert c3d_frame_count(dyn) == 16_000 and head.sizes["plate"] == 2
    assert head.sizes["event"] == 0  # too many for the EVENT group
    assert not (dyn.parent / (dyn.stem + ".truth.h5")).exists()  # truth=False
    pelvis = read_c3d(dyn).markers.sel(marker=["LASI", "RASI", "SACR"]).values
    step = np.linalg.norm(np.diff(pelvis, axis=0), axis=-1)
    assert np.nanmax(step) < 0.03  # no jump back a stride at the end of a cycle (1 mm noise)


@pytest.mark.parametrize("solver,chunk", [("direct", 997), ("global", 1234)])
def test_simulated_capture_in_chunks_equals_it_in_one(tmp_path, simulated_long, solver, chunk):
    dyn, sta = simulated_long
    static = read_c3d(sta)
    many = _run(dyn, static, tmp_path / "many.h5", solver, chunk, scheduler="threads")
    _run(dyn, static, tmp_path / "one.h5", solver)
    _assert_same_trial(tmp_path / "one.h5", tmp_path / "many.h5")
    sources = many.events.source.value_counts()
    assert sources.get("kinematic", 0) > 20 and sources.filter(like="plate").sum() > 20 and len(many.metrics) > 60


def test_simulated_kinetics_in_chunks_equal_them_in_one(tmp_path, simulated_long):
    """With a body mass the capture has kinetics; their curves and measures, taken from
    windows of the written kinetics a group of cycles at a time, are those of one chunk."""
    dyn, sta = simulated_long
    static = read_c3d(sta)
    many = _run(dyn, static, tmp_path / "many.h5", chunk=997, subject={"Bodymass": 70.0})
    _run(dyn, static, tmp_path / "one.h5", subject={"Bodymass": 70.0})
    _assert_same_trial(tmp_path / "one.h5", tmp_path / "many.h5")
    with h5py.File(tmp_path / "many.h5", "r") as f:
        assert f.attrs["kinetics_absent"] == ""
        with_kinetics = np.isfinite(f["curves/moment_curves"][()]).all(axis=(1, 2, 3))
    assert len(many.metrics) > 60 and with_kinetics.sum() > 60
    assert np.isfinite(many.metrics.peak_knee_extensor_moment_Nm_kg).sum() > 60


def test_each_task_reads_a_bounded_window(tmp_path, simulated_long, monkeypatch):
    """Memory is bounded structurally: no task reads more than its chunk and a fixed overlap,
    and the per-cycle curves are written a window of cycles at a time, not held."""
    import chainlab.pipeline as pipeline
    from chainlab.io.trial_file import TrialWriter
    from chainlab.pipeline.cycles import MEASURE_FRAMES

    dyn, sta = simulated_long
    windows, written = [], []
    real, real_rows = pipeline._read, TrialWriter.rows

    def spy(path, a, b):
        windows.append((a, b))
        return real(path, a, b)

    def rows_spy(self, group, ds, dim, at, size):
        written.append(np.asarray(at))
        return real_rows(self, group, ds, dim, at, size)

    monkeypatch.setattr(pipeline, "_read", spy)
    monkeypatch.setattr(TrialWriter, "rows", rows_spy)
    chunk = 500
    res = _run(dyn, sta, tmp_path / "t.h5", chunk=chunk, scheduler="synchronous")
    n = c3d_frame_count(dyn)
    assert res.n_frames == n
    # the plate filter's overlap, or Zeni's where the file stores no events (as here)
    overlap = int(np.ceil(max(pipeline.PLATE_OVERLAP_S, pipeline.ZENI_OVERLAP_S) * 200.0))
    summary = [w for w in windows if (w[1] - w[0]) > chunk + 400]
    frames = [w for w in windows if w not in summary]
    # summary pass: spans of 5000 frames and the overlap on each side
    assert max(b - a for a, b in summary) <= pipeline.SUMMARY_SPAN + 2 * overlap
    # frames pass: the chunk, and at most one plate contact (< 1.5 s) beyond it
    assert len(frames) == -(-n // chunk)
    assert max(b - a for a, b in frames) <= chunk + 300 + 2
    with xr.open_dataset(tmp_path / "t.h5", group="kinematics", engine="h5netcdf") as k:
        assert k.sizes["frame"] == n
    # gait pass: each cycle's curves written once, by windows of cycles within MEASURE_FRAMES
    # frames (the chunk is smaller here)
    cycles = res.cycles.reset_index(drop=True)
    assert len(written) > 5 and np.array_equal(np.sort(np.concatenate(written)), np.arange(len(cycles)))
    for at in written:
        assert (cycles.end[at].max() - cycles.start[at].min()) * 200.0 <= MEASURE_FRAMES


def test_cli_kinematics_and_trial_in_chunks(tmp_path, capsys):
    from chainlab.cli import main
    from chainlab.io.trial_file import open_trial_file
    from chainlab.kinematics import compute_kinematics

    dyn, sta = _trial("HC030A", "Straight", "HC030A05"), _trial("HC030A", "Static", "HC030A01")
    out = tmp_path / "k.h5"
    assert main(["kinematics", str(dyn), "--static", str(sta), "-o", str(out), "--chunk-frames", "50",
                 "--threads", "2"]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = compute_kinematics(read_c3d(dyn), read_c3d(sta))
    with xr.open_dataset(out) as got:
        np.testing.assert_allclose(got.angles.values, ref.angles.values, atol=TOL_DEG, rtol=0)
        assert got.attrs["gap_frames"] == ref.attrs["gap_frames"]
    assert "197 frames" in capsys.readouterr().out
    trial = tmp_path / "t.h5"
    assert main(["trial", "--subject", "HC030A", "--condition", "Straight", "--trial", "HC030A05",
                 "--static", str(sta), "--dynamic", str(dyn), "-o", str(trial), "--chunk-frames", "60",
                 "--scheduler", "synchronous"]) == 0
    saved = open_trial_file(trial)
    assert (saved.subject, saved.trial) == ("HC030A", "HC030A05") and len(saved.metrics) > 0
    assert _json.loads(xr.open_dataset(trial).attrs["problems"]) == saved.problems
    one = tmp_path / "one.h5"
    assert main(["trial", "--subject", "HC030A", "--condition", "Straight", "--trial", "HC030A05",
                 "--static", str(sta), "--dynamic", str(dyn), "-o", str(one)]) == 0
    _assert_same_trial(one, trial)
    assert main(["trial", "--subject", "a", "--condition", "b", "--trial", "c", "--static", str(sta),
                 "--dynamic", str(dyn), "-o", str(tmp_path / "x.h5"), "--scheduler", "nowhere"]) == 2
    assert "dask scheduler" in capsys.readouterr().err


def test_continuity_in_pieces_equals_the_whole():
    from chainlab.model.continuity import Continuity, continuous

    rng = np.random.default_rng(4)
    for _ in range(100):
        n = int(rng.integers(1, 300))
        a = np.cumsum(rng.normal(0, rng.choice([1.0, 30.0, 90.0]), (n, 3)), axis=0)
        a = (a + 180) % 360 - 180
        a[rng.random(n) < 0.2] = np.nan
        for norm in ("sum", "max"):
            c, k = Continuity(norm), int(rng.integers(1, 40))
            pieces = np.concatenate([c(a[i:i + k]) for i in range(0, n, k)])
            np.testing.assert_array_equal(pieces, continuous(a, norm))


def test_chunked_trial_on_a_distributed_scheduler(tmp_path):
    """--scheduler ADDR: the tasks run on a dask.distributed cluster, the writing stays here."""
    distributed = pytest.importorskip("distributed")
    dyn, sta = _trial("HC030A", "Straight", "HC030A05"), read_c3d(_trial("HC030A", "Static", "HC030A01"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                      dashboard_address=None) as cluster:
            res = _run(dyn, sta, tmp_path / "d.h5", chunk=50, scheduler=cluster.scheduler_address)
    _run(dyn, sta, tmp_path / "one.h5")
    assert len(res.metrics) > 0
    _assert_same_trial(tmp_path / "one.h5", tmp_path / "d.h5")


def test_the_plate_settings_reach_the_pipeline_events(tmp_path):
    """The config's plate thresholds (gait section) move the pipeline's plate events as they
    move the whole-trial ones."""
    from chainlab.gait.analysis import analyse_trial
    from chainlab.gait.events import PlateEventOptions
    from chainlab.kinematics import compute_kinematics

    static = read_c3d(_trial("HC030A", "Static", "HC030A01"))
    dyn = _trial("HC030A", "Straight", "HC030A05")
    opt = PlateEventOptions(strike_threshold=150.0, off_threshold=120.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = read_c3d(dyn)
        kin = compute_kinematics(d, static)
        expected, default = analyse_trial(d, kin, opt), analyse_trial(d, kin)
    config = StudyConfig.from_dict({"study": "s", "trials": "t.tsv",
                                    "gait": {"strike_threshold_N": 150.0, "off_threshold_N": 120.0}})
    res = _run(dyn, static, tmp_path / "t.h5", chunk=37, config=config)

    def plates(ev):
        return ev[ev.source.str.startswith("plate")].reset_index(drop=True)

    assert len(plates(expected.events)) == len(plates(default.events)) > 0
    assert (plates(expected.events).time.values != plates(default.events).time.values).all()  # they matter here
    pd.testing.assert_frame_equal(res.events.reset_index(drop=True), expected.events.reset_index(drop=True),
                                  check_dtype=False)
