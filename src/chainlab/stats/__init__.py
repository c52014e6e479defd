"""Study statistics: mixed models on per-cycle measures, SPM on curves, bootstrap bands.

Libraries, chosen deliberately: statsmodels' MixedLM for the linear mixed models (BSD
licensed, the reference implementation in Python); SPM is implemented here as a
nonparametric permutation test (Nichols & Holmes 2002; Pataky, Vanrenterghem & Robinson 2015)
rather than with spm1d, which is GPL-3.0 and pulls matplotlib, and whose parametric random
field thresholds assume smooth Gaussian residuals that a handful of cycles cannot check.
"""
