package schedules

import (
	"reflect"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

func dur(d time.Duration) config.Duration { return config.Duration(d) }

func TestSpecForMapsTriggers(t *testing.T) {
	all := func(lo, hi int) []client.ScheduleRange { return []client.ScheduleRange{rng(lo, hi, 1)} }
	daily3 := client.ScheduleCalendarSpec{
		Second: one(0), Minute: one(0), Hour: one(3),
		DayOfMonth: all(1, 31), Month: all(1, 12), DayOfWeek: all(0, 6),
		Comment: "cron 0 3 * * *",
	}
	tests := []struct {
		name    string
		trigger config.Trigger
		want    client.ScheduleSpec
	}{
		{"every six hours is an interval from the epoch",
			config.Trigger{Every: dur(6 * time.Hour)},
			client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: 6 * time.Hour}}}},
		{"every with jitter keeps the jitter",
			config.Trigger{Every: dur(24 * time.Hour), Jitter: dur(10 * time.Minute)},
			client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: 24 * time.Hour}}, Jitter: 10 * time.Minute}},
		{"a daily cron at three is one calendar at 03:00:00",
			config.Trigger{Cron: "0 3 * * *"},
			client.ScheduleSpec{Calendars: []client.ScheduleCalendarSpec{daily3}}},
		{"a cron with jitter keeps the jitter",
			config.Trigger{Cron: "0 3 * * *", Jitter: dur(time.Minute)},
			client.ScheduleSpec{Calendars: []client.ScheduleCalendarSpec{daily3}, Jitter: time.Minute}},
		{"the paused flag and catch-up window do not change the spec",
			config.Trigger{Every: dur(time.Hour), Paused: true, CatchupWindow: dur(time.Minute)},
			client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: time.Hour}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SpecFor(tc.trigger)
			if err != nil {
				t.Fatalf("SpecFor(%+v): %v", tc.trigger, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("SpecFor(%+v)\n got %+v\nwant %+v", tc.trigger, got, tc.want)
			}
		})
	}
}

func TestSpecForRefusesWhatCannotRun(t *testing.T) {
	tests := []struct {
		name    string
		trigger config.Trigger
		want    string
	}{
		{"an empty trigger schedules nothing", config.Trigger{}, "every: set every or cron"},
		{"every and cron together are ambiguous", config.Trigger{Every: dur(time.Hour), Cron: "0 * * * *"}, "not both"},
		{"a negative jitter is refused", config.Trigger{Every: dur(time.Hour), Jitter: dur(-time.Second)}, "jitter: must not be negative"},
		{"a minute past 59 names the minute field", config.Trigger{Cron: "61 * * * *"}, `cron: "61 * * * *": minute "61": 61 is outside 0-59`},
		{"a backwards range is refused", config.Trigger{Cron: "0 5-3 * * *"}, `hour "5-3": range runs backwards`},
		{"a zero step is refused", config.Trigger{Cron: "*/0 * * * *"}, `step "0" is not a positive number`},
		{"an unknown weekday name is refused", config.Trigger{Cron: "0 0 * * FUN"}, `day-of-week "FUN": "FUN" is not a number`},
		{"four fields are not a cron expression", config.Trigger{Cron: "0 3 * *"}, "not a 5-field cron expression"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SpecFor(tc.trigger)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("SpecFor(%+v) = %v, want an error containing %q", tc.trigger, err, tc.want)
			}
		})
	}
}

