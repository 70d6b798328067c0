package evaluator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestPCGStepIsRandPCG(t *testing.T) {
	for _, seed := range [][2]uint64{{0, 0}, {1, 0}, {8, 9}, {^uint64(0), ^uint64(0)}, {1 << 63, 12345}} {
		p := rand.NewPCG(seed[0], seed[1])
		hi, lo := seed[0], seed[1]
		var u uint64
		for i := range 10_000 {
			hi, lo, u = pcgStep(hi, lo)
			if want := p.Uint64(); u != want {
				t.Fatalf("PCG(%d, %d), output %d: pcgStep gave %d, rand.PCG %d", seed[0], seed[1], i, u, want)
			}
		}
	}
}

// drawCountsByIntN counts n draws of rand.New(rand.NewPCG(seed, stream)).IntN(n).
func drawCountsByIntN(n int, seed, stream uint64) []int32 {
	w := make([]int32, n)
	rng := rand.New(rand.NewPCG(seed, stream))
	for range n {
		w[rng.IntN(n)]++
	}
	return w
}

func TestDrawCountsCountWhatIntNDraws(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 1000, 1024, 4097, 65536, 100_003} {
		for stream := range uint64(3) {
			want := drawCountsByIntN(n, 11, stream)
			w32 := make([]int32, n)
			if drawCounts(w32, 11, stream) {
				t.Fatalf("n = %d: int32 counts wrapped", n)
			}
			w8 := make([]uint8, n)
			wrapped := drawCounts(w8, 11, stream)
			overflow := false
			for i := range want {
				if w32[i] != want[i] {
					t.Fatalf("n = %d, stream %d: row %d drawn %d times, IntN drew it %d times", n, stream, i, w32[i], want[i])
				}
				overflow = overflow || want[i] > 255
				if want[i] <= 255 && int32(w8[i]) != want[i] {
					t.Fatalf("n = %d, stream %d: row %d has byte count %d, IntN drew it %d times", n, stream, i, w8[i], want[i])
				}
			}
			if wrapped != overflow {
				t.Fatalf("n = %d: byte counts wrapped = %v, but a row drawn over 255 times = %v", n, wrapped, overflow)
			}
		}
	}
}

func TestDrawCountsNoticeAByteCountThatWraps(t *testing.T) {
	// One row drawn n = 1 times cannot wrap; a holdout of one row drawn 300
	// times can be made by drawing one row's count up by hand first.
	w := []uint8{255}
	if !drawCounts(w, 1, 1) {
		t.Fatal("a byte count that went from 255 to 0 was not noticed")
	}
	w = make([]uint8, 2)
	w[0], w[1] = 255, 255
	if !drawCounts(w, 1, 1) {
		t.Fatal("a byte count that went from 255 to 0 was not noticed (n = 2)")
	}
}

func TestNextIndexDrawsWhatIntNDraws(t *testing.T) {
	// At n = 2^62 + 12345 about one draw in four is rejected, so the
	// rejection path runs often here; the holdouts of drawCounts only ever
	// reach it with a chance of n/2^64.
	for _, n := range []uint64{3, 1000, 500_000, 1_000_000, 1<<31 - 1, 1<<62 + 12345, 1<<63 + 1} {
		rng := rand.New(rand.NewPCG(8, 9))
		hi, lo := uint64(8), uint64(9)
		for range 5000 {
			var k uint64
			k, hi, lo = nextIndex(hi, lo, n)
			if want := rng.Uint64N(n); k != want {
				t.Fatalf("n = %d: nextIndex gave %d where Uint64N gave %d", n, k, want)
			}
		}
	}
}

// tiedAtTheEnds gives the lowest and the highest scores of pos to runs of
// rows: the first lo rows by score share one score, the last hi rows
// another, and the middle keeps its (distinct) scores.
func tiedAtTheEnds(pos []float64, lo, hi int) []float64 {
	out := slices.Clone(pos)
	order := make([]int, len(pos))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmpFloat(pos[a], pos[b]) })
	for _, i := range order[:lo] {
		out[i] = 0
	}
	for _, i := range order[len(order)-hi:] {
		out[i] = 1
	}
	return out
}

