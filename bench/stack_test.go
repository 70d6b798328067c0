package bench

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/schema"
)

// benchCassandra returns a session on the benchmark keyspace
// (-kmbench.keyspace), creating it with the whole schema when missing. The
// keyspace is kept between runs, so seeded rows are written once.
func benchCassandra(tb testing.TB) (*gocql.Session, config.Cassandra) {
	tb.Helper()
	return benchCassandraIn(tb, *flagKeyspace)
}

// benchCassandraIn is benchCassandra on the given keyspace.
func benchCassandraIn(tb testing.TB, keyspace string) (*gocql.Session, config.Cassandra) {
	tb.Helper()
	testenv.Integration(tb)
	c := testenv.CassandraConfig(tb)
	c.Keyspace = keyspace
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := cql.Connect(c, false)
	if err != nil {
		tb.Fatalf("%v\n(start the stack with `make stack-up`)", err)
	}
	defer admin.Close()
	if _, err := schema.Apply(ctx, admin, c); err != nil {
		tb.Fatalf("schema apply on %s: %v", c.Keyspace, err)
	}
	s, err := cql.Connect(c, true)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s, c
}

// exampleConfig parses -kmbench.config (kingmaker.example.yaml).
func exampleConfig(tb testing.TB) *config.Config {
	tb.Helper()
	b, err := os.ReadFile(*flagConfig)
	if err != nil {
		tb.Fatalf("read the example config: %v (run from bench/, or pass -kmbench.config)", err)
	}
	cfg, err := config.Parse(b)
	if err != nil {
		tb.Fatalf("parse %s: %v", *flagConfig, err)
	}
	return cfg
}

// benchModel is the example config's model reading the partitions of spec:
// the demo model with a window of Days days.
func benchModel(tb testing.TB, spec demo.Spec) config.Model {
	tb.Helper()
	cfg := exampleConfig(tb)
	if len(cfg.Models) == 0 {
		tb.Fatalf("%s declares no model", *flagConfig)
	}
	m := cfg.Models[0]
	m.Source.PartitionValue = spec.Dataset
	m.Window.Length = config.Duration(time.Duration(spec.Days) * 24 * time.Hour)
	return m
}

// window is the window covering every day of spec.
func window(spec demo.Spec) dataset.Window {
	return dataset.Window{From: spec.DayDate(0), To: spec.DayDate(spec.Days)}
}

// seeded makes sure the rows of spec are in the keyspace: it counts the
// window's rows and writes them all (demo.Write overwrites the same rows)
// when the count differs. It returns the seconds spent writing, 0 when the
// rows were already there.
func seeded(tb testing.TB, s *gocql.Session, keyspace string, spec demo.Spec) float64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	m := benchModel(tb, spec)
	src := &dataset.Source{Session: s, Keyspace: keyspace, Model: &m}
	want := int64(spec.Days * spec.RowsPerDay)
	if have := countRows(ctx, tb, src, spec); have == want {
		return 0
	}
	began := time.Now()
	tb.Logf("seeding %d rows of %s into %s (once; later runs reuse them)", want, spec.Dataset, keyspace)
	if err := demo.Write(ctx, s, keyspace, spec, 4, nil); err != nil {
		tb.Fatalf("seed %s: %v", spec.Dataset, err)
	}
	if have := countRows(ctx, tb, src, spec); have != want {
		tb.Fatalf("after seeding %s holds %d rows, want %d", spec.Dataset, have, want)
	}
	return time.Since(began).Seconds()
}

func countRows(ctx context.Context, tb testing.TB, src *dataset.Source, spec demo.Spec) int64 {
	tb.Helper()
	counts, err := src.CountDays(ctx, window(spec))
	if err != nil {
		tb.Fatalf("count the rows of %s: %v", spec.Dataset, err)
	}
	var n int64
	for _, c := range counts {
		n += c.Rows
	}
	return n
}

// uniqueName is a name no earlier run used: a prefix, the time and the pid.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s_%s_%d", prefix, time.Now().UTC().Format("20060102t150405"), os.Getpid())
}
