package dataset_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
)

// A source table in a keyspace of its own, whose names need quoting: a
// mixed-case table and day column, and columns named by CQL keywords.
func TestASourceInAnotherKeyspaceWithNamesThatNeedQuotingIsRead(t *testing.T) {
	s, c := testenv.Cassandra(t)
	ctx := context.Background()
	other := c.Keyspace + "_src"
	for _, stmt := range []string{
		fmt.Sprintf(`CREATE KEYSPACE %s WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`, other),
		fmt.Sprintf(`CREATE TABLE %s."Readings" ("group" text, "Day" date, ts timestamp, id uuid, "order" double, "select" int, "Label" boolean,
			PRIMARY KEY (("group", "Day"), ts, id))`, other),
	} {
		if err := s.Query(stmt).Exec(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if !t.Failed() {
			s.Query("DROP KEYSPACE IF EXISTS " + other).Exec()
		}
	})
	start := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	const perDay = 40
	for d := range 2 {
		day := start.AddDate(0, 0, d)
		for i := range perDay {
			if err := s.Query(fmt.Sprintf(`INSERT INTO %s."Readings" ("group", "Day", ts, id, "order", "select", "Label") VALUES ('g', ?, ?, ?, ?, ?, ?)`, other),
				day, day.Add(time.Duration(i)*time.Minute), gocql.TimeUUID(), float64(i)/2, i%5, i%2 == 0).Exec(); err != nil {
				t.Fatal(err)
			}
		}
	}
	cfg := testenv.ExampleConfig(t)
	cfg.Cassandra = c
	m := &cfg.Models[0]
	m.Source = config.Source{Keyspace: other, Table: "Readings", PartitionColumn: "group", PartitionValue: "g", DayColumn: "Day", TimeColumn: "ts", KeyColumn: "id"}
	m.Features = []config.Feature{{Name: "order", Column: "order", Type: "numeric"}, {Name: "select", Column: "select", Type: "numeric"}}
	m.Label = config.Label{Column: "Label", Classes: []string{"false", "true"}}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("a source in another keyspace is a valid config: %v", err)
	}
	src := &dataset.Source{Session: s, Keyspace: cfg.SourceKeyspace(m), Model: m}
	if src.Keyspace != other {
		t.Fatalf("source keyspace %q, want %q", src.Keyspace, other)
	}
	if err := src.Check(ctx); err != nil {
		t.Fatal(err)
	}
	w := dataset.Window{From: start, To: start.AddDate(0, 0, 2)}
	counts, err := src.CountDays(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 2 || counts[0].Rows != perDay || counts[1].ByClass[1] != perDay/2 {
		t.Fatalf("day counts %+v, want %d rows a day, half of them true", counts, perDay)
	}
	var (
		mu  sync.Mutex // days are scanned concurrently
		sum float64
	)
	st, err := src.Scan(ctx, w, dataset.ScanOptions{}, func(_ int, b *dataset.Batch) error {
		mu.Lock()
		defer mu.Unlock()
		for _, x := range b.X {
			sum += x[0]
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 2*perDay || sum != 2*(perDay-1)*perDay/4 {
		t.Fatalf("scanned %d rows with feature \"order\" summing to %g, want %d rows summing to %d", st.Rows, sum, 2*perDay, 2*(perDay-1)*perDay/4)
	}
}
