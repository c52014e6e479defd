"""The template of a synthetic study: one gait cycle of a real subject's chain (docs in
:mod:`chainlab.simulate`, step 1)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import xarray as xr

from chainlab.gait.events import c3d_events, gait_events
from chainlab.io.c3d import read_c3d
from chainlab.kinematics import static_chain
from chainlab.model import ik
from chainlab.model.chain import DEFAULT_WEIGHTS, Chain
from chainlab.model.geometry import cardan, rotation
from chainlab.options import ChainOptions

LENGTHS = ("LLegLength", "RLegLength", "LKneeWidth", "RKneeWidth", "LAnkleWidth", "RAnkleWidth",
           "InterAsisDistance", "LAsisTrocanterDistance", "RAsisTrocanterDistance", "Height")
KEEP = LENGTHS + ("MarkerDiameter", "Bodymass", "LTibialTorsion", "RTibialTorsion")

#: The simulated subject is rigid (no slides), and its template walk is fitted with the chain's
#: weights of before the trial template and slides (pelvis 10, every other marker 1), so that a
#: seed gives the same study as then.
SIMULATION_CHAIN = ChainOptions(slides={}, weights={**{m: 1.0 for m in DEFAULT_WEIGHTS},
                                                    **{m: 10.0 for m in ("LASI", "RASI", "SACR", "LPSI", "RPSI")}})


@dataclass
class Template:
    """One periodic gait cycle of chain coordinates, from a real walk."""

    static: xr.Dataset
    measurements: dict[str, float]
    rate: float
    root: np.ndarray  # (N, 3) pelvis origin, m (x forward)
    root_angles: np.ndarray  # (N, 3) YXZ of the pelvis in the lab, rad
    q: np.ndarray  # (N, J, 3) joint coordinates, rad
    stride: float  # m per cycle
    events: dict[str, float]  # "LeftFoot Off", "RightFoot Strike", "RightFoot Off": cycle fraction
    peak_eversion: dict[str, float]  # per side, cycle fraction
    chain: Chain
    source: str = ""


def resample_template(template: Template, rate: float) -> Template:
    """The template cycle at another frame rate (its periodic coordinates resampled)."""
    if rate <= 0:
        raise ValueError(f"rate must be > 0; found {rate}")
    n = len(template.root)
    m = max(4, int(round(n * rate / template.rate)))
    phase = np.arange(m) / m
    root = _periodic_root(template.root, template.stride, phase)
    return replace(template, rate=float(rate), root=root, root_angles=_periodic(template.root_angles, phase),
                   q=_periodic(template.q, phase))


def _periodic_root(root: np.ndarray, stride: float, phase: np.ndarray, interpolate=None) -> np.ndarray:
    """The pelvis origin at phases of the cycle: x advances by `stride` per cycle, so it is
    interpolated without that advance (the last sample to the next cycle's first), then given it back.
    `interpolate(values, phase)`: :func:`_periodic` (default) or :func:`_fourier`."""
    n = len(root)
    trend = np.zeros_like(root)
    trend[:, 0] = stride * np.arange(n) / n
    out = (interpolate or _periodic)(root - trend, phase)
    out[:, 0] += stride * phase
    return out


def _side(s):
    return "Left" if s == "L" else "Right"


def load_template(static_path: str | Path, dynamic_path: str | Path) -> Template:
    """The template cycle from a subject's static trial and walk (see the module docstring)."""
    static, dyn = read_c3d(static_path), read_c3d(dynamic_path)
    chain = static_chain(static, SIMULATION_CHAIN)
    names = chain.markers
    present = set(dyn.marker.values.tolist())
    n = dyn.sizes["frame"]
    y = np.stack([dyn.markers.sel(marker=m).values if m in present else np.full((n, 3), np.nan) for m in names], 1)
    res = ik.solve(chain, y)
    ev = c3d_events(dyn)
    if not len(ev):
        ev = gait_events(dyn).events
    t = dyn.time.values
    left = ev[(ev.side == "Left") & (ev.label == "Foot Strike")].time.to_numpy()
    if len(left) < 2:
        raise ValueError(f"{dynamic_path}: the template walk needs two left foot strikes; found {len(left)}")
    t0, t1 = left[0], left[1]
    i0, i1 = int(np.argmin(np.abs(t - t0))), int(np.argmin(np.abs(t - t1)))
    sl = slice(i0, i1 + 1)
    origin, rot, q = res.pose.origin[sl], res.pose.rotation[sl], res.pose.q[sl]
    travel = origin[-1] - origin[0]
    yaw = np.arctan2(travel[1], travel[0])
    turn = rotation("z", -yaw)
    origin = (origin - origin[0] * np.array([1, 1, 0])) @ turn.T
    rot = turn @ rot
    angles = np.unwrap(cardan(rot, "yxz"), axis=0)
    q = np.unwrap(q, axis=0)
    ramp = np.linspace(0.0, 1.0, len(origin))[:, None]
    angles = angles - ramp * (angles[-1] - angles[0])
    q = q - ramp[..., None] * (q[-1] - q[0])
    stride = float(origin[-1, 0] - origin[0, 0])
    origin[:, 1:] = origin[:, 1:] - ramp * (origin[-1, 1:] - origin[0, 1:])
    frac = {}
    for side in ("Left", "Right"):
        for label in ("Foot Strike", "Foot Off"):
            tt = ev[(ev.side == side) & (ev.label == label) & (ev.time > t0) & (ev.time < t1)].time.to_numpy()
            if len(tt) == 0 and not (side == "Left" and label == "Foot Strike"):
                raise ValueError(f"{dynamic_path}: no {side} {label} inside the template cycle")
            if len(tt):
                frac[f"{side}{label}"] = float((tt[0] - t0) / (t1 - t0))
    peak = {}
    j_foot = {s: chain.index(f"{s}_foot") - 1 for s in "LR"}
    for s in "LR":
        lsign = 1.0 if s == "L" else -1.0
        ev_curve = -lsign * q[:-1, j_foot[s], 1]  # rearfoot eversion = -HFTBA y = -l q1
        fs = 0.0 if s == "L" else frac["RightFoot Strike"]
        fo = frac[f"{_side(s)}Foot Off"]
        ph = (np.arange(len(ev_curve)) / len(ev_curve) - fs) % 1.0
        stance = ph <= (fo - fs) % 1.0
        k = np.flatnonzero(stance)[np.argmax(ev_curve[stance])]
        peak[s] = float(k / len(ev_curve))
    meas = {str(k): float(v) for k, v in zip(static.measurement.values, static.measurements.values) if k in KEEP}
    if "Bodymass" not in meas or not np.isfinite(meas["Bodymass"]):
        meas["Bodymass"] = 70.0
    return Template(static, meas, float(dyn.attrs["point_rate"]), origin[:-1], angles[:-1], q[:-1], stride,
                    frac, peak, chain, f"{Path(static_path).name}, {Path(dynamic_path).name}")


# --------------------------------------------------------------------------- subjects


def _periodic(values: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Values (N, ...) of a periodic cycle sampled at phases in [0, 1), linear interpolation."""
    n = len(values)
    pos = phase * n
    i0 = np.floor(pos).astype(int) % n
    i1 = (i0 + 1) % n
    w = (pos - np.floor(pos)).reshape((-1,) + (1,) * (values.ndim - 1))
    return values[i0] * (1 - w) + values[i1] * w


def _fourier(values: np.ndarray, phase: np.ndarray, harmonics: int, derivative: int = 0) -> np.ndarray:
    """Values (N, ...) of a periodic cycle at phases (any real numbers): its Fourier series up to
    `harmonics` (the mean and harmonics 1..H of the N samples), smooth in the phase to every
    derivative, unlike :func:`_periodic`'s straight lines between samples; `derivative`: that
    derivative with respect to the phase instead."""
    n = len(values)
    h = min(int(harmonics), (n - 1) // 2)
    c = np.fft.rfft(values, axis=0)[: h + 1]
    k = np.arange(h + 1)
    w = np.where(k == 0, 1.0, 2.0) / n * (2j * np.pi * k) ** derivative
    e = np.exp(2j * np.pi * np.outer(np.asarray(phase, dtype=float), k)) * w
    return np.real(np.tensordot(e, c, axes=(1, 0)))
