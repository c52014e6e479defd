"""The config's ``measures:`` and ``tests:`` lists checked and parsed (their rules the schema
cannot say): pure Python, so that :mod:`chainlab.config` refuses a bad list when it loads. The
measures are computed by :mod:`chainlab.gait.measures`, the tests run by
:mod:`chainlab.stats.hypotheses`."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from chainlab.conventions import AXES, MEASURE_FRAMES

STATS = ("min", "max", "mean", "range", "at_start", "at_end", "time_of_min", "time_of_max")
WINDOWS = ("stance", "swing", "cycle")
WINDOW_EVENTS = ("Foot Strike", "Foot Off", "Opposite Foot Strike", "Opposite Foot Off")
SIDES = {"left": ("Left",), "right": ("Right",), "both": ("Left", "Right")}
KEYS = ("name", "output", "component", "side", "window", "stat", "plate", "frame")
REQUIRED = ("name", "output", "side", "window", "stat")
#: Outputs that exist only while a foot stands on a plate: their measures need a plate stance.
PLATE_OUTPUTS = frozenset({"GroundReactionForce", "NormalisedGRF", "GroundReactionMoment", "CentreOfPressure"})
#: Outputs whose measures may take ``frame: walking`` (the ground reaction's force, a lab vector).
FRAME_OUTPUTS = frozenset({"GroundReactionForce"})
#: The optional keys ``measure_defaults:`` may give every measure of a study.
DEFAULT_KEYS = ("plate", "frame")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

TESTS = ("paired_t", "wilcoxon", "mixed")
TEST_KEYS = ("measure", "compare", "test", "exclude", "levels", "alpha")


@dataclass(frozen=True)
class Measure:
    """One measure of the config (module docstring)."""

    name: str
    output: str
    component: str | None  # x, y, z; None for a one-component output (a power)
    side: str  # left, right, both
    window: str | tuple[str, str]  # stance, swing, cycle or (from event, to event)
    stat: str
    plate: bool | None = None  # None: the rule of the output (PLATE_OUTPUTS)
    frame: str = "lab"  # lab or walking (conventions.MEASURE_FRAMES), for FRAME_OUTPUTS

    @property
    def window_name(self) -> str:
        return self.window if isinstance(self.window, str) else f"{self.window[0]} to {self.window[1]}"

    @property
    def needs_plate(self) -> bool:
        return self.output in PLATE_OUTPUTS if self.plate is None else self.plate


def _refuse(where: str, i: int, entry, message: str) -> ValueError:
    name = entry.get("name") if isinstance(entry, Mapping) else None
    label = f"measure {i + 1}" + (f" ({name!r})" if name else "")
    return ValueError(f"{where}: {label}: {message}")


def _choices(value: str, allowed: Iterable[str]) -> str:
    allowed = sorted(set(allowed))
    near = difflib.get_close_matches(value, allowed, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(map(repr, near))}?" if near else ""
    return f"{value!r} is not one of them{hint} Allowed: {', '.join(allowed)}"


def parse_measures(entries: Sequence[Mapping] | None, outputs: Iterable[str] | None = None,
                   where: str = "config measures") -> list[Measure]:
    """The config's ``measures:`` list checked and parsed.

    `outputs`, when given, are the side-less output names the trials have
    (:func:`available_outputs`): a measure naming another is refused with the names that
    exist and the nearest ones. Raises ValueError naming `where`, the measure and what was
    expected.
    """
    if entries is None:
        return []
    if not isinstance(entries, Sequence) or isinstance(entries, (str, bytes)):
        raise ValueError(f"{where}: expected a list of measures, found {type(entries).__name__}")
    known = set(outputs) if outputs is not None else None
    out: list[Measure] = []
    seen: set[str] = set()
    for i, e in enumerate(entries):
        if not isinstance(e, Mapping):
            raise ValueError(f"{where}: measure {i + 1}: expected a mapping, found {e!r}")
        unknown = sorted(set(e) - set(KEYS))
        if unknown:
            raise _refuse(where, i, e, f"unknown keys {unknown}; allowed: {', '.join(KEYS)}")
        missing = [k for k in REQUIRED if k not in e]
        if missing:
            raise _refuse(where, i, e, f"missing {', '.join(missing)}")
        name = e["name"]
        if not isinstance(name, str) or not _NAME.match(name):
            raise _refuse(where, i, e, f"name {name!r} must start with a letter and hold only letters, digits, _")
        if name in seen:
            raise _refuse(where, i, e, f"name {name!r} is used twice; names must be unique")
        seen.add(name)
        output = e["output"]
        if not isinstance(output, str) or not output:
            raise _refuse(where, i, e, f"output must be a name, found {output!r}")
        if output[:1] in "LR" and output[1:2].isupper() and (known is None or output not in known):
            raise _refuse(where, i, e, f"output {output!r} carries a side; give {output[1:]!r} and side: "
                          f"{'left' if output[0] == 'L' else 'right'}")
        if known is not None and output not in known:
            raise _refuse(where, i, e, f"output: the trials have these outputs; {_choices(output, known)}")
        component = e.get("component")
        if component is not None and component not in AXES:
            raise _refuse(where, i, e, f"component {component!r}: expected one of {', '.join(AXES)}")
        side = e["side"]
        if side not in SIDES:
            raise _refuse(where, i, e, f"side {side!r}: expected one of {', '.join(SIDES)}")
        window = _parse_window(e["window"], where, i, e)
        stat = e["stat"]
        if stat not in STATS:
            raise _refuse(where, i, e, f"stat: {_choices(str(stat), STATS)}")
        plate = e.get("plate")
        if plate is not None and not isinstance(plate, bool):
            raise _refuse(where, i, e, f"plate {plate!r}: expected true or false")
        frame = e.get("frame", "lab")
        if frame not in MEASURE_FRAMES:
            raise _refuse(where, i, e, f"frame: {_choices(str(frame), MEASURE_FRAMES)}")
        if frame != "lab" and output not in FRAME_OUTPUTS:
            raise _refuse(where, i, e, f"frame {frame!r} turns the ground reaction's force "
                          f"({', '.join(sorted(FRAME_OUTPUTS))}); {output!r} has no frame to choose")
        out.append(Measure(name, output, component, side, window, stat, plate, frame))
    return out


#: The events of a side's stance in their order (Foot Strike opens it, Foot Off closes it).
STANCE_EVENTS = ("Foot Strike", "Opposite Foot Off", "Opposite Foot Strike", "Foot Off")


def within_stance(window) -> bool:
    """Whether a measure's window (as the config gives it) lies within the side's stance:
    ``stance``, or ``{from: A, to: B}`` with A before B among :data:`STANCE_EVENTS`."""
    if isinstance(window, str):
        return window == "stance"
    if isinstance(window, Mapping) and window.get("from") in STANCE_EVENTS and window.get("to") in STANCE_EVENTS:
        return STANCE_EVENTS.index(window["from"]) < STANCE_EVENTS.index(window["to"])
    return False


def apply_measure_defaults(entries: Sequence[Mapping] | None, defaults: Mapping | None,
                           where: str = "config measure_defaults") -> list | None:
    """The ``measures:`` list with the study's ``measure_defaults:`` (``plate``, ``frame``)
    filled into each measure that does not give the key itself; ``frame`` only into the
    measures of :data:`FRAME_OUTPUTS` (an angle has no frame to turn), ``plate`` only into
    the measures whose window lies within a stance (:func:`within_stance`: a swing or a whole
    cycle is never on a plate, and would only be emptied). ValueError naming `where` for an
    unknown key."""
    if not defaults:
        return None if entries is None else list(entries)
    if not isinstance(defaults, Mapping):
        raise ValueError(f"{where}: expected a mapping of {', '.join(DEFAULT_KEYS)}, found {defaults!r}")
    unknown = sorted(set(defaults) - set(DEFAULT_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}; allowed: {', '.join(DEFAULT_KEYS)}")
    out = []
    for e in entries or []:
        if isinstance(e, Mapping):
            add = {k: v for k, v in defaults.items()
                   if k not in e and (k != "frame" or e.get("output") in FRAME_OUTPUTS)
                   and (k != "plate" or within_stance(e.get("window")))}
            e = {**e, **add}
        out.append(e)
    return out


def _parse_window(w, where: str, i: int, e) -> str | tuple[str, str]:
    if isinstance(w, str):
        if w not in WINDOWS:
            raise _refuse(where, i, e, f"window: {_choices(w, WINDOWS)}, or {{from: EVENT, to: EVENT}}")
        return w
    if isinstance(w, Mapping) and set(w) == {"from", "to"}:
        for k in ("from", "to"):
            if w[k] not in WINDOW_EVENTS:
                raise _refuse(where, i, e, f"window {k}: {_choices(str(w[k]), WINDOW_EVENTS)}")
        return (w["from"], w["to"])
    raise _refuse(where, i, e, f"window {w!r}: expected {', '.join(WINDOWS)} or {{from: EVENT, to: EVENT}}")


def parse_tests(entries: Sequence[Mapping] | None, measures: Sequence[str] | None = None,
                where: str = "config tests") -> list[dict]:
    """The config's ``tests:`` checked (keys, test names, measures that exist) with defaults
    filled; ValueError naming `where`, the test and what was expected."""
    out = []
    for i, e in enumerate(entries or []):
        label = f"{where}: test {i + 1}"
        if not isinstance(e, Mapping):
            raise ValueError(f"{label}: expected a mapping, found {e!r}")
        unknown = sorted(set(e) - set(TEST_KEYS))
        if unknown:
            raise ValueError(f"{label}: unknown keys {unknown}; allowed: {', '.join(TEST_KEYS)}")
        if "measure" not in e or "test" not in e:
            raise ValueError(f"{label}: needs measure and test")
        if e["test"] not in TESTS:
            raise ValueError(f"{label}: test {e['test']!r}; expected one of {', '.join(TESTS)}")
        if measures is not None and e["measure"] not in measures:
            near = difflib.get_close_matches(str(e["measure"]), list(measures), n=3)
            hint = f" (did you mean {', '.join(map(repr, near))}?)" if near else ""
            raise ValueError(f"{label}: measure {e['measure']!r} is not a measure of the config{hint}; "
                             f"measures: {', '.join(measures)}")
        exclude = e.get("exclude", [])
        if isinstance(exclude, str) or not all(isinstance(x, str) for x in exclude):
            raise ValueError(f"{label}: exclude must be a list of trial ids, found {exclude!r}")
        levels = e.get("levels")
        if levels is not None and (len(levels) != 2 or len(set(map(str, levels))) != 2):
            raise ValueError(f"{label}: levels must be two different levels, found {levels!r}")
        alpha = float(e.get("alpha", 0.05))
        if not 0 < alpha < 1:
            raise ValueError(f"{label}: alpha {alpha} must be between 0 and 1")
        out.append({"measure": e["measure"], "compare": e.get("compare", "condition"), "test": e["test"],
                    "exclude": list(exclude), "levels": list(levels) if levels else None, "alpha": alpha})
    return out
