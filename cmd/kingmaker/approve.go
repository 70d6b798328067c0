package main

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/client"

	"github.com/kingmaker-ml/kingmaker/workflows"
)

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
		who, c, err := actAndDial(ctx, cfg, *by)
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
