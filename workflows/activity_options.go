package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// durable is for the short writes that must eventually happen (promotion,
// records): retried through a Cassandra outage for up to 30 minutes.
func durable(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 30 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second},
	})
}

// summary labels the next activity in the Temporal UI.
func summary(ctx workflow.Context, text string) workflow.Context {
	opts := workflow.GetActivityOptions(ctx)
	opts.Summary = text
	return workflow.WithActivityOptions(ctx, opts)
}

func withTimeout(ctx workflow.Context, d time.Duration) workflow.Context {
	opts := workflow.GetActivityOptions(ctx)
	opts.StartToCloseTimeout = d
	return workflow.WithActivityOptions(ctx, opts)
}
