"""A trial file written in one pass with h5py: the file ``DataTree.to_netcdf(engine="h5netcdf")``
writes, without its per-variable cost.

xarray's netCDF writer through h5netcdf spends 0.15-0.4 s on the two dozen variables of a
short trial's kinematics file (h5netcdf looks its dimension scales up by path, over a
thousand times), where the HDF5 writes themselves take 15 ms. Here the variables are CF
encoded by xarray's own functions (fill values, ``coordinates`` attributes, strings), and
written as h5netcdf writes them: link and attribute creation order tracked, every dimension
a dimension scale with its ``_Netcdf4Dimid`` (a dimension without a variable a float32
placeholder named as netCDF-C names it), ``_Netcdf4Coordinates`` on every variable with
dimensions, ``_FillValue`` as a one-element array, scalar attributes as one-element arrays,
strings as variable-length UTF-8, ``_NCProperties`` (naming chainlab) last. The file reads
back identical (tests/test_trial_file_writer.py compares every object and attribute with
xarray's).

:func:`write_groups` writes only what it knows: numeric, boolean and text variables (text
arrays or arrays of str objects) held in memory without an encoding of their own, the
chunking and gzip encodings of :class:`chainlab.io.trial_file.TrialWriter`, attributes of
text and numbers, a variable named as a dimension only when it is that dimension's
coordinate. Anything else, or an xarray whose internals moved, returns False with no file
left, and the caller writes with xarray.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import h5py
import numpy as np
import xarray as xr

from chainlab import __version__

NOT_A_VARIABLE = b"This is a netCDF dimension but not a netCDF variable."
_ENCODING_KEYS = {"chunksizes", "compression", "compression_opts", "shuffle"}


class _Unsupported(Exception):
    """Something this writer does not write: xarray writes the file instead."""


def _attr_value(value):
    """An attribute as h5netcdf gives it to h5py (non-text scalars as one-element arrays)."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        raise _Unsupported("attribute type")
    if isinstance(value, str):
        return value
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiuU" or arr.ndim > 1:
        raise _Unsupported("attribute type")
    if np.isscalar(value) and arr.dtype.kind != "U":
        return np.atleast_1d(value)
    return value


def _encoded(ds: xr.Dataset, encoding: Mapping[str, dict]) -> tuple[dict, dict]:
    """The group's variables and attributes as xarray's h5netcdf store receives them."""
    try:
        from xarray.backends.common import ensure_dtype_not_object
        from xarray.backends.netCDF4_ import _encode_nc4_variable, _get_datatype
        from xarray.conventions import cf_encoder, encode_dataset_coordinates
    except ImportError as exc:  # another xarray: its own writer
        raise _Unsupported("xarray internals") from exc
    for name, var in ds.variables.items():
        if not isinstance(name, str) or not name or "/" in name or var.encoding:
            raise _Unsupported("variable name or encoding")
        if not isinstance(var.data, np.ndarray) or var.dtype.kind not in "biufUO":
            raise _Unsupported("variable data")
        if var.dtype.kind == "O" and not all(isinstance(x, str) for x in var.data.flat):
            raise _Unsupported("objects other than text")
    for enc in encoding.values():
        if set(enc) - _ENCODING_KEYS:
            raise _Unsupported("encoding")
    variables, attrs = encode_dataset_coordinates(ds)
    for name, enc in encoding.items():
        variables[name].encoding = dict(enc)
    variables, attrs = cf_encoder(variables, attrs)
    out = {}
    for name, var in variables.items():
        var = _encode_nc4_variable(ensure_dtype_not_object(var, name=name), name=name)
        enc = dict(var.encoding)
        dtype = _get_datatype(var, nc_format="NETCDF4")
        v_attrs = dict(var.attrs)
        fill = v_attrs.pop("_FillValue", None)
        if dtype is not str and np.dtype(dtype).kind not in "fiu":
            raise _Unsupported("dtype")
        kwargs = {}
        if var.shape and enc.get("chunksizes") is not None:
            kwargs["chunks"] = tuple(enc["chunksizes"])
        if var.shape and enc.get("compression"):
            kwargs["compression"] = enc["compression"]
            if "compression_opts" in enc:
                kwargs["compression_opts"] = enc["compression_opts"]
        if var.shape and enc.get("shuffle"):
            kwargs["shuffle"] = True
        if any(not isinstance(k, str) or not k for k in v_attrs):
            raise _Unsupported("attribute name")
        out[name] = (var.dims, dtype, np.asarray(var.data), fill, kwargs,
                     {k: _attr_value(v) for k, v in v_attrs.items()})
    if any(not isinstance(k, str) or not k for k in attrs):
        raise _Unsupported("attribute name")
    return out, {k: _attr_value(v) for k, v in attrs.items()}


