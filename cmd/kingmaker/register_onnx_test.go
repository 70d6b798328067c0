//go:build onnx

package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// On the real stack: a scikit-learn pipeline converted to ONNX (trainer/testdata/byom/make_onnx.py)
// is registered with onnxruntime's own predictions checked, and its challenge makes it the first
// champion of the model by the policy.
func TestBringYourOwnONNXPipelineBecomesChampionByChallenge(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	first := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	_, _, path := byomStack(t, ctx, first)
	wrong := kingmaker(t, "--config", path, "models", "register", "churn", "--file", byomDir+"churn_pipeline.onnx", "--format", "onnx",
		"--candidate", "sklearn-pipeline", "--reason", "notebook", "--expect", byomDir+"churn_good_expect.csv")
	if wrong.code != 1 || !strings.Contains(wrong.stderr, "row 1 (line 2) differs") || len(lines(wrong.stderr)) != 1 {
		t.Fatalf("another model's predictions as --expect: exit %d, stderr %q; want a parity refusal naming row 1", wrong.code, wrong.stderr)
	}
	id := registerONNX(t, path, "churn_pipeline.onnx", "sklearn-pipeline", "churn_pipeline_expect.csv", "skl2onnx")

	workerCtx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	startCommand(workerCtx, "--config", path, "worker", "--stop-timeout", "5s")
	ch := kingmaker(t, "--config", path, "challenge", "churn", id.String(), "--as-of", first.AddDate(0, 0, 7).Format("2006-01-02"), "--wait", "--reason", "first model", "-o", "json")
	var rep struct {
		Result workflows.RetrainResult `json:"result"`
	}
	if ch.code != 0 || json.Unmarshal([]byte(ch.stdout), &rep) != nil {
		t.Fatalf("challenge: exit %d\nstdout: %s\nstderr: %s", ch.code, ch.stdout, ch.stderr)
	}
	if res := rep.Result; res.Outcome != string(evaluator.OutcomePromote) || res.Champion == nil || res.Champion.Version != id || res.Champion.Generation != 1 {
		t.Fatalf("outcome %s, champion %+v, reasons %v; want the pipeline promoted as the first champion", res.Outcome, res.Champion, res.Reasons)
	}
}

// On the real stack: a LightGBM classifier converted by onnxmltools (one float input [N, 16],
// trainer/testdata/byom/make_lightgbm_onnx.py) registers with LightGBM's own probabilities checked;
// the same model converted with an input of 15 columns is refused in one line naming 16.
func TestRegisterLightGBMONNXWithOneMatrixInput(t *testing.T) {
	_, c := testenv.Cassandra(t)
	path := stackConfig(t, c.Keyspace, c, func(b string) string { return b })
	narrow := kingmaker(t, "--config", path, "models", "register", "churn", "--file", byomDir+"churn_lightgbm_narrow.onnx", "--format", "onnx",
		"--candidate", "lightgbm", "--reason", "notebook")
	if narrow.code != 1 || !strings.Contains(narrow.stderr, `input "input" has shape [-1 15], want [N, 16]`) || len(lines(narrow.stderr)) != 1 {
		t.Fatalf("an input of 15 columns: exit %d, stderr %q; want a one-line refusal naming 16 columns", narrow.code, narrow.stderr)
	}
	registerONNX(t, path, "churn_lightgbm.onnx", "lightgbm", "churn_lightgbm_expect.csv", "OnnxMLTools")
}

// registerONNX registers the ONNX file of testdata/byom as a version of churn with its expect CSV
// and checks that models show says its producer and that the expected rows matched.
func registerONNX(t *testing.T, path, file, candidate, expect, producer string) gocql.UUID {
	t.Helper()
	got := kingmaker(t, "--config", path, "models", "register", "churn", "--file", byomDir+file, "--format", "onnx",
		"--candidate", candidate, "--reason", "notebook", "--expect", byomDir+expect)
	id, err := gocql.ParseUUID(strings.TrimSpace(got.stdout))
	if got.code != 0 || err != nil {
		t.Fatalf("register: exit %d\nstdout: %s\nstderr: %s", got.code, got.stdout, got.stderr)
	}
	show := kingmaker(t, "--config", path, "models", "show", "churn", id.String())
	if show.code != 0 || !strings.Contains(show.stdout, "made by "+producer) || !strings.Contains(show.stdout, "50 rows matched") {
		t.Fatalf("models show: exit %d\n%s%s", show.code, show.stdout, show.stderr)
	}
	return id
}
