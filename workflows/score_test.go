package workflows_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestARelativeWindowEndsAtTheRunTimeLessLagAligned(t *testing.T) {
	day, hour := config.Duration(config.Day), config.Duration(time.Hour)
	tests := []struct {
		name     string
		window   workflows.RelativeWindow
		runTime  string
		from, to string
	}{
		{"a nightly run at 02:00 aligned to days scores all of yesterday",
			workflows.RelativeWindow{Length: day, Align: config.AlignDay}, "2026-11-25T02:00:00Z", "2026-11-24T00:00:00Z", "2026-11-25T00:00:00Z"},
		{"two days aligned to days score the two days before the run's day",
			workflows.RelativeWindow{Length: 2 * day, Align: config.AlignDay}, "2026-11-25T23:59:59Z", "2026-11-23T00:00:00Z", "2026-11-25T00:00:00Z"},
		{"without alignment the window ends at the run's time",
			workflows.RelativeWindow{Length: day, Align: config.AlignNone}, "2026-11-25T02:00:00Z", "2026-11-24T02:00:00Z", "2026-11-25T02:00:00Z"},
		{"an empty alignment is none",
			workflows.RelativeWindow{Length: 6 * hour}, "2026-11-25T02:30:00Z", "2026-11-24T20:30:00Z", "2026-11-25T02:30:00Z"},
		{"an hourly run with a lag scores the last whole hour before the lag",
			workflows.RelativeWindow{Length: hour, Lag: config.Duration(15 * time.Minute), Align: config.AlignHour}, "2026-11-25T10:05:00Z", "2026-11-25T08:00:00Z", "2026-11-25T09:00:00Z"},
		{"a lag that crosses midnight moves a daily window back a day",
			workflows.RelativeWindow{Length: day, Lag: config.Duration(3 * time.Hour), Align: config.AlignDay}, "2026-11-25T02:00:00Z", "2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z"},
		{"a run time in another zone is read in UTC",
			workflows.RelativeWindow{Length: day, Align: config.AlignDay}, "2026-11-25T01:00:00+02:00", "2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.window.At(at(tc.runTime))
			if !got.From.Equal(at(tc.from)) || !got.To.Equal(at(tc.to)) {
				t.Errorf("%+v at %s = %s, want %s .. %s", tc.window, tc.runTime, got, tc.from, tc.to)
			}
		})
	}
}

// scoreRun is the outcome of a BatchScoreWorkflow run and the days it scored.
type scoreRun struct {
	res  *workflows.BatchScoreResult
	err  error
	days []activities.ScoreDayInput
}

// runBatchScore runs BatchScoreWorkflow in the SDK test environment with its
// activities mocked; scheduledFor, when set, is the run's
// TemporalScheduledStartTime, as a schedule sets it.
func runBatchScore(t *testing.T, start time.Time, scheduledFor *time.Time, in workflows.BatchScoreInput) scoreRun {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	if scheduledFor != nil {
		attrs := temporal.NewSearchAttributes(temporal.NewSearchAttributeKeyTime(workflows.AttrScheduledStartTime).ValueSet(*scheduledFor))
		if err := env.SetTypedSearchAttributesOnStart(attrs); err != nil {
			t.Fatal(err)
		}
	}
	env.RegisterWorkflowWithOptions(workflows.BatchScoreWorkflow, workflow.RegisterOptions{Name: workflows.BatchScoreWorkflowName})
	acts := &activities.Activities{}
	env.RegisterActivity(acts)
	spec := exampleSpec(t, nil)
	env.OnActivity(acts.LoadSpec, mock.Anything, mock.Anything).Return(&spec, nil)
	env.OnActivity(acts.ResolveScoringVersion, mock.Anything, mock.Anything).Return(
		&activities.Resolved{Version: "0b7c4e1a-ca5e-11f0-8000-000000000001", Algorithm: "logistic", Generation: 3, Task: "binary"}, nil)
	var (
		mu  sync.Mutex
		run scoreRun
	)
	env.OnActivity(acts.ScoreDay, mock.Anything, mock.Anything).Return(
		func(_ context.Context, d activities.ScoreDayInput) (*activities.ScoredDay, error) {
			mu.Lock()
			defer mu.Unlock()
			run.days = append(run.days, d)
			return &activities.ScoredDay{Day: d.Window.From.Truncate(config.Day), Rows: 100}, nil
		})
	env.ExecuteWorkflow(workflows.BatchScoreWorkflowName, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("the scoring run did not complete")
	}
	// Days run in parallel: put them in calendar order.
	slices.SortFunc(run.days, func(a, b activities.ScoreDayInput) int { return a.Window.From.Compare(b.Window.From) })
	if run.err = env.GetWorkflowError(); run.err == nil {
		if err := env.GetWorkflowResult(&run.res); err != nil {
			t.Fatal(err)
		}
	}
	return run
}