def _default_chunks(shape, dtype) -> tuple[int, ...]:
    """The chunks h5netcdf gives a variable along a dimension of size 0."""
    try:
        from h5netcdf.core import _get_default_chunksizes
    except ImportError as exc:  # another h5netcdf: xarray's writer
        raise _Unsupported("h5netcdf internals") from exc
    return _get_default_chunksizes(shape, dtype)


def _write_parts(ds: h5py.Dataset, parts: Iterable[np.ndarray]) -> None:
    """`parts` (arrays whose first axes add up to `ds`'s) written in turn into `ds`, a whole
    HDF5 chunk of rows at a time: no chunk is compressed twice, and memory holds one row of
    chunks and a part."""
    rows = ds.chunks[0] if ds.chunks else 0
    at, held, n_held = 0, [], 0
    for part in parts:
        if not rows:
            ds[at:at + len(part)] = part
            at += len(part)
            continue
        held.append(part)
        n_held += len(part)
        while n_held >= rows:
            block = np.concatenate(held) if len(held) > 1 else held[0]
            ds[at:at + rows] = block[:rows]
            at, held, n_held = at + rows, [block[rows:]], n_held - rows
    if n_held:
        ds[at:at + n_held] = np.concatenate(held) if len(held) > 1 else held[0]
        at += n_held
    if at != ds.shape[0]:
        raise ValueError(f"{ds.name}: {at} rows written; expected {ds.shape[0]}")


