// Package activities holds the Temporal activities of Kingmaker: everything
// that touches Cassandra, trains or scores. Each is a method on Activities,
// which holds their dependencies; workflows call them through a typed
// reference. Activities are idempotent, and errors no retry can fix are
// non-retryable application errors with a type a workflow can match.
package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gocql/gocql"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// Error types of non-retryable failures, for workflows and tests to match.
const (
	ErrTypeInvalidSpec     = "InvalidSpec"
	ErrTypeInvalidData     = "InvalidData"
	ErrTypeCorruptArtifact = "CorruptArtifact"
	ErrTypeCASLost         = "CASLost"
)

// Activities holds what the activities need. One value serves every
// activity of a worker; its fields are safe for concurrent use.
type Activities struct {
	Config   *config.Config
	Session  *gocql.Session
	Registry *registry.Registry
	// Temporal lists runs (a drift check must not start a second retrain).
	Temporal client.Client
	Logger   *slog.Logger
	// Observer, when set, is told about trainings and promotions (metrics).
	Observer Observer
	// ChunkRows is the most rows of a chunk of run data (StageRunData);
	// 0 is dataset.ChunkRows.
	ChunkRows int
	// Labels finds the labelled live rows of a probation; nil reads the
	// labels inline from the source rows (InlineLabels).
	Labels LabelledLive

	scoring modelCache
}

// Observer receives events worth counting.
type Observer interface {
	Trained(model, algorithm string, seconds float64, err error)
	Promoted(model string, action registry.Action, err error)
	Recorded(model, outcome string)
	DriftChecked(model, outcome string)
}

func (a *Activities) model(name string) (*config.Model, error) {
	m, err := a.Config.Model(name)
	if err != nil {
		return nil, nonRetryable(ErrTypeInvalidSpec, err)
	}
	return m, nil
}

// recorded is the model spec a run recorded with LoadSpec and passed in an
// activity's input, so every activity of the run works from the same spec
// whatever the config of the worker that runs it. An input without one (a
// run started by an older version) falls back to this worker's config.
func (a *Activities) recorded(name string, spec *config.Model) (*config.Model, error) {
	if spec == nil {
		return a.model(name)
	}
	if spec.Name != name {
		return nil, nonRetryable(ErrTypeInvalidSpec, fmt.Errorf("the run's recorded spec is of model %q, not %q", spec.Name, name))
	}
	return spec, nil
}

func (a *Activities) source(m *config.Model) *dataset.Source {
	return &dataset.Source{Session: a.Session, Keyspace: a.Config.SourceKeyspace(m), LabelKeyspace: a.Config.LabelKeyspace(m), Model: m}
}

// modelVersion returns the configured model of name and the version id v
// names; a version that is not an id is a non-retryable error.
func (a *Activities) modelVersion(name, v string) (*config.Model, gocql.UUID, error) {
	m, err := a.model(name)
	if err != nil {
		return nil, gocql.UUID{}, err
	}
	id, err := gocql.ParseUUID(v)
	if err != nil {
		return nil, gocql.UUID{}, nonRetryable(ErrTypeInvalidSpec, fmt.Errorf("%q is not a version id", v))
	}
	return m, id, nil
}

// nonRetryable wraps err so Temporal does not retry it.
func nonRetryable(typ string, err error) error {
	// The message carries the whole text; a cause would repeat it in the
	// history and the UI.
	return temporal.NewNonRetryableApplicationError(err.Error(), typ, nil)
}

// classify marks the errors no retry can fix as non-retryable.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, dataset.ErrInvalidData), errors.Is(err, trainer.ErrInvalidData), errors.Is(err, trainer.ErrInvalidParams):
		return nonRetryable(ErrTypeInvalidData, err)
	case errors.Is(err, registry.ErrCorruptArtifact), errors.Is(err, trainer.ErrCorruptArtifact):
		return nonRetryable(ErrTypeCorruptArtifact, err)
	case errors.Is(err, registry.ErrCorruptRunData):
		return nonRetryable(ErrTypeCorruptRunData, err)
	case errors.Is(err, trainer.ErrUnknownAlgorithm):
		return nonRetryable(ErrTypeInvalidSpec, err)
	}
	return err
}

