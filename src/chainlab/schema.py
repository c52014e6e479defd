"""The columns and units of chainlab's tables, written once (below io: every layer reads them).

* :data:`EVENT_COLUMNS`: a gait event (:mod:`chainlab.gait.events`);
* :data:`CYCLE_COLUMNS`: a complete gait cycle (:mod:`chainlab.gait.cycles`);
* :data:`METRIC_COLUMNS`: the per-cycle measures (:mod:`chainlab.gait.metrics`, and the
  spatiotemporal parameters :data:`SPATIOTEMPORAL_COLUMNS` of
  :mod:`chainlab.gait.spatiotemporal`), units in the names (:data:`METRIC_UNITS`);
* :func:`joint_name`: an angle output without its side (the study store's ``joint``).
"""

from __future__ import annotations

EVENT_COLUMNS = ["side", "label", "time", "frame", "source"]

CYCLE_COLUMNS = ["side", "cycle", "start", "foot_off", "end", "stride_time", "stance"]

#: The spatiotemporal parameters of a cycle (``stride_time_s``, ``stance_pct`` and the pelvis'
#: ``walking_speed_m_s`` are the cycle table's own, beside them in :data:`METRIC_COLUMNS`).
SPATIOTEMPORAL_COLUMNS = [
    "cadence_steps_per_min", "stride_length_m", "step_length_m", "step_width_m", "swing_pct",
    "single_support_pct", "double_support_pct", "foot_progression_deg",
]

METRIC_COLUMNS = [
    "side", "cycle", "start_s", "end_s", "stride_time_s", "stance_pct", "walking_speed_m_s",
    *SPATIOTEMPORAL_COLUMNS,
    "peak_eversion_deg", "peak_eversion_time_pct", "eversion_excursion_deg",
    "tibial_ir_excursion_lab_deg", "ev_tir_ratio_lab", "transfer_coefficient_lab",
    "tibial_ir_excursion_femur_deg", "ev_tir_ratio_femur", "transfer_coefficient_femur",
    "coupling_angle_mean_deg", "coupling_angle_r", "coupling_proximal_pct", "coupling_in_phase_pct",
    "coupling_distal_pct", "coupling_anti_phase_pct", "marp_stance_deg", "pelvic_tilt_mean_deg",
    "pelvic_tilt_range_deg", "lordosis_mean_deg", "lordosis_range_deg", "gaps",
]

METRIC_UNITS = {c: ("deg" if c.endswith("_deg") else "%" if c.endswith("_pct") else "m s-1" if c.endswith("_m_s")
                    else "s" if c.endswith("_s") else "min-1" if c.endswith("_per_min") else "m" if c.endswith("_m")
                    else "1") for c in METRIC_COLUMNS}


def joint_name(output: str) -> str:
    """An angle output without its side: LHipAngles -> HipAngles, LumbarCurvature unchanged."""
    return output[1:] if output[:1] in ("L", "R") and output[1:2].isupper() else output
