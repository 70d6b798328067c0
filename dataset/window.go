package dataset

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/inf.v0"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// ErrInvalidData marks data that no retry can fix: a missing column, a
// non-finite feature, a label outside the classes, too few rows or one class.
var ErrInvalidData = errors.New("invalid data")

// Window is the half-open time range [From, To) of source rows a run reads.
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

func (w Window) String() string {
	return w.From.UTC().Format(time.RFC3339) + " .. " + w.To.UTC().Format(time.RFC3339)
}

// Schema returns the trainer schema of the source's model.
func (s *Source) Schema() trainer.Schema {
	m := s.Model
	sc := trainer.Schema{Classes: append([]string(nil), m.Label.Classes...)}
	if m.TaskName() == config.TaskRegression { // a classifier's task is that of its classes
		sc.Task = trainer.Regression
	}
	for _, f := range m.Features {
		kind := trainer.Numeric
		if f.Type == "categorical" {
			kind = trainer.Categorical
		}
		sc.Features = append(sc.Features, trainer.Feature{Name: f.Name, Kind: kind, Categories: append([]string(nil), f.Categories...)})
	}
	return sc
}

// Batch is a page of converted rows of one day partition.
type Batch struct {
	Keys  []string
	Times []time.Time
	X     [][]float64
	Y     []int // class index; -1 when the label is null or not a class (only when scanning unlabelled rows); 0 for a labelled row of a regression model
	// Target is the label of each row of a regression model (NaN where
	// Y is -1); nil for a classifier.
	Target  []float64
	Holdout []bool
}

// Len is the number of rows in the batch.
func (b *Batch) Len() int { return len(b.X) }

// Stats counts what a scan saw.
type Stats struct {
	Rows    int64 `json:"rows"`
	Train   int64 `json:"train"`
	Holdout int64 `json:"holdout"`
	Skipped int64 `json:"skipped"`
	// Unlabelled is how many rows had no label yet (label.source table):
	// left out of training and holdout.
	Unlabelled     int64   `json:"unlabelled,omitempty"`
	TrainByClass   []int64 `json:"train_by_class"`
	HoldoutByClass []int64 `json:"holdout_by_class"`
}

func (st *Stats) add(o Stats) {
	st.Rows += o.Rows
	st.Train += o.Train
	st.Holdout += o.Holdout
	st.Skipped += o.Skipped
	st.Unlabelled += o.Unlabelled
	for k := range st.TrainByClass {
		st.TrainByClass[k] += o.TrainByClass[k]
		st.HoldoutByClass[k] += o.HoldoutByClass[k]
	}
}

// ScanOptions tune a scan.
type ScanOptions struct {
	// Unlabelled scans rows without reading or requiring the label (scoring).
	Unlabelled bool
	// OptionalLabels reads the label but accepts rows without one (or with
	// a value outside the classes): their Y is -1 (drift on recent rows whose
	// labels have not arrived yet).
	OptionalLabels bool
	// PageSize is the rows per page and per Batch (default 5000).
	PageSize int
	// DayDone, when set, is called after the last batch of a day, from the
	// goroutine that read the day.
	DayDone func(day int) error
}

// columnKinds are the CQL types a numeric feature may have.
var numericTypes = map[string]bool{"int": true, "bigint": true, "smallint": true, "tinyint": true, "varint": true,
	"float": true, "double": true, "decimal": true, "counter": true, "boolean": true}

