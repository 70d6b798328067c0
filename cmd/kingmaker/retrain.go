package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

func runRetrain(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "retrain")
	wait := fs.Bool("wait", false, "wait for the run to finish, showing progress")
	asOf := fs.String("as-of", "", "run as of this time (RFC 3339 or YYYY-MM-DD) instead of now: the window ends there, less label.delay, and labels are read as known then")
	reason := fs.String("reason", workflows.ReasonManual, "why this retrain runs (recorded)")
	out := outputFlag(fs)
	pos, err := parseN(fs, args, 1, "exactly one MODEL")
	if err != nil {
		return err
	}
	cfg, err := loadConfigFor(e, pos[0])
	if err != nil {
		return err
	}
	who, err := temporalActor(cfg, "")
	if err != nil {
		return err
	}
	in := workflows.RetrainInput{Model: pos[0], Reason: *reason, RequestedBy: who}
	if *asOf != "" {
		t, err := parseTime(*asOf)
		if err != nil {
			return usageError{fmt.Sprintf("--as-of %q: %v", *asOf, err)}
		}
		in.AsOf = &t
	}
	c, err := dialTemporal(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	run, err := c.ExecuteWorkflow(ctx, workflows.RetrainStartOptions(in, cfg.Temporal.TaskQueue, time.Now()), workflows.RetrainWorkflowName, in)
	if err != nil {
		return fmt.Errorf("start retrain of %s: %w", in.Model, err)
	}
	if *out == "table" {
		fmt.Fprintf(e.stdout, "started %s (run %s)\n  %s\n", run.GetID(), run.GetRunID(), runURL(cfg, run.GetID()))
	}
	warnIfNoWorker(ctx, e, c, cfg.Temporal.TaskQueue)
	rep := startedReport(cfg, run)
	if !*wait {
		return finishRun(e, *out, rep, nil, nil)
	}
	var res workflows.RetrainResult
	w := runWait{what: "retrain"}
	if *out == "table" {
		w.progress = retrainProgress(e.stdout, c, run, false)
	}
	rep.Status, err = w.wait(ctx, run, &res)
	if rep.Status == runCompleted {
		rep.Result = &res
	}
	return finishRun(e, *out, rep, err, func() { printResult(e.stdout, &res) })
}

// retrainProgress shows a retrain's progress as runWait reads it: each
// candidate's stage as it changes. With stopAtApproval it stops the wait
// when the run awaits approval.
func retrainProgress(w io.Writer, c client.Client, run client.WorkflowRun, stopAtApproval bool) func(context.Context) bool {
	seen := map[string]string{}
	return func(ctx context.Context) bool {
		showProgress(ctx, w, c, run, seen)
		return stopAtApproval && seen["stage"] == workflows.StageAwaiting
	}
}

func showProgress(ctx context.Context, w io.Writer, c client.Client, run client.WorkflowRun, seen map[string]string) {
	v, err := c.QueryWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.QueryProgress)
	if err != nil {
		return
	}
	var p workflows.Progress
	if v.Get(&p) != nil {
		return
	}
	// Candidates that finished are shown before a later stage begins, so
	// the lines read in the order things happened.
	early := p.Stage == workflows.StageStarting || p.Stage == workflows.StageSnapshot || p.Stage == workflows.StageTraining
	if early {
		showStage(w, p, seen)
	}
	for _, cp := range p.Candidates {
		state := cp.Stage
		if seen["c/"+cp.Name] == state {
			continue
		}
		seen["c/"+cp.Name] = state
		switch state {
		case "trained":
			fmt.Fprintf(w, "    %-12s %-12s trained on %d rows in %.1fs -> version %s\n", cp.Name, cp.Algorithm, cp.TrainRows, cp.Seconds, cp.Version)
		case "failed":
			fmt.Fprintf(w, "    %-12s %-12s failed: %s\n", cp.Name, cp.Algorithm, cp.Error)
		default:
			fmt.Fprintf(w, "    %-12s %-12s %s\n", cp.Name, cp.Algorithm, state)
		}
	}
	if !early {
		showStage(w, p, seen)
	}
}

func showStage(w io.Writer, p workflows.Progress, seen map[string]string) {
	if seen["stage"] != p.Stage {
		seen["stage"] = p.Stage
		extra := ""
		if p.Stage == workflows.StageTraining {
			extra = fmt.Sprintf(" on %d rows of %s", p.Rows, p.Window)
		}
		fmt.Fprintf(w, "  %s%s\n", p.Stage, extra)
	}
}

func printResult(w io.Writer, r *workflows.RetrainResult) {
	fmt.Fprintf(w, "\noutcome: %s\n", r.Outcome)
	if r.Champion != nil {
		fmt.Fprintf(w, "champion: %s (generation %d)\n", r.Champion.Version, r.Champion.Generation)
	}
	fmt.Fprintf(w, "window:  %s, %d rows, %d scored on the holdout\n", r.Window, r.Rows, r.HoldoutRows)
	if l := r.Labels; l != nil {
		fmt.Fprintf(w, "labels:  %d of %d rows labelled (coverage %.1f%%) as of %s, %d unlabelled, %d skipped\n",
			l.Labelled, l.Rows, 100*l.Coverage, l.AsOf.Format(time.DateTime), l.Unlabelled, l.Skipped)
	}
	if r.Decision == nil {
		for _, reason := range r.Reasons {
			fmt.Fprintf(w, "  - %s\n", reason)
		}
		return
	}
	fmt.Fprintf(w, "why:     %s\n", first(r.Decision.Reasons))
	tw := table(w)
	for _, v := range r.Decision.Candidates {
		mark := "failed"
		if v.Passed {
			mark = "passed"
		}
		if v.Version == r.Winner {
			mark = "WINNER"
		}
		value := "-"
		if v.Value != nil {
			value = fmt.Sprintf("%.4f", *v.Value)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s %s\t%s\n", mark, v.Algorithm, v.Version, r.Decision.PrimaryMetric, value, keyReason(v))
	}
	tw.Flush()
	for _, reason := range r.Reasons[len(r.Decision.Reasons):] {
		fmt.Fprintf(w, "  - %s\n", reason)
	}
	fmt.Fprintln(w, "  (every reason: kingmaker retrain ... -o json, or the run in the Temporal UI)")
}

// keyReason is the reason that decided a candidate, as the evaluator
// names it; a decision recorded before it did shows its first reason.
func keyReason(v evaluator.CandidateVerdict) string {
	if v.Deciding != "" {
		return v.Deciding
	}
	return first(v.Reasons)
}
