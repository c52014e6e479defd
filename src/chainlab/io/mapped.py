"""Captures read with a lab's marker mapping (``lab_label: chainlab_label``).

The pipeline, ``chainlab agree`` and the study read every capture through :func:`read_capture`
with the mapping the command line (``--markers``), the study config (``markers:``) or the
sample sheet's ``markers`` column names; :func:`load_marker_mapping` turns that name (a preset
or a YAML file, :func:`chainlab.io.markersets.load_mapping`) into the dict that
:func:`chainlab.read_c3d` takes as ``markers=``. The reader applies it (Subject: prefixes
stripped, two labels mapped to one name: the later becomes ``NAME_2``) and records the entries
applied in ``attrs["marker_mapping"]``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import xarray as xr

from chainlab.io import c3d as _c3d
from chainlab.io import markersets


def load_marker_mapping(spec: str | os.PathLike | Mapping | None) -> dict[str, str] | None:
    """The mapping named by `spec`: a preset name or a YAML file (``LABEL: NAME`` lines), a
    dict as it is, None or "" for none. Raises ValueError naming the file or preset."""
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return None
    if isinstance(spec, Mapping):
        return {str(k): str(v) for k, v in spec.items()}
    try:
        return markersets.load_mapping(str(spec).strip())
    except FileNotFoundError as exc:
        raise ValueError(str(exc)) from None


def mapping_text(mapping: Mapping[str, str] | None) -> str:
    """A mapping as the outputs record it (sorted JSON; "" for none)."""
    return json.dumps(dict(sorted(mapping.items())), separators=(",", ":")) if mapping else ""


def read_capture(path, frames: slice | None = None, mapping: Mapping[str, str] | None = None) -> xr.Dataset:
    """:func:`chainlab.read_c3d` of `path` (`frames` of it) with the marker `mapping` applied."""
    kwargs = {} if frames is None else {"frames": frames}
    # looked up at call time (a test may replace read_c3d)
    return _c3d.read_c3d(path, markers=dict(mapping) if mapping else None, **kwargs)


__all__ = ["load_marker_mapping", "mapping_text", "read_capture"]
