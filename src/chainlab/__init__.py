"""chainlab: the kinetic chain, foot to lumbar spine, measured from motion capture.

``import chainlab`` is light (no numpy, xarray or pandas): :func:`read_c3d`,
:func:`iter_c3d_chunks` and :func:`c3d_frame_count` import :mod:`chainlab.io.c3d` on first use
(module ``__getattr__``), so that ``chainlab --help``, ``import chainlab.config`` and the
workflow's rule files do not pay for the reader's imports.
"""

import importlib

from chainlab.errors import C3DError, C3DWarning, ChainlabError

__version__ = "0.1.0"

_LAZY = {"c3d_frame_count": "chainlab.io.c3d", "iter_c3d_chunks": "chainlab.io.c3d", "read_c3d": "chainlab.io.c3d"}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later accesses are plain attribute reads
        return value
    raise AttributeError(f"module 'chainlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "C3DError",
    "C3DWarning",
    "ChainlabError",
    "c3d_frame_count",
    "iter_c3d_chunks",
    "read_c3d",
]
