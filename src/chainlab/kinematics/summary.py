"""What the direct models need of the whole trial, gathered piece by piece.

:func:`summarise` reads some consecutive frames of a trial into a :class:`TrialSummary`;
:meth:`TrialSummary.then` joins the summaries of consecutive pieces, so that the chunked
runner and the in-memory path see the same trial-wide quantities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from chainlab.model import ofm, pig
from chainlab.model._spans import spans

PAIRS = (("LASI", "RASI"), ("LKNE", "LANK"), ("RKNE", "RANK"))  # distances of the same-subject check


@dataclass
class TrialSummary:
    """What the models need of the whole trial, gathered piece by piece (:func:`summarise`,
    :meth:`then`): the direct models' trial-wide quantities and the output's attributes.

    Everything is small except `distances` (one float per frame and pair, for the medians of
    the same-subject check) and, for the global solver, `rms` (one per frame).
    """

    n_frames: int
    first_frame: int  # frame number of trial index 0
    names: list[str]  # markers of the trial (with SACR when made from LPSI/RPSI)
    any_valid: dict[str, bool]
    gap_runs: dict[str, list[list[int]]]  # invalid runs [start, stop) of trial indices
    pelvis_rows: dict[str, np.ndarray]  # LASI, RASI, SACR at the first and last frames with mid-ASIS and SACR
    cluster_sums: dict[str, list[list[np.ndarray]]]  # side -> per OFM cluster, (4, 4) sums per span
    facing: dict[bool, tuple[list[int], float | None]]  # travel_x -> (switch indices, last valid facing)
    distances: dict[tuple[str, str], list[np.ndarray]]
    rms: list[np.ndarray] = field(default_factory=list)  # global solver: per-frame marker RMS
    measured_gap_runs: dict[str, list[list[int]]] = field(default_factory=dict)  # global: of the measured markers
    flip_runs: dict[str, list[list[int]]] = field(default_factory=dict)  # global: frames left on another branch
    first_facing: dict[bool, tuple[int, float] | None] = field(default_factory=lambda: {False: None, True: None})

    def then(self, nxt: "TrialSummary") -> "TrialSummary":
        """This summary followed by the next piece's."""
        def runs(a, b):
            out = {k: [list(r) for r in v] for k, v in a.items()}
            for k, v in b.items():
                cur = out.setdefault(k, [])
                for r in v:
                    if cur and cur[-1][1] == r[0]:
                        cur[-1][1] = r[1]
                    else:
                        cur.append(list(r))
            return out

        rows = {}
        for k in set(self.pelvis_rows) | set(nxt.pelvis_rows):
            a, b = self.pelvis_rows.get(k), nxt.pelvis_rows.get(k)
            rows[k] = a if b is None else b if a is None else np.stack([a[0], b[-1]])
        facing = {}
        for tx in (False, True):
            (sa, la), (sb, lb) = self.facing[tx], nxt.facing[tx]
            extra = list(sb)
            if la is not None and lb is not None and nxt.first_facing[tx] is not None \
                    and nxt.first_facing[tx][1] != la:
                extra = [nxt.first_facing[tx][0]] + extra
            facing[tx] = (list(sa) + extra, lb if lb is not None else la)
        out = TrialSummary(
            n_frames=self.n_frames + nxt.n_frames,
            first_frame=self.first_frame,
            names=self.names,
            any_valid={k: self.any_valid.get(k, False) or nxt.any_valid.get(k, False)
                       for k in dict.fromkeys(self.names + nxt.names)},
            gap_runs=runs(self.gap_runs, nxt.gap_runs),
            pelvis_rows=rows,
            cluster_sums={s: [a + b for a, b in zip(self.cluster_sums[s], nxt.cluster_sums[s])]
                          for s in self.cluster_sums if s in nxt.cluster_sums},
            facing=facing,
            distances={k: self.distances.get(k, []) + nxt.distances.get(k, []) for k in self.distances},
            rms=self.rms + nxt.rms,
            measured_gap_runs=runs(self.measured_gap_runs, nxt.measured_gap_runs),
            flip_runs=runs(self.flip_runs, nxt.flip_runs),
            first_facing={tx: self.first_facing[tx] if self.first_facing[tx] is not None else nxt.first_facing[tx]
                          for tx in (False, True)},
        )
        return out


