package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/schedules"
)

// scheduleRun is one in-process run of the CLI.
type scheduleRun struct {
	code           int
	stdout, stderr string
}

func runSchedule(t *testing.T, args ...string) scheduleRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := run(ctx, args, &stdout, &stderr)
	return scheduleRun{code, stdout.String(), stderr.String()}
}

// scheduleConfig writes the example config with its model renamed to one
// unique to the test and a task queue of the test's own, so the schedules it
// creates collide with nobody's, and its nightly score schedule uncommented.
// It returns the file and the model name.
func scheduleConfig(t *testing.T) (path, model, queue string) {
	t.Helper()
	b, err := os.ReadFile("../../kingmaker.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var r [4]byte
	rand.Read(r[:])
	s := hex.EncodeToString(r[:])
	model, queue = "clitest-"+s, "kingmaker-clitest-"+s
	text := strings.Replace(string(b), "  - name: churn\n", "  - name: "+model+"\n", 1)
	text = strings.Replace(text, "  task_queue: kingmaker\n", "  task_queue: "+queue+"\n", 1)
	text = strings.Replace(text, "      # score: ", "      score: ", 1)
	if !strings.Contains(text, model) || !strings.Contains(text, queue) || !strings.Contains(text, "      score: ") {
		t.Fatal("the example config no longer has the model name, task queue or commented score schedule this test replaces")
	}
	text = strings.Replace(text, "  host_port: 127.0.0.1:7233\n", "  host_port: "+testenv.TemporalAddr()+"\n", 1)
	path = filepath.Join(t.TempDir(), "kingmaker.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, model, queue
}

func TestScheduleCommandsRefuseBadArgumentsWithOneLine(t *testing.T) {
	cfg, model, _ := scheduleConfig(t)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"pause without a reason asks for one", []string{"schedule", "pause", model}, 2, "--reason is required"},
		{"an unknown model is named with the configured ones", []string{"schedule", "pause", "nope", "--reason", "x"}, 1, `unknown model "nope" (configured: ` + model + `)`},
		{"an unknown kind is a usage error", []string{"schedule", "trigger", model, "--kind", "weekly"}, 2, `--kind "weekly": use retrain, drift or score`},
		{"a kind as argument and a different --kind are a usage error", []string{"schedule", "trigger", model, "score", "--kind", "drift"}, 2, "kind score and --kind drift disagree"},
		{"a kind that disagrees with the schedule id is refused", []string{"schedule", "resume", "drift-" + model, "--kind", "retrain"}, 1, "drift-" + model + " is a drift schedule, not retrain"},
		{"two targets are a usage error", []string{"schedule", "trigger", model, "other"}, 2, "exactly one MODEL or SCHEDULE_ID"},
		{"sync takes no model", []string{"schedule", "sync", model}, 2, "sync takes every model from the config"},
		{"list takes table or json only", []string{"schedule", "list", "-o", "yaml"}, 2, `invalid value "yaml" for flag -o: use table or json`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := runSchedule(t, append([]string{"--config", cfg}, tc.args...)...)
			if got.code != tc.code || !strings.Contains(got.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", got.code, got.stderr, tc.code, tc.want)
			}
			if first := strings.SplitN(got.stderr, "\n", 2)[0]; !strings.HasPrefix(first, "kingmaker schedule ") {
				t.Errorf("the reason %q should be one line naming the command", first)
			}
		})
	}
}

