package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// ErrTypeCorruptRunData is the error type of run data (a run's stored
// training sample or holdout) that is missing or fails its checksum.
const ErrTypeCorruptRunData = "CorruptRunData"

// Parts of a run's data.
const (
	partTrain   = "train"
	partHoldout = "holdout"
)

// StageInput asks for a run's window to be read once and its training
// sample and holdout kept for its candidates and its evaluation.
type StageInput struct {
	Model  string         `json:"model"`
	Window dataset.Window `json:"window"`
	RunID  string         `json:"run_id"`
	// SampleRate is the fraction of training rows kept (max_train_rows);
	// the sample's seed is derived from RunID.
	SampleRate float64 `json:"sample_rate"`
	// Spec is the model's spec as the run recorded it (LoadSpec).
	Spec *config.Model `json:"spec,omitempty"`
}

// RunData names a run's stored rows: what TrainCandidate and Evaluate read
// instead of the source table. It holds no rows; the manifest it names
// lists the chunks, and ManifestSHA256 pins that manifest.
type RunData struct {
	RunID          string `json:"run_id"`
	ManifestSHA256 string `json:"manifest_sha256"`
	TrainRows      int64  `json:"train_rows"`
	HoldoutRows    int64  `json:"holdout_rows"`
	Chunks         int    `json:"chunks"`
	// Skipped and Unlabelled are the rows the read left out: invalid
	// (window.invalid_rows skip) and without a label as of the run.
	Skipped    int64 `json:"skipped,omitempty"`
	Unlabelled int64 `json:"unlabelled,omitempty"`
	// Reused is true when an earlier attempt had already written them.
	Reused bool `json:"reused"`
}

// runManifest lists a run's chunks: per day, how many of each part.
type runManifest struct {
	Window     dataset.Window `json:"window"`
	SampleRate float64        `json:"sample_rate"`
	Width      int            `json:"width"`
	Train      []int          `json:"train"`
	Holdout    []int          `json:"holdout"`
	Stats      dataset.Stats  `json:"stats"`
	// TrainRows is the rows the sample kept.
	TrainRows int64 `json:"train_rows"`
}

func (mf *runManifest) chunks() int {
	n := 0
	for d := range mf.Train {
		n += mf.Train[d] + mf.Holdout[d]
	}
	return n
}

// StageRunData reads the run's window once and writes its sampled training
// rows (the same sample dataset.Source.LoadTrain keeps) and its holdout
// rows to the registry as checksummed chunks. It is idempotent: a retry
// that finds the manifest of the same window and rate returns it; one that
// does not rewrites every chunk (the same rows make the same chunks) and
// the manifest last. It holds one chunk per part per day being read.
func (a *Activities) StageRunData(ctx context.Context, in StageInput) (*RunData, error) {
	m, err := a.recorded(in.Model, in.Spec)
	if err != nil {
		return nil, err
	}
	rate := max(in.SampleRate, 0)
	if b, sum, err := a.Registry.RunManifest(ctx, m.Name, in.RunID, ""); err == nil {
		var mf runManifest
		if json.Unmarshal(b, &mf) == nil && mf.Window.From.Equal(in.Window.From) && mf.Window.To.Equal(in.Window.To) && mf.SampleRate == rate && mf.Width == len(m.Features) {
			return &RunData{RunID: in.RunID, ManifestSHA256: sum, TrainRows: mf.TrainRows, HoldoutRows: mf.Stats.Holdout, Chunks: mf.chunks(), Reused: true,
				Skipped: mf.Stats.Skipped, Unlabelled: mf.Stats.Unlabelled}, nil
		}
	} else if !errors.Is(err, registry.ErrNotFound) && !errors.Is(err, registry.ErrCorruptRunData) {
		return nil, err
	}

	var rows atomic.Int64
	stop := heartbeat(ctx, 5*time.Second, func() any { return trainStage{Stage: "reading", Rows: rows.Load()} })
	defer stop()

	days := dataset.Days(in.Window.From, in.Window.To)
	width := len(m.Features)
	seed := seedOf(in.RunID)
	mf := runManifest{Window: in.Window, SampleRate: rate, Width: width, Train: make([]int, len(days)), Holdout: make([]int, len(days))}
	// Scan reads one day from one goroutine, so each day's writers and
	// counts need no lock.
	type dayWriters struct{ train, holdout *dataset.ChunkWriter }
	writers := make([]dayWriters, len(days))
	var mu sync.Mutex
	var kept int64
	for d := range days {
		part := func(name string, count *int) *dataset.ChunkWriter {
			return dataset.NewChunkWriter(width, a.ChunkRows, func(n int, data []byte) error {
				chunk := *count
				*count++
				return a.Registry.PutRunChunk(ctx, m.Name, in.RunID, name, d, chunk, n, data)
			})
		}
		writers[d] = dayWriters{train: part(partTrain, &mf.Train[d]), holdout: part(partHoldout, &mf.Holdout[d])}
	}
	st, err := a.source(m).Scan(ctx, in.Window, dataset.ScanOptions{DayDone: func(day int) error {
		w := &writers[day]
		if err := w.train.Flush(); err != nil {
			return err
		}
		err := w.holdout.Flush()
		*w = dayWriters{} // the day is written: its buffers go
		return err
	}}, func(day int, b *dataset.Batch) error {
		w := &writers[day]
		var n int64
		for i := range b.X {
			var err error
			switch {
			case b.Holdout[i]:
				err = w.holdout.Add(b.X[i], b.Y[i])
			case dataset.Sampled(b.Keys[i], rate, seed):
				err = w.train.Add(b.X[i], b.Y[i])
				n++
			}
			if err != nil {
				return err
			}
		}
		mu.Lock()
		kept += n
		mu.Unlock()
		rows.Add(int64(b.Len()))
		return nil
	})
	if err != nil {
		return nil, classify(err)
	}
	mf.Stats, mf.TrainRows = st, kept
	b, _ := json.Marshal(mf)
	sum, err := a.Registry.PutRunManifest(ctx, m.Name, in.RunID, b)
	if err != nil {
		return nil, err
	}
	return &RunData{RunID: in.RunID, ManifestSHA256: sum, TrainRows: kept, HoldoutRows: st.Holdout, Chunks: mf.chunks(),
		Skipped: st.Skipped, Unlabelled: st.Unlabelled}, nil
}

