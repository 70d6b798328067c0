package schema_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/schema"
)

func TestMigrationsAreNumberedInOrder(t *testing.T) {
	for i, m := range schema.Migrations() {
		if m.Version != i+1 {
			t.Fatalf("migration %d has version %d: versions must be 1, 2, 3, ...", i, m.Version)
		}
		for j, s := range m.Statements {
			if !strings.Contains(s, "IF NOT EXISTS") {
				t.Errorf("migration %d statement %d is not idempotent (no IF NOT EXISTS)", m.Version, j+1)
			}
		}
	}
}

// tables describes the keyspace as Cassandra sees it: every column of every
// table with its type and kind.
func tables(t *testing.T, s *gocql.Session, ks string) string {
	t.Helper()
	iter := s.Query(`SELECT table_name, column_name, type, kind FROM system_schema.columns WHERE keyspace_name = ?`, ks).Iter()
	var b strings.Builder
	var table, column, typ, kind string
	for iter.Scan(&table, &column, &typ, &kind) {
		fmt.Fprintf(&b, "%s.%s %s %s\n", table, column, typ, kind)
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestApplyingTwiceChangesNothing(t *testing.T) {
	testenv.Integration(t)
	c := testenv.CassandraConfig(t)
	s, err := cql.Connect(c, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer s.Query("DROP KEYSPACE IF EXISTS " + c.Keyspace).Exec()
	ctx := context.Background()

	first, err := schema.Apply(ctx, s, c)
	if err != nil {
		t.Fatal(err)
	}
	if first.Before != 0 || first.After != schema.Latest() || len(first.Applied) != schema.Latest() {
		t.Fatalf("a fresh keyspace should get every migration: %+v", first)
	}
	before := tables(t, s, c.Keyspace)
	for _, want := range []string{"events.churned boolean regular", "champions.generation bigint regular", "model_artifacts.chunk int clustering", "predictions.model text partition_key"} {
		if !strings.Contains(before, want) {
			t.Errorf("schema lacks %q", want)
		}
	}
	second, err := schema.Apply(ctx, s, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Applied) != 0 || second.Before != schema.Latest() {
		t.Fatalf("a second apply should apply nothing: %+v", second)
	}
	if after := tables(t, s, c.Keyspace); after != before {
		t.Fatalf("a second apply changed the schema:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if err := schema.Check(ctx, s, c.Keyspace); err != nil {
		t.Fatalf("an up-to-date keyspace should pass Check: %v", err)
	}

	// A newer Kingmaker migrated this keyspace: this binary must refuse it.
	if err := s.Query(fmt.Sprintf(`INSERT INTO %s.schema_migrations (scope, version, name, checksum) VALUES ('kingmaker', ?, 'from the future', 'x')`, c.Keyspace), schema.Latest()+1).Exec(); err != nil {
		t.Fatal(err)
	}
	_, err = schema.Apply(ctx, s, c)
	if !errors.Is(err, schema.ErrNewerSchema) || !strings.Contains(err.Error(), "upgrade kingmaker") {
		t.Fatalf("want ErrNewerSchema telling to upgrade, got %v", err)
	}
	if err := schema.Check(ctx, s, c.Keyspace); !errors.Is(err, schema.ErrNewerSchema) {
		t.Fatalf("Check should refuse a newer schema, got %v", err)
	}
}

func TestCheckPointsAtSchemaApply(t *testing.T) {
	testenv.Integration(t)
	c := testenv.CassandraConfig(t)
	s, err := cql.Connect(c, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = schema.Check(context.Background(), s, c.Keyspace)
	if err == nil || !strings.Contains(err.Error(), "kingmaker schema apply") {
		t.Fatalf("a missing keyspace should point at `kingmaker schema apply`, got %v", err)
	}
}
