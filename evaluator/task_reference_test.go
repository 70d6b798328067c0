package evaluator

import (
	"encoding/json"
	"math"
	"os"
	"strconv"
	"testing"
)

// taskReferenceTolerance is how close, relative to their size, Go and
// scikit-learn/SciPy must agree on the regression and multiclass metrics
// and the paired tests.
const taskReferenceTolerance = 1e-9

// taskReference mirrors testdata/task_reference.json, written by
// make_task_reference.py.
type taskReference struct {
	Versions   map[string]string `json:"versions"`
	Regression []struct {
		Name  string    `json:"name"`
		Truth []float64 `json:"truth"`
		Pred  []float64 `json:"pred"`
		Want  struct {
			Rows           int      `json:"rows"`
			RMSE           float64  `json:"rmse"`
			MAE            float64  `json:"mae"`
			MedianAE       float64  `json:"median_ae"`
			R2             *float64 `json:"r2"`
			MAPE           *float64 `json:"mape"`
			MAPEZeroLabels int      `json:"mape_zero_labels"`
		} `json:"want"`
	} `json:"regression"`
	Multiclass []struct {
		Name  string      `json:"name"`
		Truth []int       `json:"truth"`
		Proba [][]float64 `json:"proba"`
		Want  struct {
			Rows         int                `json:"rows"`
			Classes      int                `json:"classes"`
			LogLoss      float64            `json:"log_loss"`
			ROCAUCOVR    *float64           `json:"roc_auc_ovr"`
			Brier        float64            `json:"brier"`
			TopKAccuracy map[string]float64 `json:"top_k_accuracy"`
		} `json:"want"`
	} `json:"multiclass"`
	Paired []struct {
		Name       string    `json:"name"`
		Loss       string    `json:"loss"`
		Truth      []float64 `json:"truth"`
		Champion   []float64 `json:"champion"`
		Challenger []float64 `json:"challenger"`
		Want       struct {
			Rows           int     `json:"rows"`
			NonZero        int     `json:"non_zero"`
			T              float64 `json:"t"`
			TPValue        float64 `json:"t_p_value"`
			WilcoxonTest   string  `json:"wilcoxon_test"`
			WPlus          float64 `json:"w_plus"`
			WilcoxonPValue float64 `json:"wilcoxon_p_value"`
		} `json:"want"`
	} `json:"paired"`
}

func loadTaskReference(t *testing.T) taskReference {
	t.Helper()
	data, err := os.ReadFile("testdata/task_reference.json")
	if err != nil {
		t.Fatalf("read reference values (run testdata/make_task_reference.py): %v", err)
	}
	var ref taskReference
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatalf("parse testdata/task_reference.json: %v", err)
	}
	if len(ref.Regression) == 0 || len(ref.Multiclass) == 0 || len(ref.Paired) == 0 {
		t.Fatal("testdata/task_reference.json holds no cases")
	}
	return ref
}

// closeTo fails the test unless got is within taskReferenceTolerance of
// want, relative to want (absolute below 1).
func closeTo(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > taskReferenceTolerance*max(1, math.Abs(want)) && math.Abs(got-want) > taskReferenceTolerance*math.Abs(want) {
		t.Errorf("%s = %.17g, want %.17g (scikit-learn/SciPy), off by %.3g", what, got, want, got-want)
	}
}

// optionalCloseTo compares an optional value: both nil, or both set and close.
func optionalCloseTo(t *testing.T, what string, got, want *float64) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil:
		t.Errorf("%s is undefined, want %.17g", what, *want)
	case want == nil:
		t.Errorf("%s = %.17g, want undefined", what, *got)
	default:
		closeTo(t, what, *got, *want)
	}
}

