package worker_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/worker"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// runningWorker is a worker of the test's config, on a stack of its own so
// that it can be stopped and another started in its place.
type runningWorker struct {
	st      *worker.Stack
	metrics string
	stop    func()
}

func startWorker(ctx context.Context, t *testing.T, cfg *config.Config) *runningWorker {
	t.Helper()
	catcher := addrCatcher{addr: make(chan string, 1)}
	logger := slog.New(catcher)
	st, err := worker.Open(ctx, cfg, logger)
	if err != nil {
		t.Fatalf("open the stack: %v", err)
	}
	wctx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() {
		stopped <- worker.Run(wctx, st, worker.Options{Roles: []string{worker.RoleMain}, StopTimeout: 5 * time.Second, Logger: logger})
	}()
	w := &runningWorker{st: st}
	select {
	case w.metrics = <-catcher.addr:
	case err := <-stopped:
		t.Fatalf("the worker stopped before serving: %v", err)
	}
	var once sync.Once
	w.stop = func() {
		once.Do(func() {
			cancel()
			<-stopped
			st.Close()
		})
	}
	t.Cleanup(w.stop)
	return w
}

// TestProbationsConfirmAndRollBackOnTheRealStack runs two probations through
// the Temporal dev server on Cassandra: the serving endpoint's shadow rows
// are written as it writes them, labels are the source rows' own. One whose
// new champion does as well as the previous one confirms; one whose new
// champion is clearly worse rolls back exactly once (generation + 1, a
// rollback row in the ledger), although its worker is stopped and replaced
// during the period.
func TestProbationsConfirmAndRollBackOnTheRealStack(t *testing.T) {
	s, cass := testenv.Cassandra(t)
	cfg := testConfig(t, cass)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	now := time.Now().UTC()
	m, err := cfg.Model("churn")
	if err != nil {
		t.Fatal(err)
	}
	rows := testenv.LiveRows(t, s, cass.Keyspace, m, now, 1000, 600)
	if len(rows) < 400 {
		t.Fatalf("%d labelled live rows near now, want at least 400", len(rows))
	}

	w := startWorker(ctx, t, cfg)
	reg := w.st.Registry
	save := func(key string) gocql.UUID { return testenv.SaveChurnVersion(t, reg, "churn", key, now) }
	va, vb := save("a"), save("b")
	promote := func(v gocql.UUID, expected *registry.Champion) *registry.Champion {
		t.Helper()
		c, err := reg.Promote(ctx, registry.PromoteRequest{Model: "churn", Version: v, Expected: expected, Action: registry.ActionPromote, By: "e2e", Reason: "probation test"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// shadowRows writes what `kingmaker serve` records while previous is the
	// shadow of champion.
	shadowRows := func(champion *registry.Champion, previous gocql.UUID, newWrong, prevWrong func(i int) bool) {
		t.Helper()
		if err := reg.RecordShadowPredictions(ctx, testenv.ProbationRows(m, rows, champion, previous, newWrong, prevWrong)); err != nil {
			t.Fatal(err)
		}
	}
	probe := config.Probation{
		Period: config.Duration(20 * time.Second), Metric: evaluator.MetricAccuracy, MinLabelledRows: 300, MaxDrop: 0.01,
		SignificanceLevel: 0.05, CheckEvery: config.Duration(5 * time.Second),
	}
	startProbation := func(champion *registry.Champion, previous gocql.UUID) client.WorkflowRun {
		t.Helper()
		run, err := w.st.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: workflows.ProbationID("churn", champion.Generation) + "-" + cass.Keyspace, TaskQueue: cfg.Temporal.TaskQueue,
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.AttrModel.ValueSet("churn")),
		}, workflows.ProbationWorkflowName, workflows.ProbationInput{Model: "churn", Champion: *champion, Previous: previous.String(), Probation: probe})
		if err != nil {
			t.Fatal(err)
		}
		// The shadow pointer is set before the first check.
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			sh, err := reg.Shadow(ctx, "churn")
			if err != nil {
				t.Fatal(err)
			}
			if sh != nil && sh.Version == previous {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the probation did not set %s as shadow (shadow now %+v)", previous, sh)
			}
		}
		return run
	}
	result := func(run client.WorkflowRun) *workflows.ProbationState {
		t.Helper()
		var st workflows.ProbationState
		if err := run.Get(ctx, &st); err != nil {
			t.Fatalf("probation %s: %v", run.GetID(), err)
		}
		return &st
	}

	g1 := promote(va, nil)
	g2 := promote(vb, g1)

	// vb is as good as va: each is wrong on one row in seven, different rows.
	run := startProbation(g2, va)
	shadowRows(g2, va, func(i int) bool { return i%7 == 0 }, func(i int) bool { return i%7 == 1 })
	confirmed := result(run)
	if confirmed.Outcome != evaluator.ProbationConfirmed || confirmed.Evidence == nil || confirmed.Evidence.LabelledRows != len(rows) {
		t.Fatalf("the even probation: outcome %s on %+v, want confirmed on %d labelled rows (reasons %q)", confirmed.Outcome, confirmed.Evidence, len(rows), confirmed.Reasons)
	}
	if c, err := reg.Champion(ctx, "churn"); err != nil || c.Generation != 2 || c.Version != vb {
		t.Fatalf("after a confirmation the champion is %+v (%v), want %s still at generation 2", c, err, vb)
	}

	// va back over vb, then found clearly worse than vb on the live rows: a
	// third of the rows against one in ten.
	g3 := promote(va, g2)
	run = startProbation(g3, vb)
	shadowRows(g3, vb, func(i int) bool { return i%3 == 0 }, func(i int) bool { return i%10 == 0 })
	// The worker goes away mid-period; another takes over the probation.
	w.stop()
	w = startWorker(ctx, t, cfg)
	rolled := result(w.st.Temporal.GetWorkflow(ctx, run.GetID(), run.GetRunID()))
	if rolled.Outcome != evaluator.ProbationRolledBack || rolled.Verdict == nil || rolled.Verdict.PValue >= 0.05 {
		t.Fatalf("the worse probation: outcome %s verdict %+v, want rolled_back on a significant drop (reasons %q)", rolled.Outcome, rolled.Verdict, rolled.Reasons)
	}
	reg = w.st.Registry
	champ, err := reg.Champion(ctx, "churn")
	if err != nil || champ.Generation != 4 || champ.Version != vb || champ.PromotedBy != workflows.ProbationBy {
		t.Fatalf("after the rollback the champion is %+v (%v), want %s at generation 4 by %s", champ, err, vb, workflows.ProbationBy)
	}
	ledger, err := reg.History(ctx, "churn", 10)
	if err != nil {
		t.Fatal(err)
	}
	rollbacks := 0
	for _, p := range ledger {
		if p.Action == registry.ActionRollback {
			rollbacks++
			if p.Generation != 4 || p.PreviousVersion != va || !strings.HasSuffix(p.RequestID, "/rollback") || !strings.Contains(p.Reason, "probation") {
				t.Errorf("rollback row %+v, want generation 4 over %s with the probation's request id", p, va)
			}
		}
	}
	if len(ledger) != 4 || rollbacks != 1 {
		t.Fatalf("the ledger holds %d rows with %d rollbacks, want 4 rows, exactly one rollback: %+v", len(ledger), rollbacks, ledger)
	}
	if sh, err := reg.Shadow(ctx, "churn"); err != nil || sh != nil {
		t.Fatalf("the probation left shadow %+v (%v), want its pointer cleared", sh, err)
	}
	evals, err := reg.Evaluations(ctx, "churn", 10)
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int{}
	for _, e := range evals {
		outcomes[e.Outcome]++
	}
	if outcomes["probation_confirmed"] != 1 || outcomes["probation_rolled_back"] != 1 {
		t.Fatalf("decision records %v, want one probation_confirmed and one probation_rolled_back", outcomes)
	}
	if want := `kingmaker_probation_outcomes_total{model="churn",outcome="rolled_back"} 1`; !strings.Contains(scrape(ctx, t, w.metrics), want) {
		t.Errorf("the worker that ended the probation does not export %s", want)
	}
}
