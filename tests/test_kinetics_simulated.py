"""Kinetics on a simulator-made walk whose joint moments are known (issue #15's last test).

The simulator (``SimulationOptions(kinetics=True)``) walks HC030A's chain smoothly (the
template cycle as a 10-harmonic Fourier series) and writes plates under one stance per side
whose ground reaction follows the motion (``chainlab.simulate.plate_wrench``: the foot's share
of M (a - g), the centre of pressure from under the heel to under the toe, a free moment),
with the body mass and segment lengths in PROCESSING. The truth here does not use
``chainlab.kinetics``: it takes the simulator's own segment poses (the chain's pelvis, femur
and tibia frames and joint centres from forward kinematics, and Plug-in Gait's foot built from
them, the ankle joint centre and the toe marker), differentiates them over 0.01 frame (a
step of 0.005 or 0.02 frame moves the moments by under 1.2e-6 N m/kg), and balances each segment's wrench (Newton-Euler, written out below)
with Vicon's inertia table (docs/kinetics.md; the methods notes of ../shared/docs/methods.md, section 7) and
the plates' exact load at the frame instants. The walk then goes through ``chainlab
kinematics``' path (C3D -> direct models -> kinetics, ``run_kinematics``) and its moments
(all three components, both sides, hip, knee, ankle) and powers must equal the truth.

Tolerances. The markers are noise-free: chainlab filters nothing (it differentiates the
capture's markers as Nexus differentiates its Woltring-filtered ones), and 1 mm of white noise
would put sqrt(6) x 1 mm / dt^2 = 24 m/s2 into a second difference at 100 Hz, so a noisy walk
tests the filter, not the kinetics. What separates the pipeline from the exact truth is then
Nexus' differencing at 100 Hz (second differences of the centres of mass; angular velocity
over +-2 frames and its central difference over +-2 frames), the plates' window mean of the
analog samples at touch-down and lift-off, and float32 storage: measured at most 0.011 N m/kg
(RMS 0.0041) and 0.10 W/kg (RMS 0.028), the largest in late swing at the knee and hip and
periodic (the same in every cycle; at 200 Hz the RMS falls 3-4 fold, as a second-order
difference's error should) -> ``TOLERANCE``. The third test differentiates the truth as
docs/kinetics.md says Nexus does, and averages the plates' load over each frame's analog
samples: then the pipeline meets it to 1.1e-4 N m/kg and 2.4e-4 W/kg (float32) ->
``TOLERANCE_FRAMES``, which a 1 % change of the femur's mass or radius of gyration or of the
tibia's centre of mass exceeds (1.7e-3 to 2.0e-3 N m/kg), as do a flipped sign (0.25), the
gyroscopic term left out (1.7e-3) or the free moment left out of the plates (0.049).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from chainlab import read_c3d
from chainlab.kinematics import static_chain
from chainlab.model.chain import forward
from chainlab.model.geometry import rotation
from chainlab.pipeline import run_kinematics
from chainlab.simulate import (
    SimulationOptions,
    load_template,
    plan_trial,
    plate_wrench,
    resample_template,
    simulate_trial,
    trial_pose,
    write_subject_static,
)
from chainlab.simulate.template import SIMULATION_CHAIN

from .conftest import STUDY

STATIC = STUDY / "HC030A" / "Static" / "HC030A01.c3d"
WALK = STUDY / "HC030A" / "Straight" / "HC030A05.c3d"

#: Vicon's Plug-in Gait table, written out here (not imported): mass / body mass, centre of
#: mass from the distal joint centre as a fraction of the way to the proximal one (foot: of
#: FootLength from the ankle joint centre towards the toe, along the foot's -z), radius of
#: gyration / PROCESSING length about x and y (none about z).
PIG = {"Femur": (0.100, 0.567, 0.540), "Tibia": (0.0465, 0.567, 0.528), "Foot": (0.0145, 0.5, 0.690)}
G = np.array([0.0, 0.0, -9.81])
#: Nexus' components in the distal segment's axes: output k = sign[k] x (local vector)[order[k]]
#: (docs/conventions.md, "Kinetics output"): x sagittal (+ extensor, + plantarflexor),
#: y frontal, z transverse.
NEXUS = {"LHip": ((1, 0, 2), (1, 1, 1)), "RHip": ((1, 0, 2), (1, -1, -1)),
         "LKnee": ((1, 0, 2), (-1, 1, 1)), "RKnee": ((1, 0, 2), (-1, -1, -1)),
         "LAnkle": ((1, 2, 0), (1, -1, 1)), "RAnkle": ((1, 2, 0), (1, 1, -1))}
#: Allowed |pipeline - truth| over the frames with kinetics (N m/kg per moment component, W/kg):
#: measured at most 0.011 and RMS 0.0041 (moments), 0.10 and 0.028 (powers); see the module docstring.
TOLERANCE = {"moment": (0.015, 0.005), "power": (0.12, 0.03)}  # (max, RMS)
#: The same with the truth differentiated as Nexus does (measured 1.1e-4 N m/kg, 2.4e-4 W/kg).
TOLERANCE_FRAMES = {"moment": 5e-4, "power": 1e-3}
H = 0.01  # frames: the step of the truth's derivatives


def _vee(a):
    """(n, 3) axial vector of the skew part of (n, 3, 3)."""
    return 0.5 * np.stack([a[:, 2, 1] - a[:, 1, 2], a[:, 0, 2] - a[:, 2, 0], a[:, 1, 0] - a[:, 0, 1]], axis=-1)


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


class Sim:
    """The simulator's objects for one trial, kept to evaluate its poses at any time."""

    def __init__(self, out, rate=None):
        rng = np.random.default_rng(15)
        self.template = load_template(STATIC, WALK)
        if rate:
            self.template = resample_template(self.template, rate)
        self.opt = SimulationOptions(kinetics=True, cycles=3, stride_sd=0.0, cycle_noise_sd=0.0,
                                     stance_eversion_sd=0.0, noise_mm=0.0)
        self.scale = 0.95
        self.static = write_subject_static(self.template, self.scale, out / "S_static.c3d", "S", rng, 0.0)
        self.chain = static_chain(read_c3d(self.static), SIMULATION_CHAIN)
        self.plan = plan_trial(self.template, self.chain, self.opt, 2.0, 0.0, rng)
        self.walk = out / "S_walk.c3d"
        res = simulate_trial(self.template, self.chain, self.plan, self.opt, self.scale, self.walk, "S")
        self.plate_stances = res["plate_stances"]

    def segments(self, t, foot_offsets):
        """The pelvis' axes and per side the femur's, tibia's and foot's axes (n, 3, 3) and the joint
        centres (n, 3) at times t (frames): the chain's bodies and Plug-in Gait's foot."""
        pose, _ = trial_pose(self.template, self.chain, self.plan, self.opt, self.scale, t)
        rot, org, x = forward(self.chain, pose)
        out = {"Pelvis": rot[:, 0]}
        for s in "LR":
            femur, tibia, foot = (self.chain.index(f"{s}_{b}") for b in ("femur", "tibia", "foot"))
            hjc, kjc, ajc = org[:, femur], org[:, tibia], org[:, foot]
            toe = x[:, self.chain.markers.index(f"{s}TOE")]
            # Plug-in Gait's foot: z from the toe to the ankle, x = y of the torsioned tibia x z,
            # then the static offsets (plantarflexion about y, rotation about the new x)
            plantflex, rotoff, torsion = foot_offsets[s]
            tib_y = (rot[:, tibia] @ rotation("z", -torsion))[:, :, 1]
            z = _unit(ajc - toe)
            xa = _unit(np.cross(tib_y, z))
            r_foot = np.stack([xa, np.cross(z, xa), z], axis=-1)
            r_foot = r_foot @ rotation("y", -plantflex) @ rotation("x", -(rotoff if s == "L" else -rotoff))
            out[s] = {"hjc": hjc, "kjc": kjc, "ajc": ajc, "Femur": rot[:, femur], "Tibia": rot[:, tibia],
                      "Foot": r_foot}
        return out


