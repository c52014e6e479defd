"""What a study's subjects let its tests show, whatever the data.

With n subjects the paired test's permutations flip the sign of each subject's difference
curve: 2**n sign patterns, pairs of which (a pattern and its negation) give the same maximum
|t|, so the smallest p the test can give is 2 / 2**n = 1 / 2**(n - 1). Below alpha only from
6 subjects on at alpha 0.05 (1/32 = 0.031; 5 subjects: 1/16 = 0.0625). A condition with fewer
than 3 subjects gives bands and model effects that rest on one or two people.

The study store writes these sentences beside its statistics (``/statistics``: ``spm_reach``
per SPM variable, ``band_reach`` per band condition, the attribute ``reach``); the report and
the figures say the same (:mod:`chainlab.figures._reach`). Plain arithmetic and text, in the
core layer (docs/architecture.md): the study store (io) and the figures both use it.
"""

from __future__ import annotations

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


def spm_reach_text(names: list[str], n: int, alpha: float, first: str = "", second: str = "") -> str:
    """The sentence for SPM tests `names` that pair `n` subjects: why they cannot reach
    significance, or that they can."""
    what = f"SPM {', '.join(names)}" + (f" ({second} minus {first})" if first else "")
    floor = smallest_sign_flip_p(n)
    if floor < alpha:
        return (f"{what} can reach significance: {n} subjects paired, smallest attainable p "
                f"1/{2 ** (n - 1)} = {floor:.3g} < alpha {alpha:g}.")
    return (f"{what} cannot reach significance: {'it pairs' if len(names) == 1 else 'each pairs'} {n} "
            f"subject{'s' * (n != 1)}, {2 ** n} sign flips, so p is at least 1/{2 ** max(n - 1, 0)} = "
            f"{floor:.3g}, not below alpha {alpha:g}, whatever the data; {subjects_needed(alpha)} subjects "
            "in both conditions are needed.")


def permutations_text(n_permutations: int, alpha: float) -> str:
    """The sentence when too few permutations were drawn for a p below `alpha` ('' otherwise):
    a permutation p is at least 1 / (permutations + 1)."""
    if n_permutations and 1.0 / (n_permutations + 1) >= alpha:
        return (f"{n_permutations} permutations: a permutation p is at least 1/{n_permutations + 1}, "
                f"not below alpha {alpha:g}; raise statistics.permutations to {int(1 / alpha)} or more.")
    return ""


def condition_reach_text(condition: str, n: int) -> str:
    """The sentence for a condition with `n` < 3 subjects ('' from 3 on)."""
    if n >= MIN_SUBJECTS_PER_CONDITION:
        return ""
    return (f"Condition {condition!r} has {n} subject{'s' * (n != 1)} (fewer than {MIN_SUBJECTS_PER_CONDITION}): "
            f"its bootstrap band resamples only {'these' if n > 1 else 'one'}, a sign-flip test pairing "
            f"{'them' if n > 1 else 'it'} gives p of at least {smallest_sign_flip_p(n):.2g}, and the mixed "
            f"models' {condition!r} effect rests on {n} subject{'s' * (n != 1)}.")
