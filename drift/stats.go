package drift

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mathext"
)

// ErrInput reports arguments that no statistic can be computed from:
// slices of different lengths, negative or non-finite counts, empty totals.
// Errors returned by PSI, JensenShannon and ChiSquare wrap it.
var ErrInput = errors.New("drift: invalid input")

// DefaultPSIEpsilon is the proportion that PSI puts in place of an empty bin
// unless told otherwise (see PSI).
const DefaultPSIEpsilon = 1e-4

// PSI returns the population stability index of actual against expected,
// two histograms over the same bins given as counts (or any non-negative
// weights):
//
//	p_i = max(expected_i / sum(expected), eps)
//	q_i = max(actual_i / sum(actual), eps)
//	PSI = sum_i (q_i - p_i) * ln(q_i / p_i)
//
// The floor eps keeps a bin that is empty on one side finite: such a bin adds
// about q*ln(q/eps). The floored proportions are not renormalised, and a bin
// empty on both sides adds exactly 0. eps = 0 is allowed and gives +Inf when
// a bin is empty on one side only. PSI is symmetric in its arguments.
func PSI(expected, actual []float64, eps float64) (float64, error) {
	if !(eps >= 0) || math.IsInf(eps, 0) {
		return 0, fmt.Errorf("%w: psi epsilon %v must be finite and non-negative", ErrInput, eps)
	}
	se, sa, err := sumPair("psi", expected, actual)
	if err != nil {
		return 0, err
	}
	psi := 0.0
	for i := range expected {
		p := math.Max(expected[i]/se, eps)
		q := math.Max(actual[i]/sa, eps)
		if p == q {
			continue
		}
		psi += (q - p) * math.Log(q/p)
	}
	return psi, nil
}

// sumPair checks that a and b are histograms over the same bins and returns
// their totals.
func sumPair(what string, a, b []float64) (float64, float64, error) {
	if len(a) != len(b) {
		return 0, 0, fmt.Errorf("%w: %s of %d bins against %d bins", ErrInput, what, len(a), len(b))
	}
	if len(a) == 0 {
		return 0, 0, fmt.Errorf("%w: %s of no bins", ErrInput, what)
	}
	var sa, sb float64
	for i := range a {
		if !(a[i] >= 0) || !(b[i] >= 0) || math.IsInf(a[i], 0) || math.IsInf(b[i], 0) {
			return 0, 0, fmt.Errorf("%w: %s bin %d holds %v and %v, counts must be finite and non-negative", ErrInput, what, i, a[i], b[i])
		}
		sa += a[i]
		sb += b[i]
	}
	if sa == 0 || sb == 0 {
		return 0, 0, fmt.Errorf("%w: %s of an empty histogram (totals %v and %v)", ErrInput, what, sa, sb)
	}
	return sa, sb, nil
}

// JensenShannon returns the Jensen-Shannon distance between the
// distributions p and q (counts or probabilities; each is normalised to sum
// to 1), in bits, as scipy.spatial.distance.jensenshannon(p, q, base=2):
//
//	m  = (p + q) / 2
//	JS = sqrt((KL(p||m) + KL(q||m)) / 2) with KL(a||b) = sum a_i log2(a_i/b_i)
//
// It lies in [0, 1], is 0 for equal distributions and 1 for disjoint ones.
// Where rounding would make the divergence slightly negative (scipy then
// returns NaN) the distance is 0.
func JensenShannon(p, q []float64) (float64, error) {
	sp, sq, err := sumPair("jensen-shannon", p, q)
	if err != nil {
		return 0, err
	}
	var left, right float64
	for i := range p {
		a, b := p[i]/sp, q[i]/sq
		m := (a + b) / 2
		if a > 0 {
			left += a * math.Log(a/m)
		}
		if b > 0 {
			right += b * math.Log(b/m)
		}
	}
	js := (left + right) / math.Ln2
	if js <= 0 {
		return 0, nil
	}
	return math.Sqrt(js / 2), nil
}

