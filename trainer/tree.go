package trainer

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/sjwhitworth/golearn/base"
	"github.com/sjwhitworth/golearn/trees"
)

// This file grows ID3 trees with golearn and converts them into the package's own tree, which
// predicts and serialises. Keeping golearn's tree only for the duration of training avoids its
// defects at prediction time: a value unseen at a node makes golearn pick a child in map order
// (so two Predict calls can differ), ID3DecisionTree.Save prints to stdout and leaves its file
// unflushed, PredictProba panics for more than one row, and its Load can panic on a malformed
// archive.

// maxBins bounds the "bins" parameter; slots are stored as small integers.
const maxBins = 255

// tree is a trained decision tree. nodes[0] is the root.
type tree struct {
	nodes []treeNode
}

type treeNode struct {
	// feature is the schema index of the feature this node splits on, -1 for a leaf.
	feature int
	// class is the majority class of the node's training rows (ties: the lowest class id).
	class int
	// counts are the training rows of each class that reached the node (len = number of classes).
	counts []int
	// children[slot] is the node index for the feature's slot, or -1 when no training row with
	// that slot reached this node (prediction then stops here and uses this node's counts).
	children []int32
}

// walk returns the node a row of slots ends at.
func (t *tree) walk(slots []int) *treeNode {
	n := &t.nodes[0]
	for n.feature >= 0 {
		c := n.children[slots[n.feature]]
		if c < 0 {
			break
		}
		n = &t.nodes[c]
	}
	return n
}

// grid is the golearn view of a binned training set: one categorical attribute per feature whose
// values are the slot numbers, a numeric "row" attribute and the class attribute.
//
// The row attribute holds each row's position in the grid. The split chooser never offers it as a
// candidate; it serves twice: golearn's InferID3Tree stops splitting when two attributes (the
// class and one feature) remain, so without it the last feature on a path could never be used;
// and the positions identify a node's rows, which seeds the forest's feature sampling at that
// node independently of the (map) order in which golearn visits nodes and lists rows.
type grid struct {
	attrs   []*base.CategoricalAttribute // per feature
	row     *base.FloatAttribute
	class   *base.CategoricalAttribute
	sysvals [][]byte // sysvals[v] encodes value v for any attribute
	feature map[string]int
}

func newGrid(s Schema, b *binner) *grid {
	g := &grid{feature: make(map[string]int, len(s.Features))}
	maxSlots := len(s.Classes)
	for j := range s.Features {
		maxSlots = max(maxSlots, b.slots[j])
	}
	g.sysvals = make([][]byte, maxSlots)
	for v := range g.sysvals {
		g.sysvals[v] = base.PackU64ToBytes(uint64(v))
	}
	newAttr := func(name string, values int) *base.CategoricalAttribute {
		a := base.NewCategoricalAttribute()
		a.SetName(name)
		for v := range values { // registers the values in slot order, once, before any use
			a.GetSysValFromString(strconv.Itoa(v))
		}
		return a
	}
	g.attrs = make([]*base.CategoricalAttribute, len(s.Features))
	for j := range s.Features {
		name := "f" + strconv.Itoa(j)
		g.attrs[j] = newAttr(name, b.slots[j])
		g.feature[name] = j
	}
	g.row = base.NewFloatAttribute("row")
	g.class = newAttr("class", len(s.Classes))
	return g
}

// instances builds a dense golearn grid of the given rows of a slot matrix (rows may repeat).
func (g *grid) instances(slots [][]int, y []int, rows []int) (*base.DenseInstances, error) {
	inst := base.NewDenseInstances()
	specs := make([]base.AttributeSpec, len(g.attrs))
	for j, a := range g.attrs {
		specs[j] = inst.AddAttribute(a)
	}
	rowSpec := inst.AddAttribute(g.row)
	classSpec := inst.AddAttribute(g.class)
	if err := inst.AddClassAttribute(g.class); err != nil {
		return nil, fmt.Errorf("golearn: add class attribute: %w", err)
	}
	if err := inst.Extend(len(rows)); err != nil {
		return nil, fmt.Errorf("golearn: allocate %d rows: %w", len(rows), err)
	}
	for i, r := range rows {
		for j, spec := range specs {
			inst.Set(spec, i, g.sysvals[slots[r][j]])
		}
		inst.Set(rowSpec, i, base.PackFloatToBytes(float64(i)))
		inst.Set(classSpec, i, g.sysvals[y[r]])
	}
	return inst, nil
}

// splitChooser is the golearn RuleGenerator of the package: the candidate (among all remaining
// features, or a random subset of them at each split for the forest; never the row attribute)
// with the largest information gain, computed here in a fixed order. golearn's own
// InformationGainRuleGenerator sums entropies over maps, so features with equal gain win in
// random order and two trainings on the same rows with the same seed differ (RELIABILITY.md
// says by how much). It stops growth below minSplit rows or once ctx is cancelled.
type splitChooser struct {
	ctx      context.Context
	row      base.Attribute
	class    base.Attribute
	classes  int
	minSplit int
	features int    // candidates per split; 0 = all
	seed     uint64 // with the node's row positions, seeds the choice of candidates
}

