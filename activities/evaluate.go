package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"
	"go.temporal.io/sdk/activity"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// EvaluateInput asks for the champion and the candidates to be scored on
// the same holdout rows of a window.
type EvaluateInput struct {
	Model  string         `json:"model"`
	Window dataset.Window `json:"window"`
	// Champion is the version the pointer named when the window was fixed;
	// empty when there was none.
	Champion   string   `json:"champion,omitempty"`
	Candidates []string `json:"candidates"`
	// Seed makes the paired bootstrap reproducible for a run.
	Seed uint64 `json:"seed"`
	// Spec is the model's spec as the run recorded it (LoadSpec).
	Spec *config.Model `json:"spec,omitempty"`
	// Data is the run's holdout as StageRunData kept it; nil (runs started
	// before the window was read once per run) reads the window.
	Data *RunData `json:"data,omitempty"`
}

// Evaluation is the paired evaluation of one run: summaries only, never rows.
type Evaluation struct {
	HoldoutRows int `json:"holdout_rows"`
	// Champion is nil when there is none or it could not be scored (then
	// ChampionProblem says why and the run decides as if there were none).
	Champion        *evaluator.Champion   `json:"champion,omitempty"`
	ChampionProblem string                `json:"champion_problem,omitempty"`
	Candidates      []evaluator.Candidate `json:"candidates"`
	// Problems are comparisons that could not be made, in words.
	Problems []string `json:"problems,omitempty"`
	Seconds  float64  `json:"seconds"`
}

// scored is one model's predictions on the holdout.
type scored struct {
	version string
	algo    string
	model   trainer.Model
	pred    []int
	pos     []float64
	proba   [][]float64 // multiclass: one probability per class
	values  []float64   // regression: the predicted numbers
}

// prediction is one model's predictions on some rows, as its task makes
// them.
type prediction struct {
	pred   []int
	pos    []float64
	proba  [][]float64
	values []float64
}

// predict runs a model on rows x as the model's task asks: the predicted
// number of a regression model, the classes and every class's probability
// of a multiclass model, the classes and positive-class scores of a binary
// one.
func predict(model trainer.Model, task string, x [][]float64) (prediction, error) {
	var p prediction
	var err error
	switch task {
	case config.TaskRegression:
		r, ok := model.(trainer.Regressor)
		if !ok {
			return p, fmt.Errorf("%w: a %s model of task %s gives no values", trainer.ErrUnsupportedTask, model.Algorithm(), model.Schema().Task)
		}
		p.values, err = r.PredictValues(x)
	case config.TaskMulticlass:
		if p.pred, _, err = model.Predict(x); err != nil {
			return p, err
		}
		pr, ok := model.(trainer.Prober)
		if !ok {
			return p, fmt.Errorf("%w: a %s model gives no class probabilities", trainer.ErrUnsupportedTask, model.Algorithm())
		}
		p.proba, err = pr.PredictProba(x)
	default:
		p.pred, p.pos, err = model.Predict(x)
	}
	return p, err
}

