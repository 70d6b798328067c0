package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// probationView is what `kingmaker probation MODEL` shows: the probation of
// the champion while it runs (with the evidence so far and the verdict it
// would give now), else the latest one that ended.
type probationView struct {
	Model    string             `json:"model"`
	Champion *registry.Champion `json:"champion"`
	// State is watching while a probation runs, else the outcome of the
	// latest one (confirmed, rolled_back, inconclusive, superseded), or none.
	State      string                        `json:"state"`
	WorkflowID string                        `json:"workflow_id,omitempty"`
	Version    string                        `json:"version,omitempty"`
	Previous   string                        `json:"previous,omitempty"`
	Since      time.Time                     `json:"since,omitzero"`
	Until      time.Time                     `json:"until,omitzero"`
	Evidence   *activities.ProbationEvidence `json:"evidence,omitempty"`
	// Estimate is the verdict the end of the period would give on the
	// evidence so far (running) or the verdict given (ended).
	Estimate *evaluator.ProbationVerdict `json:"estimate,omitempty"`
	EndedAt  *time.Time                  `json:"ended_at,omitempty"`
	Reasons  []string                    `json:"reasons,omitempty"`
}

func runProbation(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "probation")
	out := outputFlag(fs)
	pos, err := parseN(fs, args, 1, "exactly one MODEL")
	if err != nil {
		return err
	}
	cfg, err := loadConfigFor(e, pos[0])
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
	view, err := gatherProbation(ctx, &activities.Activities{Config: cfg, Session: s, Registry: newRegistry(cfg, s)}, m)
	if err != nil {
		return err
	}
	return output(e.stdout, *out, view, printProbation)
}

// gatherProbation reads the probation of a model from the registry: a
// running one is the shadow pointer its workflow set (started by
// workflows.ProbationID of the champion's generation), judged on the live
// rows so far with the config's policy.probation; an ended one is the
// latest decision record with a probation outcome.
func gatherProbation(ctx context.Context, acts *activities.Activities, m *config.Model) (*probationView, error) {
	reg := acts.Registry
	view := &probationView{Model: m.Name, State: "none"}
	var err error
	if view.Champion, err = reg.Champion(ctx, m.Name); err != nil {
		return nil, err
	}
	sh, err := reg.Shadow(ctx, m.Name)
	if err != nil {
		return nil, err
	}
	if c := view.Champion; c != nil && sh != nil && sh.StartedBy == workflows.ProbationID(m.Name, c.Generation) {
		view.State, view.WorkflowID = workflows.ProbationWatching, sh.StartedBy
		view.Version, view.Previous, view.Since, view.Until = c.Version.String(), sh.Version.String(), sh.Since, sh.Until
		p := m.Policy.Probation
		if !p.Enabled() {
			p.Metric, p.SignificanceLevel = evaluator.MetricAccuracy, evaluator.DefaultSignificanceLevel
		}
		if view.Evidence, err = acts.ProbationEvidence(ctx, activities.ProbationEvidenceInput{
			Model: m.Name, New: view.Version, Previous: view.Previous, From: sh.Since, To: time.Now().UTC(), Probe: p,
		}); err != nil {
			return nil, err
		}
		v := evaluator.JudgeProbation(evaluator.ProbationRules{Metric: p.Metric, MinLabelledRows: p.MinLabelledRows, MaxDrop: p.MaxDrop, SignificanceLevel: p.SignificanceLevel},
			view.Evidence.ProbationEvidence)
		view.Estimate = &v
		return view, nil
	}
	evals, err := reg.Evaluations(ctx, m.Name, 50)
	if err != nil {
		return nil, err
	}
	for _, rec := range evals {
		if !strings.HasPrefix(rec.Outcome, "probation_") {
			continue
		}
		var st workflows.ProbationState
		if err := json.Unmarshal(rec.Decision, &st); err != nil {
			return nil, fmt.Errorf("read the probation record of %s run %s: %w", m.Name, rec.RunID, err)
		}
		view.State, view.WorkflowID = st.Outcome, rec.WorkflowID
		view.Version, view.Previous, view.Since, view.Until, view.EndedAt = st.Version, st.Previous, st.Since, st.Until, st.EndedAt
		view.Evidence, view.Estimate, view.Reasons = st.Evidence, st.Verdict, st.Reasons
		break
	}
	return view, nil
}

func printProbation(w io.Writer, v *probationView) {
	if v.State == "none" {
		fmt.Fprintf(w, "model %s has had no probation (policy.probation.period turns it on; a retrain's promotion over a champion starts one)\n", v.Model)
		return
	}
	if v.State == workflows.ProbationWatching {
		fmt.Fprintf(w, "model %s: version %s is on probation against %s\n", v.Model, v.Version, v.Previous)
	} else {
		fmt.Fprintf(w, "model %s: the latest probation, of %s against %s, ended %s\n", v.Model, v.Version, v.Previous, v.State)
	}
	tw := table(w)
	fmt.Fprintf(tw, "  state\t%s\n", v.State)
	fmt.Fprintf(tw, "  workflow\t%s\n", v.WorkflowID)
	fmt.Fprintf(tw, "  period\t%s to %s\n", v.Since.Format(time.RFC3339), v.Until.Format(time.RFC3339))
	if v.EndedAt != nil {
		fmt.Fprintf(tw, "  ended\t%s\n", v.EndedAt.Format(time.RFC3339))
	}
	if c := v.Champion; c != nil {
		fmt.Fprintf(tw, "  champion\t%s (generation %d)\n", c.Version, c.Generation)
	}
	if ev := v.Evidence; ev != nil {
		fmt.Fprintf(tw, "  live rows\t%d scored by both, %d keyed, %d labelled\n", ev.Rows, ev.KeyedRows, ev.LabelledRows)
		if ev.NewLive != nil && ev.PreviousLive != nil {
			fmt.Fprintf(tw, "  live accuracy\tnew %.4f, previous %.4f\n", ev.NewLive.Accuracy, ev.PreviousLive.Accuracy)
		}
		for _, n := range ev.Notes {
			fmt.Fprintf(tw, "  note\t%s\n", n)
		}
	}
	if e := v.Estimate; e != nil {
		label := "verdict"
		if v.State == workflows.ProbationWatching {
			label = "estimate now"
		}
		fmt.Fprintf(tw, "  %s\t%s: %s\n", label, e.Outcome, e.Reason)
	}
	if v.State != workflows.ProbationWatching {
		for _, r := range v.Reasons {
			fmt.Fprintf(tw, "  reason\t%s\n", r)
		}
	}
	tw.Flush()
}
