package schedules_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/schedules"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// These tests run against the Temporal dev server (testenv.TemporalAddr).
// Each uses model names and a task queue of its own, so they run in parallel
// with each other and with anyone else on the server, and delete what they
// create.

func suffix() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type fixture struct {
	t   *testing.T
	ctx context.Context
	c   client.Client
	cfg *config.Config
}

// newFixture dials the dev server and returns a config with the given
// models, named with a suffix unique to the test, on a task queue of the
// test's own. Every schedule of those models is deleted at the end.
func newFixture(t *testing.T, models ...string) *fixture {
	t.Helper()
	testenv.Integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	c, err := client.DialContext(dctx, client.Options{HostPort: testenv.TemporalAddr(), Namespace: "default", Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatalf("temporal dev server at %s: %v\n(start it with `scripts/temporal.sh start`)", testenv.TemporalAddr(), err)
	}
	s := suffix()
	cfg := &config.Config{}
	for _, m := range models {
		cfg.Models = append(cfg.Models, config.Model{Name: m + "-" + s, Schedule: config.Schedule{
			Retrain: config.Trigger{Every: config.Duration(24 * time.Hour), Jitter: config.Duration(10 * time.Minute)},
			Drift:   config.Trigger{Cron: "15 * * * *"},
		}})
	}
	cfg.SetDefaults()
	cfg.Temporal.TaskQueue = "kingmaker-test-" + s
	f := &fixture{t: t, ctx: ctx, c: c, cfg: cfg}
	ids := f.ids()
	t.Cleanup(func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, id := range ids {
			c.ScheduleClient().GetHandle(dctx, id).Delete(dctx)
		}
		c.Close()
	})
	return f
}

// ids lists every schedule id the fixture's models can have.
func (f *fixture) ids() []string {
	var ids []string
	for _, m := range f.cfg.Models {
		for _, k := range schedules.Kinds {
			ids = append(ids, workflows.ScheduleID(k, m.Name))
		}
	}
	return ids
}

func (f *fixture) model(i int) string { return f.cfg.Models[i].Name }

func (f *fixture) sync() *schedules.Result {
	f.t.Helper()
	res, err := schedules.Sync(f.ctx, f.c, f.cfg)
	if err != nil {
		f.t.Fatalf("sync: %v", err)
	}
	return res
}

func (f *fixture) describe(id string) *client.ScheduleDescription {
	f.t.Helper()
	d, err := f.c.ScheduleClient().GetHandle(f.ctx, id).Describe(f.ctx)
	if err != nil {
		f.t.Fatalf("describe %s: %v", id, err)
	}
	return d
}

func (f *fixture) gone(id string) bool {
	_, err := f.c.ScheduleClient().GetHandle(f.ctx, id).Describe(f.ctx)
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

// waitListed waits until the (eventually consistent) schedule listing shows
// every id, as Sync needs it to find schedules of removed models.
func (f *fixture) waitListed(ids ...string) {
	f.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		it, err := f.c.ScheduleClient().List(f.ctx, client.ScheduleListOptions{})
		if err != nil {
			f.t.Fatal(err)
		}
		seen := map[string]bool{}
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				f.t.Fatal(err)
			}
			seen[e.ID] = true
		}
		missing := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return seen[id] })
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("the schedule listing still lacks %v after 30s", missing)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// outcomes maps schedule id to Sync's outcome.
func outcomes(res *schedules.Result) map[string]string {
	m := map[string]string{}
	for _, c := range res.Schedules {
		m[c.ID] = c.Outcome
	}
	return m
}

func expectOutcomes(t *testing.T, res *schedules.Result, want map[string]string) {
	t.Helper()
	got := outcomes(res)
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: sync says %q, want %q (all: %v)", id, got[id], w, got)
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("sync touched %s (%s), which it should not have", id, g)
		}
	}
}

func TestSyncCreatesBothSchedulesThenChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "sync")
	m := f.model(0)
	retrain, drift := "retrain-"+m, "drift-"+m

	expectOutcomes(t, f.sync(), map[string]string{retrain: schedules.Created, drift: schedules.Created})

	d := f.describe(retrain)
	if iv := d.Schedule.Spec.Intervals; len(iv) != 1 || iv[0].Every != 24*time.Hour || d.Schedule.Spec.Jitter != 10*time.Minute {
		t.Errorf("retrain spec %+v, want every 24h with 10m jitter", d.Schedule.Spec)
	}
	if d.Schedule.Policy.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_SKIP || d.Schedule.Policy.CatchupWindow != schedules.DefaultCatchupWindow {
		t.Errorf("retrain policy %+v, want skip and the default catch-up window", d.Schedule.Policy)
	}
	if d.Schedule.State.Paused {
		t.Error("retrain schedule is paused; the config does not say so")
	}
	a := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	if a.ID != retrain || a.Workflow != workflows.RetrainWorkflowName || a.TaskQueue != f.cfg.Temporal.TaskQueue {
		t.Errorf("retrain action starts %v %q on %q", a.Workflow, a.ID, a.TaskQueue)
	}
	if v, _ := a.TypedSearchAttributes.GetKeyword(workflows.AttrModel); v != m {
		t.Errorf("retrain runs would carry KingmakerModel=%q, want %q", v, m)
	}
	var queue string
	if p := d.Memo.GetFields()[schedules.MemoTaskQueue]; p == nil || converter.GetDefaultDataConverter().FromPayload(p, &queue) != nil || queue != f.cfg.Temporal.TaskQueue {
		t.Errorf("the schedule's memo names task queue %q, want %q (so other deployments skip it unread)", queue, f.cfg.Temporal.TaskQueue)
	}
	dd := f.describe(drift)
	if len(dd.Schedule.Spec.Calendars) != 1 || dd.Schedule.Spec.Calendars[0].Comment != "cron 15 * * * *" {
		t.Errorf("drift spec %+v, want the cron as one calendar", dd.Schedule.Spec)
	}
	if next := dd.Info.NextActionTimes; len(next) == 0 || next[0].Minute() != 15 || next[0].Second() != 0 {
		t.Errorf("drift's next runs %v should be at minute 15", next)
	}

	again := f.sync()
	expectOutcomes(t, again, map[string]string{retrain: schedules.Unchanged, drift: schedules.Unchanged})
	if d2 := f.describe(retrain); !d2.Info.LastUpdateAt.Equal(d.Info.LastUpdateAt) {
		t.Errorf("an unchanged sync updated the schedule (last update %s -> %s)", d.Info.LastUpdateAt, d2.Info.LastUpdateAt)
	}
}

func TestSyncUpdatesAChangedInterval(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "interval")
	retrain, drift := "retrain-"+f.model(0), "drift-"+f.model(0)
	f.sync()

	f.cfg.Models[0].Schedule.Retrain.Every = config.Duration(12 * time.Hour)
	f.cfg.Models[0].Schedule.Drift.CatchupWindow = config.Duration(5 * time.Minute)
	// Lists, steps, names and both day fields (two calendars) round-trip too.
	f.cfg.Models[0].Schedule.Drift.Cron = "*/20 1-5 1,15 * MON-FRI"
	res := f.sync()
	expectOutcomes(t, res, map[string]string{retrain: schedules.Updated, drift: schedules.Updated})
	for _, c := range res.Schedules {
		if c.ID == retrain && !slices.Contains(c.Details, "spec: every 1d, jitter 10m -> every 12h, jitter 10m") {
			t.Errorf("retrain update details %q should say the interval changed", c.Details)
		}
	}
	if iv := f.describe(retrain).Schedule.Spec.Intervals; len(iv) != 1 || iv[0].Every != 12*time.Hour {
		t.Errorf("retrain intervals %+v after the update, want every 12h", iv)
	}
	dd := f.describe(drift)
	if w := dd.Schedule.Policy.CatchupWindow; w != 5*time.Minute {
		t.Errorf("drift catch-up window %s after the update, want 5m", w)
	}
	for _, next := range dd.Info.NextActionTimes {
		wd, day := next.Weekday(), next.Day()
		if next.Minute()%20 != 0 || next.Hour() < 1 || next.Hour() > 5 || (day != 1 && day != 15 && (wd == time.Saturday || wd == time.Sunday)) {
			t.Errorf("drift's next run %s does not match */20 1-5 1,15 * MON-FRI", next)
		}
	}
	expectOutcomes(t, f.sync(), map[string]string{retrain: schedules.Unchanged, drift: schedules.Unchanged})
}

