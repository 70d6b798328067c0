package activities_test

import (
	"math"
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
)

func TestACandidateTrainsOnAboutMaxTrainRows(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 7, 600)
	spec, err := f.acts.Config.Model("churn")
	if err != nil {
		t.Fatal(err)
	}
	m := *spec
	// 4200 rows: the newest day (600) is held out by time, a quarter of
	// the other 3600 by key, which leaves 2700 training rows to sample
	// 1200 of.
	m.Window.MaxTrainRows = 1200
	m.Window.OutOfTime = config.Duration(24 * time.Hour)

	var snap activities.Snapshot
	if err := f.execute(f.acts.SnapshotWindow, activities.SnapshotInput{Model: "churn", Window: week, Spec: &m}, &snap); err != nil {
		t.Fatal(err)
	}
	if snap.TrainRows != 2700 {
		t.Errorf("the snapshot expects %d training rows, want 2700 (6 days of 600 rows, less the holdout fraction 0.25)", snap.TrainRows)
	}
	rate := snap.SampleRate(m.Window.MaxTrainRows)
	in := f.trainInput("run-max", "logistic")
	in.SampleRate, in.Spec = rate, &m
	var tr activities.Trained
	if err := f.execute(f.acts.TrainCandidate, in, &tr); err != nil {
		t.Fatal(err)
	}
	// The sample is binomial: the training rows the window really holds
	// (about 2700) each kept with probability rate.
	sd := math.Sqrt(2700 * rate * (1 - rate))
	if d := math.Abs(float64(tr.TrainRows) - 1200); d > 4*sd {
		t.Errorf("trained on %d rows at sample rate %.4f, want max_train_rows 1200 within 4 standard deviations (%.0f)", tr.TrainRows, rate, 4*sd)
	}
}
