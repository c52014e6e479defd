"""The options of the computing stages, as plain dataclasses (standard library only).

A study's config (:mod:`chainlab.config`) turns its sections into these; the stages
(:mod:`chainlab.kinematics`, :mod:`chainlab.model.chain`, :mod:`chainlab.gait.events`) take them. Importing this module
costs nothing: no NumPy, no xarray, so that the config, the command line and the workflow
can build options without loading the scientific stack.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from chainlab.conventions import KINETICS_COP_THRESHOLD_N

#: The direct models, in the order they run.
MODELS = ("pig", "ofm", "trunk", "lumbar")

#: Default slides (mm): the thigh and shank may change length by up to 30 mm over a walk (the
#: direct models' hip-knee and knee-ankle distances vary by 10-37 mm on the biomechzoo walks).
DEFAULT_SLIDES = {"hip": 30.0, "knee": 30.0}
DEFAULT_DOFS = {"hip": "yxz", "knee": "yxz", "ankle": "yxz", "forefoot": "yxz", "lumbar": "yxz", "thorax": "yxz"}


@dataclass
class ChainOptions:
    """What the global solver's chain (:mod:`chainlab.model.chain`) frees and how markers count.

    dofs : which Cardan axes each joint frees, e.g. ``{"knee": "y"}`` for a hinge knee,
        ``{"ankle": "yx"}`` for a two-axis ankle; ``"forefoot": ""`` or ``forefoot=False``
        joins the forefoot to the hindfoot.
    weights : marker name (with side prefix, e.g. ``"LTHI"``) -> weight (default 1).
    limits : joint (``"L_knee"``, ``"knee"`` for both sides) -> {axis: [low, high] deg} on the
        joint coordinates.
    slides : joint (``"hip"``, ``"knee"``) -> bound (mm) of a slide of the child body along its
        long axis (from its joint centre to the next joint centre down the limb): the thigh's
        or shank's length may change by up to the bound. ``{}``: rigid segments.
    template : where the markers' body coordinates and the joint centres come from:
        ``"trial"`` (default) their mean over the trial being fitted, in the direct models'
        segments (:func:`chainlab.model.chain.calibrate_on_trial`); ``"static"`` the static
        trial alone.
    """

    dofs: Mapping[str, str] = field(default_factory=dict)
    forefoot: bool = True
    weights: Mapping[str, float] = field(default_factory=dict)
    limits: Mapping[str, Mapping[str, Sequence[float]]] = field(default_factory=dict)
    template: str = "trial"
    slides: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SLIDES))

    def free(self, joint: str) -> str:
        axes = {**DEFAULT_DOFS, **self.dofs}[joint]
        bad = set(axes) - set("xyz")
        if bad:
            raise ValueError(f"chain dofs for {joint!r}: {axes!r} names axes other than x, y, z")
        return axes


@dataclass
class KinematicsOptions:
    """What a study's config may set for the kinematics; defaults reproduce Vicon Nexus."""

    models: Sequence[str] = MODELS
    progression: str = "lab"  # "lab" (Nexus) or "travel"
    flat_foot: bool = True
    partial: bool = True  # models whose markers are missing left out (named); False: strict, all or nothing
    subject: Mapping[str, float] = field(default_factory=dict)  # measurement overrides
    solver: str = "direct"  # "direct": each segment from its markers; "global": the chain fitted
    chain: ChainOptions | None = None  # the global solver's chain (dofs, weights, limits)


@dataclass
class PlateEventOptions:
    """Plate events' thresholds and filter (:mod:`chainlab.gait.events`)."""

    strike_threshold: float = 20.0  # N
    off_threshold: float = 10.0  # N
    cutoff_hz: float = 25.0
    margin: float = 0.02  # m around the plate outline for "over the plate"
    standing_speed: float = 0.8  # m/s: a heel or toe slower than this over the plate stands on it


