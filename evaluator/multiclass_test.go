package evaluator

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestScoreMulticlassRefusesBadInput(t *testing.T) {
	cases := []struct {
		name    string
		truth   []int
		proba   [][]float64
		topK    int
		wantErr string
	}{
		{"no rows are refused", nil, nil, 1, "no rows"},
		{"a missing probability row is refused", []int{0, 1}, [][]float64{{0.5, 0.5}}, 1, "2 labels but 1 probability rows"},
		{"one column is refused", []int{0}, [][]float64{{1}}, 1, "at least two classes"},
		{"a k below 1 is refused", []int{0}, [][]float64{{0.5, 0.5}}, 0, "top_k is 0"},
		{"a ragged matrix is refused", []int{0, 1}, [][]float64{{0.5, 0.5}, {1}}, 1, "row 1 has 1 columns, row 0 has 2"},
		{"a label outside the classes is refused", []int{2}, [][]float64{{0.5, 0.5}}, 1, "class 2, outside 0..1"},
		{"a NaN probability is refused", []int{0}, [][]float64{{math.NaN(), 1}}, 1, "class 0 in row 0 is NaN"},
		{"a row that does not sum to 1 is refused", []int{0}, [][]float64{{0.5, 0.6}}, 1, "row 0 sum to 1.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ScoreMulticlass(c.truth, c.proba, c.topK)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("error %v, want one saying %q", err, c.wantErr)
			}
		})
	}
}

func TestTopKTiesGoToTheHigherClass(t *testing.T) {
	// scikit-learn ranks tied probabilities by a stable ascending sort,
	// reversed: of classes 0 and 1 at 0.4, class 1 comes first.
	row := []float64{0.4, 0.4, 0.2}
	for _, c := range []struct {
		truth, k int
		want     bool
	}{{1, 1, true}, {0, 1, false}, {0, 2, true}, {2, 2, false}, {2, 3, true}} {
		if got := inTopK(row, c.truth, c.k); got != c.want {
			t.Errorf("class %d in the top %d of %v: %v, want %v", c.truth, c.k, row, got, c.want)
		}
	}
}

func TestMulticlassBrierOfTwoClassesIsTheBinaryBrier(t *testing.T) {
	truth := []int{1, 0, 1, 1, 0}
	positive := []float64{0.9, 0.3, 0.6, 0.2, 0.5}
	proba := make([][]float64, len(truth))
	var want float64
	for i, p := range positive {
		proba[i] = []float64{1 - p, p}
		want += (float64(truth[i]) - p) * (float64(truth[i]) - p)
	}
	want /= float64(len(truth))
	m, err := ScoreMulticlass(truth, proba, 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(m.Brier-want) > 1e-15 {
		t.Errorf("brier of two columns %v, want the binary brier %v", m.Brier, want)
	}
}

func TestRegressionRefusesBadRows(t *testing.T) {
	cases := []struct {
		name        string
		truth, pred []float64
		wantErr     string
	}{
		{"no rows are refused", nil, nil, "no rows"},
		{"predictions of another length are refused", []float64{1, 2}, []float64{1}, "2 labels but 1 predictions"},
		{"a NaN label is refused with its row", []float64{1, math.NaN()}, []float64{1, 2}, "label of row 1 is NaN"},
		{"an infinite prediction is refused with its row", []float64{1, 2}, []float64{math.Inf(-1), 2}, "predictions of row 0 is -Inf"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ScoreRegression(c.truth, c.pred)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("error %v, want one saying %q", err, c.wantErr)
			}
		})
	}
}

func TestEveryTaskMetricHasADirectionAndAValue(t *testing.T) {
	reg, err := ScoreRegression([]float64{1, 2, 4}, []float64{1.5, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	mc, err := ScoreMulticlass([]int{0, 1, 2}, [][]float64{{0.7, 0.2, 0.1}, {0.2, 0.5, 0.3}, {0.3, 0.3, 0.4}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	for name := range TaskMetricHigherIsBetter {
		_, inReg := reg.Value(name)
		_, inMC := mc.Value(name)
		if inReg == inMC {
			t.Errorf("metric %q: a regression value %v and a multiclass value %v; want exactly one", name, inReg, inMC)
		}
	}
	for _, v := range []any{reg, mc} {
		if _, err := json.Marshal(v); err != nil {
			t.Errorf("%T does not marshal to JSON: %v", v, err)
		}
	}
}
