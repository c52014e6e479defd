"""``chainlab query``: tables out of a study store for a statistician.

* ``--var`` names metrics columns (one row per cycle) or curve variables (one row per cycle
  and percent, with units): the chain's (``rearfoot_eversion``) and the kinetic curves
  (``HipMoment_x`` ... ``AnkleMoment_z``, ``HipPower``, ``KneePower``, ``AnklePower``);
  ``--curves JOINT --axis x`` the per-cycle curves of any joint of the store (each cycle's own
  side) as a long table: subject, condition, trial, side, cycle, percent, value, units. JOINT:
  an angle output (``KneeAngles``), a moment (``KneeMoment``) or a power (``KneePower``, no axis).
* ``--table measures|tests``: the store's ``/measures`` (the config's measures, a row per
  window) or ``/tests`` (``tests.csv``), ``--where`` on any of their columns; ``--table
  subjects``: ``/subjects`` (one row per subject), ``--var`` its columns, ``--where`` on subject.
* ``--where``: ``key=value`` items separated by commas, spaces around them ignored; a key
  takes several values with ``|`` (``subject=HC002D|HC030A``) or given twice.
* A name that is not in the store is refused with the closest names (``difflib``).
* ``-o FILE`` writes any format to FILE (csv, json, parquet); without it csv and json go to
  stdout. A query that matches no row writes the header alone and says so on stderr, exit 3.
"""

from __future__ import annotations

import difflib
import sys

import numpy as np
import pandas as pd
import xarray as xr

from chainlab.io.store import write_text_atomic
from chainlab.io.study_store import StoreError, Study, kinetic_curve_names, open_study

KEYS = ["subject", "condition", "trial", "side", "cycle_in_trial"]
CURVE_COLUMNS = ["subject", "condition", "trial", "side", "cycle", "percent", "value", "units"]
NOTHING_MATCHED = 3  # exit status of a query that matches no row (documented in --help)


def _near(name: str, names) -> str:
    """' (did you mean X?)' for the closest of `names`, '' if none is close."""
    close = difflib.get_close_matches(name, [str(n) for n in names], n=3, cutoff=0.6)
    if not close:
        close = [n for n in map(str, names) if n.lower() == name.lower()]
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def parse_list(text: str) -> list[str]:
    """'a, b,,c ' -> ['a', 'b', 'c']."""
    return [v.strip() for v in (text or "").split(",") if v.strip()]


def parse_where(text: str) -> dict[str, list[str]]:
    """'subject=A|B, side = Left' -> {'subject': ['A', 'B'], 'side': ['Left']}; a key given
    twice keeps both values. An item without '=' raises StoreError."""
    where: dict[str, list[str]] = {}
    for item in parse_list(text):
        key, eq, value = item.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise StoreError(f"--where item {item!r}: expected key=value (several values: key=A|B)")
        values = [v.strip() for v in value.split("|") if v.strip()]
        where.setdefault(key.strip(), [])
        where[key.strip()] += [v for v in values if v not in where[key.strip()]]
    return where


def _mask(table: pd.DataFrame, where: dict[str, list[str]]) -> np.ndarray:
    """Rows of `table` (with the KEYS columns) matching every key of `where`; unknown keys and
    values absent from the store are refused, naming the closest."""
    mask = np.ones(len(table), dtype=bool)
    for key, values in where.items():
        if key == "cycle":
            key = "cycle_in_trial"
        if key not in KEYS:
            raise StoreError(f"cannot filter on {key!r}{_near(key, KEYS + ['cycle'])}; use one of {KEYS}")
        have = table[key].astype(str).to_numpy()
        allowed = sorted(set(have))
        for v in values:
            if v not in allowed:
                raise StoreError(f"no {key} {v!r} in the store{_near(v, allowed)}; it has {allowed}")
        mask &= np.isin(have, values)
    return mask


def _check_variables(study: Study, variables: list[str], metrics: pd.DataFrame, curve_vars: list[str]) -> None:
    measures = sorted(set(metrics.columns) - set(KEYS) - {"cycle"})
    for v in variables:
        if v not in metrics.columns and v not in curve_vars:
            raise StoreError(f"unknown variable {v!r}{_near(v, measures + curve_vars)}; metrics: {measures}; "
                             f"curves: {curve_vars} (angle curves of a joint: --curves JOINT --axis x|y|z)")


def _curve(cycles: xr.Dataset, name: str) -> xr.DataArray:
    """The (cycle, percent) curves of a curve variable: a chain variable (``rearfoot_eversion``)
    or a kinetic curve (``KneeMoment_y``, ``AnklePower``), with its units."""
    if name in cycles["variable"].values:
        cur = cycles.curves.sel(variable=name)
    elif "Moment_" in name:
        joint, axis = name.split("_")
        cur = cycles.moment_curves.sel(moment_joint=joint, axis=axis)
    else:
        cur = cycles.power_curves.sel(power_joint=name)
    units = cur.attrs.get("units", "deg")
    cur = cur.drop_vars([c for c in ("variable", "moment_joint", "power_joint", "axis") if c in cur.coords])
    return cur.assign_attrs(units=units)


