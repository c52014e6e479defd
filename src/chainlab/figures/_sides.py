"""Figures of each side apart and of the subjects: curves per side, the standing chain.

They read the store only (``/cycles``, ``/subjects``, ``/statistics/standing_*``).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from chainlab.figures._curves import _variable
from chainlab.figures._style import LABELS, PERCENT_CYCLE, SIDE_COLOURS, TITLES, colours, layout, note, rgba
from chainlab.io.study_store import Study

SIDES = ("Left", "Right")
#: Axis titles of the subjects' columns, with units.
SUBJECT_LABELS = {
    "pelvic_tilt_deg": "standing pelvic tilt, anterior + (deg)",
    "lumbar_curvature_deg": "standing lumbar curvature, lordosis + (deg)",
    "pelvic_obliquity_deg": "standing pelvic obliquity, left up + (deg)",
    "rearfoot_to_floor_deg": "rearfoot to floor (HFTFL y), mean of sides (deg)",
    "arch_height_index_pct": "arch height index, mean of sides, of foot length (%)",
    "leg_length_difference_markers_mm": "leg-length difference L - R, markers (mm)",
    "leg_length_difference_processing_mm": "leg-length difference L - R, PROCESSING (mm)",
}


def curves_by_side(study: Study, variable: str) -> go.Figure:
    """Mean ± SD of `variable` over the cycles of each side, one panel per side, one trace
    per condition: the left and right cycles apart."""
    curve, cycles = _variable(study, variable)
    y = curve.values
    cond = cycles.condition.values.astype(str)
    side = cycles.side.values.astype(str)
    subject = cycles.subject.values.astype(str)
    pct = cycles.percent.values
    conds = sorted(set(cond))
    col = colours(conds)
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.06,
                        subplot_titles=[f"{s} cycles" for s in SIDES])
    drawn = 0
    for j, s in enumerate(SIDES, 1):
        for c in conds:
            sel = (cond == c) & (side == s)
            v = y[sel]
            keep = np.isfinite(v).all(axis=1)
            v = v[keep]
            if not len(v):
                continue
            n_sub = len(set(subject[sel][keep]))
            mean, sd = v.mean(axis=0), (v.std(axis=0, ddof=1) if len(v) > 1 else np.zeros_like(v[0]))
            fig.add_trace(go.Scatter(x=np.r_[pct, pct[::-1]], y=np.r_[mean + sd, (mean - sd)[::-1]], fill="toself",
                                     fillcolor=rgba(col[c], 0.18), line={"width": 0}, hoverinfo="skip",
                                     name=f"{c} ± SD", legendgroup=c, showlegend=j == 1), row=1, col=j)
            fig.add_trace(go.Scatter(x=pct, y=mean, mode="lines", line={"color": col[c], "width": 2.5},
                                     name=f"{c} {s} mean ({len(v)} cycles, {n_sub} subjects)", legendgroup=c),
                          row=1, col=j)
            drawn += 1
    if not drawn:
        note(fig, f"no complete {variable} curve in the store")
    fig.update_xaxes(title=PERCENT_CYCLE, range=[0, 100])
    fig.update_yaxes(title=LABELS.get(variable, f"{variable} (deg)"), row=1, col=1)
    return layout(fig, f"{TITLES.get(variable, variable)} over the gait cycle, left and right apart", width=1000)


def standing_fits(study: Study) -> list[dict]:
    """The store's standing questions: response, predictor, n, slope, CI, p, intercept, skipped."""
    st = study.statistics
    if "standing_slope" not in st:
        return []
    return [{"response": str(r), "predictor": str(p), "n": int(n), "slope": float(b), "ci_low": float(lo),
             "ci_high": float(hi), "p": float(pv), "intercept": float(a), "skipped": str(sk)}
            for r, p, n, b, lo, hi, pv, a, sk in zip(
                st.standing_response.values, st.standing_predictor.values, st.standing_n.values,
                st.standing_slope.values, st.standing_ci_low.values, st.standing_ci_high.values, st.standing_p.values,
                st.standing_intercept.values, st.standing_skipped.values)]


def standing_chain(study: Study) -> go.Figure:
    """One panel per standing question: one dot per subject (hover: its name) and the
    ordinary least squares line across subjects; the panel title gives n, the slope, its
    95 % CI and p, or why the question was skipped."""
    subjects = study.subjects
    fits = standing_fits(study)
    if not fits:
        fig = go.Figure()
        note(fig, "no standing questions in the store (/statistics/standing_*)")
        return layout(fig, "The standing chain across subjects")
    rows = -(-len(fits) // 2)
    titles = []
    for f in fits:
        if f["skipped"]:
            titles.append(f"n = {f['n']}: not fitted")
        else:
            titles.append(f"n = {f['n']}: slope {f['slope']:.2g} [{f['ci_low']:.2g}, {f['ci_high']:.2g}], p {f['p']:.2g}")
    fig = make_subplots(rows=rows, cols=2, subplot_titles=titles, vertical_spacing=0.14, horizontal_spacing=0.12)
    dot = SIDE_COLOURS["Left"]
    for k, f in enumerate(fits):
        r, c = k // 2 + 1, k % 2 + 1
        x = subjects[f["predictor"]].to_numpy(float) if f["predictor"] in subjects else np.zeros(0)
        y = subjects[f["response"]].to_numpy(float) if f["response"] in subjects else np.zeros(0)
        fig.add_trace(go.Scatter(x=x, y=y, mode="markers", marker={"color": dot, "size": 9},
                                 text=subjects.subject.astype(str).tolist(), hovertemplate="%{text}: (%{x:.3g}, %{y:.3g})",
                                 name="subjects", showlegend=k == 0, legendgroup="s"), row=r, col=c)
        ok = np.isfinite(x) & np.isfinite(y)
        if not f["skipped"] and ok.any():
            xs = np.array([x[ok].min(), x[ok].max()])
            fig.add_trace(go.Scatter(x=xs, y=f["intercept"] + f["slope"] * xs, mode="lines",
                                     line={"color": "#000000", "width": 2}, name="least squares line",
                                     showlegend=k == 0, legendgroup="l"), row=r, col=c)
        else:
            fig.add_annotation(text=f["skipped"][:70], xref=f"x{k + 1 if k else ''} domain",
                               yref=f"y{k + 1 if k else ''} domain", x=0.5, y=0.5, showarrow=False)
        fig.update_xaxes(title=SUBJECT_LABELS.get(f["predictor"], f["predictor"]), row=r, col=c)
        fig.update_yaxes(title=SUBJECT_LABELS.get(f["response"], f["response"]), row=r, col=c)
    fig.update_annotations(font_size=11)
    return layout(fig, "The standing chain across subjects (static trials)", height=330 * rows, width=1000)
