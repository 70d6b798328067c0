package main

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/kingmaker-ml/kingmaker/config"
)

// What became of a run a command started, as -o json reports it.
const (
	runStarted     = "started"           // not waited for
	runCompleted   = "completed"         // ended with a result
	runFailed      = "failed"            // ended with an error
	runAwaiting    = "awaiting_approval" // waits for `kingmaker approve` or `reject`
	runInterrupted = "interrupted"       // the command stopped waiting; the run goes on
)

// runReport is the one JSON shape of a run a command started: `retrain`,
// `score` (with or without --wait) print it with -o json.
type runReport struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	URL        string `json:"url"`
	// Status is started, completed, failed or interrupted (awaiting_approval
	// ends only `drift --follow`, which prints no JSON).
	Status string `json:"status"`
	// Error is why the run failed or the waiting stopped.
	Error string `json:"error,omitempty"`
	// Result is the run's result when it completed.
	Result any `json:"result,omitempty"`
}

func startedReport(cfg *config.Config, run client.WorkflowRun) runReport {
	return runReport{WorkflowID: run.GetID(), RunID: run.GetRunID(), URL: runURL(cfg, run.GetID()), Status: runStarted}
}

// waitEvery is how often a waiting command reads a run's progress.
const waitEvery = 500 * time.Millisecond

// runWait follows one run until it ends: every wait of the CLI.
type runWait struct {
	// what names the run in errors: "retrain", "scoring", "drift check".
	what string
	// progress, when not nil, reads and shows the run's progress; it is
	// called every waitEvery and once more when the run ends. It returns
	// true to stop waiting before the end (a run that waits for a person).
	progress func(ctx context.Context) (stop bool)
}

// wait follows run until it ends, progress stops it or ctx is done, and
// says which (a run* status); on completion result holds the run's result.
// The error is why the run failed or the waiting stopped, on one line.
func (w runWait) wait(ctx context.Context, run client.WorkflowRun, result any) (string, error) {
	done := make(chan error, 1)
	go func() { done <- run.Get(ctx, result) }()
	tick := time.NewTicker(waitEvery)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if ctx.Err() != nil {
				return runInterrupted, stoppedWaiting(run)
			}
			if w.progress != nil {
				w.progress(ctx)
			}
			if err != nil {
				return runFailed, fmt.Errorf("%s %s failed: %s", w.what, run.GetID(), failureReason(err))
			}
			return runCompleted, nil
		case <-tick.C:
			if w.progress != nil && w.progress(ctx) {
				return runAwaiting, nil
			}
		case <-ctx.Done():
			return runInterrupted, stoppedWaiting(run)
		}
	}
}

func stoppedWaiting(run client.WorkflowRun) error {
	return fmt.Errorf("stopped waiting; the run goes on: %s", run.GetID())
}

// finishRun ends a command that started a run: -o json prints rep (with
// the error, if any) whatever became of the run; a table shows the result
// with show when the run completed.
func finishRun(e *env, format outputFormat, rep runReport, err error, show func()) error {
	if format == "json" {
		if err != nil {
			rep.Error = err.Error()
		}
		if werr := writeJSON(e.stdout, rep); werr != nil && err == nil {
			return werr
		}
		return err
	}
	if rep.Status == runCompleted && show != nil {
		show()
	}
	return err
}
