"""Whether the data beside the clone (../shared/data/c3d) is there to be tested on."""

from __future__ import annotations

import pytest

from .conftest import SHARED, shared_vendor_files


def test_shared_captures_are_tested_when_present():
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} not found: the vendor files and six biomechzoo subjects beside the "
                    "clone are not tested; the copies in data/ and tests/data/c3d are")
    assert len(shared_vendor_files()) > 40
    assert len(list((SHARED / "biomechzoo").glob("*/*/*.c3d"))) == 18
