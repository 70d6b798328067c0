package drift

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// ErrProfile reports a profile that is inconsistent (as a corrupt stored
// profile would be), or windows built from different profiles.
var ErrProfile = errors.New("drift: inconsistent profile")

// Tally accumulates rows of a recent time window against a reference
// Profile, in constant memory: per numeric feature a count per cell of the
// reference's grid (bin edges and sketch points together), per categorical
// feature a count per reference category plus an unseen bucket. AddRow does
// O(features) work with a binary search per numeric value and allocates
// nothing. Tallies of the same profile can be filled in parallel (one per
// goroutine; a Tally is not safe for concurrent use) and merged.
type Tally struct {
	ref    *compiledProfile
	rows   int64
	num    []numericCounts
	cat    []categoricalCounts
	label  *categoricalCounts
	pred   *numericCounts
	target *numericCounts
}

// compiledProfile is a Profile turned into lookup structures, shared
// read-only by every window made from it.
type compiledProfile struct {
	profile Profile
	num     []numericGrid
	cat     []categoryIndex
	label   *categoryIndex
	pred    *numericGrid
	target  *numericGrid
}

// numericGrid holds, for one numeric feature, the cut points a window counts
// rows against: the reference's bin edges and sketch points, merged, and
// the float just above the reference maximum, so that values at the maximum
// are told apart from values beyond it. Cell i is [grid[i-1], grid[i]), with
// open-ended first and last cells.
type numericGrid struct {
	prof     *NumericProfile
	grid     []float64
	keys     []uint64 // orderKey(grid[i])
	refCells []int64  // reference rows per cell, len(grid)+1
	binOf    []int    // PSI bin of each cell
	nBins    int
}

// categoryIndex maps a category to its bucket; len(prof.Categories) is the
// unseen bucket.
type categoryIndex struct {
	prof  *CategoricalProfile
	index map[string]int
}

type numericCounts struct {
	grid    []float64
	keys    []uint64 // orderKey of each grid point, for a search without branches
	cells   []int64
	missing int64
	offGrid int64   // values inside the reference's range that are not a grid point
	shift   float64 // the reference mean: sums are of x-shift, for precision
	sum     float64
	sumSq   float64
	min     float64
	max     float64
}

type categoricalCounts struct {
	index   map[string]int
	counts  []int64 // per reference category, then unseen
	missing int64
	// unseen counts the rows of each category the reference does not
	// list, for the first MaxUnseenNames such categories; the rest are only
	// in counts[len(counts)-1].
	unseen map[string]int64
}

// MaxUnseenNames is how many categories that its profile does not list a
// window counts one by one, per feature. The two-sample chi-squared test
// gives each of them a column of its own (see FeatureReport.ChiSquare);
// rows of further ones are only counted together.
const MaxUnseenNames = 1000

// NewTally returns an empty window against ref. It fails with ErrProfile
// if ref is inconsistent.
func NewTally(ref Profile) (*Tally, error) {
	c, err := compile(ref)
	if err != nil {
		return nil, err
	}
	return c.newWindow(), nil
}

func (c *compiledProfile) newWindow() *Tally {
	return &Tally{
		ref:    c,
		num:    each(c.num, (*numericGrid).newCounts),
		cat:    each(c.cat, (*categoryIndex).newCounts),
		label:  optional(c.label, (*categoryIndex).newCounts),
		pred:   optional(c.pred, (*numericGrid).newCounts),
		target: optional(c.target, (*numericGrid).newCounts),
	}
}

func (g *numericGrid) newCounts() numericCounts {
	return numericCounts{
		grid:  g.grid,
		keys:  g.keys,
		cells: make([]int64, len(g.grid)+1),
		shift: g.prof.Mean,
		min:   math.Inf(1),
		max:   math.Inf(-1),
	}
}

func (x *categoryIndex) newCounts() categoricalCounts {
	return categoricalCounts{index: x.index, counts: make([]int64, len(x.prof.Categories)+1)}
}

