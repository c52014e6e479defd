"""The EVENT group (gait events stored by the capture software) and the PROCESSING group
(subject measurements) of a C3D capture, as Dataset variables."""

from __future__ import annotations

import numpy as np

from chainlab.conventions import MEASUREMENT_UNITS
from chainlab.io._c3dstructure import _Structure

def _add_events(st: _Structure, coords: dict, data_vars: dict, window: tuple[int, int] | None) -> None:
    """The EVENT group; with a frame window, only the events inside it."""
    p = st.params
    n = int(p.first("EVENT", "USED", 0) or 0)
    times = np.asarray(p.value("EVENT", "TIMES", []), dtype=float)
    labels = p.strings("EVENT", "LABELS")
    contexts = p.strings("EVENT", "CONTEXTS")
    if n and times.ndim == 2 and times.shape[0] >= 2:
        n = min(n, times.shape[1], len(labels))
        t = times[0, :n] * 60.0 + times[1, :n]
    else:
        n, t = 0, np.empty(0)
    contexts = (contexts + [""] * n)[:n]
    frame = np.rint(t * st.point_rate).astype(np.int64) + 1 if n else np.empty(0, np.int64)
    order = np.argsort(t, kind="stable")
    if window is not None:
        order = order[(frame[order] >= window[0]) & (frame[order] <= window[1])]
    coords["event_label"] = ("event", np.array(labels[:n], dtype=str)[order])
    coords["event_side"] = ("event", np.array(contexts, dtype=str)[order])
    coords["event_frame"] = ("event", frame[order], {"long_name": "frame number of the event"})
    coords["event_source"] = ("event", np.array(["c3d"] * len(order), dtype=str))
    data_vars["event_time"] = ("event", t[order], {"units": "s", "long_name": "event time"})


def _add_measurements(st: _Structure, coords: dict, data_vars: dict) -> None:
    group = st.params.raw.get("PROCESSING", {})
    names, values = [], []
    for name, entry in group.items():
        if name.startswith("__"):
            continue
        v = np.asarray(entry.get("value", []))
        if v.size == 1 and np.issubdtype(v.dtype, np.number):
            names.append(name)
            values.append(float(v.ravel()[0]))
    coords["measurement"] = ("measurement", np.array(names, dtype=str))
    coords["measurement_units"] = (
        "measurement",
        np.array([MEASUREMENT_UNITS.get(_strip_side(n), "") for n in names], dtype=str),
    )
    data_vars["measurements"] = (
        "measurement",
        np.array(values, dtype=float),
        {"units": "see measurement_units", "long_name": "subject measurements (PROCESSING)"},
    )


def _strip_side(name: str) -> str:
    return name[1:] if name[:1] in ("L", "R") and name[1:2].isupper() else name