// GenerateSplitRule implements trees.RuleGenerator.
func (c *splitChooser) GenerateSplitRule(f base.FixedDataGrid) *trees.DecisionTreeRule {
	_, rows := f.Size()
	if rows < c.minSplit || c.ctx.Err() != nil {
		return nil // InferID3Tree turns the node into a leaf
	}
	var cands []base.Attribute
	for _, a := range f.AllAttributes() {
		if !a.Equals(c.row) && !a.Equals(c.class) {
			cands = append(cands, a)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	if c.features > 0 && c.features < len(cands) {
		pick := c.nodeRand(f, rows).Perm(len(cands))[:c.features]
		slices.Sort(pick) // keep attribute order, which breaks gain ties
		sub := make([]base.Attribute, len(pick))
		for i, k := range pick {
			sub[i] = cands[k]
		}
		cands = sub
	}
	classSpec, err := f.GetAttribute(c.class)
	if err != nil {
		panic(err) // recovered by growTree
	}
	class := make([]int, rows)
	for r := range class {
		class[r] = int(base.UnpackBytesToU64(f.Get(classSpec, r)))
	}
	var best base.Attribute
	bestEntropy := math.Inf(1)
	for _, a := range cands {
		spec, err := f.GetAttribute(a)
		if err != nil {
			panic(err)
		}
		values := len(a.(*base.CategoricalAttribute).GetValues())
		counts := make([]int, values*c.classes)
		for r, k := range class {
			v := int(base.UnpackBytesToU64(f.Get(spec, r)))
			counts[v*c.classes+k]++
		}
		// Entropy after the split, Σ_v (n_v/n)·H(v); the largest gain has the smallest.
		var h float64
		for v := range values {
			row := counts[v*c.classes : (v+1)*c.classes]
			nv := 0
			for _, n := range row {
				nv += n
			}
			for _, n := range row {
				if n > 0 {
					p := float64(n) / float64(nv)
					h -= float64(nv) / float64(rows) * p * math.Log2(p)
				}
			}
		}
		if h < bestEntropy-1e-12 {
			best, bestEntropy = a, h
		}
	}
	return &trees.DecisionTreeRule{SplitAttr: best}
}

// nodeRand returns a generator seeded by the chooser's seed and the set of the node's row
// positions. The hash is order-independent (a sum of mixed positions) because golearn's views
// list their rows in map order.
func (c *splitChooser) nodeRand(f base.FixedDataGrid, rows int) *rand.Rand {
	spec, err := f.GetAttribute(c.row)
	if err != nil {
		panic(err) // recovered by growTree
	}
	var h uint64
	for r := range rows {
		h += mix64(math.Float64bits(base.UnpackBytesToFloat(f.Get(spec, r))))
	}
	return rand.New(rand.NewPCG(c.seed, h))
}

// mix64 is the SplitMix64 finaliser: a bijection that spreads nearby integers apart.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// growTree runs golearn's InferID3Tree on a grid and converts the result. A panic inside golearn
// becomes an error.
func growTree(ctx context.Context, g *grid, s Schema, b *binner, on base.FixedDataGrid, c *splitChooser) (t tree, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("golearn ID3 failed: %v", r)
		}
	}()
	root := trees.InferID3Tree(on, c)
	if err := ctx.Err(); err != nil {
		return tree{}, err
	}
	return g.convert(root, s, b)
}

// prune is reduced-error pruning on held-out rows (their slots and classes), bottom-up: a node
// becomes a leaf when that does not add errors on the held-out rows that reach it. It is the rule
// of golearn's DecisionTreeNode.Prune, done on the package's tree because golearn's routes rows
// through its Predict, whose map-order fallback makes pruned trees differ between retrains.
// Children no held-out row reaches are kept, as golearn does.
func (t *tree) prune(slots [][]int, y []int) {
	rows := make([]int, len(y))
	for i := range rows {
		rows[i] = i
	}
	t.pruneNode(0, rows, slots, y)
	t.compact()
}

// pruneNode prunes the subtree at node i and returns its errors on rows.
func (t *tree) pruneNode(i int32, rows []int, slots [][]int, y []int) int {
	n := &t.nodes[i]
	leafErrors := 0
	for _, r := range rows {
		if y[r] != n.class {
			leafErrors++
		}
	}
	if n.feature < 0 {
		return leafErrors
	}
	bySlot := make([][]int, len(n.children))
	subtreeErrors := 0
	for _, r := range rows {
		v := slots[r][n.feature]
		if n.children[v] < 0 {
			if y[r] != n.class { // prediction stops at this node
				subtreeErrors++
			}
			continue
		}
		bySlot[v] = append(bySlot[v], r)
	}
	for v, c := range n.children {
		if c >= 0 && len(bySlot[v]) > 0 {
			subtreeErrors += t.pruneNode(c, bySlot[v], slots, y)
		}
	}
	if leafErrors <= subtreeErrors {
		n.feature, n.children = -1, nil
		return leafErrors
	}
	return subtreeErrors
}

