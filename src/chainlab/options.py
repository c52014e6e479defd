"""The options of the computing stages, as plain dataclasses (standard library only).

A study's config (:mod:`chainlab.config`) turns its sections into these; the stages
(:mod:`chainlab.kinematics`, :mod:`chainlab.model.chain`, :mod:`chainlab.gait.events`) take them. Importing this module
costs nothing: no NumPy, no xarray, so that the config, the command line and the workflow
can build options without loading the scientific stack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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
    partial: bool = False  # allow models whose markers are missing to be left out
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


__all__ = ["DEFAULT_DOFS", "DEFAULT_SLIDES", "MODELS", "ChainOptions", "KinematicsOptions", "PlateEventOptions"]
