package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// fakeRun is a run that ends when told, with err or the result "done".
type fakeRun struct {
	client.WorkflowRun
	end chan error
}

func (f *fakeRun) GetID() string    { return "retrain-churn-1" }
func (f *fakeRun) GetRunID() string { return "r1" }
func (f *fakeRun) Get(ctx context.Context, result any) error {
	select {
	case err := <-f.end:
		if err == nil {
			*result.(*string) = "done"
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestEveryWaitEndsTheSameWay(t *testing.T) {
	cases := []struct {
		name      string
		end       error // nil: completes; the run never ends when stop or cancel
		stop      bool  // progress stops the wait
		cancel    bool  // the command is interrupted
		status    string
		errString string
	}{
		{name: "a run that completes gives its result", status: runCompleted},
		{name: "a run that fails says why in the activity's words",
			end: temporal.NewApplicationError("window has 3 rows, fewer than window.min_rows 1000", "x"), status: runFailed,
			errString: "retrain retrain-churn-1 failed: window has 3 rows, fewer than window.min_rows 1000"},
		{name: "progress can stop the wait at a run that awaits a person", stop: true, status: runAwaiting},
		{name: "an interrupted wait says the run goes on", cancel: true, status: runInterrupted,
			errString: "stopped waiting; the run goes on: retrain-churn-1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			run := &fakeRun{end: make(chan error, 1)}
			calls := 0
			w := runWait{what: "retrain", progress: func(context.Context) bool { calls++; return tc.stop }}
			switch {
			case tc.cancel:
				time.AfterFunc(50*time.Millisecond, cancel)
			case !tc.stop:
				run.end <- tc.end
			}
			var res string
			status, err := w.wait(ctx, run, &res)
			if status != tc.status {
				t.Fatalf("status %q, want %q (err %v)", status, tc.status, err)
			}
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.errString {
				t.Fatalf("error %q, want %q", got, tc.errString)
			}
			if tc.status == runCompleted && (res != "done" || calls != 1) {
				t.Fatalf("result %q after %d progress reads, want done after the last read", res, calls)
			}
		})
	}
}

func TestRunReportsHaveOneJSONShape(t *testing.T) {
	for _, tc := range []struct {
		name string
		rep  runReport
		err  error
		want string
	}{
		{"a run not waited for", runReport{WorkflowID: "w", RunID: "r", URL: "u", Status: runStarted}, nil,
			`{"workflow_id":"w","run_id":"r","url":"u","status":"started"}`},
		{"a run that completed carries its result", runReport{WorkflowID: "w", RunID: "r", URL: "u", Status: runCompleted, Result: map[string]int{"rows": 3}}, nil,
			`{"workflow_id":"w","run_id":"r","url":"u","status":"completed","result":{"rows":3}}`},
		{"a run that failed carries the reason", runReport{WorkflowID: "w", RunID: "r", URL: "u", Status: runFailed}, errors.New("scoring w failed: no champion"),
			`{"workflow_id":"w","run_id":"r","url":"u","status":"failed","error":"scoring w failed: no champion"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := finishRun(&env{stdout: &out}, "json", tc.rep, tc.err, func() { t.Error("a table was printed for -o json") })
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, out.Bytes()); err != nil || compact.String() != tc.want {
				t.Fatalf("printed %s (%v), want %s", compact.String(), err, tc.want)
			}
		})
	}
}