// ChiSquare returns Pearson's chi-squared statistic of observed counts
// against expected counts, sum_i (o_i - e_i)^2 / e_i, and its p-value from
// the chi-squared distribution with len(observed)-1 degrees of freedom, as
// scipy.stats.chisquare(observed, expected) does. Like scipy it requires the
// two totals to agree to a relative tolerance of sqrt(machine epsilon)
// (about 1.5e-8); unlike scipy it also rejects expected counts that are not
// positive, which would make the statistic infinite or NaN. With a single
// bin there is no degree of freedom and the p-value is NaN (as in scipy).
func ChiSquare(observed, expected []float64) (stat, p float64, err error) {
	so, se, err := sumPair("chi-squared", observed, expected)
	if err != nil {
		return 0, 0, err
	}
	if rel := math.Abs(so-se) / math.Min(so, se); rel > math.Sqrt(epsilon) {
		return 0, 0, fmt.Errorf("%w: chi-squared observed total %v and expected total %v differ by %.3g (relative), more than %.3g", ErrInput, so, se, rel, math.Sqrt(epsilon))
	}
	for i, e := range expected {
		if !(e > 0) {
			return 0, 0, fmt.Errorf("%w: chi-squared expected count %d is %v, must be positive", ErrInput, i, e)
		}
	}
	for i := range observed {
		d := observed[i] - expected[i]
		stat += d * d / expected[i]
	}
	return stat, chiSquareSF(stat, len(observed)-1), nil
}

// chiSquareSF returns Pr(X >= x) for X chi-squared with dof degrees of
// freedom (scipy.special.chdtrc), the regularised upper incomplete gamma
// function Q(dof/2, x/2).
func chiSquareSF(x float64, dof int) float64 {
	switch {
	case math.IsNaN(x):
		return math.NaN()
	case x < 0:
		return 1
	case dof <= 0:
		if dof == 0 && x > 0 {
			return 0
		}
		return math.NaN()
	}
	return mathext.GammaIncRegComp(float64(dof)/2, x/2)
}

// BenjaminiHochberg returns p-values adjusted for the false discovery rate
// by the Benjamini-Hochberg step-up procedure, in the order given, as
// scipy.stats.false_discovery_control(p, method='bh'):
//
//	with p_(1) <= ... <= p_(m) sorted, adj_(i) = min_{k>=i} min(1, p_(k) * m/k)
//
// Rejecting every hypothesis with adj <= alpha controls the false discovery
// rate at alpha. Entries that are NaN or outside [0, 1] (scipy rejects the
// whole input) come back NaN and do not count in m.
func BenjaminiHochberg(p []float64) []float64 {
	adj := make([]float64, len(p))
	idx := validPValues(p, adj)
	m := len(idx)
	if m <= 1 {
		for _, i := range idx {
			adj[i] = p[i]
		}
		return adj
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case p[a] < p[b]:
			return -1
		case p[a] > p[b]:
			return 1
		}
		return 0
	})
	running := math.Inf(1)
	for r := m - 1; r >= 0; r-- {
		i := idx[r]
		v := p[i] * (float64(m) / float64(r+1))
		running = math.Min(running, v)
		adj[i] = math.Min(running, 1)
	}
	return adj
}

// Bonferroni returns p-values adjusted for the family-wise error rate,
// min(1, p*m), in the order given. Entries that are NaN or outside [0, 1]
// come back NaN and do not count in m.
func Bonferroni(p []float64) []float64 {
	adj := make([]float64, len(p))
	idx := validPValues(p, adj)
	m := float64(len(idx))
	for _, i := range idx {
		adj[i] = math.Min(p[i]*m, 1)
	}
	return adj
}

// validPValues returns the indexes of entries of p that are in [0, 1] and
// sets the others to NaN in adj.
func validPValues(p, adj []float64) []int {
	idx := make([]int, 0, len(p))
	for i, v := range p {
		if v >= 0 && v <= 1 {
			idx = append(idx, i)
		} else {
			adj[i] = math.NaN()
		}
	}
	return idx
}

