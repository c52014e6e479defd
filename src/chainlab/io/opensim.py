"""OpenSim input files: markers as ``.trc``, ground reactions as ``.mot`` (and the
ExternalLoads ``.xml`` that applies them), for OpenSim's inverse kinematics and dynamics.

Frames: OpenSim's ground is Y up. chainlab's lab is Z up (docs/conventions.md); the export
turns it so that OpenSim X is the lab's horizontal walking axis (`forward`: "x", "-x", "y",
"-y", or "auto": the lab axis nearest the pelvis' travel), Y the lab's +Z, Z = X × Y (to the
subject's right when walking forward). Positions and vectors are turned alike; nothing is
translated.

* ``.trc`` (OpenSim's TRCFileAdapter format, PathFileType 4): Frame#, Time, then X Y Z per
  marker in the units the header names (``mm`` or ``m``); a marker missing in a frame is
  written as ``NaN`` (OpenSim 4 reads it as NaN; empty fields, the older habit, are dropped by
  its reader at the end of a line).
* ``.mot`` (version 1 storage, ``inDegrees=no``): per foot ``{l,r}_ground_force_v{x,y,z}``
  (N), ``{l,r}_ground_force_p{x,y,z}`` (m, the centre of pressure) and
  ``{l,r}_ground_torque_{x,y,z}`` (N·m, the free moment about the centre of pressure), the
  ground reaction on the subject. Plates are assigned to feet by a dict; a foot on two plates
  at once gets their summed force, the force-weighted mean centre of pressure and the summed
  free moments (the moment of the shear forces about the common point is left out).
  Where a foot carries no load every column is 0.
* ``.xml``: an ExternalLoads with one ExternalForce per foot, applied to ``calcn_l`` /
  ``calcn_r`` (the foot bodies of OpenSim's gait2392 and Rajagopal models), expressed in
  ground.

Marker names are written as chainlab has them (Plug-in Gait / OFM: LASI, RASI, LKNE, LHEE,
...): the OpenSim model's marker set must use those names, or `rename` maps them (docs/gait.md,
"OpenSim files").
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from chainlab.io.store import write_text_atomic

FORWARD = {"x": (1.0, 0.0, 0.0), "-x": (-1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "-y": (0.0, -1.0, 0.0)}
FEET = {"Left": "l", "Right": "r"}
BODIES = {"l": "calcn_l", "r": "calcn_r"}


def lab_to_opensim(forward: str = "x") -> np.ndarray:
    """(3, 3) rotation taking lab vectors (Z up) to OpenSim's ground (Y up): rows are
    OpenSim's X, Y, Z axes in lab coordinates."""
    if forward not in FORWARD:
        raise ValueError(f"forward must be one of {sorted(FORWARD)} or 'auto'; found {forward!r}")
    x = np.array(FORWARD[forward])
    y = np.array([0.0, 0.0, 1.0])
    return np.stack([x, y, np.cross(x, y)])


def travel_axis(ds: xr.Dataset) -> str:
    """The lab axis ("x", "-x", "y", "-y") nearest the pelvis' (mid-ASIS, else every
    marker's mean) horizontal travel from the first to the last valid frame."""
    names = set(ds.marker.values.astype(str).tolist())
    mk = ds.markers.values
    if {"LASI", "RASI"} <= names:
        p = 0.5 * (ds.markers.sel(marker="LASI").values + ds.markers.sel(marker="RASI").values)
    else:
        with np.errstate(invalid="ignore"):
            p = np.nanmean(mk, axis=1)
    ok = np.flatnonzero(np.all(np.isfinite(p), axis=1))
    if ok.size < 2:
        return "x"
    d = p[ok[-1], :2] - p[ok[0], :2]
    i = int(np.argmax(np.abs(d)))
    return ("-" if d[i] < 0 else "") + "xy"[i]


def _number(v: float) -> str:
    return "NaN" if not np.isfinite(v) else f"{v:.6f}"


def write_trc(path: str | os.PathLike, time: np.ndarray, markers: Mapping[str, np.ndarray], *,
              units: str = "mm", forward: str = "x", rename: Mapping[str, str] | None = None) -> Path:
    """Write markers (name -> (n, 3) lab positions in metres) to an OpenSim ``.trc``.

    `units` "mm" or "m" (what the header says and the numbers are in); `rename` maps
    chainlab's marker names to the model's. Returns the path.
    """
    scale = {"mm": 1000.0, "m": 1.0}.get(units)
    if scale is None:
        raise ValueError(f"units must be 'mm' or 'm'; found {units!r}")
    time = np.asarray(time, float)
    n = len(time)
    if n < 2:
        raise ValueError(f"{path}: a .trc needs at least 2 frames; found {n}")
    rate = (n - 1) / (time[-1] - time[0])
    rot = lab_to_opensim(forward)
    names = list(markers)
    rename = rename or {}
    out_names = [rename.get(m, m) for m in names]
    xyz = np.stack([np.asarray(markers[m], float) for m in names], axis=1) @ rot.T * scale  # (n, M, 3)
    p = Path(path)
    head = [
        f"PathFileType\t4\t(X/Y/Z)\t{p.name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{rate:.6g}\t{rate:.6g}\t{n}\t{len(names)}\t{units}\t{rate:.6g}\t1\t{n}",
        "Frame#\tTime\t" + "\t".join(f"{m}\t\t" for m in out_names),
        "\t\t" + "\t".join(f"X{i + 1}\tY{i + 1}\tZ{i + 1}" for i in range(len(names))),
        "",
    ]
    flat = xyz.reshape(n, -1)
    rows = [f"{i + 1}\t{time[i]:.6f}\t" + "\t".join(_number(v) for v in flat[i]) for i in range(n)]
    write_text_atomic("\n".join(head + rows) + "\n", p)
    return p


