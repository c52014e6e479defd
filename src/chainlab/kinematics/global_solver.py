"""The global solver: the chain fitted to every frame, then the direct models on its markers.

:func:`static_chain` builds the subject's chain (:func:`chainlab.model.chain.build_chain`) from
the direct models' output on the static trial; :func:`template_chain` re-estimates its marker
coordinates and joint centres over the trial being fitted; :func:`fit_frames` solves the
inverse kinematics of some frames (:func:`chainlab.model.ik.solve`); the direct models then run
on the fitted markers, and :func:`add_global_frames` adds the solver's own per-frame variables
(marker residuals, joint coordinates, slides, convergence).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import replace

import numpy as np
import xarray as xr

from chainlab.kinematics.direct import direct_kinematics, frames_kinematics
from chainlab.kinematics.prepare import _with_sacrum, prepare
from chainlab.kinematics.summary import TrialSummary, gap_text, invalid_runs, summarise
from chainlab.model import ik
from chainlab.model.chain import Chain, build_chain, calibrate_on_trial, describe, static_template
from chainlab.model.geometry import cardan
from chainlab.options import ChainOptions, KinematicsOptions

#: The global solver's trial template (``ChainOptions.template == "trial"``) is calibrated on
#: the trial's first TEMPLATE_FRAMES frames: all of a walk, a bounded window of a long capture,
#: so that the whole trial and its chunks (chainlab.pipeline) share one template.
TEMPLATE_FRAMES = 12_000


def static_chain(static: xr.Dataset, options: ChainOptions | None = None,
                 kinematics_options: KinematicsOptions | None = None) -> Chain:
    """The chain of the subject standing in `static` (a :func:`chainlab.read_c3d` Dataset):
    the direct models (partial output allowed) on the static trial's mean marker positions
    (:func:`chainlab.model.chain.static_template`) place its bodies
    (:func:`chainlab.model.chain.build_chain`). `kinematics_options` carries subject
    measurements and calibration values, as for the direct models."""
    kopt = kinematics_options or KinematicsOptions()
    kopt = replace(kopt, models=tuple(kopt.models), partial=True, solver="direct")
    tmpl = static_template(static)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kin = direct_kinematics(tmpl, static, kopt)
    return build_chain(static, kin, options)


def measured_chain_markers(chain: Chain, ds: xr.Dataset) -> np.ndarray:
    """(n, M, 3) the chain's markers as measured in `ds`, in chain order (NaN: not in the trial)."""
    present = set(ds.marker.values.tolist())
    n = ds.sizes["frame"]
    return np.stack([ds.markers.sel(marker=m).values if m in present else np.full((n, 3), np.nan)
                     for m in chain.markers], axis=1)


def template_chain(chain: Chain, dynamic: xr.Dataset, static: xr.Dataset, opt: KinematicsOptions) -> Chain:
    """The chain whose marker coordinates and joint centres come from the chain's template:
    the static trial's (``template="static"``), or the trial's (``"trial"``, the default):
    their mean positions in the direct models' segments over the first
    :data:`TEMPLATE_FRAMES` frames of `dynamic` (:func:`chainlab.model.chain.calibrate_on_trial`;
    docs/kinematics.md says why)."""
    copt = opt.chain or ChainOptions()
    if copt.template not in ("trial", "static"):
        raise ValueError(f"chain template must be 'trial' or 'static'; found {copt.template!r}")
    if copt.template == "static":
        return chain
    window = _with_sacrum(dynamic.isel(frame=slice(0, TEMPLATE_FRAMES)), [])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        own = direct_kinematics(window, static, replace(opt, solver="direct", partial=True))
    return calibrate_on_trial(chain, own, measured_chain_markers(chain, window))


def fit_frames(chain: Chain, dynamic: xr.Dataset, first_index: int = 0):
    """Global IK of some frames of a trial, beginning at trial index `first_index` (a block
    start of :func:`chainlab.model.ik.solve` for a result equal to the whole trial's):
    the frames with the chain's markers in place of the measured ones, the IK result and the
    measured chain markers."""
    dynamic = _with_sacrum(dynamic, [])
    names = chain.markers
    present = set(dynamic.marker.values.tolist())
    measured = measured_chain_markers(chain, dynamic)
    res = ik.solve(chain, measured, first_frame=first_index)
    # the chain's markers replace the measured ones (and stand in for those never measured)
    all_markers = list(dynamic.marker.values.tolist()) + [m for m in names if m not in present]
    fitted_ds = dynamic.reindex(marker=all_markers)
    values = fitted_ds.markers.transpose("frame", "marker", "axis").values.copy()
    index = {m: i for i, m in enumerate(all_markers)}
    values[:, [index[m] for m in names]] = res.markers
    fitted_ds["markers"] = fitted_ds.markers.transpose("frame", "marker", "axis").copy(data=values)
    return fitted_ds, res, measured