func TestAScheduledScoringRunScoresTheWindowOfItsScheduledTime(t *testing.T) {
	// The schedule meant the run for 02:00; jitter started it at 02:09:30.
	scheduled, started := at("2026-11-25T02:00:00Z"), at("2026-11-25T02:09:30Z")
	nightly := workflows.RelativeWindow{Length: config.Duration(config.Day), Align: config.AlignDay}
	run := runBatchScore(t, started, &scheduled, workflows.BatchScoreInput{Model: "churn", Relative: nightly, Reason: workflows.ReasonSchedule})
	if run.err != nil {
		t.Fatal(run.err)
	}
	yesterday := dataset.Window{From: at("2026-11-24T00:00:00Z"), To: at("2026-11-25T00:00:00Z")}
	if !run.res.RunTime.Equal(scheduled) || !run.res.Window.From.Equal(yesterday.From) || !run.res.Window.To.Equal(yesterday.To) {
		t.Errorf("the run's time is %s and its window %s; want the scheduled %s and yesterday, %s", run.res.RunTime, run.res.Window, scheduled, yesterday)
	}
	if len(run.days) != 1 || !run.days[0].Window.From.Equal(yesterday.From) || !run.days[0].Window.To.Equal(yesterday.To) || run.days[0].Generation != 3 {
		t.Errorf("scored days %+v, want yesterday alone with the champion of generation 3", run.days)
	}
	if run.res.Rows != 100 || run.res.Days != 1 || !run.res.Done || run.res.Task != "binary" {
		t.Errorf("result %+v, want one day of 100 rows, done, by a binary version", run.res.ScoreProgress)
	}

	// A catch-up run hours late still scores the day its slot was for.
	late := runBatchScore(t, scheduled.Add(23*time.Hour), &scheduled, workflows.BatchScoreInput{Model: "churn", Relative: nightly})
	if late.err != nil || !late.res.Window.From.Equal(yesterday.From) || !late.res.Window.To.Equal(yesterday.To) {
		t.Errorf("a run started 23h late scored %v (%v), want %s", late.res, late.err, yesterday)
	}
}

func TestARelativeWindowWithoutAScheduledTimeIsFixedFromTheRunsStart(t *testing.T) {
	started := at("2026-11-25T10:20:00Z")
	run := runBatchScore(t, started, nil, workflows.BatchScoreInput{Model: "churn", Relative: workflows.RelativeWindow{
		Length: config.Duration(2 * time.Hour), Lag: config.Duration(10 * time.Minute), Align: config.AlignHour,
	}})
	if run.err != nil {
		t.Fatal(run.err)
	}
	if !run.res.RunTime.Equal(started) || !run.res.Window.From.Equal(at("2026-11-25T08:00:00Z")) || !run.res.Window.To.Equal(at("2026-11-25T10:00:00Z")) {
		t.Errorf("run time %s, window %s; want the start %s and 08:00 .. 10:00", run.res.RunTime, run.res.Window, started)
	}
}

func TestAnExplicitWindowIsScoredAsGiven(t *testing.T) {
	from, to := at("2026-11-20T12:00:00Z"), at("2026-11-22T00:00:00Z")
	scheduled := at("2026-11-25T02:00:00Z")
	run := runBatchScore(t, at("2026-11-25T10:20:00Z"), &scheduled, workflows.BatchScoreInput{Model: "churn", From: from, To: to})
	if run.err != nil {
		t.Fatal(run.err)
	}
	if !run.res.RunTime.IsZero() || !run.res.Window.From.Equal(from) || !run.res.Window.To.Equal(to) || len(run.days) != 2 {
		t.Errorf("run time %s, window %s, %d days; want no run time, the given window, two days", run.res.RunTime, run.res.Window, len(run.days))
	}
	if !run.days[0].Window.From.Equal(from) || !run.days[0].Window.To.Equal(at("2026-11-21T00:00:00Z")) {
		t.Errorf("the first day scored %s, want from the window's start to midnight", run.days[0].Window)
	}
}

func TestABadRelativeWindowFailsTheRunWithoutRetrying(t *testing.T) {
	tests := []struct {
		name string
		in   workflows.BatchScoreInput
	}{
		{"a relative window beside explicit dates", workflows.BatchScoreInput{Model: "churn", From: at("2026-11-20T00:00:00Z"),
			Relative: workflows.RelativeWindow{Length: config.Duration(config.Day)}}},
		{"a relative window of no length", workflows.BatchScoreInput{Model: "churn", Relative: workflows.RelativeWindow{Align: config.AlignDay}}},
		{"an unknown alignment", workflows.BatchScoreInput{Model: "churn", Relative: workflows.RelativeWindow{Length: config.Duration(config.Day), Align: "week"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run := runBatchScore(t, at("2026-11-25T10:20:00Z"), nil, tc.in)
			var appErr *temporal.ApplicationError
			if !errors.As(run.err, &appErr) || !appErr.NonRetryable() || appErr.Type() != activities.ErrTypeInvalidSpec || len(run.days) != 0 {
				t.Errorf("error %v after scoring %d days; want a non-retryable %s error before any", run.err, len(run.days), activities.ErrTypeInvalidSpec)
			}
		})
	}
}
