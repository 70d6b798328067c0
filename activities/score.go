package activities

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gocql/gocql"
	"go.temporal.io/sdk/activity"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// ResolveInput names the version a batch scoring run uses.
type ResolveInput struct {
	Model string `json:"model"`
	// Version is a version id, or empty for the current champion.
	Version string `json:"version,omitempty"`
}

// Resolved is the version a run scores with, fixed at its start.
type Resolved struct {
	Version    string `json:"version"`
	Algorithm  string `json:"algorithm"`
	Generation int64  `json:"generation"` // 0 when the version is not the champion
	// Task is the version's task (binary, multiclass or regression): what
	// its rows of predictions hold.
	Task string `json:"task,omitempty"`
}

// configSchema is the schema a model's config declares; a label without
// classes is a number, so its model is a regression.
func configSchema(src *dataset.Source) trainer.Schema {
	s := src.Schema()
	if s.Task == "" && len(s.Classes) == 0 {
		s.Task = trainer.Regression
	}
	return s
}

// rowPredictor predicts what a row of predictions holds for the task of
// a model: a class and, for binary models, the positive class's score; a
// probability per class for multiclass models that give them; a value for
// regression models.
type rowPredictor struct {
	model     trainer.Model
	prober    trainer.Prober
	regressor trainer.Regressor
}

// predictorOf refuses a regression model that cannot predict values (an
// artifact of another build).
func predictorOf(m trainer.Model) (*rowPredictor, error) {
	p := &rowPredictor{model: m}
	switch m.Schema().EffectiveTask() {
	case trainer.Multiclass:
		p.prober, _ = m.(trainer.Prober)
	case trainer.Regression:
		r, ok := m.(trainer.Regressor)
		if !ok {
			return nil, fmt.Errorf("a regression model, but algorithm %s of this build cannot predict its values: score it with the build that trained it", m.Algorithm())
		}
		p.regressor = r
	}
	return p, nil
}

// batchPrediction is what rowPredictor gives for a batch of rows.
type batchPrediction struct {
	classes []int
	scores  []float64
	proba   [][]float64
	values  []float64
}

func (p *rowPredictor) predict(x [][]float64) (*batchPrediction, error) {
	var (
		out batchPrediction
		err error
	)
	if p.regressor != nil {
		out.values, err = p.regressor.PredictValues(x)
		return &out, err
	}
	if out.classes, out.scores, err = p.model.Predict(x); err != nil {
		return nil, err
	}
	if p.prober != nil {
		out.proba, err = p.prober.PredictProba(x)
	}
	return &out, err
}

// ResolveScoringVersion fixes the version a batch run scores with: the
// named one, or the champion at this moment.
func (a *Activities) ResolveScoringVersion(ctx context.Context, in ResolveInput) (*Resolved, error) {
	m, err := a.model(in.Model)
	if err != nil {
		return nil, err
	}
	champ, err := a.Registry.Champion(ctx, m.Name)
	if err != nil {
		return nil, err
	}
	id := in.Version
	if id == "" {
		if champ == nil {
			return nil, nonRetryable(ErrTypeInvalidSpec, fmt.Errorf("model %s has no champion to score with: run `kingmaker retrain %s` or name a --version", m.Name, m.Name))
		}
		id = champ.Version.String()
	}
	sm, err := a.loadModel(ctx, m.Name, id)
	if err != nil {
		return nil, classify(err)
	}
	if err := sm.model.Schema().Mismatch(configSchema(a.source(m))); err != nil {
		return nil, nonRetryable(ErrTypeInvalidSpec, fmt.Errorf("version %s of %s does not fit the config (%v): score with a version trained on this config", id, m.Name, err))
	}
	if _, err := predictorOf(sm.model); err != nil {
		return nil, nonRetryable(ErrTypeInvalidSpec, fmt.Errorf("version %s of %s: %w", id, m.Name, err))
	}
	r := &Resolved{Version: id, Algorithm: sm.algo, Task: string(sm.model.Schema().EffectiveTask())}
	if champ != nil && champ.Version.String() == id {
		r.Generation = champ.Generation
	}
	return r, nil
}

// ScoreDayInput asks for one day partition of a window to be scored.
type ScoreDayInput struct {
	Model      string         `json:"model"`
	Window     dataset.Window `json:"window"` // the part of the run's window inside this day
	Version    string         `json:"version"`
	Generation int64          `json:"generation"`
	RunID      string         `json:"run_id"`
	// Spec is the model's spec as the run recorded it (LoadSpec).
	Spec *config.Model `json:"spec,omitempty"`
}

// ScoredDay counts what one day produced.
type ScoredDay struct {
	Day  time.Time `json:"day"`
	Rows int64     `json:"rows"`
}

// scoreBatchRows is how many predictions of one partition go in one
// unlogged batch (one mutation).
const scoreBatchRows = 50