def _axes(segments, s, seg):
    return segments["Pelvis"] if seg == "Pelvis" else segments[s][seg]


def _com(side, seg, prox, dist, com_frac, length):
    """Centre of mass: the foot's from the ankle joint centre along its -z, the others' on the
    line of the joint centres."""
    if seg == "Foot":
        return side["ajc"] - com_frac * length * side["Foot"][:, :, 2]
    return side[dist] + com_frac * (side[prox] - side[dist])


def _truth(sim, n, body, foot_offsets, scheme="exact"):
    """Moments (N m/kg, Nexus' components, distal axes) and powers (W/kg) at frames 0..n-1.

    ``scheme="exact"``: the motion's own derivatives (differences over H = 0.01 frame) and the
    plates' load at the frame instants. ``"frames"``: Nexus' differences at the frame rate as
    docs/kinetics.md states them (second difference over +-1 frame; angular velocity
    vee((D - D^T) / 2) / (4 dt) with D = R[i+2] R[i-2]^T; its central difference over +-2
    frames) and the plates' load averaged over the analog samples i r - r/2 .. i r + r/2,
    from the frame before the contact's first frame of 10 N to the frame after its last."""
    rate = sim.template.rate
    f = np.arange(n, dtype=float)
    step, reach, span = (H, 2, 1) if scheme == "exact" else (1.0, 4, 2)  # frames, samples, omega's half-span
    dt = step / rate
    at = {k: sim.segments(f + k * step, foot_offsets) for k in range(-reach, reach + 1)}
    bm = body["Bodymass"]

    def omega(s, seg, k):  # lab angular velocity of a segment at f + k step
        a, b = _axes(at[k + span], s, seg), _axes(at[k - span], s, seg)
        if scheme == "exact":  # dR/dt R^T
            return _vee((a - b) @ np.swapaxes(_axes(at[k], s, seg), 1, 2)) / (2 * span * dt)
        return _vee(a @ np.swapaxes(b, 1, 2)) / (2 * span * dt)

    # ground reaction on each foot: force and moment about the lab origin (centre of pressure x
    # force + free moment), at the frame instants or averaged over each frame's analog samples
    r = max(1, round(1000.0 / rate))  # the simulator's analog samples per frame
    offsets = [0.0] if scheme == "exact" else np.arange(-(r // 2), r // 2 + 1) / r
    grf = {s: (np.zeros((n, 3)), np.zeros((n, 3))) for s in "LR"}
    for side, stances in sim.plate_stances:
        for s0, s1 in stances:
            for d in offsets:
                on = (f + d >= s0) & (f + d <= s1)
                fo, cop, free = plate_wrench(sim.template, sim.chain, sim.plan, sim.opt, sim.scale, side, (s0, s1),
                                             f[on] + d)
                grf[side][0][on] += fo / len(offsets)
                grf[side][1][on] += (np.cross(cop, fo) + free[:, None] * [0.0, 0.0, 1.0]) / len(offsets)
        if scheme == "frames":  # a contact loads the foot from the frame before its first frame of
            # 10 N or more to the frame after its last (docs/kinetics.md): not the few N beyond
            loaded = np.flatnonzero(grf[side][0][:, 2] >= 10.0)
            away = (f < loaded.min() - 1) | (f > loaded.max() + 1)
            grf[side][0][away], grf[side][1][away] = 0.0, 0.0
    moments, powers = {}, {}
    for s in "LR":
        w = {seg: (omega(s, seg, 0), (omega(s, seg, span) - omega(s, seg, -span)) / (2 * span * dt))
             for seg in ("Pelvis", "Femur", "Tibia", "Foot")}
        # distal load on the foot: the ground reaction, its moment about the lab origin
        f_dist, m_dist, p_dist = grf[s][0], grf[s][1], np.zeros((n, 3))
        for seg, prox, dist in (("Foot", "ajc", None), ("Tibia", "kjc", "ajc"), ("Femur", "hjc", "kjc")):
            frac, com_frac, gyr = PIG[seg]
            m = frac * bm
            length = body[f"{s}{seg}Length"] * 1e-3
            com = [_com(at[k][s], seg, prox, dist, com_frac, length) for k in (-1, 0, 1)]
            acc = (com[2] - 2 * com[1] + com[0]) / dt**2
            r = at[0][s][seg]
            inertia = r @ np.diag([1.0, 1.0, 0.0]) @ np.swapaxes(r, 1, 2) * m * (gyr * length) ** 2
            om, al = w[seg]
            h_dot = np.einsum("nij,nj->ni", inertia, al) + np.cross(om, np.einsum("nij,nj->ni", inertia, om))
            c0, p = com[1], at[0][s][prox]
            # Newton: F_prox + F_dist + m g = m a; Euler about the centre of mass:
            # M_prox + M_dist + (p - c) x F_prox + (p_dist - c) x F_dist = dH/dt
            f_prox = m * (acc - G) - f_dist
            m_prox = h_dot - m_dist - np.cross(p - c0, f_prox) - np.cross(p_dist - c0, f_dist)
            joint = {"Foot": "Ankle", "Tibia": "Knee", "Femur": "Hip"}[seg]
            order, sign = NEXUS[s + joint]
            local = np.einsum("nji,nj->ni", r, m_prox / bm)  # in the distal segment's axes
            moments[f"{s}{joint}Moment"] = local[:, list(order)] * np.array(sign)
            proximal = {"Foot": "Tibia", "Tibia": "Femur", "Femur": "Pelvis"}[seg]
            powers[f"{s}{joint}Power"] = np.einsum("ni,ni->n", m_prox, om - w[proximal][0]) / bm
            f_dist, m_dist, p_dist = -f_prox, -m_prox, p  # on the next segment up, at this joint
    return moments, powers, at[0]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    out = tmp_path_factory.mktemp("kinsim")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim = Sim(out)
        run_kinematics(sim.walk, sim.static, out / "k.h5", progress=False)
    with xr.open_dataset(out / "k.h5", engine="h5netcdf") as k:
        k = k.load()
    trial = read_c3d(sim.walk)
    body = {str(m): float(v) for m, v in zip(trial.measurement.values, trial.measurements.values)}
    offsets = {s: (k.attrs[f"pig_{s}StaticPlantFlex_rad"], k.attrs[f"pig_{s}StaticRotOff_rad"],
                   np.radians(k.attrs.get(f"pig_{s}TibialTorsion", 0.0) or 0.0)) for s in "LR"}
    moments, powers, seg = _truth(sim, k.sizes["frame"], body, offsets)
    at_frames = _truth(sim, k.sizes["frame"], body, offsets, "frames")[:2]
    return sim, k, body, moments, powers, seg, at_frames


def test_the_truth_is_plug_in_gait_on_the_exact_markers(simulated):
    """The truth's segments are the ones the pipeline's direct models find on the markers."""
    _, k, _, _, _, seg, _ = simulated
    for s, side in (("L", "Left"), ("R", "Right")):
        for name in ("Femur", "Tibia", "Foot"):
            np.testing.assert_allclose(k.segment_axes.sel(segment=side + name).values, seg[s][name], atol=2e-5)
        for p in ("hjc", "kjc", "ajc"):
            np.testing.assert_allclose(k.joint_centres.sel(point=s + p.upper()).values, seg[s][p], atol=1e-6)


def test_moments_and_powers_equal_the_simulated_truth(simulated):
    """Every moment component and power of both sides within TOLERANCE of the truth, wherever
    the pipeline gives one; and it gives one in every frame of the stances on the plates."""
    sim, k, _, moments, powers, _, _ = simulated
    assert k.attrs["kinetics_absent"] == ""
    frames = k.frame.values
    (max_m, rms_m), (max_p, rms_p) = TOLERANCE["moment"], TOLERANCE["power"]
    for side, stances in sim.plate_stances:
        for s0, s1 in stances:
            on = (frames >= s0) & (frames <= s1)
            for joint in ("Hip", "Knee", "Ankle"):
                assert np.isfinite(k.moments.sel(moment_output=f"{side}{joint}Moment").values[on]).all()
    for name, truth in moments.items():
        got = k.moments.sel(moment_output=name).values
        valid = np.isfinite(got).all(axis=1)
        assert valid.sum() > 150, f"{name}: {valid.sum()} of {len(frames)} frames"
        err = got[valid] - truth[valid]
        worst, rms = np.abs(err).max(axis=0), np.sqrt((err**2).mean(axis=0))
        assert (worst < max_m).all() and (rms < rms_m).all(), \
            f"{name}: |pipeline - truth| max {worst}, RMS {rms} N m/kg (x, y, z)"
    for name, truth in powers.items():
        got = k.powers.sel(power_output=name).values
        valid = np.isfinite(got)
        err = got[valid] - truth[valid]
        worst, rms = np.abs(err).max(), np.sqrt((err**2).mean())
        assert worst < max_p and rms < rms_p, f"{name}: |pipeline - truth| max {worst:.4f}, RMS {rms:.4f} W/kg"


def test_with_nexus_differences_the_truth_is_met_to_float_precision(simulated):
    """The truth differentiated at the frame rate as docs/kinetics.md says Nexus does, with the
    plates' window mean: what remains is float32 storage, so a 1 % change of a segment's mass,
    centre of mass or radius of gyration, or a term left out, shows."""
    _, k, _, _, _, _, (moments, powers) = simulated
    for name, truth in moments.items():
        got = k.moments.sel(moment_output=name).values
        valid = np.isfinite(got).all(axis=1)
        worst = np.abs(got[valid] - truth[valid]).max(axis=0)
        assert (worst < TOLERANCE_FRAMES["moment"]).all(), f"{name}: max |pipeline - truth| {worst} N m/kg (x, y, z)"
    for name, truth in powers.items():
        got = k.powers.sel(power_output=name).values
        valid = np.isfinite(got)
        worst = np.abs(got[valid] - truth[valid]).max()
        assert worst < TOLERANCE_FRAMES["power"], f"{name}: max |pipeline - truth| {worst:.2e} W/kg"