class _Writer:
    def __init__(self, f: h5py.File):
        self.f = f
        self.next_id = 0
        self.dims: dict[str, dict[str, tuple[h5py.Dataset, int]]] = {}  # group -> dim -> (scale, id)

    def _dim(self, group: str, name: str) -> tuple[h5py.Dataset, int]:
        path = group
        while True:  # the closest group defining it (a child group sees its parents' dimensions)
            if name in self.dims.get(path, {}):
                return self.dims[path][name]
            if path == "/":
                raise KeyError(name)
            path = path.rsplit("/", 1)[0] or "/"

    def group(self, path: str, variables: dict, attrs: dict, streams: Mapping | None = None) -> None:
        streams = streams or {}
        g = self.f if path == "/" else self.f.create_group(path, track_order=True)
        for k, v in attrs.items():
            g.attrs[k] = v
        parents: dict[str, int] = {}
        p = path
        while p != "/":
            p = p.rsplit("/", 1)[0] or "/"
            for k, (scale, _) in self.dims.get(p, {}).items():
                parents.setdefault(k, scale.shape[0])
        sizes: dict[str, int] = {}
        for dims, _, data, *_ in variables.values():
            sizes.update(zip(dims, data.shape))
        for name, (dims, *_) in variables.items():  # h5netcdf renames or re-scales these: xarray's path
            named_as_dim = name in sizes or name in parents
            if named_as_dim and (dims != (name,) or sizes.get(name) == parents.get(name)):
                raise _Unsupported("a variable named as a dimension it is not the own coordinate of")
        own = self.dims.setdefault(path, {})
        for dim, size in sizes.items():
            if size == parents.get(dim):
                continue
            # a dimension of size 0 is unlimited, as h5netcdf makes it
            scale = g.create_dataset(dim, shape=(size,), dtype=">f4", track_order=True,
                                     **({"maxshape": (None,)} if size == 0 else {}))
            scale.attrs["_Netcdf4Dimid"] = np.array(self.next_id, dtype=np.int32)
            scale.make_scale(NOT_A_VARIABLE + bytes(f"{size:10}", "ascii"))
            own[dim] = (scale, self.next_id)
            self.next_id += 1
        for name, (dims, dtype, data, fill, kwargs, v_attrs) in variables.items():
            h5dtype = h5py.string_dtype("utf-8") if dtype is str else dtype
            if dtype is str:
                data = data.astype(object)
            coordinate = name in own and dims == (name,)
            refs = []
            if coordinate:  # the placeholder scale gives way to the variable, keeping its id and references
                old, dim_id = own[name]
                refs = list(old.attrs.get("REFERENCE_LIST", []))
                for ref, axis in refs:
                    self.f[ref].dims[int(axis)].detach_scale(old)
                del g[name]
            if 0 in data.shape:  # along a dimension of size 0: unlimited, chunked as h5netcdf chunks it
                kwargs = {"maxshape": tuple(None if n == 0 else n for n in data.shape),
                          "chunks": kwargs.get("chunks") or _default_chunks(data.shape, h5dtype), **kwargs}
            ds = g.create_dataset(name, shape=data.shape, dtype=h5dtype, fillvalue=fill, track_order=True, **kwargs)
            ids = [self._dim(path, d)[1] for d in dims]
            if coordinate:
                ds.attrs["_Netcdf4Dimid"] = np.array(dim_id, dtype=np.int32)
                ds.make_scale(name)
                own[name] = (ds, dim_id)
                for ref, axis in refs:
                    self.f[ref].dims[int(axis)].attach_scale(ds)
            else:
                for n, d in enumerate(dims):
                    ds.dims[n].attach_scale(self._dim(path, d)[0])
            if ids:
                ds.attrs["_Netcdf4Coordinates"] = np.array(ids, dtype=np.int32)
                # netCDF's id of the first dimension, except (as h5netcdf) on a first dimension of size 0
                if not ds.attrs.get("_Netcdf4Dimid", False) and data.shape[0] != 0:
                    ds.attrs["_Netcdf4Dimid"] = np.array(ids[0], dtype=np.int32)
            if fill is not None:
                ds.attrs["_FillValue"] = fill if dtype is str else np.atleast_1d(np.dtype(dtype).type(fill))
            for k, v in v_attrs.items():
                ds.attrs[k] = v
            if name in streams:
                _write_parts(ds, streams[name])
            elif data.size:
                ds[...] = data


def write_groups(path: str | Path, groups: Mapping[str, xr.Dataset], encodings: Mapping[str, dict],
                 streams: Mapping[str, Mapping[str, Callable[[], Iterable[np.ndarray]]]] | None = None) -> bool:
    """Write `groups` ("/" first, then "/name", each a Dataset) to the new netCDF4 file `path`
    with `encodings` (group -> variable -> encoding), as ``DataTree.to_netcdf`` would; False
    (nothing written) when they hold what this writer does not write.

    `streams` (group -> variable -> a function returning its parts): those variables' values
    are the parts, along the first axis, read and written one after the other (their data in
    `groups` only gives shape and dtype: a zero-strided ``np.broadcast_to`` view costs no
    memory)."""
    streams = streams or {}
    try:
        encoded = {g: _encoded(ds, encodings.get(g, {})) for g, ds in groups.items()}
    except _Unsupported:
        return False
    if next(iter(encoded), "/") != "/":
        return False
    with h5py.File(path, "w", track_order=True) as f:
        w = _Writer(f)
        try:
            for g, (variables, attrs) in encoded.items():
                w.group(g, variables, attrs, {k: parts() for k, parts in streams.get(g, {}).items()})
        except _Unsupported:
            f.close()
            Path(path).unlink()
            return False
        props = f"version=2,chainlab={__version__},hdf5={h5py.version.hdf5_version},h5py={h5py.__version__}"
        f.attrs["_NCProperties"] = np.array(props, dtype=h5py.string_dtype(encoding="ascii", length=len(props)))
    return True
