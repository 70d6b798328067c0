package evaluator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
)

// Names of the tests a Comparison reports in its Test field.
const (
	// McNemarOneSided is the test for accuracy: the one-sided exact
	// binomial test on the discordant rows.
	McNemarOneSided = "mcnemar-exact-one-sided"
	// PairedBootstrap is the test for every other metric: the one-sided
	// paired bootstrap.
	PairedBootstrap = "paired-bootstrap"

	// McNemarExact and McNemarChi2 name the two-sided McNemar tests of
	// earlier versions (exact below 25 discordant rows, chi-squared with
	// continuity correction from 25 on). Compare no longer reports them;
	// they remain so that Decide can read comparisons recorded before.
	McNemarExact = "mcnemar-exact"
	McNemarChi2  = "mcnemar-chi2"
)

// Defaults of CompareOptions.
const (
	// DefaultResamples is the number of bootstrap resamples when
	// CompareOptions.Resamples is 0.
	DefaultResamples = 1000
	// DefaultConfidence is the interval's coverage when
	// CompareOptions.Confidence is 0.
	DefaultConfidence = 0.95
)

// CompareOptions tunes the paired bootstrap of Compare. The zero value means
// 1000 resamples, a 95% interval and seed 0.
type CompareOptions struct {
	// Resamples is the number of bootstrap resamples; 0 means 1000.
	Resamples int `json:"resamples"`
	// Confidence is the coverage of the intervals, in (0, 1); 0 means 0.95.
	// 1 - Confidence is the level at which the one-sided bound (Bound)
	// excludes 0 exactly when the p-value is below it: Policy.Confidence.
	Confidence float64 `json:"confidence"`
	// Seed makes the resamples reproducible: the same seed, rows and
	// predictions give the same Comparison.
	Seed uint64 `json:"seed"`
}

// Comparison is the paired comparison of a challenger with the champion on
// one metric, both scored on the same holdout rows. It holds summaries only.
//
// Changes are challenger minus champion, whatever the metric's direction:
//
//	AbsoluteChange = challenger - champion
//	RelativeChange = (challenger - champion) / |champion|
//
// Improvements are signed so that positive is better:
//
//	Improvement         = AbsoluteChange                 (higher is better)
//	Improvement         = -AbsoluteChange                (lower is better: log_loss, brier)
//	RelativeImprovement = Improvement / |champion|
//
// Two values within 1e-12 × max(1, |champion|, |challenger|) of each other
// are a tie: their change and improvement are exactly 0 (rounding noise is
// no improvement). When the champion's value is 0 the relative figures have
// no finite value and are nil (JSON null); Decide then treats any positive
// improvement as meeting a relative threshold.
type Comparison struct {
	Metric         string  `json:"metric"`
	HigherIsBetter bool    `json:"higher_is_better"`
	Rows           int     `json:"rows"`
	Champion       float64 `json:"champion"`
	Challenger     float64 `json:"challenger"`
	AbsoluteChange float64 `json:"absolute_change"`
	// RelativeChange is nil when Champion is 0.
	RelativeChange *float64 `json:"relative_change"`
	Improvement    float64  `json:"improvement"`
	// RelativeImprovement is nil when Champion is 0.
	RelativeImprovement *float64 `json:"relative_improvement"`
	// IntervalLow and IntervalHigh bound AbsoluteChange (challenger -
	// champion, not Improvement) with the given Confidence: the two-sided
	// percentile interval of the paired bootstrap, for the record.
	IntervalLow  float64 `json:"interval_low"`
	IntervalHigh float64 `json:"interval_high"`
	Confidence   float64 `json:"confidence"`
	// Bound is the one-sided Confidence bound of AbsoluteChange in the
	// direction the test asks about, the interval dual to the test behind
	// PValue: a lower bound, [Bound, +inf), for a score; an upper bound,
	// (-inf, Bound], for a loss. It lies beyond 0 in the better direction
	// exactly when PValue < 1 - Confidence. For accuracy it comes from the
	// discordant rows (see mcNemarLowerBound), for the other metrics from the
	// bootstrap. nil when the resamples are too few for a bound at that
	// confidence, and in comparisons recorded by earlier versions.
	Bound *float64 `json:"bound,omitempty"`
	// Resamples is the number of bootstrap resamples the interval and
	// BootstrapPValue rest on. Resamples in which the metric is undefined
	// (roc_auc on a resample with one class) are left out; Compare fails when
	// that is more than 10% of them.
	Resamples int    `json:"resamples"`
	Seed      uint64 `json:"seed"`
	// Test names the test behind PValue: McNemarOneSided or PairedBootstrap
	// (McNemarExact or McNemarChi2 in comparisons recorded by earlier
	// versions, whose McNemar p-values were two-sided).
	Test string `json:"test"`
	// PValue is the one-sided p-value of "the challenger is not better":
	// McNemar's one-sided exact test for accuracy, BootstrapPValue for every
	// other metric.
	PValue float64 `json:"p_value"`
	// BootstrapPValue is the one-sided p-value of "the challenger is not
	// better": (1 + resamples with Improvement <= 0) / (1 + Resamples), a
	// resample tied up to rounding noise counting as not better.
	BootstrapPValue float64 `json:"bootstrap_p_value"`
	// Discordant holds McNemar's counts; only for accuracy.
	Discordant *Discordant `json:"discordant,omitempty"`
}

