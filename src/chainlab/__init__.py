"""chainlab: the kinetic chain, foot to lumbar spine, measured from motion capture."""

from chainlab.errors import C3DError, C3DWarning, ChainlabError
from chainlab.io.c3d import c3d_frame_count, iter_c3d_chunks, read_c3d

__all__ = [
    "C3DError",
    "C3DWarning",
    "ChainlabError",
    "c3d_frame_count",
    "iter_c3d_chunks",
    "read_c3d",
]

__version__ = "0.1.0"
