"""What the study's subjects let its tests show: the paired SPM's sign-flip permutation test
cannot reach significance with too few subjects, whatever the data, and the figures and the
report say so in words.

With n subjects the paired test's permutations flip the sign of each subject's difference
curve: 2**n sign patterns, pairs of which (a pattern and its negation) give the same maximum
|t|, so the smallest p the test can give is 2 / 2**n = 1 / 2**(n - 1). Below alpha only from
6 subjects on at alpha 0.05 (1/32 = 0.031; 5 subjects: 1/16 = 0.0625).
"""

from __future__ import annotations

import numpy as np

from chainlab.io.study_store import Study

MIN_SUBJECTS_PER_CONDITION = 3


def smallest_sign_flip_p(n_subjects: int) -> float:
    """The smallest p a two-sided sign-flip permutation test of `n_subjects` paired curves
    (or values) can give: 1 / 2**(n - 1); 1 for fewer than 2 subjects."""
    return 1.0 if n_subjects < 2 else 2.0 ** (1 - n_subjects)


def subjects_needed(alpha: float) -> int:
    """The fewest subjects whose sign-flip test can give p < `alpha`."""
    n = 2
    while smallest_sign_flip_p(n) >= alpha:
        n += 1
    return n


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
    need = subjects_needed(alpha)
    out = []
    for n, names in sorted(by_n.items()):
        out.append(f"SPM {', '.join(names)} ({pair[1]} minus {pair[0]}) cannot reach significance: "
                   f"{'it pairs' if len(names) == 1 else 'each pairs'} {n} subject{'s' * (n != 1)}, "
                   f"{2 ** n} sign flips, so p is at least 1/{2 ** max(n - 1, 0)} = {smallest_sign_flip_p(n):.3g}, "
                   f"not below alpha {alpha:g}, whatever the data; {need} subjects in both conditions are needed.")
    return out


def condition_reach(study: Study) -> list[str]:
    """Sentences naming each condition with fewer than 3 subjects."""
    m = study.metrics
    if not len(m):
        return []
    out = []
    for c, g in m.groupby(m.condition.astype(str)):
        n = g.subject.nunique()
        if n < MIN_SUBJECTS_PER_CONDITION:
            out.append(f"Condition {c!r} has {n} subject{'s' * (n != 1)} (fewer than {MIN_SUBJECTS_PER_CONDITION}): "
                       f"its bootstrap band resamples only {'these' if n > 1 else 'one'}, a sign-flip test pairing "
                       f"{'them' if n > 1 else 'it'} gives p of at least {smallest_sign_flip_p(n):.2g}, and the mixed "
                       f"models' {c!r} effect rests on {n} subject{'s' * (n != 1)}.")
    return out


def reach(study: Study) -> list[str]:
    """Every sentence of :func:`condition_reach` and :func:`spm_reach`."""
    return condition_reach(study) + spm_reach(study)
