package bench

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/dataset"
)

// This file is a prototype of the change BENCHMARKS.md proposes for
// dataset.Scan, measured as the "proposal" read of BenchmarkWindowLoad: the
// same statement, page size, parallelism, conversion, checks and batches,
// with the cells decoded by a gocql.Unmarshaler of the package's own instead
// of through **T targets (reflect.New and a heap value per cell, then
// reflection and an interface box per cell in dataset.value), and the rows
// of a page carved from one slab instead of one allocation each. It is not
// production code: dataset owns the real one.

// cell receives one column of a row without reflection. Numbers are decoded
// into f; text and uuid keep their bytes (valid until the next Scan).
type cell struct {
	null bool
	kind cellKind
	f    float64
	b    []byte
}

type cellKind uint8

const (
	cellNumber cellKind = iota
	cellBytes
	cellUUID
	cellTime
	cellBool
)

// UnmarshalCQL decodes the types a source column may have. gocql passes nil
// data for a null cell.
func (c *cell) UnmarshalCQL(info gocql.TypeInfo, data []byte) error {
	c.null = data == nil
	if c.null {
		return nil
	}
	bad := func() error { return fmt.Errorf("cannot decode %d bytes of %s", len(data), info.Type()) }
	switch t := info.Type(); t {
	case gocql.TypeInt:
		if len(data) != 4 {
			return bad()
		}
		c.kind, c.f = cellNumber, float64(int32(binary.BigEndian.Uint32(data)))
	case gocql.TypeBigInt, gocql.TypeCounter:
		if len(data) != 8 {
			return bad()
		}
		c.kind, c.f = cellNumber, float64(int64(binary.BigEndian.Uint64(data)))
	case gocql.TypeSmallInt:
		if len(data) != 2 {
			return bad()
		}
		c.kind, c.f = cellNumber, float64(int16(binary.BigEndian.Uint16(data)))
	case gocql.TypeTinyInt:
		if len(data) != 1 {
			return bad()
		}
		c.kind, c.f = cellNumber, float64(int8(data[0]))
	case gocql.TypeDouble:
		if len(data) != 8 {
			return bad()
		}
		c.kind, c.f = cellNumber, math.Float64frombits(binary.BigEndian.Uint64(data))
	case gocql.TypeFloat:
		if len(data) != 4 {
			return bad()
		}
		c.kind, c.f = cellNumber, float64(math.Float32frombits(binary.BigEndian.Uint32(data)))
	case gocql.TypeBoolean:
		if len(data) != 1 {
			return bad()
		}
		c.kind, c.f = cellBool, 0
		if data[0] != 0 {
			c.f = 1
		}
	case gocql.TypeTimestamp:
		if len(data) != 8 {
			return bad()
		}
		c.kind, c.f = cellTime, float64(int64(binary.BigEndian.Uint64(data)))
	case gocql.TypeUUID, gocql.TypeTimeUUID:
		if len(data) != 16 {
			return bad()
		}
		c.kind, c.b = cellUUID, data
	case gocql.TypeVarchar, gocql.TypeText, gocql.TypeAscii:
		c.kind, c.b = cellBytes, data
	default: // decimal, varint and the rest would keep today's slow path
		return fmt.Errorf("column type %s is not handled by the prototype", t)
	}
	return nil
}

// text renders a cell as dataset's labelString does, for keys, labels and
// categories; the bytes of a uuid are formatted into buf.
func (c *cell) text(buf *[36]byte) []byte {
	switch c.kind {
	case cellBytes:
		return c.b
	case cellUUID:
		hex.Encode(buf[0:8], c.b[0:4])
		buf[8] = '-'
		hex.Encode(buf[9:13], c.b[4:6])
		buf[13] = '-'
		hex.Encode(buf[14:18], c.b[6:8])
		buf[18] = '-'
		hex.Encode(buf[19:23], c.b[8:10])
		buf[23] = '-'
		hex.Encode(buf[24:], c.b[10:16])
		return buf[:]
	case cellBool:
		if c.f != 0 {
			return []byte("true")
		}
		return []byte("false")
	}
	return strconv.AppendFloat(buf[:0], c.f, 'f', -1, 64)
}

