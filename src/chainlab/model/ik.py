"""Global inverse kinematics: the chain pose that best fits the markers, every frame at once.

Each frame minimises ``sum_m w_m |x_m(pose) - y_m|^2`` over the chain's coordinates (markers
missing in a frame weigh 0 there). The solver is Levenberg-Marquardt, vectorised across
frames: every array carries the frames first, and one NumPy pass advances all frames one
iteration. Frames are independent, so chunks of frames give the same answer as the whole.

Normal equations without the Jacobian. A marker x on body b moves, for a joint twist
S = (a, c × a) (axis a through the joint centre c), by a × (x - c) = [-[x]x, I] S. So the
Gauss-Newton matrix ``J^T W J`` has entries ``S_i^T Phi_k S_j``, where Phi_k is the 6x6
weighted "marker inertia" of every marker at or below the deeper of the two joints, and
the gradient has entries ``S_i^T f_k`` with f the markers' weighted (x × r, r) sums: the
composite-rigid-body recursion of Featherstone's dynamics, applied to marker fitting. The
cost per frame grows with bodies and degrees of freedom, not with markers times degrees of
freedom.

Start: every body's orientation by a weighted least-squares fit (Kabsch/Söderkvist) of its
static-trial markers, with the joint centre given by its parent; frames where a body has
fewer than three points inherit the nearest frame's coordinates. Joint limits (and the bounds
of the slides) are kept by projecting each step onto them; a coordinate at a bound that the
gradient pushes against is held there for that step (an active set), so the others' step does
not count on it moving.

A slide (:class:`chainlab.model.chain.Body`, ``slide``) moves its body and everything below it
along the body's own axis u: its twist is the pure translation S = (0, R u), and the body's
rotations turn about its joint centre, not about its (slid) origin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chainlab.model.chain import Chain, Pose, forward, yxz
from chainlab.model.geometry import cardan

BLOCK = 500  #: frames between fresh starts (see :func:`solve`)
FLIP_DEG = 90.0  #: a body turned this far from its own markers' fit is on another branch
JUMP_DEG = 45.0  #: a joint coordinate that moves this far in one frame has jumped branch


@dataclass
class IKResult:
    pose: Pose
    markers: np.ndarray  # (n, M, 3) the chain's markers, m
    residual: np.ndarray  # (n, M) distance fitted - measured, m; NaN where not measured
    rms: np.ndarray  # (n,) weighted RMS of the residuals, m
    max: np.ndarray  # (n,) largest residual, m
    iterations: np.ndarray  # (n,) int
    converged: np.ndarray  # (n,) bool
    flipped: np.ndarray | None = None  # (n,) bool: a body still on another branch (see solve)


# --------------------------------------------------------------------------- start


def _kabsch(local: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted fit R, t with y ~ R local + t; (n, k, 3) y, (n, k) w; NaN where < 3 points."""
    sw = w.sum(axis=1)
    ok = (w > 0).sum(axis=1) >= 3
    sw_safe = np.where(sw > 0, sw, 1.0)
    yz = np.where(w[..., None] > 0, y, 0.0)
    cl = np.einsum("nk,kj->nj", w, local) / sw_safe[:, None]
    cy = np.einsum("nk,nkj->nj", w, yz) / sw_safe[:, None]
    h = np.einsum("nk,nki,nkj->nij", w, local[None] - cl[:, None], yz - cy[:, None])
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.swapaxes(vt, -1, -2) @ np.swapaxes(u, -1, -2)))
    vt[:, 2] *= d[:, None]
    r = np.swapaxes(vt, -1, -2) @ np.swapaxes(u, -1, -2)
    t = cy - np.einsum("nij,nj->ni", r, cl)
    r[~ok], t[~ok] = np.nan, np.nan
    return r, t


