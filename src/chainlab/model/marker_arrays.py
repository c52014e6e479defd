"""Per-marker arrays of a capture's ``markers`` variable, from one read of it."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import xarray as xr


def marker_arrays(ds: xr.Dataset | xr.DataArray, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """``{n: ds.markers.sel(marker=n).values}`` for each of `names` that `ds` has (every marker
    of `ds` when None), in `names`' order: the same arrays (views of the variable's values)
    without xarray's selection by label, a millisecond each. A label `ds` holds twice is
    selected by xarray, as before. `ds`: a capture, or its ``markers`` variable itself."""
    da = ds.markers if isinstance(ds, xr.Dataset) else ds
    labels = [str(m) for m in da.marker.values]
    where: dict[str, int] = {}
    twice = set()
    for i, m in enumerate(labels):
        if m in where:
            twice.add(m)
        where[m] = i
    values = da.values
    lead = (slice(None),) * da.dims.index("marker")
    out = {}
    for n in (labels if names is None else names):
        if n in twice:
            out[n] = da.sel(marker=n).values
        elif n in where:
            out[n] = values[lead + (where[n],)]
    return out
