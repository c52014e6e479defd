"""The kinetics of one trial computed in spans of frames (what :mod:`chainlab.pipeline` calls).

The recipe of ``docs/kinetics.md`` ("Chunks"), in three calls:

1. :func:`span_loads` for each span of the summary pass: the span's ground reaction at the
   point rate (:func:`chainlab.kinetics.grf.ground_reaction` of a window read with at least
   one frame more on each side, so that its window mean has every analog sample) and the
   feet's heel, toe and ankle markers: small (floats x plates x frames);
2. :func:`trial_setup` once: those joined into the trial-wide ground reaction, the contacts
   (:func:`~chainlab.kinetics.contacts.assign_contacts`, on the capture's own Foot Strike /
   Foot Off events), the stances, the body parameters and the progression frame; or the
   reason the trial has no kinetics (:class:`NoKinetics`: no plates, no Plug-in Gait, no
   body mass ...), which is recorded, not raised;
3. :meth:`TrialKinetics.span` for each span of the frames pass, given the Plug-in Gait
   kinematics of the span and :data:`OVERLAP` frames more on each side: the span's kinetics,
   equal to :func:`~chainlab.kinetics.compute_kinetics` of the whole trial.

Plate-to-foot overrides come from the config's ``kinetics.plates`` (``{plate: L | R | null}``)
and the sample sheet's optional ``plates`` column (``1=R,2=L,3=-``; a row's mapping wins for
the plates it names): :func:`chainlab.options.parse_plates`, :func:`chainlab.options.kinetics_options`.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import xarray as xr

from chainlab.errors import ChainlabError, ModelInputError
from chainlab.kinematics import KinematicsOptions, KinematicsWarning, compute_kinematics
from chainlab.kinetics.contacts import FOOT_MARKERS, SIDES, Contact, assign_contacts, contacts_table, stances
from chainlab.kinetics.grf import ground_reaction
from chainlab.kinetics.inverse_dynamics import (
    REFUSED,
    body_parameters,
    joint_kinetics,
    segment_lengths,
)
from chainlab.model import pig
from chainlab.options import KineticsOptions

#: Frames each span is computed with on each side: the derivatives' reach (2 x derivative
#: step = 4) and one frame of analog samples for the ground reaction's window mean.
OVERLAP = 5


class NoKinetics(ChainlabError):
    """Why a trial has no kinetics (recorded in its trial file, not a failure)."""


#: Frames kept on each side of a loaded frame: the contacts' gaps of up to two frames
#: (:func:`~chainlab.kinetics.contacts.assign_contacts`) and the frame before and after a
#: contact that loads its foot (:func:`~chainlab.kinetics.inverse_dynamics.foot_loads`).
REACH = 2


def span_loads(window: xr.Dataset, start: int, stop: int, threshold: float) -> dict:
    """Frames [start, stop) of `window` (a read of a trial's frames with at least one more on
    each side where the trial has them): their ground reaction (force, moment, cop) and the
    feet's markers (:data:`~chainlab.kinetics.contacts.FOOT_MARKERS`) at the frames within
    :data:`REACH` of a loaded one (a plate's vertical force >= `threshold`; the span's first
    and last REACH frames always), copied: the kinetics read nothing else, so that what the
    summary pass keeps grows with the plates' contacts, not with the capture."""
    grf = ground_reaction(window, threshold)
    loaded = (np.abs(grf.force.values[..., 2]) >= threshold).any(axis=1)
    near = loaded.copy()
    for k in range(1, REACH + 1):
        near[k:] |= loaded[:-k]
        near[:-k] |= loaded[k:]
    near = near[start:stop]
    near[:REACH] = near[-REACH:] = True  # the window may not reach the neighbours' frames
    rows = np.flatnonzero(near)
    present = set(window.marker.values.tolist())
    names = [s + m for s in SIDES for m in FOOT_MARKERS if s + m in present]
    feet = window.markers.sel(marker=names).isel(frame=rows + start)
    return {"n": stop - start, "rows": rows, "grf": grf[["force", "moment", "cop"]].isel(frame=rows + start),
            "feet": feet, "static": grf[["centre", "normal", "corners"]]}


