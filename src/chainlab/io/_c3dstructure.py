"""The structure of one C3D file: header, parameters (parsed by ezc3d) and data layout.

:class:`Structure` holds everything known about a capture before its data section is
touched, and reads any window of frames of the data section with numpy.
"""

from __future__ import annotations

import os
import stat
import struct
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from chainlab.errors import C3DError, C3DWarning
from chainlab.io import _c3dformat as fmt

LONG_CAPTURE_HEADER_FRAMES = 65535
_HIDDEN_ROTATION = b"XOTATION"  # the ROTATION group, renamed while ezc3d parses


# --------------------------------------------------------------------------- parameters


class _Params:
    """Read access to ezc3d's parameter dictionary, with C3D's continuation rules.

    ezc3d hands over text bytes that are not UTF-8 as lone surrogates, which fail later
    (when written, or compared). `strings` and `first` decode such bytes as Latin-1 (what
    older writers use: b'mm/s\\xb2' is 'mm/s²') and report each parameter once through
    `warn`, naming the entries.
    """

    def __init__(self, raw: dict[str, Any], warn: Callable[[str], None] | None = None):
        self.raw = raw
        self._warn = warn
        self._reported: set[tuple[str, str]] = set()

    def value(self, group: str, name: str, default: Any = None) -> Any:
        try:
            return self.raw[group][name]["value"]
        except KeyError:
            return default

    def first(self, group: str, name: str, default: Any = None) -> Any:
        v = self.value(group, name)
        if v is None:
            return default
        if isinstance(v, list) and v and isinstance(v[0], str):
            v = v[0]
        if isinstance(v, str):
            return self._texts([v], group, name)[0]
        arr = np.asarray(v).ravel()
        return arr[0].item() if arr.size else default

    def _continued(self, group: str, name: str) -> Iterator[tuple[str, Any]]:
        """NAME, then NAME2, NAME3, ... while they exist (C3D's rule for > 255 entries)."""
        for suffix in ["", *map(str, range(2, 100))]:
            v = self.value(group, name + suffix)
            if v is None:
                return
            yield name + suffix, v

    def strings(self, group: str, name: str) -> list[str]:
        out: list[str] = []
        for param, v in self._continued(group, name):
            texts = [str(s) for s in (v if isinstance(v, list) else [v])]
            out += [t.strip() for t in self._texts(texts, group, param)]
        return out

    def _texts(self, texts: list[str], group: str, name: str) -> list[str]:
        """`texts` with bytes that are not UTF-8 (lone surrogates) read as Latin-1."""
        bad: list[int] = []
        out = list(texts)
        for i, s in enumerate(texts):
            if s.isascii():
                continue
            try:
                s.encode("utf-8")
            except UnicodeEncodeError:
                raw = s.encode("utf-8", "surrogateescape")
                out[i] = "".join(
                    ch if not 0xDC80 <= ord(ch) <= 0xDCFF else bytes([ord(ch) - 0xDC00]).decode("latin-1")
                    for ch in s
                )
                bad.append(i)
                if len(bad) == 1:
                    example = (raw.strip(), out[i].strip())
        if bad and self._warn is not None and (group, name) not in self._reported:
            self._reported.add((group, name))
            entries = ", ".join(str(i + 1) for i in bad[:6]) + (f", ... ({len(bad) - 6} more)" if len(bad) > 6 else "")
            self._warn(
                f"{group}:{name} {'entry' if len(bad) == 1 else 'entries'} {entries} "
                f"{'is' if len(bad) == 1 else 'are'} not UTF-8 text "
                f"(e.g. {example[0]!r}); read as Latin-1 ({example[1]!r})"
            )
        return out

    def numbers(self, group: str, name: str) -> np.ndarray:
        parts = [np.asarray(v, dtype=float).ravel(order="F") for _, v in self._continued(group, name)]
        return np.concatenate(parts) if parts else np.empty(0)


# --------------------------------------------------------------------------- structure


