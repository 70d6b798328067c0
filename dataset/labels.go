package dataset

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// Labels that arrive apart from their rows. A model with label.source
// table reads each row's label from its label table: the rows of the row's
// key, of which the one with the latest known_at at or before the run's
// as-of time holds the label as it was known then. A label that arrives
// (or is corrected) after the as-of time is not seen, so a run read again
// later reads the same labels. Rows whose label was not known yet are
// unlabelled: counted, and left out of training and holdout.

// LabelsAsOf is the time at which labels are read for the window w: the
// source's LabelsAsOf when set, else w.To plus label.delay, the as-of time
// of the run that fixed the window.
func (s *Source) LabelsAsOf(w Window) time.Time {
	if !s.AsOf.IsZero() {
		return s.AsOf
	}
	return w.To.Add(s.Model.Label.Delay.D())
}

// Coverage is the share of rows that are labelled: labelled / rows, and 0
// for no rows.
func Coverage(labelled, rows int64) float64 {
	if rows <= 0 {
		return 0
	}
	return float64(labelled) / float64(rows)
}

// labelLookupKeys is how many keys one read of the label table asks for
// (a multi-partition IN), and labelLookups how many such reads of one day's
// page run at once.
const (
	labelLookupKeys = 100
	labelLookups    = 4
)

// labelReader reads labels from a model's label table as known at asOf.
type labelReader struct {
	s    *Source
	asOf time.Time
	q    string
}

func (s *Source) labelReader(asOf time.Time) *labelReader {
	lt := s.Model.Label.Table
	where := quote(lt.KeyColumn) + " IN ?"
	if lt.PartitionColumn != "" {
		where = quote(lt.PartitionColumn) + " = ? AND " + where
	}
	// known_at is compared here, not in CQL: the table may have it as a
	// clustering column (a history per key) or as a plain column (one label
	// per key), and either way no filtering query is needed.
	q := fmt.Sprintf("SELECT %s, %s, %s FROM %s WHERE %s", quote(lt.KeyColumn), quote(lt.LabelColumn), quote(lt.KnownAtColumn),
		s.labelFrom(), where)
	return &labelReader{s: s, asOf: asOf, q: q}
}

// labelTable names the label table in messages; labelFrom is how CQL names it.
func (s *Source) labelTable() string { return s.labelKeyspace() + "." + s.Model.Label.Table.Name }

func (s *Source) labelFrom() string {
	return quote(s.labelKeyspace()) + "." + quote(s.Model.Label.Table.Name)
}

func (s *Source) labelKeyspace() string {
	if s.LabelKeyspace != "" {
		return s.LabelKeyspace
	}
	return s.Keyspace
}

// known is one key's label as known at the as-of time.
type known struct {
	label string
	at    time.Time
}

// knownLabels holds, per key, the label known last at or before an as-of
// time.
type knownLabels map[string]known

// add takes a label of key that became known at at: kept when it was known
// at asOf and is not older than the one held. Of two labels known at the
// same instant, the later read wins.
func (k knownLabels) add(key, label string, at, asOf time.Time) {
	if at.After(asOf) {
		return // not known yet at the as-of time
	}
	if held, seen := k[key]; !seen || !at.Before(held.at) {
		k[key] = known{label: label, at: at}
	}
}

