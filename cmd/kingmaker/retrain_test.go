package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// background runs a long CLI command (worker, retrain --wait) in its own
// goroutine; wait returns its exit code.
type background struct {
	stdout, stderr testenv.Buffer
	code           chan int
}

func startCommand(ctx context.Context, args ...string) *background {
	b := &background{code: make(chan int, 1)}
	go func() { b.code <- run(ctx, args, &b.stdout, &b.stderr) }()
	return b
}

// approvalConfig writes the example config with require_approval on, and
// points the CLI at the test's keyspace and task queues through the
// environment, as an operator would.
func approvalConfig(t *testing.T, keyspace string, c config.Cassandra) string {
	t.Helper()
	return stackConfig(t, keyspace, c, func(b string) string {
		s := strings.Replace(b, "require_approval: false", "require_approval: true", 1)
		if s == b {
			t.Fatal("the example config no longer has require_approval: false")
		}
		return s
	})
}

// stackConfig writes the example config changed by edit, and points the CLI
// at the test's keyspace and task queues through the environment.
func stackConfig(t *testing.T, keyspace string, c config.Cassandra, edit func(string) string) string {
	t.Helper()
	b, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	s := edit(string(b))
	path := filepath.Join(t.TempDir(), "kingmaker.yaml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KINGMAKER_CASSANDRA_KEYSPACE", keyspace)
	t.Setenv("KINGMAKER_CASSANDRA_HOSTS", strings.Join(c.Hosts, ","))
	t.Setenv("KINGMAKER_CASSANDRA_PORT", fmt.Sprint(c.Port))
	t.Setenv("KINGMAKER_TEMPORAL_HOST_PORT", testenv.TemporalAddr())
	t.Setenv("KINGMAKER_TEMPORAL_TASK_QUEUE", "kingmaker-test-"+keyspace)
	t.Setenv("KINGMAKER_TEMPORAL_TRAINING_TASK_QUEUE", "kingmaker-test-training-"+keyspace)
	t.Setenv("KINGMAKER_METRICS_LISTEN", "127.0.0.1:0")
	return path
}

