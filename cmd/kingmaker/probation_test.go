package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

func TestProbationShowsTheRunningOneWithItsEstimateThenTheLastOutcome(t *testing.T) {
	s, c := testenv.Cassandra(t)
	useCassandra(t, c)
	ctx := context.Background()
	reg := registry.New(s, c.Keyspace, cql.Serial(c))
	cfg, err := config.Load(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	m, err := cfg.Model("churn")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	live := testenv.LiveRows(t, s, c.Keyspace, m, now, 500, 300)
	cli := func(args ...string) invocation {
		t.Helper()
		got := kingmaker(t, append([]string{"--config", exampleConfig, "probation"}, args...)...)
		if got.code != 0 {
			t.Fatalf("kingmaker probation %v: exit %d: %s", args, got.code, got.stderr)
		}
		return got
	}
	if got := cli("churn"); !strings.Contains(got.stdout, "model churn has had no probation") {
		t.Fatalf("before any probation: %q", got.stdout)
	}

	save := func(key string) gocql.UUID { return testenv.SaveChurnVersion(t, reg, "churn", key, now) }
	va, vb := save("a"), save("b")
	g1, err := reg.Promote(ctx, registry.PromoteRequest{Model: "churn", Version: va, Action: registry.ActionPromote, By: "test", Reason: "first"})
	if err != nil {
		t.Fatal(err)
	}
	g2, err := reg.Promote(ctx, registry.PromoteRequest{Model: "churn", Version: vb, Expected: g1, Action: registry.ActionPromote, By: "test", Reason: "second"})
	if err != nil {
		t.Fatal(err)
	}
	id := workflows.ProbationID("churn", g2.Generation)
	since := now.Add(-time.Minute)
	if err := reg.SetShadow(ctx, registry.Shadow{Model: "churn", Version: va, Since: since, Until: since.Add(24 * time.Hour), StartedBy: id, Reason: "probation"}); err != nil {
		t.Fatal(err)
	}
	// What `kingmaker serve` records meanwhile: the new champion wrong on
	// one labelled row in three, the previous one on one in ten.
	rows := testenv.ProbationRows(m, live, g2, va, func(i int) bool { return i%3 == 0 }, func(i int) bool { return i%10 == 0 })
	if err := reg.RecordShadowPredictions(ctx, rows); err != nil {
		t.Fatal(err)
	}

	var running probationView
	if err := json.Unmarshal([]byte(cli("churn", "-o", "json").stdout), &running); err != nil {
		t.Fatal(err)
	}
	if running.State != workflows.ProbationWatching || running.WorkflowID != id || running.Evidence == nil || running.Evidence.LabelledRows != len(rows) ||
		running.Estimate == nil || running.Estimate.Outcome != evaluator.ProbationRolledBack {
		t.Fatalf("the running probation: %+v, want watching on %d labelled rows with a roll back estimate", running, len(rows))
	}
	human := cli("churn").stdout
	for _, want := range []string{"version " + vb.String() + " is on probation against " + va.String(), fmt.Sprintf("%d labelled", len(rows)), "estimate now", "rolled_back"} {
		if !strings.Contains(human, want) {
			t.Errorf("the table lacks %q:\n%s", want, human)
		}
	}

	// Ended: the pointer cleared and the decision recorded.
	if _, err := reg.ClearShadow(ctx, registry.ShadowClear{Model: "churn", StartedBy: id, By: id, Reason: "ended"}); err != nil {
		t.Fatal(err)
	}
	st := workflows.ProbationState{Model: "churn", Version: vb.String(), Previous: va.String(), Generation: g2.Generation, State: evaluator.ProbationConfirmed,
		Outcome: evaluator.ProbationConfirmed, Since: since, Until: since.Add(24 * time.Hour), Reasons: []string{"within policy.probation.max_drop 0.01: confirmed"}}
	doc, _ := json.Marshal(st)
	acts := &activities.Activities{Config: cfg, Session: s, Registry: reg}
	if err := acts.RecordProbation(ctx, activities.RecordProbationInput{Model: "churn", RunID: "run-p", WorkflowID: id, StartedAt: since,
		Outcome: evaluator.ProbationConfirmed, Kept: vb.String(), Champion: g2, Decision: doc}); err != nil {
		t.Fatal(err)
	}
	ended := cli("churn").stdout
	if !strings.Contains(ended, "ended confirmed") || !strings.Contains(ended, "within policy.probation.max_drop") {
		t.Fatalf("the ended probation:\n%s", ended)
	}
}
