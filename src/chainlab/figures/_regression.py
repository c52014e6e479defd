"""Per-cycle measures against each other with the store's mixed-model fit."""

from __future__ import annotations

import json
import re

import numpy as np
import plotly.graph_objects as go

from chainlab.figures._style import MAX_POINTS, colours, layout, shown, thin
from chainlab.io.study_store import StoreError, Study
from chainlab.schema import column_units

UNITS = {"peak_eversion_deg": "peak rearfoot eversion (deg)",
         "pelvic_tilt_mean_deg": "mean pelvic tilt over the cycle, anterior + (deg)",
         "lordosis_mean_deg": "mean lordosis over the cycle (deg)",
         "eversion_excursion_deg": "eversion excursion (deg)",
         "tibial_ir_excursion_lab_deg": "tibial internal-rotation excursion, lab (deg)",
         "peak_knee_adduction_moment_1_Nm_kg": "peak knee adduction moment, first half of stance (N m/kg)"}

SHORT = {"peak_eversion_deg": "peak rearfoot eversion", "pelvic_tilt_mean_deg": "Mean pelvic tilt",
         "lordosis_mean_deg": "Mean lordosis", "eversion_excursion_deg": "eversion excursion",
         "tibial_ir_excursion_lab_deg": "Tibial internal-rotation excursion",
         "peak_knee_adduction_moment_1_Nm_kg": "Peak knee adduction moment (first)"}


def model_terms(study: Study, response: str, predictor: str) -> tuple[str, dict[str, dict[str, float]]]:
    """The fixed effects of the store's mixed model ``response ~ predictor [+ C(condition)] [+ C(side)]``:
    (formula, {term: {estimate, ci_low, ci_high, p}}). Raises StoreError naming the models
    the store has when there is none such."""
    st = study.statistics
    models = sorted({str(m) for m in st.model.values}) if "model" in st.coords else []
    pattern = re.compile(rf"^{re.escape(response)}\s*~\s*{re.escape(predictor)}(\s*\+\s*C\(condition\))?"
                         r"(\s*\+\s*C\(side\))?$")
    match = [m for m in models if pattern.match(m)]
    if not match:
        raise StoreError(f"{study.path}: /statistics has no mixed model '{response} ~ {predictor} "
                         f"[+ C(condition)] [+ C(side)]'; it has {models or 'none'} (problems: {st.attrs.get('problems', '[]')})")
    rows = np.flatnonzero(st.model.values == match[0])
    terms = {str(st.term.values[i]): {k: float(st[k].values[i]) for k in ("estimate", "ci_low", "ci_high", "p")}
             for i in rows}
    return match[0], terms


def random_part(study: Study, formula: str) -> str:
    """The random intercepts of the store's model `formula`, lme4 notation (stores written
    before they were recorded: a random intercept per subject)."""
    st = study.statistics
    if "random" not in st.coords:
        return "(1 | subject)"
    return str(st.random.values[np.flatnonzero(st.model.values == formula)[0]])


def describe_model(study: Study, response: str, predictor: str = "peak_eversion_deg") -> str:
    """The store's model as it was fitted, in a sentence for a caption: formula with its random
    part, and the cycles and subjects it had; or why there is none."""
    try:
        formula, _ = model_terms(study, response, predictor)
    except StoreError:
        problems = json.loads(study.statistics.attrs.get("problems", "[]"))
        why = [p for p in problems if response in p and "model" in p]
        return f"This store has no such model{': ' + '; '.join(why) if why else ''}."
    m = study.metrics
    used = [c for c in (response, predictor, "condition", "side", "subject", "trial")
            if c in m.columns and (c in formula or c in ("subject", "trial"))]
    rows = m[used].notna().all(axis=1)
    return (f"Fitted in this store: {formula} + {random_part(study, formula)}, on {int(rows.sum())} cycles of "
            f"{m.subject[rows].nunique()} subjects.")


