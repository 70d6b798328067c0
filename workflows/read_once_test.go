package workflows_test

import (
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

func TestARunReadsItsWindowOnceAndPassesTheRowsOnByReference(t *testing.T) {
	h := newHarness(t, func(m *config.Model) { m.Window.MaxTrainRows = 2800 })
	h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.76, 0.79}, "forest": {0.76, 0.79}}
	res := h.mustRun(retrainInput())
	if len(h.snapshots) != 1 || !h.snapshots[0].OnePass {
		t.Fatalf("SnapshotWindow got %+v, want one snapshot without a count (the read counts the window)", h.snapshots)
	}
	if len(h.staged) != 1 {
		t.Fatalf("StageRunData was called %d times, want once per run", len(h.staged))
	}
	st := h.staged[0]
	if st.MaxTrainRows != 2800 || st.MaxHoldoutRows != h.spec.Model.Window.MaxHoldoutRows || st.SampleRate != 0 || st.HoldoutRate != 0 ||
		st.Window != h.snapshots[0].Window || st.RunID == "" || st.Spec == nil {
		t.Errorf("StageRunData got %+v, want the snapshot's window, the run id, the caps 2800 and %d and the recorded spec", st, h.spec.Model.Window.MaxHoldoutRows)
	}
	if len(h.trained) == 0 || len(h.evaluated) != 1 {
		t.Fatalf("%d trainings and %d evaluations, want some and one", len(h.trained), len(h.evaluated))
	}
	for _, tr := range h.trained {
		if tr.Data == nil || tr.Data.ManifestSHA256 != "5ca1ab1e" || tr.Data.RunID != st.RunID {
			t.Errorf("candidate %s got run data %+v, want the staged rows", tr.Candidate, tr.Data)
		}
		if tr.SampleRate != 0.5 {
			t.Errorf("candidate %s got sample rate %v, want the 0.5 the read kept", tr.Candidate, tr.SampleRate)
		}
	}
	if ev := h.evaluated[0]; ev.Data == nil || ev.Data.ManifestSHA256 != "5ca1ab1e" {
		t.Errorf("Evaluate got run data %+v, want the staged rows", ev.Data)
	}
	if res.Rows != 7000 {
		t.Errorf("the result says %d rows, want the 7000 the read counted", res.Rows)
	}
}

// TestARunRecordedBeforeOnePassCountsFirstAndSamplesByRate replays the
// path of runs recorded without the one-pass marker: the snapshot counts
// the window, and StageRunData gets rates computed from that count.
func TestARunRecordedBeforeOnePassCountsFirstAndSamplesByRate(t *testing.T) {
	h := newHarness(t, func(m *config.Model) { m.Window.MaxTrainRows, m.Window.MaxHoldoutRows = 2800, 700 })
	h.env.OnGetVersion("one-pass-read", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.snapTrainRows = 5600
	h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.76, 0.79}, "forest": {0.76, 0.79}}
	res := h.mustRun(retrainInput())
	if len(h.snapshots) != 1 || h.snapshots[0].OnePass {
		t.Fatalf("SnapshotWindow got %+v, want one snapshot with its count", h.snapshots)
	}
	// 7000 labelled rows, 5600 expected on the training side: 1400 in the
	// holdout, of which max_holdout_rows 700 keeps half.
	if len(h.staged) != 1 || h.staged[0].SampleRate != 0.5 || h.staged[0].HoldoutRate != 0.5 || h.staged[0].MaxTrainRows != 0 {
		t.Fatalf("StageRunData got %+v, want one call with the rates 0.5 and 0.5", h.staged)
	}
	if res.Rows != 7000 {
		t.Errorf("the result says %d rows, want the snapshot's 7000", res.Rows)
	}

	// A snapshot recorded before the training rows were counted keeps the
	// whole holdout.
	h = newHarness(t, func(m *config.Model) { m.Window.MaxHoldoutRows = 700 })
	h.env.OnGetVersion("one-pass-read", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.76, 0.79}, "forest": {0.76, 0.79}}
	h.mustRun(retrainInput())
	if len(h.staged) != 1 || h.staged[0].HoldoutRate != 1 {
		t.Fatalf("StageRunData got %+v, want one call keeping every holdout row", h.staged)
	}
}

// TestAOnePassReadRefusesATooSmallWindowBeforeTraining: the count is made
// by the read, so the read refuses, and nothing trains.
func TestAOnePassReadRefusesATooSmallWindowBeforeTraining(t *testing.T) {
	h := newHarness(t, nil)
	h.stageErr = temporal.NewNonRetryableApplicationError("model churn: window holds 12 rows, fewer than window.min_rows 1000", activities.ErrTypeInvalidData, nil)
	h.env.ExecuteWorkflow(workflows.RetrainWorkflowName, retrainInput())
	err := h.env.GetWorkflowError()
	if err == nil || !strings.Contains(err.Error(), "fewer than window.min_rows") {
		t.Fatalf("the run ended with %v, want the read's refusal", err)
	}
	if len(h.staged) != 1 || len(h.trained) != 0 || len(h.evaluated) != 0 {
		t.Errorf("%d reads, %d trainings, %d evaluations: want one read (not retried) and nothing after it", len(h.staged), len(h.trained), len(h.evaluated))
	}
}

func TestTheProgressQueryReportsTheWindowBeingReadBeforeTraining(t *testing.T) {
	h := newHarness(t, nil)
	h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.76, 0.79}, "forest": {0.76, 0.79}}
	h.stageTakes, h.trainTakes = 20*time.Minute, 20*time.Minute
	var reading, training workflows.Progress
	h.env.RegisterDelayedCallback(func() { reading = h.progress() }, 10*time.Minute)
	h.env.RegisterDelayedCallback(func() { training = h.progress() }, 30*time.Minute)
	h.mustRun(retrainInput())
	if reading.Stage != workflows.StageReadingWindow || len(reading.Candidates) != 0 {
		t.Errorf("while StageRunData ran the query said stage %q with candidates %+v, want %q and none yet", reading.Stage, reading.Candidates, workflows.StageReadingWindow)
	}
	if training.Stage != workflows.StageTraining || len(training.Candidates) == 0 || training.Candidates[0].Stage != "training" {
		t.Errorf("while the candidates trained the query said stage %q with candidates %+v, want %q", training.Stage, training.Candidates, workflows.StageTraining)
	}
}

func TestARunKeepsAtMostMaxHoldoutRows(t *testing.T) {
	h := newHarness(t, func(m *config.Model) { m.Window.MaxHoldoutRows = 700 })
	h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.76, 0.79}, "forest": {0.76, 0.79}}
	h.mustRun(retrainInput())
	if len(h.staged) != 1 || h.staged[0].MaxHoldoutRows != 700 {
		t.Fatalf("StageRunData got %+v, want one call keeping at most 700 holdout rows", h.staged)
	}
}
