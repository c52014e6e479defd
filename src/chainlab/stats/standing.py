"""The between-subject standing questions: ordinary least squares across subjects.

One row per subject (the store's ``/subjects``, :mod:`chainlab.subjects`); each question a
straight line ``response ~ predictor`` fitted by ordinary least squares over the subjects that
have both values, with the slope's 95 % confidence interval (t with n - 2 degrees of
freedom) and its p value. A question with fewer than :data:`MIN_SUBJECTS` such subjects, or
whose predictor does not vary, is skipped and says why; ``n`` is always stated.

The rearfoot angle and the arch height index of a subject are the mean of its two sides
(``rearfoot_to_floor_deg``, ``arch_height_index_pct``: :func:`chainlab.subjects.subjects_table`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

MIN_SUBJECTS = 3

#: (response, predictor) of each standing question.
QUESTIONS = (
    ("pelvic_tilt_deg", "rearfoot_to_floor_deg"),
    ("pelvic_tilt_deg", "arch_height_index_pct"),
    ("lumbar_curvature_deg", "rearfoot_to_floor_deg"),
    ("lumbar_curvature_deg", "arch_height_index_pct"),
    ("pelvic_obliquity_deg", "leg_length_difference_markers_mm"),
    ("pelvic_obliquity_deg", "leg_length_difference_processing_mm"),
)

COLUMNS = ["response", "predictor", "n", "intercept", "slope", "se", "ci_low", "ci_high", "p", "r2", "skipped"]


def ols(x: np.ndarray, y: np.ndarray, alpha: float = 0.05) -> dict:
    """Slope, intercept, the slope's standard error, its (1 - alpha) interval, p and r2 of
    y = a + b x (n >= 3, x not constant); NaN interval and p when the line fits exactly."""
    n = len(x)
    xm, ym = x.mean(), y.mean()
    sxx = float(((x - xm) ** 2).sum())
    b = float(((x - xm) * (y - ym)).sum() / sxx)
    a = float(ym - b * xm)
    resid = y - (a + b * x)
    sst = float(((y - ym) ** 2).sum())
    dof = n - 2
    s2 = float((resid**2).sum() / dof)
    se = float(np.sqrt(s2 / sxx))
    q = float(sps.t.ppf(1 - alpha / 2, dof))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = b / se if se > 0 else np.nan
    p = float(2 * sps.t.sf(abs(t), dof)) if np.isfinite(t) else np.nan
    return {"intercept": a, "slope": b, "se": se, "ci_low": b - q * se, "ci_high": b + q * se, "p": p,
            "r2": 1.0 - float((resid**2).sum()) / sst if sst > 0 else np.nan}


def standing_regressions(subjects: pd.DataFrame | None, questions=QUESTIONS, alpha: float = 0.05) -> pd.DataFrame:
    """One row per question (:data:`COLUMNS`): the fit, or NaN and the reason in ``skipped``."""
    rows = []
    for response, predictor in questions:
        row = {"response": response, "predictor": predictor, "n": 0, "skipped": ""}
        if subjects is None or response not in subjects or predictor not in subjects:
            row["skipped"] = f"the subjects table has no {response if subjects is None or response not in subjects else predictor}"
        else:
            d = subjects[[response, predictor]].astype(float).dropna()
            row["n"] = len(d)
            x, y = d[predictor].to_numpy(), d[response].to_numpy()
            if len(d) < MIN_SUBJECTS:
                row["skipped"] = (f"{len(d)} subject(s) with both {response} and {predictor}; "
                                  f"a line with an interval needs at least {MIN_SUBJECTS}")
            elif np.ptp(x) == 0:
                row["skipped"] = f"{predictor} is the same for every subject"
            else:
                row |= ols(x, y, alpha)
        rows.append({c: row.get(c, np.nan) for c in COLUMNS})
    return pd.DataFrame(rows, columns=COLUMNS)
