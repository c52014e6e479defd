"""Rebuild a missing marker of a rigid cluster from the others, calibrated on the static trial.

Vicon's BodyLanguage REPLACE4 rebuilds a marker of a 4-marker cluster from the other three;
Nexus does so for the Oxford Foot Model's clusters even when a marker was never labelled in
the walk, using the cluster's shape from the subject's static trial. This module does the same
for any rigid set of markers (:data:`CLUSTERS`): the static trial gives each marker's mean
position; on every frame of the walk where a marker is missing (for the whole trial, or in a
gap) and at least three others of its cluster are measured, the static shape of those others
is fitted to them by the least-squares rigid transform (Kabsch 1976, by SVD), and the missing
marker is placed where that transform puts its static position.

:func:`rebuild_markers` returns the trial with the rebuilt markers filled in and, per marker,
how many frames were rebuilt from which markers and how well the others fitted (the RMS of
the fit: a rigid cluster fits to skin movement, a few mm; a mislabelled marker to centimetres,
and those frames are left missing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from chainlab.errors import ModelInputError
from chainlab.model.marker_arrays import marker_arrays

#: Rigid marker sets, per side where the names take L/R (None: central). The OFM's three
#: clusters (ofm.CLUSTERS) with the Plug-in Gait tibia wand on the shank; the pelvis; the thorax.
CLUSTERS: dict[str, tuple[tuple[str, ...], bool]] = {
    "tibia": (("ANK", "HFB", "TUB", "SHN", "TIB"), True),
    "hindfoot": (("HEE", "LCA", "STL", "CPG"), True),
    "forefoot": (("P1M", "D5M", "TOE", "P5M"), True),
    "pelvis": (("LASI", "RASI", "LPSI", "RPSI"), False),  # SACR: the kinematics take mid(LPSI, RPSI)
    "thorax": (("C7", "T10", "CLAV", "STRN"), False),
}
#: A frame's rebuild is kept only when the measured markers fit the static shape within this
#: RMS (m). Skin moves the OFM's TUB 6-15 mm against the rest of the shank in walking
#: (docs/kinematics.md) and the pelvis markers a few mm; 15 mm admits that and rejects a marker
#: placed on another segment or mislabelled (its misfit is several centimetres).
MAX_FIT_RMS_M = 0.015
MIN_MARKERS = 3  # a rigid transform needs three non-collinear points


@dataclass
class Rebuilt:
    """How one marker was rebuilt."""

    marker: str
    cluster: str
    frames: int  # frames filled
    from_markers: list[str] = field(default_factory=list)  # markers used on some frame
    fit_rms_median_m: float = float("nan")  # median RMS of the rigid fit over the filled frames
    frames_left_missing: int = 0  # missing, but fewer than 3 others or a misfit

    def text(self) -> str:
        return (f"{self.marker}: {self.frames} frame(s) rebuilt from {', '.join(self.from_markers)} "
                f"({self.cluster} cluster; fit RMS median {self.fit_rms_median_m * 1000:.1f} mm)"
                + (f", {self.frames_left_missing} left missing" if self.frames_left_missing else ""))


def cluster_sets(names: Sequence[str], clusters: Mapping = CLUSTERS) -> dict[str, list[str]]:
    """The clusters as concrete marker names (``tibia`` -> ``L.tibia``, ``R.tibia``)."""
    out = {}
    for cname, (members, sided) in clusters.items():
        for side in (("L", "R") if sided else ("",)):
            out[f"{side}.{cname}" if side else cname] = [f"{side}{m}" for m in members]
    return out


def static_shape(static: xr.Dataset, markers: Sequence[str]) -> dict[str, np.ndarray]:
    """Mean lab position (m) of each of `markers` in the static trial, over the frames where
    all of those present are measured (the subject stands still)."""
    mk = marker_arrays(static.markers.transpose("frame", "marker", "axis"), markers)
    present = [m for m in markers if m in mk]
    if not present:
        return {}
    xyz = np.stack([mk[m] for m in present], axis=1)  # (frame, marker, axis)
    ok = np.isfinite(xyz[..., 0])
    have = ok.any(axis=0)
    cols = np.flatnonzero(have)
    all_ok = ok[:, cols].all(axis=1)
    rows = all_ok if all_ok.any() else slice(None)
    mean = np.nanmean(xyz[rows][:, cols], axis=0)
    return {present[c]: mean[i] for i, c in enumerate(cols)}


def kabsch(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rigid transforms moving `source` (k, 3) onto `target` (n, k, 3) in the least-squares
    sense: rotations (n, 3, 3), translations (n, 3) with target ≈ R @ source + t, and the RMS
    residual (n,) (m)."""
    ps = source.mean(axis=0)
    qs = target.mean(axis=1)
    p = source - ps
    q = target - qs[:, None, :]
    h = np.einsum("ki,nkj->nij", p, q)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.einsum("nji,nkj->nik", vt, u)))
    fix = np.ones((len(d), 3))
    fix[:, 2] = d
    r = np.einsum("nji,nj,nkj->nik", vt, fix, u)  # V diag(1, 1, d) U^T
    t = qs - np.einsum("nij,j->ni", r, ps)
    fitted = np.einsum("nij,kj->nki", r, source) + t[:, None, :]
    rms = np.sqrt(np.mean(np.sum((fitted - target) ** 2, axis=-1), axis=-1))
    return r, t, rms


