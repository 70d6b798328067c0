package main

import (
	"context"
	"fmt"
	"time"

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
	if err := checkOutput(*out); err != nil {
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
	cfg, err := loadConfig(e)
	if err != nil {
		return err
	}
	if _, err := cfg.Model(in.Model); err != nil {
		return err
	}
	c, err := dialTemporal(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	opts := workflows.BatchScoreStartOptions(in, cfg.Temporal.TaskQueue, time.Now())
	id := opts.ID
	run, err := c.ExecuteWorkflow(ctx, opts, workflows.BatchScoreWorkflowName, in)
	if err != nil {
		return fmt.Errorf("start scoring of %s: %w", in.Model, err)
	}
	if *out == "table" {
		fmt.Fprintf(e.stdout, "started %s\n  %s\n", run.GetID(), runURL(cfg, run.GetID()))
	}
	warnIfNoWorker(ctx, e, c, cfg.Temporal.TaskQueue)
	if !*wait {
		if *out == "json" {
			return writeJSON(e.stdout, map[string]string{"workflow_id": run.GetID(), "run_id": run.GetRunID()})
		}
		return nil
	}
	done := make(chan error, 1)
	var res workflows.BatchScoreResult
	go func() { done <- run.Get(ctx, &res) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := -1
	for {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("scoring %s failed: %s", id, firstLine(err))
			}
			if *out == "json" {
				return writeJSON(e.stdout, res)
			}
			fmt.Fprintf(e.stdout, "scored %d rows of %s over %d days with version %s (generation %d) into predictions\n",
				res.Rows, res.Model, res.Days, res.Version, res.Generation)
			return nil
		case <-tick.C:
			if *out != "table" {
				continue
			}
			v, err := c.QueryWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.QueryProgress)
			var p workflows.ScoreProgress
			if err == nil && v.Get(&p) == nil && p.DaysDone != last {
				last = p.DaysDone
				fmt.Fprintf(e.stdout, "  %d/%d days, %d rows\n", p.DaysDone, p.Days, p.Rows)
			}
		case <-ctx.Done():
			return fmt.Errorf("stopped waiting; the run goes on: %s", id)
		}
	}
}
