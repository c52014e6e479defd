"""Writing files atomically: a reader never sees a half-written output."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import xarray as xr


def _host() -> str:
    """This machine's name as it goes into a temporary file's name (no dots or separators)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "host"


def _alive(pid: int) -> bool:
    """Whether process `pid` of this machine exists (another user's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale_temporaries(path: Path) -> list[Path]:
    """The temporary files of `path` whose writers are gone: named by :func:`atomic_path` as
    ``.NAME.HOST.PID.RANDOM.tmp`` with this machine's HOST and a PID no longer running. A live
    writer's, another machine's (a shared folder) and other outputs' temporaries (``.NAME.x...``
    of a file ``NAME.x``) never match."""
    pattern = re.compile(re.escape(f".{path.name}.{_host()}.") + r"(\d+)\.[A-Za-z0-9_]+\.tmp")
    stale = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            m = pattern.fullmatch(entry.name)
            if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
                stale.append(Path(entry.path))
    return stale


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside `path`; renamed to `path` when the block succeeds, removed
    when it fails. The temporary's name carries this machine's name and the writer's pid;
    once `path` is in place, the temporaries of `path` whose writers are gone (killed before
    they could clean up: SIGKILL, a lost job) are removed, never a running writer's, so two
    writers of one file (or of ``T.h5`` and ``T.h5.x.h5``) do not disturb each other."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_host()}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    for stale in _stale_temporaries(path):
        with contextlib.suppress(OSError):
            stale.unlink()


def write_netcdf_atomic(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write `ds` as netCDF4/HDF5 (h5netcdf), float arrays of 2+ dimensions compressed."""
    encoding = {
        name: {"compression": "gzip", "compression_opts": 4}
        for name, var in ds.data_vars.items()
        if var.dtype.kind == "f" and var.ndim >= 2
    }
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)
    return Path(path)


def write_text_atomic(text: str, path: str | os.PathLike) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
