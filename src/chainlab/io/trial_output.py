"""A trial's results as the study store reads them: its tables at once, its time series when asked.

The study store (:mod:`chainlab.io.study_store`) is assembled from many trials, in memory
(``chainlab study``) or from the trial outputs of the workflow's trial step (``chainlab
store``). Both arrive here as the same view:

* :class:`MemoryTrial` wraps a :class:`chainlab.study.TrialResult`;
* :class:`TrialFile` reads a trial output (:func:`chainlab.study.write_trial_output`, or the
  chunked writer of ``chainlab trial``) with h5py: opening it reads its attributes, its
  tables (events, cycles, per-cycle measures) and its markers' residuals (for their quality:
  0.37 MB of float32 for 2,000 frames of 46 markers, then dropped); the angles, plate forces and cycle
  curves are read when the store writes them, one trial at a time. The store's memory is
  therefore that of its tables, whatever the study's frames.

Both give the same store (tests/test_workflow.py); its contents do not depend on the way in.
A trial output that lacks what the store needs, or whose arrays disagree with its tables,
raises ValueError naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

CYCLE_COLUMNS = ["side", "cycle", "start", "foot_off", "end", "stride_time", "stance"]


def marker_quality(residuals: np.ndarray | None) -> np.ndarray:
    """(3, marker) quality of one trial's markers from its (frame, marker) residuals (m):
    mean residual (mm) over the frames where the marker is seen, % of frames where it is
    missing, and the number of gaps (runs of missing frames); NaN without frames."""
    n = 0 if residuals is None else residuals.shape[1]
    out = np.full((3, n), np.nan)
    if residuals is None or residuals.shape[0] == 0:
        return out
    for j in range(n):
        x = residuals[:, j]
        missing = np.isnan(x)
        out[0, j] = float(np.mean(x[~missing])) * 1000.0 if (~missing).any() else np.nan
        out[1, j] = 100.0 * missing.mean()
        out[2, j] = int(np.sum(missing[1:] & ~missing[:-1]) + missing[0])
    return out


class TrialView:
    """What the study store needs of a trial (attributes set by the subclasses)."""

    trial: str
    subject: str
    condition: str
    dynamic: Path
    static: Path
    source_sha256: str
    static_sha256: str
    problems: list
    outputs: list[str]        # angle outputs (the kinematics' `output`)
    n_frames: int
    n_plates: int
    n_analog: int
    markers: list[str]        # markers with residuals ([] without)
    quality: np.ndarray       # (3, markers): marker_quality of the residuals
    events: pd.DataFrame
    cycles: pd.DataFrame
    metrics: pd.DataFrame
    curve_variables: list[str]

    # the time series, read when asked (each array on its own: every one is read once per store)
    def angles(self) -> np.ndarray:          # (frame, output, axis) deg
        raise NotImplementedError

    def frame(self) -> np.ndarray:           # frame numbers
        raise NotImplementedError

    def time(self) -> np.ndarray:            # (frame,) s
        raise NotImplementedError

    def plate_vertical(self) -> np.ndarray:  # (analog_sample, plate) N
        raise NotImplementedError

    def analog_time(self) -> np.ndarray:     # (analog_sample,) s
        raise NotImplementedError

    def curves(self) -> np.ndarray:          # (cycle, variable, percent) deg
        raise NotImplementedError

    def angle_curves(self, joints: list[str], points: int) -> np.ndarray:
        """(cycle, joint, axis, percent) of every angle output on the cycle's side."""
        from chainlab.gait.metrics import angle_curves

        kin = xr.Dataset({"angles": (("frame", "output", "axis"), self.angles())},
                         coords={"output": self.outputs, "time": ("frame", self.time())})
        return angle_curves(kin, self.cycles, joints, points).values


class MemoryTrial(TrialView):
    """A :class:`chainlab.study.TrialResult` in memory."""

    def __init__(self, t):
        self._t = t
        kin, cap, g = t.kinematics, t.capture, t.gait
        self.trial, self.subject, self.condition = t.trial, t.subject, t.condition
        self.dynamic, self.static = Path(t.dynamic), Path(t.static)
        self.source_sha256 = cap.attrs["source_sha256"]
        self.static_sha256 = kin.attrs.get("static_sha256", "")
        self.problems = list(g.problems)
        self.outputs = [str(o) for o in kin.output.values]
        self.n_frames = int(kin.sizes["frame"])
        self.n_plates = int(cap.sizes.get("plate", 0))
        self.n_analog = int(cap.sizes.get("analog_sample", 0)) if self.n_plates else 0
        if "residuals" in cap:
            self.markers = [str(m) for m in cap.marker.values]
            self.quality = marker_quality(cap.residuals.transpose("frame", "marker").values)
        else:
            self.markers, self.quality = [], np.zeros((3, 0))
        self.events, self.cycles, self.metrics = g.events, g.cycles, g.metrics
        self.curve_variables = [str(v) for v in g.curves["variable"].values]

    def angles(self):
        return self._t.kinematics.angles.transpose("frame", "output", "axis").values

    def frame(self):
        return self._t.kinematics.frame.values

    def time(self):
        return self._t.kinematics.time.values

    def plate_vertical(self):
        if not self.n_plates:
            return np.zeros((0, 0), np.float32)
        return self._t.capture.plate_force.sel(axis="z").transpose("analog_sample", "plate").values

    def analog_time(self):
        return self._t.capture.analog_time.values if self.n_plates else np.zeros(0)

    def curves(self):
        return self._t.gait.curves.transpose("cycle", "variable", "percent").values


def _strings(ds) -> np.ndarray:
    import h5py

    if h5py.check_string_dtype(ds.dtype) is not None:
        return np.asarray(ds.asstr()[()], dtype=object)
    return ds[()]