func TestScheduleCommandsDriveTheSchedulesOnTemporal(t *testing.T) {
	testenv.Integration(t)
	cfg, model, queue := scheduleConfig(t)
	retrain, drift, score := "retrain-"+model, "drift-"+model, "score-"+model
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{HostPort: testenv.TemporalAddr()})
	if err != nil {
		t.Fatalf("temporal dev server at %s: %v (start it with `scripts/temporal.sh start`)", testenv.TemporalAddr(), err)
	}
	var started []string
	// Cleanups run after the test's defers: the client is closed here, after
	// the schedules are gone, or they would fire in the dev server for days.
	t.Cleanup(func() {
		defer c.Close()
		for _, id := range started {
			c.TerminateWorkflow(context.Background(), id, "", "test over")
		}
		for _, id := range []string{retrain, drift, score} {
			if err := c.ScheduleClient().GetHandle(context.Background(), id).Delete(context.Background()); err != nil && !strings.Contains(err.Error(), "not found") {
				t.Errorf("delete schedule %s: %v", id, err)
			}
		}
	})
	km := func(code int, args ...string) scheduleRun {
		t.Helper()
		got := runSchedule(t, append([]string{"--config", cfg}, args...)...)
		if got.code != code {
			t.Fatalf("kingmaker %s: exit %d (stderr %q), want %d", strings.Join(args, " "), got.code, got.stderr, code)
		}
		return got
	}

	got := km(1, "schedule", "trigger", model)
	if !strings.Contains(got.stderr, "no such schedule "+retrain+": run `kingmaker schedule sync`") {
		t.Errorf("triggering before sync says %q; it should tell to run sync", got.stderr)
	}

	var res schedules.Result
	if err := json.Unmarshal([]byte(km(0, "schedule", "sync", "-o", "json").stdout), &res); err != nil {
		t.Fatal(err)
	}
	if res.Count(schedules.Created) != 3 || len(res.Schedules) != 3 {
		t.Fatalf("first sync: %+v, want the retrain, drift and score schedules created", res.Schedules)
	}
	if out := km(0, "schedule", "sync").stdout; !strings.Contains(out, "0 created, 0 updated, 3 unchanged, 0 deleted") {
		t.Errorf("second sync printed\n%s\nwant every schedule unchanged", out)
	}

	km(0, "schedule", "pause", model, "--reason", "holiday freeze")
	var list []schedules.Entry
	if err := json.Unmarshal([]byte(km(0, "schedule", "list", "-o", "json").stdout), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[2].ID != score || list[2].Spec != "cron 0 2 * * *" || list[0].ID != retrain || !list[0].Paused || !strings.HasSuffix(list[0].Note, ": holiday freeze") || list[1].Paused || list[1].TaskQueue != queue {
		t.Errorf("list after pausing the retrain schedule: %+v", list)
	}
	if out := km(0, "schedule", "list").stdout; !strings.Contains(out, retrain) || !strings.Contains(out, "paused") || !strings.Contains(out, "every 1d, jitter 10m") {
		t.Errorf("the list table\n%s\nshould show %s paused with its spec", out, retrain)
	}

	var trig struct {
		WorkflowID string `json:"workflow_id"`
		URL        string `json:"url"`
	}
	if err := json.Unmarshal([]byte(km(0, "schedule", "trigger", model, "--kind", "drift", "-o", "json").stdout), &trig); err != nil {
		t.Fatal(err)
	}
	if trig.WorkflowID != "" {
		started = append(started, trig.WorkflowID)
	}
	if !strings.HasPrefix(trig.WorkflowID, drift+"-") || !strings.Contains(trig.URL, trig.WorkflowID) {
		t.Fatalf("trigger started %+v, want a workflow id starting %s- and its UI link", trig, drift)
	}
	if _, err := c.DescribeWorkflowExecution(ctx, trig.WorkflowID, ""); err != nil {
		t.Errorf("the triggered workflow: %v", err)
	}
	got = km(1, "schedule", "trigger", drift)
	if !strings.Contains(got.stderr, "still running "+trig.WorkflowID) {
		t.Errorf("triggering again while the run goes on says %q; it should name the running workflow", got.stderr)
	}

	// The kind can follow the model as an argument.
	out := km(0, "schedule", "trigger", model, "score").stdout
	if id, _, ok := strings.Cut(strings.TrimPrefix(out, "started "), " "); ok && strings.HasPrefix(out, "started ") {
		started = append(started, id)
	}
	if !strings.HasPrefix(out, "started "+score+"-") || !strings.Contains(out, "from schedule "+score) {
		t.Errorf("trigger %s score printed %q, want a run of %s started", model, out, score)
	}

	if out := km(0, "schedule", "resume", retrain, "--reason", "freeze over").stdout; !strings.Contains(out, "resumed "+retrain) {
		t.Errorf("resume printed %q", out)
	}
	d, err := c.ScheduleClient().GetHandle(ctx, retrain).Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.Schedule.State.Paused || !strings.HasSuffix(d.Schedule.State.Note, ": freeze over") {
		t.Errorf("after resume: paused=%t note=%q", d.Schedule.State.Paused, d.Schedule.State.Note)
	}
}
