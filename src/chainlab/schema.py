"""The columns and units of chainlab's tables, written once (below io: every layer reads them).

* :data:`EVENT_COLUMNS`: a gait event (:mod:`chainlab.gait.events`);
* :data:`CYCLE_COLUMNS`: a complete gait cycle (:mod:`chainlab.gait.cycles`);
* :data:`METRIC_COLUMNS`: the per-cycle measures (:mod:`chainlab.gait.metrics`, the angles';
  the spatiotemporal parameters :data:`SPATIOTEMPORAL_COLUMNS` of
  :mod:`chainlab.gait.spatiotemporal`; the arch's :data:`ARCH_METRIC_COLUMNS`;
  :mod:`chainlab.gait.kinetic_metrics`, the kinetics'),
  units in the names (:data:`METRIC_UNITS`, :func:`column_units`);
* :func:`joint_name`: an angle output without its side (the study store's ``joint``).
"""

from __future__ import annotations

import re

#: What a trial file's outputs are, as computed from the same inputs and settings: a trial file
#: of another version (attribute ``outputs_version``; none: 0) is computed again by
#: ``chainlab study`` and the workflow (a params of the trials rule), never reused. Raised
#: whenever a change alters a number that a kept trial file holds (2: Plug-in Gait's knee
#: alignment and torsion offsets applied).
OUTPUTS_VERSION = 2

EVENT_COLUMNS = ["side", "label", "time", "frame", "source"]

#: A force-plate contact (:class:`chainlab.kinetics.Contact`).
#: The long table of the config's own measures (chainlab.gait.measures; the trial file's and
#: the store's ``/measures``).
MEASURE_COLUMNS = ["measure", "output", "component", "frame", "side", "window", "stat", "instance", "cycle", "start_s",
                   "end_s", "value", "units", "time_s", "plate", "reason"]
CONTACT_COLUMNS = ["plate", "first", "last", "side", "status", "reason"]

CYCLE_COLUMNS = ["side", "cycle", "start", "foot_off", "end", "stride_time", "stance"]

#: The spatiotemporal parameters of a cycle (``stride_time_s``, ``stance_pct`` and the pelvis'
#: ``walking_speed_m_s`` are the cycle table's own, beside them in :data:`METRIC_COLUMNS`).
SPATIOTEMPORAL_COLUMNS = [
    "cadence_steps_per_min", "stride_length_m", "step_length_m", "step_width_m", "swing_pct",
    "single_support_pct", "double_support_pct", "foot_progression_deg",
]
#: The markers they are measured from (Plug-in Gait's heel and toe; kept in the kinematics
#: whichever models run).
SPATIOTEMPORAL_MARKERS = tuple(f"{s}{m}" for s in "LR" for m in ("HEE", "TOE"))

#: The per-cycle measures of the angles (:func:`chainlab.gait.metrics.cycle_metrics`).
ANGLE_METRIC_COLUMNS = [
    "side", "cycle", "start_s", "end_s", "stride_time_s", "stance_pct", "walking_speed_m_s",
    "peak_eversion_deg", "peak_eversion_time_pct", "eversion_excursion_deg",
    "tibial_ir_excursion_lab_deg", "ev_tir_ratio_lab", "transfer_coefficient_lab",
    "tibial_ir_excursion_femur_deg", "ev_tir_ratio_femur", "transfer_coefficient_femur",
    "coupling_angle_mean_deg", "coupling_angle_r", "coupling_proximal_pct", "coupling_in_phase_pct",
    "coupling_distal_pct", "coupling_anti_phase_pct", "marp_stance_deg", "pelvic_tilt_mean_deg",
    "pelvic_tilt_range_deg", "lordosis_mean_deg", "lordosis_range_deg", "gaps", "not_measured",
]

#: The per-cycle kinetic measures (:func:`chainlab.gait.kinetic_metrics.kinetic_metrics`).
KINETIC_METRIC_COLUMNS = [
    "peak_knee_adduction_moment_1_Nm_kg", "peak_knee_adduction_moment_2_Nm_kg", "peak_knee_extensor_moment_Nm_kg",
    "peak_hip_extensor_moment_Nm_kg", "peak_hip_flexor_moment_Nm_kg", "peak_ankle_plantarflexor_moment_Nm_kg",
    "peak_ankle_power_A2_W_kg", "hip_power_H1_W_kg", "hip_power_H2_W_kg", "hip_power_H3_W_kg",
    "hip_work_stance_J_kg", "knee_work_stance_J_kg", "ankle_work_stance_J_kg", "kinetics_reason",
]

#: The per-cycle measures of the OFM arch (:func:`chainlab.gait.metrics.with_arch`): the
#: cycle side's ``?ArchHeightIndex`` (% of foot length) over stance, mean and lowest.
ARCH_METRIC_COLUMNS = ["arch_height_index_stance_mean_pct", "arch_height_index_stance_min_pct"]

_AFTER_SPEED = ANGLE_METRIC_COLUMNS.index("walking_speed_m_s") + 1
_GAPS = ANGLE_METRIC_COLUMNS.index("gaps")
#: The per-cycle table: the angles' measures with the spatiotemporal parameters after the
#: walking speed and the arch's before ``gaps``, then the kinetic measures.
METRIC_COLUMNS = (ANGLE_METRIC_COLUMNS[:_AFTER_SPEED] + SPATIOTEMPORAL_COLUMNS
                  + ANGLE_METRIC_COLUMNS[_AFTER_SPEED:_GAPS] + ARCH_METRIC_COLUMNS
                  + ANGLE_METRIC_COLUMNS[_GAPS:] + KINETIC_METRIC_COLUMNS)

#: Text columns of the per-cycle table (the rest are numbers).
TEXT_METRIC_COLUMNS = ("side", "gaps", "not_measured", "kinetics_reason")

#: The units of a column, from its name's ending (the rule written once).
#: Units and the column-name suffix that carries them (the one naming rule of every per-cycle
#: column: the built-in measures and the config's own, chainlab.gait.measures.per_cycle).
UNITS_AND_SUFFIXES = (("N m/kg", "Nm_kg"), ("W/kg", "W_kg"), ("J/kg", "J_kg"), ("N/kg", "N_per_kg"),
                      ("deg", "deg"), ("% body weight", "pct_body_weight"), ("%", "pct"), ("m s-1", "m_s"), ("min-1", "per_min"), ("s", "s"),
                      ("mm", "mm"), ("m", "m"))
UNIT_SUFFIXES = tuple((f"_{suffix}", units) for units, suffix in UNITS_AND_SUFFIXES)


def unit_suffix(units: str) -> str:
    """The column-name suffix for `units` (:data:`UNITS_AND_SUFFIXES`; other units spelt with
    ``/`` as ``_per_`` and other signs as ``_``); '' for no units."""
    known = dict(UNITS_AND_SUFFIXES)
    if units in known or not units:
        return known.get(units, "")
    return re.sub(r"[^A-Za-z0-9]+", "_", units.replace("/", "_per_").replace("% ", "pct_")).strip("_")


def column_units(column: str) -> str:
    """A per-cycle column's units from its name (:data:`UNIT_SUFFIXES`; '1' otherwise)."""
    return next((u for suffix, u in UNIT_SUFFIXES if column.endswith(suffix)), "1")


METRIC_UNITS = {c: column_units(c) for c in METRIC_COLUMNS}


def joint_name(output: str) -> str:
    """An angle output without its side: LHipAngles -> HipAngles, LumbarCurvature unchanged."""
    return output[1:] if output[:1] in ("L", "R") and output[1:2].isupper() else output
