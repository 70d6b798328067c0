package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
)

// BatchScoreWorkflowName is the type name of BatchScoreWorkflow.
const BatchScoreWorkflowName = "BatchScoreWorkflow"

// BatchScoreInput asks for a window of source rows to be scored: the
// explicit [From, To), or, when Relative is set (scheduled runs), a window
// fixed from the run's time.
type BatchScoreInput struct {
	Model string    `json:"model"`
	From  time.Time `json:"from,omitzero"`
	To    time.Time `json:"to,omitzero"`
	// Relative, when set (not zero), replaces From and To: see
	// RelativeWindow.
	Relative RelativeWindow `json:"relative,omitzero"`
	// Version scores with a named version; empty means the champion at the
	// run's start (fixed for the whole run).
	Version string `json:"version,omitempty"`
	Reason  string `json:"reason"`
}

// RelativeWindow is a scoring window fixed from a run's time T: it ends at
// T - Lag truncated to a whole Align (hour or day, UTC; none keeps it) and
// reaches Length back. T is the time the schedule meant the run for (the
// TemporalScheduledStartTime search attribute Temporal sets on the runs a
// schedule starts, before jitter), or the run's start when it has none: a
// run that is delayed, retried or replayed scores the same rows.
type RelativeWindow struct {
	Length config.Duration `json:"length"`
	Lag    config.Duration `json:"lag,omitempty"`
	Align  string          `json:"align,omitempty"`
}

// At returns the window of a run whose time is t.
func (r RelativeWindow) At(t time.Time) dataset.Window {
	end := t.UTC().Add(-r.Lag.D())
	switch r.Align {
	case config.AlignHour:
		end = end.Truncate(time.Hour)
	case config.AlignDay:
		end = end.Truncate(config.Day)
	}
	return dataset.Window{From: end.Add(-r.Length.D()), To: end}
}

func (r RelativeWindow) check() error {
	switch {
	case r.Length <= 0:
		return fmt.Errorf("relative window length %s is not positive", r.Length)
	case r.Lag < 0:
		return fmt.Errorf("relative window lag %s is negative", r.Lag)
	case r.Align != "" && !slices.Contains([]string{config.AlignNone, config.AlignHour, config.AlignDay}, r.Align):
		return fmt.Errorf("relative window align %q is not none, hour or day", r.Align)
	}
	return nil
}

// runTime is the time a run is for: when its schedule meant it to start,
// or its start. Both come from the run's first event, so replay agrees.
func runTime(ctx workflow.Context) time.Time {
	if p := workflow.GetInfo(ctx).SearchAttributes.GetIndexedFields()[AttrScheduledStartTime]; p != nil {
		var t time.Time
		if err := converter.GetDefaultDataConverter().FromPayload(p, &t); err == nil && !t.IsZero() {
			return t.UTC()
		}
	}
	return workflow.Now(ctx).UTC()
}

// ScoreProgress answers the progress query of a batch scoring run.
type ScoreProgress struct {
	Model      string `json:"model"`
	Version    string `json:"version"`
	Generation int64  `json:"generation"`
	Days       int    `json:"days"`
	DaysDone   int    `json:"days_done"`
	Rows       int64  `json:"rows"`
	Done       bool   `json:"done"`
	// Task is the version's task (binary, multiclass or regression), which
	// says what its rows of predictions hold; empty in runs started before
	// tasks existed.
	Task string `json:"task,omitempty"`
}

// changeScoreTask is the workflow.GetVersion change id of recording the
// scored version's task in a batch scoring run's progress and result.
const changeScoreTask = "score-task"

// BatchScoreResult is what a batch scoring run wrote.
type BatchScoreResult struct {
	ScoreProgress
	Window dataset.Window `json:"window"`
	// RunTime is the time a relative window was fixed from; zero for an
	// explicit window.
	RunTime time.Time              `json:"run_time,omitzero"`
	PerDay  []activities.ScoredDay `json:"per_day"`
}

// BatchScoreWorkflow scores every row of [From, To) (or of the relative
// window at the run's time) with one version and writes the predictions,
// one activity per day partition with at most window.parallelism days at
// once. Each day is idempotent: a retried or re-run day overwrites the same
// prediction rows.
func BatchScoreWorkflow(ctx workflow.Context, in BatchScoreInput) (*BatchScoreResult, error) {
	res := &BatchScoreResult{ScoreProgress: ScoreProgress{Model: in.Model}}
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (*ScoreProgress, error) { return &res.ScoreProgress, nil }); err != nil {
		return nil, err
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, AttrModel.ValueSet(in.Model))
	if r := in.Relative; r != (RelativeWindow{}) {
		if !in.From.IsZero() || !in.To.IsZero() {
			return nil, temporal.NewNonRetryableApplicationError("a relative window replaces from and to: set one or the other", activities.ErrTypeInvalidSpec, nil)
		}
		if err := r.check(); err != nil {
			return nil, temporal.NewNonRetryableApplicationError(err.Error(), activities.ErrTypeInvalidSpec, nil)
		}
		res.RunTime = runTime(ctx)
		w := r.At(res.RunTime)
		in.From, in.To = w.From, w.To
	}
	res.Window = dataset.Window{From: in.From, To: in.To}
	if !in.From.Before(in.To) {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("--from %s is not before --to %s", in.From, in.To), "InvalidSpec", nil)
	}
	light := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 10},
	})
	var spec activities.Spec
	if err := workflow.ExecuteActivity(light, a.LoadSpec, activities.LoadSpecInput{Model: in.Model}).Get(ctx, &spec); err != nil {
		return nil, err
	}
	var ver activities.Resolved
	if err := workflow.ExecuteActivity(light, a.ResolveScoringVersion, activities.ResolveInput{Model: in.Model, Version: in.Version}).Get(ctx, &ver); err != nil {
		return nil, err
	}
	res.Version, res.Generation = ver.Version, ver.Generation
	if workflow.GetVersion(ctx, changeScoreTask, workflow.DefaultVersion, 1) == 1 {
		res.Task = ver.Task
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, AttrChampion.ValueSet(ver.Version))

	days := dataset.Days(in.From, in.To)
	res.Days = len(days)
	dayCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           spec.TrainingTaskQueue,
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 2 * time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10},
	})
	parallel := max(1, spec.Model.Window.Parallelism)
	results := make([]activities.ScoredDay, len(days))
	var firstErr error
	sel := workflow.NewSelector(ctx)
	inFlight, next := 0, 0
	start := func(i int) {
		d := days[i]
		w := dataset.Window{From: maxTime(d, in.From), To: minTime(d.AddDate(0, 0, 1), in.To)}
		f := workflow.ExecuteActivity(summary(dayCtx, "score "+d.Format(time.DateOnly)), a.ScoreDay, activities.ScoreDayInput{
			Model: in.Model, Window: w, Version: ver.Version, Generation: ver.Generation, RunID: workflow.GetInfo(ctx).WorkflowExecution.RunID,
			Spec: &spec.Model,
		})
		inFlight++
		sel.AddFuture(f, func(f workflow.Future) {
			inFlight--
			var sd activities.ScoredDay
			if err := f.Get(ctx, &sd); err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			results[i] = sd
			res.DaysDone++
			res.Rows += sd.Rows
		})
	}
	for next < len(days) || inFlight > 0 {
		for inFlight < parallel && next < len(days) && firstErr == nil {
			start(next)
			next++
		}
		if inFlight == 0 {
			break
		}
		sel.Select(ctx)
	}
	if firstErr != nil {
		return nil, firstErr
	}
	res.PerDay = results
	res.Done = true
	return res, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
