"""Conventions written once: axes, units and names shared by every stage.

The prose version, with signs and angle sequences, is ``docs/conventions.md``.
"""

from __future__ import annotations

#: Components of every 3-vector, in the lab frame of the capture (C3D: usually z up).
AXES = ("x", "y", "z")

#: POINT:UNITS (lower case) -> metres per unit.
LENGTH_TO_METRE = {"mm": 1e-3, "cm": 1e-2, "m": 1.0, "meters": 1.0, "millimeters": 1e-3}

#: POINT group naming model outputs -> (kind, POINT parameter with its units, default units).
MODEL_OUTPUT_KINDS = {
    "ANGLES": ("angle", "ANGLE_UNITS", "deg"),
    "FORCES": ("force", "FORCE_UNITS", "N"),
    "MOMENTS": ("moment", "MOMENT_UNITS", "Nmm"),
    "POWERS": ("power", "POWER_UNITS", "W"),
    "SCALARS": ("scalar", "SCALAR_UNITS", ""),
}

#: Units of the subject measurements Vicon Nexus writes to PROCESSING (side prefix removed).
MEASUREMENT_UNITS = {
    "Bodymass": "kg",
    "Height": "mm",
    "LegLength": "mm",
    "KneeWidth": "mm",
    "AnkleWidth": "mm",
    "InterAsisDistance": "mm",
    "AsisTrocanterDistance": "mm",
    "MarkerDiameter": "mm",
    "ElbowWidth": "mm",
    "WristWidth": "mm",
    "HandThickness": "mm",
    "ShoulderOffset": "mm",
    "PelvisLength": "mm",
    "FemurLength": "mm",
    "TibiaLength": "mm",
    "FootLength": "mm",
    "StaticPlantFlex": "rad",
    "StaticRotOff": "rad",
    "ThighRotation": "deg",
    "ShankRotation": "deg",
    "TibialTorsion": "deg",
    "TibiaRotation": "deg",
    "AnkleAbAdd": "deg",
    "HeadOffset": "rad",
    "SpineOffset": "deg",
}
