package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
)

// seedStart is the first day of the demo data the tests write.
var seedStart = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)

// week is the window over the seeded days.
var week = dataset.Window{From: seedStart, To: seedStart.AddDate(0, 0, 7)}

// fixture is the example config's churn model on a fresh keyspace of the
// real Cassandra, with the activities over it.
type fixture struct {
	t        *testing.T
	session  *gocql.Session
	keyspace string
	acts     *activities.Activities
	reg      *registry.Registry
}

func newFixture(t *testing.T, seedDays, rowsPerDay int) *fixture {
	t.Helper()
	s, c := testenv.Cassandra(t)
	cfg := testenv.ExampleConfig(t)
	cfg.Cassandra = c
	reg := registry.New(s, c.Keyspace, cql.Serial(c))
	f := &fixture{t: t, session: s, keyspace: c.Keyspace, reg: reg,
		acts: &activities.Activities{Config: cfg, Session: s, Registry: reg}}
	if seedDays > 0 {
		spec := demo.Spec{Dataset: "churn", Start: seedStart, Days: seedDays, RowsPerDay: rowsPerDay, Seed: 3}
		if err := demo.Write(context.Background(), s, c.Keyspace, spec, 4, nil); err != nil {
			t.Fatalf("seed the demo data: %v", err)
		}
	}
	return f
}

// execute runs one activity in the SDK's activity test environment, which
// gives it an activity context (heartbeats, info), and decodes its result.
func (f *fixture) execute(fn any, in any, out any) error {
	f.t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(f.acts)
	v, err := env.ExecuteActivity(fn, in)
	if err != nil {
		return err
	}
	if out != nil {
		if err := v.Get(out); err != nil {
			f.t.Fatalf("decode the activity's result: %v", err)
		}
	}
	return nil
}

// train trains one candidate of a run and returns what it made.
func (f *fixture) train(runID, candidate string) activities.Trained {
	f.t.Helper()
	var tr activities.Trained
	if err := f.execute(f.acts.TrainCandidate, f.trainInput(runID, candidate), &tr); err != nil {
		f.t.Fatalf("train %s of run %s: %v", candidate, runID, err)
	}
	return tr
}

func (f *fixture) trainInput(runID, candidate string) activities.TrainInput {
	return activities.TrainInput{
		Model: "churn", Candidate: candidate, Window: week, WorkflowID: "retrain-churn-" + runID, RunID: runID,
		StartedAt: week.To.Add(time.Hour), SampleRate: 1,
	}
}

func (f *fixture) versions() []*registry.Version {
	f.t.Helper()
	vs, err := f.reg.ListVersions(context.Background(), "churn", 100)
	if err != nil {
		f.t.Fatal(err)
	}
	return vs
}

func TestTrainCandidateWritesOneVersionAndARetryReusesIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 7, 400)
	first := f.train("run-a", "logistic")
	if first.Reused || first.Version == "" || first.TrainRows == 0 || first.Algorithm != "logistic" {
		t.Fatalf("the first attempt gave %+v, want a new logistic version trained on rows", first)
	}
	if n := len(f.versions()); n != 1 {
		t.Fatalf("%d versions after one training, want 1", n)
	}
	v, err := f.reg.GetVersion(context.Background(), "churn", mustParse(t, first.Version))
	if err != nil {
		t.Fatal(err)
	}
	if v.TrainRows != first.TrainRows || v.HoldoutRows == 0 || !v.WindowTo.Equal(week.To) || v.RunID != "run-a" || v.ArtifactSize == 0 {
		t.Errorf("stored version %+v does not describe the training (%+v)", v, first)
	}
	if _, err := f.reg.LoadArtifact(context.Background(), v); err != nil {
		t.Errorf("the stored artifact does not load: %v", err)
	}

	retry := f.train("run-a", "logistic")
	if !retry.Reused || retry.Version != first.Version || retry.TrainRows != first.TrainRows {
		t.Fatalf("the retry gave %+v, want the first attempt's version %s reused", retry, first.Version)
	}
	if n := len(f.versions()); n != 1 {
		t.Fatalf("%d versions after a retry, want still 1", n)
	}

	other := f.train("run-b", "logistic")
	if other.Reused || other.Version == first.Version {
		t.Fatalf("another run's training gave %+v, want a new version", other)
	}
	if n := len(f.versions()); n != 2 {
		t.Fatalf("%d versions after another run, want 2", n)
	}

	err = f.execute(f.acts.TrainCandidate, f.trainInput("run-a", "xgboost"), nil)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != activities.ErrTypeInvalidSpec || !app.NonRetryable() || !strings.Contains(err.Error(), `no candidate "xgboost"`) {
		t.Fatalf("training a candidate the config lacks: %v, want a non-retryable InvalidSpec naming it", err)
	}
}