// ScoreDay scores the rows of one day partition with a fixed version and
// writes a prediction per row to predictions ((model, day), id): the class
// (predicted) and, for a binary model, the positive class's probability
// (score); for a multiclass model also the probability of every class by
// name (probabilities); for a regression model the value alone. A retry
// or a re-run overwrites the same rows: it never duplicates.
func (a *Activities) ScoreDay(ctx context.Context, in ScoreDayInput) (*ScoredDay, error) {
	m, err := a.recorded(in.Model, in.Spec)
	if err != nil {
		return nil, err
	}
	sm, err := a.cachedModel(ctx, m.Name, in.Version)
	if err != nil {
		return nil, classify(err)
	}
	ver, err := gocql.ParseUUID(in.Version)
	if err != nil {
		return nil, nonRetryable(ErrTypeInvalidSpec, err)
	}
	p, err := predictorOf(sm.model)
	if err != nil {
		return nil, nonRetryable(ErrTypeInvalidSpec, fmt.Errorf("version %s of %s: %w", in.Version, m.Name, err))
	}
	day := in.Window.From.UTC().Truncate(24 * time.Hour)
	// A classifier writes the columns a binary model always wrote, a
	// multiclass one with its probabilities; a regression model its value
	// instead of a class and a score (value and probabilities: schema
	// version 8). Columns a task does not fill are not written, so they
	// stay null without tombstones.
	insert := fmt.Sprintf(`INSERT INTO %s.predictions (model, day, id, ts, version, generation, run_id, scored_at, predicted, score)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.Config.Cassandra.Keyspace)
	switch {
	case p.regressor != nil:
		insert = fmt.Sprintf(`INSERT INTO %s.predictions (model, day, id, ts, version, generation, run_id, scored_at, value)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.Config.Cassandra.Keyspace)
	case p.prober != nil:
		insert = fmt.Sprintf(`INSERT INTO %s.predictions (model, day, id, ts, version, generation, run_id, scored_at, predicted, score, probabilities)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.Config.Cassandra.Keyspace)
	}
	scoredAt := time.Now().UTC().Truncate(time.Millisecond)
	out := &ScoredDay{Day: day}
	_, err = a.source(m).Scan(ctx, in.Window, dataset.ScanOptions{Unlabelled: true}, func(_ int, b *dataset.Batch) error {
		got, err := p.predict(b.X)
		if err != nil {
			return fmt.Errorf("version %s scoring %s: %w", in.Version, day.Format(time.DateOnly), err)
		}
		for from := 0; from < b.Len(); from += scoreBatchRows {
			batch := a.Session.NewBatch(gocql.UnloggedBatch).WithContext(ctx)
			for i := from; i < min(from+scoreBatchRows, b.Len()); i++ {
				id, err := gocql.ParseUUID(b.Keys[i])
				if err != nil {
					return nonRetryable(ErrTypeInvalidData, fmt.Errorf("row key %q is not a uuid: predictions are keyed by uuid, so models[%s].source.key_column must be a uuid or timeuuid column to be batch scored", b.Keys[i], m.Name))
				}
				args := []any{m.Name, day, id, b.Times[i], ver, in.Generation, in.RunID, scoredAt}
				if got.values != nil {
					batch.Query(insert, append(args, got.values[i])...)
					continue
				}
				var score any
				if got.scores != nil {
					score = got.scores[i]
				}
				args = append(args, m.Label.Classes[got.classes[i]], score)
				if got.proba != nil {
					probs := make(map[string]float64, len(m.Label.Classes))
					for k, c := range m.Label.Classes {
						probs[c] = got.proba[i][k]
					}
					args = append(args, probs)
				}
				batch.Query(insert, args...)
			}
			if err := a.Session.ExecuteBatch(batch); err != nil {
				return fmt.Errorf("write predictions of %s %s: %w", m.Name, day.Format(time.DateOnly), err)
			}
		}
		out.Rows += int64(b.Len())
		activity.RecordHeartbeat(ctx, out.Rows)
		return nil
	})
	if err != nil {
		return nil, classify(err)
	}
	return out, nil
}

// modelCache keeps decoded models by version across a worker's scoring
// activities: a version is immutable, so one decode serves every day.
type modelCache struct {
	mu     sync.Mutex
	models map[string]*scored
}

func (a *Activities) cachedModel(ctx context.Context, model, version string) (*scored, error) {
	c := &a.scoring
	key := model + "/" + version
	c.mu.Lock()
	sm, ok := c.models[key]
	c.mu.Unlock()
	if ok {
		return sm, nil
	}
	sm, err := a.loadModel(ctx, model, version)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.models == nil || len(c.models) >= 8 { // a handful of versions at most are scored at once
		c.models = map[string]*scored{}
	}
	c.models[key] = sm
	return sm, nil
}
