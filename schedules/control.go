package schedules

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// Ref names one schedule of a model: what the CLI's MODEL|SCHEDULE_ID
// argument resolves to.
type Ref struct {
	ID    string
	Model string
	Kind  string
	// Field is the trigger's config path; empty when the model is not in
	// the config.
	Field string
	// Trigger is the model's trigger of the kind, when the model is in the
	// config.
	Trigger *config.Trigger
}

// Resolve turns a model name or a schedule id into a Ref. kind picks the
// schedule of a model (retrain when empty); with a schedule id it must agree
// with the id or be empty. A model whose trigger of that kind is empty has no
// schedule, and the error names the field to set.
func Resolve(cfg *config.Config, arg, kind string) (Ref, error) {
	if kind != "" && !slices.Contains(Kinds, kind) {
		return Ref{}, fmt.Errorf("--kind %q: use %s", kind, kindList())
	}
	for i := range cfg.Models {
		m := &cfg.Models[i]
		if m.Name != arg {
			continue
		}
		k := kind
		if k == "" {
			k = KindRetrain
		}
		t, _ := TriggerOf(m, k)
		field := fmt.Sprintf("models[%d].schedule.%s", i, k)
		if !t.Enabled() {
			return Ref{}, fmt.Errorf("model %s has no %s schedule: set %s.every or %s.cron in the config, then run `kingmaker schedule sync`", m.Name, k, field, field)
		}
		return Ref{ID: workflows.ScheduleID(k, m.Name), Model: m.Name, Kind: k, Field: field, Trigger: &t}, nil
	}
	for _, k := range Kinds {
		model, ok := strings.CutPrefix(arg, k+"-")
		if !ok || model == "" {
			continue
		}
		if kind != "" && kind != k {
			return Ref{}, fmt.Errorf("%s is a %s schedule, not %s: drop --kind or pass a model name", arg, k, kind)
		}
		ref := Ref{ID: arg, Model: model, Kind: k}
		for i := range cfg.Models {
			if cfg.Models[i].Name == model {
				t, _ := TriggerOf(&cfg.Models[i], k)
				ref.Field, ref.Trigger = fmt.Sprintf("models[%d].schedule.%s", i, k), &t
			}
		}
		return ref, nil
	}
	names := make([]string, len(cfg.Models))
	for i, m := range cfg.Models {
		names[i] = m.Name
	}
	return Ref{}, fmt.Errorf("unknown model %q (configured: %s), and not a schedule id (retrain-MODEL, drift-MODEL or score-MODEL)", arg, strings.Join(names, ", "))
}

// Entry is one schedule as List shows it.
type Entry struct {
	ID    string `json:"id"`
	Model string `json:"model"`
	Kind  string `json:"kind"`
	// Spec says when it runs: as Temporal has it, or as the config asks
	// when Temporal has no such schedule yet.
	Spec   string `json:"spec"`
	Paused bool   `json:"paused"`
	Note   string `json:"note,omitempty"`
	// InConfig: the config asks for this schedule. Exists: Temporal has it.
	// In the config but missing: run sync. Existing but not in the config:
	// the next sync deletes it.
	InConfig  bool        `json:"in_config"`
	Exists    bool        `json:"exists"`
	TaskQueue string      `json:"task_queue,omitempty"`
	NextRuns  []time.Time `json:"next_runs,omitempty"`
	LastRun   *Run        `json:"last_run,omitempty"`
	// Running lists the workflow ids of runs it started that still run.
	Running []string `json:"running,omitempty"`
}

// Run is one action a schedule took.
type Run struct {
	// ScheduledAt is when it was due (with jitter); StartedAt when it began.
	ScheduledAt time.Time `json:"scheduled_at"`
	StartedAt   time.Time `json:"started_at"`
	WorkflowID  string    `json:"workflow_id"`
}

// nextRuns is how many upcoming run times List reports.
const nextRuns = 3