def fit_lines(study: Study, response: str, predictor: str) -> dict[str, tuple[float, float]]:
    """Per condition, the mixed model's fixed-effect line (intercept, slope): the intercept
    plus the condition's effect (the first condition in sorted order is the reference) plus,
    in a model with side, the side effects weighted by the condition's cycles of each side."""
    _, terms = model_terms(study, response, predictor)
    slope = terms[predictor]["estimate"]
    base = terms["Intercept"]["estimate"]
    m = study.metrics
    conds = sorted(set(m.condition.astype(str)))
    sides = {t[len("C(side)[T."):-1]: v["estimate"] for t, v in terms.items() if t.startswith("C(side)[T.")}
    out = {}
    for c in conds:
        share = m.side[m.condition.astype(str) == c].astype(str).value_counts(normalize=True)
        shift = sum(share.get(s, 0.0) * e for s, e in sides.items())
        out[c] = (base + terms.get(f"C(condition)[T.{c}]", {"estimate": 0.0})["estimate"] + shift, slope)
    return out


def scatter_fit(study: Study, response: str, predictor: str = "peak_eversion_deg") -> go.Figure:
    """One point per cycle (`predictor` against `response`), coloured by condition, with the
    mixed model's fixed-effect line for each condition over that condition's range."""
    m = study.metrics
    missing = [c for c in (response, predictor) if c not in m.columns]
    if missing:
        raise StoreError(f"{study.path}: /metrics has no {missing}")
    problems = json.loads(study.statistics.attrs.get("problems", "[]"))  # a store without the group raises
    try:
        formula, terms = model_terms(study, response, predictor)
        lines = fit_lines(study, response, predictor)
    except StoreError:  # not fitted (too few subjects, ...): the dots, and why
        formula, terms = "", {}
        lines = {c: None for c in sorted(set(m.condition.astype(str)))}
        why = "<br>".join([f"no mixed model {response} ~ {predictor} in the store"]
                          + [p for p in problems if response in p])
    col = colours(lines)
    fig = go.Figure()
    for c, line in lines.items():
        d = m[(m.condition.astype(str) == c) & m[response].notna() & m[predictor].notna()]
        dots = d.iloc[thin(len(d), MAX_POINTS)]  # the fit is the model's, of every cycle
        text = (dots.subject.astype(str) + " " + dots.trial.astype(str) + " " + dots.side.astype(str)).to_numpy()
        fig.add_trace(go.Scatter(x=dots[predictor].to_numpy(float), y=dots[response].to_numpy(float),
                                 mode="markers",
                                 marker={"color": col[c], "size": 8, "line": {"width": 0.5, "color": "white"}},
                                 name=f"{c} cycles ({shown(len(dots), len(d))})", legendgroup=c, text=text,
                                 hovertemplate=f"%{{text}}<br>x %{{x:.2f}} {column_units(predictor)}"
                                               f"<br>y %{{y:.2f}} {column_units(response)}"))
        if len(d) and line is not None:
            a, b = line
            x = np.array([d[predictor].min(), d[predictor].max()], float)
            fig.add_trace(go.Scatter(x=x, y=a + b * x, mode="lines", line={"color": col[c], "width": 2.5},
                                     name=f"{c} mixed-model fit", legendgroup=c, meta={"slope": b, "intercept": a}))
    fig.update_xaxes(title=UNITS.get(predictor, predictor))
    fig.update_yaxes(title=UNITS.get(response, response))
    if not terms:
        fig.add_annotation(text=why, xref="paper", yref="paper", x=0.5, y=1.0, showarrow=False)
        return layout(fig, f"{SHORT.get(response, response)} against {SHORT.get(predictor, predictor)}, "
                      "per cycle (no mixed model in the store)", height=550)
    t = terms[predictor]
    title = (f"{SHORT.get(response, response)} against {SHORT.get(predictor, predictor)}, per cycle"
             f"<br><sup>mixed model {formula} + {random_part(study, formula)}</sup>"
             f"<br><sup>slope {t['estimate']:.3f} {column_units(response)} per {column_units(predictor)} (95 % CI {t['ci_low']:.3f} to {t['ci_high']:.3f}, "
             f"p = {t['p']:.3g})</sup>")
    return layout(fig, title, height=570, margin={"t": 100})
