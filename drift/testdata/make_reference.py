#!/usr/bin/env python3
"""Reference values for the drift package's statistics, computed with scipy.

Rerun (from the repository root) after changing a case:

    python3 -m venv /tmp/venv-drift
    /tmp/venv-drift/bin/pip install numpy scipy
    /tmp/venv-drift/bin/python drift/testdata/make_reference.py > drift/testdata/reference.json

The Go tests (drift/reference_test.go) read reference.json and compare
within 1e-9. Large samples are not stored: they are described by a
generator ("gen") that both this script and the Go tests implement bit for
bit (splitmix64 integers, and sums of its uniforms, which IEEE arithmetic
rounds the same way in numpy and Go).
"""

import json
import math
import sys
import warnings

import numpy as np
import scipy
from scipy import special, stats
from scipy.spatial import distance

M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def splitmix64(seed, n):
    """The first n outputs of splitmix64 started at seed, as uint64."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def uniforms(seed, n):
    """n uniforms on [0, 1): the top 53 bits of splitmix64 outputs."""
    return (splitmix64(seed, n) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def generate(spec):
    """Materialise a sample described by spec (see gen* in the Go tests)."""
    kind, seed, n = spec["kind"], spec["seed"], spec["n"]
    if kind == "normal":
        u = uniforms(seed, 4 * n).reshape(n, 4)
        z = (((u[:, 0] + u[:, 1]) + u[:, 2]) + u[:, 3]) - 2.0  # Irwin-Hall, variance 1/3
        return spec["loc"] + spec["scale"] * (z * math.sqrt(3.0))
    if kind == "integers":
        return (spec["offset"] + (splitmix64(seed, n) % np.uint64(spec["mod"])).astype(np.int64)).astype(np.float64)
    raise ValueError(kind)


def number(v):
    """A float for JSON, which has no infinities: those become "Inf" and "-Inf"."""
    v = float(v)
    if math.isinf(v):
        return "Inf" if v > 0 else "-Inf"
    return v


def sample(x):
    """A sample as stored in JSON: a generator spec, or the values themselves."""
    return x if isinstance(x, dict) else {"values": [number(v) for v in x]}


def values(x):
    return generate(x) if isinstance(x, dict) else np.asarray(x, dtype=np.float64)


def ks_cases():
    normal = lambda seed, n, loc=0.0, scale=1.0: {"kind": "normal", "seed": seed, "n": n, "loc": loc, "scale": scale}
    ints = lambda seed, n, mod, offset=0: {"kind": "integers", "seed": seed, "n": n, "mod": mod, "offset": offset}
    cases = [
        ("two tiny samples", [0.1, 0.5, 0.9], [0.2, 0.3, 0.4, 1.5, 2.0]),
        ("one value each", [1.0], [2.0]),
        ("identical samples", [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]),
        ("disjoint samples", [1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]),
        ("samples with infinities", [-math.inf, 0.0, 1.0, math.inf], [0.5, 1.5, 2.5, math.inf]),
        ("equal small samples, shifted normal", normal(1, 20), normal(2, 20, loc=1.0)),
        # The exact sum rounds to 1.0000000000000002 here: scipy rejects it and
        # falls back to the asymptotic p-value (with a warning).
        ("equal samples one step apart, exact falls back", [1.0, 2.0, 3.0, 4.0, 5.0], [1.5, 2.0, 3.0, 4.0, 5.0]),
        ("equal samples of 500, slight shift", normal(3, 500), normal(4, 500, loc=0.15)),
        ("unequal small samples", normal(5, 37), normal(6, 53, loc=0.5)),
        ("discrete tied data", ints(7, 60, 5), ints(8, 45, 5, offset=1)),
        ("discrete tied data, same law", ints(9, 300, 4), ints(10, 200, 4)),
        ("exact with thousands, no shift", normal(11, 2000), normal(12, 3000)),
        ("exact with thousands, shift", normal(13, 2000), normal(14, 3000, loc=0.1)),
        ("exact at the limit of 10000", normal(15, 10000), normal(16, 7000, loc=0.03)),
        ("asymptotic, large equal samples", normal(17, 20000), normal(18, 20000, loc=0.02)),
        ("asymptotic, large unequal samples", normal(19, 12000), normal(20, 15000, loc=0.05)),
        ("asymptotic, one small sample (Durbin region)", normal(21, 20000), normal(22, 300, loc=0.1)),
        ("asymptotic, one tiny sample (Pomeranz region)", normal(23, 10001), normal(24, 50, loc=0.3)),
        ("asymptotic, strong shift (Smirnov region)", normal(25, 15000), normal(26, 12000, loc=0.5)),
        ("asymptotic, discrete with ties", ints(27, 30000, 10), ints(28, 25000, 10, offset=0)),
        ("asymptotic, identical law", normal(29, 40000, scale=2.0), normal(30, 40000, scale=2.0)),
    ]
    out = []
    for name, a, b in cases:
        av, bv = values(a), values(b)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            r = stats.ks_2samp(av, bv)
        out.append({
            "name": name, "a": sample(a), "b": sample(b),
            "method": "exact" if max(len(av), len(bv)) <= 10000 else "asymptotic",
            "statistic": float(r.statistic), "pvalue": float(r.pvalue),
        })
    return out


def kstwo_grid():
    out = []
    ns = [1, 2, 3, 5, 8, 13, 20, 50, 100, 139, 140, 141, 200, 500, 1000, 5000, 20000, 99999, 100001, 300000, 2000000]
    for n in ns:
        xs = sorted(set([0.5 / n, 0.75 / n, 1.0 / n, 1.5 / n, 2.5 / n, 0.5 / math.sqrt(n), 0.8 / math.sqrt(n),
                         1.0 / math.sqrt(n), 1.3 / math.sqrt(n), 1.6 / math.sqrt(n), 2.0 / math.sqrt(n),
                         3.0 / math.sqrt(n), 5.0 / math.sqrt(n), 0.3, 0.5, 0.7, 1 - 1.0 / n, 0.999]))
        for x in xs:
            if 0 < x < 1:
                out.append({"n": n, "x": x, "sf": float(stats.kstwo.sf(x, n))})
    return out


def smirnov_grid():
    out = []
    for n in [2, 3, 10, 50, 141, 1000, 30000, 2000000]:
        for x in [0.5 / n, 1.5 / n, 0.5 / math.sqrt(n), 1.5 / math.sqrt(n), 3.0 / math.sqrt(n), 0.3, 0.6, 0.95]:
            if 0 < x < 1:
                out.append({"n": n, "x": x, "sf": float(special.smirnov(n, x))})
    return out


def psi(expected, actual, eps):
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    p = np.maximum(e / e.sum(), eps)
    q = np.maximum(a / a.sum(), eps)
    return float(np.sum((q - p) * np.log(q / p)))


def psi_cases():
    cases = [
        ("identical histograms", [10, 20, 30, 40], [1, 2, 3, 4], 1e-4),
        ("moderate shift", [100, 100, 100, 100, 100], [80, 90, 100, 110, 120], 1e-4),
        ("major shift", [250, 250, 250, 250], [50, 100, 300, 550], 1e-4),
        ("empty bin in the actual window", [100, 100, 100, 100], [0, 130, 130, 140], 1e-4),
        ("empty bin in the reference", [0, 100, 100, 100], [30, 90, 90, 90], 1e-4),
        ("empty bins on both sides", [0, 50, 50, 0], [0, 40, 60, 0], 1e-4),
        ("a larger epsilon", [0, 100, 100, 100], [30, 90, 90, 90], 1e-3),
        ("no smoothing and no empty bin", [5, 15, 30], [10, 10, 30], 0.0),
    ]
    return [{"name": n, "expected": e, "actual": a, "eps": eps, "psi": psi(e, a, eps)} for n, e, a, eps in cases]


def js_cases():
    cases = [
        ("equal distributions", [0.25, 0.25, 0.5], [0.25, 0.25, 0.5]),
        ("counts are normalised", [1, 2, 3], [2, 4, 6]),
        ("disjoint supports", [1, 0], [0, 1]),
        ("a zero on one side", [10, 20, 0, 30], [12, 18, 5, 25]),
        ("nine buckets", [5, 9, 14, 22, 30, 22, 14, 9, 5], [3, 6, 10, 18, 28, 25, 18, 12, 10]),
        ("half overlap", [1, 1, 0], [0, 1, 1]),
    ]
    return [{"name": n, "p": p, "q": q, "js": float(distance.jensenshannon(p, q, base=2))} for n, p, q in cases]


def chisquare_cases():
    cases = [
        ("fair die", [16, 18, 16, 14, 12, 12], [14.666666666666666] * 6),
        ("two categories", [60, 40], [50, 50]),
        ("large statistic, tiny p-value", [900, 50, 50], [333.3333333333333, 333.3333333333333, 333.3333333333334]),
        ("many categories", list(range(50, 250)), None),
        ("expected not uniform", [43, 52, 54, 40], [46.5, 46.5, 46.5, 49.5]),
    ]
    out = []
    for name, o, e in cases:
        if e is None:
            total = sum(o)
            w = np.arange(1, len(o) + 1, dtype=np.float64)
            e = list(w / w.sum() * total)
        r = stats.chisquare(o, e)
        out.append({"name": name, "observed": [float(v) for v in o], "expected": [float(v) for v in e],
                    "statistic": float(r.statistic), "pvalue": float(r.pvalue)})
    return out


def bh_cases():
    rng = np.random.default_rng(7)
    cases = [
        ("the fifteen p-values of scipy's example",
         [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.000]),
        ("unsorted input keeps its order", [0.5, 0.6, 0.1, 0.001]),
        ("ties", [0.01, 0.01, 0.04, 0.04, 0.2]),
        ("one p-value", [0.03]),
        ("random p-values", list(rng.uniform(size=40) ** 3)),
        ("zeros and ones", [0.0, 1.0, 0.0, 0.5]),
    ]
    return [{"name": n, "p": [float(v) for v in p], "adjusted": [float(v) for v in stats.false_discovery_control(p, method="bh")]}
            for n, p in cases]


def profile_edges(ref, bins):
    """Interior bin edges as drift.ProfileBuilder makes them."""
    s = np.sort(ref)
    n = len(s)
    edges = np.unique(s[[(k * n) // bins for k in range(1, bins)]])
    return edges[edges > s[0]]


def stream_case():
    """A discrete feature through a Profile and a Window: every statistic of
    the report is exact here, because the sketch holds every reference value."""
    ref = generate({"kind": "integers", "seed": 101, "n": 5000, "mod": 10, "offset": 0})
    win = generate({"kind": "integers", "seed": 102, "n": 3000, "mod": 12, "offset": 2})
    ref_missing, win_missing = 40, 75
    edges = profile_edges(ref, 10)
    hist = lambda x, miss: np.append(np.bincount(np.searchsorted(edges, x, side="right"), minlength=len(edges) + 1), miss)
    r, w = hist(ref, ref_missing), hist(win, win_missing)
    ks = stats.ks_2samp(ref, win, method="asymp")
    return {
        "reference": {"kind": "integers", "seed": 101, "n": 5000, "mod": 10, "offset": 0},
        "window": {"kind": "integers", "seed": 102, "n": 3000, "mod": 12, "offset": 2},
        "reference_missing": ref_missing, "window_missing": win_missing,
        "edges": [float(e) for e in edges],
        "psi": psi(r, w, 1e-4),
        "js": float(distance.jensenshannon(r, w, base=2)),
        "ks_statistic": float(ks.statistic), "ks_pvalue": float(ks.pvalue),
    }


def pool_sparse(a, b, min_expected=1.0):
    """drift.PoolSparse: buckets expecting fewer than min_expected rows in
    the smaller sample go into one pooled bucket (last); if that is still
    sparse it joins the bucket with the fewest rows. Buckets empty on both
    sides are left out."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    sa, sb = a.sum(), b.sum()
    col = a + b
    sparse = (col > 0) & (min(sa, sb) * col / (sa + sb) < min_expected)
    keep = (col > 0) & ~sparse
    pa, pb = list(a[keep]), list(b[keep])
    if not sparse.any():
        return pa, pb, 0
    ra, rb, pooled = a[sparse].sum(), b[sparse].sum(), int(sparse.sum())
    if min(sa, sb) * (ra + rb) / (sa + sb) < min_expected and pa:
        j = int(np.argmin(np.array(pa) + np.array(pb)))
        pa[j] += ra
        pb[j] += rb
        return pa, pb, pooled + 1
    return pa + [ra], pb + [rb], pooled


