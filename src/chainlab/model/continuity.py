"""Nexus' continuity of angle series: one rule, for a whole series or for it in pieces.

A Cardan decomposition has two solutions, (x, y, z) and (x + 180, 180 - y, z + 180). Vicon
Nexus keeps each angle series continuous rather than wrapping it to ±180 deg, choosing
between them frame by frame. :class:`Continuity` applies the rule to consecutive pieces of a
series (the chunked runner's chunks, the in-memory path's spans); :func:`continuous` is its
one-piece case. Plug-in Gait's outputs and the OFM's follow the "sum" norm, the OFM's TIBA
the "max" norm (:mod:`chainlab.model.pig`, :mod:`chainlab.model.ofm`).
"""

from __future__ import annotations

import numpy as np


def norm_of(output: str) -> str:
    """The norm an angle output's continuity follows: "max" for the OFM's TIBA, else "sum"."""
    return "max" if output.endswith("TIBA") else "sum"


def continuous(angles: np.ndarray, norm: str = "sum") -> np.ndarray:
    """Nexus' choice between (x, y, z) and (x + 180, 180 - y, z + 180), frame by frame.

    On the first valid frame the candidate with |y| <= 90 deg; then the candidate nearest the
    previous frame (`norm` "sum" of the wrapped component steps, as for Plug-in Gait, or
    their "max", as for the OFM's TIBA); each component unwrapped (no ±180 wrap), the first
    frame in [-180, 180]. Whether a frame switches does not depend on the branch the
    previous frame is on (both candidates move together), so the switches are a cumulative
    parity: no loop over frames. A trial in consecutive pieces gives the same values through
    :class:`Continuity` (this function is its one-piece case).
    """
    return Continuity(norm)(angles)


class Continuity:
    """:func:`continuous` over consecutive pieces of a series: call it on each piece in order.

    What carries from piece to piece is the last valid frame's raw angles, its branch
    (parity), its chosen value and the unwrapping correction so far, and the first valid
    frame's 360-degree offset: the pieces give exactly the values of the whole.
    """

    _ALT = (np.array([180.0, 180.0, 180.0]), np.array([1.0, -1.0, 1.0]))

    def __init__(self, norm: str = "sum"):
        if norm not in ("sum", "max"):
            raise ValueError(f"norm must be 'sum' or 'max'; found {norm!r}")
        self.norm = norm
        self.last = None  # (raw angles, parity, chosen before unwrapping, unwrap correction) of the last valid frame
        self.offset = None  # 360 * round(first valid chosen / 360)

    def __call__(self, angles: np.ndarray) -> np.ndarray:
        reduce = np.sum if self.norm == "sum" else np.max
        # the candidates lie >= 360 (sum) or >= 180 (max) apart, so no switch is possible
        # unless a step exceeds half of that (then the full rule below gives the same answer)
        no_switch_below = 180.0 if self.norm == "sum" else 90.0
        ok = np.all(np.isfinite(angles), axis=1)
        every = bool(ok.all())
        q = angles if every else angles[ok]
        if q.shape[0] == 0:
            return np.full_like(angles, np.nan)

        def wrap(a):
            return a - 360.0 * np.round(a / 360.0)

        def place(chosen):
            if every:
                return chosen
            out = np.full_like(angles, np.nan)
            out[ok] = chosen
            return out

        shift, scale = self._ALT
        first = self.last is None
        qq = q if first else np.concatenate([self.last[0][None], q])
        parity0 = (1 if abs(wrap(q[0, 1])) > 90.0 else 0) if first else self.last[1]
        steps = reduce(np.abs(np.diff(qq, axis=0)), axis=1)
        carried = np.zeros((1, 3)) if first else self.last[3][None]
        if steps.size == 0 or steps.max() <= no_switch_below:
            parity = np.full(len(qq), parity0)
            chosen = qq * scale + shift if parity0 else qq
            correction = np.broadcast_to(carried, qq.shape)  # every unwrapping step is 0 here
            unwrapped = chosen + correction
        else:
            alt = qq * scale + shift
            stay = reduce(np.abs(wrap(qq[1:] - qq[:-1])), axis=1)
            flip = reduce(np.abs(wrap(alt[1:] - qq[:-1])), axis=1)
            parity = (parity0 + np.concatenate([[0], np.cumsum(flip < stay)])) % 2
            chosen = np.where(parity[:, None] == 1, alt, qq)
            # np.unwrap(chosen, period=360, axis=0), its correction carried from piece to piece
            dd = np.diff(chosen, axis=0)
            ddmod = np.mod(dd + 180.0, 360.0) - 180.0
            np.copyto(ddmod, 180.0, where=(ddmod == -180.0) & (dd > 0))
            step = ddmod - dd
            np.copyto(step, 0.0, where=np.abs(dd) < 180.0)
            correction = np.cumsum(np.concatenate([carried, step]), axis=0)
            unwrapped = chosen + correction
        if first:
            self.offset = 360.0 * np.round(unwrapped[:1] / 360.0)
        self.last = (qq[-1].copy(), int(parity[-1]), chosen[-1].copy(), np.array(correction[-1], dtype=float))
        result = unwrapped - self.offset
        return place(result if first else result[1:])


__all__ = ["Continuity", "continuous", "norm_of"]
