package schedules

import (
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// Kinds of schedule a model has.
const (
	KindRetrain = "retrain"
	KindDrift   = "drift"
	KindScore   = "score"
)

// Kinds lists every kind, in the order Sync and List report them.
var Kinds = []string{KindRetrain, KindDrift, KindScore}

// kindList names the kinds for messages: "retrain, drift or score".
func kindList() string {
	return strings.Join(Kinds[:len(Kinds)-1], ", ") + " or " + Kinds[len(Kinds)-1]
}

// DefaultCatchupWindow is how late a missed run may still be taken when the
// trigger sets no catchup_window. An hour covers a server restart or upgrade;
// a longer outage skips the missed run and waits for the next regular one.
const DefaultCatchupWindow = time.Hour

// MinCatchupWindow is the shortest catch-up window Temporal accepts.
const MinCatchupWindow = 10 * time.Second

// RequestedBy is who a scheduled retrain says requested it.
const RequestedBy = "schedule"

// Memo keys that mark a schedule as Kingmaker's.
const (
	MemoManagedBy = "managed-by"
	MemoModel     = "model"
	MemoKind      = "kind"
	// MemoTaskQueue is the task queue the schedule's runs go to: the
	// deployment it belongs to. Listing skips other deployments' schedules
	// by it without describing them (schedules made before it existed are
	// told apart by describing their action).
	MemoTaskQueue = "task-queue"
	// ManagedBy is the value of MemoManagedBy on Kingmaker's schedules.
	ManagedBy = "kingmaker"
	// MemoSchedule is the memo key, on every workflow a schedule starts, that
	// names the schedule.
	MemoSchedule = "kingmaker-schedule"
)

// Schedule is one schedule the config asks for.
type Schedule struct {
	ID    string
	Model string
	Kind  string
	// Field is the config path of the trigger, for messages that name it.
	Field   string
	Trigger config.Trigger
	Spec    client.ScheduleSpec
	Policy  client.SchedulePolicies
	Action  *client.ScheduleWorkflowAction
}

// Summary says when the schedule runs, for people.
func (s Schedule) Summary() string { return summarize(&s.Spec) }

// TriggerOf returns the model's trigger of a kind.
func TriggerOf(m *config.Model, kind string) (config.Trigger, error) {
	switch kind {
	case KindRetrain:
		return m.Schedule.Retrain, nil
	case KindDrift:
		return m.Schedule.Drift, nil
	case KindScore:
		return m.Schedule.Score.Trigger, nil
	}
	return config.Trigger{}, fmt.Errorf("kind %q: use %s", kind, kindList())
}

// FromConfig returns the schedules the config asks for: one per model and
// kind whose trigger is enabled, in config order (retrain, drift, score).
// Every problem is reported, each naming its config field.
func FromConfig(cfg *config.Config) ([]Schedule, error) {
	var out []Schedule
	var errs []error
	for i := range cfg.Models {
		m := &cfg.Models[i]
		for _, kind := range Kinds {
			t, _ := TriggerOf(m, kind)
			if !t.Enabled() {
				continue
			}
			field := fmt.Sprintf("models[%d].schedule.%s", i, kind)
			s, err := build(cfg, m, kind, field, t)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, s)
		}
	}
	return out, errors.Join(errs...)
}

func build(cfg *config.Config, m *config.Model, kind, field string, t config.Trigger) (Schedule, error) {
	model := m.Name
	spec, err := SpecFor(t)
	if err != nil {
		return Schedule{}, fmt.Errorf("%s.%w", field, err)
	}
	catchup, err := CatchupWindow(t)
	if err != nil {
		return Schedule{}, fmt.Errorf("%s.%w", field, err)
	}
	id := workflows.ScheduleID(kind, model)
	var (
		workflow string
		input    any
		summary  string
	)
	switch kind {
	case KindRetrain:
		workflow = workflows.RetrainWorkflowName
		input = workflows.RetrainInput{Model: model, Reason: workflows.ReasonSchedule, RequestedBy: RequestedBy}
		summary = workflows.ScheduledRetrainSummary(model, id)
	case KindDrift:
		workflow = workflows.DriftWorkflowName
		input = workflows.DriftInput{Model: model, Reason: workflows.ReasonSchedule}
		summary = workflows.ScheduledDriftSummary(model, id)
	case KindScore:
		sc := m.Schedule.Score
		workflow = workflows.BatchScoreWorkflowName
		input = workflows.BatchScoreInput{
			Model:    model,
			Relative: workflows.RelativeWindow{Length: sc.Window, Lag: sc.Lag, Align: sc.Align},
			Version:  sc.Version,
			Reason:   workflows.ReasonSchedule,
		}
		summary = workflows.ScheduledScoreSummary(model, id, ScoreWindowSummary(sc))
	}
	return Schedule{
		ID: id, Model: model, Kind: kind, Field: field, Trigger: t,
		Spec: spec,
		Policy: client.SchedulePolicies{
			Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
			CatchupWindow: catchup,
		},
		Action: &client.ScheduleWorkflowAction{
			// Temporal appends the scheduled time: retrain-churn-2026-11-25T03:00:00Z.
			ID:                    id,
			Workflow:              workflow,
			Args:                  []any{input},
			TaskQueue:             cfg.Temporal.TaskQueue,
			Memo:                  map[string]any{MemoSchedule: id},
			TypedSearchAttributes: workflows.ModelAttributes(model),
			StaticSummary:         summary,
		},
	}, nil
}