def _fill(a: np.ndarray, ok: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Frames not `ok` take the nearest ok frame's value (the fallback when none is)."""
    if ok.all():
        return a
    if not ok.any():
        return np.broadcast_to(fallback, a.shape).copy()
    idx = np.flatnonzero(ok)
    pos = np.searchsorted(idx, np.arange(len(a)))
    left = idx[np.clip(pos - 1, 0, len(idx) - 1)]
    right = idx[np.clip(pos, 0, len(idx) - 1)]
    n = np.arange(len(a))
    near = np.where(np.abs(n - left) <= np.abs(right - n), left, right)
    return a[near]


def initial_pose(chain: Chain, y: np.ndarray, w: np.ndarray) -> Pose:
    """A start for the solver from each body's own markers (see the module docstring)."""
    n = len(y)
    nb = len(chain.bodies)
    rot = np.empty((n, nb, 3, 3))
    org = np.empty((n, nb, 3))
    q = np.empty((n, nb - 1, 3))
    root = chain.bodies[0]
    sel = chain.body_of_marker == 0
    r, t = _kabsch(root.local, y[:, sel], w[:, sel])
    ok = np.isfinite(r[:, 0, 0])
    rot[:, 0] = _fill(r, ok, np.eye(3))
    org[:, 0] = _fill(t, ok, np.nanmean(np.where(w[..., None] > 0, y, np.nan), axis=(0, 1)) if (w > 0).any() else np.zeros(3))
    big = 10.0 * max(float(chain.weights.max()), 1.0)
    for j, b in enumerate(chain.joints, start=1):
        rp, op = rot[:, b.parent], org[:, b.parent]
        centre = op + rp @ b.offset
        sel = chain.body_of_marker == j
        local = np.vstack([np.zeros((1, 3)), b.local])
        yy = np.concatenate([centre[:, None], y[:, sel]], axis=1)
        ww = np.concatenate([np.full((n, 1), big), w[:, sel]], axis=1)
        r, _ = _kabsch(local, yy, ww)
        ok = np.isfinite(r[:, 0, 0])
        qj = np.empty((n, 3))
        if ok.any():
            qj[ok] = cardan(np.swapaxes(rp[ok] @ b.pre, -1, -2) @ r[ok], "yxz")
        qj = _fill(qj, ok, b.rest)
        locked = [k for k in range(3) if k not in b.free]
        qj[:, locked] = b.rest[locked]
        qj = np.clip(qj, b.lower, b.upper)
        q[:, j - 1] = qj
        rot[:, j] = rp @ (b.pre @ yxz(qj))
        org[:, j] = centre
    return Pose(org[:, 0].copy(), rot[:, 0].copy(), q)


# --------------------------------------------------------------------------- solver


class _Layout:
    """The chain as the flat arrays the compiled solver reads."""

    def __init__(self, chain: Chain):
        nb = len(chain.bodies)
        if (np.diff(chain.body_of_marker) < 0).any():
            raise ValueError("chain markers must be stored body after body")
        dof_body, dof_axis = [0] * 6, list(range(6))
        for j, b in enumerate(chain.joints, start=1):
            axes = list(b.free) + ([3] if b.slide_bound > 0 else [])  # 3: the slide
            dof_body += [j] * len(axes)
            dof_axis += axes
        anc = np.zeros((nb, nb), bool)  # anc[a, b]: a is b or above it
        for i in range(nb):
            k = i
            while k >= 0:
                anc[k, i] = True
                k = chain.bodies[k].parent
        body = np.array(dof_body)
        pairs = [(i, j) for i in range(len(body)) for j in range(len(body)) if anc[body[i], body[j]] and
                 (body[i] != body[j] or i <= j)]
        self.arrays = (
            np.array([b.parent for b in chain.bodies], np.int64),
            np.array([b.offset for b in chain.bodies], float),
            np.array([b.pre for b in chain.bodies], float),
            np.array([b.slide for b in chain.bodies], float),
            np.array([np.append(b.lower, -b.slide_bound) for b in chain.bodies], float),
            np.array([np.append(b.upper, b.slide_bound) for b in chain.bodies], float),
            np.vstack([b.local for b in chain.bodies]).astype(float),
            chain.body_of_marker.astype(np.int64),
            chain.weights.astype(float),
            np.array(dof_body, np.int64),
            np.array(dof_axis, np.int64),
            np.array(pairs, np.int64),
        )
        self.n = len(dof_body)


def _block_starts(chain: Chain, y: np.ndarray, w: np.ndarray, starts: np.ndarray, block: int) -> Pose:
    """Starting poses of the frames `starts` (each the first of a block)."""
    pose = initial_pose(chain, y[starts], w[starts])
    bad = ~np.isfinite(pose.q).all(axis=(1, 2)) | ~np.isfinite(pose.origin).all(axis=1)
    for k in np.flatnonzero(_start_incomplete(chain, y[starts], w[starts]) | bad):
        s = slice(starts[k], min(len(y), starts[k] + block))  # use the block's nearest good frame
        p = initial_pose(chain, y[s], w[s])
        pose.origin[k], pose.rotation[k], pose.q[k] = p.origin[0], p.rotation[0], p.q[0]
    return pose


def _start_incomplete(chain: Chain, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Frames where some body has fewer than 3 markers (with its joint centre: 2)."""
    counts = np.stack([(w[:, chain.body_of_marker == i] > 0).sum(axis=1) for i in range(len(chain.bodies))], 1)
    have = np.bincount(chain.body_of_marker, minlength=len(chain.bodies))
    need = np.minimum(np.array([3] + [2] * (len(chain.bodies) - 1)), have)  # a body short of markers by design
    return (counts < need).any(axis=1)


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (deg) between vectors (..., 3)."""
    c = np.einsum("...i,...i->...", a, b) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))


