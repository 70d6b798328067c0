// Package dataset reads a model's window of rows from its Cassandra source
// table: day partitions in parallel (bounded), rows streamed in pages, a
// stable train/holdout split by a hash of the row key, and conversion into
// the grids the trainers take. It refuses data no model should be trained on
// (too few rows, one class, NaN features) with errors that say what to fix.
package dataset

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
)

// Source is a model's source table as the config describes it.
type Source struct {
	Session  *gocql.Session
	Keyspace string
	Model    *config.Model
	// LabelKeyspace holds the label table (label.source table); empty
	// means Keyspace.
	LabelKeyspace string
	// AsOf, when set, is the time at which labels from a label table are
	// read; zero means each window's own (LabelsAsOf).
	AsOf time.Time
}

// Days returns the UTC dates whose partitions cover [from, to).
func Days(from, to time.Time) []time.Time {
	var days []time.Time
	for d := from.UTC().Truncate(24 * time.Hour); d.Before(to); d = d.AddDate(0, 0, 1) {
		days = append(days, d)
	}
	return days
}

// DayCount is how many rows one day partition holds, by class.
type DayCount struct {
	Day     time.Time `json:"day"`
	Rows    int64     `json:"rows"`
	ByClass []int64   `json:"by_class"` // in the order of label.classes; rows with other labels are not counted
	// Unlabelled is how many rows had no label in the label table as of
	// the read's as-of time (label.source table only).
	Unlabelled int64 `json:"unlabelled,omitempty"`
	// Labelled, of a regression model (no classes to count by), is how
	// many rows hold a finite number as their label.
	Labelled int64 `json:"labelled,omitempty"`
}

// LabelledRows is how many rows of the day have a label the model can
// learn: one of the classes, or a finite number for regression.
func (c DayCount) LabelledRows() int64 {
	n := c.Labelled
	for _, k := range c.ByClass {
		n += k
	}
	return n
}

// partitionWhere is the WHERE clause selecting one day partition.
func (s *Source) partitionWhere() string {
	src := s.Model.Source
	if src.PartitionColumn != "" {
		return fmt.Sprintf("%s = ? AND %s = ?", quote(src.PartitionColumn), quote(src.DayColumn))
	}
	return quote(src.DayColumn) + " = ?"
}

func (s *Source) partitionArgs(day time.Time) []any {
	if s.Model.Source.PartitionColumn != "" {
		return []any{s.Model.Source.PartitionValue, day}
	}
	return []any{day}
}

// table names the source table in messages; from is how CQL names it.
func (s *Source) table() string { return s.Keyspace + "." + s.Model.Source.Table }

func (s *Source) from() string { return quote(s.Keyspace) + "." + quote(s.Model.Source.Table) }

// quote makes a name from the config a CQL quoted identifier: taken as
// written (case included, as Check compares it with the table's columns),
// never as a keyword or as more CQL. Validation already refuses names that
// are not plain identifiers; quoting keeps every statement safe without
// relying on it.
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// CountDays counts the rows of the window in each day partition, reading
// at most window.parallelism partitions at once and only the label column.
//
// With labels in a label table it reads the row keys instead and counts
// each row by its label as known at LabelsAsOf(w), or as unlabelled.
func (s *Source) CountDays(ctx context.Context, w Window) ([]DayCount, error) {
	tc := quote(s.Model.Source.TimeColumn)
	col := s.Model.Label.Column
	var labels *labelReader
	if s.Model.Label.FromTable() {
		col, labels = s.Model.Source.KeyColumn, s.labelReader(s.LabelsAsOf(w))
	}
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s AND %s >= ? AND %s < ?", quote(col), s.from(), s.partitionWhere(), tc, tc)
	regression := s.Model.TaskName() == config.TaskRegression
	days := Days(w.From, w.To)
	out := make([]DayCount, len(days))
	err := forEachDay(ctx, days, s.Model.Window.Parallelism, func(ctx context.Context, i int, day time.Time) error {
		c := DayCount{Day: day, ByClass: make([]int64, len(s.Model.Label.Classes))}
		iter := s.Session.Query(q, append(s.partitionArgs(day), w.From, w.To)...).WithContext(ctx).PageSize(5000).Iter()
		cells, targets := cellTargets(1)
		var (
			text []byte
			keys []string
		)
		for iter.Scan(targets...) {
			c.Rows++
			text = cells[0].appendText(text[:0])
			if labels != nil {
				keys = append(keys, string(text))
				if len(keys) >= 5000 {
					if err := s.countLabels(ctx, labels, keys, &c); err != nil {
						iter.Close()
						return err
					}
					keys = keys[:0]
				}
				continue
			}
			if regression {
				if v, ok := cells[0].number(); ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
					c.Labelled++
				}
				continue
			}
			if k := classIndex(s.Model.Label.Classes, text); k >= 0 {
				c.ByClass[k]++
			}
		}
		if err := iter.Close(); err != nil {
			return s.explain(err)
		}
		if len(keys) > 0 {
			if err := s.countLabels(ctx, labels, keys, &c); err != nil {
				return err
			}
		}
		out[i] = c
		return nil
	})
	return out, err
}

// explain names the table or column to fix when Cassandra rejects a query.
func (s *Source) explain(err error) error {
	return explainRead(err, "source table "+s.table(), "read "+s.table(),
		fmt.Sprintf("check models[%s].source.table or run `kingmaker schema apply`", s.Model.Name),
		fmt.Sprintf("check the columns of model %s in the config", s.Model.Name))
}

// explainRead says what to fix when Cassandra rejects a read of a table
// (what names it): noTable when the table does not exist, badColumn when
// a column does not; other errors are wrapped with read.
func explainRead(err error, what, read, noTable, badColumn string) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unconfigured table") || strings.Contains(msg, "table") && strings.Contains(msg, "does not exist"):
		return fmt.Errorf("%s does not exist: %s", what, noTable)
	case strings.Contains(msg, "Undefined column") || strings.Contains(msg, "Undefined name"):
		return fmt.Errorf("%s: %v: %s", what, err, badColumn)
	}
	return fmt.Errorf("%s: %w", read, err)
}

// forEachDay runs fn for every day with at most parallelism at once and
// returns the first error, cancelling the rest.
func forEachDay(ctx context.Context, days []time.Time, parallelism int, fn func(ctx context.Context, i int, day time.Time) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, max(1, parallelism))
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for i, day := range days {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, i, day); err != nil {
				once.Do(func() { firstErr = err; cancel() })
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// classIndex maps a label rendered as text to its class index, -1 when
// it is not one of the classes.
func classIndex(classes []string, text []byte) int {
	for i, c := range classes {
		if c == string(text) {
			return i
		}
	}
	return -1
}

// labelString renders a cell value as the string the config uses for
// classes and categories ("" for null).
func labelString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case gocql.UUID:
		return x.String()
	}
	return fmt.Sprint(v)
}
