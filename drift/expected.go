package drift

import (
	"fmt"
	"math"
)

// ExpectedPSI returns the PSI that two samples with the totals of expected
// and actual would show on average if they came from one distribution: the
// noise level of PSI at these sample sizes. With no change PSI is not 0 but
// about (K-1)(1/n_expected + 1/n_actual) over K well-filled bins, and more
// where bins are sparse, because PSI(eps) then scores a bin empty on one
// side as if it had the proportion eps.
//
// The common distribution is estimated by pooling both histograms,
// pi_i = (expected_i + actual_i) / (n_e + n_a), and the counts of bin i are
// taken as independent binomials, E_i ~ Bin(n_e, pi_i) and A_i ~ Bin(n_a,
// pi_i). Every term of PSI, (q - p) ln(q/p) with p = max(E_i/n_e, eps) and
// q = max(A_i/n_a, eps), splits into products of functions of one side, so
//
//	E[term] = E[q ln q] - E[q] E[ln p] - E[p] E[ln q] + E[p ln p]
//
// and each expectation is a sum over one binomial distribution (to where
// its probabilities fall below 1e-13 of the largest). Where a bin expects at
// least 100 counts on a side and the floor eps cannot matter there, the
// second-order expansion is used instead, which gives the familiar
// (1 - pi_i)(1/n_e + 1/n_a) for such a bin. It fails like PSI on invalid
// histograms, and also when eps is 0 (an empty bin would make every
// expectation infinite).
func ExpectedPSI(expected, actual []float64, eps float64) (float64, error) {
	if !(eps > 0) || math.IsInf(eps, 0) {
		return 0, fmt.Errorf("%w: expected psi epsilon %v must be finite and positive", ErrInput, eps)
	}
	se, sa, err := sumPair("expected psi", expected, actual)
	if err != nil {
		return 0, err
	}
	total := se + sa
	sum := 0.0
	for i := range expected {
		pi := (expected[i] + actual[i]) / total
		if pi == 0 {
			continue
		}
		p := binomialLogMoments(se, pi, eps)
		q := binomialLogMoments(sa, pi, eps)
		sum += q.xlnx - q.x*p.lnx - p.x*q.lnx + p.xlnx
	}
	return math.Max(sum, 0), nil
}

// logMoments are E[x], E[ln x] and E[x ln x] of x = max(X/n, eps).
type logMoments struct{ x, lnx, xlnx float64 }

// binomialLogMoments returns the logMoments of X ~ Bin(n, pi), n rounded to
// the nearest count.
func binomialLogMoments(n, pi, eps float64) logMoments {
	n = math.Round(n)
	floor := func(k float64) float64 { return math.Max(k/n, eps) }
	mean, sd := n*pi, math.Sqrt(n*pi*(1-pi))
	switch {
	case pi >= 1:
		x := floor(n)
		return logMoments{x, math.Log(x), x * math.Log(x)}
	case mean >= 100 && n-mean >= 100 && (mean-10*sd)/n > eps:
		v := pi * (1 - pi) / n // variance of X/n
		return logMoments{pi, math.Log(pi) - v/(2*pi*pi), pi*math.Log(pi) + v/(2*pi)}
	}
	// Sum outward from the mode with the ratio of successive probabilities.
	mode := math.Min(math.Floor((n+1)*pi), n)
	lgN, _ := math.Lgamma(n + 1)
	lgK, _ := math.Lgamma(mode + 1)
	lgNK, _ := math.Lgamma(n - mode + 1)
	top := math.Exp(lgN - lgK - lgNK + mode*math.Log(pi) + (n-mode)*math.Log1p(-pi))
	odds := pi / (1 - pi)
	var m logMoments
	mass := 0.0
	add := func(k, pk float64) {
		x := floor(k)
		lx := math.Log(x)
		m.x += pk * x
		m.lnx += pk * lx
		m.xlnx += pk * x * lx
		mass += pk
	}
	add(mode, top)
	for k, pk := mode, top; k < n; k++ {
		pk *= (n - k) / (k + 1) * odds
		if pk < 1e-13*top {
			break
		}
		add(k+1, pk)
	}
	for k, pk := mode, top; k > 0; k-- {
		pk *= k / (n - k + 1) / odds
		if pk < 1e-13*top {
			break
		}
		add(k-1, pk)
	}
	m.x /= mass
	m.lnx /= mass
	m.xlnx /= mass
	return m
}
