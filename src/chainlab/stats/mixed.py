"""Linear mixed-effects models with a random intercept per subject (statsmodels MixedLM).

Repeated cycles and trials of one subject are not independent (methods reference section 5):
``measure ~ predictors + (1 | subject)``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class MixedResult:
    formula: str
    table: pd.DataFrame  # term, estimate, se, ci_low, ci_high, p
    n_obs: int
    n_groups: int
    left_out: list[str] = field(default_factory=list)
    converged: bool = True


def mixed_model(data: pd.DataFrame, formula: str, group: str = "subject", alpha: float = 0.05) -> MixedResult:
    """Fit ``formula`` with a random intercept per `group`; rows with NaN in a used column
    are left out and counted in ``left_out``.

    Raises ValueError when fewer than two groups remain (no between-subject variance to
    estimate); the message says how many rows and groups there were.
    """
    import statsmodels.formula.api as smf
    from patsy import ModelDesc

    desc = ModelDesc.from_formula(formula)
    used = {f.name() for term in desc.lhs_termlist + desc.rhs_termlist for f in term.factors}
    used = {u.replace("C(", "").replace(")", "").split(",")[0].strip() for u in used} | {group}
    missing = sorted(u for u in used if u not in data.columns)
    if missing:
        raise ValueError(f"columns {missing} not in the data; it has {sorted(data.columns)}")
    keep = data[list(used)].notna().all(axis=1)
    left_out = [f"{int((~keep).sum())} of {len(data)} rows have NaN in {sorted(used)}"] if (~keep).any() else []
    d = data[keep]
    groups = d[group].nunique()
    if groups < 2:
        raise ValueError(f"{formula}: {len(d)} valid rows in {groups} {group}(s); a mixed model needs >= 2")
    model = smf.mixedlm(formula, d, groups=d[group])
    fit, errors = None, []
    for options in ({}, {"method": "nm", "maxiter": 5000}):  # statsmodels' default, then Nelder-Mead
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fit = model.fit(reml=True, **options)
                break
            except (np.linalg.LinAlgError, ValueError) as exc:
                errors.append(str(exc))
    if fit is None:
        raise ValueError(f"{formula}: the fit failed on {len(d)} rows in {groups} groups ({'; '.join(errors)})")
    ci = fit.conf_int(alpha)
    names = [n for n in fit.fe_params.index]
    table = pd.DataFrame({
        "term": names,
        "estimate": fit.fe_params.values,
        "se": fit.bse_fe.values,
        "ci_low": ci.loc[names, 0].values,
        "ci_high": ci.loc[names, 1].values,
        "p": fit.pvalues.loc[names].values,
    })
    return MixedResult(formula, table, len(d), groups, left_out, bool(fit.converged))
