"""The subject's calibration that Vicon Nexus stores in a processed capture, used without its static.

Nexus writes the subject's calibration to the PROCESSING group of every capture it processes:
Plug-in Gait's measurements (leg lengths, widths, ``InterAsisDistance``,
``AsisTrocanterDistance`` as it used them), the static foot offsets ``?StaticPlantFlex`` and
``?StaticRotOff`` (rad), the knee-alignment-device offsets ``?ThighRotation``,
``?ShankRotation``, ``?AnkleAbAdd`` and ``?TibialTorsion`` (rad), ``?SoleDelta`` (mm), and the Oxford Foot Model's %-values
(``%LMMAX`` ..., mm in the segment frames) with its options (``ProxFFfactor``,
``TravelDirectionX``). These are exactly the values chainlab's static calibration produces
(:func:`chainlab.model.pig.calibrate`, :func:`chainlab.model.ofm.calibrate`), so a walk whose
static trial is lost can still be computed:

* :func:`stored_calibration` reads them and says, per model, what is missing;
* :func:`chainlab.model.marker_diameter.marker_diameter_from_outputs` recovers the marker diameter Nexus used when the file
  does not store it (Nexus 1.4 does not): the knee and ankle joint centres Nexus writes
  (``?FEO``, ``?TIO``) lie ``width / 2 + diameter / 2`` from the knee and ankle markers
  (the chord function of :mod:`chainlab.model.pig`);
* :func:`static_stand_in` builds the Dataset the kinematics take in place of the static
  trial: the stored values in its PROCESSING group, the dynamic trial's markers (used only
  where no stored value exists, which :func:`chainlab.kinematics.stored.kinematics_from_stored`
  refuses for the foot offsets and the OFM values);
* :func:`chainlab.kinematics.stored.kinematics_from_stored` (the kinematics layer, above the
  models) runs :func:`chainlab.kinematics.compute_kinematics` so and records
  ``calibration_source = "stored: FILE PROCESSING"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from chainlab.model import ofm, pig
from chainlab.model.marker_diameter import marker_diameter_from_outputs, processing_measurements
from chainlab.model.measurements import PIG_OPTIONAL, PIG_REQUIRED

#: Plug-in Gait's static foot offsets (rad), computed on the static trial.
PIG_OFFSETS = tuple(f"{s}{n}" for s in pig.SIDES for n in ("StaticPlantFlex", "StaticRotOff"))
#: The OFM's %-values (mm), computed on the static trial.
OFM_VALUES = tuple(f"%{s}{n}{a}" for s in pig.SIDES for n in ofm.CALIBRATION for a in "XYZ")


#: Options Nexus stores that chainlab does not apply (a non-zero value makes its angles differ
#: from Nexus'): the OFM's floor-referenced forefoot and flat hindfoot options. (Plug-in Gait's
#: knee-alignment-device offsets ?ThighRotation, ?ShankRotation, ?AnkleAbAdd and ?TibialTorsion
#: are applied: :data:`chainlab.model.pig.KAD_OFFSETS`.)
NOT_APPLIED = tuple(f"{s}{n}" for s in pig.SIDES for n in ("UseFloorFF", "HindFootFlat")) + ("UseFloorFF",)


@dataclass
class StoredCalibration:
    """What a capture's PROCESSING group holds of the subject's calibration."""

    file: str
    values: dict[str, float]  # Nexus names and units (mm, rad, deg)
    sources: dict[str, str] = field(default_factory=dict)  # name -> where it came from
    missing: dict[str, list[str]] = field(default_factory=dict)  # model -> values lacking
    not_applied: dict[str, float] = field(default_factory=dict)  # stored, non-zero, not applied

    def complete(self, model: str) -> bool:
        return not self.missing.get(model)


def stored_calibration(ds: xr.Dataset) -> StoredCalibration:
    """The calibration stored in `ds`'s PROCESSING group (see the module docstring).

    A foot offset or OFM value counts as stored when all of its model's values are finite and
    not all zero (a static trial stores zeros before it is calibrated). The marker diameter
    comes from PROCESSING (``MarkerDiameter`` or ``Marker Diameter``), else from the stored
    joint centres (:func:`marker_diameter_from_outputs`).
    """
    stored = processing_measurements(ds)
    name = str(ds.attrs.get("source_file", ""))
    where = f"{name} PROCESSING"
    values: dict[str, float] = {}
    sources: dict[str, str] = {}
    for k in (*PIG_REQUIRED, *PIG_OPTIONAL, "LSoleDelta", "RSoleDelta", "ProxFFfactor", "TravelDirectionX"):
        v = stored.get(k)
        if v is not None and np.isfinite(v):
            values[k], sources[k] = v, where
    missing: dict[str, list[str]] = {}
    missing["pig"] = [k for k in PIG_REQUIRED if not values.get(k)]
    for model, names in (("pig", PIG_OFFSETS), ("ofm", OFM_VALUES)):
        got = {k: stored.get(k, np.nan) for k in names}
        if all(np.isfinite(v) for v in got.values()) and any(v != 0.0 for v in got.values()):
            values |= got
            sources |= dict.fromkeys(names, where)
        else:
            missing.setdefault(model, [])
            missing[model] += [k for k, v in got.items() if not np.isfinite(v)] or list(names)
    if not values.get("InterAsisDistance"):
        sources["InterAsisDistance"] = "the dynamic trial's ASIS markers (not stored)"
    if not values.get("MarkerDiameter"):
        found = marker_diameter_from_outputs(ds, stored)
        if found is not None:
            values["MarkerDiameter"], sources["MarkerDiameter"] = found
    ignored = {k: stored[k] for k in NOT_APPLIED if stored.get(k) and np.isfinite(stored[k])}
    return StoredCalibration(name, values, sources, {k: v for k, v in missing.items() if v}, ignored)


def static_stand_in(dynamic: xr.Dataset, calibration: StoredCalibration | None = None) -> xr.Dataset:
    """A Dataset that stands in for the static trial: `calibration`'s values (default: those
    stored in `dynamic`) as its PROCESSING group, and the first 1,000 frames of the dynamic
    trial's markers (a Plug-in Gait static marker the walk lacks, e.g. the heel, is added as
    NaN; it is only used for values that are stored)."""
    cal = calibration if calibration is not None else stored_calibration(dynamic)
    ds = dynamic.isel(frame=slice(0, 1000))
    present = set(ds.marker.values.tolist())
    lacking = [m for m in pig.MARKERS if m not in present and m not in pig.DYNAMIC_MARKERS]
    if lacking:
        ds = ds.reindex(marker=ds.marker.values.tolist() + lacking)
    names = list(cal.values)
    out = ds.drop_dims("measurement") if "measurement" in ds.dims else ds
    out = out.assign_coords(measurement=np.array(names, dtype=str))
    out["measurements"] = ("measurement", np.array([cal.values[n] for n in names], dtype=float),
                           {"units": "Nexus units", "long_name": "stored calibration (PROCESSING)"})
    out.attrs = {**dynamic.attrs, "source_file": f"(the calibration stored in {cal.file})", "source_sha256": "",
                 "stand_in_for_static": f"calibration stored in {cal.file} PROCESSING"}
    return out


__all__ = ["NOT_APPLIED", "OFM_VALUES", "PIG_OFFSETS", "StoredCalibration", "marker_diameter_from_outputs",
           "static_stand_in", "stored_calibration"]