def query_table(study: Study, variables: list[str], where: dict[str, list[str]]) -> pd.DataFrame:
    """Rows of the per-cycle table for metrics columns, or of the curves (one row per cycle and
    percent, with units) for curve variables: the chain's (``rearfoot_eversion``) and the
    kinetic ones (``HipMoment_x`` ... ``AnklePower``), filtered by `where` (key -> accepted values)."""
    metrics = study.metrics
    cycles = study.cycles
    curve_vars = [str(v) for v in cycles["variable"].values]
    curve_vars += kinetic_curve_names() if "moment_curves" in cycles else []
    if not variables:
        raise StoreError("no variable asked for: --var NAME[,NAME...] or --curves JOINT")
    _check_variables(study, variables, metrics, curve_vars)
    mask = _mask(metrics, where)
    table_vars = [v for v in variables if v in metrics.columns]
    if len(table_vars) == len(variables):
        return metrics.loc[mask, KEYS + table_vars].reset_index(drop=True)
    if table_vars:
        raise StoreError(f"ask for per-cycle measures {table_vars} and curves "
                         f"{[v for v in variables if v not in table_vars]} in separate queries")
    rows = np.flatnonzero(mask)
    parts = []
    for v in variables:
        cur = _curve(cycles, v)
        df = cur.isel(cycle=rows).to_dataframe(name="value").reset_index()
        df["variable"], df["units"] = v, cur.attrs["units"]
        parts.append(df)
    return pd.concat(parts, ignore_index=True)[KEYS + ["variable", "percent", "value", "units"]]


def query(study: Study, variables: list[str], where: dict[str, str | list[str]]) -> pd.DataFrame:
    """:func:`query_table` with `where` values given as one value or a list of values."""
    return query_table(study, variables, {k: [v] if isinstance(v, str) else list(v) for k, v in where.items()})


def _joint_curves(study: Study, cycles: xr.Dataset, joint: str, axis: str | None) -> xr.DataArray:
    """(cycle, percent) curves of `joint` on `axis`: an angle output of ``angle_curves``
    (``KneeAngles``), a moment of ``moment_curves`` (``KneeMoment``) or a power of
    ``power_curves`` (``KneePower``, no axis); ``KneeMoment_y`` names its axis itself."""
    angles = [str(j) for j in cycles.angle_curves.joint.values] if "angle_curves" in cycles else []
    moments = [str(j) for j in cycles.moment_curves.moment_joint.values] if "moment_curves" in cycles else []
    powers = [str(j) for j in cycles.power_curves.power_joint.values] if "power_curves" in cycles else []
    if "_" in joint and joint.split("_")[0] in moments:
        joint, named = joint.split("_", 1)
        if axis and axis != named:
            raise StoreError(f"--curves {joint}_{named} with --axis {axis}: give the axis once")
        axis = named
    if joint in powers:
        if axis:
            raise StoreError(f"--axis {axis!r}: {joint} is one curve per cycle (a power has no axis)")
        return cycles.power_curves.sel(power_joint=joint)
    if joint in moments:
        source, dim = cycles.moment_curves, "moment_joint"
    elif joint in angles:
        source, dim = cycles.angle_curves, "joint"
    elif not angles:
        raise StoreError(f"{study.path}: /cycles has no angle_curves (a store written before they were kept); "
                         "rebuild it with `chainlab study`")
    else:
        every = angles + moments + powers
        raise StoreError(f"no joint {joint!r} in the store{_near(joint, every)}; it has {every}")
    axes = [str(a) for a in source.axis.values]
    axis = axis or "x"
    if axis not in axes:
        raise StoreError(f"--axis {axis!r}: expected one of {axes}")
    return source.sel({dim: joint, "axis": axis})


def angle_curves_table(study: Study, joint: str, axis: str | None, where: dict[str, list[str]]) -> pd.DataFrame:
    """One joint's per-cycle curves (the cycle's own side) as a long table: subject,
    condition, trial, side, cycle, percent, value, units. `joint`: an angle output
    (``KneeAngles``), a moment (``KneeMoment``, or ``KneeMoment_y``) or a power (``KneePower``);
    `axis` x, y or z (default x; none for a power)."""
    cycles = study.cycles
    cur = _joint_curves(study, cycles, joint, axis)
    ids = pd.DataFrame({k: np.asarray(cycles[k].values).astype(str if k != "cycle_in_trial" else int)
                        for k in KEYS})
    rows = np.flatnonzero(_mask(ids, where))
    values = np.asarray(cur.isel(cycle=rows).values, float)  # (cycle, percent)
    percent = np.asarray(cycles.percent.values, float)
    n, q = values.shape if values.ndim == 2 else (0, len(percent))
    sel = ids.iloc[rows]
    return pd.DataFrame({
        "subject": np.repeat(sel.subject.to_numpy(), q), "condition": np.repeat(sel.condition.to_numpy(), q),
        "trial": np.repeat(sel.trial.to_numpy(), q), "side": np.repeat(sel.side.to_numpy(), q),
        "cycle": np.repeat(sel.cycle_in_trial.to_numpy(), q), "percent": np.tile(percent, n),
        "value": values.reshape(-1), "units": cur.attrs.get("units", "deg"),
    }, columns=CURVE_COLUMNS)