// ChiSquareTwoSample returns Pearson's chi-squared test of homogeneity of
// two samples of counts over the same categories, as
// scipy.stats.chi2_contingency on the 2 x K table [a; b] with its default
// correction: the expected count of a cell is row total * column total /
// grand total,
//
//	X^2 = sum over the 2K cells of (o - e)^2 / e,  dof = K - 1,
//
// and p = Pr(chi-squared with dof degrees >= X^2). With one degree of
// freedom (two categories) Yates' correction moves every o toward its e by
// min(0.5, |o - e|), as scipy does; with more there is no correction.
//
// Unlike the goodness-of-fit test (ChiSquare), neither sample's proportions
// are taken as exact: both samples vary. A category that is empty in both
// samples is left out (scipy refuses the zero expected counts it would
// make); a category that only one sample has is a column like any other.
// With fewer than two categories left there is nothing to compare: the
// statistic and dof are 0 and p is 1 (scipy's answer for dof 0).
func ChiSquareTwoSample(a, b []float64) (stat float64, dof int, p float64, err error) {
	sa, sb, err := sumPair("two-sample chi-squared", a, b)
	if err != nil {
		return 0, 0, 0, err
	}
	total := sa + sb
	k := 0
	for i := range a {
		if a[i]+b[i] > 0 {
			k++
		}
	}
	if k < 2 {
		return 0, 0, 1, nil
	}
	dof = k - 1
	for i := range a {
		col := a[i] + b[i]
		if col == 0 {
			continue
		}
		for _, cell := range [2][2]float64{{a[i], sa}, {b[i], sb}} {
			e := cell[1] * col / total
			d := cell[0] - e
			if dof == 1 {
				d = math.Copysign(math.Max(math.Abs(d)-math.Min(0.5, math.Abs(d)), 0), d)
			}
			stat += d * d / e
		}
	}
	return stat, dof, chiSquareSF(stat, dof), nil
}

// MinExpectedCount is the expected count, in the smaller of two samples,
// below which a bucket is pooled with the other sparse buckets before the
// two-sample chi-squared test of a report (see PoolSparse).
const MinExpectedCount = 1.0

// PoolSparse prepares two histograms over the same buckets for the
// two-sample chi-squared test when some buckets are sparse. A bucket whose
// expected count in the smaller sample, min(n_a, n_b) * (a_i + b_i) /
// (n_a + n_b), is below minExpected joins one pooled bucket; if the pooled
// bucket is still below minExpected it is added to the bucket with the
// fewest rows (the first of equals). Buckets empty on both sides are left
// out. It returns the histograms to test, the pooled bucket last, and how
// many of the given buckets were merged (0 when none were).
//
// Without pooling, Pearson's statistic over many buckets that each expect a
// fraction of a row in the smaller sample has a heavier tail than its
// chi-squared distribution, and the test rejects more often than its level
// when many buckets are that sparse. Pooling only reads the
// bucket totals a_i + b_i, which the test takes as given, so it keeps the
// test's level; it costs little power, since a bucket that sparse can say
// little either way. Invalid histograms come back unchanged.
func PoolSparse(a, b []float64, minExpected float64) (pa, pb []float64, pooled int) {
	sa, sb, err := sumPair("pool", a, b)
	if err != nil {
		return a, b, 0
	}
	small := math.Min(sa, sb)
	sparse := func(col float64) bool { return small*col/(sa+sb) < minExpected }
	var ra, rb float64
	for i := range a {
		col := a[i] + b[i]
		switch {
		case col == 0:
		case sparse(col):
			ra, rb = ra+a[i], rb+b[i]
			pooled++
		default:
			pa, pb = append(pa, a[i]), append(pb, b[i])
		}
	}
	if pooled == 0 {
		return pa, pb, 0
	}
	if sparse(ra+rb) && len(pa) > 0 {
		j := 0
		for i := range pa {
			if pa[i]+pb[i] < pa[j]+pb[j] {
				j = i
			}
		}
		pa[j], pb[j] = pa[j]+ra, pb[j]+rb
		return pa, pb, pooled + 1
	}
	return append(pa, ra), append(pb, rb), pooled
}