// runManifest reads and checks the manifest a RunData names.
func (a *Activities) runManifest(ctx context.Context, m *config.Model, rd *RunData) (*runManifest, error) {
	b, _, err := a.Registry.RunManifest(ctx, m.Name, rd.RunID, rd.ManifestSHA256)
	if err != nil {
		return nil, classify(err)
	}
	var mf runManifest
	if err := json.Unmarshal(b, &mf); err != nil || len(mf.Train) != len(mf.Holdout) {
		return nil, classify(fmt.Errorf("%w: %s/%s: manifest does not decode", registry.ErrCorruptRunData, m.Name, rd.RunID))
	}
	if mf.Width != len(m.Features) {
		return nil, classify(fmt.Errorf("%w: %s/%s: rows of %d features, the run's spec has %d", registry.ErrCorruptRunData, m.Name, rd.RunID, mf.Width, len(m.Features)))
	}
	return &mf, nil
}

// readRunPart calls fn with every chunk of one part of a run's data, day by
// day in day order and chunk by chunk, as a batch (Keys are not kept).
func (a *Activities) readRunPart(ctx context.Context, m *config.Model, rd *RunData, mf *runManifest, part string, fn func(day int, b *dataset.Batch) error) error {
	counts := mf.Train
	if part == partHoldout {
		counts = mf.Holdout
	}
	for day, n := range counts {
		err := a.Registry.ReadRunChunks(ctx, m.Name, rd.RunID, part, day, n, func(chunk, rows int, data []byte) error {
			x, y, err := dataset.DecodeChunk(data, mf.Width, rows)
			if err != nil {
				return fmt.Errorf("%w: %s/%s %s day %d chunk %d: %v", registry.ErrCorruptRunData, m.Name, rd.RunID, part, day, chunk, err)
			}
			hold := make([]bool, len(x))
			for i := range hold {
				hold[i] = part == partHoldout
			}
			return fn(day, &dataset.Batch{X: x, Y: y, Holdout: hold})
		})
		if err != nil {
			return classify(err)
		}
	}
	return nil
}

// loadRunTrain reads a run's training sample into a grid, in the order
// dataset.Source.LoadTrain would have kept it, and the window's stats.
func (a *Activities) loadRunTrain(ctx context.Context, m *config.Model, rd *RunData) (*trainer.Data, dataset.Stats, error) {
	mf, err := a.runManifest(ctx, m, rd)
	if err != nil {
		return nil, dataset.Stats{}, err
	}
	out := &trainer.Data{Schema: a.source(m).Schema(), X: make([][]float64, 0, mf.TrainRows), Y: make([]int, 0, mf.TrainRows)}
	err = a.readRunPart(ctx, m, rd, mf, partTrain, func(_ int, b *dataset.Batch) error {
		out.X = append(out.X, b.X...)
		out.Y = append(out.Y, b.Y...)
		return nil
	})
	return out, mf.Stats, err
}