def chi2_two_sample(a, b):
    """scipy.stats.chi2_contingency on [a; b], columns empty on both sides
    left out (scipy refuses their zero expected counts)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    used = (a + b) > 0
    r = stats.chi2_contingency(np.array([a[used], b[used]]))
    return float(r.statistic), int(r.dof), float(r.pvalue)


def chi2_contingency_cases():
    cases = [
        ("two categories take Yates' correction", [60, 40], [45, 55]),
        ("two categories closer than one half keep a statistic of 0", [50, 50], [50.3, 49.7]),
        ("three categories, no correction", [500, 300, 200], [400, 350, 150]),
        ("a category only the window has", [500, 300, 200, 0], [400, 350, 150, 100]),
        ("a category empty on both sides is left out", [30, 0, 20, 10], [25, 0, 30, 5]),
        ("samples of very different sizes", [12, 30, 8], [11000, 29000, 10000]),
        ("many categories", list(range(1, 201)), list(range(200, 0, -1))),
        ("huge counts and a tiny p-value", [400000, 350000, 250000], [410000, 340000, 250000]),
        ("one category on both sides has no degree of freedom", [10, 0], [20, 0]),
    ]
    out = []
    for name, a, b in cases:
        stat, dof, p = chi2_two_sample(a, b)
        out.append({"name": name, "a": [float(v) for v in a], "b": [float(v) for v in b],
                    "statistic": stat, "dof": dof, "pvalue": p})
    return out


def expected_psi_exact(a, b, eps):
    """The mean PSI of independent E_i ~ Bin(n_a, pi_i), A_i ~ Bin(n_b, pi_i)
    with pi pooled from a and b, by the full double sum over both
    binomials (no expansion, no separation of the sides)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    na, nb = int(a.sum()), int(b.sum())
    pi = (a + b) / (na + nb)
    total = 0.0
    for p in pi:
        if p == 0:
            continue
        ka, kb = np.arange(na + 1), np.arange(nb + 1)
        wa, wb = stats.binom.pmf(ka, na, p), stats.binom.pmf(kb, nb, p)
        x = np.maximum(ka / na, eps)[:, None]
        y = np.maximum(kb / nb, eps)[None, :]
        total += float((wa[:, None] * wb[None, :] * (y - x) * np.log(y / x)).sum())
    return total


