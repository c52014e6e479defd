"""Oxford Foot Model (Carson 2001, Stebbins 2006) as Vicon Nexus 2.2.3 computes it.

Tibia, hindfoot, forefoot and hallux segments from the OFM markers; outputs ``?HFTBA``
(hindfoot in tibia: its y component is rearfoot inversion(+)/eversion(-), the pronation
measure of chainlab), ``?FFHFA``, ``?FFTBA``, ``?HXFFA`` and ``?TIBA`` (tibia in the lab).
The definitions were recovered from openOFM (whose version 1.0 follows Nexus) and checked
against the virtual points and angles Nexus stores in the biomechzoo trials
(``docs/kinematics.md`` gives the agreement and what does not match). Lengths in metres;
the calibration values arrive in Nexus' units (mm, segment frames) and are converted here.

* Cluster smoothing (BodyLanguage REPLACE4): in each 4-marker cluster (ANK HFB TUB SHN;
  HEE LCA STL CPG; P1M D5M TOE P5M) every marker is rebuilt from the other three with its
  trial-mean position in their frame and averaged with the measured one (or replaces it in
  a gap). This is one run of Nexus' model: where Nexus ran it on a file more than once,
  the heel it stores (?HE1) was smoothed once per run (docs/kinematics.md, "Foot posture").
* Calibration (static trial): MMA in (ANK; HFB - ANK, SHN - mid(ANK, HFB)); PCA and the
  hindfoot plantar point in (HEE; HEE - mid(STL, LCA), STL - LCA); D1M0 and D5M0 in
  (P1M; P1M - D5M, TOE - P5M), all as trial means of local positions. The plantar point is
  P5M projected on the plane (HEE, PCA, mid(STL, LCA)) at HEE's height.
* Tibia: origin mid(ANK, MMA); orientation of the Plug-in Gait tibia, Z = KJC - AJC(PiG),
  X from (ANK - AJC(PiG)) × Z (left; mirrored right). Lab tibia (TIBA only): Z from the ankle
  centre to TUB projected on the plane (MMA, ANK, HFB), X from ±(MMA - ANK); output as the
  segment ``?LabTibia`` (the heading-frame tibial rotation of chainlab.gait.heading uses it).
* Hindfoot: origin HEE, Z towards the plantar point (anterior), Y from (PCA - HEE) × Z.
* Forefoot: D1M0, D5M0, P5M define a plane; TOE and P1M projected on it; the proximal
  forefoot point PROXFF lies on projP1M-P5M at (d - r)/(ProxFFfactor d); origin projTOE,
  Z = projTOE - PROXFF, X from ±(D1M0 - D5M0) × Z. Hallux: origin HLX, Z = HLX - D1M0.

Angles: YXZ Cardan of distal in proximal (a about y, b about x, c about z); l = +1 left,
-1 right. HFTBA, FFTBA = (90 - a, l b, -l c); FFHFA, HXFFA = (-a, l b, -l c). TIBA is the
XYZ Cardan (a, b, c) of the lab tibia in a lab reference turned 180 deg about the vertical
on frames where the pelvis faces the negative travel axis: (-a, -l b, l (90 - c)), kept
continuous by choosing, frame by frame, between it and (x + 180, 180 - y, z + 180) by the
largest component step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from chainlab.model._spans import SPAN, by_spans, spans
from chainlab.model.continuity import continuous, norm_of
from chainlab.model.geometry import cardan, cross, dot, frame, relative, to_lab, to_local, unit
from chainlab.model.pig import SIDES
from chainlab.subject_values import OFM_CALIBRATION

MM = 1e-3
CLUSTERS = (("ANK", "HFB", "TUB", "SHN"), ("HEE", "LCA", "STL", "CPG"), ("P1M", "D5M", "TOE", "P5M"))
#: Markers every trial needs, per side; MMA, PCA, D1M are needed in the static trial only
#: (dynamic trials rebuild them from the calibration) and HLX for the hallux.
DYNAMIC = tuple(m for c in CLUSTERS for m in c)
STATIC = DYNAMIC + ("MMA", "PCA", "D1M")
CALIBRATION = OFM_CALIBRATION  # the names a user may give them by (chainlab.subject_values)
OUTPUTS = tuple(f"{s}{n}" for s in SIDES for n in ("HFTBA", "FFHFA", "FFTBA", "HXFFA", "TIBA"))


@dataclass
class OfmResult:
    angles: dict[str, np.ndarray]
    segments: dict[str, tuple[np.ndarray, np.ndarray]]
    points: dict[str, np.ndarray]
    transition_frames: dict[str, np.ndarray]  # TIBA frames Nexus writes differently


def _lcs(v1: np.ndarray, v2: np.ndarray, order: str) -> np.ndarray:
    """BodyLanguage-style frame: axis order[0] along v1, order[1] along v2 × v1."""
    return frame(v1, cross(v2, v1), order[:2], orthogonal=True)


def _plane_projection(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    n = unit(cross(a - c, b - c))
    return p - np.sum((p - a) * n, axis=-1, keepdims=True) * n


_REBUILD = ((0, 2, 1, 3), (1, 3, 2, 0), (2, 0, 3, 1), (3, 1, 0, 2))  # target, origin, a, b


def _cluster_axes(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
    """Axes of the frame _lcs(a - o, o - b, "xyz") as three (n, 3) arrays."""
    x = unit(a - o)
    y = unit(cross(o - b, x))
    return x, y, cross(x, y)


def _cluster_sums(cluster: list[np.ndarray]) -> np.ndarray:
    """(4, 4) per target: sums of its local x, y, z over valid frames, and their count."""
    out = np.zeros((4, 4))
    local = np.empty((len(cluster[0]), 3))
    for row, (t, o, a, b) in enumerate(_REBUILD):
        d = cluster[t] - cluster[o]
        for k, axis in enumerate(_cluster_axes(cluster[o], cluster[a], cluster[b])):
            local[:, k] = dot(d, axis)
        ok = np.all(np.isfinite(local), axis=-1)
        count = int(ok.sum())
        out[row, :3] = (local if count == len(ok) else local[ok]).sum(axis=0)
        out[row, 3] = count
    return out


def cluster_means(cluster: list[np.ndarray]) -> np.ndarray:
    """(4, 3) trial-mean position of each marker of a 4-marker cluster in the others' frame."""
    sums = sum(_cluster_sums([c[s] for c in cluster]) for s in spans(len(cluster[0])))
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums[:, :3] / sums[:, 3:]