func TestTrainCandidateUsesTheSpecTheRunRecorded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 7, 400)
	// The run recorded a spec whose candidates the worker's config does not
	// have (the config changed, or this worker's config differs): the
	// activity trains what the run recorded.
	recorded := *testenv.ExampleModel(t, "churn")
	recorded.Candidates = []config.Candidate{{Name: "nb_recorded", Algorithm: "naive_bayes"}}
	in := f.trainInput("run-r", "nb_recorded")
	in.Spec = &recorded
	var got activities.Trained
	if err := f.execute(f.acts.TrainCandidate, in, &got); err != nil {
		t.Fatalf("training the recorded candidate: %v", err)
	}
	if got.Algorithm != "naive_bayes" || got.Version == "" {
		t.Fatalf("trained %+v, want the recorded naive_bayes candidate", got)
	}
	in.Spec = nil // an input from before specs were passed: the worker's config decides
	if err := f.execute(f.acts.TrainCandidate, in, nil); err == nil || !strings.Contains(err.Error(), `no candidate "nb_recorded"`) {
		t.Fatalf("without a recorded spec: %v, want the worker's config to lack the candidate", err)
	}
	other := recorded
	other.Name = "fraud"
	in.Spec = &other
	if err := f.execute(f.acts.TrainCandidate, in, nil); err == nil || !strings.Contains(err.Error(), `recorded spec is of model "fraud"`) {
		t.Fatalf("a spec of another model: %v, want it refused", err)
	}
}

