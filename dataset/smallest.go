package dataset

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// Smallest keeps, of the rows offered to it, the k whose key hash
// (KeyHash) is smallest: a sample of a fixed size, where Sampled keeps a
// fixed rate. It needs no count of the rows beforehand, so a window can be
// sampled in the same pass that counts it, and it holds at most k rows
// whatever the window's size.
//
// The order of the rows is total and depends on the rows alone: key hash
// first, then day, class and features (the bits of each float). Two rows
// that tie on all of it encode to the same bytes, so which of them is kept
// changes nothing; the rows kept, and the order Sorted gives them, are the
// same whichever goroutine offered which row first.
//
// Offer is safe for concurrent use. Rows of large hash are turned away by
// one atomic load once the sample is full (Admits), so the lock is taken
// for about k·ln(n/k) of n rows.
type Smallest struct {
	k, width int
	// bound is the largest hash a row may have to enter: the hash of the
	// largest row kept once k are kept, MaxUint64 before.
	bound atomic.Uint64

	mu   sync.Mutex
	hash []uint64
	day  []int32
	y    []int
	x    []float64 // width values per row
	heap []int32   // row slots, a max-heap by cmpSlots once k rows are kept
}

// NewSmallest returns a sample of at most k rows of width values each.
func NewSmallest(k, width int) *Smallest {
	s := &Smallest{k: max(k, 0), width: width}
	s.bound.Store(math.MaxUint64)
	return s
}

// Admits reports whether a row of hash h could enter the sample now. A
// row it turns away could not have entered later either: the bound only
// falls.
func (s *Smallest) Admits(h uint64) bool { return s.k > 0 && h <= s.bound.Load() }

// Offer adds the row (of day, class y and values x, len(x) == width) with
// key hash h if it is among the k smallest offered so far, and drops the
// largest row kept when the sample is over k. x is copied.
func (s *Smallest) Offer(h uint64, day int, y int, x []float64) {
	if !s.Admits(h) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.hash) < s.k {
		// Until the sample is full every row is kept: no order is needed,
		// and a window smaller than the cap never builds the heap.
		s.hash = append(s.hash, h)
		s.day = append(s.day, int32(day))
		s.y = append(s.y, y)
		s.x = append(s.x, x...)
		if len(s.hash) == s.k {
			s.heap = make([]int32, s.k)
			for i := range s.heap {
				s.heap[i] = int32(i)
			}
			for i := s.k/2 - 1; i >= 0; i-- {
				s.down(i)
			}
			s.bound.Store(s.hash[s.heap[0]])
		}
		return
	}
	root := s.heap[0]
	if s.cmpRow(h, int32(day), y, x, root) >= 0 {
		return
	}
	s.hash[root], s.day[root], s.y[root] = h, int32(day), y
	copy(s.x[int(root)*s.width:(int(root)+1)*s.width], x)
	s.down(0)
	s.bound.Store(s.hash[s.heap[0]])
}

// Len is how many rows the sample holds.
func (s *Smallest) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.hash)
}

// Sorted calls fn with every row kept, by day, then in the sample's order
// (key hash first). x is the sample's own storage: fn must not keep it.
// Sorted must not run concurrently with Offer.
func (s *Smallest) Sorted(fn func(day, y int, x []float64) error) error {
	type entry struct {
		hash      uint64
		day, slot int32
	}
	order := make([]entry, len(s.hash))
	for i := range order {
		order[i] = entry{hash: s.hash[i], day: s.day[i], slot: int32(i)}
	}
	slices.SortFunc(order, func(a, b entry) int {
		if a.day != b.day {
			return cmp.Compare(a.day, b.day)
		}
		if a.hash != b.hash {
			return cmp.Compare(a.hash, b.hash)
		}
		return s.cmpSlots(a.slot, b.slot)
	})
	for _, e := range order {
		if err := fn(int(e.day), s.y[e.slot], s.row(e.slot)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Smallest) row(slot int32) []float64 {
	return s.x[int(slot)*s.width : (int(slot)+1)*s.width]
}

// cmpRow orders the row (h, day, y, x) against the row in slot.
func (s *Smallest) cmpRow(h uint64, day int32, y int, x []float64, slot int32) int {
	if c := cmp.Compare(h, s.hash[slot]); c != 0 {
		return c
	}
	if c := cmp.Compare(day, s.day[slot]); c != 0 {
		return c
	}
	if c := cmp.Compare(y, s.y[slot]); c != 0 {
		return c
	}
	for j, v := range s.row(slot) {
		if c := cmp.Compare(math.Float64bits(x[j]), math.Float64bits(v)); c != 0 {
			return c
		}
	}
	return 0
}

func (s *Smallest) cmpSlots(a, b int32) int {
	if ha, hb := s.hash[a], s.hash[b]; ha != hb { // nearly always: the rest breaks ties
		return cmp.Compare(ha, hb)
	}
	return s.cmpRow(s.hash[a], s.day[a], s.y[a], s.row(a), b)
}

// up and down keep heap a max-heap: the root is the largest row kept.
func (s *Smallest) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if s.cmpSlots(s.heap[i], s.heap[parent]) <= 0 {
			return
		}
		s.heap[i], s.heap[parent] = s.heap[parent], s.heap[i]
		i = parent
	}
}

func (s *Smallest) down(i int) {
	n := len(s.heap)
	for {
		largest := i
		for _, c := range []int{2*i + 1, 2*i + 2} {
			if c < n && s.cmpSlots(s.heap[c], s.heap[largest]) > 0 {
				largest = c
			}
		}
		if largest == i {
			return
		}
		s.heap[i], s.heap[largest] = s.heap[largest], s.heap[i]
		i = largest
	}
}