def _intervals(assignment: Mapping[int, str | Sequence[tuple[str, float, float]]], plate: int):
    spec = assignment[plate]
    if isinstance(spec, str):
        return [(spec, -np.inf, np.inf)]
    return [(side, float(t0), float(t1)) for side, t0, t1 in spec]


def foot_loads(time: np.ndarray, force: np.ndarray, cop: np.ndarray, free_moment: np.ndarray,
               plates: Sequence[int], assignment: Mapping[int, str | Sequence[tuple[str, float, float]]]
               ) -> dict[str, dict[str, np.ndarray]]:
    """Per foot ("l", "r") the ground reaction ``force`` (n, 3) N, ``point`` (n, 3) m and
    ``torque`` (n, 3) N·m in the lab, from per-plate arrays (n, P, 3) (force and free moment:
    NaN or 0 where unloaded; cop NaN where unloaded) and `assignment`: plate number -> "Left" /
    "Right" for the whole trial, or a list of (side, t_start, t_end) in s. The point is the
    mean of the foot's plates' centres of pressure weighted by their vertical force (0 where
    no plate's is defined)."""
    time = np.asarray(time, float)
    n = len(time)
    unknown = [k for k in assignment if k not in plates]
    if unknown:
        raise KeyError(f"plate assignment names plates {unknown}; the trial has plates {list(plates)}")
    out = {}
    for side, foot in FEET.items():
        f_sum, m_sum, p_sum = np.zeros((n, 3)), np.zeros((n, 3)), np.zeros((n, 3))
        w_sum = np.zeros(n)
        for j, plate in enumerate(plates):
            if plate not in assignment:
                continue
            on = np.zeros(n, bool)
            for s, t0, t1 in _intervals(assignment, plate):
                if s not in FEET:
                    raise ValueError(f"plate {plate}: side must be 'Left' or 'Right'; found {s!r}")
                if s == side:
                    on |= (time >= t0) & (time <= t1)
            f = np.nan_to_num(force[:, j]) * on[:, None]
            c = cop[:, j]
            located = on & np.all(np.isfinite(c), axis=1)  # the centre of pressure is defined
            w = np.where(located, np.abs(f[:, 2]), 0.0)
            f_sum += f
            m_sum += np.nan_to_num(free_moment[:, j]) * on[:, None]
            p_sum += np.where(located[:, None], np.nan_to_num(c) * w[:, None], 0.0)
            w_sum += w
        with np.errstate(invalid="ignore", divide="ignore"):
            point = np.where(w_sum[:, None] > 0, p_sum / w_sum[:, None], 0.0)
        out[foot] = {"force": f_sum, "point": point, "torque": m_sum}
    return out


def write_grf_mot(path: str | os.PathLike, time: np.ndarray, loads: Mapping[str, Mapping[str, np.ndarray]], *,
                  forward: str = "x") -> Path:
    """Write per-foot loads (:func:`foot_loads`, lab frame) to an OpenSim ``.mot``."""
    time = np.asarray(time, float)
    rot = lab_to_opensim(forward)
    cols, data = ["time"], [time[:, None]]
    for foot in ("r", "l"):
        if foot not in loads:
            continue
        for key, label in (("force", f"{foot}_ground_force_v"), ("point", f"{foot}_ground_force_p"),
                           ("torque", f"{foot}_ground_torque_")):
            cols += [f"{label}{a}" for a in "xyz"]
            data.append(np.asarray(loads[foot][key], float) @ rot.T)
    table = np.concatenate(data, axis=1)
    p = Path(path)
    head = [p.name, "version=1", f"nRows={len(time)}", f"nColumns={len(cols)}", "inDegrees=no", "endheader",
            "\t".join(cols)]
    rows = ["\t".join(f"{v:.8g}" for v in r) for r in table]
    write_text_atomic("\n".join(head + rows) + "\n", p)
    return p