func TestSyncDeletesSchedulesTheConfigNoLongerAsksFor(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "keep", "drop")
	keep, drop := f.model(0), f.model(1)
	f.sync()
	f.waitListed("retrain-"+drop, "drift-"+drop)

	f.cfg.Models = f.cfg.Models[:1]
	f.cfg.Models[0].Schedule.Drift = config.Trigger{}
	res := f.sync()
	expectOutcomes(t, res, map[string]string{
		"retrain-" + keep: schedules.Unchanged,
		"drift-" + keep:   schedules.Deleted,
		"retrain-" + drop: schedules.Deleted,
		"drift-" + drop:   schedules.Deleted,
	})
	for _, id := range []string{"drift-" + keep, "retrain-" + drop, "drift-" + drop} {
		if !f.gone(id) {
			t.Errorf("%s still exists after sync deleted it", id)
		}
	}
	for _, c := range res.Schedules {
		if c.ID == "retrain-"+drop && (c.Model != drop || !strings.Contains(strings.Join(c.Details, " "), "no longer in the config")) {
			t.Errorf("deletion of %s reads %+v; it should name the model and say why", c.ID, c)
		}
	}
	expectOutcomes(t, f.sync(), map[string]string{"retrain-" + keep: schedules.Unchanged})
}

func TestSyncAfterATaskQueueRenameRecreatesTheSchedulesAndStillDeletesThem(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "moved")
	m := f.model(0)
	retrain := "retrain-" + m
	f.sync()
	if _, err := schedules.Pause(f.ctx, f.c, retrain, "by hand"); err != nil {
		t.Fatal(err)
	}

	old := f.cfg.Temporal.TaskQueue
	f.cfg.Temporal.TaskQueue = old + "-renamed"
	f.cfg.SetDefaults()
	res := f.sync()
	expectOutcomes(t, res, map[string]string{retrain: schedules.Updated, "drift-" + m: schedules.Updated})
	for _, c := range res.Schedules {
		if !strings.Contains(strings.Join(c.Details, " "), "task queue "+old+" -> "+old+"-renamed") {
			t.Errorf("%s: details %q should name the queue change", c.ID, c.Details)
		}
	}
	d := f.describe(retrain)
	var queue string
	if p := d.Memo.GetFields()[schedules.MemoTaskQueue]; p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &queue)
	}
	if a := d.Schedule.Action.(*client.ScheduleWorkflowAction); a.TaskQueue != f.cfg.Temporal.TaskQueue || queue != f.cfg.Temporal.TaskQueue {
		t.Errorf("after the rename the action runs on %q and the memo says %q, want both %q", a.TaskQueue, queue, f.cfg.Temporal.TaskQueue)
	}
	if !d.Schedule.State.Paused || d.Schedule.State.Note != "by hand" {
		t.Errorf("the pause made by hand was lost: %+v", d.Schedule.State)
	}
	expectOutcomes(t, f.sync(), map[string]string{retrain: schedules.Unchanged, "drift-" + m: schedules.Unchanged})

	// Now the renamed deployment drops the model: its schedules are found
	// and deleted, not hidden by a stale memo.
	f.waitListed(retrain, "drift-"+m)
	f.cfg.Models[0].Schedule = config.Schedule{}
	expectOutcomes(t, f.sync(), map[string]string{retrain: schedules.Deleted, "drift-" + m: schedules.Deleted})
	if !f.gone(retrain) {
		t.Errorf("%s still exists", retrain)
	}
}

