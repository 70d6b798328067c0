package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

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
	// HoldoutRate is the fraction of holdout rows kept (max_holdout_rows),
	// by the same seed; 0 (inputs recorded before it existed) keeps all.
	HoldoutRate float64 `json:"holdout_rate,omitempty"`
	// Spec is the model's spec as the run recorded it (LoadSpec).
	Spec *config.Model `json:"spec,omitempty"`
	// MaxTrainRows, when above 0, asks for one pass (runs that recorded
	// the "one-pass-read" marker): the training sample is the MaxTrainRows
	// training rows of smallest key hash and the holdout the MaxHoldoutRows
	// holdout rows of smallest key hash (every holdout row when 0), the
	// window is counted in the same read and refused there when it is too
	// small (what SnapshotWindow's count did before), and SampleRate and
	// HoldoutRate are not read.
	MaxTrainRows   int `json:"max_train_rows,omitempty"`
	MaxHoldoutRows int `json:"max_holdout_rows,omitempty"`
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
	// Counted is true when the read counted the window (one pass): Rows,
	// Labels and SampleRate are then the window's, as SnapshotWindow's
	// count gave them before.
	Counted bool `json:"counted,omitempty"`
	// Rows is every row of the window the read saw.
	Rows int64 `json:"rows,omitempty"`
	// Labels is the window's label coverage.
	Labels *LabelCoverage `json:"labels,omitempty"`
	// SampleRate is the share of the window's training rows the training
	// sample kept (1: all of them).
	SampleRate float64 `json:"sample_rate,omitempty"`
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
	// HoldoutRate and HoldoutRows are the holdout's sample rate and the rows
	// it kept; 0 in manifests written before the holdout was sampled (it
	// kept every holdout row, Stats.Holdout).
	HoldoutRate float64 `json:"holdout_rate,omitempty"`
	HoldoutRows int64   `json:"holdout_rows,omitempty"`
	// Sample is sampleSmallest when the run read its window in one pass
	// and kept the rows of smallest key hash, up to MaxTrainRows and
	// MaxHoldoutRows; empty for a sample of a fixed rate.
	Sample         string `json:"sample,omitempty"`
	MaxTrainRows   int    `json:"max_train_rows,omitempty"`
	MaxHoldoutRows int    `json:"max_holdout_rows,omitempty"`
}

// sampleSmallest is a manifest's Sample when its parts are the rows of
// smallest key hash (dataset.Smallest).
const sampleSmallest = "smallest_key_hash"

// holdout is the manifest's holdout rate and kept rows, with the meaning
// of a manifest written before the holdout was sampled.
func (mf *runManifest) holdout() (rate float64, rows int64) {
	if mf.HoldoutRate == 0 {
		return 1, mf.Stats.Holdout
	}
	return mf.HoldoutRate, mf.HoldoutRows
}

