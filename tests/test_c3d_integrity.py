"""Reader integrity (issue #14 items 7-9): damaged parameter sections, special files,
undecodable label bytes; each built from a real capture in a temporary folder."""

from __future__ import annotations

import json
import os
import struct
import threading

import numpy as np
import pytest

from chainlab import C3DError, C3DWarning, read_c3d
from chainlab.io import _c3dformat as fmt

from .conftest import STUDY

WALK = STUDY / "HC030A" / "Straight" / "HC030A05.c3d"


def _layout(raw: bytes) -> fmt.Layout:
    return fmt.read_layout(raw, len(raw))


def _record_start(rec: fmt.Record) -> int:
    return rec.offset_pos - len(rec.name) - 2


def _set_offset(raw: bytearray, lay: fmt.Layout, rec: fmt.Record, target: int | None) -> None:
    """Point `rec`'s 'offset to next record' at section byte `target` (None: end of list)."""
    value = 0 if target is None else target - rec.offset_pos
    struct.pack_into("<h", raw, lay.param_start + rec.offset_pos, value)


def _event_group(lay: fmt.Layout) -> int:
    return next(i for i, r in enumerate(lay.records) if r.is_group and r.name == "EVENT")


def test_records_skipped_by_an_offset_are_read_or_named(tmp_path):
    """The record before EVENT points past EVENT and its parameters. ezc3d reads records in
    sequence (leniently) and keeps them: the events are read, and no loss is claimed."""
    import warnings

    raw = bytearray(WALK.read_bytes())
    lay = _layout(bytes(raw))
    i = _event_group(lay)
    after = next(j for j in range(i + 1, len(lay.records)) if lay.records[j].group_id != 7)
    _set_offset(raw, lay, lay.records[i - 1], _record_start(lay.records[after]))
    path = tmp_path / "skips_event.c3d"
    path.write_bytes(raw)
    lay2 = _layout(bytes(raw))
    assert ("EVENT", "") in lay2.unreached and ("EVENT", "TIMES") in lay2.unreached
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        ds = read_c3d(path)
    assert not [w for w in rec if "not read" in str(w.message)]
    assert ds.sizes["event"] == read_c3d(WALK).sizes["event"] > 0


def test_a_list_ended_early_names_every_group_cut_off(tmp_path):
    """The record before EVENT ends the list: EVENT ... PROCESSING are all named."""
    raw = bytearray(WALK.read_bytes())
    lay = _layout(bytes(raw))
    _set_offset(raw, lay, lay.records[_event_group(lay) - 1], None)
    path = tmp_path / "cut_at_event.c3d"
    path.write_bytes(raw)
    with pytest.warns(C3DWarning) as rec:
        ds = read_c3d(path)
    lost = [str(w.message) for w in rec if "not read" in str(w.message)]
    assert len(lost) == 1 and str(path) in lost[0]
    assert "group(s) ANALYSIS, EVENT, MANUFACTURER, PROCESSING that are not read" in lost[0]
    assert any("not read" in w for w in ds.attrs["read_warnings"])
    assert ds.sizes["event"] == 0 and ds.sizes["measurement"] == 0


