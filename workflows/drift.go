package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/drift"
)

// What a drift check did about its verdict; drift.Act decides which.
const (
	DriftNoChampion      = drift.ActionNoChampion
	DriftStable          = drift.ActionStable
	DriftRetrainStarted  = drift.ActionRetrain
	DriftCooldown        = drift.ActionCooldown
	DriftRetrainRunning  = drift.ActionRetrainRunning
	DriftRetrainDisabled = drift.ActionRetrainDisabled
)

// DriftResult is what a drift check found and did.
type DriftResult struct {
	Model   string                   `json:"model"`
	Window  dataset.Window           `json:"window"`
	Summary *activities.DriftSummary `json:"summary,omitempty"`
	// Action is one of the Drift* constants.
	Action  string   `json:"action"`
	Retrain string   `json:"retrain,omitempty"` // workflow id of the retrain it started
	Reasons []string `json:"reasons"`
}

// DriftWorkflow compares a model's recent window with its champion's
// training profile (and, where labels have arrived, the champion's live
// quality), stores the report, and does what drift.Act decides: when the
// model drifted and the config allows it, start a retrain with reason drift,
// never while a retrain of the model is running and, for scheduled checks,
// never within drift.cooldown of the last drift-triggered retrain (a check a
// person asks for with `kingmaker drift --now` is not throttled).
func DriftWorkflow(ctx workflow.Context, in DriftInput) (*DriftResult, error) {
	info := workflow.GetInfo(ctx)
	res := &DriftResult{Model: in.Model, Reasons: []string{}}
	_ = workflow.UpsertTypedSearchAttributes(ctx, AttrModel.ValueSet(in.Model))
	light := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 10},
	})
	var spec activities.Spec
	if err := workflow.ExecuteActivity(summary(light, "load the spec of "+in.Model), a.LoadSpec, activities.LoadSpecInput{Model: in.Model}).Get(ctx, &spec); err != nil {
		return nil, err
	}
	m := spec.Model
	now := workflow.Now(ctx).UTC()
	to := now
	if in.AsOf != nil {
		to = in.AsOf.UTC()
	}
	res.Window = dataset.Window{From: to.Add(-m.Drift.Window.D()), To: to}

	checkCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           spec.TrainingTaskQueue,
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: time.Minute, MaximumAttempts: 5},
	})
	var sum activities.DriftSummary
	if err := workflow.ExecuteActivity(summary(checkCtx, "drift of "+res.Window.String()+" against the champion's profile"), a.CheckDrift, activities.DriftCheckInput{
		Model: in.Model, Window: res.Window, RunID: info.WorkflowExecution.RunID, WorkflowID: info.WorkflowExecution.ID, StartedAt: info.WorkflowStartTime,
		Spec: &spec.Model,
	}).Get(ctx, &sum); err != nil {
		return nil, err
	}
	res.Summary = &sum
	res.Reasons = append(res.Reasons, sum.Reasons...)
	situation := drift.Situation{
		HasChampion: sum.HasChampion, FeaturesDrifted: sum.Drifted, QualityDropped: sum.QualityDropped,
		Manual: in.Reason == ReasonManual, RetrainOnDrift: m.Drift.RetrainOnDrift, Cooldown: m.Drift.Cooldown.D(),
		Now: now, LastDriftRetrain: sum.LastDriftRetrain,
	}
	step := drift.Act(situation)
	if step.Action == drift.ActionNoChampion {
		res.Action = step.Action
		return res, nil
	}
	decision := "stable"
	if step.Drifted {
		decision = "drifted"
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, AttrDecision.ValueSet(decision), AttrChampion.ValueSet(sum.Champion))
	if step.Action == drift.ActionRetrain { // only a check that would retrain asks what is running
		if err := workflow.ExecuteActivity(light, a.RunningWorkflows, activities.RunningInput{Model: in.Model, WorkflowType: RetrainWorkflowName}).Get(ctx, &situation.Running); err != nil {
			return nil, err
		}
		step = drift.Act(situation)
	}
	if step.Action != drift.ActionRetrain {
		res.Action = step.Action
		if step.Reason != "" {
			res.Reasons = append(res.Reasons, step.Reason)
		}
		return res, nil
	}
	opts := driftRetrainOptions(in.Model, info.TaskQueueName, now)
	id := opts.WorkflowID
	child := workflow.WithChildOptions(ctx, opts)
	f := workflow.ExecuteChildWorkflow(child, RetrainWorkflowName, RetrainInput{
		Model: in.Model, Reason: ReasonDrift, RequestedBy: info.WorkflowExecution.ID, AsOf: in.AsOf, RequireApproval: m.Drift.ApproveRetrains,
	})
	if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		return nil, fmt.Errorf("start drift retrain %s: %w", id, err)
	}
	if err := workflow.ExecuteActivity(light, a.MarkRetrainStarted, activities.MarkRetrainInput{Model: in.Model, ReportID: sum.ReportID}).Get(ctx, nil); err != nil {
		return nil, err
	}
	res.Action, res.Retrain = DriftRetrainStarted, id
	res.Reasons = append(res.Reasons, "started retrain "+id+" (reason drift)")
	return res, nil
}
