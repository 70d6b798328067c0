package evaluator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Benchmarks at 100k holdout rows, the size of a large evaluation chunk.

func BenchmarkScore100k(b *testing.B) {
	h := syntheticHoldout(100_000, 1, 1, 1.3)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Score(2, h.truth, h.chalPred, h.chalPos); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompare100k(b *testing.B) {
	h := syntheticHoldout(100_000, 1, 1, 1.3)
	for _, metric := range []string{MetricAccuracy, MetricF1, MetricROCAUC, MetricLogLoss} {
		b.Run(metric, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h.compare(b, metric, CompareOptions{Seed: 1})
			}
		})
	}
}

// BenchmarkEvaluateHoldout compares two challengers with a champion (three
// models) on roc_auc, accuracy and log_loss with 1000 resamples, as
// Evaluate does for a run: "before" calls the reference implementation once
// per challenger and metric, as Evaluate did; "after" is one CompareAll.
// BENCHMARKS.md ("Evaluation at scale") has the figures.
func BenchmarkEvaluateHoldout(b *testing.B) {
	metrics := []string{MetricROCAUC, MetricAccuracy, MetricLogLoss}
	for _, n := range []int{10_000, 100_000, 500_000} {
		h := syntheticHoldout(n, 1, 1, 1.3)
		other := syntheticHoldout(n, 2, 1, 1.2)
		champion := Predictions{Pred: h.champPred, Positive: h.champPos}
		challengers := []Predictions{{Pred: h.chalPred, Positive: h.chalPos}, {Pred: other.chalPred, Positive: other.chalPos}}
		opts := CompareOptions{Resamples: 1000, Seed: 1}
		name := fmt.Sprintf("rows=%dk", n/1000)
		b.Run(name+"/before", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, c := range challengers {
					for _, metric := range metrics {
						if _, err := referenceCompare(metric, 2, h.truth, champion.Pred, c.Pred, champion.Positive, c.Positive, opts); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
		})
		b.Run(name+"/after", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, errs := CompareAll(metrics, 2, h.truth, champion, challengers, opts)
				for _, row := range errs {
					for _, err := range row {
						if err != nil {
							b.Fatal(err)
						}
					}
				}
			}
		})
	}
}

// scoredModel is a binary model of truth whose scores carry signal as
// syntheticHoldout's do, drawn from a generator of its own.
func scoredModel(truth []int, seed uint64, signal float64) Predictions {
	rng := rand.New(rand.NewPCG(seed, 2))
	p := Predictions{Pred: make([]int, len(truth)), Positive: make([]float64, len(truth))}
	for i, y := range truth {
		z := signal*(float64(y)-0.5) + rng.NormFloat64()
		p.Positive[i] = 1 / (1 + math.Exp(-z))
		if p.Positive[i] >= 0.5 {
			p.Pred[i] = 1
		}
	}
	return p
}

// BenchmarkCompareAllFourModels is the bootstrap of a retrain's Evaluate
// with a champion and three candidates (four models, every one a model of
// the same truth) and 1000 resamples: on roc_auc alone, the default
// primary metric, and on roc_auc, accuracy and log_loss. Each case makes
// its own holdout, so that a process running one case pays for that one
// only. BENCHMARKS.md ("Evaluation at scale") has the figures.
func BenchmarkCompareAllFourModels(b *testing.B) {
	for _, n := range []int{500_000, 1_000_000} {
		for _, tc := range []struct {
			name    string
			metrics []string
		}{
			{"roc_auc", []string{MetricROCAUC}},
			{"three", []string{MetricROCAUC, MetricAccuracy, MetricLogLoss}},
		} {
			b.Run(fmt.Sprintf("rows=%dk/%s", n/1000, tc.name), func(b *testing.B) {
				h := syntheticHoldout(n, 1, 1, 1.3)
				champion := Predictions{Pred: h.champPred, Positive: h.champPos}
				challengers := []Predictions{
					{Pred: h.chalPred, Positive: h.chalPos},
					scoredModel(h.truth, 3, 1.2),
					scoredModel(h.truth, 4, 1.4),
				}
				opts := CompareOptions{Resamples: 1000, Seed: 1}
				b.ReportAllocs()
				for b.Loop() {
					_, errs := CompareAll(tc.metrics, 2, h.truth, champion, challengers, opts)
					for _, row := range errs {
						for _, err := range row {
							if err != nil {
								b.Fatal(err)
							}
						}
					}
				}
			})
		}
	}
}
