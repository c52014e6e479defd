"""The subject measurements a user may give (``chainlab kinematics --subject NAME=VALUE``, a
study's subjects table): their names, their human ranges and the one check of a given value.

The names are Vicon Nexus' PROCESSING names (``LLegLength``, ``LKneeWidth``, ``Bodymass``,
``LTibialTorsion`` ...), the units Nexus' (:data:`chainlab.conventions.MEASUREMENT_UNITS`:
lengths in mm, mass in kg, Plug-in Gait's angular offsets in **radians**). A value given by a
user replaces the files' for the models (:func:`chainlab.model.measurements.resolve`'s
'config' source); :func:`check_values` refuses, before anything runs, a name no model reads
(with the name it likely meant) and a value that is not a finite number or lies outside
:data:`MEASUREMENT_RANGES` (an offset typed in degrees: 15 deg of tibial torsion run as
15 rad would turn the ankle by 860 deg). Standard library only: the config and the workflow's
DAG import it without the scientific stack.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping

from chainlab.conventions import MEASUREMENT_UNITS

SIDES = ("L", "R")

#: What Plug-in Gait needs from the subject (mm): nothing is guessed for these.
PIG_REQUIRED = (
    "LLegLength",
    "RLegLength",
    "LKneeWidth",
    "RKneeWidth",
    "LAnkleWidth",
    "RAnkleWidth",
)

#: Optional values and the neutral default used when a trial has none.
PIG_OPTIONAL = {
    "MarkerDiameter": 14.0,  # Vicon's default marker, mm
    "InterAsisDistance": 0.0,  # 0: measured from the static trial's ASIS markers
    "LAsisTrocanterDistance": 0.0,  # 0: Davis regression on leg length
    "RAsisTrocanterDistance": 0.0,
    "LThighRotation": 0.0,
    "RThighRotation": 0.0,
    "LShankRotation": 0.0,
    "RShankRotation": 0.0,
    "LTibialTorsion": 0.0,
    "RTibialTorsion": 0.0,
    "LAnkleAbAdd": 0.0,
    "RAnkleAbAdd": 0.0,
    "LSoleDelta": 0.0,  # heel above toe (mm) in the flat-foot static calibration
    "RSoleDelta": 0.0,
    "Bodymass": float("nan"),
    "Height": float("nan"),
}

#: Plug-in Gait's static foot offsets (rad), from a static trial or given.
STATIC_OFFSETS = tuple(f"{s}{n}" for s in SIDES for n in ("StaticPlantFlex", "StaticRotOff"))
#: The Oxford Foot Model's calibration values (chainlab.model.ofm), stored as %LMMAX ... (mm).
OFM_CALIBRATION = ("MMA", "PCA", "HFplantar", "D1M0", "D5M0")
OFM_VALUES = tuple(f"%{s}{n}{a}" for s in SIDES for n in OFM_CALIBRATION for a in "XYZ")

#: The names a user may give: Plug-in Gait's measurements and static offsets, the OFM's values.
SUBJECT_NAMES = frozenset((*PIG_REQUIRED, *PIG_OPTIONAL, *STATIC_OFFSETS, *OFM_VALUES))

#: measurement_range: human ranges, children to tall adults (Nexus units), by the side-less name.
MEASUREMENT_RANGES: dict[str, tuple[float, float, str]] = {
    "LegLength": (350.0, 1300.0, "ASIS-medial malleolus is about half the stature (0.8-2.3 m)"),
    "KneeWidth": (50.0, 200.0, "knee width, children to adults"),
    "AnkleWidth": (30.0, 140.0, "malleolar width, children to adults"),
    "Bodymass": (8.0, 300.0, "body mass (kg), small children to bariatric"),
    "Height": (700.0, 2400.0, "stature (mm)"),
    "MarkerDiameter": (4.0, 40.0, "retro-reflective markers are made 4-40 mm"),
    "InterAsisDistance": (120.0, 500.0, "inter-ASIS distance (0: not measured)"),
    "StaticPlantFlex": (-0.8, 0.8, "static foot offset (rad): the heel-toe and ankle-toe lines differ by a few "
                                   "to 25 deg; beyond 0.8 rad (46 deg) it was stored in degrees or is wrong"),
    "StaticRotOff": (-0.8, 0.8, "static foot rotation offset (rad), as StaticPlantFlex"),
    "ThighRotation": (-math.pi, math.pi, "knee alignment device offset (rad): a wand anywhere about the thigh is "
                                         "within +-pi; beyond, it was stored in degrees"),
    "ShankRotation": (-math.pi, math.pi, "knee alignment device offset (rad), as ThighRotation"),
    "AnkleAbAdd": (-0.8, 0.8, "ankle marker's tilt from the ankle flexion axis (rad; ktk_walk 0.19-0.22): "
                              "beyond 0.8 rad (46 deg) it was stored in degrees or is wrong"),
    "TibialTorsion": (-1.0, 1.0, "tibial torsion (rad): 0-40 deg in adults (-0.3, -0.58 in ktk_walk); beyond "
                                 "1 rad (57 deg) it was stored in degrees or is wrong"),
}

EXPECTED_NAMES = ("expected Nexus' PROCESSING names (Bodymass kg; Height, LLegLength, LKneeWidth, LAnkleWidth, "
                  "InterAsisDistance, LAsisTrocanterDistance ... mm; LThighRotation, LShankRotation, LTibialTorsion, "
                  "LAnkleAbAdd, LStaticPlantFlex, LStaticRotOff ... rad; %LMMAX ... for the OFM)")


def range_key(name: str) -> str | None:
    """The key of :data:`MEASUREMENT_RANGES` for a measurement (``LLegLength`` -> ``LegLength``),
    None for one without a range."""
    key = name[1:] if name[:1] in "LR" and name[1:] in MEASUREMENT_RANGES else name
    return key if key in MEASUREMENT_RANGES else None


def unit_of(name: str) -> str:
    """A measurement's unit as Nexus stores it (``LTibialTorsion`` -> ``rad``), mm when not listed
    (the OFM's values, ``?SoleDelta``)."""
    key = name[1:] if name[:1] in "LR" and name[1:] in MEASUREMENT_UNITS else name
    return MEASUREMENT_UNITS.get(key, "mm")


def unknown_names(names) -> str:
    """The names among `names` that no model reads, each with the name it likely meant, and what
    is expected ('' when every name is known)."""
    unknown = sorted(set(names) - SUBJECT_NAMES)
    if not unknown:
        return ""
    said = "; ".join((k or "'' (no name)") + (f" (did you mean {close[0]}?)" if (close := difflib.get_close_matches(
        k, sorted(SUBJECT_NAMES), 1, 0.6)) else "") for k in unknown)
    return f"{said}: not a measurement the models read; {EXPECTED_NAMES}"


def value_problem(name: str, value: float) -> str:
    """Why `value` cannot be `name`'s ('' when it can): not finite, or outside its range
    (:data:`MEASUREMENT_RANGES`; 0 accepted where it means "not measured", as for
    InterAsisDistance), an angular offset with the radians its degrees would be."""
    unit = unit_of(name)
    if not math.isfinite(value):
        return f"{name} = {value}: not a finite number ({unit})"
    key = range_key(name)
    if key is None or (value == 0.0 and PIG_OPTIONAL.get(name) == 0.0):
        return ""
    lo, hi, why = MEASUREMENT_RANGES[key]
    if lo <= value <= hi:
        return ""
    text = f"{name} = {value:g} is outside {lo:g}..{hi:g} {unit} ({why})"
    if unit == "rad":
        text += (f"; the offsets are radians, as Nexus stores them ({value:g} deg would be "
                 f"{math.radians(value):.4f} rad)")
    return text


def check_values(given: Mapping[str, object]) -> tuple[dict[str, float], list[str]]:
    """The values of `given` (name -> a number or its text) as floats, and the problems of the
    names and values (:func:`unknown_names`, not a number, :func:`value_problem`), each one line
    for the caller to prefix with where they were given (``--subject``, a table's line)."""
    problems = [text] if (text := unknown_names(given)) else []
    values: dict[str, float] = {}
    for name, raw in given.items():
        if name not in SUBJECT_NAMES:
            continue
        try:
            value = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            problems.append(f"{name} = {raw!r}: not a number; expected {unit_of(name)}")
            continue
        if text := value_problem(name, value):
            problems.append(text)
        else:
            values[name] = value
    return values, problems


__all__ = ["EXPECTED_NAMES", "MEASUREMENT_RANGES", "OFM_CALIBRATION", "OFM_VALUES", "PIG_OPTIONAL", "PIG_REQUIRED",
           "SIDES", "STATIC_OFFSETS", "SUBJECT_NAMES", "check_values", "range_key", "unit_of", "unknown_names",
           "value_problem"]