// compact drops the nodes pruning cut off, keeping depth-first pre-order in slot order (so child
// indexes still point forward).
func (t *tree) compact() {
	var out []treeNode
	var add func(i int32) int32
	add = func(i int32) int32 {
		n := t.nodes[i]
		idx := int32(len(out))
		out = append(out, n)
		if n.feature >= 0 {
			children := make([]int32, len(n.children))
			for v, c := range n.children {
				children[v] = -1
				if c >= 0 {
					children[v] = add(c)
				}
			}
			out[idx].children = children
		}
		return idx
	}
	add(0)
	t.nodes = out
}

// convert copies a golearn tree into a tree. Children are visited in slot order, so the node
// layout depends only on the tree's shape.
func (g *grid) convert(root *trees.DecisionTreeNode, s Schema, b *binner) (tree, error) {
	var t tree
	var add func(n *trees.DecisionTreeNode) (int32, error)
	add = func(n *trees.DecisionTreeNode) (int32, error) {
		idx := int32(len(t.nodes))
		node := treeNode{feature: -1, counts: make([]int, len(s.Classes))}
		for cls, c := range n.ClassDist {
			k, err := strconv.Atoi(cls)
			if err != nil || k < 0 || k >= len(s.Classes) {
				return 0, fmt.Errorf("golearn tree has unknown class %q", cls)
			}
			node.counts[k] = c
		}
		node.class = majority(node.counts) // not n.Class: golearn breaks ties in map order
		t.nodes = append(t.nodes, node)
		if len(n.Children) == 0 || n.SplitRule == nil || n.SplitRule.SplitAttr == nil {
			return idx, nil
		}
		j, ok := g.feature[n.SplitRule.SplitAttr.GetName()]
		if !ok {
			return 0, fmt.Errorf("golearn tree splits on unknown attribute %q", n.SplitRule.SplitAttr.GetName())
		}
		children := make([]int32, b.slots[j])
		for i := range children {
			children[i] = -1
		}
		keys := make([]int, 0, len(n.Children))
		for key := range n.Children {
			v, err := strconv.Atoi(key)
			if err != nil || v < 0 || v >= len(children) {
				return 0, fmt.Errorf("golearn tree has unknown value %q for attribute %q", key, n.SplitRule.SplitAttr.GetName())
			}
			keys = append(keys, v)
		}
		slices.Sort(keys)
		for _, v := range keys {
			c, err := add(n.Children[strconv.Itoa(v)])
			if err != nil {
				return 0, err
			}
			children[v] = c
		}
		t.nodes[idx].feature = j
		t.nodes[idx].children = children
		return idx, nil
	}
	if _, err := add(root); err != nil {
		return tree{}, err
	}
	return t, nil
}

func (t *tree) encode(e *encoder) {
	e.uint(len(t.nodes))
	for _, n := range t.nodes {
		e.int(n.feature)
		e.uint(n.class)
		for _, c := range n.counts {
			e.uint(c)
		}
		if n.feature >= 0 {
			for _, c := range n.children {
				e.int(int(c))
			}
		}
	}
}

// decodeTree reads a tree and checks that it is well formed: features and classes in range,
// one slot per child of the split feature, and every child index pointing forward (nodes are
// written in depth-first pre-order), which rules out cycles.
func decodeTree(d *decoder, s Schema, b *binner) tree {
	k := len(s.Classes)
	n := d.count(2+k, "tree nodes")
	if d.err == nil && n == 0 {
		d.failf("tree without nodes")
	}
	t := tree{nodes: make([]treeNode, 0, n)}
	for i := 0; i < n && d.err == nil; i++ {
		node := treeNode{feature: d.int(), class: d.uint(), counts: make([]int, k)}
		if node.feature < -1 || node.feature >= len(s.Features) {
			d.failf("tree node %d splits on feature %d (schema has %d)", i, node.feature, len(s.Features))
		}
		if node.class >= k {
			d.failf("tree node %d has class %d (schema has %d)", i, node.class, k)
		}
		total := 0
		for c := range node.counts {
			node.counts[c] = d.uint()
			total += node.counts[c]
		}
		if d.err == nil && total == 0 {
			d.failf("tree node %d has no training rows", i)
		}
		if node.feature >= 0 && d.err == nil {
			slots := b.slots[node.feature]
			if slots > len(d.b) {
				d.fail(errShortPayload)
				break
			}
			node.children = make([]int32, slots)
			for c := range node.children {
				v := d.int()
				if v != -1 && (v <= i || v >= n) {
					d.failf("tree node %d has child %d out of range", i, v)
				}
				node.children[c] = int32(v)
			}
		}
		t.nodes = append(t.nodes, node)
	}
	return t
}
