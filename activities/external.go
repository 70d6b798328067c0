package activities

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/external"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// External trainers (config candidates[].external): a retrain asks an
// activity of any Temporal SDK language, on its own task queue, to train one
// candidate. No rows pass through the workflow's history: the trainer reads
// the run's training sample from table run_data (the chunks StageRunData
// wrote: the same rows Kingmaker's own candidates train on) and writes its
// model file back to run_data in chunks; it returns only the file's
// SHA-256 and size. ImportExternal then reads the file, checks its SHA-256
// and makes it the candidate's version as `kingmaker models register` does.

// ErrTypeExternalArtifact is the error type of an external trainer's model
// file that is missing, damaged or refused.
const ErrTypeExternalArtifact = "ExternalArtifact"

// externalChunkBytes is the size of the chunks an external trainer writes.
const externalChunkBytes = 1 << 20

// ExternalTrainInput is the argument of an external trainer's activity (JSON
// with these field names; examples/python-trainer reads it).
type ExternalTrainInput struct {
	Model     string             `json:"model"`
	Candidate string             `json:"candidate"`
	Params    map[string]float64 `json:"params,omitempty"`
	// Format is the model file expected back: onnx or xgboost.
	Format string `json:"format"`
	// Window is the run's window [from, to).
	Window dataset.Window `json:"window"`
	// Spec is the model's spec as the run recorded it: the source table
	// (source), its features in order with their types and categories,
	// the label column and classes, the window's holdout fraction.
	Spec *config.Model `json:"spec"`
	// SourceKeyspace is the source table's keyspace.
	SourceKeyspace string `json:"source_keyspace"`
	// SampleRate is the fraction of the window's training rows the run
	// kept; Seed is the run's sampling seed (dataset.Sampled).
	SampleRate float64 `json:"sample_rate"`
	Seed       uint64  `json:"seed"`
	// Rows is where the run's training sample is.
	Rows ExternalRows `json:"rows"`
	// Artifact is where the model file goes.
	Artifact ExternalArtifact `json:"artifact"`
}

// ExternalRows names a run's training sample in table run_data: the
// manifest (part "manifest", day 0, chunk 0, JSON, SHA-256 ManifestSHA256)
// lists per day of the window how many chunks part "train" has ("train":
// [n0, n1, ...]) and the row width ("width"). A chunk (SHA-256 hex in
// column sha256) is gzip of: the 4 bytes "KMR1", width and rows as
// little-endian uint32, then per row the class index as little-endian int32
// and width float64s (little-endian), the features in spec order; a
// categorical feature is the index of its category in the spec's list, -1
// when unknown. For a regression model the label is the last of the width
// columns.
type ExternalRows struct {
	Keyspace       string `json:"keyspace"`
	Table          string `json:"table"`
	Model          string `json:"model"`
	RunID          string `json:"run_id"`
	ManifestSHA256 string `json:"manifest_sha256"`
	Part           string `json:"part"`
	TrainRows      int64  `json:"train_rows"`
}

// ExternalArtifact is where an external trainer writes its model file:
// table run_data, partition (model, run_id, part, day 0), chunks 0..n-1 of
// at most ChunkBytes bytes each, column rows the chunk's byte count, column
// sha256 the chunk's SHA-256 in hex.
type ExternalArtifact struct {
	Keyspace   string `json:"keyspace"`
	Table      string `json:"table"`
	Model      string `json:"model"`
	RunID      string `json:"run_id"`
	Part       string `json:"part"`
	ChunkBytes int    `json:"chunk_bytes"`
}

// ExternalTrained is what an external trainer's activity returns.
type ExternalTrained struct {
	// ExpectSHA256 and ExpectSize, when set, describe the trainer's own
	// predictions for some of its training rows (the CSV of `models register
	// --expect`), written as chunk 0 of part artifact.part + "/expect":
	// Kingmaker's predictions of the file must match them.
	ExpectSHA256    string  `json:"expect_sha256,omitempty"`
	ExpectSize      int64   `json:"expect_size,omitempty"`
	SHA256          string  `json:"sha256"`
	Size            int64   `json:"size"`
	Chunks          int     `json:"chunks"`
	Format          string  `json:"format"`
	Producer        string  `json:"producer"`
	ProducerVersion string  `json:"producer_version"`
	TrainRows       int64   `json:"train_rows"`
	Seconds         float64 `json:"seconds"`
}

// NewExternalTrainInput builds the argument of candidate cand's external
// trainer in run runID: ks is the registry's keyspace, sourceKs the source
// table's (Spec).
func NewExternalTrainInput(m *config.Model, cand *config.Candidate, window dataset.Window, runID string, rate float64, data *RunData, ks, sourceKs string) ExternalTrainInput {
	return ExternalTrainInput{
		Model: m.Name, Candidate: cand.Name, Params: cand.Params, Format: cand.External.Format, Window: window, Spec: m,
		SourceKeyspace: sourceKs, SampleRate: rate, Seed: seedOf(runID),
		Rows:     ExternalRows{Keyspace: ks, Table: "run_data", Model: m.Name, RunID: data.RunID, ManifestSHA256: data.ManifestSHA256, Part: partTrain, TrainRows: data.TrainRows},
		Artifact: ExternalArtifact{Keyspace: ks, Table: "run_data", Model: m.Name, RunID: data.RunID, Part: externalPart(cand.Name), ChunkBytes: externalChunkBytes},
	}
}

