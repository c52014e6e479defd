"""Statistics of a whole study from its per-cycle table and curves.

``metrics``: the per-cycle table (:func:`chainlab.gait.metrics.cycle_metrics`) with added
``subject``, ``condition`` and ``trial`` columns. ``curves``: (cycle, variable, percent) with
``subject`` and ``condition`` coordinates on ``cycle``. What cannot be tested (a condition
with one subject, a model with too few valid rows) is skipped and said in ``problems``; the
rest still runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from chainlab.stats import spm
from chainlab.stats.bands import bootstrap_band
from chainlab.stats.mixed import MixedResult, mixed_model

DEFAULT_MODELS = (
    "pelvic_tilt_mean_deg ~ peak_eversion_deg + C(condition)",
    "lordosis_mean_deg ~ peak_eversion_deg + C(condition)",
    "tibial_ir_excursion_lab_deg ~ eversion_excursion_deg + C(condition)",
)


@dataclass
class StudyStatistics:
    models: list[MixedResult] = field(default_factory=list)
    spm: dict[str, spm.SPMResult] = field(default_factory=dict)  # variable -> paired test
    bands: xr.Dataset | None = None  # mean, low, high per condition, variable, percent
    problems: list[str] = field(default_factory=list)


def study_statistics(metrics: pd.DataFrame, curves: xr.DataArray, models=DEFAULT_MODELS,
                     alpha: float = 0.05, n_permutations: int = 2000, seed: int = 0) -> StudyStatistics:
    out = StudyStatistics()
    n_cond = metrics.condition.nunique() if "condition" in metrics else 1
    for formula in models:
        f = formula if n_cond > 1 else formula.replace(" + C(condition)", "")
        try:
            res = mixed_model(metrics, f, alpha=alpha)
        except ValueError as exc:
            out.problems.append(f"model {f!r} not fitted: {exc}")
            continue
        out.models.append(res)
        out.problems += [f"model {f!r}: {x}" for x in res.left_out]

    conditions = sorted(np.unique(curves.condition.values)) if curves.sizes["cycle"] else []
    per_cond_subjects = {c: set(curves.subject.values[curves.condition.values == c]) for c in conditions}
    for c, subs in per_cond_subjects.items():
        if len(subs) < 2:
            out.problems.append(f"condition {c!r} has {len(subs)} subject(s); it is left out of the curve statistics")
    usable = [c for c in conditions if len(per_cond_subjects[c]) >= 2]

    # subject mean curves per condition
    means = curves.groupby(xr.DataArray(
        [f"{s}|{c}" for s, c in zip(curves.subject.values, curves.condition.values)], dims="cycle", name="key"
    )).mean("cycle") if curves.sizes["cycle"] else None
    if len(usable) == 2 and means is not None:
        a, b = usable
        both = sorted(per_cond_subjects[a] & per_cond_subjects[b])
        if len(both) >= 2:
            for var in curves["variable"].values:
                ya = np.stack([means.sel(key=f"{s}|{a}", variable=var).values for s in both])
                yb = np.stack([means.sel(key=f"{s}|{b}", variable=var).values for s in both])
                ok = np.isfinite(ya).all(axis=1) & np.isfinite(yb).all(axis=1)
                if ok.sum() < 2:
                    out.problems.append(f"SPM {var}: fewer than 2 subjects with complete curves")
                    continue
                out.spm[str(var)] = spm.paired(yb[ok], ya[ok], alpha=alpha, n_permutations=n_permutations, seed=seed)
        else:
            out.problems.append(f"SPM: {len(both)} subject(s) in both {a!r} and {b!r}; a paired test needs 2")
    elif len(usable) > 2:
        out.problems.append(f"SPM: {len(usable)} conditions; only two-condition comparisons are made")

    if usable:
        q = curves.sizes["percent"]
        data = np.full((3, len(usable), curves.sizes["variable"], q), np.nan)
        for i, c in enumerate(usable):
            sel = curves.condition.values == c
            for j in range(curves.sizes["variable"]):
                y = curves.values[sel, j]
                ok = np.isfinite(y).all(axis=1)
                if ok.sum() >= 2:
                    data[:, i, j] = bootstrap_band(y[ok], alpha=alpha, seed=seed,
                                                   groups=curves.subject.values[sel][ok])
        coords = {"condition": usable, "variable": curves["variable"].values, "percent": curves.percent.values}
        dims = ("condition", "variable", "percent")
        out.bands = xr.Dataset({k: (dims, data[i], {"units": "deg"}) for i, k in enumerate(("mean", "low", "high"))},
                               coords)
    return out
