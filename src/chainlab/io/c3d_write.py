"""Writing C3D files: markers, analog channels, TYPE-2 force plates, events, measurements.

ezc3d writes the header and parameter section (from a one-frame template); the data section
is then streamed with NumPy, chunk by chunk, so captures of any length are written in bounded
memory. Captures longer than 65,535 frames carry their length in TRIAL:ACTUAL_START_FIELD /
ACTUAL_END_FIELD (as Vicon writes them), which :func:`chainlab.read_c3d` reads. Floats,
Intel byte order, millimetres; a marker that is NaN is written as a gap (residual -1).
The file appears atomically when complete.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chainlab.io import _c3dformat as fmt
from chainlab.io.store import atomic_path


@dataclass
class PlateSpec:
    """A TYPE-2 plate lying in the floor with its axes along the lab's (z up), m."""

    centre: Sequence[float]  # (x, y) of the surface centre, m
    size: Sequence[float] = (0.464, 0.508)  # x, y extent, m
    channels: Sequence[int] = ()  # 1-based analog channels Fx Fy Fz Mx My Mz

    def corners(self) -> np.ndarray:
        cx, cy = self.centre
        hx, hy = self.size[0] / 2.0, self.size[1] / 2.0
        # c1 - c2 = +x, c1 - c4 = +y: the plate frame is the lab frame (z = x × y up)
        return np.array([[cx + hx, cy + hy, 0.0], [cx - hx, cy + hy, 0.0],
                         [cx - hx, cy - hy, 0.0], [cx + hx, cy - hy, 0.0]])


def plate_channels(force: np.ndarray, cop: np.ndarray, free_moment: np.ndarray, plate: PlateSpec) -> np.ndarray:
    """Fx Fy Fz (N) and Mx My Mz (N·mm) about the surface centre that give back the ground
    reaction `force` (S, 3), centre of pressure `cop` (S, 3, lab m, NaN when unloaded) and
    vertical free moment (S,) N·m, as :func:`chainlab.io.forceplates.plate_wrench` reads them."""
    c = np.asarray(plate.centre, float)
    px = np.nan_to_num(cop[:, 0] - c[0])
    py = np.nan_to_num(cop[:, 1] - c[1])
    fx, fy, fz = force.T
    mx = py * fz
    my = -px * fz
    mz = free_moment + px * fy - py * fx
    return np.stack([fx, fy, fz, mx * 1000.0, my * 1000.0, mz * 1000.0], axis=1)


@dataclass
class C3DContent:
    """What :func:`write_c3d` writes besides the data."""

    labels: Sequence[str]
    rate: float
    n_frames: int
    analog_labels: Sequence[str] = ()
    analog_units: Sequence[str] = ()
    analog_ratio: int = 0  # analog samples per frame
    plates: Sequence[PlateSpec] = ()
    events: Sequence[tuple[str, str, float]] = ()  # (context, label, time s)
    measurements: Mapping[str, float] = field(default_factory=dict)  # PROCESSING, Nexus units
    subject: str = ""
    description: str = ""


