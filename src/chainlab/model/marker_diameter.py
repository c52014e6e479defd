"""The marker diameter behind a capture's stored Plug-in Gait outputs, when no parameter gives it.

Nexus 1.4 does not write ``MarkerDiameter`` to PROCESSING, and Vicon Workstation writes it as
``Marker Diameter``. The knee and ankle joint centres Nexus writes as the femur and tibia bone
origins (``?FEO``, ``?TIO``) lie ``width / 2 + diameter / 2`` from ``?KNE`` / ``?ANK`` on every
frame (the chord function, :func:`chainlab.model.pig.chord`), so the diameter Nexus used can
be read back from them. On the Nexus 1.4 flat-foot capture (PiG_Motion-FlatFoot-Full) this
gives 16 mm, with which Plug-in Gait equals the stored angles to float32 precision (14 mm, the
default, leaves the hip 0.17 deg and the foot 0.5 deg RMS off).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from chainlab.model.pig import SIDES

#: Other names files use for a value (Vicon Workstation writes "Marker Diameter").
ALIASES = {"Marker Diameter": "MarkerDiameter"}
#: Joint centres Nexus writes as Plug-in Gait bone origins: (point, marker, width) per side.
_CHORDS = (("FEO", "KNE", "KneeWidth"), ("TIO", "ANK", "AnkleWidth"))
#: Largest spread (mm) between the chord estimates of the marker radius for the diameter to be
#: taken from them: they agree to 1e-3 mm in every Nexus file seen (float32 storage); a larger
#: spread means the joint centres were not made by the chord function with the stored widths
#: (knee alignment device, medial markers, widths edited after processing).
DIAMETER_SPREAD_MM = 0.5


def processing_measurements(ds: xr.Dataset) -> dict[str, float]:
    """The values of `ds`'s PROCESSING group by their Nexus names (:data:`ALIASES` resolved)."""
    if "measurement" not in ds.coords:
        return {}
    return {ALIASES.get(str(k), str(k)): float(v)
            for k, v in zip(ds.measurement.values.tolist(), ds.measurements.values.tolist())}


def marker_diameter_from_outputs(ds: xr.Dataset, measurements: dict[str, float] | None = None
                                 ) -> tuple[float, str] | None:
    """The marker diameter (mm) behind the Plug-in Gait joint centres stored in `ds`, and how
    it was found; None when the file lacks them (or the widths), or they disagree.

    Per side, knee and ankle: the median over frames of |joint centre - marker| - width / 2 is
    one estimate of the radius; the diameter is twice their mean, rounded to 0.1 mm.
    `measurements` (Nexus names, mm) gives the widths; default: `ds`'s PROCESSING group.
    """
    m = measurements if measurements is not None else processing_measurements(ds)
    names = set(ds.marker.values.tolist()) if "marker" in ds.coords else set()
    radii = []
    for s in SIDES:
        for point, marker, width in _CHORDS:
            w = m.get(f"{s}{width}")
            if f"{s}{point}" not in names or f"{s}{marker}" not in names or not w or not np.isfinite(w):
                continue
            d = np.linalg.norm(ds.markers.sel(marker=f"{s}{point}").values
                               - ds.markers.sel(marker=f"{s}{marker}").values, axis=-1)
            if np.isfinite(d).any():
                radii.append(float(np.nanmedian(d)) * 1000.0 - w / 2.0)
    if len(radii) < 2 or max(radii) - min(radii) > DIAMETER_SPREAD_MM or min(radii) <= 0:
        return None
    diameter = round(2.0 * float(np.mean(radii)), 1)
    return diameter, (f"knee and ankle joint centres stored in {ds.attrs.get('source_file', 'the file')} "
                      f"(radius estimates {', '.join(f'{r:.3f}' for r in radii)} mm)")


def marker_diameter(ds: xr.Dataset | None, measurements: dict[str, float] | None = None
                    ) -> tuple[float, str] | None:
    """The diameter a file gives: ``Marker Diameter`` in PROCESSING, else the stored joint
    centres (:func:`marker_diameter_from_outputs`); None when neither."""
    if ds is None:
        return None
    raw = processing_measurements(ds)
    v = raw.get("MarkerDiameter")
    if v and np.isfinite(v):
        return float(v), f"{ds.attrs.get('source_file', 'the file')} PROCESSING"
    return marker_diameter_from_outputs(ds, {**raw, **(measurements or {})})


__all__ = ["ALIASES", "marker_diameter", "marker_diameter_from_outputs", "processing_measurements"]
