"""Linear mixed-effects models with a random intercept per subject (statsmodels MixedLM).

Repeated cycles and trials of one subject are not independent (methods reference section 5):
``measure ~ predictors + (1 | subject)``. Cycles of one trial are not independent either:
they share the trial's foot placement, speed and posture, and a left and a right cycle of
one trial overlap in time and share the pelvis and the spine (their pelvic tilt and lordosis
means are nearly the same numbers). With ``nested="trial"`` the model has a second random
intercept, per trial within subject: ``measure ~ predictors + (1 | subject/trial)``
(statsmodels: a variance component ``0 + C(trial)`` within the subject groups). Without it
the per-cycle rows count as independent evidence and the intervals are too narrow.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class MixedResult:
    formula: str  # the fixed part as fitted (terms with one level in the valid rows dropped)
    table: pd.DataFrame  # term, estimate, se, ci_low, ci_high, p
    n_obs: int
    n_groups: int
    left_out: list[str] = field(default_factory=list)
    converged: bool = True
    random: str = "(1 | subject)"  # the random part, lme4 notation
    n_nested: int = 0  # levels of the nested random intercept (trials), 0 without one


def _factor_column(name: str) -> str:
    return name.replace("C(", "").replace(")", "").split(",")[0].strip()


def _drop_term(formula: str, name: str) -> str:
    """`formula` without the term `name` (wherever it stands on the right-hand side)."""
    lhs, rhs = formula.split("~", 1)
    terms = [t.strip() for t in rhs.split("+")]
    kept = [t for t in terms if t != name]
    return f"{lhs.strip()} ~ {' + '.join(kept) or '1'}"


def formula_columns(formula: str) -> set[str]:
    """The data columns a model formula uses."""
    from patsy import ModelDesc

    desc = ModelDesc.from_formula(formula)
    return {_factor_column(f.name()) for term in desc.lhs_termlist + desc.rhs_termlist for f in term.factors}


def mixed_model(data: pd.DataFrame, formula: str, group: str = "subject", alpha: float = 0.05,
                nested: str | None = None) -> MixedResult:
    """Fit ``formula`` with a random intercept per `group` (and, with `nested`, one per level
    of that column within `group`); rows with NaN in a used column are left out and counted
    in ``left_out``.

    A categorical term ``C(x)`` whose column has a single level in the valid rows cannot be
    estimated; it is dropped and said in ``left_out``. The nested intercept is used only when
    some level of `nested` has more than one valid row (else it is the residual) and said in
    ``random``. Raises ValueError when fewer than two groups remain (no between-subject
    variance to estimate); the message says how many rows and groups there were.
    """
    import statsmodels.formula.api as smf
    from patsy import ModelDesc

    desc = ModelDesc.from_formula(formula)
    used = formula_columns(formula) | {group} | ({nested} if nested else set())
    missing = sorted(u for u in used if u not in data.columns)
    if missing:
        raise ValueError(f"columns {missing} not in the data; it has {sorted(data.columns)}")
    factors = {_factor_column(f.name()) for term in desc.rhs_termlist for f in term.factors
               if f.name().startswith("C(")} | {group} | ({nested} if nested else set())
    data = data.copy()
    for c in used - factors:  # a table concatenated with an empty (object) one: numbers as objects
        if data[c].dtype == object:
            try:
                data[c] = pd.to_numeric(data[c])
            except (ValueError, TypeError) as exc:
                raise ValueError(f"column {c!r} is not numeric ({exc})") from None
    keep = data[list(used)].notna().all(axis=1)
    left_out = [f"{int((~keep).sum())} of {len(data)} rows have NaN in {sorted(used)}"] if (~keep).any() else []
    d = data[keep]
    groups = d[group].nunique()
    if groups < 2:
        raise ValueError(f"{formula}: {len(d)} valid rows in {groups} {group}(s); a mixed model needs >= 2")
    for term in desc.rhs_termlist:
        for f in term.factors:
            name = f.name()
            if name.startswith("C(") and d[_factor_column(name)].nunique() < 2:
                levels = sorted(map(str, d[_factor_column(name)].unique()))
                formula = _drop_term(formula, name)
                left_out.append(f"{name} dropped: one level ({', '.join(levels)}) in the valid rows")
    random, vc, n_nested = f"(1 | {group})", None, 0
    if nested and d.groupby(nested).size().max() > 1:
        vc = {nested: f"0 + C({nested})"}
        random, n_nested = f"(1 | {group}/{nested})", int(d[nested].nunique())
    model = smf.mixedlm(formula, d, groups=d[group], vc_formula=vc)
    fit, errors = None, []
    # statsmodels' default, then Nelder-Mead and Powell while the fit fails or does not converge
    for options in ({}, {"method": "nm", "maxiter": 5000}, {"method": "powell", "maxiter": 5000}):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                attempt = model.fit(reml=True, **options)
            except (np.linalg.LinAlgError, ValueError) as exc:
                errors.append(str(exc))
                continue
        if fit is None or (attempt.converged and not fit.converged):
            fit = attempt
        if fit.converged:
            break
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
    return MixedResult(formula, table, len(d), groups, left_out, bool(fit.converged), random, n_nested)
