package worker_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/drift"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/trainer"
	"github.com/kingmaker-ml/kingmaker/worker"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// updateTaskRows rewrites testdata/tasks/*.rows.json, the holdout labels and
// predictions the scikit-learn reference (testdata/tasks/reference.py) is
// computed from. Rerun the script after it.
var updateTaskRows = flag.Bool("update-task-rows", false, "rewrite testdata/tasks/*.rows.json from this run")

// The task data: 20 days of 300 rows for each of two datasets in one table,
// whose label rule changes from day 12.
const (
	taskDays      = 20
	taskRowsDay   = 300
	taskDriftFrom = 12
)

var (
	taskStart = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	// Windows of 7 days ending on the last day before the change, and on the
	// last seeded day (all of it changed).
	taskBefore = taskStart.AddDate(0, 0, taskDriftFrom)
	taskAtEnd  = taskStart.AddDate(0, 0, taskDays)
	grades     = []string{"a", "b", "c", "d", "e"}
)

// writeTaskRows creates table tasks and fills it: dataset "amount" holds a
// numeric label (a double), dataset "grade" one of five classes.
func writeTaskRows(ctx context.Context, t *testing.T, s *gocql.Session, ks string) {
	t.Helper()
	if err := s.Query(fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.tasks (
		dataset text, day date, ts timestamp, id text, x1 double, x2 int, seg text, amount double, grade text,
		PRIMARY KEY ((dataset, day), ts, id))`, ks)).WithContext(ctx).Exec(); err != nil {
		t.Fatalf("create tasks: %v", err)
	}
	insert := fmt.Sprintf(`INSERT INTO %s.tasks (dataset, day, ts, id, x1, x2, seg, amount, grade) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, ks)
	var wg sync.WaitGroup
	errs := make(chan error, taskDays*2)
	for _, ds := range []string{"amount", "grade"} {
		for d := range taskDays {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(d), map[string]uint64{"amount": 1, "grade": 2}[ds]))
				day := taskStart.AddDate(0, 0, d)
				changed := d >= taskDriftFrom
				for i := range taskRowsDay {
					x1, x2 := r.NormFloat64()*2, r.IntN(10)
					seg := []string{"north", "south", "east"}[r.IntN(3)]
					segEffect := map[string]float64{"north": 0, "south": 2, "east": -1}[seg]
					var amount *float64
					var grade *string
					if ds == "amount" {
						v := 20 + 3*x1 - 1.5*float64(x2) + segEffect + r.NormFloat64()
						if changed {
							v = 20 - 4*x1 + 2*float64(x2) - segEffect + r.NormFloat64()
						}
						amount = &v
					} else {
						z := x1 + 0.4*float64(x2-5) + segEffect/2 + 0.6*r.NormFloat64()
						if changed {
							z = -z
						}
						k := min(max(int(math.Floor(z+2.5)), 0), 4)
						grade = &grades[k]
					}
					ts := day.Add(time.Duration(i) * 24 * time.Hour / taskRowsDay)
					id := fmt.Sprintf("%s-%02d-%04d", ds, d, i)
					if err := s.Query(insert, ds, day, ts, id, x1, x2, seg, amount, grade).WithContext(ctx).Exec(); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("write task rows: %v", err)
	}
}

// taskModels are a regression and a five-class model of table tasks.
func taskModels() []config.Model {
	src := func(ds string) config.Source {
		return config.Source{Table: "tasks", PartitionColumn: "dataset", PartitionValue: ds}
	}
	features := []config.Feature{{Name: "x1", Type: "numeric"}, {Name: "x2", Type: "numeric"},
		{Name: "seg", Type: "categorical", Categories: []string{"north", "south", "east"}}}
	common := func(m config.Model) config.Model {
		m.Window = config.Window{Length: config.Duration(7 * config.Day), HoldoutFraction: 0.25, MinRows: 500, MinClassRows: 20}
		m.Policy.SignificanceLevel = 0.05
		m.Policy.MinHoldoutRows = 100
		m.Policy.BootstrapResamples = 300
		m.Drift = config.Drift{Window: config.Duration(2 * config.Day), MinRows: 100}
		m.Schedule.Retrain = config.Trigger{Every: config.Duration(30 * config.Day)}
		return m
	}
	reg := common(config.Model{Name: "amount", Task: config.TaskRegression, Source: src("amount"), Features: features,
		Label: config.Label{Column: "amount"},
		Candidates: []config.Candidate{
			{Algorithm: "linear", Params: map[string]float64{"alpha": 1}},
			{Algorithm: "knn", Params: map[string]float64{"k": 15}},
		}})
	reg.Policy.PrimaryMetric = evaluator.MetricRMSE
	reg.Policy.Guardrails = []evaluator.Guardrail{{Metric: evaluator.MetricMAE, MaxDrop: 0.5}}
	reg.Policy.MinimumValues = []evaluator.Bound{{Metric: evaluator.MetricR2, Value: 0.5}}
	reg.Drift.QualityDrop = 1 // in rmse units
	cls := common(config.Model{Name: "grade", Source: src("grade"), Features: features,
		Label: config.Label{Column: "grade", Classes: grades},
		Candidates: []config.Candidate{
			{Algorithm: "logistic"},
			{Algorithm: "naive_bayes"},
		}})
	cls.Policy.PrimaryMetric = evaluator.MetricLogLoss
	cls.Policy.Guardrails = []evaluator.Guardrail{{Metric: evaluator.MetricROCAUCOVR, MaxDrop: 0.02}}
	cls.Drift.QualityDrop = 0.1 // in log_loss units
	return []config.Model{reg, cls}
}

