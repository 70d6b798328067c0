package activities

import (
	"context"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
)

// MaturedQualities is the live quality on matured labels a drift check of
// the window w computes (the champion's, and the shadow's when one is set).
func MaturedQualities(a *Activities, ctx context.Context, m *config.Model, champion gocql.UUID, w dataset.Window) ([]MaturedQuality, error) {
	return a.maturedQualities(ctx, m, champion, w)
}

// Predicted is one prediction to join with its row's label.
type Predicted = predicted

// NewPredicted makes a Predicted.
func NewPredicted(key, class string, score *float64) Predicted {
	return predicted{key: key, class: class, score: score}
}

// NewPredictedProba makes a Predicted of a multiclass model.
func NewPredictedProba(key, class string, proba map[string]float64) Predicted {
	return predicted{key: key, class: class, proba: proba}
}

// NewPredictedValue makes a Predicted of a regression model.
func NewPredictedValue(key string, value *float64) Predicted {
	return predicted{key: key, value: value}
}

// JoinLabels is joinLabels.
var JoinLabels = joinLabels

// JoinTargets is joinTargets.
var JoinTargets = joinTargets