// Discordant counts the rows on which exactly one of the two models is right,
// the only rows McNemar's test looks at.
type Discordant struct {
	// ChampionOnly is b: the champion is right, the challenger wrong.
	ChampionOnly int `json:"champion_only"`
	// ChallengerOnly is c: the challenger is right, the champion wrong.
	ChallengerOnly int `json:"challenger_only"`
	// Statistic is c, the binomial count of the one-sided exact test (in
	// earlier versions' records: min(b, c) for the two-sided exact test,
	// (|b - c| - 1)^2 / (b + c) for the chi-squared test).
	Statistic float64 `json:"statistic"`
}

// Compare compares a challenger with the champion on metric, both having
// predicted the same holdout rows: truth[i], champPred[i] and chalPred[i]
// belong to the same row. champPos and chalPos are the probabilities of class
// 1, needed by roc_auc, log_loss and brier and ignored (may be nil) for the
// other metrics.
//
// Every p-value is one-sided, for the question Decide asks: is the
// challenger better? For accuracy it is McNemar's one-sided exact test on
// the discordant rows; for every metric, accuracy included, Compare draws
// opts.Resamples paired bootstrap resamples of the rows (the same rows for
// both models) for the interval of challenger - champion and a one-sided
// p-value. Resample b draws its rows from a PCG generator seeded with
// (opts.Seed, b), so the result does not depend on scheduling. Compare is for
// activities: it works on per-row data and uses up to GOMAXPROCS goroutines.
func Compare(metric string, numClasses int, truth, champPred, chalPred []int, champPos, chalPos []float64, opts CompareOptions) (Comparison, error) {
	info, ok := metricTable[metric]
	if !ok {
		return Comparison{}, unknownMetric(metric)
	}
	if info.binaryOnly && numClasses != 2 {
		return Comparison{}, fmt.Errorf("%s is defined for binary models only, not for %d classes", metric, numClasses)
	}
	if info.needsScores && (champPos == nil || chalPos == nil) {
		who := "champion"
		if champPos != nil {
			who = "challenger"
		}
		return Comparison{}, fmt.Errorf("%s needs probabilities of class 1: the %s gave none", metric, who)
	}
	if !info.needsScores {
		champPos, chalPos = nil, nil
	}
	if opts.Resamples == 0 {
		opts.Resamples = DefaultResamples
	}
	if opts.Confidence == 0 {
		opts.Confidence = DefaultConfidence
	}
	if opts.Resamples < 0 {
		return Comparison{}, fmt.Errorf("resamples is %d: must be positive", opts.Resamples)
	}
	if !(opts.Confidence > 0 && opts.Confidence < 1) {
		return Comparison{}, fmt.Errorf("confidence is %v: must be in (0, 1)", opts.Confidence)
	}
	champ, err := newRows(numClasses, truth, champPred, champPos, "champion")
	if err != nil {
		return Comparison{}, err
	}
	chal, err := newRows(numClasses, truth, chalPred, chalPos, "challenger")
	if err != nil {
		return Comparison{}, err
	}
	champVal, ok := champ.value(metric, nil)
	if !ok {
		return Comparison{}, fmt.Errorf("%s is undefined on this holdout: it has rows of one class only", metric)
	}
	chalVal, _ := chal.value(metric, nil)

	c := Comparison{
		Metric:         metric,
		HigherIsBetter: info.higherIsBetter,
		Rows:           len(truth),
		Champion:       champVal,
		Challenger:     chalVal,
		AbsoluteChange: change(champVal, chalVal),
		Improvement:    improvement(info.higherIsBetter, champVal, chalVal),
		Confidence:     opts.Confidence,
		Seed:           opts.Seed,
		Test:           PairedBootstrap,
	}
	if champVal != 0 {
		rel := c.AbsoluteChange / math.Abs(champVal)
		relImp := c.Improvement / math.Abs(champVal)
		c.RelativeChange, c.RelativeImprovement = &rel, &relImp
	}

	diffs := pairedBootstrap(metric, champ, chal, opts.Resamples, opts.Seed)
	if dropped := opts.Resamples - len(diffs); dropped*10 > opts.Resamples {
		return Comparison{}, fmt.Errorf("%s is undefined in %d of %d bootstrap resamples: too few rows of one class for a comparison",
			metric, dropped, opts.Resamples)
	}
	// Ties are exact zeros (pairedBootstrap), so "not better" is <= 0.
	notBetter := 0
	for _, d := range diffs {
		if !info.higherIsBetter {
			d = -d
		}
		if d <= 0 {
			notBetter++
		}
	}
	slices.Sort(diffs)
	// 1 - 0.95 is 0.050000000000000044 in floating point: rounded to 12
	// decimals, gamma equals the significance level a policy writes.
	gamma := math.Round((1-opts.Confidence)*1e12) / 1e12
	c.IntervalLow = quantile(diffs, gamma/2)
	c.IntervalHigh = quantile(diffs, 1-gamma/2)
	c.Resamples = len(diffs)
	c.BootstrapPValue = float64(1+notBetter) / float64(1+len(diffs))
	c.PValue = c.BootstrapPValue
	if i, ok := bootstrapBoundIndex(len(diffs), gamma); ok {
		bound := diffs[i] // the i+1-th smallest change: a lower bound
		if !info.higherIsBetter {
			bound = diffs[len(diffs)-1-i] // the i+1-th largest: an upper bound
		}
		c.Bound = &bound
	}

	if metric == MetricAccuracy {
		var b, cc int
		for i, t := range truth {
			champRight, chalRight := champPred[i] == t, chalPred[i] == t
			switch {
			case champRight && !chalRight:
				b++
			case chalRight && !champRight:
				cc++
			}
		}
		bound := mcNemarLowerBound(b, cc, len(truth), gamma)
		c.Test, c.PValue, c.Bound = McNemarOneSided, mcNemarGreater(b, cc), &bound
		c.Discordant = &Discordant{ChampionOnly: b, ChallengerOnly: cc, Statistic: float64(cc)}
	}
	return c, nil
}

// pairedBootstrap returns challenger - champion on each resample in which the
// metric is defined for both, exactly 0 when the two are tied up to rounding
// noise. Resample b draws n rows with replacement from its own generator,
// PCG(seed, b); the same draw weights both models.
func pairedBootstrap(metric string, champ, chal *rows, resamples int, seed uint64) []float64 {
	diffs := make([]float64, resamples)
	defined := make([]bool, resamples)
	workers := min(runtime.GOMAXPROCS(0), resamples)
	var wg sync.WaitGroup
	for worker := range workers {
		wg.Go(func() {
			n := champ.n
			w := make([]int32, n)
			for b := worker; b < resamples; b += workers {
				clear(w)
				rng := rand.New(rand.NewPCG(seed, uint64(b)))
				for range n {
					w[rng.IntN(n)]++
				}
				vc, okc := champ.value(metric, w)
				vh, okh := chal.value(metric, w)
				diffs[b], defined[b] = change(vc, vh), okc && okh
			}
		})
	}
	wg.Wait()
	kept := diffs[:0]
	for b, d := range diffs {
		if defined[b] {
			kept = append(kept, d)
		}
	}
	return kept
}
