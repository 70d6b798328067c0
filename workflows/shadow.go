package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/registry"
)

// The shadow period of a run, between its decision (and approval) and its
// promotion, when the model's policy.shadow.period is set.
const (
	// StageShadowing is the progress stage while the winner is shadowed.
	StageShadowing = "shadowing"
	// OutcomeShadowFailed is a run whose winner did not pass its shadow
	// period: nothing was promoted.
	OutcomeShadowFailed = "shadow_failed"
)

// ShadowResult is a run's shadow period: the version shadowed and when,
// the live evidence, the verdict and its reasons.
type ShadowResult struct {
	Version  string                     `json:"version"`
	Since    time.Time                  `json:"since"`
	Until    time.Time                  `json:"until"`
	Evidence *activities.ShadowEvidence `json:"evidence,omitempty"`
	Passed   bool                       `json:"passed"`
	Reasons  []string                   `json:"reasons,omitempty"`
	// Cleared is whether the run removed its shadow pointer at the end (it
	// leaves one that someone set after it).
	Cleared bool `json:"cleared"`
}

// shadowWinner runs the shadow period of a winner the decision (and the
// approver) would promote, and returns the run's outcome: promote when the
// winner passes the shadow rules (evaluator.JudgeShadow), OutcomeShadowFailed
// when it does not. It sets the shadow pointer, sleeps the period durably, asks
// for the live evidence, and clears the pointer whatever happened. Without
// a champion there is nothing to shadow against: the first champion is
// promoted at once.
//
// A run whose recorded spec has no policy.shadow period never reaches this,
// so replaying it takes no new branch: no GetVersion.
func shadowWinner(ctx workflow.Context, p config.Shadow, champion *registry.Champion, winner string, prog *Progress, res *RetrainResult) (string, error) {
	if champion == nil {
		res.Reasons = append(res.Reasons, "no champion to shadow the winner against (policy.shadow): the first champion is promoted at once")
		return string(evaluator.OutcomePromote), nil
	}
	info := workflow.GetInfo(ctx)
	log := workflow.GetLogger(ctx)
	now := workflow.Now(ctx).UTC()
	sr := &ShadowResult{Version: winner, Since: now, Until: now.Add(p.Period.D())}
	prog.Stage, prog.Shadow, res.Shadow = StageShadowing, sr, sr
	runID := info.WorkflowExecution.RunID

	set := activities.SetShadowInput{
		Model: res.Model, Version: winner, Since: sr.Since, Until: sr.Until, StartedBy: runID,
		Reason: fmt.Sprintf("shadow period of %s, before promotion over champion %s (generation %d)", info.WorkflowExecution.ID, champion.Version, champion.Generation),
	}
	clearPointer := func(ctx workflow.Context) {
		var c activities.ClearedShadow
		err := workflow.ExecuteActivity(summary(durable(ctx), "clear the shadow pointer"), a.ClearShadow,
			activities.ClearShadowInput{Model: res.Model, StartedBy: runID}).Get(ctx, &c)
		if err != nil {
			log.Error("the shadow pointer could not be cleared", "model", res.Model, "error", err)
			sr.Reasons = append(sr.Reasons, fmt.Sprintf("the shadow pointer could not be cleared (%v): clear it with `kingmaker shadow %s --clear --reason ...`", err, res.Model))
			return
		}
		sr.Cleared = c.Cleared
	}
	// A run cancelled while shadowing still clears its pointer.
	cleanup := func(err error) (string, error) {
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		clearPointer(dctx)
		return "", err
	}

	if err := workflow.ExecuteActivity(summary(durable(ctx), fmt.Sprintf("shadow %s for %s", winner, p.Period)), a.SetShadow, set).Get(ctx, nil); err != nil {
		return cleanup(err)
	}
	if err := workflow.Sleep(ctx, sr.Until.Sub(now)); err != nil {
		return cleanup(err)
	}
	reportCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute, HeartbeatTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: time.Minute, MaximumAttempts: 5},
	})
	var ev activities.ShadowEvidence
	err := workflow.ExecuteActivity(summary(reportCtx, "report the live evidence on shadow "+winner), a.ShadowReport, activities.ShadowReportInput{
		Model: res.Model, Version: winner, Since: sr.Since, To: workflow.Now(ctx).UTC(),
	}).Get(ctx, &ev)
	if err != nil {
		return cleanup(err)
	}
	clearPointer(ctx)
	sr.Evidence = &ev
	v := evaluator.JudgeShadow(shadowRules(p), shadowEvidence(&ev))
	sr.Passed, sr.Reasons = v.Passed, append(v.Reasons, sr.Reasons...)
	res.Reasons = append(res.Reasons, sr.Reasons...)
	if !v.Passed {
		return OutcomeShadowFailed, nil
	}
	return string(evaluator.OutcomePromote), nil
}

// shadowRules are the evaluator's shadow rules of a model's policy.shadow.
func shadowRules(p config.Shadow) evaluator.ShadowRules {
	return evaluator.ShadowRules{MinRequests: p.MinRequests, MinAgreement: p.MinAgreement, MinLabelledRows: p.MinLabelledRows, MaxAccuracyDrop: p.MaxAccuracyDrop}
}

// shadowEvidence is what the evaluator's shadow rules read of the live
// evidence a shadow period gathered.
func shadowEvidence(ev *activities.ShadowEvidence) evaluator.ShadowEvidence {
	return evaluator.ShadowEvidence{
		Version: ev.Version, Rows: ev.Rows, Agreement: ev.Agreement, Champions: len(ev.Champions),
		LabelledRows: ev.LabelledRows, ChampionLive: ev.ChampionLive, ShadowLive: ev.ShadowLive,
	}
}
