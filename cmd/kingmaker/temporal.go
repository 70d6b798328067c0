package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/temporalclient"
)

// dialTemporal connects the CLI to Temporal the way the worker does.
func dialTemporal(ctx context.Context, cfg *config.Config) (client.Client, error) {
	return temporalclient.Dial(ctx, cfg.Temporal, nil, nil)
}

// runURL is the Temporal UI page of a workflow.
func runURL(cfg *config.Config, workflowID string) string {
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s", strings.TrimRight(cfg.Temporal.UIURL, "/"), url.PathEscape(cfg.Temporal.Namespace), url.PathEscape(workflowID))
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

// warnIfNoWorker says on stderr when nothing polls the task queue: the run
// is safe in Temporal but waits until a worker starts.
func warnIfNoWorker(ctx context.Context, e *env, c client.Client, queue string) {
	resp, err := c.DescribeTaskQueue(ctx, queue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
	if err == nil && len(resp.GetPollers()) == 0 {
		fmt.Fprintf(e.stderr, "warning: no worker polls task queue %s: the run waits until one starts (kingmaker worker)\n", queue)
	}
}
