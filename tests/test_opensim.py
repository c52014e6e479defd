"""OpenSim export: .trc markers and .mot ground reactions, read back by OpenSim and by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chainlab import read_c3d
from chainlab.io.opensim import export_trial, foot_loads, lab_to_opensim, plates_at_points, travel_axis, write_trc

from .conftest import STUDY

WALK = STUDY / "HC030A" / "Straight" / "HC030A05.c3d"
MARKERS = ["LASI", "RASI", "SACR", "LHEE", "RHEE", "LTOE", "RTOE", "LP1M"]


def _read_trc(path):
    """A small independent .trc reader: header fields, marker names, time, (n, M, 3)."""
    lines = path.read_text().split("\n")
    keys, values = lines[1].split("\t"), lines[2].split("\t")
    header = dict(zip(keys, values))
    names = [n for n in lines[3].split("\t")[2:] if n]
    rows = [r.split("\t") for r in lines[6:] if r.strip()]
    time = np.array([float(r[1]) for r in rows])
    xyz = np.array([[float(v) for v in r[2:2 + 3 * len(names)]] for r in rows])
    return header, names, time, xyz.reshape(len(rows), len(names), 3)


def test_rotation_to_y_up():
    """Lab Z becomes OpenSim Y; the forward axis X; Z = X x Y (right when walking forward)."""
    r = lab_to_opensim("y")
    np.testing.assert_allclose(r @ [0, 0, 1], [0, 1, 0])
    np.testing.assert_allclose(r @ [0, 1, 0], [1, 0, 0])
    np.testing.assert_allclose(r @ [1, 0, 0], [0, 0, 1])  # walking along +y, lab +x is the right
    np.testing.assert_allclose(lab_to_opensim("x") @ [0, 1, 0], [0, 0, -1])  # walking along +x, +y is left
    assert np.isclose(np.linalg.det(lab_to_opensim("-y")), 1.0)
    with pytest.raises(ValueError, match="forward"):
        lab_to_opensim("z")


def test_trc_by_hand(tmp_path):
    ds = read_c3d(WALK)
    paths = export_trial(ds, tmp_path, markers=MARKERS, units="m", forward="y", rename={"LP1M": "L_MT1"})
    header, names, time, xyz = _read_trc(paths["trc"])
    assert header["Units"] == "m" and int(header["NumFrames"]) == ds.sizes["frame"] and float(header["DataRate"]) == 100.0
    assert names == MARKERS[:-1] + ["L_MT1"]
    np.testing.assert_allclose(time, ds.time.values, atol=1e-6)
    lab = ds.markers.sel(marker=MARKERS).values
    np.testing.assert_allclose(xyz[..., 0], lab[..., 1], atol=1e-6)  # X = lab y
    np.testing.assert_allclose(xyz[..., 1], lab[..., 2], atol=1e-6)  # Y = lab z (up)
    np.testing.assert_allclose(xyz[..., 2], lab[..., 0], atol=1e-6)  # Z = lab x
    np.testing.assert_array_equal(np.isnan(xyz), np.isnan(lab))


def test_trc_gaps_are_nan(tmp_path):
    t = np.arange(5) / 100.0
    a = np.ones((5, 3))
    a[2] = np.nan
    path = write_trc(tmp_path / "g.trc", t, {"A": a}, units="mm")
    _, _, _, xyz = _read_trc(path)
    assert np.isnan(xyz[2]).all() and np.isfinite(xyz[[0, 1, 3, 4]]).all()
    assert path.read_text().split("\n")[8].endswith("\tNaN\tNaN\tNaN")  # the last marker's gap, at the line's end
    try:
        import opensim as osim  # optional: the test's first half runs without it
    except ImportError:
        return
    col = osim.TimeSeriesTableVec3(str(path)).getDependentColumn("A")
    back = np.array([[col[i][k] for k in range(3)] for i in range(5)])
    assert np.isnan(back[2]).all() and np.isfinite(back[[0, 1, 3, 4]]).all()  # OpenSim reads the gap as NaN


def test_walk_direction_found():
    assert travel_axis(read_c3d(WALK)) in ("y", "-y")


def test_two_plates_under_one_foot_and_timed_assignment():
    t = np.arange(4) / 100.0
    force = np.zeros((4, 2, 3))
    force[:, 0] = [0.0, 10.0, 300.0]
    force[:, 1] = [0.0, -5.0, 100.0]
    cop = np.zeros((4, 2, 3))
    cop[:, 0] = [0.1, 0.2, 0.0]
    cop[:, 1] = [0.5, 0.2, 0.0]
    free = np.zeros((4, 2, 3))
    free[:, :, 2] = 1.0
    loads = foot_loads(t, force, cop, free, [1, 2], {1: "Left", 2: [("Left", 0.0, 0.015), ("Right", 0.015, 1.0)]})
    left, right = loads["l"], loads["r"]
    np.testing.assert_allclose(left["force"][:2], [[0, 5, 400]] * 2)
    np.testing.assert_allclose(left["point"][:2, 0], (0.1 * 300 + 0.5 * 100) / 400)
    np.testing.assert_allclose(left["torque"][:2, 2], 2.0)
    np.testing.assert_allclose(right["force"][2:], [[0, -5, 100]] * 2)
    np.testing.assert_allclose(right["point"][2:, 0], 0.5)
    np.testing.assert_allclose(right["force"][:2], 0.0)
    with pytest.raises(KeyError, match="plates"):
        foot_loads(t, force, cop, free, [1, 2], {3: "Left"})


def test_round_trip_through_opensim(tmp_path):
    """OpenSim's own adapters read the files into TimeSeriesTables equal to chainlab's arrays
    (plates as Nexus' events of HC030A05 place the feet: left on 1, right on 2)."""
    osim = pytest.importorskip("opensim")
    ds = read_c3d(WALK)
    paths = export_trial(ds, tmp_path, {1: "Left", 2: "Right"}, markers=MARKERS, units="mm", forward="auto")
    rot = lab_to_opensim(travel_axis(ds))

    trc = osim.TimeSeriesTableVec3(str(paths["trc"]))
    assert list(trc.getColumnLabels()) == MARKERS
    assert trc.getTableMetaDataAsString("Units") == "mm"
    np.testing.assert_allclose(np.array(trc.getIndependentColumn()), ds.time.values, atol=1e-6)
    ours = ds.markers.sel(marker=MARKERS).values @ rot.T * 1000.0
    back = np.array([[[trc.getDependentColumnAtIndex(j)[i][k] for k in range(3)] for j in range(len(MARKERS))]
                     for i in range(trc.getNumRows())])
    np.testing.assert_allclose(back, ours, atol=1e-5, equal_nan=True)

    mot = osim.TimeSeriesTable(str(paths["mot"]))
    vec = mot.packVec3(["x", "y", "z"])
    labels = list(vec.getColumnLabels())
    assert labels == ["r_ground_force_v", "r_ground_force_p", "r_ground_torque_",
                      "l_ground_force_v", "l_ground_force_p", "l_ground_torque_"]
    force, cop, free, plates = plates_at_points(ds)
    loads = foot_loads(ds.time.values, force, cop, free, plates.tolist(), {1: "Left", 2: "Right"})
    for j, label in enumerate(labels):
        foot, key = label[0], {"v": "force", "p": "point", "_": "torque"}[label[-1]]
        col = vec.getDependentColumnAtIndex(j)
        back = np.array([[col[i][k] for k in range(3)] for i in range(vec.getNumRows())])
        np.testing.assert_allclose(back, loads[foot][key] @ rot.T, atol=1e-4 * max(1.0, np.abs(back).max()), err_msg=label)
    # the vertical (OpenSim Y) force is the plates' total vertical ground reaction, body weight at mid-stance
    vy = np.array(mot.getDependentColumn("r_ground_force_vy").to_numpy()) + np.array(mot.getDependentColumn("l_ground_force_vy").to_numpy())
    np.testing.assert_allclose(vy, np.nansum(force[:, :, 2], axis=1), rtol=1e-6, atol=1e-3)
    assert vy.max() > 0.9 * ds.measurements.sel(measurement="Bodymass").item() * 9.81

    loads_xml = osim.ExternalLoads(str(paths["xml"]), True)
    assert loads_xml.getSize() == 2
    assert {loads_xml.get(i).getAppliedToBodyName() for i in range(2)} == {"calcn_r", "calcn_l"}


def test_export_command_round_trip_through_opensim(tmp_path, capsys):
    """``chainlab export TRIAL.c3d --opensim DIR --static S``: the plates' feet found by the
    kinetics' contact assignment (HC030A05: the right foot on plate 2, the left on plate 1, as
    Nexus' stored events say: right strike at frame 303, plate 2 loaded from 304; left strike
    at 355, plate 1 from 356), so the .mot read back by OpenSim equals the loads of that
    assignment within each contact (outside them, below the contact threshold, the export
    writes 0); the static's .trc is written beside it."""
    from chainlab.cli import main

    osim = pytest.importorskip("opensim")
    static = STUDY / "HC030A" / "Static" / "HC030A01.c3d"
    assert main(["export", str(WALK), "--opensim", str(tmp_path), "--static", str(static)]) == 0
    listed = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
    assert set(listed) == {"trc", "mot", "xml", "static_trc"}
    assert (tmp_path / "HC030A01.trc").exists() and (tmp_path / "HC030A05_grf.mot").exists()
    ds = read_c3d(WALK)
    rot = lab_to_opensim(travel_axis(ds))
    force, cop, free, plates = plates_at_points(ds)
    loads = foot_loads(ds.time.values, force, cop, free, plates.tolist(), {1: "Left", 2: "Right"})
    from chainlab.conventions import KINETICS_COP_THRESHOLD_N

    vec = osim.TimeSeriesTable(listed["mot"]).packVec3(["x", "y", "z"])
    outside = 0
    for j, label in enumerate(vec.getColumnLabels()):
        foot, key = label[0], {"v": "force", "p": "point", "_": "torque"}[label[-1]]
        col = vec.getDependentColumnAtIndex(j)
        back = np.array([[col[i][k] for k in range(3)] for i in range(vec.getNumRows())])
        ours = loads[foot][key] @ rot.T
        off = np.all(back == 0.0, axis=1) & np.any(ours != 0.0, axis=1)  # outside the foot's contacts
        assert (np.abs(loads[foot]["force"][off, 2]) < KINETICS_COP_THRESHOLD_N).all(), label
        outside += int(off.sum())
        np.testing.assert_allclose(back[~off], ours[~off], atol=1e-4 * max(1.0, np.abs(back).max()), err_msg=label)
    assert outside < 30
    trc = osim.TimeSeriesTableVec3(listed["static_trc"])
    assert trc.getNumRows() == read_c3d(static).sizes["frame"]
    assert main(["export", str(tmp_path / "x.h5"), "--opensim", str(tmp_path)]) == 2
    assert "expected a .c3d" in capsys.readouterr().err


def test_export_refuses_a_plate_mapping_it_cannot_read(tmp_path, capsys):
    """`--plates` is read as `chainlab kinematics --plates` reads it (chainlab.options.parse_plates):
    a side other than L, R or - is refused by name, before anything is written."""
    from chainlab.cli import main

    capture = Path(__file__).resolve().parents[1] / "data/biomechzoo/HC030A/Straight/HC030A05.c3d"
    assert main(["export", str(capture), "--opensim", str(tmp_path / "out"), "--plates", "1=x"]) == 2
    assert "--plates" in capsys.readouterr().err and not (tmp_path / "out").exists()
