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
// sampled in the same pass that counts it, and it holds at most about
// 1.25·k rows whatever the window's size.
//
// Which rows are kept depends on the rows alone: key hash first, then day,
// class and features (the bits of each float). Two rows that tie on all
// of it encode to the same bytes, so which of them is kept changes
// nothing. Sorted lists the rows kept by day, then by a second hash each
// row is offered with, its order (OrderHash: the same for every run), then
// as above. So the rows kept, and their order, are the same whichever
// goroutine offered which row first; and two runs that keep the same rows
// (every row of a small window) list them in the same order, whatever
// their seeds, so their trainings and metrics agree to the last bit.
//
// How: rows are appended to a buffer of k + k/4 rows; when it is full, it
// is cut back to its k smallest rows (a linear selection on the hashes and
// one pass that moves the kept rows down), and the hash of the largest row
// kept becomes the bound no later row above it can pass. No ordering work
// is done per row: of n rows in random order about k·(1 + ln(n/k)) are
// admitted, so the cuts cost about 4·ln(n/k) linear passes over the buffer
// in all. (A heap ordered on every admitted row cost 15 CPU seconds at 20M
// rows: its scattered reads missed the cache on every comparison.)
//
// Offer is safe for concurrent use. Rows of large hash are turned away by
// one atomic load (Admits) once the first cut has set the bound.
type Smallest struct {
	k, width int
	// limit is the buffer's size: a cut happens when it is full.
	limit int
	// bound is the largest hash a row may have to enter: the hash of the
	// largest row kept by the last cut, MaxUint64 before the first.
	bound atomic.Uint64

	mu    sync.Mutex
	hash  []uint64
	order []uint64
	day   []int32
	y     []int
	x     []float64 // width values per row
	// scratch holds a copy of the hashes for cut's selection.
	scratch []uint64
}

// NewSmallest returns a sample of at most k rows of width values each.
func NewSmallest(k, width int) *Smallest {
	k = max(k, 0)
	s := &Smallest{k: k, width: width, limit: k + max(k/4, 64)}
	if s.limit < k { // k near MaxInt: keep everything, never cut
		s.limit = math.MaxInt
	}
	s.bound.Store(math.MaxUint64)
	return s
}

// Admits reports whether a row of hash h could enter the sample now. A
// row it turns away could not have entered later either: the bound only
// falls.
func (s *Smallest) Admits(h uint64) bool { return s.k > 0 && h <= s.bound.Load() }

// Offer adds the row (of day, class y and values x, len(x) == width) with
// key hash h and order hash o unless it cannot be among the k smallest. x
// is copied.
func (s *Smallest) Offer(h, o uint64, day int, y int, x []float64) {
	if !s.Admits(h) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if h > s.bound.Load() { // the bound fell while this row waited for the lock
		return
	}
	s.hash = append(s.hash, h)
	s.order = append(s.order, o)
	s.day = append(s.day, int32(day))
	s.y = append(s.y, y)
	s.x = append(s.x, x...)
	if len(s.hash) >= s.limit {
		s.cut()
	}
}

// entry is a row's sort key: its hashes and day, and where it is stored.
type entry struct {
	hash, order uint64
	day, slot   int32
}

// keys returns every stored row's key.
func (s *Smallest) keys() []entry {
	e := make([]entry, len(s.hash))
	for i := range e {
		e[i] = entry{hash: s.hash[i], order: s.order[i], day: s.day[i], slot: int32(i)}
	}
	return e
}

// byRow orders entries as the sample does: hash, then day, class and
// values.
func (s *Smallest) byRow(a, b entry) int {
	if a.hash != b.hash { // nearly always: the rest breaks ties
		return cmp.Compare(a.hash, b.hash)
	}
	return s.cmpRow(a.hash, a.day, s.y[a.slot], s.row(a.slot), b.slot)
}

// cut keeps the k smallest stored rows, moved to the front in slot order,
// and lowers the bound to the largest of them. The caller holds mu.
//
// It selects the k-th smallest hash t (quickselect on a copy of the
// hashes: linear, on 8 contiguous bytes a row), keeps every row below t
// and, of the rows at t (nearly always one), the smallest by the rest of
// the order, then moves the kept rows down in one pass.
func (s *Smallest) cut() {
	n := len(s.hash)
	if n <= s.k {
		return
	}
	s.scratch = append(s.scratch[:0], s.hash...)
	t := selectKth(s.scratch, s.k-1)
	below := 0
	var at []int32
	for i, h := range s.hash {
		if h < t {
			below++
		} else if h == t {
			at = append(at, int32(i))
		}
	}
	if need := s.k - below; need < len(at) {
		slices.SortFunc(at, s.cmpSlots)
		at = at[:need]
		slices.Sort(at)
	}
	// In slot order every kept row moves down or stays: no row is
	// overwritten before it has moved.
	to := 0
	for from, h := range s.hash {
		keep := h < t
		if h == t && len(at) > 0 && int(at[0]) == from {
			keep, at = true, at[1:]
		}
		if !keep {
			continue
		}
		if from != to {
			s.hash[to], s.order[to], s.day[to], s.y[to] = h, s.order[from], s.day[from], s.y[from]
			copy(s.x[to*s.width:(to+1)*s.width], s.x[from*s.width:(from+1)*s.width])
		}
		to++
	}
	s.hash, s.order, s.day, s.y, s.x = s.hash[:s.k], s.order[:s.k], s.day[:s.k], s.y[:s.k], s.x[:s.k*s.width]
	s.bound.Store(t)
}

// selectKth reorders a and returns its k-th smallest value (0-based):
// Hoare's quickselect with a median-of-three pivot. The hashes are random,
// so the expected cost is linear.
func selectKth(a []uint64, k int) uint64 {
	lo, hi := 0, len(a)-1
	for lo < hi {
		x, y, z := a[lo], a[lo+(hi-lo)/2], a[hi]
		p := max(min(x, y), min(max(x, y), z)) // the median of the three
		i, j := lo, hi
		for i <= j {
			for a[i] < p {
				i++
			}
			for a[j] > p {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default: // between j and i every value is p
			return a[k]
		}
	}
	return a[k]
}

func (s *Smallest) cmpSlots(a, b int32) int {
	return s.cmpRow(s.hash[a], s.day[a], s.y[a], s.row(a), b)
}

// Len is how many rows the sample holds: at most k.
func (s *Smallest) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cut()
	return len(s.hash)
}

// Sorted calls fn with every row kept, by day, then by order hash, then in
// the sample's order (key hash first). x is the sample's own storage: fn
// must not keep it.
// Sorted must not run concurrently with Offer.
func (s *Smallest) Sorted(fn func(day, y int, x []float64) error) error {
	s.mu.Lock()
	s.cut()
	s.mu.Unlock()
	order := s.keys()
	slices.SortFunc(order, func(a, b entry) int {
		if a.day != b.day {
			return cmp.Compare(a.day, b.day)
		}
		if a.order != b.order {
			return cmp.Compare(a.order, b.order)
		}
		return s.byRow(a, b)
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
