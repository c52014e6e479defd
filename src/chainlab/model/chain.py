"""The kinetic chain as one multi-body model, built from the calibrated segments of the direct models.

A :class:`Chain` is a tree of rigid bodies. The root (the pelvis) moves freely (6 degrees of
freedom); every other body turns about a joint centre fixed in its parent. Bodies, joint
centres and axes are those of Kinematics I on the subject's static trial, so the chain's
markers, moved by forward kinematics, give back the direct models' angles by the same code:

================  ==========  =======================  ========================================
body              parent      joint centre             body axes (Kinematics I segment)
================  ==========  =======================  ========================================
``pelvis``        (root)      -                        ``Pelvis`` (Plug-in Gait)
``L_femur``       pelvis      ``LHJC`` (Davis)         ``LeftFemur``
``L_tibia``       L_femur     ``LKJC``                 ``LeftTibia`` (torsioned)
``L_foot``        L_tibia     ``LAJC``                 ``LeftHindfoot`` (OFM) or ``LeftFoot``
``L_forefoot``    L_foot      ``LPROXFF`` (OFM)        ``LeftForefoot`` (optional)
``lumbar``        pelvis      bottom spine marker      the pelvis' axes in the static trial
``thorax``        lumbar      apex spine marker        the pelvis' axes in the static trial
================  ==========  =======================  ========================================

(and ``R_...`` likewise). Joint coordinates are YXZ Cardan angles (rad) of the child's axes in
the parent's, as Kinematics I decomposes its joint angles: ``R_child = R_parent @ pre @
Ry(q0) Rx(q1) Rz(q2)``. ``pre`` is the identity except at the foot with the Oxford Foot
Model, where it is the OFM tibia in the Plug-in Gait tibia, so that the foot's coordinates
are ``?HFTBA`` (90 - q0, l q1, -l q2) exactly. A joint frees some of its three angles (the
knee: flexion only, or all three); the others keep their static-trial values. The lumbar
body carries the spine markers from the apex of the lumbar rule down to (not including) its
bottom marker, which stays on the pelvis and is the lumbar joint; the thorax carries the
markers above the apex and turns about it, so the thorax joint's first angle is the change of
``LumbarCurvature`` x (with the opposite sign) while the lumbar body holds still.

Markers are the ones Kinematics I uses, placed on the body they move with; their body
coordinates come from the static trial's mean marker positions, and for a fit of a trial
(``ChainOptions.template="trial"``, :func:`calibrate_on_trial`) from their mean positions in the
direct models' segments over that trial, with the joint centres likewise.

Slides (``ChainOptions.slides``): the femur and tibia may also translate along their long axes
(from the joint centre to the next joint centre down the limb, fixed in the body), within a
bound: the body's origin is its joint centre plus ``slide`` times that axis, so its markers and
the joint below move with it and the segment's length changes. A slide is a fourth joint
coordinate (``Pose.slide``, m); docs/kinematics.md says why they are there.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from chainlab.model import lumbar as lumbar_rule
from chainlab.model.geometry import cardan
from chainlab.options import ChainOptions

SEQUENCE = "yxz"
AXIS_INDEX = {"y": 0, "x": 1, "z": 2}  # position of each axis in the YXZ sequence

#: Markers per body, in the order tried; a marker the static trial lacks is left out.
PELVIS_MARKERS = ("LASI", "RASI", "SACR", "LPSI", "RPSI", "S1")
THIGH_MARKERS = ("THI", "KNE")
SHANK_MARKERS = ("TIB", "ANK", "TUB", "SHN", "HFB", "MMA")
HINDFOOT_MARKERS = ("HEE", "LCA", "STL", "CPG", "PCA")
FOREFOOT_MARKERS = ("TOE", "P1M", "D5M", "P5M", "D1M", "HLX")
TRUNK_MARKERS = ("C7", "T10", "T12", "L1", "L3", "L5", "CLAV", "STRN")

#: Default marker weights (docs/kinematics.md, "Global solver"). The pelvis rests on its three
#: or four markers alone in the direct models: 10 keeps the chain's pelvis on them. The Plug-in
#: Gait markers of the legs (wand, knee, ankle, toe) define the reported thigh, shank and foot
#: axes: 10 (at 1, 3 and 5 the sagittal angles were up to 3.4, 2.3 and 2.1 deg RMS from the
#: direct model's on the biomechzoo walks; the price is less averaging of noise and skin
#: movement over the other markers). The OFM's shank and foot clusters: 1. The spine and chest
#: markers: 0.1, because the two-body trunk keeps its static lengths and, weighted 1, pulled
#: pelvic tilt off the direct model's by up to 1.7 deg.
DEFAULT_WEIGHTS = {
    **{m: 10.0 for m in ("LASI", "RASI", "SACR", "LPSI", "RPSI")},
    **{s + m: 10.0 for s in "LR" for m in ("THI", "KNE", "TIB", "ANK", "TOE")},
    **{m: 0.1 for m in TRUNK_MARKERS},
}


@dataclass
class Body:
    name: str
    joint: str  # "root", "hip", "knee", "ankle", "forefoot", "lumbar"
    parent: int  # index in Chain.bodies, -1 for the root
    offset: np.ndarray  # (3,) joint centre in the parent's body frame, m
    pre: np.ndarray  # (3, 3) joint frame in the parent's body frame
    free: tuple[int, ...]  # free coordinates, indices into (y, x, z)
    rest: np.ndarray  # (3,) the joint coordinates in the static trial, rad
    lower: np.ndarray  # (3,) rad, -inf when unlimited
    upper: np.ndarray
    markers: list[str]
    local: np.ndarray  # (k, 3) marker positions in the body frame, m
    segment: str = ""  # the direct models' segment whose axes the body takes ("" : none)
    centre: str = ""  # the direct models' point at the joint centre ("" : none; "@NAME": marker NAME)
    slide: np.ndarray = field(default_factory=lambda: np.zeros(3))  # (3,) unit, body frame: the slide's axis
    slide_bound: float = 0.0  # m: the slide is free within ±slide_bound (0: no slide)


@dataclass
class Chain:
    bodies: list[Body]
    markers: list[str]  # every chain marker, body by body
    weights: np.ndarray  # (M,)
    body_of_marker: np.ndarray  # (M,) body index
    calibration: dict = field(default_factory=dict)  # what the static trial gave (attrs)

    @property
    def joints(self) -> list[Body]:
        return self.bodies[1:]

    def index(self, name: str) -> int:
        return [b.name for b in self.bodies].index(name)

    def coordinate_names(self) -> list[str]:
        names = ["pelvis_tx", "pelvis_ty", "pelvis_tz", "pelvis_ry", "pelvis_rx", "pelvis_rz"]
        for b in self.joints:
            names += [f"{b.name}_{'yxz'[k]}" for k in range(3)]
        return names

    def scaled(self, factor: float) -> Chain:
        """The same chain with every length multiplied by `factor` (an anthropometric scaling)."""
        bodies = [Body(**{**b.__dict__, "offset": b.offset * factor, "local": b.local * factor}) for b in self.bodies]
        return Chain(bodies, list(self.markers), self.weights.copy(), self.body_of_marker.copy(),
                     dict(self.calibration))


@dataclass
class Pose:
    """Generalised coordinates of the chain over frames."""

    origin: np.ndarray  # (n, 3) root origin in the lab, m
    rotation: np.ndarray  # (n, 3, 3) root axes in the lab
    q: np.ndarray  # (n, J, 3) joint coordinates, rad (YXZ)
    slide: np.ndarray | None = None  # (n, J) slide of each body along its long axis, m (None: 0)

    def __len__(self) -> int:
        return len(self.origin)

    def take(self, s) -> Pose:
        return Pose(self.origin[s], self.rotation[s], self.q[s], None if self.slide is None else self.slide[s])


# --------------------------------------------------------------------------- rotations


def yxz(q: np.ndarray) -> np.ndarray:
    """Ry(q0) Rx(q1) Rz(q2) for (..., 3) angles, (..., 3, 3)."""
    ca, cb, cc = np.cos(q[..., 0]), np.cos(q[..., 1]), np.cos(q[..., 2])
    sa, sb, sc = np.sin(q[..., 0]), np.sin(q[..., 1]), np.sin(q[..., 2])
    r = np.empty(q.shape[:-1] + (3, 3))
    r[..., 0, 0] = ca * cc + sa * sb * sc
    r[..., 0, 1] = -ca * sc + sa * sb * cc
    r[..., 0, 2] = sa * cb
    r[..., 1, 0] = cb * sc
    r[..., 1, 1] = cb * cc
    r[..., 1, 2] = -sb
    r[..., 2, 0] = -sa * cc + ca * sb * sc
    r[..., 2, 1] = sa * sc + ca * sb * cc
    r[..., 2, 2] = ca * cb
    return r


def rodrigues(w: np.ndarray) -> np.ndarray:
    """Rotation matrices exp([w]x) for (n, 3) rotation vectors."""
    theta = np.linalg.norm(w, axis=-1)
    small = theta < 1e-12
    k = w / np.where(small, 1.0, theta)[..., None]
    s, c = np.sin(theta)[..., None, None], np.cos(theta)[..., None, None]
    kx = np.zeros(w.shape[:-1] + (3, 3))
    kx[..., 0, 1], kx[..., 0, 2], kx[..., 1, 2] = -k[..., 2], k[..., 1], -k[..., 0]
    kx[..., 1, 0], kx[..., 2, 0], kx[..., 2, 1] = k[..., 2], -k[..., 1], k[..., 0]
    r = np.eye(3) + s * kx + (1.0 - c) * (kx @ kx)
    r[small] = np.eye(3)
    return r


# --------------------------------------------------------------------------- forward kinematics


def forward(chain: Chain, pose: Pose) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Body axes (n, B, 3, 3), body origins (n, B, 3) and markers (n, M, 3) of a pose."""
    n, nb = len(pose), len(chain.bodies)
    rot = np.empty((n, nb, 3, 3))
    org = np.empty((n, nb, 3))
    rot[:, 0], org[:, 0] = pose.rotation, pose.origin
    for j, b in enumerate(chain.joints, start=1):
        rp, op = rot[:, b.parent], org[:, b.parent]
        rot[:, j] = rp @ (b.pre @ yxz(pose.q[:, j - 1]))
        org[:, j] = op + rp @ b.offset
        if pose.slide is not None and b.slide_bound > 0:
            org[:, j] += pose.slide[:, j - 1, None] * (rot[:, j] @ b.slide)
    return rot, org, markers_of(chain, rot, org)


