"""Bootstrap confidence bands for a mean curve (Lenhoff 1999).

Point-wise Gaussian bands cover far fewer curves than they claim; a bootstrap band for the
whole curve scales each point's bootstrap standard deviation by the (1 - alpha) quantile of
the largest standardised deviation of the bootstrap means over the curve.
"""

from __future__ import annotations

import numpy as np


def bootstrap_band(curves: np.ndarray, alpha: float = 0.05, n_boot: int = 2000, seed: int = 0,
                   groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean curve and its simultaneous (1 - alpha) band: (mean, low, high), each (Q,).

    `groups` (n,) resamples whole groups (e.g. subjects) instead of single curves. Values
    that are not finite are left out of the means.
    """
    y = np.asarray(curves, float)
    rng = np.random.default_rng(seed)
    mean = np.nanmean(y, axis=0)
    if groups is None:
        inverse, n_units = np.arange(len(y)), len(y)
        pick = rng.integers(0, len(y), size=(n_boot, len(y)))
    else:
        labels, inverse = np.unique(groups, return_inverse=True)
        n_units = len(labels)
        pick = rng.integers(0, len(labels), size=(n_boot, len(labels)))
    # a resample's mean is that of the picked units' curves, NaN left out: per point, the sum
    # of the picked units' sums over the sum of their counts of finite values, so each
    # resample is one matrix product of how often each unit was picked
    seen = np.isfinite(y)  # NaN (and, unlike nanmean, infinity) left out
    sums = np.zeros((n_units,) + y.shape[1:])
    counts = np.zeros((n_units,) + y.shape[1:])
    np.add.at(sums, inverse, np.where(seen, y, 0.0))
    np.add.at(counts, inverse, seen)
    boots = np.empty((n_boot,) + y.shape[1:])
    block = max(1, 2_000_000 // max(n_units, 1))  # resamples at a time (bounded memory)
    for b0 in range(0, n_boot, block):
        p = pick[b0:b0 + block]
        times = np.bincount((np.arange(len(p))[:, None] * n_units + p).ravel(),
                            minlength=len(p) * n_units).reshape(len(p), n_units).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            boots[b0:b0 + block] = (times @ sums) / (times @ counts)
    sd = boots.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.nanmax(np.abs(boots - mean) / sd, axis=1)
    c = float(np.quantile(dev, 1.0 - alpha))
    return mean, mean - c * sd, mean + c * sd