func TestEvaluateScoresEveryModelOnTheSameHoldout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 7, 400)
	champion := f.train("run-champion", "logistic")
	a := f.train("run-new", "logistic")
	b := f.train("run-new", "id3")
	in := activities.EvaluateInput{Model: "churn", Window: week, Champion: champion.Version, Candidates: []string{a.Version, b.Version}, Seed: 1}

	t.Run("the champion and the candidates are scored on the same rows", func(t *testing.T) {
		var ev activities.Evaluation
		if err := f.execute(f.acts.Evaluate, in, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.HoldoutRows == 0 || ev.ChampionProblem != "" {
			t.Fatalf("evaluation %+v, want holdout rows and no champion problem", ev)
		}
		if ev.Champion == nil || ev.Champion.Version != champion.Version || ev.Champion.Metrics.Rows != ev.HoldoutRows {
			t.Fatalf("champion %+v, want %s scored on %d rows", ev.Champion, champion.Version, ev.HoldoutRows)
		}
		if len(ev.Candidates) != 2 {
			t.Fatalf("%d candidates scored, want 2", len(ev.Candidates))
		}
		for _, c := range ev.Candidates {
			if c.Metrics.Rows != ev.HoldoutRows {
				t.Errorf("candidate %s scored on %d rows, the champion on %d: not a paired comparison", c.Version, c.Metrics.Rows, ev.HoldoutRows)
			}
			if len(c.Comparisons) == 0 {
				t.Errorf("candidate %s has no comparison with the champion", c.Version)
			}
			for _, cmp := range c.Comparisons {
				if cmp.Rows != ev.HoldoutRows {
					t.Errorf("candidate %s: %s compared on %d rows, want %d", c.Version, cmp.Metric, cmp.Rows, ev.HoldoutRows)
				}
			}
			stored := storedMetrics(t, f, c.Version)
			if stored.Rows != ev.HoldoutRows || stored.Accuracy != c.Metrics.Accuracy {
				t.Errorf("candidate %s: stored metrics %+v, want the evaluation's (%d rows, accuracy %v)", c.Version, stored, ev.HoldoutRows, c.Metrics.Accuracy)
			}
		}
		// The same holdout each time: a second evaluation agrees exactly.
		var again activities.Evaluation
		if err := f.execute(f.acts.Evaluate, in, &again); err != nil {
			t.Fatal(err)
		}
		if again.HoldoutRows != ev.HoldoutRows || again.Champion.Metrics.Accuracy != ev.Champion.Metrics.Accuracy {
			t.Errorf("a second evaluation scored %d rows (champion accuracy %v), the first %d (%v)",
				again.HoldoutRows, again.Champion.Metrics.Accuracy, ev.HoldoutRows, ev.Champion.Metrics.Accuracy)
		}
	})

	t.Run("a tampered champion artifact stops the evaluation: nothing is promoted over it", func(t *testing.T) {
		err := f.session.Query(fmt.Sprintf(`UPDATE %s.model_artifacts SET data = ? WHERE model = ? AND version = ? AND chunk = 0`, f.keyspace),
			[]byte("not the bytes that were trained"), "churn", mustParse(t, champion.Version)).Exec()
		if err != nil {
			t.Fatal(err)
		}
		var ev activities.Evaluation
		err = f.execute(f.acts.Evaluate, in, &ev)
		var app *temporal.ApplicationError
		if !errors.As(err, &app) || app.Type() != activities.ErrTypeCorruptArtifact || !app.NonRetryable() {
			t.Fatalf("evaluate with a tampered champion: %v, want a non-retryable CorruptArtifact error", err)
		}
		if msg := err.Error(); !strings.Contains(msg, champion.Version) || !strings.Contains(msg, "kingmaker rollback churn") {
			t.Fatalf("the error should name the champion and the way out: %q", msg)
		}
	})

	t.Run("a tampered candidate artifact fails the evaluation without retries", func(t *testing.T) {
		err := f.session.Query(fmt.Sprintf(`UPDATE %s.model_artifacts SET data = ? WHERE model = ? AND version = ? AND chunk = 0`, f.keyspace),
			[]byte("garbage"), "churn", mustParse(t, b.Version)).Exec()
		if err != nil {
			t.Fatal(err)
		}
		err = f.execute(f.acts.Evaluate, in, nil)
		var app *temporal.ApplicationError
		if !errors.As(err, &app) || app.Type() != activities.ErrTypeCorruptArtifact || !app.NonRetryable() || !strings.Contains(err.Error(), b.Version) {
			t.Fatalf("error %v, want a non-retryable CorruptArtifact naming %s", err, b.Version)
		}
	})
}

// evaluateWithin runs Evaluate the way RetrainWorkflow does, but with a
// heartbeat timeout of 3 seconds (instead of 2 minutes) and no retries, so an
// evaluation that stops heartbeating for longer fails.
func evaluateWithin(ctx workflow.Context, in activities.EvaluateInput) (*activities.Evaluation, error) {
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute, HeartbeatTimeout: 3 * time.Second, RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	var ev activities.Evaluation
	err := workflow.ExecuteActivity(ctx, a.Evaluate, in).Get(ctx, &ev)
	return &ev, err
}

