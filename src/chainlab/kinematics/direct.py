"""The direct models' frames: each segment from its own markers, span by span.

:func:`frames_kinematics` computes some consecutive frames of a trial once :func:`prepare`
has calibrated the models: it takes the markers the models read as one array, runs Plug-in
Gait, the OFM, the trunk and the lumbar rule on spans of :data:`chainlab.model._spans.SPAN`
frames (each pass over a span stays in cache) and writes every span's angles, segments,
joint centres and markers straight into the output's arrays. The continuity of the angle
series (:func:`make_continuous`, :class:`chainlab.model.continuity.Continuity`) carries from
span to span, or from chunk to chunk in the chunked runner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from chainlab import __version__
from chainlab.conventions import AXES
from chainlab.errors import ModelInputError
from chainlab.kinematics.prepare import Prepared, absent_if_never_valid, angle_rules, prepare, sided, with_sacrum
from chainlab.kinematics.summary import summarise
from chainlab.model import lumbar, ofm, ofm_posture, pig
from chainlab.model._spans import spans
from chainlab.model.continuity import Continuity
from chainlab.options import KinematicsOptions

PELVIS = ("LASI", "RASI", "SACR")


def model_markers(run: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The markers each model of `run` reads from a trial's frames (it is given those present)."""
    reads = {
        "pig": pig.DYNAMIC_MARKERS,
        "ofm": sided(ofm.DYNAMIC + ("HLX",)) + PELVIS,
        "trunk": pig.TRUNK_MARKERS + PELVIS,
        "lumbar": lumbar.SPINE_ORDER + PELVIS,
    }
    return {m: reads[m] for m in run}


def _span_outputs(prep: Prepared, markers: Mapping[str, Mapping[str, np.ndarray]]) -> tuple[dict, dict, dict, dict]:
    """Angles, segments, joint centres and OFM arch measures (mm, %) of one span; `markers`
    per model, name -> (span, 3)."""
    angles: dict[str, np.ndarray] = {}
    arch: dict[str, np.ndarray] = {}
    segments: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    points: dict[str, np.ndarray] = {}
    run = prep.run
    if "pig" in run:
        res = pig.pig_frames(markers["pig"], prep.cal, prep.prog)
        angles |= res.angles
        segments |= res.segments
        points |= res.points
    if "ofm" in run:
        mk = markers["ofm"]
        res = ofm.ofm_frames(mk, prep.ofm_values, points, prep.means, **prep.ofm_args)
        angles |= res.angles
        segments |= res.segments
        points |= res.points
        posture, arch = ofm_posture.posture_frames(segments, mk, ofm.facing_sign(mk, prep.ofm_args["travel_x"]),
                                                   prep.arch, {s: prep.means[s][2] for s in pig.SIDES},
                                                   prep.ofm_args["reference"])
        angles |= posture
    if "trunk" in run:
        pelvis = segments["Pelvis"][1] if "Pelvis" in segments else None
        res = pig.trunk_frames(markers["trunk"], prep.prog, pelvis)
        angles |= res.angles
        segments |= res.segments
    if "lumbar" in run:
        mk = markers["lumbar"]
        p_r = segments["Pelvis"][1] if "Pelvis" in segments else pig.pelvis_frame(mk["LASI"], mk["RASI"], mk["SACR"])[1]
        angles |= lumbar.lumbar_angles(mk, p_r, prep.which)
    return angles, segments, points, arch


class _Output:
    """The output's arrays, allocated once the first span's names are known, filled span by span."""

    def __init__(self, n: int, angles: dict, segments: dict, points: dict, arch: dict, n_markers: int, dtype):
        self.names, self.seg_names, self.point_names = list(angles), list(segments), list(points)
        self.arch_names = list(arch)
        self.arch = np.empty((n, len(arch)))
        self.angles = np.empty((n, len(angles), 3))
        self.origin = np.empty((n, len(segments), 3))
        self.axes = np.empty((n, len(segments), 3, 3))
        self.points = np.empty((n, len(points), 3))
        self.markers = np.empty((n, n_markers, 3), dtype)

    def write(self, s: slice, angles: dict, segments: dict, points: dict, arch: dict) -> None:
        for j, k in enumerate(self.names):
            self.angles[s, j] = angles[k]
        for j, k in enumerate(self.seg_names):
            self.origin[s, j], self.axes[s, j] = segments[k]
        for j, k in enumerate(self.point_names):
            self.points[s, j] = points[k]
        for j, k in enumerate(self.arch_names):
            self.arch[s, j] = arch[k]


