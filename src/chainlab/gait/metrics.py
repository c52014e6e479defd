"""Per-cycle measures of the chain: rearfoot eversion, tibial rotation, pelvis, lumbar spine.

One row per complete cycle (:func:`cycle_metrics`), with the time-normalised curves it was
computed from (:func:`cycle_curves`). Variables and signs (``docs/gait.md``):

==========================  =============================================  ===============
variable                    from the kinematics output                     positive
==========================  =============================================  ===============
``rearfoot_eversion``       -?HFTBA y (Oxford Foot Model)                  eversion
``tibial_rotation_lab``     ?TIBA z (OFM lab tibia), heading frame         internal
``tibial_rotation_femur``   ?KneeAngles z (Plug-in Gait)                   internal
``pelvic_tilt``             ?PelvisAngles x (Plug-in Gait), heading frame  anterior
``lordosis``                LumbarCurvature x (chainlab's rule)            lordosis
==========================  =============================================  ===============

*Heading frame* (``frame="heading"``, the default; :mod:`chainlab.gait.heading`): pelvic tilt
and the tibia's rotation in the lab are measured against the direction of travel at each
frame, with the Nexus outputs' constructions, so that a turn or a walk along a diagonal of
the lab does not leak into them. ``frame="lab"`` takes the Nexus outputs' own values (their
fixed progression frame). The curves and the table say which (attribute ``frame``).

Coupling and excursions use stance (initial contact to foot off): pronation happens there.
So do the arch's measures (:func:`with_arch`): the cycle side's ``?ArchHeightIndex`` (OFM
arch height, % of foot length; :mod:`chainlab.model.ofm_posture`) over stance, its mean
(``arch_height_index_stance_mean_pct``) and its lowest (``arch_height_index_stance_min_pct``).
A cycle with a gap in a variable it needs gets NaN for the measures of that variable and the
variable's name in ``gaps``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from chainlab.gait import coupling, heading
from chainlab.gait.cycles import POINTS, normalise
from chainlab.schema import ANGLE_METRIC_COLUMNS, ARCH_METRIC_COLUMNS

SOURCES = {
    "rearfoot_eversion": ("{s}HFTBA", 1, -1.0),
    "tibial_rotation_lab": ("{s}TIBA", 2, 1.0),
    "tibial_rotation_femur": ("{s}KneeAngles", 2, 1.0),
    "pelvic_tilt": ("{s}PelvisAngles", 0, 1.0),
    "lordosis": ("LumbarCurvature", 0, 1.0),
}


#: cycle_metrics' columns: the angles' measures (the spatiotemporal parameters are added by
#: :func:`chainlab.gait.spatiotemporal.with_spatiotemporal`, the kinetic measures by
#: :mod:`chainlab.gait.kinetic_metrics`).
COLUMNS = ANGLE_METRIC_COLUMNS


def _series(kin: xr.Dataset, variable: str, side: str, frame: str = "lab", cache: dict | None = None,
            window_s: float = heading.WINDOW_S) -> np.ndarray:
    if frame == "heading" and variable in heading.SEGMENTS:
        cache = {} if cache is None else cache
        if "heading" not in cache:
            cache["heading"] = heading.heading_of(kin, window_s)
        return heading.heading_series(kin, variable, side, cache["heading"])
    name, comp, sign = SOURCES[variable]
    name = name.format(s=side[0])
    if name not in kin.output.values:
        return np.full(kin.sizes["frame"], np.nan)
    return sign * kin.angles.sel(output=name).values[:, comp]


def frame_attrs(frame: str, window_s: float | None = None) -> dict:
    """The attributes that say in which frame the chain's curves and measures are."""
    heading.check_frame(frame)
    if frame == "heading":
        text = ("pelvic_tilt and tibial_rotation_lab relative to the direction of travel at each frame "
                "(chainlab.gait.heading); the Nexus-named outputs keep their progression frame")
        return {"frame": frame, "frame_description": text,
                "heading_window_s": float(heading.WINDOW_S if window_s is None else window_s)}
    text = "pelvic_tilt and tibial_rotation_lab as ?PelvisAngles x and ?TIBA z (their progression frame)"
    return {"frame": frame, "frame_description": text}