func TestEvaluateKeepsHeartbeatingWhileItCompares(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 7, 400)
	// The comparisons after the scan have no page to heartbeat on. 300k
	// bootstrap resamples of a holdout of 700 rows are as much work as the
	// default 1000 on 210k rows: several seconds (on 2 cores), longer than
	// the heartbeat timeout.
	f.acts.Config.Models[0].Policy.BootstrapResamples = 300_000
	champion := f.train("run-champion", "logistic")
	var candidates []string
	for _, name := range []string{"logistic", "id3", "forest"} {
		candidates = append(candidates, f.train("run-new", name).Version)
	}

	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetTestTimeout(5 * time.Minute) // a bound on a hang, not an assertion on speed
	env.RegisterActivity(f.acts)
	env.RegisterWorkflow(evaluateWithin)
	env.ExecuteWorkflow(evaluateWithin, activities.EvaluateInput{Model: "churn", Window: week, Champion: champion.Version, Candidates: candidates, Seed: 1})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("evaluate with a heartbeat timeout of 3s: %v", err)
	}
	var ev activities.Evaluation
	if err := env.GetWorkflowResult(&ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Candidates) != 3 || ev.Champion == nil {
		t.Fatalf("evaluation %+v, want the champion and 3 candidates", ev)
	}
	for _, c := range ev.Candidates {
		if len(c.Comparisons) == 0 || c.Comparisons[0].Resamples < 270_000 {
			t.Errorf("candidate %s: comparisons %+v, want them on 300000 resamples", c.Version, c.Comparisons)
		}
	}
	t.Logf("evaluated in %.1fs", ev.Seconds)
}

func TestPromoteMovesThePointerByCompareAndSetAndRecordWritesOneRow(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0, 0)
	ctx := context.Background()
	save := func(key string) string {
		t.Helper()
		v := &registry.Version{Model: "churn", ID: registry.VersionID(week.To, key), Candidate: "logistic", Algorithm: "logistic", RunID: key,
			WindowFrom: week.From, WindowTo: week.To, Metrics: []byte(`{"rows":700}`)}
		if err := f.reg.SaveVersion(ctx, v, []byte("artifact "+key)); err != nil {
			t.Fatal(err)
		}
		return v.ID.String()
	}
	a, b := save("run-a"), save("run-b")
	var gen1, gen2 *registry.Champion
	promote := func(version string, expected **registry.Champion, runID string) (activities.PromoteResult, error) {
		t.Helper()
		in := activities.PromoteInput{Model: "churn", Version: version, Action: registry.ActionPromote, By: "kingmaker:" + runID, Reason: "test", RunID: runID}
		if expected != nil {
			in.Expected = *expected
		}
		var res activities.PromoteResult
		err := f.execute(f.acts.Promote, in, &res)
		return res, err
	}
	steps := []struct {
		name     string
		version  string
		expected **registry.Champion
		runID    string
		gen      int64  // the generation the pointer shows after the step
		lostTo   string // the version a lost race names, "" when won
	}{
		{"the first promotion inserts generation 1", a, nil, "run-a", 1, ""},
		{"a second first promotion loses to it", b, nil, "run-b", 1, a},
		{"a promotion from generation 1 makes generation 2", b, &gen1, "run-b", 2, ""},
		{"a retry of that promotion finds it done", b, &gen1, "run-b", 2, ""},
		{"a stale promotion from generation 1 loses to generation 2", a, &gen1, "run-c", 2, b},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			res, err := promote(st.version, st.expected, st.runID)
			if err != nil {
				t.Fatalf("promote: %v, want a result (a lost race is not an error)", err)
			}
			if st.lostTo != "" {
				if !res.Lost || res.LostTo == nil || res.LostTo.Version.String() != st.lostTo || !strings.Contains(res.Message, "changed concurrently") {
					t.Fatalf("result %+v, want lost to %s", res, st.lostTo)
				}
			} else if res.Lost || res.Champion == nil || res.Champion.Version.String() != st.version || res.Champion.Generation != st.gen {
				t.Fatalf("result %+v, want %s at generation %d", res, st.version, st.gen)
			}
			now, err := f.reg.Champion(ctx, "churn")
			if err != nil || now == nil || now.Generation != st.gen {
				t.Fatalf("the pointer shows %+v (%v), want generation %d", now, err, st.gen)
			}
			switch now.Generation {
			case 1:
				gen1 = now
			case 2:
				gen2 = now
			}
		})
	}
	if ledger, err := f.reg.History(ctx, "churn", 10); err != nil || len(ledger) != 2 {
		t.Errorf("the ledger holds %d rows (%v), want 2: the retry and the lost races add none", len(ledger), err)
	}

	t.Run("a version that does not exist is not retried", func(t *testing.T) {
		_, err := promote(registry.VersionID(week.To, "nowhere").String(), &gen2, "run-d")
		var app *temporal.ApplicationError
		if !errors.As(err, &app) || app.Type() != activities.ErrTypeInvalidSpec || !app.NonRetryable() {
			t.Fatalf("error %v, want a non-retryable InvalidSpec", err)
		}
	})

	t.Run("record writes one decision row, and a retry overwrites it", func(t *testing.T) {
		in := activities.RecordInput{Model: "churn", RunID: "run-b", WorkflowID: "retrain-churn-b", StartedAt: week.To, Reason: "manual",
			Outcome: "promote", Winner: b, Champion: gen2, Window: week, TrainRows: 2100, HoldoutRows: 700, Decision: []byte(`{"reason":"manual"}`)}
		for range 2 {
			if err := f.execute(f.acts.Record, in, nil); err != nil {
				t.Fatal(err)
			}
		}
		evals, err := f.reg.Evaluations(ctx, "churn", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(evals) != 1 {
			t.Fatalf("%d decision rows after a retried record, want 1", len(evals))
		}
		e := evals[0]
		if e.Outcome != "promote" || e.Winner.String() != b || e.Generation != 2 || e.HoldoutRows != 700 || !e.WindowTo.Equal(week.To) {
			t.Errorf("decision row %+v does not hold what was recorded", e)
		}
	})
}

