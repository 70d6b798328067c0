package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/kingmaker-ml/kingmaker/workflows"
)

func runScore(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "score")
	from := fs.String("from", "", "start of the window to score (RFC 3339 or YYYY-MM-DD, required)")
	to := fs.String("to", "", "end of the window, exclusive (RFC 3339 or YYYY-MM-DD, required)")
	version := fs.String("version", "", "score with this version instead of the champion")
	wait := fs.Bool("wait", false, "wait for the run to finish, showing progress")
	out := outputFlag(fs)
	pos, err := parseN(fs, args, 1, "exactly one MODEL")
	if err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return usageError{"--from and --to are required"}
	}
	in := workflows.BatchScoreInput{Model: pos[0], Version: *version, Reason: workflows.ReasonManual}
	if in.From, err = parseTime(*from); err != nil {
		return usageError{fmt.Sprintf("--from %q: %v", *from, err)}
	}
	if in.To, err = parseTime(*to); err != nil {
		return usageError{fmt.Sprintf("--to %q: %v", *to, err)}
	}
	if !in.From.Before(in.To) {
		return usageError{"--from must be before --to"}
	}
	cfg, err := loadConfigFor(e, in.Model)
	if err != nil {
		return err
	}
	c, err := dialTemporal(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	run, err := c.ExecuteWorkflow(ctx, workflows.BatchScoreStartOptions(in, cfg.Temporal.TaskQueue, time.Now()), workflows.BatchScoreWorkflowName, in)
	if err != nil {
		return fmt.Errorf("start scoring of %s: %w", in.Model, err)
	}
	if *out == "table" {
		fmt.Fprintf(e.stdout, "started %s\n  %s\n", run.GetID(), runURL(cfg, run.GetID()))
	}
	warnIfNoWorker(ctx, e, c, cfg.Temporal.TaskQueue)
	rep := startedReport(cfg, run)
	if !*wait {
		return finishRun(e, *out, rep, nil, nil)
	}
	var res workflows.BatchScoreResult
	w := runWait{what: "scoring"}
	if *out == "table" {
		w.progress = scoreProgress(e.stdout, c, run)
	}
	rep.Status, err = w.wait(ctx, run, &res)
	if rep.Status == runCompleted {
		rep.Result = &res
	}
	return finishRun(e, *out, rep, err, func() { printScore(e.stdout, &res) })
}

// scoreProgress shows the days a scoring run has done as runWait reads them.
func scoreProgress(w io.Writer, c client.Client, run client.WorkflowRun) func(context.Context) bool {
	last := -1
	return func(ctx context.Context) bool {
		v, err := c.QueryWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.QueryProgress)
		var p workflows.ScoreProgress
		if err == nil && v.Get(&p) == nil && p.DaysDone != last {
			last = p.DaysDone
			fmt.Fprintf(w, "  %d/%d days, %d rows\n", p.DaysDone, p.Days, p.Rows)
		}
		return false
	}
}

func printScore(w io.Writer, res *workflows.BatchScoreResult) {
	holds := ""
	switch res.Task {
	case "multiclass":
		holds = ": a class and every class's probability per row"
	case "regression":
		holds = ": a value per row"
	}
	fmt.Fprintf(w, "scored %d rows of %s over %d days with version %s (generation %d) into predictions%s\n",
		res.Rows, res.Model, res.Days, res.Version, res.Generation, holds)
}