func TestSyncLeavesSchedulesItDoesNotOwnAlone(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "owned")
	m := f.model(0)
	sc := f.c.ScheduleClient()
	q := f.cfg.Temporal.TaskQueue
	foreign := func(id string, memo map[string]any) {
		t.Helper()
		_, err := sc.Create(f.ctx, client.ScheduleOptions{
			ID: id, Memo: memo,
			Spec:   client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: 7 * time.Hour}}},
			Action: &client.ScheduleWorkflowAction{ID: id, Workflow: "SomeoneElsesWorkflow", TaskQueue: q},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sc.GetHandle(context.Background(), id).Delete(context.Background()) })
	}
	// Someone else's schedule with the id Kingmaker would use, one beside it
	// on the same task queue, and a Kingmaker schedule of another deployment
	// (its own task queue) whose model this config does not have.
	foreign("retrain-"+m, nil)
	foreign("other-"+m, map[string]any{"team": "billing"})
	// One as schedules made before the task-queue memo (told apart by
	// describing its action), one with it (skipped from the listing).
	other, tagged := "retrain-elsewhere-"+suffix(), "drift-elsewhere-"+suffix()
	for _, id := range []string{other, tagged} {
		memo := map[string]any{schedules.MemoManagedBy: schedules.ManagedBy, schedules.MemoModel: strings.SplitN(id, "-", 2)[1], schedules.MemoKind: "retrain"}
		if id == tagged {
			memo[schedules.MemoTaskQueue] = q + "-elsewhere"
		}
		_, err := sc.Create(f.ctx, client.ScheduleOptions{
			ID: id, Memo: memo,
			Spec:   client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: 7 * time.Hour}}},
			Action: &client.ScheduleWorkflowAction{ID: id, Workflow: workflows.RetrainWorkflowName, TaskQueue: q + "-elsewhere"},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sc.GetHandle(context.Background(), id).Delete(context.Background()) })
	}
	f.waitListed("retrain-"+m, "other-"+m, other, tagged)

	before := map[string]time.Time{}
	for _, id := range []string{"retrain-" + m, "other-" + m, other, tagged} {
		before[id] = f.describe(id).Info.LastUpdateAt
	}

	res, err := schedules.Sync(f.ctx, f.c, f.cfg)
	if !errors.Is(err, schedules.ErrNotOwned) || !strings.Contains(err.Error(), "retrain-"+m) {
		t.Errorf("sync error %v, want ErrNotOwned naming retrain-%s", err, m)
	}
	expectOutcomes(t, res, map[string]string{"retrain-" + m: schedules.Skipped, "drift-" + m: schedules.Created})
	for _, id := range []string{"retrain-" + m, "other-" + m, other, tagged} {
		d := f.describe(id)
		if iv := d.Schedule.Spec.Intervals; len(iv) != 1 || iv[0].Every != 7*time.Hour || !d.Info.LastUpdateAt.Equal(before[id]) {
			t.Errorf("%s was changed by sync: %+v (last update %s -> %s)", id, d.Schedule.Spec, before[id], d.Info.LastUpdateAt)
		}
	}
	if _, err := schedules.Pause(f.ctx, f.c, "retrain-"+m, "no"); !errors.Is(err, schedules.ErrNotOwned) {
		t.Errorf("pausing a schedule Kingmaker does not own: %v, want ErrNotOwned", err)
	}
}

func TestPauseAndResumeFlipTheState(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "pause")
	retrain, drift := "retrain-"+f.model(0), "drift-"+f.model(0)
	f.sync()

	st, err := schedules.Pause(f.ctx, f.c, retrain, "paused by test: incident 42")
	if err != nil {
		t.Fatal(err)
	}
	if st.WasPaused || !st.Paused {
		t.Errorf("pause reported %+v", st)
	}
	if d := f.describe(retrain); !d.Schedule.State.Paused || d.Schedule.State.Note != "paused by test: incident 42" {
		t.Errorf("after pause: paused=%t note=%q", d.Schedule.State.Paused, d.Schedule.State.Note)
	}
	// The config does not say paused, but sync keeps a person's pause.
	expectOutcomes(t, f.sync(), map[string]string{retrain: schedules.Unchanged, drift: schedules.Unchanged})
	if !f.describe(retrain).Schedule.State.Paused {
		t.Error("sync resumed a schedule a person had paused")
	}
	if _, err := schedules.Resume(f.ctx, f.c, retrain, "resumed by test"); err != nil {
		t.Fatal(err)
	}
	if f.describe(retrain).Schedule.State.Paused {
		t.Error("resume left the schedule paused")
	}

	// paused: true in the config pauses at sync; dropping it resumes.
	f.cfg.Models[0].Schedule.Drift.Paused = true
	expectOutcomes(t, f.sync(), map[string]string{retrain: schedules.Unchanged, drift: schedules.Updated})
	if d := f.describe(drift); !d.Schedule.State.Paused || !strings.Contains(d.Schedule.State.Note, "models[0].schedule.drift.paused is true") {
		t.Errorf("config pause: paused=%t note=%q", d.Schedule.State.Paused, d.Schedule.State.Note)
	}
	f.cfg.Models[0].Schedule.Drift.Paused = false
	expectOutcomes(t, f.sync(), map[string]string{retrain: schedules.Unchanged, drift: schedules.Updated})
	if f.describe(drift).Schedule.State.Paused {
		t.Error("sync kept a pause the config no longer asks for")
	}

	if _, err := schedules.Pause(f.ctx, f.c, "retrain-nothing-"+suffix(), "x"); !errors.Is(err, schedules.ErrNotFound) || !strings.Contains(err.Error(), "kingmaker schedule sync") {
		t.Errorf("pausing a missing schedule: %v, want ErrNotFound telling to run sync", err)
	}
}

