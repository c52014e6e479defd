"""The store's tables along ``row`` (``/measures``, ``/tests``), its ``/problems`` table and the
metrics' columns of the config's own measures (:mod:`chainlab.io.study_store` writes them)."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import xarray as xr

from chainlab.problems import PROBLEM_COLUMNS, problems_table
from chainlab.schema import MEASURE_COLUMNS, METRIC_COLUMNS


def measures_table(trials) -> pd.DataFrame:
    """The trials' long tables of the config's measures, with subject, condition and trial."""
    parts = [t.measures.assign(subject=t.subject, condition=t.condition, trial=t.trial)
             for t in sorted(trials, key=lambda t: t.trial) if len(getattr(t, "measures", ()))]
    cols = ["subject", "condition", "trial"] + MEASURE_COLUMNS
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def own_columns(table: pd.DataFrame, long: pd.DataFrame) -> dict[str, str]:
    """The metrics' columns of the config's measures ({measure}_{units}, {measure}_s) and their units."""
    out = {}
    for col in table.columns:
        if col in METRIC_COLUMNS:
            continue
        units = ""
        for name, g in long.groupby("measure"):
            if col == f"{name}_s" and str(g.stat.iloc[0]).startswith("time_of"):
                units = "s"
                break
            if col == name or col.startswith(f"{name}_"):
                units = next((str(u) for u in g.units if isinstance(u, str) and u), "")
        out[col] = units or "1"
    return out


def own_metric_vars(table: pd.DataFrame, long: pd.DataFrame) -> dict:
    """The ``/metrics`` variables of the config's measures' per-cycle columns of `table` (with units)."""
    return {col: ("cycle", table[col].to_numpy(dtype=float), {"units": units, "long_name": f"{col} (config measures)"})
            for col, units in own_columns(table, long).items()}


def read_rows(path, group: str, engine: str) -> pd.DataFrame:
    """A store's table along ``row`` (``/measures``, ``/tests``); empty in a store without it."""
    with h5py.File(path, "r") as f:
        if group not in f:
            return pd.DataFrame()
    return xr.open_dataset(path, group=group, engine=engine).to_dataframe().reset_index(drop=True)


def rows_dataset(df: pd.DataFrame | None, what: str) -> xr.Dataset:
    """A table along ``row`` (text as strings, numbers as float; units, where a column has them, in
    the ``units`` column beside)."""
    df = pd.DataFrame() if df is None else df
    data = {}
    for c in df.columns:
        v = df[c]
        if v.dtype == object or v.dtype.kind in "OUSb":
            data[c] = ("row", v.fillna("").astype(str).to_numpy(dtype=str))
        elif v.dtype.kind in "iu":
            data[c] = ("row", v.to_numpy(dtype=np.int64))
        else:
            data[c] = ("row", v.to_numpy(dtype=float))
    ds = xr.Dataset(data, coords={"row": np.arange(len(df))}, attrs={"description": what})
    for c in ds.data_vars:
        units = "s" if c in ("start_s", "end_s", "time_s") else \
            "the row's units" if c in ("value", "estimate", "ci_low", "ci_high") else "1"
        ds[c].attrs.update(units=units, long_name=c.replace("_", " "))
    return ds


def problems_dataset(rows) -> xr.Dataset:
    """The store's ``/problems`` group: the problems table along ``problem``."""
    df = problems_table(rows)
    data = {c: ("problem", df[c].to_numpy(dtype=float if c == "value" else str),
                {"units": "1", "long_name": c}) for c in PROBLEM_COLUMNS}
    data["value"][2]["long_name"] = "the value found (units of the check; NaN: none)"
    return xr.Dataset(data, coords={"problem": np.arange(len(df))},
                      attrs={"description": "one row per problem of a computed trial; docs/schema.md, /problems"})
