"""The byte layout of a C3D file: header, parameter-section structure, number formats.

ezc3d parses the parameters; this module does the few things it cannot:

* check the header and the parameter section's structure before ezc3d sees them, so
  that a truncated or corrupted file raises :class:`~chainlab.C3DError` instead of
  crashing or hanging the interpreter;
* turn the header and parameter section of an SGI/MIPS (big-endian) file into their
  Intel twin, which ezc3d 1.7.2 reads (it rejects MIPS files);
* describe the data section (offset, words per frame, number format), which
  :mod:`chainlab.io.c3d` then maps with numpy, frame by frame or in chunks.

Reference: the C3D file format user guide (c3d.org), chapters "The 3D header section",
"The parameter section" and "The 3D data section".
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

BLOCK = 512
#: Processor types of the parameter-section header (byte 4).
PROCESSORS = {84: "intel", 85: "dec", 86: "mips"}
_PARAM_TYPES = {-1: 1, 1: 1, 2: 2, 4: 4}  # C3D type code -> bytes per element
_MAX_DIMS = 7


class FormatError(ValueError):
    """The bytes do not follow the C3D layout; the message says where and what."""


@dataclass(frozen=True)
class Header:
    """The fields of the 512-byte C3D header that the reader uses (C3D guide, table 2)."""

    param_block: int  # word 1, low byte: first block of the parameter section (1-based)
    n_points: int  # word 2
    n_analog_words: int  # word 3: analog samples per 3D frame, all channels together
    first_frame: int  # word 4 (1-based)
    last_frame: int  # word 5; 65535 when the capture is longer
    scale: float  # words 7-8: point scale, negative for float storage
    data_block: int  # word 9: first block of the data section (1-based)
    analog_ratio: int  # word 10: analog samples per 3D frame, one channel
    rate: float  # words 11-12: 3D frame rate (Hz)

    @property
    def frames(self) -> int:
        return self.last_frame - self.first_frame + 1


@dataclass
class Record:
    """One group or parameter record of the parameter section."""

    name: str
    group_id: int  # abs(id); the group a parameter belongs to
    is_group: bool
    offset_pos: int  # position of the int16 'offset to next record'
    type: int = 0  # parameters only: -1, 1, 2 or 4
    dims: tuple[int, ...] = ()
    data_pos: int = 0
    fixed_offset: int | None = None  # set when the stored offset was wrong
    missing_description_at: int | None = None  # set when the description byte is missing
    long_description_at: int | None = None  # description length >= 128 (ezc3d reads it < 0)

    @property
    def count(self) -> int:
        """Number of values of a parameter (a scalar has no dimensions and one value)."""
        return int(np.prod(self.dims)) if self.dims else 1


@dataclass
class Layout:
    """What the reader needs to know about one file's bytes."""

    size: int
    processor: str  # 'intel', 'dec' or 'mips'
    header: Header
    param_start: int  # byte offset of the parameter section
    param_blocks: int
    records: list[Record] = field(default_factory=list)
    #: What was wrong but read anyway; the record positions still hold the bad values.
    repairs: list[str] = field(default_factory=list)
    #: (position in the section, corrected int16) of 'offset to next record' fields.
    offset_fixes: list[tuple[int, int]] = field(default_factory=list)
    #: (group, parameter) of records the chain of records does not reach ('' for a group).
    unreached: list[tuple[str, str]] = field(default_factory=list)

    @property
    def byteorder(self) -> str:
        return ">" if self.processor == "mips" else "<"

    @property
    def param_end(self) -> int:
        return self.param_start + self.param_blocks * BLOCK


def decode_floats(raw: bytes | np.ndarray, processor: str) -> np.ndarray:
    """Decode 4-byte floats stored by `processor` into float32.

    DEC (VAX F) floats are IEEE floats with their two 16-bit halves swapped and an
    exponent bias larger by 2: swap the halves, read little-endian, divide by 4.
    """
    buf = np.frombuffer(raw, dtype=np.uint8) if isinstance(raw, bytes | bytearray) else raw
    if processor == "mips":
        return buf.view(">f4").astype(np.float32)
    if processor == "dec":
        halves = buf.view("<u2").reshape(-1, 2)[:, ::-1]
        ieee = np.ascontiguousarray(halves).view("<f4").reshape(-1)
        return ieee / np.float32(4.0)
    return buf.view("<f4").astype(np.float32)


def _float(raw: bytes, processor: str) -> float:
    return float(decode_floats(raw, processor)[0])