def _table(f, group: str, columns: list[str]) -> pd.DataFrame:
    g = f.get(group)
    if g is None or "row" not in g:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame({c: _strings(g[c]) for c in columns})


def _attr(a, key, default=""):
    v = a.get(key, default)
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.size == 1:
        return v.item()
    return v


class TrialFile(TrialView):
    """A trial output on disk (see the module docstring); :func:`open_trial_output`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self._open()
        except (KeyError, TypeError, AttributeError) as exc:  # h5py's "object ... doesn't exist" and the like
            raise ValueError(f"{self.path}: not a complete chainlab trial output ({exc}); "
                             "expected the output of `chainlab trial`") from None
        n = {"cycles": len(self.cycles), "metrics": len(self.metrics), "curves": self._shapes["curves/curves"][0]}
        if len(set(n.values())) > 1:
            raise ValueError(f"{self.path}: its cycles disagree: {n} rows; expected one per cycle in each")
        for name, shape in (("kinematics/angles", (self.n_frames, len(self.outputs), 3)),
                            ("curves/curves", (n["cycles"], len(self.curve_variables), None))):
            got = self._shapes[name]
            if len(got) != len(shape) or any(e is not None and g != e for g, e in zip(got, shape)):
                raise ValueError(f"{self.path}: {name} has shape {got}; expected {shape} (frames, outputs, "
                                 "axes / cycles, variables, points)")

    def _open(self):
        import h5py

        from chainlab.gait.events import COLUMNS as EVENT_COLUMNS
        from chainlab.gait.metrics import COLUMNS as METRIC_COLUMNS

        with h5py.File(self.path, "r") as f:
            needed = ["kinematics/time"] + (["plates/plate_force", "plates/axis"] if self.n_plates_in(f) else [])
            for name in needed:  # what the readers below and the store's will ask for (KeyError if absent)
                f[name]
            # the shapes the tables must agree with (checked in __init__)
            self._shapes = {n: f[n].shape for n in ("kinematics/angles", "curves/curves")}
            a = f.attrs
            self.trial, self.subject, self.condition = (str(_attr(a, k)) for k in ("trial", "subject", "condition"))
            self.dynamic, self.static = Path(_attr(a, "dynamic")), Path(_attr(a, "static"))
            self.settings = str(_attr(a, "settings"))
            self.problems = json.loads(_attr(a, "problems", "[]") or "[]")
            kin, plates = f["kinematics"], f["plates"]
            self.static_sha256 = str(_attr(kin.attrs, "static_sha256"))
            self.source_sha256 = str(_attr(plates.attrs, "source_sha256"))
            self.outputs = [str(o) for o in _strings(kin["output"])]
            self.n_frames = int(kin["frame"].shape[0])
            self.n_plates = self.n_plates_in(f)
            self.n_analog = int(plates["analog_time"].shape[0]) if self.n_plates else 0
            m = f.get("markers")
            if m is not None and "residuals" in m:
                self.markers = [str(x) for x in _strings(m["marker"])]
                self.quality = marker_quality(m["residuals"][()])
            else:
                self.markers, self.quality = [], np.zeros((3, 0))
            self.events = _table(f, "events", EVENT_COLUMNS)
            self.cycles = _table(f, "cycles", CYCLE_COLUMNS)
            self.metrics = _table(f, "metrics", METRIC_COLUMNS)
            self.curve_variables = [str(v) for v in _strings(f["curves/variable"])]

    @staticmethod
    def n_plates_in(f) -> int:
        p = f["plates"]
        return int(p["plate"].shape[0]) if "plate" in p else 0

    def _read(self, *names):
        import h5py

        try:
            with h5py.File(self.path, "r") as f:
                return [f[n][()] for n in names]
        except (OSError, KeyError) as exc:  # changed or removed since it was opened
            raise ValueError(f"{self.path}: cannot read {', '.join(names)}: {exc}") from None

    def angles(self):
        (a,) = self._read("kinematics/angles")
        return a

    def frame(self):
        (a,) = self._read("kinematics/frame")
        return a

    def time(self):
        (a,) = self._read("kinematics/time")
        return a

    def plate_vertical(self):
        if not self.n_plates:
            return np.zeros((0, 0), np.float32)
        import h5py

        try:
            with h5py.File(self.path, "r") as f:
                axes = [str(x) for x in _strings(f["plates/axis"])]
                return f["plates/plate_force"][:, :, axes.index("z")]
        except (OSError, KeyError, ValueError) as exc:
            raise ValueError(f"{self.path}: cannot read the plate forces: {exc}") from None

    def analog_time(self):
        if not self.n_plates:
            return np.zeros(0)
        (a,) = self._read("plates/analog_time")
        return a

    def curves(self):
        (c,) = self._read("curves/curves")
        return c


def open_trial_output(path: str | Path) -> TrialFile | dict:
    """A trial output's view, or its failure record ``{"trial", "stage", "reason"}``."""
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            a = f.attrs
            if _attr(a, "failed", 0):
                return {"trial": str(_attr(a, "trial")), "stage": str(_attr(a, "stage")),
                        "reason": str(_attr(a, "reason"))}
            missing = [g for g in ("kinematics", "plates", "events", "cycles", "metrics", "curves") if g not in f]
            if _attr(a, "title") != "chainlab trial" or missing:
                raise ValueError(f"{path}: not a chainlab trial output (title {_attr(a, 'title')!r}, "
                                 f"missing groups {missing}); expected the output of `chainlab trial`")
    except OSError as exc:
        raise OSError(f"{path}: cannot read the trial output: {exc}") from exc
    return TrialFile(path)


def as_view(t) -> TrialView:
    return t if isinstance(t, TrialView) else MemoryTrial(t)
