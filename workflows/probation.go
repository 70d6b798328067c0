package workflows

import (
	"encoding/json"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/registry"
)

// ProbationWorkflowName is the workflow type of a probation, and
// QueryProbation its query, which returns a ProbationState.
const (
	ProbationWorkflowName = "ProbationWorkflow"
	QueryProbation        = "probation"
)

// States of a probation beyond the outcomes of evaluator.JudgeProbation.
const (
	ProbationWatching = "watching"
	ProbationJudging  = "judging"
	// ProbationSuperseded is a probation ended because the pointer moved
	// under it (a manual promotion or rollback, or another run's promotion).
	ProbationSuperseded = "superseded"
)

// ProbationBy is who a probation's rollback is recorded as.
const ProbationBy = "kingmaker-probation"

// minRequestsForErrorRate is the fewest requests of a check interval whose
// error rate can roll a champion back early: one failed request of two is
// not a rate.
const minRequestsForErrorRate = 20

// changeProbation is the workflow.GetVersion change id of starting a
// probation after a promotion (version 1).
const changeProbation = "probation-after-promotion"

// ProbationID is the workflow id of the probation of a model's generation:
// one probation per promotion, whoever asks to start it.
func ProbationID(model string, generation int64) string {
	return fmt.Sprintf("%s%s-g%d", registry.ProbationPrefix, model, generation)
}

// ProbationInput starts the probation of a promotion: Champion is the
// pointer the promotion wrote, Previous the version it replaced.
type ProbationInput struct {
	Model     string            `json:"model"`
	Champion  registry.Champion `json:"champion"`
	Previous  string            `json:"previous"`
	Probation config.Probation  `json:"probation"`
}

// ProbationState is where a probation stands (the probation query) and,
// once ended, its result.
type ProbationState struct {
	Model      string    `json:"model"`
	Version    string    `json:"version"`
	Previous   string    `json:"previous"`
	Generation int64     `json:"generation"`
	State      string    `json:"state"`
	Since      time.Time `json:"since"`
	Until      time.Time `json:"until"`
	// Shadowed says whether the previous champion was set as the shadow.
	Shadowed bool `json:"shadowed"`
	Checks   int  `json:"checks"`
	// MissedChecks counts checks whose activity failed for good.
	MissedChecks int                           `json:"missed_checks,omitempty"`
	LastCheck    *activities.ProbationCheck    `json:"last_check,omitempty"`
	Evidence     *activities.ProbationEvidence `json:"evidence,omitempty"`
	Verdict      *evaluator.ProbationVerdict   `json:"verdict,omitempty"`
	Rollback     *activities.PromoteResult     `json:"rollback,omitempty"`
	Rules        evaluator.ProbationRules      `json:"rules"`
	Reasons      []string                      `json:"reasons"`
	Outcome      string                        `json:"outcome,omitempty"`
	EndedAt      *time.Time                    `json:"ended_at,omitempty"`
}

