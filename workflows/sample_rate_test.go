package workflows_test

import (
	"testing"

	"go.temporal.io/sdk/workflow"

	"github.com/kingmaker-ml/kingmaker/config"
)

// TestTheSampleRateIsComputedOnTheTrainingRows is the rate of runs recorded
// before the one-pass read (which keeps max_train_rows rows exactly).
func TestTheSampleRateIsComputedOnTheTrainingRows(t *testing.T) {
	cases := []struct {
		name      string
		trainRows int64 // what SnapshotWindow expects; 0 as recorded before
		want      float64
	}{
		{"max_train_rows 2800 of 5600 training rows keeps half", 5600, 0.5},
		{"a snapshot recorded before training rows were counted keeps the rate on every row", 0, 0.4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(m *config.Model) { m.Window.MaxTrainRows = 2800 })
			h.env.OnGetVersion("one-pass-read", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
			h.snapTrainRows = tc.trainRows
			h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.76, 0.79}, "forest": {0.76, 0.79}}
			h.mustRun(retrainInput())
			if len(h.trained) == 0 {
				t.Fatal("no candidate was trained")
			}
			for _, tr := range h.trained {
				if tr.SampleRate != tc.want {
					t.Errorf("candidate %s got sample rate %v, want %v", tr.Candidate, tr.SampleRate, tc.want)
				}
			}
		})
	}
}