// heartbeat records progress every interval until the returned stop is
// called, so a long step (training) is seen alive and a lost worker is
// noticed within the heartbeat timeout.
func heartbeat(ctx context.Context, interval time.Duration, details func() any) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx, details())
			}
		}
	}()
	return func() { close(done) }
}

// LoadSpecInput names the model to load.
type LoadSpecInput struct {
	Model string `json:"model"`
}

// Spec is a model's spec as a worker's config has it, with where its
// training runs.
type Spec struct {
	Model             config.Model `json:"model"`
	TrainingTaskQueue string       `json:"training_task_queue"`
	// Keyspace is the registry's keyspace and SourceKeyspace the source
	// table's: an external trainer reads and writes there. Empty in specs
	// recorded before external trainers.
	Keyspace       string `json:"keyspace,omitempty"`
	SourceKeyspace string `json:"source_keyspace,omitempty"`
}

// LoadSpec returns the model's spec as this worker's config has it, so the
// spec a run used is recorded in its history.
func (a *Activities) LoadSpec(ctx context.Context, in LoadSpecInput) (*Spec, error) {
	m, err := a.model(in.Model)
	if err != nil {
		return nil, err
	}
	return &Spec{Model: *m, TrainingTaskQueue: a.Config.Temporal.TrainingTaskQueue, Keyspace: a.Config.Cassandra.Keyspace, SourceKeyspace: a.Config.SourceKeyspace(m)}, nil
}

// SnapshotInput fixes a window.
type SnapshotInput struct {
	Model  string         `json:"model"`
	Window dataset.Window `json:"window"`
	// Spec is the model's spec as the run recorded it (LoadSpec).
	Spec *config.Model `json:"spec,omitempty"`
	// OnePass says the run counts the window in the same read that keeps
	// its rows (StageRunData with MaxTrainRows): the snapshot then only
	// checks the table and reads the champion pointer, and its counts are
	// zero.
	OnePass bool `json:"one_pass,omitempty"`
}

// Snapshot is what a window holds.
type Snapshot struct {
	Window  dataset.Window `json:"window"`
	Rows    int64          `json:"rows"`
	ByClass []int64        `json:"by_class"`
	Days    int            `json:"days"`
	// TrainRows is how many labelled rows the window is expected to hold
	// on its training side (dataset.ExpectedTrainRows); 0 in snapshots
	// recorded by earlier versions.
	TrainRows int64 `json:"train_rows,omitempty"`
	// Champion is the champion pointer when the window was fixed (nil: none).
	Champion *registry.Champion `json:"champion,omitempty"`
	// Labels is the window's label coverage; nil in snapshots recorded by
	// earlier versions.
	Labels *LabelCoverage `json:"labels,omitempty"`
}

// LabelCoverage says how many of a window's rows had a label at the run's
// as-of time, and how many were left out for want of one. Only labelled
// rows count toward window.min_rows and window.min_class_rows.
type LabelCoverage struct {
	// Source is where labels were read: row or table (label.source).
	Source string `json:"source"`
	// AsOf is the time at which labels were read: the window's end plus
	// Delay. A label that became known later is not counted, so the run
	// reads the same labels whenever it is repeated.
	AsOf  time.Time       `json:"as_of"`
	Delay config.Duration `json:"delay,omitempty"`
	// Rows is every row of the window; Labelled those with a label that is
	// a class; Unlabelled the others, left out of training and holdout.
	Rows       int64 `json:"rows"`
	Labelled   int64 `json:"labelled"`
	Unlabelled int64 `json:"unlabelled"`
	// Coverage is Labelled / Rows.
	Coverage float64 `json:"coverage"`
	// Skipped is how many rows the read of the window skipped as invalid
	// (window.invalid_rows skip), when the run read it once.
	Skipped int64 `json:"skipped"`
}

