package workflows

import (
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

// DriftInput starts a drift check of one model.
type DriftInput struct {
	Model  string `json:"model"`
	Reason string `json:"reason"`
	// AsOf, when set, ends the drift window there instead of at the run's
	// start.
	AsOf *time.Time `json:"as_of,omitempty"`
}
