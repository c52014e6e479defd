"""A summary of one capture: what `chainlab info` prints."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from chainlab.io.c3d import read_c3d


def summarize(
    path: str | os.PathLike, *, markers: Mapping[str, str] | str | os.PathLike | None = None
) -> dict[str, Any]:
    """Summarise one C3D capture as plain JSON-ready values.

    `markers`: a marker mapping, preset name or YAML file, as for :func:`chainlab.read_c3d`.
    Raises :class:`chainlab.C3DError` when the file cannot be read.
    """
    ds = read_c3d(path, markers=markers)
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
        **_label_changes(a),
    }


def _label_changes(a: Mapping[str, Any]) -> dict[str, Any]:
    """The subject prefix stripped and the marker mapping applied, when there were any."""
    out: dict[str, Any] = {}
    if a.get("marker_prefix"):
        out["marker_prefix"] = a["marker_prefix"]
    if "marker_mapping" in a:
        out["marker_mapping"] = json.loads(a["marker_mapping"])
    return out


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
    if s.get("marker_prefix"):
        lines.append(f"  prefix       {s['marker_prefix']}: stripped from the point labels")
    if "marker_mapping" in s:
        mapped = [f"{k}->{v}" for k, v in s["marker_mapping"].items() if k.rsplit(":", 1)[-1] != v]
        lines.append(f"  mapping      {len(mapped)} marker(s) renamed: {_names(mapped) if mapped else '-'}")
    for w in s["warnings"]:
        lines.append(f"  warning      {w}")
    return "\n".join(lines)


def _names(names: list[str], n: int = 12) -> str:
    return " ".join(names[:n]) + (f" ... (+{len(names) - n})" if len(names) > n else "")
