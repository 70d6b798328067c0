package evaluator

import "math"

// exactMcNemarBelow is the number of discordant pairs below which McNemar's
// test uses the exact binomial distribution; from it on, the chi-squared
// approximation with continuity correction.
const exactMcNemarBelow = 25

// mcNemar tests whether two models that disagree on b + c rows are equally
// likely to be the one that is right. It returns the test used, its statistic
// and the two-sided p-value, as statsmodels' mcnemar does with exact=True
// (b + c < 25) or exact=False, correction=True (b + c >= 25).
func mcNemar(b, c int) (test string, statistic, p float64) {
	n := b + c
	if n < exactMcNemarBelow {
		m := min(b, c)
		// 2 * P(X <= m), X ~ Binomial(n, 1/2). The binomial coefficients stay
		// below 2^53, so the sum is exact until the final scaling.
		var cdf, coef float64 = 0, 1
		for k := 0; k <= m; k++ {
			if k > 0 {
				coef = coef * float64(n-k+1) / float64(k)
			}
			cdf += coef
		}
		return McNemarExact, float64(m), math.Min(1, 2*math.Ldexp(cdf, -n))
	}
	// statsmodels subtracts the correction without clamping at 0: with
	// b == c the statistic is 1/(b+c), not 0. Kept for identical p-values.
	d := math.Abs(float64(b-c)) - 1
	statistic = d * d / float64(n)
	// The chi-squared survival function with one degree of freedom.
	return McNemarChi2, statistic, math.Erfc(math.Sqrt(statistic / 2))
}

// quantile returns the q-quantile of sorted values by linear interpolation
// between order statistics (numpy's default, Hyndman-Fan type 7).
func quantile(sorted []float64, q float64) float64 {
	h := float64(len(sorted)-1) * q
	lo := int(math.Floor(h))
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}