def read_layout(data: bytes | memoryview, size: int) -> Layout:
    """Check the header and parameter section and return the file's layout.

    Parameters
    ----------
    data : bytes
        The bytes from the start of the file to at least the end of the parameter
        section (more is allowed).
    size : int
        The file's size in bytes.

    Raises
    ------
    FormatError
        When the bytes are not a C3D file, or its header or parameter section is
        truncated or corrupted.
    """
    if size == 0:
        raise FormatError("the file is empty; expected a C3D header of 512 bytes")
    if size < BLOCK:
        raise FormatError(f"the file has {size} bytes; a C3D file has at least a 512-byte header")
    if data[1] != 0x50:
        raise FormatError(
            f"byte 2 of the header is {data[1]:#04x}, not the C3D key 0x50: not a C3D file"
        )
    param_block = data[0]
    if param_block < 2:
        raise FormatError(
            f"header word 1 points the parameter section at block {param_block}; expected >= 2"
        )
    param_start = (param_block - 1) * BLOCK
    if size < param_start + 4:
        raise FormatError(
            f"the file ends at byte {size}, before the parameter section at byte {param_start}"
        )
    p_head = bytes(data[param_start : param_start + 4])
    proc_code = p_head[3]
    if proc_code not in PROCESSORS:
        raise FormatError(
            f"processor type {proc_code} in the parameter section; expected 84 (Intel), "
            "85 (DEC) or 86 (SGI/MIPS)"
        )
    processor = PROCESSORS[proc_code]
    header = _parse_header(bytes(data[:BLOCK]), processor)
    # The section ends where the data section starts when the header says so; several
    # writers store a wrong block count (0, or fewer or more blocks than they wrote).
    declared = p_head[2]
    data_start = (header.data_block - 1) * BLOCK
    if param_start < data_start <= size:
        n_blocks = min(255, (data_start - param_start) // BLOCK)
    else:
        n_blocks = min(declared, -(-(size - param_start) // BLOCK))
    if n_blocks == 0:
        raise FormatError("the parameter section has 0 blocks")
    layout = Layout(
        size=size,
        processor=processor,
        header=header,
        param_start=param_start,
        param_blocks=n_blocks,
    )
    if n_blocks != declared:
        layout.repairs.append(
            f"parameter section: {declared} blocks declared, {n_blocks} before the data section"
        )
    section = bytes(data[param_start : min(size, layout.param_end)])
    layout.records = _walk_parameters(section, processor, layout.repairs)
    extended = bytes(data[param_start : param_start + 255 * BLOCK])
    layout.unreached = _unreached_records(extended, layout.records, processor)
    return layout


def _parse_header(h: bytes, processor: str) -> Header:
    e = ">" if processor == "mips" else "<"
    n_points, n_analog, first, last = struct.unpack(e + "4H", h[2:10])
    data_block, ratio = struct.unpack(e + "2H", h[16:20])
    header = Header(
        param_block=h[0],
        n_points=n_points,
        n_analog_words=n_analog,
        first_frame=first,
        last_frame=last,
        scale=_float(h[12:16], processor),
        data_block=data_block,
        analog_ratio=ratio,
        rate=_float(h[20:24], processor),
    )
    if not np.isfinite(header.scale) or header.scale == 0:
        raise FormatError(f"header point scale is {header.scale}; expected a finite non-zero number")
    if not np.isfinite(header.rate) or header.rate < 0:
        raise FormatError(f"header frame rate is {header.rate}; expected a finite rate >= 0 Hz")
    return header


def _walk_parameters(section: bytes, processor: str, repairs: list[str]) -> list[Record]:
    """Walk the linked records of the parameter section, checking every bound.

    A record whose 'offset to next' points inside itself (a known writer bug, e.g. c3d.org
    sample18) is followed to its computed end instead, and the repair is listed.
    """
    e = ">" if processor == "mips" else "<"
    n = len(section)
    pos = 4
    records: list[Record] = []
    while True:
        if pos + 2 > n:
            # Ran off the section without a terminating record: accept what was read
            # when it is something, as several writers do.
            break
        name_len = abs(struct.unpack("b", section[pos : pos + 1])[0])
        rec_id = struct.unpack("b", section[pos + 1 : pos + 2])[0]
        if name_len == 0:
            break
        if rec_id == 0:
            raise FormatError(f"parameter record at byte {pos} has group id 0")
        name_end = pos + 2 + name_len
        if name_end + 2 > n:
            raise FormatError(f"parameter record at byte {pos} runs past the parameter section")
        raw_name = section[pos + 2 : name_end]
        if not all(32 <= c < 127 for c in raw_name):
            raise FormatError(f"parameter record at byte {pos} has a name that is not ASCII text")
        name = raw_name.decode("ascii")
        off_pos = name_end
        (offset,) = struct.unpack(e + "h", section[off_pos : off_pos + 2])
        # ezc3d reads the offset unsigned: a negative one points past the section (the end)
        nxt = off_pos + (offset % 65536) if offset else None
        body = off_pos + 2
        if rec_id < 0:
            if body + 1 > n:
                raise FormatError(f"group {name!r} runs past the parameter section")
            end = body + 1 + section[body]
            rec = Record(name=name, group_id=-rec_id, is_group=True, offset_pos=off_pos)
            if section[body] >= 128:
                rec.long_description_at = body
        else:
            if body + 2 > n:
                raise FormatError(f"parameter {name!r} runs past the parameter section")
            ptype = struct.unpack("b", section[body : body + 1])[0]
            if ptype not in _PARAM_TYPES:
                raise FormatError(f"parameter {name!r} has data type {ptype}; expected -1, 1, 2 or 4")
            ndims = section[body + 1]
            if ndims > _MAX_DIMS:
                raise FormatError(f"parameter {name!r} has {ndims} dimensions; expected at most 7")
            if ptype == -1 and ndims == 0:
                raise FormatError(f"parameter {name!r} is text with no dimensions")
            dims = tuple(section[body + 2 : body + 2 + ndims])
            data_pos = body + 2 + ndims
            count = int(np.prod(dims)) if ndims else 1
            desc_pos = data_pos + count * _PARAM_TYPES[ptype]
            if desc_pos + 1 > n:
                raise FormatError(
                    f"parameter {name!r} holds {count} values that run past the parameter section"
                )
            end = desc_pos + 1 + section[desc_pos]
            rec = Record(
                name=name,
                group_id=rec_id,
                is_group=False,
                offset_pos=off_pos,
                type=ptype,
                dims=dims,
                data_pos=data_pos,
            )
            if desc_pos < n and section[desc_pos] >= 128:
                rec.long_description_at = desc_pos
        if nxt is not None and not rec.is_group and desc_pos <= nxt < end:
            # The record stops after its values, without a description length byte.
            repairs.append(f"parameter {name!r} has no description; read without one")
            rec.missing_description_at = desc_pos
            end = nxt
        if end > n:
            raise FormatError(f"record {name!r} runs past the parameter section")
        if nxt is not None and nxt < end:
            repairs.append(
                f"record {name!r} says the next record starts at byte {nxt}, inside itself "
                f"(it ends at byte {end}); read on from its end"
            )
            nxt = end
            rec.fixed_offset = end - off_pos
        records.append(rec)
        if nxt is not None and nxt >= n:
            rec.fixed_offset = 0  # the last record points past the section: it ends the list
            break
        if nxt is None:
            break
        pos = nxt
    if records and not any(r.is_group for r in records):
        raise FormatError("the parameter section holds parameters but no groups")
    _check_required(section, records, processor)
    return records


_NAME_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def _probe(section: bytes, pos: int, stop: int, processor: str) -> list[tuple[str, int, bool]]:
    """(name, group id, is group) of the records that parse from `pos` until `stop`.

    Used on bytes the walk did not visit: a record found there was skipped (its neighbour's
    offset jumped over it) or cut off (the section ends, or a record ends the list, before
    it). Stops at the first bytes that are not a plausible record.
    """
    e = ">" if processor == "mips" else "<"
    n = min(len(section), stop)
    found: list[tuple[str, int, bool]] = []
    while pos + 2 <= n and len(found) < 10_000:
        name_len = abs(struct.unpack_from("b", section, pos)[0])
        rec_id = struct.unpack_from("b", section, pos + 1)[0]
        name_end = pos + 2 + name_len
        if name_len == 0 or rec_id == 0 or name_end + 3 > n:
            break
        if not all(c in _NAME_BYTES for c in section[pos + 2 : name_end]):
            break
        (offset,) = struct.unpack_from(e + "h", section, name_end)
        body = name_end + 2
        if rec_id < 0:
            end = body + 1 + section[body]
        else:
            ptype, ndims = struct.unpack_from("b", section, body)[0], section[body + 1]
            if ptype not in _PARAM_TYPES or ndims > _MAX_DIMS or body + 2 + ndims > n:
                break
            dims = section[body + 2 : body + 2 + ndims]
            count = int(np.prod(list(dims))) if ndims else 1
            desc = body + 2 + ndims + count * _PARAM_TYPES[ptype]
            if desc >= n:
                break
            end = desc + 1 + section[desc]
        if end > n:
            break
        found.append((section[pos + 2 : name_end].decode("ascii"), abs(rec_id), rec_id < 0))
        nxt = name_end + offset if offset > 0 else end
        if nxt < end:
            nxt = end
        pos = nxt
        if offset <= 0:
            break
    return found


def _unreached_records(extended: bytes, records: list[Record], processor: str) -> list[tuple[str, str]]:
    """(group, name) of the records the chain of records skips or cuts off ('' name: a group).

    Looked for in the gaps the offsets jump over and after the last record, up to 255 blocks
    from the section's start (beyond a section cut short).
    """
    if not records:
        return []
    lost: list[tuple[str, int, bool]] = []
    for rec, nxt in zip(records, records[1:], strict=False):  # gaps between visited records
        end = _record_end(extended, rec, processor)
        start = nxt.offset_pos - len(nxt.name) - 2
        if end is not None and start > end:
            lost += _probe(extended, end, start, processor)
    last = records[-1]
    end = _record_end(extended, last, processor)
    if end is not None:  # after the last record; or where its offset points, past the section
        tail = _probe(extended, end, len(extended), processor)
        e = ">" if processor == "mips" else "<"
        (offset,) = struct.unpack_from(e + "h", extended, last.offset_pos)
        nxt = last.offset_pos + offset % 65536
        if not tail and offset and nxt > end:
            tail = _probe(extended, nxt, len(extended), processor)
        lost += tail
    groups = {r.group_id: r.name for r in records if r.is_group}
    groups.update({gid: name for name, gid, is_group in lost if is_group})
    return [(name, "") if is_group else (groups.get(gid, f"group {gid}"), name) for name, gid, is_group in lost]


def _record_end(section: bytes, rec: Record, processor: str) -> int | None:
    """Byte just after a record's description (None when it does not fit)."""
    body = rec.offset_pos + 2
    if rec.is_group:
        at = body
    else:
        at = rec.data_pos + rec.count * _PARAM_TYPES[rec.type]
        if rec.missing_description_at is not None:
            return at
    return at + 1 + section[at] if at < len(section) else None


#: Parameters ezc3d indexes without checking: when present they need one value of this type.
_REQUIRED_SCALARS = {
    ("POINT", "USED"): 2,
    ("POINT", "FRAMES"): 2,
    ("POINT", "RATE"): 4,
    ("POINT", "SCALE"): 4,
    ("ANALOG", "USED"): 2,
    ("ANALOG", "RATE"): 4,
    ("ANALOG", "GEN_SCALE"): 4,
}


def _check_required(section: bytes, records: list[Record], processor: str) -> None:
    groups = {r.group_id: r.name.upper() for r in records if r.is_group}
    for rec in records:
        if rec.is_group:
            continue
        key = (groups.get(rec.group_id, ""), rec.name.upper())
        if key not in _REQUIRED_SCALARS:
            continue
        if rec.count == 0:
            raise FormatError(f"{key[0]}:{key[1]} holds no value; expected one")
        if key[1] == "USED" and rec.type == 2:
            if int(np.asarray(record_values(section, rec, processor))[0]) < 0:
                raise FormatError(f"{key[0]}:USED is negative")


def record_values(section: bytes, rec: Record, processor: str) -> np.ndarray | bytes:
    """The raw values of a parameter record (bytes for character and byte types)."""
    raw = section[rec.data_pos : rec.data_pos + rec.count * _PARAM_TYPES[rec.type]]
    if rec.type == 2:
        return np.frombuffer(raw, dtype=(">" if processor == "mips" else "<") + "i2")
    if rec.type == 4:
        return decode_floats(raw, processor)
    return raw


def find(layout: Layout, group: str, name: str | None = None) -> Record | None:
    """The record of GROUP (name None) or GROUP:NAME, if present."""
    gid = next((r.group_id for r in layout.records if r.is_group and r.name.upper() == group), None)
    if gid is None:
        return None
    if name is None:
        return next(r for r in layout.records if r.is_group and r.group_id == gid)
    return next(
        (r for r in layout.records if not r.is_group and r.group_id == gid and r.name.upper() == name),
        None,
    )


def append_parameter(
    blob: bytes, layout: Layout, group_id: int, name: str, ptype: int, values: np.ndarray
) -> bytes:
    """Append one parameter record to an Intel parameter section (header + section bytes).

    Used to give ezc3d parameters it needs and some writers leave out.
    """
    if layout.processor == "mips":
        raise ValueError("append to the Intel conversion of a MIPS file")
    out = bytearray(blob[: layout.param_end])
    p = layout.param_start
    last = layout.records[-1]
    sec = out[p:]
    if last.is_group:
        end = last.offset_pos + 2 + 1 + sec[last.offset_pos + 2]
    else:
        count = last.count
        desc = last.data_pos + count * _PARAM_TYPES[last.type]
        end = desc + 1 + sec[desc]
    values = np.asarray(values).ravel()
    if ptype == 2:
        data = values.astype("<i2").tobytes()
    elif layout.processor == "dec":
        ieee = (values.astype("<f4") * np.float32(4.0)).view("<u2").reshape(-1, 2)[:, ::-1]
        data = np.ascontiguousarray(ieee).tobytes()
    else:
        data = values.astype("<f4").tobytes()
    enc = name.encode("ascii")
    record = bytes([len(enc), group_id]) + enc + struct.pack("<h", 0)
    record += struct.pack("<bB", ptype, 1) + bytes([values.size]) + data + b"\x00"
    struct.pack_into("<h", out, p + last.offset_pos, end - last.offset_pos)
    body = bytes(out[: p + end]) + record
    body += b"\x00" * (-len(body) % BLOCK)
    blocks = (len(body) - p) // BLOCK
    if blocks > 255:
        raise ValueError("the parameter section would exceed 255 blocks")
    body = bytearray(body)
    body[p + 2] = blocks
    return bytes(body)


def repaired(blob: bytes, layout: Layout, byteorder: str | None = None) -> bytes:
    """Header + parameter section with the block count and bad offsets corrected."""
    out = bytearray(blob[: layout.param_end])
    out += b"\x00" * (layout.param_end - len(out))
    p = layout.param_start
    e = byteorder or layout.byteorder
    for rec in reversed(layout.records):  # back to front: insertions keep earlier positions
        if rec.fixed_offset is not None:
            struct.pack_into(e + "h", out, p + rec.offset_pos, rec.fixed_offset)
        if rec.long_description_at is not None:  # drop it: ezc3d would read a negative length
            at = p + rec.long_description_at
            length = out[at]
            del out[at + 1 : at + 1 + length]
            out[at] = 0
            (offset,) = struct.unpack_from(e + "h", out, p + rec.offset_pos)
            if offset:
                struct.pack_into(e + "h", out, p + rec.offset_pos, offset - length)
        if rec.missing_description_at is not None:
            (offset,) = struct.unpack_from(e + "h", out, p + rec.offset_pos)
            struct.pack_into(e + "h", out, p + rec.offset_pos, offset + 1)
            out.insert(p + rec.missing_description_at, 0)
    out += b"\x00" * (-len(out) % BLOCK)
    out[p + 2] = min(255, (len(out) - p) // BLOCK)
    return bytes(out)


def mips_to_intel(data: bytes, layout: Layout) -> bytes:
    """Return the header and parameter section of a MIPS file in Intel byte order.

    Integers and floats are byte-swapped in place; the processor byte becomes 84.
    The returned bytes end with the parameter section (no data section).
    """
    out = bytearray(data[: layout.param_end])
    out += b"\x00" * (layout.param_end - len(out))

    def swap(pos: int, width: int, count: int = 1) -> None:
        stop = pos + width * count
        chunk = out[pos:stop]
        out[pos:stop] = np.frombuffer(bytes(chunk), dtype=f">u{width}").astype(f"<u{width}").tobytes()

    # Header: integer words 2-6, 9-10, 148-152 and floats 7-8, 11-12, 153-188.
    swap(2, 2, 5)
    swap(12, 4)
    swap(16, 2, 2)
    swap(20, 4)
    swap(294, 2, 5)
    swap(304, 4, 18)
    p = layout.param_start
    out[p + 3] = 84
    for rec in layout.records:
        swap(p + rec.offset_pos, 2)
        if rec.is_group or rec.type in (-1, 1):
            continue
        swap(p + rec.data_pos, rec.type, rec.count)
    return repaired(bytes(out), layout, byteorder="<")
