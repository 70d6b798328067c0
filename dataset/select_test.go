package dataset

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSelectKthIsTheSortedValue holds the quickselect of Smallest's cuts to
// the value a sort puts at k, on random values, many duplicates, sorted and
// reversed input, and one or two values.
func TestSelectKthIsTheSortedValue(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	inputs := [][]uint64{{5}, {2, 1}, {1, 1}}
	for _, n := range []int{3, 10, 100, 1000, 5000} {
		random, dup, asc := make([]uint64, n), make([]uint64, n), make([]uint64, n)
		for i := range n {
			random[i], dup[i], asc[i] = r.Uint64(), uint64(r.IntN(4)), uint64(i)
		}
		desc := slices.Clone(asc)
		slices.Reverse(desc)
		inputs = append(inputs, random, dup, asc, desc)
	}
	for _, in := range inputs {
		want := slices.Sorted(slices.Values(in))
		for _, k := range []int{0, len(in) / 3, len(in) / 2, len(in) - 1} {
			if got := selectKth(slices.Clone(in), k); got != want[k] {
				t.Fatalf("selectKth(%d values, %d) = %d, want %d", len(in), k, got, want[k])
			}
		}
	}
}
