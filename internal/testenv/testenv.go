// Package testenv gives integration tests the real local stack: a Cassandra
// session on a fresh keyspace of their own, the Temporal dev server, the
// TLS files of the dev node, and certificate authorities made for one test.
//
// Integration tests skip only under `go test -short`. Otherwise a missing
// stack fails the test with the command that starts it: `make test` starts
// the stack first, and CI never skips.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/schema"
)

// Integration marks a test as needing the real stack: it skips under -short.
func Integration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs Cassandra and Temporal (run make test)")
	}
}

// CassandraAddr is where the test Cassandra listens ($KINGMAKER_TEST_CASSANDRA).
func CassandraAddr() string {
	if v := os.Getenv("KINGMAKER_TEST_CASSANDRA"); v != "" {
		return v
	}
	return "127.0.0.1:9042"
}

// TemporalAddr is where the test Temporal listens ($KINGMAKER_TEST_TEMPORAL).
func TemporalAddr() string {
	if v := os.Getenv("KINGMAKER_TEST_TEMPORAL"); v != "" {
		return v
	}
	return "127.0.0.1:7233"
}

// CassandraConfig returns the connection config of the test node with a
// keyspace name unique to the test.
func CassandraConfig(t testing.TB) config.Cassandra {
	t.Helper()
	cfg := &config.Config{}
	cfg.SetDefaults()
	host, port, err := net.SplitHostPort(CassandraAddr())
	if err != nil {
		t.Fatalf("KINGMAKER_TEST_CASSANDRA=%q: %v", CassandraAddr(), err)
	}
	cfg.Cassandra.Hosts = []string{host}
	if err := cfg.ApplyEnv(func(k string) (string, bool) {
		if k == "KINGMAKER_CASSANDRA_PORT" {
			return port, true
		}
		return os.LookupEnv(k)
	}); err != nil {
		t.Fatal(err)
	}
	cfg.Cassandra.Keyspace = Keyspace(t)
	cfg.Cassandra.Consistency = "QUORUM"
	return cfg.Cassandra
}

var unsafe = regexp.MustCompile(`[^a-z0-9]+`)

// Keyspace returns a keyspace name unique to this test run.
func Keyspace(t testing.TB) string {
	var b [4]byte
	rand.Read(b[:])
	name := unsafe.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 30 {
		name = name[:30]
	}
	return "t_" + strings.Trim(name, "_") + "_" + hex.EncodeToString(b[:])
}

// Cassandra returns a session bound to a fresh keyspace with the whole
// schema applied, dropped when the test ends.
func Cassandra(t testing.TB) (*gocql.Session, config.Cassandra) {
	t.Helper()
	Integration(t)
	c := CassandraConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Schema changes on a busy node (a loaded machine, many keyspaces) can
	// take longer than a query's usual timeout; every migration statement
	// is idempotent, so only the admin session waits longer.
	ac := c
	ac.Timeout = config.Duration(time.Minute)
	admin, err := connect(ctx, ac)
	if err != nil {
		t.Fatalf("%v\n(start the stack with `make stack-up`)", err)
	}
	if _, err := schema.Apply(ctx, admin, c); err != nil {
		admin.Close()
		t.Fatalf("schema apply on %s: %v", c.Keyspace, err)
	}
	s, err := cql.Connect(c, true)
	if err != nil {
		admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		// A failed test's keyspace is dropped too, unless asked to keep it
		// for a look: left behind, thousands of tables slow every schema
		// change of the node.
		if !t.Failed() || os.Getenv("KINGMAKER_TEST_KEEP_KEYSPACE") == "" {
			admin.Query("DROP KEYSPACE IF EXISTS " + c.Keyspace).Exec()
		} else {
			t.Logf("kept keyspace %s (KINGMAKER_TEST_KEEP_KEYSPACE)", c.Keyspace)
		}
		admin.Close()
	})
	return s, c
}

// connect retries for up to 30 s: a node that has just started answers CQL
// a moment before its default superuser exists.
func connect(ctx context.Context, c config.Cassandra) (*gocql.Session, error) {
	give := time.Now().Add(30 * time.Second)
	for {
		s, err := cql.Connect(c, false)
		if err == nil || time.Now().After(give) {
			return s, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(time.Second):
		}
	}
}