def replace4(cluster: list[np.ndarray], means: np.ndarray) -> list[np.ndarray]:
    """Each marker of a rigid 4-marker cluster averaged with its copy rebuilt from the other
    three at its trial-mean position `means` (:func:`cluster_means`); the copy fills gaps."""
    out = [None] * 4
    for row, (t, o, a, b) in enumerate(_REBUILD):
        x, y, z = _cluster_axes(cluster[o], cluster[a], cluster[b])
        m = means[row]
        rebuilt = cluster[o] + m[0] * x + m[1] * y + m[2] * z
        target = cluster[t]
        mean = rebuilt + target
        mean *= 0.5
        # a gap is filled by the copy; a copy that needs a marker in a gap leaves the marker as is
        gap = np.isnan(target)
        if gap.any():
            np.copyto(mean, rebuilt, where=gap)
        no_copy = np.isnan(rebuilt) & ~gap
        if no_copy.any():
            np.copyto(mean, target, where=no_copy)
        out[t] = mean
    return out


#: Run counts of Nexus' OFM on a file that :func:`heel_run_count` tries.
HEEL_RUNS = range(1, 7)


def heel_after_runs(cluster: list[np.ndarray], runs: int, first: np.ndarray | None = None) -> list[np.ndarray]:
    """The heel cluster (HEE LCA STL CPG, (n, 3) m each) after `runs` runs of the OFM on a
    trial, each run's REPLACE4 taking the previous run's smoothed heel (Nexus' ?HE1) as HEE,
    with LCA, STL, CPG as given and the cluster means of that run's input; `first`: the first
    run's trial mean of HEE in its cluster frame (m), in place of these frames' own. One run
    is chainlab's; its HEE after k runs is copy + (HEE - copy) / 2^k (docs/kinematics.md)."""
    hee = cluster[0]
    for run in range(runs):
        cl = [hee, *cluster[1:]]
        means = cluster_means(cl)
        if run == 0 and first is not None:
            means[0] = first
        out = replace4(cl, means)
        hee = out[0]
    return out