def invalid_runs(invalid: np.ndarray, start: int) -> list[list[int]]:
    """Runs [a, b) of consecutive True in `invalid`, as trial indices (index 0 is `start`)."""
    bad = np.flatnonzero(invalid)
    if bad.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(bad) > 1)
    a = np.concatenate([[bad[0]], bad[breaks + 1]])
    b = np.concatenate([bad[breaks], [bad[-1]]]) + 1
    return [[int(x) + start, int(y) + start] for x, y in zip(a, b)]


def summarise(ds: xr.Dataset, start: int = 0) -> TrialSummary:
    """The :class:`TrialSummary` of the frames of `ds`, which begin at trial index `start`
    (a multiple of :data:`chainlab.model._spans.SPAN`, for the OFM cluster sums)."""
    names = [str(m) for m in ds.marker.values]
    mk = ds.markers.transpose("frame", "marker", "axis").values
    valid = np.isfinite(mk[..., 0])
    index = {m: i for i, m in enumerate(names)}
    any_valid = dict(zip(names, valid.any(axis=0).tolist()))
    gap_runs = {m: invalid_runs(~valid[:, i], start) for i, m in enumerate(names) if not valid[:, i].all()}
    rows: dict[str, np.ndarray] = {}
    first_facing = {False: None, True: None}
    facing = {False: ([], None), True: ([], None)}
    if {"LASI", "RASI", "SACR"} <= set(names):
        lasi, rasi, sacr = (mk[:, index[m]] for m in ("LASI", "RASI", "SACR"))
        o = (lasi + rasi) / 2.0
        ok = np.flatnonzero(np.all(np.isfinite(o), axis=1) & np.all(np.isfinite(sacr), axis=1))
        if ok.size:
            pick = [ok[0], ok[-1]]
            rows = {"LASI": lasi[pick], "RASI": rasi[pick], "SACR": sacr[pick]}
        for tx in (False, True):
            f = ofm.facing_sign({"LASI": lasi, "RASI": rasi, "SACR": sacr}, tx)
            v = np.flatnonzero(np.isfinite(f))
            if v.size:
                first_facing[tx] = (int(v[0]) + start, float(f[v[0]]))
                facing[tx] = ((ofm.facing_switches(f) + start).tolist(), float(f[v[-1]]))
    sums = {}
    sides = [s for s in pig.SIDES if all(f"{s}{m}" in index for c in ofm.CLUSTERS for m in c)]
    if sides:
        cols = [index[f"{s}{m}"] for s in sides for c in ofm.CLUSTERS for m in c]
        sums = {s: [[] for _ in ofm.CLUSTERS] for s in sides}
        for span in spans(len(mk)):
            # the cluster markers of one span, each (span, 3) contiguous, for the cache
            own = iter(np.ascontiguousarray(np.take(mk[span], cols, axis=1).transpose(1, 0, 2)))
            for s in sides:
                for k, c in enumerate(ofm.CLUSTERS):
                    sums[s][k] += ofm.cluster_span_sums([next(own) for _ in c], start + span.start)
    distances = {}
    for a, b in PAIRS:
        if a in index and b in index:
            distances[(a, b)] = [np.linalg.norm(mk[:, index[a]] - mk[:, index[b]], axis=-1)]
    first = int(ds.frame.values[0]) - start if ds.sizes["frame"] else 1 - start
    return TrialSummary(len(mk), first, names, any_valid, gap_runs, rows, sums, facing, distances,
                        first_facing=first_facing)


def missing_in(summary: TrialSummary, names: Sequence[str]) -> list[str]:
    """Of `names`, the markers the trial lacks or never has valid."""
    present = set(summary.names)
    return [n for n in names if n not in present] + [
        n for n in names if n in present and not summary.any_valid[n]]


def gap_text(runs: list[list[int]], first_frame: int) -> str:
    """Runs of trial indices as frame numbers: "12,20-31"."""
    return ",".join(f"{a + first_frame}" if a == b - 1 else f"{a + first_frame}-{b - 1 + first_frame}"
                    for a, b in runs)


__all__ = ["PAIRS", "TrialSummary", "gap_text", "invalid_runs", "missing_in", "summarise"]
