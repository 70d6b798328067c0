package drift

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// The simulation measures the per-feature alarm with the defaults (false
// alarm rate 0.01, effect at major, Benjamini-Hochberg) on one-feature
// reports: how often it fires when nothing changed, over numeric features
// and categorical ones of 2 to 500 categories, windows of 500 to 1,000,000
// rows and references of 500 to 100,000 rows, and how often the test alone
// rejects there; and how often the alarm fires on clear shifts. Windows of 1,000,000 rows are drawn as multinomial counts
// straight into the window's cells, which is what a million rows would
// leave there.

// simRand is the simulation's source of randomness.
type simRand struct {
	*rand.Rand
	src rand.Source
}

func newSimRand(seed uint64) simRand {
	src := rand.NewPCG(seed, 0xd51f7)
	return simRand{Rand: rand.New(src), src: src}
}

// multinomial draws n rows over cells with the given probabilities, as
// binomials conditional on the rows left.
func (r simRand) multinomial(n int64, probs []float64) []int64 {
	out := make([]int64, len(probs))
	left, mass := n, 1.0
	for i, p := range probs {
		if left == 0 {
			break
		}
		if i == len(probs)-1 || p >= mass {
			out[i] = left
			break
		}
		k := int64(distuv.Binomial{N: float64(left), P: math.Min(p/mass, 1), Src: r.src}.Rand())
		out[i] = k
		left -= k
		mass -= p
	}
	return out
}

// simCase is one cell of the simulation grid.
type simCase struct {
	name    string
	refRows int64
	winRows int64
	// numeric: reference N(0, 1), window N(shift, scale^2) (scale 0 is 1).
	numeric bool
	shift   float64
	scale   float64
	// categorical: reference probabilities probs, window probabilities
	// winProbs (probs when nil) over categories "c0", "c1", ...
	probs    []float64
	winProbs []float64
}

// simOutcome counts alarms and test rejections over the replications.
type simOutcome struct{ runs, alarms, rejections int }

func (c simCase) run(t *testing.T, reps int, seed uint64) simOutcome {
	t.Helper()
	return c.runWith(t, reps, seed, ReportOptions{MinRows: 500})
}

func (c simCase) runWith(t *testing.T, reps int, seed uint64, opts ReportOptions) simOutcome {
	t.Helper()
	r := newSimRand(seed)
	var out simOutcome
	for range reps {
		var w *Tally
		if c.numeric {
			w = c.numericWindow(t, r)
		} else {
			w = c.categoricalWindow(t, r)
		}
		rep := mustReport(t, w, opts)
		out.runs++
		if rep.Drifted {
			out.alarms++
		}
		if rep.Features[0].AdjustedPValue <= rep.Options.FalseAlarmRate {
			out.rejections++
		}
	}
	return out
}

func (c simCase) numericWindow(t *testing.T, r simRand) *Tally {
	b, _ := NewProfileBuilder([]string{"x"}, nil, ProfileOptions{})
	for range c.refRows {
		_ = b.AddRow([]float64{r.NormFloat64()}, nil)
	}
	w, err := NewTally(b.Build())
	if err != nil {
		t.Fatal(err)
	}
	scale := c.scale
	if scale == 0 {
		scale = 1
	}
	if c.winRows <= 100_000 {
		for range c.winRows {
			_ = w.AddRow([]float64{scale*r.NormFloat64() + c.shift}, nil)
		}
		return w
	}
	grid := w.ref.num[0].grid
	probs := make([]float64, len(grid)+1)
	prev := 0.0
	for i, g := range grid {
		cdf := distuv.UnitNormal.CDF((g - c.shift) / scale)
		probs[i], prev = cdf-prev, cdf
	}
	probs[len(grid)] = 1 - prev
	n := &w.num[0]
	n.cells = r.multinomial(c.winRows, probs)
	n.offGrid = c.winRows
	n.min, n.max = grid[0], grid[len(grid)-1]
	w.rows = c.winRows
	return w
}

func (c simCase) categoricalWindow(t *testing.T, r simRand) *Tally {
	refCounts := r.multinomial(c.refRows, c.probs)
	counts := map[string]int64{}
	for i, n := range refCounts {
		if n > 0 {
			counts["c"+strconv.Itoa(i)] = n
		}
	}
	prof := Profile{FormatVersion: ProfileFormat, Rows: c.refRows, Options: DefaultProfileOptions(),
		Categorical: []CategoricalProfile{buildCategorical("colour", counts, 0, DefaultProfileOptions())}}
	w, err := NewTally(prof)
	if err != nil {
		t.Fatal(err)
	}
	probs := c.winProbs
	if probs == nil {
		probs = c.probs
	}
	cat := &w.cat[0]
	for i, n := range r.multinomial(c.winRows, probs) {
		if n > 0 {
			cat.addN("c"+strconv.Itoa(i), n)
		}
	}
	w.rows = c.winRows
	return w
}

func zipfWeights(k int) []float64 {
	w := make([]float64, k)
	total := 0.0
	for i := range w {
		w[i] = 1 / float64(i+1)
		total += w[i]
	}
	for i := range w {
		w[i] /= total
	}
	return w
}