// ScoreWindowSummary says which rows each run of a score schedule scores,
// for people: "the 1d before the run's time, aligned to whole days, with the
// champion".
func ScoreWindowSummary(s config.ScoreTrigger) string {
	out := "the " + human(s.Window.D()) + " before the run's time"
	if s.Lag > 0 {
		out += " less " + human(s.Lag.D())
	}
	switch s.Align {
	case config.AlignHour:
		out += ", aligned to whole hours"
	case config.AlignDay:
		out += ", aligned to whole days"
	}
	if s.Version != "" {
		return out + ", with version " + s.Version
	}
	return out + ", with the champion"
}

// CatchupWindow is the trigger's catch-up window, DefaultCatchupWindow when
// unset. The error names the field relative to the trigger.
func CatchupWindow(t config.Trigger) (time.Duration, error) {
	w := t.CatchupWindow.D()
	switch {
	case w == 0:
		return DefaultCatchupWindow, nil
	case w < MinCatchupWindow:
		return 0, fmt.Errorf("catchup_window: %s is shorter than Temporal's minimum of %s", t.CatchupWindow, MinCatchupWindow)
	}
	return w, nil
}

// SpecFor maps a trigger to a Temporal schedule spec: an interval for
// `every`, calendars for `cron` (see ParseCron), and the trigger's jitter.
// Times are UTC. The error names the field relative to the trigger.
func SpecFor(t config.Trigger) (client.ScheduleSpec, error) {
	var spec client.ScheduleSpec
	switch {
	case t.Every > 0 && t.Cron != "":
		return spec, errors.New("every: set every or cron, not both")
	case t.Every < 0:
		return spec, errors.New("every: must be positive")
	case t.Every > 0:
		spec.Intervals = []client.ScheduleIntervalSpec{{Every: t.Every.D()}}
	case t.Cron != "":
		cals, err := ParseCron(t.Cron)
		if err != nil {
			return spec, fmt.Errorf("cron: %w", err)
		}
		spec.Calendars = cals
	default:
		return spec, errors.New("every: set every or cron to schedule anything")
	}
	if t.Jitter < 0 {
		return spec, errors.New("jitter: must not be negative")
	}
	spec.Jitter = t.Jitter.D()
	return spec, nil
}

// summarize says when a spec runs, for people: "every 6h", "cron 0 3 * * *",
// with ", jitter 10m" when it has one.
func summarize(spec *client.ScheduleSpec) string {
	if spec == nil {
		return ""
	}
	var parts []string
	for _, iv := range spec.Intervals {
		p := "every " + human(iv.Every)
		if iv.Offset != 0 {
			p += " offset " + human(iv.Offset)
		}
		parts = append(parts, p)
	}
	seen := map[string]bool{}
	for _, c := range spec.Calendars {
		p := c.Comment
		if !strings.HasPrefix(p, cronComment) {
			p = "calendar"
		}
		if !seen[p] {
			seen[p] = true
			parts = append(parts, p)
		}
	}
	parts = append(parts, spec.CronExpressions...)
	s := strings.Join(parts, "; ")
	if s == "" {
		s = "never"
	}
	if spec.Jitter > 0 {
		s += ", jitter " + human(spec.Jitter)
	}
	if spec.TimeZoneName != "" && spec.TimeZoneName != "UTC" {
		s += " (" + spec.TimeZoneName + ")"
	}
	return s
}

// human formats a duration as people write it: 1d, 6h, 1h30m, 90s.
func human(d time.Duration) string {
	if d > 0 && d%config.Day == 0 {
		return config.Duration(d).String()
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
