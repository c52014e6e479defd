"""Conventions written once: axes, units and names shared by every stage.

The prose version, with signs and angle sequences, is ``docs/conventions.md``.
"""

from __future__ import annotations

#: Components of every 3-vector, in the lab frame of the capture (C3D: usually z up).
AXES = ("x", "y", "z")

#: Frames of a config measure of the ground reaction's force (``measures: frame``): "lab", the
#: capture's axes (Nexus' ``GroundReactionForce``, the default); "walking", turned with the
#: direction of travel at each frame: x horizontal to the subject's right, y the heading
#: (:mod:`chainlab.gait.heading`: the mid-ASIS travel over one stride), z lab up. For a walk
#: along lab +y the two are the same; whichever way the subject walks, the right foot's medial
#: force is -x and the left foot's +x in the walking frame.
MEASURE_FRAMES = ("lab", "walking")
#: The walking frame's axes in the heading frame's (columns x, y, z): x = -heading y (right),
#: y = heading x (forward), z = z.
WALKING_IN_HEADING = ((0.0, 1.0, 0.0), (-1.0, 0.0, 0.0), (0.0, 0.0, 1.0))

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
    "ThighRotation": "rad",
    "ShankRotation": "rad",
    "TibialTorsion": "rad",
    "TibiaRotation": "deg",
    "AnkleAbAdd": "rad",
    "HeadOffset": "rad",
    "SpineOffset": "deg",
}

# --------------------------------------------------------------------------- kinetics
# Plug-in Gait inverse dynamics as Vicon Nexus computes it (prose: docs/conventions.md,
# "Kinetics"). Lab frame as the capture's (z up); moments are internal (the load the
# proximal segment applies to the distal one) and reported per kg of body mass.

#: Vertical force (N) below which a plate carries no contact (COP undefined).
KINETICS_COP_THRESHOLD_N = 10.0

#: Plug-in Gait segment parameters (Vicon; Dempster via Winter): mass / body mass; centre of
#: mass as a fraction of the segment (femur, tibia: of the way from the distal to the
#: proximal joint centre; foot: of ?FootLength from the ankle joint centre towards the toe);
#: radius of gyration about the centre of mass as a fraction of the PROCESSING length, about
#: x and y only (no inertia about the long axis z). As Nexus 2 applies them (docs/kinetics.md).
PIG_SEGMENT_PARAMETERS = {
    "Femur": (0.100, 0.567, 0.540),
    "Tibia": (0.0465, 0.567, 0.528),
    "Foot": (0.0145, 0.5, 0.690),
}

#: Segment lengths (mm) Nexus stores in PROCESSING, by segment ("L"/"R" prefixed).
PIG_SEGMENT_LENGTHS = {"Femur": "FemurLength", "Tibia": "TibiaLength", "Foot": "FootLength"}

#: Standard gravity (m/s2), along -z of the lab.
GRAVITY = 9.81

#: Joints, their (proximal, distal) segments; outputs are "L"/"R" + joint + Moment/Force/Power.
KINETIC_JOINTS = {"Hip": ("Pelvis", "Femur"), "Knee": ("Femur", "Tibia"), "Ankle": ("Tibia", "Foot")}

#: Nexus' component order and signs per projection (pyCGM2 CGM1 clinical descriptors):
#: output component k = sign[k] * (vector in the projection's axes)[order[k]]. "distal":
#: the distal segment's axes (Nexus' default), "proximal": the proximal segment's, "global":
#: the lab's. Moments: x sagittal (+ extensor at hip and knee, + plantarflexor at the ankle),
#: y frontal (+ abductor at the hip), z transverse.
MOMENT_COMPONENTS = {
    "distal": {
        "LHip": ((1, 0, 2), (1.0, 1.0, 1.0)), "RHip": ((1, 0, 2), (1.0, -1.0, -1.0)),
        "LKnee": ((1, 0, 2), (-1.0, 1.0, 1.0)), "RKnee": ((1, 0, 2), (-1.0, -1.0, -1.0)),
        "LAnkle": ((1, 2, 0), (1.0, -1.0, 1.0)), "RAnkle": ((1, 2, 0), (1.0, 1.0, -1.0)),
    },
    "proximal": {
        "LHip": ((1, 0, 2), (1.0, 1.0, 1.0)), "RHip": ((1, 0, 2), (1.0, -1.0, -1.0)),
        "LKnee": ((1, 0, 2), (-1.0, 1.0, 1.0)), "RKnee": ((1, 0, 2), (-1.0, -1.0, -1.0)),
        "LAnkle": ((1, 0, 2), (1.0, 1.0, 1.0)), "RAnkle": ((1, 0, 2), (1.0, -1.0, -1.0)),
    },
    "global": {
        "LHip": ((1, 0, 2), (1.0, 1.0, 1.0)), "RHip": ((1, 0, 2), (1.0, -1.0, -1.0)),
        "LKnee": ((1, 0, 2), (-1.0, 1.0, 1.0)), "RKnee": ((1, 0, 2), (-1.0, -1.0, -1.0)),
        "LAnkle": ((1, 0, 2), (1.0, 1.0, 1.0)), "RAnkle": ((1, 0, 2), (1.0, -1.0, -1.0)),
    },
}
_F_ID = ((0, 1, 2), (1.0, 1.0, 1.0))
FORCE_COMPONENTS = {
    "distal": {"LHip": _F_ID, "RHip": _F_ID, "LKnee": _F_ID, "RKnee": _F_ID,
               "LAnkle": ((0, 1, 2), (-1.0, 1.0, -1.0)), "RAnkle": ((0, 1, 2), (-1.0, 1.0, -1.0))},
    "proximal": {k: _F_ID for k in ("LHip", "RHip", "LKnee", "RKnee", "LAnkle", "RAnkle")},
    "global": {k: _F_ID for k in ("LHip", "RHip", "LKnee", "RKnee", "LAnkle", "RAnkle")},
}

#: Units of the kinetic outputs (per kg of body mass; Nexus stores N mm/kg, W/kg, N/kg).
KINETIC_UNITS = {"moments": "N m/kg", "joint_forces": "N/kg", "powers": "W/kg",
                 "GroundReactionForce": "N/kg", "NormalisedGRF": "% body weight"}

#: Frames at each end of a capture without kinetics (Nexus leaves 4: the derivatives' reach).
KINETICS_EDGE_FRAMES = 4
