package dataset_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"gopkg.in/inf.v0"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// TestARegressionLabelOfEveryCQLNumberTypeIsReadAsANumber writes one table
// per number type, its label column of that type, and reads it as a
// regression model's targets.
func TestARegressionLabelOfEveryCQLNumberTypeIsReadAsANumber(t *testing.T) {
	s, c := testenv.Cassandra(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	day := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	// Labels 0..9 (the row number), written as each type takes them.
	cases := []struct {
		typ   string
		value func(i int) any
	}{
		{"int", func(i int) any { return int32(i) }},
		{"bigint", func(i int) any { return int64(i) }},
		{"smallint", func(i int) any { return int16(i) }},
		{"tinyint", func(i int) any { return int8(i) }},
		{"varint", func(i int) any { return big.NewInt(int64(i)) }},
		{"float", func(i int) any { return float32(i) }},
		{"double", func(i int) any { return float64(i) }},
		{"decimal", func(i int) any { return inf.NewDec(int64(i*100), 2) }},
		{"counter", nil},
	}
	for _, tc := range cases {
		t.Run(tc.typ, func(t *testing.T) {
			table := "label_" + tc.typ
			if tc.typ == "counter" {
				// A counter table holds counters only besides its key.
				if err := s.Query(fmt.Sprintf(`CREATE TABLE %s.%s (day date, ts timestamp, id text, x counter, y counter, PRIMARY KEY ((day), ts, id))`, c.Keyspace, table)).WithContext(ctx).Exec(); err != nil {
					t.Fatal(err)
				}
				for i := range 10 {
					if err := s.Query(fmt.Sprintf(`UPDATE %s.%s SET x = x + ?, y = y + ? WHERE day = ? AND ts = ? AND id = ?`, c.Keyspace, table),
						int64(i%3), int64(i), day, day.Add(time.Duration(i)*time.Minute), fmt.Sprint(i)).WithContext(ctx).Exec(); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				if err := s.Query(fmt.Sprintf(`CREATE TABLE %s.%s (day date, ts timestamp, id text, x double, y %s, PRIMARY KEY ((day), ts, id))`, c.Keyspace, table, tc.typ)).WithContext(ctx).Exec(); err != nil {
					t.Fatal(err)
				}
				for i := range 10 {
					if err := s.Query(fmt.Sprintf(`INSERT INTO %s.%s (day, ts, id, x, y) VALUES (?, ?, ?, ?, ?)`, c.Keyspace, table),
						day, day.Add(time.Duration(i)*time.Minute), fmt.Sprint(i), float64(i%3), tc.value(i)).WithContext(ctx).Exec(); err != nil {
						t.Fatal(err)
					}
				}
			}
			m := regressionModel(table)
			src := &dataset.Source{Session: s, Keyspace: c.Keyspace, Model: m}
			if err := src.Check(ctx); err != nil {
				t.Fatalf("a %s label is refused: %v", tc.typ, err)
			}
			data, st, err := src.LoadTrain(ctx, dataset.Window{From: day, To: day.AddDate(0, 0, 1)}, 1, 1)
			if err != nil {
				t.Fatal(err)
			}
			if data.Schema.Task != trainer.Regression || data.Y != nil || len(data.Target) != len(data.X) || st.Train+st.Holdout != 10 {
				t.Fatalf("task %q, %d class ids, %d targets for %d rows, %d+%d rows seen; want regression targets for all",
					data.Schema.Task, len(data.Y), len(data.Target), len(data.X), st.Train, st.Holdout)
			}
			for i, y := range data.Target {
				// The training rows are in time order, x = row % 3.
				if y != math.Trunc(y) || y < 0 || y > 9 || data.X[i][0] != float64(int(y)%3) {
					t.Errorf("row %d: target %v with x %v, want the row number 0..9 and x = it mod 3", i, y, data.X[i][0])
				}
			}
		})
	}

	t.Run("a text label is refused for regression, naming the column", func(t *testing.T) {
		if err := s.Query(fmt.Sprintf(`CREATE TABLE %s.label_text (day date, ts timestamp, id text, x double, y text, PRIMARY KEY ((day), ts, id))`, c.Keyspace)).WithContext(ctx).Exec(); err != nil {
			t.Fatal(err)
		}
		err := (&dataset.Source{Session: s, Keyspace: c.Keyspace, Model: regressionModel("label_text")}).Check(ctx)
		if !errors.Is(err, dataset.ErrInvalidData) || !strings.Contains(err.Error(), `label.column: column "y" is text, not a number type`) {
			t.Fatalf("want the label column named, got %v", err)
		}
	})

	t.Run("a missing label fails the scan naming it, or is skipped, or is -1 where labels are optional", func(t *testing.T) {
		if err := s.Query(fmt.Sprintf(`CREATE TABLE %s.label_gaps (day date, ts timestamp, id text, x double, y double, PRIMARY KEY ((day), ts, id))`, c.Keyspace)).WithContext(ctx).Exec(); err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			var y *float64
			if i != 2 {
				v := float64(i)
				y = &v
			}
			if err := s.Query(fmt.Sprintf(`INSERT INTO %s.label_gaps (day, ts, id, x, y) VALUES (?, ?, ?, ?, ?)`, c.Keyspace),
				day, day.Add(time.Duration(i)*time.Minute), fmt.Sprint(i), 1.0, y).WithContext(ctx).Exec(); err != nil {
				t.Fatal(err)
			}
		}
		w := dataset.Window{From: day, To: day.AddDate(0, 0, 1)}
		m := regressionModel("label_gaps")
		src := &dataset.Source{Session: s, Keyspace: c.Keyspace, Model: m}
		if _, _, err := src.LoadTrain(ctx, w, 1, 1); !errors.Is(err, dataset.ErrInvalidData) || !strings.Contains(err.Error(), "label y is missing") {
			t.Fatalf("want the missing label named, got %v", err)
		}
		m.Window.InvalidRows = "skip"
		data, st, err := src.LoadTrain(ctx, w, 1, 1)
		if err != nil || st.Skipped != 1 || len(data.Target) != 3 {
			t.Fatalf("skip: %d targets, %d skipped, %v; want 3 and 1", len(data.Target), st.Skipped, err)
		}
		m.Window.InvalidRows = "fail"
		var ys []int
		var targets []float64
		if _, err := src.Scan(ctx, w, dataset.ScanOptions{OptionalLabels: true}, func(_ int, b *dataset.Batch) error {
			ys, targets = append(ys, b.Y...), append(targets, b.Target...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(ys) != "[0 0 -1 0]" || targets[1] != 1 || !math.IsNaN(targets[2]) {
			t.Errorf("optional labels: Y %v, targets %v; want the unlabelled row -1 and NaN", ys, targets)
		}
	})
}

func regressionModel(table string) *config.Model {
	cfg := &config.Config{Models: []config.Model{{Name: "r", Task: config.TaskRegression,
		Source:     config.Source{Table: table},
		Features:   []config.Feature{{Name: "x", Type: "numeric"}},
		Label:      config.Label{Column: "y"},
		Candidates: []config.Candidate{{Algorithm: "linear"}},
		Window:     config.Window{HoldoutFraction: 0.000001},
	}}}
	cfg.SetDefaults()
	return &cfg.Models[0]
}