def cycle_curves(kin: xr.Dataset, cycles: pd.DataFrame, frame: str = "heading",
                 window_s: float | None = None) -> xr.DataArray:
    """(cycle, variable, percent) curves in degrees, one cycle per row of `cycles`; pelvic
    tilt and tibial rotation in the lab in `frame` ("heading" or "lab", module docstring).
    The heading's window is `window_s`, by default the median stride time of `cycles`
    (:func:`chainlab.gait.heading.stride_window`: pass the whole trial's when `cycles` is a
    part of it)."""
    heading.check_frame(frame)
    window_s = heading.stride_window(cycles) if window_s is None else window_s
    t = kin.time.values
    data = np.full((len(cycles), len(SOURCES), POINTS), np.nan)
    series: dict[tuple[str, str], np.ndarray] = {}
    cache: dict = {}
    for i, row in enumerate(cycles.itertuples()):
        for j, var in enumerate(SOURCES):
            if (var, row.side) not in series:
                series[(var, row.side)] = _series(kin, var, row.side, frame, cache, window_s)
            data[i, j] = normalise(t, series[(var, row.side)], row.start, row.end)
    return xr.DataArray(
        data,
        dims=("cycle", "variable", "percent"),
        coords={"variable": list(SOURCES), "percent": np.linspace(0.0, 100.0, POINTS),
                "side": ("cycle", cycles.side.to_numpy(dtype=str))},
        attrs={"units": "deg", "long_name": "time-normalised angles, 0-100 % of the gait cycle",
               **frame_attrs(frame, window_s)},
    )


def angle_curves(kin: xr.Dataset, cycles: pd.DataFrame, joints: list[str], points: int = POINTS) -> xr.DataArray:
    """(cycle, joint, axis, percent) curves of every angle output on each cycle's side, deg.

    `joints` are output names without their side (:func:`chainlab.schema.joint_name`); a joint
    the trial does not have is NaN.
    """
    outputs = [str(o) for o in kin.output.values]
    data = np.full((len(cycles), len(joints), 3, points), np.nan)
    if len(cycles):
        time = kin.time.values
        angles = kin.angles.transpose("frame", "output", "axis").values
        per_side = {}  # side -> (joint rows, that side's angle series of those joints)
        for side in sorted(set(cycles.side)):
            names = [f"{side[0]}{j}" if f"{side[0]}{j}" in outputs else j for j in joints]
            rows = [k for k, name in enumerate(names) if name in outputs]
            per_side[side] = rows, angles[:, [outputs.index(names[k]) for k in rows], :]
        for i, row in enumerate(cycles.itertuples()):
            rows, series = per_side[row.side]
            if rows:
                data[i, rows] = normalise(time, series, row.start, row.end, points).transpose(1, 2, 0)
    return xr.DataArray(data, dims=("cycle", "joint", "axis", "percent"),
                        coords={"joint": joints, "axis": ["x", "y", "z"]},
                        attrs={"units": "deg", "long_name": "time-normalised angle outputs of the cycle's side"})


def _mid_asis(kin: xr.Dataset) -> np.ndarray | None:
    try:
        return 0.5 * (kin.markers.sel(marker="LASI").values + kin.markers.sel(marker="RASI").values)
    except KeyError:
        return None


def _walking_speed(kin: xr.Dataset, start: float, end: float, mid: np.ndarray | None = None) -> float:
    mid = _mid_asis(kin) if mid is None else mid
    if mid is None:
        return float("nan")
    t = kin.time.values
    p0 = np.array([np.interp(start, t, mid[:, k]) for k in range(2)])
    p1 = np.array([np.interp(end, t, mid[:, k]) for k in range(2)])
    return float(np.hypot(*(p1 - p0)) / (end - start))