def frames_kinematics(prep: Prepared, dynamic: xr.Dataset, continuity: dict | None = None) -> xr.Dataset:
    """The output of some consecutive frames of a trial (with SACR added as in `prepare`).

    Without `continuity`, its angles are before the continuity rule (:func:`make_continuous`
    applies it, piece after piece in order). With `continuity` (the state :func:`make_continuous`
    carries, a dict, empty before the first piece) the rule is applied here, span by span.
    """
    names = [str(m) for m in dynamic.marker.values]
    index = {m: i for i, m in enumerate(names)}
    mk = dynamic.markers.transpose("frame", "marker", "axis").values
    n = mk.shape[0]
    reads = model_markers(prep.run)
    read = list(dict.fromkeys(m for wanted in reads.values() for m in wanted if m in index))
    cols, at = [index[m] for m in read], {m: j for j, m in enumerate(read)}
    used = [index[m] for m in prep.used]
    rules = angle_rules(prep) if continuity is not None else {}
    out = None
    for s in spans(n):
        part = mk[s]
        # the markers the models read, taken once per span, each (span, 3) contiguous
        own = np.ascontiguousarray(np.take(part, cols, axis=1).transpose(1, 0, 2))
        angles, segments, points, arch = _span_outputs(prep, {model: {m: own[at[m]] for m in wanted if m in at}
                                                        for model, wanted in reads.items()})
        for k, rule in rules.items():
            if rule is not None and k in angles:
                angles[k] = continuity.setdefault(k, Continuity(rule))(angles[k])
        if out is None:
            out = _Output(n, angles, segments, points, arch, len(used), mk.dtype)
        out.write(s, angles, segments, points, arch)
        np.take(part, used, axis=1, out=out.markers[s], mode="clip")
    return _dataset(dynamic, prep, out)


def _dataset(dynamic: xr.Dataset, prep: Prepared, out: _Output) -> xr.Dataset:
    names_index = {str(m): i for i, m in enumerate(dynamic.marker.values)}
    coords = {
        "frame": dynamic.frame.values,
        "time": ("frame", dynamic.time.values, {"units": "s"}),
        "output": np.array(out.names, dtype=str),
        "axis": list(AXES),
        "segment": np.array(out.seg_names, dtype=str),
        "segment_axis": list(AXES),
        "point": np.array(out.point_names, dtype=str),
        "marker": dynamic.marker.values[[names_index[m] for m in prep.used]].astype(str),
    }
    ds = xr.Dataset(
        {
            "angles": (("frame", "output", "axis"), out.angles,
                       {"units": "deg", "long_name": "joint and segment angles, Nexus component order"}),
            "segment_origin": (("frame", "segment", "axis"), out.origin,
                               {"units": "m", "long_name": "segment origin in the lab frame"}),
            "segment_axes": (("frame", "segment", "axis", "segment_axis"), out.axes,
                             {"units": "1", "long_name": "segment x, y, z axes (segment_axis) as lab unit vectors (axis)"}),
            "joint_centres": (("frame", "point", "axis"), out.points,
                              {"units": "m", "long_name": "joint centres in the lab frame"}),
            "markers": (("frame", "marker", "axis"), out.markers,
                        {"units": "m", "long_name": "markers the models used"}),
        },
        coords,
    )
    static = prep.static
    ds.attrs = {
        "title": "chainlab kinematics",
        "chainlab_version": __version__,
        "solver": "direct",
        "dynamic_file": dynamic.attrs.get("source_file", ""),
        "dynamic_sha256": dynamic.attrs.get("source_sha256", ""),
        "static_file": static.attrs.get("source_file", ""),
        "static_sha256": static.attrs.get("source_sha256", ""),
        "subject": dynamic.attrs.get("subject", ""),
        "point_rate": dynamic.attrs.get("point_rate", np.nan),
        **prep.attrs,
    }
    if out.arch_names:
        ds = ds.assign(ofm_posture.arch_variable(dict(zip(out.arch_names, out.arch.T)), out.arch.shape[0]))
    return ds


def make_continuous(ds: xr.Dataset, state: dict, rules: dict[str, str | None]) -> xr.Dataset:
    """Apply each angle's continuity rule to a piece of output, in place; `state` (a dict,
    empty before the first piece) carries from piece to piece."""
    values = ds.angles.values
    for j, name in enumerate(ds.output.values.tolist()):
        rule = rules.get(name)
        if rule is None:
            continue
        c = state.setdefault(name, Continuity(rule))
        values[:, j] = c(np.ascontiguousarray(values[:, j]))
    return ds


def direct_kinematics(dynamic: xr.Dataset, static: xr.Dataset, opt: KinematicsOptions) -> xr.Dataset:
    """:func:`chainlab.kinematics.compute_kinematics` with the direct models: the trial-wide
    quantities from :func:`summarise`, the frames from :func:`frames_kinematics`, the angle
    series made continuous span by span."""
    name = dynamic.attrs.get("source_file", "dynamic trial")
    if opt.progression not in ("lab", "travel"):
        raise ValueError(f"progression must be 'lab' or 'travel'; found {opt.progression!r}")
    if dynamic.sizes["frame"] == 0:
        raise ModelInputError(f"{name}: the trial has 0 frames")
    dyn = with_sacrum(absent_if_never_valid(dynamic))  # a marker never valid is absent, as the pipeline does
    prep = prepare(dyn, summarise(dyn, 0), static, opt)
    return frames_kinematics(prep, dyn, continuity={})


__all__ = ["direct_kinematics", "frames_kinematics", "make_continuous", "model_markers"]
