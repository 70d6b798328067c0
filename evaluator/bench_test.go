package evaluator

import "testing"

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
