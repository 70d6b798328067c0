package evaluator

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// multiclassHoldout draws n rows of k equally likely classes; each model
// predicts the class with the highest of k noisy scores, the true class's
// raised by its signal. The two models' noises are independent.
func multiclassHoldout(n, k int, seed uint64, champSignal, chalSignal float64) holdout {
	rng := rand.New(rand.NewPCG(seed, 2))
	h := holdout{truth: make([]int, n), champPred: make([]int, n), chalPred: make([]int, n)}
	predict := func(y int, signal float64) int {
		best, bestScore := 0, math.Inf(-1)
		for c := range k {
			s := rng.NormFloat64()
			if c == y {
				s += signal
			}
			if s > bestScore {
				best, bestScore = c, s
			}
		}
		return best
	}
	for i := range n {
		y := rng.IntN(k)
		h.truth[i], h.champPred[i], h.chalPred[i] = y, predict(y, champSignal), predict(y, chalSignal)
	}
	return h
}

// promotionRate is the share of trials in which Decide, with the default
// significance level and zero thresholds, promotes a challenger drawn with
// chalSignal over a champion drawn with champSignal on n holdout rows.
func promotionRate(t *testing.T, metric string, trials, n int, champSignal, chalSignal float64) float64 {
	t.Helper()
	p := Policy{PrimaryMetric: metric, SignificanceLevel: DefaultSignificanceLevel, MinHoldoutRows: n}
	promoted := 0
	for trial := range trials {
		seed := uint64(1000*len(metric) + trial)
		var h holdout
		k := 2
		if BinaryOnly(metric) {
			h = syntheticHoldout(n, seed, champSignal, chalSignal)
		} else {
			k = 3
			h = multiclassHoldout(n, k, seed, champSignal, chalSignal)
		}
		c, err := Compare(metric, k, h.truth, h.champPred, h.chalPred, h.champPos, h.chalPos, CompareOptions{Seed: seed})
		if err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		champ, err := Score(k, h.truth, h.champPred, h.champPos)
		if err != nil {
			t.Fatal(err)
		}
		chal, err := Score(k, h.truth, h.chalPred, h.chalPos)
		if err != nil {
			t.Fatal(err)
		}
		d := Decide(p, &Champion{Version: "champion", Metrics: champ},
			[]Candidate{{Version: "challenger", Metrics: chal, Comparisons: []Comparison{c}}})
		if d.Outcome == OutcomePromote {
			promoted++
		}
	}
	return float64(promoted) / float64(trials)
}

func TestEquallyGoodChallengersArePromotedAtMostAtTheSignificanceLevel(t *testing.T) {
	// Champion and challenger come from the same model with independent
	// noise: a promotion is a false one. With the default significance
	// level each metric's test may promote at most alpha of them, within
	// three binomial standard errors of the estimate.
	const trials, rows = 300, 200
	alpha := DefaultSignificanceLevel
	limit := alpha + 3*math.Sqrt(alpha*(1-alpha)/trials)
	start := time.Now()
	for _, metric := range classLabelMetrics() {
		t.Run(metric, func(t *testing.T) {
			rate := promotionRate(t, metric, trials, rows, 1, 1)
			t.Logf("%s: %.3f of %d equally good challengers promoted (limit %.3f)", metric, rate, trials, limit)
			if rate > limit {
				t.Errorf("%s promoted %.3f of equally good challengers, more than alpha %v allows (%.3f)", metric, rate, alpha, limit)
			}
		})
	}
	t.Logf("%d metrics x %d trials in %s", len(classLabelMetrics()), trials, time.Since(start).Round(time.Millisecond))
}

func TestAClearlyBetterChallengerIsPromotedMostOfTheTime(t *testing.T) {
	const trials, rows = 40, 200
	for _, metric := range classLabelMetrics() {
		t.Run(metric, func(t *testing.T) {
			rate := promotionRate(t, metric, trials, rows, 0.8, 2.2)
			t.Logf("%s: %.3f of %d clearly better challengers promoted", metric, rate, trials)
			if rate < 0.8 {
				t.Errorf("%s promoted %.3f of clearly better challengers, want at least 0.8", metric, rate)
			}
		})
	}
}

func TestTheOneSidedIntervalAgreesWithThePValue(t *testing.T) {
	// Whatever the level, a p-value below it sits beside a one-sided
	// interval that excludes 0, and a p-value at or above it beside one
	// that includes 0: the reason text never contradicts itself.
	for _, alpha := range []float64{0.05, 0.1, 0.01} {
		p := Policy{SignificanceLevel: alpha}
		for _, metric := range classLabelMetrics() {
			p.PrimaryMetric = metric
			for trial := range 25 {
				seed := uint64(trial)
				// From a worse to a clearly better challenger.
				signal := 0.8 + 0.04*float64(trial)
				var h holdout
				k := 2
				if BinaryOnly(metric) {
					h = syntheticHoldout(200, seed, 1, signal)
				} else {
					k = 3
					h = multiclassHoldout(200, k, seed, 1, signal)
				}
				c, err := Compare(metric, k, h.truth, h.champPred, h.chalPred, h.champPos, h.chalPos,
					CompareOptions{Resamples: 300, Confidence: p.Confidence(), Seed: seed})
				if err != nil {
					t.Fatal(err)
				}
				if c.Bound == nil {
					t.Fatalf("%s at alpha %v: no one-sided bound", metric, alpha)
				}
				beyond := *c.Bound > 0
				if !c.HigherIsBetter {
					beyond = *c.Bound < 0
				}
				if (c.PValue < alpha) != beyond {
					t.Errorf("%s at alpha %v, trial %d: %s p = %v beside the one-sided bound %v",
						metric, alpha, trial, c.Test, c.PValue, *c.Bound)
				}
			}
		}
	}
}

func TestTooFewResamplesForTheLevelGiveNoBound(t *testing.T) {
	// With 100 resamples the bootstrap p-value is at least 1/101: it can
	// never be below 0.005, and no resample is a 99.5% bound.
	h := syntheticHoldout(200, 1, 1, 2)
	c := h.compare(t, MetricROCAUC, CompareOptions{Resamples: 100, Confidence: 0.995})
	if c.Bound != nil {
		t.Errorf("bound %v from 100 resamples at 99.5%%, want none", *c.Bound)
	}
	if c := h.compare(t, MetricROCAUC, CompareOptions{Resamples: 100, Confidence: 0.95}); c.Bound == nil {
		t.Error("no bound from 100 resamples at 95%")
	}
}
