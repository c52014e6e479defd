"""Joint angles of one trial: calibrate the models on the static trial, apply them to a walk.

``compute_kinematics(dynamic, static)`` takes two trial Datasets (from
:func:`chainlab.read_c3d`) and returns one Dataset:

===================  ==================================  =======
variable             dims                                units
===================  ==================================  =======
``angles``           (frame, output, axis)               deg
``segment_origin``   (frame, segment, axis)              m
``segment_axes``     (frame, segment, axis, segment_axis)  1
``joint_centres``    (frame, point, axis)                m
``markers``          (frame, marker, axis)               m
``arch``             (frame, arch_output)                mm, %
===================  ==================================  =======

``output`` takes the names Vicon Nexus uses (``LPelvisAngles``, ``LHipAngles``, ...,
``LThoraxAngles``, ``LSpineAngles``) plus chainlab's ``LumbarCurvature`` and
``LumbarPelvisAngles``, and with the OFM ``?HFTFL`` and ``?FETBA``
(:mod:`chainlab.model.ofm_posture`, whose ``?ArchHeight`` (mm) and ``?ArchHeightIndex`` (%
of foot length) are ``arch``, units per output in ``arch_units``; left out when the static
lacks their markers); ``axis`` is x, y, z in Nexus' component order. ``segment_axes``
holds each segment's x, y, z axes (``segment_axis``) as lab vectors (``axis``).

Modules: :mod:`~chainlab.kinematics.summary` (what the models need of the whole trial),
:mod:`~chainlab.kinematics.prepare` (checks and calibration), :mod:`~chainlab.kinematics.direct`
(the direct models' frames), :mod:`~chainlab.kinematics.global_solver` (the chain fitted to
every frame). The models themselves are in :mod:`chainlab.model`; the options in
:mod:`chainlab.options`.
"""

from __future__ import annotations

import xarray as xr

from chainlab.errors import ModelInputError
from chainlab.io.c3d import read_c3d
from chainlab.kinematics.direct import direct_kinematics, frames_kinematics, make_continuous
from chainlab.kinematics.global_solver import (
    TEMPLATE_FRAMES,
    add_global_frames,
    fit_frames,
    global_attrs,
    global_kinematics,
    global_summary,
    measured_chain_markers,
    static_chain,
    template_chain,
)
from chainlab.kinematics.prepare import (  # noqa: F401 (_with_sacrum: chainlab.pipeline imports it from here)
    KinematicsWarning,
    Prepared,
    _with_sacrum,
    absent_if_never_valid,
    angle_rules,
    prepare,
    with_sacrum,
    without_markers,
)
from chainlab.kinematics.summary import TrialSummary, summarise
from chainlab.options import MODELS, KinematicsOptions


def compute_kinematics(
    dynamic: xr.Dataset, static: xr.Dataset | None, options: KinematicsOptions | None = None
) -> xr.Dataset:
    """Plug-in Gait, Oxford Foot Model, trunk and lumbar angles of `dynamic`, calibrated on `static`.

    Calibration values (Plug-in Gait's static foot offsets, the OFM's %-values) come from
    `options.subject` when given there, else from the static (then dynamic) trial's PROCESSING
    group when it holds them all (Nexus' calibration of that subject), else they are computed
    from the static trial's markers; ``*_source`` attributes say which.

    This is the one-piece case of the chunked computation (:mod:`chainlab.pipeline`): the
    trial-wide quantities from :func:`summarise`, the frames from :func:`frames_kinematics`,
    the continuity of the angles by :class:`chainlab.model.continuity.Continuity`. With
    ``options.solver == "global"`` the chain is fitted to every frame first
    (:mod:`chainlab.kinematics.global_solver`).

    Raises
    ------
    ModelInputError
        No static trial; markers missing (listed) for a requested model (unless
        ``options.partial``, which leaves that model out and marks the output partial);
        required subject measurements missing (listed; give them in ``options.subject``).
    """
    opt = options or KinematicsOptions()
    name = dynamic.attrs.get("source_file", "dynamic trial")
    if opt.solver not in ("direct", "global"):
        raise ValueError(f"solver must be 'direct' or 'global'; found {opt.solver!r}")
    if static is None:
        raise ModelInputError(f"{name}: kinematics need the subject's static trial; none was given")
    if opt.solver == "global":
        return global_kinematics(dynamic, static, opt)
    return direct_kinematics(dynamic, static, opt)


def kinematics_from_files(dynamic_path, static_path, options: KinematicsOptions | None = None) -> xr.Dataset:
    """Read both trials and compute their kinematics (:func:`compute_kinematics`)."""
    return compute_kinematics(read_c3d(dynamic_path), read_c3d(static_path), options)


__all__ = [
    "MODELS",
    "TEMPLATE_FRAMES",
    "KinematicsOptions",
    "KinematicsWarning",
    "Prepared",
    "TrialSummary",
    "absent_if_never_valid",
    "add_global_frames",
    "angle_rules",
    "compute_kinematics",
    "fit_frames",
    "frames_kinematics",
    "global_attrs",
    "global_summary",
    "kinematics_from_files",
    "make_continuous",
    "measured_chain_markers",
    "prepare",
    "static_chain",
    "summarise",
    "template_chain",
    "with_sacrum",
    "without_markers",
]