def markers_of(chain: Chain, rot: np.ndarray, org: np.ndarray) -> np.ndarray:
    n = len(rot)
    out = np.empty((n, len(chain.markers), 3))
    start = 0
    for i, b in enumerate(chain.bodies):
        k = len(b.markers)
        out[:, start:start + k] = org[:, i, None, :] + np.einsum("nij,mj->nmi", rot[:, i], b.local)
        start += k
    return out


def rest_pose(chain: Chain, n: int = 1) -> Pose:
    """The static trial's joint coordinates with the pelvis at the lab origin, axes of the lab."""
    q = np.stack([b.rest for b in chain.joints])
    return Pose(np.zeros((n, 3)), np.broadcast_to(np.eye(3), (n, 3, 3)).copy(),
                np.broadcast_to(q, (n,) + q.shape).copy())


# --------------------------------------------------------------------------- calibration


def _present(ds: xr.Dataset, name: str) -> bool:
    return name in ds.marker.values and np.isfinite(ds.markers.sel(marker=name).values).all(axis=-1).any()


def static_template(static: xr.Dataset) -> xr.Dataset:
    """The static trial as one frame: each marker at its mean position over the trial (the
    frame on which the direct models place the chain's bodies, :func:`build_chain`)."""
    tmpl = static.isel(frame=[0]).copy()
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # markers absent in every frame
        mean = np.nanmean(static.markers.transpose("frame", ...).values, axis=0)
    tmpl["markers"] = tmpl.markers.transpose("frame", ...).copy(data=mean[None])
    return tmpl