ROW_TABLES = ("measures", "tests")


def row_table(study: Study, table: str, where: dict[str, list[str]]) -> pd.DataFrame:
    """The store's ``/measures`` or ``/tests`` table (:data:`ROW_TABLES`; ``--table``), filtered
    by `where` on its columns (``measure=grf_ml_min``, ``subject=HC030A``); StoreError naming
    the columns it has."""
    if table not in ROW_TABLES:
        raise StoreError(f"unknown table {table!r}; expected one of metrics, {', '.join(ROW_TABLES)}")
    df = study.measures if table == "measures" else study.tests
    for key, values in where.items():
        if key not in df.columns:
            raise StoreError(f"cannot filter /{table} on {key!r}{_near(key, list(df.columns))}; "
                             f"its columns: {list(df.columns)}")
        df = df[df[key].astype(str).isin(values)]
    return df.reset_index(drop=True)


def write_table(df: pd.DataFrame, fmt: str, output: str | None) -> None:
    """`df` as csv, json or parquet to `output` (a file, written whole or not at all) or stdout."""
    if fmt == "parquet":
        if not output:
            raise StoreError("--format parquet needs -o FILE")
        try:
            df.to_parquet(output)
        except ImportError as exc:
            raise StoreError(f"parquet needs pyarrow ({exc})") from None
        return
    text = df.to_csv(index=False) if fmt == "csv" else df.to_json(orient="records") + "\n"
    if output:
        write_text_atomic(text, output)
    else:
        sys.stdout.write(text)


def command(args) -> int:
    """``chainlab query`` (arguments of :func:`chainlab.cli.report.add_query`): 0 rows written,
    1 a name or value not in the store (with the closest names) or an unreadable store,
    2 usage, 3 nothing matched."""
    try:
        where = parse_where(args.where)
        study = open_study(args.store)
        table = getattr(args, "table", "metrics") or "metrics"
        if table == "subjects":  # --var picks its columns
            df, what = query_subjects(study, parse_list(args.var), where), "/subjects"
        elif table != "metrics":
            if args.var or getattr(args, "curves", None):
                raise StoreError(f"--table {table} and --var/--curves in separate queries")
            df, what = row_table(study, table, where), f"/{table}"
        elif getattr(args, "curves", None):
            if args.var:
                raise StoreError("--curves and --var in separate queries")
            df = angle_curves_table(study, args.curves.strip(), (args.axis or "").strip() or None, where)
            what = " ".join(x for x in (args.curves, args.axis) if x)
        else:
            df = query_table(study, parse_list(args.var), where)
            what = args.var
        write_table(df, args.format, args.output)
    except StoreError as exc:
        print(f"chainlab query: {exc}", file=sys.stderr)
        usage = ("needs -o", "--curves and --var", "--var/--curves in separate", "no variable asked for",
                 "expected key=value", "give the axis once", "a power has no axis")
        return 2 if any(u in str(exc) for u in usage) else 1
    if not len(df):
        said = ", ".join(f"{k}={'|'.join(v)}" for k, v in where.items()) or "no filter"
        print(f"chainlab query: no row of {args.store} matches {said} for {what}; "
              f"{'wrote the header alone to ' + args.output if args.output else 'header alone printed'} "
              f"(exit {NOTHING_MATCHED})", file=sys.stderr)
        return NOTHING_MATCHED
    return 0


def query_subjects(study: Study, variables: list[str], where: dict[str, list[str]]) -> pd.DataFrame:
    """Rows of ``/subjects`` (all columns, or `variables`), filtered by ``subject`` (``--table
    subjects``)."""
    df = study.subjects
    unknown = [v for v in variables if v not in df.columns]
    if unknown:
        raise StoreError(f"unknown subjects column(s) {unknown}; /subjects has {list(df.columns)}")
    bad = [k for k in where if k != "subject"]
    if bad:
        raise StoreError(f"cannot filter /subjects on {bad}; use subject")
    if "subject" in where:
        have = df.subject.astype(str)
        for s in where["subject"]:
            if s not in set(have):
                raise StoreError(f"no subject {s!r} in the store; it has {sorted(have)}")
        df = df[have.isin(where["subject"])]
    return df[["subject", *variables]].reset_index(drop=True) if variables else df.reset_index(drop=True)
