package activities

import (
	"context"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/registry"
)

// MaturedQuality is a version's live quality on matured labels: what it
// predicted for the rows of a window whose labels have had label.delay to
// arrive (batch predictions, or the shadow's sampled live rows that
// carried a key), joined by row key with their labels as known at AsOf.
type MaturedQuality struct {
	// Version is the version whose predictions were read; Role is champion
	// or shadow.
	Version string `json:"version"`
	Role    string `json:"role"`
	// Window holds the rows predicted for: the drift window moved back by
	// label.delay.
	Window dataset.Window `json:"window"`
	AsOf   time.Time      `json:"as_of"`
	// Predictions is how many rows of the window the version predicted;
	// Labelled how many of them have a label; Coverage is Labelled /
	// Predictions.
	Predictions int64   `json:"predictions"`
	Labelled    int64   `json:"labelled"`
	Coverage    float64 `json:"coverage"`
	// Metrics are the version's metrics on the labelled rows; nil without
	// any.
	Metrics *evaluator.Metrics `json:"metrics,omitempty"`
}

// Roles of a matured quality.
const (
	RoleChampion = "champion"
	RoleShadow   = "shadow"
)

// MaturedWindow is the window of rows whose labels have matured at the end
// of the drift window w: w moved back by label.delay.
func MaturedWindow(m *config.Model, w dataset.Window) dataset.Window {
	d := m.Label.Delay.D()
	return dataset.Window{From: w.From.Add(-d), To: w.To.Add(-d)}
}

// predicted is one prediction to join with its row's label: a class (and
// the positive class's score, or every class's probability), or a
// regression model's value.
type predicted struct {
	key   string
	class string
	score *float64
	proba map[string]float64
	value *float64
}