func compile(ref Profile) (*compiledProfile, error) {
	c := &compiledProfile{profile: ref.clone()}
	seen := map[string]bool{}
	for i := range c.profile.Numeric {
		p := &c.profile.Numeric[i]
		if seen[p.Name] {
			return nil, fmt.Errorf("%w: feature %q appears twice", ErrProfile, p.Name)
		}
		seen[p.Name] = true
		g, err := compileNumeric(p)
		if err != nil {
			return nil, err
		}
		c.num = append(c.num, g)
	}
	for i := range c.profile.Categorical {
		p := &c.profile.Categorical[i]
		if seen[p.Name] {
			return nil, fmt.Errorf("%w: feature %q appears twice", ErrProfile, p.Name)
		}
		seen[p.Name] = true
		x, err := compileCategorical(p)
		if err != nil {
			return nil, err
		}
		c.cat = append(c.cat, x)
	}
	if c.profile.Label != nil {
		x, err := compileCategorical(c.profile.Label)
		if err != nil {
			return nil, err
		}
		c.label = &x
	}
	if c.profile.Prediction != nil {
		g, err := compileNumeric(c.profile.Prediction)
		if err != nil {
			return nil, err
		}
		c.pred = &g
	}
	if c.profile.Target != nil {
		g, err := compileNumeric(c.profile.Target)
		if err != nil {
			return nil, err
		}
		c.target = &g
	}
	return c, nil
}

func compileNumeric(p *NumericProfile) (numericGrid, error) {
	bad := func(format string, args ...any) (numericGrid, error) {
		return numericGrid{}, fmt.Errorf("%w: numeric feature %q: %s", ErrProfile, p.Name, fmt.Sprintf(format, args...))
	}
	if p.Count < 0 || p.Missing < 0 {
		return bad("negative count")
	}
	if len(p.Counts) != len(p.Edges)+1 {
		return bad("%d bin counts for %d edges", len(p.Counts), len(p.Edges))
	}
	if len(p.SketchBelow) != len(p.Sketch) {
		return bad("%d sketch counts for %d sketch points", len(p.SketchBelow), len(p.Sketch))
	}
	if !increasing(p.Edges) || !increasing(p.Sketch) {
		return bad("edges and sketch must be finite and increasing")
	}
	var total int64
	below := make([]int64, len(p.Edges)) // reference values < Edges[i]
	for i, n := range p.Counts {
		if n < 0 {
			return bad("negative bin count")
		}
		total += n
		if i < len(below) {
			below[i] = total
		}
	}
	if total != p.Count {
		return bad("bin counts add up to %d, count is %d", total, p.Count)
	}
	for i, b := range p.SketchBelow {
		if b < 0 || b > p.Count || (i > 0 && b < p.SketchBelow[i-1]) {
			return bad("sketch counts must be non-decreasing within [0, count]")
		}
	}

	g := numericGrid{prof: p, nBins: len(p.Counts)}
	var gridBelow []int64
	i, j := 0, 0
	for i < len(p.Edges) || j < len(p.Sketch) {
		switch {
		case j == len(p.Sketch) || (i < len(p.Edges) && p.Edges[i] < p.Sketch[j]):
			g.grid, gridBelow = append(g.grid, p.Edges[i]), append(gridBelow, below[i])
			i++
		case i == len(p.Edges) || p.Sketch[j] < p.Edges[i]:
			g.grid, gridBelow = append(g.grid, p.Sketch[j]), append(gridBelow, p.SketchBelow[j])
			j++
		default: // the same point in both
			g.grid, gridBelow = append(g.grid, p.Edges[i]), append(gridBelow, below[i])
			i++
			j++
		}
	}
	if p.Count > 0 {
		if n := len(g.grid); n > 0 && g.grid[n-1] > p.Max {
			return bad("edges or sketch above the maximum")
		}
		g.grid = append(g.grid, math.Nextafter(p.Max, math.Inf(1)))
		gridBelow = append(gridBelow, p.Count)
	}

	g.keys = make([]uint64, len(g.grid))
	for i, v := range g.grid {
		g.keys[i] = orderKey(v)
	}
	g.refCells = make([]int64, len(g.grid)+1)
	g.binOf = make([]int, len(g.grid)+1)
	prev := int64(0)
	bin := 0
	for k, b := range gridBelow {
		if b < prev {
			return bad("edges and sketch disagree on the reference's distribution")
		}
		g.refCells[k] = b - prev
		prev = b
		// Cell k+1 starts at grid[k]: its bin counts the edges <= grid[k].
		for bin < len(p.Edges) && p.Edges[bin] <= g.grid[k] {
			bin++
		}
		g.binOf[k+1] = bin
	}
	g.refCells[len(g.grid)] = p.Count - prev
	return g, nil
}