// TestCompareAllMatchesTheReferenceOnTheEdgesOfTheAUCPass adds to
// TestCompareAllMatchesTheReferenceImplementation the cases of the AUC
// pass over rows.ranked and rows.ties (aucCounts): runs of ties at either
// end of the score order or over every row, runs next to each other,
// holdouts of one to three rows and of powers of two, and roc_auc alone,
// which skips the pass over rows in row order.
func TestCompareAllMatchesTheReferenceOnTheEdgesOfTheAUCPass(t *testing.T) {
	h := syntheticHoldout(1500, 41, 1, 1.3)
	constant := make([]float64, len(h.truth))
	for i := range constant {
		constant[i] = 0.5
	}
	steps := make([]float64, len(h.truth)) // runs of 1, 2, 3, ... equal scores, next to each other
	for i, run, left := 0, 1, 1; i < len(steps); i++ {
		steps[i] = float64(run) / float64(len(steps))
		if left--; left == 0 {
			run++
			left = run
		}
	}
	challengers := []Predictions{
		{Pred: h.chalPred, Positive: tiedAtTheEnds(h.chalPos, 40, 60)},
		{Pred: h.chalPred, Positive: tiedAtTheEnds(h.chalPos, 1, 2)},
		{Pred: h.chalPred, Positive: tiedAtTheEnds(h.chalPos, 2, 1)},
		{Pred: h.champPred, Positive: constant},
		{Pred: h.chalPred, Positive: steps},
		{Pred: h.chalPred, Positive: h.chalPos},
	}
	champions := []Predictions{
		{Pred: h.champPred, Positive: h.champPos},
		{Pred: h.champPred, Positive: tiedAtTheEnds(h.champPos, 700, 700)},
	}
	metricLists := [][]string{{MetricROCAUC}, {MetricROCAUC, MetricAccuracy, MetricLogLoss}}
	type tc struct {
		name        string
		truth       []int
		champion    Predictions
		challengers []Predictions
	}
	var cases []tc
	for c, champ := range champions {
		cases = append(cases, tc{fmt.Sprintf("champion %d", c), h.truth, champ, challengers})
	}
	for _, n := range []int{1, 2, 3, 4, 5, 8, 16, 64, 1024} {
		cut := func(p Predictions) Predictions { return Predictions{Pred: p.Pred[:n], Positive: p.Positive[:n]} }
		var chals []Predictions
		for _, c := range challengers {
			chals = append(chals, cut(c))
		}
		// Rows of both classes from the second row on.
		truth := slices.Clone(h.truth[:n])
		if n > 1 {
			truth[0], truth[1] = 0, 1
		}
		cases = append(cases, tc{fmt.Sprintf("%d rows", n), truth, cut(champions[0]), chals})
	}
	for _, c := range cases {
		for _, metrics := range metricLists {
			t.Run(fmt.Sprintf("%s, %v", c.name, metrics), func(t *testing.T) {
				opts := CompareOptions{Resamples: 200, Seed: 6}
				res, errs := CompareAll(metrics, 2, c.truth, c.champion, c.challengers, opts)
				for i, ch := range c.challengers {
					for j, metric := range metrics {
						want, wantErr := referenceCompare(metric, 2, c.truth, c.champion.Pred, ch.Pred, c.champion.Positive, ch.Positive, opts)
						sameComparison(t, fmt.Sprintf("%s of challenger %d", metric, i), res[i][j], errs[i][j], want, wantErr)
					}
				}
			})
		}
	}
}

// TestCompareAllMatchesTheReferenceWithManyModels covers the confusion
// counts taken from histograms of joint codes (newConfGroups): more models
// than one byte of code holds, so that they fall into several groups, and
// more than 16 classes, where no code fits and each model counts its own
// cells.
func TestCompareAllMatchesTheReferenceWithManyModels(t *testing.T) {
	for _, tc := range []struct{ k, challengers int }{{2, 9}, {3, 5}, {4, 4}, {16, 2}, {17, 2}} {
		t.Run(fmt.Sprintf("%d classes, %d challengers", tc.k, tc.challengers), func(t *testing.T) {
			h := multiclassHoldout(1200, tc.k, uint64(tc.k), 1, 1.2)
			var challengers []Predictions
			for c := range tc.challengers {
				challengers = append(challengers, Predictions{Pred: labelModel(h.truth, tc.k, uint64(c), 0.5+0.04*float64(c))})
			}
			metrics := []string{MetricAccuracy, MetricF1Macro, MetricRecallMacro}
			if tc.k == 2 {
				metrics = []string{MetricAccuracy, MetricF1, MetricPrecision}
			}
			opts := CompareOptions{Resamples: 150, Seed: 8}
			champion := Predictions{Pred: h.champPred}
			res, errs := CompareAll(metrics, tc.k, h.truth, champion, challengers, opts)
			for i, ch := range challengers {
				for j, metric := range metrics {
					want, wantErr := referenceCompare(metric, tc.k, h.truth, champion.Pred, ch.Pred, nil, nil, opts)
					sameComparison(t, fmt.Sprintf("%s of challenger %d", metric, i), res[i][j], errs[i][j], want, wantErr)
				}
			}
		})
	}
}