// Check compares the model's columns with the table's, so schema drift
// between the config and the table is one clear error before any training.
func (s *Source) Check(ctx context.Context) error {
	types, err := s.columnTypes(ctx, s.Keyspace, s.Model.Source.Table)
	if err != nil {
		return err
	}
	m := s.Model
	if len(types) == 0 {
		return fmt.Errorf("%w: source table %s does not exist: check models[%s].source.table", ErrInvalidData, s.table(), m.Name)
	}
	var problems []string
	need := func(col, what string) {
		if _, ok := types[col]; !ok {
			problems = append(problems, fmt.Sprintf("%s: no column %q in %s", what, col, s.table()))
		}
	}
	need(m.Source.DayColumn, "source.day_column")
	need(m.Source.TimeColumn, "source.time_column")
	need(m.Source.KeyColumn, "source.key_column")
	if m.Source.PartitionColumn != "" {
		need(m.Source.PartitionColumn, "source.partition_column")
	}
	if m.Label.FromTable() {
		problems = append(problems, s.checkLabelTable(ctx)...)
	} else {
		need(m.Label.Column, "label.column")
		if t, ok := types[m.Label.Column]; ok && m.TaskName() == config.TaskRegression && (!numericTypes[t] || t == "boolean") {
			problems = append(problems, fmt.Sprintf("label.column: column %q is %s, not a number type (task regression predicts a number)", m.Label.Column, t))
		}
	}
	for i, f := range m.Features {
		path := fmt.Sprintf("features[%d] (%s)", i, f.Name)
		t, ok := types[f.Column]
		if !ok {
			need(f.Column, path)
			continue
		}
		if f.Type == "numeric" && !numericTypes[t] {
			problems = append(problems, fmt.Sprintf("%s: column %q is %s, not a number type", path, f.Column, t))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: model %s does not match table %s: %s", ErrInvalidData, m.Name, s.table(), strings.Join(problems, "; "))
	}
	return nil
}

// columnTypes returns the CQL type of each column of a table, none when
// the table does not exist.
func (s *Source) columnTypes(ctx context.Context, keyspace, table string) (map[string]string, error) {
	iter := s.Session.Query(`SELECT column_name, type FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?`,
		keyspace, table).WithContext(ctx).Iter()
	types := map[string]string{}
	var name, typ string
	for iter.Scan(&name, &typ) {
		types[name] = typ
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("read columns of %s.%s: %w", keyspace, table, err)
	}
	return types, nil
}

// Scan reads every row of the window, converting and splitting it, and calls
// fn with each page of each day partition. Calls for one day come in
// clustering order, one after another; calls for different days may run
// concurrently (at most window.parallelism days at once), so fn must be safe
// for that. day is the index of the partition in Days(w.From, w.To).
//
// A row with a non-finite or missing feature fails the scan with an error
// naming the row, or is skipped and counted when window.invalid_rows is skip.
func (s *Source) Scan(ctx context.Context, w Window, opts ScanOptions, fn func(day int, b *Batch) error) (Stats, error) {
	m := s.Model
	cols := []string{m.Source.KeyColumn, m.Source.TimeColumn}
	for _, f := range m.Features {
		cols = append(cols, f.Column)
	}
	// With a label table, labels are joined page by page (joinLabels), as
	// known at the window's as-of time.
	var labels *labelReader
	if !opts.Unlabelled && m.Label.FromTable() {
		labels = s.labelReader(s.LabelsAsOf(w))
	}
	if !opts.Unlabelled && labels == nil {
		cols = append(cols, m.Label.Column)
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = quote(c)
	}
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s AND %s >= ? AND %s < ?", strings.Join(quoted, ", "), s.from(), s.partitionWhere(),
		quote(m.Source.TimeColumn), quote(m.Source.TimeColumn))
	pageSize := opts.PageSize
	if pageSize <= 0 {
		pageSize = 5000
	}
	conv := s.converter()
	regression := m.TaskName() == config.TaskRegression
	var oot time.Time
	if m.Window.OutOfTime > 0 {
		oot = w.To.Add(-m.Window.OutOfTime.D())
	}
	var (
		mu    sync.Mutex
		total = newStats(len(m.Label.Classes))
	)
	days := Days(w.From, w.To)
	err := forEachDay(ctx, days, m.Window.Parallelism, func(ctx context.Context, di int, day time.Time) error {
		st := newStats(len(m.Label.Classes))
		args := append(s.partitionArgs(day), w.From, w.To)
		iter := s.Session.Query(q, args...).WithContext(ctx).PageSize(pageSize).Iter()
		cells, targets := cellTargets(len(cols))
		var (
			text  []byte // scratch for keys, labels and categories
			b     *Batch
			arena = rowArena{width: len(m.Features)}
		)
		newBatch := func() {
			b = &Batch{Keys: make([]string, 0, pageSize), Times: make([]time.Time, 0, pageSize), X: make([][]float64, 0, pageSize),
				Y: make([]int, 0, pageSize), Holdout: make([]bool, 0, pageSize)}
			if regression {
				b.Target = make([]float64, 0, pageSize)
			}
		}
		flush := func() error {
			if labels != nil && b.Len() > 0 {
				if err := s.joinLabels(ctx, labels, b, opts.OptionalLabels, &st, day); err != nil {
					return err
				}
			}
			if b.Len() == 0 {
				return nil
			}
			err := fn(di, b)
			newBatch()
			return err
		}
		newBatch()
		for iter.Scan(targets...) {
			st.Rows++
			text = cells[0].appendText(text[:0])
			keyHash := fnv1a(fnvOffset, text) // Holdout(key), from the bytes at hand
			key := string(text)
			x := arena.row()
			problem := badCell(cells, cols)
			if problem == "" {
				problem = conv.features(x, cells[2:2+len(m.Features)], &text)
			}
			y, target := -1, math.NaN()
			if regression && !opts.Unlabelled && labels == nil && problem == "" {
				v, ok := cells[len(cells)-1].number()
				switch {
				case ok && !math.IsNaN(v) && !math.IsInf(v, 0):
					y, target = 0, v
				case opts.OptionalLabels:
				case ok:
					problem = fmt.Sprintf("label %s is %v, not a finite number", m.Label.Column, v)
				default:
					problem = fmt.Sprintf("label %s is missing", m.Label.Column)
				}
			} else if !opts.Unlabelled && labels == nil && problem == "" {
				label := &cells[len(cells)-1]
				text = label.appendText(text[:0])
				if y = classIndex(m.Label.Classes, text); y < 0 && !opts.OptionalLabels {
					problem = fmt.Sprintf("label %s = %q is not one of the classes %v", m.Label.Column, text, m.Label.Classes)
				}
			}
			if problem != "" {
				if m.Window.InvalidRows == "skip" {
					st.Skipped++
					continue
				}
				iter.Close()
				return fmt.Errorf("%w: %s day %s row %s=%s: %s (fix the data, or set models[%s].window.invalid_rows: skip)",
					ErrInvalidData, s.table(), day.Format("2006-01-02"), m.Source.KeyColumn, key, problem, m.Name)
			}
			ts, _ := cells[1].time()
			hold := holdoutHash(keyHash) < m.Window.HoldoutFraction || (!oot.IsZero() && !ts.Before(oot))
			b.Keys = append(b.Keys, key)
			b.Times = append(b.Times, ts)
			b.X = append(b.X, x)
			b.Y = append(b.Y, y)
			if regression {
				b.Target = append(b.Target, target)
			}
			b.Holdout = append(b.Holdout, hold)
			if y >= 0 {
				byClass := st.TrainByClass
				if hold {
					st.Holdout++
					byClass = st.HoldoutByClass
				} else {
					st.Train++
				}
				if y < len(byClass) { // a regression model has no classes
					byClass[y]++
				}
			}
			if b.Len() >= pageSize {
				if err := flush(); err != nil {
					iter.Close()
					return err
				}
			}
		}
		if err := iter.Close(); err != nil {
			return s.explain(err)
		}
		if err := flush(); err != nil {
			return err
		}
		if opts.DayDone != nil {
			if err := opts.DayDone(di); err != nil {
				return err
			}
		}
		mu.Lock()
		total.add(st)
		mu.Unlock()
		return nil
	})
	return total, err
}

