"""Build an :class:`xarray.Dataset` from numpy arrays without importing dask.

``xr.Dataset(data_vars, coords)`` checks every array against dask's array type, and a
dimension coordinate's index is built through a chunked-array check; either imports dask
(0.2-0.3 s for ``dask.base``, about 1 s with ``dask.array``, on the first Dataset of a
process). The arrays here are numpy arrays, so the Variables are built with ``fastpath``
and the indexes from ``pandas.Index``; the result equals the plain constructor's (same
variables, dtypes, attributes and indexes; a test checks it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from xarray.indexes import PandasIndex


def _variable(name: str, spec: Any) -> xr.Variable:
    dims, values, *rest = spec
    dims = (dims,) if isinstance(dims, str) else tuple(dims)
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
