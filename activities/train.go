package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"
	"go.temporal.io/sdk/activity"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// TrainInput asks for one candidate to be trained on a window.
type TrainInput struct {
	Model      string         `json:"model"`
	Candidate  string         `json:"candidate"`
	Window     dataset.Window `json:"window"`
	WorkflowID string         `json:"workflow_id"`
	RunID      string         `json:"run_id"`
	// StartedAt is the run's start time: with the run id and candidate it
	// fixes the version id, so a retry finds what an earlier attempt wrote.
	StartedAt time.Time `json:"started_at"`
	// SampleRate is the fraction of training rows used (max_train_rows).
	SampleRate float64 `json:"sample_rate"`
	// Spec is the model's spec as the run recorded it (LoadSpec).
	Spec *config.Model `json:"spec,omitempty"`
	// Data is the run's training sample as StageRunData kept it; nil (runs
	// started before the window was read once per run) reads the window.
	Data *RunData `json:"data,omitempty"`
}

// Trained describes the version a candidate produced.
type Trained struct {
	Candidate string  `json:"candidate"`
	Algorithm string  `json:"algorithm"`
	Version   string  `json:"version"`
	TrainRows int64   `json:"train_rows"`
	Seconds   float64 `json:"seconds"`
	// Reused is true when an earlier attempt had already written the version.
	Reused bool `json:"reused"`
}

// trainStage is reported in heartbeats.
type trainStage struct {
	Stage string `json:"stage"`
	Rows  int64  `json:"rows,omitempty"`
}

// TrainCandidate trains one candidate on the training side of the window and
// writes its version (artifact, schema, reference profile). It is
// idempotent: a retry of the same run and candidate finds the version
// already written and returns it without training again.
func (a *Activities) TrainCandidate(ctx context.Context, in TrainInput) (*Trained, error) {
	m, err := a.recorded(in.Model, in.Spec)
	if err != nil {
		return nil, err
	}
	cand, err := candidate(m, in.Candidate)
	if err != nil {
		return nil, err
	}
	id, done, err := a.trainedBefore(ctx, m.Name, cand.Name, in.StartedAt, in.RunID)
	if done != nil || err != nil {
		return done, err
	}
	tr, err := trainer.Lookup(cand.Algorithm)
	if err != nil {
		return nil, classify(err)
	}

	var stage atomic.Value
	stage.Store(trainStage{Stage: "reading"})
	stop := heartbeat(ctx, 5*time.Second, func() any { return stage.Load() })
	defer stop()
	activity.RecordHeartbeat(ctx, stage.Load())

	began := time.Now()
	var (
		data *trainer.Data
		st   dataset.Stats
	)
	if in.Data != nil {
		data, st, err = a.loadRunTrain(ctx, m, in.Data)
	} else {
		data, st, err = a.source(m).LoadTrain(ctx, in.Window, max(in.SampleRate, 0), seedOf(in.RunID))
	}
	if err != nil {
		return nil, classify(err)
	}
	stage.Store(trainStage{Stage: "training", Rows: int64(len(data.X))})
	model, err := tr.Train(ctx, data, trainer.Params(cand.Params))
	seconds := time.Since(began).Seconds()
	if err != nil {
		err = classify(fmt.Errorf("train %s/%s on %d rows: %w", m.Name, cand.Name, len(data.X), err))
	}
	if a.Observer != nil {
		a.Observer.Trained(m.Name, cand.Algorithm, seconds, err)
	}
	if err != nil {
		return nil, err
	}
	stage.Store(trainStage{Stage: "saving", Rows: int64(len(data.X))})
	artifact, err := model.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encode %s/%s: %w", m.Name, cand.Name, err)
	}
	schema, _ := json.Marshal(model.Schema())
	profile, err := buildProfile(data, model)
	if err != nil {
		return nil, err
	}
	info := activity.GetInfo(ctx)
	v := &registry.Version{
		Model: m.Name, ID: id, Candidate: cand.Name, Algorithm: cand.Algorithm, Params: model.Params(),
		RunID: in.RunID, WorkflowID: info.WorkflowExecution.ID, WindowFrom: in.Window.From, WindowTo: in.Window.To,
		TrainRows: int64(len(data.X)), HoldoutRows: st.Holdout, Schema: schema, Profile: profile,
		TrainSeconds: seconds,
	}
	if err := a.Registry.SaveVersion(ctx, v, artifact); err != nil {
		return nil, err
	}
	return &Trained{Candidate: cand.Name, Algorithm: cand.Algorithm, Version: id.String(), TrainRows: v.TrainRows, Seconds: seconds}, nil
}

// trainedBefore fixes the version id of a run's candidate and returns the
// version an earlier attempt already wrote under it, if any.
func (a *Activities) trainedBefore(ctx context.Context, model, cand string, startedAt time.Time, runID string) (gocql.UUID, *Trained, error) {
	id := registry.VersionID(startedAt, versionKey(runID, cand))
	v, err := a.Registry.GetVersion(ctx, model, id)
	if err == nil {
		return id, &Trained{Candidate: cand, Algorithm: v.Algorithm, Version: id.String(), TrainRows: v.TrainRows, Seconds: v.TrainSeconds, Reused: true}, nil
	}
	if errors.Is(err, registry.ErrNotFound) {
		err = nil
	}
	return id, nil, err
}

func candidate(m *config.Model, name string) (*config.Candidate, error) {
	for i := range m.Candidates {
		if m.Candidates[i].Name == name {
			return &m.Candidates[i], nil
		}
	}
	return nil, nonRetryable(ErrTypeInvalidSpec, fmt.Errorf("model %s has no candidate %q in this worker's config", m.Name, name))
}

// seedOf derives a sampling seed from the run, so a retried attempt samples
// the same rows.
func seedOf(runID string) uint64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(runID); i++ {
		h ^= uint64(runID[i])
		h *= 1099511628211
	}
	return h
}
