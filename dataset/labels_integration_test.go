package dataset_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
)

// A label table is checked against the config before any read, and a
// label in it that is not a class fails the read naming the row and the
// table, or is skipped and counted under window.invalid_rows: skip.
func TestALabelTableIsCheckedAndItsBadLabelsNamed(t *testing.T) {
	s, c := testenv.Cassandra(t)
	ctx := context.Background()
	start := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	if err := demo.Write(ctx, s, c.Keyspace, demo.Spec{Dataset: "churn", Start: start, Days: 1, RowsPerDay: 60, Seed: 5}, 2, nil); err != nil {
		t.Fatal(err)
	}
	cfg := testenv.ExampleConfig(t)
	cfg.Cassandra = c
	m := &cfg.Models[0]
	m.Label.Source = config.LabelFromTable
	m.Label.Table = config.LabelTable{Name: "churn_labels", KeyColumn: "id", LabelColumn: "churned", KnownAtColumn: "known_at"}
	src := &dataset.Source{Session: s, Keyspace: c.Keyspace, LabelKeyspace: cfg.LabelKeyspace(m), Model: m}
	w := dataset.Window{From: start, To: start.AddDate(0, 0, 1)}

	err := src.Check(ctx)
	if want := fmt.Sprintf("label.table.name: label table %s.churn_labels does not exist", c.Keyspace); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("a missing label table: %v, want an error saying %q", err, want)
	}
	exec := func(stmt string, args ...any) {
		t.Helper()
		if err := s.Query(fmt.Sprintf(stmt, c.Keyspace), args...).Exec(); err != nil {
			t.Fatal(err)
		}
	}
	exec(`CREATE TABLE %s.churn_labels (id uuid, known_at text, churned text, PRIMARY KEY ((id), known_at))`)
	err = src.Check(ctx)
	if want := fmt.Sprintf(`label.table.known_at_column: column "known_at" of %s.churn_labels is text, not a timestamp`, c.Keyspace); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("a known_at that is not a timestamp: %v, want an error saying %q", err, want)
	}
	exec(`DROP TABLE %s.churn_labels`)
	exec(`CREATE TABLE %s.churn_labels (id uuid, known_at timestamp, churned text, PRIMARY KEY ((id), known_at))`)
	if err := src.Check(ctx); err != nil {
		t.Fatalf("a label table that fits: %v", err)
	}

	// Every row gets its label, as text; one gets "maybe".
	iter := s.Query(fmt.Sprintf(`SELECT ts, id, churned FROM %s.events WHERE dataset = 'churn' AND day = ?`, c.Keyspace), start).Iter()
	var (
		ts    time.Time
		id    gocql.UUID
		label bool
		bad   gocql.UUID
		rows  int
	)
	for iter.Scan(&ts, &id, &label) {
		value := fmt.Sprint(label)
		if rows == 7 {
			value, bad = "maybe", id
		}
		exec(`INSERT INTO %s.churn_labels (id, known_at, churned) VALUES (?, ?, ?)`, id, ts, value)
		rows++
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = src.Scan(ctx, w, dataset.ScanOptions{}, func(int, *dataset.Batch) error { return nil })
	want := fmt.Sprintf(`row id=%s: label churned = "maybe" in %s.churn_labels is not one of the classes [false true] (fix the label, or set models[churn].window.invalid_rows: skip)`, bad, c.Keyspace)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("a label that is not a class: %v, want an error saying %q", err, want)
	}
	m.Window.InvalidRows = "skip"
	st, err := src.Scan(ctx, w, dataset.ScanOptions{}, func(int, *dataset.Batch) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != int64(rows) || st.Skipped != 1 || st.Unlabelled != 0 || st.Train+st.Holdout != int64(rows-1) {
		t.Errorf("stats %+v, want %d rows, 1 skipped, the others labelled", st, rows)
	}
}
