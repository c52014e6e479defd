"""Build an :class:`xarray.Dataset` from numpy arrays without importing dask.

``xr.Dataset(data_vars, coords)`` checks every array against dask's array type, and a
dimension coordinate's index is built through a chunked-array check; either imports dask
(0.2-0.3 s for ``dask.base``, about 1 s with ``dask.array``, on the first Dataset of a
process). The arrays here are numpy arrays, so the Variables are built with ``fastpath``
and the indexes from ``pandas.Index``; the result equals the plain constructor's (same
variables, dtypes, attributes and indexes; a test checks it).

Importing this module also makes xarray's own dask probes free while dask is not imported
(:func:`_quiet_dask_probes`), for the Datasets built and written elsewhere.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from xarray.core.indexing import ExplicitlyIndexed
from xarray.indexes import PandasIndex


def _quiet_dask_probes() -> None:
    """Make xarray's "is this dask?" probes free while dask is not imported.

    xarray asks them of nearly every array it handles (``Variable()``, ``isel`` with an
    array, ``sel``): ``array_type("dask")`` imports ``dask.array`` on its first call and
    ``is_dask_collection`` imports ``dask.base``, whenever dask is installed (about 1 s on
    the first call of a process; ``chainlab kinematics`` on a short trial otherwise spends
    a third of its time there). Its netCDF writer asks ``get_dask_scheduler`` (for its file
    lock, and to close the file between writes of dask arrays), which imports dask and
    distributed (0.5 s) even for a file of numpy arrays. No object can be a dask array before
    ``dask.array`` is imported, nor a dask collection, nor a dask scheduler be running, before
    ``dask`` is: until then the answers are "no" (no scheduler: the threaded lock, as xarray's
    own answer without a scheduler gives) and are given here, uncached; once dask is imported (a
    trial of several chunks, the study store's dask arrays) xarray's own probes answer and cache
    as before. Not applied where xarray's internals have moved (its probes are then used:
    slower, the same answers).
    """
    try:
        from xarray.backends import locks, writers
        from xarray.namedarray import pycompat, utils

        cached, collection = pycompat._get_cached_duck_array_module, utils.is_dask_collection
        absent = pycompat.DuckArrayModule.__new__(pycompat.DuckArrayModule)
        absent.module, absent.version, absent.type, absent.available = None, pycompat.Version("0.0.0"), (), False
    except (ImportError, AttributeError):  # pragma: no cover - another xarray
        return
    if getattr(cached, "_chainlab", False):
        return

    def duck_array_module(mod):
        return absent if mod == "dask" and "dask.array" not in sys.modules else cached(mod)

    def is_dask_collection(x) -> bool:
        return "dask" in sys.modules and collection(x)

    duck_array_module._chainlab = True
    pycompat._get_cached_duck_array_module = duck_array_module
    utils.is_dask_collection = is_dask_collection
    for module in (locks, writers):
        scheduler = getattr(module, "get_dask_scheduler", None)
        if scheduler is not None:
            module.get_dask_scheduler = _scheduler_probe(scheduler)


def _scheduler_probe(scheduler):
    def get_dask_scheduler(get=None, collection=None):
        return scheduler(get, collection) if "dask" in sys.modules else None

    return get_dask_scheduler


_quiet_dask_probes()


def _variable(name: str, spec: Any) -> xr.Variable:
    dims, values, *rest = spec
    dims = (dims,) if isinstance(dims, str) else tuple(dims)
    if isinstance(values, ExplicitlyIndexed):  # a lazily indexed array: kept lazy
        return xr.Variable(dims, values, dict(rest[0]) if rest else None, fastpath=True)
    values = np.asarray(values)
    if values.dtype.kind in "OMm":  # let xarray convert objects, datetimes and timedeltas
        return xr.Variable(dims, values, rest[0] if rest else None)
    return xr.Variable(dims, values, dict(rest[0]) if rest else None, fastpath=True)


def dataset(
    data_vars: Mapping[str, Any], coords: Mapping[str, Any], attrs: Mapping[str, Any] | None = None
) -> xr.Dataset:
    """``xr.Dataset(data_vars, coords, attrs)`` for (dims, numpy array[, attrs]) tuples."""
    variables: dict[str, xr.Variable] = {}
    indexes: dict[str, PandasIndex] = {}
    for name, spec in coords.items():
        var = _variable(name, spec)
        if var.dims == (name,) and var.dtype.kind not in "OMm":
            index = PandasIndex(pd.Index(var.values), name, coord_dtype=var.dtype)
            index_var = index.create_variables()[name]
            index_var.attrs.update(var.attrs)
            variables[name] = index_var
            indexes[name] = index
        else:
            variables[name] = var
    unindexed = [n for n, v in variables.items() if v.dims == (n,) and n not in indexes]
    if unindexed:  # objects or datetimes as dimension coordinates: the plain constructor
        return xr.Dataset(data_vars, coords, attrs)
    coord_obj = xr.Coordinates(variables, indexes=indexes)
    return xr.Dataset({n: _variable(n, s) for n, s in data_vars.items()}, coord_obj, attrs)
