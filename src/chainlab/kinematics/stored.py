"""Kinematics of a capture without its static trial: calibrated by what Vicon Nexus stored in
the capture's PROCESSING group (:mod:`chainlab.model.stored_calibration` reads it)."""

from __future__ import annotations

import json
from dataclasses import replace

import xarray as xr

from chainlab.errors import ModelInputError
from chainlab.kinematics import KinematicsOptions, compute_kinematics
from chainlab.model import ofm, pig
from chainlab.model.stored_calibration import static_stand_in, stored_calibration


def kinematics_from_stored(dynamic: xr.Dataset, options=None) -> xr.Dataset:
    """:func:`chainlab.kinematics.compute_kinematics` of `dynamic` without a static trial:
    calibrated by what its PROCESSING group stores.

    A requested model whose calibration is not stored is left out when ``options.partial``
    (named in ``models_left_out``), else :class:`~chainlab.errors.ModelInputError` names the
    values lacking. The output's ``calibration_source`` says the calibration was stored, and
    ``static_file`` is empty.
    """
    opt = options or KinematicsOptions()
    cal = stored_calibration(dynamic)
    name = dynamic.attrs.get("source_file", "dynamic trial")
    needs = {"pig": ("pig",), "ofm": ("pig", "ofm")}  # the OFM tibia needs Plug-in Gait's joint centres
    lacking = {}
    present = set(dynamic.marker.values.tolist())
    markers = {"pig": pig.DYNAMIC_MARKERS, "ofm": tuple(f"{s}{m}" for s in pig.SIDES for m in ofm.DYNAMIC)}
    for model in opt.models:
        if not set(markers.get(model, ())) <= present:
            continue  # the kinematics name the markers missing (or leave the model out)
        rest = [k for part in needs.get(model, ()) for k in cal.missing.get(part, []) if k not in opt.subject]
        if rest:
            lacking[model] = rest
    if lacking and not opt.partial:
        text = "; ".join(f"{m}: {', '.join(v[:6])}{' ...' if len(v) > 6 else ''}" for m, v in lacking.items())
        raise ModelInputError(f"{name}: no static trial and the calibration is not stored in its PROCESSING "
                              f"group ({text}); give the static trial or the values under `subject`")
    run = [m for m in opt.models if m not in lacking]
    out = compute_kinematics(dynamic, static_stand_in(dynamic, cal), replace(opt, models=tuple(run)))
    left_out = json.loads(out.attrs.get("models_left_out", "{}") or "{}")
    for m, v in lacking.items():
        left_out[m] = f"calibration not stored: {', '.join(v)}"
    src = f"stored: {cal.file} PROCESSING"
    out.attrs |= {
        "static_file": "", "static_sha256": "", "calibration_source": src,
        "calibration_value_sources": json.dumps(cal.sources, sort_keys=True),
        "models_left_out": json.dumps(left_out), "partial": int(bool(left_out)),
        "calibration_not_applied": json.dumps(cal.not_applied, sort_keys=True),
    }
    if "measurement_sources" in out.attrs:
        origin = json.loads(out.attrs["measurement_sources"])
        out.attrs["measurement_sources"] = json.dumps(
            {k: (src if v == "static" else v) for k, v in origin.items()}, sort_keys=True)
    for key in ("pig_static_offsets_source", "ofm_calibration_source"):
        if key in out.attrs and out.attrs[key] != "config":
            out.attrs[key] = src
    return out


__all__ = ["kinematics_from_stored"]