func TestRegressionMetricsMatchScikitLearn(t *testing.T) {
	ref := loadTaskReference(t)
	t.Logf("reference values from %v", ref.Versions)
	for _, c := range ref.Regression {
		t.Run(c.Name, func(t *testing.T) {
			m, err := ScoreRegression(c.Truth, c.Pred)
			if err != nil {
				t.Fatalf("ScoreRegression: %v", err)
			}
			if m.Rows != c.Want.Rows || m.MAPEZeroLabels != c.Want.MAPEZeroLabels {
				t.Errorf("rows %d, zero labels %d; want %d, %d", m.Rows, m.MAPEZeroLabels, c.Want.Rows, c.Want.MAPEZeroLabels)
			}
			closeTo(t, "rmse", m.RMSE, c.Want.RMSE)
			closeTo(t, "mae", m.MAE, c.Want.MAE)
			closeTo(t, "median_ae", m.MedianAE, c.Want.MedianAE)
			optionalCloseTo(t, "r2", m.R2, c.Want.R2)
			optionalCloseTo(t, "mape", m.MAPE, c.Want.MAPE)
		})
	}
}

func TestMulticlassMetricsMatchScikitLearn(t *testing.T) {
	ref := loadTaskReference(t)
	for _, c := range ref.Multiclass {
		for ks, want := range c.Want.TopKAccuracy {
			k, err := strconv.Atoi(ks)
			if err != nil {
				t.Fatalf("top-k key %q: %v", ks, err)
			}
			t.Run(c.Name+", k="+ks, func(t *testing.T) {
				m, err := ScoreMulticlass(c.Truth, c.Proba, k)
				if err != nil {
					t.Fatalf("ScoreMulticlass: %v", err)
				}
				if m.Rows != c.Want.Rows || m.Classes != c.Want.Classes || m.TopK != k {
					t.Errorf("rows %d, classes %d, k %d; want %d, %d, %d", m.Rows, m.Classes, m.TopK, c.Want.Rows, c.Want.Classes, k)
				}
				closeTo(t, "log_loss", m.LogLoss, c.Want.LogLoss)
				optionalCloseTo(t, "roc_auc_ovr", m.ROCAUCOVR, c.Want.ROCAUCOVR)
				closeTo(t, "brier", m.Brier, c.Want.Brier)
				closeTo(t, "top_k_accuracy", m.TopKAccuracy, want)
			})
		}
	}
}

func TestPairedTestsMatchSciPy(t *testing.T) {
	ref := loadTaskReference(t)
	for _, c := range ref.Paired {
		t.Run(c.Name, func(t *testing.T) {
			champ, err := RowLosses(c.Loss, c.Truth, c.Champion)
			if err != nil {
				t.Fatalf("champion losses: %v", err)
			}
			chal, err := RowLosses(c.Loss, c.Truth, c.Challenger)
			if err != nil {
				t.Fatalf("challenger losses: %v", err)
			}
			tt, err := PairedTTest(champ, chal)
			if err != nil {
				t.Fatalf("PairedTTest: %v", err)
			}
			if tt.Statistic == nil || tt.PValue == nil {
				t.Fatalf("paired t-test left t or p undefined: %+v", tt)
			}
			closeTo(t, "t", *tt.Statistic, c.Want.T)
			closeTo(t, "t-test p", *tt.PValue, c.Want.TPValue)

			w, err := WilcoxonSignedRank(champ, chal)
			if err != nil {
				t.Fatalf("WilcoxonSignedRank: %v", err)
			}
			if w.Test != c.Want.WilcoxonTest || w.Rows != c.Want.Rows || w.NonZero != c.Want.NonZero {
				t.Errorf("test %s on %d rows (%d non-zero), want %s on %d (%d)", w.Test, w.Rows, w.NonZero, c.Want.WilcoxonTest, c.Want.Rows, c.Want.NonZero)
			}
			if w.Statistic == nil || w.PValue == nil {
				t.Fatalf("Wilcoxon test left W+ or p undefined: %+v", w)
			}
			closeTo(t, "W+", *w.Statistic, c.Want.WPlus)
			closeTo(t, "Wilcoxon p", *w.PValue, c.Want.WilcoxonPValue)
		})
	}
}