// List returns the schedules of this deployment: those the config asks for
// (described one by one, so a schedule created a moment ago shows) and those
// Kingmaker owns on the config's task queue that the config no longer asks
// for. Sorted by model, then kind.
func List(ctx context.Context, c client.Client, cfg *config.Config) ([]Entry, error) {
	want, err := FromConfig(cfg)
	if err != nil {
		return nil, err
	}
	sc := c.ScheduleClient()
	var out []Entry
	seen := map[string]bool{}
	for _, s := range want {
		seen[s.ID] = true
		e := Entry{ID: s.ID, Model: s.Model, Kind: s.Kind, Spec: s.Summary(), InConfig: true, Paused: s.Trigger.Paused}
		desc, err := sc.GetHandle(ctx, s.ID).Describe(ctx)
		switch {
		case isNotFound(err):
			e.Note = "not created yet: run `kingmaker schedule sync`"
		case err != nil:
			return nil, fmt.Errorf("describe schedule %s: %w", s.ID, err)
		default:
			if _, _, ok := owner(desc.Memo); !ok {
				e.Note = "a schedule of this id exists but is not Kingmaker's: sync leaves it alone"
				break
			}
			fill(&e, desc)
		}
		out = append(out, e)
	}
	ids, err := listOwned(ctx, sc, cfg.Temporal.TaskQueue)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		desc, err := sc.GetHandle(ctx, id).Describe(ctx)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("describe schedule %s: %w", id, err)
		}
		model, kind, ok := owner(desc.Memo)
		a, isWF := desc.Schedule.Action.(*client.ScheduleWorkflowAction)
		if !ok || !isWF || a.TaskQueue != cfg.Temporal.TaskQueue {
			continue
		}
		e := Entry{ID: id, Model: model, Kind: kind}
		fill(&e, desc)
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b Entry) int {
		if c := strings.Compare(a.Model, b.Model); c != 0 {
			return c
		}
		return slices.Index(Kinds, a.Kind) - slices.Index(Kinds, b.Kind)
	})
	return out, nil
}

func fill(e *Entry, d *client.ScheduleDescription) {
	e.Exists = true
	e.Spec = summarize(d.Schedule.Spec)
	if st := d.Schedule.State; st != nil {
		e.Paused, e.Note = st.Paused, st.Note
	}
	if a, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction); ok {
		e.TaskQueue = a.TaskQueue
	}
	if !e.Paused {
		e.NextRuns = d.Info.NextActionTimes[:min(nextRuns, len(d.Info.NextActionTimes))]
	}
	if n := len(d.Info.RecentActions); n > 0 {
		last := d.Info.RecentActions[n-1] // oldest first
		e.LastRun = &Run{ScheduledAt: last.ScheduleTime, StartedAt: last.ActualTime}
		if last.StartWorkflowResult != nil {
			e.LastRun.WorkflowID = last.StartWorkflowResult.WorkflowID
		}
	}
	for _, r := range d.Info.RunningWorkflows {
		e.Running = append(e.Running, r.WorkflowID)
	}
}

// describeOwned describes a schedule Kingmaker owns; ErrNotFound and
// ErrNotOwned say why not.
func describeOwned(ctx context.Context, h client.ScheduleHandle) (*client.ScheduleDescription, error) {
	d, err := h.Describe(ctx)
	if isNotFound(err) {
		return nil, fmt.Errorf("%w %s: run `kingmaker schedule sync` to create it", ErrNotFound, h.GetID())
	}
	if err != nil {
		return nil, fmt.Errorf("describe schedule %s: %w", h.GetID(), err)
	}
	if _, _, ok := owner(d.Memo); !ok {
		return nil, fmt.Errorf("%w: %s (it has no %s: %s memo), so kingmaker leaves it alone", ErrNotOwned, h.GetID(), MemoManagedBy, ManagedBy)
	}
	return d, nil
}

// State is a schedule's paused state around a Pause or Resume.
type State struct {
	ID        string `json:"id"`
	WasPaused bool   `json:"was_paused"`
	Paused    bool   `json:"paused"`
	Note      string `json:"note"`
}

