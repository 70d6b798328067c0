package demo

import (
	"math"
	"slices"
	"testing"
	"time"
)

func deliverySpec() Spec {
	return Spec{Dataset: "deliveries", Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Days: 30, RowsPerDay: 2000, DriftFrom: 20, Seed: 7}
}

func TestDeliveryGenerationIsDeterministic(t *testing.T) {
	s := deliverySpec()
	for _, at := range [][2]int{{0, 0}, {5, 1999}, {25, 17}} {
		if a, b := s.GenerateDelivery(at[0], at[1]), s.GenerateDelivery(at[0], at[1]); a != b {
			t.Fatalf("delivery %v differs between two calls:\n%+v\n%+v", at, a, b)
		}
	}
	other := s
	other.Seed = 8
	if s.GenerateDelivery(3, 3) == other.GenerateDelivery(3, 3) {
		t.Error("a different seed should give different deliveries")
	}
	if s.GenerateDelivery(3, 3).ID == s.Generate(3, 3).ID {
		t.Error("a delivery row and the churn row of the same day and number share an id: their streams should differ")
	}
}

func TestDeliveryRowsAreValidAndStayInTheirDay(t *testing.T) {
	s := deliverySpec()
	ids := map[[16]byte]bool{}
	for day := range 2 {
		for i := range s.RowsPerDay {
			d := s.GenerateDelivery(day, i)
			switch {
			case !d.TS.Truncate(24 * time.Hour).Equal(d.Day):
				t.Fatalf("delivery %d of day %d has ts %s outside its day %s", i, day, d.TS, d.Day)
			case ids[d.ID]:
				t.Fatalf("duplicate id %s", d.ID)
			case !slices.Contains(Zones, d.Zone) || !slices.Contains(Vehicles, d.Vehicle) || !slices.Contains(Weathers, d.Weather):
				t.Fatalf("delivery %+v has a category its config would not list", d)
			case d.Minutes < 5 || math.IsNaN(d.Minutes) || d.DistanceKM <= 0 || d.Items < 1 || d.Hour < 0 || d.Hour > 23:
				t.Fatalf("delivery %+v is out of range", d)
			}
			ids[d.ID] = true
		}
	}
}

// TestTheDriftMakesDeliveriesSlowerAndChangesTheRule checks what the demo
// relies on: after the drift the minutes are higher for the same features
// (the rule changed), and the features moved too (further, wetter).
func TestTheDriftMakesDeliveriesSlowerAndChangesTheRule(t *testing.T) {
	s := deliverySpec()
	mean := func(day int, f func(Delivery) float64) float64 {
		var sum float64
		for i := range s.RowsPerDay {
			sum += f(s.GenerateDelivery(day, i))
		}
		return sum / float64(s.RowsPerDay)
	}
	minutes := func(d Delivery) float64 { return d.Minutes }
	distance := func(d Delivery) float64 { return d.DistanceKM }
	rain := func(d Delivery) float64 {
		if d.Weather == "clear" {
			return 0
		}
		return 1
	}
	before, after := 5, 25
	if b, a := mean(before, minutes), mean(after, minutes); a < b*1.2 {
		t.Errorf("mean minutes %.1f before the drift, %.1f after: want at least 20%% more", b, a)
	}
	if b, a := mean(before, distance), mean(after, distance); a < b*1.2 {
		t.Errorf("mean distance %.2f km before the drift, %.2f after: want further", b, a)
	}
	if b, a := mean(before, rain), mean(after, rain); a < b+0.15 {
		t.Errorf("share of wet deliveries %.2f before the drift, %.2f after: want more", b, a)
	}
	// The same delivery costs more under the drifted rule.
	d := s.GenerateDelivery(before, 0)
	d.Vehicle, d.Weather, d.DistanceKM, d.CourierLoad = "bike", "rain", 5, 2
	if pre, post := deliveryMinutes(d, false), deliveryMinutes(d, true); post < pre+10 {
		t.Errorf("a 5 km bike delivery in the rain with 2 queued orders takes %.1f minutes before the drift and %.1f after: want the rule to change", pre, post)
	}
	undrifted := s
	undrifted.DriftFrom = 0
	if s.GenerateDelivery(before, 7) != undrifted.GenerateDelivery(before, 7) {
		t.Error("a day before the drift should not depend on the drift option")
	}
}