def test_a_section_cut_short_names_what_is_lost(tmp_path):
    """The header's data block cuts the parameter section before EVENT.

    Built from the walk: the records from EVENT on are moved after the last kept block, the
    record before them points there (past the section's new end), and the header's data
    block is the block after the kept ones. The records that now lie where the data section
    starts are named.
    """
    raw = bytearray(WALK.read_bytes())
    lay = _layout(bytes(raw))
    i = _event_group(lay)
    prev, keep = lay.records[i - 1], _record_start(lay.records[i])
    ps = lay.param_start
    old_data = (struct.unpack_from("<H", raw, 16)[0] - 1) * fmt.BLOCK
    section = bytearray(raw[ps : ps + keep])
    section += b"\0" * (-len(section) % fmt.BLOCK)
    struct.pack_into("<h", section, prev.offset_pos, len(section) - prev.offset_pos)  # past the end
    section[2] = len(section) // fmt.BLOCK
    tail = bytes(raw[ps + keep : old_data]).rstrip(b"\0")
    body = bytearray(raw[:ps]) + section
    struct.pack_into("<H", body, 16, len(body) // fmt.BLOCK + 1)  # header: data block
    body += tail
    body += b"\0" * (-len(body) % fmt.BLOCK)
    path = tmp_path / "cut_section.c3d"
    path.write_bytes(bytes(body) + raw[old_data:])
    lay2 = _layout(path.read_bytes())
    assert lay2.param_blocks == len(section) // fmt.BLOCK
    assert all(r.name != "EVENT" for r in lay2.records)
    assert ("PROCESSING", "") in lay2.unreached and ("EVENT", "TIMES") in lay2.unreached
    with pytest.warns(C3DWarning) as rec:
        ds = read_c3d(path)
    lost = [str(w.message) for w in rec if "not read" in str(w.message)]
    assert len(lost) == 1 and str(path) in lost[0] and "EVENT" in lost[0] and "PROCESSING" in lost[0]
    assert ds.sizes["event"] == 0 and ds.sizes["measurement"] == 0


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_special_files_are_refused_at_once(tmp_path, kind):
    path = tmp_path / f"capture_{kind}.c3d"
    if kind == "directory":
        path.mkdir()
        expected = "a directory"
    else:
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs on this system")
        os.mkfifo(path)
        expected = "a FIFO"
    result: list[BaseException] = []

    def read() -> None:
        try:
            read_c3d(path)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            result.append(exc)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(30)
    if t.is_alive():  # unblock the reader so the test run ends, then fail
        with open(path, "wb"):
            pass
        pytest.fail("reading a FIFO blocked")
    assert len(result) == 1 and isinstance(result[0], C3DError)
    assert str(path) in str(result[0]) and expected in str(result[0])


def test_an_undecodable_byte_in_a_label_is_warned_with_the_file_and_the_label(tmp_path):
    """One byte of the last POINT label set to 0xFF: read (as Latin-1), warned, and the
    names encode."""
    raw = bytearray(WALK.read_bytes())
    lay = _layout(bytes(raw))
    rec = fmt.find(lay, "POINT", "LABELS")
    width, count = rec.dims
    at = lay.param_start + rec.data_pos + width * (count - 1) + 1
    original = bytes(raw[at - 1 : at - 1 + width]).decode().strip()
    raw[at] = 0xFF
    path = tmp_path / "bad_label.c3d"
    path.write_bytes(raw)
    with pytest.warns(C3DWarning) as rec_w:
        ds = read_c3d(path)
    bad = [str(w.message) for w in rec_w if "not UTF-8" in str(w.message)]
    assert len(bad) == 1
    assert str(path) in bad[0] and f"POINT:LABELS entry {count} is not UTF-8" in bad[0] and "\\xff" in bad[0]
    names = [str(n) for n in ds.marker.values] + [str(n) for n in ds.output.values]
    expected = original[0] + "\u00ff" + original[2:]  # the byte read as Latin-1
    assert expected in names and original not in names
    for name in names:
        name.encode("utf-8")  # the error of issue #14 item 8 came from here, later
    ds.to_netcdf(tmp_path / "out.nc", engine="h5netcdf")  # and writing does not fail


def test_the_intact_capture_has_no_integrity_warning():
    import warnings

    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        ds = read_c3d(WALK)
    assert not [w for w in rec if "not read" in str(w.message) or "UTF-8" in str(w.message)]
    assert ds.sizes["event"] > 0
    assert json.loads(json.dumps(list(ds.attrs["read_warnings"]))) == list(ds.attrs["read_warnings"])
    assert np.isfinite(ds.markers.values).any()
