package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gocql/gocql"
)

// DecisionRecord is the decision record of one retrain run, written for every
// run, "no change" included.
type DecisionRecord struct {
	Model       string     `json:"model"`
	ID          gocql.UUID `json:"id"`
	RunID       string     `json:"run_id"`
	WorkflowID  string     `json:"workflow_id"`
	Reason      string     `json:"reason"`
	Outcome     string     `json:"outcome"`
	Winner      gocql.UUID `json:"winner"`
	Champion    gocql.UUID `json:"champion"`
	Generation  int64      `json:"generation"`
	WindowFrom  time.Time  `json:"window_from"`
	WindowTo    time.Time  `json:"window_to"`
	TrainRows   int64      `json:"train_rows"`
	HoldoutRows int64      `json:"holdout_rows"`
	// Decision is the full record: metrics with intervals, thresholds,
	// tests and p-values, reasons, approval.
	Decision json.RawMessage `json:"decision"`
}

// RecordEvaluation writes a decision record. Its id is fixed by the caller
// (see VersionID) so a retry overwrites rather than duplicates.
func (r *Registry) RecordEvaluation(ctx context.Context, e *DecisionRecord) error {
	err := r.q(`INSERT INTO %s.evaluations (model, evaluated_at, run_id, workflow_id, reason, outcome, winner, champion, generation,
		window_from, window_to, train_rows, holdout_rows, decision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Model, e.ID, e.RunID, e.WorkflowID, e.Reason, e.Outcome, nullUUID(e.Winner), nullUUID(e.Champion), e.Generation,
		e.WindowFrom, e.WindowTo, e.TrainRows, e.HoldoutRows, string(e.Decision)).WithContext(ctx).Exec()
	if err != nil {
		return fmt.Errorf("record evaluation of %s run %s: %w", e.Model, e.RunID, err)
	}
	return nil
}

// Evaluations returns a model's decision records, newest first.
func (r *Registry) Evaluations(ctx context.Context, model string, limit int) ([]DecisionRecord, error) {
	iter := r.q(`SELECT evaluated_at, run_id, workflow_id, reason, outcome, winner, champion, generation, window_from, window_to,
		train_rows, holdout_rows, decision FROM %s.evaluations WHERE model = ? LIMIT ?`, model, limit).WithContext(ctx).Iter()
	out, err := collect(iter, func() (DecisionRecord, bool) {
		e := DecisionRecord{Model: model}
		var decision string
		ok := iter.Scan(&e.ID, &e.RunID, &e.WorkflowID, &e.Reason, &e.Outcome, &e.Winner, &e.Champion, &e.Generation,
			&e.WindowFrom, &e.WindowTo, &e.TrainRows, &e.HoldoutRows, &decision)
		e.Decision = rawOrNil(decision)
		return e, ok
	})
	if err != nil {
		return nil, fmt.Errorf("read evaluations of %s: %w", model, err)
	}
	return out, nil
}
