"""The subjects of a study, one row each: the standing chain and the gait's asymmetry.

:func:`subjects_table` gives, per subject, from its static (calibration) trial the standing
posture (:func:`chainlab.model.standing.standing_posture` on the models computed on the
static trial itself) and, from its cycles (the per-cycle table), the symmetry indices of peak
eversion and of step length. The study store keeps it as ``/subjects`` (docs/schema.md); the
between-subject standing questions are fitted on it (:mod:`chainlab.stats.standing`).

Symmetry index (Robinson et al. 1987, with magnitudes in the denominator so that a measure
near 0 on both sides does not flip its sign): SI = 100 (L - R) / (0.5 (|L| + |R|)), L and R
the subject's mean over its left and right cycles (all conditions); 0 is symmetric, + is
left larger.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from chainlab.io.c3d import read_c3d
from chainlab.kinematics import compute_kinematics
from chainlab.model.standing import UNITS as STANDING_UNITS
from chainlab.model.standing import standing_posture
from chainlab.options import KinematicsOptions

#: Columns beyond the standing chain's (:data:`chainlab.model.standing.UNITS`), with units.
EXTRA_UNITS = {
    "rearfoot_to_floor_deg": "deg",
    "arch_height_index_pct": "% of foot length",
    "symmetry_index_peak_eversion_pct": "%",
    "symmetry_index_step_length_pct": "%",
    "cycles_left": "1",
    "cycles_right": "1",
}
UNITS = {**STANDING_UNITS, **EXTRA_UNITS}
TEXT = ["subject", "static_file", "static_sha256", "standing_problem"]
COLUMNS = TEXT + list(UNITS)


def symmetry_index(left: float, right: float) -> float:
    """100 (L - R) / (0.5 (|L| + |R|)); NaN when either is missing or both are 0."""
    den = 0.5 * (abs(left) + abs(right))
    return float(100.0 * (left - right) / den) if np.isfinite(den) and den > 0 else float("nan")


def asymmetry(metrics: pd.DataFrame, subject: str) -> dict[str, float]:
    """Symmetry indices of `subject`'s peak eversion and step length, and its cycles per side."""
    m = metrics[metrics.subject.astype(str) == subject] if len(metrics) else metrics
    out = {}
    for name, col in (("peak_eversion", "peak_eversion_deg"), ("step_length", "step_length_m")):
        side = {s: float(m.loc[m.side == s, col].mean()) if len(m) and col in m else np.nan for s in ("Left", "Right")}
        out[f"symmetry_index_{name}_pct"] = symmetry_index(side["Left"], side["Right"])
    out["cycles_left"] = float((m.side == "Left").sum()) if len(m) else 0.0
    out["cycles_right"] = float((m.side == "Right").sum()) if len(m) else 0.0
    return out


_CACHE: dict[tuple[str, str], dict] = {}  # (static sha256, options) -> its standing chain, per process


def standing_of_static(static, options: KinematicsOptions | None = None) -> dict:
    """The standing chain of a static trial (a Dataset from :func:`chainlab.read_c3d`):
    :data:`UNITS`' standing names and the side means, ``standing_problem`` naming the file and
    what went wrong when it cannot be computed (its values NaN). Computed once per static
    (by sha256) and options in a process: a subject's trials share it."""
    opt = replace(options or KinematicsOptions(), partial=True, solver="direct", chain=None)
    key = (str(static.attrs.get("source_sha256", id(static))), repr(opt))
    if key in _CACHE:
        return dict(_CACHE[key])
    out = {k: np.nan for k in STANDING_UNITS} | {"standing_problem": ""}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out |= standing_posture(static, compute_kinematics(static, static, opt))
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 (a subject's standing values are NaN, the study goes on; said here)
        name = Path(str(static.attrs.get("source_file", "static trial"))).name
        out["standing_problem"] = f"{name}: {type(exc).__name__}: {exc}"
    for name, unit in (("rearfoot_to_floor", "deg"), ("arch_height_index", "pct")):
        both = [out[f"{name}_{s}_{unit}"] for s in ("L", "R")]
        out[f"{name}_{unit}"] = float(np.nanmean(both)) if np.isfinite(both).any() else np.nan
    _CACHE[key] = out
    return dict(out)


def standing_row(static_path, options: KinematicsOptions | None = None, read=read_c3d) -> dict:
    """:func:`standing_of_static` of the static trial at `static_path` (a file that cannot be
    read: NaN, and ``standing_problem`` says so)."""
    try:
        static = read(static_path)
    except (OSError, ValueError) as exc:  # C3DError is a ValueError
        return _no_standing(f"{Path(static_path).name}: {exc}")
    return standing_of_static(static, options)


def _no_standing(problem: str) -> dict:
    out = {k: np.nan for k in STANDING_UNITS} | {"rearfoot_to_floor_deg": np.nan, "arch_height_index_pct": np.nan}
    return out | {"standing_problem": problem}


def subjects_table(trials, metrics: pd.DataFrame, options: KinematicsOptions | None = None,
                   read=read_c3d) -> pd.DataFrame:
    """One row per subject of `trials` (trial files' views: subject, static, static_sha256,
    and ``standing``, the standing chain the trial step computed from its static), sorted by
    subject: :data:`COLUMNS`, units in ``DataFrame.attrs["units"]``. A trial file without
    ``standing`` (an older one) has it computed from its static file (`options`, `read`). A
    subject whose trials name several static files uses the first (by trial) and says so."""
    statics: dict[str, list] = {}
    recorded: dict[str, dict] = {}
    for t in sorted(trials, key=lambda t: t.trial):
        statics.setdefault(t.subject, [])
        if (t.static, t.static_sha256) not in statics[t.subject]:
            statics[t.subject].append((t.static, t.static_sha256))
            if getattr(t, "standing", None):
                recorded[t.static_sha256] = t.standing
    rows = []
    for subject in sorted(statics):
        path, sha = statics[subject][0]
        row = {"subject": subject, "static_file": Path(path).name, "static_sha256": sha}
        if sha in recorded:
            row |= recorded[sha]
        elif not sha:  # an empty static cell: the calibration stored in the dynamic capture
            row |= _no_standing("no static trial")
        else:
            row |= standing_row(path, options, read)
        if len(statics[subject]) > 1:
            row["standing_problem"] = "; ".join(x for x in (row["standing_problem"],
                                                            f"{len(statics[subject])} static files; the first used") if x)
        row |= asymmetry(metrics, subject)
        rows.append(row)
    out = pd.DataFrame(rows, columns=COLUMNS)
    out.attrs["units"] = dict(UNITS)
    return out
