"""Synthetic studies whose truth is known: the chain of a real subject, walked by forward kinematics.

From a real static trial (the template subject) and a real walk of that subject, chainlab:

1. fits the chain to the walk (global inverse kinematics) and keeps one gait cycle of its
   coordinates (left foot strike to left foot strike, from the file's events), made
   periodic and turned so the subject walks along the lab's +x;
2. makes each simulated subject by scaling the template's static markers (and length
   measurements) by a factor drawn around 1, writes that static trial, and builds the
   subject's chain from the written file, exactly as the solver will;
3. walks each trial: cycles of slightly varying duration, and the chosen kinetic-chain
   coupling. Rearfoot eversion gets an offset E (condition + subject + trial) and, in stance,
   an extra A·b(t) (b rises from 0 at foot strike to 1 at the cycle's peak eversion and falls
   to 0 at foot off). That change propagates: tibial internal rotation (relative to the
   femur) by ``transfer`` × the eversion change, frame by frame; pelvic tilt and lordosis by
   ``pelvic_tilt_per_deg`` and ``lordosis_per_deg`` × (E + A), the change of peak eversion
   (the femurs keep their orientation in the lab when the pelvis tilts). Pelvic tilt and
   lordosis also get independent cycle-to-cycle noise;
4. writes markers (with noise, soft-tissue artefact and gaps as asked), two TYPE-2 force
   plates with a ground reaction under the stance foot (a double-hump vertical force scaled
   to body weight, braking then propulsion, centre of pressure from heel to toe) and the
   foot strike / foot off events in a C3D file, and the truth in an HDF5 file beside it:
   the direct models' angles on the noise-free markers (every output of Kinematics I), the
   chain's coordinates and the coupling offsets.

The coupling acts on chain coordinates that are the outputs themselves: the foot's second
coordinate is ``?HFTBA`` y (rearfoot eversion = -HFTBA y), the knee's third is ``?KneeAngles`` z,
the pelvis' first (in the lab, walking along +x) is ``?PelvisAngles`` x and the thorax joint's
first is ``LumbarCurvature`` x (opposite sign). So the effects a study is built with are the
effects on the measured variables (tests check it).

With ``SimulationOptions.kinetics`` (``chainlab simulate --kinetics``) the trials are made for
inverse dynamics: the template cycle is its Fourier series (``KINETIC_HARMONICS``), smooth to
every derivative, instead of straight lines between its samples; the plates carry a ground
reaction that follows the motion (:func:`plate_wrench`: the foot's share of the body's
M (a - g), the centre of pressure from under the heel to under the toe, a free moment); the
trials' PROCESSING holds the body mass and the segment lengths (:func:`segment_lengths_mm`),
so chainlab computes their kinetics. Their truth (the joint moments) is not written: it is
computed from the chain's poses in tests/test_kinetics_simulated.py (docs/kinetics.md). The
motion is smooth to every derivative only with ``stride_sd``, ``cycle_noise_sd`` and the
stance eversion at 0 (otherwise its velocity is continuous, its acceleration not everywhere).

The same seed gives the same files. Long captures (``duration_s``, up to hours) walk on the
spot, as on a treadmill (one belt plate per side), and are generated and written in chunks of
frames; ``rate`` resamples the template cycle to another frame rate (plates at about 1 kHz).
A capture with more than :data:`MAX_EVENTS` foot strikes and offs stores none in its EVENT
group (the C3D parameter section cannot hold an hour's): its events come from the plates and
the markers. Leave the truth out (``truth=False``) for long captures: it holds every frame.

Step 1 (the template) is :mod:`chainlab.simulate.template`; steps 2-4 are here.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy.interpolate import PchipInterpolator

from chainlab.io.c3d import read_c3d
from chainlab.io.c3d_write import C3DContent, PlateSpec, plate_channels, write_c3d
from chainlab.io.store import write_netcdf_atomic, write_text_atomic
from chainlab.kinematics import compute_kinematics, static_chain
from chainlab.model.chain import Chain, Pose, forward, rest_pose, yxz
from chainlab.model.geometry import cardan
from chainlab.simulate.template import (
    LENGTHS,
    SIMULATION_CHAIN,
    Template,
    _fourier,
    _periodic,
    _periodic_root,
    _side,
    load_template,
    resample_template,
)

#: Soft-tissue artefact amplitude (RMS marker displacement) per body, relative to `sta_mm`:
#: largest at the thigh (Leardini 2005), least on the foot.
STA_SHARE = {"pelvis": 0.6, "femur": 1.0, "tibia": 0.6, "foot": 0.3, "forefoot": 0.3, "lumbar": 0.6, "thorax": 0.6}
GRAVITY = 9.81
MAX_EVENTS = 255  #: more foot strikes and offs than this are not written to the C3D (long captures)
#: With ``SimulationOptions.kinetics``: harmonics of the stride kept in the template cycle (10:
#: about 10 Hz at a 1 s stride, the band of a filtered walk), and the free moment's amplitude
#: (N m per N of body weight).
KINETIC_HARMONICS = 10
FREE_MOMENT = 0.005
#: Harmonics of the stride in the body's centre of mass whose acceleration the plates carry
#: (the root's cycle low-passed at about 3 Hz: its sideways sway then pushes the foot inwards
#: through most of stance, up to 0.09 body weight, as in a walk; with 6 harmonics the pelvis'
#: rocking swung that force from 0.16 inwards to 0.22 outwards).
COM_HARMONICS = 3


@dataclass
class Condition:
    name: str
    eversion_deg: float = 0.0  # added to rearfoot eversion throughout
    stance_eversion_deg: float = 0.0  # added at the peak of stance eversion (A)


@dataclass
class SimulationOptions:
    subjects: int = 8
    conditions: Sequence[Condition] = (Condition("control"), Condition("wedge", eversion_deg=3.0))
    trials: int = 5  # per subject and condition
    cycles: int = 4  # gait cycles per overground trial
    duration_s: float | None = None  # a long treadmill-like capture instead of `cycles`
    transfer: float = 0.68  # tibial internal rotation per degree of eversion (Fischer 2018)
    pelvic_tilt_per_deg: float = 0.5  # deg anterior tilt per degree of peak eversion
    lordosis_per_deg: float = 0.3  # deg lordosis per degree of peak eversion
    scale_sd: float = 0.06  # subject size, relative
    subject_eversion_sd: float = 2.0  # deg, between subjects
    trial_eversion_sd: float = 1.0  # deg, between trials
    stance_eversion_sd: float = 1.0  # deg, of A between trials
    cycle_noise_sd: float = 0.5  # deg, cycle-to-cycle pelvic tilt and lordosis
    stride_sd: float = 0.02  # relative stride-time variation
    noise_mm: float = 0.0  # marker noise (Gaussian, per coordinate)
    sta_mm: float = 0.0  # soft-tissue artefact, RMS at the thigh
    gaps: float = 0.0  # fraction of frames in which one marker per body is missing
    plates: bool = True
    seed: int = 0
    rate: float | None = None  # frames/s; default the template trial's (its cycle is resampled)
    truth: bool = True  # write <trial>.truth.h5 (holds every frame in memory: leave out for long captures)
    # smooth motion and plates for inverse dynamics (see plate_wrench); body mass and segment lengths in
    # the trials' PROCESSING. False: the files of before (same seed, same files)
    kinetics: bool = False


def write_subject_static(template: Template, scale: float, path: Path, subject: str,
                         rng: np.random.Generator, noise_mm: float, frames: int = 100) -> Path:
    """The template's static markers scaled by `scale` about the pelvis' foot point."""
    st = template.static
    names = [str(m) for m in st.marker.values]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(st.markers.transpose("frame", "marker", "axis").values, axis=0)
    keep = np.isfinite(mean).all(axis=1)
    names = [m for m, k in zip(names, keep) if k]
    mean = mean[keep]
    centre = np.nanmean(mean, axis=0) * np.array([1.0, 1.0, 0.0])
    scaled = centre + scale * (mean - centre)
    markers = scaled[None] + rng.normal(0.0, noise_mm / 1000.0, (frames,) + scaled.shape)
    meas = {k: (v * scale if k in LENGTHS else v) for k, v in template.measurements.items()}
    meas["Bodymass"] = template.measurements["Bodymass"] * scale**3
    meas["TravelDirectionX"] = 1.0  # simulated subjects walk along +x (the OFM's TIBA reference)
    content = C3DContent(labels=names, rate=template.rate, n_frames=frames, measurements=meas, subject=subject,
                         description="chainlab simulate: static trial")
    return write_c3d(path, content, [(markers, None)])


# --------------------------------------------------------------------------- trials


@dataclass
class TrialPlan:
    """Everything random about one trial, drawn up front so chunks can be made independently."""

    n_frames: int
    cycle_starts: np.ndarray  # (C + 1,) frame (float) where each cycle starts; last = end
    eversion_offset: float  # E, deg
    stance_eversion: float  # A, deg
    tilt_noise: np.ndarray  # (C,) deg, per cycle
    lordosis_noise: np.ndarray  # (C,) deg
    treadmill: bool
    x0: float  # m, start of the pelvis along x
    sta: dict  # body -> (amplitudes (H, 6), phases (H, 6))
    gap_intervals: list  # (marker index, start, stop)
    seed: int


def plan_trial(template: Template, chain: Chain, opt: SimulationOptions, offset: float, stance: float,
               rng: np.random.Generator) -> TrialPlan:
    n_cycle = len(template.root)
    if opt.duration_s:
        n_target = int(round(opt.duration_s * template.rate))
        cycles = int(np.ceil(n_target / (n_cycle * (1 - 3 * opt.stride_sd)))) + 1
    else:
        n_target, cycles = None, opt.cycles
    lengths = n_cycle * (1.0 + opt.stride_sd * rng.standard_normal(cycles))
    starts = np.concatenate([[0.0], np.cumsum(lengths)])
    n = n_target if n_target else int(np.floor(starts[-1]))
    sta = {}
    for i, b in enumerate(chain.bodies):
        kind = b.name.split("_")[-1]
        amp = opt.sta_mm / 1000.0 * STA_SHARE.get(kind, 0.6)
        sta[b.name] = (rng.normal(0.0, 1.0, (3, 6)) * amp / np.sqrt(3.0), rng.uniform(0, 2 * np.pi, (3, 6)))
    gaps = []
    if opt.gaps > 0:
        for i, b in enumerate(chain.bodies):
            idx = np.flatnonzero(chain.body_of_marker == i)
            covered = 0
            while covered < opt.gaps * n:
                length = int(rng.integers(5, 31))
                s0 = int(rng.integers(0, max(n - length, 1)))
                gaps.append((int(rng.choice(idx)), s0, s0 + length))
                covered += length
    stride = template.stride * 1.0
    x0 = -0.5 * stride * cycles if not opt.duration_s else 0.0
    return TrialPlan(n, starts, offset, stance, rng.normal(0, opt.cycle_noise_sd, cycles),
                     rng.normal(0, opt.cycle_noise_sd, cycles), bool(opt.duration_s), x0, sta, gaps,
                     int(rng.integers(0, 2**31)))


def _phase(plan: TrialPlan, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cycle index and phase in [0, 1) of each (integer) frame."""
    c = np.clip(np.searchsorted(plan.cycle_starts, frames, side="right") - 1, 0, len(plan.cycle_starts) - 2)
    a, b = plan.cycle_starts[c], plan.cycle_starts[c + 1]
    return c, (frames - a) / (b - a)


