package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kingmaker-ml/kingmaker/internal/testenv"
)

func TestSeedWritesOnlyIntoTheDemosTable(t *testing.T) {
	s, c := testenv.Cassandra(t)
	useCassandra(t, c)
	rows := func(t *testing.T, ks string) int {
		t.Helper()
		var n int
		if err := s.Query(fmt.Sprintf(`SELECT count(*) FROM %s.events WHERE dataset = 'churn' AND day = '2026-01-01'`, ks)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	seed := []string{"seed", "--days", "1", "--rows-per-day", "30", "--start", "2026-01-01"}

	t.Run("the demo table of the registry's keyspace is seeded", func(t *testing.T) {
		got := kingmaker(t, append([]string{"--config", exampleConfig}, seed...)...)
		if got.code != 0 || !strings.Contains(got.stdout, "seeded 30 rows into "+c.Keyspace+".events") || rows(t, c.Keyspace) != 30 {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", got.code, got.stdout, got.stderr)
		}
	})

	t.Run("an events table that is not the demo's is refused, and --force writes anyway", func(t *testing.T) {
		if err := s.Query(`ALTER TABLE events ADD account_secret text`).Exec(); err != nil {
			t.Fatal(err)
		}
		got := kingmaker(t, append([]string{"--config", exampleConfig}, seed...)...)
		if got.code != 1 || !strings.Contains(got.stderr, "not the demo's events table") || !strings.Contains(got.stderr, "(account_secret)") ||
			!strings.Contains(got.stderr, "pass --force") {
			t.Fatalf("exit %d, want 1 naming the foreign column and --force\nstderr: %s", got.code, got.stderr)
		}
		got = kingmaker(t, append([]string{"--config", exampleConfig}, append(seed, "--force")...)...)
		if got.code != 0 || !strings.Contains(got.stderr, "writing anyway (--force)") {
			t.Fatalf("with --force: exit %d\nstdout: %s\nstderr: %s", got.code, got.stdout, got.stderr)
		}
	})

	t.Run("a model whose source is in another keyspace is seeded there", func(t *testing.T) {
		other := c.Keyspace + "_src"
		if err := s.Query(fmt.Sprintf(`CREATE KEYSPACE %s WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`, other)).Exec(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if !t.Failed() {
				s.Query("DROP KEYSPACE IF EXISTS " + other).Exec()
			}
		})
		b, err := os.ReadFile(exampleConfig)
		if err != nil {
			t.Fatal(err)
		}
		y := strings.Replace(string(b), "\n      table: events", "\n      keyspace: "+other+"\n      table: events", 1)
		if y == string(b) {
			t.Fatal("the example config no longer has the source this test moves")
		}
		path := filepath.Join(t.TempDir(), "other.yaml")
		if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		got := kingmaker(t, append([]string{"--config", path}, seed...)...)
		if got.code != 0 || !strings.Contains(got.stdout, "created the demo table "+other+".events") || rows(t, other) != 30 {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", got.code, got.stdout, got.stderr)
		}
		got = kingmaker(t, "--config", path, "status", "churn", "-o", "json")
		if got.code != 0 || !strings.Contains(got.stdout, other+".events") {
			t.Fatalf("status reads the source from %s? exit %d\nstdout: %s\nstderr: %s", other, got.code, got.stdout, got.stderr)
		}
	})
}

// seed --instances writes the rows it seeds as serve v1 instances keyed by
// their id: live traffic whose labels are in the table (the demo's probation).
func TestSeedInstancesAreTheSeededRows(t *testing.T) {
	for _, bad := range [][]string{
		{"--rule-reverts-from", "1"},                      // no drift to revert
		{"--drift-from", "2", "--rule-reverts-from", "1"}, // before the drift
		{"--drift-from", "1", "--rule-reverts-from", "3"}, // after the last day
	} {
		got := kingmaker(t, append([]string{"--config", exampleConfig, "seed", "--days", "2"}, bad...)...)
		if got.code != 2 || !strings.Contains(got.stderr, "--rule-reverts-from") {
			t.Errorf("seed %v: exit %d, want 2 naming --rule-reverts-from\nstderr: %s", bad, got.code, got.stderr)
		}
	}
	got := kingmaker(t, "--config", exampleConfig, "seed", "--table", "deliveries", "--instances", "-")
	if got.code != 2 || !strings.Contains(got.stderr, "--instances") {
		t.Errorf("seed --table deliveries --instances: exit %d, want 2 naming --instances\nstderr: %s", got.code, got.stderr)
	}

	s, c := testenv.Cassandra(t)
	useCassandra(t, c)
	path := filepath.Join(t.TempDir(), "live.jsonl")
	got = kingmaker(t, "--config", exampleConfig, "seed", "--days", "1", "--rows-per-day", "40", "--start", "2026-01-01",
		"--drift-from", "1", "--rule-reverts-from", "1", "--seed", "7", "--instances", path)
	if got.code != 0 || !strings.Contains(got.stdout, "label rule as before it from day 1 (2026-01-01)") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", got.code, got.stdout, got.stderr)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 40 {
		t.Fatalf("%d instances, want the 40 seeded rows", len(lines))
	}
	for _, line := range lines {
		var in map[string]any
		if err := json.Unmarshal([]byte(line), &in); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		var tenure int
		var device string
		if err := s.Query(`SELECT tenure_months, device FROM events WHERE dataset = 'churn' AND day = '2026-01-01' AND id = ? ALLOW FILTERING`,
			in["id"]).Scan(&tenure, &device); err != nil {
			t.Fatalf("instance %s: its row: %v", in["id"], err)
		}
		if float64(tenure) != in["tenure_months"] || device != in["device"] || len(in) != 10 {
			t.Fatalf("instance %s is not its row (tenure %d, device %s): %s", in["id"], tenure, device, line)
		}
	}
}