def expected_psi_cases():
    """ExpectedPSI against the exact double sum. tolerance is relative:
    1e-9 where the Go code sums the binomials too, looser where a bucket
    expects 100 rows or more on both sides and the Go code uses the
    second-order expansion."""
    cases = [
        ("three well-filled buckets take the expansion", [300, 500, 200], [150, 250, 100], 1e-4, 1e-2),
        ("sparse buckets where the floor matters", [3, 0, 1, 40, 6, 0, 0, 2], [1, 2, 0, 45, 2, 0, 1, 0], 1e-4, 1e-9),
        ("a bucket only one side has", [100, 80, 0], [50, 40, 30], 1e-4, 1e-9),
        ("twenty uniform buckets", [25] * 20, [25] * 20, 1e-4, 1e-9),
        ("larger counts take the expansion, closer", [2000, 3000, 5000], [1000, 1500, 2500], 1e-4, 1e-3),
    ]
    return [{"name": n, "a": [float(v) for v in a], "b": [float(v) for v in b], "eps": eps,
             "expected_psi": expected_psi_exact(a, b, eps), "rel_tolerance": tol}
            for n, a, b, eps, tol in cases]


def categorical_cases():
    """Categorical features through a Profile and a Window. The window's
    buckets are the reference's categories, then the unseen bucket (any
    category the reference does not list), then missing, for PSI and
    Jensen-Shannon; the chi-squared test's table has a column per category
    instead, sparse columns are pooled (pool_sparse) and the 2 x K table of
    reference and window counts goes to scipy.stats.chi2_contingency."""
    cases = [
        ("a category the reference never saw",
         {"blue": 500, "green": 300, "red": 200}, {"blue": 400, "green": 350, "red": 150, "violet": 100}),
        ("proportions that moved a little",
         {"blue": 520, "green": 310, "red": 170}, {"blue": 480, "green": 330, "red": 190}),
        ("rare categories are pooled",
         {"blue": 500, "green": 300, "red": 200, "amber": 1, "teal": 1}, {"blue": 480, "green": 330, "red": 190, "pink": 1}),
    ]
    out = []
    for name, ref, win in cases:
        cats = sorted(ref)
        # + unseen, missing; the reference's unseen bucket holds Good and
        # Turing's estimate of the rows of categories it never saw: the
        # number of categories it saw once (drift.unseenEstimate).
        once = sum(1 for c in cats if ref[c] == 1)
        r = np.array([ref[c] for c in cats] + [once, 0], dtype=np.float64)
        o = np.array([win.get(c, 0) for c in cats] + [sum(v for c, v in win.items() if c not in ref), 0], dtype=np.float64)
        # The test's table gives each window category the reference does not
        # list a column of its own (reference count 0), in name order
        # (drift.categoryTable; the profile folded nothing away here).
        unseen = sorted(c for c in win if c not in ref)
        tr = [ref[c] for c in cats] + [0] * len(unseen) + [0]
        to = [win.get(c, 0) for c in cats] + [win[c] for c in unseen] + [0]
        pa, pb, pooled = pool_sparse(tr, to)
        stat, dof, p = chi2_two_sample(pa, pb)
        out.append({
            "name": name, "reference": ref, "window": win,
            "chi_square": stat, "dof": dof, "chi_square_pvalue": p, "pooled": pooled,
            "psi": psi(r, o, 1e-4), "js": float(distance.jensenshannon(r, o, base=2)),
        })
    return out


def main():
    ref = {
        "generated_by": "drift/testdata/make_reference.py",
        "scipy": scipy.__version__, "numpy": np.__version__,
        "ks_2samp": ks_cases(),
        "kstwo_sf": kstwo_grid(),
        "smirnov": smirnov_grid(),
        "psi": psi_cases(),
        "jensenshannon": js_cases(),
        "chisquare": chisquare_cases(),
        "chi2_contingency": chi2_contingency_cases(),
        "expected_psi": expected_psi_cases(),
        "benjamini_hochberg": bh_cases(),
        "stream_numeric": stream_case(),
        "stream_categorical": categorical_cases(),
    }
    json.dump(ref, sys.stdout, indent=1, allow_nan=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