func increasing(x []float64) bool {
	for i, v := range x {
		if isMissing(v) || (i > 0 && !(v > x[i-1])) {
			return false
		}
	}
	return true
}

func compileCategorical(p *CategoricalProfile) (categoryIndex, error) {
	if len(p.Counts) != len(p.Categories) {
		return categoryIndex{}, fmt.Errorf("%w: categorical feature %q: %d counts for %d categories", ErrProfile, p.Name, len(p.Counts), len(p.Categories))
	}
	if p.Unseen < 0 || p.Missing < 0 || slices.ContainsFunc(p.Counts, func(n int64) bool { return n < 0 }) {
		return categoryIndex{}, fmt.Errorf("%w: categorical feature %q: negative count", ErrProfile, p.Name)
	}
	x := categoryIndex{prof: p, index: make(map[string]int, len(p.Categories))}
	for i, c := range p.Categories {
		if _, dup := x.index[c]; dup || c == "" {
			return categoryIndex{}, fmt.Errorf("%w: categorical feature %q: category %q is empty or listed twice", ErrProfile, p.Name, c)
		}
		x.index[c] = i
	}
	return x, nil
}

// Rows returns the number of rows added to the tally.
func (w *Tally) Rows() int64 { return w.rows }

// AddRow adds one row: num in the order of the profile's numeric features,
// cat in the order of its categorical ones. NaN and ±Inf are missing
// numbers, the empty string a missing category. It fails with ErrShape when
// the row does not have the profile's number of features, and then adds
// nothing.
func (w *Tally) AddRow(num []float64, cat []string) error {
	if len(num) != len(w.num) || len(cat) != len(w.cat) {
		return w.shapeError(len(num), len(cat))
	}
	w.rows++
	for i, x := range num {
		w.num[i].add(x)
	}
	for i, c := range cat {
		w.cat[i].add(c)
	}
	return nil
}

func (w *Tally) shapeError(nNum, nCat int) error {
	return fmt.Errorf("%w: %d numeric and %d categorical values, the profile has %d and %d",
		ErrShape, nNum, nCat, len(w.num), len(w.cat))
}

// AddLabel adds one observed label (a class; the empty string is missing).
// It fails with ErrShape if the reference has no label distribution.
func (w *Tally) AddLabel(class string) error {
	if w.label == nil {
		return fmt.Errorf("%w: the profile has no label distribution", ErrShape)
	}
	w.label.add(class)
	return nil
}

// AddTarget adds one observed numeric label (NaN and ±Inf are missing). It
// fails with ErrShape if the reference has no numeric label distribution.
func (w *Tally) AddTarget(y float64) error {
	if w.target == nil {
		return fmt.Errorf("%w: the profile has no numeric label distribution", ErrShape)
	}
	w.target.add(y)
	return nil
}

// HasTarget reports whether the reference profiles a numeric label.
func (w *Tally) HasTarget() bool { return w.target != nil }

// HasPrediction reports whether the reference profiles the model's scores.
func (w *Tally) HasPrediction() bool { return w.pred != nil }

// AddPrediction adds one model score (NaN and ±Inf are missing). It fails
// with ErrShape if the reference has no prediction distribution.
func (w *Tally) AddPrediction(score float64) error {
	if w.pred == nil {
		return fmt.Errorf("%w: the profile has no prediction distribution", ErrShape)
	}
	w.pred.add(score)
	return nil
}

func (n *numericCounts) add(x float64) {
	if isMissing(x) {
		n.missing++
		return
	}
	c := upperBound(n.keys, orderKey(x))
	n.cells[c]++
	if c > 0 && c < len(n.grid) && x != n.grid[c-1] {
		n.offGrid++
	}
	d := x - n.shift
	n.sum += d
	n.sumSq += d * d
	if x < n.min {
		n.min = x
	}
	if x > n.max {
		n.max = x
	}
}

// orderKey maps a finite float64 to a uint64 with the same order (and -0 to
// the key of +0), so that searches compare integers, which can be done
// without branches.
func orderKey(x float64) uint64 {
	b := math.Float64bits(x + 0) // x + 0 turns -0 into +0
	return b ^ (uint64(int64(b)>>63) | 1<<63)
}

