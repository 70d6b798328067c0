package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/internal/actor"
	"github.com/kingmaker-ml/kingmaker/worker"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

func runWorker(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "worker")
	queues := fs.String("queues", "main,training", "task queues to serve: main, training or both")
	stop := fs.Duration("stop-timeout", 30*time.Second, "how long running activities get to finish on stop")
	trainings := fs.Int("max-trainings", 2, "trainings at once on this process")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(e)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	st, err := worker.Open(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	return worker.Run(ctx, st, worker.Options{
		Roles: strings.Split(*queues, ","), StopTimeout: *stop, MaxConcurrentTrainings: *trainings, Logger: logger,
	})
}

// registryActor and temporalActor are who a command acts as (see package
// actor); the error is a usage error when --by names someone else than
// the identity the deployment establishes.
func registryActor(cfg *config.Config, by string) (string, error) {
	a, err := actor.Registry(cfg, by)
	if err != nil {
		return "", usageError{err.Error()}
	}
	return a.Name, nil
}

func temporalActor(cfg *config.Config, by string) (string, error) {
	a, err := actor.Temporal(cfg, by)
	if err != nil {
		return "", usageError{err.Error()}
	}
	return a.Name, nil
}

func dialTemporal(ctx context.Context, cfg *config.Config) (client.Client, error) {
	return worker.Dial(ctx, cfg.Temporal, nil, nil)
}

func runURL(cfg *config.Config, workflowID string) string {
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s", strings.TrimRight(cfg.Temporal.UIURL, "/"), url.PathEscape(cfg.Temporal.Namespace), url.PathEscape(workflowID))
}

func runRetrain(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "retrain")
	wait := fs.Bool("wait", false, "wait for the run to finish, showing progress")
	asOf := fs.String("as-of", "", "end the window at this time (RFC 3339 or YYYY-MM-DD) instead of now")
	reason := fs.String("reason", workflows.ReasonManual, "why this retrain runs (recorded)")
	out := outputFlag(fs)
	pos, err := parseN(fs, args, 1, "exactly one MODEL")
	if err != nil {
		return err
	}
	cfg, err := loadConfig(e)
	if err != nil {
		return err
	}
	if _, err := cfg.Model(pos[0]); err != nil {
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

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, errors.New("use RFC 3339 (2026-11-20T00:00:00Z) or YYYY-MM-DD")
	}
	return t, nil
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

// failureReason is why a run failed, in the words of the error that caused
// it, without the SDK's wrapping (event ids, types and the cause repeated).
func failureReason(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Message() != "" {
		return firstLine(errors.New(app.Message()))
	}
	return firstLine(err)
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func printResult(w io.Writer, r *workflows.RetrainResult) {
	fmt.Fprintf(w, "\noutcome: %s\n", r.Outcome)
	if r.Champion != nil {
		fmt.Fprintf(w, "champion: %s (generation %d)\n", r.Champion.Version, r.Champion.Generation)
	}
	fmt.Fprintf(w, "window:  %s, %d rows, %d scored on the holdout\n", r.Window, r.Rows, r.HoldoutRows)
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

func runApproval(approve bool) func(ctx context.Context, e *env, args []string) error {
	name := workflows.UpdateReject
	if approve {
		name = workflows.UpdateApprove
	}
	return func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(e, name)
		reason := fs.String("reason", "", "why (required, recorded)")
		by := fs.String("by", "", "who answers (default $USER@host; not allowed when a client certificate or temporal.identity names who acts)")
		pos, err := parse(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageError{"exactly one RUN (the workflow id, e.g. retrain-churn-20261125t101500z)"}
		}
		if *reason == "" {
			return usageError{"--reason is required: it is recorded with the decision"}
		}
		cfg, err := loadConfig(e)
		if err != nil {
			return err
		}
		who, err := temporalActor(cfg, *by)
		if err != nil {
			return err
		}
		c, err := dialTemporal(ctx, cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
			WorkflowID: pos[0], UpdateName: name, WaitForStage: client.WorkflowUpdateStageCompleted,
			Args: []any{workflows.ApprovalInput{By: who, Reason: *reason}},
		})
		if err != nil {
			return fmt.Errorf("%s %s: %s", name, pos[0], firstLine(err))
		}
		var msg string
		if err := h.Get(ctx, &msg); err != nil {
			return fmt.Errorf("%s %s: %s", name, pos[0], firstLine(err))
		}
		fmt.Fprintf(e.stdout, "%s: %s\n", pos[0], msg)
		return nil
	}
}

// warnIfNoWorker says on stderr when nothing polls the task queue: the run
// is safe in Temporal but waits until a worker starts.
func warnIfNoWorker(ctx context.Context, e *env, c client.Client, queue string) {
	resp, err := c.DescribeTaskQueue(ctx, queue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
	if err == nil && len(resp.GetPollers()) == 0 {
		fmt.Fprintf(e.stderr, "warning: no worker polls task queue %s: the run waits until one starts (kingmaker worker)\n", queue)
	}
}
