package trainer

import (
	"math"
	"math/rand/v2"
	"slices"
)

// This file holds the feature transforms that models store so that prediction transforms rows
// exactly as training did: standardisation with one-hot encoding (logistic, knn), quantile
// binning (id3, forest) and binarisation (naive_bayes). All of them are computed on the training
// rows only.

// epsilon is the float64 machine epsilon.
const epsilon = 2.220446049250313e-16

// standardizer maps a row to standardised numeric values followed by one-hot categoricals.
// Numeric feature j becomes (x - mean[j]) / scale[j], with scale the population standard deviation
// (1 for a constant feature, as scikit-learn's StandardScaler does). Categorical feature j with C
// categories becomes C columns, 1 at the category's index; an unknown category (-1) is all zeros.
type standardizer struct {
	mean, scale []float64 // per feature; 0 and 1 for categorical features
	offset      []int     // first column of each feature
	cols        int
}

func newStandardizer(s Schema, x [][]float64) *standardizer {
	st := &standardizer{mean: make([]float64, len(s.Features)), scale: make([]float64, len(s.Features))}
	n := float64(len(x))
	for j, f := range s.Features {
		st.mean[j], st.scale[j] = 0, 1
		if f.Kind != Numeric {
			continue
		}
		var sum float64
		for _, row := range x {
			sum += row[j]
		}
		mean := sum / n
		var ss float64
		for _, row := range x {
			d := row[j] - mean
			ss += d * d
		}
		st.mean[j] = mean
		// A (numerically) constant feature keeps scale 1, as scikit-learn's StandardScaler does.
		if sd := math.Sqrt(ss / n); sd > 10*epsilon && sd > 1e-12*math.Abs(mean) {
			st.scale[j] = sd
		}
	}
	st.layout(s)
	return st
}

func (st *standardizer) layout(s Schema) {
	st.offset = make([]int, len(s.Features))
	c := 0
	for j, f := range s.Features {
		st.offset[j] = c
		if f.Kind == Numeric {
			c++
		} else {
			c += len(f.Categories)
		}
	}
	st.cols = c
}

// transform writes the encoded row into dst (len st.cols), which it zeroes first.
func (st *standardizer) transform(s Schema, row, dst []float64) {
	clear(dst)
	for j, f := range s.Features {
		if f.Kind == Numeric {
			dst[st.offset[j]] = (row[j] - st.mean[j]) / st.scale[j]
		} else if c := int(row[j]); c >= 0 {
			dst[st.offset[j]+c] = 1
		}
	}
}

func (st *standardizer) encode(e *encoder) {
	e.floats(st.mean)
	e.floats(st.scale)
}

func decodeStandardizer(d *decoder, s Schema) *standardizer {
	st := &standardizer{
		mean:  d.floatsN(len(s.Features), "feature means"),
		scale: d.floatsN(len(s.Features), "feature scales"),
	}
	for _, v := range st.scale {
		if d.err == nil && v <= 0 {
			d.failf("feature scale %v is not positive", v)
		}
	}
	st.layout(s)
	return st
}

// binner maps each feature to a small integer "slot" for the tree algorithms. A numeric feature
// with edges e[0] < e[1] < ... goes to slot i when e[i-1] < x <= e[i] (slot 0 below or at e[0],
// slot len(e) above the last edge). A categorical feature's slot is its category index, and the
// extra slot len(categories) holds the unknown category (-1).
type binner struct {
	numeric []bool
	edges   [][]float64 // per feature; nil for categorical features
	slots   []int       // number of slots per feature
}

// newBinner computes quantile edges: the distinct values at ranks n·i/bins (i = 1..bins-1) of
// each numeric feature's sorted training values, without an edge at the maximum (it would leave
// the top bin empty). Ties in the data can make fewer bins than asked.
func newBinner(s Schema, x [][]float64, bins int) *binner {
	b := &binner{edges: make([][]float64, len(s.Features))}
	sortedNumeric(s, x, func(j int, vals []float64) {
		max := vals[len(vals)-1]
		var edges []float64
		for i := 1; i < bins; i++ {
			e := vals[(len(vals)*i)/bins]
			if e < max && (len(edges) == 0 || e > edges[len(edges)-1]) {
				edges = append(edges, e)
			}
		}
		b.edges[j] = edges
	})
	b.layout(s)
	return b
}

