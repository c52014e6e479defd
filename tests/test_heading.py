"""The chain's study measures in the heading frame (chainlab.gait.heading; issue #18 item 7)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from chainlab.config import StudyConfig
from chainlab.gait.heading import heading_frames
from chainlab.io.trial_file import TrialFile
from chainlab.pipeline import run_trial
from chainlab.results import TrialRow

STUDY = Path(__file__).resolve().parents[1] / "data" / "biomechzoo"
STATIC = STUDY / "HC030A/Static/HC030A01.c3d"
STRAIGHT = STUDY / "HC030A/Straight/HC030A05.c3d"
TURN = STUDY / "HC030A/Turn/HC030A22.c3d"
MEASURES = ["pelvic_tilt_mean_deg", "pelvic_tilt_range_deg", "lordosis_mean_deg", "lordosis_range_deg",
            "tibial_ir_excursion_lab_deg", "peak_eversion_deg", "tibial_ir_excursion_femur_deg"]


def _metrics(dynamic, static, tmp_path, frame="heading"):
    config = StudyConfig.from_dict({"study": "s", "trials": "-", "gait": {"chain_frame": frame}})
    row = TrialRow("HC030A", "c", Path(dynamic).stem, Path(static), Path(dynamic))
    res = run_trial(row, tmp_path / f"{Path(dynamic).stem}_{frame}.h5", config)
    assert not hasattr(res, "stage"), res
    return res.metrics


def _rotated(src: Path, out: Path, degrees: float) -> Path:
    """A copy of a capture turned about the lab vertical: every point and the plates' corners."""
    ezc3d = pytest.importorskip("ezc3d")
    c = ezc3d.c3d(str(src))
    a = np.radians(degrees)
    rz = np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])
    pts = c["data"]["points"]
    pts[:3] = np.einsum("ij,jkn->ikn", rz, pts[:3])
    c["data"]["points"] = pts
    fp = c["parameters"]["FORCE_PLATFORM"]
    corners = np.asarray(fp["CORNERS"]["value"], dtype=float)  # (3, 4, plates)
    fp["CORNERS"]["value"] = np.einsum("ij,jkn->ikn", rz, corners)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c.write(str(out))
    return out


def test_a_walk_turned_45_deg_in_the_lab_gives_the_same_chain_measures(tmp_path):
    base = _metrics(STRAIGHT, STATIC, tmp_path)
    turned = _metrics(_rotated(STRAIGHT, tmp_path / "walk45.c3d", 45.0),
                      _rotated(STATIC, tmp_path / "static45.c3d", 45.0), tmp_path)
    assert base.attrs["frame"] == "heading" and turned.attrs["frame"] == "heading"
    written = tmp_path / "HC030A05_heading.h5"  # the trial file says it too, and its reader
    assert xr.open_dataset(written, group="metrics").attrs["frame"] == "heading"
    assert xr.open_dataset(written, group="curves").curves.attrs["frame"] == "heading"
    assert TrialFile(written).chain_frame == "heading"
    assert len(base) == len(turned) >= 2
    assert np.isfinite(base[MEASURES].to_numpy()).all()
    diff = np.abs(base[MEASURES].to_numpy() - turned[MEASURES].to_numpy())
    assert diff.max() < 0.1, dict(zip(MEASURES, diff.max(axis=0)))
    # the lab frame does not have this property: the Nexus progression frame is the lab axis nearest
    # the walk, and a diagonal walk is 45 deg from both
    lab = _metrics(_rotated(STRAIGHT, tmp_path / "walk45b.c3d", 45.0), tmp_path / "static45.c3d", tmp_path, "lab")
    assert lab.attrs["frame"] == "lab"
    assert np.abs(lab.tibial_ir_excursion_lab_deg.to_numpy() - base.tibial_ir_excursion_lab_deg.to_numpy()).max() > 0.1 \
        or np.abs(lab.pelvic_tilt_mean_deg.to_numpy() - base.pelvic_tilt_mean_deg.to_numpy()).max() > 1.0


def test_pelvic_tilt_of_a_turning_walk_has_no_turn_artefact_in_the_heading_frame(tmp_path):
    straight = _metrics(STRAIGHT, STATIC, tmp_path)
    lo, hi = straight.pelvic_tilt_mean_deg.min() - 1.5, straight.pelvic_tilt_mean_deg.max() + 1.5
    widest = 2.0 * straight.pelvic_tilt_range_deg.max()
    turn = _metrics(TURN, STATIC, tmp_path)
    assert len(turn) >= 6
    assert turn.pelvic_tilt_mean_deg.between(lo, hi).all(), turn.pelvic_tilt_mean_deg.tolist()
    assert (turn.pelvic_tilt_range_deg < widest).all(), turn.pelvic_tilt_range_deg.tolist()
    # with the Nexus outputs' fixed frame, the turn makes tilt into obliquity (the artefact)
    lab = _metrics(TURN, STATIC, tmp_path, "lab")
    assert not lab.pelvic_tilt_mean_deg.between(lo, hi).all()
    # lordosis is in the pelvis' own planes: the frame does not change it
    assert np.allclose(lab.lordosis_mean_deg, turn.lordosis_mean_deg, atol=1e-9, equal_nan=True)


def test_heading_follows_travel_and_takes_the_pelvis_facing_when_standing():
    t = np.arange(300) / 100.0
    path = np.stack([np.cos(0.3) * t, np.sin(0.3) * t, np.zeros_like(t)], axis=1)  # 1 m/s at 0.3 rad
    path[200:] = path[199]  # then standing still
    facing = np.tile([0.0, 1.0, 0.0], (300, 1))  # the pelvis faces lab +y throughout
    h = heading_frames(path, facing, t)
    psi = np.arctan2(h[:, 1, 0], h[:, 0, 0])
    assert np.allclose(psi[:140], 0.3, atol=1e-9)
    assert np.allclose(psi[260:], np.pi / 2, atol=1e-9)
    assert np.all(np.abs(np.diff(psi)) < 0.1)  # continuous through the stop
    assert np.allclose(h[:, :, 2], [0.0, 0.0, 1.0])
    # walking backwards (travel towards 0.3 - pi, facing 0.3): the frame keeps the pelvis' facing
    back = heading_frames(path[::-1].copy(), np.tile([np.cos(0.3), np.sin(0.3), 0.0], (300, 1)), t)
    assert np.allclose(np.arctan2(back[160:, 1, 0], back[160:, 0, 0]), 0.3, atol=1e-9)


def test_chain_frame_is_validated():
    from chainlab.config import ConfigError

    with pytest.raises(ConfigError, match="chain_frame"):
        StudyConfig.from_dict({"study": "s", "trials": "-", "gait": {"chain_frame": "pelvis"}})
