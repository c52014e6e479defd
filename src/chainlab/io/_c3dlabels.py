"""Point and channel names of a C3D capture: subject prefixes, a lab's marker mapping,
empty and duplicate labels, and which points are model outputs rather than markers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from chainlab.conventions import LENGTH_TO_METRE, MODEL_OUTPUT_KINDS
from chainlab.io._c3dstructure import _Structure


@dataclass
class PointNames:
    """The names the reader gives the POINT labels of one file (file order)."""

    names: list[str]  # unique names: prefix stripped, mapping applied, duplicates renamed
    in_file: list[str]  # the labels as stored (padded with '' to the number of points)
    is_output: np.ndarray  # (n_points,) bool: a model output (ANGLES, FORCES, ...)
    kinds: dict[str, tuple[str, str]]  # output name -> (kind, units)
    modeled: np.ndarray  # (n_points,) bool: listed in POINT:MODELED_MARKERS
    prefix: str = ""  # the subject prefix stripped from every label that had it
    mapping: dict[str, str] = field(default_factory=dict)  # label -> new name, as applied


def _bare(label: str) -> str:
    """A label without its ``Subject:`` prefix."""
    return label.rsplit(":", 1)[-1].strip()


def _unique_labels(labels: list[str], what: str, st: _Structure, *, strip: bool = True) -> list[str]:
    """Name empty labels and make duplicates unique (prefixes cut first with `strip`)."""
    out: list[str] = []
    seen: dict[str, int] = {}
    empty, renamed = [], []
    for i, lab in enumerate(labels):
        name = _bare(lab) if strip else lab.strip()
        if not name:
            name = f"{what}{i + 1}"
            empty.append(name)
        if name in seen:
            seen[name] += 1
            new = f"{name}_{seen[name]}"
            renamed.append(f"{name}->{new}")
            name = new
        else:
            seen[name] = 1
        out.append(name)
    if empty:
        st.warn(f"{len(empty)} {what} label(s) empty, named {_short(empty)}")
    if renamed:
        st.warn(f"{len(renamed)} duplicate {what} label(s) renamed: {_short(renamed)}")
    return out


def _short(items: list[str], n: int = 4) -> str:
    return ", ".join(items[:n]) + (f", ... ({len(items) - n} more)" if len(items) > n else "")


def _file_labels(st: _Structure, group: str, n: int) -> list[str]:
    labels = st.params.strings(group, "LABELS")[:n]
    return labels + [""] * (n - len(labels))


def _labels(st: _Structure, group: str, n: int, what: str) -> list[str]:
    """The reader's names of GROUP:LABELS (POINT: as :func:`point_names` gives them)."""
    if group == "POINT":
        return point_names(st).names
    return _unique_labels(_file_labels(st, group, n), what, st)


def subject_prefix(labels: list[str]) -> tuple[str, list[str]]:
    """The one ``Subject:`` prefix the labels share, and all distinct prefixes found.

    Returns ("", prefixes) when no label has a prefix or when they have different ones.
    """
    prefixes = sorted({lab.rsplit(":", 1)[0].strip() for lab in labels if ":" in lab})
    return (prefixes[0] if len(prefixes) == 1 else ""), prefixes


def point_names(st: _Structure, mapping: Mapping[str, str] | None = None) -> PointNames:
    """Names of the POINT labels: the common subject prefix stripped, `mapping` applied
    to the markers (not to model outputs), empty and duplicate labels renamed.

    Labels with different prefixes (two subjects in one capture) keep their prefixes, with
    a warning. A mapping key matches the label without the common prefix, or the whole
    label (with different prefixes, only the whole label).
    Two labels mapped to one name: warned, the second is renamed NAME_2.
    """
    labels = _file_labels(st, "POINT", st.n_points)
    prefix, prefixes = subject_prefix(labels)
    if len(prefixes) > 1:
        st.warn(
            f"POINT labels carry {len(prefixes)} different subject prefixes ({_short(prefixes)}); "
            "kept in the marker names"
        )
        names = [lab.strip() for lab in labels]
    else:
        names = [_bare(lab) for lab in labels]
    kinds = _model_output_kinds(st)
    applied: dict[str, str] = {}
    if mapping:
        targets: dict[str, list[str]] = {}
        for i, name in enumerate(names):
            label = labels[i].strip()
            if _bare(name) in kinds:
                continue
            key = name if name in mapping else label if label in mapping else None
            if key is None:
                continue
            names[i] = str(mapping[key]).strip()
            applied[label] = names[i]
            targets.setdefault(names[i], []).append(label)
        for new, sources in targets.items():
            kept = [labels[i].strip() for i, n in enumerate(names) if n == new and labels[i].strip() not in applied]
            distinct = list(dict.fromkeys(kept + sources))
            if len(distinct) > 1:  # the mapping makes the clash (repeated labels are warned below)
                st.warn(
                    f"marker mapping: labels {', '.join(distinct)} all map to {new!r}; "
                    f"the later ones in the file are renamed {new}_2, ..."
                )
    names = _unique_labels(names, "point", st, strip=False)
    is_output = np.array([_bare(n) in kinds for n in names], dtype=bool)
    kinds = {n: kinds[_bare(n)] for n, o in zip(names, is_output, strict=True) if o}
    modeled_in_file = {_bare(m) for m in st.params.strings("POINT", "MODELED_MARKERS")}
    modeled = np.array(
        [_bare(labels[i] if labels[i].strip() in applied else n) in modeled_in_file for i, n in enumerate(names)],
        dtype=bool,
    )
    return PointNames(names, labels, is_output, kinds, modeled, prefix, applied)


def _length_scale(st: _Structure) -> tuple[str, float]:
    unit = str(st.params.first("POINT", "UNITS", "") or "").strip()
    if unit.lower() not in LENGTH_TO_METRE and unit.lower().startswith("met"):
        unit = "m"  # 'mete', 'meter', 'metres': truncated or spelt out
    if unit.lower() not in LENGTH_TO_METRE:
        st.warn(f"POINT:UNITS is {unit!r}; assumed 'mm'")
        unit = "mm"
    return unit, LENGTH_TO_METRE[unit.lower()]


def _model_output_kinds(st: _Structure) -> dict[str, tuple[str, str]]:
    """Point label (no prefix) -> (kind, units) for every model output listed under POINT."""
    kinds: dict[str, tuple[str, str]] = {}
    for group_name, (kind, units_param, default_units) in MODEL_OUTPUT_KINDS.items():
        units = str(st.params.first("POINT", units_param, default_units) or default_units)
        for lab in st.params.strings("POINT", group_name):
            name = _bare(lab)
            if name:
                kinds.setdefault(name, (kind, units))
    return kinds
