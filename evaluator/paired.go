package evaluator

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// Per-row losses a paired test of a regression model compares.
const (
	LossSquared  = "squared"  // (y - ŷ)², the loss of rmse
	LossAbsolute = "absolute" // |y - ŷ|, the loss of mae and median_ae
)

// Tests of PairedTest.Test.
const (
	TestPairedT        = "paired_t"
	TestWilcoxonExact  = "wilcoxon_exact"
	TestWilcoxonNormal = "wilcoxon_normal"
)

// wilcoxonExactMax is the largest number of rows for which the Wilcoxon
// test uses its exact null distribution, as scipy.stats.wilcoxon's
// method="auto" does.
const wilcoxonExactMax = 50

// PairedTest is the result of a one-sided paired test on per-row losses,
// for the null hypothesis "the challenger's loss is not lower". An
// undefined value is nil.
type PairedTest struct {
	Test string `json:"test"`
	Rows int    `json:"rows"`
	// NonZero counts the rows whose two losses are not tied (see Ties).
	NonZero int `json:"non_zero"`
	// Statistic is t for the paired t-test and W+, the rank sum of the rows
	// where the challenger's loss is lower, for Wilcoxon's test.
	Statistic *float64 `json:"statistic,omitempty"`
	PValue    *float64 `json:"p_value,omitempty"`
}

// RowLosses returns the loss of each row of predictions pred against labels
// truth: LossSquared or LossAbsolute.
func RowLosses(loss string, truth, pred []float64) ([]float64, error) {
	if loss != LossSquared && loss != LossAbsolute {
		return nil, fmt.Errorf("unknown loss %q (known: %s, %s)", loss, LossAbsolute, LossSquared)
	}
	if err := checkRegressionRows(truth, pred, "predictions"); err != nil {
		return nil, err
	}
	out := make([]float64, len(truth))
	for i, y := range truth {
		e := y - pred[i]
		if loss == LossSquared {
			out[i] = e * e
		} else {
			out[i] = math.Abs(e)
		}
	}
	return out, nil
}

// lossDifferences returns champion - challenger row by row (positive where
// the challenger's loss is lower), exactly 0 where the two are tied, and
// how many are not 0.
func lossDifferences(champion, challenger []float64) ([]float64, int, error) {
	if len(champion) == 0 {
		return nil, 0, fmt.Errorf("no rows to test")
	}
	if len(challenger) != len(champion) {
		return nil, 0, fmt.Errorf("%d champion losses but %d challenger losses", len(champion), len(challenger))
	}
	d := make([]float64, len(champion))
	nonZero := 0
	for i := range champion {
		a, b := champion[i], challenger[i]
		if math.IsNaN(a) || math.IsInf(a, 0) {
			return nil, 0, fmt.Errorf("champion loss of row %d is %v, not a finite number", i, a)
		}
		if math.IsNaN(b) || math.IsInf(b, 0) {
			return nil, 0, fmt.Errorf("challenger loss of row %d is %v, not a finite number", i, b)
		}
		if isTie(a, b) {
			continue
		}
		d[i] = a - b
		nonZero++
	}
	return d, nonZero, nil
}

// PairedTTest is the one-sided paired t-test of per-row losses: with d the
// differences champion - challenger, t = mean(d) / (sd(d) / √n) and
// p = P(T >= t), T Student's t with n - 1 degrees of freedom, as
// scipy.stats.ttest_rel(champion, challenger, alternative="greater").
func PairedTTest(champion, challenger []float64) (PairedTest, error) {
	d, nonZero, err := lossDifferences(champion, challenger)
	if err != nil {
		return PairedTest{}, err
	}
	n := len(d)
	res := PairedTest{Test: TestPairedT, Rows: n, NonZero: nonZero}
	if nonZero == 0 {
		return res.with(0, 1), nil
	}
	var s compensatedSum
	for _, x := range d {
		s.add(x)
	}
	mean := s.total() / float64(n)
	if n == 1 {
		return res, nil // no spread to judge one row by
	}
	if d[0] != 0 && !slices.ContainsFunc(d, func(x float64) bool { return x != d[0] }) {
		// Every row improves (or worsens) by the same amount: t is ±Inf.
		if d[0] > 0 {
			res.PValue = ptr(0)
		} else {
			res.PValue = ptr(1)
		}
		return res, nil
	}
	var ss compensatedSum
	for _, x := range d {
		ss.add((x - mean) * (x - mean))
	}
	sd := math.Sqrt(ss.total() / float64(n-1))
	t := mean / (sd / math.Sqrt(float64(n)))
	p := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}.Survival(t)
	return res.with(t, p), nil
}

