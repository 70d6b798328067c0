package main

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/kingmaker-ml/kingmaker/workflows"
)

func runChallenge(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "challenge")
	wait := fs.Bool("wait", false, "wait for the run to finish, showing progress")
	asOf := fs.String("as-of", "", "end the window at this time (RFC 3339 or YYYY-MM-DD) instead of now")
	reason := fs.String("reason", "", "why this version is challenged (required, recorded)")
	out := outputFlag(fs)
	pos, err := parseN(fs, args, 2, "MODEL and VERSION")
	if err != nil {
		return err
	}
	if *reason == "" {
		return usageError{"--reason is required: it is recorded with the decision"}
	}
	id, err := parseVersion(pos[1])
	if err != nil {
		return err
	}
	cfg, who, end, err := runTarget(e, pos[0], *asOf)
	if err != nil {
		return err
	}
	in := workflows.ChallengeInput{Model: pos[0], Version: id.String(), Reason: *reason, RequestedBy: who, AsOf: end}
	return followRun(ctx, e, cfg, "challenge", *wait, *out, func(c client.Client) (client.WorkflowRun, error) {
		run, err := c.ExecuteWorkflow(ctx, workflows.ChallengeStartOptions(in, cfg.Temporal.TaskQueue, time.Now()), workflows.ChallengeWorkflowName, in)
		if err != nil {
			return nil, fmt.Errorf("start challenge of %s version %s: %w", in.Model, in.Version, err)
		}
		return run, nil
	})
}
