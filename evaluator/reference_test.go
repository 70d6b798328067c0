package evaluator

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// referenceTolerance is how close Go and scikit-learn/statsmodels must agree.
const referenceTolerance = 1e-12

// reference mirrors testdata/reference.json, written by make_reference.py.
type reference struct {
	Versions map[string]string `json:"versions"`
	Score    []struct {
		Name     string    `json:"name"`
		Classes  int       `json:"classes"`
		Truth    []int     `json:"truth"`
		Pred     []int     `json:"pred"`
		Positive []float64 `json:"positive"`
		Want     struct {
			Rows      int     `json:"rows"`
			Confusion [][]int `json:"confusion"`
			Accuracy  float64 `json:"accuracy"`
			PerClass  []struct {
				Class     int     `json:"class"`
				Precision float64 `json:"precision"`
				Recall    float64 `json:"recall"`
				F1        float64 `json:"f1"`
				Support   int     `json:"support"`
			} `json:"per_class"`
			PrecisionMacro float64  `json:"precision_macro"`
			RecallMacro    float64  `json:"recall_macro"`
			F1Macro        float64  `json:"f1_macro"`
			MacroClasses   int      `json:"macro_classes"`
			Precision      *float64 `json:"precision"`
			Recall         *float64 `json:"recall"`
			F1             *float64 `json:"f1"`
			ROCAUC         *float64 `json:"roc_auc"`
			LogLoss        *float64 `json:"log_loss"`
			Brier          *float64 `json:"brier"`
		} `json:"want"`
	} `json:"score"`
	McNemar []struct {
		Name           string  `json:"name"`
		ChampionOnly   int     `json:"champion_only"`
		ChallengerOnly int     `json:"challenger_only"`
		Rows           int     `json:"rows"`
		Test           string  `json:"test"`
		Statistic      float64 `json:"statistic"`
		PValue         float64 `json:"p_value"`
		LowerBound95   float64 `json:"lower_bound_95"`
	} `json:"mcnemar"`
}

func loadReference(t *testing.T) reference {
	t.Helper()
	data, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatalf("read reference values (regenerate with testdata/make_reference.py): %v", err)
	}
	var ref reference
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatalf("parse testdata/reference.json: %v", err)
	}
	if len(ref.Score) == 0 || len(ref.McNemar) == 0 {
		t.Fatal("testdata/reference.json has no cases")
	}
	return ref
}

func assertClose(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > referenceTolerance {
		t.Errorf("%s = %.17g, reference says %.17g (difference %.3g, tolerance %g)",
			what, got, want, got-want, referenceTolerance)
	}
}

// assertOptional compares a metric that may be undefined (nil reference).
func assertOptional(t *testing.T, m Metrics, name string, want *float64) {
	t.Helper()
	got, ok := m.Value(name)
	switch {
	case want == nil && ok:
		t.Errorf("%s = %v, reference says it is undefined", name, got)
	case want != nil && !ok:
		t.Errorf("%s is undefined, reference says %v", name, *want)
	case want != nil:
		assertClose(t, name, got, *want)
	}
}

func TestScoreAgreesWithScikitLearn(t *testing.T) {
	ref := loadReference(t)
	t.Logf("reference made with %v", ref.Versions)
	for _, tc := range ref.Score {
		t.Run(tc.Name, func(t *testing.T) {
			m, err := Score(tc.Classes, tc.Truth, tc.Pred, tc.Positive)
			if err != nil {
				t.Fatalf("Score: %v", err)
			}
			w := tc.Want
			if m.Rows != w.Rows {
				t.Errorf("rows = %d, want %d", m.Rows, w.Rows)
			}
			for i := range w.Confusion {
				for j := range w.Confusion[i] {
					if m.Confusion[i][j] != w.Confusion[i][j] {
						t.Errorf("confusion[%d][%d] = %d, want %d", i, j, m.Confusion[i][j], w.Confusion[i][j])
					}
				}
			}
			assertClose(t, "accuracy", m.Accuracy, w.Accuracy)
			for c, pc := range w.PerClass {
				got := m.PerClass[c]
				assertClose(t, "class precision", got.Precision, pc.Precision)
				assertClose(t, "class recall", got.Recall, pc.Recall)
				assertClose(t, "class f1", got.F1, pc.F1)
				if got.Support != pc.Support {
					t.Errorf("class %d support = %d, want %d", c, got.Support, pc.Support)
				}
			}
			assertClose(t, "precision_macro", m.PrecisionMacro, w.PrecisionMacro)
			assertClose(t, "recall_macro", m.RecallMacro, w.RecallMacro)
			assertClose(t, "f1_macro", m.F1Macro, w.F1Macro)
			if m.MacroClasses != w.MacroClasses {
				t.Errorf("macro_classes = %d, want %d", m.MacroClasses, w.MacroClasses)
			}
			assertOptional(t, m, MetricPrecision, w.Precision)
			assertOptional(t, m, MetricRecall, w.Recall)
			assertOptional(t, m, MetricF1, w.F1)
			assertOptional(t, m, MetricROCAUC, w.ROCAUC)
			assertOptional(t, m, MetricLogLoss, w.LogLoss)
			assertOptional(t, m, MetricBrier, w.Brier)
		})
	}
}