#: Axes the joint moments and forces are expressed in (chainlab.kinetics).
PROJECTIONS = ("distal", "proximal", "global")
#: How far (m) beyond a plate's outline a foot marker may lie for the foot to count as on it
#: (chainlab.kinetics.contacts). The heel marker sits on the back of the calcaneus, behind and
#: above the sole's contact (vendors' PiG_Motion-FlatFoot-Full: heel marker 52 mm beyond the
#: plate edge at heel strike, centre of pressure 14 mm inside it; Nexus used that contact); the
#: toe marker sits on the forefoot, behind the toes.
OUTLINE_MARGIN = {"HEE": 0.06, "TOE": 0.025}
_PLATES = re.compile(r"^\s*(\d+)\s*=\s*(L|R|-)\s*$")


@dataclass(frozen=True)
class KineticsOptions:
    """What a study's config may set; defaults reproduce Vicon Nexus."""

    projection: str = "distal"  # "distal" (Nexus' default), "proximal" or "global"
    segment_lengths: str = "processing"  # "processing" (Nexus) or "joints" (joint-centre distances)
    derivative_step: int = 2  # frames each side of a central difference (Nexus: 2)
    plates: Mapping[int, str | None] = field(default_factory=dict)  # {plate: "L"/"R"/None} overrides
    threshold: float = KINETICS_COP_THRESHOLD_N  # N, vertical force of a loaded plate
    outline_margin: Mapping[str, float] = field(default_factory=lambda: dict(OUTLINE_MARGIN))  # m, by marker
    open_stance: str = "nexus"  # a stance cut by the capture's start or end: "nexus" computes
    #                             it as swing (no ground reaction), as Nexus does; "nan" refuses it

    def __post_init__(self) -> None:
        if self.projection not in PROJECTIONS:
            raise ValueError(f"projection must be one of {PROJECTIONS}; found {self.projection!r}")
        if self.segment_lengths not in ("processing", "joints"):
            raise ValueError(f"segment_lengths must be 'processing' or 'joints'; found {self.segment_lengths!r}")
        if self.open_stance not in ("nexus", "nan"):
            raise ValueError(f"open_stance must be 'nexus' or 'nan'; found {self.open_stance!r}")
        if int(self.derivative_step) < 1:
            raise ValueError(f"derivative_step must be >= 1; found {self.derivative_step}")


def parse_plates(text: str, where: str = "sample sheet") -> dict[int, str | None]:
    """A plate-to-foot mapping written ``1=R,2=L,3=-`` (``-``: leave the plate out); {} for
    an empty text. ValueError naming `where`, the text and the expected form."""
    out: dict[int, str | None] = {}
    text = (text or "").strip()
    if not text:
        return out
    for part in text.split(","):
        m = _PLATES.match(part)
        if m is None:
            raise ValueError(f"{where}: plates {text!r}: {part.strip()!r} is not PLATE=SIDE; expected e.g. "
                             "'1=R,2=L' (plate number from 1, side L or R, or - to leave the plate out)")
        plate = int(m.group(1))
        if plate < 1 or plate in out:
            raise ValueError(f"{where}: plates {text!r}: plate {plate} " + ("named twice" if plate in out
                                                                          else "is not a plate number (from 1)"))
        out[plate] = None if m.group(2) == "-" else m.group(2)
    return out


def kinetics_options(section: Mapping | None = None, plates: str = "", where: str = "sample sheet") -> KineticsOptions:
    """The options of a trial's kinetics: the config's ``kinetics`` section (projection,
    plates, open_stance) with the row's ``plates`` text (:func:`parse_plates`) over its
    mapping."""
    section = dict(section or {})
    mapping = {int(k): v for k, v in (section.get("plates") or {}).items()}
    mapping.update(parse_plates(plates, where))
    return KineticsOptions(projection=section.get("projection", "distal"), plates=mapping,
                           open_stance=section.get("open_stance", "nexus"))


__all__ = ["DEFAULT_DOFS", "DEFAULT_SLIDES", "MODELS", "ChainOptions", "KinematicsOptions", "KineticsOptions", "OUTLINE_MARGIN", "PROJECTIONS", "PlateEventOptions", "kinetics_options",
           "parse_plates"]
