// Package demo generates and writes the labelled demo dataset behind
// `kingmaker seed`: customer-churn rows whose label follows a hidden rule plus
// noise, with an optional drift from a given day on that shifts feature
// distributions and the rule itself, so a champion trained before the drift
// decays after it, and an optional later day from which the rule is the one
// before the drift again (the features staying drifted), so that a model
// fitted on the drifted rule decays in turn.
//
// Generation is deterministic: row i of day d depends only on (seed, dataset,
// d, i), never on the order or concurrency of the writes.
package demo

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"

	"github.com/gocql/gocql"
)

// Plans, regions and devices are the categories of the demo features, in the
// order kingmaker.example.yaml declares them.
var (
	Plans   = []string{"basic", "standard", "premium"}
	Regions = []string{"north", "south", "east", "west"}
	Devices = []string{"ios", "android", "web"}
)

// Row is one demo event, as stored in the events table.
type Row struct {
	Dataset           string
	Day               time.Time
	TS                time.Time
	ID                gocql.UUID
	TenureMonths      int
	MonthlyCharges    float64
	SupportCalls      int
	Logins30d         int
	AvgSessionMinutes float64
	PaymentDelays     int
	Plan              string
	Region            string
	Device            string
	Churned           bool
}

// Instance is the row as a `kingmaker serve` v1 predict instance of the
// example churn model, keyed by its id: the features by their column
// names, without the label.
func (r Row) Instance() map[string]any {
	return map[string]any{
		"id": r.ID.String(), "tenure_months": r.TenureMonths, "monthly_charges": r.MonthlyCharges,
		"support_calls": r.SupportCalls, "logins_30d": r.Logins30d, "avg_session_minutes": r.AvgSessionMinutes,
		"payment_delays": r.PaymentDelays, "plan": r.Plan, "region": r.Region, "device": r.Device,
	}
}

// Spec says what to generate.
type Spec struct {
	Dataset    string
	Start      time.Time // first day, truncated to UTC midnight
	Days       int
	RowsPerDay int
	// DriftFrom is the 1-based day number from which rows are drifted; 0
	// means no drift.
	DriftFrom int
	// RuleRevertsFrom is the 1-based day number from which the label rule
	// is the one before the drift again, the feature distributions staying
	// drifted: the world changes once more, so a model fitted on the drifted
	// rule predicts worse than one fitted before the drift. 0 means never.
	RuleRevertsFrom int
	Seed            uint64
}

// Drifted reports whether day (0-based offset from Start) is drifted.
func (s Spec) Drifted(day int) bool { return s.DriftFrom > 0 && day+1 >= s.DriftFrom }

// RuleDrifted reports whether day's labels follow the drifted rule: the
// day is drifted and the rule has not reverted.
func (s Spec) RuleDrifted(day int) bool {
	return s.Drifted(day) && (s.RuleRevertsFrom == 0 || day+1 < s.RuleRevertsFrom)
}

// DayDate returns the date of day (0-based offset from Start).
func (s Spec) DayDate(day int) time.Time {
	start := s.Start.UTC().Truncate(24 * time.Hour)
	return start.AddDate(0, 0, day)
}

// Generate returns row i of day (0-based offset from Start).
func (s Spec) Generate(day, i int) Row {
	r := rand.New(rand.NewPCG(s.Seed, rowStream(s.Dataset, day, i)))
	date := s.DayDate(day)
	drifted := s.Drifted(day)

	step := 24 * time.Hour / time.Duration(max(s.RowsPerDay, 1))
	row := Row{
		Dataset: s.Dataset,
		Day:     date,
		TS:      date.Add(time.Duration(i)*step + time.Duration(r.Int64N(int64(step)))).Truncate(time.Millisecond),
		ID:      rowID(r),
	}
	row.Plan = pick(r, Plans, []float64{0.45, 0.35, 0.20})
	row.Region = pick(r, Regions, []float64{0.25, 0.25, 0.25, 0.25})
	deviceMix := []float64{0.45, 0.40, 0.15}
	if drifted {
		deviceMix = []float64{0.30, 0.35, 0.35}
	}
	row.Device = pick(r, Devices, deviceMix)

	row.TenureMonths = min(int(r.ExpFloat64()*24), 72)
	base := 65.0
	switch row.Plan {
	case "basic":
		base = 40
	case "premium":
		base = 95
	}
	if drifted {
		base += 20 // a price rise
	}
	row.MonthlyCharges = math.Round(math.Max(5, base+r.NormFloat64()*12)*100) / 100
	row.SupportCalls = poisson(r, 1.2)
	loginMean := 18.0
	if drifted {
		loginMean = 11 // engagement falls
	}
	row.Logins30d = poisson(r, loginMean)
	row.AvgSessionMinutes = math.Round(math.Exp(3+0.5*r.NormFloat64())*10) / 10
	row.PaymentDelays = poisson(r, 0.4)

	p := churnProbability(row, s.RuleDrifted(day))
	row.Churned = r.Float64() < p
	if r.Float64() < 0.05 { // label noise: no model is perfect
		row.Churned = !row.Churned
	}
	return row
}

// churnProbability is the hidden rule. After the drift the rule changes too:
// support calls and Android weigh more, tenure less, so a model fitted before
// the drift ranks customers worse after it.
func churnProbability(row Row, drifted bool) float64 {
	tenure, calls, android := -0.06, 0.55, 0.0
	intercept := -1.0
	if drifted {
		tenure, calls, android = -0.025, 0.95, 1.3
		intercept = -3.6
	}
	z := intercept +
		tenure*float64(row.TenureMonths) +
		0.03*(row.MonthlyCharges-65) +
		calls*float64(row.SupportCalls) -
		0.08*(float64(row.Logins30d)-18) +
		0.8*float64(row.PaymentDelays) -
		0.01*(row.AvgSessionMinutes-20)
	switch row.Plan {
	case "basic":
		z += 0.3
	case "premium":
		z -= 0.4
	}
	if row.Region == "south" {
		z += 0.3
	}
	if row.Device == "android" {
		z += android
	}
	return 1 / (1 + math.Exp(-z))
}

func rowStream(dataset string, day, i int) uint64 {
	h := fnv.New64a()
	h.Write([]byte(dataset))
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(day))
	binary.LittleEndian.PutUint64(b[8:], uint64(i))
	h.Write(b[:])
	return h.Sum64()
}

// rowID draws a version-4 UUID from the row's own generator.
func rowID(r *rand.Rand) gocql.UUID {
	var u gocql.UUID
	binary.LittleEndian.PutUint64(u[:8], r.Uint64())
	binary.LittleEndian.PutUint64(u[8:], r.Uint64())
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

func pick(r *rand.Rand, values []string, weights []float64) string {
	x := r.Float64()
	for i, w := range weights {
		if x < w {
			return values[i]
		}
		x -= w
	}
	return values[len(values)-1]
}

// poisson draws by Knuth's method; the means here are small.
func poisson(r *rand.Rand, mean float64) int {
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}
