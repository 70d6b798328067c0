package demo_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
)

type dayRead struct {
	rows    int
	charges float64 // mean monthly charges
	digest  [32]byte
}

// readDay reads one day partition back and summarises it.
func readDay(t *testing.T, s *gocql.Session, ks string, day time.Time) dayRead {
	t.Helper()
	iter := s.Query(fmt.Sprintf(`SELECT ts, id, tenure_months, monthly_charges, support_calls, logins_30d, avg_session_minutes,
		payment_delays, plan, region, device, churned FROM %s.events WHERE dataset = 'churn' AND day = ?`, ks), day).Iter()
	h := sha256.New()
	var d dayRead
	var r demo.Row
	for iter.Scan(&r.TS, &r.ID, &r.TenureMonths, &r.MonthlyCharges, &r.SupportCalls, &r.Logins30d, &r.AvgSessionMinutes,
		&r.PaymentDelays, &r.Plan, &r.Region, &r.Device, &r.Churned) {
		d.rows++
		d.charges += r.MonthlyCharges
		fmt.Fprintf(h, "%v|%v|%d|%v|%d|%d|%v|%d|%s|%s|%s|%v\n", r.TS.UnixMilli(), r.ID, r.TenureMonths, r.MonthlyCharges, r.SupportCalls,
			r.Logins30d, r.AvgSessionMinutes, r.PaymentDelays, r.Plan, r.Region, r.Device, r.Churned)
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	d.charges /= float64(max(d.rows, 1))
	copy(d.digest[:], h.Sum(nil))
	return d
}

func TestSeedWritesExactlyTheRowsAndIsRepeatable(t *testing.T) {
	s, c := testenv.Cassandra(t)
	spec := demo.Spec{Dataset: "churn", Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 6, RowsPerDay: 750, DriftFrom: 4, Seed: 11}
	ctx := context.Background()
	var last int64
	if err := demo.Write(ctx, s, c.Keyspace, spec, 3, func(n int64) { last = max(last, n) }); err != nil {
		t.Fatal(err)
	}
	if last != 6*750 {
		t.Errorf("progress ended at %d, want %d", last, 6*750)
	}
	first := make([]dayRead, spec.Days)
	for day := range spec.Days {
		first[day] = readDay(t, s, c.Keyspace, spec.DayDate(day))
		if first[day].rows != spec.RowsPerDay {
			t.Fatalf("day %d holds %d rows, want %d", day, first[day].rows, spec.RowsPerDay)
		}
	}
	if err := demo.Write(ctx, s, c.Keyspace, spec, 2, nil); err != nil {
		t.Fatal(err)
	}
	for day := range spec.Days {
		again := readDay(t, s, c.Keyspace, spec.DayDate(day))
		if again != first[day] {
			t.Fatalf("a second seed with the same flags changed day %d (%d rows -> %d)", day, first[day].rows, again.rows)
		}
	}
	stable := (first[0].charges + first[1].charges + first[2].charges) / 3
	drifted := (first[3].charges + first[4].charges + first[5].charges) / 3
	if drifted-stable < 15 {
		t.Fatalf("drifted days should have mean monthly charges about 20 higher: stable %.1f, drifted %.1f", stable, drifted)
	}
	if readDay(t, s, c.Keyspace, spec.DayDate(spec.Days)).rows != 0 {
		t.Fatal("nothing may be written after the last day")
	}
}

func TestSeedWritesTheDeliveryRowsAsGenerated(t *testing.T) {
	s, c := testenv.Cassandra(t)
	ctx := context.Background()
	spec := demo.Spec{Dataset: "deliveries", Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 2, RowsPerDay: 300, DriftFrom: 2, Seed: 5}
	if _, err := demo.PrepareTableOf(ctx, s, c.Keyspace, demo.DeliveriesTable); err != nil {
		t.Fatal(err)
	}
	if err := demo.WriteTable(ctx, s, c.Keyspace, demo.DeliveriesTable, spec, 2, nil); err != nil {
		t.Fatal(err)
	}
	for day := range spec.Days {
		want := map[gocql.UUID]demo.Delivery{}
		for i := range spec.RowsPerDay {
			d := spec.GenerateDelivery(day, i)
			want[d.ID] = d
		}
		iter := s.Query(fmt.Sprintf(`SELECT ts, id, distance_km, items, prep_minutes, hour, courier_load, zone, vehicle, weather, minutes
			FROM %s.deliveries WHERE dataset = 'deliveries' AND day = ?`, c.Keyspace), spec.DayDate(day)).Iter()
		var d demo.Delivery
		n := 0
		for iter.Scan(&d.TS, &d.ID, &d.DistanceKM, &d.Items, &d.PrepMinutes, &d.Hour, &d.CourierLoad, &d.Zone, &d.Vehicle, &d.Weather, &d.Minutes) {
			w := want[d.ID]
			if !d.TS.Equal(w.TS) || d.DistanceKM != w.DistanceKM || d.Items != w.Items || d.Minutes != w.Minutes || d.Zone != w.Zone || d.Weather != w.Weather {
				t.Fatalf("day %d: stored %+v, generated %+v", day, d, w)
			}
			n++
		}
		if err := iter.Close(); err != nil {
			t.Fatal(err)
		}
		if n != spec.RowsPerDay {
			t.Fatalf("day %d holds %d deliveries, want %d", day, n, spec.RowsPerDay)
		}
	}
}