// labelModel predicts the true class of each row with probability right,
// and otherwise a class drawn at random (possibly the true one).
func labelModel(truth []int, k int, seed uint64, right float64) []int {
	rng := rand.New(rand.NewPCG(seed, 3))
	pred := make([]int, len(truth))
	for i, y := range truth {
		pred[i] = y
		if rng.Float64() >= right {
			pred[i] = rng.IntN(k)
		}
	}
	return pred
}

func TestCompareAllMatchesTheReferenceWithModelsThatPredictAlike(t *testing.T) {
	// Copies of the champion and of a challenger (other slices, the same
	// numbers), a copy whose scores differ in one row only, and a model
	// with the champion's scores but other classes: sameAs computes a copy
	// once, and must not take the last two for copies.
	h := syntheticHoldout(2000, 51, 1, 1.3)
	champion := Predictions{Pred: h.champPred, Positive: h.champPos}
	oneOff := slices.Clone(h.chalPos)
	oneOff[1999] = 1 - oneOff[1999]
	otherClasses := slices.Clone(h.champPred)
	otherClasses[7] = 1 - otherClasses[7]
	challengers := []Predictions{
		{Pred: h.chalPred, Positive: h.chalPos},
		{Pred: slices.Clone(h.champPred), Positive: slices.Clone(h.champPos)},
		{Pred: slices.Clone(h.chalPred), Positive: slices.Clone(h.chalPos)},
		{Pred: h.chalPred, Positive: oneOff},
		{Pred: otherClasses, Positive: h.champPos},
		{Pred: h.chalPred}, // no scores
		{Pred: slices.Clone(h.chalPred)},
	}
	for _, metrics := range [][]string{{MetricROCAUC}, classLabelMetrics()} {
		opts := CompareOptions{Resamples: 150, Seed: 12}
		res, errs := CompareAll(metrics, 2, h.truth, champion, challengers, opts)
		for i, ch := range challengers {
			for j, metric := range metrics {
				want, wantErr := referenceCompare(metric, 2, h.truth, champion.Pred, ch.Pred, champion.Positive, ch.Positive, opts)
				sameComparison(t, fmt.Sprintf("%s of challenger %d", metric, i), res[i][j], errs[i][j], want, wantErr)
			}
		}
	}
}

func TestSameAsFindsTheModelsThatPredictAlike(t *testing.T) {
	h := syntheticHoldout(500, 52, 1, 1.3)
	negZero := slices.Clone(h.champPos)
	negZero[3] = 0
	zero := slices.Clone(negZero)
	negZero[3] = math.Copysign(0, -1)
	models := []Predictions{
		{Pred: h.champPred, Positive: zero},
		{Pred: h.chalPred, Positive: h.chalPos},
		{Pred: slices.Clone(h.champPred), Positive: slices.Clone(zero)},
		{Pred: h.champPred, Positive: negZero}, // -0 is not the same bits
		{Pred: h.chalPred},
		{Pred: slices.Clone(h.chalPred), Positive: slices.Clone(h.chalPos)},
		{Pred: slices.Clone(h.chalPred)},
	}
	sides := make([]side, len(models))
	for m, p := range models {
		sides[m] = prepare(2, h.truth, p, "challenger", true)
	}
	if got, want := sameAs(sides), []int{0, 1, 0, 3, 4, 1, 4}; !slices.Equal(got, want) {
		t.Fatalf("sameAs = %v, want %v", got, want)
	}
}
