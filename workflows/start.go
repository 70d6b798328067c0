package workflows

import (
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// How a run starts, whoever starts it (a person through the CLI, a
// schedule, a drift check): its workflow id, what happens when the id is
// taken, the search attributes it starts with and its summary in the
// Temporal UI. They are built here only, so that the CLI, package schedules
// and DriftWorkflow cannot disagree.

// RetrainWorkflowID is the meaningful id of a retrain run:
// retrain-<model>-<UTC start, to the millisecond>, e.g.
// retrain-churn-20261125t113258.123z.
func RetrainWorkflowID(model string, start time.Time) string {
	return fmt.Sprintf("retrain-%s-%s", model, strings.ToLower(start.UTC().Format("20060102T150405.000Z")))
}

// DriftWorkflowID is the id of a drift check started by hand:
// drift-<model>-<UTC start, to the second>, e.g. drift-churn-20261125t113258z.
// Runs of a drift schedule are drift-<model>-<scheduled time, RFC 3339>.
func DriftWorkflowID(model string, start time.Time) string {
	return fmt.Sprintf("drift-%s-%s", model, start.UTC().Format("20060102t150405z"))
}

// BatchScoreWorkflowID is the id of a batch scoring run started by hand.
// Runs of a score schedule are score-<model>-<scheduled time, RFC 3339>.
func BatchScoreWorkflowID(model string, start time.Time) string {
	return fmt.Sprintf("score-%s-%s", model, start.UTC().Format("20060102t150405z"))
}

// ScheduleID is the id of a model's Temporal Schedule of a kind
// ("retrain", "drift" or "score"): retrain-<model>, drift-<model>,
// score-<model>.
func ScheduleID(kind, model string) string { return kind + "-" + model }

// ModelAttributes are the search attributes every run starts with: its
// model (AttrModel), so that the Temporal UI lists a model's runs from
// their first event.
func ModelAttributes(model string) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(AttrModel.ValueSet(model))
}

// RetrainStartOptions start a retrain of in.Model by hand at now, on the
// main task queue.
func RetrainStartOptions(in RetrainInput, taskQueue string, now time.Time) client.StartWorkflowOptions {
	return startOptions(RetrainWorkflowID(in.Model, now), taskQueue, in.Model, retrainSummary(in.Model, in.Reason))
}

// DriftStartOptions start a drift check of in.Model by hand at now, on the
// main task queue.
func DriftStartOptions(in DriftInput, taskQueue string, now time.Time) client.StartWorkflowOptions {
	return startOptions(DriftWorkflowID(in.Model, now), taskQueue, in.Model, "Drift check of "+in.Model)
}

// BatchScoreStartOptions start the scoring of in's explicit window by hand
// at now, on the main task queue.
func BatchScoreStartOptions(in BatchScoreInput, taskQueue string, now time.Time) client.StartWorkflowOptions {
	return startOptions(BatchScoreWorkflowID(in.Model, now), taskQueue, in.Model,
		fmt.Sprintf("Score %s %s .. %s", in.Model, in.From.Format(time.DateOnly), in.To.Format(time.DateOnly)))
}

// startOptions are the options of a run started by hand: a second start
// with the same id fails instead of joining the run that has it.
func startOptions(id, taskQueue, model, summary string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID: id, TaskQueue: taskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		TypedSearchAttributes:    ModelAttributes(model),
		StaticSummary:            summary,
	}
}

// driftRetrainOptions are the options of the retrain a drift check of
// model starts, as its child, at now: id RetrainWorkflowID with -drift
// after it, on the check's own task queue, left running when the check
// ends, and refused when a run of the same id ever existed.
func driftRetrainOptions(model, taskQueue string, now time.Time) workflow.ChildWorkflowOptions {
	return workflow.ChildWorkflowOptions{
		WorkflowID:            RetrainWorkflowID(model, now) + "-drift",
		TaskQueue:             taskQueue,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: ModelAttributes(model),
		StaticSummary:         retrainSummary(model, ReasonDrift),
	}
}

// retrainSummary is the summary of a retrain run started by hand or by a
// drift check: "Retrain churn (manual)".
func retrainSummary(model, reason string) string {
	return fmt.Sprintf("Retrain %s (%s)", model, reason)
}

// ScheduledRetrainSummary is the summary of the runs of a model's retrain
// schedule: "Scheduled retrain of churn (retrain-churn)".
func ScheduledRetrainSummary(model, scheduleID string) string {
	return fmt.Sprintf("Scheduled retrain of %s (%s)", model, scheduleID)
}

// ScheduledDriftSummary is the summary of the runs of a model's drift
// schedule: "Scheduled drift check of churn (drift-churn)".
func ScheduledDriftSummary(model, scheduleID string) string {
	return fmt.Sprintf("Scheduled drift check of %s (%s)", model, scheduleID)
}

// ScheduledScoreSummary is the summary of the runs of a model's score
// schedule, window saying which rows each run scores: "Scheduled scoring of
// churn (score-churn): the 1d before the run's time, ...".
func ScheduledScoreSummary(model, scheduleID, window string) string {
	return fmt.Sprintf("Scheduled scoring of %s (%s): %s", model, scheduleID, window)
}
