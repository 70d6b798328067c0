package dataset

import (
	"context"
	"fmt"
	"math"

	"github.com/kingmaker-ml/kingmaker/trainer"
)

// SampleRate is the fraction of training rows to keep so that about maxRows
// remain of trainRows; 1 keeps all.
func SampleRate(trainRows int64, maxRows int) float64 {
	if maxRows <= 0 || trainRows <= int64(maxRows) {
		return 1
	}
	return float64(maxRows) / float64(trainRows)
}

// ExpectedTrainRows is how many of a window's labelled rows are expected on
// its training side: the rows before the out-of-time slice (outOfTime of
// them fall in it), less the share holdoutFraction that the key hash holds
// out. A sample rate meant to keep max_train_rows is computed on this
// count, not on every row of the window.
func ExpectedTrainRows(labelled, outOfTime int64, holdoutFraction float64) int64 {
	return int64(math.Round(float64(max(labelled-outOfTime, 0)) * (1 - holdoutFraction)))
}

// Sampled reports whether the training row with this key is in a sample of
// the given rate. The same rate to every class keeps class proportions (a
// stratified sample), and the same seed gives the same sample.
//
// The hash of seed and key goes through a finalizer before its top bits are
// read: FNV-1a alone leaves them tied to the holdout hash of the same key
// (Holdout) when keys share structure (row-0000001, row-0000002, ...), and
// the training side then kept up to a tenth more or fewer rows than the
// rate says.
func Sampled(key string, rate float64, seed uint64) bool {
	if rate >= 1 {
		return true
	}
	return float64(KeyHash(key, seed)>>11)/float64(1<<53) < rate
}

// KeyHash is the hash of seed and key that Sampled compares with its rate:
// a row is in a sample of rate r when its top 53 bits, as a fraction, are
// below r. Keeping the k rows of smallest KeyHash is therefore the sample
// of the largest rate that keeps k rows: the same kind of sample, with its
// size fixed instead of its rate.
func KeyHash(key string, seed uint64) uint64 {
	// FNV-1a of the seed's 8 little-endian bytes, then of the key, written
	// out so that no hasher is allocated per row.
	h := uint64(14695981039346656037)
	for i := range 8 {
		h ^= (seed >> (8 * i)) & 0xff
		h *= 1099511628211
	}
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	return mix64(h)
}

// OrderHash is where a row goes among its day's rows in a run's stored
// sample (Smallest.Sorted): a hash of its key alone, the same for every
// run. KeyHash, seeded by the run, decides which rows a run keeps; were it
// also their order, two runs that keep the same rows (every row of a
// window below the caps) would store them in different orders, and their
// trainings and metrics, sums taken in another order, would differ in the
// last bits.
func OrderHash(key string) uint64 { return KeyHash(key, orderSeed) }

// orderSeed seeds OrderHash: any fixed number does.
const orderSeed = 0x6b696e676d616b72 // "kingmakr"

// mix64 is the 64-bit finalizer of MurmurHash3: every bit of x moves every
// bit of the result.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// LoadTrain reads the training side of the window into a grid, in day and
// clustering order (so the same window gives the same grid), keeping a
// sample of the given rate (see SampleRate). The rows kept are copied into
// blocks of their own, so neither the holdout rows nor the rows the sample
// leaves out stay in memory.
func (s *Source) LoadTrain(ctx context.Context, w Window, rate float64, seed uint64) (*trainer.Data, Stats, error) {
	days := Days(w.From, w.To)
	perDay := make([]trainer.Data, len(days))
	arenas := make([]rowArena, len(days))
	for i := range arenas {
		arenas[i].width = len(s.Model.Features)
	}
	// Scan calls fn for one day at a time from one goroutine, so each day's
	// slot needs no lock.
	st, err := s.Scan(ctx, w, ScanOptions{}, func(day int, b *Batch) error {
		d, a := &perDay[day], &arenas[day]
		for i := range b.X {
			if b.Holdout[i] || !Sampled(b.Keys[i], rate, seed) {
				continue
			}
			x := a.row()
			copy(x, b.X[i])
			d.X = append(d.X, x)
			if b.Target != nil {
				d.Target = append(d.Target, b.Target[i])
			} else {
				d.Y = append(d.Y, b.Y[i])
			}
		}
		return nil
	})
	if err != nil {
		return nil, st, err
	}
	n := 0
	for _, d := range perDay {
		n += len(d.X)
	}
	out := &trainer.Data{Schema: s.Schema(), X: make([][]float64, 0, n)}
	if out.Schema.Task == trainer.Regression {
		out.Target = make([]float64, 0, n)
	} else {
		out.Y = make([]int, 0, n)
	}
	for _, d := range perDay {
		out.X = append(out.X, d.X...)
		if out.Target != nil {
			out.Target = append(out.Target, d.Target...)
		} else {
			out.Y = append(out.Y, d.Y...)
		}
	}
	return out, st, nil
}

// RequireTrainable refuses a window no model should be trained on, saying
// what to change.
func (s *Source) RequireTrainable(w Window, counts []DayCount) (total int64, byClass []int64, err error) {
	m := s.Model
	byClass = make([]int64, len(m.Label.Classes))
	for _, c := range counts {
		total += c.Rows
		for k, n := range c.ByClass {
			byClass[k] += n
		}
	}
	// Only labelled rows count: a row whose label has not arrived (or is
	// not a class) trains and tests nothing.
	var labelled int64
	for _, c := range counts {
		labelled += c.LabelledRows()
	}
	if labelled < int64(m.Window.MinRows) {
		if labelled == total {
			return total, byClass, fmt.Errorf("%w: model %s: window %s holds %d rows, fewer than window.min_rows %d: seed or ingest more data, or widen window.length",
				ErrInvalidData, m.Name, w, total, m.Window.MinRows)
		}
		return total, byClass, fmt.Errorf("%w: model %s: window %s holds %d labelled rows of %d (label coverage %.1f%%), fewer than window.min_rows %d: wait for labels, lengthen label.delay, or widen window.length",
			ErrInvalidData, m.Name, w, labelled, total, 100*Coverage(labelled, total), m.Window.MinRows)
	}
	for k, n := range byClass {
		if n < int64(m.Window.MinClassRows) {
			return total, byClass, fmt.Errorf("%w: model %s: window %s has %d rows of class %q, fewer than window.min_class_rows %d (a one-class window cannot be learned)",
				ErrInvalidData, m.Name, w, n, m.Label.Classes[k], m.Window.MinClassRows)
		}
	}
	return total, byClass, nil
}
