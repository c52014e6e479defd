"""Figures of the time-normalised curves: per condition, angle-angle, coupling bins, SPM, and
the joint moments and powers per condition.

Each function takes an open study (:func:`chainlab.io.study_store.open_study`) and returns a
:class:`plotly.graph_objects.Figure`; they read the store only.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from chainlab.figures._style import (
    LABELS,
    MAX_CYCLE_LINES,
    MAX_POINTS,
    MAX_WIDTH,
    PERCENT_CYCLE,
    SPM_COLOURS,
    TITLES,
    colours,
    layout,
    note,
    rgba,
    shown,
    thin,
)
from chainlab.figures._reach import smallest_sign_flip_p, spm_subjects, subjects_needed
from chainlab.io.study_store import StoreError, Study

#: The SPM's y axis: the t statistic, dimensionless.
SPM_T = "SPM{t}"


def _variable(study: Study, variable: str):
    cycles = study.cycles
    names = [str(v) for v in cycles["variable"].values]
    if variable not in names:
        raise StoreError(f"{study.path}: /cycles/curves has no variable {variable!r}; it has {names}")
    return cycles.curves.sel(variable=variable), cycles


def curves(study: Study, variable: str) -> go.Figure:
    """Mean ± SD over all cycles (both sides) of `variable` per condition, with the store's
    bootstrap band of the mean (``/statistics/band_*``) where it holds one."""
    y, cycles = _variable(study, variable)
    conds = sorted(set(str(c) for c in cycles.condition.values))
    col = colours(conds)
    pct = cycles.percent.values
    stats = study.statistics
    has_band = "band_mean" in stats and variable in [str(v) for v in stats.band_variable.values]
    band_conds = [str(c) for c in stats.band_condition.values] if has_band else []
    fig = go.Figure()
    for c in conds:
        v = y.values[cycles.condition.values == c]
        v = v[np.isfinite(v).all(axis=1)]
        n_subjects = len(set(cycles.subject.values[cycles.condition.values == c]))
        if not len(v):
            continue
        mean, sd = v.mean(axis=0), (v.std(axis=0, ddof=1) if len(v) > 1 else np.zeros_like(v[0]))
        g = f"{c}"
        fig.add_trace(go.Scatter(x=np.r_[pct, pct[::-1]], y=np.r_[mean + sd, (mean - sd)[::-1]], fill="toself",
                                 fillcolor=rgba(col[c], 0.18), line={"width": 0}, hoverinfo="skip",
                                 name=f"{c} ± SD", legendgroup=g))
        fig.add_trace(go.Scatter(x=pct, y=mean, mode="lines", line={"color": col[c], "width": 2.5},
                                 name=f"{c} mean ({len(v)} cycles, {n_subjects} subjects)", legendgroup=g))
        if c in band_conds:
            b = stats.sel(band_condition=c, band_variable=variable)
            for k, show in (("band_low", True), ("band_high", False)):
                fig.add_trace(go.Scatter(x=pct, y=b[k].values, mode="lines",
                                         line={"color": col[c], "dash": "dash", "width": 1},
                                         name=f"{c} bootstrap 95 % band", legendgroup=g, showlegend=show))
    if not fig.data:
        note(fig, f"no complete {variable} curve in the store")
    fig.update_xaxes(title=PERCENT_CYCLE, range=[0, 100])
    fig.update_yaxes(title=LABELS.get(variable, f"{variable} (deg)"))
    return layout(fig, f"{TITLES.get(variable, variable)} over the gait cycle, per condition")


def angle_angle(study: Study, x: str = "rearfoot_eversion", y: str = "tibial_rotation_lab") -> go.Figure:
    """Tibial rotation against rearfoot eversion over the cycle: every cycle thin, the mean
    per condition thick, a dot at initial contact (0 %)."""
    ex, cycles = _variable(study, x)
    ty, _ = _variable(study, y)
    conds = sorted(set(str(c) for c in cycles.condition.values))
    col = colours(conds)
    fig = go.Figure()
    for c in conds:
        sel = cycles.condition.values == c
        a, b = ex.values[sel], ty.values[sel]
        ok = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
        a, b = a[ok], b[ok]
        if not len(a):
            continue
        pick = thin(len(a), MAX_CYCLE_LINES)  # the mean below is of every cycle
        xs = np.concatenate([np.r_[r, np.nan] for r in a[pick]])
        ys = np.concatenate([np.r_[r, np.nan] for r in b[pick]])
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": rgba(col[c], 0.3), "width": 1},
                                 name=f"{c} cycles ({shown(len(pick), len(a))})", legendgroup=c, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=a.mean(axis=0), y=b.mean(axis=0), mode="lines",
                                 line={"color": col[c], "width": 3}, name=f"{c} mean", legendgroup=c,
                                 customdata=cycles.percent.values,
                                 hovertemplate="%{customdata:.0f} % of cycle<br>x %{x:.1f} deg<br>y %{y:.1f} deg"))
        fig.add_trace(go.Scatter(x=[a.mean(axis=0)[0]], y=[b.mean(axis=0)[0]], mode="markers",
                                 marker={"color": col[c], "size": 10, "symbol": "circle"},
                                 name=f"{c} initial contact", legendgroup=c, showlegend=False))
    if not fig.data:
        note(fig, f"no cycle with complete {x} and {y} curves in the store")
    fig.update_xaxes(title=LABELS.get(x, x))
    fig.update_yaxes(title=LABELS.get(y, y))
    return layout(fig, "Tibial rotation against rearfoot eversion (dot: initial contact)", height=600, width=750)


BINS = (("coupling_in_phase_pct", "in-phase"), ("coupling_anti_phase_pct", "anti-phase"),
        ("coupling_proximal_pct", "proximal phase (tibia)"), ("coupling_distal_pct", "distal phase (rearfoot)"))


def coupling_bins(study: Study) -> go.Figure:
    """Per cycle, the share of stance in each of Chang's coupling-angle bins (vector coding,
    tibial rotation (lab) proximal, rearfoot eversion distal), per condition."""
    m = study.metrics
    missing = [k for k, _ in BINS if k not in m.columns]
    if missing:
        raise StoreError(f"{study.path}: /metrics has no {missing}")
    conds = sorted(set(m.condition.astype(str)))
    col = colours(conds)
    fig = go.Figure()
    for c in conds:
        d = m[m.condition.astype(str) == c]
        xs = np.concatenate([[label] * len(d) for _, label in BINS])
        ys = np.concatenate([d[k].to_numpy(float) for k, _ in BINS])
        if len(d) <= MAX_POINTS:  # every cycle a dot over its box
            hover = np.concatenate([(d.trial.astype(str) + " " + d.side.astype(str) + " cycle "
                                     + d.cycle_in_trial.astype(str)).to_numpy() for _ in BINS])
            fig.add_trace(go.Box(x=xs, y=ys, name=f"{c} ({len(d)} cycles)", marker_color=col[c], boxpoints="all",
                                 jitter=0.4, pointpos=0, text=hover, hoverinfo="y+text", offsetgroup=c))
        else:  # the boxes of every cycle, without the dots
            fig.add_trace(go.Box(x=xs, y=ys, name=f"{c} ({len(d):,} cycles; dots not drawn above {MAX_POINTS:,})",
                                 marker_color=col[c], boxpoints=False, offsetgroup=c))
    fig.update_layout(boxmode="group")
    fig.update_xaxes(title="coupling-angle bin (Chang 2008)")
    fig.update_yaxes(title="share of stance (%)", range=[0, 100])
    return layout(fig, "Coupling-angle distribution by bin: rearfoot eversion and tibial rotation, stance")


def spm(study: Study) -> go.Figure:
    """SPM paired t curve of every chain variable between the two conditions, its critical
    threshold ± t* and the supra-threshold clusters with their p values."""
    st = study.statistics
    if "spm_t" not in st:
        problems = json.loads(st.attrs.get("problems", "[]"))
        why = [p for p in problems if "SPM" in p or "subject" in p] or ["the store holds no SPM result"]
        return layout(note(go.Figure(), "no SPM: " + "; ".join(why)), "SPM paired t curves")
    names = [str(v) for v in st.spm_variable.values]
    order = [v for v in LABELS if v in names] + [v for v in names if v not in LABELS]
    fig = make_subplots(rows=len(order), cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        subplot_titles=[TITLES.get(v, v) for v in order])
    pct = st.percent.values
    has_clusters = "spm_cluster_variable" in st.coords
    cl_var = [str(v) for v in st.spm_cluster_variable.values] if has_clusters else []
    alpha = float(st.attrs.get("spm_alpha", 0.05))
    _, paired = spm_subjects(study)
    short = []  # variables whose test cannot reach significance with its subjects
    for i, v in enumerate(order, 1):
        t = st.spm_t.sel(spm_variable=v).values
        u = float(st.spm_threshold.sel(spm_variable=v))
        fig.add_trace(go.Scatter(x=pct, y=t, mode="lines", line={"color": SPM_COLOURS["t"], "width": 2},
                                 name="t", legendgroup="t", showlegend=i == 1), row=i, col=1)
        for sign, show in ((1, True), (-1, False)):
            fig.add_trace(go.Scatter(x=[0, 100], y=[sign * u, sign * u], mode="lines",
                                     line={"color": SPM_COLOURS["threshold"], "dash": "dash", "width": 1.5},
                                     name=f"critical threshold ± t* (alpha {alpha:g})", legendgroup="u",
                                     showlegend=show and i == 1, hovertemplate=f"t* = {u:.2f}"), row=i, col=1)
        for k in [j for j, name in enumerate(cl_var) if name == v]:
            a, b = float(st.spm_cluster_start.values[k]), float(st.spm_cluster_end.values[k])
            p = float(st.spm_cluster_p.values[k])
            fig.add_vrect(x0=a, x1=b, fillcolor=SPM_COLOURS["cluster"], opacity=0.3, line_width=0, row=i, col=1,
                          annotation_text=f"p = {p:.3f}", annotation_position="top left")
        n = len(paired.get(v, []))
        if v in paired and smallest_sign_flip_p(n) >= alpha:
            short.append(v)
        if v in paired:
            sub = f"{TITLES.get(v, v)}, {n} subjects"
            if smallest_sign_flip_p(n) >= alpha:
                sub += f": smallest attainable p {smallest_sign_flip_p(n):.3g}, cannot reach alpha {alpha:g}"
            fig.layout.annotations[i - 1].text = sub
        fig.update_yaxes(title_text=SPM_T, row=i, col=1)
    fig.update_xaxes(title_text=PERCENT_CYCLE, range=[0, 100], row=len(order), col=1)
    n_cl = len(cl_var)
    conds = [str(c) for c in st.band_condition.values] if "band_condition" in st.coords else []
    pair = f"{conds[1]} minus {conds[0]}" if len(conds) == 2 else "second condition minus first"
    title = f"SPM paired t of subject means, {pair} ({n_cl} supra-threshold cluster{'s' * (n_cl != 1)})"
    if short:
        which = "No test can" if len(short) == len(order) else f"{len(short)} of {len(order)} tests cannot"
        title += (f"<br><sup>{which} reach significance with so few subjects (sign flips: p ≥ 1/2^(n-1) for "
                  f"n subjects); {subjects_needed(alpha)} are needed</sup>")
    fig.update_annotations(font={"size": 13})
    height = 220 * len(order) + 170
    plot_h = height - 100 - 70
    fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -45 / plot_h, "x": 0})
    return layout(fig, title, height=height, width=MAX_WIDTH, margin={"t": 100, "b": 70})


#: The kinetic curves' panels: (store variable, its joint coordinate, axis or None, panel title).
MOMENT_PANELS = [(f"{j}Moment", a, f"{j} {plane}{sign}") for j in ("Hip", "Knee", "Ankle")
                 for a, plane, sign in (("x", "sagittal", ", extensor +" if j != "Ankle" else ", plantarflexor +"),
                                        ("y", "frontal", ", abductor +" if j != "Ankle" else ""),
                                        ("z", "transverse", ""))]


def _condition_bands(fig, y: np.ndarray, cycles, keep: np.ndarray, conds, col, row: int, column: int,
                     first: bool) -> int:
    """Mean ± SD per condition of the curves `y` (cycle, percent) of the cycles `keep` in one
    panel, point by point over the cycles with a value there (the last point of a cycle whose
    next stance has no kinetics has none); the number of conditions drawn."""
    pct = cycles.percent.values
    drawn = 0
    for c in conds:
        v = y[(cycles.condition.values == c) & keep]
        if not len(v) or not np.isfinite(v).any():
            continue
        drawn += 1
        n = np.isfinite(v).sum(axis=0)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a point no cycle has: NaN
            mean = np.nanmean(v, axis=0)
            sd = np.where(n > 1, np.nanstd(v, axis=0, ddof=1), 0.0)
        fig.add_trace(go.Scatter(x=np.r_[pct, pct[::-1]], y=np.r_[mean + sd, (mean - sd)[::-1]], fill="toself",
                                 fillcolor=rgba(col[c], 0.18), line={"width": 0}, hoverinfo="skip",
                                 name=f"{c} ± SD", legendgroup=c, showlegend=first), row=row, col=column)
        fig.add_trace(go.Scatter(x=pct, y=mean, mode="lines", line={"color": col[c], "width": 2.5},
                                 name=f"{c} mean ({len(v)} cycles)", legendgroup=c, showlegend=first),
                      row=row, col=column)
    return drawn


def _with_kinetics(study: Study, cycles) -> np.ndarray:
    """(cycle,) whether the cycle has kinetic measures (its stance on one plate alone)."""
    m = study.metrics
    if "kinetics_reason" not in m or len(m) != cycles.sizes["cycle"]:
        return np.ones(cycles.sizes["cycle"], bool)
    return (m.kinetics_reason.astype(str) == "").to_numpy()


def _kinetics_missing(study: Study, what: str):
    cycles = study.cycles
    if what not in cycles:
        raise StoreError(f"{study.path}: /cycles has no {what} (a store written before the kinetics); "
                         "rebuild it with `chainlab study`")
    return cycles


def _why_no_kinetics(study: Study) -> str:
    m = study.metrics
    reasons = m["kinetics_reason"].astype(str).value_counts().index.tolist() if "kinetics_reason" in m else []
    return "no cycle with kinetics in the store" + (f": {reasons[0]}" if reasons else "")


def moment_curves(study: Study) -> go.Figure:
    """Hip, knee and ankle internal moments (N m/kg; sagittal, frontal, transverse) over the
    gait cycle: mean ± SD per condition over the cycles with kinetic measures."""
    cycles = _kinetics_missing(study, "moment_curves")
    conds = sorted(set(str(c) for c in cycles.condition.values))
    col = colours(conds)
    units = cycles.moment_curves.attrs.get("units", "N m/kg")
    keep = _with_kinetics(study, cycles)
    fig = make_subplots(rows=3, cols=3, shared_xaxes=True, vertical_spacing=0.08, horizontal_spacing=0.07,
                        subplot_titles=[t for _, _, t in MOMENT_PANELS])
    drawn = 0
    for k, (joint, axis, _) in enumerate(MOMENT_PANELS):
        y = cycles.moment_curves.sel(moment_joint=joint, axis=axis).values
        drawn += _condition_bands(fig, y, cycles, keep, conds, col, k // 3 + 1, k % 3 + 1, first=k == 0)
        fig.update_yaxes(title_text=f"moment ({units})" if k % 3 == 0 else None, row=k // 3 + 1, col=k % 3 + 1)
    for c in (1, 2, 3):
        fig.update_xaxes(title_text=PERCENT_CYCLE, range=[0, 100], row=3, col=c)
    if not drawn:
        note(fig, _why_no_kinetics(study))
    fig.update_annotations(font={"size": 12})
    return layout(fig, f"Joint moments over the gait cycle, per condition ({units}, Plug-in Gait)", height=800,
                  width=MAX_WIDTH)


def power_curves(study: Study) -> go.Figure:
    """Hip, knee and ankle powers (W/kg, generation +) over the gait cycle: mean ± SD per
    condition over the cycles with kinetic measures."""
    cycles = _kinetics_missing(study, "power_curves")
    conds = sorted(set(str(c) for c in cycles.condition.values))
    col = colours(conds)
    units = cycles.power_curves.attrs.get("units", "W/kg")
    keep = _with_kinetics(study, cycles)
    joints = [str(j) for j in cycles.power_joint.values]
    fig = make_subplots(rows=1, cols=len(joints), horizontal_spacing=0.07,
                        subplot_titles=[f"{j.replace('Power', '')} power, generation +" for j in joints])
    drawn = 0
    for k, j in enumerate(joints):
        drawn += _condition_bands(fig, cycles.power_curves.sel(power_joint=j).values, cycles, keep, conds, col, 1,
                                  k + 1, first=k == 0)
        fig.update_xaxes(title_text=PERCENT_CYCLE, range=[0, 100], row=1, col=k + 1)
    fig.update_yaxes(title_text=f"power ({units})", row=1, col=1)
    if not drawn:
        note(fig, _why_no_kinetics(study))
    fig.update_annotations(font={"size": 12})
    return layout(fig, f"Joint powers over the gait cycle, per condition ({units}, Plug-in Gait)", height=450,
                  width=MAX_WIDTH)
