"""What the study's subjects let its tests show, read from a study store: the paired SPM's
sign-flip permutation test cannot reach significance with too few subjects, whatever the
data, and the figures and the report say so in words (the arithmetic: chainlab.reach).

With n subjects the paired test's permutations flip the sign of each subject's difference
curve: 2**n sign patterns, pairs of which (a pattern and its negation) give the same maximum
|t|, so the smallest p the test can give is 2 / 2**n = 1 / 2**(n - 1). Below alpha only from
6 subjects on at alpha 0.05 (1/32 = 0.031; 5 subjects: 1/16 = 0.0625).
"""

from __future__ import annotations

import numpy as np

from chainlab.io.study_store import Study
from chainlab.reach import (MIN_SUBJECTS_PER_CONDITION, condition_reach_text,  # noqa: F401 (re-exported)
                                  smallest_sign_flip_p, spm_reach_text, subjects_needed)


def spm_subjects(study: Study) -> tuple[tuple[str, str] | None, dict[str, list[str]]]:
    """The two conditions of the paired SPM (None unless exactly two have 2 subjects or more)
    and, per curve variable, the subjects it pairs: those in both conditions whose mean curve
    (over their cycles, gaps skipped) is complete in each, as ``chainlab.stats`` chooses them."""
    cycles = study.cycles
    cond = np.asarray(cycles.condition.values).astype(str)
    subj = np.asarray(cycles.subject.values).astype(str)
    per = {c: set(subj[cond == c]) for c in sorted(set(cond))}
    usable = [c for c, s in per.items() if len(s) >= 2]
    if len(usable) != 2:
        return None, {}
    a, b = usable
    both = sorted(per[a] & per[b])
    out = {}
    for j, var in enumerate(str(v) for v in cycles["variable"].values):
        seen = np.isfinite(cycles.curves.values[:, j])  # (cycle, percent)
        # a subject's mean curve is complete where any of its cycles has a value
        out[var] = [s for s in both if all(seen[(subj == s) & (cond == c)].any(axis=0).all() for c in (a, b))]
    return (a, b), out


def spm_reach(study: Study) -> list[str]:
    """Sentences saying which SPM tests of the store cannot reach significance with the
    subjects they pair, and why ([] when every test can)."""
    st = study.statistics
    alpha = float(st.attrs.get("spm_alpha", 0.05))
    pair, subjects = spm_subjects(study)
    if pair is None:
        return []
    tested = [str(v) for v in st.spm_variable.values] if "spm_variable" in st.coords else list(subjects)
    by_n: dict[int, list[str]] = {}
    for v in tested:
        n = len(subjects.get(v, []))
        if smallest_sign_flip_p(n) >= alpha:
            by_n.setdefault(n, []).append(v)
    return [spm_reach_text(names, n, alpha, *pair) for n, names in sorted(by_n.items())]


def condition_reach(study: Study) -> list[str]:
    """Sentences naming each condition with fewer than 3 subjects."""
    m = study.metrics
    if not len(m):
        return []
    texts = (condition_reach_text(c, g.subject.nunique()) for c, g in m.groupby(m.condition.astype(str)))
    return [t for t in texts if t]


def reach(study: Study) -> list[str]:
    """Every sentence of :func:`condition_reach` and :func:`spm_reach`."""
    return condition_reach(study) + spm_reach(study)