// sortedNumeric calls fn with the index and the sorted values of each
// numeric feature of x in turn; vals is reused from one call to the next.
func sortedNumeric(s Schema, x [][]float64, fn func(j int, vals []float64)) {
	vals := make([]float64, len(x))
	for j, f := range s.Features {
		if f.Kind != Numeric {
			continue
		}
		for i, row := range x {
			vals[i] = row[j]
		}
		slices.Sort(vals)
		fn(j, vals)
	}
}

func (b *binner) layout(s Schema) {
	b.slots = make([]int, len(s.Features))
	b.numeric = make([]bool, len(s.Features))
	for j, f := range s.Features {
		b.numeric[j] = f.Kind == Numeric
		if f.Kind == Numeric {
			b.slots[j] = len(b.edges[j]) + 1
		} else {
			b.slots[j] = len(f.Categories) + 1
		}
	}
}

// slot returns the slot of value v of feature j.
func (b *binner) slot(j int, v float64) int {
	if b.numeric[j] {
		i, _ := slices.BinarySearch(b.edges[j], v) // index of the first edge >= v
		return i
	}
	if v < 0 {
		return b.slots[j] - 1
	}
	return int(v)
}

func (b *binner) encode(e *encoder, s Schema) {
	for j, f := range s.Features {
		if f.Kind == Numeric {
			e.floats(b.edges[j])
		}
	}
}

func decodeBinner(d *decoder, s Schema) *binner {
	b := &binner{edges: make([][]float64, len(s.Features))}
	for j, f := range s.Features {
		if f.Kind != Numeric || d.err != nil {
			continue
		}
		n := d.count(8, "bin edges")
		if n > maxBins-1 {
			d.failf("feature %q has %d bin edges (at most %d)", f.Name, n, maxBins-1)
		}
		edges := make([]float64, 0, n)
		for range n {
			v := d.finite("bin edge")
			if len(edges) > 0 && v <= edges[len(edges)-1] {
				d.failf("bin edges of feature %q are not increasing", f.Name)
			}
			edges = append(edges, v)
		}
		b.edges[j] = edges
	}
	b.layout(s)
	return b
}

// binarizer maps a row to 0/1 columns for naive Bayes: a numeric feature becomes one column,
// 1 when the value is above the feature's training median; a categorical feature with C categories
// becomes C one-hot columns (all 0 for the unknown category).
type binarizer struct {
	median []float64 // per feature; 0 for categorical features
	offset []int
	cols   int
}

func newBinarizer(s Schema, x [][]float64) *binarizer {
	b := &binarizer{median: make([]float64, len(s.Features))}
	sortedNumeric(s, x, func(j int, vals []float64) {
		n := len(vals)
		if n%2 == 1 {
			b.median[j] = vals[n/2]
		} else {
			b.median[j] = vals[n/2-1]/2 + vals[n/2]/2
		}
	})
	b.layout(s)
	return b
}

func (b *binarizer) layout(s Schema) {
	st := standardizer{}
	st.layout(s)
	b.offset, b.cols = st.offset, st.cols
}

// transform writes the row's 0/1 columns into dst (len b.cols).
func (b *binarizer) transform(s Schema, row []float64, dst []bool) {
	clear(dst)
	for j, f := range s.Features {
		if f.Kind == Numeric {
			dst[b.offset[j]] = row[j] > b.median[j]
		} else if c := int(row[j]); c >= 0 {
			dst[b.offset[j]+c] = true
		}
	}
}

// sampleRows returns max row indexes out of n, in increasing order, drawn without replacement with
// a generator seeded by seed, or every index when n <= max. The same (n, max, seed) always gives
// the same rows.
func sampleRows(n, max int, seed uint64) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	if n <= max {
		return idx
	}
	r := rand.New(rand.NewPCG(seed, 0x6b696e676d616b72))
	for i := range max { // partial Fisher-Yates
		k := i + r.IntN(n-i)
		idx[i], idx[k] = idx[k], idx[i]
	}
	idx = idx[:max]
	slices.Sort(idx)
	return idx
}

// subset returns the rows (and labels) at idx, sharing the row slices with d.
func (d *Data) subset(idx []int) (x [][]float64, y []int) {
	if len(idx) == len(d.X) {
		return d.X, d.Y
	}
	x = make([][]float64, len(idx))
	y = make([]int, len(idx))
	for i, k := range idx {
		x[i], y[i] = d.X[k], d.Y[k]
	}
	return x, y
}
