"""Evaluating per-frame model code in chunks of frames.

The models are sequences of NumPy passes over (n, 3) and (n, 3, 3) arrays; over a whole long
trial each pass streams through main memory, over a chunk of a few thousand frames it stays
in cache: in bench/kinematics_speed.py (one core, 200,000 frames) the models went from
82,000-91,000 frames/s at once to 115,000-118,000 in chunks of 5,000 (bench/RESULTS.md,
before later changes to the OFM). Chunking also bounds the
memory of long captures. Whatever needs the whole trial (the progression frame, cluster
means, the continuity of angle series) is computed outside the chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

import numpy as np

CHUNK = 5000
T = TypeVar("T")


def spans(n: int, chunk: int = CHUNK) -> Iterator[slice]:
    for start in range(0, max(n, 1), chunk):
        yield slice(start, min(n, start + chunk))


def take(arrays: Mapping[str, Any], s: slice) -> dict[str, Any]:
    """The frames `s` of every (n, ...) array in a mapping (other values unchanged)."""
    return {k: (v[s] if isinstance(v, np.ndarray) and v.ndim >= 1 else v) for k, v in arrays.items()}


def _allocate(part: Any, n: int) -> Any:
    """Empty output like one chunk's result, with n frames."""
    if isinstance(part, np.ndarray):
        return np.empty((n,) + part.shape[1:], part.dtype) if part.ndim >= 1 else part
    if isinstance(part, tuple):
        return tuple(_allocate(p, n) for p in part)
    if isinstance(part, dict):
        return {k: _allocate(v, n) for k, v in part.items()}
    if is_dataclass(part):
        return type(part)(**{f.name: _allocate(getattr(part, f.name), n) for f in fields(part)})
    return part


def _write(out: Any, part: Any, s: slice) -> None:
    if isinstance(out, np.ndarray):
        if out.ndim >= 1:
            out[s] = part
    elif isinstance(out, tuple):
        for o, p in zip(out, part):
            _write(o, p, s)
    elif isinstance(out, dict):
        for k, o in out.items():
            _write(o, part[k], s)
    elif is_dataclass(out):
        for f in fields(out):
            _write(getattr(out, f.name), getattr(part, f.name), s)


def by_chunks(fn: Callable[..., T], n: int, arrays: Mapping[str, Any], *args: Any, chunk: int = CHUNK, **kwargs: Any) -> T:
    """``fn(arrays[chunk], *args, **kwargs)`` over consecutive chunks, written into one result.

    `fn` returns arrays, tuples or dicts of them, or a dataclass of those, with frames first.
    """
    out = None
    for s in spans(n, chunk):
        part = fn(take(arrays, s), *args, **kwargs)
        if out is None:
            if s.stop >= n:
                return part  # one chunk: nothing to assemble
            out = _allocate(part, n)
        _write(out, part, s)
    return out
