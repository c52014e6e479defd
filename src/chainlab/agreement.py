"""How far chainlab's angles are from the outputs Vicon Nexus stored in the same capture.

Most processed Vicon captures carry Nexus' own model outputs (``LKneeAngles``, ``LHFTBA`` ...).
:func:`agreement` compares chainlab's kinematics of the capture with them, per output and
component: the RMS and the largest difference (deg) over the frames both have. A lab runs it
on its own captures before trusting chainlab with them; a marker-set or mapping mistake shows
at once as a large difference.

Rules (docs/kinematics.md, "Agreement with Nexus"):

* an output is compared with the stored output of the same name, or of that name plus a point
  suffix when the file uses one (Nexus 1.x writes e.g. ``LHipAnglesV``);
* frames Nexus marks invalid (NaN in ``model_outputs``) and frames chainlab has no value for
  are left out, and counted;
* two triplets Nexus treats as one angle are counted as equal: every component is compared
  modulo 360 deg, and per frame the nearer of chainlab's (x, y, z) and its other Cardan
  solution (x + 180, 180 - y, z + 180) is taken (Nexus switches between the two to keep its
  series continuous; docs/kinematics.md);
* ``?TIBA`` and ``?HFTFL`` leave out the frames listed in the output's ``ofm_tiba_switch_frames``
  (where the pelvis' facing switches, Nexus writes a value no rule explains);
* the hindfoot outputs (``?HFTBA``, ``?FFHFA``, ``?HFTFL``) carry a ``note`` where Nexus' heel is
  not one run of its OFM, as chainlab's is: Nexus smoothed the heel once per run of the model
  on the file, and the run count read from the stored ``?HE1`` (:func:`nexus_heel_runs`) says
  how often; the file does not otherwise say it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace

import numpy as np
import pandas as pd
import xarray as xr

from chainlab.conventions import AXES
from chainlab.io.mapped import load_marker_mapping, mapping_text, read_capture
from chainlab.kinematics import KinematicsOptions, compute_kinematics
from chainlab.kinematics.stored import kinematics_from_stored
from chainlab.model import ofm
from chainlab.model.marker_arrays import marker_arrays

#: Columns of the agreement table.
COLUMNS = ("output", "component", "stored_output", "frames", "frames_left_out", "rms_deg", "max_deg", "note")
#: Outputs (per side) computed from the OFM hindfoot, whose origin is the smoothed heel (?HE1).
HINDFOOT_OUTPUTS = ("HFTBA", "FFHFA", "HFTFL")
#: Largest RMS distance (mm) of Nexus' ?HE1 from the heel of a run count for that count to be
#: taken as Nexus'. On the 24 sides of the biomechzoo walks the nearest count is 0.000 mm from
#: ?HE1 on 17, 0.01-0.04 on 4 (turns whose first run saw other frames), 0.07-1.3 on 3.
HEEL_RMS_MM = 0.05
#: Longest point suffix taken for a stored output's name (``LHipAnglesV``, ``LKneeAngles_PiG``).
MAX_SUFFIX = 8


def _wrap(d: np.ndarray) -> np.ndarray:
    return d - 360.0 * np.round(d / 360.0)


def equivalent_difference(ours: np.ndarray, stored: np.ndarray) -> np.ndarray:
    """(n, 3) difference ours - stored (deg), each component modulo 360, per frame from the
    nearer of ours and its other Cardan solution (x + 180, 180 - y, z + 180)."""
    alt = ours * np.array([1.0, -1.0, 1.0]) + np.array([180.0, 180.0, 180.0])
    d1, d2 = _wrap(ours - stored), _wrap(alt - stored)
    with np.errstate(invalid="ignore"):
        pick = np.abs(d2).sum(axis=-1) < np.abs(d1).sum(axis=-1)
    return np.where(pick[:, None], d2, d1)


def stored_name(name: str, stored: Iterable[str]) -> str | None:
    """The stored output that `name` is compared with: the same name, else the one name that
    is `name` plus a short point suffix; None when there is none (or several)."""
    stored = list(stored)
    if name in stored:
        return name
    found = [s for s in stored if s.startswith(name) and 0 < len(s) - len(name) <= MAX_SUFFIX
             and not s[len(name)].islower()]
    return found[0] if len(found) == 1 else None


def nexus_heel_runs(capture: xr.Dataset, side: str) -> tuple[int, float] | None:
    """How many runs of Nexus' OFM on `capture` its stored hindfoot origin ``?HE1`` of `side`
    ("L" or "R") is of, read from the stored heel cluster (HEE LCA STL CPG): the run count
    1-6 nearest it and that RMS distance (mm; large when ?HE1 is of no run count,
    :func:`chainlab.model.ofm.heel_run_count`). None when the capture has no ?HE1 or heel
    cluster (or no frame with both)."""
    names = [f"{side}{m}" for m in ofm.CLUSTERS[1]] + [f"{side}HE1"]
    found = marker_arrays(capture, names) if "markers" in capture else {}
    if len(found) < len(names):
        return None
    k, rms = ofm.heel_run_count([found[n] for n in names[:4]], found[names[4]])
    return None if np.isnan(rms) else (k, rms)


def heel_note(capture: xr.Dataset, side: str) -> str:
    """The note of `side`'s hindfoot outputs (:data:`HINDFOOT_OUTPUTS`): empty when Nexus' heel
    is one run of the OFM (chainlab's) or the capture has no ?HE1 to tell."""
    found = nexus_heel_runs(capture, side)
    if found is None:
        return ""
    k, rms = found
    if rms >= HEEL_RMS_MM:
        return (f"Nexus' {side}HE1 is {rms:.2f} mm RMS from the heel of any run count of its OFM on this file "
                f"(nearest: {k} run{'s' if k > 1 else ''}): its hindfoot angles are not of one run, as "
                "chainlab's are (docs/kinematics.md, Foot posture)")
    if k == 1:
        return ""
    return (f"Nexus' OFM ran {k} times on this file ({side}HE1 is {k} runs' heel to {rms:.3f} mm RMS): "
            f"its hindfoot angles are of {k} runs, chainlab's of one (docs/kinematics.md, Foot posture)")


def agreement(capture: xr.Dataset, kinematics: xr.Dataset) -> pd.DataFrame:
    """Per output of `kinematics` (:func:`chainlab.kinematics.compute_kinematics` of `capture`)
    that `capture` stores, and per component x, y, z: frames compared, frames left out, RMS and
    largest absolute difference (deg), and a ``note`` (empty but on the hindfoot outputs of a
    side whose heel Nexus smoothed other than once, :func:`heel_note`). Empty (with the
    columns) when the capture stores none.

    Raises
    ------
    ValueError
        The two Datasets do not cover the same frames (naming both files).
    """
    rows = []
    if "model_outputs" not in capture or "angles" not in kinematics:
        return pd.DataFrame(rows, columns=list(COLUMNS))
    stored_outputs = capture.output.values.tolist()
    if not np.array_equal(capture.frame.values, kinematics.frame.values):
        raise ValueError(
            f"{capture.attrs.get('source_file', 'capture')}: frames {capture.frame.values[:1]}.."
            f"{capture.frame.values[-1:]} differ from the kinematics' ({kinematics.attrs.get('dynamic_file', '')}: "
            f"{kinematics.frame.values[:1]}..{kinematics.frame.values[-1:]}); compare a capture with its own kinematics")
    switch = json.loads(kinematics.attrs.get("ofm_tiba_switch_frames", "{}") or "{}")
    frames = kinematics.frame.values
    notes = {}
    for name in kinematics.output.values.tolist():
        ref = stored_name(name, stored_outputs)
        if ref is None:
            continue
        ours = kinematics.angles.sel(output=name).values
        theirs = capture.model_outputs.sel(output=ref).values
        d = equivalent_difference(ours, theirs)
        note = ""
        if name[1:] in HINDFOOT_OUTPUTS:
            if name[0] not in notes:
                notes[name[0]] = heel_note(capture, name[0])
            note = notes[name[0]]
        if name in switch:
            d[np.isin(frames, switch[name])] = np.nan
        for j, axis in enumerate(AXES):
            col = d[:, j]
            ok = np.isfinite(col)
            n = int(ok.sum())
            rms = float(np.sqrt(np.mean(col[ok] ** 2))) if n else np.nan
            mx = float(np.max(np.abs(col[ok]))) if n else np.nan
            rows.append((name, axis, ref, n, int(len(col) - n), rms, mx, note))
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df.attrs = {"capture": capture.attrs.get("source_file", ""), "units": "deg"}
    return df


def largest(tables: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Over several captures' :func:`agreement` tables: per output and component the largest
    RMS and largest difference (deg) and the total frames compared."""
    df = pd.concat(list(tables), ignore_index=True)
    order = list(dict.fromkeys(df.output))
    out = (df.groupby(["output", "component"], sort=False)
             .agg(frames=("frames", "sum"), rms_deg=("rms_deg", "max"), max_deg=("max_deg", "max"))
             .reset_index())
    out["output"] = pd.Categorical(out.output, order, ordered=True)
    return out.sort_values(["output", "component"]).reset_index(drop=True).astype({"output": str})


def format_agreement(df: pd.DataFrame, *, markdown: bool = False) -> str:
    """The table as text, one row per output: RMS and max (deg) of x, y, z, frames compared;
    then each note, after the outputs it applies to.

    With `markdown`, a Markdown table (as in docs/kinematics.md), the notes as a list."""
    if df.empty:
        return "no stored outputs to compare with (the capture carries none of chainlab's outputs)"
    wide = df.pivot_table(index="output", columns="component", values=["rms_deg", "max_deg"], sort=False)
    frames = df.groupby("output", sort=False)["frames"].min()
    head = ["output", "RMS x", "RMS y", "RMS z", "max x", "max y", "max z", "frames"]
    lines = []
    for name in dict.fromkeys(df.output):
        vals = [wide.loc[name, ("rms_deg", a)] for a in AXES] + [wide.loc[name, ("max_deg", a)] for a in AXES]
        lines.append([name] + [f"{v:.1e}" if np.isfinite(v) else "-" for v in vals] + [str(frames[name])])
    title = f"chainlab - Nexus (deg), {df.attrs.get('capture', '')}".rstrip(", ")
    noted = df[df.note != ""] if "note" in df else df.iloc[:0]
    notes = [f"{', '.join(dict.fromkeys(rows.output))}: {note}" for note, rows in noted.groupby("note", sort=False)]
    if markdown:
        out = [f"| {' | '.join(head)} |", "|" + "---|" * len(head)]
        out += [f"| {' | '.join(row)} |" for row in lines]
        return "\n".join(out + ([""] + [f"- {n}" for n in notes] if notes else []))
    width = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(width))
    return "\n".join([title, fmt.format(*head)] + [fmt.format(*r) for r in lines] + notes)




def agree_files(capture_path, static_path=None, options=None, markers=None) -> pd.DataFrame:
    """:func:`agreement` of a capture file: its kinematics computed with `static_path`, or,
    without one, from the calibration stored in the capture
    (:func:`chainlab.kinematics.stored.kinematics_from_stored`), models whose markers are
    missing left out. `markers` is the lab's marker mapping (a dict, a preset name or a YAML
    file; :func:`chainlab.io.mapped.load_marker_mapping`), applied to both captures. The
    table's ``attrs`` say which calibration and mapping were used."""
    opt = replace(options or KinematicsOptions(), partial=True)
    mapping = load_marker_mapping(markers)
    capture = read_capture(capture_path, mapping=mapping)
    if static_path is None:
        kin = kinematics_from_stored(capture, opt)
    else:
        kin = compute_kinematics(capture, read_capture(static_path, mapping=mapping), opt)
    table = agreement(capture, kin)
    table.attrs |= {"calibration": kin.attrs.get("calibration_source", f"static {kin.attrs.get('static_file', '')}"),
                    "models": kin.attrs.get("models", ""), "models_left_out": kin.attrs.get("models_left_out", ""),
                    "marker_mapping": mapping_text(mapping)}
    return table


__all__ = ["agree_files", "agreement", "equivalent_difference", "format_agreement", "heel_note", "largest",
           "nexus_heel_runs", "stored_name"]