func TestTriggerStartsAWorkflowWithTheSchedulesIDPrefix(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "trigger")
	m := f.model(0)
	retrain := "retrain-" + m
	f.sync()
	// No worker polls the test's task queue: the run starts and stays running.
	// Triggering works on a paused schedule too.
	if _, err := schedules.Pause(f.ctx, f.c, retrain, "paused by test"); err != nil {
		t.Fatal(err)
	}

	got, err := schedules.Trigger(f.ctx, f.c, retrain)
	if err != nil {
		t.Fatal(err)
	}
	// Trigger waits 10 s to see the run; on a loaded machine the schedule
	// may start it later: then the run shows in the schedule's recent
	// actions.
	for deadline := time.Now().Add(time.Minute); got.WorkflowID == "" && time.Now().Before(deadline); time.Sleep(time.Second) {
		for _, a := range f.describe(retrain).Info.RecentActions {
			if a.StartWorkflowResult != nil {
				got.WorkflowID = a.StartWorkflowResult.WorkflowID
			}
		}
	}
	t.Cleanup(func() {
		if got.WorkflowID != "" {
			f.c.TerminateWorkflow(context.Background(), got.WorkflowID, "", "test over")
		}
	})
	if !strings.HasPrefix(got.WorkflowID, retrain+"-") {
		t.Fatalf("trigger started %q, want a workflow id starting %s-", got.WorkflowID, retrain)
	}
	desc, err := f.c.DescribeWorkflowExecution(f.ctx, got.WorkflowID, "")
	if err != nil {
		t.Fatalf("the triggered workflow %s: %v", got.WorkflowID, err)
	}
	info := desc.WorkflowExecutionInfo
	if info.Type.GetName() != workflows.RetrainWorkflowName || info.TaskQueue != f.cfg.Temporal.TaskQueue {
		t.Errorf("triggered %s on %s, want %s on %s", info.Type.GetName(), info.TaskQueue, workflows.RetrainWorkflowName, f.cfg.Temporal.TaskQueue)
	}
	if _, ok := info.SearchAttributes.GetIndexedFields()[workflows.AttrModel.GetName()]; !ok {
		t.Errorf("the triggered run lacks the %s search attribute", workflows.AttrModel.GetName())
	}

	_, err = schedules.Trigger(f.ctx, f.c, retrain)
	if !errors.Is(err, schedules.ErrRunning) || !strings.Contains(err.Error(), got.WorkflowID) {
		t.Errorf("a second trigger while %s runs: %v, want ErrRunning naming it", got.WorkflowID, err)
	}

	list, err := schedules.List(f.ctx, f.c, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	var e *schedules.Entry
	for i := range list {
		if list[i].ID == retrain {
			e = &list[i]
		}
	}
	if e == nil || !e.Paused || !e.InConfig || !e.Exists || e.LastRun == nil || e.LastRun.WorkflowID != got.WorkflowID ||
		!slices.Contains(e.Running, got.WorkflowID) || e.Spec != "every 1d, jitter 10m" {
		t.Errorf("list shows %+v; want it paused, in the config, with the triggered run as last and running", e)
	}
}

func TestListShowsWhatSyncWouldDo(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "list")
	m := f.model(0)
	list, err := schedules.List(f.ctx, f.c, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "retrain-"+m || list[0].Exists || !list[0].InConfig || !strings.Contains(list[0].Note, "kingmaker schedule sync") {
		t.Fatalf("before sync, list shows %+v; want both schedules missing, with a hint to sync", list)
	}
	f.sync()
	list, err = schedules.List(f.ctx, f.c, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list {
		if !e.Exists || e.Paused || len(e.NextRuns) == 0 || e.LastRun != nil {
			t.Errorf("after sync, %s shows %+v; want it existing, running, with next runs and no last run", e.ID, e)
		}
	}
	if list[1].Kind != schedules.KindDrift || list[1].Spec != "cron 15 * * * *" {
		t.Errorf("second entry %+v, want the drift schedule summarised as its cron", list[1])
	}
}