func TestARegressionAndAFiveClassModelGoThroughRetrainDecisionPromotionDriftServingAndScoring(t *testing.T) {
	s, cass := testenv.Cassandra(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	writeTaskRows(ctx, t, s, cass.Keyspace)

	cfg := testenv.ExampleConfig(t)
	cfg.Models = taskModels()
	cfg.SetDefaults()
	cfg.Cassandra = cass
	cfg.Temporal.HostPort = testenv.TemporalAddr()
	cfg.Temporal.TaskQueue = "kingmaker-test-" + cass.Keyspace
	cfg.Temporal.TrainingTaskQueue = "kingmaker-test-training-" + cass.Keyspace
	cfg.Metrics.Listen = "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the test config is invalid: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError}))
	st, err := worker.Open(ctx, cfg, logger)
	if err != nil {
		t.Fatalf("open the stack: %v", err)
	}
	defer st.Close()
	workerCtx, stopWorker := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() {
		stopped <- worker.Run(workerCtx, st, worker.Options{
			Roles: []string{worker.RoleMain, worker.RoleTraining}, StopTimeout: 10 * time.Second, MaxConcurrentTrainings: 2, Logger: logger,
		})
	}()
	defer func() {
		stopWorker()
		if err := <-stopped; err != nil {
			t.Errorf("worker.Run returned %v after its context was cancelled, want nil", err)
		}
	}()

	for _, tc := range []struct {
		model, task, metric, test string
	}{
		{"amount", config.TaskRegression, evaluator.MetricRMSE, "paired t-test on squared errors one-sided p="},
		{"grade", config.TaskMulticlass, evaluator.MetricLogLoss, "paired bootstrap one-sided p="},
	} {
		t.Run(tc.model, func(t *testing.T) {
			m, err := cfg.Model(tc.model)
			if err != nil {
				t.Fatal(err)
			}
			id := func(n int) string { return fmt.Sprintf("retrain-%s-%s-%d", tc.model, cass.Keyspace, n) }
			first := retrainModel(ctx, t, st.Temporal, cfg, tc.model, id(1), taskBefore)
			if first.Outcome != string(evaluator.OutcomePromote) || first.Champion == nil || first.Champion.Generation != 1 {
				t.Fatalf("the first run: outcome %s, champion %+v; want the first champion (reasons: %q)", first.Outcome, first.Champion, first.Reasons)
			}
			v1, err := st.Registry.GetVersion(ctx, tc.model, first.Champion.Version)
			if err != nil {
				t.Fatal(err)
			}
			var schema trainer.Schema
			if err := json.Unmarshal(v1.Schema, &schema); err != nil {
				t.Fatal(err)
			}
			if got := string(schema.Task); got != tc.task && !(got == "" && trainer.DefaultTask(len(schema.Classes)) == trainer.Task(tc.task)) {
				t.Errorf("the version's schema records task %q, want %s", got, tc.task)
			}

			// The champion was trained before the change: the recent window
			// drifts, in its label and its predictions, and its live quality
			// on the primary metric is far worse than on its holdout.
			doc := checkDrift(ctx, t, st, cfg, tc.model, taskAtEnd)
			// (The features keep their distribution, so the predictions do
			// too; the five classes keep their shares.)
			switch {
			case doc.Drift.Label == nil || doc.Drift.Prediction == nil:
				t.Errorf("the drift report has label %v and prediction %v, want both profiled", doc.Drift.Label != nil, doc.Drift.Prediction != nil)
			case tc.task != config.TaskRegression:
			case doc.Drift.Label.Kind != drift.KindNumeric || doc.Drift.Prediction.Kind != drift.KindNumeric || !doc.Drift.Label.Drifted:
				t.Errorf("a regression model's label is %s (drifted %v) and its prediction %s, want both numeric and the label drifted",
					doc.Drift.Label.Kind, doc.Drift.Label.Drifted, doc.Drift.Prediction.Kind)
			}
			if doc.Quality == nil || doc.Quality.Metric != tc.metric || !doc.Quality.Dropped || doc.Quality.Live == nil || doc.Quality.Holdout == nil {
				t.Errorf("live quality %+v, want a drop on %s", doc.Quality, tc.metric)
			} else if higher, _ := evaluator.Direction(tc.metric); higher || *doc.Quality.Live <= *doc.Quality.Holdout {
				t.Errorf("live %s %v vs holdout %v: want the live loss higher", tc.metric, *doc.Quality.Live, *doc.Quality.Holdout)
			}

			second := retrainModel(ctx, t, st.Temporal, cfg, tc.model, id(2), taskAtEnd)
			if second.Outcome != string(evaluator.OutcomePromote) || second.Champion == nil || second.Champion.Generation != 2 {
				t.Fatalf("the run after the change: outcome %s, champion %+v; want generation 2 (reasons: %q)", second.Outcome, second.Champion, second.Reasons)
			}
			reasons := strings.Join(second.Reasons, "\n")
			t.Logf("after the change:\n  %s", strings.Join(second.Reasons, "\n  "))
			if !strings.Contains(second.Reasons[0], "over champion "+first.Winner) || !strings.Contains(second.Reasons[0], tc.metric) ||
				!strings.Contains(reasons, "(lower is better: improvement = champion - challenger)") || !strings.Contains(reasons, tc.test) {
				t.Errorf("the second run's reasons do not state the comparison on %s by %q: %q", tc.metric, tc.test, second.Reasons)
			}
			champ, err := st.Registry.Champion(ctx, tc.model)
			if err != nil || champ == nil || champ.Version.String() != second.Winner || champ.Generation != 2 {
				t.Fatalf("champion %+v (%v), want %s at generation 2", champ, err, second.Winner)
			}

			// The winner's holdout metrics, as the run recorded them, equal
			// scikit-learn's on the same rows.
			v2, model, err := st.Registry.LoadModel(ctx, tc.model, champ.Version)
			if err != nil {
				t.Fatal(err)
			}
			var recorded evaluator.Metrics
			if err := json.Unmarshal(v2.Metrics, &recorded); err != nil {
				t.Fatal(err)
			}
			rows := holdoutRows(ctx, t, s, cass.Keyspace, m, model, second.Window)
			checkAgainstScikitLearn(t, tc.model, rows, recorded)

			if doc := checkDrift(ctx, t, st, cfg, tc.model, taskAtEnd); doc.Quality == nil || doc.Quality.Dropped {
				t.Errorf("the new champion's live quality %+v: want it checked on %s and not dropped", doc.Quality, tc.metric)
			}

			// The new champion serves (v1 and v2) and batch scores its own
			// predictions: values, or a class and every class's probability.
			checkServedAndScored(ctx, t, st, s, cfg, m, champ)
		})
	}
}

// retrainModel runs RetrainWorkflow for model to its end.
func retrainModel(ctx context.Context, t *testing.T, c client.Client, cfg *config.Config, model, id string, asOf time.Time) *workflows.RetrainResult {
	t.Helper()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: cfg.Temporal.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.AttrModel.ValueSet(model)),
	}, workflows.RetrainWorkflowName, workflows.RetrainInput{Model: model, Reason: workflows.ReasonManual, RequestedBy: "e2e", AsOf: &asOf})
	if err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
	var res workflows.RetrainResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatalf("retrain %s as of %s failed: %v", id, asOf.Format(time.DateOnly), err)
	}
	return &res
}