// upperBound returns the number of elements of the increasing slice keys
// that are <= k. It is a binary search without a data-dependent branch: the
// comparison is the borrow of a subtraction (an SBB instruction), because
// Go does not emit conditional moves for loop-carried values, and a
// mispredicted branch per step would cost more than the step.
func upperBound(keys []uint64, k uint64) int {
	n := len(keys)
	if n == 0 {
		return 0
	}
	base := 0
	for n > 1 {
		half := n >> 1
		_, borrow := bits.Sub64(k, keys[base+half], 0) // 1 when k < key
		base += half &^ -int(borrow)
		n -= half
	}
	_, borrow := bits.Sub64(k, keys[base], 0)
	return base + 1 - int(borrow)
}

func (c *categoricalCounts) add(v string) {
	if v == "" {
		c.missing++
		return
	}
	c.addN(v, 1)
}

// addN adds n rows of the present category v.
func (c *categoricalCounts) addN(v string, n int64) {
	i, ok := c.index[v]
	if ok {
		c.counts[i] += n
		return
	}
	c.counts[len(c.counts)-1] += n
	c.addUnseen(v, n)
}

func (c *categoricalCounts) addUnseen(v string, n int64) {
	if _, ok := c.unseen[v]; ok || len(c.unseen) < MaxUnseenNames {
		if c.unseen == nil {
			c.unseen = map[string]int64{}
		}
		c.unseen[v] += n
	}
}

// Merge adds the rows of other, a tally of the same profile, to w: every
// count is then exactly what one window given both sets of rows would hold,
// so every statistic of the report is the same; only the window's mean and
// standard deviation, float sums, may differ in the last bits. other is not
// changed. It fails with ErrProfile if the windows have different profiles.
func (w *Tally) Merge(other *Tally) error {
	if other == nil {
		return nil
	}
	if !w.ref.sameAs(other.ref) {
		return fmt.Errorf("%w: cannot merge windows of different profiles", ErrProfile)
	}
	w.rows += other.rows
	for i := range w.num {
		w.num[i].merge(&other.num[i])
	}
	for i := range w.cat {
		w.cat[i].merge(&other.cat[i])
	}
	if w.label != nil {
		w.label.merge(other.label)
	}
	if w.pred != nil {
		w.pred.merge(other.pred)
	}
	if w.target != nil {
		w.target.merge(other.target)
	}
	return nil
}

func (n *numericCounts) merge(o *numericCounts) {
	for i, c := range o.cells {
		n.cells[i] += c
	}
	n.missing += o.missing
	n.offGrid += o.offGrid
	n.sum += o.sum
	n.sumSq += o.sumSq
	n.min = math.Min(n.min, o.min)
	n.max = math.Max(n.max, o.max)
}

func (c *categoricalCounts) merge(o *categoricalCounts) {
	for i, n := range o.counts {
		c.counts[i] += n
	}
	c.missing += o.missing
	names := make([]string, 0, len(o.unseen))
	for v := range o.unseen {
		names = append(names, v)
	}
	slices.Sort(names) // which names fit under MaxUnseenNames must not depend on map order
	for _, v := range names {
		c.addUnseen(v, o.unseen[v])
	}
}

// sameAs says whether two compiled profiles count rows the same way.
func (c *compiledProfile) sameAs(o *compiledProfile) bool {
	if c == o {
		return true
	}
	if len(c.num) != len(o.num) || len(c.cat) != len(o.cat) ||
		(c.label == nil) != (o.label == nil) || (c.pred == nil) != (o.pred == nil) || (c.target == nil) != (o.target == nil) {
		return false
	}
	sameGrid := func(a, b *numericGrid) bool {
		return a.prof.Name == b.prof.Name && a.prof.Mean == b.prof.Mean && slices.Equal(a.grid, b.grid)
	}
	sameCats := func(a, b *categoryIndex) bool {
		return a.prof.Name == b.prof.Name && slices.Equal(a.prof.Categories, b.prof.Categories)
	}
	for i := range c.num {
		if !sameGrid(&c.num[i], &o.num[i]) {
			return false
		}
	}
	for i := range c.cat {
		if !sameCats(&c.cat[i], &o.cat[i]) {
			return false
		}
	}
	return (c.label == nil || sameCats(c.label, o.label)) && (c.pred == nil || sameGrid(c.pred, o.pred)) &&
		(c.target == nil || sameGrid(c.target, o.target))
}
