"""One self-contained HTML report of a study: what a reviewer opens first.

``write_report(store, figures_dir, out)`` gathers, from the study store and the figures that
``chainlab figures`` drew from it: the subjects, conditions, trials, cycles and failures; which
trials and cycles have kinetics, why the others have none, and the plate contacts refused; the
mixed-model estimates (with the random part each model was fitted with) and their intervals,
the tests that cannot reach significance with the subjects they have and why, and what the
statistics left out; every figure with its caption; and the provenance (inputs with sha256, package versions, the config). plotly.js is inlined once, the
figures are their stored JSON, and element ids are fixed, so the file works offline and two
reports of the same study are byte-identical.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

import numpy as np
import xarray as xr

from chainlab.figures import empty_study, random_part, reach, smallest_sign_flip_p, spm_subjects
from chainlab.io.store import write_text_atomic
from chainlab.io.study_store import ENGINE, StoreError, open_study

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1.5em 0}figcaption{font-size:.9em;color:#444;margin-top:.3em}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:.85em}.muted{color:#777}
"""


def _table(header: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td{' class=n' if j in numeric else ''}>{html.escape(str(v))}</td>"
                         for j, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(x: float, digits: int = 3) -> str:
    return "NaN" if not np.isfinite(x) else f"{x:.{digits}g}" if abs(x) < 1e-3 and x != 0 else f"{x:.{digits}f}"


def _summary(study) -> str:
    m = study.metrics
    prov = study.provenance
    n_fail = prov.sizes.get("failure", 0)
    rows = []
    if len(m):
        for (cond, side), g in m.groupby(["condition", "side"]):
            rows.append([cond, side, g.subject.nunique(), g.trial.nunique(), len(g)])
    subjects = sorted(set(m.subject.astype(str))) if len(m) else []
    out = (f"<p><b>{html.escape(study.headline())}</b>.</p><p>{len(m)} complete gait cycle(s) of "
           f"{len(subjects)} subject(s).</p>")
    if len(m):
        per = [[c, g.subject.nunique(), ", ".join(sorted(set(g.subject.astype(str))))]
               for c, g in m.groupby(m.condition.astype(str))]
        out += _table(["condition", "subjects", "who"], per, {1})
    out += _table(["condition", "side", "subjects", "trials", "cycles"], rows, {2, 3, 4})
    if n_fail:
        fails = [[t, s, r] for t, s, r in zip(prov.failure_trial.values, prov.failure_stage.values,
                                             prov.failure_reason.values)]
        out += "<h3>Failed trials</h3>" + _table(["trial", "stage", "reason"], fails)
    problems = study.problems
    if len(problems):
        rows = [[r.trial, r.stage, r.check, r.markers or r.segment, "" if not np.isfinite(r.value) else _fmt(r.value),
                 r.threshold, r.message] for r in problems.itertuples()]
        out += ("<h3>Problems of the trials computed</h3><p>Quality checks (docs/quality.md), models that did "
                "not run, trials without angles or cycles (<code>problems.tsv</code>, the store's "
                "<code>/problems</code>). A trial with a quality problem keeps its outputs.</p>"
                + _table(["trial", "stage", "check", "markers / segment", "value", "threshold", "reason"], rows, {4}))
    unmeasured = _not_measured(study)
    if unmeasured:
        out += ("<h3>Not measured</h3><p>What a trial's data could not give, by name and why (the per-cycle "
                "table's <code>not_measured</code> column; the store's <code>/trials/trial_problems</code>).</p>"
                + _table(["trial", "what and why"], unmeasured))
    return out


def _not_measured(study) -> list[list[str]]:
    """[trial, line] for every 'not measured' line of the trials' gait problems."""
    with xr.open_dataset(study.path, group="trials", engine=ENGINE) as ds:
        if "trial_problems" not in ds:
            return []
        pairs = zip(ds.trial.values.astype(str), ds.trial_problems.values.astype(str))
        return [[t, p.split(": ", 1)[-1]] for t, said in pairs for p in json.loads(said) if " not measured" in p]


def _kinetics(study) -> str:
    """Which trials and cycles have kinetics, why the others have none, the refused contacts."""
    m = study.metrics
    tr = study._group("trials")
    if "trial_kinetics_absent" not in tr or "kinetics_reason" not in m:
        return "<p class=muted>This store holds no kinetics (written before they were computed).</p>"
    trials = [str(t) for t in tr.trial.values]
    absent = [str(a) for a in tr.trial_kinetics_absent.values]
    has = m.kinetics_reason.astype(str) == ""
    out = (f"<p>{sum(not a for a in absent)} of {len(trials)} trial(s) have Plug-in Gait kinetics; "
           f"{int(has.sum())} of {len(m)} cycle(s) have kinetic measures (a stance on one force plate "
           "alone).</p>")
    rows = [[c, int(g.sum()), len(g)] for c, g in has.groupby(m.condition.astype(str))]
    out += _table(["condition", "cycles with kinetics", "cycles"], rows, {1, 2})
    without = [[t, a] for t, a in zip(trials, absent) if a]
    if without:
        out += "<h3>Trials without kinetics</h3>" + _table(["trial", "why"], without)
    counts = tr.contact_count.values
    owner = np.repeat(trials, counts)
    refused = [[t, int(p), f"{int(a)}-{int(b)}", str(sd) or "-", str(st), str(r)] for t, p, a, b, sd, st, r in
               zip(owner, tr.contact_plate.values, tr.contact_first.values, tr.contact_last.values,
                   tr.contact_side.values, tr.contact_status.values, tr.contact_reason.values)
               if str(st) in ("shared", "partial", "cut")]
    if refused:
        out += "<h3>Plate contacts refused</h3>" + _table(["trial", "plate", "frames", "side", "status", "why"],
                                                          refused, {1})
    return out


_RANDOM_WORDS = {"(1 | subject/trial)": "random intercepts per subject and per trial within subject",
                 "(1 | subject)": "a random intercept per subject"}


def _term_meaning(term: str) -> str:
    """What a term of a fitted model estimates, in words."""
    if term == "Intercept":
        return "response at predictor 0, reference condition, left side"
    if term.startswith("C(side)[T."):
        return f"{term[10:-1]} minus Left cycles, same predictor and condition"
    if term.startswith("C(condition)[T."):
        return f"{term[15:-1]} minus the reference condition, same predictor and side"
    if term.startswith("C(") or ":" in term:
        return "as written (patsy)"
    return "response per unit of the predictor, within side and condition"


#: The report's gait table: column, heading with units.
GAIT_COLUMNS = (
    ("cadence_steps_per_min", "cadence (steps/min)"), ("walking_speed_m_s", "walking speed, pelvis (m/s)"),
    ("stride_length_m", "stride length (m)"), ("step_length_m", "step length (m)"), ("step_width_m", "step width (m)"),
    ("stance_pct", "stance (%)"), ("swing_pct", "swing (%)"), ("single_support_pct", "single support (%)"),
    ("double_support_pct", "double support (%)"), ("foot_progression_deg", "foot progression, internal + (deg)"),
)


def _gait(study) -> str:
    """The spatiotemporal parameters per condition and side: mean ± SD over the cycles."""
    m = study.metrics
    cols = [(c, h) for c, h in GAIT_COLUMNS if c in m]
    if not len(m) or not cols:
        return "<p class=muted>No spatiotemporal parameters in the store.</p>"
    rows = []
    for (cond, side), g in m.groupby(["condition", "side"]):
        cells = []
        for c, _ in cols:
            v = g[c].to_numpy(float)
            v = v[np.isfinite(v)]
            cells.append(f"{_fmt(float(v.mean()), 3)} ± {_fmt(float(v.std(ddof=1)), 2)}" if len(v) > 1
                         else _fmt(float(v[0])) if len(v) else "NaN")
        rows.append([cond, side, g.subject.nunique(), len(g), *cells])
    return ("<p>Spatiotemporal parameters per condition and side: mean ± SD over the complete cycles "
            "(docs/gait.md; % of the gait cycle).</p>"
            + _table(["condition", "side", "subjects", "cycles", *[h for _, h in cols]], rows,
                     set(range(2, 4 + len(cols)))))


def _standing(study) -> str:
    """The between-subject standing questions, with the subjects behind each."""
    st = study.statistics
    if "standing_slope" not in st:
        return ""
    try:
        n_subjects = len(study.subjects)
    except StoreError:
        n_subjects = 0
    rows = []
    for r, pr, n, b, lo, hi, p, sk in zip(st.standing_response.values, st.standing_predictor.values,
                                          st.standing_n.values, st.standing_slope.values, st.standing_ci_low.values,
                                          st.standing_ci_high.values, st.standing_p.values,
                                          st.standing_skipped.values):
        fitted = not str(sk)
        rows.append([str(r), str(pr), int(n), _fmt(float(b)) if fitted else "",
                     f"[{_fmt(float(lo))}, {_fmt(float(hi))}]" if fitted else "", _fmt(float(p)) if fitted else "",
                     "" if fitted else f"not fitted: {sk}"])
    return (f"<h3>The standing chain across subjects</h3><p>{n_subjects} subject(s) in <code>/subjects</code> "
            "(one static trial each). Ordinary least squares across subjects, one row per subject; the slope in "
            "units of the response per unit of the predictor, its 95 % interval from t with n - 2 degrees of "
            "freedom; n is the number of subjects behind each line.</p>"
            + _table(["response", "predictor", "n subjects", "slope", "95 % CI", "p", "note"], rows, {2, 3, 5}))


def _statistics(study) -> str:
    st = study.statistics
    out = ""
    if "estimate" in st:
        models = list(dict.fromkeys(str(mo) for mo in st.model.values))
        randoms = {mo: random_part(study, mo) for mo in models}
        kinds = sorted(set(randoms.values()))
        said = "; ".join(f"<code>{html.escape(r)}</code> ({_RANDOM_WORDS.get(r, 'as written')})" for r in kinds)
        rows, last = [], None
        for mo, te, e, lo, hi, p in zip(st.model.values, st.term.values, st.estimate.values,
                                        st.ci_low.values, st.ci_high.values, st.p.values):
            first = str(mo) != last  # the model and its random part once, on its first term
            rows.append([str(mo) if first else "", randoms[str(mo)] if first else "", str(te), _term_meaning(str(te)),
                         _fmt(float(e)), f"[{_fmt(float(lo))}, {_fmt(float(hi))}]", _fmt(float(p))])
            last = str(mo)
        out += (f"<p>Linear mixed models, one row per cycle, fitted with {said} (docs/gait.md); estimates "
                "in units of the response per unit of the term, 95 % Wald intervals. Left and right cycles "
                "are told apart by <code>C(side)</code>: its term is the right cycles' mean response minus the "
                "left cycles' (Left is the reference level) at the same predictor value and condition.</p>"
                + _table(["model (fixed part)", "random part", "term", "what it estimates", "estimate", "95 % CI",
                          "p"], rows, {4, 6}))
    else:
        out += "<p class=muted>No mixed model was fitted.</p>"
    if "spm_t" in st:
        alpha = float(st.attrs.get("spm_alpha", 0.05))
        _, paired = spm_subjects(study)
        rows = []
        for v, thr in zip(st.spm_variable.values, st.spm_threshold.values):
            sel = st.spm_cluster_variable.values == v if "spm_cluster_variable" in st.coords else []
            clusters = [f"{a:.0f}-{b:.0f} % (p {_fmt(float(p))})" for a, b, p in
                        zip(st.spm_cluster_start.values[sel], st.spm_cluster_end.values[sel],
                            st.spm_cluster_p.values[sel])] if len(sel) else []
            n = len(paired.get(str(v), []))
            floor = smallest_sign_flip_p(n)
            rows.append([str(v), n, _fmt(floor), "no" if floor >= alpha else "yes", _fmt(float(thr)),
                         "; ".join(clusters) or "none"])
        out += f"<h3>SPM (paired t, sign-flip permutation threshold, alpha {alpha:g})</h3>" + _table(
            ["variable", "subjects", "smallest attainable p", f"can reach {alpha:g}", "critical |t|",
             "supra-threshold clusters"], rows, {1, 2, 4})
    out += _standing(study)
    limits = reach(study)
    if limits:
        out += ("<h3>What these subjects cannot show</h3><ul>"
                + "".join(f"<li>{html.escape(x)}</li>" for x in limits) + "</ul>")
    problems = json.loads(st.attrs.get("problems", "[]"))
    if problems:
        out += "<h3>Left out of the statistics</h3><ul>" + "".join(
            f"<li>{html.escape(p)}</li>" for p in problems) + "</ul>"
    return out


def _tests(study) -> str:
    """A subsection per test of the config (``tests.csv``), with its figure's panel named."""
    tests = study.tests
    if not len(tests):
        return "<p class=muted>The config has no tests (tests:).</p>"
    out = ("<p>The config's own measures (<code>/measures</code>, a row per window) tested between "
           "conditions; <code>tests.csv</code> holds this table, figure <code>measure_tests</code> the "
           "subjects' means.</p>")
    for t in tests.itertuples():
        rows = [[f"{t.level_2} - {t.level_1}", int(t.n), _fmt(t.statistic), _fmt(t.p), _fmt(t.estimate),
                 f"[{_fmt(t.ci_low)}, {_fmt(t.ci_high)}]", t.units]]
        out += (f"<h3>{html.escape(str(t.measure))}: {html.escape(str(t.test))}</h3>"
                + _table(["compared", "n", "statistic", "p", "estimate", f"{100 * (1 - t.alpha):.0f} % CI", "units"],
                         rows, {1, 2, 3, 4}))
        said = [f"excluded: {t.excluded}" for _ in [0] if t.excluded] + [f"left out: {t.left_out}" for _ in [0]
                                                                           if t.left_out]
        if said:
            out += "<p class=muted>" + html.escape("; ".join(said)) + "</p>"
    return out


def _figures(figures_dir: Path) -> tuple[str, list[str]]:
    import plotly.io as pio

    index_path = figures_dir / "index.json"
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{index_path}: not a figure index written by `chainlab figures` ({exc})") from None
    parts, names = [], []
    for i, entry in enumerate(index.get("figures", []), 1):
        name = entry["name"]
        fig = pio.read_json(figures_dir / f"{name}.json")
        div = pio.to_html(fig, include_plotlyjs=False, full_html=False, div_id=f"report-{name}",
                          config={"displaylogo": False})
        parts.append(f"<figure id=\"fig-{html.escape(name)}\">{div}<figcaption><b>Figure {i}</b> "
                     f"(<code>{html.escape(name)}</code>). {html.escape(entry['caption'])} "
                     f"<span class=muted>Data: {html.escape(entry['data'])}.</span></figcaption></figure>")
        names.append(name)
    return "\n".join(parts), names


def _provenance(study) -> str:
    prov = study.provenance
    versions = json.loads(prov.attrs.get("versions", "{}"))
    rows = [[r, p, s] for p, r, s in zip(prov.input_path.values, prov.input_role.values, prov.input_sha256.values)]
    out = "<h3>Inputs</h3>" + _table(["role", "file", "sha256"], rows)
    out += "<h3>Versions</h3>" + _table(["package", "version"], [[k, v] for k, v in sorted(versions.items())])
    config = prov.attrs.get("config", "")
    if config:
        try:
            config = json.dumps(json.loads(config), indent=1, sort_keys=True)
        except ValueError:
            pass  # a store of another version: shown as it is
        out += "<h3>Settings the store was made with</h3><pre>" + html.escape(config) + "</pre>"
    return out


def build_report(store: str | os.PathLike, figures_dir: str | os.PathLike, workflow: str = "") -> str:
    """The report's HTML text (see the module docstring)."""
    from plotly.offline import get_plotlyjs

    study = open_study(store)
    figures_html, names = _figures(Path(figures_dir))
    name = Path(store).parent.name or "study"
    empty = empty_study(study)
    said = (f"<p class=warning><b>Nothing to analyse: {html.escape(empty)}.</b> No statistics were computed "
            "and every figure says so; the failed trials and their reasons are listed below.</p>") if empty else ""
    sections = [
        ("Gait", _gait(study)),
        ("Study", said + _summary(study)),
        ("Kinetics", _kinetics(study)),
        ("Statistics", _statistics(study)),
        ("Tests", _tests(study)),
        ("Figures", figures_html or "<p class=muted>No figures.</p>"),
        ("Provenance", _provenance(study)),
    ]
    if workflow:
        sections.insert(0, ("Workflow", "<pre>" + html.escape(workflow) + "</pre>"))
    toc = "".join(f"<li><a href=\"#{s.lower()}\">{s}</a></li>" for s, _ in sections)
    body = "".join(f"<h2 id=\"{s.lower()}\">{s}</h2>{content}" for s, content in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>chainlab report: {html.escape(name)}</title><style>{_STYLE}</style>"
            f"<script type=\"text/javascript\">{get_plotlyjs()}</script></head><body>"
            f"<h1>chainlab report: {html.escape(name)}</h1>"
            f"<p class=muted>From <code>{html.escape(Path(store).name)}</code> (chainlab "
            f"{html.escape(str(study.provenance.attrs.get('chainlab_version', '?')))}); {len(names)} figures.</p>"
            f"<ul>{toc}</ul>{body}</body></html>\n")


def write_report(store: str | os.PathLike, figures_dir: str | os.PathLike, out: str | os.PathLike,
                 workflow: str | os.PathLike | None = None) -> Path:
    """Write the report to `out` atomically; `workflow`, a text file describing the workflow,
    is included as it is."""
    text = Path(workflow).read_text(encoding="utf-8") if workflow else ""
    try:
        page = build_report(store, figures_dir, text)
    except KeyError as exc:
        raise StoreError(f"{store}: the store lacks {exc} (written by an older chainlab?)") from None
    return write_text_atomic(page, out)
