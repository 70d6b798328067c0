package evaluator

import (
	"fmt"
	"math"
	"slices"
)

// Metric names of regression models and of full probability matrices
// (multiclass). log_loss and brier keep their names: on a probability
// matrix they are MulticlassMetrics.LogLoss and MulticlassMetrics.Brier.
const (
	MetricRMSE         = "rmse"
	MetricMAE          = "mae"
	MetricR2           = "r2"
	MetricMAPE         = "mape"
	MetricMedianAE     = "median_ae"
	MetricROCAUCOVR    = "roc_auc_ovr"
	MetricTopKAccuracy = "top_k_accuracy"
)

// TaskMetricHigherIsBetter says, for each metric of ScoreRegression and
// ScoreMulticlass, whether a larger value is better: the errors and losses
// are lower-is-better, r2, roc_auc_ovr and top_k_accuracy higher-is-better.
// It is read the way Direction reads the binary metrics.
var TaskMetricHigherIsBetter = map[string]bool{
	MetricRMSE:         false,
	MetricMAE:          false,
	MetricR2:           true,
	MetricMAPE:         false,
	MetricMedianAE:     false,
	MetricLogLoss:      false,
	MetricROCAUCOVR:    true,
	MetricBrier:        false,
	MetricTopKAccuracy: true,
}

// RegressionMetrics are a regression model's metrics on a holdout. An
// undefined metric is nil.
type RegressionMetrics struct {
	Rows     int      `json:"rows"`
	RMSE     float64  `json:"rmse"`
	MAE      float64  `json:"mae"`
	MedianAE float64  `json:"median_ae"`
	R2       *float64 `json:"r2,omitempty"`   // nil when every label is the same
	MAPE     *float64 `json:"mape,omitempty"` // nil when every label is 0
	// MAPEZeroLabels counts the rows left out of MAPE because their label
	// is exactly 0.
	MAPEZeroLabels int `json:"mape_zero_labels"`
}

// Value returns the metric called name, and false when it is undefined or
// not a regression metric.
func (m RegressionMetrics) Value(name string) (float64, bool) {
	switch name {
	case MetricRMSE:
		return m.RMSE, true
	case MetricMAE:
		return m.MAE, true
	case MetricMedianAE:
		return m.MedianAE, true
	case MetricR2:
		return deref(m.R2)
	case MetricMAPE:
		return deref(m.MAPE)
	}
	return 0, false
}

// ScoreRegression computes the regression metrics of predictions pred
// against labels truth, row by row (see the package documentation for the
// definitions). Every value must be finite.
func ScoreRegression(truth, pred []float64) (RegressionMetrics, error) {
	if err := checkRegressionRows(truth, pred, "predictions"); err != nil {
		return RegressionMetrics{}, err
	}
	n := len(truth)
	abs := make([]float64, n)
	var sq, ab, sumTruth, ape compensatedSum
	var withLabel int
	for i, y := range truth {
		e := y - pred[i]
		abs[i] = math.Abs(e)
		sq.add(e * e)
		ab.add(abs[i])
		sumTruth.add(y)
		if y == 0 {
			continue
		}
		withLabel++
		ape.add(abs[i] / math.Abs(y))
	}
	m := RegressionMetrics{
		Rows:           n,
		RMSE:           math.Sqrt(sq.total() / float64(n)),
		MAE:            ab.total() / float64(n),
		MedianAE:       median(abs),
		MAPEZeroLabels: n - withLabel,
	}
	if withLabel > 0 {
		v := ape.total() / float64(withLabel)
		m.MAPE = &v
	}
	mean := sumTruth.total() / float64(n)
	var tot compensatedSum
	for _, y := range truth {
		tot.add((y - mean) * (y - mean))
	}
	if tot.total() > 0 {
		v := 1 - sq.total()/tot.total()
		m.R2 = &v
	}
	return m, nil
}

// checkRegressionRows refuses rows a regression metric cannot read: none,
// a length mismatch, or a value that is not finite. who names the second
// slice in the error.
func checkRegressionRows(truth, other []float64, who string) error {
	if len(truth) == 0 {
		return fmt.Errorf("no rows to score")
	}
	if len(other) != len(truth) {
		return fmt.Errorf("%d labels but %d %s", len(truth), len(other), who)
	}
	for i := range truth {
		if math.IsNaN(truth[i]) || math.IsInf(truth[i], 0) {
			return fmt.Errorf("label of row %d is %v, not a finite number", i, truth[i])
		}
		if math.IsNaN(other[i]) || math.IsInf(other[i], 0) {
			return fmt.Errorf("%s of row %d is %v, not a finite number", who, i, other[i])
		}
	}
	return nil
}

// median returns the median of v (the mean of the two middle values for an
// even length, as numpy.median), sorting v in place.
func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// compensatedSum is a compensated (Neumaier) sum, so a mean of many per-row terms
// does not drift with the order of the rows.
type compensatedSum struct{ sum, c float64 }

func (k *compensatedSum) add(x float64) {
	t := k.sum + x
	if math.Abs(k.sum) >= math.Abs(x) {
		k.c += (k.sum - t) + x
	} else {
		k.c += (x - t) + k.sum
	}
	k.sum = t
}

// total returns the compensated sum.
func (k *compensatedSum) total() float64 { return k.sum + k.c }