// ProbationWorkflow watches a new champion for policy.probation.period
// against the champion it replaced, and confirms it or rolls it back:
//
//  1. it sets the previous champion as the model's shadow, so that
//     `kingmaker serve` scores the live rows with both;
//  2. every check_every it reads the pointer (moved by anyone else: it ends
//     superseded) and, with serving limits, the serving metrics (over a
//     limit: it rolls back at once);
//  3. at the end it compares both versions on the live rows whose labels
//     arrived (activities.ProbationEvidence) and judges by
//     evaluator.JudgeProbation;
//  4. a roll back is the compare-and-set of a rollback from the generation
//     it watched, with a request id fixed by the workflow id, so retries and
//     worker restarts roll back at most once; losing it means superseded;
//  5. it clears its shadow pointer, records its decision among the model's
//     evaluations and counts its outcome.
func ProbationWorkflow(ctx workflow.Context, in ProbationInput) (*ProbationState, error) {
	info := workflow.GetInfo(ctx)
	log := workflow.GetLogger(ctx)
	p := in.Probation
	now := workflow.Now(ctx).UTC()
	st := &ProbationState{
		Model: in.Model, Version: in.Champion.Version.String(), Previous: in.Previous, Generation: in.Champion.Generation,
		State: ProbationWatching, Since: now, Until: now.Add(p.Period.D()), Reasons: []string{},
		Rules: evaluator.ProbationRules{Metric: p.Metric, MinLabelledRows: p.MinLabelledRows, MaxDrop: p.MaxDrop, SignificanceLevel: p.SignificanceLevel},
	}
	if err := workflow.SetQueryHandler(ctx, QueryProbation, func() (*ProbationState, error) { return st, nil }); err != nil {
		return nil, err
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, AttrModel.ValueSet(in.Model), AttrChampion.ValueSet(st.Version))
	_ = workflow.UpsertMemo(ctx, map[string]any{"headline": fmt.Sprintf("probation of %s (generation %d) until %s", st.Version, st.Generation, st.Until.Format(time.RFC3339))})

	light := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 10},
	})
	clearShadow := func(ctx workflow.Context) {
		if !st.Shadowed {
			return
		}
		var c activities.ClearedShadow
		err := workflow.ExecuteActivity(summary(durable(ctx), "clear the shadow pointer"), a.ClearShadow,
			activities.ClearShadowInput{Model: in.Model, StartedBy: info.WorkflowExecution.ID, Reason: "the probation that set it ended"}).Get(ctx, &c)
		if err != nil {
			log.Error("the shadow pointer could not be cleared", "model", in.Model, "error", err)
			st.Reasons = append(st.Reasons, fmt.Sprintf("the shadow pointer could not be cleared (%v): clear it with `kingmaker shadow %s --clear --reason ...`", err, in.Model))
		}
	}
	// A probation cancelled or failing still clears its pointer.
	abort := func(err error) (*ProbationState, error) {
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		clearShadow(dctx)
		return st, err
	}

	err := workflow.ExecuteActivity(summary(durable(ctx), fmt.Sprintf("shadow the previous champion %s for %s", in.Previous, p.Period)), a.SetShadow, activities.SetShadowInput{
		Model: in.Model, Version: in.Previous, Since: st.Since, Until: st.Until, StartedBy: info.WorkflowExecution.ID,
		Reason: fmt.Sprintf("probation of %s (generation %d): the previous champion scores the same live rows", st.Version, st.Generation),
	}).Get(ctx, nil)
	if err != nil {
		// Without the shadow there are no pairs; the checks still guard
		// the serving limits and the pointer, and the end says inconclusive.
		st.Reasons = append(st.Reasons, fmt.Sprintf("the previous champion %s could not be set as shadow: %v", in.Previous, err))
	} else {
		st.Shadowed = true
	}

	outcome, reason := "", ""
	for outcome == "" {
		left := st.Until.Sub(workflow.Now(ctx))
		if left <= 0 {
			break
		}
		if err := workflow.Sleep(ctx, min(left, p.CheckEvery.D())); err != nil {
			return abort(err)
		}
		var chk activities.ProbationCheck
		if err := workflow.ExecuteActivity(summary(light, "check the pointer and the serving limits"), a.CheckProbation,
			activities.ProbationCheckInput{Model: in.Model, Version: st.Version, Probe: p}).Get(ctx, &chk); err != nil {
			if temporal.IsCanceledError(err) {
				return abort(err)
			}
			// A registry outage costs a check, not the probation: the next
			// one looks again, and the end of the period judges as usual.
			log.Warn("a probation check failed", "model", in.Model, "error", err)
			st.MissedChecks++
			continue
		}
		st.Checks++
		st.LastCheck = &chk
		outcome, reason = judgeCheck(in, &chk)
	}

	if outcome == "" {
		st.State = ProbationJudging
		// Retried for hours: the verdict is the point of the probation, and
		// a registry outage at the end of the period must not lose it.
		ectx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 30 * time.Minute, HeartbeatTimeout: 2 * time.Minute, ScheduleToCloseTimeout: 6 * time.Hour,
			RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: 5 * time.Minute},
		})
		var ev activities.ProbationEvidence
		if err := workflow.ExecuteActivity(summary(ectx, "compare both versions on the labelled live rows"), a.ProbationEvidence, activities.ProbationEvidenceInput{
			Model: in.Model, New: st.Version, Previous: in.Previous, From: st.Since, To: workflow.Now(ctx).UTC(), Probe: p, Seed: seed(info.WorkflowExecution.ID),
		}).Get(ctx, &ev); err != nil {
			return abort(err)
		}
		st.Evidence = &ev
		v := evaluator.JudgeProbation(st.Rules, ev.ProbationEvidence)
		st.Verdict = &v
		outcome, reason = v.Outcome, v.Reason
	}

	if outcome == evaluator.ProbationRolledBack {
		expected := in.Champion
		var res activities.PromoteResult
		err := workflow.ExecuteActivity(summary(durable(ctx), "roll back to "+in.Previous+" by compare-and-set"), a.Promote, activities.PromoteInput{
			Model: in.Model, Version: in.Previous, Expected: &expected, Action: registry.ActionRollback,
			By: ProbationBy, Reason: "probation: " + reason, RunID: info.WorkflowExecution.RunID,
			RequestID: info.WorkflowExecution.ID + "/rollback",
		}).Get(ctx, &res)
		if err != nil {
			return abort(err)
		}
		st.Rollback = &res
		if res.Lost {
			outcome, reason = ProbationSuperseded, "the roll back lost its compare-and-set: "+res.Message
		}
	}
	st.Reasons = append([]string{reason}, st.Reasons...)
	clearShadow(ctx)
	st.State, st.Outcome = outcome, outcome
	end := workflow.Now(ctx).UTC()
	st.EndedAt = &end
	_ = workflow.UpsertTypedSearchAttributes(ctx, AttrDecision.ValueSet("probation_"+outcome))
	_ = workflow.UpsertMemo(ctx, map[string]any{"outcome": outcome, "headline": reason})

	doc, err := json.Marshal(st)
	if err != nil {
		return st, err
	}
	kept := st.Version
	var champ *registry.Champion
	switch {
	case st.Rollback != nil && st.Rollback.Champion != nil:
		kept, champ = in.Previous, st.Rollback.Champion
	case outcome == ProbationSuperseded:
		kept = ""
		if st.LastCheck != nil {
			champ = st.LastCheck.Champion
		}
	default:
		champ = &in.Champion
	}
	if err := workflow.ExecuteActivity(summary(durable(ctx), "record the probation: "+outcome), a.RecordProbation, activities.RecordProbationInput{
		Model: in.Model, RunID: info.WorkflowExecution.RunID, WorkflowID: info.WorkflowExecution.ID, StartedAt: info.WorkflowStartTime,
		Outcome: outcome, Kept: kept, Champion: champ, Window: dataset.Window{From: st.Since, To: end}, Decision: doc,
	}).Get(ctx, nil); err != nil {
		return st, err
	}
	if err := workflow.ExecuteActivity(summary(light, "count the outcome"), a.ProbationEnded,
		activities.ProbationEndedInput{Model: in.Model, Outcome: outcome}).Get(ctx, nil); err != nil {
		log.Error("the probation outcome could not be counted", "model", in.Model, "error", err)
	}
	log.Info("probation done", "model", in.Model, "version", st.Version, "outcome", outcome)
	return st, nil
}

