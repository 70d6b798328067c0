// Package schema owns Kingmaker's Cassandra schema: numbered, idempotent
// migrations that create the keyspace and every table, and Apply, which runs
// the ones a keyspace has not seen yet and refuses a keyspace that is newer
// than this binary.
//
// Tables are owned (queried) by other packages: registry, dataset, drift
// reports and predictions; this package only creates them.
package schema

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/cql"
)

// Migration is one numbered schema change. Its statements are idempotent
// (IF NOT EXISTS) so a migration interrupted half way can be applied again.
// "{ks}" in a statement stands for the keyspace.
type Migration struct {
	Version    int
	Name       string
	Statements []string
	// Copy, when set, runs after the statements and moves existing rows into
	// the tables they created. It is idempotent like the statements.
	Copy *Copy
}

// Copy is the data step of a migration.
type Copy struct {
	// Name says what the step does; it is part of the migration's checksum.
	Name string
	Run  func(ctx context.Context, s *gocql.Session, c config.Cassandra) error
}

// Checksum identifies a migration's text, so an applied migration that was
// edited afterwards is noticed.
func (m Migration) Checksum() string {
	h := sha256.New()
	for _, s := range m.Statements {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	if m.Copy != nil {
		h.Write([]byte("copy: " + m.Copy.Name))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Latest is the newest schema version this binary knows.
func Latest() int { return migrations[len(migrations)-1].Version }

// Migrations returns the known migrations in order.
func Migrations() []Migration { return slices.Clone(migrations) }

// ErrNewerSchema means the keyspace was migrated by a newer Kingmaker.
var ErrNewerSchema = errors.New("schema is newer than this binary")

// ErrSchemaDisagreement marks a cluster whose nodes did not agree on the
// schema after a change: applying more changes then risks conflicting
// versions, so Apply stops, and running it again once the cluster has
// settled finishes the work (every statement is idempotent).
var ErrSchemaDisagreement = errors.New("the cluster's nodes disagree on the schema")

// Result says what Apply did.
type Result struct {
	// Before and After are the schema versions before and after Apply.
	Before, After int
	// Applied lists the versions applied by this call.
	Applied []int
}

// Apply creates the keyspace if needed and applies every migration newer
// than the keyspace's version, in order, recording each in
// {ks}.schema_migrations. The session must not be bound to the keyspace
// (it may not exist yet).
func Apply(ctx context.Context, s *gocql.Session, c config.Cassandra) (Result, error) {
	ks := c.Keyspace
	if err := exec(ctx, s, fmt.Sprintf("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = %s", ks, replicationCQL(c.Replication))); err != nil {
		return Result{}, fmt.Errorf("create keyspace %s: %w", ks, err)
	}
	if err := exec(ctx, s, strings.ReplaceAll(migrationsTable, "{ks}", ks)); err != nil {
		return Result{}, fmt.Errorf("create %s.schema_migrations: %w", ks, err)
	}
	applied, err := appliedMigrations(ctx, s, ks)
	if err != nil {
		return Result{}, err
	}
	res := Result{Before: 0}
	if len(applied) > 0 {
		res.Before = applied[len(applied)-1].version
	}
	if res.Before > Latest() {
		return res, fmt.Errorf("%w: keyspace %s is at schema version %d, this kingmaker knows up to %d: upgrade kingmaker", ErrNewerSchema, ks, res.Before, Latest())
	}
	done := map[int]string{}
	for _, a := range applied {
		done[a.version] = a.checksum
	}
	for _, m := range migrations {
		if sum, ok := done[m.Version]; ok {
			if sum != m.Checksum() {
				return res, fmt.Errorf("migration %d (%s) was applied with checksum %s but this binary has %s: migrations must never change once released", m.Version, m.Name, sum, m.Checksum())
			}
			continue
		}
		for i, stmt := range m.Statements {
			if err := exec(ctx, s, strings.ReplaceAll(stmt, "{ks}", ks)); err != nil {
				return res, fmt.Errorf("migration %d (%s), statement %d: %w", m.Version, m.Name, i+1, err)
			}
		}
		if m.Copy != nil {
			if err := m.Copy.Run(ctx, s, c); err != nil {
				return res, fmt.Errorf("migration %d (%s), %s: %w", m.Version, m.Name, m.Copy.Name, err)
			}
		}
		if err := s.Query(fmt.Sprintf(`INSERT INTO %s.schema_migrations (scope, version, name, checksum, applied_at) VALUES ('kingmaker', ?, ?, ?, ?)`, ks),
			m.Version, m.Name, m.Checksum(), time.Now().UTC()).WithContext(ctx).Exec(); err != nil {
			return res, fmt.Errorf("record migration %d: %w", m.Version, err)
		}
		res.Applied = append(res.Applied, m.Version)
	}
	res.After = max(res.Before, Latest())
	return res, nil
}

// Version returns the schema version of the keyspace, 0 when it has none.
func Version(ctx context.Context, s *gocql.Session, ks string) (int, error) {
	applied, err := appliedMigrations(ctx, s, ks)
	if err != nil || len(applied) == 0 {
		return 0, err
	}
	return applied[len(applied)-1].version, nil
}

// Connect opens a session to the configured cluster and checks that its
// keyspace is at this binary's schema version (see Check), closing the
// session when it is not.
func Connect(ctx context.Context, c config.Cassandra) (*gocql.Session, error) {
	s, err := cql.Connect(c, true)
	if err != nil {
		return nil, err
	}
	if err := Check(ctx, s, c.Keyspace); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Check returns an error naming `kingmaker schema apply` when the keyspace is
// behind this binary, and an upgrade hint when it is ahead.
func Check(ctx context.Context, s *gocql.Session, ks string) error {
	v, err := Version(ctx, s, ks)
	if err != nil {
		return fmt.Errorf("read schema version of keyspace %s (run `kingmaker schema apply`): %w", ks, err)
	}
	switch {
	case v < Latest():
		return fmt.Errorf("keyspace %s is at schema version %d, this kingmaker needs %d: run `kingmaker schema apply`", ks, v, Latest())
	case v > Latest():
		return fmt.Errorf("%w: keyspace %s is at schema version %d, this kingmaker knows up to %d: upgrade kingmaker", ErrNewerSchema, ks, v, Latest())
	}
	return nil
}

type appliedMigration struct {
	version  int
	checksum string
}

func appliedMigrations(ctx context.Context, s *gocql.Session, ks string) ([]appliedMigration, error) {
	iter := s.Query(fmt.Sprintf(`SELECT version, checksum FROM %s.schema_migrations WHERE scope = 'kingmaker'`, ks)).WithContext(ctx).Iter()
	var out []appliedMigration
	var a appliedMigration
	for iter.Scan(&a.version, &a.checksum) {
		out = append(out, a)
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("read %s.schema_migrations: %w", ks, err)
	}
	return out, nil // clustering order is ascending by version
}

// exec runs one schema statement and waits until every node has the
// resulting schema. gocql waits for that itself after a schema change but
// only logs when the nodes still disagree; here it is an error.
func exec(ctx context.Context, s *gocql.Session, stmt string) error {
	if err := s.Query(stmt).WithContext(ctx).Exec(); err != nil {
		return err
	}
	if err := s.AwaitSchemaAgreement(ctx); err != nil {
		return fmt.Errorf("%w (%v): wait until `nodetool describecluster` shows one schema version, then run `kingmaker schema apply` again", ErrSchemaDisagreement, err)
	}
	return nil
}

func replicationCQL(r config.Replication) string {
	if r.Class == "NetworkTopologyStrategy" {
		parts := []string{"'class': 'NetworkTopologyStrategy'"}
		dcs := make([]string, 0, len(r.DataCenters))
		for dc := range r.DataCenters {
			dcs = append(dcs, dc)
		}
		slices.Sort(dcs)
		for _, dc := range dcs {
			parts = append(parts, fmt.Sprintf("%s: %d", literal(dc), r.DataCenters[dc]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprintf("{'class': 'SimpleStrategy', 'replication_factor': %d}", r.Factor)
}

// literal makes s a CQL string literal. Validation allows only plain
// data-centre names; quoting keeps the statement one statement regardless.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

const migrationsTable = `CREATE TABLE IF NOT EXISTS {ks}.schema_migrations (
	scope text, version int, name text, checksum text, applied_at timestamp,
	PRIMARY KEY ((scope), version))`
