package workflows_test

import (
	"testing"

	"github.com/kingmaker-ml/kingmaker/config"
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