func newStats(classes int) Stats {
	return Stats{TrainByClass: make([]int64, classes), HoldoutByClass: make([]int64, classes)}
}

// converter turns driver values into feature vectors.
type converter struct {
	feats []featureConv
}

type featureConv struct {
	name    string
	numeric bool
	// A category's index is looked up in list when it is short (a few
	// string compares cost less than hashing the text), in index otherwise.
	list  []string
	index map[string]int
}

// shortCategories is the longest list of categories searched in order.
const shortCategories = 8

func (s *Source) converter() *converter {
	c := &converter{}
	for _, f := range s.Model.Features {
		fc := featureConv{name: f.Name, numeric: f.Type == "numeric"}
		if !fc.numeric && len(f.Categories) <= shortCategories {
			fc.list = f.Categories
		} else if !fc.numeric {
			fc.index = make(map[string]int, len(f.Categories))
			for i, v := range f.Categories {
				fc.index[v] = i
			}
		}
		c.feats = append(c.feats, fc)
	}
	return c
}

// category is the index of a category's text, -1 when it is not one of the
// feature's. Validation refuses duplicate categories; were there any, the
// last would win, in the list as in the map.
func (fc *featureConv) category(text []byte) int {
	if fc.index != nil {
		if i, ok := fc.index[string(text)]; ok {
			return i
		}
		return -1
	}
	for i := len(fc.list) - 1; i >= 0; i-- {
		if fc.list[i] == string(text) {
			return i
		}
	}
	return -1
}

