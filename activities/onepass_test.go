package activities_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
)

// keptRow is a row of a one-pass sample as the test derives it from a scan.
type keptRow struct {
	day         int
	hash, order uint64
	x           []float64
	y           int
}

// smallestRows is what a one-pass read must keep of one side of the window
// (holdout or training): the k rows of smallest key hash, listed by day and
// then by the key's order hash, as the test computes them from its own scan.
func smallestRows(t *testing.T, src *dataset.Source, runID string, holdout bool, k int) (rows []keptRow, all int) {
	t.Helper()
	_, err := src.Scan(context.Background(), week, dataset.ScanOptions{}, func(day int, b *dataset.Batch) error {
		for i := range b.X {
			if b.Holdout[i] == holdout {
				rows = append(rows, keptRow{day: day, hash: dataset.KeyHash(b.Keys[i], activities.SeedOf(runID)), order: dataset.OrderHash(b.Keys[i]), x: slices.Clone(b.X[i]), y: b.Y[i]})
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	all = len(rows)
	slices.SortFunc(rows, func(a, b keptRow) int { return cmp.Compare(a.hash, b.hash) })
	rows = rows[:min(k, len(rows))]
	slices.SortFunc(rows, func(a, b keptRow) int {
		if c := cmp.Compare(a.day, b.day); c != 0 {
			return c
		}
		return cmp.Compare(a.order, b.order)
	})
	return rows, all
}

func (f *fixture) stageOnePass(runID string, m *config.Model, maxTrain, maxHoldout int) (activities.RunData, error) {
	var rd activities.RunData
	in := activities.StageInput{Model: "churn", Window: week, RunID: runID, Spec: m, MaxTrainRows: maxTrain, MaxHoldoutRows: maxHoldout}
	err := f.execute(f.acts.StageRunData, in, &rd)
	return rd, err
}

func TestAOnePassReadKeepsTheRowsOfSmallestKeyHashAndCountsTheWindow(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 5, 600)
	f.acts.ChunkRows = 70 // several chunks a day, and partial last ones
	m := *testenvModel(t, f)
	ctx := context.Background()
	src := &dataset.Source{Session: f.session, Keyspace: f.keyspace, Model: &m}
	const runID, maxTrain, maxHoldout = "run-one-pass", 900, 250
	rd, err := f.stageOnePass(runID, &m, maxTrain, maxHoldout)
	if err != nil {
		t.Fatal(err)
	}
	wantTrain, trainAll := smallestRows(t, src, runID, false, maxTrain)
	wantHold, holdAll := smallestRows(t, src, runID, true, maxHoldout)
	if trainAll <= maxTrain || holdAll <= maxHoldout {
		t.Fatalf("fixture of %d training and %d holdout rows: too few for the caps", trainAll, holdAll)
	}

	t.Run("the training sample is exactly max_train_rows rows of smallest key hash", func(t *testing.T) {
		got, err := activities.LoadRunTrain(f.acts, ctx, &m, &rd)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.X) != maxTrain || rd.TrainRows != maxTrain {
			t.Fatalf("kept %d training rows (run data says %d), want exactly %d", len(got.X), rd.TrainRows, maxTrain)
		}
		for i, w := range wantTrain {
			if !reflect.DeepEqual(got.X[i], w.x) || got.Y[i] != w.y {
				t.Fatalf("training row %d is %v/%d, want %v/%d (day %d, by key hash)", i, got.X[i], got.Y[i], w.x, w.y, w.day)
			}
		}
		if want := float64(maxTrain) / float64(trainAll); math.Abs(rd.SampleRate-want) > 1e-15 {
			t.Errorf("sample rate %v, want %d/%d", rd.SampleRate, maxTrain, trainAll)
		}
	})

	t.Run("the holdout is exactly max_holdout_rows rows of smallest key hash", func(t *testing.T) {
		gotX, gotY, err := activities.RunHoldout(f.acts, ctx, &m, &rd)
		if err != nil {
			t.Fatal(err)
		}
		if len(gotX) != maxHoldout || rd.HoldoutRows != maxHoldout {
			t.Fatalf("kept %d holdout rows (run data says %d), want exactly %d", len(gotX), rd.HoldoutRows, maxHoldout)
		}
		for i, w := range wantHold {
			if !reflect.DeepEqual(gotX[i], w.x) || gotY[i] != w.y {
				t.Fatalf("holdout row %d is %v/%d, want %v/%d", i, gotX[i], gotY[i], w.x, w.y)
			}
		}
	})

	t.Run("the read counts the window as the snapshot's count did", func(t *testing.T) {
		var snap activities.Snapshot
		if err := f.execute(f.acts.SnapshotWindow, activities.SnapshotInput{Model: "churn", Window: week, Spec: &m}, &snap); err != nil {
			t.Fatal(err)
		}
		if !rd.Counted || rd.Rows != snap.Rows || rd.Labels == nil || snap.Labels == nil ||
			rd.Labels.Rows != snap.Labels.Rows || rd.Labels.Labelled != snap.Labels.Labelled || rd.Labels.Coverage != snap.Labels.Coverage || !rd.Labels.AsOf.Equal(snap.Labels.AsOf) {
			t.Errorf("one pass counted %+v (labels %+v), the snapshot %+v (labels %+v)", rd, rd.Labels, snap, snap.Labels)
		}
		var light activities.Snapshot
		if err := f.execute(f.acts.SnapshotWindow, activities.SnapshotInput{Model: "churn", Window: week, Spec: &m, OnePass: true}, &light); err != nil {
			t.Fatal(err)
		}
		if light.Rows != 0 || light.Labels != nil || light.Days != snap.Days {
			t.Errorf("a one-pass snapshot %+v, want no count and the window's %d days", light, snap.Days)
		}
	})

	t.Run("a retry reuses the chunks, and a rewrite writes the same bytes", func(t *testing.T) {
		sums := f.chunkSums(runID)
		again, err := f.stageOnePass(runID, &m, maxTrain, maxHoldout)
		if err != nil || !again.Reused || again.ManifestSHA256 != rd.ManifestSHA256 || again.Rows != rd.Rows || again.SampleRate != rd.SampleRate {
			t.Fatalf("retry %+v (%v), want the first's manifest and counts reused", again, err)
		}
		if err := f.session.Query(fmt.Sprintf(`DELETE FROM %s.run_data WHERE model = 'churn' AND run_id = ? AND part = 'manifest' AND day = 0`, f.keyspace), runID).Exec(); err != nil {
			t.Fatal(err)
		}
		again, err = f.stageOnePass(runID, &m, maxTrain, maxHoldout)
		if err != nil || again.Reused || again.ManifestSHA256 != rd.ManifestSHA256 {
			t.Fatalf("rewrite %+v (%v), want the first's manifest %s", again, err, rd.ManifestSHA256)
		}
		if got := f.chunkSums(runID); !reflect.DeepEqual(got, sums) {
			t.Errorf("rewritten chunks differ from the first attempt's")
		}
		// Other caps are another sample: not reused.
		other, err := f.stageOnePass(runID, &m, maxTrain-1, maxHoldout)
		if err != nil || other.Reused || other.TrainRows != maxTrain-1 {
			t.Errorf("other caps gave %+v (%v), want a new sample of %d rows", other, err, maxTrain-1)
		}
	})

	t.Run("candidates train and the evaluation scores on the kept rows", func(t *testing.T) {
		rd, err := f.stageOnePass("run-one-pass-eval", &m, maxTrain, maxHoldout)
		if err != nil {
			t.Fatal(err)
		}
		tr := f.trainInput("run-one-pass-eval", "logistic")
		tr.SampleRate, tr.Spec, tr.Data = rd.SampleRate, &m, &rd
		var trained activities.Trained
		if err := f.execute(f.acts.TrainCandidate, tr, &trained); err != nil {
			t.Fatal(err)
		}
		if trained.TrainRows != maxTrain {
			t.Errorf("the candidate trained on %d rows, want %d", trained.TrainRows, maxTrain)
		}
		var ev activities.Evaluation
		if err := f.execute(f.acts.Evaluate, activities.EvaluateInput{Model: "churn", Window: week, Candidates: []string{trained.Version}, Seed: 7, Spec: &m, Data: &rd}, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.HoldoutRows != maxHoldout {
			t.Errorf("evaluated on %d holdout rows, want %d", ev.HoldoutRows, maxHoldout)
		}
	})

	t.Run("a window smaller than the caps is kept whole", func(t *testing.T) {
		rd, err := f.stageOnePass("run-one-pass-all", &m, 1_000_000, 1_000_000)
		if err != nil {
			t.Fatal(err)
		}
		if rd.TrainRows != int64(trainAll) || rd.HoldoutRows != int64(holdAll) || rd.SampleRate != 1 {
			t.Errorf("kept %d and %d rows at rate %v, want all %d and %d", rd.TrainRows, rd.HoldoutRows, rd.SampleRate, trainAll, holdAll)
		} // Another run keeps the same rows, by another seed: it stores them
		// in the same order, so its trainings and metrics agree to the bit.
		other, err := f.stageOnePass("run-one-pass-all-again", &m, 1_000_000, 1_000_000)
		if err != nil {
			t.Fatal(err)
		}
		if activities.SeedOf("run-one-pass-all") == activities.SeedOf("run-one-pass-all-again") {
			t.Fatal("the two runs have the same seed")
		}
		if a, b := f.chunkSums("run-one-pass-all"), f.chunkSums("run-one-pass-all-again"); len(a) == 0 || !slices.Equal(a, b) {
			t.Errorf("two runs that keep every row stored different chunks:\n%v\n%v", a, b)
		}
		if other.ManifestSHA256 == "" || other.TrainRows != rd.TrainRows || other.HoldoutRows != rd.HoldoutRows {
			t.Errorf("the second run kept %d and %d rows, the first %d and %d", other.TrainRows, other.HoldoutRows, rd.TrainRows, rd.HoldoutRows)
		}
	})
}

func TestAOnePassReadRefusesATooSmallWindowAndWritesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 2, 100)
	m := *testenvModel(t, f)
	cases := []struct {
		name string
		edit func(*config.Model)
		want string
	}{
		{"fewer rows than window.min_rows", func(m *config.Model) { m.Window.MinRows = 5000 }, "fewer than window.min_rows 5000"},
		{"a class rarer than window.min_class_rows", func(m *config.Model) { m.Window.MinRows, m.Window.MinClassRows = 10, 150 }, "fewer than window.min_class_rows 150"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mm := m
			tc.edit(&mm)
			runID := fmt.Sprintf("run-refused-%d", i)
			// The snapshot's count refuses with the same words.
			snapErr := f.execute(f.acts.SnapshotWindow, activities.SnapshotInput{Model: "churn", Window: week, Spec: &mm}, nil)
			_, err := f.stageOnePass(runID, &mm, 1000, 1000)
			var app *temporal.ApplicationError
			if !errors.As(err, &app) || app.Type() != activities.ErrTypeInvalidData || !app.NonRetryable() || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("stage: %v, want a non-retryable %s error saying %q", err, activities.ErrTypeInvalidData, tc.want)
			}
			if snapErr == nil || !strings.Contains(snapErr.Error(), tc.want) {
				t.Errorf("the snapshot's count said %v, want %q too", snapErr, tc.want)
			}
			if sums := f.chunkSums(runID); len(sums) != 0 {
				t.Errorf("a refused window left %d rows of run data", len(sums))
			}
		})
	}
}
