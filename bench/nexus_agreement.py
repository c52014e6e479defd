"""RMS difference between chainlab's angles and Vicon Nexus' stored outputs, per trial.

    python bench/nexus_agreement.py [ROOT ...]    (default: data/biomechzoo and ../shared's)

Prints a Markdown table: one row per trial and output, RMS (deg) of x, y, z. TIBA leaves out
the frame at each switch of the pelvis' facing, where Nexus writes a value no rule explains.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

from chainlab import read_c3d
from chainlab.kinematics import compute_kinematics

ROOT = Path(__file__).resolve().parents[1]


def main(roots: list[Path]) -> None:
    warnings.simplefilter("ignore")
    seen = set()
    print("| trial | output | x | y | z |")
    print("|---|---|---|---|---|")
    worst: dict[str, np.ndarray] = {}
    for root in roots:
        for subject in sorted(p for p in root.iterdir() if p.is_dir()):
            static = read_c3d(next((subject / "Static").glob("*.c3d")))
            for cond in ("Straight", "Turn"):
                path = next((subject / cond).glob("*.c3d"))
                if path.name in seen:
                    continue
                seen.add(path.name)
                dyn = read_c3d(path)
                kin = compute_kinematics(dyn, static)
                for name in kin.output.values:
                    if name not in dyn.output.values:
                        continue
                    d = kin.angles.sel(output=name).values - dyn.model_outputs.sel(output=name).values
                    if name.endswith("TIBA"):  # Nexus' unexplained frame at each facing switch
                        skip = json.loads(kin.attrs["ofm_tiba_switch_frames"]).get(name, [])
                        d[np.isin(kin.frame.values, skip)] = np.nan
                    rms = np.sqrt(np.nanmean(d**2, axis=0))
                    worst[name] = np.fmax(worst.get(name, rms), rms)
                    print(f"| {path.stem} ({cond}) | {name} | {rms[0]:.1e} | {rms[1]:.1e} | {rms[2]:.1e} |")
    print("\n| output | max RMS x | y | z |\n|---|---|---|---|")
    for name, w in worst.items():
        print(f"| {name} | {w[0]:.1e} | {w[1]:.1e} | {w[2]:.1e} |")


if __name__ == "__main__":
    args = [Path(a) for a in sys.argv[1:]]
    default = [ROOT / "data" / "biomechzoo", ROOT.parent / "shared" / "data" / "c3d" / "biomechzoo"]
    main(args or [p for p in default if p.is_dir()])