def heel_rms_mm(hee: np.ndarray, he1: np.ndarray) -> float:
    """RMS distance (mm) between two (n, 3) heel positions (m) over the frames both have
    (NaN when none)."""
    sq = np.sum((hee - he1) ** 2, axis=-1)
    ok = np.isfinite(sq)
    return float(1e3 * np.sqrt(np.mean(sq[ok]))) if ok.any() else float("nan")


def heel_run_count(cluster: list[np.ndarray], he1: np.ndarray, runs=HEEL_RUNS) -> tuple[int, float]:
    """How many runs of the OFM Nexus' hindfoot origin `he1` (?HE1, (n, 3) m) is of: the run
    count in `runs` whose smoothed heel (:func:`heel_after_runs` of the stored heel cluster)
    is nearest it, and that RMS distance (mm; a poor fit shows as a large one)."""
    by_runs = {k: heel_rms_mm(heel_after_runs(cluster, k)[0], he1) for k in runs}
    k = min(by_runs, key=lambda r: np.inf if np.isnan(by_runs[r]) else by_runs[r])
    return k, by_runs[k]


def _clusters(mk: Mapping[str, np.ndarray], s: str) -> list[list[np.ndarray]]:
    return [[mk[f"{s}{m}"] for m in names] for names in CLUSTERS]


def _technical_frames(mk: Mapping[str, np.ndarray], s: str, means: list[np.ndarray] | None = None) -> dict:
    clusters = _clusters(mk, s)
    means = means if means is not None else [cluster_means(c) for c in clusters]
    ank, hfb, tub, shn = replace4(clusters[0], means[0])
    hee, lca, stl, cpg = replace4(clusters[1], means[1])
    p1m, d5m, toe, p5m = replace4(clusters[2], means[2])
    return {
        "ank": ank, "hfb": hfb, "tub": tub, "shn": shn, "hee": hee, "lca": lca, "stl": stl,
        "p1m": p1m, "d5m": d5m, "toe": toe, "p5m": p5m,
        "tibia_t": (ank, _lcs(hfb - ank, shn - 0.5 * (ank + hfb), "xyz")),
        "hindfoot_t": (hee, _lcs(hee - 0.5 * (stl + lca), stl - lca, "xyz")),
        "forefoot_t": (p1m, _lcs(p1m - d5m, toe - p5m, "xyz")),
    }


def calibrate(static: Mapping[str, np.ndarray]) -> dict[str, float]:
    """The OFM calibration values from a static trial, named as Nexus stores them (mm).

    Returns ``{"%LMMAX": ..., "%LMMAY": ..., ...}`` for :data:`CALIBRATION` and both sides.
    """
    out: dict[str, float] = {}
    for s in SIDES:
        t = _technical_frames(static, s)
        pca = static[f"{s}PCA"]
        plantar = _plane_projection(t["p5m"], t["hee"], pca, 0.5 * (t["stl"] + t["lca"]))
        plantar[:, 2] = t["hee"][:, 2]
        local = {
            "MMA": (t["tibia_t"], static[f"{s}MMA"]),
            "PCA": (t["hindfoot_t"], pca),
            "HFplantar": (t["hindfoot_t"], plantar),
            "D1M0": (t["forefoot_t"], static[f"{s}D1M"]),
            "D5M0": (t["forefoot_t"], t["d5m"]),
        }
        for name, ((origin, r), point) in local.items():
            v = np.nanmean(to_local(r, origin, point), axis=0) / MM
            for axis, value in zip("XYZ", v):
                out[f"%{s}{name}{axis}"] = float(value)
    return out