@dataclass
class TrialKinetics:
    """The trial-wide pieces of a trial's kinetics (:func:`trial_setup`)."""

    options: KineticsOptions
    grf: xr.Dataset  # the ground reaction (frame, plate, axis) at the trial's frames `rows` (span_loads)
    contacts: list[Contact]
    body: dict
    stance: dict
    progression: np.ndarray
    rows: np.ndarray  # the trial's frame indices (0-based) of grf's frames

    def span(self, kinematics: xr.Dataset, start: int, stop: int) -> xr.Dataset:
        """The kinetics of frame indices [start, stop) of the trial from the Plug-in Gait
        `kinematics` of frame indices [max(0, start - OVERLAP), min(n, stop + OVERLAP))."""
        lo = max(0, start - OVERLAP)
        hi = lo + kinematics.sizes["frame"]
        out = joint_kinetics(kinematics, self._grf(kinematics, lo, hi), self.contacts, self.body, self.stance,
                             self.options, self.progression)
        out = out.isel(frame=slice(start - lo, stop - lo))
        out.attrs["contacts"] = contacts_json(self.contacts)
        return out

    def _grf(self, kinematics: xr.Dataset, lo: int, hi: int) -> xr.Dataset:
        """The ground reaction of frame indices [lo, hi): the kept frames' (every frame a
        contact loads a foot), zero force and moment and NaN cop at the others."""
        i0, i1 = np.searchsorted(self.rows, [lo, hi])
        at = self.rows[i0:i1] - lo
        shape = (hi - lo,) + self.grf.force.shape[1:]
        coords = {"frame": kinematics.frame.values, "plate": self.grf.plate.values, "axis": self.grf.axis.values}
        data = {}
        for var, fill in (("force", 0.0), ("moment", 0.0), ("cop", np.nan)):
            v = np.full(shape, fill)
            v[at] = self.grf[var].values[i0:i1]
            data[var] = (self.grf[var].dims, v, self.grf[var].attrs)
        out = xr.Dataset(data, coords=coords, attrs=self.grf.attrs)
        return out.assign({k: self.grf[k] for k in ("centre", "normal", "corners")})


def contacts_json(contacts: list[Contact]) -> str:
    """The contacts as a JSON list of {plate, first, last, side, status, reason}."""
    return json.dumps([c.__dict__ for c in contacts])


def contacts_dataset(contacts: list[Contact]) -> xr.Dataset:
    """The contacts as a table along ``row`` (the trial file's ``/contacts``)."""
    t = contacts_table(contacts)
    return xr.Dataset({
        "plate": ("row", t.plate.to_numpy(np.int64)),
        "first": ("row", t["first"].to_numpy(np.int64), {"units": "1", "long_name": "first loaded frame (C3D frame number)"}),
        "last": ("row", t["last"].to_numpy(np.int64), {"units": "1", "long_name": "last loaded frame (C3D frame number)"}),
        "side": ("row", np.array([s if isinstance(s, str) else "" for s in t.side], dtype=str)),
        "status": ("row", t.status.to_numpy(str)),
        "reason": ("row", t.reason.to_numpy(str)),
    })


