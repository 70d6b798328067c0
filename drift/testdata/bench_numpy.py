#!/usr/bin/env python3
"""The numpy equivalent of drift's BenchmarkWindow1M, for comparison.

Run (from the repository root):

    python3 -m venv /tmp/venv-drift
    /tmp/venv-drift/bin/pip install numpy
    /tmp/venv-drift/bin/python drift/testdata/bench_numpy.py
    go test ./drift -run '^$' -bench 'Window1M' -v    # prints the Go side

Both sides make the same data bit for bit (splitmix64 and sums of its
uniforms; see makeBenchSet in drift/bench_test.go): a reference of 100k rows
and a window of 1M rows with 8 numeric features (one value in a thousand is
NaN) and 2 categorical ones (20 and 200 categories, plus 2 the reference
never saw). The profile is built the way drift.ProfileBuilder builds it
(10 quantile bins, a 500-point sketch), and the timed part counts the 1M
window rows into the same grid cells: np.searchsorted(side='right') and
np.bincount per numeric column, a sorted lookup and np.bincount per
categorical column. It prints rows/s (best of 5) and the checksum that the
Go benchmark logs, to show both did the same counting.
"""

import time

import numpy as np

NUMERIC, CATEGORICAL = 8, 2
CATEGORIES = [20, 200]
BINS, SKETCH = 10, 500


def splitmix64(seed, n):
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def normal(seed, n, loc, scale):
    u = ((splitmix64(seed, 4 * n) >> np.uint64(11)).astype(np.float64) * 2.0**-53).reshape(n, 4)
    z = (((u[:, 0] + u[:, 1]) + u[:, 2]) + u[:, 3]) - 2.0
    return loc + scale * (z * np.sqrt(3.0))


def bench_data(base, rows, shift, extra):
    """Columns as makeBenchSet in drift/bench_test.go makes them."""
    num = []
    for j in range(NUMERIC):
        col = normal(base + j, rows, j + shift, 1 + j / 4)
        col[splitmix64(base + 100 + j, rows) % np.uint64(1000) == 0] = np.nan
        num.append(col)
    cat = []
    for c in range(CATEGORICAL):
        k = CATEGORIES[c] + extra
        names = np.array([f"c{i:03d}" for i in range(k)])
        cat.append(names[(splitmix64(base + 200 + c, rows) % np.uint64(k)).astype(np.int64)])
    return num, cat


def grid_of(col):
    """Bin edges, sketch and the float above the maximum, as drift merges them."""
    v = np.sort(col[~np.isnan(col)])
    n = len(v)
    edges = np.unique(v[[(k * n) // BINS for k in range(1, BINS)]])
    edges = edges[edges > v[0]]
    if len(np.unique(v)) <= SKETCH:
        sketch = np.unique(v)
    else:
        sketch = np.unique(v[[(k * n) // SKETCH for k in range(SKETCH)]])
    return np.union1d(np.union1d(edges, sketch), [np.nextafter(v[-1], np.inf)])


def count(num, cat, grids, cats):
    """The timed part: what Window.AddRow does for every row, column-wise."""
    out = []
    for col, grid in zip(num, grids):
        missing = int(np.count_nonzero(np.isnan(col)))
        cells = np.bincount(np.searchsorted(grid, col, side="right"), minlength=len(grid) + 1)
        cells[-1] -= missing  # NaN sorts past the end
        out.append((cells, missing))
    for col, names in zip(cat, cats):
        idx = np.searchsorted(names, col)
        idx[idx == len(names)] = 0
        known = names[idx] == col
        idx[~known] = len(names)  # the unseen bucket
        out.append((np.bincount(idx, minlength=len(names) + 1), 0))
    return out


def main():
    ref_num, ref_cat = bench_data(1000, 100_000, 0.0, 0)
    win_num, win_cat = bench_data(2000, 1_000_000, 0.1, 2)
    grids = [grid_of(c) for c in ref_num]
    cats = [np.unique(c) for c in ref_cat]
    rows = len(win_num[0])
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        result = count(win_num, win_cat, grids, cats)
        best = min(best, time.perf_counter() - start)
    num_only = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        count(win_num, [], grids, [])
        num_only = min(num_only, time.perf_counter() - start)
    checksum = sum(int(np.dot(np.arange(len(c), dtype=np.int64), c)) + m for c, m in result)
    print(f"numpy {np.__version__}: {rows / best:,.0f} rows/s ({rows} rows x {NUMERIC + CATEGORICAL} features in {best:.3f} s)")
    print(f"  of which the 8 numeric columns: {num_only:.3f} s, the 2 categorical ones: {best - num_only:.3f} s")
    print(f"checksum {checksum}")


if __name__ == "__main__":
    main()
