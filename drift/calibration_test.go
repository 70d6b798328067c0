package drift

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// categorySampler draws categories "c0".."c(K-1)" with fixed probabilities.
type categorySampler struct {
	names []string
	cum   []float64
	rng   *rand.Rand
}

func newCategorySampler(weights []float64, seed uint64) *categorySampler {
	s := &categorySampler{rng: rand.New(rand.NewPCG(seed, 0x5eed))}
	total := 0.0
	for _, w := range weights {
		total += w
	}
	acc := 0.0
	for i, w := range weights {
		acc += w / total
		s.names = append(s.names, "c"+strconv.Itoa(i))
		s.cum = append(s.cum, acc)
	}
	return s
}

func (s *categorySampler) next() string {
	u := s.rng.Float64()
	lo, hi := 0, len(s.cum)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if s.cum[mid] > u {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return s.names[lo]
}

func uniformWeights(k int) []float64 {
	w := make([]float64, k)
	for i := range w {
		w[i] = 1
	}
	return w
}

// categoricalProfile builds the profile of rows drawn from s.
func categoricalProfile(t testing.TB, s *categorySampler, rows int) Profile {
	t.Helper()
	b, err := NewProfileBuilder(nil, []string{"colour"}, ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range rows {
		if err := b.AddRow(nil, []string{s.next()}); err != nil {
			t.Fatal(err)
		}
	}
	return b.Build()
}

// categoricalWindow fills a window against ref with rows drawn from s.
func categoricalWindow(t testing.TB, ref Profile, s *categorySampler, rows int) *Tally {
	t.Helper()
	w, err := NewTally(ref)
	if err != nil {
		t.Fatal(err)
	}
	for range rows {
		if err := w.AddRow(nil, []string{s.next()}); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// The cases of the issue that found the alarms uncalibrated: with no change
// at all, PSI alone flagged many-category features on small windows, and the
// goodness-of-fit chi-squared test, which takes the reference's proportions
// as exact, rejected far more often than its level.
func TestUnchangedWindowsDoNotDrift(t *testing.T) {
	tests := []struct {
		name       string
		categories int
		refRows    int
		winRows    int
		windows    int
		maxDrifted int // windows allowed to drift; about 1% expected
		maxReject  int // windows whose p-value may be at or below 0.01
	}{
		{name: "a 100-category feature on 500-row windows does not drift (before: 16 of 25 drifted)", categories: 100, refRows: 5000, winRows: 500, windows: 25, maxDrifted: 1, maxReject: 2},
		{name: "a 200-category feature on 500-row windows does not drift (before: 25 of 25)", categories: 200, refRows: 5000, winRows: 500, windows: 25, maxDrifted: 1, maxReject: 2},
		{name: "a 200-category feature on 1000-row windows does not drift (before: 27 of 40)", categories: 200, refRows: 5000, winRows: 1000, windows: 40, maxDrifted: 1, maxReject: 3},
		{name: "1000 against 1000 rows of 20 categories rejects at its level (goodness of fit: 27 of 40)", categories: 20, refRows: 1000, winRows: 1000, windows: 40, maxDrifted: 1, maxReject: 3},
		{name: "a 500-row reference against 20,000-row windows rejects at its level (goodness of fit: 40 of 40)", categories: 20, refRows: 500, winRows: 20000, windows: 40, maxDrifted: 1, maxReject: 3},
	}
	for i, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			s := newCategorySampler(uniformWeights(c.categories), uint64(1000+i))
			drifted, rejected := 0, 0
			for range c.windows {
				ref := categoricalProfile(t, s, c.refRows)
				r := mustReport(t, categoricalWindow(t, ref, s, c.winRows), ReportOptions{MinRows: 500})
				if r.Drifted {
					drifted++
				}
				if r.Features[0].PValue <= 0.01 {
					rejected++
				}
			}
			if drifted > c.maxDrifted {
				t.Errorf("%d of %d unchanged windows drifted, want at most %d", drifted, c.windows, c.maxDrifted)
			}
			if rejected > c.maxReject {
				t.Errorf("the test rejected %d of %d unchanged windows at 0.01, want at most %d", rejected, c.windows, c.maxReject)
			}
		})
	}
}

// A single row of a category the reference never saw is no evidence of
// drift; the goodness-of-fit test gave it p = 1.7e-41.
func TestOneRowOfAnUnseenCategoryIsNotDrift(t *testing.T) {
	for _, rows := range []int{1000, 20000} {
		t.Run(fmt.Sprintf("in a %d-row window", rows), func(t *testing.T) {
			b, _ := NewProfileBuilder(nil, []string{"colour"}, ProfileOptions{})
			for i := range 500 {
				_ = b.AddRow(nil, []string{[]string{"blue", "green"}[i%2]})
			}
			w, _ := NewTally(b.Build())
			for i := range rows - 1 {
				_ = w.AddRow(nil, []string{[]string{"blue", "green"}[i%2]})
			}
			_ = w.AddRow(nil, []string{"violet"})
			r := mustReport(t, w, ReportOptions{MinRows: 500})
			f := r.Features[0]
			if f.PValue < 0.5 || r.Drifted {
				t.Errorf("p-value %g, drifted %v: want a p-value of 0.5 or more and no drift (%v)", f.PValue, r.Drifted, r.Reasons)
			}
		})
	}
}

func TestPoolSparse(t *testing.T) {
	tests := []struct {
		name       string
		a, b       []float64
		wantA      []float64
		wantB      []float64
		wantPooled int
	}{
		{name: "well-filled buckets stay as they are and empty ones go",
			a: []float64{50, 0, 50}, b: []float64{40, 0, 60}, wantA: []float64{50, 50}, wantB: []float64{40, 60}},
		{name: "sparse buckets become one bucket, last",
			a: []float64{50, 1, 0, 49}, b: []float64{40, 0, 1, 59}, wantA: []float64{50, 49, 1}, wantB: []float64{40, 59, 1}, wantPooled: 2},
		{name: "a pooled bucket still sparse joins the bucket with the fewest rows",
			a: []float64{50, 0, 30, 20}, b: []float64{40, 1, 30, 30}, wantA: []float64{50, 30, 20}, wantB: []float64{40, 30, 31}, wantPooled: 2},
		{name: "sparse is judged on the smaller sample",
			a: []float64{9, 1}, b: []float64{9000, 1000}, wantA: []float64{9, 1}, wantB: []float64{9000, 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b, pooled := PoolSparse(tt.a, tt.b, MinExpectedCount)
			if !slices.Equal(a, tt.wantA) || !slices.Equal(b, tt.wantB) || pooled != tt.wantPooled {
				t.Errorf("PoolSparse = %v, %v, %d pooled; want %v, %v, %d", a, b, pooled, tt.wantA, tt.wantB, tt.wantPooled)
			}
		})
	}
}

// A numeric feature that starts arriving empty has drifted although its
// present values did not move: its share of missing values is tested too.
func TestANumericFeatureThatGoesMissingDrifts(t *testing.T) {
	r := newSimRand(5)
	b, _ := NewProfileBuilder([]string{"x"}, nil, ProfileOptions{})
	for range 5000 {
		_ = b.AddRow([]float64{r.NormFloat64()}, nil)
	}
	w, _ := NewTally(b.Build())
	for i := range 2000 {
		x := r.NormFloat64()
		if i%10 < 3 {
			x = math.NaN()
		}
		_ = w.AddRow([]float64{x}, nil)
	}
	f := mustReport(t, w, ReportOptions{}).Features[0]
	if !f.Drifted || f.MissingShare == nil || f.KS.PValue < 0.01 {
		t.Errorf("drifted %v, missing share test %+v, KS p %g: want a drift the missing share test finds and KS does not", f.Drifted, f.MissingShare, f.KS.PValue)
	}
}