func TestCatchupWindowDefaultsToAnHour(t *testing.T) {
	tests := []struct {
		name string
		set  config.Duration
		want time.Duration
		err  string
	}{
		{"an unset window is the default hour", 0, time.Hour, ""},
		{"a set window is kept", dur(10 * time.Minute), 10 * time.Minute, ""},
		{"a window under Temporal's minimum is refused", dur(5 * time.Second), 0, "catchup_window: 5s is shorter than Temporal's minimum of 10s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CatchupWindow(config.Trigger{Every: dur(time.Hour), CatchupWindow: tc.set})
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("got %v, want error %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %s, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func testConfig(models ...config.Model) *config.Config {
	cfg := &config.Config{Models: models}
	cfg.SetDefaults()
	cfg.Temporal.TaskQueue = "q-test"
	return cfg
}

func TestFromConfigBuildsOneScheduleperEnabledTrigger(t *testing.T) {
	cfg := testConfig(
		config.Model{Name: "churn", Schedule: config.Schedule{
			Retrain: config.Trigger{Every: dur(24 * time.Hour), CatchupWindow: dur(2 * time.Hour)},
			Drift:   config.Trigger{Cron: "0 * * * *", Paused: true},
		}},
		config.Model{Name: "fraud", Schedule: config.Schedule{Retrain: config.Trigger{Cron: "0 3 * * *"}}},
		config.Model{Name: "manual"},
	)
	got, err := FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range got {
		ids = append(ids, s.ID)
	}
	if strings.Join(ids, " ") != "retrain-churn drift-churn retrain-fraud" {
		t.Fatalf("schedules %v, want retrain-churn drift-churn retrain-fraud (none for a model without triggers)", ids)
	}

	retrain := got[0]
	if retrain.Field != "models[0].schedule.retrain" || retrain.Kind != KindRetrain || retrain.Model != "churn" {
		t.Errorf("retrain schedule names %s/%s/%s", retrain.Field, retrain.Kind, retrain.Model)
	}
	if retrain.Policy.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_SKIP || retrain.Policy.CatchupWindow != 2*time.Hour {
		t.Errorf("retrain policy %+v, want overlap skip and the configured 2h catch-up", retrain.Policy)
	}
	a := retrain.Action
	if a.ID != "retrain-churn" || a.Workflow != workflows.RetrainWorkflowName || a.TaskQueue != "q-test" {
		t.Errorf("retrain action starts %v %q on %q", a.Workflow, a.ID, a.TaskQueue)
	}
	wantIn := workflows.RetrainInput{Model: "churn", Reason: workflows.ReasonSchedule, RequestedBy: "schedule"}
	if !reflect.DeepEqual(a.Args, []any{wantIn}) {
		t.Errorf("retrain input %+v, want %+v", a.Args, wantIn)
	}
	if m, _ := a.TypedSearchAttributes.GetKeyword(workflows.AttrModel); m != "churn" {
		t.Errorf("retrain runs carry KingmakerModel=%q, want churn", m)
	}
	if a.Memo[MemoSchedule] != "retrain-churn" {
		t.Errorf("retrain runs' memo %v should name the schedule", a.Memo)
	}

	drift := got[1]
	if drift.Action.Workflow != workflows.DriftWorkflowName || !reflect.DeepEqual(drift.Action.Args, []any{workflows.DriftInput{Model: "churn", Reason: "schedule"}}) {
		t.Errorf("drift action %v %+v", drift.Action.Workflow, drift.Action.Args)
	}
	if drift.Policy.CatchupWindow != DefaultCatchupWindow || !drift.Trigger.Paused {
		t.Errorf("drift policy %+v paused=%t, want the default catch-up and paused", drift.Policy, drift.Trigger.Paused)
	}
	if drift.Summary() != "cron 0 * * * *" || retrain.Summary() != "every 1d" || human(90*time.Minute) != "1h30m" || human(90*time.Second) != "1m30s" {
		t.Errorf("summaries %q, %q", retrain.Summary(), drift.Summary())
	}
}

func TestAScoreScheduleStartsBatchScoringOfAWindowRelativeToItsRun(t *testing.T) {
	cfg := testConfig(
		config.Model{Name: "churn", Schedule: config.Schedule{
			Retrain: config.Trigger{Every: dur(24 * time.Hour)},
			Score: config.ScoreTrigger{Trigger: config.Trigger{Cron: "0 2 * * *", Jitter: dur(5 * time.Minute)},
				Window: dur(config.Day), Align: config.AlignDay},
		}},
		config.Model{Name: "fraud", Schedule: config.Schedule{Score: config.ScoreTrigger{
			Trigger: config.Trigger{Every: dur(time.Hour)}, Window: dur(time.Hour), Lag: dur(10 * time.Minute), Align: config.AlignHour,
			Version: "0b7c4e1a-ca5e-11f0-8000-000000000001",
		}}},
	)
	got, err := FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range got {
		ids = append(ids, s.ID)
	}
	if strings.Join(ids, " ") != "retrain-churn score-churn score-fraud" {
		t.Fatalf("schedules %v, want retrain-churn score-churn score-fraud", ids)
	}
	nightly := got[1]
	if nightly.Kind != KindScore || nightly.Field != "models[0].schedule.score" || nightly.Summary() != "cron 0 2 * * *, jitter 5m" {
		t.Errorf("the score schedule is %s at %s, running %q", nightly.Kind, nightly.Field, nightly.Summary())
	}
	if nightly.Policy.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_SKIP || nightly.Policy.CatchupWindow != DefaultCatchupWindow {
		t.Errorf("score policy %+v, want overlap skip and the default catch-up window", nightly.Policy)
	}
	a := nightly.Action
	if a.ID != "score-churn" || a.Workflow != workflows.BatchScoreWorkflowName || a.TaskQueue != "q-test" || a.Memo[MemoSchedule] != "score-churn" {
		t.Errorf("score action starts %v %q on %q with memo %v", a.Workflow, a.ID, a.TaskQueue, a.Memo)
	}
	wantIn := workflows.BatchScoreInput{Model: "churn", Reason: workflows.ReasonSchedule,
		Relative: workflows.RelativeWindow{Length: dur(config.Day), Align: config.AlignDay}}
	if !reflect.DeepEqual(a.Args, []any{wantIn}) {
		t.Errorf("score input %+v, want %+v", a.Args, wantIn)
	}
	if m, _ := a.TypedSearchAttributes.GetKeyword(workflows.AttrModel); m != "churn" {
		t.Errorf("score runs carry KingmakerModel=%q, want churn", m)
	}
	if want := "Scheduled scoring of churn (score-churn): the 1d before the run's time, aligned to whole days, with the champion"; a.StaticSummary != want {
		t.Errorf("score summary %q, want %q", a.StaticSummary, want)
	}

	hourly := got[2].Action
	wantIn = workflows.BatchScoreInput{Model: "fraud", Reason: workflows.ReasonSchedule, Version: "0b7c4e1a-ca5e-11f0-8000-000000000001",
		Relative: workflows.RelativeWindow{Length: dur(time.Hour), Lag: dur(10 * time.Minute), Align: config.AlignHour}}
	if !reflect.DeepEqual(hourly.Args, []any{wantIn}) {
		t.Errorf("hourly score input %+v, want %+v", hourly.Args, wantIn)
	}
	if !strings.HasSuffix(hourly.StaticSummary, ": the 1h before the run's time less 10m, aligned to whole hours, with version 0b7c4e1a-ca5e-11f0-8000-000000000001") {
		t.Errorf("hourly score summary %q should say the window and the version", hourly.StaticSummary)
	}
}

func TestFromConfigNamesEveryBadField(t *testing.T) {
	cfg := testConfig(
		config.Model{Name: "a", Schedule: config.Schedule{Drift: config.Trigger{Cron: "0 25 * * *"}}},
		config.Model{Name: "b", Schedule: config.Schedule{Retrain: config.Trigger{Every: dur(time.Hour), CatchupWindow: dur(time.Second)}}},
	)
	_, err := FromConfig(cfg)
	if err == nil {
		t.Fatal("FromConfig accepted an hour of 25 and a 1s catch-up window")
	}
	for _, want := range []string{"models[0].schedule.drift.cron:", "hour \"25\"", "models[1].schedule.retrain.catchup_window:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q should contain %q", err, want)
		}
	}
}

func TestResolveNamesTheScheduleOrWhatToFix(t *testing.T) {
	cfg := testConfig(
		config.Model{Name: "churn", Schedule: config.Schedule{
			Retrain: config.Trigger{Every: dur(time.Hour)},
			Drift:   config.Trigger{Every: dur(time.Hour)},
			Score:   config.ScoreTrigger{Trigger: config.Trigger{Cron: "0 2 * * *"}},
		}},
		config.Model{Name: "fraud", Schedule: config.Schedule{Retrain: config.Trigger{Every: dur(time.Hour)}}},
	)
	tests := []struct {
		name, arg, kind string
		want            string
		err             string
	}{
		{"a model name means its retrain schedule", "churn", "", "retrain-churn", ""},
		{"a model name with a kind picks that schedule", "churn", "drift", "drift-churn", ""},
		{"a schedule id is taken as it is", "drift-churn", "", "drift-churn", ""},
		{"a schedule id of a model not in the config still resolves", "retrain-gone", "", "retrain-gone", ""},
		{"a kind that disagrees with the id is refused", "drift-churn", "retrain", "", "drift-churn is a drift schedule, not retrain"},
		{"an unknown kind is refused", "churn", "daily", "", `--kind "daily": use retrain, drift or score`},
		{"a model name with kind score picks its score schedule", "churn", "score", "score-churn", ""},
		{"a score schedule id is taken as it is", "score-churn", "", "score-churn", ""},
		{"a model without a score trigger names the field to set", "fraud", "score", "", "model fraud has no score schedule: set models[1].schedule.score.every or models[1].schedule.score.cron"},
		{"a model without that trigger names the field to set", "fraud", "drift", "", "model fraud has no drift schedule: set models[1].schedule.drift.every or models[1].schedule.drift.cron"},
		{"an unknown name lists the models", "nope", "", "", `unknown model "nope" (configured: churn, fraud)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := Resolve(cfg, tc.arg, tc.kind)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Resolve(%q, %q) = %+v, %v; want error containing %q", tc.arg, tc.kind, ref, err, tc.err)
				}
				return
			}
			if err != nil || ref.ID != tc.want {
				t.Fatalf("Resolve(%q, %q) = %+v, %v; want %s", tc.arg, tc.kind, ref, err, tc.want)
			}
		})
	}
}

// described is what Temporal echoes for a schedule created from s: arguments
// and memo as payloads, calendars with Temporal's defaults filled in.
func described(t *testing.T, s Schedule, paused bool, note string) *client.ScheduleDescription {
	t.Helper()
	a := *s.Action
	p, err := dataConverter.ToPayload(a.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	a.Args = []any{p}
	memo := map[string]any{}
	for k, v := range a.Memo {
		mp, _ := dataConverter.ToPayload(v)
		memo[k] = mp
	}
	a.Memo = memo
	spec := s.Spec
	spec.Calendars = nil
	for _, c := range s.Spec.Calendars {
		c.Year = []client.ScheduleRange{}
		for i := range c.Second {
			c.Second[i].End = 0 // Temporal echoes a single 0 as 0..0
		}
		spec.Calendars = append(spec.Calendars, c)
	}
	spec.Skip = []client.ScheduleCalendarSpec{}
	spec.Intervals = append([]client.ScheduleIntervalSpec{}, s.Spec.Intervals...)
	pol := s.Policy
	ownerMemo := &commonpb.Memo{Fields: map[string]*commonpb.Payload{}}
	for k, v := range map[string]string{MemoManagedBy: ManagedBy, MemoModel: s.Model, MemoKind: s.Kind} {
		ownerMemo.Fields[k], _ = dataConverter.ToPayload(v)
	}
	return &client.ScheduleDescription{
		Schedule: client.Schedule{Action: &a, Spec: &spec, Policy: &pol, State: &client.ScheduleState{Paused: paused, Note: note}},
		Memo:     ownerMemo,
	}
}

func TestDiffSeesOnlyRealChanges(t *testing.T) {
	base := testConfig(config.Model{Name: "churn", Schedule: config.Schedule{
		Retrain: config.Trigger{Every: dur(time.Hour), Jitter: dur(time.Minute)},
		Drift:   config.Trigger{Cron: "*/10 1-5 1,15 * MON-FRI"},
		Score:   config.ScoreTrigger{Trigger: config.Trigger{Cron: "0 2 * * *"}, Window: dur(config.Day), Align: config.AlignDay},
	}})
	have, err := FromConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(c *config.Config)
		index  int
		want   []string
	}{
		{"the same interval schedule as Temporal echoes it differs in nothing", func(*config.Config) {}, 0, nil},
		{"the same cron schedule as Temporal echoes it differs in nothing", func(*config.Config) {}, 1, nil},
		{"a longer interval is a spec change", func(c *config.Config) { c.Models[0].Schedule.Retrain.Every = dur(2 * time.Hour) }, 0,
			[]string{"spec: every 1h, jitter 1m -> every 2h, jitter 1m"}},
		{"another cron is a spec change", func(c *config.Config) { c.Models[0].Schedule.Drift.Cron = "0 3 * * *" }, 1,
			[]string{"spec: cron */10 1-5 1,15 * MON-FRI -> cron 0 3 * * *"}},
		{"a new catch-up window is a policy change", func(c *config.Config) { c.Models[0].Schedule.Retrain.CatchupWindow = dur(time.Minute) }, 0,
			[]string{"catch-up window: 1h -> 1m"}},
		{"another task queue is an action change", func(c *config.Config) { c.Temporal.TaskQueue = "other" }, 0,
			[]string{"task queue: q-test -> other"}},
		{"pausing in the config is not a spec change", func(c *config.Config) { c.Models[0].Schedule.Retrain.Paused = true }, 0, nil},
		{"the same score schedule as Temporal echoes it differs in nothing", func(*config.Config) {}, 2, nil},
		{"a longer score window changes the input and the summary", func(c *config.Config) { c.Models[0].Schedule.Score.Window = dur(2 * config.Day) }, 2,
			[]string{
				`workflow input -> {"model":"churn","relative":{"length":"2d","align":"day"},"reason":"schedule"}`,
				"summary: Scheduled scoring of churn (score-churn): the 1d before the run's time, aligned to whole days, with the champion -> " +
					"Scheduled scoring of churn (score-churn): the 2d before the run's time, aligned to whole days, with the champion",
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(base.Models[0])
			cfg.Models[0].Schedule = base.Models[0].Schedule
			tc.change(cfg)
			wantNow, err := FromConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := Diff(wantNow[tc.index], described(t, have[tc.index], false, ""))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Diff = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPauseChangeKeepsPeoplesPauses(t *testing.T) {
	s := Schedule{Field: "models[0].schedule.retrain"}
	paused := func(note string) *client.ScheduleState { return &client.ScheduleState{Paused: true, Note: note} }
	cfgNote := configNote(s)
	tests := []struct {
		name         string
		configPaused bool
		state        *client.ScheduleState
		want         string
	}{
		{"a config pause pauses a running schedule", true, &client.ScheduleState{}, "pause"},
		{"a config pause leaves a paused schedule paused", true, paused("paused by alice@host: incident"), ""},
		{"no config pause leaves a person's pause alone", false, paused("paused by alice@host: incident"), ""},
		{"no config pause resumes what the config had paused", false, paused(cfgNote), "resume"},
		{"no config pause leaves a running schedule running", false, &client.ScheduleState{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.Trigger.Paused = tc.configPaused
			got, _ := pauseChange(s, tc.state)
			if got != tc.want {
				t.Errorf("pauseChange = %q, want %q", got, tc.want)
			}
		})
	}
}
