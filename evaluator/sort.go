package evaluator

import "math"

// scoreOrder returns the rows by ascending score, rows of equal scores by
// index: the order slices.SortFunc gives with cmpFloat and then the index
// (TestScoreOrderIsTheComparisonSortsOrder), found by a stable
// least-significant-digit radix sort on the bits of the scores, a byte a
// pass, in a few passes over the rows instead of n log n comparisons that
// each read two scores from scattered rows.
//
// The scores are probabilities, checked by newRows: no NaN, none below 0.
// The bits of a non-negative float64, read as an unsigned integer, are in
// the order of its value; -0, equal to 0 for cmpFloat, is made +0 (x + 0).
// A pass in which every score has the same byte changes nothing and is
// skipped: probabilities share their sign and most of their exponent bits.
func scoreOrder(positive []float64) []int32 {
	n := len(positive)
	keys := make([]uint64, n)
	order := make([]int32, n)
	var counts [8][256]int
	for i, p := range positive {
		k := math.Float64bits(p + 0)
		keys[i], order[i] = k, int32(i)
		for d := range 8 {
			counts[d][byte(k>>(8*d))]++
		}
	}
	if n == 0 {
		return order
	}
	var tmpKeys []uint64
	var tmpOrder []int32
	for d := range 8 {
		c := &counts[d]
		if c[byte(keys[0]>>(8*d))] == n {
			continue
		}
		if tmpKeys == nil {
			tmpKeys, tmpOrder = make([]uint64, n), make([]int32, n)
		}
		at := 0
		for b := range c {
			c[b], at = at, at+c[b]
		}
		for i, k := range keys {
			b := byte(k >> (8 * d))
			tmpKeys[c[b]], tmpOrder[c[b]] = k, order[i]
			c[b]++
		}
		keys, tmpKeys = tmpKeys, keys
		order, tmpOrder = tmpOrder, order
	}
	return order
}