def cycle_metrics(kin: xr.Dataset, cycles: pd.DataFrame, curves: xr.DataArray | None = None,
                  frame: str = "heading") -> pd.DataFrame:
    """The per-cycle table (see the module docstring); units in the column names. The
    chain's variables come from `curves` (in the frame they say) or, without them, from
    :func:`cycle_curves` in `frame`; the table's ``attrs`` say which frame."""
    curves = cycle_curves(kin, cycles, frame) if curves is None else curves
    attrs = {k: curves.attrs[k] for k in ("frame", "frame_description", "heading_window_s") if k in curves.attrs} \
        or frame_attrs(frame)
    rows = []
    mid = _mid_asis(kin) if len(cycles) else None
    variables = [str(v) for v in curves["variable"].values]
    values = curves.values
    for i, row in enumerate(cycles.itertuples()):
        c = {v: values[i, j] for j, v in enumerate(variables)}
        stance_end = int(round(row.stance)) + 1  # samples 0 .. stance %
        ev, tir, tirf = (c[v][:stance_end] for v in ("rearfoot_eversion", "tibial_rotation_lab", "tibial_rotation_femur"))
        gaps = [v for v in c if not np.isfinite(c[v]).all()]
        out = {
            "side": row.side, "cycle": row.cycle, "start_s": row.start, "end_s": row.end,
            "stride_time_s": row.stride_time, "stance_pct": row.stance,
            "walking_speed_m_s": _walking_speed(kin, row.start, row.end, mid) if mid is not None else float("nan"),
        }
        ok_ev = np.isfinite(ev).all()
        k = int(np.argmax(ev)) if ok_ev else 0
        out["peak_eversion_deg"] = float(ev[k]) if ok_ev else np.nan
        out["peak_eversion_time_pct"] = float(k) if ok_ev else np.nan
        for label, prox in (("lab", tir), ("femur", tirf)):
            ok = ok_ev and np.isfinite(prox).all()
            ex = coupling.excursions(prox, ev) if ok else None
            out["eversion_excursion_deg"] = ex["distal_excursion"] if ex else out.get("eversion_excursion_deg", np.nan)
            out[f"tibial_ir_excursion_{label}_deg"] = ex["proximal_excursion"] if ex else np.nan
            out[f"ev_tir_ratio_{label}"] = ex["ratio"] if ex else np.nan
            out[f"transfer_coefficient_{label}"] = ex["transfer_coefficient"] if ex else np.nan
        ok = ok_ev and np.isfinite(tir).all()
        gamma = coupling.coupling_angles(tir, ev) if ok else np.full(1, np.nan)
        mean, r = coupling.circular_mean(gamma)
        out["coupling_angle_mean_deg"], out["coupling_angle_r"] = float(mean), float(r)
        for name, pct in coupling.bin_fractions(gamma).items():
            out[f"coupling_{name}_pct"] = pct
        crp = coupling.continuous_relative_phase(c["tibial_rotation_lab"], c["rearfoot_eversion"])
        out["marp_stance_deg"] = float(np.mean(np.abs(crp[:stance_end]))) if ok else np.nan
        for v in ("pelvic_tilt", "lordosis"):
            ok_v = np.isfinite(c[v]).all()
            out[f"{v}_mean_deg"] = float(np.mean(c[v])) if ok_v else np.nan
            out[f"{v}_range_deg"] = float(np.ptp(c[v])) if ok_v else np.nan
        out["gaps"] = ",".join(gaps)
        out["not_measured"] = ""  # filled where the trial knows why (chainlab.gait.analysis.mark_not_measured)
        rows.append(out)
    if not rows:  # typed, so that a study table concatenated with it stays numeric
        table = pd.DataFrame({c: pd.Series(dtype=object if c in ("side", "gaps", "not_measured") else int if c == "cycle" else float)
                              for c in COLUMNS})
    else:
        table = pd.DataFrame(rows)[COLUMNS]
    table.attrs.update(attrs)
    return table


def arch_absent(kinematics: xr.Dataset) -> str:
    """Why a trial's kinematics have no arch measures ('' when they have them)."""
    if "arch" in kinematics:
        return ""
    source = str(kinematics.attrs.get("arch_calibration_source", ""))
    if source.startswith("none:"):
        return source[len("none:"):].strip()
    if "ofm" not in str(kinematics.attrs.get("models", "ofm")).split(","):
        return "model 'ofm' did not run"
    return "no OFM arch outputs in the kinematics"


def with_arch(metrics: pd.DataFrame, kinematics: xr.Dataset) -> pd.DataFrame:
    """The per-cycle table `metrics` (``side``, ``start_s``, ``end_s``, ``stance_pct``) with
    :data:`chainlab.schema.ARCH_METRIC_COLUMNS` from `kinematics`' ``arch`` (NaN without it,
    or where the stance has a gap: ``arch_height_index`` then added to ``gaps``), placed before
    ``gaps``."""
    out = metrics.copy()
    out.attrs = dict(metrics.attrs)
    values = {c: np.full(len(out), np.nan) for c in ARCH_METRIC_COLUMNS}
    gaps = list(out["gaps"]) if "gaps" in out else []
    if len(out) and "arch" in kinematics:
        names = set(kinematics.arch_output.values.astype(str).tolist())
        t = kinematics.time.values
        series = {s: kinematics.arch.sel(arch_output=f"{s[0]}ArchHeightIndex").values
                  for s in ("Left", "Right") if f"{s[0]}ArchHeightIndex" in names}
        for i, row in enumerate(out.itertuples()):
            if row.side not in series or not np.isfinite(row.stance_pct):
                continue
            stance = normalise(t, series[row.side], row.start_s, row.end_s)[:int(round(row.stance_pct)) + 1]
            if np.isfinite(stance).all():
                values["arch_height_index_stance_mean_pct"][i] = float(np.mean(stance))
                values["arch_height_index_stance_min_pct"][i] = float(np.min(stance))
            elif "gaps" in out:  # a hole in the arch over this stance: named as every variable's is
                had = gaps[i] if isinstance(gaps[i], str) else ""
                gaps[i] = ",".join([v for v in had.split(",") if v] + ["arch_height_index"])
    for c, v in values.items():
        out[c] = v
    if "gaps" in out:
        out["gaps"] = gaps
    base = [c for c in metrics.columns if c not in ARCH_METRIC_COLUMNS]
    at = base.index("gaps") if "gaps" in base else len(base)
    return out[base[:at] + ARCH_METRIC_COLUMNS + base[at:]]