def rebuild_markers(dynamic: xr.Dataset, static: xr.Dataset, *, clusters: Mapping = CLUSTERS,
                    max_fit_rms: float = MAX_FIT_RMS_M, only: Sequence[str] | None = None,
                    gaps: bool = False) -> tuple[xr.Dataset, dict[str, Rebuilt]]:
    """`dynamic` with its cluster markers that were never measured rebuilt (and, with `gaps`,
    the gaps of the others filled), and what was done.

    A marker of a cluster is rebuilt when the static trial has it and (on that frame) at least
    three other markers of the cluster that the static has too. Markers absent from the trial
    are added. By default only markers absent (or invalid) in every frame are rebuilt: the OFM
    fills gaps itself from the trial's own cluster shape as Nexus does (ofm.replace4), which a
    static-shape fill would change. `only` limits the rebuild to those marker names. The
    returned Dataset's ``rebuilt_markers`` attribute lists each rebuilt marker
    (:meth:`Rebuilt.text`).

    Raises
    ------
    ModelInputError
        A marker named in `only` belongs to no cluster, or the static trial lacks it.
    """
    names = [str(m) for m in dynamic.marker.values]
    sets = cluster_sets(names, clusters)
    if only is not None:
        known = {m for ms in sets.values() for m in ms}
        unknown = [m for m in only if m not in known]
        if unknown:
            raise ModelInputError(f"{dynamic.attrs.get('source_file', '')}: {', '.join(unknown)} belong(s) to no "
                                  f"rigid cluster (known: {', '.join(sorted(known))})")
    xyz = dynamic.markers.transpose("frame", "marker", "axis").values
    n = xyz.shape[0]
    index = {m: i for i, m in enumerate(names)}
    added: dict[str, np.ndarray] = {}
    report: dict[str, Rebuilt] = {}
    for cname, members in sets.items():
        shape = static_shape(static, members)
        lacking = [m for m in members if only is not None and m in only and m not in shape]
        if lacking:
            raise ModelInputError(f"{dynamic.attrs.get('source_file', '')}: {', '.join(lacking)} cannot be rebuilt: "
                                  f"the static trial {static.attrs.get('source_file', '')} lacks it")
        targets = [m for m in members if m in shape and (only is None or m in only)]
        for target in targets:
            cur = xyz[:, index[target]] if target in index else np.full((n, 3), np.nan)
            missing = ~np.isfinite(cur).all(axis=1)
            if not missing.any() or (not gaps and not missing.all()):
                continue
            others = [m for m in members if m != target and m in shape and m in index]
            if len(others) < MIN_MARKERS:
                if target not in index and only is not None:
                    raise ModelInputError(f"{dynamic.attrs.get('source_file', '')}: {target} cannot be rebuilt: "
                                          f"fewer than {MIN_MARKERS} other markers of the {cname} cluster "
                                          f"measured ({', '.join(others) or 'none'})")
                continue
            meas = np.stack([xyz[:, index[m]] for m in others], axis=1)  # (n, k, 3)
            valid = np.isfinite(meas).all(axis=2)  # (n, k)
            filled = cur.copy()
            rms_all = np.full(n, np.nan)
            used: set[str] = set()
            for pattern in np.unique(valid[missing], axis=0):
                if pattern.sum() < MIN_MARKERS:
                    continue
                rows = np.flatnonzero(missing & (valid == pattern).all(axis=1))
                cols = np.flatnonzero(pattern)
                src = np.stack([shape[others[c]] for c in cols])
                r, t, rms = kabsch(src, meas[np.ix_(rows, cols)])
                good = rms <= max_fit_rms
                filled[rows[good]] = np.einsum("nij,j->ni", r[good], shape[target]) + t[good]
                rms_all[rows[good]] = rms[good]
                if good.any():
                    used |= {others[c] for c in cols}
            done = missing & np.isfinite(filled).all(axis=1)
            if not done.any():
                continue
            if target in index:
                xyz[:, index[target]] = filled
            else:
                added[target] = filled
            report[target] = Rebuilt(target, cname, int(done.sum()), [m for m in others if m in used],
                                     float(np.nanmedian(rms_all[done])), int(missing.sum() - done.sum()))
    out = dynamic.reindex(marker=names + list(added)) if added else dynamic.copy()
    if "marker_modeled" in out.coords and added:  # rebuilt markers are measured ones, not model outputs
        out = out.assign_coords(marker_modeled=out.marker_modeled.fillna(False).astype(bool))
    values = np.concatenate([xyz, np.stack(list(added.values()), axis=1)], axis=1) if added else xyz
    out["markers"] = out.markers.transpose("frame", "marker", "axis").copy(data=values)
    out.attrs = {**dynamic.attrs, "rebuilt_markers": [r.text() for r in report.values()]}
    return out, report


__all__ = ["CLUSTERS", "MAX_FIT_RMS_M", "Rebuilt", "cluster_sets", "kabsch", "rebuild_markers", "static_shape"]
