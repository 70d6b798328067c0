package evaluator

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// probabilitySumTolerance is how far a row of a probability matrix may sum
// from 1: numpy.allclose's default rtol, which scikit-learn's multiclass
// roc_auc_score applies to the same check.
const probabilitySumTolerance = 1e-5

// MulticlassMetrics are the metrics of a model that gives one probability
// per class for every row. An undefined metric is nil.
type MulticlassMetrics struct {
	Rows    int     `json:"rows"`
	Classes int     `json:"classes"`
	LogLoss float64 `json:"log_loss"`
	// ROCAUCOVR is nil when a class has no row in the truth (its
	// one-vs-rest AUC has no positive row).
	ROCAUCOVR    *float64 `json:"roc_auc_ovr,omitempty"`
	Brier        float64  `json:"brier"`
	TopK         int      `json:"top_k"`
	TopKAccuracy float64  `json:"top_k_accuracy"`
}

// Value returns the metric called name, and false when it is undefined or
// not a metric of a probability matrix.
func (m MulticlassMetrics) Value(name string) (float64, bool) {
	switch name {
	case MetricLogLoss:
		return m.LogLoss, true
	case MetricROCAUCOVR:
		return deref(m.ROCAUCOVR)
	case MetricBrier:
		return m.Brier, true
	case MetricTopKAccuracy:
		return m.TopKAccuracy, true
	}
	return 0, false
}

// ScoreMulticlass computes the metrics of probability matrix proba (one row
// per sample, one column per class 0..K-1, each row summing to 1) against
// the true classes truth; topK is the k of top_k_accuracy. See the package
// documentation for the definitions.
func ScoreMulticlass(truth []int, proba [][]float64, topK int) (MulticlassMetrics, error) {
	n := len(truth)
	if n == 0 {
		return MulticlassMetrics{}, fmt.Errorf("no rows to score")
	}
	if len(proba) != n {
		return MulticlassMetrics{}, fmt.Errorf("%d labels but %d probability rows", n, len(proba))
	}
	k := len(proba[0])
	if k < 2 {
		return MulticlassMetrics{}, fmt.Errorf("probability row 0 has %d columns; at least two classes are required", k)
	}
	if topK < 1 {
		return MulticlassMetrics{}, fmt.Errorf("top_k is %d; it must be at least 1", topK)
	}
	for i, row := range proba {
		if len(row) != k {
			return MulticlassMetrics{}, fmt.Errorf("probability row %d has %d columns, row 0 has %d", i, len(row), k)
		}
		if truth[i] < 0 || truth[i] >= k {
			return MulticlassMetrics{}, fmt.Errorf("label of row %d is class %d, outside 0..%d", i, truth[i], k-1)
		}
		var sum float64
		for c, p := range row {
			if !(p >= 0 && p <= 1) {
				return MulticlassMetrics{}, fmt.Errorf("probability of class %d in row %d is %v, outside [0, 1]", c, i, p)
			}
			sum += p
		}
		if math.Abs(sum-1) > probabilitySumTolerance {
			return MulticlassMetrics{}, fmt.Errorf("probabilities of row %d sum to %v, not 1", i, sum)
		}
	}

	var logLoss, brier compensatedSum
	hits := 0
	for i, row := range proba {
		y := truth[i]
		logLoss.add(-math.Log(clipProb(row[y])))
		for c, p := range row {
			e := p
			if c == y {
				e = 1 - p
			}
			brier.add(e * e)
		}
		if inTopK(row, y, topK) {
			hits++
		}
	}
	m := MulticlassMetrics{
		Rows:         n,
		Classes:      k,
		LogLoss:      logLoss.total() / float64(n),
		Brier:        brier.total() / float64(n*k),
		TopK:         topK,
		TopKAccuracy: float64(hits) / float64(n),
	}
	if auc, ok := rocAUCOVR(truth, proba, k); ok {
		m.ROCAUCOVR = &auc
	}
	return m, nil
}

// inTopK reports whether class y is among the k classes of row with the
// highest probability. Of tied probabilities the higher class index ranks
// first, as scikit-learn's top_k_accuracy_score orders them (a stable
// ascending sort, reversed).
func inTopK(row []float64, y, k int) bool {
	ahead := 0
	for c, p := range row {
		if p > row[y] || (p == row[y] && c > y) {
			ahead++
		}
	}
	return ahead < k
}

// rocAUCOVR is the mean over the classes of the AUC of one class against
// the rest, each from the midranks of its column; false when a class has no
// row in the truth.
func rocAUCOVR(truth []int, proba [][]float64, k int) (float64, bool) {
	n := len(truth)
	positives := make([]int, k)
	for _, y := range truth {
		positives[y]++
	}
	for _, p := range positives {
		if p == 0 || p == n {
			return 0, false
		}
	}
	order := make([]int, n)
	var sum float64
	for c := range k {
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return cmp.Compare(proba[a][c], proba[b][c]) })
		var rankSum float64 // of the rows of class c, ranks from 1
		for lo := 0; lo < n; {
			hi := lo + 1
			for hi < n && proba[order[hi]][c] == proba[order[lo]][c] {
				hi++
			}
			mid := float64(lo+1+hi) / 2 // mean of the ranks lo+1..hi
			for _, i := range order[lo:hi] {
				if truth[i] == c {
					rankSum += mid
				}
			}
			lo = hi
		}
		pos, neg := float64(positives[c]), float64(n-positives[c])
		sum += (rankSum - pos*(pos+1)/2) / (pos * neg)
	}
	return sum / float64(k), true
}
