package schema

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/cql"
)

// actionRecovered marks a ledger row that migration 3 rebuilt because the
// old two-write promotion had lost it (the registry reads it as a promotion).
const actionRecovered = "recovered"

// legacyRow is one generation of the old promotions ledger, or one rebuilt.
type legacyRow struct {
	generation        int64
	version, previous gocql.UUID // zero: null
	action            string
	promotedAt        time.Time // zero: null (unknown)
	by, reason, run   string
}

// legacyPointer is a row of the old champions table.
type legacyPointer struct {
	version         gocql.UUID
	generation      int64
	promotedAt      time.Time
	by, reason, run string
}

// copyChampionLedger carries every model's champion pointer and promotion
// ledger over from champions and promotions into champion_ledger. Before
// migration 3 a promotion wrote the pointer and then the ledger row, so a
// crash between the two left a pointer whose generation had no row; later
// promotions then left a gap. Such rows are rebuilt (see repairLedger).
//
// Every write is a lightweight transaction that only fills what is missing
// (IF NOT EXISTS, IF champion_generation = null): applying the migration
// again after an interruption changes nothing that was copied, and the
// table is never written both with and without Paxos timestamps.
func copyChampionLedger(ctx context.Context, s *gocql.Session, c config.Cassandra) error {
	ks := c.Keyspace
	serial := cql.Serial(c)
	models := map[string]bool{}
	for _, stmt := range []string{`SELECT model FROM %s.champions`, `SELECT DISTINCT model FROM %s.promotions`} {
		iter := s.Query(fmt.Sprintf(stmt, ks)).WithContext(ctx).Iter()
		var m string
		for iter.Scan(&m) {
			models[m] = true
		}
		if err := iter.Close(); err != nil {
			return fmt.Errorf("list the models of %s.champions and %s.promotions: %w", ks, ks, err)
		}
	}
	names := make([]string, 0, len(models))
	for m := range models {
		names = append(names, m)
	}
	slices.Sort(names)
	for _, m := range names {
		if err := copyModelLedger(ctx, s, ks, serial, m); err != nil {
			return fmt.Errorf("model %s: %w", m, err)
		}
	}
	return nil
}

func copyModelLedger(ctx context.Context, s *gocql.Session, ks string, serial gocql.SerialConsistency, model string) error {
	var ptr *legacyPointer
	p := legacyPointer{}
	var by, reason, run *string
	// SERIAL completes a compare-and-set left half done by a crash.
	err := s.Query(fmt.Sprintf(`SELECT version, generation, promoted_at, promoted_by, reason, run_id FROM %s.champions WHERE model = ?`, ks), model).
		WithContext(ctx).Consistency(gocql.Consistency(serial)).Scan(&p.version, &p.generation, &p.promotedAt, &by, &reason, &run)
	switch {
	case err == nil:
		p.by, p.reason, p.run = deref(by), deref(reason), deref(run)
		ptr = &p
	case err != gocql.ErrNotFound:
		return fmt.Errorf("read %s.champions: %w", ks, err)
	}
	iter := s.Query(fmt.Sprintf(`SELECT generation, version, previous_version, action, promoted_at, promoted_by, reason, run_id FROM %s.promotions WHERE model = ?`, ks), model).
		WithContext(ctx).Iter()
	var rows []legacyRow
	for {
		var r legacyRow
		var action, by, reason, run *string
		if !iter.Scan(&r.generation, &r.version, &r.previous, &action, &r.promotedAt, &by, &reason, &run) {
			break
		}
		r.action, r.by, r.reason, r.run = deref(action), deref(by), deref(reason), deref(run)
		rows = append(rows, r)
	}
	if err := iter.Close(); err != nil {
		return fmt.Errorf("read %s.promotions: %w", ks, err)
	}
	rows = repairLedger(ptr, rows)
	for _, r := range rows {
		if _, err := s.Query(fmt.Sprintf(`INSERT INTO %s.champion_ledger (model, generation, version, previous_version, action, promoted_at, promoted_by, reason, run_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`, ks),
			model, r.generation, nullUUID(r.version), nullUUID(r.previous), r.action, nullTime(r.promotedAt), r.by, r.reason, r.run).
			WithContext(ctx).SerialConsistency(serial).MapScanCAS(map[string]any{}); err != nil {
			return fmt.Errorf("copy ledger generation %d: %w", r.generation, err)
		}
	}
	// The pointer goes last, so an interrupted copy never leaves a pointer
	// whose ledger row is not there yet. Without an old pointer (which no
	// Kingmaker wrote) the newest row is the champion.
	var version gocql.UUID
	var generation int64
	switch {
	case ptr != nil:
		version, generation = ptr.version, ptr.generation
	case len(rows) > 0:
		version, generation = rows[len(rows)-1].version, rows[len(rows)-1].generation
	default:
		return nil
	}
	if _, err := s.Query(fmt.Sprintf(`UPDATE %s.champion_ledger SET champion_version = ?, champion_generation = ? WHERE model = ? IF champion_generation = null`, ks),
		version, generation, model).WithContext(ctx).SerialConsistency(serial).MapScanCAS(map[string]any{}); err != nil {
		return fmt.Errorf("copy the champion pointer (generation %d): %w", generation, err)
	}
	return nil
}

// repairLedger returns the ledger rows to copy, oldest first: the old rows,
// plus a row for the pointer's generation when it has none (rebuilt from the
// pointer), plus a row for every missing generation whose successor names
// the version it replaced (rebuilt from that previous_version). A rebuilt
// row's action is "recovered" and its reason says what was lost; without
// these rows a rollback after a lost row would skip a version. Rows newer
// than the pointer (which the old code never wrote) are left as they are.
func repairLedger(ptr *legacyPointer, rows []legacyRow) []legacyRow {
	byGen := map[int64]legacyRow{}
	var top int64
	for _, r := range rows {
		byGen[r.generation] = r
		top = max(top, r.generation)
	}
	rebuilt := map[int64]bool{}
	if ptr != nil {
		if _, ok := byGen[ptr.generation]; !ok {
			byGen[ptr.generation] = legacyRow{
				generation: ptr.generation, version: ptr.version, action: actionRecovered, promotedAt: ptr.promotedAt,
				by: ptr.by, run: ptr.run,
				reason: fmt.Sprintf("%s (ledger row rebuilt from the champion pointer by schema migration 3: the promotion was interrupted before writing it)", ptr.reason),
			}
			rebuilt[ptr.generation] = true
		}
		top = max(top, ptr.generation)
	}
	for g := top - 1; g >= 1; g-- {
		next, ok := byGen[g+1]
		if _, have := byGen[g]; have || !ok || next.previous == (gocql.UUID{}) {
			continue
		}
		byGen[g] = legacyRow{
			generation: g, version: next.previous, action: actionRecovered, by: "unknown",
			reason: fmt.Sprintf("ledger row rebuilt by schema migration 3 from generation %d, which replaced this version: who promoted it, when and why were lost", g+1),
		}
		rebuilt[g] = true
	}
	out := make([]legacyRow, 0, len(byGen))
	for _, r := range byGen {
		if prev, ok := byGen[r.generation-1]; ok && rebuilt[r.generation] {
			r.previous = prev.version
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b legacyRow) int { return cmp.Compare(a.generation, b.generation) })
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func nullUUID(u gocql.UUID) any {
	if u == (gocql.UUID{}) {
		return nil
	}
	return u
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}
