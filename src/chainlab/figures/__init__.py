"""Figures of a study, drawn from its study store alone (``docs/figures.md``).

Each figure function takes an open study (:func:`chainlab.io.study_store.open_study`) and
returns a :class:`plotly.graph_objects.Figure`; :data:`FIGURES` names them all with their
captions, :func:`write_figure` writes one as HTML (with ``plotly.min.js`` once per folder),
JSON, and SVG/PDF where a Chrome/Chromium is installed, :func:`draw_all` writes the whole set
with an index whose captions add what the store says (the models fitted, the subjects a test
pairs and whether it can reach significance with them).

>>> from chainlab.io.study_store import open_study
>>> from chainlab.figures import curves, write_figure
>>> fig = curves(open_study("results/default/study.h5"), "rearfoot_eversion")  # doctest: +SKIP
>>> write_figure(fig, "results/default/figures", "curves_rearfoot_eversion")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import plotly.graph_objects as go

from chainlab.figures._curves import angle_angle, coupling_bins, curves, moment_curves, power_curves, spm
from chainlab.figures._qc import events_on_force, marker_quality
from chainlab.figures._reach import reach, smallest_sign_flip_p, spm_reach, spm_subjects, subjects_needed
from chainlab.figures._regression import describe_model, fit_lines, model_terms, random_part, scatter_fit
from chainlab.figures._sides import curves_by_side, standing_chain, standing_fits
from chainlab.figures._tests import measure_tests
from chainlab.figures._write import (
    AUTO,
    FORMATS,
    NO_BROWSER,
    PLOTLYJS,
    find_browser,
    write_figure,
    write_figures,
    write_plotlyjs,
)
from chainlab.io.store import write_text_atomic
from chainlab.io.study_store import Study

__all__ = [
    "FIGURES", "Figure", "angle_angle", "caption_rst", "coupling_bins", "curves", "curves_by_side", "describe_model",
    "draw_all", "events_on_force", "find_browser", "fit_lines", "marker_quality", "measure_tests", "model_terms",
    "moment_curves", "power_curves", "random_part", "reach", "scatter_fit", "standing_chain", "standing_fits",
    "smallest_sign_flip_p", "spm", "spm_reach", "spm_subjects", "subjects_needed", "write_figure", "write_figures",
    "write_plotlyjs", "AUTO", "FORMATS", "NO_BROWSER", "PLOTLYJS",
]


@dataclass(frozen=True)
class Figure:
    """One figure of the set: its file name, how it is drawn and what its caption says."""

    name: str
    draw: Callable[[Study], go.Figure]
    caption: str
    data: str  # the store variables it is drawn from
    describe: Callable[[Study], str] | None = None  # what the store adds to the caption

    def caption_for(self, study: Study) -> str:
        """The caption with what `study`'s store says (its models, its subjects)."""
        extra = self.describe(study) if self.describe else ""
        return f"{self.caption} {extra}" if extra else self.caption


def _describe_spm(study: Study) -> str:
    st = study.statistics
    if "spm_t" not in st:
        return ""
    _, paired = spm_subjects(study)
    counts = sorted({len(v) for v in paired.values()})
    said = (f"In this study the test pairs {' or '.join(str(n) for n in counts)} subjects "
            f"(per variable in the panel titles). ") if counts else ""
    return said + " ".join(spm_reach(study))


def _describe_standing(study: Study) -> str:
    fits = standing_fits(study)
    ns = sorted({f["n"] for f in fits})
    skipped = [f"{f['response']} on {f['predictor']}" for f in fits if f["skipped"]]
    said = f"In this study {' or '.join(map(str, ns))} subjects stand behind each question." if ns else ""
    return said + (f" Not fitted: {', '.join(skipped)}." if skipped else "")


_CURVE = ("Mean (line) ± 1 SD (shaded) over all complete cycles of both sides, per condition, and the "
          "simultaneous 95 % bootstrap band of the mean (dashed; subjects resampled) where the store "
          "holds one; x in % of the gait cycle (foot strike to foot strike), y in degrees.")

