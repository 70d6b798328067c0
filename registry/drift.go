package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gocql/gocql"
)

// DriftReport is one drift check of a model's recent data against its
// champion's reference profile.
type DriftReport struct {
	Model           string     `json:"model"`
	ID              gocql.UUID `json:"id"`
	Champion        gocql.UUID `json:"champion"`
	Generation      int64      `json:"generation"`
	WindowFrom      time.Time  `json:"window_from"`
	WindowTo        time.Time  `json:"window_to"`
	Rows            int64      `json:"rows"`
	Drifted         bool       `json:"drifted"`
	MaxPSI          float64    `json:"max_psi"`
	DriftedFeatures int        `json:"drifted_features"`
	RetrainStarted  bool       `json:"retrain_started"`
	// Report is the full document: per-feature statistics, live quality,
	// reasons.
	Report json.RawMessage `json:"report"`
}

// ComputedAt is when the check ran (the time of its timeuuid).
func (d *DriftReport) ComputedAt() time.Time { return d.ID.Time() }

// SaveDriftReport writes a drift report; its id is fixed by the caller so a
// retry overwrites.
func (r *Registry) SaveDriftReport(ctx context.Context, d *DriftReport) error {
	err := r.q(`INSERT INTO %s.drift_reports (model, computed_at, champion, generation, window_from, window_to, rows, drifted,
		max_psi, drifted_features, retrain_started, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.Model, d.ID, nullUUID(d.Champion), d.Generation, d.WindowFrom, d.WindowTo, d.Rows, d.Drifted, d.MaxPSI,
		d.DriftedFeatures, d.RetrainStarted, string(d.Report)).WithContext(ctx).Exec()
	if err != nil {
		return fmt.Errorf("save drift report of %s: %w", d.Model, err)
	}
	return nil
}

// MarkRetrainStarted records that a drift report started a retrain.
func (r *Registry) MarkRetrainStarted(ctx context.Context, model string, id gocql.UUID) error {
	return r.q(`UPDATE %s.drift_reports SET retrain_started = true WHERE model = ? AND computed_at = ?`, model, id).WithContext(ctx).Exec()
}

// DriftReports returns a model's drift reports, newest first.
func (r *Registry) DriftReports(ctx context.Context, model string, limit int) ([]DriftReport, error) {
	iter := r.q(`SELECT computed_at, champion, generation, window_from, window_to, rows, drifted, max_psi, drifted_features,
		retrain_started, report FROM %s.drift_reports WHERE model = ? LIMIT ?`, model, limit).WithContext(ctx).Iter()
	out, err := collect(iter, func() (DriftReport, bool) {
		d := DriftReport{Model: model}
		var report string
		ok := iter.Scan(&d.ID, &d.Champion, &d.Generation, &d.WindowFrom, &d.WindowTo, &d.Rows, &d.Drifted, &d.MaxPSI,
			&d.DriftedFeatures, &d.RetrainStarted, &report)
		d.Report = rawOrNil(report)
		return d, ok
	})
	if err != nil {
		return nil, fmt.Errorf("read drift reports of %s: %w", model, err)
	}
	return out, nil
}
