package chaos

import (
	"context"
	"testing"
	"time"

	"github.com/gocql/gocql"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// TestWorkersKilledDuringProbationsChangeNeitherOutcome runs two probations
// on a worker process killed with SIGKILL while they watch, and the worker
// that replaced it killed again once the period is over (while the
// evidence is read or the rollback made, when the poll catches it): the
// even probation still confirms, the worse one still rolls back exactly
// once, and each writes one decision record.
func TestWorkersKilledDuringProbationsChangeNeitherOutcome(t *testing.T) {
	integration(t)
	t.Parallel()
	models := []string{"churn", "churn_b"}
	d := newDeployment(t, sharedNode, copiesOfChurn(models))
	// Each kill can cost a killed activity's whole timeout before its retry
	// (a minute for CheckProbation, two for ProbationEvidence's heartbeat).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	now := time.Now().UTC()
	m, err := d.cfg.Model("churn")
	if err != nil {
		t.Fatal(err)
	}
	rows := testenv.LiveRows(t, d.session, d.keyspace(), m, now, 500, 300)

	// The shadow rows below must be written within the period: the wait for
	// each shadow pointer may take up to 30 s on a loaded machine.
	probe := config.Probation{Period: config.Duration(60 * time.Second), Metric: evaluator.MetricAccuracy, MinLabelledRows: 200,
		SignificanceLevel: 0.05, CheckEvery: config.Duration(5 * time.Second)}
	type probation struct {
		model    string
		new, old gocql.UUID
		champion *registry.Champion
		run      client.WorkflowRun
		// newWrong and oldWrong say on which rows each version errs.
		newWrong, oldWrong func(i int) bool
		want               string
	}
	ps := []*probation{
		{model: "churn", newWrong: func(i int) bool { return i%7 == 0 }, oldWrong: func(i int) bool { return i%7 == 1 }, want: evaluator.ProbationConfirmed},
		{model: "churn_b", newWrong: func(i int) bool { return i%3 == 0 }, oldWrong: func(i int) bool { return i%10 == 0 }, want: evaluator.ProbationRolledBack},
	}
	w := d.mustStartWorker()
	for _, p := range ps {
		p.old, p.new = testenv.SaveChurnVersion(t, d.reg, p.model, "old", now), testenv.SaveChurnVersion(t, d.reg, p.model, "new", now)
		first, err := d.reg.Promote(ctx, registry.PromoteRequest{Model: p.model, Version: p.old, Action: registry.ActionPromote, By: "chaos", Reason: "first"})
		if err != nil {
			t.Fatal(err)
		}
		if p.champion, err = d.reg.Promote(ctx, registry.PromoteRequest{Model: p.model, Version: p.new, Expected: first, Action: registry.ActionPromote, By: "chaos", Reason: "second"}); err != nil {
			t.Fatal(err)
		}
		p.run, err = d.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: workflows.ProbationID(p.model, p.champion.Generation) + "-" + d.keyspace(), TaskQueue: d.cfg.Temporal.TaskQueue,
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.AttrModel.ValueSet(p.model)),
		}, workflows.ProbationWorkflowName, workflows.ProbationInput{Model: p.model, Champion: *p.champion, Previous: p.old.String(), Probation: probe})
		if err != nil {
			t.Fatal(err)
		}
		d.mu.Lock()
		d.runs = append(d.runs, p.run)
		d.mu.Unlock()
	}
	for _, p := range ps {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			sh, err := d.reg.Shadow(ctx, p.model)
			if err != nil {
				t.Fatal(err)
			}
			if sh != nil && sh.Version == p.old {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("probation of %s did not set its shadow (now %+v)", p.model, sh)
			}
		}
		out := testenv.ProbationRows(m, rows, p.champion, p.old, p.newWrong, p.oldWrong)
		if err := d.reg.RecordShadowPredictions(ctx, out); err != nil {
			t.Fatal(err)
		}
	}

	// First kill: while both watch.
	w.kill()
	t.Logf("worker killed while the probations watched")
	w = d.mustStartWorker()
	// Second kill: when the rollback's end-of-period work shows pending.
	rb := ps[1]
	for caught := false; !caught; time.Sleep(20 * time.Millisecond) {
		status, pending, err := d.describe(ctx, rb.run)
		if err != nil {
			t.Fatal(err)
		}
		if status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			t.Logf("the second kill missed the end of the period (%s)", status)
			break
		}
		for _, pa := range pending {
			switch name := pa.GetActivityType().GetName(); name {
			case "ProbationEvidence", "Promote", "ClearShadow", "RecordProbation":
				w.kill()
				t.Logf("worker killed while %s was pending", name)
				w = d.mustStartWorker()
				caught = true
			}
		}
	}

	for _, p := range ps {
		var st workflows.ProbationState
		if err := p.run.Get(ctx, &st); err != nil {
			t.Fatalf("probation of %s: %v", p.model, err)
		}
		if st.Outcome != p.want {
			t.Fatalf("probation of %s ended %s, want %s (reasons %q)", p.model, st.Outcome, p.want, st.Reasons)
		}
		champ, ledger, err := checkPointerAndLedger(ctx, d.reg, p.model)
		if err != nil {
			t.Fatal(err)
		}
		rollbacks := 0
		for _, l := range ledger {
			if l.Action == registry.ActionRollback {
				rollbacks++
			}
		}
		switch p.want {
		case evaluator.ProbationRolledBack:
			if champ.Generation != p.champion.Generation+1 || champ.Version != p.old || len(ledger) != 3 || rollbacks != 1 {
				t.Errorf("%s after its rollback: champion %+v, %d ledger rows with %d rollbacks; want %s at generation %d, exactly one rollback",
					p.model, champ, len(ledger), rollbacks, p.old, p.champion.Generation+1)
			}
		default:
			if champ.Generation != p.champion.Generation || champ.Version != p.new || rollbacks != 0 {
				t.Errorf("%s after its confirmation: champion %+v with %d rollbacks, want %s still at generation %d", p.model, champ, rollbacks, p.new, p.champion.Generation)
			}
		}
		evals, err := d.reg.Evaluations(ctx, p.model, 10)
		if err != nil {
			t.Fatal(err)
		}
		records := 0
		for _, e := range evals {
			if e.Outcome == "probation_"+p.want {
				records++
			}
		}
		if records != 1 || len(evals) != 1 {
			t.Errorf("%s has %d decision records (%d of the outcome), want exactly one probation_%s", p.model, len(evals), records, p.want)
		}
		if sh, err := d.reg.Shadow(ctx, p.model); err != nil || sh != nil {
			t.Errorf("%s kept shadow %+v (%v), want the probation's pointer cleared", p.model, sh, err)
		}
	}
}
