"""A summary of one capture: what `chainlab info` prints."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import xarray as xr

from chainlab.io.c3d import read_c3d


def summarize(path: str | os.PathLike) -> dict[str, Any]:
    """Summarise one C3D capture as plain JSON-ready values.

    Raises :class:`chainlab.C3DError` when the file cannot be read.
    """
    ds = read_c3d(path)
    return summarize_dataset(ds)


def summarize_dataset(ds: xr.Dataset) -> dict[str, Any]:
    a = ds.attrs
    frames = int(ds.sizes["frame"])
    rate = float(a["point_rate"])
    markers = ds.markers.values
    valid = np.isfinite(markers[..., 0])
    return {
        "file": a["source_path"],
        "sha256": a["source_sha256"],
        "system": {
            "manufacturer": a["manufacturer"],
            "software": a["software"],
            "version": a["software_version"],
            "processor": a["processor"],
            "storage": a["storage"],
        },
        "subject": a["subject"],
        "frames": frames,
        "first_frame": int(a["first_frame"]),
        "point_rate": rate,
        "analog_rate": float(a["analog_rate"]),
        "duration_s": frames / rate if rate else None,
        "point_units_in_file": a["point_units_in_file"],
        "markers": [
            {"name": str(m), "valid_fraction": round(float(valid[:, i].mean()), 4) if frames else 0.0}
            for i, m in enumerate(ds.marker.values)
        ],
        "model_outputs": [
            {"name": str(n), "kind": str(k), "units": str(u)}
            for n, k, u in zip(ds.output.values, ds.output_kind.values, ds.output_units.values)
        ],
        "analog_channels": [
            {"name": str(n), "units": str(u)} for n, u in zip(ds.channel.values, ds.channel_units.values)
        ],
        "plates": [
            {
                "plate": int(p),
                "type": int(t),
                "peak_vertical_force_N": _peak(ds.plate_force.sel(plate=p, axis="z").values),
            }
            for p, t in zip(ds.plate.values, ds.plate_type.values)
        ],
        "events": [
            {"label": str(lab), "side": str(side), "time_s": round(float(t), 4), "frame": int(f)}
            for lab, side, t, f in zip(
                ds.event_label.values, ds.event_side.values, ds.event_time.values, ds.event_frame.values
            )
        ],
        "measurements": {
            str(n): {"value": float(v), "units": str(u)}
            for n, v, u in zip(ds.measurement.values, ds.measurements.values, ds.measurement_units.values)
        },
        "warnings": list(a["read_warnings"]),
    }


def _peak(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return round(float(np.max(np.abs(finite))), 1) if finite.size else None


def format_summary(s: dict[str, Any]) -> str:
    """The human-readable form of :func:`summarize`."""
    sysinfo = s["system"]
    maker, software = sysinfo["manufacturer"], sysinfo["software"]
    if maker and software.lower().startswith(maker.lower()):
        maker = ""  # "Vicon" + "Vicon Nexus"
    system = " ".join(x for x in (maker, software, sysinfo["version"]) if x)
    dur = f"{s['duration_s']:.2f} s" if s["duration_s"] is not None else "unknown duration"
    lines = [
        s["file"],
        f"  system       {system or 'unknown'} ({sysinfo['processor']}, {sysinfo['storage']} storage)",
        f"  subject      {s['subject'] or '-'}",
        f"  frames       {s['frames']} from frame {s['first_frame']} at {s['point_rate']:g} Hz ({dur})",
        f"  analogs      {len(s['analog_channels'])} channels at {s['analog_rate']:g} Hz",
        f"  markers      {len(s['markers'])}: {_names([m['name'] for m in s['markers']])}",
    ]
    kinds: dict[str, list[str]] = {}
    for o in s["model_outputs"]:
        kinds.setdefault(o["kind"], []).append(o["name"])
    if kinds:
        lines.append(f"  model outputs {sum(map(len, kinds.values()))}:")
        lines += [f"    {k:<10s} {len(v):3d}: {_names(v)}" for k, v in kinds.items()]
    else:
        lines.append("  model outputs none")
    if s["plates"]:
        plates = ", ".join(
            f"#{p['plate']} TYPE {p['type']} (peak Fz "
            + (f"{p['peak_vertical_force_N']} N)" if p["peak_vertical_force_N"] is not None else "n/a)")
            for p in s["plates"]
        )
        lines.append(f"  plates       {plates}")
    else:
        lines.append("  plates       none")
    if s["events"]:
        ev = ", ".join(f"{e['side']} {e['label']} @{e['time_s']:.2f}s" for e in s["events"])
        lines.append(f"  events       {len(s['events'])}: {ev}")
    else:
        lines.append("  events       none")
    meas = s["measurements"]
    if meas:
        shown = [
            f"{k} {v['value']:g}{(' ' + v['units']) if v['units'] else ''}"
            for k, v in list(meas.items())[:12]
        ]
        more = f", ... ({len(meas) - 12} more)" if len(meas) > 12 else ""
        lines.append(f"  measurements {', '.join(shown)}{more}")
    for w in s["warnings"]:
        lines.append(f"  warning      {w}")
    return "\n".join(lines)


def _names(names: list[str], n: int = 12) -> str:
    return " ".join(names[:n]) + (f" ... (+{len(names) - n})" if len(names) > n else "")