// badCell names the first cell of a row whose bytes could not be decoded,
// with its column; "" when there is none.
func badCell(cells []cell, cols []string) string {
	for i := range cells {
		if cells[i].bad != "" {
			return fmt.Sprintf("column %s: %s", cols[i], cells[i].bad)
		}
	}
	return ""
}

// features converts one row's feature cells into x; problem is non-empty
// when a value cannot be used. text is scratch space for categories.
func (c *converter) features(x []float64, cells []cell, text *[]byte) (problem string) {
	for j := range cells {
		cl, fc := &cells[j], &c.feats[j]
		if fc.numeric {
			v, ok := cl.number()
			if !ok {
				return fmt.Sprintf("feature %s is missing", fc.name)
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Sprintf("feature %s is %v, not a finite number", fc.name, v)
			}
			x[j] = v
			continue
		}
		*text = cl.appendText((*text)[:0])
		x[j] = float64(fc.category(*text)) // -1, unknown or missing: the trainers have an "unknown" slot
	}
	return ""
}

// cellFloat reads a numeric cell; ok is false for null.
func cellFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float32:
		return float64(x), true
	case int32:
		return float64(x), true
	case int16:
		return float64(x), true
	case int8:
		return float64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case *big.Int: // varint
		if x != nil {
			f, _ := new(big.Float).SetInt(x).Float64() // ±Inf beyond float64: refused as not finite
			return f, true
		}
	case *inf.Dec: // decimal
		if x != nil {
			return decimalFloat(x), true
		}
	}
	return 0, false
}

// decimalFloat is the float64 nearest a decimal (±Inf beyond its range:
// refused as not finite), without rendering all the digits a scale of
// millions would make Dec.String produce.
func decimalFloat(d *inf.Dec) float64 {
	digits := d.UnscaledBig().String()
	if digits == "0" {
		return 0
	}
	neg := digits[0] == '-'
	exp := int64(len(strings.TrimPrefix(digits, "-"))) - int64(d.Scale()) // the value is below 10^exp
	var f float64
	switch {
	case exp > 400:
		f = math.Inf(1)
	case exp < -400:
		f = 0
	default:
		f, _ = strconv.ParseFloat(strings.TrimPrefix(digits, "-")+"e"+strconv.FormatInt(-int64(d.Scale()), 10), 64)
	}
	if neg {
		return -f
	}
	return f
}