// WilcoxonSignedRank is Wilcoxon's one-sided signed-rank test of per-row
// losses, as scipy.stats.wilcoxon(champion, challenger,
// alternative="greater") with its defaults zero_method="wilcox" and
// correction=False: rows with a zero difference are left out, the others
// ranked by |d| with average ranks for ties, and W+ is the rank sum of the
// rows with d > 0. With at most 50 rows, no zero difference and no tied
// |d|, p = P(W >= W+) from the exact null distribution; otherwise from the
// normal approximation with the tie correction (scipy's method="auto" uses
// a permutation test instead when there are ties or zeros and at most 13
// rows; this is its method="asymptotic" there).
func WilcoxonSignedRank(champion, challenger []float64) (PairedTest, error) {
	d, nonZero, err := lossDifferences(champion, challenger)
	if err != nil {
		return PairedTest{}, err
	}
	res := PairedTest{Test: TestWilcoxonNormal, Rows: len(d), NonZero: nonZero}
	if nonZero == 0 {
		return res.with(0, 1), nil
	}
	nz := make([]float64, 0, nonZero)
	for _, x := range d {
		if x != 0 {
			nz = append(nz, x)
		}
	}
	slices.SortFunc(nz, func(a, b float64) int {
		if math.Abs(a) < math.Abs(b) {
			return -1
		}
		if math.Abs(a) > math.Abs(b) {
			return 1
		}
		return 0
	})
	var wPlus, tieTerm float64
	for lo := 0; lo < len(nz); {
		hi := lo + 1
		for hi < len(nz) && math.Abs(nz[hi]) == math.Abs(nz[lo]) {
			hi++
		}
		mid := float64(lo+1+hi) / 2
		for _, x := range nz[lo:hi] {
			if x > 0 {
				wPlus += mid
			}
		}
		t := float64(hi - lo)
		tieTerm += t*t*t - t
		lo = hi
	}
	c := float64(nonZero)
	if nonZero == len(d) && tieTerm == 0 && nonZero <= wilcoxonExactMax {
		res.Test = TestWilcoxonExact
		return res.with(wPlus, signedRankAtLeast(nonZero, int(wPlus))), nil
	}
	mean := c * (c + 1) / 4
	se := math.Sqrt((c*(c+1)*(2*c+1) - tieTerm/2) / 24)
	z := (wPlus - mean) / se
	return res.with(wPlus, 0.5*math.Erfc(z/math.Sqrt2)), nil
}

// signedRankAtLeast returns P(W >= w) for W the signed-rank statistic of n
// rows under the null: the share of the 2^n subsets of {1..n} whose sum is
// at least w. The counts are exact in float64 up to n = 50 (2^50 < 2^53).
func signedRankAtLeast(n, w int) float64 {
	top := n * (n + 1) / 2
	counts := make([]float64, top+1)
	counts[0] = 1
	for r := 1; r <= n; r++ {
		for s := r * (r + 1) / 2; s >= r; s-- {
			counts[s] += counts[s-r]
		}
	}
	var tail float64
	for s := max(w, 0); s <= top; s++ {
		tail += counts[s]
	}
	return tail / math.Ldexp(1, n)
}

func (p PairedTest) with(statistic, pvalue float64) PairedTest {
	p.Statistic, p.PValue = ptr(statistic), ptr(pvalue)
	return p
}

func ptr(x float64) *float64 { return &x }