def _bump(phase: np.ndarray, strike: float, off: float, peak: float) -> np.ndarray:
    """0 outside stance; rises from 0 at foot strike to 1 at `peak`, back to 0 at foot off."""
    ph = (phase - strike) % 1.0
    pk, fo = (peak - strike) % 1.0, (off - strike) % 1.0
    out = np.zeros_like(ph)
    up = ph <= pk
    down = (ph > pk) & (ph <= fo)
    out[up] = 0.5 - 0.5 * np.cos(np.pi * ph[up] / pk)
    out[down] = 0.5 + 0.5 * np.cos(np.pi * (ph[down] - pk) / (fo - pk))
    return out


def trial_pose(template: Template, chain: Chain, plan: TrialPlan, opt: SimulationOptions, scale: float,
               frames: np.ndarray) -> tuple[Pose, dict]:
    """The chain's pose at `frames` (0-based) of a planned trial, and the coupling offsets (deg)."""
    c, phase = _phase(plan, frames.astype(float))
    periodic = (lambda v, p: _fourier(v, p, KINETIC_HARMONICS)) if opt.kinetics else _periodic
    root = _periodic_root(template.root, template.stride, phase, periodic) * scale
    # the cycle carries the pelvis one stride forward; over ground the cycles follow one another,
    # on a treadmill the belt takes the stride back
    root[:, 0] += (c if not plan.treadmill else -phase) * template.stride * scale
    root[:, 0] += plan.x0 * scale
    ang = periodic(template.root_angles, phase)
    q = periodic(template.q, phase)
    old_root = yxz(ang)
    deg = np.pi / 180.0
    e = {}
    strike = {"L": 0.0, "R": template.events["RightFoot Strike"]}
    for s in "LR":
        lsign = 1.0 if s == "L" else -1.0
        e[s] = plan.eversion_offset + plan.stance_eversion * _bump(
            phase, strike[s], template.events[f"{_side(s)}Foot Off"], template.peak_eversion[s])
        q[:, chain.index(f"{s}_foot") - 1, 1] += -lsign * e[s] * deg
        q[:, chain.index(f"{s}_tibia") - 1, 2] += -lsign * opt.transfer * e[s] * deg  # KneeAngles z = -l c
    peak_change = plan.eversion_offset + plan.stance_eversion
    mid = 0.5 * (plan.cycle_starts[:-1] + plan.cycle_starts[1:])
    cycle_t = np.clip(frames, mid[0], mid[-1]) if len(mid) > 1 else frames
    smooth = (lambda v: PchipInterpolator(mid, v)(cycle_t)) if len(mid) > 1 else (lambda v: np.full(len(frames), v[0]))
    tilt = opt.pelvic_tilt_per_deg * peak_change + smooth(plan.tilt_noise)
    lordosis = opt.lordosis_per_deg * peak_change + smooth(plan.lordosis_noise)
    ang[:, 0] += tilt * deg
    new_root = yxz(ang)
    for s in "LR":  # the femurs keep their orientation in the lab
        j = chain.index(f"{s}_femur") - 1
        femur = old_root @ yxz(q[:, j])
        q[:, j] = cardan(np.swapaxes(new_root, 1, 2) @ femur, "yxz")
    if "thorax" in [b.name for b in chain.bodies]:
        q[:, chain.index("thorax") - 1, 0] -= lordosis * deg
    info = {"eversion_offset_L": e["L"], "eversion_offset_R": e["R"], "pelvic_tilt_offset": tilt,
            "lordosis_offset": lordosis}
    return Pose(root, new_root, q), info