func storedMetrics(t *testing.T, f *fixture, version string) evaluator.Metrics {
	t.Helper()
	v, err := f.reg.GetVersion(context.Background(), "churn", mustParse(t, version))
	if err != nil {
		t.Fatal(err)
	}
	var m evaluator.Metrics
	if len(v.Metrics) == 0 {
		t.Fatalf("version %s has no stored metrics", version)
	}
	if err := json.Unmarshal(v.Metrics, &m); err != nil {
		t.Fatalf("version %s: stored metrics %s: %v", version, v.Metrics, err)
	}
	return m
}

func TestSnapshotWindow(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 7, 400)
	cases := []struct {
		name   string
		window dataset.Window
		rows   int64
		want   string // the error's message, "" for none
	}{
		{"a seeded week is counted by class", week, 7 * 400, ""},
		{"an empty window is refused, naming window.min_rows", dataset.Window{From: seedStart.AddDate(-1, 0, 0), To: seedStart.AddDate(-1, 0, 7)}, 0, "window.min_rows"},
		{"two seeded days are too few rows", dataset.Window{From: seedStart, To: seedStart.AddDate(0, 0, 2)}, 0, "fewer than window.min_rows 1000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var snap activities.Snapshot
			err := f.execute(f.acts.SnapshotWindow, activities.SnapshotInput{Model: "churn", Window: tc.window}, &snap)
			if tc.want != "" {
				var app *temporal.ApplicationError
				if !errors.As(err, &app) || app.Type() != activities.ErrTypeInvalidData || !app.NonRetryable() || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want a non-retryable %s error saying %q", err, activities.ErrTypeInvalidData, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if snap.Rows != tc.rows || len(snap.ByClass) != 2 || snap.ByClass[0]+snap.ByClass[1] != tc.rows || snap.Days != 7 || snap.Champion != nil {
				t.Errorf("snapshot %+v, want %d rows over 7 days split by class, no champion", snap, tc.rows)
			}
		})
	}
}

func mustParse(t *testing.T, s string) gocql.UUID {
	t.Helper()
	u, err := gocql.ParseUUID(s)
	if err != nil {
		t.Fatalf("%q is not a version id: %v", s, err)
	}
	return u
}
