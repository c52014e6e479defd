"""RMS difference between chainlab's angles and Vicon Nexus' stored outputs, per trial.

    python bench/nexus_agreement.py [ROOT ...]    (default: data/biomechzoo and ../shared's)

Prints a Markdown table: one row per trial and output, RMS (deg) of x, y, z, then the largest
RMS per output over all trials (docs/kinematics.md's table). The comparison is
:func:`chainlab.agreement.agreement` (TIBA leaves out the frame at each switch of the pelvis'
facing, where Nexus writes a value no rule explains; frames Nexus marks invalid are left out).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from chainlab import read_c3d
from chainlab.agreement import agreement, largest
from chainlab.kinematics import compute_kinematics

ROOT = Path(__file__).resolve().parents[1]


def main(roots: list[Path]) -> None:
    warnings.simplefilter("ignore")
    seen = set()
    print("| trial | output | x | y | z |")
    print("|---|---|---|---|---|")
    tables = []
    for root in roots:
        for subject in sorted(p for p in root.iterdir() if p.is_dir()):
            static = read_c3d(next((subject / "Static").glob("*.c3d")))
            for cond in ("Straight", "Turn"):
                path = next((subject / cond).glob("*.c3d"))
                if path.name in seen:
                    continue
                seen.add(path.name)
                dyn = read_c3d(path)
                table = agreement(dyn, compute_kinematics(dyn, static))
                tables.append(table)
                for name, rows in table.groupby("output", sort=False):
                    x, y, z = rows.rms_deg.tolist()
                    print(f"| {path.stem} ({cond}) | {name} | {x:.1e} | {y:.1e} | {z:.1e} |")
    worst = largest(tables)
    print("\n| output | max RMS x | y | z |\n|---|---|---|---|")
    for name, rows in worst.groupby("output", sort=False):
        x, y, z = rows.rms_deg.tolist()
        print(f"| {name} | {x:.1e} | {y:.1e} | {z:.1e} |")


if __name__ == "__main__":
    args = [Path(a) for a in sys.argv[1:]]
    default = [ROOT / "data" / "biomechzoo", ROOT.parent / "shared" / "data" / "c3d" / "biomechzoo"]
    main(args or [p for p in default if p.is_dir()])
