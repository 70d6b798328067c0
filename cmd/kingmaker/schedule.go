package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/schedules"
)

func runScheduleSync(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "schedule sync")
	dryRun := fs.Bool("dry-run", false, "say what sync would change, change nothing")
	out := outputFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError{fmt.Sprintf("unexpected argument %q: sync takes every model from the config", pos[0])}
	}
	cfg, c, err := openTemporal(ctx, e)
	if err != nil {
		return err
	}
	defer c.Close()
	sync := schedules.Sync
	if *dryRun {
		sync = schedules.Plan
	}
	res, err := sync(ctx, c, cfg)
	if res == nil {
		return err
	}
	if *out == "json" {
		if jerr := writeJSON(e.stdout, res); jerr != nil {
			return jerr
		}
		return err
	}
	printSync(e.stdout, res)
	return err
}

func printSync(w io.Writer, res *schedules.Result) {
	if len(res.Schedules) == 0 {
		fmt.Fprintln(w, "no schedules: no model sets schedule.retrain, schedule.drift or schedule.score (every or cron) in the config")
		return
	}
	head := "RESULT"
	if res.DryRun {
		head = "PLAN"
	}
	tw := table(w)
	fmt.Fprintf(tw, "SCHEDULE\tMODEL\tKIND\t%s\tDETAIL\n", head)
	for _, c := range res.Schedules {
		detail := strings.Join(c.Details, "; ")
		if c.Error != "" {
			detail, _, _ = strings.Cut(c.Error, "\n")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Model, c.Kind, c.Outcome, detail)
	}
	tw.Flush()
	var counts []string
	for _, o := range []string{schedules.Created, schedules.Updated, schedules.Unchanged, schedules.Deleted, schedules.Skipped, schedules.Failed} {
		if n := res.Count(o); n > 0 || o != schedules.Skipped && o != schedules.Failed {
			counts = append(counts, fmt.Sprintf("%d %s", n, o))
		}
	}
	suffix := ""
	if res.DryRun {
		suffix = " (dry run: nothing changed)"
	}
	fmt.Fprintf(w, "\n%s%s\n", strings.Join(counts, ", "), suffix)
}

func runScheduleList(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "schedule list")
	out := outputFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", pos[0])}
	}
	cfg, c, err := openTemporal(ctx, e)
	if err != nil {
		return err
	}
	defer c.Close()
	list, err := schedules.List(ctx, c, cfg)
	if err != nil {
		return err
	}
	if *out == "json" {
		if list == nil {
			list = []schedules.Entry{}
		}
		return writeJSON(e.stdout, list)
	}
	if len(list) == 0 {
		fmt.Fprintln(e.stdout, "no schedules: no model sets schedule.retrain, schedule.drift or schedule.score (every or cron) in the config")
		return nil
	}
	tw := table(e.stdout)
	fmt.Fprintln(tw, "SCHEDULE\tMODEL\tKIND\tSPEC\tSTATE\tNEXT RUN\tLAST RUN\tNOTE")
	for _, s := range list {
		next, last := "-", "-"
		if len(s.NextRuns) > 0 {
			next = clock(s.NextRuns[0])
		}
		if s.LastRun != nil {
			last = clock(s.LastRun.StartedAt) + " " + s.LastRun.WorkflowID
		}
		note := s.Note
		if !s.Paused && s.Exists {
			note = "" // the note of a running schedule is history
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Model, s.Kind, s.Spec, scheduleState(s), next, last, note)
	}
	return tw.Flush()
}

func scheduleState(s schedules.Entry) string {
	var st string
	switch {
	case !s.Exists:
		return "missing"
	case s.Paused:
		st = "paused"
	default:
		st = "active"
	}
	if len(s.Running) > 0 {
		st += ", running"
	}
	if !s.InConfig {
		st += ", not in config (sync deletes it)"
	}
	return st
}

func clock(t time.Time) string { return t.UTC().Format("2006-01-02 15:04Z") }

