package workflows_test

import (
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

func TestARunReadsItsWindowOnceAndPassesTheRowsOnByReference(t *testing.T) {
	h := newHarness(t, func(m *config.Model) { m.Window.MaxTrainRows = 2800 })
	h.snapTrainRows = 5600
	h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.76, 0.79}, "forest": {0.76, 0.79}}
	h.mustRun(retrainInput())
	if len(h.staged) != 1 {
		t.Fatalf("StageRunData was called %d times, want once per run", len(h.staged))
	}
	st := h.staged[0]
	if st.SampleRate != 0.5 || st.Window != h.snapshots[0].Window || st.RunID == "" || st.Spec == nil {
		t.Errorf("StageRunData got %+v, want the snapshot's window, the run id, the rate 0.5 and the recorded spec", st)
	}
	if len(h.trained) == 0 || len(h.evaluated) != 1 {
		t.Fatalf("%d trainings and %d evaluations, want some and one", len(h.trained), len(h.evaluated))
	}
	for _, tr := range h.trained {
		if tr.Data == nil || tr.Data.ManifestSHA256 != "5ca1ab1e" || tr.Data.RunID != st.RunID {
			t.Errorf("candidate %s got run data %+v, want the staged rows", tr.Candidate, tr.Data)
		}
	}
	if ev := h.evaluated[0]; ev.Data == nil || ev.Data.ManifestSHA256 != "5ca1ab1e" {
		t.Errorf("Evaluate got run data %+v, want the staged rows", ev.Data)
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

func TestARunSamplesItsStagedHoldoutToMaxHoldoutRows(t *testing.T) {
	// 7000 labelled rows, 5600 expected on the training side: 1400 in the
	// holdout, of which max_holdout_rows 700 keeps half.
	h := newHarness(t, func(m *config.Model) { m.Window.MaxHoldoutRows = 700 })
	h.snapTrainRows = 5600
	h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.76, 0.79}, "forest": {0.76, 0.79}}
	h.mustRun(retrainInput())
	if len(h.staged) != 1 || h.staged[0].HoldoutRate != 0.5 {
		t.Fatalf("StageRunData got %+v, want one call with holdout rate 0.5", h.staged)
	}

	// A snapshot recorded before the training rows were counted keeps the
	// whole holdout.
	h = newHarness(t, func(m *config.Model) { m.Window.MaxHoldoutRows = 700 })
	h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.76, 0.79}, "forest": {0.76, 0.79}}
	h.mustRun(retrainInput())
	if len(h.staged) != 1 || h.staged[0].HoldoutRate != 1 {
		t.Fatalf("StageRunData got %+v, want one call keeping every holdout row", h.staged)
	}
}