// proposedScan is dataset.Scan with typed cells and slab-allocated rows
// (invalid_rows: fail, labelled rows only, no out-of-time holdout: what the
// benchmark model uses).
func proposedScan(ctx context.Context, src *dataset.Source, w dataset.Window, pageSize int, fn func(day int, b *dataset.Batch) error) (dataset.Stats, error) {
	m := src.Model
	cols := []string{m.Source.KeyColumn, m.Source.TimeColumn}
	for _, f := range m.Features {
		cols = append(cols, f.Column)
	}
	cols = append(cols, m.Label.Column)
	q := fmt.Sprintf("SELECT %s FROM %s.%s WHERE %s = ? AND %s = ? AND %s >= ? AND %s < ?", strings.Join(cols, ", "), src.Keyspace,
		m.Source.Table, m.Source.PartitionColumn, m.Source.DayColumn, m.Source.TimeColumn, m.Source.TimeColumn)
	nf := len(m.Features)
	numeric := make([]bool, nf)
	categories := make([]map[string]int, nf)
	for j, f := range m.Features {
		numeric[j] = f.Type == "numeric"
		if !numeric[j] {
			categories[j] = make(map[string]int, len(f.Categories))
			for i, c := range f.Categories {
				categories[j][c] = i
			}
		}
	}
	classes := make(map[string]int, len(m.Label.Classes))
	for i, c := range m.Label.Classes {
		classes[c] = i
	}
	days := dataset.Days(w.From, w.To)
	var (
		mu       sync.Mutex
		total    = dataset.Stats{TrainByClass: make([]int64, len(m.Label.Classes)), HoldoutByClass: make([]int64, len(m.Label.Classes))}
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		failed   atomic.Bool
	)
	sem := make(chan struct{}, max(1, m.Window.Parallelism))
	for di, day := range days {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if failed.Load() {
				return
			}
			err := func() error {
				st := dataset.Stats{TrainByClass: make([]int64, len(m.Label.Classes)), HoldoutByClass: make([]int64, len(m.Label.Classes))}
				iter := src.Session.Query(q, m.Source.PartitionValue, day, w.From, w.To).WithContext(ctx).PageSize(pageSize).Iter()
				cells := make([]cell, len(cols))
				targets := make([]any, len(cols))
				for i := range cells {
					targets[i] = &cells[i]
				}
				var (
					buf  [36]byte
					b    *dataset.Batch
					slab []float64
				)
				newBatch := func() {
					b = &dataset.Batch{Keys: make([]string, 0, pageSize), Times: make([]time.Time, 0, pageSize), X: make([][]float64, 0, pageSize),
						Y: make([]int, 0, pageSize), Holdout: make([]bool, 0, pageSize)}
					slab = make([]float64, pageSize*nf)
				}
				newBatch()
				for iter.Scan(targets...) {
					st.Rows++
					key := string(cells[0].text(&buf))
					x := slab[:nf:nf]
					slab = slab[nf:]
					for j := range nf {
						c := &cells[2+j]
						if numeric[j] {
							if c.null {
								iter.Close()
								return fmt.Errorf("row %s: feature %s is missing", key, m.Features[j].Name)
							}
							if math.IsNaN(c.f) || math.IsInf(c.f, 0) {
								iter.Close()
								return fmt.Errorf("row %s: feature %s is %v", key, m.Features[j].Name, c.f)
							}
							x[j] = c.f
							continue
						}
						idx, ok := categories[j][string(c.text(&buf))]
						if c.null || !ok {
							idx = -1
						}
						x[j] = float64(idx)
					}
					label := &cells[len(cells)-1]
					y, ok := classes[string(label.text(&buf))]
					if label.null || !ok {
						iter.Close()
						return fmt.Errorf("row %s: label is not one of the classes", key)
					}
					hold := dataset.Holdout(key, m.Window.HoldoutFraction)
					b.Keys = append(b.Keys, key)
					b.Times = append(b.Times, time.UnixMilli(int64(cells[1].f)).UTC())
					b.X = append(b.X, x)
					b.Y = append(b.Y, y)
					b.Holdout = append(b.Holdout, hold)
					if hold {
						st.Holdout++
						st.HoldoutByClass[y]++
					} else {
						st.Train++
						st.TrainByClass[y]++
					}
					if b.Len() >= pageSize {
						if err := fn(di, b); err != nil {
							iter.Close()
							return err
						}
						newBatch()
					}
				}
				if err := iter.Close(); err != nil {
					return err
				}
				if b.Len() > 0 {
					if err := fn(di, b); err != nil {
						return err
					}
				}
				mu.Lock()
				defer mu.Unlock()
				total.Rows += st.Rows
				total.Train += st.Train
				total.Holdout += st.Holdout
				for k := range total.TrainByClass {
					total.TrainByClass[k] += st.TrainByClass[k]
					total.HoldoutByClass[k] += st.HoldoutByClass[k]
				}
				return nil
			}()
			if err != nil {
				failed.Store(true)
				once.Do(func() { firstErr = err })
			}
		})
	}
	wg.Wait()
	return total, firstErr
}

// proposedLoadTrain is dataset.LoadTrain (rate 1) over proposedScan: the
// training rows of each day in order, then the days joined.
func proposedLoadTrain(ctx context.Context, src *dataset.Source, w dataset.Window) (dataset.Stats, error) {
	perDay := make([]struct {
		x [][]float64
		y []int
	}, len(dataset.Days(w.From, w.To)))
	st, err := proposedScan(ctx, src, w, 5000, func(day int, b *dataset.Batch) error {
		d := &perDay[day] // one goroutine per day: no lock needed
		for i := range b.X {
			if !b.Holdout[i] {
				d.x = append(d.x, b.X[i])
				d.y = append(d.y, b.Y[i])
			}
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	out := struct {
		x [][]float64
		y []int
	}{make([][]float64, 0, st.Train), make([]int, 0, st.Train)}
	for _, d := range perDay {
		out.x, out.y = append(out.x, d.x...), append(out.y, d.y...)
	}
	return st, nil
}
