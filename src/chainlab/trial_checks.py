"""What the pipeline decides and checks about a trial around its kinematics.

* :func:`rebuild_candidates`: the cluster markers absent from the whole trial (from its
  :class:`chainlab.kinematics.TrialSummary`) that :func:`chainlab.model.clusters.rebuild_markers`
  can rebuild from the static trial (the static has them, and three other markers of their
  cluster are measured in the trial);
* :func:`quality_problems`: the plausibility checks
  (:func:`chainlab.model.plausibility.check_trial`) and the sample sheet's subject against the
  capture's, as rows of the problems table (dicts with check, markers, segment, value,
  threshold, message);
* :func:`problem_lines`: those rows as ``chainlab kinematics`` and ``chainlab trial`` print them.

A long capture is checked on its first :data:`CHECK_FRAMES` frames (the checks take medians
and percentiles of distances and angles; a walk's are stable long before that).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import xarray as xr

from chainlab.model.clusters import CLUSTERS, MIN_MARKERS, cluster_sets, static_shape
from chainlab.model.plausibility import check_trial
from chainlab.problems import sheet_subject_problem

CHECK_FRAMES = 5_000  # 50 s at 100 Hz; no more than a summary span (chainlab.model._spans.SPAN)


def rebuild_candidates(names: Sequence[str], any_valid: Mapping[str, bool], static: xr.Dataset) -> list[str]:
    """Markers of :data:`~chainlab.model.clusters.CLUSTERS` absent (or invalid) in every frame
    of the trial whose markers are `names` (`any_valid`: ever measured) that can be rebuilt
    from `static`."""
    out = []
    for members in cluster_sets(names, CLUSTERS).values():
        shape = static_shape(static, members)
        measured = [m for m in members if any_valid.get(m, False) and m in shape]
        for m in members:
            if not any_valid.get(m, False) and m in shape and len([o for o in measured if o != m]) >= MIN_MARKERS:
                out.append(m)
    return out


def quality_problems(dynamic: xr.Dataset, static: xr.Dataset | None, kinematics: xr.Dataset | None,
                     overrides: Mapping[str, float] | None = None, sheet_subject: str = "") -> list[dict]:
    """The trial's quality problems (module docstring); `static` None for a walk computed from
    its stored calibration (the static-against-walk checks are then skipped). Checks that the
    data do not allow are one ``checks_not_run`` row, never an error."""
    try:
        found = [p.as_dict() for p in check_trial(dynamic, static, kinematics, overrides)]
    except (ValueError, KeyError, IndexError) as exc:
        found = [{"check": "checks_not_run", "markers": "", "segment": "", "value": float("nan"), "threshold": "",
                  "message": f"the plausibility checks could not run: {exc}"}]
    found += sheet_subject_problem(sheet_subject, dynamic.attrs.get("subject", ""),
                                   dynamic.attrs.get("source_file", ""))
    return found


def input_attrs(n_frames: int, mapping: str, applied: str, rebuilt: Mapping[str, int],
                static: xr.Dataset | None) -> dict:
    """What a kinematics output records of its inputs: the marker mapping given (`mapping`,
    JSON) and the entries the reader applied, the cluster markers rebuilt (marker -> frames)
    and, with a static trial, ``calibration_source`` (a walk without one:
    :func:`chainlab.kinematics.stored.stored_attrs`)."""
    attrs = {"marker_mapping": mapping, "marker_mapping_applied": str(applied or ""),
             "rebuilt_markers": json.dumps({m: f"{k} of {n_frames} frames rebuilt from the static trial's cluster shape"
                                            for m, k in rebuilt.items()})}
    if static is not None:
        attrs["calibration_source"] = f"static: {static.attrs.get('source_file', '')}"
    return attrs


def problem_lines(problems: Sequence[Mapping], trial: str = "") -> list[str]:
    """One line per problem: ``TRIAL: quality problem [check] MARKERS: message``."""
    head = f"{trial}: " if trial else ""
    return [f"{head}quality problem [{p['check']}] {p.get('markers') or p.get('segment', '')}: {p['message']}"
            for p in problems]


__all__ = ["CHECK_FRAMES", "input_attrs", "problem_lines", "quality_problems", "rebuild_candidates"]
