"""Tests between conditions on user-defined measures: the config's ``tests:``.

::

    tests:
      - {measure: grf_ml_min, compare: condition, test: paired_t, exclude: [HC002D25]}
      - {measure: hip_add_max, compare: condition, test: wilcoxon}
      - {measure: knee_flx_fs, compare: condition, test: mixed}

``test`` is

* ``paired_t``: Student's paired t-test (:func:`scipy.stats.ttest_rel`) over the subjects'
  means, one per subject and level (the mean of that subject's windows in that level); only
  subjects with both levels count. ``estimate`` is the mean difference (second level minus
  first) with its t interval.
* ``wilcoxon``: the Wilcoxon signed-rank test (:func:`scipy.stats.wilcoxon`, two-sided, exact
  for small n without ties) on the same subject means; ``estimate`` is the median difference,
  no interval.
* ``mixed``: ``value ~ C(compare) + (1 | subject)`` on every window
  (:func:`chainlab.stats.mixed.mixed_model`; with a ``trial`` column a random intercept per
  trial within subject is added when some trial has more than one window); ``estimate`` is the
  second level's coefficient with its Wald interval, ``statistic`` its z.

``levels: [A, B]`` chooses and orders the two levels compared (default: the two the data have,
sorted); ``exclude`` lists trial ids (the ``trial`` column, or its file's stem) whose windows are
left out of that test. The result (:func:`run_tests`) has one row per test with
:data:`COLUMNS`: what was excluded and what was left out (NaN values, subjects with one level)
are said in ``excluded`` and ``left_out``, so the table can be written as ``tests.csv`` as is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePath

import numpy as np
import pandas as pd
from scipy import stats

from chainlab.measure_specs import parse_tests  # the config's list parsed there (chainlab.config checks it)
from chainlab.stats.mixed import mixed_model

COLUMNS = ["measure", "test", "compare", "level_1", "level_2", "n", "statistic", "p", "estimate", "ci_low", "ci_high",
           "alpha", "units", "n_windows", "excluded", "left_out"]


def _trial_ids(trial: pd.Series) -> pd.Series:
    return trial.astype(str).map(lambda s: PurePath(s).stem)


def _select(table: pd.DataFrame, t: dict) -> tuple[pd.DataFrame, list[str], list[str], list]:
    """The test's rows, what `exclude` removed, what else was left out, and the two levels."""
    need = {"measure", "value", "subject", t["compare"]}
    missing = sorted(need - set(table.columns))
    if missing:
        raise ValueError(f"test of {t['measure']!r}: the measures table lacks columns {missing}; "
                         f"it has {sorted(table.columns)}")
    d = table[table.measure == t["measure"]]
    excluded: list[str] = []
    if t["exclude"]:
        if "trial" not in d.columns:
            raise ValueError(f"test of {t['measure']!r}: exclude needs a trial column in the measures table")
        ids, raw = _trial_ids(d.trial), d.trial.astype(str)
        drop = ids.isin(t["exclude"]) | raw.isin(t["exclude"])
        found = sorted(set(ids[drop]))
        excluded = [f"{x} ({int((ids[drop] == x).sum())} windows)" for x in found]
        excluded += [f"{x} (not in the table)" for x in t["exclude"] if x not in found and x not in set(raw[drop])]
        d = d[~drop]
    left: list[str] = []
    nan = d.value.isna()
    if nan.any():
        left.append(f"{int(nan.sum())} of {len(d)} windows without a value (their reasons are in the measures "
                    f"table)")
        d = d[~nan]
    levels = t["levels"] or sorted(d[t["compare"]].dropna().unique().tolist(), key=str)
    if len(levels) != 2:
        raise ValueError(f"test of {t['measure']!r}: {t['compare']} has levels {levels} in the valid rows; "
                         f"a test between conditions needs exactly two (give levels: [A, B])")
    d = d[d[t["compare"]].isin(levels)]
    return d, excluded, left, levels


def _paired(d: pd.DataFrame, compare: str, levels: list, left: list[str]) -> tuple[np.ndarray, np.ndarray]:
    means = d.groupby(["subject", compare])["value"].mean().unstack(compare)
    for lev in levels:
        if lev not in means:
            means[lev] = np.nan
    one = means[levels].isna().any(axis=1)
    if one.any():
        left.append(f"subjects with one level only: {', '.join(map(str, means.index[one]))}")
    both = means[~one]
    return both[levels[0]].to_numpy(float), both[levels[1]].to_numpy(float)


def run_test(table: pd.DataFrame, t: dict) -> dict:
    """One test (a parsed entry of ``tests:``) on the long measures table (columns measure,
    value, units, subject, trial and the `compare` column): a row of :data:`COLUMNS`."""
    d, excluded, left, levels = _select(table, t)
    units = next((u for u in d.get("units", pd.Series(dtype=str)) if isinstance(u, str) and u), "")
    row = {"measure": t["measure"], "test": t["test"], "compare": t["compare"], "level_1": str(levels[0]),
           "level_2": str(levels[1]), "n": 0, "statistic": np.nan, "p": np.nan, "estimate": np.nan,
           "ci_low": np.nan, "ci_high": np.nan, "alpha": t["alpha"], "units": units, "n_windows": len(d),
           "excluded": "; ".join(excluded), "left_out": ""}
    if t["test"] in ("paired_t", "wilcoxon"):
        a, b = _paired(d, t["compare"], levels, left)
        row["n"] = len(a)
        if len(a) < 2:
            left.append(f"{len(a)} subject(s) with both levels; the test needs 2")
        elif t["test"] == "paired_t":
            res = stats.ttest_rel(b, a)
            ci = res.confidence_interval(1.0 - t["alpha"])
            row.update(statistic=float(res.statistic), p=float(res.pvalue), estimate=float(np.mean(b - a)),
                       ci_low=float(ci.low), ci_high=float(ci.high))
        elif not np.any(b - a):
            left.append("every subject's difference is 0; the signed-rank test is undefined")
        else:
            res = stats.wilcoxon(b, a)
            row.update(statistic=float(res.statistic), p=float(res.pvalue), estimate=float(np.median(b - a)))
    else:
        m = d.assign(_level=pd.Categorical(d[t["compare"]], categories=levels))
        nested = "trial" if "trial" in m.columns else None
        try:
            fit = mixed_model(m, "value ~ C(_level)", group="subject", alpha=t["alpha"], nested=nested)
        except ValueError as exc:
            left.append(str(exc))
        else:
            term = fit.table[fit.table.term.str.startswith("C(_level)")]
            left += fit.left_out
            if not fit.converged:
                left.append("the mixed model did not converge")
            if len(term):
                r = term.iloc[0]
                row.update(n=fit.n_obs, statistic=float(r.estimate / r.se) if r.se > 0 else np.nan, p=float(r.p),
                           estimate=float(r.estimate), ci_low=float(r.ci_low), ci_high=float(r.ci_high))
            row["test"] = f"mixed {fit.random}"
    row["left_out"] = "; ".join(left)
    return row


def run_tests(tests: Sequence[Mapping], table: pd.DataFrame) -> pd.DataFrame:
    """Every test of the config's ``tests:`` on the long measures table of the study (rows of
    :func:`chainlab.gait.measures.compute_measures` with ``subject``, ``trial`` and the compared
    column added): one row per test, columns :data:`COLUMNS` (``tests.csv``)."""
    parsed = parse_tests(tests, sorted(set(table.measure)) if "measure" in table else None)
    return pd.DataFrame([run_test(table, t) for t in parsed], columns=COLUMNS)
