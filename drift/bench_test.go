package drift

import (
	"fmt"
	"math"
	"sync"
	"testing"
)

// The benchmark data: 8 numeric and 2 categorical features, the same values
// as drift/testdata/bench_numpy.py makes (see benchData there), so that the
// rows/s of both can be compared.
const (
	benchNumeric     = 8
	benchCategorical = 2
	benchRefRows     = 100_000
	benchRows        = 1_000_000
)

var benchCategories = [benchCategorical]uint64{20, 200}

type benchSet struct {
	num  []float64 // row-major, benchNumeric per row
	cat  []string  // row-major, benchCategorical per row
	rows int
}

func (s *benchSet) row(i int) ([]float64, []string) {
	return s.num[i*benchNumeric : (i+1)*benchNumeric], s.cat[i*benchCategorical : (i+1)*benchCategorical]
}

// makeBenchSet builds rows from seed base: numeric feature j is Irwin-Hall
// normal with mean j+shift and scale 1+j/4, one value in a thousand NaN;
// categorical feature c is "c%03d" of splitmix64 modulo its number of
// categories plus extra (extra > 0 makes unseen categories).
func makeBenchSet(base uint64, rows int, shift float64, extra uint64) *benchSet {
	s := &benchSet{num: make([]float64, rows*benchNumeric), cat: make([]string, rows*benchCategorical), rows: rows}
	for j := range benchNumeric {
		col := genNormal(base+uint64(j), rows, float64(j)+shift, 1+float64(j)/4)
		for i, v := range col {
			if splitmix64(base+100+uint64(j), uint64(i+1))%1000 == 0 {
				v = math.NaN()
			}
			s.num[i*benchNumeric+j] = v
		}
	}
	for c := range benchCategorical {
		k := benchCategories[c] + extra
		names := make([]string, k)
		for i := range names {
			names[i] = fmt.Sprintf("c%03d", i)
		}
		for i := range rows {
			s.cat[i*benchCategorical+c] = names[splitmix64(base+200+uint64(c), uint64(i+1))%k]
		}
	}
	return s
}

var bench = sync.OnceValues(func() (Profile, *benchSet) {
	ref := makeBenchSet(1000, benchRefRows, 0, 0)
	names := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s%d", prefix, i)
		}
		return out
	}
	b, err := NewProfileBuilder(names("x", benchNumeric), names("c", benchCategorical), ProfileOptions{})
	if err != nil {
		panic(err)
	}
	for i := range ref.rows {
		if err := b.AddRow(ref.row(i)); err != nil {
			panic(err)
		}
	}
	return b.Build(), makeBenchSet(2000, benchRows, 0.1, 2)
})

func fill(b *testing.B, ref Profile, data *benchSet, from, to int) *Tally {
	w, err := NewTally(ref)
	if err != nil {
		b.Fatal(err)
	}
	for i := from; i < to; i++ {
		num, cat := data.row(i)
		if err := w.AddRow(num, cat); err != nil {
			b.Fatal(err)
		}
	}
	return w
}

// BenchmarkWindow1M adds 1M rows of 10 features to a fresh window per
// iteration and reports rows per second.
func BenchmarkWindow1M(b *testing.B) {
	ref, data := bench()
	b.ReportAllocs()
	var w *Tally
	for b.Loop() {
		w = fill(b, ref, data, 0, data.rows)
	}
	b.ReportMetric(float64(data.rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.Logf("checksum %d (bench_numpy.py prints the same)", benchChecksum(w))
}

// benchChecksum is sum over features of sum_k k*count[k] over the cells,
// then the missing and unseen counts, as bench_numpy.py computes it.
func benchChecksum(w *Tally) int64 {
	var sum int64
	for _, n := range w.num {
		for k, c := range n.cells {
			sum += int64(k) * c
		}
		sum += n.missing
	}
	for _, c := range w.cat {
		for k, n := range c.counts {
			sum += int64(k) * n
		}
		sum += c.missing
	}
	return sum
}

// BenchmarkWindowAddRow is the cost of one row of 10 features.
func BenchmarkWindowAddRow(b *testing.B) {
	ref, data := bench()
	w, err := NewTally(ref)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		num, cat := data.row(i)
		_ = w.AddRow(num, cat)
		if i++; i == data.rows {
			i = 0
		}
	}
}

// BenchmarkWindowParallel fills one window per core from halves of the 1M
// rows and merges them, as day partitions would be.
func BenchmarkWindowParallel(b *testing.B) {
	ref, data := bench()
	const parts = 2
	for b.Loop() {
		windows := make([]*Tally, parts)
		var wg sync.WaitGroup
		for p := range parts {
			wg.Go(func() { windows[p] = fill(b, ref, data, p*data.rows/parts, (p+1)*data.rows/parts) })
		}
		wg.Wait()
		for _, w := range windows[1:] {
			if err := windows[0].Merge(w); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(data.rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkReport is the cost of a report over 10 features once the window
// is full (a KS p-value per numeric feature dominates).
func BenchmarkReport(b *testing.B) {
	ref, data := bench()
	w := fill(b, ref, data, 0, data.rows)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Report(ReportOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMerge merges two full windows of 10 features.
func BenchmarkMerge(b *testing.B) {
	ref, data := bench()
	w1 := fill(b, ref, data, 0, 1000)
	w2 := fill(b, ref, data, 1000, 2000)
	for b.Loop() {
		_ = w1.Merge(w2)
	}
}

// BenchmarkBuildProfile builds a profile from 100k training rows of 10 features.
func BenchmarkBuildProfile(b *testing.B) {
	_, _ = bench()
	data := makeBenchSet(1000, benchRefRows, 0, 0)
	names := []string{"x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7"}
	for b.Loop() {
		pb, _ := NewProfileBuilder(names, []string{"c0", "c1"}, ProfileOptions{})
		for i := range data.rows {
			_ = pb.AddRow(data.row(i))
		}
		pb.Build()
	}
	b.ReportMetric(float64(data.rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkKS2Samp(b *testing.B) {
	cases := []struct {
		name   string
		n1, n2 int
	}{
		{"exact_2000x3000", 2000, 3000},
		{"exact_10000x7000", 10000, 7000},
		{"asymptotic_50000x50000", 50000, 50000},
	}
	for _, c := range cases {
		x := genNormal(1, c.n1, 0, 1)
		y := genNormal(2, c.n2, 0.02, 1)
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				KS2Samp(x, y)
			}
		})
	}
}