FIGURES: tuple[Figure, ...] = (
    Figure("curves_rearfoot_eversion", partial(curves, variable="rearfoot_eversion"),
           "Rearfoot eversion (Oxford Foot Model hindfoot to tibia, eversion positive). " + _CURVE,
           "/cycles/curves (variable rearfoot_eversion), /statistics/band_*"),
    Figure("curves_tibial_rotation", partial(curves, variable="tibial_rotation_lab"),
           "Tibial internal rotation in the lab (Oxford Foot Model TIBA z, internal positive). " + _CURVE,
           "/cycles/curves (variable tibial_rotation_lab), /statistics/band_*"),
    Figure("curves_pelvic_tilt", partial(curves, variable="pelvic_tilt"),
           "Pelvic tilt (Plug-in Gait PelvisAngles x, anterior positive). " + _CURVE,
           "/cycles/curves (variable pelvic_tilt), /statistics/band_*"),
    Figure("curves_lordosis", partial(curves, variable="lordosis"),
           "Lumbar lordosis (LumbarCurvature x, lordosis positive). " + _CURVE,
           "/cycles/curves (variable lordosis), /statistics/band_*"),
    *(Figure(f"curves_by_side_{short}", partial(curves_by_side, variable=variable),
             f"{title}: left and right apart. Mean (line) ± 1 SD (shaded) over the complete cycles of each side "
             "(left panel: left cycles, right panel: right cycles), per condition; the legend gives the cycles and "
             "subjects behind each mean; x in % of the gait cycle, y in degrees.",
             f"/cycles/curves (variable {variable}), /cycles/side")
      for short, variable, title in (("rearfoot_eversion", "rearfoot_eversion", "Rearfoot eversion"),
                                     ("tibial_rotation", "tibial_rotation_lab", "Tibial internal rotation (lab)"),
                                     ("pelvic_tilt", "pelvic_tilt", "Pelvic tilt"),
                                     ("lordosis", "lordosis", "Lumbar lordosis"))),
    Figure("standing_chain", standing_chain,
           "The standing chain across subjects, from each subject's static trial: standing pelvic tilt and lumbar "
           "curvature against the rearfoot angle to the floor (HFTFL y, mean of sides) and the arch height index "
           "(mean of sides, % of foot length), and standing pelvic obliquity against the leg-length difference "
           "(left minus right, from the markers ASIS to medial malleolus and from PROCESSING LegLength); one dot "
           "per subject, the ordinary least squares line across subjects; the panel titles give n, the slope with "
           "its 95 % CI (t, n - 2 df) and p, or that the question was not fitted (fewer than 3 subjects, or a "
           "predictor equal for all).",
           "/subjects, /statistics/standing_*", _describe_standing),
    Figure("angle_angle_eversion_tibial_rotation", angle_angle,
           "Angle-angle plot: tibial internal rotation (lab, deg) against rearfoot eversion (deg) over the "
           "whole gait cycle; thin lines are single cycles (in a large study at most 200 per "
           "condition, evenly spaced in store order; the legend says how many), thick lines the mean of every "
           "cycle per condition, the dot marks initial contact (0 %). Up and to the right together is in-phase coupling.",
           "/cycles/curves (rearfoot_eversion, tibial_rotation_lab)"),
    Figure("coupling_bins", coupling_bins,
           "Vector coding of rearfoot eversion (distal) and tibial rotation (lab, proximal) over stance: "
           "per cycle, the share of stance (%) whose coupling angle falls in each of Chang's bins "
           "(in-phase, anti-phase, proximal phase, distal phase); boxes per condition, one dot per cycle (boxes only above 5,000 "
           "cycles per condition).",
           "/metrics/coupling_{in_phase,anti_phase,proximal,distal}_pct"),
    Figure("peak_eversion_vs_pelvic_tilt", partial(scatter_fit, response="pelvic_tilt_mean_deg"),
           "Mean pelvic tilt over the cycle (deg) against the cycle's peak rearfoot eversion in stance (deg), "
           "one dot per cycle (in a large study at most 5,000 per condition, evenly spaced; the legend says how "
           "many), with the fixed-effect line of the study's linear mixed model (pelvic_tilt_mean_deg ~ "
           "peak_eversion_deg + C(condition) + C(side) + (1 | subject/trial): random intercepts per subject and "
           "per trial within subject; fitted to every cycle) for each condition; the title gives the slope, its "
           "95 % CI and p.",
           "/metrics/{peak_eversion_deg,pelvic_tilt_mean_deg}, /statistics/{estimate,ci_low,ci_high,p,random}",
           partial(describe_model, response="pelvic_tilt_mean_deg")),
    Figure("peak_eversion_vs_lordosis", partial(scatter_fit, response="lordosis_mean_deg"),
           "Mean lordosis over the cycle (deg) against the cycle's peak rearfoot eversion in stance (deg), "
           "one dot per cycle (in a large study at most 5,000 per condition, evenly spaced; the legend says how "
           "many), with the fixed-effect line of the study's linear mixed model (lordosis_mean_deg ~ "
           "peak_eversion_deg + C(condition) + C(side) + (1 | subject/trial): random intercepts per subject and "
           "per trial within subject; fitted to every cycle) for each condition; the title gives the slope, its "
           "95 % CI and p.",
           "/metrics/{peak_eversion_deg,lordosis_mean_deg}, /statistics/{estimate,ci_low,ci_high,p,random}",
           partial(describe_model, response="lordosis_mean_deg")),
    Figure("moment_curves", moment_curves,
           "Internal joint moments of the hip, knee and ankle (Plug-in Gait inverse dynamics, as Vicon Nexus; N m "
           "per kg of body mass, in the distal segment's axes): rows hip, knee, ankle; columns sagittal (extensor "
           "or plantarflexor +), frontal (abductor +: the knee's is the external knee adduction moment) and "
           "transverse. Mean (line) ± 1 SD (shaded) per condition over the cycles with kinetic measures (their "
           "stance on one force plate alone; a point is averaged over the cycles with a value there: the last "
           "point of a cycle whose next stance is on no plate has none); x in % of the gait cycle. A figure "
           "without any says why.",
           "/cycles/moment_curves, /metrics/kinetics_reason"),
    Figure("power_curves", power_curves,
           "Joint powers of the hip, knee and ankle (W per kg of body mass, generation +, absorption -; the "
           "ankle's push-off burst is A2, the hip's H1-H3): mean (line) ± 1 SD (shaded) per condition over the "
           "cycles with kinetic measures, as in the moments' figure; x in % of the gait cycle.",
           "/cycles/power_curves, /metrics/kinetics_reason"),
    Figure("peak_eversion_vs_knee_adduction_moment", partial(scatter_fit, response="peak_knee_adduction_moment_1_Nm_kg"),
           "The kinetic question: the first peak of the knee adduction moment in stance (N m/kg) against the "
           "cycle's peak rearfoot eversion (deg), one dot per cycle with kinetics, with the fixed-effect line of the "
           "study's linear mixed model (peak_knee_adduction_moment_1_Nm_kg ~ peak_eversion_deg + C(condition) + "
           "C(side) + (1 | subject/trial)) for each condition; the title gives the slope (N m/kg per deg), its "
           "95 % CI and p.",
           "/metrics/{peak_eversion_deg,peak_knee_adduction_moment_1_Nm_kg}, /statistics/{estimate,ci_low,ci_high,p,random}",
           partial(describe_model, response="peak_knee_adduction_moment_1_Nm_kg")),
    Figure("measure_tests", measure_tests,
           "The config's own measures tested between conditions (its tests:): one panel per test; per condition, "
           "each subject's mean of the measure over its windows (grey dots, a subject's two conditions joined), "
           "without the trials the test excludes, and the mean of the subjects' means with its t interval "
           "(diamonds, 1 - the test's alpha). The panel title gives the test, the subjects it paired (n), p and "
           "the estimate (second condition minus first) with its interval, as tests.csv has them. A study "
           "without tests says so.",
           "/measures, /tests"),
    Figure("spm", spm,
           "Statistical parametric mapping: the paired t curve SPM{t} (subject mean curves, second condition minus "
           "first) of each chain variable over the gait cycle (%), the critical threshold ± t* at alpha 0.05 "
           "from sign-flip permutations (dashed) and the supra-threshold clusters (shaded, with their p values). "
           "With n subjects the smallest p such a test can give is 1/2^(n-1): below 0.05 only from 6 subjects on; "
           "the panel titles give each test's subjects and say when it cannot reach significance.",
           "/statistics/{spm_t,spm_threshold,spm_cluster_*}, /cycles/curves (subjects)", _describe_spm),
    Figure("qc_markers", marker_quality,
           "Marker quality per labelled marker (rows) and trial (columns): % of frames where the marker is "
           "missing, the number of gaps (runs of missing frames) and the mean reconstruction residual (mm) "
           "where it is seen; grey: the trial lacks the marker. Unlabelled trajectories (named with an asterisk and a number) "
           "are left out (the title says how many); the headline is the worst labelled marker. A residual "
           "panel with nothing to draw says why (captures whose residuals are all 0).",
           "/trials/{marker_missing_pct,marker_gap_count,marker_residual_mean}"),
    Figure("qc_events_force", events_on_force,
           "Plate vertical ground reaction forces (N) over time (s) of every trial (the first 24 by name in a larger "
           "study), one panel per trial, plates 1, 2, 3 in black, bluish green and reddish purple, with "
           "the gait events the analysis used: foot strikes solid, foot offs dotted, left blue, right "
           "vermilion (hover: the event's source, plate, C3D or kinematic).",
           "/trials/{plate_vertical_force,analog_time,event_time,event_side,event_label,event_source}"),
)


