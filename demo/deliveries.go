package demo

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/gocql/gocql"
)

// The delivery dataset is the demo's regression data: one row per food
// delivery, whose label, the minutes from order to door, follows a hidden
// rule plus noise. Its drift (Spec.DriftFrom) is a season of road works and
// rain: orders come from further away, more of them in the rain, and the
// rule itself changes (every kilometre and every queued order costs more,
// bikes lose most in the rain), so a model fitted before it predicts too
// few minutes after it.
//
// It is written to the table deliveries (Write with DeliveriesTable) by
// `kingmaker seed --table deliveries`, with the same determinism as the
// churn rows: row i of day d depends only on (seed, dataset, d, i).

// Zones, vehicles and weathers are the categories of the delivery
// features, in the order a model's config declares them.
var (
	Zones    = []string{"center", "inner", "suburb", "outskirts"}
	Vehicles = []string{"bike", "scooter", "car"}
	Weathers = []string{"clear", "rain", "snow"}
)

// Delivery is one row of the delivery dataset, as stored in the
// deliveries table.
type Delivery struct {
	Dataset     string
	Day         time.Time
	TS          time.Time
	ID          gocql.UUID
	DistanceKM  float64
	Items       int
	PrepMinutes float64
	Hour        int
	CourierLoad int // orders already queued for the courier
	Zone        string
	Vehicle     string
	Weather     string
	Minutes     float64 // the label
}

// GenerateDelivery returns delivery row i of day (0-based offset from
// Start).
func (s Spec) GenerateDelivery(day, i int) Delivery {
	// Another stream than the churn rows of the same dataset name, day and row.
	r := rand.New(rand.NewPCG(s.Seed, rowStream("deliveries/"+s.Dataset, day, i)))
	date := s.DayDate(day)
	drifted := s.Drifted(day)
	step := 24 * time.Hour / time.Duration(max(s.RowsPerDay, 1))
	d := Delivery{
		Dataset: s.Dataset,
		Day:     date,
		TS:      date.Add(time.Duration(i)*step + time.Duration(r.Int64N(int64(step)))).Truncate(time.Millisecond),
		ID:      rowID(r),
	}
	d.Zone = pick(r, Zones, []float64{0.30, 0.35, 0.25, 0.10})
	d.Vehicle = pick(r, Vehicles, []float64{0.40, 0.35, 0.25})
	weather := []float64{0.75, 0.20, 0.05}
	if drifted {
		weather = []float64{0.50, 0.42, 0.08}
	}
	d.Weather = pick(r, Weathers, weather)
	distance := 1 + r.ExpFloat64()*2.5
	if drifted {
		distance *= 1.35 // orders from further away: a kitchen closed for the works
	}
	d.DistanceKM = math.Round(math.Min(distance, 25)*100) / 100
	d.Items = 1 + poisson(r, 1.8)
	d.PrepMinutes = math.Round(math.Max(3, 8+2*float64(d.Items)+r.NormFloat64()*3)*10) / 10
	d.Hour = pick24(r)
	d.CourierLoad = poisson(r, 1.5)
	d.Minutes = math.Round(math.Max(5, deliveryMinutes(d, drifted)+r.NormFloat64()*4)*10) / 10
	return d
}

// deliveryMinutes is the hidden rule.
func deliveryMinutes(d Delivery, drifted bool) float64 {
	perKM := map[string]float64{"bike": 4.2, "scooter": 3.0, "car": 2.6}[d.Vehicle]
	perLoad := 3.0
	rain := map[string]float64{"clear": 0, "rain": 4, "snow": 9}[d.Weather]
	if drifted {
		perKM *= 1.3 // detours around the works
		perLoad = 5
		if d.Vehicle == "bike" && d.Weather != "clear" {
			rain *= 2
		}
	}
	m := d.PrepMinutes + perKM*d.DistanceKM + perLoad*float64(d.CourierLoad) + rain + 0.8*float64(d.Items)
	if d.Hour >= 11 && d.Hour <= 13 || d.Hour >= 18 && d.Hour <= 20 {
		m += 6 // rush hours
	}
	if d.Zone == "center" && d.Vehicle == "car" {
		m += 5 // parking
	}
	return m
}

// pick24 draws an hour of the day, with the lunch and dinner peaks.
func pick24(r *rand.Rand) int {
	weights := [24]float64{1, 0.5, 0.3, 0.2, 0.2, 0.3, 1, 2, 3, 3, 4, 8, 9, 7, 4, 3, 4, 6, 10, 11, 9, 6, 4, 2}
	var total float64
	for _, w := range weights {
		total += w
	}
	x := r.Float64() * total
	for h, w := range weights {
		if x < w {
			return h
		}
		x -= w
	}
	return 23
}
