package registry

import (
	"context"
	"fmt"
	"time"

	"github.com/gocql/gocql"
)

// Prediction is one stored batch prediction: a source row scored by a
// version (BatchScoreWorkflow writes them).
type Prediction struct {
	// ID is the source row's key; At its time.
	ID         gocql.UUID
	At         time.Time
	Version    gocql.UUID
	Generation int64
	// Predicted is the class; Score the positive class's probability of a
	// binary model (nil otherwise).
	Predicted string
	Score     *float64
	// Value is a regression model's prediction (nil otherwise);
	// Probabilities a multiclass model's probability of every class by
	// name (nil otherwise, and in rows written before schema version 8).
	Value         *float64
	Probabilities map[string]float64
}

// Predictions calls fn with every prediction of the model for rows whose
// time is in [from, to), day partition by day partition. The time is not a
// clustering column of predictions, so each day's partition is read whole
// and the rows outside the range are passed over here.
func (r *Registry) Predictions(ctx context.Context, model string, from, to time.Time, fn func(*Prediction) error) error {
	for d := day(from); d.Before(to); d = d.AddDate(0, 0, 1) {
		iter := r.q(`SELECT id, ts, version, generation, predicted, score, value, probabilities FROM %s.predictions WHERE model = ? AND day = ?`, model, d).
			WithContext(ctx).PageSize(5000).Iter()
		for {
			var p Prediction
			var predicted *string
			if !iter.Scan(&p.ID, &p.At, &p.Version, &p.Generation, &predicted, &p.Score, &p.Value, &p.Probabilities) {
				break
			}
			p.At = p.At.UTC()
			if p.At.Before(from) || !p.At.Before(to) {
				continue
			}
			p.Predicted = deref(predicted)
			if err := fn(&p); err != nil {
				iter.Close()
				return err
			}
		}
		if err := iter.Close(); err != nil {
			return fmt.Errorf("read predictions of %s for %s: %w", model, d.Format(time.DateOnly), err)
		}
	}
	return nil
}
