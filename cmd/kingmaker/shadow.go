package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/registry"
)

// shadowView is what `kingmaker shadow MODEL` shows.
type shadowView struct {
	Model    string                     `json:"model"`
	Champion *registry.Champion         `json:"champion"`
	Shadow   *registry.Shadow           `json:"shadow"`
	Evidence *activities.ShadowEvidence `json:"evidence,omitempty"`
	// History is the latest sets and clears of the pointer, newest first.
	History []registry.ShadowChange `json:"history,omitempty"`
}

func runShadow(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "shadow")
	out := outputFlag(fs)
	set := fs.String("set", "", "make this version the model's shadow (scored beside the champion by `kingmaker serve`)")
	clearIt := fs.Bool("clear", false, "remove the model's shadow version")
	reason := fs.String("reason", "", "why (required with --set and --clear)")
	by := fs.String("by", "", "who sets or clears it (default $USER@host; not allowed when a client certificate or temporal.identity names who acts)")
	pos, err := parseN(fs, args, 1, "exactly one MODEL")
	if err != nil {
		return err
	}
	if *set != "" && *clearIt {
		return usageError{"--set and --clear exclude each other"}
	}
	if (*set != "" || *clearIt) && *reason == "" {
		return usageError{"--reason is required with --set and --clear"}
	}
	cfg, err := loadConfig(e)
	if err != nil {
		return err
	}
	m, err := cfg.Model(pos[0])
	if err != nil {
		return err
	}
	s, err := openKeyspace(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	reg := newRegistry(cfg, s)
	who, err := registryActor(cfg, *by)
	if err != nil {
		return err
	}
	switch {
	case *set != "":
		id, err := parseVersion(*set)
		if err != nil {
			return err
		}
		sh := registry.Shadow{Model: m.Name, Version: id, Since: time.Now().UTC(), StartedBy: who, Reason: *reason}
		if err := reg.SetShadow(ctx, sh); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "version %s is now the shadow of %s (since %s, by %s); `kingmaker serve` scores it on --shadow-sample of the requests from its next poll\n",
			id, m.Name, sh.Since.Format(time.RFC3339), sh.StartedBy)
		return nil
	case *clearIt:
		cur, err := reg.Shadow(ctx, m.Name)
		if err != nil {
			return err
		}
		ok, err := reg.ClearShadow(ctx, registry.ShadowClear{Model: m.Name, By: who, Reason: *reason})
		if err != nil {
			return err
		}
		if !ok || cur == nil {
			fmt.Fprintf(e.stdout, "model %s has no shadow version: nothing cleared\n", m.Name)
			return nil
		}
		fmt.Fprintf(e.stdout, "cleared the shadow of %s (version %s, set by %s) by %s: %s\n", m.Name, cur.Version, cur.StartedBy, who, *reason)
		return nil
	}

	view, err := gatherShadow(ctx, &activities.Activities{Config: cfg, Session: s, Registry: reg}, m.Name)
	if err != nil {
		return err
	}
	return output(e.stdout, *out, view, printShadow)
}

// gatherShadow reads what `kingmaker shadow MODEL` shows: the pointers, the
// latest changes of the shadow and, when there is a shadow, its live
// evidence up to now.
func gatherShadow(ctx context.Context, acts *activities.Activities, model string) (*shadowView, error) {
	reg := acts.Registry
	view := &shadowView{Model: model}
	var err error
	if view.Champion, err = reg.Champion(ctx, model); err != nil {
		return nil, err
	}
	if view.Shadow, err = reg.Shadow(ctx, model); err != nil {
		return nil, err
	}
	if view.History, err = reg.ShadowHistory(ctx, model, 5); err != nil {
		return nil, err
	}
	if view.Shadow != nil {
		if view.Evidence, err = acts.ShadowReport(ctx, activities.ShadowReportInput{
			Model: model, Version: view.Shadow.Version.String(), Since: view.Shadow.Since, To: time.Now().UTC(),
		}); err != nil {
			return nil, err
		}
	}
	return view, nil
}

func printShadow(w io.Writer, v *shadowView) {
	if v.Shadow == nil {
		fmt.Fprintf(w, "model %s has no shadow version (a retrain with policy.shadow.period sets one, or `kingmaker shadow %s --set VERSION --reason TEXT`)\n", v.Model, v.Model)
		if len(v.History) > 0 && v.History[0].Action == "clear" {
			h := v.History[0]
			fmt.Fprintf(w, "last cleared %s by %s (version %s): %s\n", h.ChangedAt.Format(time.RFC3339), h.By, h.Version, h.Reason)
		}
		return
	}
	sh, ev := v.Shadow, v.Evidence
	fmt.Fprintf(w, "model %s: shadow version %s\n", v.Model, sh.Version)
	tw := table(w)
	fmt.Fprintf(tw, "  since\t%s\n", sh.Since.Format(time.RFC3339))
	if !sh.Until.IsZero() {
		fmt.Fprintf(tw, "  judged at\t%s\n", sh.Until.Format(time.RFC3339))
	}
	fmt.Fprintf(tw, "  set by\t%s\n", sh.StartedBy)
	if sh.Reason != "" {
		fmt.Fprintf(tw, "  reason\t%s\n", sh.Reason)
	}
	if v.Champion != nil {
		fmt.Fprintf(tw, "  champion\t%s (generation %d)\n", v.Champion.Version, v.Champion.Generation)
	}
	if ev.Agreement != nil {
		fmt.Fprintf(tw, "  live rows\t%d scored by both\n", ev.Rows)
		fmt.Fprintf(tw, "  agreement\t%.4f (%d of %d rows got the champion's class)\n", *ev.Agreement, ev.Agreed, ev.Rows)
	} else {
		fmt.Fprintf(tw, "  live rows\tnone yet (is `kingmaker serve` running with --shadow-sample above 0?)\n")
	}
	if len(ev.Champions) > 1 {
		for _, c := range ev.Champions {
			fmt.Fprintf(tw, "  answered by\t%s (generation %d): %d rows, %d agreed\n", c.Version, c.Generation, c.Rows, c.Agreed)
		}
	}
	fmt.Fprintf(tw, "  keyed rows\t%d (with an \"id\"), %d with a label\n", ev.KeyedRows, ev.LabelledRows)
	if ev.ChampionLive != nil && ev.ShadowLive != nil {
		fmt.Fprintf(tw, "  live accuracy\tchampion %.4f, shadow %.4f\n", ev.ChampionLive.Accuracy, ev.ShadowLive.Accuracy)
	}
	for _, n := range ev.Notes {
		fmt.Fprintf(tw, "  note\t%s\n", n)
	}
	tw.Flush()
}
