"""What a trial gives: its result (:class:`TrialResult`) or why it failed (:class:`TrialFailure`).

Below io and the pipeline: the trial file records both (:mod:`chainlab.io.trial_file`), the
pipeline (:mod:`chainlab.pipeline`) returns them, the study store lists the failures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

#: The stages of a trial, in order; a failure names the one it failed at.
STAGES = ("read", "kinematics", "gait")


@dataclass(frozen=True)
class TrialRow:
    """One row of the sample sheet: a trial and the captures it is computed from."""

    subject: str
    condition: str
    trial: str
    static: Path | None  # None: the calibration stored in the dynamic capture
    dynamic: Path
    plates: str = ""  # the optional column: plate-to-foot overrides, e.g. "1=R,2=L"
    markers: str = ""  # the optional column: the row's marker mapping (preset or YAML file); "" for the study's

    @classmethod
    def of(cls, row) -> TrialRow:
        """From a mapping with the sheet's columns (a sheet row, `chainlab trials --rows`); an
        empty `static` cell means none."""
        static = str(row.get("static") or "").strip()
        return cls(str(row["subject"]), str(row["condition"]), str(row["trial"]), Path(static) if static else None,
                   Path(row["dynamic"]), str(row.get("plates") or ""), str(row.get("markers") or "").strip())


@dataclass(frozen=True)
class TrialFailure:
    """Why a trial failed: the stage (:data:`STAGES`), the reason, and the trial file that
    records it (None until written)."""

    trial: str
    stage: str
    reason: str
    file: Path | None = None

    def record(self) -> dict:
        """The failure as the study's tables list it: trial, stage, reason."""
        return {"trial": self.trial, "stage": self.stage, "reason": self.reason}


@dataclass
class TrialResult:
    """A trial computed into its trial file (`path`): the sizes of its kinematics, and its
    events, cycles, per-cycle measures and the problems of its gait analysis (empty tables
    for a kinematics-only file), and its quality problems (rows of the problems table,
    :mod:`chainlab.problems`)."""

    path: Path
    n_frames: int
    outputs: int
    partial: bool
    models_left_out: str
    events: pd.DataFrame | None = None
    cycles: pd.DataFrame | None = None
    metrics: pd.DataFrame | None = None
    problems: list[str] = field(default_factory=list)
    quality_problems: list[dict] = field(default_factory=list)
