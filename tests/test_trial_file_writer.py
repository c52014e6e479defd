"""The one-pass trial file writer (chainlab.io._netcdf) writes the file xarray's netCDF writer
writes: every object, dataset property, value and attribute (dimension scales compared through
the names they reference), and the same Datasets read back; what it does not write is left to
xarray (it returns False and creates nothing)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import xarray as xr

from chainlab.io._netcdf import write_groups
from chainlab.io.trial_file import TrialWriter

INTERNAL_ORDER_FREE = {"DIMENSION_LIST", "REFERENCE_LIST", "_Netcdf4Dimid", "_Netcdf4Coordinates", "CLASS", "NAME",
                       "_FillValue"}


def _value(f, key, value):
    if key == "DIMENSION_LIST":
        return [[f[r].name for r in row] for row in value]
    if key == "REFERENCE_LIST":
        return sorted((f[r].name, int(i)) for r, i in value)
    return value


def _same(a, b) -> bool:
    if isinstance(a, list) or isinstance(b, list):
        return a == b
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))


def differences(pa, pb) -> list[str]:
    out = []
    with h5py.File(pa, "r") as fa, h5py.File(pb, "r") as fb:
        def attrs(a, b):
            user_a = [k for k in a.attrs if k not in INTERNAL_ORDER_FREE]
            user_b = [k for k in b.attrs if k not in INTERNAL_ORDER_FREE]
            if user_a != user_b and set(user_a) - {"_NCProperties"} != set(user_b) - {"_NCProperties"}:
                out.append(f"{a.name}: attributes {user_a} / {user_b}")
            if set(a.attrs) != set(b.attrs):
                out.append(f"{a.name}: attributes {sorted(set(a.attrs) ^ set(b.attrs))}")
            for k in set(a.attrs) & set(b.attrs) - {"_NCProperties"}:
                ia, ib = a.attrs.get_id(k), b.attrs.get_id(k)
                if (ia.dtype, ia.shape) != (ib.dtype, ib.shape) or not _same(_value(fa, k, a.attrs[k]),
                                                                              _value(fb, k, b.attrs[k])):
                    out.append(f"{a.name}@{k}: {a.attrs[k]!r} / {b.attrs[k]!r}")

        def walk(a, b):
            if list(a) != list(b):
                out.append(f"{a.name}: links {list(a)} / {list(b)}")
            attrs(a, b)
            for k in set(a) & set(b):
                x, y = a[k], b[k]
                if isinstance(x, h5py.Group):
                    walk(x, y)
                    continue
                props = lambda d: (d.dtype, d.shape, d.chunks, d.compression, d.compression_opts, d.shuffle,
                                   d.maxshape)
                if props(x) != props(y) or not _same(x.fillvalue, y.fillvalue) or not _same(x[()], y[()]):
                    out.append(f"{x.name}: {props(x)} / {props(y)}")
                attrs(x, y)
        walk(fa, fb)
        groups = [None] + [g for g in fa if isinstance(fa[g], h5py.Group)]
    for g in groups:
        with xr.open_dataset(pa, group=g, engine="h5netcdf") as x, xr.open_dataset(pb, group=g, engine="h5netcdf") as y:
            if not x.identical(y) or list(x.variables) != list(y.variables) or list(x.dims) != list(y.dims):
                out.append(f"group {g}: read back differently")
    return out


def _groups() -> dict[str, xr.Dataset]:
    rng = np.random.default_rng(0)
    n = 7
    angles = rng.normal(size=(n, 2, 3))
    angles[2, 1] = np.nan
    root = xr.Dataset(
        {"angles": (("frame", "output", "axis"), angles, {"units": "deg", "long_name": "angles"}),
         "count": (("frame",), np.arange(n, dtype=np.int32)),
         "seen": (("frame", "output"), rng.random((n, 2)) > 0.5),
         "label": (("output",), np.array(["LHip", "RKnee"], dtype=object)),
         "single": ((), np.float32(2.5), {"units": "m"})},
        coords={"frame": ("frame", np.arange(1, n + 1), {"long_name": "frame number"}),
                "time": ("frame", np.arange(n) / 100.0, {"units": "s"}),
                "output": ("output", np.array(["LHipAngles", "RKneeAngles"])),
                "axis": ("axis", np.array(list("xyz"))),
                "ref_point": ("axis", np.array([0.1, 0.2, 0.3]))},
        attrs={"title": "t", "rate": 100.0, "count": 3, "names": ["a", "bc"], "empty": [],
               "values": np.array([1.5, 2.5]), "partial": np.int64(0)},
    )
    table = xr.Dataset({"plate": ("row", np.array([1, 2])), "side": ("row", np.array(["L", "R"])),
                        "corner": (("row", "axis"), rng.normal(size=(2, 3)))})
    other = xr.Dataset({"v": (("axis", "k"), np.ones((3, 4)))})  # the root's axis, its own k
    return {"/": root, "/contacts": table, "/other": other}


@pytest.mark.parametrize("compress", [False, True])
def test_written_as_xarray_writes_it(tmp_path, compress):
    groups = _groups()
    w = TrialWriter(tmp_path / "unused.h5", compress=compress)
    encoding = {"/": w._encoding(groups["/"], "frame", grown=False), "/contacts": {}, "/other": {}}
    ref = tmp_path / "xarray.h5"
    xr.DataTree.from_dict(groups).to_netcdf(ref, mode="w", engine="h5netcdf", encoding=encoding)
    fast = tmp_path / "fast.h5"
    assert write_groups(fast, groups, encoding)
    with h5py.File(fast, "r") as f:
        assert f.attrs["_NCProperties"].decode().startswith("version=2,chainlab=")
        assert f["angles"].compression == ("gzip" if compress else None)
    assert differences(ref, fast) == []


@pytest.mark.parametrize("change", ["datetime", "encoding", "bool attribute", "none attribute", "mixed objects"])
def test_what_it_does_not_write_is_left_to_xarray(tmp_path, change):
    groups = _groups()
    root = groups["/"]
    if change == "datetime":
        root = root.assign(when=("frame", np.datetime64("2026-01-01") + np.arange(7).astype("timedelta64[D]")))
    elif change == "encoding":
        root["angles"].encoding = {"dtype": "float32"}
    elif change == "bool attribute":
        root.attrs["flag"] = True
    elif change == "none attribute":
        root.attrs["missing"] = None
    else:
        root = root.assign(label=("output", np.array(["a", None], dtype=object)))
    groups["/"] = root
    path = tmp_path / "fast.h5"
    assert not write_groups(path, groups, {})
    assert not path.exists()


def test_trial_writer_one_pass_equals_xarray(tmp_path):
    """TrialWriter's buffered file (the one-pass writer) against xarray's of the same groups."""
    groups = _groups()
    w = TrialWriter(tmp_path / "w.h5", compress=True, buffered=True)
    w.root(groups["/"], "frame")
    w.group("contacts", groups["/contacts"])
    w.close()
    ref = tmp_path / "xarray.h5"
    xr.DataTree.from_dict({"/": groups["/"], "/contacts": groups["/contacts"]}).to_netcdf(
        ref, mode="w", engine="h5netcdf", encoding={"/": w._encoding(groups["/"], "frame", grown=False)})
    assert differences(ref, tmp_path / "w.h5") == []


def _curves(n: int) -> xr.Dataset:
    rng = np.random.default_rng(7)
    values = rng.normal(size=(n, 4, 3, 11))
    values[2, 1] = np.nan
    return xr.Dataset({"angle_curves": (("cycle", "joint", "axis", "percent"), values, {"units": "deg"}),
                       "power_curves": (("cycle", "percent"), rng.normal(size=(n, 11)), {"units": "W/kg"})},
                      coords={"joint": ["Hip", "Knee", "Ankle", "Foot"], "axis": ["x", "y", "z"],
                              "percent": np.linspace(0.0, 100.0, 11),
                              "side": ("cycle", np.where(np.arange(n) < 6, "Left", "Right"))},
                      attrs={"frame": "heading"})


@pytest.mark.parametrize("buffered", [True, False])
def test_rows_written_in_pieces_read_as_the_whole(tmp_path, buffered):
    """A group written a few rows at a time, in any order (TrialWriter.rows: the per-cycle
    curves of a long trial), reads back as the group written whole."""
    whole = _curves(11)
    w = TrialWriter(tmp_path / "rows.h5", buffered=buffered)
    w.root(xr.Dataset(attrs={"title": "t"}))
    for at in ([7, 1, 2], [0, 8], [6, 3, 4, 5, 9, 10]):  # Left and Right rows mixed, as a window of cycles
        w.rows("curves", whole.isel(cycle=at), "cycle", np.array(at), 11)
    w.close()
    with xr.open_dataset(tmp_path / "rows.h5", group="curves", engine="h5netcdf") as got:
        assert list(got.variables) == list(whole.variables) and got.attrs == whole.attrs
        xr.testing.assert_identical(got.load(), whole)
    with h5py.File(tmp_path / "rows.h5", "r") as f:
        assert f["curves/angle_curves"].maxshape[0] == (11 if buffered else None)


def test_rows_of_no_cycle(tmp_path):
    """A trial without a cycle: the group is there, with no row."""
    w = TrialWriter(tmp_path / "none.h5")
    w.root(xr.Dataset(attrs={"title": "t"}))
    w.rows("curves", _curves(3).isel(cycle=slice(0, 0)), "cycle", np.arange(0), 0)
    w.close()
    with xr.open_dataset(tmp_path / "none.h5", group="curves", engine="h5netcdf") as got:
        assert got.sizes["cycle"] == 0 and got.angle_curves.shape == (0, 4, 3, 11)


def test_empty_dimensions_shuffle_and_streamed_variables_as_xarray_writes_them(tmp_path):
    """The study store's cases: dimensions of size 0 (unlimited, as h5netcdf makes them),
    shuffled gzip, an empty group, and variables whose values arrive in parts (written a row of
    HDF5 chunks at a time; their data in the groups only a zero-strided placeholder)."""
    rng = np.random.default_rng(1)
    big = rng.normal(size=(50, 4, 7))
    prov = xr.Dataset({"input_sha256": ("input", np.array(["a", "b"], dtype=str)),
                       "failure_reason": ("failure", np.array([], dtype=str), {"units": "1"}),
                       "x": (("cycle", "p"), np.zeros((0, 3))), "y": (("q", "p"), np.ones((2, 3))),
                       "z": (("p", "cycle"), np.zeros((3, 0)))},
                      coords={"failure_trial": ("failure", np.array([], dtype=str)), "row": np.arange(0)},
                      attrs={"config": ""})
    m = xr.Dataset({"v": (("c", "q", "p"), big), "k": ("c", np.arange(50))}, coords={"t": ("c", np.arange(50.0))})
    groups = {"/": xr.Dataset(attrs={"title": "x"}), "/provenance": prov, "/empty": xr.Dataset(attrs={"d": "e"}),
              "/m": m}
    encoding = {"/m": {"v": {"compression": "gzip", "compression_opts": 4, "shuffle": True, "chunksizes": (16, 1, 7)}}}
    ref = tmp_path / "xarray.h5"
    xr.DataTree.from_dict(groups).to_netcdf(ref, mode="w", engine="h5netcdf", encoding=encoding)
    placeholders = dict(groups)
    placeholders["/m"] = m.assign(v=(("c", "q", "p"), np.broadcast_to(np.zeros(()), big.shape)),
                                  t=("c", np.broadcast_to(np.zeros(()), (50,))))
    streams = {"/m": {"v": lambda: iter([big[:5], big[5:30], big[30:31], big[31:]]),
                      "t": lambda: iter([np.arange(20.0), np.arange(20.0, 50.0)])}}
    fast = tmp_path / "fast.h5"
    assert write_groups(fast, placeholders, encoding, streams)
    with h5py.File(fast, "r") as f:
        assert f["provenance/failure"].maxshape == (None,) and f["m/v"].shuffle
    assert differences(ref, fast) == []
    # parts that do not add up to the variable's length are refused
    short = {"/m": {"v": lambda: iter([big[:49]]), "t": streams["/m"]["t"]}}
    with pytest.raises(ValueError, match="49 rows written; expected 50"):
        write_groups(tmp_path / "short.h5", placeholders, encoding, short)


def test_a_trial_file_with_empty_tables_as_xarray_writes_it(tmp_path):
    """A trial without contacts or cycles: its empty groups (dimensions of size 0) are written
    by the one-pass writer as xarray's writer makes them."""
    groups = _groups()
    empty_contacts = groups["/contacts"].isel(row=slice(0, 0))
    curves = xr.Dataset({"curves": (("cycle", "variable", "percent"), np.zeros((0, 2, 5))),
                         "side": ("cycle", np.array([], dtype=str))},
                        coords={"variable": ["a", "b"], "percent": np.linspace(0.0, 100.0, 5)})
    w = TrialWriter(tmp_path / "w.h5", compress=True, buffered=True)
    w.root(groups["/"], "frame")
    w.group("contacts", empty_contacts)
    w.group("curves", curves)
    w.close()
    with h5py.File(tmp_path / "w.h5", "r") as f:
        assert "chainlab=" in f.attrs["_NCProperties"].decode()  # the one-pass writer wrote it
    ref = tmp_path / "xarray.h5"
    xr.DataTree.from_dict({"/": groups["/"], "/contacts": empty_contacts, "/curves": curves}).to_netcdf(
        ref, mode="w", engine="h5netcdf", encoding={"/": w._encoding(groups["/"], "frame", grown=False)})
    assert differences(ref, tmp_path / "w.h5") == []
