package evaluator

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestScoreRejectsBadInput(t *testing.T) {
	tests := []struct {
		name     string
		classes  int
		truth    []int
		pred     []int
		positive []float64
		wantErr  string
	}{
		{"one class is not a classifier", 1, []int{0}, []int{0}, nil, "numClasses is 1"},
		{"an empty holdout has nothing to score", 2, nil, nil, nil, "no rows"},
		{"predictions shorter than the truth are refused", 2, []int{0, 1}, []int{0}, nil, "predictions have 1 rows, truth has 2"},
		{"scores shorter than the truth are refused", 2, []int{0, 1}, []int{0, 1}, []float64{0.5}, "scores have 1 rows, truth has 2"},
		{"a true label out of range names its row", 2, []int{0, 2}, []int{0, 1}, nil, "truth[1] is 2: labels must be in 0..1"},
		{"a negative predicted label names its row", 3, []int{0, 1}, []int{0, -1}, nil, "prediction[1] is -1: labels must be in 0..2"},
		{"a NaN probability names its row", 2, []int{0, 1}, []int{0, 1}, []float64{0.2, math.NaN()}, "score[1] is NaN"},
		{"a probability above 1 is refused", 2, []int{0, 1}, []int{0, 1}, []float64{1.5, 0.2}, "score[0] is 1.5: a probability must be in [0, 1]"},
		{"a negative probability is refused", 2, []int{0, 1}, []int{0, 1}, []float64{0.5, -0.1}, "score[1] is -0.1"},
		{"an infinite probability is refused", 2, []int{0, 1}, []int{0, 1}, []float64{math.Inf(1), 0.1}, "score[0] is +Inf"},
		{"scores for a multiclass model are refused", 3, []int{0, 1}, []int{0, 1}, []float64{0.1, 0.2}, "binary models only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Score(tc.classes, tc.truth, tc.pred, tc.positive)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Score error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestValueNamesEveryKnownMetricOfABinaryModelWithScores(t *testing.T) {
	m, err := Score(2, []int{0, 0, 1, 1, 1}, []int{0, 1, 1, 1, 0}, []float64{0.1, 0.6, 0.8, 0.7, 0.4})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"accuracy":        3.0 / 5,
		"precision":       2.0 / 3,
		"recall":          2.0 / 3,
		"f1":              2.0 / 3,
		"precision_macro": (0.5 + 2.0/3) / 2,
		"recall_macro":    (0.5 + 2.0/3) / 2,
		"f1_macro":        (0.5 + 2.0/3) / 2,
		"roc_auc":         5.0 / 6,
		"log_loss":        -(math.Log(0.9) + math.Log(0.4) + math.Log(0.8) + math.Log(0.7) + math.Log(0.4)) / 5,
		"brier":           (0.01 + 0.36 + 0.04 + 0.09 + 0.36) / 5,
	}
	for _, name := range MetricsFor(TaskBinary) {
		got, ok := m.Value(name)
		if !ok {
			t.Errorf("Value(%q) is undefined, want %v", name, want[name])
			continue
		}
		if math.Abs(got-want[name]) > 1e-12 {
			t.Errorf("Value(%q) = %v, want %v", name, got, want[name])
		}
	}
	if _, ok := m.Value("auc"); ok {
		t.Error(`Value("auc") is defined, want ok=false for an unknown name`)
	}
}

func TestValueIsUndefinedWhereTheMetricIs(t *testing.T) {
	binaryNoScores, _ := Score(2, []int{0, 1}, []int{0, 1}, nil)
	multiclass, _ := Score(3, []int{0, 1, 2}, []int{0, 1, 1}, nil)
	oneClass, _ := Score(2, []int{1, 1}, []int{1, 0}, []float64{0.9, 0.3})
	tests := []struct {
		name   string
		m      Metrics
		metric string
	}{
		{"roc_auc of a model without scores", binaryNoScores, MetricROCAUC},
		{"log_loss of a model without scores", binaryNoScores, MetricLogLoss},
		{"brier of a model without scores", binaryNoScores, MetricBrier},
		{"f1 of a three-class model", multiclass, MetricF1},
		{"precision of a three-class model", multiclass, MetricPrecision},
		{"roc_auc of a holdout with positives only", oneClass, MetricROCAUC},
		{"accuracy of empty metrics", Metrics{}, MetricAccuracy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if v, ok := tc.m.Value(tc.metric); ok {
				t.Errorf("Value(%q) = %v, want undefined", tc.metric, v)
			}
		})
	}
	if len(oneClass.Notes) != 1 || !strings.Contains(oneClass.Notes[0], "one class only") {
		t.Errorf("notes = %q, want one saying roc_auc is undefined for one class", oneClass.Notes)
	}
	if ll, ok := oneClass.Value(MetricLogLoss); !ok || ll <= 0 {
		t.Errorf("log_loss with one class = %v, %v; want a positive value", ll, ok)
	}
}

