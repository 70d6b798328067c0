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

	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// On the real stack: a retrain where the Python external trainer of examples/python-trainer (a
// Temporal worker in Python: scikit-learn pipeline, converted by skl2onnx) trains one candidate on
// the run's staged rows and competes with a weak Kingmaker candidate (1-nearest-neighbour, whose
// hard 0/1 scores rank poorly); the Python candidate wins by the policy's primary metric and is
// promoted, with provenance source external. The trainer's venv comes from
// scripts/python-trainer.sh install (make test-onnx runs it).
func TestAPythonExternalTrainerCompetesInARetrainAndTheBetterCandidateWins(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	out, err := exec.Command("../../scripts/python-trainer.sh", "check").CombinedOutput()
	if err != nil {
		t.Fatalf("the Python trainer's venv is missing: run scripts/python-trainer.sh install (%s)", strings.TrimSpace(string(out)))
	}
	py := strings.TrimPrefix(strings.TrimSpace(string(out)), "python-trainer: ")

	s, c := testenv.Cassandra(t)
	queue := "python-trainers-" + c.Keyspace
	path := stackConfig(t, c.Keyspace, c, func(b string) string {
		old := "      - {name: logistic, algorithm: logistic, params: {l2: 1.0}}\n      - {name: id3, algorithm: id3, params: {bins: 8}}\n      - {name: forest, algorithm: forest, params: {trees: 11}}\n"
		if !strings.Contains(b, old) {
			t.Fatal("the example config's candidates changed")
		}
		return strings.Replace(b, old, "      - {name: knn1, algorithm: knn, params: {k: 1}}\n"+
			"      - {name: sklearn, external: {task_queue: "+queue+", activity: train_sklearn, format: onnx}}\n", 1)
	})
	first := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if err := demo.Write(ctx, s, c.Keyspace, demo.Spec{Dataset: "churn", Start: first, Days: 7, RowsPerDay: 600, Seed: 9}, 4, nil); err != nil {
		t.Fatal(err)
	}

	trainerCtx, stopTrainer := context.WithCancel(ctx)
	defer stopTrainer()
	pyTrainer := exec.CommandContext(trainerCtx, py, "../../examples/python-trainer/trainer.py", "--task-queue", queue, "--activity", "train_sklearn")
	pyTrainer.Env = os.Environ()
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

	got := kingmaker(t, "--config", path, "retrain", "churn", "--as-of", first.AddDate(0, 0, 7).Format("2006-01-02"), "--wait", "-o", "json")
	var rep struct {
		Result workflows.RetrainResult `json:"result"`
	}
	if got.code != 0 || json.Unmarshal([]byte(got.stdout), &rep) != nil {
		t.Fatalf("retrain: exit %d\nstdout: %s\nstderr: %s", got.code, got.stdout, got.stderr)
	}
	res := rep.Result
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
	show := kingmaker(t, "--config", path, "models", "show", "churn", versions["sklearn"], "-o", "json")
	if show.code != 0 || !strings.Contains(show.stdout, `"source": "external"`) || !strings.Contains(show.stdout, `"producer": "skl2onnx"`) {
		t.Fatalf("models show: exit %d\n%s%s", show.code, show.stdout, show.stderr)
	}
}
