package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/worker"
)

// A worker logging in to Cassandra with a role of its own (not the
// superuser) runs a whole retrain, and the role's password appears nowhere:
// not in the worker's logs, not in the workflow history, not in the config
// as JSON.
func TestAWorkerWithItsOwnRoleLeaksItsPasswordNowhere(t *testing.T) {
	s, cass := testenv.Cassandra(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if cass.Username == "" {
		t.Fatal("the test stack runs Cassandra with authentication: export KINGMAKER_CASSANDRA_USERNAME/PASSWORD (make test does)")
	}
	role := "km_" + cass.Keyspace
	password := fmt.Sprintf("s3cret-%d-do-not-print", time.Now().UnixNano())
	for _, stmt := range []string{
		fmt.Sprintf("CREATE ROLE IF NOT EXISTS %s WITH PASSWORD = '%s' AND LOGIN = true", role, password),
		fmt.Sprintf("GRANT ALL PERMISSIONS ON KEYSPACE %s TO %s", cass.Keyspace, role),
	} {
		if err := s.Query(stmt).Exec(); err != nil {
			t.Fatalf("%s: %v", strings.Split(stmt, " WITH")[0], err)
		}
	}
	defer s.Query("DROP ROLE IF EXISTS " + role).Exec()
	spec := demo.Spec{Dataset: "churn", Start: seedStart, Days: 8, RowsPerDay: 600, Seed: 5}
	if err := demo.Write(ctx, s, cass.Keyspace, spec, 4, nil); err != nil {
		t.Fatalf("seed: %v", err)
	}

	cfg := testConfig(t, cass)
	cfg.Cassandra.Username, cfg.Cassandra.Password = role, config.Secret(password)
	logs := &testenv.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st, err := worker.Open(ctx, cfg, logger)
	if err != nil {
		t.Fatalf("the worker cannot log in with its own role: %v", err)
	}
	defer st.Close()
	workerCtx, stopWorker := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() {
		stopped <- worker.Run(workerCtx, st, worker.Options{Roles: []string{worker.RoleMain, worker.RoleTraining}, StopTimeout: 10 * time.Second, Logger: logger})
	}()
	defer func() { stopWorker(); <-stopped }()

	id := "retrain-churn-secrets-" + cass.Keyspace
	run, res := retrain(ctx, t, st.Temporal, cfg, id, seedStart.AddDate(0, 0, 8))
	if res.Outcome != "promote" {
		t.Fatalf("the run should promote a first champion, got %s: %q", res.Outcome, res.Reasons)
	}

	var history strings.Builder
	iter := st.Temporal.GetWorkflowHistory(ctx, id, run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	events := 0
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		b, err := protojson.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		history.Write(b)
		events++
	}
	cfgJSON, _ := json.Marshal(cfg)
	for where, text := range map[string]string{"workflow history": history.String(), "worker logs": logs.String(), "config JSON": string(cfgJSON)} {
		if text == "" {
			t.Fatalf("%s is empty: nothing was checked", where)
		}
		if strings.Contains(text, password) {
			t.Errorf("the Cassandra password appears in the %s", where)
		}
	}
	if events < 10 {
		t.Fatalf("only %d history events: the run did not record its steps", events)
	}
}
