package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/registry"
)

// PromoteInput asks to move the champion pointer from Expected (nil: no
// champion) to Version.
type PromoteInput struct {
	Model    string             `json:"model"`
	Version  string             `json:"version"`
	Expected *registry.Champion `json:"expected,omitempty"`
	Action   registry.Action    `json:"action"`
	By       string             `json:"by"`
	Reason   string             `json:"reason"`
	RunID    string             `json:"run_id"`
	// RequestID names the request across retries (see
	// registry.PromoteRequest.RequestID); empty derives it from the rest.
	RequestID string `json:"request_id,omitempty"`
}

// PromoteResult is the outcome of a promotion: won, or lost to someone else.
type PromoteResult struct {
	Champion *registry.Champion `json:"champion,omitempty"`
	// Lost is true when the pointer had moved since it was read; LostTo is
	// what it is now. Losing is an outcome, not an error: it is not retried.
	Lost    bool               `json:"lost"`
	LostTo  *registry.Champion `json:"lost_to,omitempty"`
	Message string             `json:"message"`
}

// Promote moves the champion pointer by compare-and-set (see
// registry.Promote). Retrying it after an unseen success is safe.
func (a *Activities) Promote(ctx context.Context, in PromoteInput) (*PromoteResult, error) {
	id, err := gocql.ParseUUID(in.Version)
	if err != nil {
		return nil, nonRetryable(ErrTypeInvalidSpec, fmt.Errorf("%q is not a version id", in.Version))
	}
	c, err := a.Registry.Promote(ctx, registry.PromoteRequest{
		Model: in.Model, Version: id, Expected: in.Expected, Action: in.Action, By: in.By, Reason: in.Reason, RunID: in.RunID,
		RequestID: in.RequestID,
	})
	if a.Observer != nil {
		a.Observer.Promoted(in.Model, in.Action, err)
	}
	var lost *registry.CASLostError
	switch {
	case errors.As(err, &lost):
		return &PromoteResult{Lost: true, LostTo: lost.Current, Message: lost.Error()}, nil
	case errors.Is(err, registry.ErrNotFound), errors.Is(err, registry.ErrCorruptArtifact), errors.Is(err, registry.ErrNotServable):
		return nil, nonRetryable(ErrTypeInvalidSpec, err) // retrying cannot make the version servable
	case err != nil:
		return nil, err
	}
	return &PromoteResult{Champion: c, Message: fmt.Sprintf("version %s is champion of %s at generation %d", c.Version, c.Model, c.Generation)}, nil
}

// RecordInput is the decision record of a run.
type RecordInput struct {
	Model       string             `json:"model"`
	RunID       string             `json:"run_id"`
	WorkflowID  string             `json:"workflow_id"`
	StartedAt   time.Time          `json:"started_at"`
	Reason      string             `json:"reason"`
	Outcome     string             `json:"outcome"`
	Winner      string             `json:"winner,omitempty"`
	Champion    *registry.Champion `json:"champion,omitempty"`
	Window      dataset.Window     `json:"window"`
	TrainRows   int64              `json:"train_rows"`
	HoldoutRows int64              `json:"holdout_rows"`
	Decision    json.RawMessage    `json:"decision"`
}

// Record writes the run's decision record; a retry overwrites the same row.
func (a *Activities) Record(ctx context.Context, in RecordInput) error {
	e := &registry.DecisionRecord{
		Model: in.Model, ID: registry.VersionID(in.StartedAt, versionKey(in.RunID, "evaluation")), RunID: in.RunID, WorkflowID: in.WorkflowID,
		Reason: in.Reason, Outcome: in.Outcome, WindowFrom: in.Window.From, WindowTo: in.Window.To,
		TrainRows: in.TrainRows, HoldoutRows: in.HoldoutRows, Decision: in.Decision,
	}
	if in.Winner != "" {
		e.Winner, _ = gocql.ParseUUID(in.Winner)
	}
	if in.Champion != nil {
		e.Champion, e.Generation = in.Champion.Version, in.Champion.Generation
	}
	if err := a.Registry.RecordEvaluation(ctx, e); err != nil {
		return err
	}
	if a.Observer != nil {
		a.Observer.Recorded(in.Model, in.Outcome)
	}
	return nil
}
