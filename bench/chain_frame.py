"""The chain's per-cycle measures of the default study in the lab and the heading frame.

    python bench/chain_frame.py [ROOT]      (default ROOT: data/biomechzoo)

Runs every Straight and Turn trial of ROOT through :func:`chainlab.pipeline.run_trial` twice
(``gait: chain_frame: lab`` and ``heading``) and prints the mean of each chain measure over
the cycles, per condition and frame, then per trial and side (bench/RESULTS.md).
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

import pandas as pd

from chainlab.config import StudyConfig
from chainlab.pipeline import run_trial
from chainlab.results import TrialRow

COLUMNS = ["pelvic_tilt_mean_deg", "pelvic_tilt_range_deg", "lordosis_mean_deg", "tibial_ir_excursion_lab_deg",
           "coupling_angle_mean_deg", "transfer_coefficient_lab"]


def main(root: Path) -> None:
    warnings.simplefilter("ignore")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for subject in sorted(p for p in root.iterdir() if p.is_dir()):
            static = next((subject / "Static").glob("*.c3d"))
            for condition in ("Straight", "Turn"):
                for dyn in sorted((subject / condition).glob("*.c3d")):
                    for frame in ("lab", "heading"):
                        config = StudyConfig.from_dict({"study": "s", "trials": "-", "gait": {"chain_frame": frame}})
                        res = run_trial(TrialRow(subject.name, condition, dyn.stem, static, dyn),
                                        Path(tmp) / f"{dyn.stem}_{frame}.h5", config)
                        m = res.metrics.assign(frame=frame, trial=dyn.stem, condition=condition)
                        rows.append(m)
    table = pd.concat(rows, ignore_index=True)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 20)
    print(f"{len(table) // 2} cycles; mean over cycles")
    print(table.groupby(["condition", "frame"])[COLUMNS].mean().round(2).to_string())
    print(table.groupby(["trial", "side", "frame"])[COLUMNS[:2] + COLUMNS[3:4]].mean().round(2).to_string())


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("data/biomechzoo"))