// checkDrift runs a manual drift check of model and returns its stored
// report.
func checkDrift(ctx context.Context, t *testing.T, st *worker.Stack, cfg *config.Config, model string, asOf time.Time) *activities.DriftDocument {
	t.Helper()
	run, err := st.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: fmt.Sprintf("drift-%s-%s-%d", model, cfg.Cassandra.Keyspace, time.Now().UnixNano()), TaskQueue: cfg.Temporal.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.AttrModel.ValueSet(model)),
	}, workflows.DriftWorkflowName, workflows.DriftInput{Model: model, Reason: workflows.ReasonManual, AsOf: &asOf})
	if err != nil {
		t.Fatalf("start the drift check of %s: %v", model, err)
	}
	var res workflows.DriftResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatalf("the drift check of %s failed: %v", model, err)
	}
	if res.Summary == nil || !res.Summary.HasChampion {
		t.Fatalf("the drift check of %s saw no champion: %+v", model, res)
	}
	reports, err := st.Registry.DriftReports(ctx, model, 1)
	if err != nil || len(reports) == 0 {
		t.Fatalf("drift reports of %s: %v (%d)", model, err, len(reports))
	}
	var doc activities.DriftDocument
	if err := json.Unmarshal(reports[0].Report, &doc); err != nil {
		t.Fatal(err)
	}
	t.Logf("drift of %s: %s", model, strings.Join(doc.Reasons, "; "))
	return &doc
}