// Pause stops a Kingmaker schedule from starting runs until Resume, with a
// note saying who and why. Sync keeps the pause unless the config itself
// paused the schedule and no longer does (see the package comment).
func Pause(ctx context.Context, c client.Client, id, note string) (*State, error) {
	h := c.ScheduleClient().GetHandle(ctx, id)
	d, err := describeOwned(ctx, h)
	if err != nil {
		return nil, err
	}
	if err := h.Pause(ctx, client.SchedulePauseOptions{Note: note}); err != nil {
		return nil, fmt.Errorf("pause schedule %s: %w", id, err)
	}
	return &State{ID: id, WasPaused: isPaused(d), Paused: true, Note: note}, nil
}

// Resume lets a paused Kingmaker schedule start runs again. Runs missed while
// paused are not made up.
func Resume(ctx context.Context, c client.Client, id, note string) (*State, error) {
	h := c.ScheduleClient().GetHandle(ctx, id)
	d, err := describeOwned(ctx, h)
	if err != nil {
		return nil, err
	}
	if err := h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: note}); err != nil {
		return nil, fmt.Errorf("resume schedule %s: %w", id, err)
	}
	return &State{ID: id, WasPaused: isPaused(d), Paused: false, Note: note}, nil
}

// Triggered is a run Trigger started.
type Triggered struct {
	ScheduleID string `json:"schedule_id"`
	// WorkflowID is empty when the start did not show within the wait.
	WorkflowID string `json:"workflow_id,omitempty"`
	RunID      string `json:"run_id,omitempty"`
}

// triggerWait bounds how long Trigger waits to see the run it started.
const triggerWait = 10 * time.Second

// Trigger starts a Kingmaker schedule's action now, paused or not, and
// returns the workflow it started. The overlap policy is skip: when a run of
// the schedule is still going, nothing starts and the error (ErrRunning)
// names that run.
func Trigger(ctx context.Context, c client.Client, id string) (*Triggered, error) {
	h := c.ScheduleClient().GetHandle(ctx, id)
	d, err := describeOwned(ctx, h)
	if err != nil {
		return nil, err
	}
	if err := running(id, d); err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, a := range d.Info.RecentActions {
		if a.StartWorkflowResult != nil {
			known[a.StartWorkflowResult.WorkflowID] = true
		}
	}
	skipped := d.Info.NumActionsSkippedOverlap
	if err := h.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP}); err != nil {
		return nil, fmt.Errorf("trigger schedule %s: %w", id, err)
	}
	res := &Triggered{ScheduleID: id}
	deadline := time.Now().Add(triggerWait)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		d, err := h.Describe(ctx)
		if err != nil {
			return res, fmt.Errorf("describe schedule %s: %w", id, err)
		}
		// Recent actions are kept oldest first and capped, so look for a
		// workflow id not seen before rather than at the count alone.
		for i := len(d.Info.RecentActions) - 1; i >= 0; i-- {
			a := d.Info.RecentActions[i]
			if a.StartWorkflowResult != nil && !known[a.StartWorkflowResult.WorkflowID] {
				res.WorkflowID, res.RunID = a.StartWorkflowResult.WorkflowID, a.StartWorkflowResult.FirstExecutionRunID
				return res, nil
			}
		}
		if d.Info.NumActionsSkippedOverlap > skipped {
			if err := running(id, d); err != nil {
				return res, err
			}
			return res, fmt.Errorf("%w: %s skipped the trigger because a run was still going", ErrRunning, id)
		}
	}
	return res, nil
}

func running(id string, d *client.ScheduleDescription) error {
	if len(d.Info.RunningWorkflows) == 0 {
		return nil
	}
	ids := make([]string, len(d.Info.RunningWorkflows))
	for i, r := range d.Info.RunningWorkflows {
		ids[i] = r.WorkflowID
	}
	return fmt.Errorf("%w: %s is still running %s; its overlap policy is skip, so wait for it to finish (or terminate it) and trigger again",
		ErrRunning, id, strings.Join(ids, ", "))
}

func isPaused(d *client.ScheduleDescription) bool {
	return d.Schedule.State != nil && d.Schedule.State.Paused
}
