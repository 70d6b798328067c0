package schedules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// Outcomes of Sync for one schedule.
const (
	Created   = "created"
	Updated   = "updated"
	Unchanged = "unchanged"
	Deleted   = "deleted"
	// Skipped: a schedule of that id exists but is not Kingmaker's.
	Skipped = "skipped"
	// Failed: Temporal refused the change; Change.Error says why.
	Failed = "failed"
)

// Errors callers branch on.
var (
	// ErrNotFound: Temporal has no schedule of that id.
	ErrNotFound = errors.New("no such schedule")
	// ErrNotOwned: the schedule exists but Kingmaker did not create it.
	ErrNotOwned = errors.New("schedule is not managed by Kingmaker")
	// ErrRunning: the schedule's previous run is still going.
	ErrRunning = errors.New("schedule has a run in progress")
)

// configPauseNote starts the note of a schedule that Sync paused because the
// config says paused: true. Sync resumes only schedules whose note starts so.
const configPauseNote = "paused by kingmaker schedule sync"

// Result is what Sync did, or what Plan would do, per schedule.
type Result struct {
	DryRun    bool     `json:"dry_run"`
	Schedules []Change `json:"schedules"`
}

// Count returns how many schedules had the outcome.
func (r *Result) Count(outcome string) int {
	n := 0
	for _, c := range r.Schedules {
		if c.Outcome == outcome {
			n++
		}
	}
	return n
}