// championQuality is the champion's matured quality over the batch
// predictions it made for the rows of w, labels as of asOf.
func (a *Activities) championQuality(ctx context.Context, m *config.Model, version gocql.UUID, w dataset.Window, asOf time.Time) (*MaturedQuality, error) {
	var rows []predicted
	err := a.Registry.Predictions(ctx, m.Name, w.From, w.To, func(p *registry.Prediction) error {
		if p.Version == version {
			rows = append(rows, predicted{key: p.ID.String(), class: p.Predicted, score: p.Score, proba: p.Probabilities, value: p.Value})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a.maturedQuality(ctx, m, RoleChampion, version, w, w, asOf, rows)
}

// shadowQuality is the shadow's matured quality over the sampled live rows
// it scored in w that carried a key. A request scores a row about when the
// row is written, so labels are looked for in the rows of w widened by a
// day each side, as the shadow report does.
func (a *Activities) shadowQuality(ctx context.Context, m *config.Model, version gocql.UUID, w dataset.Window, asOf time.Time) (*MaturedQuality, error) {
	var rows []predicted
	seen := map[string]bool{}
	err := a.Registry.ShadowPredictions(ctx, m.Name, version, w.From, w.To, func(p *registry.ShadowPrediction) error {
		if p.RowID != "" && !seen[p.RowID] { // the first row with an id counts, as in the shadow report
			seen[p.RowID] = true
			rows = append(rows, predicted{key: p.RowID, class: p.ShadowClass, score: p.ShadowScore})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rowsOf := dataset.Window{From: w.From.AddDate(0, 0, -1), To: w.To.AddDate(0, 0, 1)}
	return a.maturedQuality(ctx, m, RoleShadow, version, w, rowsOf, asOf, rows)
}

// maturedQuality joins predictions with the labels of their rows (rows of
// rowsOf, labels known at asOf) and scores the labelled ones.
func (a *Activities) maturedQuality(ctx context.Context, m *config.Model, role string, version gocql.UUID, w, rowsOf dataset.Window, asOf time.Time, rows []predicted) (*MaturedQuality, error) {
	q := &MaturedQuality{Version: version.String(), Role: role, Window: w, AsOf: asOf.UTC(), Predictions: int64(len(rows))}
	if len(rows) == 0 {
		return q, nil
	}
	keys := make([]string, len(rows))
	for i, r := range rows {
		keys[i] = r.key
	}
	src := a.source(m)
	src.AsOf = asOf
	if m.TaskName() == config.TaskRegression {
		targets, err := src.TargetsOf(ctx, rowsOf, keys)
		if err != nil {
			return nil, classify(err)
		}
		truth, values := joinTargets(rows, targets)
		q.Labelled = int64(len(truth))
		q.Coverage = dataset.Coverage(q.Labelled, q.Predictions)
		if len(truth) > 0 {
			if mt, err := evaluator.RegressionMetricsOf(truth, values); err == nil {
				q.Metrics = &mt
			}
		}
		return q, nil
	}
	labels, err := src.LabelsOf(ctx, rowsOf, keys)
	if err != nil {
		return nil, classify(err)
	}
	truth, pred, pos, proba := joinLabels(m.Label.Classes, rows, labels)
	q.Labelled = int64(len(truth))
	q.Coverage = dataset.Coverage(q.Labelled, q.Predictions)
	if len(truth) > 0 {
		var mt evaluator.Metrics
		var err error
		if m.TaskName() == config.TaskMulticlass && proba != nil {
			mt, err = evaluator.MulticlassMetricsOf(truth, pred, proba)
		} else {
			mt, err = evaluator.Score(len(m.Label.Classes), truth, pred, pos)
		}
		if err == nil {
			q.Metrics = &mt
		}
	}
	return q, nil
}

// joinTargets pairs each regression prediction whose row has a label
// (targets: the number by row key) with it. A prediction without a value
// (written by a version of another task) is left out.
func joinTargets(rows []predicted, targets map[string]float64) (truth, values []float64) {
	for _, r := range rows {
		y, ok := targets[r.key]
		if !ok || r.value == nil {
			continue
		}
		truth = append(truth, y)
		values = append(values, *r.value)
	}
	return truth, values
}

// joinLabels pairs each prediction whose row has a label (labels: class
// index by row key) with it: the true and predicted class indices, the
// positive-class scores when every labelled prediction has one (else nil),
// and every class's probability, in the order of classes, when every
// labelled prediction has them all (else nil). A prediction of a class the
// model does not know is left out.
func joinLabels(classes []string, rows []predicted, labels map[string]int) (truth, pred []int, pos []float64, proba [][]float64) {
	index := make(map[string]int, len(classes))
	for i, c := range classes {
		index[c] = i
	}
	scored, probed := true, true
	for _, r := range rows {
		y, ok := labels[r.key]
		p, known := index[r.class]
		if !ok || !known {
			continue
		}
		truth = append(truth, y)
		pred = append(pred, p)
		if r.score == nil {
			scored = false
		} else {
			pos = append(pos, *r.score)
		}
		row := make([]float64, len(classes))
		for i, c := range classes {
			v, ok := r.proba[c]
			probed = probed && ok
			row[i] = v
		}
		proba = append(proba, row)
	}
	if !scored {
		pos = nil
	}
	if !probed {
		proba = nil
	}
	return truth, pred, pos, proba
}

// maturedQualities are the champion's and, when one is set, the shadow's
// matured quality at the end of the drift window w.
func (a *Activities) maturedQualities(ctx context.Context, m *config.Model, champion gocql.UUID, w dataset.Window) ([]MaturedQuality, error) {
	mw := MaturedWindow(m, w)
	cq, err := a.championQuality(ctx, m, champion, mw, w.To)
	if err != nil {
		return nil, err
	}
	out := []MaturedQuality{*cq}
	sh, err := a.Registry.Shadow(ctx, m.Name)
	if err != nil {
		return nil, err
	}
	if sh != nil && sh.Version != champion {
		sq, err := a.shadowQuality(ctx, m, sh.Version, mw, w.To)
		if err != nil {
			return nil, err
		}
		out = append(out, *sq)
	}
	return out, nil
}
