"""The study store's ``/subjects`` group and the standing questions of ``/statistics``
(:mod:`chainlab.io.study_store` writes them; docs/schema.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr


def standing_dataset(table: pd.DataFrame | None) -> xr.Dataset:
    """The between-subject standing questions (:func:`chainlab.stats.standing.standing_regressions`)
    as variables along ``standing_row`` of ``/statistics``; empty without them."""
    if table is None or not len(table):
        return xr.Dataset()
    unit = "units of the response per unit of the predictor"
    num = {"standing_intercept": ("intercept", "units of the response", "intercept"),
           "standing_slope": ("slope", unit, "ordinary least squares slope across subjects"),
           "standing_se": ("se", unit, "standard error of the slope"),
           "standing_ci_low": ("ci_low", unit, "95 % confidence interval of the slope, low (t, n - 2 df)"),
           "standing_ci_high": ("ci_high", unit, "95 % confidence interval of the slope, high (t, n - 2 df)"),
           "standing_p": ("p", "1", "p value of the slope (t, n - 2 df)"),
           "standing_r2": ("r2", "1", "coefficient of determination")}
    ds = xr.Dataset({k: ("standing_row", table[c].to_numpy(float), {"units": u, "long_name": n})
                     for k, (c, u, n) in num.items()})
    return ds.assign_coords(
        standing_response=("standing_row", table.response.to_numpy(str)),
        standing_predictor=("standing_row", table.predictor.to_numpy(str)),
        standing_n=("standing_row", table.n.to_numpy(np.int64), {"units": "1", "long_name": "subjects in the fit"}),
        standing_skipped=("standing_row", table.skipped.to_numpy(str),
                          {"units": "1", "long_name": "why the question was not fitted (empty: fitted)"}))


def subjects_dataset(table: pd.DataFrame | None) -> xr.Dataset:
    """The ``/subjects`` group from a one-row-per-subject table (:func:`chainlab.subjects.subjects_table`;
    units from its ``attrs["units"]``); empty (dim ``subject`` of length 0) without one."""
    if table is None:
        return xr.Dataset(coords={"subject": np.array([], dtype=str)})
    units = table.attrs.get("units", {})
    out = {}
    for c in table.columns:
        if c == "subject":
            continue
        if not pd.api.types.is_numeric_dtype(table[c]):
            out[c] = ("subject", table[c].to_numpy(str), {"units": "1", "long_name": c.replace("_", " ")})
        else:
            out[c] = ("subject", table[c].to_numpy(float), {"units": units.get(c, "1"), "long_name": c.replace("_", " ")})
    ds = xr.Dataset(out, coords={"subject": table.subject.to_numpy(str)})
    ds.attrs["description"] = "one row per subject: the standing chain (static trial) and gait symmetry indices"
    return ds
