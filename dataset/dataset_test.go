package dataset_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
)

func TestHoldoutIsStableAndNearItsFraction(t *testing.T) {
	n, hold := 20000, 0
	for i := range n {
		key := gocql.UUID{byte(i), byte(i >> 8), byte(i >> 16), 7}.String()
		if dataset.Holdout(key, 0.25) != dataset.Holdout(key, 0.25) {
			t.Fatal("the split must be the same every time")
		}
		if dataset.Holdout(key, 0.25) {
			hold++
		}
	}
	if f := float64(hold) / float64(n); math.Abs(f-0.25) > 0.015 {
		t.Fatalf("holdout fraction %.3f, want about 0.25", f)
	}
}

func TestSampleRate(t *testing.T) {
	if dataset.SampleRate(100, 1000) != 1 || dataset.SampleRate(4000, 1000) != 0.25 {
		t.Fatal("wrong sample rate")
	}
}

func TestWindowAgainstCassandra(t *testing.T) {
	s, c := testenv.Cassandra(t)
	ctx := context.Background()
	spec := demo.Spec{Dataset: "churn", Start: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), Days: 4, RowsPerDay: 500, Seed: 3}
	if err := demo.Write(ctx, s, c.Keyspace, spec, 4, nil); err != nil {
		t.Fatal(err)
	}
	m := testenv.ExampleModel(t, "churn")
	src := &dataset.Source{Session: s, Keyspace: c.Keyspace, Model: m}
	w := dataset.Window{From: spec.Start, To: spec.DayDate(4)}

	t.Run("the model's columns match the demo table", func(t *testing.T) {
		if err := src.Check(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a feature missing from the table is named before any read", func(t *testing.T) {
		bad := *m
		bad.Features = append([]config.Feature{{Name: "age", Column: "age", Type: "numeric"}}, m.Features[1:]...)
		bad.Features = append(bad.Features, config.Feature{Name: "plan_num", Column: "plan", Type: "numeric"})
		err := (&dataset.Source{Session: s, Keyspace: c.Keyspace, Model: &bad}).Check(ctx)
		if !errors.Is(err, dataset.ErrInvalidData) || !strings.Contains(err.Error(), `features[0] (age): no column "age"`) ||
			!strings.Contains(err.Error(), `column "plan" is text, not a number type`) {
			t.Fatalf("want both problems named, got %v", err)
		}
	})

	t.Run("counts and scans agree and the split is repeatable", func(t *testing.T) {
		counts, err := src.CountDays(ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		total, byClass, err := src.RequireTrainable(w, counts)
		if err != nil || total != 2000 || byClass[0]+byClass[1] != 2000 {
			t.Fatalf("counts: %d %v %v", total, byClass, err)
		}
		st, err := src.Scan(ctx, w, dataset.ScanOptions{PageSize: 128}, func(day int, b *dataset.Batch) error {
			if b.Len() > 128 {
				t.Errorf("a batch of %d rows exceeds the page size", b.Len())
			}
			return nil
		})
		if err != nil || st.Rows != 2000 || st.Train+st.Holdout != 2000 {
			t.Fatalf("scan: %+v %v", st, err)
		}
		if f := float64(st.Holdout) / 2000; f < 0.2 || f > 0.3 {
			t.Errorf("holdout share %.3f, want about 0.25", f)
		}
		d1, st1, err := src.LoadTrain(ctx, w, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		d2, _, _ := src.LoadTrain(ctx, w, 1, 1)
		if int64(len(d1.X)) != st1.Train || len(d1.X) != len(d2.X) || d1.X[17][1] != d2.X[17][1] || d1.Y[300] != d2.Y[300] {
			t.Fatal("the same window must give the same training grid")
		}
		half, _, _ := src.LoadTrain(ctx, w, 0.5, 1)
		if r := float64(len(half.X)) / float64(len(d1.X)); r < 0.4 || r > 0.6 {
			t.Errorf("a 0.5 sample kept %.2f of the rows", r)
		}
	})

	t.Run("every row is what the driver reads, converted", func(t *testing.T) {
		// The reference reads each row with gocql's own decoding (MapScan)
		// and converts it by the config's rules, independently of Scan.
		type row struct {
			x       []float64
			y       int
			ts      time.Time
			holdout bool
		}
		// An empty (not null) int reads as 0, as the driver reads it.
		day := spec.DayDate(3)
		id := gocql.TimeUUID()
		if err := s.Query(`INSERT INTO events (dataset, day, ts, id, tenure_months, monthly_charges, support_calls, logins_30d,
			avg_session_minutes, payment_delays, plan, region, device, churned) VALUES ('churn', ?, ?, ?, 3, 20.5, blobAsInt(0x), 4, 5, 0, 'basic', 'north', 'ios', false)`,
			day, day.Add(time.Hour), id).Exec(); err != nil {
			t.Fatal(err)
		}
		defer s.Query(`DELETE FROM events WHERE dataset = 'churn' AND day = ? AND ts = ? AND id = ?`, day, day.Add(time.Hour), id).Exec()
		want := map[string]row{}
		for _, day := range dataset.Days(w.From, w.To) {
			iter := s.Query(`SELECT * FROM events WHERE dataset = 'churn' AND day = ?`, day).Iter()
			for {
				r := map[string]any{}
				if !iter.MapScan(r) {
					break
				}
				key := r["id"].(gocql.UUID).String()
				var x []float64
				for _, f := range m.Features {
					switch v := r[f.Column].(type) {
					case float64:
						x = append(x, v)
					case int:
						x = append(x, float64(v))
					case string:
						x = append(x, float64(slices.Index(f.Categories, v)))
					default:
						t.Fatalf("column %s: unexpected %T", f.Column, v)
					}
				}
				want[key] = row{x: x, y: slices.Index(m.Label.Classes, fmt.Sprint(r[m.Label.Column])), ts: r["ts"].(time.Time),
					holdout: dataset.Holdout(key, m.Window.HoldoutFraction)}
			}
			if err := iter.Close(); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		seen := 0
		_, err := src.Scan(ctx, w, dataset.ScanOptions{PageSize: 300}, func(_ int, b *dataset.Batch) error {
			mu.Lock()
			defer mu.Unlock()
			for i := range b.Len() {
				seen++
				r, ok := want[b.Keys[i]]
				switch {
				case !ok:
					t.Fatalf("row %s: not in the table", b.Keys[i])
				case !slices.Equal(b.X[i], r.x) || b.Y[i] != r.y || !b.Times[i].Equal(r.ts) || b.Holdout[i] != r.holdout:
					t.Fatalf("row %s: scan gave x=%v y=%d ts=%v holdout=%v, the driver x=%v y=%d ts=%v holdout=%v",
						b.Keys[i], b.X[i], b.Y[i], b.Times[i], b.Holdout[i], r.x, r.y, r.ts, r.holdout)
				}
			}
			return nil
		})
		if err != nil || seen != len(want) || seen != 2001 {
			t.Fatalf("scan delivered %d rows of %d: %v", seen, len(want), err)
		}
	})

	t.Run("a null feature fails with the row named", func(t *testing.T) {
		day := spec.DayDate(2)
		id := gocql.TimeUUID()
		if err := s.Query(`INSERT INTO events (dataset, day, ts, id, monthly_charges, support_calls, logins_30d,
			avg_session_minutes, payment_delays, plan, region, device, churned) VALUES ('churn', ?, ?, ?, 1, 1, 1, 1, 1, 'basic', 'north', 'ios', true)`,
			day, day.Add(time.Hour), id).Exec(); err != nil {
			t.Fatal(err)
		}
		defer s.Query(`DELETE FROM events WHERE dataset = 'churn' AND day = ? AND ts = ? AND id = ?`, day, day.Add(time.Hour), id).Exec()
		_, err := src.Scan(ctx, w, dataset.ScanOptions{}, func(int, *dataset.Batch) error { return nil })
		if !errors.Is(err, dataset.ErrInvalidData) || !strings.Contains(err.Error(), "id="+id.String()) ||
			!strings.Contains(err.Error(), "feature tenure_months is missing") {
			t.Fatalf("want the row with a null feature named, got %v", err)
		}
	})

	t.Run("a NaN feature fails with the row named, or is skipped when configured", func(t *testing.T) {
		day := spec.DayDate(1)
		id := gocql.TimeUUID()
		if err := s.Query(`INSERT INTO events (dataset, day, ts, id, tenure_months, monthly_charges, support_calls, logins_30d,
			avg_session_minutes, payment_delays, plan, region, device, churned) VALUES ('churn', ?, ?, ?, 1, NaN, 1, 1, 1, 1, 'basic', 'north', 'ios', true)`,
			day, day.Add(time.Hour), id).Exec(); err != nil {
			t.Fatal(err)
		}
		defer s.Query(`DELETE FROM events WHERE dataset = 'churn' AND day = ? AND ts = ? AND id = ?`, day, day.Add(time.Hour), id).Exec()
		_, err := src.Scan(ctx, w, dataset.ScanOptions{}, func(int, *dataset.Batch) error { return nil })
		if !errors.Is(err, dataset.ErrInvalidData) || !strings.Contains(err.Error(), "id="+id.String()) ||
			!strings.Contains(err.Error(), "feature monthly_charges is NaN") || !strings.Contains(err.Error(), "invalid_rows: skip") {
			t.Fatalf("want the NaN row named with the fix, got %v", err)
		}
		skip := *m
		skip.Window.InvalidRows = "skip"
		st, err := (&dataset.Source{Session: s, Keyspace: c.Keyspace, Model: &skip}).Scan(ctx, w, dataset.ScanOptions{}, func(int, *dataset.Batch) error { return nil })
		if err != nil || st.Skipped != 1 || st.Rows != 2001 {
			t.Fatalf("skip: want 1 skipped of 2001, got %+v, %v", st, err)
		}
	})

	t.Run("an empty window and a one-class window are refused", func(t *testing.T) {
		empty := dataset.Window{From: spec.DayDate(10), To: spec.DayDate(12)}
		counts, _ := src.CountDays(ctx, empty)
		if _, _, err := src.RequireTrainable(empty, counts); !errors.Is(err, dataset.ErrInvalidData) || !strings.Contains(err.Error(), "holds 0 rows") {
			t.Fatalf("want an empty-window error, got %v", err)
		}
		one := *m
		one.Window.MinRows = 1
		one.Label.Classes = []string{"false", "maybe"}
		oneSrc := &dataset.Source{Session: s, Keyspace: c.Keyspace, Model: &one}
		counts, _ = oneSrc.CountDays(ctx, w)
		if _, _, err := oneSrc.RequireTrainable(w, counts); err == nil || !strings.Contains(err.Error(), `0 rows of class "maybe"`) {
			t.Fatalf("want a one-class error, got %v", err)
		}
	})
}
