package worker_test

import (
	"context"
	"log/slog"
	"sort"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/worker"
)

// Training scales past one process: one worker serves the main queue, two
// others serve only the training queue, each taking one training at a time.
// One run's candidates are then trained by both training workers, and the
// run still ends with one decision.
func TestTwoTrainingWorkersShareOneRunsCandidates(t *testing.T) {
	s, cass := testenv.Cassandra(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	spec := demo.Spec{Dataset: "churn", Start: seedStart, Days: 8, RowsPerDay: 1500, Seed: 9}
	if err := demo.Write(ctx, s, cass.Keyspace, spec, 4, nil); err != nil {
		t.Fatalf("seed: %v", err)
	}
	cfg := testConfig(t, cass)
	// Four candidates, so that two workers taking one each must both work.
	cfg.Models[0].Candidates = append(cfg.Models[0].Candidates, config.Candidate{Name: "logistic-strong", Algorithm: "logistic", Params: map[string]float64{"l2": 10}})
	logger := slog.New(slog.DiscardHandler)

	type running struct {
		st   *worker.Stack
		stop context.CancelFunc
		done chan error
	}
	start := func(identity string, roles ...string) running {
		t.Helper()
		st, err := worker.Open(ctx, cfg, logger)
		if err != nil {
			t.Fatal(err)
		}
		wctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		c := *cfg
		c.Metrics.Listen = "127.0.0.1:0"
		st.Config = &c
		go func() {
			done <- worker.Run(wctx, st, worker.Options{Roles: roles, StopTimeout: 10 * time.Second, MaxConcurrentTrainings: 1, Identity: identity, Logger: logger})
		}()
		return running{st, stop, done}
	}
	main := start("main@"+cass.Keyspace, worker.RoleMain)
	trainers := []running{start("trainer-a@"+cass.Keyspace, worker.RoleTraining), start("trainer-b@"+cass.Keyspace, worker.RoleTraining)}
	defer func() {
		for _, w := range append(trainers, main) {
			w.stop()
			if err := <-w.done; err != nil {
				t.Errorf("a worker stopped with %v", err)
			}
			w.st.Close()
		}
	}()

	id := "retrain-churn-scale-" + cass.Keyspace
	run, res := retrain(ctx, t, main.st.Temporal, cfg, id, seedStart.AddDate(0, 0, 8))
	if res.Outcome != "promote" || len(res.Candidates) != 4 {
		t.Fatalf("want a first champion from 4 candidates, got %s with %d: %q", res.Outcome, len(res.Candidates), res.Reasons)
	}
	for _, c := range res.Candidates {
		if c.Stage != "trained" {
			t.Fatalf("candidate %s: %s %s", c.Name, c.Stage, c.Error)
		}
	}

	// Who ran what: the identity on each started activity task.
	scheduled := map[int64]string{}
	byWorker := map[string]int{}
	iter := main.st.Temporal.GetWorkflowHistory(ctx, id, run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			scheduled[ev.GetEventId()] = a.GetActivityType().GetName()
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && scheduled[a.GetScheduledEventId()] == "TrainCandidate" {
			byWorker[a.GetIdentity()]++
		}
	}
	var who []string
	for w := range byWorker {
		who = append(who, w)
	}
	sort.Strings(who)
	if len(who) != 2 || byWorker["trainer-a@"+cass.Keyspace] == 0 || byWorker["trainer-b@"+cass.Keyspace] == 0 {
		t.Fatalf("want both training workers to train candidates of the run, got %v", byWorker)
	}
}