func normalised(w []float64) []float64 {
	total := 0.0
	for _, v := range w {
		total += v
	}
	out := make([]float64, len(w))
	for i, v := range w {
		out[i] = v / total
	}
	return out
}

// withNewCategory returns base with a new last category taking share of
// the probability, the others scaled down.
func withNewCategory(base []float64, share float64) []float64 {
	out := make([]float64, len(base)+1)
	for i, p := range base {
		out[i] = p * (1 - share)
	}
	out[len(base)] = share
	return out
}

// withMixMove returns base with move of the first category's probability
// given to the others in proportion to theirs: a change of total
// variation move.
func withMixMove(base []float64, move float64) []float64 {
	out := slices.Clone(base)
	out[0] -= move
	for i := 1; i < len(out); i++ {
		out[i] += move * base[i] / (1 - base[0])
	}
	return out
}

// binomialBound is the most events out of n trials at rate p that are
// within three standard deviations of the mean.
func binomialBound(n int, p float64) float64 {
	return float64(n)*p + 3*math.Sqrt(float64(n)*p*(1-p))
}

func TestFalseAlarmRateHoldsAtEverySize(t *testing.T) {
	reps := 300
	if testing.Short() {
		reps = 60
	}
	const rate = 0.01 // DefaultReportOptions().FalseAlarmRate
	sizes := []struct{ ref, win int64 }{{500, 500}, {10_000, 500}, {500, 10_000}, {100_000, 1_000_000}}
	var cases []simCase
	for _, s := range []struct{ ref, win int64 }{{10_000, 500}, {2_000, 10_000}, {20_000, 1_000_000}} {
		cases = append(cases, simCase{name: fmt.Sprintf("numeric, %d reference rows, %d window rows", s.ref, s.win), refRows: s.ref, winRows: s.win, numeric: true})
	}
	for _, k := range []int{2, 20, 200, 500} {
		for _, law := range []struct {
			name  string
			probs []float64
		}{{"uniform", normalised(uniformWeights(k))}, {"Zipf", zipfWeights(k)}} {
			for _, s := range sizes {
				cases = append(cases, simCase{name: fmt.Sprintf("%d %s categories, %d reference rows, %d window rows", k, law.name, s.ref, s.win),
					refRows: s.ref, winRows: s.win, probs: law.probs})
			}
		}
	}
	var total simOutcome
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := c.run(t, reps, uint64(7000+i))
			total.runs += o.runs
			total.alarms += o.alarms
			total.rejections += o.rejections
			t.Logf("alarms %d/%d (%.2f%%), test rejections %d (%.2f%%)", o.alarms, o.runs, 100*float64(o.alarms)/float64(o.runs), o.rejections, 100*float64(o.rejections)/float64(o.runs))
			bound := binomialBound(o.runs, rate) + 1
			if float64(o.alarms) > bound {
				t.Errorf("%d alarms in %d unchanged windows, more than %.1f (rate %g plus three binomial standard deviations, plus one)", o.alarms, o.runs, bound, rate)
			}
			// The alarm also needs a large effect, so it fires less often
			// than the test rejects; the test alone must hold the rate too.
			if float64(o.rejections) > bound {
				t.Errorf("the test rejected %d of %d unchanged windows, more than %.1f", o.rejections, o.runs, bound)
			}
		})
	}
	t.Logf("all cells: alarms %d/%d (%.3f%%), test rejections %d (%.3f%%)", total.alarms, total.runs, 100*float64(total.alarms)/float64(total.runs),
		total.rejections, 100*float64(total.rejections)/float64(total.runs))
	bound := binomialBound(total.runs, rate)
	if float64(total.alarms) > bound {
		t.Errorf("%d alarms in %d unchanged windows over the grid, more than %.1f (rate %g plus three binomial standard deviations)", total.alarms, total.runs, bound, rate)
	}
	if float64(total.rejections) > bound {
		t.Errorf("the test rejected %d of %d unchanged windows over the grid, more than %.1f", total.rejections, total.runs, bound)
	}
}

