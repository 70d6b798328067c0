//go:build onnx

package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/schedules"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// On the real stack: a scheduled retrain (`schedule sync`, then `schedule trigger`: the run the
// schedule starts) where the Python external trainer of examples/python-trainer (a Temporal worker
// in Python: scikit-learn pipeline, converted by skl2onnx) trains one candidate on the run's staged
// rows and competes with a weak Kingmaker candidate (1-nearest-neighbour, whose hard 0/1 scores rank
// poorly); the Python candidate wins by the policy's primary metric and is promoted, with
// provenance source external. The trainer's venv comes from scripts/python-trainer.sh install
// (make test-onnx runs it).
func TestAPythonExternalTrainerCompetesInARetrainAndTheBetterCandidateWins(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	out, err := exec.Command("../../scripts/python-trainer.sh", "check").CombinedOutput()
	if err != nil {
		t.Fatalf("the Python trainer's venv is missing: run scripts/python-trainer.sh install (%s)", strings.TrimSpace(string(out)))
	}
	py := strings.TrimPrefix(strings.TrimSpace(string(out)), "python-trainer: ")

	s, c := testenv.Cassandra(t)
	// A model name of the test's own: schedules are named after the model.
	model := "ext" + strings.ReplaceAll(c.Keyspace, "_", "")
	if len(model) > 40 {
		model = model[:40]
	}
	queue := "python-trainers-" + c.Keyspace
	path := stackConfig(t, c.Keyspace, c, func(b string) string {
		old := "      - {name: logistic, algorithm: logistic, params: {l2: 1.0}}\n      - {name: id3, algorithm: id3, params: {bins: 8}}\n      - {name: forest, algorithm: forest, params: {trees: 11}}\n"
		if !strings.Contains(b, old) || !strings.Contains(b, "  - name: churn\n") {
			t.Fatal("the example config's model name or candidates changed")
		}
		b = strings.Replace(b, "  - name: churn\n", "  - name: "+model+"\n", 1)
		return strings.Replace(b, old, "      - {name: knn1, algorithm: knn, params: {k: 1}}\n"+
			"      - {name: sklearn, external: {task_queue: "+queue+", activity: train_sklearn, format: onnx}}\n", 1)
	})
	// The schedule's run ends its window at its start: the demo rows are the last 7 days.
	today := time.Now().UTC().Truncate(24 * time.Hour)
	if err := demo.Write(ctx, s, c.Keyspace, demo.Spec{Dataset: "churn", Start: today.AddDate(0, 0, -7), Days: 7, RowsPerDay: 600, Seed: 9}, 4, nil); err != nil {
		t.Fatal(err)
	}
	tc, err := client.DialContext(ctx, client.Options{HostPort: testenv.TemporalAddr()})
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run after the defers: the schedules go, or they would fire for days.
	t.Cleanup(func() {
		defer tc.Close()
		for _, id := range []string{"retrain-" + model, "drift-" + model} {
			if err := tc.ScheduleClient().GetHandle(context.Background(), id).Delete(context.Background()); err != nil && !strings.Contains(err.Error(), "not found") {
				t.Errorf("delete schedule %s: %v", id, err)
			}
		}
	})

	trainerCtx, stopTrainer := context.WithCancel(ctx)
	defer stopTrainer()
	pyTrainer := exec.CommandContext(trainerCtx, py, "../../examples/python-trainer/trainer.py", "--task-queue", queue, "--activity", "train_sklearn")
	pyTrainer.Env = os.Environ()
	if c.Username != "" {
		pyTrainer.Env = append(pyTrainer.Env, "KINGMAKER_CASSANDRA_USERNAME="+c.Username, "KINGMAKER_CASSANDRA_PASSWORD="+string(c.Password))
	}
	var pyLog strings.Builder
	pyTrainer.Stdout, pyTrainer.Stderr = &pyLog, &pyLog
	if err := pyTrainer.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stopTrainer()
		pyTrainer.Wait()
		if t.Failed() {
			t.Logf("python trainer:\n%s", pyLog.String())
		}
	}()
	workerCtx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	startCommand(workerCtx, "--config", path, "worker", "--stop-timeout", "5s")

	if got := kingmaker(t, "--config", path, "schedule", "sync"); got.code != 0 {
		t.Fatalf("schedule sync: exit %d\n%s%s", got.code, got.stdout, got.stderr)
	}
	got := kingmaker(t, "--config", path, "schedule", "trigger", model, "--kind", "retrain", "-o", "json")
	var trig schedules.Triggered
	if got.code != 0 || json.Unmarshal([]byte(got.stdout), &trig) != nil || trig.WorkflowID == "" {
		t.Fatalf("schedule trigger: exit %d\nstdout: %s\nstderr: %s", got.code, got.stdout, got.stderr)
	}
	var res workflows.RetrainResult
	if err := tc.GetWorkflow(ctx, trig.WorkflowID, trig.RunID).Get(ctx, &res); err != nil {
		t.Fatalf("the scheduled run %s: %v", trig.WorkflowID, err)
	}
	versions := map[string]string{}
	for _, c := range res.Candidates {
		versions[c.Name] = c.Version
	}
	if versions["sklearn"] == "" || versions["knn1"] == "" {
		t.Fatalf("candidates %+v; want both trained (reasons %q)", res.Candidates, res.Reasons)
	}
	if res.Outcome != string(evaluator.OutcomePromote) || res.Winner != versions["sklearn"] || res.Champion == nil || res.Champion.Version.String() != versions["sklearn"] {
		t.Fatalf("outcome %s, winner %s, champion %+v; want the Python candidate %s promoted (reasons %q)", res.Outcome, res.Winner, res.Champion, versions["sklearn"], res.Reasons)
	}
	d := res.Decision
	if d == nil {
		t.Fatal("no decision recorded")
	}
	metric := map[string]float64{}
	for _, c := range d.Candidates {
		if c.Value != nil {
			metric[c.Version] = *c.Value
		}
	}
	if !(metric[versions["sklearn"]] > metric[versions["knn1"]]) {
		t.Fatalf("%s: sklearn %v, knn1 %v; want the winner better by the policy's primary metric", d.PrimaryMetric, metric[versions["sklearn"]], metric[versions["knn1"]])
	}
	t.Logf("%s: sklearn %.4f, knn1 %.4f", d.PrimaryMetric, metric[versions["sklearn"]], metric[versions["knn1"]])
	show := kingmaker(t, "--config", path, "models", "show", model, versions["sklearn"], "-o", "json")
	if show.code != 0 || !strings.Contains(show.stdout, `"source": "external"`) || !strings.Contains(show.stdout, `"producer": "skl2onnx"`) {
		t.Fatalf("models show: exit %d\n%s%s", show.code, show.stdout, show.stderr)
	}
	table := kingmaker(t, "--config", path, "models", "show", model, versions["sklearn"])
	if table.code != 0 || !strings.Contains(table.stdout, "trained by external trainer train_sklearn on "+queue+" (onnx, ") ||
		!strings.Contains(table.stdout, "made by skl2onnx 1.20.0, for candidate sklearn of run ") ||
		!strings.Contains(table.stdout, "parity     50 rows matched the producer's predictions within 1e-05") {
		t.Fatalf("models show: exit %d\n%s%s", table.code, table.stdout, table.stderr)
	}
}
