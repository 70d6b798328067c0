package evaluator

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// comparisonOrder is the order newRows sorted the rows into before
// scoreOrder: by cmpFloat, then by index.
func comparisonOrder(positive []float64) []int32 {
	order := make([]int32, len(positive))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := cmpFloat(positive[a], positive[b]); c != 0 {
			return c
		}
		return int(a - b)
	})
	return order
}

func TestScoreOrderIsTheComparisonSortsOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	distinct := make([]float64, 5000)
	for i := range distinct {
		distinct[i] = rng.Float64()
	}
	// 0, -0, the smallest subnormal, 1, and few distinct values, so that
	// most rows tie and the ties must stay in row order.
	special := []float64{0, math.Copysign(0, -1), math.SmallestNonzeroFloat64, 1, 0.5, 0.25, 1 - 0x1p-53}
	tied := make([]float64, 3000)
	for i := range tied {
		tied[i] = special[rng.IntN(len(special))]
	}
	rounded := roundScores(distinct)
	for name, pos := range map[string][]float64{
		"distinct": distinct, "special values, tied": tied, "rounded to two decimals": rounded,
		"one row": {0.3}, "two rows, -0 then 0": {math.Copysign(0, -1), 0}, "no rows": {},
		"every score equal": make([]float64, 257),
	} {
		if got, want := scoreOrder(pos), comparisonOrder(pos); !slices.Equal(got, want) {
			t.Errorf("%s: scoreOrder differs from the comparison sort", name)
		}
	}
}