def _cal(cal: Mapping[str, float], s: str, name: str) -> np.ndarray:
    return np.array([cal[f"%{s}{name}{a}"] for a in "XYZ"]) * MM


def facing_sign(mk: Mapping[str, np.ndarray], travel_x: bool = False) -> np.ndarray:
    """Per frame +1/-1: whether the pelvis faces the positive travel axis (lab y, or x)."""
    anterior = 0.5 * (mk["LASI"] + mk["RASI"]) - mk["SACR"]
    sign = np.sign(anterior[:, 0 if travel_x else 1])
    sign[sign == 0] = 1.0
    return sign  # NaN in marker gaps


def facing_switches(facing: np.ndarray) -> np.ndarray:
    """Frame indices where the facing changes between consecutive valid frames."""
    valid = np.flatnonzero(np.isfinite(facing))
    return valid[1:][np.diff(facing[valid]) != 0]


def ofm(
    markers: Mapping[str, np.ndarray],
    cal: Mapping[str, float],
    pig_points: Mapping[str, np.ndarray],
    *,
    marker_diameter: float,
    proxff_factor: float = 2.0,
    travel_x: bool = False,
    reference: np.ndarray | None = None,
) -> OfmResult:
    """Oxford Foot Model angles, segments and points of one trial.

    Parameters
    ----------
    markers : dict of (n, 3) ndarray
        OFM markers (:data:`DYNAMIC` per side, HLX optional) and LASI, RASI, SACR, in metres.
    cal : dict
        Calibration values (:func:`calibrate`, or Nexus' from PROCESSING), mm.
    pig_points : dict
        Plug-in Gait ``?KJC`` and ``?AJC`` (m), which orient the tibia.
    marker_diameter : float
        mm. proxff_factor : PROCESSING ProxFFfactor. travel_x : PROCESSING TravelDirectionX.
    reference : (3, 3) ndarray, optional
        A fixed frame for TIBA (e.g. the walking direction) instead of Nexus' lab reference,
        which turns with the pelvis' facing along the travel axis.
    """
    facing = facing_sign(markers, travel_x)
    means = {s: [cluster_means(c) for c in _clusters(markers, s)] for s in SIDES}
    res = ofm_frames(markers, cal, pig_points, means, marker_diameter=marker_diameter,
                     proxff_factor=proxff_factor, travel_x=travel_x, reference=reference)
    res.angles = {k: continuous(v, norm_of(k)) for k, v in res.angles.items()}
    switch = facing_switches(facing) if reference is None else np.empty(0, int)
    res.transition_frames = {f"{s}TIBA": switch for s in SIDES}
    return res


def ofm_frames(markers, cal, pig_points, means, *, marker_diameter: float, proxff_factor: float = 2.0,
               travel_x: bool = False, reference: np.ndarray | None = None) -> OfmResult:
    """:func:`ofm` on some frames of a trial whose cluster means `means` (side -> the three
    clusters' :func:`cluster_means`) are known, before the continuity of the angle series
    (TIBA by the "max" rule, the others by "sum") and without the facing switches."""
    facing = facing_sign(markers, travel_x)
    arrays = {**markers, **{f"pig_{k}": v for k, v in pig_points.items()}, "facing": facing}
    return by_spans(_ofm_frames, len(facing), arrays, cal, means, marker_diameter * MM / 2.0,
                     proxff_factor, reference)


def cluster_span_sums(cluster: list[np.ndarray], start: int = 0) -> list[np.ndarray]:
    """The (4, 4) sums of :func:`cluster_means`, one per span (:data:`chainlab.model._spans.SPAN`
    frames), for frames that begin at trial index `start` (a multiple of the span): summed in
    order over a whole trial, they give exactly the sums of the whole."""
    if start % SPAN:
        raise ValueError(f"cluster sums need pieces starting at multiples of {SPAN} frames; found {start}")
    return [_cluster_sums([c[s] for c in cluster]) for s in spans(len(cluster[0]))]


def means_from_sums(span_sums: list[np.ndarray]) -> np.ndarray:
    """:func:`cluster_means` from :func:`cluster_span_sums` of every piece, in order."""
    sums = sum(span_sums)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums[:, :3] / sums[:, 3:]


