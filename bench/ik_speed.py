"""Frames per second of the global inverse-kinematics solver on one core, against biorbd and scipy.

    python bench/ik_speed.py [--frames 20000] [--noise-mm 1] [--seed 0] [--repeat 3]
                             [--scipy-frames 500] [--biorbd-frames 1000] [--weights unit]

What it measures
----------------
Synthetic markers with a known truth, fitted by three solvers on the same bilateral chain
(``static_chain`` of the HC030A static trial: pelvis 6 DoF, hips, knees, ankles, forefeet,
lumbar and thorax 3 DoF each; 36 coordinates, 46 markers):

* the truth: :func:`chainlab.model.ik.solve` on the real walk HC030A05 gives a pose per
  frame; the walk played forward then backward in time, repeated, makes a long smooth pose
  sequence of ``--frames`` frames; :func:`chainlab.model.chain.forward` gives its markers,
  plus Gaussian noise (``--noise-mm`` per axis, fixed ``--seed``). Every marker is present.
* ``chainlab ik.solve``: the numba Levenberg-Marquardt, all frames, warm-started frame to
  frame (fresh start every 500 frames). One warm-up call on 50 frames first, so numba's
  compilation (or loading of its cache) is not timed; the best of ``--repeat`` runs is
  reported.
* ``scipy least_squares``: per frame, ``scipy.optimize.least_squares(method="lm")``
  (MINPACK, default tolerances) on the first ``--scipy-frames`` frames; parameters are the
  root translation, a rotation vector of the root relative to the previous frame's solution
  (zero at the start) and the free joint angles; the previous frame's solution is the
  start (frame 0 starts from :func:`chainlab.model.ik.initial_pose`, as chainlab does). The
  residual is chainlab's ``forward`` of one frame minus the markers; the Jacobian is by
  forward differences, all columns in one vectorised ``forward`` call (no analytic Jacobian).
* ``biorbd InverseKinematics``: the chain written as an equivalent ``.bioMod`` (each body a
  segment whose RT is the joint's constant part ``[pre, offset]``, ``rotations yxz`` for the
  free Cardan angles; the root ``translations xyz`` + ``rotations yxz``, the pelvis' YXZ in
  the lab; markers at their body coordinates). The model is checked against ``forward``
  (marker positions for the true coordinates) before timing. ``InverseKinematics(model,
  markers (3, M, n)).solve(method)`` on the first ``--biorbd-frames`` frames, for its default
  method ``"lm"`` (trust-region on frame 0, then MINPACK LM warm-started from the previous
  frame, analytic Jacobian from biorbd) and for ``"trf"``.

biorbd's least squares weigh every marker alike, so by default (``--weights unit``) the
chain is built with unit marker weights and all three solvers minimise the same sum of
squared marker distances; ``--weights default`` keeps chainlab's default weights (pelvis
markers 10) for chainlab and scipy (biorbd still unweighted).

Metrics, on the frames each solver fitted: frames per second (frames / wall-clock seconds of
the solve call, single process pinned to CPU 0, BLAS/OpenMP/numba threads = 1); per-frame
marker RMS (unweighted, mm; with noise sigma per axis the expected value is about
sigma * sqrt(3 - 36/46) = 1.49 sigma); the RMS error of the free joint coordinates
(``pose.q``, deg) against the truth, all of them and without the lumbar and thorax joints,
and the root's orientation error (deg, geodesic). Speed-up is frames/s relative to biorbd's
default method.

On HC030A the spine markers are T10, T12 and SACR, so the lumbar body carries T12 alone,
which is also the thorax joint centre: the lumbar body's twist about the SACR-T12 line
(with the opposite change of the thorax coordinates) moves no marker. The script prints the
marker Jacobian's smallest singular values at the truth; the lumbar and thorax coordinates
are then not identifiable, and their error against the truth says where a solver drifted
along that null direction, not how well it fits (hence the second angle column).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported

import argparse  # noqa: E402
import contextlib  # noqa: E402
import datetime  # noqa: E402
import io  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from importlib.metadata import version  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
from scipy.optimize import least_squares  # noqa: E402

from chainlab import read_c3d  # noqa: E402
from chainlab.kinematics import static_chain  # noqa: E402
from chainlab.model import ik  # noqa: E402
from chainlab.model.chain import (DEFAULT_WEIGHTS, Chain, ChainOptions, Pose,  # noqa: E402
                                  forward, rodrigues, yxz)
from chainlab.model.geometry import cardan, rotation  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "data/biomechzoo/HC030A/Static/HC030A01.c3d"
WALK = ROOT / "data/biomechzoo/HC030A/Straight/HC030A05.c3d"


# --------------------------------------------------------------------------- data


def load_chain(weights: str, slides: str = "none") -> tuple[Chain, np.ndarray]:
    """The chain of the static trial and the real walk's markers in chain order.

    `slides` "none": rigid thigh and shank (the chain biorbd and scipy are given here, which
    know no slides); "default": chainlab's default slides (scipy and biorbd skipped)."""
    static, walk = read_c3d(STATIC), read_c3d(WALK)
    opts = ChainOptions(weights={m: 1.0 for m in DEFAULT_WEIGHTS} if weights == "unit" else {},
                        **({"slides": {}} if slides == "none" else {}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chain = static_chain(static, opts)
    n = walk.sizes["frame"]
    y = np.stack([walk.markers.sel(marker=m).values if m in walk.marker.values else np.full((n, 3), np.nan)
                  for m in chain.markers], 1)
    return chain, y


def synthetic(chain: Chain, walk: np.ndarray, frames: int, noise_mm: float, seed: int):
    """True pose (walk solved, played forward-backward, repeated), noisy markers."""
    pose = ik.solve(chain, walk).pose
    cycle = np.concatenate([np.arange(len(pose)), np.arange(len(pose) - 2, 0, -1)])  # palindrome
    idx = np.resize(cycle, frames)
    truth = pose.take(idx)
    clean = forward(chain, truth)[2]
    rng = np.random.default_rng(seed)
    return truth, clean + rng.normal(0.0, noise_mm / 1000.0, clean.shape)


def free_mask(chain: Chain) -> np.ndarray:
    """(J, 3) bool: which joint coordinates are free."""
    return np.array([[k in b.free for k in range(3)] for b in chain.joints])


@dataclass
class Row:
    solver: str
    frames: int
    seconds: float
    rms_mm: np.ndarray  # per frame
    angle_deg: float  # RMS over frames and free joint coordinates
    legs_deg: float  # the same without the lumbar and thorax joints
    root_deg: float  # RMS geodesic error of the root orientation
    note: str = ""

    @property
    def fps(self) -> float:
        return self.frames / self.seconds


def metrics(chain: Chain, pose: Pose, truth: Pose, y: np.ndarray) -> tuple[np.ndarray, float, float, float]:
    x = forward(chain, pose)[2]
    rms = np.sqrt(np.mean(np.sum((x - y) ** 2, axis=-1), axis=1)) * 1000.0
    d = (pose.q - truth.q + np.pi) % (2 * np.pi) - np.pi
    mask = free_mask(chain)
    ang = np.degrees(np.sqrt(np.mean(d[:, mask] ** 2)))
    mask[[j for j, b in enumerate(chain.joints) if b.joint in ("lumbar", "thorax")]] = False
    legs = np.degrees(np.sqrt(np.mean(d[:, mask] ** 2)))
    rel = np.einsum("nji,njk->nik", truth.rotation, pose.rotation)
    cos = np.clip((np.trace(rel, axis1=1, axis2=2) - 1.0) / 2.0, -1.0, 1.0)
    root = np.degrees(np.sqrt(np.mean(np.arccos(cos) ** 2)))
    return rms, float(ang), float(legs), float(root)


# --------------------------------------------------------------------------- chainlab


def run_chainlab(chain, y, truth, repeat) -> Row:
    ik.solve(chain, y[:50])  # warm-up: numba compiles (or loads its cache) here, untimed
    times, res = [], None  # res.pose is kept for like-for-like metrics on the baselines' frames
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = ik.solve(chain, y)
        times.append(time.perf_counter() - t0)
    m = metrics(chain, res.pose, truth, y)
    note = (f"best of {repeat}: {', '.join(f'{t:.4f}' for t in times)} s; "
            f"iterations mean {res.iterations.mean():.2f}, converged {res.converged.mean():.4f}")
    return Row("chainlab ik.solve (numba LM)", len(y), min(times), *m, note), res.pose


# --------------------------------------------------------------------------- scipy


class FrameProblem:
    """One frame's least squares: p = [root rotation vector (relative), root origin, free angles]."""

    def __init__(self, chain: Chain, y: np.ndarray, start: Pose):
        self.chain, self.y = chain, y.ravel()
        self.sw = np.repeat(np.sqrt(chain.weights), 3)
        self.mask = free_mask(chain)
        self.r0 = start.rotation[0]
        self.q0 = start.q[0]
        self.p0 = np.concatenate([np.zeros(3), start.origin[0], start.q[0][self.mask]])

    def poses(self, p: np.ndarray) -> Pose:  # p: (k, P)
        q = np.broadcast_to(self.q0, (len(p),) + self.q0.shape).copy()
        q[:, self.mask] = p[:, 6:]
        return Pose(p[:, 3:6].copy(), rodrigues(p[:, :3]) @ self.r0, q)

    def residual(self, p):
        return (forward(self.chain, self.poses(p[None]))[2].reshape(-1) - self.y) * self.sw

    def jacobian(self, p):  # forward differences, every column in one vectorised call
        h = 1e-7
        ps = np.repeat(p[None], len(p) + 1, axis=0)
        ps[1:] += h * np.eye(len(p))
        x = forward(self.chain, self.poses(ps))[2].reshape(len(ps), -1)
        return ((x[1:] - x[0]) / h).T * self.sw[:, None]


def run_scipy(chain, y, truth, frames) -> Row:
    y = y[:frames]
    w = np.broadcast_to(chain.weights, y.shape[:2])
    prev = ik.initial_pose(chain, y[:1], w[:1])
    out = Pose(np.empty((frames, 3)), np.empty((frames, 3, 3)), np.empty((frames,) + truth.q.shape[1:]))
    nfev = 0
    t0 = time.perf_counter()
    for f in range(frames):
        prob = FrameProblem(chain, y[f], prev)
        sol = least_squares(prob.residual, prob.p0, jac=prob.jacobian, method="lm")
        nfev += sol.nfev
        prev = prob.poses(sol.x[None])
        out.origin[f], out.rotation[f], out.q[f] = prev.origin[0], prev.rotation[0], prev.q[0]
    seconds = time.perf_counter() - t0
    m = metrics(chain, out, truth.take(slice(0, frames)), y)
    return Row("scipy least_squares per frame (lm, FD Jacobian)", frames, seconds, *m,
               f"first {frames} frames; residual evaluations mean {nfev / frames:.1f}/frame")


def null_space(chain: Chain, truth: Pose, y: np.ndarray) -> str:
    """The weighted marker Jacobian's smallest singular values at the truth, frame 0.

    A (near) zero one is a combination of coordinates the markers do not see: solvers may
    then differ in those coordinates at equal marker residual.
    """
    prob = FrameProblem(chain, y[0], truth.take(slice(0, 1)))
    _, s, vt = np.linalg.svd(prob.jacobian(prob.p0))
    names = ["root_wx", "root_wy", "root_wz", "root_tx", "root_ty", "root_tz"]
    names += [n for n, free in zip(chain.coordinate_names()[6:], free_mask(chain).ravel()) if free]
    v = vt[-1]
    top = np.argsort(-np.abs(v))[:4]
    return (f"singular values of the marker Jacobian at the true pose (frame 0, {len(s)} coordinates): "
            f"largest {s[0]:.3g}, smallest three {', '.join(f'{x:.3g}' for x in s[-3:])}; the smallest's "
            f"direction is mostly {', '.join(f'{names[i]} {v[i]:+.2f}' for i in top)}")


# --------------------------------------------------------------------------- biorbd


def biomod_segments(chain: Chain):
    """The chain as bioMod segments: (name, parent, R, t, rotations, markers' body, body index).

    A joint's locked Cardan angles (if any) become constant rotations in the RT of the next
    segment, so a joint may take several segments; the markers sit on the last one.
    """
    segs, last = [], {}
    for i, b in enumerate(chain.bodies):
        if b.parent < 0:
            segs.append((b.name, None, np.eye(3), np.zeros(3), "yxz", i))
            last[i] = b.name
            continue
        parent = last[b.parent]
        r, t, axes, part = b.pre.copy(), b.offset.copy(), "", 0
        for k, ax in enumerate("yxz"):
            if k in b.free:
                axes += ax
                continue
            if axes:
                segs.append((f"{b.name}_{part}", parent, r, t, axes, None))
                parent, r, t, axes, part = f"{b.name}_{part}", np.eye(3), np.zeros(3), "", part + 1
            r = r @ rotation(ax, b.rest[k])
        segs.append((b.name, parent, r, t, axes, i))
        last[i] = b.name
    return segs


def write_biomod(chain: Chain, path: Path) -> None:
    lines = ["version 4", ""]
    for name, parent, r, t, axes, _ in biomod_segments(chain):
        lines.append(f"segment {name}")
        if parent is None:
            lines += ["    translations xyz", f"    rotations {axes}"]
        else:
            m = np.eye(4)
            m[:3, :3], m[:3, 3] = r, t
            lines += [f"    parent {parent}", "    rtinmatrix 1", "    RT"]
            lines += ["        " + " ".join(f"{v:.17g}" for v in row) for row in m]
            if axes:
                lines.append(f"    rotations {axes}")
        lines += ["endsegment", ""]
    for b in chain.bodies:
        for m, p in zip(b.markers, b.local):
            lines += [f"marker {m}", f"    parent {b.name}", "    position " + " ".join(f"{v:.17g}" for v in p),
                      "    technical 1", "endmarker"]
    path.write_text("\n".join(lines) + "\n")


def to_biorbd_q(chain: Chain, pose: Pose) -> np.ndarray:
    """(nq, n): root translation, root YXZ angles, then each joint's free angles."""
    cols = [pose.origin, cardan(pose.rotation, "yxz")]
    cols += [pose.q[:, j - 1, list(b.free)] for j, b in enumerate(chain.joints, start=1)]
    return np.concatenate(cols, axis=1).T


def from_biorbd_q(chain: Chain, q: np.ndarray) -> Pose:
    q = q.T
    out = np.broadcast_to(np.stack([b.rest for b in chain.joints]), (len(q), len(chain.joints), 3)).copy()
    k = 6
    for j, b in enumerate(chain.joints):
        out[:, j, list(b.free)] = q[:, k:k + len(b.free)]
        k += len(b.free)
    return Pose(q[:, :3].copy(), yxz(q[:, 3:6]), out)


def biorbd_markers(model, q: np.ndarray) -> np.ndarray:
    """(n, M, 3) markers of biorbd's model for q (nq, n)."""
    return np.stack([np.stack([m.to_array() for m in model.markers(qi)]) for qi in q.T])


def run_biorbd(biorbd, chain, y, truth, frames, method, model) -> Row:
    yb = np.ascontiguousarray(y[:frames].transpose(2, 1, 0))  # (3, M, n)
    solver = biorbd.InverseKinematics(model, yb)
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # it prints "Frame f/n" every 100 frames
        q = solver.solve(method)
    seconds = time.perf_counter() - t0
    pose = from_biorbd_q(chain, q)
    m = metrics(chain, pose, truth.take(slice(0, frames)), y[:frames])
    nfev = np.mean([s.nfev for s in solver.list_sol])
    return Row(f'biorbd InverseKinematics .solve("{method}")', frames, seconds, *m,
               f"first {frames} frames; residual evaluations mean {nfev:.1f}/frame")


# --------------------------------------------------------------------------- report


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions() -> str:
    out = [f"python {platform.python_version()}", f"numpy {np.__version__}", f"scipy {scipy.__version__}"]
    for pkg in ("numba", "biorbd"):
        try:
            out.append(f"{pkg} {version(pkg)}")
        except Exception:  # noqa: BLE001
            out.append(f"{pkg} not installed")
    return ", ".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=20_000,
                    help="length of the synthetic trial chainlab fits (default 20000)")
    ap.add_argument("--noise-mm", type=float, default=1.0,
                    help="Gaussian marker noise, standard deviation per axis in mm (default 1)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the noise (default 0)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of chainlab; the best is reported")
    ap.add_argument("--scipy-frames", type=int, default=500,
                    help="frames fitted by the per-frame scipy baseline (the first ones; 0 skips it)")
    ap.add_argument("--biorbd-frames", type=int, default=1000,
                    help="frames fitted by biorbd (the first ones; 0 skips it)")
    ap.add_argument("--biorbd-methods", default="lm,trf",
                    help='biorbd solve methods, comma separated; the first is the speed-up reference '
                         '(default "lm,trf"; biorbd also has "only_lm")')
    ap.add_argument("--slides", choices=("none", "default"), default="none",
                    help="thigh and shank slides: none (rigid; default, like-for-like with scipy and biorbd) "
                         "or chainlab's default (times chainlab alone)")
    ap.add_argument("--weights", choices=("unit", "default"), default="unit",
                    help="marker weights of the chain: unit (the objective biorbd minimises) or "
                         "chainlab's defaults (pelvis markers 10)")
    ap.add_argument("--keep-biomod", type=Path, default=None, help="also write the .bioMod to this path")
    args = ap.parse_args()
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {0})
    warnings.simplefilter("ignore")

    chain, walk = load_chain(args.weights, args.slides)
    if args.slides != "none":
        args.scipy_frames = args.biorbd_frames = 0
    truth, y = synthetic(chain, walk, args.frames, args.noise_mm, args.seed)
    print(f"chain: {len(chain.bodies)} bodies, {6 + int(free_mask(chain).sum())} free coordinates"
          f"{f' + {sum(b.slide_bound > 0 for b in chain.bodies)} slides' if any(b.slide_bound > 0 for b in chain.bodies) else ''}"
          f", {len(chain.markers)} markers; weights {args.weights}; "
          f"truth from {WALK.name} ({len(walk)} frames) forward-backward to {args.frames} frames; "
          f"noise {args.noise_mm} mm per axis, seed {args.seed}", file=sys.stderr)

    row, chainlab_pose = run_chainlab(chain, y, truth, args.repeat)
    rows = [row]
    print(f"{rows[-1].solver}: {rows[-1].fps:,.0f} frames/s", file=sys.stderr)
    if args.scipy_frames:
        rows.append(run_scipy(chain, y, truth, min(args.scipy_frames, len(y))))
        print(f"{rows[-1].solver}: {rows[-1].fps:,.1f} frames/s", file=sys.stderr)

    biorbd_status, equivalence, ref = "", "", None
    methods = [m for m in args.biorbd_methods.split(",") if m]
    if args.biorbd_frames and methods:
        try:
            import biorbd
        except ImportError as exc:
            biorbd_status = f"not installable: {exc}"
        else:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "chain.bioMod"
                write_biomod(chain, path)
                if args.keep_biomod:
                    args.keep_biomod.write_text(path.read_text())
                model = biorbd.Model(str(path))
            check = np.linspace(0, len(y) - 1, 5).astype(int)
            qb = to_biorbd_q(chain, truth.take(check))
            err = np.abs(biorbd_markers(model, qb) - forward(chain, truth.take(check))[2]).max()
            equivalence = (f"biorbd model ({model.nbQ()} q, {model.nbMarkers()} markers) vs chainlab forward "
                           f"for the true coordinates of frames {check.tolist()}: max |difference| "
                           f"{err:.3g} m")
            print(equivalence, file=sys.stderr)
            if err > 1e-9:
                biorbd_status = f"not run: model not equivalent ({err:.3g} m)"
            else:
                for method in methods:
                    rows.append(run_biorbd(biorbd, chain, y, truth, min(args.biorbd_frames, len(y)), method, model))
                    print(f"{rows[-1].solver}: {rows[-1].fps:,.1f} frames/s", file=sys.stderr)
                    ref = ref or rows[-1]

    cmd = "python bench/ik_speed.py " + " ".join(sys.argv[1:])
    print(f"## Global inverse kinematics speed (bench/ik_speed.py), {datetime.date.today().isoformat()}\n")
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores (pinned to CPU {sorted(os.sched_getaffinity(0))}), "
          f"{platform.system()} {platform.machine()}; {versions()}; OMP/MKL/OPENBLAS/NUMBA threads = 1")
    print(f"command: {cmd.strip()}\n")
    print(f"data: chain of HC030A01 ({len(chain.markers)} markers, {6 + int(free_mask(chain).sum())} coordinates"
          f"{f' + {sum(b.slide_bound > 0 for b in chain.bodies)} slides' if any(b.slide_bound > 0 for b in chain.bodies) else ''}, "
          f"{args.weights} marker weights); truth = ik.solve on HC030A05 played forward-backward to "
          f"{args.frames} frames; markers = forward(truth) + N(0, {args.noise_mm} mm) per axis, seed {args.seed}. "
          f"chainlab timed after an untimed warm-up call (numba compile excluded).\n")
    print("| solver | frames | s | frames/s | marker RMS median mm | marker RMS max mm | angle error RMS deg "
          "(all joints) | angle error RMS deg (without lumbar, thorax) | root orientation error RMS deg "
          "| speed-up vs biorbd |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        speed = f"{np.floor(10 * r.fps / ref.fps) / 10:.1f}x" if ref else "n/a"
        print(f"| {r.solver} | {r.frames} | {r.seconds:.4f} | {np.floor(r.fps):,.0f} | {np.median(r.rms_mm):.3f} | "
              f"{r.rms_mm.max():.3f} | {r.angle_deg:.3f} | {r.legs_deg:.3f} | {r.root_deg:.3f} | {speed} |")
    if biorbd_status:
        print(f"| biorbd InverseKinematics | - | - | {biorbd_status} | - | - | - | - | - | - |")
    print()
    print(f"- identifiability: {null_space(chain, truth, y)}")
    for r in rows:
        same = ""
        if r is not rows[0]:
            n = r.frames
            rms, ang, legs, root = metrics(chain, chainlab_pose.take(slice(0, n)), truth.take(slice(0, n)), y[:n])
            same = (f"; chainlab on the same {n} frames: marker RMS median {np.median(rms):.3f} mm, max "
                    f"{rms.max():.3f} mm, angle error {ang:.3f} deg (without lumbar, thorax {legs:.3f}), root "
                    f"{root:.3f} deg")
        print(f"- {r.solver}: {r.note}{same}")
    if equivalence:
        print(f"- equivalence: {equivalence}")


if __name__ == "__main__":
    main()
