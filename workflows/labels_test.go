package workflows_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

func TestALabelDelayEndsTheWindowThatLongBeforeTheAsOfTime(t *testing.T) {
	asOf := time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		delay time.Duration
		asOf  *time.Time
		to    time.Time
	}{
		{"without a delay the window ends at as_of", 0, &asOf, asOf},
		{"a 3d delay ends it three days before as_of", 3 * 24 * time.Hour, &asOf, asOf.AddDate(0, 0, -3)},
		{"a 6h delay ends it six hours before the run's start", 6 * time.Hour, nil, runStart.Add(-6 * time.Hour)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(m *config.Model) { m.Label.Delay = config.Duration(tc.delay) })
			h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.70, 0.74}, "forest": {0.83, 0.82}}
			in := retrainInput()
			in.AsOf = tc.asOf
			res := h.mustRun(in)
			from := tc.to.Add(-7 * 24 * time.Hour) // window.length: 7d
			if !res.Window.From.Equal(from) || !res.Window.To.Equal(tc.to) {
				t.Errorf("window %s, want [%s, %s)", res.Window, from, tc.to)
			}
			if len(h.staged) != 1 || !h.staged[0].Window.To.Equal(tc.to) {
				t.Errorf("StageRunData got %+v, want the run's window", h.staged)
			}
			for _, tr := range h.trained {
				if !tr.Window.To.Equal(tc.to) {
					t.Errorf("candidate %s trained on %s, want the run's window", tr.Candidate, tr.Window)
				}
			}
		})
	}
}

func TestTheLabelCoverageAndSkippedRowsGoIntoTheResultAndTheDecisionRecord(t *testing.T) {
	h := newHarness(t, nil)
	h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.70, 0.74}, "forest": {0.83, 0.82}}
	h.snapLabels = &activities.LabelCoverage{Source: "table", AsOf: runStart, Rows: 8000, Labelled: 7000, Unlabelled: 1000, Coverage: 0.875}
	h.stageSkipped = 12
	res := h.mustRun(retrainInput())
	want := activities.LabelCoverage{Source: "table", AsOf: runStart, Rows: 8000, Labelled: 7000, Unlabelled: 1000, Coverage: 0.875, Skipped: 12}
	if res.Labels == nil || *res.Labels != want {
		t.Errorf("the result's labels %+v, want %+v", res.Labels, want)
	}
	var rec workflows.DecisionRecord
	if err := json.Unmarshal(h.onlyRecord().Decision, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Labels == nil || *rec.Labels != want {
		t.Errorf("the decision record's labels %+v, want %+v", rec.Labels, want)
	}
}
