"""Statistical parametric mapping of 1-D curves by permutation (nonparametric SPM).

Tests on time-normalised curves (n curves x Q points): ``one_sample`` (e.g. paired
differences), ``two_sample`` (Welch-free pooled t, as SPM's ttest2) and ``regression``
(a curve regressed on a scalar). The t statistic is computed at every point; its critical
threshold at level alpha is the (1 - alpha) quantile of the maximum |t| over the curve under
permutations (sign flips, label shuffles, or scalar shuffles), which controls the family-wise
error over the whole curve; supra-threshold clusters get a p value from the permutation
distribution of the largest cluster's integral (Nichols & Holmes 2002; Pataky 2015).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Cluster:
    start: int  # first point index
    end: int  # last point index (inclusive)
    mass: float  # integral of |t| above the threshold
    p: float


@dataclass
class SPMResult:
    t: np.ndarray  # (Q,)
    threshold: float
    alpha: float
    clusters: list[Cluster] = field(default_factory=list)
    n_permutations: int = 0
    n_subjects: int = 0  # the curves (subjects) tested; 0 when not recorded

    @property
    def significant(self) -> bool:
        return any(c.p < self.alpha for c in self.clusters)


def _t_one(x: np.ndarray) -> np.ndarray:
    """t of the mean of x (..., n, Q) against zero."""
    n = x.shape[-2]
    sd = x.std(axis=-2, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return x.mean(axis=-2) / (sd / np.sqrt(n))


def _t_regress(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """t of the slope of y (..., n, Q) on x (..., n)."""
    n = y.shape[-2]
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-2, keepdims=True)
    sxx = (xc**2).sum(axis=-1)[..., None]
    beta = np.einsum("...n,...nq->...q", xc, yc) / sxx
    resid = yc - xc[..., None] * beta[..., None, :]
    s2 = (resid**2).sum(axis=-2) / (n - 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return beta / np.sqrt(s2 / sxx)


def _clusters(t: np.ndarray, u: float) -> list[tuple[int, int, float]]:
    above = np.abs(t) > u
    out, i = [], 0
    while i < len(t):
        if above[i]:
            j = i
            while j + 1 < len(t) and above[j + 1] and np.sign(t[j + 1]) == np.sign(t[i]):
                j += 1
            out.append((i, j, float(np.sum(np.abs(t[i : j + 1]) - u))))
            i = j + 1
        else:
            i += 1
    return out


def _infer(t_obs: np.ndarray, t_perm: np.ndarray, alpha: float) -> SPMResult:
    t_perm = np.nan_to_num(t_perm)
    u = float(np.quantile(np.abs(t_perm).max(axis=1), 1.0 - alpha))
    perm_mass = np.array([max((m for *_, m in _clusters(tp, u)), default=0.0) for tp in t_perm])
    clusters = [Cluster(a, b, m, float((np.sum(perm_mass >= m) + 1) / (len(perm_mass) + 1)))
                for a, b, m in _clusters(np.nan_to_num(t_obs), u)]
    return SPMResult(t_obs, u, alpha, clusters, len(t_perm))


def one_sample(y: np.ndarray, alpha: float = 0.05, n_permutations: int = 2000, seed: int = 0) -> SPMResult:
    """Mean curve against zero (paired test: pass the differences); sign-flip permutations."""
    y = np.asarray(y, float)
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=(n_permutations, y.shape[0]))
    out = _infer(_t_one(y), _t_one(signs[:, :, None] * y[None]), alpha)
    out.n_subjects = int(y.shape[0])
    return out


def paired(a: np.ndarray, b: np.ndarray, **kw) -> SPMResult:
    """Paired curves (same subjects in both conditions): one-sample test of a - b."""
    return one_sample(np.asarray(a, float) - np.asarray(b, float), **kw)


def two_sample(a: np.ndarray, b: np.ndarray, alpha: float = 0.05, n_permutations: int = 2000,
               seed: int = 0) -> SPMResult:
    """Two independent groups of curves (pooled-variance t); label permutations."""
    y = np.concatenate([a, b]).astype(float)
    groups = np.r_[np.ones(len(a)), np.zeros(len(b))]
    rng = np.random.default_rng(seed)
    perms = np.array([rng.permutation(groups) for _ in range(n_permutations)])
    return _infer(_t_regress(y, groups), _t_regress(y[None], perms), alpha)


def regression(y: np.ndarray, x: np.ndarray, alpha: float = 0.05, n_permutations: int = 2000,
               seed: int = 0) -> SPMResult:
    """A curve (n, Q) regressed on a scalar (n,): t of the slope; the scalar is permuted."""
    y, x = np.asarray(y, float), np.asarray(x, float)
    rng = np.random.default_rng(seed)
    perms = np.array([rng.permutation(x) for _ in range(n_permutations)])
    return _infer(_t_regress(y, x), _t_regress(y[None], perms), alpha)
