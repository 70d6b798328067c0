package worker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/worker"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// The demo data: 20 days whose distributions and label rule shift from day 12.
var (
	seedStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	seed      = demo.Spec{Dataset: "churn", Start: seedStart, Days: 20, RowsPerDay: 1000, DriftFrom: 12, Seed: 42}
	// beforeDrift ends a 7-day window on the last undrifted day (day 11).
	beforeDrift = seedStart.AddDate(0, 0, 11)
	// atEnd ends a 7-day window on the last seeded day: all of it drifted.
	atEnd = seedStart.AddDate(0, 0, 20)
)

// addrCatcher is a slog handler that drops every record but remembers the
// address the metrics server says it listens on.
type addrCatcher struct{ addr chan string }

func (h addrCatcher) Enabled(context.Context, slog.Level) bool { return true }
func (h addrCatcher) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h addrCatcher) WithGroup(string) slog.Handler            { return h }
func (h addrCatcher) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "metrics listening" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "addr" {
			select {
			case h.addr <- a.Value.String():
			default:
			}
		}
		return true
	})
	return nil
}

// testConfig is the example config on the test's keyspace, with task queues
// of its own and the metrics endpoint on a free port.
func testConfig(t *testing.T, c config.Cassandra) *config.Config {
	t.Helper()
	cfg := testenv.ExampleConfig(t)
	cfg.Cassandra = c
	cfg.Temporal.HostPort = testenv.TemporalAddr()
	cfg.Temporal.TaskQueue = "kingmaker-test-" + c.Keyspace
	cfg.Temporal.TrainingTaskQueue = "kingmaker-test-training-" + c.Keyspace
	cfg.Metrics.Listen = "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the test config is invalid: %v", err)
	}
	return cfg
}

// retrain runs RetrainWorkflow to its end through the Temporal server.
func retrain(ctx context.Context, t *testing.T, c client.Client, cfg *config.Config, id string, asOf time.Time) (client.WorkflowRun, *workflows.RetrainResult) {
	t.Helper()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: cfg.Temporal.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.AttrModel.ValueSet("churn")),
	}, workflows.RetrainWorkflowName, workflows.RetrainInput{Model: "churn", Reason: workflows.ReasonManual, RequestedBy: "e2e", AsOf: &asOf})
	if err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
	var res workflows.RetrainResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatalf("retrain %s as of %s failed: %v", id, asOf.Format(time.DateOnly), err)
	}
	return run, &res
}