// Change is the outcome of Sync for one schedule.
type Change struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Kind    string `json:"kind"`
	Outcome string `json:"result"`
	// Spec says when the schedule runs (as the config asks).
	Spec   string `json:"spec,omitempty"`
	Paused bool   `json:"paused"`
	// Details says what changed, or why nothing did.
	Details []string `json:"details,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// Sync creates, updates and deletes schedules until Temporal has exactly the
// ones the config asks for (see the package comment for what is compared
// and how pausing is kept). It goes on past a schedule it cannot change and
// returns every such problem joined; the Result always says what happened.
// A config problem (a bad cron expression) stops it before any change.
func Sync(ctx context.Context, c client.Client, cfg *config.Config) (*Result, error) {
	return syncSchedules(ctx, c, cfg, true)
}

// Plan is Sync without the changes: what Sync would do now.
func Plan(ctx context.Context, c client.Client, cfg *config.Config) (*Result, error) {
	return syncSchedules(ctx, c, cfg, false)
}

func syncSchedules(ctx context.Context, c client.Client, cfg *config.Config, apply bool) (*Result, error) {
	want, err := FromConfig(cfg)
	if err != nil {
		return nil, err
	}
	sc := c.ScheduleClient()
	res := &Result{DryRun: !apply, Schedules: []Change{}}
	var errs []error
	wanted := map[string]bool{}
	for _, s := range want {
		wanted[s.ID] = true
		ch, err := syncOne(ctx, sc, s, apply)
		if err != nil {
			ch.Error = err.Error()
			errs = append(errs, err)
		}
		res.Schedules = append(res.Schedules, ch)
	}

	// Schedules Kingmaker owns that the config no longer asks for: those of
	// configured models whose trigger is empty (known ids, no listing needed)
	// and those the listing shows (models removed from the config).
	var candidates []string
	seen := map[string]bool{}
	add := func(id string) {
		if !wanted[id] && !seen[id] {
			seen[id] = true
			candidates = append(candidates, id)
		}
	}
	for _, m := range cfg.Models {
		for _, kind := range Kinds {
			add(workflows.ScheduleID(kind, m.Name))
		}
	}
	listed, err := listOwned(ctx, sc, cfg.Temporal.TaskQueue)
	if err != nil {
		errs = append(errs, err)
	}
	for _, id := range listed {
		add(id)
	}
	for _, id := range candidates {
		ch, ok, err := deleteStale(ctx, sc, cfg, id, apply)
		if err != nil {
			ch.Outcome, ch.Error = Failed, err.Error()
			errs = append(errs, err)
		}
		if ok || err != nil {
			res.Schedules = append(res.Schedules, ch)
		}
	}
	return res, errors.Join(errs...)
}

func syncOne(ctx context.Context, sc client.ScheduleClient, s Schedule, apply bool) (Change, error) {
	ch := Change{ID: s.ID, Model: s.Model, Kind: s.Kind, Spec: s.Summary(), Paused: s.Trigger.Paused}
	h := sc.GetHandle(ctx, s.ID)
	desc, err := h.Describe(ctx)
	if isNotFound(err) {
		ch.Outcome = Created
		ch.Details = []string{s.Summary()}
		if s.Trigger.Paused {
			ch.Details = append(ch.Details, "paused ("+s.Field+".paused)")
		}
		if !apply {
			return ch, nil
		}
		if _, err := sc.Create(ctx, createOptions(s)); err != nil {
			ch.Outcome = Failed
			return ch, fmt.Errorf("create schedule %s: %w", s.ID, err)
		}
		return ch, nil
	}
	if err != nil {
		ch.Outcome = Failed
		return ch, fmt.Errorf("describe schedule %s: %w", s.ID, err)
	}
	if _, _, ok := owner(desc.Memo); !ok {
		ch.Outcome = Skipped
		ch.Paused = isPaused(desc)
		return ch, fmt.Errorf("%w: %s exists without the %s: %s memo, so it is left alone; delete it or rename model %s",
			ErrNotOwned, s.ID, MemoManagedBy, ManagedBy, s.Model)
	}
	if q := memoString(desc.Memo, MemoTaskQueue); q != "" && q != s.Action.TaskQueue {
		return recreate(ctx, sc, s, desc, q, ch, apply)
	}
	diffs := Diff(s, desc)
	pause, note := pauseChange(s, desc.Schedule.State)
	ch.Paused = isPaused(desc)
	if pause != "" {
		ch.Paused = pause == "pause"
	}
	if len(diffs) == 0 && pause == "" {
		ch.Outcome = Unchanged
		if ch.Paused && desc.Schedule.State.Note != "" {
			ch.Details = []string{"stays paused: " + desc.Schedule.State.Note}
		}
		return ch, nil
	}
	ch.Outcome = Updated
	ch.Details = diffs
	if pause != "" {
		ch.Details = append(ch.Details, note)
	}
	if !apply {
		return ch, nil
	}
	if len(diffs) > 0 {
		err := h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			if len(Diff(s, &in.Description)) == 0 {
				return nil, temporal.ErrSkipScheduleUpdate
			}
			next := in.Description.Schedule // keeps the state: paused, note
			spec, policy := s.Spec, s.Policy
			next.Spec, next.Policy, next.Action = &spec, &policy, s.Action
			return &client.ScheduleUpdate{Schedule: &next}, nil
		}})
		if err != nil {
			ch.Outcome = Failed
			return ch, fmt.Errorf("update schedule %s: %w", s.ID, err)
		}
	}
	switch pause {
	case "pause":
		err = h.Pause(ctx, client.SchedulePauseOptions{Note: note})
	case "resume":
		err = h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: note})
	}
	if err != nil {
		ch.Outcome = Failed
		return ch, fmt.Errorf("%s schedule %s: %w", pause, s.ID, err)
	}
	return ch, nil
}

// recreate replaces a schedule whose memo names another task queue than the
// config's (temporal.task_queue was renamed): a schedule's memo cannot be
// updated, and a stale one would hide the schedule from this deployment's
// listing, so that it would never be deleted. A pause made by hand is kept.
func recreate(ctx context.Context, sc client.ScheduleClient, s Schedule, desc *client.ScheduleDescription, was string, ch Change, apply bool) (Change, error) {
	ch.Outcome = Updated
	ch.Details = []string{fmt.Sprintf("task queue %s -> %s: deleted and created anew (a schedule's memo cannot be updated)", was, s.Action.TaskQueue)}
	opts := createOptions(s)
	if isPaused(desc) && !opts.Paused {
		opts.Paused, opts.Note = true, desc.Schedule.State.Note
	}
	ch.Paused = opts.Paused
	if !apply {
		return ch, nil
	}
	if err := sc.GetHandle(ctx, s.ID).Delete(ctx); err != nil && !isNotFound(err) {
		ch.Outcome = Failed
		return ch, fmt.Errorf("delete schedule %s to recreate it: %w", s.ID, err)
	}
	if _, err := sc.Create(ctx, opts); err != nil {
		ch.Outcome = Failed
		return ch, fmt.Errorf("create schedule %s anew: %w", s.ID, err)
	}
	return ch, nil
}

func createOptions(s Schedule) client.ScheduleOptions {
	note := "created by kingmaker schedule sync from " + s.Field
	if s.Trigger.Paused {
		note = configNote(s)
	}
	return client.ScheduleOptions{
		ID:             s.ID,
		Spec:           s.Spec,
		Action:         s.Action,
		Overlap:        s.Policy.Overlap,
		CatchupWindow:  s.Policy.CatchupWindow,
		PauseOnFailure: s.Policy.PauseOnFailure,
		Paused:         s.Trigger.Paused,
		Note:           note,
		Memo:           map[string]any{MemoManagedBy: ManagedBy, MemoModel: s.Model, MemoKind: s.Kind, MemoTaskQueue: s.Action.TaskQueue},
		// The schedule itself is filterable by model in the UI too.
		TypedSearchAttributes: s.Action.TypedSearchAttributes,
	}
}

func configNote(s Schedule) string {
	return fmt.Sprintf("%s: %s.paused is true", configPauseNote, s.Field)
}

// pauseChange says whether Sync pauses ("pause") or resumes ("resume") an
// existing schedule, and the note it leaves: the config's paused: true always
// holds; paused: false resumes only a pause the config made.
func pauseChange(s Schedule, st *client.ScheduleState) (string, string) {
	paused, note := false, ""
	if st != nil {
		paused, note = st.Paused, st.Note
	}
	switch {
	case s.Trigger.Paused && !paused:
		return "pause", configNote(s)
	case !s.Trigger.Paused && paused && strings.HasPrefix(note, configPauseNote):
		return "resume", fmt.Sprintf("resumed by kingmaker schedule sync: %s.paused is false", s.Field)
	}
	return "", ""
}

// Diff lists how a described schedule differs from the one the config asks
// for, one readable line per difference; none means it is up to date. The
// paused state is not compared (see the package comment).
func Diff(s Schedule, d *client.ScheduleDescription) []string {
	var out []string
	got := d.Schedule
	if got.Spec == nil || !sameSpec(s.Spec, *got.Spec) {
		out = append(out, fmt.Sprintf("spec: %s -> %s", summarize(got.Spec), summarize(&s.Spec)))
	}
	var pol client.SchedulePolicies
	if got.Policy != nil {
		pol = *got.Policy
	}
	if pol.Overlap != s.Policy.Overlap {
		out = append(out, fmt.Sprintf("overlap policy: %s -> %s", overlapName(pol.Overlap), overlapName(s.Policy.Overlap)))
	}
	if pol.CatchupWindow != s.Policy.CatchupWindow {
		out = append(out, fmt.Sprintf("catch-up window: %s -> %s", human(pol.CatchupWindow), human(s.Policy.CatchupWindow)))
	}
	if pol.PauseOnFailure != s.Policy.PauseOnFailure {
		out = append(out, fmt.Sprintf("pause on failure: %t -> %t", pol.PauseOnFailure, s.Policy.PauseOnFailure))
	}
	return append(out, actionDiff(s, got.Action)...)
}

func overlapName(p enumspb.ScheduleOverlapPolicy) string {
	return strings.ToLower(strings.TrimPrefix(p.String(), "SCHEDULE_OVERLAP_POLICY_"))
}

func actionDiff(s Schedule, got client.ScheduleAction) []string {
	want := s.Action
	a, ok := got.(*client.ScheduleWorkflowAction)
	if !ok || a == nil {
		return []string{fmt.Sprintf("action: %T -> start %s", got, want.Workflow)}
	}
	var out []string
	diff := func(what string, old, new any) {
		if !reflect.DeepEqual(old, new) {
			out = append(out, fmt.Sprintf("%s: %v -> %v", what, old, new))
		}
	}
	diff("workflow id prefix", a.ID, want.ID)
	diff("workflow", a.Workflow, want.Workflow)
	diff("task queue", a.TaskQueue, want.TaskQueue)
	if len(a.Args) != 1 || !sameArg(a.Args[0], want.Args[0]) {
		out = append(out, "workflow input -> "+inputText(want.Args[0]))
	}
	if !sameMemo(a.Memo, want.Memo) {
		out = append(out, "workflow memo")
	}
	gotModel, _ := keyword(a, workflows.AttrModel.GetName())
	wantModel, _ := want.TypedSearchAttributes.GetKeyword(workflows.AttrModel)
	diff("search attribute "+workflows.AttrModel.GetName(), gotModel, wantModel)
	if a.TypedSearchAttributes.Size()+len(a.UntypedSearchAttributes) != want.TypedSearchAttributes.Size() {
		out = append(out, "search attributes")
	}
	diff("summary", a.StaticSummary, want.StaticSummary)
	diff("details", a.StaticDetails, want.StaticDetails)
	diff("execution timeout", a.WorkflowExecutionTimeout, want.WorkflowExecutionTimeout)
	diff("run timeout", a.WorkflowRunTimeout, want.WorkflowRunTimeout)
	diff("task timeout", a.WorkflowTaskTimeout, want.WorkflowTaskTimeout)
	if a.RetryPolicy != nil || want.RetryPolicy != nil {
		diff("retry policy", a.RetryPolicy, want.RetryPolicy)
	}
	return out
}

var dataConverter = converter.GetDefaultDataConverter()

// inputText shows a workflow input as its history does: JSON, without the
// fields it leaves out.
func inputText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

// sameArg decodes a described argument into the type of the wanted one, so
// JSON formatting never counts as a difference.
func sameArg(got, want any) bool {
	p, ok := got.(*commonpb.Payload)
	if !ok {
		return reflect.DeepEqual(got, want)
	}
	v := reflect.New(reflect.TypeOf(want))
	if err := dataConverter.FromPayload(p, v.Interface()); err != nil {
		return false
	}
	return reflect.DeepEqual(v.Elem().Interface(), want)
}

func sameMemo(got, want map[string]any) bool {
	if len(got) != len(want) {
		return false
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || !sameArg(g, w) {
			return false
		}
	}
	return true
}

// keyword reads a Keyword search attribute of an action, typed or not.
func keyword(a *client.ScheduleWorkflowAction, name string) (string, bool) {
	if s, ok := a.TypedSearchAttributes.GetKeyword(temporal.NewSearchAttributeKeyKeyword(name)); ok {
		return s, true
	}
	if p, ok := a.UntypedSearchAttributes[name]; ok {
		var s string
		if dataConverter.FromPayload(p, &s) == nil {
			return s, true
		}
	}
	return "", false
}

func sameSpec(want, got client.ScheduleSpec) bool {
	return slices.Equal(want.Intervals, got.Intervals) &&
		sameCalendars(want.Calendars, got.Calendars) &&
		sameCalendars(want.Skip, got.Skip) &&
		slices.Equal(want.CronExpressions, got.CronExpressions) &&
		want.StartAt.Equal(got.StartAt) && want.EndAt.Equal(got.EndAt) &&
		want.Jitter == got.Jitter &&
		zone(want.TimeZoneName) == zone(got.TimeZoneName)
}

func zone(name string) string {
	if name == "" {
		return "UTC"
	}
	return name
}

func sameCalendars(a, b []client.ScheduleCalendarSpec) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !reflect.DeepEqual(normalCalendar(a[i]), normalCalendar(b[i])) {
			return false
		}
	}
	return true
}

// normalCalendar writes a calendar the way Temporal echoes it: unset fields
// at their defaults, single values as Start..Start, steps of at least 1.
func normalCalendar(c client.ScheduleCalendarSpec) client.ScheduleCalendarSpec {
	def := func(r []client.ScheduleRange, d client.ScheduleRange) []client.ScheduleRange {
		if r == nil {
			r = []client.ScheduleRange{d}
		}
		out := make([]client.ScheduleRange, len(r))
		for i, x := range r {
			x.End = max(x.End, x.Start)
			x.Step = max(x.Step, 1)
			out[i] = x
		}
		return out
	}
	c.Second = def(c.Second, client.ScheduleRange{})
	c.Minute = def(c.Minute, client.ScheduleRange{})
	c.Hour = def(c.Hour, client.ScheduleRange{})
	c.DayOfMonth = def(c.DayOfMonth, client.ScheduleRange{Start: 1, End: 31})
	c.Month = def(c.Month, client.ScheduleRange{Start: 1, End: 12})
	c.DayOfWeek = def(c.DayOfWeek, client.ScheduleRange{Start: 0, End: 6})
	if len(c.Year) == 0 {
		c.Year = nil
	} else {
		c.Year = def(c.Year, client.ScheduleRange{})
	}
	return c
}

// owner reads the ownership memo: the model and kind of a Kingmaker schedule.
func owner(memo *commonpb.Memo) (model, kind string, ok bool) {
	if memoString(memo, MemoManagedBy) != ManagedBy {
		return "", "", false
	}
	return memoString(memo, MemoModel), memoString(memo, MemoKind), true
}

func memoString(memo *commonpb.Memo, key string) string {
	p := memo.GetFields()[key]
	var s string
	if p == nil || dataConverter.FromPayload(p, &s) != nil {
		return ""
	}
	return s
}

// listOwned returns the ids of every schedule in the namespace whose memo
// says Kingmaker owns it, except those whose memo names another task queue
// than taskQueue: another deployment's. The listing is eventually
// consistent.
func listOwned(ctx context.Context, sc client.ScheduleClient, taskQueue string) ([]string, error) {
	it, err := sc.List(ctx, client.ScheduleListOptions{PageSize: 1000})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	var ids []string
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return ids, fmt.Errorf("list schedules: %w", err)
		}
		if _, _, ok := owner(e.Memo); !ok {
			continue
		}
		if q := memoString(e.Memo, MemoTaskQueue); q != "" && q != taskQueue {
			continue
		}
		ids = append(ids, e.ID)
	}
	return ids, nil
}

// deleteStale deletes a schedule the config does not ask for, if it exists,
// is Kingmaker's and starts workflows on the config's task queue. ok reports
// whether there was anything to delete.
func deleteStale(ctx context.Context, sc client.ScheduleClient, cfg *config.Config, id string, apply bool) (Change, bool, error) {
	ch := Change{ID: id, Outcome: Deleted}
	h := sc.GetHandle(ctx, id)
	desc, err := h.Describe(ctx)
	if isNotFound(err) {
		return ch, false, nil
	}
	if err != nil {
		return ch, false, fmt.Errorf("describe schedule %s: %w", id, err)
	}
	model, kind, ok := owner(desc.Memo)
	if !ok {
		return ch, false, nil
	}
	if a, isWF := desc.Schedule.Action.(*client.ScheduleWorkflowAction); !isWF || a.TaskQueue != cfg.Temporal.TaskQueue {
		return ch, false, nil // another deployment's, on its own task queue
	}
	ch.Model, ch.Kind = model, kind
	ch.Spec = summarize(desc.Schedule.Spec)
	ch.Paused = isPaused(desc)
	if m, err := cfg.Model(model); err == nil {
		ch.Details = []string{fmt.Sprintf("model %s has no %s trigger (schedule.%s sets neither every nor cron)", m.Name, kind, kind)}
	} else {
		ch.Details = []string{fmt.Sprintf("model %s is no longer in the config", model)}
	}
	if !apply {
		return ch, true, nil
	}
	if err := h.Delete(ctx); err != nil && !isNotFound(err) {
		return ch, true, fmt.Errorf("delete schedule %s: %w", id, err)
	}
	return ch, true, nil
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}