def build_chain(static: xr.Dataset, kin: xr.Dataset, options: ChainOptions | None = None) -> Chain:
    """The chain of the subject standing in `static` (a :func:`chainlab.read_c3d` Dataset).

    `kin` is the direct models' output (partial allowed) on :func:`static_template` of
    `static`: its segments and joint centres place the bodies, and the markers' mean positions
    in those segments are the markers' body coordinates. Its calibration attributes (subject
    measurements, static offsets, OFM values) are kept in :attr:`Chain.calibration`.
    (:func:`chainlab.kinematics.static_chain` computes `kin` and calls this.)
    """
    opt = options or ChainOptions()
    name = static.attrs.get("source_file", "static trial")
    if kin.sizes.get("frame") != 1:
        raise ValueError(f"{name}: build_chain needs the direct models' output on the static trial's "
                         f"one-frame template (static_template); found {kin.sizes.get('frame')} frames")
    tmpl = static_template(static)
    seg = {str(s): (kin.segment_origin.sel(segment=s).values[0], kin.segment_axes.sel(segment=s).values[0])
           for s in kin.segment.values}
    pts = {str(p): kin.joint_centres.sel(point=p).values[0] for p in kin.point.values}
    if "Pelvis" not in seg:
        raise ValueError(f"{name}: the chain needs the Plug-in Gait pelvis and legs; "
                         f"{kin.attrs.get('models_left_out', '')}")
    mk = {str(m): tmpl.markers.sel(marker=m).values[0] for m in tmpl.marker.values if _present(static, str(m))}
    models = kin.attrs["models"].split(",")
    ofm = "ofm" in models

    bodies: list[Body] = []

    def add(body_name, joint, parent, centre, axes, pre, marker_names, segment="", centre_name=""):
        names = [m for m in marker_names if m in mk]
        if parent < 0:
            offset = np.zeros(3)
            rest = np.zeros(3)
        else:
            p_axes, p_origin = p_frames[parent]
            offset = p_axes.T @ (centre - p_origin)
            rest = cardan((p_axes @ pre).T @ axes, SEQUENCE)
        free_axes = opt.free(joint) if joint != "root" else ""
        lower, upper = np.full(3, -np.inf), np.full(3, np.inf)
        side = body_name[:2] if body_name[1:2] == "_" else ""
        for key in (joint, f"{side}{joint}"):
            for axis, (lo, hi) in (opt.limits.get(key) or {}).items():
                lower[AXIS_INDEX[axis]], upper[AXIS_INDEX[axis]] = np.radians(lo), np.radians(hi)
        local = np.array([axes.T @ (mk[m] - centre) for m in names]).reshape(-1, 3)
        bodies.append(Body(body_name, joint, parent, offset, pre, tuple(sorted(AXIS_INDEX[a] for a in free_axes)),
                           rest, lower, upper, names, local, segment, centre_name))
        p_frames.append((axes, centre))
        return len(bodies) - 1

    p_frames: list[tuple[np.ndarray, np.ndarray]] = []
    pelvis_origin, pelvis_axes = seg["Pelvis"]
    spine = None
    if "lumbar" in models:
        try:
            spine = lumbar_rule.choose_markers(list(mk))
        except ValueError:
            spine = None
    pelvis_markers = list(PELVIS_MARKERS) + ([spine.bottom] if spine else [])
    root = add("pelvis", "root", -1, pelvis_origin, pelvis_axes, np.eye(3), list(dict.fromkeys(pelvis_markers)),
               "Pelvis", "")
    for s, side in (("L", "Left"), ("R", "Right")):
        femur = add(f"{s}_femur", "hip", root, pts[f"{s}HJC"], seg[f"{side}Femur"][1], np.eye(3),
                    [s + m for m in THIGH_MARKERS], f"{side}Femur", f"{s}HJC")
        tibia = add(f"{s}_tibia", "knee", femur, pts[f"{s}KJC"], seg[f"{side}Tibia"][1], np.eye(3),
                    [s + m for m in SHANK_MARKERS], f"{side}Tibia", f"{s}KJC")
        forefoot = ofm and opt.forefoot and opt.free("forefoot") != ""
        if ofm:
            pre = seg[f"{side}Tibia"][1].T @ seg[f"{side}OFMTibia"][1]
            foot_markers = HINDFOOT_MARKERS + (() if forefoot else FOREFOOT_MARKERS)
            foot = add(f"{s}_foot", "ankle", tibia, pts[f"{s}AJC"], seg[f"{side}Hindfoot"][1], pre,
                       [s + m for m in foot_markers], f"{side}Hindfoot", f"{s}AJC")
        else:
            foot = add(f"{s}_foot", "ankle", tibia, pts[f"{s}AJC"], seg[f"{side}Foot"][1], np.eye(3),
                       [s + m for m in ("HEE", "TOE")], f"{side}Foot", f"{s}AJC")
        if forefoot:
            add(f"{s}_forefoot", "forefoot", foot, pts[f"{s}PROXFF"], seg[f"{side}Forefoot"][1], np.eye(3),
                [s + m for m in FOREFOOT_MARKERS], f"{side}Forefoot", f"{s}PROXFF")
    if spine is not None:
        order = [m for m in lumbar_rule.SPINE_ORDER if m in mk]
        lower = order[order.index(spine.apex):order.index(spine.bottom)]  # apex .. above bottom
        upper = [m for m in TRUNK_MARKERS if m in mk and m not in lower and m != spine.bottom]
        low = add("lumbar", "lumbar", root, mk[spine.bottom], pelvis_axes, np.eye(3), lower, "", "@" + spine.bottom)
        if upper:
            add("thorax", "thorax", low, mk[spine.apex], pelvis_axes, np.eye(3), upper)

    for b in bodies:
        bound = float(opt.slides.get(b.joint, 0.0) or 0.0)
        child = next((c for c in bodies if c.parent >= 0 and bodies[c.parent] is b and c.joint != "forefoot"), None)
        if bound > 0 and child is not None and np.linalg.norm(child.offset) > 0:
            b.slide, b.slide_bound = child.offset / np.linalg.norm(child.offset), bound / 1000.0
    names = [m for b in bodies for m in b.markers]
    weights = np.array([float({**DEFAULT_WEIGHTS, **opt.weights}.get(m, 1.0)) for m in names])
    body_of = np.concatenate([np.full(len(b.markers), i) for i, b in enumerate(bodies)]).astype(int)
    cal = {k: v for k, v in kin.attrs.items() if k.startswith(("pig_", "ofm_")) or k.endswith("_source")}
    cal["static_file"] = static.attrs.get("source_file", "")
    cal["static_sha256"] = static.attrs.get("source_sha256", "")
    cal["models"] = kin.attrs["models"]
    if spine is not None:
        cal["lumbar_markers"] = kin.attrs.get("lumbar_markers", "")
    return Chain(bodies, names, weights, body_of, cal)


