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

// Table names a demo table: what `kingmaker seed --table` writes.
type Table string

// The demo tables.
const (
	// EventsTable holds the churn rows (Generate): a binary label.
	EventsTable Table = "events"
	// DeliveriesTable holds the delivery rows (GenerateDelivery): a
	// numeric label, delivery minutes.
	DeliveriesTable Table = "deliveries"
)

// Tables are the demo tables, in documentation order.
var Tables = []Table{EventsTable, DeliveriesTable}

// tableDef is how a demo table is made, checked and written.
type tableDef struct {
	columns []string
	create  string // with %s for the keyspace
	insert  string // with %s for the keyspace
	args    func(s Spec, day, i int) []any
}

func (t Table) def() (*tableDef, error) {
	switch t {
	case EventsTable:
		return &tableDef{columns: eventsColumns, create: createEvents, insert: insertEvent, args: eventArgs}, nil
	case DeliveriesTable:
		return &tableDef{columns: deliveriesColumns, create: createDeliveries, insert: insertDelivery, args: deliveryArgs}, nil
	}
	return nil, fmt.Errorf("seed: unknown demo table %q (want events or deliveries)", string(t))
}

const insertEvent = `INSERT INTO %s.events (dataset, day, ts, id, tenure_months, monthly_charges, support_calls,
	logins_30d, avg_session_minutes, payment_delays, plan, region, device, churned)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func eventArgs(s Spec, day, i int) []any {
	r := s.Generate(day, i)
	return []any{r.Dataset, r.Day, r.TS, r.ID, r.TenureMonths, r.MonthlyCharges, r.SupportCalls,
		r.Logins30d, r.AvgSessionMinutes, r.PaymentDelays, r.Plan, r.Region, r.Device, r.Churned}
}

// deliveriesColumns are the columns of the delivery table, as
// eventsColumns.
var deliveriesColumns = []string{
	"dataset text partition_key", "day date partition_key", "ts timestamp clustering", "id uuid clustering",
	"distance_km double regular", "items int regular", "prep_minutes double regular", "hour int regular",
	"courier_load int regular", "zone text regular", "vehicle text regular", "weather text regular",
	"minutes double regular",
}

// createDeliveries is the delivery table; schema migration 8 makes it in
// the registry's keyspace.
const createDeliveries = `CREATE TABLE IF NOT EXISTS %s.deliveries (
	dataset text, day date, ts timestamp, id uuid,
	distance_km double, items int, prep_minutes double, hour int,
	courier_load int, zone text, vehicle text, weather text,
	minutes double,
	PRIMARY KEY ((dataset, day), ts, id))`

const insertDelivery = `INSERT INTO %s.deliveries (dataset, day, ts, id, distance_km, items, prep_minutes, hour,
	courier_load, zone, vehicle, weather, minutes)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func deliveryArgs(s Spec, day, i int) []any {
	d := s.GenerateDelivery(day, i)
	return []any{d.Dataset, d.Day, d.TS, d.ID, d.DistanceKM, d.Items, d.PrepMinutes, d.Hour,
		d.CourierLoad, d.Zone, d.Vehicle, d.Weather, d.Minutes}
}

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
	return PrepareTableOf(ctx, s, keyspace, EventsTable)
}

// PrepareTableOf is PrepareTable for any demo table.
func PrepareTableOf(ctx context.Context, s *gocql.Session, keyspace string, table Table) (created bool, err error) {
	def, err := table.def()
	if err != nil {
		return false, err
	}
	iter := s.Query(`SELECT column_name, type, kind FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?`, keyspace, string(table)).
		WithContext(ctx).Iter()
	var have []string
	var name, typ, kind string
	for iter.Scan(&name, &typ, &kind) {
		have = append(have, name+" "+typ+" "+kind)
	}
	if err := iter.Close(); err != nil {
		return false, fmt.Errorf("read the columns of %s.%s: %w", keyspace, table, err)
	}
	if len(have) == 0 {
		if err := s.Query(fmt.Sprintf(def.create, keyspace)).WithContext(ctx).Exec(); err != nil {
			return false, fmt.Errorf("create the demo table %s.%s: %w", keyspace, table, err)
		}
		return true, nil
	}
	for _, c := range def.columns {
		if !slices.Contains(have, c) {
			return false, fmt.Errorf("%w: %s.%s has no column %q as the demo writes it", ErrNotDemoTable, keyspace, table, c)
		}
	}
	for _, c := range have {
		if !slices.Contains(def.columns, c) {
			return false, fmt.Errorf("%w: %s.%s has a column the demo does not write (%s)", ErrNotDemoTable, keyspace, table, strings.Fields(c)[0])
		}
	}
	return false, nil
}
