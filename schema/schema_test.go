package schema_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
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

// unappliedKeyspace names a keyspace for the test that does not exist yet,
// with a session bound to none; the keyspace is dropped when the test ends.
func unappliedKeyspace(t *testing.T) (*gocql.Session, config.Cassandra) {
	t.Helper()
	testenv.Integration(t)
	c := testenv.CassandraConfig(t)
	s, err := cql.Connect(c, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Query("DROP KEYSPACE IF EXISTS " + c.Keyspace).Exec()
		s.Close()
	})
	return s, c
}

func TestApplyingTwiceChangesNothing(t *testing.T) {
	s, c := unappliedKeyspace(t)
	ctx := context.Background()

	first, err := schema.Apply(ctx, s, c)
	if err != nil {
		t.Fatal(err)
	}
	if first.Before != 0 || first.After != schema.Latest() || len(first.Applied) != schema.Latest() {
		t.Fatalf("a fresh keyspace should get every migration: %+v", first)
	}
	before := tables(t, s, c.Keyspace)
	for _, want := range []string{"events.churned boolean regular", "champions.generation bigint regular", "champion_ledger.champion_generation bigint static", "champion_ledger.generation bigint clustering", "champion_ledger.request_id text regular", "model_artifacts.chunk int clustering", "predictions.model text partition_key"} {
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
	s, c := unappliedKeyspace(t)
	err := schema.Check(context.Background(), s, c.Keyspace)
	if err == nil || !strings.Contains(err.Error(), "kingmaker schema apply") {
		t.Fatalf("a missing keyspace should point at `kingmaker schema apply`, got %v", err)
	}
}

// TestMigration5CarriesPointersAndLedgersOver writes champions and
// promotions as Kingmaker did before migration 5, including the damage of a
// promotion killed between its two writes, and applies the migration (twice).
func TestMigration5CarriesPointersAndLedgersOver(t *testing.T) {
	s, c := unappliedKeyspace(t)
	ctx := context.Background()
	if _, err := schema.Apply(ctx, s, c); err != nil {
		t.Fatal(err)
	}
	ks := c.Keyspace
	exec := func(stmt string, args ...any) {
		t.Helper()
		if err := s.Query(fmt.Sprintf(stmt, ks), args...).Exec(); err != nil {
			t.Fatal(err)
		}
	}
	// Back to before migration 5: the old tables hold the data.
	forget5 := func() {
		t.Helper()
		exec(`DELETE FROM %s.schema_migrations WHERE scope = 'kingmaker' AND version = 5`)
	}
	forget5()
	reg := registry.New(s, ks, gocql.Serial)
	// The registry's session is bound to no keyspace; it names the keyspace itself.
	versions := map[string][]gocql.UUID{}
	legacy := func(model string, pointerGen int, ledgerGens ...int) {
		t.Helper()
		vs := make([]gocql.UUID, pointerGen)
		for i := range vs {
			v := &registry.Version{Model: model, ID: registry.VersionID(time.Now(), fmt.Sprint(model, i)), Candidate: fmt.Sprint("v", i+1), Algorithm: "logistic"}
			if err := reg.SaveVersion(ctx, v, []byte(fmt.Sprint(model, i))); err != nil {
				t.Fatal(err)
			}
			vs[i] = v.ID
		}
		versions[model] = vs
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		exec(`INSERT INTO %s.champions (model, version, generation, promoted_at, promoted_by, reason, run_id) VALUES (?, ?, ?, ?, 'alice', 'better', 'run-a')`,
			model, vs[pointerGen-1], pointerGen, at)
		for _, g := range ledgerGens {
			var prev any
			if g > 1 {
				prev = vs[g-2]
			}
			exec(`INSERT INTO %s.promotions (model, generation, version, previous_version, action, promoted_at, promoted_by, reason, run_id) VALUES (?, ?, ?, ?, 'promote', ?, 'run', 'better', ?)`,
				model, g, vs[g-1], prev, at.Add(time.Duration(g)*time.Hour), fmt.Sprint("run-", g))
		}
	}
	legacy("clean", 2, 1, 2)
	legacy("interrupted", 3, 1, 2) // killed before writing the row of generation 3
	legacy("gap", 3, 1, 3)         // the row of 2 was lost, then 3 was promoted
	legacy("first-lost", 1)        // the first promotion lost its row

	dump := func() string {
		t.Helper()
		iter := s.Query(fmt.Sprintf(`SELECT model, champion_version, champion_generation, generation, version, previous_version, action, promoted_by, reason FROM %s.champion_ledger`, ks)).Iter()
		var b strings.Builder
		for {
			var model, action, by, reason string
			var cv, v, pv gocql.UUID
			var cg, g int64
			if !iter.Scan(&model, &cv, &cg, &g, &v, &pv, &action, &by, &reason) {
				break
			}
			fmt.Fprintf(&b, "%s %s/%d %d %s<-%s %s %s %q\n", model, cv, cg, g, v, pv, action, by, reason)
		}
		if err := iter.Close(); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	res, err := schema.Apply(ctx, s, c)
	if err != nil || len(res.Applied) != 1 || res.Applied[0] != 5 {
		t.Fatalf("applying to a keyspace at version 4 should apply migration 5: %+v, %v", res, err)
	}
	first := dump()
	forget5()
	if _, err := schema.Apply(ctx, s, c); err != nil {
		t.Fatal(err)
	}
	if again := dump(); again != first {
		t.Fatalf("applying migration 5 again changed champion_ledger:\nbefore:\n%s\nafter:\n%s", first, again)
	}

	cases := []struct {
		model    string
		by       string // of the champion: "alice" when its row was rebuilt from the pointer
		rows     int
		rollback int // 1-based version a rollback restores; 0: none
	}{
		{"clean", "run", 2, 1},
		{"interrupted", "alice", 3, 2},
		{"gap", "run", 3, 2},
		{"first-lost", "alice", 1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.model, func(t *testing.T) {
			vs := versions[tc.model]
			champ, err := reg.Champion(ctx, tc.model)
			if err != nil || champ == nil || champ.Version != vs[len(vs)-1] || champ.Generation != int64(len(vs)) || champ.PromotedBy != tc.by {
				t.Fatalf("champion %+v, %v; want version %d at generation %d, promoted by %s", champ, err, len(vs), len(vs), tc.by)
			}
			ledger, err := reg.History(ctx, tc.model, 100)
			if err != nil || len(ledger) != tc.rows {
				t.Fatalf("ledger of %d rows (%v), want %d: %+v", len(ledger), err, tc.rows, ledger)
			}
			for i, p := range ledger {
				if want := int64(len(ledger) - i); p.Generation != want || p.Version != vs[want-1] {
					t.Errorf("ledger row %d is generation %d = %s, want %d = %s", i, p.Generation, p.Version, want, vs[want-1])
				}
			}
			back, err := reg.Rollback(ctx, tc.model, "operator", "after the migration")
			if tc.rollback == 0 {
				if !errors.Is(err, registry.ErrNoPrevious) {
					t.Fatalf("rollback of the first champion: %+v, %v; want ErrNoPrevious", back, err)
				}
				return
			}
			if err != nil || back.Version != vs[tc.rollback-1] {
				t.Fatalf("rollback restored %+v, %v; want version %d", back, err, tc.rollback)
			}
		})
	}
}
