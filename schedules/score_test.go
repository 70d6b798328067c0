package schedules_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/schedules"
	"github.com/kingmaker-ml/kingmaker/worker"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// scoreRowsPerDay is how many demo rows each seeded day holds.
const scoreRowsPerDay = 400

// TestAScoreScheduleScoresTheRowsBeforeItsRunTime runs the whole way on the
// real stack: seeded rows, a worker, a first champion made by a real
// retrain, then a nightly score schedule that is synced, triggered and
// backfilled, and whose runs write the predictions of their own day.
func TestAScoreScheduleScoresTheRowsBeforeItsRunTime(t *testing.T) {
	t.Parallel()
	s, cass := testenv.Cassandra(t)
	f := newFixture(t, "score")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	f.ctx = ctx
	model := f.model(0)
	id := workflows.ScheduleID(schedules.KindScore, model)
	f.cfg = scoreConfig(t, cass, model, f.cfg.Temporal.TaskQueue)

	// Eleven days up to today: a champion trained on the first seven, and
	// the days after them for the scoring runs.
	today := time.Now().UTC().Truncate(config.Day)
	seed := demo.Spec{Dataset: "churn", Start: today.AddDate(0, 0, -10), Days: 11, RowsPerDay: scoreRowsPerDay, Seed: 11}
	if err := demo.Write(ctx, s, cass.Keyspace, seed, 4, nil); err != nil {
		t.Fatalf("seed: %v", err)
	}
	st, err := worker.Open(ctx, f.cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open the stack: %v", err)
	}
	defer st.Close()
	workerCtx, stopWorker := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() {
		stopped <- worker.Run(workerCtx, st, worker.Options{
			Roles: []string{worker.RoleMain, worker.RoleTraining}, StopTimeout: 5 * time.Second, MaxConcurrentTrainings: 1,
			Logger: slog.New(slog.DiscardHandler),
		})
	}()
	defer func() {
		stopWorker()
		if err := <-stopped; err != nil {
			t.Errorf("the worker stopped with %v", err)
		}
	}()
	asOf := today.AddDate(0, 0, -3)
	run, err := f.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.RetrainWorkflowID(model, time.Now()), TaskQueue: f.cfg.Temporal.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.AttrModel.ValueSet(model)),
	}, workflows.RetrainWorkflowName, workflows.RetrainInput{Model: model, Reason: workflows.ReasonManual, RequestedBy: "test", AsOf: &asOf})
	if err != nil {
		t.Fatal(err)
	}
	var trained workflows.RetrainResult
	if err := run.Get(ctx, &trained); err != nil || trained.Outcome != string(evaluator.OutcomePromote) || trained.Champion == nil {
		t.Fatalf("the first retrain: %v, outcome %s (reasons %q); want a first champion", err, trained.Outcome, trained.Reasons)
	}
	champion := trained.Champion.Version.String()

	expectOutcomes(t, f.sync(), map[string]string{id: schedules.Created})
	d := f.describe(id)
	a := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	if a.Workflow != workflows.BatchScoreWorkflowName || a.ID != id || len(d.Schedule.Spec.Calendars) != 1 || d.Schedule.Spec.Calendars[0].Comment != "cron 0 2 * * *" {
		t.Errorf("the score schedule starts %s %q at %+v; want BatchScoreWorkflow at cron 0 2 * * *", a.Workflow, a.ID, d.Schedule.Spec)
	}
	expectOutcomes(t, f.sync(), map[string]string{id: schedules.Unchanged})

	// Pausing holds the nightly runs; a trigger still runs.
	if _, err := schedules.Pause(ctx, f.c, id, "paused by test"); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	trig, err := schedules.Trigger(ctx, f.c, id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(trig.WorkflowID, id+"-") {
		t.Fatalf("trigger started %q, want a workflow id starting %s-", trig.WorkflowID, id)
	}
	got := scoreResult(ctx, t, f, trig.WorkflowID)
	after := time.Now()
	// A triggered run's time is the trigger's: its window is the day before.
	if got.RunTime.Before(before.Add(-time.Second)) || got.RunTime.After(after) {
		t.Errorf("the triggered run's time %s is not the trigger's (%s .. %s)", got.RunTime, before, after)
	}
	expectScored(ctx, t, f, s, trig.WorkflowID, got.RunTime.Truncate(config.Day).AddDate(0, 0, -1), champion)

	// A backfilled slot two nights ago scores the day before that night,
	// not the day before now: the window comes from the scheduled time.
	slot := today.AddDate(0, 0, -2).Add(2 * time.Hour)
	h := f.c.ScheduleClient().GetHandle(ctx, id)
	if err := h.Backfill(ctx, client.ScheduleBackfillOptions{Backfill: []client.ScheduleBackfill{
		{Start: slot.Add(-time.Hour), End: slot.Add(time.Hour), Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL},
	}}); err != nil {
		t.Fatal(err)
	}
	back := expectScored(ctx, t, f, s, newRun(ctx, t, f, id, trig.WorkflowID), slot.Truncate(config.Day).AddDate(0, 0, -1), champion)
	if !back.RunTime.Equal(slot) {
		t.Errorf("the backfilled run's time is %s, want its slot %s", back.RunTime, slot)
	}

	list, err := schedules.List(ctx, f.c, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Kind != schedules.KindScore || !list[0].Paused || list[0].LastRun == nil {
		t.Errorf("list shows %+v; want the paused score schedule with its last run", list)
	}
	if _, err := schedules.Resume(ctx, f.c, id, "resumed by test"); err != nil {
		t.Fatal(err)
	}

	// Emptying the trigger deletes the schedule.
	f.cfg.Models[0].Schedule.Score.Trigger = config.Trigger{}
	f.cfg.Models[0].Schedule.Score.Align = config.AlignNone
	expectOutcomes(t, f.sync(), map[string]string{id: schedules.Deleted})
	if !f.gone(id) {
		t.Errorf("%s still exists after sync deleted it", id)
	}
}

// scoreConfig is the example config with one model of the test's name: it
// reads the demo churn rows, trains one fast candidate, and has a nightly
// score schedule and no other.
func scoreConfig(t *testing.T, cass config.Cassandra, model, queue string) *config.Config {
	t.Helper()
	cfg := testenv.ExampleConfig(t)
	m, err := cfg.Model("churn")
	if err != nil {
		t.Fatal(err)
	}
	m.Name = model
	m.Candidates = m.Candidates[:1]
	m.Schedule = config.Schedule{Score: config.ScoreTrigger{
		Trigger: config.Trigger{Cron: "0 2 * * *"}, Window: config.Duration(config.Day), Align: config.AlignDay,
	}}
	cfg.Models = []config.Model{*m}
	cfg.Cassandra = cass
	cfg.Temporal.HostPort = testenv.TemporalAddr()
	cfg.Temporal.TaskQueue = queue
	cfg.Temporal.TrainingTaskQueue = queue + "-training"
	cfg.Metrics.Listen = "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the test config is invalid: %v", err)
	}
	return cfg
}