// discordantRows builds a binary holdout on which the champion alone is right
// on b rows and the challenger alone on c, plus rows where they agree.
func discordantRows(b, c int) (truth, champ, chal []int) {
	add := func(n, t, p1, p2 int) {
		for range n {
			truth, champ, chal = append(truth, t), append(champ, p1), append(chal, p2)
		}
	}
	add(b, 1, 1, 0)
	add(c, 0, 1, 0)
	add(10, 1, 1, 1) // both right
	add(7, 0, 1, 1)  // both wrong
	return truth, champ, chal
}

// assertRelClose compares a value that may be tiny (a p-value in a far
// tail) relative to its size.
func assertRelClose(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > referenceTolerance*math.Max(1e-300, math.Abs(want)) && math.Abs(got-want) > 1e-15 {
		t.Errorf("%s = %.17g, reference says %.17g (relative difference %.3g, tolerance %g)",
			what, got, want, (got-want)/want, referenceTolerance)
	}
}

func TestOneSidedMcNemarAgreesWithSciPyBinomtest(t *testing.T) {
	for _, tc := range loadReference(t).McNemar {
		t.Run(tc.Name, func(t *testing.T) {
			b, c := tc.ChampionOnly, tc.ChallengerOnly
			if tc.Rows > 10_000 {
				// Too many rows to bootstrap in a unit test: the test itself.
				assertRelClose(t, "p-value", mcNemarGreater(b, c), tc.PValue)
				if got := mcNemarLowerBound(b, c, tc.Rows, 0.05); math.Abs(got-tc.LowerBound95) > 1e-9 {
					t.Errorf("95%% lower bound = %.17g, reference says %.17g", got, tc.LowerBound95)
				}
				return
			}
			truth, champ, chal := discordantRows(b, c)
			if len(truth) != tc.Rows {
				t.Fatalf("the holdout has %d rows, the reference assumed %d", len(truth), tc.Rows)
			}
			cmp, err := Compare(MetricAccuracy, 2, truth, champ, chal, nil, nil, CompareOptions{Resamples: 100})
			if err != nil {
				t.Fatalf("Compare: %v", err)
			}
			if cmp.Test != tc.Test {
				t.Errorf("test = %q, want %q", cmp.Test, tc.Test)
			}
			if cmp.Discordant == nil {
				t.Fatal("no discordant counts for accuracy")
			}
			if cmp.Discordant.ChampionOnly != tc.ChampionOnly || cmp.Discordant.ChallengerOnly != tc.ChallengerOnly {
				t.Errorf("discordant = (b %d, c %d), want (b %d, c %d)",
					cmp.Discordant.ChampionOnly, cmp.Discordant.ChallengerOnly, tc.ChampionOnly, tc.ChallengerOnly)
			}
			assertClose(t, "statistic", cmp.Discordant.Statistic, tc.Statistic)
			assertRelClose(t, "p-value", cmp.PValue, tc.PValue)
			if cmp.Bound == nil {
				t.Fatal("no one-sided bound for accuracy")
			}
			// scipy's Clopper-Pearson bound comes from a beta quantile, ours
			// from a bisection on the binomial tail: equal to 1e-9.
			if math.Abs(*cmp.Bound-tc.LowerBound95) > 1e-9 {
				t.Errorf("95%% lower bound = %.17g, reference says %.17g", *cmp.Bound, tc.LowerBound95)
			}
			if (cmp.PValue < 0.05) != (*cmp.Bound > 0) {
				t.Errorf("p = %v and lower bound %v disagree about 0.05", cmp.PValue, *cmp.Bound)
			}
		})
	}
}
