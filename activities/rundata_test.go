package activities_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
)

// stage reads a run's window once, as RetrainWorkflow does before training.
func (f *fixture) stage(runID string, m *config.Model, rate float64) activities.RunData {
	f.t.Helper()
	var rd activities.RunData
	in := activities.StageInput{Model: "churn", Window: week, RunID: runID, SampleRate: rate, Spec: m}
	if err := f.execute(f.acts.StageRunData, in, &rd); err != nil {
		f.t.Fatalf("stage the rows of run %s: %v", runID, err)
	}
	return rd
}

// chunkSums is every stored chunk of a run with its SHA-256, in key order.
func (f *fixture) chunkSums(runID string) []string {
	f.t.Helper()
	iter := f.session.Query(fmt.Sprintf(`SELECT part, day, chunk, sha256 FROM %s.run_data WHERE run_id = ? ALLOW FILTERING`, f.keyspace), runID).Iter()
	var (
		part, sum  string
		day, chunk int
		out        []string
	)
	for iter.Scan(&part, &day, &chunk, &sum) {
		out = append(out, fmt.Sprintf("%s/%d/%d %s", part, day, chunk, sum))
	}
	if err := iter.Close(); err != nil {
		f.t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// oldHoldout is the holdout as Evaluate reads it from the source table: the
// holdout rows of each day in clustering order, days in order.
func oldHoldout(t *testing.T, src *dataset.Source) ([][]float64, []int) {
	t.Helper()
	days := make([]struct {
		x [][]float64
		y []int
	}, len(dataset.Days(week.From, week.To)))
	_, err := src.Scan(context.Background(), week, dataset.ScanOptions{}, func(day int, b *dataset.Batch) error {
		for i := range b.X {
			if b.Holdout[i] {
				days[day].x = append(days[day].x, slices.Clone(b.X[i]))
				days[day].y = append(days[day].y, b.Y[i])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var x [][]float64
	var y []int
	for _, d := range days {
		x, y = append(x, d.x...), append(y, d.y...)
	}
	return x, y
}

func TestARunsStoredRowsAreTheRowsItsScansWouldRead(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 7, 700)
	f.acts.ChunkRows = 150 // several chunks a day, and partial last ones
	spec, err := f.acts.Config.Model("churn")
	if err != nil {
		t.Fatal(err)
	}
	m := *spec
	m.Window.OutOfTime = config.Duration(24 * time.Hour)
	const runID, rate = "run-once", 0.6
	rd := f.stage(runID, &m, rate)
	ctx := context.Background()
	src := &dataset.Source{Session: f.session, Keyspace: f.keyspace, Model: &m}

	t.Run("the training sample is the one LoadTrain keeps, row for row", func(t *testing.T) {
		want, st, err := src.LoadTrain(ctx, week, rate, activities.SeedOf(runID))
		if err != nil {
			t.Fatal(err)
		}
		got, err := activities.LoadRunTrain(f.acts, ctx, &m, &rd)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.X) == 0 || !reflect.DeepEqual(got.X, want.X) || !reflect.DeepEqual(got.Y, want.Y) {
			t.Errorf("stored sample of %d rows differs from LoadTrain's %d rows", len(got.X), len(want.X))
		}
		if rd.TrainRows != int64(len(want.X)) || rd.HoldoutRows != st.Holdout {
			t.Errorf("run data counts %d training and %d holdout rows, the scan %d and %d", rd.TrainRows, rd.HoldoutRows, len(want.X), st.Holdout)
		}
	})

	t.Run("the holdout is the one Evaluate scans, row for row", func(t *testing.T) {
		wantX, wantY := oldHoldout(t, src)
		gotX, gotY, err := activities.RunHoldout(f.acts, ctx, &m, &rd)
		if err != nil {
			t.Fatal(err)
		}
		if len(gotX) == 0 || !reflect.DeepEqual(gotX, wantX) || !reflect.DeepEqual(gotY, wantY) {
			t.Errorf("stored holdout of %d rows differs from the scanned %d rows", len(gotX), len(wantX))
		}
	})

	t.Run("candidates and the evaluation decide the same from stored rows as from scans", func(t *testing.T) {
		var trained [2][]activities.Trained
		for i, data := range []*activities.RunData{nil, &rd} {
			for _, cand := range []string{"logistic", "id3"} {
				in := f.trainInput(fmt.Sprintf("%s-%d", runID, i), cand)
				in.RunID = runID // the same sample seed; another version id below
				in.StartedAt = in.StartedAt.Add(time.Duration(i) * time.Minute)
				in.SampleRate, in.Spec, in.Data = rate, &m, data
				var tr activities.Trained
				if err := f.execute(f.acts.TrainCandidate, in, &tr); err != nil {
					t.Fatal(err)
				}
				trained[i] = append(trained[i], tr)
			}
		}
		var evs [2]activities.Evaluation
		for i, data := range []*activities.RunData{nil, &rd} {
			in := activities.EvaluateInput{Model: "churn", Window: week, Candidates: []string{trained[i][0].Version}, Champion: trained[i][1].Version, Seed: 7, Spec: &m, Data: data}
			if err := f.execute(f.acts.Evaluate, in, &evs[i]); err != nil {
				t.Fatal(err)
			}
		}
		for k := range trained[0] {
			if trained[0][k].TrainRows != trained[1][k].TrainRows {
				t.Errorf("candidate %s trained on %d rows scanned, %d stored", trained[0][k].Candidate, trained[0][k].TrainRows, trained[1][k].TrainRows)
			}
		}
		old, now := evs[0], evs[1]
		if old.HoldoutRows != now.HoldoutRows || !reflect.DeepEqual(old.Champion.Metrics, now.Champion.Metrics) ||
			!reflect.DeepEqual(old.Candidates[0].Metrics, now.Candidates[0].Metrics) {
			t.Errorf("scanned evaluation %+v, stored %+v: want the same metrics on the same rows", old, now)
		}
		if !reflect.DeepEqual(old.Candidates[0].Comparisons, now.Candidates[0].Comparisons) {
			t.Errorf("comparisons differ: scanned %+v, stored %+v", old.Candidates[0].Comparisons, now.Candidates[0].Comparisons)
		}
	})
}

func TestARetriedStageReusesOrRewritesTheSameChunks(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3, 500)
	f.acts.ChunkRows = 100
	m := *testenvModel(t, f)
	first := f.stage("run-retry", &m, 0.5)
	sums := f.chunkSums("run-retry")
	if first.Reused || first.Chunks < 6 || len(sums) != first.Chunks+1 {
		t.Fatalf("first stage %+v with %d stored rows, want fresh chunks and a manifest", first, len(sums))
	}

	t.Run("a retry that finds the manifest reuses the chunks", func(t *testing.T) {
		again := f.stage("run-retry", &m, 0.5)
		if !again.Reused || again.ManifestSHA256 != first.ManifestSHA256 {
			t.Errorf("retry %+v, want the first's manifest %s reused", again, first.ManifestSHA256)
		}
	})

	t.Run("a retry after a partial write rewrites the same chunks", func(t *testing.T) {
		// An attempt that died before its manifest, having damaged a chunk.
		for _, q := range []string{
			`DELETE FROM %s.run_data WHERE model = 'churn' AND run_id = 'run-retry' AND part = 'manifest' AND day = 0`,
			`UPDATE %s.run_data SET data = 0x00 WHERE model = 'churn' AND run_id = 'run-retry' AND part = 'train' AND day = 1 AND chunk = 0`,
		} {
			if err := f.session.Query(fmt.Sprintf(q, f.keyspace)).Exec(); err != nil {
				t.Fatal(err)
			}
		}
		again := f.stage("run-retry", &m, 0.5)
		if again.Reused || again.ManifestSHA256 != first.ManifestSHA256 || again.TrainRows != first.TrainRows {
			t.Errorf("retry %+v, want a rewrite to the first's manifest %s", again, first.ManifestSHA256)
		}
		if got := f.chunkSums("run-retry"); !reflect.DeepEqual(got, sums) {
			t.Errorf("rewritten chunks differ from the first attempt's:\n%v\n%v", got, sums)
		}
	})
}

func TestDamagedRunDataIsRefusedWithoutRetries(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3, 400)
	f.acts.ChunkRows = 30
	m := *testenvModel(t, f)
	cand := f.train("run-damaged", "logistic")
	cases := []struct {
		name, query string
		want        string
	}{
		{"a chunk whose bytes no longer match their SHA-256",
			`UPDATE %s.run_data SET data = 0x1f8b WHERE model = 'churn' AND run_id = ? AND part = 'holdout' AND day = 1 AND chunk = 0`, "holdout day 1: chunk 0 sha256"},
		{"a chunk that matches its SHA-256 but does not decode",
			`UPDATE %s.run_data SET data = 0x00, sha256 = '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d' WHERE model = 'churn' AND run_id = ? AND part = 'holdout' AND day = 0 AND chunk = 1`, "holdout day 0 chunk 1"},
		{"a missing chunk",
			`DELETE FROM %s.run_data WHERE model = 'churn' AND run_id = ? AND part = 'holdout' AND day = 2 AND chunk = 0`, "holdout day 2: chunk 0 missing"},
		{"a changed manifest",
			`UPDATE %s.run_data SET data = 0x7b7d, sha256 = '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a' WHERE model = 'churn' AND run_id = ? AND part = 'manifest' AND day = 0 AND chunk = 0`, "manifest sha256"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runID := fmt.Sprintf("run-damaged-%d", i)
			rd := f.stage(runID, &m, 1)
			if err := f.session.Query(fmt.Sprintf(tc.query, f.keyspace), runID).Exec(); err != nil {
				t.Fatal(err)
			}
			in := activities.EvaluateInput{Model: "churn", Window: week, Candidates: []string{cand.Version}, Seed: 1, Spec: &m, Data: &rd}
			err := f.execute(f.acts.Evaluate, in, nil)
			var app *temporal.ApplicationError
			if !errors.As(err, &app) || app.Type() != activities.ErrTypeCorruptRunData || !app.NonRetryable() || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("evaluate: %v, want a non-retryable %s error saying %q", err, activities.ErrTypeCorruptRunData, tc.want)
			}
		})
	}
}

