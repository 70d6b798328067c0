// Package workflows holds Kingmaker's Temporal workflows: RetrainWorkflow
// (snapshot a window, train candidates in parallel, evaluate them with the
// champion on the same holdout, decide by policy, await approval when asked,
// promote by compare-and-set, record) and the names the CLI and the worker
// share. Workflow code is deterministic: time comes from workflow.Now, order
// from slices, and every effect from an activity.
package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
)

// Names shared by the worker, the CLI and the Temporal UI.
const (
	RetrainWorkflowName = "RetrainWorkflow"
	DriftWorkflowName   = "DriftWorkflow"

	// QueryProgress returns a Progress.
	QueryProgress = "progress"
	// UpdateApprove and UpdateReject answer a run awaiting approval; their
	// argument is an ApprovalInput.
	UpdateApprove = "approve"
	UpdateReject  = "reject"
)

// Search attributes that make runs filterable in the Temporal UI; the stack
// scripts register them (Keyword type) on the dev server.
var (
	AttrModel    = temporal.NewSearchAttributeKeyKeyword("KingmakerModel")
	AttrDecision = temporal.NewSearchAttributeKeyKeyword("KingmakerDecision")
	AttrChampion = temporal.NewSearchAttributeKeyKeyword("KingmakerChampion")
)

// AttrScheduledStartTime is the search attribute Temporal sets on every run
// a schedule starts: the time the schedule meant it for, before jitter (the
// trigger time of a triggered run).
const AttrScheduledStartTime = "TemporalScheduledStartTime"

// Reasons a retrain is started for.
const (
	ReasonManual   = "manual"
	ReasonSchedule = "schedule"
	ReasonDrift    = "drift"
)

// RetrainWorkflowID is the meaningful id of a retrain run:
// retrain-<model>-<UTC start, to the millisecond>, e.g.
// retrain-churn-20261125t113258.123z.
func RetrainWorkflowID(model string, start time.Time) string {
	return fmt.Sprintf("retrain-%s-%s", model, strings.ToLower(start.UTC().Format("20060102T150405.000Z")))
}

// ScheduleID is the id of a model's Temporal Schedule of a kind
// ("retrain", "drift" or "score"): retrain-<model>, drift-<model>,
// score-<model>.
func ScheduleID(kind, model string) string { return kind + "-" + model }

// DriftInput starts a drift check of one model.
type DriftInput struct {
	Model  string `json:"model"`
	Reason string `json:"reason"`
	// AsOf, when set, ends the drift window there instead of at the run's
	// start.
	AsOf *time.Time `json:"as_of,omitempty"`
}
