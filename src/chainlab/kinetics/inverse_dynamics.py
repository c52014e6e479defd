"""Plug-in Gait inverse dynamics of the lower limbs, as Vicon Nexus computes them.

Recursive Newton-Euler, foot -> tibia -> femur on each side, vectorised over frames
(conventions: :mod:`chainlab.conventions`, "kinetics"; prose: ``docs/conventions.md``):

* segments, axes and joint centres are the Plug-in Gait ones of
  :func:`chainlab.kinematics.compute_kinematics` (``segment_axes``, ``segment_origin``,
  ``joint_centres``); the foot is the static-offset-corrected foot;
* inertia from Vicon's table (:data:`~chainlab.conventions.PIG_SEGMENT_PARAMETERS`): mass
  as a fraction of body mass; the femur's and tibia's centre of mass on the line of their
  joint centres, 0.567 of the way from the distal one to the proximal one; the foot's half
  its PROCESSING length (``?FootLength``) from the ankle joint centre towards the toe (along
  -z); radius of gyration about x and y as a fraction of the PROCESSING length
  (``?FemurLength``, ``?TibiaLength``, ``?FootLength``), none about z. (Fitted to Nexus'
  joint forces: the masses and the 0.567 come out to 4 digits, the foot's 0.5 L to 2.)
  Lengths missing from PROCESSING are measured on the kinematics (:func:`segment_lengths`);
* linear accelerations by the second difference (x[i+1] - 2 x[i] + x[i-1]) / dt^2; angular
  velocity over +-2 frames from D = R[i+2] R[i-2]^T as vee((D - D^T) / 2) / (4 dt); angular
  acceleration its central difference over +-2 frames: the first and last 4 frames of a
  capture have no kinetics, as in Nexus;
* the ground reaction enters the foot as the plate's force and its moment about the plate's
  centre (no centre of pressure needed); only accepted contacts
  (:mod:`chainlab.kinetics.contacts`) load a foot;
* a side has no kinetics from the frame after a Foot Strike to the frame before its Foot Off
  when that stance is not on one plate alone; a stance under way at the start of the
  capture, or not ended at its end, is computed as swing as Nexus does (``open_stance="nexus"``)
  or refused (``open_stance="nan"``);
* moments are the internal moments the proximal segment applies to the distal one, per kg
  of body mass, projected on the distal segment's axes (default), the proximal's or the
  lab's, in Nexus' component order and signs; power = M . (omega_distal - omega_proximal).

Agreement with the Nexus outputs stored in the biomechzoo walks: ``bench/kinetics.py``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from chainlab import __version__
from chainlab.conventions import (
    AXES,
    GRAVITY,
    KINETIC_JOINTS,
    KINETIC_UNITS,
    FORCE_COMPONENTS,
    MOMENT_COMPONENTS,
    PIG_SEGMENT_LENGTHS,
    PIG_SEGMENT_PARAMETERS,
)
from chainlab.errors import ModelInputError
from chainlab.kinetics.contacts import SIDES, Contact, assign_contacts, stances
from chainlab.kinetics.grf import ground_reaction
from chainlab.model import pig
from chainlab.model.measurements import PIG_OPTIONAL as DEFAULT_MEASUREMENTS
from chainlab.model.measurements import from_dataset  # the trial's PROCESSING measurements by name
from chainlab.options import KineticsOptions

#: Contact statuses whose foot has no kinetics while the plate is loaded.
REFUSED = ("shared", "partial", "cut")
_SIDE_NAME = {"L": "Left", "R": "Right"}


# --------------------------------------------------------------------------- kernels


# Internally every series is component-major: a vector series (3, n), a frame series
# (3, 3, n) with r[:, j] the j-th axis; contiguous rows make the arithmetic 3-4x faster
# than (n, 3) arrays. The public functions take and return (n, 3) / (n, 3, 3).


def _cm(x: np.ndarray) -> np.ndarray:
    """(n, 3) -> (3, n), (n, 3, 3) -> (3, 3, n), contiguous."""
    return np.ascontiguousarray(np.moveaxis(x, 0, -1))


def _to_local(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    """R^T v: (3, n) lab components to the segment's axes, r (3, 3, n)."""
    out = np.empty(v.shape)
    for j in range(3):
        np.multiply(r[0, j], v[0], out=out[j])
        out[j] += r[1, j] * v[1]
        out[j] += r[2, j] * v[2]
    return out