def calibrate_on_trial(chain: Chain, kin: xr.Dataset, measured: np.ndarray, min_frames: int = 10) -> Chain:
    """The chain with its marker coordinates and joint centres re-estimated over a trial.

    `kin` is the direct models' output (:func:`chainlab.kinematics.compute_kinematics`) of
    the trial whose markers `measured` (n, M, 3) are in chain order. For every body that
    takes the axes of a direct-model segment, each marker's body coordinates become its mean
    position in that segment over the frames where both are defined, and each joint centre
    its mean position in the parent's segment (the thigh and shank lengths are then the
    trial's mean hip-knee and knee-ankle distances of the chord construction). A joint at a
    marker (the lumbar joint) follows that marker's new coordinates. Bodies without a
    segment, and markers or joints defined in fewer than `min_frames` frames, keep the
    static trial's values. The joints' static coordinates (``rest``) and frames (``pre``)
    are kept.
    """
    segs = set(str(s) for s in kin.segment.values)
    pts = set(str(p) for p in kin.point.values)
    frames: list[tuple[np.ndarray, np.ndarray] | None] = []
    for b in chain.bodies:
        if b.segment not in segs or not (b.centre == "" or b.centre in pts):
            frames.append(None)
            continue
        r = kin.segment_axes.sel(segment=b.segment).transpose("frame", "axis", "segment_axis").values
        c = (kin.segment_origin.sel(segment=b.segment) if b.centre == "" else
             kin.joint_centres.sel(point=b.centre)).transpose("frame", "axis").values
        frames.append((r, c))

    def mean_in(k: int, p: np.ndarray) -> np.ndarray | None:
        r, c = frames[k]
        v = np.einsum("nai,na->ni", r, p - c)
        ok = np.isfinite(v).all(axis=1)
        return v[ok].mean(axis=0) if ok.sum() >= min_frames else None

    bodies = []
    start = 0
    for k, b in enumerate(chain.bodies):
        local = b.local.copy()
        if frames[k] is not None:
            for i in range(len(b.markers)):
                v = mean_in(k, measured[:, start + i])
                if v is not None:
                    local[i] = v
        start += len(b.markers)
        bodies.append(Body(**{**b.__dict__, "local": local, "offset": b.offset.copy(), "slide": b.slide.copy()}))
    for k, b in enumerate(bodies):
        if b.parent < 0:
            continue
        p = bodies[b.parent]
        if b.centre.startswith("@") and b.centre[1:] in p.markers:
            b.offset = p.local[p.markers.index(b.centre[1:])].copy()
        elif frames[k] is not None and frames[b.parent] is not None:
            v = mean_in(b.parent, frames[k][1])
            if v is not None:
                b.offset = v
    for b in bodies:
        if b.slide_bound > 0:
            child = next((c for c in bodies if c.parent >= 0 and bodies[c.parent] is b and c.joint != "forefoot"))
            b.slide = child.offset / np.linalg.norm(child.offset)
    cal = dict(chain.calibration, marker_template=f"trial {kin.attrs.get('dynamic_file', '')}")
    return Chain(bodies, list(chain.markers), chain.weights.copy(), chain.body_of_marker.copy(), cal)


def describe(chain: Chain) -> str:
    """A table of the chain: body, parent, free axes, markers."""
    lines = []
    for b in chain.bodies:
        parent = chain.bodies[b.parent].name if b.parent >= 0 else "-"
        free = "6 (free)" if b.parent < 0 else ("".join("yxz"[k] for k in b.free) or "locked")
        slide = f" slide=±{b.slide_bound * 1000:g}mm" if b.slide_bound > 0 else ""
        lines.append(f"{b.name:12s} parent={parent:10s} dofs={free:9s}{slide} markers={','.join(b.markers)}")
    return "\n".join(lines)


__all__ = ["Body", "Chain", "ChainOptions", "Pose", "build_chain", "calibrate_on_trial", "describe", "forward",
           "rest_pose", "static_template", "yxz"]