class _Structure:
    """Everything known about a file before its data section is touched."""

    def __init__(self, path: Path):
        self.path = path
        self.warnings: list[str] = []
        try:
            info = path.stat()
        except OSError as exc:
            raise C3DError(path, f"cannot open: {exc.strerror or exc}") from None
        if not stat.S_ISREG(info.st_mode):
            raise C3DError(path, f"is {_file_kind(info.st_mode)}, not a regular file; expected a C3D file")
        try:
            size = info.st_size
            with open(path, "rb") as f:
                head = f.read(512)
                start = (head[0] - 1) * fmt.BLOCK if len(head) >= 1 and head[0] >= 1 else 0
                f.seek(0)
                data = f.read(start + 256 * fmt.BLOCK)
        except OSError as exc:
            raise C3DError(path, f"cannot open: {exc.strerror or exc}") from None
        try:
            self.layout = fmt.read_layout(data, size)
        except fmt.FormatError as exc:
            raise C3DError(path, str(exc)) from None
        self.params = _Params(self._parse_parameters(data), self.warn)
        self._describe_data()

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        warnings.warn(f"{self.path}: {message}", C3DWarning, stacklevel=4)

    def _parse_parameters(self, data: bytes) -> dict[str, Any]:
        """Hand ezc3d the header and parameter section alone (converted if MIPS)."""
        import ezc3d

        if not self.layout.records:
            self.warn("the parameter section is empty; the header alone describes the data")
            return {}
        blob = bytearray(self._blob_for_ezc3d(data))
        # ezc3d is given no data section: a header announcing no frames keeps it from
        # looking for any (a long capture's header otherwise makes it fail).
        first = struct.unpack_from("<H", blob, 6)[0]
        struct.pack_into("<H", blob, 8, max(first, 1) - 1)
        struct.pack_into("<H", blob, 6, max(first, 1))
        fd, tmp = tempfile.mkstemp(suffix=".c3d", prefix="chainlab-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            errors = []
            for ignore_bad in (False, True):
                try:
                    c = ezc3d.c3d(tmp, ignore_bad_formatting=ignore_bad)
                    break
                except Exception as exc:  # ezc3d raises RuntimeError and friends
                    errors.append(str(exc).split(".")[0])
            else:
                raise C3DError(self.path, f"ezc3d cannot parse the parameters: {errors[0]}")
            if errors:
                self.warn(f"non-standard parameter section read leniently ({errors[0]})")
            params = {g: dict(v) for g, v in c["parameters"].items() if g != "header"}
            hidden = _HIDDEN_ROTATION.decode()
            if hidden in params:
                params["ROTATION"] = params.pop(hidden)
            self._check_groups_kept(params)
            return params
        finally:
            os.unlink(tmp)

    def _check_groups_kept(self, params: dict[str, Any]) -> None:
        """Every group and parameter found in the parameter section was parsed, or warn.

        Found: the records the chain of records reaches, and those it skips or cuts off
        (see :func:`chainlab.io._c3dformat._unreached_records`).
        """
        lay = self.layout
        gname = {r.group_id: r.name.upper() for r in lay.records if r.is_group}
        found = [
            (r.name.upper(), "") if r.is_group else (gname.get(r.group_id, ""), r.name.upper())
            for r in lay.records
        ]
        found += [(g.upper(), n.upper()) for g, n in lay.unreached]
        hidden = _HIDDEN_ROTATION.decode()
        parsed = {g.upper(): {n.upper() for n in v} for g, v in params.items()}
        lost_groups = sorted({g for g, n in found if not n and g not in parsed and g != hidden})
        lost_params = [
            f"{g}:{n}" for g, n in found if n and g not in lost_groups and n not in parsed.get(g, ())
            and g != hidden and g
        ]
        if not lost_groups and not lost_params:
            return
        what = []
        if lost_groups:
            what.append(f"group(s) {', '.join(lost_groups)}")
        if lost_params:
            what.append(f"parameter(s) {_short(lost_params, 8)}")
        why = " (the chain of records skips or cuts them off)" if lay.unreached else ""
        self.warn(f"the parameter section holds {' and '.join(what)} that are not read{why}")

    def _blob_for_ezc3d(self, data: bytes) -> bytes:
        """Header + parameter section in a form ezc3d parses without crashing.

        MIPS files are converted to Intel. ezc3d 1.7.2 crashes (segfault) when ANALOG:USED > 0
        and ANALOG:SCALE or ANALOG:OFFSET is missing, and rejects a float OFFSET: such
        parameters are supplied (from a misspelt OFFSETS, or neutral values) with a warning.
        """
        lay = self.layout
        for repair in lay.repairs:
            self.warn(repair)
        if lay.processor == "mips":
            blob = fmt.mips_to_intel(data, lay)
        else:
            blob = fmt.repaired(data, lay)
        lay = fmt.read_layout(blob, len(blob))
        rot = fmt.find(lay, "ROTATION")
        if rot is not None:  # ezc3d would look for rotation data in the absent data section
            at = lay.param_start + rot.offset_pos - len(rot.name)
            blob = blob[:at] + _HIDDEN_ROTATION[:1] + blob[at + 1 :]
        used_rec = fmt.find(lay, "ANALOG", "USED")
        if used_rec is None or used_rec.type != 2:
            return blob
        used = int(np.asarray(fmt.record_values(blob[lay.param_start :], used_rec, lay.processor))[0])
        if used <= 0 or used > 255:
            return blob
        gid = used_rec.group_id
        for name, ptype, fill in (("SCALE", 4, 1.0), ("OFFSET", 2, 0)):
            rec = fmt.find(lay, "ANALOG", name)
            if rec is not None and (rec.type == ptype or name != "OFFSET"):
                continue
            values = np.full(used, fill, dtype=float)
            source = fmt.find(lay, "ANALOG", name + "S") if rec is None else rec
            if source is not None and source.type in (2, 4):
                vals = np.asarray(fmt.record_values(blob[lay.param_start :], source, lay.processor))
                values[: min(used, vals.size)] = vals[:used]
                if rec is not None:  # hide the float OFFSET from ezc3d, keep its values
                    at = lay.param_start + rec.offset_pos - len(rec.name)
                    blob = blob[:at] + b"X" + blob[at + 1 :]
                if rec is None:
                    self.warn(f"ANALOG:{name} is missing; ANALOG:{source.name} read in its place")
                else:
                    self.warn(f"ANALOG:{name} is stored as floats; read as integers")
            else:
                self.warn(f"ANALOG:{name} is missing; {fill} assumed for every channel")
            if ptype == 2 and not np.allclose(values, np.rint(values)):
                self.warn(f"ANALOG:{name} values are not integers; rounded")
            blob = fmt.append_parameter(blob, lay, gid, name, ptype, np.rint(values) if ptype == 2 else values)
            lay = fmt.read_layout(blob, len(blob))
        return blob

    def _describe_data(self) -> None:
        lay, p, h = self.layout, self.params, self.layout.header
        self.n_points = h.n_points
        used = p.first("POINT", "USED")
        if used is not None and int(used) != h.n_points:
            self.warn(f"POINT:USED is {used} but the header says {h.n_points}; the header wins")
        self.is_float = h.scale < 0
        scale = p.first("POINT", "SCALE", h.scale)
        self.point_scale = abs(float(scale)) if scale else abs(h.scale)
        rate = float(p.first("POINT", "RATE", h.rate) or h.rate)
        self.point_rate = rate if rate > 0 else h.rate
        n_channels = int(p.first("ANALOG", "USED", 0) or 0)
        self.n_analog_words = self._analog_words(n_channels)
        if self.n_analog_words == 0:
            n_channels, ratio = 0, 0
        elif n_channels == 0:
            self.warn(
                f"header has {self.n_analog_words} analog samples per frame but ANALOG:USED is 0; "
                "those samples are skipped"
            )
            ratio = 0
        elif self.n_analog_words % n_channels == 0:
            ratio = self.n_analog_words // n_channels
        else:
            raise C3DError(
                self.path,
                f"header has {self.n_analog_words} analog samples per frame, not a multiple of "
                f"ANALOG:USED = {n_channels}",
            )
        self.n_channels, self.analog_ratio = n_channels, ratio
        analog_rate = float(p.first("ANALOG", "RATE", 0) or 0)
        self.analog_rate = analog_rate if analog_rate > 0 else self.point_rate * ratio
        self.word = 4 if self.is_float else 2
        self.frame_words = 4 * self.n_points + self.n_analog_words
        self.frame_bytes = self.frame_words * self.word
        block = h.data_block or int(p.first("POINT", "DATA_START", 0) or 0)
        self.data_start = (block - 1) * fmt.BLOCK
        if block < 2 or self.data_start < lay.param_start + fmt.BLOCK:
            raise C3DError(
                self.path,
                f"the data section starts at block {block}, inside the header or parameter "
                "section",
            )
        self.first_frame = h.first_frame
        self.n_frames = self._count_frames()
        need = self.data_start + self.n_frames * self.frame_bytes
        if lay.size < need:
            have = max(0, (lay.size - self.data_start) // self.frame_bytes) if self.frame_bytes else 0
            raise C3DError(
                self.path,
                f"truncated: {self.n_frames} frames need {need} bytes, the file has {lay.size} "
                f"(room for {have} frames)",
            )

    def _analog_words(self, n_channels: int) -> int:
        """Analog samples per 3D frame: header word 3, unless the file's size contradicts it.

        Some writers (The MotionMonitor, c3d.org sample24) store the number of channels
        there; ANALOG:USED x (ANALOG:RATE / POINT:RATE) is then what the data section holds.
        """
        h, p = self.layout.header, self.params
        words = h.n_analog_words
        a_rate = float(p.first("ANALOG", "RATE", 0) or 0)
        if not (n_channels and a_rate > 0 and self.point_rate > 0):
            return words
        ratio = a_rate / self.point_rate
        if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
            return words
        alt = n_channels * int(round(ratio))
        if alt == words or h.frames <= 0:
            return words
        size = self.layout.size - (h.data_block - 1) * fmt.BLOCK
        w = 4 if self.is_float else 2

        def leftover(aw: int) -> int:
            return size - h.frames * (4 * h.n_points + aw) * w

        left_header, left_alt = leftover(words), leftover(alt)
        if left_alt >= 0 and (left_header < 0 or left_alt < left_header):
            self.warn(
                f"header says {words} analog samples per frame; the data section holds "
                f"ANALOG:USED x ANALOG:RATE/POINT:RATE = {alt}, which is read"
            )
            return alt
        return words

    def _count_frames(self) -> int:
        """Frame count, reading past the header's 65535 limit for long captures."""
        h, p = self.layout.header, self.params
        if h.last_frame < LONG_CAPTURE_HEADER_FRAMES:
            return max(0, h.frames)
        start = p.numbers("TRIAL", "ACTUAL_START_FIELD")
        end = p.numbers("TRIAL", "ACTUAL_END_FIELD")
        if start.size >= 2 and end.size >= 2:
            s = int(start[0]) % 65536 + 65536 * (int(start[1]) % 65536)
            e = int(end[0]) % 65536 + 65536 * (int(end[1]) % 65536)
            if e >= s:
                self.first_frame = s
                return e - s + 1
        long_frames = p.first("POINT", "LONG_FRAMES")
        if long_frames is not None and float(long_frames) > 0:
            return int(round(float(long_frames)))
        if self.frame_bytes:
            fitted = (self.layout.size - self.data_start) // self.frame_bytes
            fitted -= self._zero_padding_frames(fitted)
            if fitted > h.frames:
                self.warn(
                    f"header says {h.frames} frames (its maximum) and the file gives no "
                    f"true count; {fitted} frames fit in the data section and are read"
                )
                return int(fitted)
        return max(0, h.frames)

    def _zero_padding_frames(self, fitted: int) -> int:
        """Trailing all-zero frames within the last 512-byte block: padding, not data."""
        tail = min(fitted, fmt.BLOCK // self.frame_bytes + 1)
        if tail <= 0:
            return 0
        with open(self.path, "rb") as f:
            f.seek(self.data_start + (fitted - tail) * self.frame_bytes)
            raw = np.frombuffer(f.read(tail * self.frame_bytes), dtype=np.uint8)
        nonzero = raw.reshape(tail, self.frame_bytes).any(axis=1)
        last = np.flatnonzero(nonzero)
        return tail - (int(last[-1]) + 1 if last.size else 0)

    # ----------------------------------------------------------------------- data

    def read_words(self, start: int, stop: int, buffer: np.ndarray | None = None) -> np.ndarray:
        """Frames [start, stop) of the data section as (n, frame_words) numbers.

        `buffer`: the whole file's bytes, already read (uint8); else the frames are read
        from disk.
        """
        count = stop - start
        if count <= 0 or self.frame_words == 0:
            return np.zeros((max(count, 0), self.frame_words))
        offset = self.data_start + start * self.frame_bytes
        proc = self.layout.processor
        if self.is_float and proc == "dec":
            raw = self._load("<u4", count * self.frame_words, offset, buffer)
            words = ((raw >> 16) | (raw << 16)).view("<f4") / np.float32(4.0)
        else:
            e = self.layout.byteorder
            dtype = f"{e}f4" if self.is_float else f"{e}i2"
            words = self._load(dtype, count * self.frame_words, offset, buffer)
        if words.size != count * self.frame_words:
            raise C3DError(self.path, "truncated while reading the data section")
        return words.reshape(count, self.frame_words)

    def _load(self, dtype: str, count: int, offset: int, buffer: np.ndarray | None) -> np.ndarray:
        if buffer is None:
            return np.fromfile(self.path, dtype=dtype, count=count, offset=offset)
        size = np.dtype(dtype).itemsize
        count = max(0, min(count, (buffer.size - offset) // size))
        return np.frombuffer(buffer, dtype=dtype, count=count, offset=offset)


def _short(items: list[str], n: int = 4) -> str:
    return ", ".join(items[:n]) + (f", ... ({len(items) - n} more)" if len(items) > n else "")


def _file_kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return kind
    return "a special file"
