//go:build xgboost

package trainer

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkXGBoostTrain trains "xgboost" with its defaults on 10,000 and 100,000 rows of the
// package's 10-feature synthetic data (wide: 20 columns once one-hot encoded) and reports the
// accuracy on a 10,000-row holdout, for BENCHMARKS.md's comparison with scikit-learn's
// HistGradientBoostingClassifier on the same rows (testdata/xgboost_reference.py shows the
// matching scikit-learn settings). Each iteration includes building XGBoost's DMatrix.
//
//	go test -tags xgboost ./trainer -run '^$' -bench XGBoostTrain -benchtime 3x
func BenchmarkXGBoostTrain(b *testing.B) {
	holdout := wide(10_000, 22)
	for _, rows := range []int{10_000, 100_000} {
		d := wide(rows, 21)
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			tr, _ := Lookup("xgboost")
			var m Model
			for b.Loop() {
				var err error
				if m, err = tr.Train(context.Background(), d, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(accuracy(b, m, holdout), "holdout_accuracy")
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkXGBoostPredict scores 100,000 rows with a default model trained on 10,000.
func BenchmarkXGBoostPredict(b *testing.B) {
	m := mustTrain(b, "xgboost", wide(10_000, 21), nil)
	x := wide(100_000, 23).X
	for b.Loop() {
		if _, _, err := m.Predict(x); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(x))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