// Evaluate scores the champion and every candidate on exactly the same
// holdout rows, streamed in pages, then compares each candidate with the
// champion on the policy's metrics (one-sided McNemar for accuracy, a paired
// bootstrap for the rest; bounds at the policy's significance level). It records each candidate's metrics on its version.
func (a *Activities) Evaluate(ctx context.Context, in EvaluateInput) (*Evaluation, error) {
	began := time.Now()
	m, err := a.recorded(in.Model, in.Spec)
	if err != nil {
		return nil, err
	}
	want := a.source(m).Schema()
	out := &Evaluation{}
	var models []*scored
	for _, id := range in.Candidates {
		sm, err := a.loadModel(ctx, m.Name, id)
		if err != nil {
			return nil, classify(fmt.Errorf("candidate %s: %w", id, err))
		}
		models = append(models, sm)
	}
	var champ *scored
	if in.Champion != "" {
		c, err := a.loadModel(ctx, m.Name, in.Champion)
		switch {
		case errors.Is(err, registry.ErrCorruptArtifact), errors.Is(err, trainer.ErrCorruptArtifact), errors.Is(err, registry.ErrNotFound):
			// Never promote over a champion nobody could compare with: a
			// person decides (the pointer is left as it is).
			return nil, nonRetryable(ErrTypeCorruptArtifact, fmt.Errorf(
				"champion %s of %s cannot be loaded (%v): nothing is promoted over a champion that cannot be compared; roll back (kingmaker rollback %s) or promote a good version by hand (kingmaker promote)",
				in.Champion, m.Name, err, m.Name))
		case err != nil:
			return nil, err // a read that failed: Temporal retries
		case c.model.Schema().Mismatch(want) != nil:
			out.ChampionProblem = fmt.Sprintf("champion %s was trained on other features or classes than the config now declares; candidates are judged as for a first champion", in.Champion)
		default:
			champ = c
			models = append(models, c)
		}
	}

	// Score every model on each page as it arrives; pages of one day are kept
	// in order and days are joined in day order, so the rows line up across
	// models and the result does not depend on read scheduling.
	task := m.TaskName()
	type dayResult struct {
		truth  []int
		target []float64
		preds  [][]prediction
	}
	days := make([]dayResult, len(dataset.Days(in.Window.From, in.Window.To)))
	var mu sync.Mutex
	var rows atomic.Int64
	// The paired comparisons after the scan take seconds per 100k holdout
	// rows and candidate, with no page to heartbeat on: keep heartbeating,
	// or a large holdout outlives the heartbeat timeout and is retried.
	every := 10 * time.Second
	if ht := activity.GetInfo(ctx).HeartbeatTimeout; ht > 0 {
		every = min(every, ht/4)
	}
	stop := heartbeat(ctx, every, func() any { return rows.Load() })
	defer stop()
	score := func(day int, b *dataset.Batch) error {
		var x [][]float64
		var truth []int
		var target []float64
		for i := range b.X {
			if b.Holdout[i] {
				x = append(x, b.X[i])
				truth = append(truth, b.Y[i])
				if b.Target != nil {
					target = append(target, b.Target[i])
				}
			}
		}
		if len(x) == 0 {
			return nil
		}
		preds := make([]prediction, len(models))
		for k, sm := range models {
			p, err := predict(sm.model, task, x)
			if err != nil {
				return fmt.Errorf("version %s predicting the holdout: %w", sm.version, err)
			}
			preds[k] = p
		}
		mu.Lock()
		d := &days[day]
		d.truth = append(d.truth, truth...)
		d.target = append(d.target, target...)
		d.preds = append(d.preds, preds)
		mu.Unlock()
		activity.RecordHeartbeat(ctx, rows.Add(int64(len(x))))
		return nil
	}
	if in.Data != nil {
		var mf *runManifest
		if mf, err = a.runManifest(ctx, m, in.Data); err == nil {
			err = a.readRunPart(ctx, m, in.Data, mf, partHoldout, score)
		}
	} else {
		_, err = a.source(m).Scan(ctx, in.Window, dataset.ScanOptions{}, score)
	}
	if err != nil {
		return nil, classify(err)
	}
	var truth []int
	var target []float64
	for _, d := range days {
		truth = append(truth, d.truth...)
		target = append(target, d.target...)
		for _, page := range d.preds {
			for k, sm := range models {
				p := page[k]
				sm.pred = append(sm.pred, p.pred...)
				sm.pos = append(sm.pos, p.pos...)
				sm.proba = append(sm.proba, p.proba...)
				sm.values = append(sm.values, p.values...)
			}
		}
	}
	out.HoldoutRows = len(truth)
	if len(truth) == 0 {
		return nil, nonRetryable(ErrTypeInvalidData, fmt.Errorf("model %s: the window %s has no holdout rows: raise window.holdout_fraction or widen the window", m.Name, in.Window))
	}
	k := len(m.Label.Classes)
	metrics := func(sm *scored) (evaluator.Metrics, error) {
		switch task {
		case config.TaskRegression:
			return evaluator.RegressionMetricsOf(target, sm.values)
		case config.TaskMulticlass:
			return evaluator.MulticlassMetricsOf(truth, sm.pred, sm.proba)
		}
		pos := sm.pos
		if len(pos) != len(truth) {
			pos = nil
		}
		return evaluator.Score(k, truth, sm.pred, pos)
	}
	if champ != nil {
		cm, err := metrics(champ)
		if err != nil {
			return nil, fmt.Errorf("score champion %s: %w", champ.version, err)
		}
		out.Champion = &evaluator.Champion{Version: champ.version, Metrics: cm}
	}
	policy := m.Policy.Evaluator()
	candidates := slices.DeleteFunc(slices.Clone(models), func(sm *scored) bool { return sm == champ })
	// Every candidate is compared with the champion on the same bootstrap
	// resamples, drawn once for all of them and every metric.
	compared := policy.ComparedMetrics()
	var comparisons [][]evaluator.Comparison
	var problems [][]error
	opts := evaluator.CompareOptions{Resamples: m.Policy.BootstrapResamples, Confidence: policy.Confidence(), Seed: in.Seed}
	switch {
	case champ == nil:
	case task == config.TaskRegression:
		chals := make([][]float64, len(candidates))
		for i, sm := range candidates {
			chals[i] = sm.values
		}
		comparisons, problems = evaluator.CompareRegression(compared, target, champ.values, chals, opts)
	case task == config.TaskMulticlass:
		chals := make([]evaluator.ProbabilityPredictions, len(candidates))
		for i, sm := range candidates {
			chals[i] = evaluator.ProbabilityPredictions{Pred: sm.pred, Proba: sm.proba}
		}
		comparisons, problems = evaluator.CompareMulticlass(compared, truth, evaluator.DefaultTopK,
			evaluator.ProbabilityPredictions{Pred: champ.pred, Proba: champ.proba}, chals, opts)
	default:
		chals := make([]evaluator.Predictions, len(candidates))
		for i, sm := range candidates {
			chals[i] = evaluator.Predictions{Pred: sm.pred, Positive: nilIfShort(sm.pos, len(truth))}
		}
		comparisons, problems = evaluator.CompareAll(compared, k, truth, evaluator.Predictions{Pred: champ.pred, Positive: nilIfShort(champ.pos, len(truth))}, chals, opts)
	}
	for i, sm := range candidates {
		mt, err := metrics(sm)
		if err != nil {
			return nil, fmt.Errorf("score candidate %s: %w", sm.version, err)
		}
		c := evaluator.Candidate{Version: sm.version, Algorithm: sm.algo, Metrics: mt}
		if champ != nil {
			for j, metric := range compared {
				if err := problems[i][j]; err != nil {
					out.Problems = append(out.Problems, fmt.Sprintf("candidate %s vs champion on %s: %v", sm.version, metric, err))
					continue
				}
				c.Comparisons = append(c.Comparisons, comparisons[i][j])
			}
		}
		b, _ := json.Marshal(mt)
		if err := a.Registry.SetMetrics(ctx, m.Name, mustUUID(sm.version), b); err != nil {
			return nil, err
		}
		out.Candidates = append(out.Candidates, c)
	}
	out.Seconds = time.Since(began).Seconds()
	return out, nil
}

func nilIfShort(pos []float64, n int) []float64 {
	if len(pos) != n {
		return nil
	}
	return pos
}

func (a *Activities) loadModel(ctx context.Context, model, id string) (*scored, error) {
	uid, err := gocql.ParseUUID(id)
	if err != nil {
		return nil, nonRetryable(ErrTypeInvalidSpec, fmt.Errorf("%q is not a version id", id))
	}
	v, tm, err := a.Registry.LoadModel(ctx, model, uid)
	if err != nil {
		return nil, err
	}
	return &scored{version: id, algo: v.Algorithm, model: tm}, nil
}

func mustUUID(s string) gocql.UUID {
	u, _ := gocql.ParseUUID(s)
	return u
}