func TestTheRetrainLoopPromotesAChampionThenItsSuccessorAfterDrift(t *testing.T) {
	s, cass := testenv.Cassandra(t)
	cfg := testConfig(t, cass)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := demo.Write(ctx, s, cass.Keyspace, seed, 4, nil); err != nil {
		t.Fatalf("seed: %v", err)
	}

	catcher := addrCatcher{addr: make(chan string, 1)}
	logger := slog.New(catcher)
	st, err := worker.Open(ctx, cfg, logger)
	if err != nil {
		t.Fatalf("open the stack: %v", err)
	}
	defer st.Close()
	workerCtx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	stopped := make(chan error, 1)
	go func() {
		stopped <- worker.Run(workerCtx, st, worker.Options{
			Roles: []string{worker.RoleMain, worker.RoleTraining}, StopTimeout: 10 * time.Second, MaxConcurrentTrainings: 3, Logger: logger,
		})
	}()
	var metricsAddr string
	select {
	case metricsAddr = <-catcher.addr:
	case err := <-stopped:
		t.Fatalf("the worker stopped before serving: %v", err)
	}

	id := func(n int) string { return fmt.Sprintf("retrain-churn-%s-%d", cass.Keyspace, n) }
	run1, first := retrain(ctx, t, st.Temporal, cfg, id(1), beforeDrift)
	if first.Outcome != string(evaluator.OutcomePromote) || first.Champion == nil || first.Champion.Generation != 1 || first.Previous != nil {
		t.Fatalf("the first run: outcome %s, champion %+v; want the first champion (reasons: %q)", first.Outcome, first.Champion, first.Reasons)
	}
	if first.Champion.Version.String() != first.Winner {
		t.Fatalf("the first run's champion %s is not its winner %s", first.Champion.Version, first.Winner)
	}

	run2, second := retrain(ctx, t, st.Temporal, cfg, id(2), atEnd)
	if second.Outcome != string(evaluator.OutcomePromote) || second.Champion == nil || second.Champion.Generation != 2 {
		t.Fatalf("the run after the drift: outcome %s, champion %+v; want generation 2 (reasons: %q)", second.Outcome, second.Champion, second.Reasons)
	}
	if second.Previous == nil || second.Previous.Version != first.Champion.Version {
		t.Errorf("the second run saw champion %+v before it, want %s", second.Previous, first.Champion.Version)
	}
	headline := second.Reasons[0]
	t.Logf("after the drift: %s", strings.Join(second.Reasons, "\n  "))
	if !strings.Contains(headline, "over champion "+first.Winner) || !strings.Contains(headline, "roc_auc") || !strings.Contains(headline, "vs champion") {
		t.Errorf("the second run's headline %q does not state the comparison with the old champion", headline)
	}
	if !strings.Contains(strings.Join(second.Reasons, "\n"), "paired bootstrap one-sided p=") {
		t.Errorf("the second run's reasons do not give the test and p-value: %q", second.Reasons)
	}
	if !second.Window.From.Equal(atEnd.AddDate(0, 0, -7)) || !second.Window.To.Equal(atEnd) || second.HoldoutRows == 0 {
		t.Errorf("the second run's window %s with %d holdout rows, want the last 7 days", second.Window, second.HoldoutRows)
	}

	reg := st.Registry
	t.Run("the champion pointer and the promotion ledger agree", func(t *testing.T) {
		champ, err := reg.Champion(ctx, "churn")
		if err != nil {
			t.Fatal(err)
		}
		if champ == nil || champ.Version.String() != second.Winner || champ.Generation != 2 || champ.RunID != run2.GetRunID() {
			t.Fatalf("champion %+v, want %s at generation 2 by run %s", champ, second.Winner, run2.GetRunID())
		}
		ledger, err := reg.History(ctx, "churn", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(ledger) != 2 {
			t.Fatalf("the ledger holds %d rows, want 2: %+v", len(ledger), ledger)
		}
		top, bottom := ledger[0], ledger[1]
		if top.Generation != 2 || top.Version != champ.Version || top.PreviousVersion != first.Champion.Version || top.Action != registry.ActionPromote {
			t.Errorf("ledger generation 2: %+v, want %s over %s", top, champ.Version, first.Champion.Version)
		}
		if bottom.Generation != 1 || bottom.Version.String() != first.Winner || bottom.PreviousVersion != (gocql.UUID{}) || bottom.RunID != run1.GetRunID() {
			t.Errorf("ledger generation 1: %+v, want %s with no previous", bottom, first.Winner)
		}
	})

	t.Run("every run wrote exactly one version per candidate and one decision record", func(t *testing.T) {
		versions, err := reg.ListVersions(ctx, "churn", 100)
		if err != nil {
			t.Fatal(err)
		}
		perRun := map[string]int{}
		for _, v := range versions {
			perRun[v.RunID]++
			if len(v.Metrics) == 0 {
				t.Errorf("version %s (%s) was never given its holdout metrics", v.ID, v.Candidate)
			}
		}
		if len(versions) != 6 || perRun[run1.GetRunID()] != 3 || perRun[run2.GetRunID()] != 3 {
			t.Errorf("versions per run %v (%d in all), want 3 for each of the two runs", perRun, len(versions))
		}
		evals, err := reg.Evaluations(ctx, "churn", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(evals) != 2 {
			t.Fatalf("%d decision records, want 2", len(evals))
		}
		for _, e := range evals {
			if e.Outcome != string(evaluator.OutcomePromote) || e.HoldoutRows == 0 || len(e.Decision) == 0 {
				t.Errorf("decision record of run %s: outcome %s, %d holdout rows, %d bytes of decision", e.RunID, e.Outcome, e.HoldoutRows, len(e.Decision))
			}
		}
	})

	t.Run("the runs are findable by their search attributes and answer the progress query", func(t *testing.T) {
		desc, err := st.Temporal.DescribeWorkflow(ctx, run2.GetID(), run2.GetRunID())
		if err != nil {
			t.Fatal(err)
		}
		sa := desc.TypedSearchAttributes
		model, _ := sa.GetKeyword(workflows.AttrModel)
		decision, _ := sa.GetKeyword(workflows.AttrDecision)
		champion, _ := sa.GetKeyword(workflows.AttrChampion)
		if model != "churn" || decision != "promote" || champion != second.Winner {
			t.Errorf("search attributes model %q decision %q champion %q, want churn, promote, %s", model, decision, champion, second.Winner)
		}
		v, err := st.Temporal.QueryWorkflow(ctx, run2.GetID(), run2.GetRunID(), workflows.QueryProgress)
		if err != nil {
			t.Fatal(err)
		}
		var p workflows.Progress
		if err := v.Get(&p); err != nil {
			t.Fatal(err)
		}
		if p.Stage != workflows.StageDone || p.Result == nil || p.Result.Outcome != "promote" || len(p.Candidates) != 3 {
			t.Errorf("progress %+v, want done with the result and 3 candidates", p)
		}
	})

	t.Run("the worker's metrics endpoint counts the trainings", func(t *testing.T) {
		body := scrape(ctx, t, metricsAddr)
		for _, algo := range []string{"logistic", "id3", "forest"} {
			want := fmt.Sprintf(`kingmaker_trainings_total{algorithm=%q,model="churn",outcome="ok"} 2`, algo)
			if !strings.Contains(body, want) {
				t.Errorf("the metrics lack %s", want)
			}
		}
		if want := `kingmaker_promotions_total{action="promote",model="churn",outcome="won"} 2`; !strings.Contains(body, want) {
			t.Errorf("the metrics lack %s", want)
		}
	})

	t.Run("rollback restores the first champion as generation 3", func(t *testing.T) {
		back, err := reg.Rollback(ctx, "churn", "e2e", "the new champion misbehaves")
		if err != nil {
			t.Fatal(err)
		}
		if back.Generation != 3 || back.Version != first.Champion.Version {
			t.Fatalf("rollback gave %+v, want %s at generation 3", back, first.Champion.Version)
		}
		champ, err := reg.Champion(ctx, "churn")
		if err != nil || champ.Generation != 3 || champ.Version != first.Champion.Version {
			t.Fatalf("champion after the rollback %+v (%v), want generation 3 of %s", champ, err, first.Champion.Version)
		}
		ledger, err := reg.History(ctx, "churn", 10)
		if err != nil || len(ledger) != 3 || ledger[0].Action != registry.ActionRollback || ledger[0].PreviousVersion.String() != second.Winner {
			t.Fatalf("ledger after the rollback %+v (%v), want a rollback row over %s", ledger, err, second.Winner)
		}
	})

	t.Run("a worse challenger is never promoted", func(t *testing.T) {
		// Only the single binned tree competes now: on the same window it ranks
		// customers far worse than the logistic champion.
		cfg.Models[0].Candidates = []config.Candidate{{Name: "id3", Algorithm: "id3", Params: map[string]float64{"bins": 8}}}
		_, third := retrain(ctx, t, st.Temporal, cfg, id(3), beforeDrift)
		if third.Outcome != string(evaluator.OutcomeKeep) || third.Champion == nil || third.Champion.Generation != 3 || third.Champion.Version != first.Champion.Version {
			t.Fatalf("outcome %s, champion %+v; want keep at generation 3 (reasons %q)", third.Outcome, third.Champion, third.Reasons)
		}
		champ, err := reg.Champion(ctx, "churn")
		if err != nil || champ.Generation != 3 {
			t.Fatalf("the pointer moved: %+v (%v)", champ, err)
		}
	})

	stopWorker()
	if err := <-stopped; err != nil {
		t.Errorf("worker.Run returned %v after its context was cancelled, want nil", err)
	}
	if _, err := http.Get("http://" + metricsAddr + "/metrics"); err == nil {
		t.Errorf("the metrics endpoint still answers after the worker stopped")
	}
}

func scrape(ctx context.Context, t *testing.T, addr string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: status %d, %v", addr, resp.StatusCode, err)
	}
	return string(b)
}