func TestDirectionSaysLossesAreLowerIsBetter(t *testing.T) {
	tests := []struct {
		metric     string
		wantHigher bool
		wantOK     bool
	}{
		{"accuracy", true, true},
		{"f1", true, true},
		{"roc_auc", true, true},
		{"log_loss", false, true},
		{"brier", false, true},
		{"mse", false, false},
	}
	for _, tc := range tests {
		higher, ok := Direction(tc.metric)
		if higher != tc.wantHigher || ok != tc.wantOK {
			t.Errorf("Direction(%q) = (%v, %v), want (%v, %v)", tc.metric, higher, ok, tc.wantHigher, tc.wantOK)
		}
	}
}

func TestKnownMetricsAreSortedAndComplete(t *testing.T) {
	got := KnownMetrics()
	want := []string{"accuracy", "brier", "f1", "f1_macro", "log_loss", "mae", "mape", "median_ae", "precision", "precision_macro",
		"r2", "recall", "recall_macro", "rmse", "roc_auc", "roc_auc_ovr", "top_k_accuracy"}
	if !slices.Equal(got, want) {
		t.Errorf("KnownMetrics() = %q, want %q", got, want)
	}
}

func TestLogLossClipsCertainWrongPredictionsAtMachineEpsilon(t *testing.T) {
	// A confident mistake costs -log(eps) = 36.04, not +Inf.
	m, err := Score(2, []int{1, 0}, []int{0, 0}, []float64{0, 0})
	if err != nil {
		t.Fatal(err)
	}
	want := (-math.Log(0x1p-52) - math.Log(1-0x1p-52)) / 2
	if got := *m.LogLoss; got != want {
		t.Errorf("log_loss = %v, want %v", got, want)
	}
}

func TestMetricsSurviveAJSONRoundTrip(t *testing.T) {
	m, err := Score(2, []int{0, 1, 1, 0}, []int{0, 1, 0, 0}, []float64{0.2, 0.9, 0.4, 0.1})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var back Metrics
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	for _, name := range KnownMetrics() {
		a, okA := m.Value(name)
		b, okB := back.Value(name)
		if a != b || okA != okB {
			t.Errorf("%s: %v (%v) before JSON, %v (%v) after", name, a, okA, b, okB)
		}
	}
	for _, key := range []string{`"roc_auc":`, `"per_class":`, `"confusion":[[2,0],[1,1]]`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("JSON %s lacks %s", data, key)
		}
	}
}

func TestMetricsOfAModelWithoutScoresOmitScoreMetricsFromJSON(t *testing.T) {
	m, err := Score(2, []int{0, 1}, []int{0, 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(m)
	for _, key := range []string{"roc_auc", "log_loss", "brier"} {
		if strings.Contains(string(data), `"`+key+`":`) {
			t.Errorf("JSON %s has %s, want it omitted", data, key)
		}
	}
}
