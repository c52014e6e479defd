"""Evaluating per-frame model code over spans of frames, so that each pass stays in cache.

The models are sequences of NumPy passes over (n, 3) and (n, 3, 3) arrays; over a whole long
trial each pass streams through main memory, over a span of a few thousand frames it stays
in cache: in bench/kinematics_speed.py (one core, 200,000 frames) the models went from
82,000-91,000 frames/s at once to 115,000-118,000 in spans of 5,000 (bench/RESULTS.md,
before later changes to the OFM). Whatever needs the whole trial (the progression frame,
cluster means, the continuity of angle series) is computed outside the spans.

A span is a cache-sized piece inside one computation; it is not a chunk (the unit of work
of the chunked trial runner, which may hold many spans).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

import numpy as np

SPAN = 5000  #: frames per span
T = TypeVar("T")


def spans(n: int, span: int = SPAN) -> Iterator[slice]:
    """Consecutive slices of `span` frames covering n frames (one empty slice when n is 0)."""
    for start in range(0, max(n, 1), span):
        yield slice(start, min(n, start + span))


def take(arrays: Mapping[str, Any], s: slice) -> dict[str, Any]:
    """The frames `s` of every (n, ...) array in a mapping (other values unchanged)."""
    return {k: (v[s] if isinstance(v, np.ndarray) and v.ndim >= 1 else v) for k, v in arrays.items()}


def _allocate(part: Any, n: int) -> Any:
    """Empty output like one span's result, with n frames."""
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


def by_spans(fn: Callable[..., T], n: int, arrays: Mapping[str, Any], *args: Any, span: int = SPAN, **kwargs: Any) -> T:
    """``fn(arrays[span], *args, **kwargs)`` over consecutive spans, written into one result.

    `fn` returns arrays, tuples or dicts of them, or a dataclass of those, with frames first.
    """
    out = None
    for s in spans(n, span):
        part = fn(take(arrays, s), *args, **kwargs)
        if out is None:
            if s.stop >= n:
                return part  # one span: nothing to assemble
            out = _allocate(part, n)
        _write(out, part, s)
    return out
