"""Quality-control figures: marker residuals and gaps per trial, events on the plate forces."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from chainlab.figures._style import (
    MAX_WIDTH,
    NO_DATA_GREY,
    PLATE_COLOURS,
    QC_SCALES,
    SIDE_COLOURS,
    layout,
    note,
)
from chainlab.io.study_store import Study

EVENT_STYLE = {(side, label): (SIDE_COLOURS[side], dash) for side in ("Left", "Right")
               for label, dash in (("Foot Strike", "solid"), ("Foot Off", "dot"))}

#: An unlabelled trajectory as Vicon Nexus names it (``*179``): not a marker of the model.
UNLABELLED = re.compile(r"^\*\d+$")

QC_PANELS = (("marker_missing_pct", "frames missing (%)"),
             ("marker_gap_count", "gaps (count)"),
             ("marker_residual_mean", "mean residual (mm)"))
ROW_PX = 12  # one marker's row in the heat maps
TOP_PX = 205  # the title, the panels' titles and the trials' names above the heat maps


def _names(items, limit: int = 4) -> str:
    items = list(items)
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def why_no_residuals(residuals: np.ndarray) -> str | None:
    """Why the residual heat map has nothing to show, or None when it has: the store holds
    no residual, or every residual the captures recorded is 0."""
    seen = residuals[np.isfinite(residuals)]
    if not seen.size:
        return "no residual in the store"
    if not (seen > 0).any():
        return ("nothing to draw: every residual the<br>captures record is 0 (in C3D, 0 marks a<br>"
                "gap-filled or computed sample: the<br>exporting software kept no<br>reconstruction residual)")
    return None


def marker_quality(study: Study) -> go.Figure:
    """Heat maps, marker (rows) by trial (columns), side by side: % of frames where the marker
    is missing, the number of gaps, and the mean reconstruction residual where it is seen
    (``/trials/marker_*``). Labelled markers only: unlabelled trajectories (``*179``) are left
    out, and the title says how many. The headline names the worst labelled marker; a
    residual panel with nothing to draw says why."""
    q = study.marker_quality
    everything = [str(m) for m in q.marker.values]
    keep = np.array([not UNLABELLED.match(m) for m in everything], bool)
    dropped = [m for m, k in zip(everything, keep) if not k]
    q = q.isel(marker=keep)
    markers = [str(m) for m in q.marker.values]
    trials = [str(t) for t in q.trial.values]
    hover = np.array([[f"{t} ({s}, {c})" for t, s, c in zip(trials, q.trial_subject.values, q.trial_condition.values)]
                      for _ in markers])
    fig = make_subplots(rows=1, cols=3, shared_yaxes=True, horizontal_spacing=0.1)
    if not markers or not trials:
        return layout(note(fig, "the store holds no labelled marker"), "Marker quality per trial", width=MAX_WIDTH)
    height = ROW_PX * len(markers) + TOP_PX + 50
    plot_h = height - TOP_PX - 50  # less the top and bottom margins
    for i, (name, label) in enumerate(QC_PANELS, 1):
        z = q[name].transpose("marker", "trial").values
        fig.update_xaxes(title_text=label, side="top", tickangle=-90, tickfont={"size": 10}, row=1, col=i)
        if name == "marker_residual_mean" and (why := why_no_residuals(z)):
            fig.add_annotation(text=why, x=0.5, y=0.97, xref="x3 domain", yref="y3 domain", showarrow=False,
                               yanchor="top", align="left", bgcolor="white", font={"size": 12})
            fig.add_trace(go.Heatmap(z=np.zeros_like(z), x=trials, y=markers, showscale=False, hoverinfo="skip",
                                     colorscale=[[0, "white"], [1, "white"]], name=label), row=1, col=i)
            continue
        top = float(np.nanmax(z)) if np.isfinite(z).any() else 0.0
        domain_end = (fig.layout[f"xaxis{'' if i == 1 else i}"].domain[1])
        fig.add_trace(go.Heatmap(z=z, x=trials, y=markers, colorscale=QC_SCALES[name], name=label, zmin=0,
                                 zmax=top if top > 0 else 1.0, customdata=hover,
                                 colorbar={"title": {"text": label, "side": "right"}, "x": domain_end + 0.008,
                                           **({"dtick": 1} if name == "marker_gap_count" and top <= 10 else {}),
                                           "xanchor": "left", "y": 1.0, "yanchor": "top", "thickness": 12,
                                           "len": min(300, plot_h), "lenmode": "pixels"},
                                 hovertemplate="%{customdata}<br>%{y}: %{z:.3g}<extra>" + label + "</extra>"),
                      row=1, col=i)
    fig.update_yaxes(autorange="reversed", tickmode="array", tickvals=markers, tickfont={"size": 9}, row=1, col=1)
    fig.update_yaxes(title_text="marker", row=1, col=1)
    fig.update_layout(plot_bgcolor=NO_DATA_GREY)
    missing = q.marker_missing_pct.transpose("marker", "trial").values
    title, lines = "Marker quality per trial, labelled markers", []
    if np.isfinite(missing).any():
        worst = float(np.nanmax(missing))
        at = np.argwhere(missing == worst)
        title += f" (worst: {worst:.1f} % of frames missing)"
        lines.append(f"worst: {_names(sorted({markers[m] for m, _ in at}), 2)} in {_names(sorted({trials[t] for _, t in at}), 2)}")
    lines.append(f"{len(markers)} labelled markers, {len(trials)} trials (grey: the trial lacks the marker); "
                 + (f"{len(dropped)} unlabelled trajector{'y' if len(dropped) == 1 else 'ies'} "
                    f"({_names(dropped, 3)}) left out" if dropped else "no unlabelled trajectory"))
    fig = layout(fig, title + "".join(f"<br><sup>{x}</sup>" for x in lines), height=height, width=MAX_WIDTH,
                 margin={"t": TOP_PX, "l": 120, "r": 80, "b": 50})
    fig.update_layout(title={"y": 1 - 22 / height, "yanchor": "top", "yref": "container"})
    return fig


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
    panel, gap = 160, 90  # px: a trial's plot, and the room for its time axis and the next one's title
    height = (panel + gap) * max(len(names), 1) + 110
    fig = make_subplots(rows=max(len(names), 1), cols=1, subplot_titles=names or None,
                        vertical_spacing=gap / (height - 110) if len(names) > 1 else 0.0)
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
                                     line={"color": PLATE_COLOURS[k % len(PLATE_COLOURS)], "width": 1.5},
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
    return layout(fig, title, height=height, margin={"t": 80, "b": 30})
