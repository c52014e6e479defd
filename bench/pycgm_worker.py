"""pyCGM's side of bench/vs_pycgm.py: run inside the pyCGM environment, never the project's.

    PYCGM_PYTHON bench/pycgm_worker.py WORKDIR DYNAMIC.c3d STATIC.c3d SUBJECT.vsk REPEAT OUT.npz

WORKDIR holds the patched copy of pyCGM (WORKDIR/pyCGM_Single, made by vs_pycgm.py). Loads the
trials and subject measurements once (pyCGM's pycgmIO), then times, REPEAT times, pyCGM's
calibration (pycgmStatic.getStatic) and its per-frame model (pycgmCalc.calcAngles) on the
loaded data. Writes the angles of the last run (frames x 19 outputs x 3, degrees, pyCGM's
order: pycgmIO.writeResult's labels) and the times (s) to OUT.npz; then, untimed, the angles
with pyCGM's lab axes (its `GCS`, identity: a walk along +X, and not settable from its command
line) set for a walk along +Y, the axes pyCGM's own source leaves commented out in
pyCGM.JointAngleCalc; and the same with Nexus' static foot offsets (the .vsk's, as in a Nexus
.vsk) in place of pyCGM's own. Imports only the standard library, NumPy and pyCGM.
"""

import contextlib
import io
import sys
import time

import numpy as np

# the static foot offsets (radians): pyCGM computes them from the static trial; a Nexus .vsk has
# Nexus' own, which pyCGM's command line does not use
OFFSETS = ("RightStaticRotOff", "RightStaticPlantFlex", "LeftStaticRotOff", "LeftStaticPlantFlex")
LABELS = ("Pelvis", "R Hip", "L Hip", "R Knee", "L Knee", "R Ankle", "L Ankle", "R Foot", "L Foot",
          "Head", "Thorax", "Neck", "Spine", "R Shoulder", "L Shoulder", "R Elbow", "L Elbow",
          "R Wrist", "L Wrist")


def main(workdir, dynamic, static, vsk_path, repeat, out):
    sys.path.insert(0, workdir)
    with contextlib.redirect_stdout(io.StringIO()):  # pyCGM prints which loader it uses
        from pyCGM_Single import pycgmCalc, pycgmIO, pycgmStatic
        t = time.perf_counter()
        motion = pycgmIO.loadData(dynamic)
        static_data = pycgmIO.loadData(static)
        keys, values = pycgmIO.loadVSK(vsk_path)
        vsk = pycgmIO.createVskDataDict(keys, values)
        load_s = time.perf_counter() - t
    static_s, frames_s = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        cal = pycgmStatic.getStatic(static_data, vsk, False)
        t1 = time.perf_counter()
        result = pycgmCalc.calcAngles(motion, vsk=cal, splitAnglesAxis=False, formatData=False)
        t2 = time.perf_counter()
        static_s.append(t1 - t)
        frames_s.append(t2 - t1)
    angles = _angles(result, len(motion))
    cal["GCS"] = [[0, 1, 0], [-1, 0, 0], [0, 0, 1]]
    angles_y = _calc(pycgmCalc, motion, cal)
    own = {k: float(cal[k]) for k in OFFSETS}
    cal.update({k: vsk[k] for k in OFFSETS})
    angles_y_nexus = _calc(pycgmCalc, motion, cal)
    np.savez(out, angles=angles, angles_gcs_y=angles_y, angles_gcs_y_nexus_offsets=angles_y_nexus,
             labels=np.array(LABELS), load_s=load_s, static_s=static_s, frames_s=frames_s,
             static_frames=len(static_data), offsets=np.array([[own[k], vsk[k]] for k in OFFSETS]))


def _calc(pycgmCalc, motion, cal):
    result = pycgmCalc.calcAngles(motion, vsk=cal, splitAnglesAxis=False, formatData=False)
    return _angles(result, len(motion))


def _angles(result, frames):
    return np.asarray(result, dtype=float)[:, : 3 * len(LABELS)].reshape(frames, len(LABELS), 3)


if __name__ == "__main__":
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    main(*sys.argv[1:5], int(sys.argv[5]), sys.argv[6])