// newRun waits until the schedule shows a run other than known and returns
// its workflow id.
func newRun(ctx context.Context, t *testing.T, f *fixture, id, known string) string {
	t.Helper()
	for {
		for _, a := range f.describe(id).Info.RecentActions {
			if r := a.StartWorkflowResult; r != nil && r.WorkflowID != known {
				return r.WorkflowID
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s started no run besides %s", id, known)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func scoreResult(ctx context.Context, t *testing.T, f *fixture, workflowID string) workflows.BatchScoreResult {
	t.Helper()
	var res workflows.BatchScoreResult
	if err := f.c.GetWorkflow(ctx, workflowID, "").Get(ctx, &res); err != nil {
		t.Fatalf("scoring run %s: %v", workflowID, err)
	}
	return res
}

// expectScored checks that a run scored exactly the day with the champion,
// that the predictions table holds that day's rows, and that the run is
// filterable by model and champion.
func expectScored(ctx context.Context, t *testing.T, f *fixture, s *gocql.Session, workflowID string, day time.Time, champion string) workflows.BatchScoreResult {
	t.Helper()
	res := scoreResult(ctx, t, f, workflowID)
	if !res.Window.From.Equal(day) || !res.Window.To.Equal(day.AddDate(0, 0, 1)) || res.Days != 1 {
		t.Errorf("the run scored %s over %d days, want the day %s alone", res.Window, res.Days, day.Format(time.DateOnly))
	}
	if res.Version != champion || res.Generation != 1 || res.Rows != scoreRowsPerDay {
		t.Errorf("the run scored %d rows with %s (generation %d), want %d with the champion %s", res.Rows, res.Version, res.Generation, scoreRowsPerDay, champion)
	}
	var n int64
	if err := s.Query(`SELECT COUNT(*) FROM `+f.cfg.Cassandra.Keyspace+`.predictions WHERE model = ? AND day = ?`, res.Model, day).
		WithContext(ctx).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != scoreRowsPerDay {
		t.Errorf("predictions holds %d rows of %s for %s, want %d", n, res.Model, day.Format(time.DateOnly), scoreRowsPerDay)
	}
	desc, err := f.c.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		t.Fatal(err)
	}
	attrs := desc.WorkflowExecutionInfo.SearchAttributes.GetIndexedFields()
	for _, k := range []string{workflows.AttrModel.GetName(), workflows.AttrChampion.GetName()} {
		if _, ok := attrs[k]; !ok {
			t.Errorf("the scoring run %s lacks the %s search attribute", workflowID, k)
		}
	}
	return res
}