def _to_lab(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    """R v: (3, n) segment components back to the lab."""
    return r[:, 0] * v[0] + r[:, 1] * v[1] + r[:, 2] * v[2]


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a x b for (3, n) arrays (either may be (3, 1))."""
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    for i, j, k in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        np.multiply(a[j], b[k], out=out[i])
        out[i] -= a[k] * b[j]
    return out


def _diff(x: np.ndarray, rate: float, step: int) -> np.ndarray:
    """Central difference along the last axis, NaN at the ends."""
    out = np.full(x.shape, np.nan)
    n = x.shape[-1]
    if n > 2 * step:
        np.subtract(x[..., 2 * step:], x[..., : n - 2 * step], out=out[..., step: n - step])
        out[..., step: n - step] *= rate / (2.0 * step)
    return out


def _diff2(x: np.ndarray, rate: float) -> np.ndarray:
    """Second difference along the last axis, NaN at the ends."""
    out = np.full(x.shape, np.nan)
    if x.shape[-1] > 2:
        out[..., 1:-1] = (x[..., 2:] - 2.0 * x[..., 1:-1] + x[..., :-2]) * rate**2
    return out


def _omega(r: np.ndarray, rate: float, step: int) -> np.ndarray:
    """(3, n) angular velocity of frames r (3, 3, n): vee of the skew part of
    D = R[i+step] R[i-step]^T over 2 step dt."""
    n = r.shape[-1]
    out = np.full((3, n), np.nan)
    if n > 2 * step:
        a, b = r[..., 2 * step:], r[..., : n - 2 * step]

        def d(i, j):  # D[i, j] = sum_k a[i, k] b[j, k]
            return a[i, 0] * b[j, 0] + a[i, 1] * b[j, 1] + a[i, 2] * b[j, 2]

        k = 0.5 * rate / (2.0 * step)
        out[:, step: n - step] = k * np.stack([d(2, 1) - d(1, 2), d(0, 2) - d(2, 0), d(1, 0) - d(0, 1)])
    return out


def _wrench(com, r, mass, inertia, omega, joint, distal_force, distal_moment, rate, step, gravity):
    """:func:`segment_wrench` on component-major series."""
    acc = _diff2(com, rate)
    alpha = _diff(omega, rate, step)
    w_l = _to_local(r, omega)
    i = np.asarray(inertia, dtype=float)[:, None]
    h_dot = _to_lab(r, i * _to_local(r, alpha) + _cross(w_l, i * w_l))
    ma = mass * acc
    ma[2] += mass * gravity  # m a - m g, g = (0, 0, -gravity)
    force = ma - distal_force
    # moments about the lab origin: sum = dH/dt + com x m a; gravity acts at the com
    moment = h_dot + _cross(com, ma) - distal_moment - _cross(joint, force)
    return force, moment


def angular_velocity(r: np.ndarray, rate: float, step: int = 2) -> np.ndarray:
    """(n, 3) angular velocity (rad/s, lab frame) of frames r (n, 3, 3), central over +-step.

    The rotation from frame i - step to i + step, D = R[i+step] R[i-step]^T, gives
    omega = vee((D - D^T) / 2) / (2 step dt) (the axis times the sine of the angle turned:
    Nexus' estimate; NaN at the ends).
    """
    return _omega(_cm(r), rate, step).T


def segment_wrench(
    com: np.ndarray,
    r: np.ndarray,
    mass: float,
    inertia: np.ndarray,
    omega: np.ndarray,
    joint: np.ndarray,
    distal_force: np.ndarray,
    distal_moment: np.ndarray,
    rate: float,
    step: int = 2,
    gravity: float = GRAVITY,
) -> tuple[np.ndarray, np.ndarray]:
    """Newton-Euler for one rigid segment: the load its proximal joint must apply.

    Parameters
    ----------
    com : (n, 3) centre of mass, m (lab).
    r : (n, 3, 3) segment axes as lab columns.
    mass : kg.  inertia : (3,) principal moments of inertia about the segment's axes, kg m2.
    omega : (n, 3) angular velocity, rad/s (lab).
    joint : (n, 3) the proximal joint centre, m.
    distal_force : (n, 3) N, the other loads' resultant force on the segment.
    distal_moment : (n, 3) N m, the other loads' resultant moment about the lab origin.

    Returns
    -------
    force, moment : (n, 3) the force (N) and the moment about `joint` (N m) applied by the
    proximal segment to this one, in the lab frame. The linear acceleration is the second
    difference (NaN in the first and last frame), the angular acceleration the central
    difference of `omega` over +-step.
    """
    f, m = _wrench(_cm(com), _cm(r), mass, inertia, _cm(omega), _cm(joint), _cm(distal_force),
                   _cm(distal_moment), rate, step, gravity)
    return f.T, m.T


def _project(vec: np.ndarray, axes: np.ndarray | None, order, signs) -> np.ndarray:
    """(3, n) output components of a (3, n) lab vector in `axes` (3, 3, n) or the lab's."""
    local = vec if axes is None else _to_local(axes, vec)
    return local[list(order)] * np.asarray(signs)[:, None]


# --------------------------------------------------------------------------- trial level


def segment_lengths(kinematics: xr.Dataset, trial: xr.Dataset) -> dict[str, float]:
    """Segment lengths (mm) as Nexus stores them in PROCESSING, from a trial's kinematics.

    ``?FemurLength`` and ``?TibiaLength``: the mean distance between the joint centres
    (hip-knee, knee-ankle); ``?FootLength``: the mean heel-to-toe marker distance less the
    marker radius. On the six biomechzoo static trials (with their own kinematics) the femur
    and foot equal Nexus' stored values to 0.01 mm on five (0.9 mm on HC036A01), the tibia to
    1.5 mm. Give the static trial's (``subject=segment_lengths(static_kinematics, static)``
    in :func:`compute_kinetics`); on a walk they differ by a few mm.
    """
    name = trial.attrs.get("source_file", "trial")
    stored = from_dataset(trial)
    radius = 0.5 * (stored.get("MarkerDiameter") or DEFAULT_MEASUREMENTS["MarkerDiameter"])
    present = set(trial.marker.values.tolist()) if "marker" in trial.coords else set()
    points = set(kinematics.point.values.tolist())
    out: dict[str, float] = {}
    for side in SIDES:
        for seg, (a, b) in (("Femur", ("HJC", "KJC")), ("Tibia", ("KJC", "AJC"))):
            if side + a in points and side + b in points:
                d = kinematics.joint_centres.sel(point=side + a).values - kinematics.joint_centres.sel(point=side + b).values
                out[side + PIG_SEGMENT_LENGTHS[seg]] = float(np.nanmean(np.linalg.norm(d, axis=-1))) * 1e3
        if side + "HEE" in present and side + "TOE" in present:
            d = trial.markers.sel(marker=side + "HEE").values - trial.markers.sel(marker=side + "TOE").values
            out[side + PIG_SEGMENT_LENGTHS["Foot"]] = float(np.nanmean(np.linalg.norm(d, axis=-1))) * 1e3 - radius
    if not all(np.isfinite(v) for v in out.values()):
        raise ModelInputError(f"{name}: segment lengths cannot be measured (joint centres or heel/toe markers never valid)")
    return out


def body_parameters(trial: xr.Dataset, overrides: Mapping[str, float] | None = None,
                    kinematics: xr.Dataset | None = None) -> dict[str, float]:
    """Body mass (kg) and the segment lengths (mm) Nexus stores in PROCESSING.

    ``overrides`` (e.g. a study's subject measurements, or :func:`segment_lengths` of the
    static trial) win over the file. Lengths missing from both are measured on `kinematics`
    (with `trial`'s markers) when given. Raises :class:`~chainlab.errors.ModelInputError`
    naming what is missing.
    """
    name = trial.attrs.get("source_file", "trial")
    stored = from_dataset(trial)
    stored = {k: v for k, v in stored.items() if np.isfinite(v) and v > 0}
    stored.update({k: float(v) for k, v in (overrides or {}).items()})
    need = ["Bodymass"] + [s + v for s in SIDES for v in PIG_SEGMENT_LENGTHS.values()]
    if kinematics is not None and any(k not in stored for k in need[1:]):
        measured = segment_lengths(kinematics, trial)
        stored.update({k: v for k, v in measured.items() if k not in stored})
    missing = [k for k in need if not (np.isfinite(stored.get(k, np.nan)) and stored.get(k, 0) > 0)]
    if missing:
        raise ModelInputError(
            f"{name}: kinetics need the body mass (kg) and the segment lengths (mm) of PROCESSING; "
            f"missing or not positive: {', '.join(missing)} (give them as subject measurements)"
        )
    return {k: stored[k] for k in need}


def foot_loads(grf: xr.Dataset, contacts: list[Contact]) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per side: force (n, 3) N, moment about the lab origin (n, 3) N m, and whether loaded
    (n,), from the accepted contacts whose frames fall in `grf`. A contact loads its foot from
    the frame before its first to the frame after its last (the window mean of the samples
    spreads the touch-down and lift-off over the neighbouring frames, below the threshold, as
    Nexus' ``GroundReactionForce`` does)."""
    frames = grf.frame.values
    n = frames.size
    plates = grf.plate.values.tolist()
    out = {}
    for side in SIDES:
        f = np.zeros((n, 3))
        m = np.zeros((n, 3))
        on = np.zeros(n, dtype=bool)
        for c in contacts:
            if c.status != "accepted" or c.side != side:
                continue
            sl = (frames >= c.first - 1) & (frames <= c.last + 1)
            if not sl.any():
                continue
            j = plates.index(c.plate)
            fp = grf.force.values[sl, j]
            f[sl] += fp
            m[sl] += grf.moment.values[sl, j] + np.cross(grf.centre.values[j], fp)
            on |= sl
        out[side] = (f, m, on)
    return out


def validity(frames: np.ndarray, contacts: list[Contact], stance: Mapping[str, list],
             open_stance: str = "nexus") -> dict[str, np.ndarray]:
    """Per side, (n,) True where the kinetics hold.

    Not inside a stance (after its Foot Strike, before its Foot Off) that no accepted
    contact of that side carries (a stance without its strike or its off in the capture
    counts only with ``open_stance="nan"``); for a side without Foot Strike / Foot Off
    events, not during a refused contact of that side (``partial``, ``cut``; ``shared`` and a
    ``cut`` of unknown side refuse both sides): a foot loaded by a plate whose load is not
    applied.
    """
    out = {}
    for side in SIDES:
        ok = np.ones(frames.size, dtype=bool)
        for strike, off in stance.get(side, []):
            if open_stance == "nexus" and (strike is None or off is None):
                continue
            lo = -np.inf if strike is None else strike
            hi = np.inf if off is None else off
            carried = any(c.status == "accepted" and c.side == side and c.first <= hi and c.last >= lo for c in contacts)
            if not carried:
                ok &= ~((frames > lo) & (frames < hi) if off is not None else frames > lo)
        if not stance.get(side):  # no events for this side: the contacts alone say when it stands
            for c in contacts:
                if c.status in REFUSED and c.side in (side, None):
                    ok &= ~((frames >= c.first - 1) & (frames <= c.last + 1))
        out[side] = ok
    return out


def joint_kinetics(
    kinematics: xr.Dataset,
    grf: xr.Dataset,
    contacts: list[Contact],
    body: Mapping[str, float],
    stance: Mapping[str, list] | None = None,
    options: KineticsOptions | None = None,
    progression: np.ndarray | None = None,
) -> xr.Dataset:
    """Joint forces, moments and powers of hips, knees and ankles for some frames of a trial.

    Parameters
    ----------
    kinematics : xarray.Dataset
        :func:`chainlab.kinematics.compute_kinematics` with the Plug-in Gait model
        (segments ``Pelvis``, ``LeftFemur`` ... ``RightFoot``; points ``LHJC`` ... ``RAJC``).
    grf : xarray.Dataset
        :func:`chainlab.kinetics.grf.ground_reaction` of the same frames.
    contacts : list of Contact
        :func:`chainlab.kinetics.contacts.assign_contacts` of the whole trial.
    body : dict
        :func:`body_parameters`: ``Bodymass`` (kg) and segment lengths (mm).
    stance : dict, optional
        :func:`chainlab.kinetics.contacts.stances` of the whole trial (validity); None: no
        stance is refused.
    options : KineticsOptions
    progression : (3, 3) ndarray, optional
        The trial's progression frame (:func:`chainlab.model.pig.progression_frame`, Nexus'
        "lab" rule), for ``NormalisedGRF``; None: taken from these frames' pelvis markers.

    A window of a long trial gives the frames of the whole trial except 2 x derivative_step
    frames at each edge of the window: compute windows that overlap by that much.
    """
    opt = options or KineticsOptions()
    name = kinematics.attrs.get("dynamic_file", "trial")
    if not np.array_equal(kinematics.frame.values, grf.frame.values):
        raise ValueError(f"{name}: the kinematics and ground reaction cover different frames")
    segs = set(kinematics.segment.values.tolist())
    need = ["Pelvis"] + [_SIDE_NAME[s] + g for s in SIDES for g in ("Femur", "Tibia", "Foot")]
    if missing := [s for s in need if s not in segs]:
        raise ModelInputError(f"{name}: kinetics need the Plug-in Gait segments; missing {', '.join(missing)}")
    rate = float(kinematics.attrs.get("point_rate", 0) or 0)
    if not rate > 0:
        raise ValueError(f"{name}: point_rate must be > 0; found {rate}")
    step = int(opt.derivative_step)
    bm = float(body["Bodymass"])
    frames = kinematics.frame.values
    axes_all = kinematics.segment_axes
    seg = {s: _cm(axes_all.sel(segment=s).values) for s in need}
    pts = {p: _cm(kinematics.joint_centres.sel(point=p).values) for p in kinematics.point.values.tolist()}
    omega = {s: _omega(seg[s], rate, step) for s in need}
    loads = foot_loads(grf, contacts)
    ok = validity(frames, contacts, stance or {}, opt.open_stance)
    moments, forces, powers, grf_out = {}, {}, {}, {}
    for side in SIDES:
        full = _SIDE_NAME[side]
        f_d, m_d = _cm(loads[side][0]), _cm(loads[side][1])
        on = loads[side][2]
        hjc, kjc, ajc = pts[side + "HJC"], pts[side + "KJC"], pts[side + "AJC"]
        chain = (("Foot", ajc, None), ("Tibia", kjc, ajc), ("Femur", hjc, kjc))
        wrench = {}
        for name_, proximal, distal in chain:
            s = full + name_
            frac, com_frac, gyr = PIG_SEGMENT_PARAMETERS[name_]
            mass = frac * bm
            if name_ == "Foot":  # from the ankle towards the toe (-z) by half the foot length
                length = body[side + PIG_SEGMENT_LENGTHS[name_]] * 1e-3
                com = ajc - com_frac * length * seg[s][:, 2]
            else:  # on the line of the joint centres, from the distal one
                length = (body[side + PIG_SEGMENT_LENGTHS[name_]] * 1e-3 if opt.segment_lengths == "processing"
                          else np.linalg.norm(proximal - distal, axis=0))
                com = distal + com_frac * (proximal - distal)
            k = mass * (gyr * np.nanmedian(length)) ** 2
            f_p, m_p = _wrench(com, seg[s], mass, (k, k, 0.0), omega[s], proximal, f_d, m_d, rate, step, GRAVITY)
            wrench[name_] = (f_p, m_p)
            f_d, m_d = -f_p, -(m_p + _cross(proximal, f_p))  # reaction on the next segment
        bad = ~ok[side]
        for joint, (prox, dist) in KINETIC_JOINTS.items():
            f_p, m_p = wrench[dist]
            d_axes = seg[full + dist]
            p_axes = seg["Pelvis" if prox == "Pelvis" else full + prox]
            axes = {"distal": d_axes, "proximal": p_axes, "global": None}[opt.projection]
            key = side + joint
            mo = _project(m_p / bm, axes, *MOMENT_COMPONENTS[opt.projection][key])
            fo = _project(f_p / bm, axes, *FORCE_COMPONENTS[opt.projection][key])
            w_p = omega["Pelvis" if prox == "Pelvis" else full + prox]
            d_w = omega[full + dist] - w_p
            pw = (m_p[0] * d_w[0] + m_p[1] * d_w[1] + m_p[2] * d_w[2]) / bm
            mo[:, bad], fo[:, bad], pw[bad] = np.nan, np.nan, np.nan
            moments[key + "Moment"], forces[key + "Force"], powers[key + "Power"] = mo, fo, pw
        g = np.where(on[:, None], loads[side][0] / bm, np.nan)
        grf_out[side] = g
    if progression is None:
        progression = trial_progression(kinematics)
    norm = {}
    for side, sign in (("L", 1.0), ("R", -1.0)):
        g = grf_out[side] @ progression  # components along the progression frame's axes
        norm[side] = np.stack([-g[:, 0], sign * g[:, 1], g[:, 2]], axis=-1) / GRAVITY * 100.0
    return _dataset(kinematics, moments, forces, powers, grf_out, norm, contacts, body, opt)


def trial_progression(kinematics: xr.Dataset) -> np.ndarray:
    """(3, 3) Nexus' progression frame of the frames in `kinematics` (its pelvis markers)."""
    mk = {m: kinematics.markers.sel(marker=m).values for m in ("LASI", "RASI", "SACR")}
    return pig.progression_frame(mk["LASI"], mk["RASI"], mk["SACR"], "lab")


def _frame_major(series: Mapping[str, np.ndarray]) -> np.ndarray:
    """(n, outputs, 3) from (3, n) series, in one copy."""
    return np.ascontiguousarray(np.stack(list(series.values())).transpose(2, 0, 1))


def _dataset(kin, moments, forces, powers, grf_out, norm, contacts, body, opt) -> xr.Dataset:
    frames = kin.frame.values
    units = dict(KINETIC_UNITS)
    grf_names = [s + "GroundReactionForce" for s in SIDES]
    norm_names = [s + "NormalisedGRF" for s in SIDES]
    grf_arr = np.stack([grf_out[s] for s in SIDES], axis=1)
    coords = {
        "frame": frames,
        "time": ("frame", kin.time.values, {"units": "s"}),
        "axis": list(AXES),
        "moment_output": list(moments),
        "force_output": list(forces),
        "power_output": list(powers),
        "grf_output": grf_names,
        "normalised_grf_output": norm_names,
    }
    proj = f"{opt.projection} segment's axes" if opt.projection != "global" else "lab axes"
    ds = xr.Dataset(
        {
            "moments": (("frame", "moment_output", "axis"), _frame_major(moments),
                        {"units": units["moments"], "long_name": f"internal joint moments per kg of body mass, {proj}, Nexus components",
                         "projection": opt.projection}),
            "joint_forces": (("frame", "force_output", "axis"), _frame_major(forces),
                             {"units": units["joint_forces"], "long_name": f"joint reaction forces on the distal segment per kg, {proj}",
                              "projection": opt.projection}),
            "powers": (("frame", "power_output"), np.stack(list(powers.values()), axis=1),
                       {"units": units["powers"], "long_name": "joint powers M . (omega_distal - omega_proximal) per kg"}),
            "GroundReactionForce": (("frame", "grf_output", "axis"), grf_arr,
                                    {"units": units["GroundReactionForce"], "long_name": "ground reaction on each foot per kg, lab frame"}),
            "NormalisedGRF": (("frame", "normalised_grf_output", "axis"), np.stack([norm[s] for s in SIDES], axis=1),
                              {"units": units["NormalisedGRF"],
                               "long_name": "ground reaction on each foot, % of body weight, progression frame: x posterior, y lateral, z up"}),
        },
        coords,
    )
    ds.attrs = {
        "title": "chainlab kinetics",
        "chainlab_version": __version__,
        "dynamic_file": kin.attrs.get("dynamic_file", ""),
        "point_rate": kin.attrs.get("point_rate", np.nan),
        "body_mass_kg": float(body["Bodymass"]),
        "projection": opt.projection,
        "segment_lengths": opt.segment_lengths,
        "derivative_step": int(opt.derivative_step),
        "contacts": [c.text() for c in contacts],
    }
    return ds


def compute_kinetics(trial: xr.Dataset, kinematics: xr.Dataset, options: KineticsOptions | None = None,
                     subject: Mapping[str, float] | None = None) -> xr.Dataset:
    """Plug-in Gait kinetics of one whole trial (the one-piece case of :func:`joint_kinetics`).

    Parameters
    ----------
    trial : xarray.Dataset
        The capture, from :func:`chainlab.read_c3d` (plates, events, markers, PROCESSING).
    kinematics : xarray.Dataset
        :func:`chainlab.kinematics.compute_kinematics` of `trial` (Plug-in Gait model).
    options : KineticsOptions
    subject : dict, optional
        Measurements overriding the trial's PROCESSING (``Bodymass``, ``LFemurLength`` ...).

    Returns
    -------
    xarray.Dataset
        ``moments`` (frame, moment_output, axis) N m/kg, ``joint_forces`` (frame,
        force_output, axis) N/kg, ``powers`` (frame, power_output) W/kg,
        ``GroundReactionForce`` (frame, grf_output, axis) N/kg and ``NormalisedGRF`` (% body
        weight) per foot; outputs under Nexus' names (``LHipMoment`` ...). The ``contacts``
        attribute lists every plate contact with its foot and status.
    """
    opt = options or KineticsOptions()
    body = body_parameters(trial, subject, kinematics)
    grf = ground_reaction(trial, opt.threshold)
    contacts = assign_contacts(trial, grf, opt.plates, threshold=opt.threshold, outline_margin=opt.outline_margin)
    return joint_kinetics(kinematics, grf, contacts, body, stances(trial), opt, trial_progression(kinematics))
