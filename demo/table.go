package demo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gocql/gocql"
)

// ErrNotDemoTable means a keyspace's events table is not the demo's: its
// columns differ, so it may hold someone's data and `seed` leaves it alone.
var ErrNotDemoTable = errors.New("not the demo's events table")

// eventsColumns are the demo table's columns: name, CQL type, and kind as
// system_schema.columns names it.
var eventsColumns = []string{
	"dataset text partition_key", "day date partition_key", "ts timestamp clustering", "id uuid clustering",
	"tenure_months int regular", "monthly_charges double regular", "support_calls int regular", "logins_30d int regular",
	"avg_session_minutes double regular", "payment_delays int regular", "plan text regular", "region text regular",
	"device text regular", "churned boolean regular",
}

// createEvents creates the demo table in a keyspace that has none: the
// same table `schema apply` makes in the registry's keyspace, for a model
// whose source.keyspace is another.
const createEvents = `CREATE TABLE IF NOT EXISTS %s.events (
	dataset text, day date, ts timestamp, id uuid,
	tenure_months int, monthly_charges double, support_calls int,
	logins_30d int, avg_session_minutes double, payment_delays int,
	plan text, region text, device text,
	churned boolean,
	PRIMARY KEY ((dataset, day), ts, id))`

// PrepareTable makes sure keyspace.events is the demo's table before
// Write: it creates it when the keyspace has none, and otherwise compares
// its columns (names, types, key) with the demo's. A table that differs is
// ErrNotDemoTable, naming the first difference: it is someone else's.
// It reports whether it created the table.
func PrepareTable(ctx context.Context, s *gocql.Session, keyspace string) (created bool, err error) {
	iter := s.Query(`SELECT column_name, type, kind FROM system_schema.columns WHERE keyspace_name = ? AND table_name = 'events'`, keyspace).
		WithContext(ctx).Iter()
	var have []string
	var name, typ, kind string
	for iter.Scan(&name, &typ, &kind) {
		have = append(have, name+" "+typ+" "+kind)
	}
	if err := iter.Close(); err != nil {
		return false, fmt.Errorf("read the columns of %s.events: %w", keyspace, err)
	}
	if len(have) == 0 {
		if err := s.Query(fmt.Sprintf(createEvents, keyspace)).WithContext(ctx).Exec(); err != nil {
			return false, fmt.Errorf("create the demo table %s.events: %w", keyspace, err)
		}
		return true, nil
	}
	for _, c := range eventsColumns {
		if !slices.Contains(have, c) {
			return false, fmt.Errorf("%w: %s.events has no column %q as the demo writes it", ErrNotDemoTable, keyspace, c)
		}
	}
	for _, c := range have {
		if !slices.Contains(eventsColumns, c) {
			return false, fmt.Errorf("%w: %s.events has a column the demo does not write (%s)", ErrNotDemoTable, keyspace, strings.Fields(c)[0])
		}
	}
	return false, nil
}