def global_summary(chain: Chain, fitted_ds: xr.Dataset, res, measured: np.ndarray, start: int = 0) -> TrialSummary:
    """:func:`summarise` of fitted frames, with what the global solver's output needs."""
    out = summarise(fitted_ds, start)
    out.rms = [res.rms]
    valid = np.isfinite(measured[..., 0])
    out.measured_gap_runs = {m: invalid_runs(~valid[:, i], start) for i, m in enumerate(chain.markers)
                             if not valid[:, i].all()}
    if res.flipped is not None and res.flipped.any():
        out.flip_runs = {"chain": invalid_runs(res.flipped, start)}
    return out


def global_attrs(chain: Chain, summary: TrialSummary, raw_names, opt: KinematicsOptions) -> dict:
    """The global solver's attributes of the output: the chain, its template, the measured
    markers' gaps, the markers never measured, the median marker RMS."""
    rms = np.concatenate(summary.rms) if summary.rms else np.empty(0)
    gaps = {m: gap_text(summary.measured_gap_runs[m], summary.first_frame)
            for m in chain.markers if m in summary.measured_gap_runs}
    return {
        "solver": "global",
        "chain": describe(chain),
        "chain_template": (opt.chain or ChainOptions()).template,
        "measured_gap_frames": json.dumps(gaps),
        "chain_markers_not_measured": ",".join(m for m in chain.markers if m not in set(raw_names)),
        "marker_rms_median_m": float(np.nanmedian(rms)) if np.isfinite(rms).any() else float("nan"),
        # a quality problem: frames where a body stayed more than ik.FLIP_DEG from its own
        # markers' fit after the re-solve from the direct pose (frame numbers, "" when none)
        "global_flips": gap_text(summary.flip_runs["chain"], summary.first_frame) if summary.flip_runs else "",
    }


def add_global_frames(out: xr.Dataset, chain: Chain, res, measured: np.ndarray, attrs: dict) -> xr.Dataset:
    """The global solver's per-frame variables added to some frames' output."""
    names = chain.markers
    n = out.sizes["frame"]
    joints = ["pelvis"] + [b.name for b in chain.joints]
    coords = np.empty((n, len(joints), 3))
    coords[:, 0] = np.degrees(cardan(res.pose.rotation, "yxz"))
    coords[:, 1:] = np.degrees(res.pose.q)
    out = out.assign_coords(chain_marker=np.array(names, dtype=str), joint=np.array(joints, dtype=str),
                            joint_axis=["y", "x", "z"])
    out["marker_residual"] = (("frame", "chain_marker"), res.residual,
                              {"units": "m", "long_name": "distance from each fitted marker to the measured one (NaN: not measured)"})
    out["marker_rms"] = (("frame",), res.rms, {"units": "m", "long_name": "weighted RMS of the marker residuals"})
    out["marker_max"] = (("frame",), res.max, {"units": "m", "long_name": "largest marker residual"})
    out["markers_measured"] = (("frame", "chain_marker", "axis"), measured,
                               {"units": "m", "long_name": "measured markers the chain was fitted to"})
    out["joint_coordinates"] = (("frame", "joint", "joint_axis"), coords, {
        "units": "deg", "long_name": "chain coordinates: YXZ Cardan angles of each body in its parent's joint "
                                     "frame (pelvis: in the lab)"})
    slide = np.zeros((n, len(joints)))
    if res.pose.slide is not None:
        slide[:, 1:] = res.pose.slide
    out["joint_slide"] = (("frame", "joint"), slide, {
        "units": "m", "long_name": "slide of each body along its long axis (the thigh's or shank's change of length; "
                                   "0 where the body has no slide)"})
    out["pelvis_position"] = (("frame", "axis"), res.pose.origin, {"units": "m", "long_name": "chain root origin in the lab"})
    out["solver_iterations"] = (("frame",), res.iterations, {"units": "1"})
    out["solver_converged"] = (("frame",), res.converged.astype(np.int8), {"units": "1"})
    flipped = res.flipped if res.flipped is not None else np.zeros(n, bool)
    out["solver_flipped"] = (("frame",), flipped.astype(np.int8), {
        "units": "1", "long_name": "1 where a chain body stayed on another branch than the direct models' "
                                  "(more than chainlab.model.ik.FLIP_DEG from its own markers' fit)"})
    out.attrs |= attrs
    return out


def global_kinematics(dynamic: xr.Dataset, static: xr.Dataset, opt: KinematicsOptions) -> xr.Dataset:
    """:func:`chainlab.kinematics.compute_kinematics` with the global solver: fit the chain to
    every frame, then the direct models on the chain's markers."""
    direct = replace(opt, solver="direct")
    static = _with_sacrum(static, [])
    chain = template_chain(static_chain(static, opt.chain, direct), dynamic, static, opt)
    fitted_ds, res, measured = fit_frames(chain, dynamic, 0)
    summary = global_summary(chain, fitted_ds, res, measured, 0)
    prep = prepare(fitted_ds, summary, static, direct)
    out = frames_kinematics(prep, fitted_ds, continuity={})
    return add_global_frames(out, chain, res, measured,
                             global_attrs(chain, summary, dynamic.marker.values.tolist(), opt))


__all__ = ["TEMPLATE_FRAMES", "add_global_frames", "fit_frames", "global_attrs", "global_kinematics",
           "global_summary", "measured_chain_markers", "static_chain", "template_chain"]