def trial_setup(name: str, head: xr.Dataset, parts: list[dict], events: xr.Dataset, options: KineticsOptions,
                pelvis_rows: Mapping[str, np.ndarray] | None, models: tuple[str, ...], static: xr.Dataset | None = None,
                static_kinematics=None, overrides: Mapping[str, float] | None = None) -> TrialKinetics:
    """The trial-wide pieces from the spans' :func:`span_loads` (in frame order), the capture's
    events (:func:`chainlab.io.c3d.read_events`) and the trial's first frame `head` (its
    PROCESSING parameters). Raises :class:`NoKinetics` with the reason the trial has none.

    Segment lengths missing from PROCESSING are measured on the static trial
    (:func:`~chainlab.kinetics.segment_lengths` of `static_kinematics()`, a callable giving
    the static trial's Plug-in Gait kinematics). `overrides` (the subject's measurements given
    to the kinematics, e.g. ``Bodymass``) win over PROCESSING.
    """
    if not head.sizes.get("plate", 0):
        raise NoKinetics("the capture has no force plates")
    if "pig" not in models:
        raise NoKinetics("Plug-in Gait is not among the models run (kinematics.models)")
    if not pelvis_rows:
        raise NoKinetics("the pelvis markers are never seen (no progression frame)")
    overrides = dict(overrides or {})
    try:
        body = body_parameters(head, overrides)
    except ModelInputError as exc:
        if "Bodymass" in str(exc).split("missing or not positive:")[-1] or static_kinematics is None:
            raise NoKinetics(str(exc)) from None
        try:
            body = body_parameters(head, {**segment_lengths(static_kinematics(), static), **overrides})
        except ChainlabError as exc2:
            raise NoKinetics(f"segment lengths neither in PROCESSING nor measurable on the static trial: {exc2}") from None
    grf = xr.concat([p["grf"] for p in parts], "frame").merge(parts[0]["static"])
    grf.attrs["source_file"] = name
    feet = xr.concat([p["feet"] for p in parts], "frame")
    starts = np.cumsum([0] + [p["n"] for p in parts])
    rows = np.concatenate([p["rows"] + a for p, a in zip(parts, starts)])
    trial = xr.Dataset({"markers": feet}, attrs={"source_file": name, "point_rate": head.attrs.get("point_rate")})
    trial = trial.assign_coords({k: v for k, v in events.coords.items() if k.startswith("event_")})
    try:
        contacts = _contacts(trial, grf, rows, options)
    except ValueError as exc:  # a mapping naming a plate the capture does not have
        raise NoKinetics(str(exc)) from None
    prog = pig.progression_frame(pelvis_rows["LASI"], pelvis_rows["RASI"], pelvis_rows["SACR"], "lab")
    return TrialKinetics(options, grf, contacts, body, stances(trial), prog, rows)


def _contacts(trial: xr.Dataset, grf: xr.Dataset, rows: np.ndarray, options: KineticsOptions) -> list[Contact]:
    """:func:`~chainlab.kinetics.contacts.assign_contacts` of the whole trial from its kept
    frames `rows` (:func:`span_loads`): each run of consecutive kept frames holds whole
    contacts with REACH unloaded frames around them (or the trial's edge), so judging each
    run alone finds the same contacts, in the same order once sorted by plate and frame."""
    cuts = np.flatnonzero(np.diff(rows) != 1) + 1
    bounds = list(zip(np.concatenate([[0], cuts]), np.concatenate([cuts, [rows.size]])))
    found = []
    for a, b in bounds:
        found += assign_contacts(trial.isel(frame=slice(a, b)), grf.isel(frame=slice(a, b)), options.plates,
                                 threshold=options.threshold, outline_margin=options.outline_margin)
    plates = grf.plate.values.tolist()
    return sorted(found, key=lambda c: (plates.index(c.plate), c.first))


def trial_kinetics(name: str, head: xr.Dataset, loads: list[dict], events: xr.Dataset | None,
                   options: KineticsOptions | None, kinematics_options, pelvis_rows, static: xr.Dataset | None
                   ) -> tuple[TrialKinetics | None, str]:
    """:func:`trial_setup` for a trial run with `kinematics_options`
    (:class:`chainlab.kinematics.KinematicsOptions`; the lengths missing from PROCESSING measured
    on the `static` trial's Plug-in Gait), or (None, the reason the trial has no kinetics)."""
    if options is None:
        return None, "kinetics not asked for (kinetics.enabled: false)"
    if kinematics_options.solver != "direct":
        return None, "kinetics are computed on the direct solver's Plug-in Gait segments (kinematics.solver: global)"
    opt = kinematics_options
    direct = KinematicsOptions(models=("pig",), flat_foot=opt.flat_foot, progression=opt.progression)

    def static_kinematics():  # the static's segment lengths; its markers' notes are the trial's to give
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", KinematicsWarning)
            return compute_kinematics(static, static, direct)

    try:
        return trial_setup(name, head, loads, events, options, pelvis_rows, tuple(opt.models), static,
                           static_kinematics, opt.subject), ""
    except NoKinetics as exc:
        return None, str(exc)


def refused_text(contacts: list[Contact]) -> str:
    """'plate 1 frames 256-362: shared (why); ...' for the refused contacts ('' for none)."""
    return "; ".join(c.text() for c in contacts if c.status in REFUSED)


__all__ = ["OVERLAP", "NoKinetics", "TrialKinetics", "trial_kinetics", "contacts_dataset", "contacts_json",
           "refused_text", "span_loads", "trial_setup"]
