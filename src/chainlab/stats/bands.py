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

    `groups` (n,) resamples whole groups (e.g. subjects) instead of single curves.
    """
    y = np.asarray(curves, float)
    rng = np.random.default_rng(seed)
    mean = np.nanmean(y, axis=0)
    if groups is None:
        idx = rng.integers(0, len(y), size=(n_boot, len(y)))
        boots = np.stack([np.nanmean(y[i], axis=0) for i in idx])
    else:
        labels = np.unique(groups)
        members = [np.flatnonzero(groups == g) for g in labels]
        pick = rng.integers(0, len(labels), size=(n_boot, len(labels)))
        boots = np.stack([np.nanmean(y[np.concatenate([members[k] for k in p])], axis=0) for p in pick])
    sd = boots.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.nanmax(np.abs(boots - mean) / sd, axis=1)
    c = float(np.quantile(dev, 1.0 - alpha))
    return mean, mean - c * sd, mean + c * sd