// newLabelCoverage is the coverage of a window of rows rows, labelled of
// them labelled, read as of asOf.
func newLabelCoverage(m *config.Model, asOf time.Time, rows, labelled int64) *LabelCoverage {
	src := m.Label.Source
	if src == "" {
		src = config.LabelFromRow
	}
	return &LabelCoverage{Source: src, AsOf: asOf.UTC(), Delay: m.Label.Delay, Rows: rows, Labelled: labelled,
		Unlabelled: rows - labelled, Coverage: dataset.Coverage(labelled, rows)}
}

// SampleRate is the share of the window's training rows a candidate keeps
// so that about maxTrainRows remain (window.max_train_rows). It is computed
// on the expected training rows; a snapshot recorded before they were
// counted gives the rate computed on every row, as its run did then, so a
// replay of that run schedules the same trainings.
func (s *Snapshot) SampleRate(maxTrainRows int) float64 {
	if s.TrainRows > 0 {
		return dataset.SampleRate(s.TrainRows, maxTrainRows)
	}
	return dataset.SampleRate(s.Rows, maxTrainRows)
}

// HoldoutRate is the share of the window's holdout rows a run keeps so
// that about maxHoldoutRows remain (window.max_holdout_rows), computed on
// the expected holdout rows (the labelled rows not on the training side).
// A snapshot recorded before the training rows were counted keeps them all.
func (s *Snapshot) HoldoutRate(maxHoldoutRows int) float64 {
	if s.TrainRows <= 0 {
		return 1
	}
	var labelled int64
	for _, n := range s.ByClass {
		labelled += n
	}
	if s.Labels != nil { // a regression window has no classes to count by
		labelled = s.Labels.Labelled
	}
	return dataset.SampleRate(labelled-s.TrainRows, maxHoldoutRows)
}

// SnapshotWindow checks the source table against the spec, reads the
// champion pointer, counts the window's rows by class, and refuses a window
// too small or with one class. A run that reads its window in one pass
// (in.OnePass) counts and refuses it there instead.
func (a *Activities) SnapshotWindow(ctx context.Context, in SnapshotInput) (*Snapshot, error) {
	m, err := a.recorded(in.Model, in.Spec)
	if err != nil {
		return nil, err
	}
	src := a.source(m)
	if err := src.Check(ctx); err != nil {
		return nil, classify(err)
	}
	if in.OnePass {
		champ, err := a.Registry.Champion(ctx, m.Name)
		if err != nil {
			return nil, err
		}
		return &Snapshot{Window: in.Window, Days: len(dataset.Days(in.Window.From, in.Window.To)), Champion: champ}, nil
	}
	counts, err := src.CountDays(ctx, in.Window)
	if err != nil {
		return nil, classify(err)
	}
	total, byClass, err := src.RequireTrainable(in.Window, counts)
	if err != nil {
		return nil, classify(err)
	}
	var labelled, outOfTime int64
	for _, c := range counts {
		labelled += c.LabelledRows()
	}
	if oot := m.Window.OutOfTime.D(); oot > 0 {
		// The newest slice is all holdout: count its rows apart (it spans
		// the last day or few, so this reads little).
		slice := dataset.Window{From: in.Window.To.Add(-oot), To: in.Window.To}
		if slice.From.Before(in.Window.From) {
			slice.From = in.Window.From
		}
		counts, err := src.CountDays(ctx, slice)
		if err != nil {
			return nil, classify(err)
		}
		for _, c := range counts {
			outOfTime += c.LabelledRows()
		}
	}
	champ, err := a.Registry.Champion(ctx, m.Name)
	if err != nil {
		return nil, err
	}
	return &Snapshot{Window: in.Window, Rows: total, ByClass: byClass, Days: len(counts), Champion: champ,
		TrainRows: dataset.ExpectedTrainRows(labelled, outOfTime, m.Window.HoldoutFraction),
		Labels:    newLabelCoverage(m, src.LabelsAsOf(in.Window), total, labelled)}, nil
}

// versionKey names the work that makes one version: the same run and
// candidate always map to the same version id.
func versionKey(runID, candidate string) string { return runID + "/" + candidate }

// String helps logs.
func (s *Snapshot) String() string {
	return fmt.Sprintf("%d rows in %s", s.Rows, s.Window)
}
