package evaluator

import "math"

// tieTolerance is how far apart, relative to their size, two values of a
// metric may be and still be equal: 1e-12 × max(1, |a|, |b|).
//
// Macro averages add per-class values in class order, so two models with
// the same per-class values in another order differ by a rounding step or
// two (2^-53 ≈ 1.1e-16 each); the worst case for a mean of K values in
// [0, 1] is about K × 1.1e-16, below 1e-12 up to some 9,000 classes. The
// other metrics are one division of exact integer counts, or sums of at
// most 2^31 per-row losses kept with a compensated sum. A real difference
// is far larger: one holdout row moves accuracy, precision, recall and
// their macro averages by at least 1/(K·n), more than 1e-12 on any holdout
// of fewer than 10^12/K rows.
const tieTolerance = 1e-12

// isTie reports whether a and b are equal up to rounding noise.
func isTie(a, b float64) bool {
	return math.Abs(a-b) <= tieTolerance*max(1, math.Abs(a), math.Abs(b))
}

// change is challenger - champion, exactly 0 when the two are tied.
func change(champion, challenger float64) float64 {
	if isTie(champion, challenger) {
		return 0
	}
	return challenger - champion
}

// improvement is the change from champion to challenger signed so that
// positive means better, exactly 0 when the two are tied.
func improvement(higherIsBetter bool, champion, challenger float64) float64 {
	if higherIsBetter {
		return change(champion, challenger)
	}
	return -change(champion, challenger)
}

// exactImprovement is improvement without the tie tolerance, as
// RulesExactSign compares it.
func exactImprovement(higherIsBetter bool, champion, challenger float64) float64 {
	if higherIsBetter {
		return challenger - champion
	}
	return champion - challenger
}

// binomialAtLeast returns P(X >= k) for X ~ Binomial(n, theta).
//
// The probabilities are summed term by term, outward from the mode, each
// term from its neighbour by the ratio of consecutive binomial
// probabilities, and the tail is divided by the sum of all terms: no
// factorial or gamma function is evaluated, and the work is at most n
// steps. The tests hold it within 1e-12 (relative) of SciPy's binomtest up
// to a million trials.
func binomialAtLeast(k, n int, theta float64) float64 {
	switch {
	case k <= 0:
		return 1
	case k > n:
		return 0
	case theta <= 0:
		return 0
	case theta >= 1:
		return 1
	}
	odds := theta / (1 - theta)
	mode := min(n, int(math.Floor(float64(n+1)*theta)))
	// Terms relative to the mode's, which is 1: sum ≥ 1 throughout.
	var sum, tail float64 = 1, 0
	if mode >= k {
		tail = 1
	}
	const negligible = 1e-17
	t := 1.0
	for j := mode; j < n; j++ { // t_{j+1} from t_j
		t *= float64(n-j) / float64(j+1) * odds
		if t == 0 {
			break
		}
		sum += t
		if j+1 >= k {
			tail += t
			if t < negligible*tail {
				break
			}
		}
	}
	t = 1.0
	for j := mode; j > 0; j-- { // t_{j-1} from t_j
		t *= float64(j) / float64(n-j+1) / odds
		sum += t
		if j-1 >= k {
			tail += t
		}
		if t < negligible*sum {
			break
		}
	}
	return math.Min(1, tail/sum)
}

// mcNemarGreater is the one-sided exact McNemar test of "the challenger is
// right more often than the champion": of the b + c rows on which exactly
// one model is right, the challenger is right on c, and under the null
// hypothesis c ~ Binomial(b + c, 1/2). It returns P(X >= c), as
// scipy.stats.binomtest(c, b + c, 0.5, alternative="greater") does.
func mcNemarGreater(b, c int) float64 {
	return binomialAtLeast(c, b+c, 0.5)
}

// mcNemarLowerBound is the one-sided lower confidence bound, at level
// 1 - gamma, for the accuracy difference (challenger - champion) on rows
// holdout rows, dual to mcNemarGreater: with θ_L the exact (Clopper-Pearson)
// lower bound for θ, the chance that a discordant row favours the
// challenger, solving P(X >= c; b + c, θ_L) = gamma,
//
//	bound = (b + c) (2 θ_L - 1) / rows
//
// It is above 0 exactly when mcNemarGreater(b, c) < gamma, because the tail
// probability grows with θ.
func mcNemarLowerBound(b, c, rows int, gamma float64) float64 {
	n := b + c
	if n == 0 {
		return 0
	}
	// Keep the side of 1/2 that the test decides, so that rounding in the
	// search can never put the bound on the other side of 0.
	lo, hi := 0.0, 0.5
	if mcNemarGreater(b, c) < gamma {
		lo, hi = 0.5, 1
	}
	for range 60 { // P(X >= c; θ) < gamma at lo, >= gamma at hi
		mid := (lo + hi) / 2
		if mid <= lo || mid >= hi {
			break
		}
		if binomialAtLeast(c, n, mid) < gamma {
			lo = mid
		} else {
			hi = mid
		}
	}
	return float64(n) * (2*hi - 1) / float64(rows)
}

// bootstrapBoundIndex is the 0-based index, in ascending order, of the
// resample that is the one-sided bound at level 1 - gamma of B resamples:
// the r-th smallest improvement with r = ⌈gamma (B + 1)⌉ - 1, so that the
// bound is above 0 exactly when the bootstrap p-value
// (1 + #{improvement <= 0}) / (B + 1) is below gamma. ok is false when B is
// too small for any bound at that level (r < 1: the p-value can never be
// below gamma).
func bootstrapBoundIndex(resamples int, gamma float64) (int, bool) {
	// A product within 1e-9 of an integer is that integer: gamma = 1 - 0.95
	// is 0.050000000000000044 in floating point.
	r := int(math.Ceil(gamma*float64(resamples+1)-1e-9)) - 1
	return r - 1, r >= 1
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
