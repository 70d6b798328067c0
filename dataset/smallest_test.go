package dataset_test

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/kingmaker-ml/kingmaker/dataset"
)

type offered struct {
	h, o   uint64 // key hash, order hash
	day, y int
	x      []float64
}

// bySelection is the order Smallest keeps rows by: key hash, day, class,
// values.
func bySelection(a, b offered) int {
	if c := cmp.Compare(a.h, b.h); c != 0 {
		return c
	}
	if c := cmp.Compare(a.day, b.day); c != 0 {
		return c
	}
	return byContent(a, b)
}

// byListing is the order Sorted lists them in: day, order hash, then as
// bySelection.
func byListing(a, b offered) int {
	if c := cmp.Compare(a.day, b.day); c != 0 {
		return c
	}
	if c := cmp.Compare(a.o, b.o); c != 0 {
		return c
	}
	return bySelection(a, b)
}

func byContent(a, b offered) int {
	if c := cmp.Compare(a.y, b.y); c != 0 {
		return c
	}
	for j := range a.x {
		if c := cmp.Compare(math.Float64bits(a.x[j]), math.Float64bits(b.x[j])); c != 0 {
			return c
		}
	}
	return 0
}

// TestSmallestKeepsTheKSmallestWhateverTheOrder offers the same rows in
// different orders from several goroutines at once and checks that the
// sample is the k rows of smallest hash (ties broken by day, class and
// values), listed by day and then order hash, every time.
func TestSmallestKeepsTheKSmallestWhateverTheOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const width = 3
	var rows []offered
	for i := range 5000 {
		h := r.Uint64()
		if i%10 == 0 {
			h = uint64(r.IntN(50)) // many ties on the hash
		}
		x := []float64{r.NormFloat64(), float64(r.IntN(2)), float64(i % 4)}
		if i%25 == 0 {
			x = []float64{0, 0, 0} // rows that tie on everything but the day
		}
		o := r.Uint64()
		if i%7 == 0 {
			o = uint64(r.IntN(20)) // ties on the order hash, broken as the selection breaks them
		}
		rows = append(rows, offered{h: h, o: o, day: r.IntN(7), y: r.IntN(3), x: x})
	}
	for _, k := range []int{0, 1, 37, 1000, 4999, 5000, 7000} {
		want := slices.Clone(rows)
		slices.SortFunc(want, bySelection)
		want = want[:min(k, len(want))]
		slices.SortFunc(want, byListing)
		for trial := range 3 {
			s := dataset.NewSmallest(k, width)
			perm := r.Perm(len(rows))
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					for i := g; i < len(perm); i += 4 {
						o := rows[perm[i]]
						s.Offer(o.h, o.o, o.day, o.y, o.x)
					}
				})
			}
			wg.Wait()
			if s.Len() != len(want) {
				t.Fatalf("k=%d trial %d: kept %d rows, want %d", k, trial, s.Len(), len(want))
			}
			var got []offered
			if err := s.Sorted(func(day, y int, x []float64) error {
				got = append(got, offered{day: day, y: y, x: slices.Clone(x)})
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			for i := range want {
				w := want[i]
				if got[i].day != w.day || got[i].y != w.y || !slices.Equal(got[i].x, w.x) {
					t.Fatalf("k=%d trial %d: row %d is %+v, want %+v", k, trial, i, got[i], w)
				}
			}
		}
	}
}

// TestSmallestIsTheSampleOfTheKthHash checks the claim that makes the
// sample a Sampled sample: the rows kept are exactly those Sampled keeps at
// the rate just above the k-th smallest hash.
func TestSmallestIsTheSampleOfTheKthHash(t *testing.T) {
	const n, k, seed = 20000, 1500, 99
	s := dataset.NewSmallest(k, 1)
	hashes := make([]uint64, n)
	for i := range n {
		key := fmt.Sprintf("row-%06d", i)
		hashes[i] = dataset.KeyHash(key, seed)
		s.Offer(hashes[i], 0, 0, 0, []float64{float64(i)})
	}
	sorted := slices.Sorted(slices.Values(hashes))
	kth := sorted[k-1]
	kept := map[float64]bool{}
	s.Sorted(func(_, _ int, x []float64) error { kept[x[0]] = true; return nil })
	for i, h := range hashes {
		if (h <= kth) != kept[float64(i)] {
			t.Fatalf("row %d (hash %#x, k-th %#x): kept %v", i, h, kth, kept[float64(i)])
		}
	}
}

// BenchmarkSmallest offers 1.5M training rows of 9 values to a sample of
// 200k (the 2M-row scale benchmark's training side) and sorts it, as one
// run's read does.
func BenchmarkSmallest(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	const n, k, width = 1_500_000, 200_000, 9
	hashes := make([]uint64, n)
	for i := range hashes {
		hashes[i] = r.Uint64()
	}
	x := make([]float64, width)
	for b.Loop() {
		s := dataset.NewSmallest(k, width)
		for i, h := range hashes {
			s.Offer(h, h^0x9e3779b97f4a7c15, i/(n/10), i%2, x)
		}
		s.Sorted(func(_, _ int, _ []float64) error { return nil })
	}
}