func testenvModel(t *testing.T, f *fixture) *config.Model {
	t.Helper()
	m, err := f.acts.Config.Model("churn")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAStagedHoldoutIsSampledToMaxHoldoutRowsTheSameOnEveryAttempt(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4, 600)
	f.acts.ChunkRows = 100
	m := *testenvModel(t, f)
	ctx := context.Background()
	src := &dataset.Source{Session: f.session, Keyspace: f.keyspace, Model: &m}
	allX, _ := oldHoldout(t, src)
	const runID, holdRate = "run-holdout-cap", 0.4
	stage := func() activities.RunData {
		var rd activities.RunData
		in := activities.StageInput{Model: "churn", Window: week, RunID: runID, SampleRate: 1, HoldoutRate: holdRate, Spec: &m}
		if err := f.execute(f.acts.StageRunData, in, &rd); err != nil {
			t.Fatalf("stage: %v", err)
		}
		return rd
	}
	rd := stage()
	gotX, gotY, err := activities.RunHoldout(f.acts, ctx, &m, &rd)
	if err != nil {
		t.Fatal(err)
	}
	// The kept rows are the holdout rows whose key the run's seed samples,
	// in the order Evaluate would scan them.
	var wantX [][]float64
	days := make([][][]float64, len(dataset.Days(week.From, week.To)))
	_, err = src.Scan(ctx, week, dataset.ScanOptions{}, func(day int, b *dataset.Batch) error {
		for i := range b.X {
			if b.Holdout[i] && dataset.Sampled(b.Keys[i], holdRate, activities.SeedOf(runID)) {
				days[day] = append(days[day], slices.Clone(b.X[i]))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range days {
		wantX = append(wantX, d...)
	}
	keep := len(wantX)
	if !reflect.DeepEqual(gotX, wantX) || len(gotY) != keep || rd.HoldoutRows != int64(keep) {
		t.Errorf("stored holdout of %d rows (run data says %d), want the %d sampled holdout rows in scan order", len(gotX), rd.HoldoutRows, keep)
	}
	if lo, hi := 0.3*float64(len(allX)), 0.5*float64(len(allX)); float64(keep) < lo || float64(keep) > hi {
		t.Errorf("kept %d of %d holdout rows at rate %v", keep, len(allX), holdRate)
	}
	if again := stage(); !again.Reused || again.ManifestSHA256 != rd.ManifestSHA256 || again.HoldoutRows != rd.HoldoutRows {
		t.Errorf("a retry gave %+v, want the first attempt's manifest %s and %d holdout rows reused", again, rd.ManifestSHA256, rd.HoldoutRows)
	}
	var ev activities.Evaluation
	tr := f.trainInput(runID, "logistic")
	tr.SampleRate, tr.Spec, tr.Data = 1, &m, &rd
	var trained activities.Trained
	if err := f.execute(f.acts.TrainCandidate, tr, &trained); err != nil {
		t.Fatal(err)
	}
	if err := f.execute(f.acts.Evaluate, activities.EvaluateInput{Model: "churn", Window: week, Candidates: []string{trained.Version}, Seed: 7, Spec: &m, Data: &rd}, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.HoldoutRows != keep {
		t.Errorf("Evaluate scored %d rows, want the %d kept", ev.HoldoutRows, keep)
	}
}
