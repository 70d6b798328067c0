package evaluator_test

import (
	"math"
	"strings"
	"testing"

	"github.com/kingmaker-ml/kingmaker/evaluator"
)

// liveRows are n labelled rows on which both versions are right, then b rows
// only the new champion gets right and c only the previous one does.
func liveRows(n, b, c int) (truth, newPred, prevPred []int) {
	for i := range n + b + c {
		y := i % 2
		nw, pv := y, y
		switch {
		case i >= n+b:
			nw = 1 - y
		case i >= n:
			pv = 1 - y
		}
		truth, newPred, prevPred = append(truth, y), append(newPred, nw), append(prevPred, pv)
	}
	return truth, newPred, prevPred
}

func TestJudgeProbationOnMcNemarsOneSidedTest(t *testing.T) {
	rules := evaluator.ProbationRules{Metric: evaluator.MetricAccuracy, MinLabelledRows: 200, MaxDrop: 0.01, SignificanceLevel: 0.05}
	cases := []struct {
		name        string
		n, b, c     int
		wantP       float64 // scipy.stats.binomtest(c, b+c, 0.5, alternative="greater"), testdata/make_probation_reference.py
		wantOutcome string
	}{
		{"a previous champion right on 30 rows the new one missed, against 10, rolls it back", 400, 10, 30, 0.0011107168866146822, evaluator.ProbationRolledBack},
		{"24 against 16 is worse by more than max_drop but not significant: confirmed", 400, 16, 24, 0.13409362552738457, evaluator.ProbationConfirmed},
		{"a new champion better than the previous one is confirmed", 400, 30, 10, 1, evaluator.ProbationConfirmed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			truth, nw, pv := liveRows(tc.n, tc.b, tc.c)
			c, err := evaluator.Compare(evaluator.MetricAccuracy, 2, truth, nw, pv, nil, nil, evaluator.CompareOptions{Confidence: 0.95})
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantP < 1 && math.Abs(c.PValue-tc.wantP) > 1e-12 {
				t.Fatalf("p-value %v, want scipy's %v", c.PValue, tc.wantP)
			}
			v := evaluator.JudgeProbation(rules, evaluator.ProbationEvidence{New: "new", Previous: "prev", LabelledRows: len(truth), Comparison: &c})
			if v.Outcome != tc.wantOutcome {
				t.Fatalf("outcome %s (%s), want %s", v.Outcome, v.Reason, tc.wantOutcome)
			}
			if wantDrop := float64(tc.c-tc.b) / float64(len(truth)); math.Abs(v.Drop-wantDrop) > 1e-12 {
				t.Fatalf("drop %v, want (c - b) / rows = %v", v.Drop, wantDrop)
			}
		})
	}
}

func TestJudgeProbationIsInconclusiveOnTooFewRowsAndToleratesNoise(t *testing.T) {
	rules := evaluator.ProbationRules{Metric: evaluator.MetricAccuracy, MinLabelledRows: 200, MaxDrop: 0.01, SignificanceLevel: 0.05}
	few := evaluator.JudgeProbation(rules, evaluator.ProbationEvidence{New: "new", Previous: "prev", LabelledRows: 199,
		Comparison: &evaluator.Comparison{Improvement: 0.5, PValue: 0}})
	if few.Outcome != evaluator.ProbationInconclusive || !strings.Contains(few.Reason, "min_labelled_rows 200") {
		t.Fatalf("199 rows: %s (%s), want inconclusive naming min_labelled_rows", few.Outcome, few.Reason)
	}
	exact := evaluator.JudgeProbation(rules, evaluator.ProbationEvidence{New: "new", Previous: "prev", LabelledRows: 500,
		Comparison: &evaluator.Comparison{Improvement: 0.01 + 1e-15, PValue: 0}})
	if exact.Outcome != evaluator.ProbationConfirmed {
		t.Fatalf("a drop of exactly max_drop plus rounding noise: %s, want confirmed", exact.Outcome)
	}
}
