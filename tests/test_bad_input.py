"""Bad input: clear C3DError, never a crash or a hang (mutated real files, in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from chainlab import C3DError, read_c3d

from .conftest import STUDY, fixture

SOURCES = [
    STUDY / "HC030A" / "Straight" / "HC030A05.c3d",  # Intel float, Vicon Nexus
    fixture("c3dorg_sample10_TYPE-4.C3D"),  # Intel integer, TYPE 4 plate
    fixture("c3dorg_sample02_sgi_int.c3d"),  # SGI/MIPS
    fixture("c3dorg_sample01_Eb015vr.c3d"),  # DEC float
]

_CHILD = r"""
import json, sys, warnings
warnings.simplefilter("ignore")
import chainlab
for path in sys.argv[1:]:
    print(json.dumps({"start": path}), flush=True)
    try:
        chainlab.read_c3d(path)
        out = {"path": path, "result": "ok"}
    except chainlab.C3DError as exc:
        out = {"path": path, "result": "c3derror", "message": str(exc)}
    except Exception as exc:
        out = {"path": path, "result": "unexpected", "message": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(out), flush=True)
"""


def _mutations(tmp_path, seed=20261121):
    """Truncations at many offsets and seeded byte flips in header and parameter section."""
    rng = np.random.default_rng(seed)
    out = []
    for k, src in enumerate(SOURCES):
        raw = src.read_bytes()
        p_start = (raw[0] - 1) * 512
        p_end = p_start + raw[p_start + 2] * 512
        cuts = sorted(set(rng.integers(1, len(raw), 14).tolist()) | {0, 1, 100, 511, 512, p_start + 3, p_start + 200, p_end - 1, p_end, p_end + 17})
        for c in cuts:
            out.append((f"{k}-cut{c}.c3d", raw[:c]))
        for j in range(40):
            b = bytearray(raw)
            region = (0, 512) if j % 4 == 0 else (p_start, p_end)
            for _ in range(int(rng.integers(1, 5))):
                b[int(rng.integers(*region))] = int(rng.integers(0, 256))
            out.append((f"{k}-flip{j}.c3d", bytes(b)))
    out += [("empty.c3d", b""), ("text.c3d", b"this is not a C3D file\n" * 40), ("random.c3d", rng.bytes(4096))]
    paths = []
    for name, data in out:
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(str(path))
    return paths


def test_mutated_files_raise_c3derror_or_load_never_crash_or_hang(tmp_path):
    paths = _mutations(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, *paths], capture_output=True, text=True, timeout=300
    )
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.strip()]
    done = [x for x in lines if "result" in x]
    if proc.returncode != 0:
        last = [x["start"] for x in lines if "start" in x][-1]
        pytest.fail(f"the interpreter died (exit {proc.returncode}) reading {last}")
    assert len(done) == len(paths)
    unexpected = [x for x in done if x["result"] == "unexpected"]
    assert not unexpected, unexpected[:5]
    errors = [x for x in done if x["result"] == "c3derror"]
    assert len(errors) > len(paths) // 3  # the mutations do break files
    for e in errors:
        msg = e["message"]
        assert msg.startswith(e["path"] + ": ") and "\n" not in msg and len(msg) < 400


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "empty"),
        (b"hello" * 200, "not a C3D file"),
        (b"\x02\x50" + b"\x00" * 300, "512-byte header"),
    ],
)
def test_clear_messages_for_non_c3d_files(tmp_path, content, reason):
    path = tmp_path / "bad.c3d"
    path.write_bytes(content)
    with pytest.raises(C3DError, match=reason) as info:
        read_c3d(path)
    assert str(path) in str(info.value)


def test_truncated_data_section_names_frames(tmp_path, walk_path):
    raw = walk_path.read_bytes()
    path = tmp_path / "cut.c3d"
    path.write_bytes(raw[: len(raw) * 2 // 3])
    with pytest.raises(C3DError, match=r"truncated: 197 frames need \d+ bytes, the file has \d+"):
        read_c3d(path)


def test_missing_file_and_corrupted_parameter_section():
    with pytest.raises(C3DError, match="cannot open"):
        read_c3d("no/such/file.c3d")
    with pytest.raises(C3DError, match="run past the parameter section"):
        read_c3d(fixture("c3dorg_sample18_bad_parameter_section.c3d"))


def test_files_that_crash_ezc3d_as_they_are_are_read():
    """Missing ANALOG:OFFSET (segfaults ezc3d 1.7.2) and a parameter without description."""
    with pytest.warns(UserWarning):
        mac = read_c3d(fixture("c3dorg_sample06_MACsample.c3d"))
    assert mac.sizes["channel"] == 16 and mac.attrs["processor"] == "mips"
    assert any("OFFSETS" in w for w in mac.attrs["read_warnings"])
    with pytest.warns(UserWarning):
        bpo = read_c3d(fixture("badParameterOffset.c3d"))
    assert bpo.sizes["marker"] == 41 and bpo.sizes["frame"] == 111
