"""Quality-control figures: marker residuals and gaps per trial, events on the plate forces."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from chainlab.figures._style import PALETTE, layout, note
from chainlab.io.study_store import Study

EVENT_STYLE = {("Left", "Foot Strike"): ("#0072B2", "solid"), ("Left", "Foot Off"): ("#0072B2", "dot"),
               ("Right", "Foot Strike"): ("#D55E00", "solid"), ("Right", "Foot Off"): ("#D55E00", "dot")}


def marker_quality(study: Study) -> go.Figure:
    """Heat maps, trial by marker: % of frames where the marker is missing, the number of
    gaps, and the mean reconstruction residual where it is seen (``/trials/marker_*``)."""
    q = study.marker_quality
    trials = [f"{t} ({s}, {c})" for t, s, c in zip(q.trial.values, q.trial_subject.values, q.trial_condition.values)]
    markers = [str(m) for m in q.marker.values]
    panels = (("marker_missing_pct", "frames missing (%)", "Reds"),
              ("marker_gap_count", "gaps (count)", "Oranges"),
              ("marker_residual_mean", "mean residual (mm)", "Blues"))
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=[p[1] for p in panels])
    if not markers or not trials:
        return layout(note(fig, "the store holds no marker data"), "Marker quality per trial")
    for i, (name, label, scale) in enumerate(panels, 1):
        z = q[name].transpose("trial", "marker").values
        top = float(np.nanmax(z)) if np.isfinite(z).any() else 0.0
        fig.add_trace(go.Heatmap(z=z, x=markers, y=trials, colorscale=scale, name=label, zmin=0,
                                 zmax=top if top > 0 else 1.0,
                                 colorbar={"title": {"text": label}, "len": 0.28, "y": 1 - (i - 0.5) / 3},
                                 hovertemplate="%{y}<br>%{x}: %{z:.3g}<extra>" + label + "</extra>"),
                      row=i, col=1)
        fig.update_yaxes(title_text="trial", row=i, col=1, autorange="reversed")
    fig.update_xaxes(title_text="marker (grey: not in the trial)", row=3, col=1, tickangle=-90, tickfont={"size": 8})
    fig.update_layout(plot_bgcolor="#dddddd")
    worst = np.nanmax(q.marker_missing_pct.values) if np.isfinite(q.marker_missing_pct.values).any() else 0.0
    return layout(fig, f"Marker quality per trial (worst: {worst:.1f} % of frames missing)",
                  height=3 * (60 + 22 * len(trials)) + 220, width=max(900, 8 * len(markers) + 200))


MAX_PANELS = 24  # trials drawn by events_on_force
MAX_POINTS = 5000  # samples per force trace


def events_on_force(study: Study, progress: Callable[[str], None] | None = None) -> go.Figure:
    """Every trial's plate vertical forces over time with its gait events as vertical lines
    (colour: side; solid: foot strike, dotted: foot off), one panel per trial: the first
    :data:`MAX_PANELS` trials by name in a larger study (the title says so), each force drawn
    with at most :data:`MAX_POINTS` samples (every k-th: a long capture's 1 kHz trace would
    make a figure no browser draws)."""
    every = study.trials
    names = every[:MAX_PANELS]
    fig = make_subplots(rows=max(len(names), 1), cols=1, vertical_spacing=min(0.08, 0.3 / max(len(names), 1)),
                        subplot_titles=names or None)
    if not names:
        return layout(note(fig, "the store holds no trial"), "Gait events on the plate vertical forces")
    shown: set = set()
    for i, name in enumerate(names, 1):
        if progress:
            progress(f"  events on force: [{i}/{len(names)}] {name}")
        tr = study.trial(name)
        t = tr.analog_time.values if "analog_time" in tr.coords else np.zeros(0)
        force = tr.plate_vertical_force.values if tr.sizes.get("analog_sample", 0) else np.zeros((0, 0))
        step = -(-len(t) // MAX_POINTS) or 1
        t, force = t[::step], force[::step]
        top = float(np.nanmax(force)) if force.size and np.isfinite(force).any() else 1.0
        for k in range(force.shape[1]):
            if not np.isfinite(force[:, k]).any():
                continue
            key = f"plate {k + 1}"
            fig.add_trace(go.Scatter(x=t, y=force[:, k], mode="lines", name=key, legendgroup=key,
                                     line={"color": PALETTE[(k + 4) % len(PALETTE)], "width": 1.5},
                                     showlegend=key not in shown), row=i, col=1)
            shown.add(key)
        if not force.size:
            fig.add_annotation(text="no force plate in this trial", xref="x domain" if i == 1 else f"x{i} domain",
                               yref="y domain" if i == 1 else f"y{i} domain", x=0.5, y=0.5, showarrow=False)
        sides, labels = tr.event_side.values.astype(str), tr.event_label.values.astype(str)
        sources = tr.event_source.values.astype(str)
        for (side, label), (colour, dash) in EVENT_STYLE.items():
            sel = (sides == side) & (labels == label)
            if not sel.any():
                continue
            et = tr.event_time.values[sel]
            key = f"{side} {label.lower()}"
            fig.add_trace(go.Scatter(x=np.repeat(et, 3), y=np.tile([0.0, top * 1.05, np.nan], len(et)), mode="lines",
                                     line={"color": colour, "dash": dash, "width": 1.5}, name=key, legendgroup=key,
                                     showlegend=key not in shown, text=np.repeat(sources[sel], 3),
                                     hovertemplate=key + " %{x:.3f} s (%{text})<extra></extra>"), row=i, col=1)
            shown.add(key)
        fig.update_yaxes(title_text="force (N)", row=i, col=1)
        fig.update_xaxes(title_text="time (s)", row=i, col=1)
    title = "Gait events on the plate vertical forces, per trial"
    if len(every) > len(names):
        title += f" (the first {len(names)} of {len(every)} trials by name)"
    return layout(fig, title, height=230 * len(names) + 120)
