"""Statistics of a whole study from its per-cycle table and curves.

``metrics``: the per-cycle table (:func:`chainlab.gait.metrics.cycle_metrics`) with added
``subject``, ``condition`` and ``trial`` columns. ``curves``: (cycle, variable, percent) with
``subject`` and ``condition`` coordinates on ``cycle``. What cannot be tested (a condition
with one subject, a model with too few valid rows) is skipped and said in ``problems``; the
rest still runs. So is what is left out: cycles with NaN in a model's columns (by trial, side
and cycle), cycles with gaps left out of the bands, subjects left out of SPM, and, when the
trials are given, trials that gave no cycle (with their reasons) and trials that failed.

The default mixed models (:data:`DEFAULT_MODELS`) are fitted per cycle with a random
intercept per subject and one per trial within subject (``(1 | subject/trial)``,
:func:`chainlab.stats.mixed.mixed_model`): a trial's cycles share its foot placement, and its
left and right cycles overlap in time and share the pelvis and spine. They have ``C(side)``:
the left and right feet of one subject evert differently (the template subject of the
simulator: 1.6 deg) while the pelvis and spine they share are one, so without a side term the
side difference in eversion, with no difference in tilt, drags the slope to 0 (docs/gait.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from chainlab.stats import spm
from chainlab.stats.bands import bootstrap_band
from chainlab.schema import KINETIC_METRIC_COLUMNS
from chainlab.stats.mixed import MixedResult, formula_columns, mixed_model

DEFAULT_MODELS = (
    "pelvic_tilt_mean_deg ~ peak_eversion_deg + C(condition) + C(side)",
    "lordosis_mean_deg ~ peak_eversion_deg + C(condition) + C(side)",
    "tibial_ir_excursion_lab_deg ~ eversion_excursion_deg + C(condition) + C(side)",
    "tibial_ir_excursion_femur_deg ~ eversion_excursion_deg + C(condition) + C(side)",
    # the kinetic question: does the rearfoot's eversion go with the knee's load?
    "peak_knee_adduction_moment_1_Nm_kg ~ peak_eversion_deg + C(condition) + C(side)",
)


@dataclass
class StudyStatistics:
    models: list[MixedResult] = field(default_factory=list)
    spm: dict[str, spm.SPMResult] = field(default_factory=dict)  # variable -> paired test
    bands: xr.Dataset | None = None  # mean, low, high per condition, variable, percent
    problems: list[str] = field(default_factory=list)
    subjects: dict[str, int] = field(default_factory=dict)  # condition -> subjects in the per-cycle table


def _which_cycles(metrics: pd.DataFrame, rows: pd.Series, limit: int = 12) -> str:
    """' (trial side cycle, ...)' for the cycles at `rows`, when the table names its trials."""
    if "trial" not in metrics or not rows.any():
        return ""
    d = metrics[rows]
    names = [f"{t} {s} {int(c)}" for t, s, c in zip(d.trial, d.get("side", [""] * len(d)), d.get("cycle", [0] * len(d)))]
    more = f", and {len(names) - limit} more" if len(names) > limit else ""
    return f" ({', '.join(names[:limit])}{more})"


def _trial_problems(trials, failures) -> list[str]:
    """What the trials left out before the statistics: failed trials, trials without cycles."""
    out = [f"trial {f['trial']!r} left out: failed at {f['stage']}: {f['reason']}" for f in failures or ()]
    for trial, subject, condition, n_cycles, problems in trials or ():
        if n_cycles == 0:
            why = "; ".join(problems) or "no complete gait cycle"
            out.append(f"trial {trial!r} ({subject}, {condition}) gave no gait cycle and is left out: {why}")
    return out


def _no_kinetics(metrics: pd.DataFrame, formula: str) -> str:
    """Why a model of kinetic measures cannot be fitted ('' when it can): the study has no
    cycle with kinetic measures (the cycles' reasons, most frequent first)."""
    kinetic = sorted(formula_columns(formula) & set(KINETIC_METRIC_COLUMNS))
    if not kinetic:
        return ""
    if kinetic[0] in metrics and np.isfinite(metrics[kinetic].to_numpy(float)).all(axis=1).any():
        return ""
    reasons = metrics["kinetics_reason"].value_counts().index.tolist() if "kinetics_reason" in metrics else []
    return "the study has no kinetic measures" + (f" ({'; '.join(map(str, reasons[:3]))})" if reasons else "")


def study_statistics(metrics: pd.DataFrame, curves: xr.DataArray, models=DEFAULT_MODELS,
                     alpha: float = 0.05, n_permutations: int = 2000, seed: int = 0,
                     trials=None, failures=None) -> StudyStatistics:
    """Mixed models, SPM between two conditions and bootstrap bands (module docstring).

    `trials` (``(trial, subject, condition, number of cycles, gait problems)``) and
    `failures` (``{"trial", "stage", "reason"}``), when given, let ``problems`` say which
    trials contributed nothing and why.
    """
    out = StudyStatistics(problems=_trial_problems(trials, failures))
    if "subject" in metrics and "condition" in metrics:
        out.subjects = {str(c): int(g.subject.nunique()) for c, g in metrics.groupby(metrics.condition.astype(str))}
    nested = "trial" if "trial" in metrics else None
    for f in models:
        if why := _no_kinetics(metrics, f):
            out.problems.append(f"model {f!r} skipped: {why}")
            continue
        try:
            res = mixed_model(metrics, f, alpha=alpha, nested=nested)
        except ValueError as exc:
            out.problems.append(f"model {f!r} not fitted: {exc}")
            continue
        out.models.append(res)
        if not res.converged:
            out.problems.append(f"model {res.formula!r}: the fit did not converge (statsmodels); read it with care")
        for x in res.left_out:
            if "rows have NaN" in x:
                used = sorted(formula_columns(f) & set(metrics.columns))
                x += _which_cycles(metrics, metrics[used].isna().any(axis=1))
            out.problems.append(f"model {res.formula!r}: {x}")

    conditions = sorted(np.unique(curves.condition.values)) if curves.sizes["cycle"] else []
    per_cond_subjects = {c: set(curves.subject.values[curves.condition.values == c]) for c in conditions}
    for c, subs in per_cond_subjects.items():
        if len(subs) < 2:
            out.problems.append(f"condition {str(c)!r} has {len(subs)} subject(s); it is left out of the curve statistics")
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
                if not ok.all():
                    out.problems.append(f"SPM {var}: subject(s) {', '.join(str(s) for s, k in zip(both, ok) if not k)} "
                                        "left out (in a condition, every cycle has a gap somewhere in the curve)")
                out.spm[str(var)] = spm.paired(yb[ok], ya[ok], alpha=alpha, n_permutations=n_permutations, seed=seed)
        else:
            out.problems.append(f"SPM: {len(both)} subject(s) in both {str(a)!r} and {str(b)!r}; a paired test needs 2")
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
                if (~ok).any():
                    out.problems.append(f"bands {curves['variable'].values[j]} {str(c)!r}: {int((~ok).sum())} of "
                                        f"{len(ok)} cycles with gaps left out"
                                        + ("" if ok.sum() >= 2 else "; fewer than 2 remain, no band"))
                if ok.sum() >= 2:
                    data[:, i, j] = bootstrap_band(y[ok], alpha=alpha, seed=seed,
                                                   groups=curves.subject.values[sel][ok])
        coords = {"condition": usable, "variable": curves["variable"].values, "percent": curves.percent.values}
        dims = ("condition", "variable", "percent")
        out.bands = xr.Dataset({k: (dims, data[i], {"units": "deg"}) for i, k in enumerate(("mean", "low", "high"))},
                               coords)
    return out
