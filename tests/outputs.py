"""Compare two runs' outputs folder by folder (e.g. results/<study>/ of a local and a SLURM run).

Generic on purpose: every file under the two folders is compared, whatever rules wrote it,
except logs and the few attributes that legitimately differ between runs (a store's creation
time, the dask scheduler a job used, the HDF5 library's version stamp). HDF5/netCDF files are
compared by content (groups, datasets' dtype, shape and values with NaN equal to NaN,
attributes), JSON by its parsed value, anything else byte for byte.

    from .outputs import assert_same_outputs
    assert_same_outputs(local / "results/tiny", slurm / "results/tiny")
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

# files that differ from run to run by nature
# (checksums/: the sha256 of a run's bytes, creation times included; the files they name are
# compared by content)
SKIP_FILES = ("logs/*", "*.log", ".snakemake/*", "checksums/*")
# attributes that name when or where a file was made, not what it holds
SKIP_ATTRS = frozenset({
    "created",          # the study store's creation time (provenance group)
    "dask_scheduler",   # where a job's dask work ran (a trial output's provenance)
    "_NCProperties",    # netCDF library versions
    "DIMENSION_LIST", "REFERENCE_LIST",  # HDF5 object references, compared through names
    "_Netcdf4Dimid", "_Netcdf4Coordinates",  # netCDF's dimension ids: the order of writing
})
_PHONY = b"This is a netCDF dimension but not a netCDF variable."  # NAME of a dimension without a variable


def _phony(v) -> bool:
    return (v.encode() if isinstance(v, str) else bytes(v)).startswith(_PHONY)
HDF5_SUFFIXES = (".h5", ".hdf5", ".nc")


def output_files(root: str | Path, skip: Iterable[str] = SKIP_FILES) -> list[str]:
    """The files under `root`, relative and sorted, without those matching a `skip` pattern."""
    root = Path(root)
    skip = tuple(skip)
    names = (p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    return sorted(n for n in names if not any(fnmatch.fnmatch(n, pat) for pat in skip))


def _equal(a, b, rtol: float) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype.kind != b.dtype.kind:
        return False
    if a.dtype.kind in "fc":
        if rtol:
            return bool(np.allclose(a, b, rtol=rtol, atol=0, equal_nan=True))
        return bool(np.array_equal(a, b, equal_nan=True))
    if a.dtype.names:  # compound
        return all(_equal(a[n], b[n], rtol) for n in a.dtype.names)
    return bool(np.array_equal(a, b))


def _hdf5_differences(a: Path, b: Path, name: str, skip_attrs, rtol: float) -> list[str]:
    import h5py

    out: list[str] = []

    def items(f):
        found = {"/": f}
        f.visititems(lambda key, obj: found.__setitem__(key, obj))
        return found

    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        ia, ib = items(fa), items(fb)
        for key in sorted(set(ia) ^ set(ib)):
            out.append(f"{name}:{key}: only in {'the first' if key in ia else 'the second'}")
        for key in sorted(set(ia) & set(ib)):
            oa, ob = ia[key], ib[key]
            if isinstance(oa, h5py.Dataset) != isinstance(ob, h5py.Dataset):
                out.append(f"{name}:{key}: a dataset in one, a group in the other")
                continue
            if isinstance(oa, h5py.Dataset):
                if oa.shape != ob.shape or oa.dtype != ob.dtype:
                    out.append(f"{name}:{key}: {oa.dtype}{oa.shape} != {ob.dtype}{ob.shape}")
                elif oa.dtype.kind != "O" or h5py.check_string_dtype(oa.dtype):
                    if not _equal(oa[()], ob[()], rtol):
                        out.append(f"{name}:{key}: values differ")
            attrs_a = {k for k in oa.attrs if k not in skip_attrs}
            attrs_b = {k for k in ob.attrs if k not in skip_attrs}
            for k in sorted(attrs_a ^ attrs_b):
                out.append(f"{name}:{key}: attribute {k} only in {'the first' if k in attrs_a else 'the second'}")
            for k in sorted(attrs_a & attrs_b):
                if k == "NAME" and _phony(oa.attrs[k]) and _phony(ob.attrs[k]):
                    continue  # the dimension's size when created (0 if grown later): its shape is compared
                if not _equal(oa.attrs[k], ob.attrs[k], rtol):
                    out.append(f"{name}:{key}: attribute {k}: {oa.attrs[k]!r} != {ob.attrs[k]!r}")
    return out


def output_differences(a: str | Path, b: str | Path, *, skip: Iterable[str] = SKIP_FILES,
                       skip_attrs: Iterable[str] = SKIP_ATTRS, rtol: float = 0.0) -> list[str]:
    """Every difference between the outputs under folders `a` and `b` (empty when the same).

    `rtol` 0 asks for equal numbers (the same code on the same machine gives the same bits);
    a run on other hardware may need a small tolerance.
    """
    a, b = Path(a), Path(b)
    skip_attrs = frozenset(skip_attrs)
    fa, fb = output_files(a, skip), output_files(b, skip)
    out = [f"{n}: only in {a if n in fa else b}" for n in sorted(set(fa) ^ set(fb))]
    for n in sorted(set(fa) & set(fb)):
        pa, pb = a / n, b / n
        if n.endswith(HDF5_SUFFIXES):
            out += _hdf5_differences(pa, pb, n, skip_attrs, rtol)
        elif n.endswith(".json"):
            if json.loads(pa.read_text()) != json.loads(pb.read_text()):
                out.append(f"{n}: JSON differs")
        elif pa.read_bytes() != pb.read_bytes():
            out.append(f"{n}: contents differ")
    return out


def assert_same_outputs(a: str | Path, b: str | Path, **kwargs) -> list[str]:
    """Fail with the list of differences unless `a` and `b` hold the same outputs; returns the
    files compared (so a caller can check that there were some)."""
    diffs = output_differences(a, b, **kwargs)
    assert not diffs, f"{len(diffs)} difference(s) between {a} and {b}:\n" + "\n".join(diffs[:50])
    return output_files(a, kwargs.get("skip", SKIP_FILES))