// externalPart is the run_data part an external candidate's model file goes to.
func externalPart(candidate string) string { return "external/" + candidate }

// ImportExternalInput asks for an external trainer's model file to become
// its candidate's version.
type ImportExternalInput struct {
	Model      string          `json:"model"`
	Candidate  string          `json:"candidate"`
	Window     dataset.Window  `json:"window"`
	WorkflowID string          `json:"workflow_id"`
	RunID      string          `json:"run_id"`
	StartedAt  time.Time       `json:"started_at"`
	Spec       *config.Model   `json:"spec,omitempty"`
	Data       *RunData        `json:"data"`
	Trained    ExternalTrained `json:"trained"`
}

// ImportExternal reads the model file an external trainer wrote to
// run_data, checks it against the SHA-256 and size the trainer returned,
// checks it as `kingmaker models register` does (the feature contract) and
// saves it as the candidate's version, with provenance source "external"
// and a reference profile of the run's training sample. It is idempotent:
// a retry finds the version already written.
func (a *Activities) ImportExternal(ctx context.Context, in ImportExternalInput) (*Trained, error) {
	m, err := a.recorded(in.Model, in.Spec)
	if err != nil {
		return nil, err
	}
	cand, err := candidate(m, in.Candidate)
	if err != nil {
		return nil, err
	}
	if cand.External == nil {
		return nil, nonRetryable(ErrTypeInvalidSpec, fmt.Errorf("model %s: candidate %s has no external trainer in this worker's config", m.Name, cand.Name))
	}
	id, done, err := a.trainedBefore(ctx, m.Name, cand.Name, in.StartedAt, in.RunID)
	if done != nil || err != nil {
		return done, err
	}
	if in.Data == nil {
		return nil, nonRetryable(ErrTypeInvalidSpec, fmt.Errorf("model %s: candidate %s: an external trainer needs the run's staged rows", m.Name, cand.Name))
	}
	t := in.Trained
	refuse := func(format string, args ...any) error {
		return nonRetryable(ErrTypeExternalArtifact, fmt.Errorf("candidate %s (%s on %s): "+format, append([]any{cand.Name, cand.External.Activity, cand.External.TaskQueue}, args...)...))
	}
	if t.Format != "" && t.Format != cand.External.Format {
		return nil, refuse("returned a %s file, the config says external.format %s", t.Format, cand.External.Format)
	}
	file, err := a.readExternal(ctx, m.Name, in.Data.RunID, externalPart(cand.Name), t.Chunks, t.SHA256, t.Size, "model file", refuse)
	if err != nil {
		return nil, err
	}
	var expect []byte
	if t.ExpectSHA256 != "" {
		if expect, err = a.readExternal(ctx, m.Name, in.Data.RunID, externalPart(cand.Name)+"/expect", 1, t.ExpectSHA256, t.ExpectSize, "predictions file", refuse); err != nil {
			return nil, err
		}
	}
	info := activity.GetInfo(ctx)
	v, artifact, err := external.CheckMade(m, external.Made{Expect: expect,
		File: file, Format: cand.External.Format, Candidate: cand.Name,
		Trainer: cand.External.Activity + " on " + cand.External.TaskQueue, ID: id, RunID: in.RunID, WorkflowID: info.WorkflowExecution.ID,
		Window: in.Window, TrainRows: in.Data.TrainRows, TrainSeconds: t.Seconds, Now: time.Now(),
	})
	if err != nil {
		return nil, refuse("%v", err)
	}
	data, st, err := a.loadRunTrain(ctx, m, in.Data)
	if err != nil {
		return nil, err
	}
	v.HoldoutRows = st.Holdout
	model, err := trainer.Decode(artifact)
	if err != nil {
		return nil, refuse("%v", err)
	}
	if v.Profile, err = buildProfile(data, model); err != nil {
		return nil, err
	}
	if err := a.Registry.SaveVersion(ctx, v, artifact); err != nil {
		return nil, err
	}
	return &Trained{Candidate: cand.Name, Algorithm: v.Algorithm, Version: id.String(), TrainRows: v.TrainRows, Seconds: t.Seconds}, nil
}

// readExternal reads chunks 0..n-1 of a part an external trainer wrote and
// checks the whole against the SHA-256 and size it returned; what names the
// bytes in a refusal.
func (a *Activities) readExternal(ctx context.Context, model, runID, part string, n int, sha string, size int64, what string, refuse func(string, ...any) error) ([]byte, error) {
	var buf bytes.Buffer
	err := a.Registry.ReadRunChunks(ctx, model, runID, part, 0, n, func(_, _ int, data []byte) error {
		buf.Write(data)
		return nil
	})
	if err != nil {
		return nil, refuse("%s: %v", what, err)
	}
	sum := sha256.Sum256(buf.Bytes())
	if got := hex.EncodeToString(sum[:]); got != sha || int64(buf.Len()) != size {
		return nil, refuse("%s of %d bytes has SHA-256 %s, the trainer returned %d bytes with SHA-256 %q", what, buf.Len(), got, size, sha)
	}
	return buf.Bytes(), nil
}
