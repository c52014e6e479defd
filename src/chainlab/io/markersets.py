"""Marker mappings: a lab's marker labels -> chainlab's (``lab_label: chainlab_label``).

A mapping is a YAML file of one ``LABEL: NAME`` per line, or the name of a preset shipped
in ``chainlab/markersets`` (:func:`presets` lists them: ``plug-in-gait``, ``ofm``,
``helen-hayes``). :func:`chainlab.read_c3d` applies one with ``markers=``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

_LABEL = re.compile(r"[^\s:]([^\n\r\t:]*[^\s:])?")  # no colon, no surrounding space, one line


def presets() -> list[str]:
    """Names of the shipped presets."""
    folder = resources.files("chainlab").joinpath("markersets")
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_mapping(name_or_path: str | os.PathLike) -> dict[str, str]:
    """A marker mapping from a preset name or a YAML file.

    Raises
    ------
    FileNotFoundError
        Neither a preset nor an existing file (the presets are listed).
    ValueError
        The file is not a mapping of text labels to text labels; the message names the
        file and the key.
    """
    text_name = os.fspath(name_or_path)
    if isinstance(name_or_path, str) and "/" not in text_name and not text_name.endswith((".yaml", ".yml")):
        if text_name not in presets():
            raise FileNotFoundError(
                f"marker mapping {text_name!r}: no such preset; presets: {', '.join(presets())} "
                "(or give a YAML file)"
            )
        where = f"preset {text_name!r}"
        text = resources.files("chainlab").joinpath("markersets", f"{text_name}.yaml").read_text()
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise FileNotFoundError(f"marker mapping {path}: no such file")
        where = str(path)
        text = path.read_text(encoding="utf-8")
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ValueError(f"{where}: not valid YAML ({exc})") from None
    return validate_mapping(data, where)


def validate_mapping(data: Any, where: str = "marker mapping") -> dict[str, str]:
    """`data` as a dict of label -> name, or ValueError naming `where` and the key."""
    if not isinstance(data, Mapping) or not data:
        raise ValueError(
            f"{where}: expected a mapping of lab labels to chainlab labels (one 'LABEL: NAME' "
            f"per line); found {type(data).__name__ if data else 'nothing'}"
        )
    out: dict[str, str] = {}
    for key, value in data.items():
        for what, text in (("label", key), ("name", value)):
            if not isinstance(text, str) or not _LABEL.fullmatch(text):
                raise ValueError(
                    f"{where}: key {key!r}: the {what} {text!r} is not a marker label (text on one "
                    "line, no ':' and no leading or trailing space)"
                )
        out[key] = value
    return out


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice (YAML keeps the last silently)."""


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            line = key_node.start_mark.line + 1
            raise yaml.constructor.ConstructorError(None, None, f"key {key!r} given twice (line {line})")
        seen.add(key)
    return loader.construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)
