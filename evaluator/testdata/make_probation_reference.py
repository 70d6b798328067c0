"""Reference p-values of evaluator/probation_test.go.

A probation compares the previous champion as the challenger of the new one
on the labelled live rows; for accuracy the p-value is McNemar's one-sided
exact test: P(X >= c) for X ~ Binomial(b + c, 1/2), where c counts the rows
only the previous champion got right and b those only the new one did.
Run: /path/to/venv/bin/python evaluator/testdata/make_probation_reference.py
"""
from scipy.stats import binomtest

for b, c in [(10, 30), (16, 24)]:
    p = binomtest(c, b + c, 0.5, alternative="greater").pvalue
    print(f"b={b} c={c} p={p!r}")