def caption_rst(figure: Figure) -> str:
    """The figure's report caption (``workflow/report/<name>.rst``)."""
    return (f"{figure.caption}\n\nDrawn by ``chainlab figures`` from the study store ``study.h5``: "
            f"``{figure.data}``.\n")


def _caption(figure: Figure, study: Study, say: Callable[[str], None]) -> str:
    try:
        return figure.caption_for(study)
    except (ValueError, KeyError, OSError) as exc:  # the figure is drawn; its caption stays generic
        say(f"{figure.name}: caption without the store's details: {exc}")
        return figure.caption


def empty_study(study: Study) -> str:
    """Why the store has nothing to draw ('' when it has gait cycles): every trial failed, or
    none gave a complete gait cycle."""
    n = study.cycles.sizes.get("cycle", 0)
    if n:
        return ""
    failed = study.provenance.sizes.get("failure", 0)
    trials = len(study.trials)
    if trials == 0:
        return (f"every trial of the study failed ({failed}; their reasons are in failures.tsv and the "
                "report): the store holds no gait cycle")
    return (f"none of the {trials} trial(s) that ran gave a complete gait cycle ({failed} failed): "
            "the store holds no gait cycle")


def placeholder(name: str, why: str):
    """A figure with nothing but the sentence saying why `name` cannot be drawn."""
    fig = go.Figure()
    fig.add_annotation(text=f"Nothing to draw:<br>{why}.",
                       x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 16})
    fig.update_layout(title=f"{name}: no data", width=900, height=300, xaxis={"visible": False},
                      yaxis={"visible": False}, template="simple_white")
    return fig


