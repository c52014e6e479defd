"""The global solver on the wrong branch: recovered from the direct pose, or flagged (issue #18 item 9)."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest

from chainlab import read_c3d
from chainlab.kinematics import KinematicsOptions, compute_kinematics, measured_chain_markers, static_chain, template_chain
from chainlab.kinematics.prepare import _with_sacrum
from chainlab.model import ik

from .conftest import SHARED, STUDY


@pytest.fixture(scope="module")
def walk_chain():
    dyn = _with_sacrum(read_c3d(STUDY / "HC030A/Straight/HC030A05.c3d"), [])
    static = _with_sacrum(read_c3d(STUDY / "HC030A/Static/HC030A01.c3d"), [])
    opt = KinematicsOptions(solver="global")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chain = template_chain(static_chain(static, None, replace(opt, solver="direct")), dyn, static, opt)
    return chain, measured_chain_markers(chain, dyn)[:40]


def test_a_solver_started_on_the_wrong_branch_is_recovered(walk_chain):
    chain, y = walk_chain
    w = np.where(np.isfinite(y).all(axis=-1), chain.weights[None], 0.0)
    start = ik.initial_pose(chain, y, w)
    knee = [b.name for b in chain.joints].index("R_tibia")
    start.q[:, knee, 0] += np.pi  # the right shank turned 180 deg at the knee
    # few iterations: the fit stays near the flipped start (the case the check must catch)
    stuck = ik.fit(chain, y, start=start, max_iterations=2)
    tibia = knee + 1  # body index
    assert np.nanmedian(ik.branch_disagreement(chain, stuck.pose, y)[:, tibia]) > ik.FLIP_DEG
    res = ik.solve(chain, y, start=start, max_iterations=2)
    assert np.nanmax(ik.branch_disagreement(chain, res.pose, y)[:, tibia]) < 10.0
    assert not res.flipped.any()
    reference = ik.solve(chain, y)
    assert np.abs(res.markers - reference.markers).max() < 0.01  # m: the same fit as a good start
    # a frame that cannot be brought back is flagged, not silently kept
    y_bad = y.copy()
    names = chain.markers
    i, j = names.index("RTIB"), names.index("RKNE")
    y_bad[:, [i, j]] = y_bad[:, [j, i]]  # two markers swapped: no pose of the chain fits them
    flagged = ik.solve(chain, y_bad)
    assert flagged.flipped.dtype == bool and flagged.flipped.shape == (len(y),)


VENDORS = SHARED / "vendors"
PAIRS = [("PiG_Motion-FlatFoot-Full.c3d", "PiG_Calibration-FlatFoot-Full.c3d"),
         ("PiG_Motion3_FF.c3d", "PiG_Calibration3_FF.c3d")]


@pytest.mark.slow
@pytest.mark.parametrize("walk,static", PAIRS)
def test_held_out_vendor_walks_are_within_2_deg_of_the_direct_sagittal_angles(walk, static):
    if not (VENDORS / walk).exists():
        pytest.skip("no ../shared vendor captures")
    dyn, sta = read_c3d(VENDORS / walk), read_c3d(VENDORS / static)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = compute_kinematics(dyn, sta, KinematicsOptions(partial=True))
        glob = compute_kinematics(dyn, sta, KinematicsOptions(partial=True, solver="global"))
    assert glob.attrs["global_flips"] == ""
    assert int(glob.solver_flipped.sum()) == 0
    for name in ("PelvisAngles", "HipAngles", "KneeAngles", "AnkleAngles"):
        for s in "LR":
            d = direct.angles.sel(output=s + name).values[:, 0]
            g = glob.angles.sel(output=s + name).values[:, 0]
            diff = (g - d + 180.0) % 360.0 - 180.0
            rms = float(np.sqrt(np.nanmean(diff**2)))
            assert rms < 2.0, (walk, s + name, rms)
