"""Subject measurements for the models: from the C3D PROCESSING group, or from config.

Precedence: values given in config (``overrides``) win, then the static trial's PROCESSING
group, then the dynamic trial's. Lengths are in millimetres and offsets in radians, as Vicon
Nexus stores them (``docs/conventions.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import xarray as xr

from chainlab.errors import ModelInputError
from chainlab.model.marker_diameter import marker_diameter
from chainlab.subject_values import PIG_OPTIONAL, PIG_REQUIRED


def from_dataset(ds: xr.Dataset | None) -> dict[str, float]:
    """The values of `ds`'s PROCESSING group by their names in the file (empty without one)."""
    if ds is None or "measurement" not in ds.coords:
        return {}
    return {str(k): float(v) for k, v in zip(ds.measurement.values, ds.measurements.values)}


def resolve(
    static: xr.Dataset | None,
    dynamic: xr.Dataset | None = None,
    overrides: Mapping[str, float] | None = None,
    required: Iterable[str] = PIG_REQUIRED,
    optional: Mapping[str, float] = PIG_OPTIONAL,
    trial: str = "",
) -> tuple[dict[str, float], dict[str, str]]:
    """Measurements and where each came from ('config', 'static', 'dynamic', 'default').

    Raises
    ------
    ModelInputError
        Naming every required measurement that none of the sources has (a value of 0 or
        NaN counts as missing for a required one).
    """
    sources = [("config", dict(overrides or {})), ("static", from_dataset(static)),
               ("dynamic", from_dataset(dynamic))]
    values: dict[str, float] = {}
    origin: dict[str, str] = {}
    for name in list(required) + list(optional):
        for i, (label, src) in enumerate(sources):
            v = src.get(name)
            if v is not None and np.isfinite(v) and (v != 0 or name not in required):
                # an optional value whose neutral is 0 (an offset, a distance "not measured"):
                # a file's 0 does not hide another file's value (a static processed before
                # the offsets were set, and the walk processed with them); the config's 0 does
                later = [w for _, s in sources[i + 1:] if (w := s.get(name)) is not None and np.isfinite(w) and w != 0]
                if v == 0 and label != "config" and optional.get(name) == 0.0 and later:
                    continue
                values[name], origin[name] = float(v), label
                break
        else:
            if name in optional:
                values[name], origin[name] = float(optional[name]), "default"
    if origin.get("MarkerDiameter") == "default":  # the diameter a file gives (marker_diameter.py)
        for label, ds in (("static", static), ("dynamic", dynamic)):
            found = marker_diameter(ds, values)
            if found is not None:
                values["MarkerDiameter"], origin["MarkerDiameter"] = found[0], f"{label}: {found[1]}"
                break
    missing = [n for n in required if n not in values]
    if missing:
        where = trial or (static.attrs.get("source_file", "") if static is not None else "")
        raise ModelInputError(
            f"{where}: subject measurement(s) {', '.join(missing)} missing from the static and "
            "dynamic trials' PROCESSING group; give them in the study's subjects table (config key subjects) "
            "or with chainlab kinematics --subject NAME=VALUE"
        )
    return values, origin
