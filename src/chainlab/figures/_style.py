"""What every figure shares: the colours (Okabe-Ito, colour-blind safe), axis titles with
units, the layout and its widths."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

#: The Okabe-Ito palette (Okabe & Ito 2008): eight colours told apart with every common
#: colour-vision deficiency. Every colour of every figure is one of these (or a grey).
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9", "bluish_green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermilion": "#D55E00", "reddish_purple": "#CC79A7",
}
_O = OKABE_ITO

#: Colours given to the study's conditions in sorted order.
PALETTE = tuple(_O[k] for k in ("blue", "vermilion", "bluish_green", "reddish_purple", "orange", "sky_blue",
                                "yellow", "black"))
#: Gait events by side (qc_events_force): left blue, right vermilion.
SIDE_COLOURS = {"Left": _O["blue"], "Right": _O["vermilion"]}
#: Force plates 1, 2, 3, ... (then again): black, bluish green, reddish purple, grey; none
#: near a side's colour, so a plate's trace is never taken for an event line.
PLATE_COLOURS = (_O["black"], _O["bluish_green"], _O["reddish_purple"], "#8C8C8C")
#: The SPM t curve, its critical threshold and the supra-threshold clusters.
SPM_COLOURS = {"t": _O["black"], "threshold": _O["vermilion"], "cluster": _O["orange"]}
#: Heat maps of marker quality: single-hue sequential scales (light: good, dark: bad) and
#: the grey behind them where a trial lacks the marker.
QC_SCALES = {"marker_missing_pct": "Reds", "marker_gap_count": "Purples", "marker_residual_mean": "Blues"}
NO_DATA_GREY = "#DDDDDD"

#: Every figure is at most this wide (px), so that it fits the report (1,100 px page) and a
#: 1,400 px window with its colour bars and legend; the default is narrower.
MAX_WIDTH = 1000
WIDTH = 900

#: Axis titles, each with its unit.
PERCENT_CYCLE = "gait cycle (%)"
LABELS = {
    "rearfoot_eversion": "rearfoot eversion (deg)",
    "tibial_rotation_lab": "tibial internal rotation, lab (deg)",
    "tibial_rotation_femur": "tibial internal rotation, femur (deg)",
    "pelvic_tilt": "pelvic tilt, anterior + (deg)",
    "lordosis": "lordosis (deg)",
}
TITLES = {
    "rearfoot_eversion": "Rearfoot eversion",
    "tibial_rotation_lab": "Tibial rotation (lab)",
    "tibial_rotation_femur": "Tibial rotation (femur)",
    "pelvic_tilt": "Pelvic tilt",
    "lordosis": "Lordosis",
}


# What a large study's figures draw one by one, per condition (the statistics, means and boxes
# use every cycle): beyond these, an evenly spaced selection in store order, and the legend
# says how many are shown. A thousand trials have ~37,000 cycles; drawn one by one they make
# figures of 100 MB that take minutes to export and show no more than a selection does.
MAX_CYCLE_LINES = 200   # single cycles in the angle-angle plot
MAX_POINTS = 5000       # single cycles as dots (scatter against the model fit, coupling boxes)


def thin(n: int, limit: int) -> np.ndarray:
    """Indices of at most `limit` of `n` items, evenly spaced, first and last included."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(int))


def shown(k: int, n: int) -> str:
    """'1,234' or '200 of 1,234 shown' for a legend."""
    return f"{n:,}" if k == n else f"{k:,} of {n:,} shown"


def colours(conditions) -> dict[str, str]:
    """A fixed colour per condition (sorted names, so every figure agrees)."""
    return {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(sorted(conditions))}


def rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def layout(fig: go.Figure, title: str, height: int = 500, width: int = WIDTH,
           margin: dict | None = None) -> go.Figure:
    """The shared look: white template, fixed size (the static export uses it too) of at most
    :data:`MAX_WIDTH` px."""
    if width > MAX_WIDTH:
        raise ValueError(f"figure width {width} px; at most {MAX_WIDTH} px fit the report")
    fig.update_layout(title=title, template="plotly_white", width=width, height=height,
                      legend={"groupclick": "togglegroup"},
                      margin={"t": 70, "l": 70, "r": 30, "b": 60, **(margin or {})})
    return fig


def note(fig: go.Figure, text: str) -> go.Figure:
    """A line of text on an empty figure: what is missing from the store and why."""
    fig.add_annotation(text=text, xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False,
                       font={"size": 14})
    return fig
