package evaluator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
)

// referenceCompare is Compare as it was before CompareAll shared each
// bootstrap resample among every challenger and metric: one Compare call
// drew its own resamples and recomputed every per-row term. It is kept,
// unchanged, as the reference the faster implementation must reproduce
// bit for bit (TestCompareAllMatchesTheReferenceImplementation).
func referenceCompare(metric string, numClasses int, truth, champPred, chalPred []int, champPos, chalPos []float64, opts CompareOptions) (Comparison, error) {
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
	champVal, ok := champ.referenceValue(metric, nil)
	if !ok {
		return Comparison{}, fmt.Errorf("%s is undefined on this holdout: it has rows of one class only", metric)
	}
	chalVal, _ := chal.referenceValue(metric, nil)

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

	diffs := referencePairedBootstrap(metric, champ, chal, opts.Resamples, opts.Seed)
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

// referencePairedBootstrap returns challenger - champion on each resample in which the
// metric is defined for both, exactly 0 when the two are tied up to rounding
// noise. Resample b draws n rows with replacement from its own generator,
// PCG(seed, b); the same draw weights both models.
func referencePairedBootstrap(metric string, champ, chal *rows, resamples int, seed uint64) []float64 {
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
				vc, okc := champ.referenceValue(metric, w)
				vh, okh := chal.referenceValue(metric, w)
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

// referenceValue is rows.value with the AUC of referenceAUC.
func (r *rows) referenceValue(metric string, w []int32) (float64, bool) {
	if metric == MetricROCAUC {
		return r.referenceAUC(w)
	}
	return r.value(metric, w)
}

// referenceAUC is rows.auc as it was, before it took weights of two widths.
func (r *rows) referenceAUC(w []int32) (float64, bool) {
	var twiceU, pos, neg, negBelow, gPos, gNeg int64
	for j, i := range r.order {
		wi := int64(1)
		if w != nil {
			wi = int64(w[i])
		}
		if r.sortedPositive[j] {
			gPos += wi
		} else {
			gNeg += wi
		}
		if r.tieEnd[j] {
			twiceU += gPos * (2*negBelow + gNeg)
			negBelow += gNeg
			pos += gPos
			neg += gNeg
			gPos, gNeg = 0, 0
		}
	}
	if pos == 0 || neg == 0 {
		return 0, false
	}
	return float64(twiceU) / (2 * float64(pos) * float64(neg)), true
}