// judgeCheck reads one check: an outcome (superseded or an early roll
// back) and its reason, or "" to keep watching.
func judgeCheck(in ProbationInput, c *activities.ProbationCheck) (string, string) {
	p := in.Probation
	if c.Champion == nil || c.Champion.Generation != in.Champion.Generation || c.Champion.Version != in.Champion.Version {
		now := "no champion"
		if c.Champion != nil {
			now = fmt.Sprintf("generation %d (%s, by %s: %s)", c.Champion.Generation, c.Champion.Version, c.Champion.PromotedBy, c.Champion.Reason)
		}
		return ProbationSuperseded, fmt.Sprintf("the champion pointer moved from generation %d to %s: the probation of %s ends", in.Champion.Generation, now, in.Champion.Version)
	}
	if p.MaxErrorRate > 0 && c.ErrorRate != nil && c.Requests != nil && *c.Requests >= minRequestsForErrorRate && *c.ErrorRate > p.MaxErrorRate {
		return evaluator.ProbationRolledBack, fmt.Sprintf("%s answered %.4g of %.0f requests with a server error over the last %s, more than policy.probation.max_error_rate %g: roll back early to %s",
			in.Champion.Version, *c.ErrorRate, *c.Requests, p.CheckEvery, p.MaxErrorRate, in.Previous)
	}
	if p.MaxLatencyP99 > 0 && c.LatencyP99 != nil && *c.LatencyP99 > p.MaxLatencyP99.D().Seconds() {
		return evaluator.ProbationRolledBack, fmt.Sprintf("the 99th percentile latency of %s was %.4gs over the last %s, more than policy.probation.max_latency_p99 %s: roll back early to %s",
			in.Model, *c.LatencyP99, p.CheckEvery, p.MaxLatencyP99, in.Previous)
	}
	return "", ""
}

// startProbation starts the probation of the promotion a run just won, as
// an abandoned child workflow so it outlives the run. It never fails the
// run: a probation that cannot start is a reason in the run's result.
func (r *retrainRun) startProbation() {
	p := r.spec.Model.Policy.Probation
	if !p.Enabled() || r.promotion == nil || r.promotion.Champion == nil {
		return
	}
	if r.snap.Champion == nil {
		r.res.Reasons = append(r.res.Reasons, "no probation: there was no previous champion to compare the first one with")
		return
	}
	if workflow.GetVersion(r.ctx, changeProbation, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	champ := *r.promotion.Champion
	id := ProbationID(r.in.Model, champ.Generation)
	cctx := workflow.WithChildOptions(r.ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        id,
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
		// A closed probation of the same id (a keyspace reset restarts
		// generations) does not block this one; a running one does.
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:         fmt.Sprintf("probation of %s %s (generation %d)", r.in.Model, champ.Version, champ.Generation),
	})
	f := workflow.ExecuteChildWorkflow(cctx, ProbationWorkflowName, ProbationInput{
		Model: r.in.Model, Champion: champ, Previous: r.snap.Champion.Version.String(), Probation: p,
	})
	if err := f.GetChildWorkflowExecution().Get(r.ctx, nil); err != nil {
		r.res.Reasons = append(r.res.Reasons, fmt.Sprintf("the probation %s could not start: %v", id, err))
		return
	}
	r.res.Probation = id
	r.res.Reasons = append(r.res.Reasons, fmt.Sprintf("on probation until %s against %s: workflow %s", workflow.Now(r.ctx).UTC().Add(p.Period.D()).Format(time.RFC3339), r.snap.Champion.Version, id))
}
