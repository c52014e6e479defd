"""The study store's arrays read from the trial files as they are written, a trial at a time
(:func:`chainlab.io.study_store.write_study_store`)."""

from __future__ import annotations

import numpy as np
import xarray as xr


class Streams:
    """The store's arrays read from the trial files when written, a trial at a time (bounded
    memory): in the groups each is a placeholder of its shape and dtype (a zero-strided view,
    no memory), and :meth:`parts` reads it. `progress` (a callable taking a message) hears of
    every tenth of the trials read."""

    def __init__(self, progress=None):
        self.progress = progress
        self.arrays: dict[str, tuple] = {}  # "/group/variable" -> (trials, read, shape, dtype, say)

    def lazy(self, trials, read, shape, dtype, empty_shape, name: str, say: bool = True) -> np.ndarray:
        """The trials' `read(view)` arrays concatenated along their first axis, each of
        `shape(view)`, as a placeholder; `name` is the variable's path in the store."""
        if not trials:
            return np.zeros(empty_shape, dtype)
        self.arrays[name] = (trials, read, shape, dtype, say)
        rows = sum(shape(t)[0] for t in trials)
        return np.broadcast_to(np.zeros((), dtype), (rows, *shape(trials[0])[1:]))

    def _checked(self, name: str, t, done: list):
        trials, read, shape, _, say = self.arrays[name]
        where = f"{getattr(t, 'path', t.trial)}: {name} of trial {t.trial!r}"
        try:
            out = read(t)
        except (ValueError, KeyError, IndexError) as exc:
            raise ValueError(f"{where}: {exc}") from None
        if out.shape != shape(t):  # it would land on the next trial's rows
            raise ValueError(f"{where} has shape {out.shape}; its tables say {shape(t)}")
        done[0] += 1
        every = max(1, len(trials) // 10)
        if say and self.progress is not None and (done[0] % every == 0 or done[0] == len(trials)):
            self.progress(f"{name}: {done[0]}/{len(trials)} trials")
        return out

    def parts(self, name: str):
        """Array `name`, one trial's part after the other."""
        done = [0]
        return (self._checked(name, t, done) for t in self.arrays[name][0])

    def by_group(self) -> dict[str, dict]:
        """{"/group": {variable: a function returning its parts}} (:func:`chainlab.io._netcdf.write_groups`)."""
        out: dict[str, dict] = {}
        for name in self.arrays:
            group, var = name.rsplit("/", 1)
            out.setdefault(group, {})[var] = lambda name=name: self.parts(name)
        return out

    def to_dask(self, groups: dict[str, xr.Dataset]) -> None:
        """The placeholders of `groups` (group name -> Dataset) replaced by dask arrays of one
        chunk per trial, for xarray's writer."""
        import dask
        import dask.array as da

        for name, (trials, _, shape, dtype, _) in self.arrays.items():
            group, var = name.strip("/").rsplit("/", 1)
            done = [0]
            parts = [da.from_delayed(dask.delayed(self._checked, pure=False)(name, t, done), shape=shape(t),
                                     dtype=dtype) for t in trials]
            groups[group].variables[var].data = da.concatenate(parts, axis=0)