func TestClearShiftsAreDetected(t *testing.T) {
	reps := 100
	if testing.Short() {
		reps = 30
	}
	twenty := normalised(uniformWeights(20))
	withNew := withNewCategory
	mixed := make([]float64, 20)
	for i := range mixed {
		mixed[i] = 1.8
		if i%2 == 1 {
			mixed[i] = 0.2
		}
	}
	mixed = normalised(mixed)
	tests := []struct {
		c        simCase
		minPower float64
	}{
		{simCase{name: "a mean shift of one standard deviation in 500 rows", refRows: 10_000, winRows: 500, numeric: true, shift: 1}, 0.95},
		{simCase{name: "a mean shift of one standard deviation in 1,000,000 rows", refRows: 20_000, winRows: 1_000_000, numeric: true, shift: 1}, 0.95},
		{simCase{name: "a new category with 10% of 500 rows", refRows: 10_000, winRows: 500, probs: twenty, winProbs: withNew(twenty, 0.1)}, 0.95},
		{simCase{name: "a new category with 10% of 10,000 rows", refRows: 10_000, winRows: 10_000, probs: twenty, winProbs: withNew(twenty, 0.1)}, 0.95},
		{simCase{name: "a new category with 20% of 10,000 rows among 200", refRows: 100_000, winRows: 10_000, probs: normalised(uniformWeights(200)), winProbs: withNew(normalised(uniformWeights(200)), 0.2)}, 0.95},
		{simCase{name: "a mix change of 20 categories (half 1.8x, half 0.2x) in 500 rows", refRows: 10_000, winRows: 500, probs: twenty, winProbs: mixed}, 0.95},
		{simCase{name: "a mix change of 20 categories in 1,000,000 rows", refRows: 100_000, winRows: 1_000_000, probs: twenty, winProbs: mixed}, 0.95},
	}
	for i, tt := range tests {
		t.Run(tt.c.name, func(t *testing.T) {
			o := tt.c.run(t, reps, uint64(9000+i))
			power := float64(o.alarms) / float64(o.runs)
			t.Logf("power %d/%d (%.1f%%)", o.alarms, o.runs, 100*power)
			if power < tt.minPower {
				t.Errorf("detected %d of %d shifted windows (%.1f%%), want at least %.0f%%", o.alarms, o.runs, 100*power, 100*tt.minPower)
			}
		})
	}
}

// The shifts of the drift-detection benchmark (bench/drift_compare.py: a
// reference and a window of the same size, Zipf categories) are small: their
// PSI is 0.029 to 0.106, below the moderate band. At 10,000 rows each their
// test is significant and their PSI excess above the default effect floor
// (0.02) in almost every window; the label shift, PSI 0.029, is the closest
// to the floor.
func TestTheBenchmarksShiftsAreDetectedIn10000Rows(t *testing.T) {
	reps := 60
	if testing.Short() {
		reps = 20
	}
	const n = 10_000
	tests := []struct {
		c        simCase
		minPower float64
	}{
		{simCase{name: "a mean shift of 0.2 standard deviations (PSI 0.038)", refRows: n, winRows: n, numeric: true, shift: 0.2}, 0.95},
		{simCase{name: "a standard deviation 1.3 times as large (PSI 0.087)", refRows: n, winRows: n, numeric: true, scale: 1.3}, 0.95},
		{simCase{name: "a label from 30% to 38% positive (PSI 0.029)", refRows: n, winRows: n, probs: []float64{0.7, 0.3}, winProbs: []float64{0.62, 0.38}}, 0.90},
	}
	for _, k := range []int{2, 20, 200} {
		z := zipfWeights(k)
		tests = append(tests,
			struct {
				c        simCase
				minPower float64
			}{simCase{name: fmt.Sprintf("a new category with 2%% of the rows among %d (PSI 0.106)", k), refRows: n, winRows: n, probs: z, winProbs: withNewCategory(z, 0.02)}, 0.95},
			struct {
				c        simCase
				minPower float64
			}{simCase{name: fmt.Sprintf("a mix change of total variation 0.10 among %d (PSI 0.042-0.100)", k), refRows: n, winRows: n, probs: z, winProbs: withMixMove(z, 0.10)}, 0.95})
	}
	for i, tt := range tests {
		t.Run(tt.c.name, func(t *testing.T) {
			o := tt.c.run(t, reps, uint64(13000+i))
			power := float64(o.alarms) / float64(o.runs)
			t.Logf("power %d/%d (%.1f%%), test rejections %d", o.alarms, o.runs, 100*power, o.rejections)
			if power < tt.minPower {
				t.Errorf("detected %d of %d shifted windows (%.1f%%), want at least %.0f%%", o.alarms, o.runs, 100*power, 100*tt.minPower)
			}
		})
	}
}

// Huge windows make every p-value tiny; the effect floor (a PSI excess of
// 0.02 by default) keeps a trivial shift, PSI 0.0096 and 0.0017 here, from
// raising an alarm. Without the floor both would drift.
func TestTrivialShiftsInHugeWindowsDoNotDrift(t *testing.T) {
	tests := []simCase{
		{name: "a mean shift of 0.1 standard deviations in 1,000,000 rows", refRows: 20_000, winRows: 1_000_000, numeric: true, shift: 0.1},
		{name: "20 categories, one of them 1 point more common, in 1,000,000 rows", refRows: 100_000, winRows: 1_000_000,
			probs: normalised(uniformWeights(20)), winProbs: normalised(append(uniformWeights(19), 1.2))},
	}
	for i, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			o := c.run(t, 20, uint64(11000+i))
			if o.rejections < o.runs/2 {
				t.Fatalf("the test rejected only %d of %d: the case is meant to be significant", o.rejections, o.runs)
			}
			if o.alarms > 0 {
				t.Errorf("%d of %d windows with a trivial shift drifted, want none", o.alarms, o.runs)
			}
			if bare := c.runWith(t, 20, uint64(11000+i), ReportOptions{MinRows: 500, MinPSIExcess: psiFloor(0)}); bare.alarms != bare.rejections {
				t.Errorf("with no effect floor %d of %d windows drifted, want every window the test rejects (%d)", bare.alarms, bare.runs, bare.rejections)
			}
		})
	}
}
