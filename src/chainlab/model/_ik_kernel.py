"""The per-frame Levenberg-Marquardt loop of :mod:`chainlab.model.ik`, compiled with numba.

One frame at a time, in registers and cache: forward kinematics, the composite marker
inertias, the twists of every degree of freedom, the Gauss-Newton matrix from them, a
Cholesky solve and the step. The arrays that describe the chain are prepared by
:class:`chainlab.model.ik._Layout`; the mathematics is in that module's docstring.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _yxz(a, b, c, out):
    ca, cb, cc = np.cos(a), np.cos(b), np.cos(c)
    sa, sb, sc = np.sin(a), np.sin(b), np.sin(c)
    out[0, 0] = ca * cc + sa * sb * sc
    out[0, 1] = -ca * sc + sa * sb * cc
    out[0, 2] = sa * cb
    out[1, 0] = cb * sc
    out[1, 1] = cb * cc
    out[1, 2] = -sb
    out[2, 0] = -sa * cc + ca * sb * sc
    out[2, 1] = sa * sc + ca * sb * cc
    out[2, 2] = ca * cb


@njit(cache=True)
def _forward(parent, offset, pre, sdir, origin, rot0, q, local, mbody, rot, org, jc, x, tmp, tmp2):
    """Body axes `rot`, origins `org` and joint centres `jc` (the pivot of a body's rotations:
    its origin less its slide q[., 3] along `sdir`, in its own frame), then the markers."""
    nb = parent.shape[0]
    rot[0] = rot0
    org[0] = origin
    jc[0] = origin
    for b in range(1, nb):
        p = parent[b]
        _yxz(q[b - 1, 0], q[b - 1, 1], q[b - 1, 2], tmp)
        for i in range(3):
            for j in range(3):
                s = 0.0
                for k in range(3):
                    s += pre[b, i, k] * tmp[k, j]
                tmp2[i, j] = s
        for i in range(3):
            for j in range(3):
                s = 0.0
                for k in range(3):
                    s += rot[p, i, k] * tmp2[k, j]
                rot[b, i, j] = s
            s = org[p, i]
            for k in range(3):
                s += rot[p, i, k] * offset[b, k]
            jc[b, i] = s
        sl = q[b - 1, 3]
        for i in range(3):
            s = jc[b, i]
            if sl != 0.0:
                for k in range(3):
                    s += rot[b, i, k] * sdir[b, k] * sl
            org[b, i] = s
    for m in range(local.shape[0]):
        b = mbody[m]
        for i in range(3):
            s = org[b, i]
            for k in range(3):
                s += rot[b, i, k] * local[m, k]
            x[m, i] = s


@njit(cache=True)
def _cost(x, y, w):
    c = 0.0
    for m in range(x.shape[0]):
        if w[m] > 0.0:
            for i in range(3):
                d = x[m, i] - y[m, i]
                c += w[m] * d * d
    return c


@njit(cache=True)
def _rodrigues_left(wv, r, out):
    """out = exp([wv]x) @ r."""
    th = np.sqrt(wv[0] * wv[0] + wv[1] * wv[1] + wv[2] * wv[2])
    e = np.zeros((3, 3))
    if th < 1e-14:
        for i in range(3):
            e[i, i] = 1.0
    else:
        kx, ky, kz = wv[0] / th, wv[1] / th, wv[2] / th
        s, c = np.sin(th), np.cos(th)
        v = 1.0 - c
        e[0, 0] = c + kx * kx * v
        e[0, 1] = kx * ky * v - kz * s
        e[0, 2] = kx * kz * v + ky * s
        e[1, 0] = ky * kx * v + kz * s
        e[1, 1] = c + ky * ky * v
        e[1, 2] = ky * kz * v - kx * s
        e[2, 0] = kz * kx * v - ky * s
        e[2, 1] = kz * ky * v + kx * s
        e[2, 2] = c + kz * kz * v
    for i in range(3):
        for j in range(3):
            out[i, j] = e[i, 0] * r[0, j] + e[i, 1] * r[1, j] + e[i, 2] * r[2, j]


@njit(cache=True)
def _cholesky_solve(h, g, out):
    """Solve h out = g for symmetric positive definite h (overwritten by its factor)."""
    n = h.shape[0]
    for j in range(n):
        s = h[j, j]
        for k in range(j):
            s -= h[j, k] * h[j, k]
        if s <= 0.0:
            return False
        d = np.sqrt(s)
        h[j, j] = d
        for i in range(j + 1, n):
            s = h[i, j]
            for k in range(j):
                s -= h[i, k] * h[j, k]
            h[i, j] = s / d
    for i in range(n):
        s = g[i]
        for k in range(i):
            s -= h[i, k] * out[k]
        out[i] = s / h[i, i]
    for i in range(n - 1, -1, -1):
        s = out[i]
        for k in range(i + 1, n):
            s -= h[k, i] * out[k]
        out[i] = s / h[i, i]
    return True


@njit(cache=True, fastmath={"contract", "arcp", "nsz", "reassoc", "afn"})  # no nnan/ninf: NaN marks gaps
def solve_frames(parent, offset, pre, sdir, lower, upper, local, mbody, weights,
                 dof_body, dof_joint_axis, pairs, y, origin, rot0, q, warm,
                 max_iterations, tolerance, x_out, iterations, converged):
    """Fit every frame; origin, rot0 and q (the start) are updated in place.

    Frames with `warm` set start from the previous frame's solution instead. q is (n, J, 4):
    the YXZ angles and the slide along `sdir` (axis index 3 of a degree of freedom).
    """
    n, nm = y.shape[0], y.shape[1]
    nb = parent.shape[0]
    nd = dof_body.shape[0]
    rot = np.empty((nb, 3, 3))
    org = np.empty((nb, 3))
    jc = np.empty((nb, 3))
    x = np.empty((nm, 3))
    t_rot = np.empty((nb, 3, 3))
    t_org = np.empty((nb, 3))
    t_jc = np.empty((nb, 3))
    t_x = np.empty((nm, 3))
    tmp = np.empty((3, 3))
    tmp2 = np.empty((3, 3))
    phi = np.empty((nb, 6, 6))
    f = np.empty((nb, 6))
    tw = np.empty((nd, 6))
    a = np.empty((nd, 6))
    h = np.empty((nd, nd))
    g = np.empty(nd)
    step = np.empty(nd)
    w = np.empty(nm)
    t_origin = np.empty(3)
    t_r0 = np.empty((3, 3))
    t_q = np.empty_like(q[0])
    for fr in range(n):
        if warm[fr] and fr > 0 and np.isfinite(q[fr - 1, 0, 0]):  # start from the previous frame's solution
            origin[fr] = origin[fr - 1]
            rot0[fr] = rot0[fr - 1]
            q[fr] = q[fr - 1]
        for m in range(nm):
            ok = np.isfinite(y[fr, m, 0]) and np.isfinite(y[fr, m, 1]) and np.isfinite(y[fr, m, 2])
            w[m] = weights[m] if ok else 0.0
        yf = y[fr]
        _forward(parent, offset, pre, sdir, origin[fr], rot0[fr], q[fr], local, mbody, rot, org, jc, x, tmp, tmp2)
        cost = _cost(x, yf, w)
        lam = 1e-6
        done = False
        it = 0
        while it < max_iterations and not done:
            it += 1
            # composite marker inertias and forces
            phi[:] = 0.0
            f[:] = 0.0
            for m in range(nm):
                if w[m] <= 0.0:
                    continue
                b = mbody[m]
                wm = w[m]
                x0, x1, x2 = x[m, 0], x[m, 1], x[m, 2]
                r0, r1, r2 = x0 - yf[m, 0], x1 - yf[m, 1], x2 - yf[m, 2]
                xx = x0 * x0 + x1 * x1 + x2 * x2
                phi[b, 0, 0] += wm * (xx - x0 * x0)
                phi[b, 1, 1] += wm * (xx - x1 * x1)
                phi[b, 2, 2] += wm * (xx - x2 * x2)
                phi[b, 0, 1] -= wm * x0 * x1
                phi[b, 0, 2] -= wm * x0 * x2
                phi[b, 1, 2] -= wm * x1 * x2
                # [x]x in the upper right block
                phi[b, 0, 4] -= wm * x2
                phi[b, 0, 5] += wm * x1
                phi[b, 1, 3] += wm * x2
                phi[b, 1, 5] -= wm * x0
                phi[b, 2, 3] -= wm * x1
                phi[b, 2, 4] += wm * x0
                phi[b, 3, 3] += wm
                phi[b, 4, 4] += wm
                phi[b, 5, 5] += wm
                f[b, 0] += wm * (x1 * r2 - x2 * r1)
                f[b, 1] += wm * (x2 * r0 - x0 * r2)
                f[b, 2] += wm * (x0 * r1 - x1 * r0)
                f[b, 3] += wm * r0
                f[b, 4] += wm * r1
                f[b, 5] += wm * r2
            for b in range(nb):  # symmetric completion
                phi[b, 1, 0] = phi[b, 0, 1]
                phi[b, 2, 0] = phi[b, 0, 2]
                phi[b, 2, 1] = phi[b, 1, 2]
                for i in range(3):
                    for j in range(3):
                        phi[b, 3 + j, i] = phi[b, i, 3 + j]
            for b in range(nb - 1, 0, -1):
                p = parent[b]
                for i in range(6):
                    f[p, i] += f[b, i]
                    for j in range(6):
                        phi[p, i, j] += phi[b, i, j]
            # twists of every degree of freedom
            for d in range(nd):
                b = dof_body[d]
                k = dof_joint_axis[d]
                for i in range(6):
                    tw[d, i] = 0.0
                if d < 3:  # root rotation about its origin
                    tw[d, d] = 1.0
                    e0, e1, e2 = 0.0, 0.0, 0.0
                    if d == 0:
                        e0 = 1.0
                    elif d == 1:
                        e1 = 1.0
                    else:
                        e2 = 1.0
                    o = org[0]
                    tw[d, 3] = o[1] * e2 - o[2] * e1
                    tw[d, 4] = o[2] * e0 - o[0] * e2
                    tw[d, 5] = o[0] * e1 - o[1] * e0
                    continue
                if d < 6:
                    tw[d, d] = 1.0
                    continue
                if k == 3:  # slide along sdir in the body's frame: a pure translation
                    for i in range(3):
                        tw[d, 3 + i] = rot[b, i, 0] * sdir[b, 0] + rot[b, i, 1] * sdir[b, 1] + rot[b, i, 2] * sdir[b, 2]
                    continue
                # joint axis k of the YXZ sequence, in the joint frame, then in the lab
                qa, qb = q[fr, b - 1, 0], q[fr, b - 1, 1]
                if k == 0:
                    ax0, ax1, ax2 = 0.0, 1.0, 0.0
                elif k == 1:
                    ax0, ax1, ax2 = np.cos(qa), 0.0, -np.sin(qa)
                else:
                    ax0, ax1, ax2 = np.sin(qa) * np.cos(qb), -np.sin(qb), np.cos(qa) * np.cos(qb)
                p = parent[b]
                for i in range(3):
                    s = 0.0
                    for l in range(3):
                        u = pre[b, l, 0] * ax0 + pre[b, l, 1] * ax1 + pre[b, l, 2] * ax2
                        s += rot[p, i, l] * u
                    tw[d, i] = s
                c0, c1, c2 = jc[b, 0], jc[b, 1], jc[b, 2]
                tw[d, 3] = c1 * tw[d, 2] - c2 * tw[d, 1]
                tw[d, 4] = c2 * tw[d, 0] - c0 * tw[d, 2]
                tw[d, 5] = c0 * tw[d, 1] - c1 * tw[d, 0]
            for d in range(nd):
                b = dof_body[d]
                s = 0.0
                for i in range(6):
                    v = 0.0
                    for j in range(6):
                        v += phi[b, i, j] * tw[d, j]
                    a[d, i] = v
                    s += tw[d, i] * f[b, i]
                g[d] = -s
            h[:] = 0.0
            for pr in range(pairs.shape[0]):  # related pairs, body(i) at or above body(j)
                i, j = pairs[pr, 0], pairs[pr, 1]
                v = 0.0
                for k in range(6):
                    v += tw[i, k] * a[j, k]
                h[i, j] = v
                h[j, i] = v
            for d in range(6, nd):  # a coordinate held at a bound it is pushed against stays there
                b = dof_body[d]
                k = dof_joint_axis[d]
                v = q[fr, b - 1, k]
                if (v >= upper[b, k] and g[d] > 0.0) or (v <= lower[b, k] and g[d] < 0.0):
                    for i in range(nd):
                        h[d, i] = 0.0
                        h[i, d] = 0.0
                    h[d, d] = 1.0
                    g[d] = 0.0
            for i in range(nd):
                h[i, i] += lam * (h[i, i] + 1e-9) + 1e-12
            if not _cholesky_solve(h, g, step):
                lam *= 10.0
                if lam > 1e8:
                    done = True
                continue
            # trial state
            _rodrigues_left(step[0:3], rot0[fr], t_r0)
            for i in range(3):
                t_origin[i] = origin[fr, i] + step[3 + i]
            t_q[:] = q[fr]
            biggest = 0.0
            for d in range(nd):
                if abs(step[d]) > biggest:
                    biggest = abs(step[d])
                if d >= 6:
                    b = dof_body[d]
                    k = dof_joint_axis[d]
                    t_q[b - 1, k] += step[d]
            for b in range(1, nb):
                for k in range(4):
                    if t_q[b - 1, k] < lower[b, k]:
                        t_q[b - 1, k] = lower[b, k]
                    elif t_q[b - 1, k] > upper[b, k]:
                        t_q[b - 1, k] = upper[b, k]
            _forward(parent, offset, pre, sdir, t_origin, t_r0, t_q, local, mbody, t_rot, t_org, t_jc, t_x, tmp, tmp2)
            t_cost = _cost(t_x, yf, w)
            if t_cost <= cost:
                gain = cost - t_cost
                origin[fr] = t_origin
                rot0[fr] = t_r0
                q[fr] = t_q
                rot[:] = t_rot
                org[:] = t_org
                jc[:] = t_jc
                x[:] = t_x
                cost = t_cost
                lam = max(lam / 10.0, 1e-9)
                if biggest < tolerance or gain <= 1e-9 * t_cost:
                    done = True
            else:
                lam *= 10.0
                if biggest < tolerance or lam > 1e8:
                    done = True
        x_out[fr] = x
        iterations[fr] = it
        converged[fr] = done