def write_external_loads(path: str | os.PathLike, mot_name: str, feet: Sequence[str] = ("r", "l")) -> Path:
    """An OpenSim ExternalLoads ``.xml`` applying the ``.mot``'s per-foot loads to calcn_l/r."""
    forces = "".join(
        f"""
			<ExternalForce name="{f}_ground">
				<applied_to_body>{BODIES[f]}</applied_to_body>
				<force_expressed_in_body>ground</force_expressed_in_body>
				<point_expressed_in_body>ground</point_expressed_in_body>
				<force_identifier>{f}_ground_force_v</force_identifier>
				<point_identifier>{f}_ground_force_p</point_identifier>
				<torque_identifier>{f}_ground_torque_</torque_identifier>
				<data_source_name>{mot_name}</data_source_name>
			</ExternalForce>""" for f in feet)
    text = f"""<?xml version="1.0" encoding="UTF-8" ?>
<OpenSimDocument Version="40000">
	<ExternalLoads name="externalloads">
		<objects>{forces}
		</objects>
		<groups />
		<datafile>{mot_name}</datafile>
	</ExternalLoads>
</OpenSimDocument>
"""
    return write_text_atomic(text, Path(path))


def plates_at_points(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A trial's per-plate force, cop, free moment (lab, N, m, N·m) averaged over each
    frame's analog samples: (n, P, 3) arrays at the point rate (cop: the mean over the
    frame's loaded samples, NaN where none is), and the plate numbers."""
    n = ds.sizes["frame"]
    ratio = ds.sizes["analog_sample"] // max(n, 1)
    if ratio < 1 or ratio * n != ds.sizes["analog_sample"]:
        raise ValueError(f"{ds.attrs.get('source_file', 'trial')}: {ds.sizes['analog_sample']} analog samples "
                         f"for {n} frames; expected a whole number per frame")

    def mean(v):
        a = ds[v].values.reshape(n, ratio, ds.sizes["plate"], 3)
        if v == "plate_cop":  # the mean of the loaded samples; NaN where none is
            ok = np.isfinite(a).all(axis=-1, keepdims=True)
            with np.errstate(invalid="ignore"):
                return np.where(ok, a, 0.0).sum(axis=1) / ok.sum(axis=1)
        return np.nan_to_num(a).mean(axis=1)

    return mean("plate_force"), mean("plate_cop"), mean("plate_free_moment"), ds.plate.values.astype(int)


def export_trial(ds: xr.Dataset, out_dir: str | os.PathLike, assignment: Mapping | None = None, *,
                 units: str = "mm", forward: str = "auto", rename: Mapping[str, str] | None = None,
                 markers: Sequence[str] | None = None) -> dict[str, Path]:
    """A trial (:func:`chainlab.read_c3d`) as ``<name>.trc`` and, when it has plates and an
    `assignment`, ``<name>_grf.mot`` and ``<name>_grf.xml`` in `out_dir`. The `markers` named
    (default: every point the reader does not flag as modelled). Returns the paths by kind."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = Path(ds.attrs.get("source_file", "trial")).stem
    fwd = travel_axis(ds) if forward == "auto" else forward
    names = ds.marker.values.astype(str).tolist()
    if markers is None:
        keep = ~ds.marker_modeled.values if "marker_modeled" in ds.coords else np.ones(len(names), bool)
        markers = [m for m, k in zip(names, keep) if k]
    missing = [m for m in markers if m not in names]
    if missing:
        raise KeyError(f"{ds.attrs.get('source_file', 'trial')}: markers {missing} not in the trial")
    mk = {m: ds.markers.sel(marker=m).values for m in markers}
    paths = {"trc": write_trc(out / f"{name}.trc", ds.time.values, mk, units=units, forward=fwd, rename=rename)}
    if assignment and ds.sizes.get("plate", 0):
        force, cop, free, plates = plates_at_points(ds)
        loads = foot_loads(ds.time.values, force, cop, free, plates.tolist(), assignment)
        paths["mot"] = write_grf_mot(out / f"{name}_grf.mot", ds.time.values, loads, forward=fwd)
        paths["xml"] = write_external_loads(out / f"{name}_grf.xml", paths["mot"].name)
    return paths


def assignment_from_contacts(contacts, frames: np.ndarray, time: np.ndarray) -> dict[int, list[tuple[str, float, float]]]:
    """The plate-to-foot assignment of :func:`export_trial` from plate contacts (objects with
    ``plate``, ``first``, ``last`` (frame numbers, inclusive), ``side`` "L"/"R" and
    ``status``: :func:`chainlab.kinetics.assign_contacts`): each accepted contact's foot from
    1.5 frames before its first frame to 1.5 frames after its last (the contacts are found on
    the frame-mean force at the kinetics' threshold, the export writes each frame's sample:
    its loading ramp can start a frame earlier, e.g. 36 N at HC030A05 frame 355, plate 1's
    contact from 356); the others left out (their loads are written as no foot's)."""
    frames, time = np.asarray(frames), np.asarray(time, float)
    half = 1.5 * float(np.median(np.diff(time))) if len(time) > 1 else 0.0
    out: dict[int, list[tuple[str, float, float]]] = {}
    for c in contacts:
        if c.status != "accepted" or c.side not in ("L", "R"):
            continue
        i0, i1 = (int(np.searchsorted(frames, f)) for f in (c.first, c.last))
        out.setdefault(int(c.plate), []).append(("Left" if c.side == "L" else "Right",
                                                 float(time[i0]) - half, float(time[i1]) + half))
    return out