def write_c3d(path: str | os.PathLike, content: C3DContent,
              chunks: Iterable[tuple[np.ndarray, np.ndarray | None]]) -> Path:
    """Write a C3D file. `chunks` yields (markers (k, M, 3) m, analogs (k·ratio, C) or None)
    for consecutive frames, `content.n_frames` in all."""
    import ezc3d

    path = Path(path)
    n, labels = int(content.n_frames), list(content.labels)
    ratio = int(content.analog_ratio) if content.analog_labels else 0
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [float(content.rate)]
    c["parameters"]["POINT"]["UNITS"]["value"] = ["mm"]
    c["parameters"]["POINT"]["LABELS"]["value"] = tuple(labels)
    c["parameters"]["POINT"]["DESCRIPTIONS"]["value"] = tuple([""] * len(labels))
    c["data"]["points"] = np.zeros((4, len(labels), 1))
    if ratio:
        c["parameters"]["ANALOG"]["RATE"]["value"] = [float(content.rate * ratio)]
        c["parameters"]["ANALOG"]["LABELS"]["value"] = tuple(content.analog_labels)
        c["parameters"]["ANALOG"]["UNITS"]["value"] = tuple(content.analog_units)
        c["data"]["analogs"] = np.zeros((1, len(content.analog_labels), ratio))
    if content.plates:
        fp = c["parameters"]["FORCE_PLATFORM"]
        k = len(content.plates)
        fp["USED"]["value"] = [k]
        fp["TYPE"]["value"] = [2] * k
        fp["ZERO"]["value"] = [1, 0]
        fp["CORNERS"]["value"] = (np.stack([p.corners() for p in content.plates]) * 1000.0).transpose(2, 1, 0)
        fp["ORIGIN"]["value"] = np.zeros((3, k))
        fp["CHANNEL"]["value"] = np.array([list(p.channels) for p in content.plates], dtype=int).T
        fp["CAL_MATRIX"]["value"] = np.zeros((6, 6, 0))
    if content.events:
        times = np.array([[t // 60.0, t - 60.0 * (t // 60.0)] for _, _, t in content.events]).T
        c.add_parameter("EVENT", "USED", [len(content.events)])
        c.add_parameter("EVENT", "CONTEXTS", [e[0] for e in content.events])
        c.add_parameter("EVENT", "LABELS", [e[1] for e in content.events])
        c.add_parameter("EVENT", "DESCRIPTIONS", [e[1] for e in content.events])
        c.add_parameter("EVENT", "SUBJECTS", [content.subject] * len(content.events))
        c.add_parameter("EVENT", "TIMES", times)
    for name, value in content.measurements.items():
        c.add_parameter("PROCESSING", name, [float(value)])
    if content.subject:
        c.add_parameter("SUBJECTS", "NAMES", [content.subject])
        c.add_parameter("SUBJECTS", "USED", [1])
    c.add_parameter("TRIAL", "ACTUAL_START_FIELD", [1, 0])
    c.add_parameter("TRIAL", "ACTUAL_END_FIELD", [n % 65536, n // 65536])
    with atomic_path(path) as tmp:
        template = Path(str(tmp) + ".template.c3d")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c.write(str(template))
        raw = bytearray(template.read_bytes())
        template.unlink()
        _patch_frame_count(raw, n)
        data_start = (int.from_bytes(raw[16:18], "little") - 1) * 512
        written = 0
        with open(tmp, "wb") as f:
            f.write(raw[:data_start])
            for markers, analogs in chunks:
                k = len(markers)
                pts = np.zeros((k, len(labels), 4), np.float32)
                gap = ~np.isfinite(markers).all(axis=-1)
                pts[..., :3] = np.where(gap[..., None], 0.0, markers * 1000.0)
                pts[..., 3] = np.where(gap, -1.0, 0.0)
                parts = [pts.reshape(k, -1)]
                if ratio:
                    parts.append(np.asarray(analogs, np.float32).reshape(k, -1))
                f.write(np.concatenate(parts, axis=1).astype("<f4").tobytes())
                written += k
            f.write(b"\0" * (-f.tell() % 512))
        if written != n:
            raise ValueError(f"{path}: {written} frames written, {n} announced")
    return path


def _patch_frame_count(raw: bytearray, n: int) -> None:
    """Header word 3 and POINT:FRAMES hold the frame count (65535 when longer; TRIAL has it)."""
    raw[8:10] = min(n, 65535).to_bytes(2, "little")
    lay = fmt.read_layout(bytes(raw), len(raw))
    frames = fmt.find(lay, "POINT", "FRAMES")
    at = lay.param_start + frames.data_pos
    raw[at:at + 2] = min(n, 65535).to_bytes(2, "little")


__all__ = ["C3DContent", "PlateSpec", "plate_channels", "write_c3d"]