// lookup returns the label of each of keys as known at the as-of time;
// a key without one is absent.
func (r *labelReader) lookup(ctx context.Context, keys []string) (map[string]string, error) {
	uniq := slices.Clone(keys)
	slices.Sort(uniq)
	uniq = slices.Compact(uniq)
	var (
		mu     sync.Mutex
		latest = make(knownLabels, len(uniq))
	)
	var groups [][]string
	for len(uniq) > 0 {
		n := min(labelLookupKeys, len(uniq))
		groups = append(groups, uniq[:n])
		uniq = uniq[n:]
	}
	err := forEach(ctx, len(groups), labelLookups, func(ctx context.Context, g int) error {
		args := []any{groups[g]}
		if pc := r.s.Model.Label.Table.PartitionColumn; pc != "" {
			args = []any{r.s.Model.Source.PartitionValue, groups[g]}
		}
		iter := r.s.Session.Query(r.q, args...).WithContext(ctx).PageSize(5000).Iter()
		cells, targets := cellTargets(3)
		var text []byte
		for iter.Scan(targets...) {
			at, ok := cells[2].time()
			if !ok || cells[1].null {
				continue // no time, or a null label: no label
			}
			text = cells[0].appendText(text[:0])
			key := string(text)
			label := string(cells[1].appendText(nil))
			mu.Lock()
			latest.add(key, label, at, r.asOf)
			mu.Unlock()
		}
		if err := iter.Close(); err != nil {
			return r.s.explainLabels(err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(latest))
	for k, v := range latest {
		out[k] = v.label
	}
	return out, nil
}

// forEach runs fn for 0..n-1 with at most parallelism at once and returns
// the first error, cancelling the rest.
func forEach(ctx context.Context, n, parallelism int, fn func(ctx context.Context, i int) error) error {
	items := make([]time.Time, n) // forEachDay walks a slice; the days are unused
	return forEachDay(ctx, items, parallelism, func(ctx context.Context, i int, _ time.Time) error { return fn(ctx, i) })
}

// explainLabels names the label table or column to fix when Cassandra
// rejects a read of it.
func (s *Source) explainLabels(err error) error {
	return explainRead(err, "label table "+s.labelTable(), "read labels from "+s.labelTable(),
		fmt.Sprintf("check models[%s].label.table.name", s.Model.Name), fmt.Sprintf("check models[%s].label.table", s.Model.Name))
}

// joinLabels sets the label of each row of b from the label table, as
// known at asOf, and keeps in b only the rows that have one (all rows when
// optional, the others with -1). It counts the labelled rows into st by
// side and class, the unlabelled ones, and the rows whose label is not a
// class: skipped under window.invalid_rows skip, an error otherwise.
func (s *Source) joinLabels(ctx context.Context, r *labelReader, b *Batch, optional bool, st *Stats, day time.Time) error {
	m := s.Model
	labels, err := r.lookup(ctx, b.Keys)
	if err != nil {
		return err
	}
	keep := 0
	for i, key := range b.Keys {
		label, ok := labels[key]
		y := -1
		if ok {
			y = classIndex(m.Label.Classes, []byte(label))
		}
		switch {
		case !ok:
			st.Unlabelled++
		case y < 0 && optional:
		case y < 0 && m.Window.InvalidRows == "skip":
			st.Skipped++
			continue
		case y < 0:
			return fmt.Errorf("%w: %s day %s row %s=%s: label %s = %q in %s is not one of the classes %v (fix the label, or set models[%s].window.invalid_rows: skip)",
				ErrInvalidData, s.table(), day.Format("2006-01-02"), m.Source.KeyColumn, key, m.Label.Table.LabelColumn, label, s.labelTable(), m.Label.Classes, m.Name)
		}
		if y < 0 && !optional {
			continue
		}
		if y >= 0 {
			if b.Holdout[i] {
				st.Holdout++
				st.HoldoutByClass[y]++
			} else {
				st.Train++
				st.TrainByClass[y]++
			}
		}
		b.Keys[keep], b.Times[keep], b.X[keep], b.Y[keep], b.Holdout[keep] = b.Keys[i], b.Times[i], b.X[i], y, b.Holdout[i]
		keep++
	}
	b.Keys, b.Times, b.X, b.Y, b.Holdout = b.Keys[:keep], b.Times[:keep], b.X[:keep], b.Y[:keep], b.Holdout[:keep]
	return nil
}

// countLabels counts the labels of keys as known at the as-of time into c:
// by class, and the keys without one.
func (s *Source) countLabels(ctx context.Context, r *labelReader, keys []string, c *DayCount) error {
	labels, err := r.lookup(ctx, keys)
	if err != nil {
		return err
	}
	for _, key := range keys {
		label, ok := labels[key]
		if !ok {
			c.Unlabelled++
			continue
		}
		if k := classIndex(s.Model.Label.Classes, []byte(label)); k >= 0 {
			c.ByClass[k]++
		}
	}
	return nil
}

// checkLabelTable compares the label table's columns with the config.
func (s *Source) checkLabelTable(ctx context.Context) []string {
	lt := s.Model.Label.Table
	types, err := s.columnTypes(ctx, s.labelKeyspace(), lt.Name)
	if err != nil {
		return []string{err.Error()}
	}
	if len(types) == 0 {
		return []string{fmt.Sprintf("label.table.name: label table %s does not exist", s.labelTable())}
	}
	var problems []string
	need := func(col, what string) string {
		t, ok := types[col]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: no column %q in %s", what, col, s.labelTable()))
		}
		return t
	}
	need(lt.KeyColumn, "label.table.key_column")
	need(lt.LabelColumn, "label.table.label_column")
	if t := need(lt.KnownAtColumn, "label.table.known_at_column"); t != "" && t != "timestamp" {
		problems = append(problems, fmt.Sprintf("label.table.known_at_column: column %q of %s is %s, not a timestamp", lt.KnownAtColumn, s.labelTable(), t))
	}
	if lt.PartitionColumn != "" {
		need(lt.PartitionColumn, "label.table.partition_column")
	}
	return problems
}

// LabelsOf returns the class index of each of keys, rows of the window w,
// whose label is known at LabelsAsOf(w) and is a class: from the label
// table, or from the label column of the window's rows. Keys without one
// are absent. It joins what was predicted for rows with what they turned
// out to be.
func (s *Source) LabelsOf(ctx context.Context, w Window, keys []string) (map[string]int, error) {
	out := make(map[string]int, len(keys))
	if s.Model.Label.FromTable() {
		r := s.labelReader(s.LabelsAsOf(w))
		for len(keys) > 0 {
			n := min(5000, len(keys))
			labels, err := r.lookup(ctx, keys[:n])
			if err != nil {
				return nil, err
			}
			for k, l := range labels {
				if y := classIndex(s.Model.Label.Classes, []byte(l)); y >= 0 {
					out[k] = y
				}
			}
			keys = keys[n:]
		}
		return out, nil
	}
	var mu sync.Mutex
	err := s.rowLabels(ctx, w, keys, func(key string, label *cell, text []byte) {
		if y := classIndex(s.Model.Label.Classes, label.appendText(text)); y >= 0 {
			mu.Lock()
			out[key] = y
			mu.Unlock()
		}
	})
	return out, err
}

// TargetsOf is LabelsOf for a regression model: the number each of keys,
// rows of the window w, has as its label (from the label column of the
// window's rows; a label table is refused for regression by the config).
// Keys without a finite number are absent.
func (s *Source) TargetsOf(ctx context.Context, w Window, keys []string) (map[string]float64, error) {
	out := make(map[string]float64, len(keys))
	var mu sync.Mutex
	err := s.rowLabels(ctx, w, keys, func(key string, label *cell, _ []byte) {
		if v, ok := label.number(); ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			mu.Lock()
			out[key] = v
			mu.Unlock()
		}
	})
	return out, err
}

// rowLabels calls fn, from up to window.parallelism goroutines at once,
// with the label cell of each row of w whose key is one of keys (text is
// a scratch buffer fn may append to).
func (s *Source) rowLabels(ctx context.Context, w Window, keys []string, fn func(key string, label *cell, text []byte)) error {
	want := make(map[string]bool, len(keys))
	for _, k := range keys {
		want[k] = true
	}
	m := s.Model
	tc := quote(m.Source.TimeColumn)
	q := fmt.Sprintf("SELECT %s, %s FROM %s WHERE %s AND %s >= ? AND %s < ?", quote(m.Source.KeyColumn), quote(m.Label.Column), s.from(), s.partitionWhere(), tc, tc)
	return forEachDay(ctx, Days(w.From, w.To), m.Window.Parallelism, func(ctx context.Context, _ int, day time.Time) error {
		iter := s.Session.Query(q, append(s.partitionArgs(day), w.From, w.To)...).WithContext(ctx).PageSize(5000).Iter()
		cells, targets := cellTargets(2)
		var text []byte
		for iter.Scan(targets...) {
			text = cells[0].appendText(text[:0])
			if !want[string(text)] {
				continue
			}
			fn(string(text), &cells[1], text[:0])
		}
		if err := iter.Close(); err != nil {
			return s.explain(err)
		}
		return nil
	})
}