def draw_all(study: Study, out_dir: str | os.PathLike, formats: Sequence[str] = FORMATS,
             browser: str | None = AUTO, only: Sequence[str] | None = None,
             say: Callable[[str], None] | None = None) -> tuple[list[dict], list[str]]:
    """Draw every figure (or those named in `only`) from `study` into `out_dir` and write
    ``index.json`` (name, caption with the store's details, data, files per figure; the
    plotly.js file the HTML loads). A figure that cannot be drawn
    is reported and the others still are. Returns (index entries, failures)."""
    say = say or (lambda msg: print(msg, file=sys.stderr))
    chosen = [f for f in FIGURES if not only or f.name in only]
    unknown = sorted(set(only or []) - {f.name for f in FIGURES})
    if unknown:
        raise ValueError(f"unknown figure(s) {unknown}; expected some of {[f.name for f in FIGURES]}")
    drawn, failures = {}, []
    empty = empty_study(study)
    for i, f in enumerate(chosen, 1):
        t0 = time.perf_counter()
        try:
            if empty and not len(study.trials):
                raise ValueError(empty)  # no trial at all: not even the quality figures have data
            fig = f.draw(study, progress=say) if f.name == "qc_events_force" else f.draw(study)
        except (ValueError, KeyError, OSError) as exc:  # StoreError is a ValueError
            if not empty:
                failures.append(f"{f.name}: {exc}")
                say(f"[{i}/{len(chosen)}] {f.name}: failed: {exc}")
                continue
            drawn[f.name] = placeholder(f.name, empty)  # its files say why there is nothing to draw
            say(f"[{i}/{len(chosen)}] {f.name}: nothing to draw: {empty}")
            continue
        drawn[f.name] = fig
        say(f"[{i}/{len(chosen)}] {f.name} ({time.perf_counter() - t0:.1f} s)")
    say(f"writing {len(drawn)} figure(s) as {', '.join(formats)} to {out_dir}")
    written = write_figures(drawn, out_dir, formats, browser, say=say)
    out = Path(out_dir)
    index = [{"name": f.name, "caption": _caption(f, study, say), "data": f.data,
              "files": sorted(p.name for p in written.get(f.name, []))} for f in chosen if f.name in drawn]
    write_text_atomic(json.dumps({"store": Path(study.path).name, "plotlyjs": PLOTLYJS if drawn else None,
                                  "figures": index}, indent=1) + "\n", out / "index.json")
    return index, failures