// taskRows are a model's holdout labels and predictions: Target and Values
// for regression, Truth, Pred and Proba for a classifier.
type taskRows struct {
	Target []float64   `json:"target,omitempty"`
	Values []float64   `json:"values,omitempty"`
	Truth  []int       `json:"truth,omitempty"`
	Pred   []int       `json:"pred,omitempty"`
	Proba  [][]float64 `json:"proba,omitempty"`
}

// holdoutRows scans the holdout of window w, as the run's evaluation read it,
// and predicts it with model.
func holdoutRows(ctx context.Context, t *testing.T, s *gocql.Session, ks string, m *config.Model, model trainer.Model, w dataset.Window) taskRows {
	t.Helper()
	var mu sync.Mutex
	perDay := make([][]*dataset.Batch, len(dataset.Days(w.From, w.To)))
	src := &dataset.Source{Session: s, Keyspace: ks, Model: m}
	if _, err := src.Scan(ctx, w, dataset.ScanOptions{}, func(day int, b *dataset.Batch) error {
		mu.Lock()
		perDay[day] = append(perDay[day], b)
		mu.Unlock()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var x [][]float64
	var out taskRows
	for _, batches := range perDay {
		for _, b := range batches {
			for i := range b.X {
				if !b.Holdout[i] {
					continue
				}
				x = append(x, b.X[i])
				if b.Target != nil {
					out.Target = append(out.Target, b.Target[i])
				} else {
					out.Truth = append(out.Truth, b.Y[i])
				}
			}
		}
	}
	var err error
	if r, ok := model.(trainer.Regressor); ok && model.Schema().Task == trainer.Regression {
		out.Values, err = r.PredictValues(x)
	} else {
		if out.Pred, _, err = model.Predict(x); err == nil {
			out.Proba, err = model.(trainer.Prober).PredictProba(x)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkAgainstScikitLearn compares the rows with testdata/tasks/MODEL.rows.json
// (the rows the reference was computed from) and the recorded metrics with
// scikit-learn's in testdata/tasks/reference.json.
func checkAgainstScikitLearn(t *testing.T, model string, rows taskRows, recorded evaluator.Metrics) {
	t.Helper()
	path := filepath.Join("testdata", "tasks", model+".rows.json")
	if *updateTaskRows {
		b, _ := json.Marshal(rows)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: run with -update-task-rows, then testdata/tasks/reference.py", err)
	}
	var want taskRows
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	near := func(what string, a, b []float64) {
		if len(a) != len(b) {
			t.Fatalf("%s: %d holdout rows, the reference has %d", what, len(a), len(b))
		}
		for i := range a {
			if math.Abs(a[i]-b[i]) > 1e-9*max(1, math.Abs(b[i])) {
				t.Fatalf("%s of row %d is %v, the reference has %v", what, i, a[i], b[i])
			}
		}
	}
	near("label", rows.Target, want.Target)
	near("prediction", rows.Values, want.Values)
	near("class", ints(rows.Truth), ints(want.Truth))
	near("predicted class", ints(rows.Pred), ints(want.Pred))
	if len(rows.Proba) != len(want.Proba) {
		t.Fatalf("%d probability rows, the reference has %d", len(rows.Proba), len(want.Proba))
	}
	for i := range rows.Proba {
		near(fmt.Sprintf("probabilities of row %d", i), rows.Proba[i], want.Proba[i])
	}

	ref, err := os.ReadFile(filepath.Join("testdata", "tasks", "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]map[string]any
	if err := json.Unmarshal(ref, &all); err != nil {
		t.Fatal(err)
	}
	sk := all[model]
	if len(sk) == 0 {
		t.Fatalf("testdata/tasks/reference.json has no metrics of %s: run testdata/tasks/reference.py", model)
	}
	for name, v := range sk {
		w, _ := v.(float64)
		got, ok := recorded.Value(name)
		if !ok || math.Abs(got-w) > 1e-9*max(1, math.Abs(w)) {
			t.Errorf("%s: recorded %s %v (defined %v), scikit-learn %v", model, name, got, ok, w)
		}
	}
}

func ints(v []int) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
