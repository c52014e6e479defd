"""Kinematics of a walk without its static trial, from the calibration Nexus stored in it.

:func:`chainlab.model.stored_calibration.stored_calibration` reads what the capture's
PROCESSING group holds (the measurements, Plug-in Gait's static foot offsets, the OFM's
%-values) and :func:`~chainlab.model.stored_calibration.static_stand_in` builds the Dataset the
models take in place of the static trial. Here, in the kinematics layer:

* :func:`plan_from_stored`: the stand-in, the models whose calibration is not stored (left
  out, or :class:`~chainlab.errors.ModelInputError` with ``partial=False``), and the
  attributes the output carries (:func:`stored_attrs`): ``calibration_source = "stored: FILE
  PROCESSING"``, ``calibration_value_sources``, ``calibration_not_applied``, an empty
  ``static_file``;
* :func:`kinematics_from_stored`: :func:`chainlab.kinematics.compute_kinematics` so (the
  pipeline does the same in chunks).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import xarray as xr

from chainlab.errors import ModelInputError
from chainlab.kinematics import KinematicsOptions, absent_if_never_valid, compute_kinematics
from chainlab.model import ofm, pig
from chainlab.model.stored_calibration import StoredCalibration, static_stand_in, stored_calibration

_NEEDS = {"pig": ("pig",), "ofm": ("pig", "ofm")}  # the OFM tibia needs Plug-in Gait's joint centres
_MARKERS = {"pig": pig.DYNAMIC_MARKERS, "ofm": tuple(f"{s}{m}" for s in pig.SIDES for m in ofm.DYNAMIC)}


@dataclass
class StoredPlan:
    """How a walk is computed from its stored calibration."""

    static: xr.Dataset  # the stand-in for the static trial
    options: KinematicsOptions  # the models whose calibration is stored
    calibration: StoredCalibration
    left_out: dict[str, str] = field(default_factory=dict)  # model -> "calibration not stored: ..."

    @property
    def source(self) -> str:
        return f"stored: {self.calibration.file} PROCESSING"


def plan_from_stored(dynamic: xr.Dataset, options: KinematicsOptions | None = None) -> StoredPlan:
    """The stand-in static trial and the models to run for `dynamic` (any window of the walk
    holding its PROCESSING group; the stand-in takes its first 1,000 frames' markers)."""
    opt = options or KinematicsOptions()
    cal = stored_calibration(dynamic)
    name = dynamic.attrs.get("source_file", "dynamic trial")
    present = set(dynamic.marker.values.tolist())
    lacking = {}
    for model in opt.models:
        rest = [k for part in _NEEDS.get(model, ()) for k in cal.missing.get(part, []) if k not in opt.subject]
        if not rest:
            continue
        pig_lacking = model != "pig" and any(k in rest for k in cal.missing.get("pig", []))
        if set(_MARKERS.get(model, ())) <= present or pig_lacking:  # else the kinematics name the markers
            lacking[model] = rest  # (the OFM needs Plug-in Gait's calibration, whatever its markers)
    if lacking and not opt.partial:
        text = "; ".join(f"{m}: {', '.join(v[:6])}{' ...' if len(v) > 6 else ''}" for m, v in lacking.items())
        raise ModelInputError(f"{name}: no static trial and the calibration is not stored in its PROCESSING "
                              f"group ({text}); give the static trial, or the values in the study's subjects table "
                              "(config key subjects) or with --subject")
    run = tuple(m for m in opt.models if m not in lacking)
    left = {m: f"calibration not stored: {', '.join(v)}" for m, v in lacking.items()}
    return StoredPlan(static_stand_in(dynamic, cal), replace(opt, models=run), cal, left)


def stored_attrs(attrs: dict, plan: StoredPlan) -> dict:
    """The attributes of an output computed by `plan`: `attrs` with the calibration's source,
    the models left out for want of a stored calibration, the value sources."""
    src = plan.source
    left_out = json.loads(attrs.get("models_left_out", "{}") or "{}") | plan.left_out
    out = dict(attrs) | {
        "static_file": "", "static_sha256": "", "calibration_source": src,
        "calibration_value_sources": json.dumps(plan.calibration.sources, sort_keys=True),
        "models_left_out": json.dumps(left_out), "partial": int(bool(left_out)),
        "calibration_not_applied": json.dumps(plan.calibration.not_applied, sort_keys=True),
    }
    if "measurement_sources" in out:
        origin = json.loads(out["measurement_sources"])
        out["measurement_sources"] = json.dumps({k: (src if v == "static" else v) for k, v in origin.items()},
                                                sort_keys=True)
    for key in ("pig_static_offsets_source", "ofm_calibration_source"):
        if key in out and out[key] != "config":
            out[key] = src
    return out


def kinematics_from_stored(dynamic: xr.Dataset, options: KinematicsOptions | None = None) -> xr.Dataset:
    """:func:`chainlab.kinematics.compute_kinematics` of `dynamic` without a static trial:
    calibrated by what its PROCESSING group stores.

    A requested model whose calibration is not stored is left out when ``options.partial``
    (named in ``models_left_out``), else :class:`~chainlab.errors.ModelInputError` names the
    values lacking. The output's ``calibration_source`` says the calibration was stored, and
    ``static_file`` is empty.
    """
    dynamic = absent_if_never_valid(dynamic)  # the stand-in too lacks the markers never valid
    plan = plan_from_stored(dynamic, options)
    out = compute_kinematics(dynamic, plan.static, plan.options)
    out.attrs = stored_attrs(out.attrs, plan)
    return out


__all__ = ["StoredPlan", "kinematics_from_stored", "plan_from_stored", "stored_attrs"]