// scheduleRef parses MODEL|SCHEDULE_ID, the kind (a second argument or
// --kind), and resolves them against the config.
func scheduleRef(e *env, fs *flag.FlagSet, kind *string, args []string) (*config.Config, schedules.Ref, error) {
	pos, err := parse(fs, args)
	if err != nil {
		return nil, schedules.Ref{}, err
	}
	if len(pos) == 2 && slices.Contains(schedules.Kinds, pos[1]) {
		if *kind != "" && *kind != pos[1] {
			return nil, schedules.Ref{}, usageError{fmt.Sprintf("kind %s and --kind %s disagree: give one", pos[1], *kind)}
		}
		*kind, pos = pos[1], pos[:1]
	}
	if len(pos) != 1 {
		return nil, schedules.Ref{}, usageError{"exactly one MODEL or SCHEDULE_ID (retrain-MODEL, drift-MODEL, score-MODEL), optionally followed by a kind (retrain, drift, score)"}
	}
	if *kind != "" && !slices.Contains(schedules.Kinds, *kind) {
		return nil, schedules.Ref{}, usageError{fmt.Sprintf("--kind %q: use retrain, drift or score", *kind)}
	}
	cfg, err := loadConfig(e)
	if err != nil {
		return nil, schedules.Ref{}, err
	}
	ref, err := schedules.Resolve(cfg, pos[0], *kind)
	return cfg, ref, err
}

func kindFlag(fs *flag.FlagSet) *string {
	return fs.String("kind", "", "retrain, drift or score: which of the model's schedules (default retrain; also as a second argument)")
}

func runSchedulePause(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "schedule pause")
	kind := kindFlag(fs)
	reason := fs.String("reason", "", "why (required, kept as the schedule's note)")
	cfg, ref, err := scheduleRef(e, fs, kind, args)
	if err != nil {
		return err
	}
	if *reason == "" {
		return usageError{"--reason is required: it is kept as the schedule's note"}
	}
	who, c, err := actAndDial(ctx, cfg, "")
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := schedules.Pause(ctx, c, ref.ID, fmt.Sprintf("paused by %s: %s", who, *reason))
	if err != nil {
		return err
	}
	already := ""
	if st.WasPaused {
		already = " (it was already paused; the note is replaced)"
	}
	fmt.Fprintf(e.stdout, "paused %s%s\n  note: %s\n", st.ID, already, st.Note)
	if ref.Trigger == nil || !ref.Trigger.Paused {
		fmt.Fprintln(e.stdout, "  it stays paused across `kingmaker schedule sync` until `kingmaker schedule resume`")
	}
	return nil
}

func runScheduleResume(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "schedule resume")
	kind := kindFlag(fs)
	reason := fs.String("reason", "", "why (optional, kept as the schedule's note)")
	cfg, ref, err := scheduleRef(e, fs, kind, args)
	if err != nil {
		return err
	}
	who, c, err := actAndDial(ctx, cfg, "")
	if err != nil {
		return err
	}
	defer c.Close()
	note := "resumed by " + who
	if *reason != "" {
		note += ": " + *reason
	}
	st, err := schedules.Resume(ctx, c, ref.ID, note)
	if err != nil {
		return err
	}
	already := ""
	if !st.WasPaused {
		already = " (it was not paused)"
	}
	fmt.Fprintf(e.stdout, "resumed %s%s\n", st.ID, already)
	if ref.Trigger != nil && ref.Trigger.Paused {
		fmt.Fprintf(e.stderr, "warning: %s.paused is true in the config: the next `kingmaker schedule sync` pauses %s again\n", ref.Field, ref.ID)
	}
	return nil
}

func runScheduleTrigger(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "schedule trigger")
	kind := kindFlag(fs)
	out := outputFlag(fs)
	cfg, ref, err := scheduleRef(e, fs, kind, args)
	if err != nil {
		return err
	}
	c, err := dialTemporal(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	got, err := schedules.Trigger(ctx, c, ref.ID)
	if err != nil {
		return err
	}
	if *out == "json" {
		view := struct {
			*schedules.Triggered
			URL string `json:"url,omitempty"`
		}{Triggered: got}
		if got.WorkflowID != "" {
			view.URL = runURL(cfg, got.WorkflowID)
		}
		return writeJSON(e.stdout, view)
	}
	if got.WorkflowID == "" {
		fmt.Fprintf(e.stdout, "triggered %s; its run did not show yet: see `kingmaker schedule list`\n", got.ScheduleID)
		return nil
	}
	fmt.Fprintf(e.stdout, "started %s (run %s) from schedule %s\n  %s\n", got.WorkflowID, got.RunID, got.ScheduleID, runURL(cfg, got.WorkflowID))
	return nil
}
