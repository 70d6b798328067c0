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

// openTemporal loads the config and connects to Temporal; the caller
// closes the client.
func openTemporal(ctx context.Context, e *env) (*config.Config, client.Client, error) {
	cfg, err := loadConfig(e)
	if err != nil {
		return nil, nil, err
	}
	c, err := dialTemporal(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, c, nil
}

// actAndDial names who acts (by, or the identity the config implies) and
// then connects to Temporal; the caller closes the client.
func actAndDial(ctx context.Context, cfg *config.Config, by string) (string, client.Client, error) {
	who, err := temporalActor(cfg, by)
	if err != nil {
		return "", nil, err
	}
	c, err := dialTemporal(ctx, cfg)
	if err != nil {
		return "", nil, err
	}
	return who, c, nil
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
