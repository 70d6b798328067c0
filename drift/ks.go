package drift

import (
	"math"
	"slices"
)

// ksMaxExactN is the largest sample size for which KS2Samp computes the exact
// p-value, as scipy.stats.ks_2samp(method='auto') does.
const ksMaxExactN = 10000

// KS2Samp returns the two-sided two-sample Kolmogorov-Smirnov statistic
// D = sup_x |F_a(x) - F_b(x)| of the empirical distribution functions of a
// and b, and its p-value, as scipy.stats.ks_2samp(a, b) does by default
// (method='auto'):
//
//   - when both samples have at most 10000 values the p-value is exact: the
//     proportion of lattice paths from (0,0) to (n1,n2) that leave the band
//     |x/n1 - y/n2| < D (Hodges 1958, in Viehmann's numerically stable form;
//     for n1 == n2 the closed alternating sum), and D is reported as h/lcm(n1,n2)
//     with h = round(D*lcm), as scipy does;
//   - otherwise it is the asymptotic p-value Pr(D_en >= D) of the one-sample
//     statistic with en = round(n1*n2/(n1+n2)) (scipy.stats.kstwo.sf).
//
// Ties are handled exactly (both ECDFs are evaluated after every tied value),
// and ±Inf are ordinary values. If either sample is empty or holds a NaN the
// result is (NaN, NaN), scipy's nan_policy='propagate'. The inputs are not
// modified.
func KS2Samp(a, b []float64) (stat, p float64) {
	if len(a) == 0 || len(b) == 0 || slices.ContainsFunc(a, math.IsNaN) || slices.ContainsFunc(b, math.IsNaN) {
		return math.NaN(), math.NaN()
	}
	x := slices.Clone(a)
	y := slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	n1, n2 := len(x), len(y)
	d := ksStatistic(x, y)

	if max(n1, n2) <= ksMaxExactN {
		var ok bool
		d, p, ok = ksExact(n1, n2, d)
		if ok {
			return d, p
		}
	}
	return d, ksAsymptotic(n1, n2, d)
}

// ksStatistic returns max |F_x - F_y| over the pooled sample, with both
// ECDFs right-continuous (counts of values <= t), computed as scipy does:
// i/n1 - j/n2 in float64.
func ksStatistic(x, y []float64) float64 {
	n1, n2 := float64(len(x)), float64(len(y))
	maxS, minS := math.Inf(-1), math.Inf(1)
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		var t float64
		switch {
		case j == len(y) || (i < len(x) && x[i] <= y[j]):
			t = x[i]
		default:
			t = y[j]
		}
		for i < len(x) && x[i] <= t {
			i++
		}
		for j < len(y) && y[j] <= t {
			j++
		}
		diff := float64(i)/n1 - float64(j)/n2
		maxS = math.Max(maxS, diff)
		minS = math.Min(minS, diff)
	}
	minS = clamp01(-minS)
	if minS > maxS {
		return minS
	}
	return maxS
}

// ksAsymptotic returns scipy's asymptotic two-sided p-value for the
// two-sample statistic d.
func ksAsymptotic(n1, n2 int, d float64) float64 {
	m, n := float64(max(n1, n2)), float64(min(n1, n2))
	en := m * n / (m + n)
	return clamp01(kstwoSF(d, int(math.RoundToEven(en))))
}

// ksExact returns the statistic snapped to the lattice, the exact two-sided
// p-value, and whether the computation stayed within [0, 1].
func ksExact(n1, n2 int, d float64) (float64, float64, bool) {
	g := gcd(n1, n2)
	lcm := int64(n1/g) * int64(n2)
	h := int64(math.RoundToEven(d * float64(lcm)))
	d = float64(h) / float64(lcm)
	if h == 0 {
		return d, 1, true
	}
	var p float64
	if n1 == n2 {
		p = ksOutsideSquare(int64(n1), h)
	} else {
		p = ksOutsideBand(int64(n1), int64(n2), int64(g), h)
	}
	if !(p >= 0 && p <= 1) {
		return d, p, false
	}
	return d, p, true
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// ksOutsideSquare returns the proportion of lattice paths from (0,0) to
// (n,n) that touch x-y = ±h:
//
//	2 * sum_{k>=1} (-1)^(k-1) C(2n, n-kh) / C(2n, n),
//
// evaluated by Horner's scheme on ratios of binomials so that nothing
// cancels or overflows.
func ksOutsideSquare(n, h int64) float64 {
	P := 0.0
	for k := n / h; k >= 0; k-- {
		p1 := 1.0
		for j := int64(0); j < h; j++ {
			p1 = float64(n-k*h-j) * p1 / float64(n+k*h+j+1)
		}
		P = p1 * (1 - P)
	}
	return 2 * P
}

// ksOutsideBand returns the proportion of lattice paths from (0,0) to (m,n)
// that do not stay strictly inside |x/m - y/n| < h/lcm(m,n). It walks the
// lattice column by column keeping only the band, and carries the
// probability of having left the band rather than of staying in it
// (Viehmann 2021), which keeps small p-values accurate.
func ksOutsideBand(m, n, g, h int64) float64 {
	if m < n {
		m, n = n, m
	}
	mg, ng := m/g, n/g
	minj := int64(0)
	maxj := min(int64(math.Ceil(float64(h)/float64(mg))), n+1)
	curlen := maxj - minj
	A := make([]float64, n+2)
	for i := range A {
		A[i] = 1
	}
	for i := minj; i < maxj; i++ {
		A[i] = 0
	}
	for i := int64(1); i <= m; i++ {
		lastminj, lastlen := minj, curlen
		minj = max(int64(math.Floor(float64(ng*i-h)/float64(mg)))+1, 0)
		minj = min(minj, n)
		maxj = min(int64(math.Ceil(float64(ng*i+h)/float64(mg))), n+1)
		if maxj <= minj {
			return 1
		}
		val := 1.0
		if minj == 0 {
			val = 0
		}
		fi := float64(i)
		for jj := int64(0); jj < maxj-minj; jj++ {
			j := jj + minj
			val = (A[jj+minj-lastminj]*fi + val*float64(j)) / (fi + float64(j))
			A[jj] = val
		}
		curlen = maxj - minj
		if lastlen > curlen {
			for k := maxj - minj; k < maxj-minj+(lastlen-curlen); k++ {
				A[k] = 1
			}
		}
	}
	return A[maxj-minj-1]
}
