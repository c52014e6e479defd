"""Captures read with a lab's marker mapping (``lab_label: chainlab_label``).

The pipeline, ``chainlab agree`` and the study read every capture through :func:`read_capture`
with the mapping the command line (``--markers``), the study config (``markers:``) or the
sample sheet's ``markers`` column names; :func:`load_marker_mapping` turns that name (a preset
or a YAML file) into the dict that :func:`chainlab.read_c3d` takes as ``markers=``.

The reader applies the mapping (:mod:`chainlab.io.markersets`; Subject: prefixes stripped,
two labels mapped to one name: the later becomes ``NAME_2``) and records the entries applied
in ``attrs["marker_mapping"]``. Until that reader is in this tree, the same rules are applied
here after reading (:func:`_apply_mapping`).
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Mapping
from pathlib import Path

import xarray as xr

from chainlab.io import c3d as _c3d

try:  # the mapping reader of chainlab.io.markersets (presets, checked YAML)
    from chainlab.io import markersets as _markersets
except ImportError:  # TODO(io): remove this fallback once chainlab.io.markersets is merged
    _markersets = None

#: Whether read_c3d applies a mapping itself (``markers=``).
_READER_MAPS = "markers" in inspect.signature(_c3d.read_c3d).parameters


def load_marker_mapping(spec: str | os.PathLike | Mapping | None) -> dict[str, str] | None:
    """The mapping named by `spec`: a preset name or a YAML file (``LABEL: NAME`` lines), a
    dict as it is, None or "" for none. Raises ValueError naming the file or preset."""
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return None
    if isinstance(spec, Mapping):
        return {str(k): str(v) for k, v in spec.items()}
    if _markersets is not None:
        try:
            return _markersets.load_mapping(str(spec).strip())
        except FileNotFoundError as exc:
            raise ValueError(str(exc)) from None
    # TODO(io): chainlab.io.markersets.load_mapping replaces this (presets, duplicate keys refused)
    import yaml

    path = Path(str(spec).strip())
    if not path.is_file():
        raise ValueError(f"marker mapping {spec}: no such file (presets need chainlab.io.markersets)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: not a marker mapping ({exc})") from None
    if not isinstance(data, Mapping) or not data or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"{path}: expected a mapping of lab labels to chainlab labels (one 'LABEL: NAME' per line)")
    return {str(k): str(v) for k, v in data.items()}


def mapping_text(mapping: Mapping[str, str] | None) -> str:
    """A mapping as the outputs record it (sorted JSON; "" for none)."""
    return json.dumps(dict(sorted(mapping.items())), separators=(",", ":")) if mapping else ""


def _apply_mapping(ds: xr.Dataset, mapping: Mapping[str, str] | None) -> xr.Dataset:
    """The reader's mapping rules applied to a read capture (TODO(io): read_c3d does this)."""
    labels = [str(m) for m in ds.marker.values]
    names, applied, seen = [], {}, {}
    for label in labels:
        bare = label.rsplit(":", 1)[-1] if ":" in label else label
        new = (mapping or {}).get(bare, (mapping or {}).get(label, bare))
        if new != bare:
            applied[label] = new
        if new in seen:
            seen[new] += 1
            new = f"{new}_{seen[new]}"
        else:
            seen[new] = 1
        names.append(new)
    out = ds.assign_coords(marker=names) if names != labels else ds
    if mapping is not None:
        out.attrs = {**ds.attrs, "marker_mapping": json.dumps(applied, sort_keys=True)}
    return out


def read_capture(path, frames: slice | None = None, mapping: Mapping[str, str] | None = None) -> xr.Dataset:
    """:func:`chainlab.read_c3d` of `path` (`frames` of it) with the marker `mapping` applied."""
    kwargs = {} if frames is None else {"frames": frames}
    if _READER_MAPS:
        return _c3d.read_c3d(path, markers=dict(mapping) if mapping else None, **kwargs)
    # TODO(io): read_c3d(path, markers=mapping) once the io branch's reader is merged
    ds = _c3d.read_c3d(path, **kwargs)  # looked up at call time (a test may replace it)
    return _apply_mapping(ds, mapping) if mapping is not None or any(":" in str(m) for m in ds.marker.values) else ds


__all__ = ["load_marker_mapping", "mapping_text", "read_capture"]
