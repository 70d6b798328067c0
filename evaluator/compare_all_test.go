package evaluator

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// sameComparison fails the test unless got and its error equal the
// reference implementation's, bit for bit.
func sameComparison(t *testing.T, what string, got Comparison, gotErr error, want Comparison, wantErr error) {
	t.Helper()
	if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
		t.Fatalf("%s: error %v, the reference gives %v", what, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v (the reference implementation)", what, got, want)
	}
}

// roundScores rounds every score to two decimals, so that many rows tie.
func roundScores(pos []float64) []float64 {
	out := make([]float64, len(pos))
	for i, p := range pos {
		out[i] = math.Round(p*100) / 100
	}
	return out
}

func TestCompareAllMatchesTheReferenceImplementation(t *testing.T) {
	binary := syntheticHoldout(3000, 11, 1, 1.2)
	other := syntheticHoldout(3000, 12, 1, 1.4)
	tied := syntheticHoldout(3000, 13, 1, 0.9)
	binChallengers := []Predictions{
		{Pred: binary.chalPred, Positive: binary.chalPos},
		{Pred: other.chalPred, Positive: other.chalPos},
		{Pred: tied.chalPred, Positive: roundScores(tied.chalPos)},
		{Pred: binary.champPred, Positive: binary.champPos}, // the champion itself: every change a tie
		{Pred: other.chalPred},                              // no scores
	}
	multi := multiclassHoldout(2500, 3, 21, 1, 1.3)
	multiOther := multiclassHoldout(2500, 3, 22, 1, 1.1)
	// Ten rows of class 1 among 400: roc_auc is undefined in many resamples.
	rare := syntheticHoldout(400, 31, 1, 1.3)
	for i := range rare.truth {
		rare.truth[i] = 0
		if i%40 == 0 {
			rare.truth[i] = 1
		}
	}
	cases := []struct {
		name        string
		k           int
		truth       []int
		champion    Predictions
		challengers []Predictions
		metrics     []string
		opts        CompareOptions
	}{
		{"binary models agree on every metric, with ties and a challenger without scores", 2, binary.truth,
			Predictions{Pred: binary.champPred, Positive: roundScores(binary.champPos)}, binChallengers, classLabelMetrics(), CompareOptions{Resamples: 300, Seed: 5}},
		{"binary models agree with the default resamples and another seed", 2, binary.truth,
			Predictions{Pred: binary.champPred, Positive: binary.champPos}, binChallengers[:2], []string{MetricROCAUC, MetricAccuracy, MetricLogLoss, MetricF1}, CompareOptions{Seed: 77}},
		{"a champion without scores fails the score metrics as the reference does", 2, binary.truth,
			Predictions{Pred: binary.champPred}, binChallengers, classLabelMetrics(), CompareOptions{Resamples: 100, Seed: 1}},
		{"multiclass models agree, and binary-only metrics fail alike", 3, multi.truth,
			Predictions{Pred: multi.champPred}, []Predictions{{Pred: multi.chalPred}, {Pred: multiOther.chalPred}}, classLabelMetrics(), CompareOptions{Resamples: 300, Seed: 9, Confidence: 0.9}},
		{"a rare class drops resamples alike", 2, rare.truth,
			Predictions{Pred: rare.champPred, Positive: rare.champPos}, []Predictions{{Pred: rare.chalPred, Positive: rare.chalPos}}, classLabelMetrics(), CompareOptions{Resamples: 200, Seed: 3}},
		{"bad options and unknown metrics fail alike", 2, binary.truth,
			Predictions{Pred: binary.champPred, Positive: binary.champPos}, binChallengers[:2], []string{"auc", MetricF1}, CompareOptions{Confidence: 1.5}},
		{"a power-of-two holdout agrees", 2, binary.truth[:2048],
			Predictions{Pred: binary.champPred[:2048], Positive: binary.champPos[:2048]}, []Predictions{{Pred: binary.chalPred[:2048], Positive: binary.chalPos[:2048]}}, classLabelMetrics(), CompareOptions{Resamples: 100, Seed: 4}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, errs := CompareAll(tc.metrics, tc.k, tc.truth, tc.champion, tc.challengers, tc.opts)
			for i, ch := range tc.challengers {
				for j, metric := range tc.metrics {
					want, wantErr := referenceCompare(metric, tc.k, tc.truth, tc.champion.Pred, ch.Pred, tc.champion.Positive, ch.Positive, tc.opts)
					sameComparison(t, metric+" of challenger "+string(rune('0'+i)), res[i][j], errs[i][j], want, wantErr)
					got, gotErr := Compare(metric, tc.k, tc.truth, tc.champion.Pred, ch.Pred, tc.champion.Positive, ch.Positive, tc.opts)
					sameComparison(t, "Compare on "+metric, got, gotErr, want, wantErr)
				}
			}
		})
	}
}

func TestDrawIndexDrawsWhatIntNDraws(t *testing.T) {
	for _, n := range []int{1, 2, 3, 1000, 1 << 20, 500_000, math.MaxInt32, 1<<62 + 12345} {
		a, b := rand.New(rand.NewPCG(8, 9)), rand.NewPCG(8, 9)
		for range 2000 {
			if want, got := a.IntN(n), drawIndex(b, uint64(n)); uint64(want) != got {
				t.Fatalf("n = %d: drawIndex gave %d where IntN gave %d", n, got, want)
			}
		}
	}
}

func TestByteAndInt32DrawCountsGiveTheSameMetrics(t *testing.T) {
	// draw keeps counts in bytes and falls back to drawWide when one wraps;
	// both must give every model the same metrics on the same resample.
	h := syntheticHoldout(1000, 5, 1, 1.3)
	champion, challenger := prepare(2, h.truth, Predictions{h.champPred, roundScores(h.champPos)}, "champion", true),
		prepare(2, h.truth, Predictions{h.chalPred, h.chalPos}, "challenger", true)
	sides := []side{champion, challenger}
	all := modelNeeds{confusion: true, logLoss: true, brier: true, auc: true}
	narrow := newResample(sides, []modelNeeds{all, all}, len(h.truth))
	wide := newResample(sides, []modelNeeds{all, all}, len(h.truth))
	for b := range 20 {
		narrow.draw(3, b)
		wide.drawWide(3, b)
		for m := range sides {
			for _, metric := range classLabelMetrics() {
				vn, okn := narrow.value(m, metric)
				vw, okw := wide.value(m, metric)
				if vn != vw || okn != okw {
					t.Fatalf("resample %d, model %d, %s: %v (%v) with byte counts, %v (%v) with int32 counts", b, m, metric, vn, okn, vw, okw)
				}
			}
		}
	}
	// A count that wraps shows in the total.
	w := make([]uint8, 300)
	for range 300 {
		w[7]++
	}
	if got := accumulate(narrow, w); got == 300 {
		t.Fatal("a byte count that wrapped was not noticed")
	}
}
