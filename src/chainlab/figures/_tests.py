"""The config's tests between conditions: per measure, the conditions' means with their CIs and
each subject's points (from the store's ``/measures`` and ``/tests`` alone)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy import stats

from chainlab.figures._style import MAX_WIDTH, colours, layout, note
from chainlab.io.study_store import Study


def _excluded(entry: str) -> set[str]:
    """The trial ids named in a test's ``excluded`` ("HC002D25 (1 windows); ...")."""
    return {part.strip().split(" ")[0] for part in str(entry).split(";") if part.strip()}


def subject_means(study: Study, test: pd.Series) -> pd.DataFrame:
    """(subject, level, value) the test compared: the subjects' means of the measure's windows
    per level, without the excluded trials' (what a paired test takes; a mixed model takes the
    windows themselves)."""
    m = study.measures
    compare = str(test["compare"])
    d = m[(m.measure == test["measure"]) & m.value.notna()]
    d = d[~d.trial.astype(str).isin(_excluded(test["excluded"]))]
    d = d[d[compare].astype(str).isin([str(test["level_1"]), str(test["level_2"])])] if compare in d else d.iloc[:0]
    out = d.groupby(["subject", compare])["value"].mean().reset_index()
    return out.rename(columns={compare: "level"})


def _ci(values: np.ndarray, alpha: float) -> tuple[float, float, float]:
    v = values[np.isfinite(values)]
    if len(v) < 2:
        return (float(v.mean()) if len(v) else np.nan), np.nan, np.nan
    half = stats.t.ppf(1 - alpha / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return float(v.mean()), float(v.mean() - half), float(v.mean() + half)


def measure_tests(study: Study) -> go.Figure:
    """One panel per test of the store's ``/tests``: per condition (x) each subject's mean of the
    measure (dots, a subject's levels joined by a grey line) and the mean of the subjects' means
    with its t interval (1 - the test's alpha); the panel title gives the test, n, p and the
    estimate (second level minus first) with its interval."""
    tests = study.tests
    fig = go.Figure()
    if not len(tests):
        layout(fig, "Tests between conditions")
        return note(fig, "The store has no tests (the config's tests: is empty).")
    n = len(tests)
    cols = min(3, n)
    rows = -(-n // cols)
    titles = [f"{t.measure} ({t.test})<br>n={int(t.n)}, p={t.p:.3g}, est {t.estimate:.3g} "
              f"[{t.ci_low:.3g}, {t.ci_high:.3g}] {t.units}" for t in tests.itertuples()]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.1,
                        vertical_spacing=0.25 / max(rows - 1, 1) if rows > 1 else 0.1)
    levels_all = sorted({str(v) for t in tests.itertuples() for v in (t.level_1, t.level_2)})
    col_of = colours(levels_all)
    seen = set()
    for k, t in enumerate(tests.itertuples()):
        r, c = k // cols + 1, k % cols + 1
        means = subject_means(study, tests.iloc[k])
        levels = [str(t.level_1), str(t.level_2)]
        for subject, g in means.groupby("subject"):
            g = g.set_index(g.level.astype(str)).reindex(levels)
            fig.add_trace(go.Scatter(x=levels, y=g.value, mode="lines+markers", line={"color": "#BBBBBB", "width": 1},
                                     marker={"color": "#777777", "size": 6}, name=str(subject), showlegend=False,
                                     hovertemplate=f"{subject}: %{{y:.3f}}<extra></extra>"), row=r, col=c)
        for lev in levels:
            mean, lo, hi = _ci(means[means.level.astype(str) == lev].value.to_numpy(float), float(t.alpha))
            fig.add_trace(go.Scatter(
                x=[lev], y=[mean], mode="markers", marker={"color": col_of[lev], "size": 13, "symbol": "diamond"},
                error_y={"type": "data", "symmetric": False, "array": [hi - mean], "arrayminus": [mean - lo],
                         "color": col_of[lev], "thickness": 2},
                name=f"{lev}: mean of subjects, {100 * (1 - float(t.alpha)):.0f} % CI", legendgroup=lev,
                showlegend=lev not in seen), row=r, col=c)
            seen.add(lev)
        fig.update_yaxes(title_text=f"{t.measure} ({t.units})" if t.units else str(t.measure), row=r, col=c)
        fig.update_xaxes(title_text=str(t.compare), row=r, col=c)
    layout(fig, "Tests between conditions: subjects' means per condition", height=380 * rows + 80,
           width=min(MAX_WIDTH, 330 * cols + 150), margin={"t": 110})
    fig.update_annotations(font_size=11)
    return fig