def _ofm_frames(markers, cal, means, radius, proxff_factor, reference) -> OfmResult:
    """One span of :func:`ofm`, before the continuity of the angle series."""
    angles, segments, points = {}, {}, {}
    facing = markers["facing"]
    for s in SIDES:
        side = "Left" if s == "L" else "Right"
        lsign = 1.0 if s == "L" else -1.0
        t = _technical_frames(markers, s, means[s])
        mma = to_lab(t["tibia_t"][1], t["tibia_t"][0], _cal(cal, s, "MMA"))
        ajc = 0.5 * (t["ank"] + mma)
        kjc, ajc_pig = markers[f"pig_{s}KJC"], markers[f"pig_{s}AJC"]
        tibia = _lcs(kjc - ajc_pig, lsign * (markers[f"{s}ANK"] - ajc_pig), "zxy")
        prot = _plane_projection(t["tub"], mma, t["ank"], t["hfb"])
        lab_tibia = _lcs(prot - ajc, -lsign * (mma - t["ank"]), "zxy")

        hee_o, hee_r = t["hindfoot_t"]
        pca = to_lab(hee_r, hee_o, _cal(cal, s, "PCA"))
        plantar = to_lab(hee_r, hee_o, _cal(cal, s, "HFplantar"))
        hindfoot = _lcs(plantar - t["hee"], pca - t["hee"], "zyx")

        ff_o, ff_r = t["forefoot_t"]
        d1m0 = to_lab(ff_r, ff_o, _cal(cal, s, "D1M0"))
        d5m0 = t["d5m"]  # UseFloorFF = 0
        proj_toe = _plane_projection(t["toe"], d1m0, d5m0, t["p5m"])
        proj_p1m = _plane_projection(t["p1m"], d1m0, d5m0, t["p5m"])
        d = np.linalg.norm(proj_p1m - t["p5m"], axis=-1, keepdims=True)
        proxff = proj_p1m + (t["p5m"] - proj_p1m) * (d - radius) / (proxff_factor * d)
        forefoot = _lcs(proj_toe - proxff, -lsign * (d1m0 - d5m0), "zxy")

        def joint(prox, dist, from_tibia):
            a, b, c = np.moveaxis(np.degrees(cardan(relative(prox, dist), "yxz")), -1, 0)
            return np.stack([(90.0 - a) if from_tibia else -a, lsign * b, -lsign * c], axis=-1)

        angles[f"{s}HFTBA"] = joint(tibia, hindfoot, True)
        angles[f"{s}FFTBA"] = joint(tibia, forefoot, True)
        angles[f"{s}FFHFA"] = joint(hindfoot, forefoot, False)
        if f"{s}HLX" in markers:
            hallux = _lcs(markers[f"{s}HLX"] - d1m0, -lsign * (d1m0 - d5m0), "zxy")
            angles[f"{s}HXFFA"] = joint(forefoot, hallux, False)
            segments[f"{side}Hallux"] = (markers[f"{s}HLX"], hallux)

        if reference is None:
            ref = lab_tibia.copy()
            ref[:, :2, :] *= facing[:, None, None]  # the lab turned 180 deg where facing -travel
        else:
            ref = relative(reference, lab_tibia)
        a, b, c = np.moveaxis(np.degrees(cardan(ref, "xyz")), -1, 0)
        angles[f"{s}TIBA"] = np.stack([-a, -lsign * b, lsign * (90.0 - c)], axis=-1)
        segments[f"{side}OFMTibia"] = (ajc, tibia)
        segments[f"{side}LabTibia"] = (ajc, lab_tibia)  # TIBA's tibia (chainlab.gait.heading)
        segments[f"{side}Hindfoot"] = (t["hee"], hindfoot)
        segments[f"{side}Forefoot"] = (proj_toe, forefoot)
        points[f"{s}OFMAJC"] = ajc
        points[f"{s}PROXFF"] = proxff
    return OfmResult(angles=angles, segments=segments, points=points, transition_frames={})
