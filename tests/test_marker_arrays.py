"""model.marker_arrays gives what xarray's selection by label gives, marker by marker."""

from __future__ import annotations

import numpy as np
import xarray as xr

from chainlab.model.marker_arrays import marker_arrays


def _capture(labels):
    rng = np.random.default_rng(3)
    xyz = rng.normal(size=(5, len(labels), 3))
    xyz[1, 0] = np.nan
    return xr.Dataset({"markers": (("frame", "marker", "axis"), xyz)},
                      coords={"marker": labels, "axis": list("xyz"), "frame": np.arange(5)})


def test_the_arrays_of_xarrays_selection():
    ds = _capture(["LASI", "RASI", "LHEE", "RHEE"])
    got = marker_arrays(ds, ["RHEE", "LTOE", "LASI"])
    assert list(got) == ["RHEE", "LASI"]  # the names asked for that the capture has, in their order
    for name, values in got.items():
        want = ds.markers.sel(marker=name).values
        assert values.shape == want.shape == (5, 3)
        np.testing.assert_array_equal(values, want)
    every = marker_arrays(ds)
    assert list(every) == ["LASI", "RASI", "LHEE", "RHEE"]
    # the variable given itself, in another order of dimensions
    axis_first = marker_arrays(ds.markers.transpose("axis", "marker", "frame"), ["LHEE"])
    np.testing.assert_array_equal(axis_first["LHEE"], ds.markers.sel(marker="LHEE").values.T)


def test_a_label_held_twice_is_selected_by_xarray():
    ds = _capture(["LASI", "RASI", "LASI"])
    got = marker_arrays(ds, ["LASI", "RASI"])
    assert got["LASI"].shape == (5, 2, 3)  # both columns, as .sel gives them
    np.testing.assert_array_equal(got["LASI"], ds.markers.sel(marker="LASI").values)
    np.testing.assert_array_equal(got["RASI"], ds.markers.values[:, 1])
