package evaluator

import (
	"math"
	"strings"
	"testing"
)

func TestPairedTestsOnDegenerateRows(t *testing.T) {
	cases := []struct {
		name                   string
		champion, challenger   []float64
		wantErr                string // part of the error, "" for none
		wantNonZero            int
		wantT, wantTP          *float64
		wantWilcoxon           string
		wantWPlus, wantWilcoxP *float64
	}{
		{
			name:    "no rows are refused",
			wantErr: "no rows",
		},
		{
			name:     "losses of different lengths are refused",
			champion: []float64{1, 2}, challenger: []float64{1},
			wantErr: "2 champion losses but 1 challenger losses",
		},
		{
			name:     "a NaN loss is refused with its row",
			champion: []float64{1, 2, 3}, challenger: []float64{1, math.NaN(), 3},
			wantErr: "challenger loss of row 1 is NaN",
		},
		{
			name:     "an infinite loss is refused with its row",
			champion: []float64{math.Inf(1), 2}, challenger: []float64{1, 2},
			wantErr: "champion loss of row 0 is +Inf",
		},
		{
			name:     "all-zero differences are no evidence: p = 1",
			champion: []float64{1, 2, 3}, challenger: []float64{1, 2, 3},
			wantT: ptr(0), wantTP: ptr(1),
			wantWilcoxon: TestWilcoxonNormal, wantWPlus: ptr(0), wantWilcoxP: ptr(1),
		},
		{
			name:     "differences within the tie tolerance count as zero",
			champion: []float64{1, 2, 3}, challenger: []float64{1 + 1e-14, 2 - 1e-13, 3},
			wantT: ptr(0), wantTP: ptr(1),
			wantWilcoxon: TestWilcoxonNormal, wantWPlus: ptr(0), wantWilcoxP: ptr(1),
		},
		{
			name:     "one row leaves the t-test undefined, Wilcoxon's exact p is 1/2",
			champion: []float64{2}, challenger: []float64{1},
			wantNonZero:  1,
			wantWilcoxon: TestWilcoxonExact, wantWPlus: ptr(1), wantWilcoxP: ptr(0.5),
		},
		{
			name:     "the same improvement on every row gives the t-test p = 0 and no finite t",
			champion: []float64{2, 3, 4}, challenger: []float64{1, 2, 3},
			wantNonZero: 3, wantTP: ptr(0),
			wantWilcoxon: TestWilcoxonNormal, wantWPlus: ptr(6), wantWilcoxP: ptr(0.5 * math.Erfc((6-3)/math.Sqrt(3.5-24.0/48)/math.Sqrt2)),
		},
		{
			name:     "the same worsening on every row gives the t-test p = 1",
			champion: []float64{1, 2, 3}, challenger: []float64{2, 3, 4},
			wantNonZero: 3, wantTP: ptr(1),
			wantWilcoxon: TestWilcoxonNormal, wantWPlus: ptr(0), wantWilcoxP: ptr(0.5 * math.Erfc((0-3)/math.Sqrt(3.5-24.0/48)/math.Sqrt2)),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tt, errT := PairedTTest(c.champion, c.challenger)
			w, errW := WilcoxonSignedRank(c.champion, c.challenger)
			if c.wantErr != "" {
				for _, err := range []error{errT, errW} {
					if err == nil || !strings.Contains(err.Error(), c.wantErr) {
						t.Errorf("error %v, want one saying %q", err, c.wantErr)
					}
				}
				return
			}
			if errT != nil || errW != nil {
				t.Fatalf("unexpected errors: %v, %v", errT, errW)
			}
			if tt.NonZero != c.wantNonZero || w.NonZero != c.wantNonZero {
				t.Errorf("non-zero rows %d (t-test), %d (Wilcoxon), want %d", tt.NonZero, w.NonZero, c.wantNonZero)
			}
			samePointer(t, "t", tt.Statistic, c.wantT)
			samePointer(t, "t-test p", tt.PValue, c.wantTP)
			if w.Test != c.wantWilcoxon {
				t.Errorf("Wilcoxon test %q, want %q", w.Test, c.wantWilcoxon)
			}
			samePointer(t, "W+", w.Statistic, c.wantWPlus)
			samePointer(t, "Wilcoxon p", w.PValue, c.wantWilcoxP)
		})
	}
}

// samePointer fails unless got and want are both nil or hold values within
// 1e-12 of each other.
func samePointer(t *testing.T, what string, got, want *float64) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		t.Errorf("%s = %v, want %v", what, shown(got), shown(want))
	case math.Abs(*got-*want) > 1e-12:
		t.Errorf("%s = %.17g, want %.17g", what, *got, *want)
	}
}

func shown(p *float64) any {
	if p == nil {
		return "undefined"
	}
	return *p
}

func TestSignedRankNullDistribution(t *testing.T) {
	// n = 3: the 8 subsets of {1, 2, 3} have sums 0, 1, 2, 3, 3, 4, 5, 6.
	for _, c := range []struct {
		w    int
		want float64
	}{{0, 1}, {1, 7.0 / 8}, {3, 5.0 / 8}, {4, 3.0 / 8}, {6, 1.0 / 8}, {7, 0}} {
		if got := signedRankAtLeast(3, c.w); got != c.want {
			t.Errorf("P(W >= %d; n = 3) = %v, want %v", c.w, got, c.want)
		}
	}
}

func TestRowLossesRefuseAnUnknownLoss(t *testing.T) {
	_, err := RowLosses("hinge", []float64{1}, []float64{1})
	if err == nil || !strings.Contains(err.Error(), `unknown loss "hinge"`) {
		t.Errorf("error %v, want one naming the unknown loss", err)
	}
}