// awaitStage polls a run's progress query until it reports stage.
func awaitStage(ctx context.Context, t *testing.T, c client.Client, id, stage string) workflows.Progress {
	t.Helper()
	for {
		v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryProgress)
		if err == nil {
			var p workflows.Progress
			if err := v.Get(&p); err != nil {
				t.Fatal(err)
			}
			if p.Stage == stage {
				return p
			}
			if p.Stage == workflows.StageDone {
				t.Fatalf("run %s ended (%+v) before reaching stage %s", id, p.Result, stage)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("run %s never reached stage %s (last query error: %v)", id, stage, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

var startedLine = regexp.MustCompile(`started (retrain-churn-\S+) \(run `)

func TestRetrainApproveAndRejectThroughTheCLI(t *testing.T) {
	s, c := testenv.Cassandra(t)
	path := approvalConfig(t, c.Keyspace, c)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Two weeks, the second drifted: the first run makes a champion of the
	// first week, and the second run's candidates beat it on the second.
	first := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	seed := demo.Spec{Dataset: "churn", Start: first, Days: 14, RowsPerDay: 600, DriftFrom: 8, Seed: 5}
	if err := demo.Write(ctx, s, c.Keyspace, seed, 4, nil); err != nil {
		t.Fatal(err)
	}
	firstWeek, secondWeek := first.AddDate(0, 0, 7).Format("2006-01-02"), first.AddDate(0, 0, 14).Format("2006-01-02")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := dialTemporal(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()

	workerCtx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	w := startCommand(workerCtx, "--config", path, "worker", "--stop-timeout", "5s")

	var approved workflows.RetrainResult
	t.Run("retrain --wait follows a run until an approve answers it", func(t *testing.T) {
		r := startCommand(ctx, "--config", path, "retrain", "churn", "--as-of", firstWeek, "--wait")
		var id string
		for id == "" {
			if m := startedLine.FindStringSubmatch(r.stdout.String()); m != nil {
				id = m[1]
				continue
			}
			select {
			case code := <-r.code:
				t.Fatalf("retrain --wait exited %d before starting a run: %s", code, r.stderr.String())
			case <-time.After(100 * time.Millisecond):
			}
		}
		p := awaitStage(ctx, t, tc, id, workflows.StageAwaiting)
		if p.Decision == nil || p.Decision.Winner == "" {
			t.Fatalf("a run awaiting approval has no winner: %+v", p)
		}
		got := kingmaker(t, "--config", path, "approve", id, "--reason", "holdout looks right", "--by", "alice")
		if got.code != 0 || !strings.Contains(got.stdout, "approved: "+p.Decision.Winner+" will be promoted") {
			t.Fatalf("approve: exit %d\nstdout: %s\nstderr: %s", got.code, got.stdout, got.stderr)
		}
		if code := <-r.code; code != 0 {
			t.Fatalf("retrain --wait exited %d: %s", code, r.stderr.String())
		}
		out := r.stdout.String()
		for _, want := range []string{"outcome: promote", "champion: " + p.Decision.Winner + " (generation 1)", "approved by alice: holdout looks right"} {
			if !strings.Contains(out, want) {
				t.Errorf("retrain --wait printed no %q:\n%s", want, out)
			}
		}
		if err := tc.GetWorkflow(ctx, id, "").Get(ctx, &approved); err != nil {
			t.Fatal(err)
		}
		if approved.Champion == nil || approved.Champion.PromotedBy != "alice" {
			t.Errorf("the champion %+v was not promoted by the approver", approved.Champion)
		}

		late := kingmaker(t, "--config", path, "approve", id, "--reason", "twice", "--by", "alice")
		if late.code != 1 || !strings.HasPrefix(late.stderr, "kingmaker approve: approve "+id+": ") || len(lines(late.stderr)) != 1 {
			t.Errorf("approving a finished run: exit %d, stderr %q; want 1 with a one-line reason", late.code, late.stderr)
		}
	})

	t.Run("a rejected run promotes nothing", func(t *testing.T) {
		got := kingmaker(t, "--config", path, "retrain", "churn", "--as-of", secondWeek, "--reason", "second opinion", "-o", "json")
		if got.code != 0 {
			t.Fatalf("retrain: exit %d: %s", got.code, got.stderr)
		}
		var started struct {
			WorkflowID string `json:"workflow_id"`
			RunID      string `json:"run_id"`
			URL        string `json:"url"`
		}
		if err := json.Unmarshal([]byte(got.stdout), &started); err != nil || started.WorkflowID == "" || !strings.Contains(started.URL, started.WorkflowID) {
			t.Fatalf("retrain -o json printed %q (%v), want the workflow id, run id and UI link", got.stdout, err)
		}
		awaitStage(ctx, t, tc, started.WorkflowID, workflows.StageAwaiting)

		early := kingmaker(t, "--config", path, "reject", started.WorkflowID, "--by", "bob")
		if early.code != 2 || !strings.Contains(early.stderr, "--reason is required") {
			t.Errorf("reject without --reason: exit %d, stderr %q; want 2 asking for the reason", early.code, early.stderr)
		}
		rej := kingmaker(t, "--config", path, "reject", started.WorkflowID, "--reason", "not during the freeze", "--by", "bob")
		if rej.code != 0 || !strings.Contains(rej.stdout, "rejected: nothing will be promoted") {
			t.Fatalf("reject: exit %d\nstdout: %s\nstderr: %s", rej.code, rej.stdout, rej.stderr)
		}
		var res workflows.RetrainResult
		if err := tc.GetWorkflow(ctx, started.WorkflowID, started.RunID).Get(ctx, &res); err != nil {
			t.Fatal(err)
		}
		if res.Outcome != workflows.OutcomeRejected || res.Approval == nil || res.Approval.By != "bob" {
			t.Errorf("outcome %s approval %+v, want rejected by bob", res.Outcome, res.Approval)
		}

		st := kingmaker(t, "--config", path, "status", "churn", "-o", "json")
		var rep statusReport
		if st.code != 0 || json.Unmarshal([]byte(st.stdout), &rep) != nil || len(rep.Models) != 1 {
			t.Fatalf("status -o json: exit %d: %s%s", st.code, st.stdout, st.stderr)
		}
		ms := rep.Models[0]
		if approved.Champion == nil || ms.Champion == nil || ms.Champion.Version != approved.Champion.Version || ms.Champion.Generation != 1 {
			t.Errorf("champion after the rejection %+v, want the approved run's %+v", ms.Champion, approved.Champion)
		}
		var outcomes []string
		for _, d := range ms.Decisions {
			outcomes = append(outcomes, d.Outcome)
		}
		if strings.Join(outcomes, ",") != "rejected,promote" {
			t.Errorf("recent decisions %v, want rejected then promote (newest first)", outcomes)
		}
	})

	t.Run("retrain --wait of a run that fails exits 1 with its reason on one line", func(t *testing.T) {
		got := kingmaker(t, "--config", path, "retrain", "churn", "--as-of", "2020-01-01", "--wait")
		if got.code != 1 {
			t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", got.code, got.stdout, got.stderr)
		}
		if !strings.HasPrefix(got.stderr, "kingmaker retrain: retrain retrain-churn-") || !strings.Contains(got.stderr, "fewer than window.min_rows 1000") || len(lines(got.stderr)) != 1 {
			t.Errorf("stderr %q, want one line saying the window is too small", got.stderr)
		}
		// The reason as the activity gave it, once, without the SDK's wrapping.
		if strings.Count(got.stderr, "window.min_rows") != 1 || strings.Contains(got.stderr, "scheduledEventID") {
			t.Errorf("stderr %q repeats the reason or carries the SDK's error chain", got.stderr)
		}
	})

	stopWorker()
	if code := <-w.code; code != 0 {
		t.Errorf("the worker exited %d when stopped: %s", code, w.stderr.String())
	}
	if !strings.Contains(w.stderr.String(), "metrics listening") {
		t.Errorf("the worker did not log its metrics address:\n%s", w.stderr.String())
	}
}

func TestRetrainWaitPrintsTheWindowBeingReadWithItsRows(t *testing.T) {
	w := dataset.Window{From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 8, 0, 0, 0, 0, time.UTC)}
	var out strings.Builder
	seen := map[string]string{}
	showStage(&out, workflows.Progress{Stage: workflows.StageReadingWindow, Rows: 7000, Window: w}, seen)
	showStage(&out, workflows.Progress{Stage: workflows.StageReadingWindow, Rows: 7000, Window: w}, seen)
	want := fmt.Sprintf("  reading_window on 7000 rows of %s\n", w)
	if out.String() != want {
		t.Errorf("printed %q, want the stage once: %q", out.String(), want)
	}
}
