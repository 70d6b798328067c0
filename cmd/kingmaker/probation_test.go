package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/demo"
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
	if err := demo.Write(ctx, s, c.Keyspace, demo.Spec{Dataset: "churn", Start: now.Add(-24 * time.Hour), Days: 2, RowsPerDay: 500, Seed: 3}, 4, nil); err != nil {
		t.Fatal(err)
	}
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

	save := func(key string) gocql.UUID {
		t.Helper()
		v := &registry.Version{Model: "churn", ID: registry.VersionID(now, key), Candidate: key, Algorithm: "logistic", RunID: "run-" + key,
			Metrics: []byte(`{"rows":300,"classes":2,"accuracy":0.8}`)}
		if err := reg.SaveVersion(ctx, v, testenv.ChurnArtifact(t)); err != nil {
			t.Fatal(err)
		}
		return v.ID
	}
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
	var (
		mu   sync.Mutex
		rows []registry.ShadowPrediction
	)
	src := &dataset.Source{Session: s, Keyspace: c.Keyspace, Model: m}
	if _, err := src.Scan(ctx, dataset.Window{From: now.Add(-20 * time.Hour), To: now}, dataset.ScanOptions{OptionalLabels: true}, func(_ int, b *dataset.Batch) error {
		mu.Lock()
		defer mu.Unlock()
		for i, k := range b.Keys {
			if b.Y[i] < 0 || len(rows) >= 300 {
				continue
			}
			n, p := b.Y[i], b.Y[i]
			if len(rows)%3 == 0 {
				n = 1 - n
			}
			if len(rows)%10 == 0 {
				p = 1 - p
			}
			rows = append(rows, registry.ShadowPrediction{Model: "churn", ShadowVersion: va, At: time.Now().UTC(), RequestID: fmt.Sprint("r", len(rows)),
				ChampionVersion: vb, Generation: g2.Generation, ChampionClass: m.Label.Classes[n], ShadowClass: m.Label.Classes[p], RowID: k})
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
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