def _sta(chain: Chain, plan: TrialPlan, frames: np.ndarray, rot: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Low-frequency artefact at the stride's first three harmonics, rigid within a body."""
    _, phase = _phase(plan, frames.astype(float))
    c, _ = _phase(plan, frames.astype(float))
    t = 2 * np.pi * (c + phase)
    out = x.copy()
    for i, b in enumerate(chain.bodies):
        amp, ph = plan.sta[b.name]
        sel = chain.body_of_marker == i
        wave = sum(amp[h] * np.sin((h + 1) * t[:, None] + ph[h]) for h in range(3))  # (n, 6)
        centre = x[:, sel].mean(axis=1, keepdims=True)
        size = np.linalg.norm(x[:, sel] - centre, axis=-1).mean() or 0.05
        spin = wave[:, :3] / size  # rad: displaces markers at the body's size by ~amp
        d = x[:, sel] - centre
        out[:, sel] = x[:, sel] + np.cross(spin[:, None, :], d) + wave[:, None, 3:]
    return out


def _force(tau: np.ndarray) -> np.ndarray:
    """Vertical ground reaction over stance (tau 0..1), in body weights: two humps and a valley."""
    humps = np.exp(-((tau - 0.24) / 0.11) ** 2) + np.exp(-((tau - 0.76) / 0.11) ** 2)
    return np.sqrt(np.sin(np.pi * tau)) * (0.76 + 0.42 * humps)  # peaks ~1.0 body weight, valley 0.76


def _stances(template: Template, plan: TrialPlan, side: str) -> list[tuple[float, float]]:
    """(start, stop) frames of every stance of one side."""
    strike = 0.0 if side == "L" else template.events["RightFoot Strike"]
    off = template.events[f"{_side(side)}Foot Off"]
    out = []
    for c in range(-1, len(plan.cycle_starts) - 1):
        a = c if c >= 0 else 0
        span = plan.cycle_starts[a + 1] - plan.cycle_starts[a]
        base = plan.cycle_starts[a] + (c - a) * span
        s0 = base + strike * span
        s1 = base + (off if off > strike else off + 1.0) * span
        if s1 > 0 and s0 < plan.n_frames - 1:
            out.append((s0, s1))
    return out


def plate_wrench(template: Template, chain: Chain, plan: TrialPlan, opt: SimulationOptions, scale: float,
                 side: str, stance: tuple[float, float], t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ground reaction under `side`'s foot in one of its stances (start, stop frames) at
    times `t` (frames, any real numbers inside it), as the plates of ``SimulationOptions.kinetics``
    carry it: force on the foot (n, 3) N, centre of pressure (n, 3) m (lab, on the floor z = 0)
    and free moment (n,) N m about the vertical.

    Consistent with the motion: the force is the foot's share of M (a - g), with M the body
    mass and a the acceleration of the body's centre of mass, here the chain's root (the
    mid-point of the hip joint centres) with its cycle kept to ``COM_HARMONICS`` harmonics
    (its faster rocking is the pelvis', not the body's); the share rises from 0 at the foot's
    strike to 1 at the other foot's off and falls back to 0 from the other foot's strike to
    this foot's off (half cosines: the force starts and ends at 0 with zero slope). The centre of
    pressure runs from under the heel marker (at the strike) to under the toe marker (at the
    off) of the moving foot, at a uniform rate. The free moment is ``FREE_MOMENT`` x body
    weight x 1 m x share x sin(2 pi tau), tau the stance's fraction (+ on the left, - on the
    right)."""
    s0, s1 = stance
    t = np.asarray(t, dtype=float)
    mass = template.measurements["Bodymass"] * scale**3
    c, phase = _phase(plan, t)
    n = len(template.root)
    trend = np.zeros_like(template.root)
    trend[:, 0] = template.stride * np.arange(n) / n  # the stride's advance: no acceleration
    per_s = template.rate / np.diff(plan.cycle_starts)[c]  # cycles per second
    acc = _fourier(template.root - trend, phase, COM_HARMONICS, 2) * (scale * per_s**2)[:, None]
    other = _stances(template, plan, "R" if side == "L" else "L")
    offs = [b for a, b in other if s0 < b < s1]
    strikes = [a for a, b in other if s0 < a < s1]
    t_off = offs[0] if offs else s0 + 0.1 * (s1 - s0)
    t_on = strikes[-1] if strikes else s1 - 0.1 * (s1 - s0)
    share = np.ones(len(t))
    up, down = t < t_off, t > t_on
    share[up] = 0.5 - 0.5 * np.cos(np.pi * np.clip((t[up] - s0) / (t_off - s0), 0.0, 1.0))
    share[down] = 0.5 + 0.5 * np.cos(np.pi * np.clip((t[down] - t_on) / (s1 - t_on), 0.0, 1.0))
    force = share[:, None] * mass * (acc + np.array([0.0, 0.0, GRAVITY]))
    x = forward(chain, trial_pose(template, chain, plan, opt, scale, t)[0])[2]
    hee, toe = (x[:, chain.markers.index(f"{side}{m}")] for m in ("HEE", "TOE"))
    tau = np.clip((t - s0) / (s1 - s0), 0.0, 1.0)
    cop = hee + tau[:, None] * (toe - hee)
    cop[:, 2] = 0.0
    free = (1.0 if side == "L" else -1.0) * FREE_MOMENT * mass * GRAVITY * share * np.sin(2 * np.pi * tau)
    return force, cop, free


def segment_lengths_mm(template: Template, chain: Chain) -> dict[str, float]:
    """The subject's ``?FemurLength``, ``?TibiaLength`` (joint centre to joint centre) and
    ``?FootLength`` (heel to toe marker in the static posture less the marker radius), mm, as
    Nexus stores them in PROCESSING."""
    x = forward(chain, rest_pose(chain))[2][0]
    radius = 0.5 * template.measurements.get("MarkerDiameter", 14.0)
    out = {}
    for s in "LR":
        out[f"{s}FemurLength"] = float(np.linalg.norm(chain.bodies[chain.index(f"{s}_tibia")].offset)) * 1e3
        out[f"{s}TibiaLength"] = float(np.linalg.norm(chain.bodies[chain.index(f"{s}_foot")].offset)) * 1e3
        d = x[chain.markers.index(f"{s}HEE")] - x[chain.markers.index(f"{s}TOE")]
        out[f"{s}FootLength"] = float(np.linalg.norm(d)) * 1e3 - radius
    return out


def _events(template: Template, plan: TrialPlan, rate: float) -> list[tuple[str, str, float]]:
    out = []
    for s in "LR":
        for s0, s1 in _stances(template, plan, s):
            for label, f in (("Foot Strike", s0), ("Foot Off", s1)):
                if 0 <= f <= plan.n_frames - 1:
                    out.append((_side(s), label, float(f / rate)))
    return sorted(out, key=lambda e: e[2])


def simulate_trial(template: Template, chain: Chain, plan: TrialPlan, opt: SimulationOptions, scale: float,
                   path: Path, subject: str, chunk: int = 20_000,
                   progress: Callable[[int, int], None] | None = None, keep_truth: bool = True) -> dict:
    """Write one trial's C3D (markers, plates, events) and return what its truth needs."""
    rate = template.rate
    n = plan.n_frames
    ratio = max(1, int(round(1000.0 / rate)))  # analogs at about 1 kHz
    mass = template.measurements["Bodymass"] * scale**3
    plates: list[PlateSpec] = []
    plate_side: list[tuple[str, list]] = []
    if opt.plates:
        foot_markers = {s: [chain.markers.index(f"{s}{m}") for m in ("HEE", "TOE") if f"{s}{m}" in chain.markers]
                        for s in "LR"}
        if plan.treadmill:  # two belts, one per side, 3 m long
            for k, s in enumerate("LR"):
                y_side = 0.1 if s == "L" else -0.1
                plates.append(PlateSpec((0.0, y_side * scale * 1.0 + (0.1 if s == "L" else -0.1)), (3.0, 0.2 + 0.2),
                                        tuple(range(6 * k + 1, 6 * k + 7))))
                plate_side.append((s, _stances(template, plan, s)))
        else:
            middle = len(plan.cycle_starts) // 2 - 1
            for k, s in enumerate("LR"):
                stances = [st for st in _stances(template, plan, s) if st[0] >= plan.cycle_starts[max(middle, 0)]]
                s0, s1 = stances[0]
                f_mid = np.array([int(round(0.5 * (s0 + s1)))])
                pose, _ = trial_pose(template, chain, plan, opt, scale, f_mid)
                xm = forward(chain, pose)[2][0]
                centre = xm[foot_markers[s]].mean(axis=0)[:2]
                plates.append(PlateSpec(tuple(centre), (0.464, 0.508), tuple(range(6 * k + 1, 6 * k + 7))))
                plate_side.append((s, [(s0, s1)]))
    analog_labels = [f"{q}{k + 1}" for k in range(len(plates)) for q in ("Fx", "Fy", "Fz", "Mx", "My", "Mz")]
    analog_units = ["N", "N", "N", "Nmm", "Nmm", "Nmm"] * len(plates)
    events = _events(template, plan, rate)
    measurements = {"TravelDirectionX": 1.0}
    if opt.kinetics:
        measurements |= {"Bodymass": mass, **segment_lengths_mm(template, chain)}
    if len(events) > MAX_EVENTS:  # a C3D parameter holds 255 entries, its section 127 KiB: gait events
        events = []  # then come from the plates and the markers, as in a long treadmill capture
    content = C3DContent(labels=chain.markers, rate=rate, n_frames=n, analog_labels=analog_labels,
                         analog_units=analog_units, analog_ratio=ratio if plates else 0, plates=plates,
                         events=events, measurements=measurements,
                         subject=subject,
                         description="chainlab simulate")
    truths: list[tuple[np.ndarray, Pose, dict]] = []

    def chunks():
        for k0 in range(0, n, chunk):
            frames = np.arange(k0, min(n, k0 + chunk))
            pose, info = trial_pose(template, chain, plan, opt, scale, frames)
            rot, org, x = forward(chain, pose)
            if keep_truth:
                truths.append((x.copy(), pose, info))
            rng = np.random.default_rng([plan.seed, k0])
            xm = _sta(chain, plan, frames, rot, x) if opt.sta_mm > 0 else x
            if opt.noise_mm > 0:
                xm = xm + rng.normal(0.0, opt.noise_mm / 1000.0, xm.shape)
            for m, g0, g1 in plan.gap_intervals:
                lo, hi = max(g0, k0), min(g1, k0 + len(frames))
                if lo < hi:
                    xm[lo - k0:hi - k0, m] = np.nan
            analogs = None
            if plates:
                t = k0 + np.arange(len(frames) * ratio) / ratio  # frame units
                analogs = np.zeros((len(t), 6 * len(plates)))
                # markers at the analog rate (linear between frames) for the centre of pressure
                heel_toe = {}
                for s in "LR":
                    xs = x[:, foot_markers[s]] if foot_markers[s] else x[:, :2]
                    idx = np.clip(np.floor(t - k0).astype(int), 0, len(frames) - 1)
                    nxt = np.clip(idx + 1, 0, len(frames) - 1)
                    w = (t - k0 - idx)[:, None, None]
                    heel_toe[s] = xs[idx] * (1 - w) + xs[nxt] * w
                for k, (s, stances) in enumerate(plate_side):
                    force = np.zeros((len(t), 3))
                    cop = np.full((len(t), 3), np.nan)
                    free = np.zeros(len(t))
                    lsign = 1.0 if s == "L" else -1.0
                    for s0, s1 in stances:
                        on = (t >= s0) & (t <= s1)
                        if not on.any():
                            continue
                        if opt.kinetics:
                            force[on], cop[on], free[on] = plate_wrench(template, chain, plan, opt, scale, s,
                                                                        (s0, s1), t[on])
                            continue
                        tau = (t[on] - s0) / (s1 - s0)
                        w = mass * GRAVITY
                        force[on, 2] = w * _force(tau)
                        force[on, 0] = -0.2 * w * np.sin(2 * np.pi * tau) * np.sin(np.pi * tau)
                        force[on, 1] = -lsign * 0.05 * w * np.sin(np.pi * tau)
                        ht = heel_toe[s][on]
                        cop[on] = ht[:, 0] + tau[:, None] * (ht[:, -1] - ht[:, 0])
                        cop[on, 2] = 0.0
                    analogs[:, 6 * k:6 * k + 6] = plate_channels(force, cop, free, plates[k])
            if progress:
                progress(k0 + len(frames), n)
            yield xm, analogs

    write_c3d(path, content, chunks())
    return {"truths": truths, "plates": [asdict(p) for p in plates],
            "plate_stances": plate_side}  # per plate: (side, [(start, stop) frames of the stances it carries])


def write_truth(path: Path, trial_path: Path, static_path: Path, chain: Chain, truths: list, attrs: dict) -> Path:
    """The truth of one trial: the direct models' angles on the noise-free markers, the chain's
    coordinates and the coupling offsets, frame by frame."""
    x = np.concatenate([t[0] for t in truths])
    q = np.concatenate([t[1].q for t in truths])
    root = np.concatenate([t[1].origin for t in truths])
    root_ang = np.concatenate([cardan(t[1].rotation, "yxz") for t in truths])
    info = {k: np.concatenate([t[2][k] for t in truths]) for k in truths[0][2]}
    dyn = read_c3d(trial_path)
    values = dyn.markers.transpose("frame", "marker", "axis").values.copy()
    index = {str(m): i for i, m in enumerate(dyn.marker.values)}
    values[:, [index[m] for m in chain.markers]] = x
    dyn["markers"] = dyn.markers.transpose("frame", "marker", "axis").copy(data=values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kin = compute_kinematics(dyn, read_c3d(static_path))
    joints = ["pelvis"] + [b.name for b in chain.joints]
    coords = np.concatenate([root_ang[:, None], q], axis=1)
    ds = xr.Dataset(
        {
            "angles": (("frame", "output", "axis"), kin.angles.values,
                       {"units": "deg", "long_name": "true angles: the direct models on the noise-free markers"}),
            "joint_coordinates": (("frame", "joint", "joint_axis"), np.degrees(coords),
                                  {"units": "deg", "long_name": "true chain coordinates (YXZ)"}),
            "pelvis_position": (("frame", "axis"), root, {"units": "m"}),
            "markers": (("frame", "marker", "axis"), x, {"units": "m", "long_name": "noise-free markers"}),
            **{k: (("frame",), v, {"units": "deg"}) for k, v in info.items()},
        },
        coords={"frame": kin.frame.values, "time": ("frame", kin.time.values, {"units": "s"}),
                "output": kin.output.values, "axis": ["x", "y", "z"], "joint": joints,
                "joint_axis": ["y", "x", "z"], "marker": chain.markers},
        attrs={"title": "chainlab simulate: truth", "trial_file": trial_path.name, **attrs},
    )
    return write_netcdf_atomic(ds, path)


# --------------------------------------------------------------------------- study


def simulate_study(static_path: str | Path, dynamic_path: str | Path, out_dir: str | Path,
                   options: SimulationOptions | None = None,
                   progress: Callable[[str], None] | None = None,
                   trial_progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """A synthetic study in `out_dir`: per subject a static trial and the trials of every
    condition (C3D), each with its truth (``*.truth.h5``), and ``trials.tsv`` (the sample
    sheet: subject, condition, trial, static, dynamic) and ``truth.json`` (the options and
    each trial's drawn offsets). Returns the sample sheet."""
    opt = options or SimulationOptions()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(opt.seed)
    template = load_template(static_path, dynamic_path)
    if opt.rate and opt.rate != template.rate:
        template = resample_template(template, opt.rate)
    rows, drawn = [], []
    for i in range(opt.subjects):
        subject = f"S{i + 1:02d}"
        scale = float(1.0 + opt.scale_sd * rng.standard_normal())
        subject_eversion = float(opt.subject_eversion_sd * rng.standard_normal())
        static = out / subject / f"{subject}_static.c3d"
        static.parent.mkdir(parents=True, exist_ok=True)
        write_subject_static(template, scale, static, subject, rng, opt.noise_mm)
        chain = static_chain(read_c3d(static), SIMULATION_CHAIN)
        for cond in opt.conditions:
            for k in range(opt.trials):
                name = f"{subject}_{cond.name}_{k + 1:02d}"
                offset = cond.eversion_deg + subject_eversion + opt.trial_eversion_sd * rng.standard_normal()
                stance = max(0.0, cond.stance_eversion_deg + opt.stance_eversion_sd * rng.standard_normal())
                plan = plan_trial(template, chain, opt, float(offset), float(stance), rng)
                path = out / subject / f"{name}.c3d"
                res = simulate_trial(template, chain, plan, opt, scale, path, subject, keep_truth=opt.truth,
                                     progress=trial_progress)
                attrs = {"subject": subject, "condition": cond.name, "scale": scale,
                         "eversion_offset_deg": plan.eversion_offset, "stance_eversion_deg": plan.stance_eversion,
                         "peak_eversion_change_deg": plan.eversion_offset + plan.stance_eversion,
                         "transfer": opt.transfer, "pelvic_tilt_per_deg": opt.pelvic_tilt_per_deg,
                         "lordosis_per_deg": opt.lordosis_per_deg, "template": template.source,
                         "seed": opt.seed}
                if opt.truth:
                    write_truth(path.with_suffix(".truth.h5"), path, static, chain, res["truths"], attrs)
                rows.append({"subject": subject, "condition": cond.name, "trial": name,
                             "static": str(static.relative_to(out)), "dynamic": str(path.relative_to(out))})
                drawn.append({k: v for k, v in attrs.items() if k != "template"} | {"trial": name})
                if progress:
                    progress(name)
    sheet = pd.DataFrame(rows)
    write_text_atomic(sheet.to_csv(sep="\t", index=False), out / "trials.tsv")
    write_text_atomic(json.dumps({"options": _jsonable(asdict(opt)), "template": template.source,
                                  "trials": drawn}, indent=1), out / "truth.json")
    return sheet


def _jsonable(o):
    if isinstance(o, dict):
        return {k: _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    return o


__all__ = ["Condition", "SimulationOptions", "Template", "load_template", "plan_trial", "plate_wrench",
           "resample_template", "segment_lengths_mm", "simulate_study", "simulate_trial", "trial_pose"]