def branch_disagreement(chain: Chain, pose: Pose, y: np.ndarray) -> np.ndarray:
    """(n, B) how far (deg) each body of `pose` is turned from where its own measured markers
    put it; NaN where it cannot be told. Two measures, the larger kept: the direction from the
    body's joint centre to the centroid of its markers present in the frame, fitted against
    measured (every body but the root: a knee turned 180 deg reverses it); and, for a body
    with three or more markers present, the rotation between the body and the rigid fit of
    those markers alone (Kabsch), which also sees a turn about that direction. A body's fit to
    fewer markers is not used: with two markers and its joint centre (a Plug-in Gait foot:
    HEE, TOE) the roll is ill-defined and such a fit lies up to 80 deg from the direct
    models' segment in a normal walk."""
    present = np.isfinite(y).all(axis=-1)
    n, nb = len(y), len(chain.bodies)
    rot, org, x = forward(chain, Pose(pose.origin, pose.rotation, pose.q, pose.slide))
    out = np.full((n, nb), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        for i, b in enumerate(chain.bodies):
            sel = np.flatnonzero(chain.body_of_marker == i)
            if sel.size == 0:
                continue
            p = present[:, sel]
            k = p.sum(axis=1)
            yy = np.where(p[..., None], y[:, sel], 0.0)
            xx = np.where(p[..., None], x[:, sel], 0.0)
            if i > 0:
                cy = yy.sum(axis=1) / k[:, None]
                cx = xx.sum(axis=1) / k[:, None]
                out[:, i] = np.where(k > 0, _angle(cx - org[:, i], cy - org[:, i]), np.nan)
            three = k >= 3
            if three.any():
                w = p.astype(float)
                r, _ = _kabsch(b.local, np.where(p[..., None], y[:, sel], 0.0), w)
                tr = np.einsum("nij,nij->n", rot[:, i], r)
                full = np.degrees(np.arccos(np.clip((tr - 1.0) / 2.0, -1.0, 1.0)))
                out[:, i] = np.where(three, np.fmax(np.nan_to_num(out[:, i], nan=-1.0), full), out[:, i])
    return out


def _farthest(chain: Chain, pose: Pose, y: np.ndarray) -> np.ndarray:
    """(n,) deg: each frame's largest :func:`branch_disagreement` (0 where none can be told)."""
    return np.nanmax(np.nan_to_num(branch_disagreement(chain, pose, y), nan=0.0), axis=1)


def solve(
    chain: Chain,
    y: np.ndarray,
    *,
    first_frame: int = 0,
    block: int = BLOCK,
    start: Pose | None = None,
    max_iterations: int = 50,
    tolerance: float = 1e-5,
) -> IKResult:
    """Fit the chain to markers `y` (n, M, 3), m, NaN where missing (in ``chain.markers`` order).

    :func:`fit` does the fitting (its docstring says how frames start; call it for the fit
    without this check). Every frame is then checked against its markers
    (:func:`branch_disagreement`): a frame where a body is more than
    :data:`FLIP_DEG` from it, or where a free joint coordinate moved more than
    :data:`JUMP_DEG` since the previous frame of its block, is solved again from the direct
    pose alone (:func:`initial_pose`, each body's orientation from its own markers, as the
    first frame of a block), and the new solution is kept when it is nearer its markers. Frames still
    more than FLIP_DEG away are marked in ``flipped``. The check looks only within blocks,
    so pieces cut at block boundaries still give the whole trial's result.
    """
    res = fit(chain, y, first_frame=first_frame, block=block, start=start, max_iterations=max_iterations,
              tolerance=tolerance)
    if len(y) == 0:
        return res
    y = np.ascontiguousarray(y, dtype=float)
    far = _farthest(chain, res.pose, y)
    bad = far > FLIP_DEG
    free = np.zeros(res.pose.q.shape[1:], bool)
    for j, b in enumerate(chain.joints):
        free[j, list(b.free)] = True
    step = np.abs((np.diff(res.pose.q, axis=0) + np.pi) % (2 * np.pi) - np.pi)
    jump = (np.degrees(step) > JUMP_DEG)[:, free].any(axis=1)
    jump &= (first_frame + np.arange(1, len(y))) % block != 0  # within blocks only
    bad[1:] |= jump
    bad[:-1] |= jump
    flipped = np.zeros(len(y), bool)
    if bad.any():
        idx = np.flatnonzero(bad)
        present = np.isfinite(y[idx]).all(axis=-1)
        cold = initial_pose(chain, y[idx], np.where(present, chain.weights[None, :], 0.0))
        again = fit(chain, y[idx], start=cold, max_iterations=max_iterations, tolerance=tolerance)
        far2 = _farthest(chain, again.pose, y[idx])
        take = far2 < far[idx]
        k = idx[take]
        for name in ("origin", "rotation", "q", "slide"):
            getattr(res.pose, name)[k] = getattr(again.pose, name)[take]
        for name in ("markers", "residual", "rms", "max", "iterations", "converged"):
            getattr(res, name)[k] = getattr(again, name)[take]
        far[k] = far2[take]
        flipped = far > FLIP_DEG
    res.flipped = flipped
    return res


def fit(
    chain: Chain,
    y: np.ndarray,
    *,
    first_frame: int = 0,
    block: int = BLOCK,
    start: Pose | None = None,
    max_iterations: int = 50,
    tolerance: float = 1e-5,
) -> IKResult:
    """Fit the chain to markers `y` (n, M, 3), m, NaN where missing (in ``chain.markers`` order).

    Frames are taken in blocks of `block` frames counted from frame 0 of the trial
    (`first_frame` is the trial index of ``y[0]``): the first frame of a block starts from
    :func:`initial_pose`, every other frame from the previous frame's solution. So a trial
    solved in pieces whose boundaries are multiples of `block` gives exactly the result of
    the whole. `start` gives every frame's start instead. `tolerance`: a frame stops when
    its largest step is below it (rad or m) or its cost no longer falls.
    """
    from chainlab.model._ik_kernel import solve_frames  # numba: imported only when the global solver runs

    y = np.ascontiguousarray(y, dtype=float)
    n = len(y)
    if y.ndim != 3 or y.shape[1:] != (len(chain.markers), 3):
        raise ValueError(f"markers must be (frames, {len(chain.markers)}, 3) in chain order; found {y.shape}")
    present = np.isfinite(y).all(axis=-1)
    w = np.where(present, chain.weights[None, :], 0.0)
    if start is not None:
        warm = np.zeros(n, bool)
        pose = Pose(*(np.array(getattr(start, k), dtype=float) for k in ("origin", "rotation", "q")),
                    None if start.slide is None else np.array(start.slide, dtype=float))
    else:
        index = first_frame + np.arange(n)
        warm = index % block != 0
        warm[0] = False
        starts = np.flatnonzero(~warm)
        pose = Pose(np.zeros((n, 3)), np.zeros((n, 3, 3)), np.zeros((n, len(chain.joints), 3)))
        if n:
            p0 = _block_starts(chain, y, w, starts, block)
            pose.origin[starts], pose.rotation[starts], pose.q[starts] = p0.origin, p0.rotation, p0.q
    x = np.empty_like(y)
    iterations = np.zeros(n, np.int64)
    converged = np.zeros(n, bool)
    q = np.zeros(pose.q.shape[:2] + (4,))  # angles and the slide
    q[..., :3] = pose.q
    if pose.slide is not None:
        q[..., 3] = pose.slide
    solve_frames(*_Layout(chain).arrays, y, pose.origin, pose.rotation, q, warm,
                 int(max_iterations), float(tolerance), x, iterations, converged)
    pose = Pose(pose.origin, pose.rotation, np.ascontiguousarray(q[..., :3]), np.ascontiguousarray(q[..., 3]))
    residual = np.linalg.norm(x - y, axis=-1)  # NaN where missing
    sw = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rms = np.sqrt(np.nansum(w * residual**2, axis=1) / sw)
        mx = np.nanmax(np.where(present, residual, -np.inf), axis=1)
    mx[~present.any(axis=1)] = np.nan
    return IKResult(pose, x, residual, rms, mx, iterations, converged)


__all__ = ["FLIP_DEG", "JUMP_DEG", "IKResult", "branch_disagreement", "fit", "initial_pose", "solve"]