// keepAll is rate, or 1 when it keeps every row (0 and above 1 included).
func keepAll(rate float64) float64 {
	if rate <= 0 || rate > 1 {
		return 1
	}
	return rate
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
	holdRate := keepAll(in.HoldoutRate)
	if b, sum, err := a.Registry.RunManifest(ctx, m.Name, in.RunID, ""); err == nil {
		var mf runManifest
		if json.Unmarshal(b, &mf) == nil && mf.Window.From.Equal(in.Window.From) && mf.Window.To.Equal(in.Window.To) && mf.Width == chunkWidth(m) {
			switch hr, hn := mf.holdout(); {
			case in.MaxTrainRows > 0 && mf.Sample == sampleSmallest && mf.MaxTrainRows == in.MaxTrainRows && mf.MaxHoldoutRows == in.MaxHoldoutRows:
				rd := a.countedRunData(m, in, &mf, sum)
				rd.Reused = true
				return rd, nil
			case in.MaxTrainRows <= 0 && mf.Sample == "" && mf.SampleRate == rate && hr == holdRate:
				return &RunData{RunID: in.RunID, ManifestSHA256: sum, TrainRows: mf.TrainRows, HoldoutRows: hn, Chunks: mf.chunks(), Reused: true,
					Skipped: mf.Stats.Skipped, Unlabelled: mf.Stats.Unlabelled}, nil
			}
		}
	} else if !errors.Is(err, registry.ErrNotFound) && !errors.Is(err, registry.ErrCorruptRunData) {
		return nil, err
	}
	if in.MaxTrainRows > 0 {
		return a.stageSmallest(ctx, m, in)
	}

	var rows atomic.Int64
	stop := heartbeat(ctx, 5*time.Second, func() any { return trainStage{Stage: "reading", Rows: rows.Load()} })
	defer stop()

	days := dataset.Days(in.Window.From, in.Window.To)
	width := chunkWidth(m)
	seed := seedOf(in.RunID)
	mf := runManifest{Window: in.Window, SampleRate: rate, Width: width, Train: make([]int, len(days)), Holdout: make([]int, len(days))}
	// Scan reads one day from one goroutine, so each day's writers and
	// counts need no lock.
	type dayWriters struct{ train, holdout *dataset.ChunkWriter }
	writers := make([]dayWriters, len(days))
	var mu sync.Mutex
	var kept, keptHoldout int64
	for d := range days {
		part := func(name string, count *int) *dataset.ChunkWriter {
			return partWriter(name, width, a.ChunkRows, func(n int, data []byte) error {
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
		var n, h int64
		var row []float64
		for i := range b.X {
			var err error
			x := b.X[i]
			if b.Target != nil {
				row = append(append(row[:0], x...), b.Target[i])
				x = row
			}
			switch {
			case b.Holdout[i]:
				// The holdout's sample has the training sample's seed: the
				// two sides are disjoint, so their draws need not differ.
				if dataset.Sampled(b.Keys[i], holdRate, seed) {
					err = w.holdout.Add(x, b.Y[i])
					h++
				}
			case dataset.Sampled(b.Keys[i], rate, seed):
				err = w.train.Add(x, b.Y[i])
				n++
			}
			if err != nil {
				return err
			}
		}
		mu.Lock()
		kept += n
		keptHoldout += h
		mu.Unlock()
		rows.Add(int64(b.Len()))
		return nil
	})
	if err != nil {
		return nil, classify(err)
	}
	mf.Stats, mf.TrainRows = st, kept
	if holdRate < 1 {
		mf.HoldoutRate, mf.HoldoutRows = holdRate, keptHoldout
	}
	b, _ := json.Marshal(mf)
	sum, err := a.Registry.PutRunManifest(ctx, m.Name, in.RunID, b)
	if err != nil {
		return nil, err
	}
	return &RunData{RunID: in.RunID, ManifestSHA256: sum, TrainRows: kept, HoldoutRows: keptHoldout, Chunks: mf.chunks(),
		Skipped: st.Skipped, Unlabelled: st.Unlabelled}, nil
}

// stageSmallest is StageRunData in one pass: it reads the window once,
// counting it as it goes, keeps the training rows and the holdout rows of
// smallest key hash up to the caps (dataset.Smallest, in memory: at most
// MaxTrainRows + MaxHoldoutRows rows), refuses a window too small or with
// a class too rare exactly as SnapshotWindow's count did, and only then
// writes the kept rows as chunks, day by day, and the manifest last. A
// refused window writes nothing.
//
// The sample is fixed by the run's seed and the rows alone: the same rows
// on every worker and every attempt, in the same order (by day, then key
// hash), so a retry writes the same chunks. Unlike a sample of a fixed
// rate it keeps exactly MaxTrainRows training rows when the window has
// more, and it needs no count of the window beforehand.
func (a *Activities) stageSmallest(ctx context.Context, m *config.Model, in StageInput) (*RunData, error) {
	var rows atomic.Int64
	stage := atomic.Value{}
	stage.Store("reading")
	stop := heartbeat(ctx, 5*time.Second, func() any { return trainStage{Stage: stage.Load().(string), Rows: rows.Load()} })
	defer stop()

	width := chunkWidth(m)
	seed := seedOf(in.RunID)
	holdCap := in.MaxHoldoutRows
	if holdCap <= 0 {
		holdCap = math.MaxInt
	}
	train, hold := dataset.NewSmallest(in.MaxTrainRows, width), dataset.NewSmallest(holdCap, width)
	src := a.source(m)
	st, err := src.Scan(ctx, in.Window, dataset.ScanOptions{}, func(day int, b *dataset.Batch) error {
		var row []float64
		for i := range b.X {
			h := dataset.KeyHash(b.Keys[i], seed)
			sample := train
			if b.Holdout[i] {
				sample = hold
			}
			if !sample.Admits(h) {
				continue
			}
			x := b.X[i]
			if b.Target != nil {
				row = append(append(row[:0], x...), b.Target[i])
				x = row
			}
			sample.Offer(h, dataset.OrderHash(b.Keys[i]), day, b.Y[i], x)
		}
		rows.Add(int64(b.Len()))
		return nil
	})
	if err != nil {
		return nil, classify(err)
	}
	// The count SnapshotWindow made before: every row the read saw, and the
	// labelled ones by class (a regression window counts them as Labelled).
	count := dataset.DayCount{Rows: st.Rows, ByClass: make([]int64, len(st.TrainByClass)), Unlabelled: st.Unlabelled}
	for k := range count.ByClass {
		count.ByClass[k] = st.TrainByClass[k] + st.HoldoutByClass[k]
	}
	if len(count.ByClass) == 0 {
		count.Labelled = st.Train + st.Holdout
	}
	if _, _, err := src.RequireTrainable(in.Window, []dataset.DayCount{count}); err != nil {
		return nil, classify(err)
	}

	stage.Store("writing")
	days := dataset.Days(in.Window.From, in.Window.To)
	mf := runManifest{Window: in.Window, Width: width, Train: make([]int, len(days)), Holdout: make([]int, len(days)),
		Stats: st, TrainRows: int64(train.Len()), HoldoutRate: 1, HoldoutRows: int64(hold.Len()),
		Sample: sampleSmallest, MaxTrainRows: in.MaxTrainRows, MaxHoldoutRows: in.MaxHoldoutRows}
	mf.SampleRate = keptShare(mf.TrainRows, st.Train)
	if in.MaxHoldoutRows > 0 {
		mf.HoldoutRate = keptShare(mf.HoldoutRows, st.Holdout)
	}
	if err := a.writeSample(ctx, m, in.RunID, partTrain, train, mf.Train); err != nil {
		return nil, err
	}
	if err := a.writeSample(ctx, m, in.RunID, partHoldout, hold, mf.Holdout); err != nil {
		return nil, err
	}
	b, _ := json.Marshal(mf)
	sum, err := a.Registry.PutRunManifest(ctx, m.Name, in.RunID, b)
	if err != nil {
		return nil, err
	}
	return a.countedRunData(m, in, &mf, sum), nil
}

// keptShare is kept of all, 1 when all were kept (or there were none).
func keptShare(kept, all int64) float64 {
	if kept >= all {
		return 1
	}
	return float64(kept) / float64(all)
}

// countedRunData is the RunData of a manifest written in one pass, with
// the window's counts.
func (a *Activities) countedRunData(m *config.Model, in StageInput, mf *runManifest, sum string) *RunData {
	st := mf.Stats
	labels := newLabelCoverage(m, a.source(m).LabelsAsOf(in.Window), st.Rows, st.Train+st.Holdout)
	labels.Skipped = st.Skipped
	return &RunData{RunID: in.RunID, ManifestSHA256: sum, TrainRows: mf.TrainRows, HoldoutRows: mf.HoldoutRows, Chunks: mf.chunks(),
		Skipped: st.Skipped, Unlabelled: st.Unlabelled, Counted: true, Rows: st.Rows, Labels: labels, SampleRate: mf.SampleRate}
}

// sampleWrites is how many chunk writes stageSmallest keeps in flight: the
// writes wait on Cassandra, so a few at once keep the encoder busy.
const sampleWrites = 4

// writeSample writes one part's sample as chunks, day by day, with a few
// writes in flight, and counts each day's chunks into perDay.
func (a *Activities) writeSample(ctx context.Context, m *config.Model, runID, part string, sample *dataset.Smallest, perDay []int) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(sampleWrites)
	day := -1
	var w *dataset.ChunkWriter
	newWriter := func(d int) *dataset.ChunkWriter {
		return partWriter(part, chunkWidth(m), a.ChunkRows, func(n int, data []byte) error {
			chunk := perDay[d]
			perDay[d]++
			data = bytes.Clone(data) // the writer reuses its buffer
			g.Go(func() error { return a.Registry.PutRunChunk(gctx, m.Name, runID, part, d, chunk, n, data) })
			return gctx.Err()
		})
	}
	err := sample.Sorted(func(d, y int, x []float64) error {
		if d != day {
			if w != nil {
				if err := w.Flush(); err != nil {
					return err
				}
			}
			day, w = d, newWriter(d)
		}
		return w.Add(x, y)
	})
	if err == nil && w != nil {
		err = w.Flush()
	}
	if werr := g.Wait(); err == nil {
		err = werr
	}
	return err
}

// partWriter is the chunk writer of a part of a run's data: the training
// part in KMR1 (gzip), the format external trainers read it in (the README
// documents it for them), the holdout, which only Kingmaker reads, in the
// faster and smaller KMR2.
func partWriter(part string, width, limit int, emit func(rows int, data []byte) error) *dataset.ChunkWriter {
	if part == partTrain {
		return dataset.NewGzipChunkWriter(width, limit, emit)
	}
	return dataset.NewChunkWriter(width, limit, emit)
}

// chunkWidth is the columns of a row of a model's run data: its features,
// and for a regression model its label last (the chunk's class index is 0).
func chunkWidth(m *config.Model) int {
	if m.TaskName() == config.TaskRegression {
		return len(m.Features) + 1
	}
	return len(m.Features)
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
	if mf.Width != chunkWidth(m) {
		return nil, classify(fmt.Errorf("%w: %s/%s: rows of %d columns, the run's spec has %d", registry.ErrCorruptRunData, m.Name, rd.RunID, mf.Width, chunkWidth(m)))
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
			b := &dataset.Batch{X: x, Y: y, Holdout: hold}
			if mf.Width > len(m.Features) { // a regression model's label is the last column
				b.Target = make([]float64, len(x))
				for i, row := range x {
					b.Target[i] = row[len(m.Features)]
					x[i] = row[:len(m.Features):len(m.Features)]
				}
			}
			return fn(day, b)
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
	out := &trainer.Data{Schema: a.source(m).Schema(), X: make([][]float64, 0, mf.TrainRows)}
	err = a.readRunPart(ctx, m, rd, mf, partTrain, func(_ int, b *dataset.Batch) error {
		out.X = append(out.X, b.X...)
		if b.Target != nil {
			out.Target = append(out.Target, b.Target...)
		} else {
			out.Y = append(out.Y, b.Y...)
		}
		return nil
	})
	return out, mf.Stats, err
}
