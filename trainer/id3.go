package trainer

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
)

// Tree-based algorithms: "id3" (one tree) and "forest" (bagged trees, forest.go). Both grow ID3
// trees with golearn's trees.InferID3Tree on binned features, splitting by information gain
// (splitChooser); see tree.go for why the trained trees are then held in the package's own form.

const (
	algID3 = "id3"
	// pruneFraction of the training rows is held out for reduced-error pruning when prune = 1.
	pruneFraction = 0.2
)

var id3Params = paramSpecs{
	{name: "bins", def: 10, min: 2, max: maxBins, integer: true},
	{name: "prune", def: 0, min: 0, max: 1, integer: true},
	{name: "min_split", def: 2, min: 2, max: math.MaxInt32, integer: true},
	{name: "max_rows", def: 100_000, min: 10, max: math.MaxInt32, integer: true},
	{name: "seed", def: 1, min: 0, max: math.MaxInt32, integer: true},
}

func init() {
	register(algorithm{trainer: treeTrainer{trainerInfo{algID3, id3Params}}, decode: decodeTreeModel})
}

// treeTrainer trains "id3" and "forest" models. Its Train does not use trainerInfo.start: it
// checks the features parameter against the schema before it checks ctx.
type treeTrainer struct{ trainerInfo }

func (t treeTrainer) Train(ctx context.Context, d *Data, p Params) (Model, error) {
	eff, err := t.specs.resolve(t.name, p)
	if err != nil {
		return nil, err
	}
	if _, err := t.check(d); err != nil {
		return nil, err
	}
	s := d.Schema.clone()
	features := int(eff["features"]) // forest only; 0 for id3
	if features > len(s.Features) {
		return nil, &ParamError{Algorithm: t.name, Param: "features",
			Problem: fmt.Sprintf("%d is more than the %d features of the schema", features, len(s.Features))}
	}
	if features == 0 {
		features = max(1, int(math.Round(math.Sqrt(float64(len(s.Features))))))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	seed := uint64(eff["seed"])
	x, y := d.subset(sampleRows(len(d.X), int(eff["max_rows"]), seed))
	b := newBinner(s, x, int(eff["bins"]))
	slots := make([][]int, len(x))
	for i, row := range x {
		slots[i] = make([]int, len(s.Features))
		for j, v := range row {
			slots[i][j] = b.slot(j, v)
		}
	}
	g := newGrid(s, b)
	m := &treeModel{modelInfo: modelInfo{t.name, s, eff}, binner: b}
	f := &treeFit{ctx: ctx, name: t.name, eff: eff, seed: seed, s: s, b: b, g: g, slots: slots, y: y}
	if t.name == algID3 {
		tr, err := f.id3()
		if err != nil {
			return nil, err
		}
		m.trees = []tree{tr}
		return m, nil
	}
	if m.trees, err = f.forest(features); err != nil {
		return nil, err
	}
	return m, nil
}

// treeFit is what Train prepared for growing trees: the effective params,
// the binned rows (slots) and their classes, and the grid they are grown on.
type treeFit struct {
	ctx   context.Context
	name  string
	eff   Params
	seed  uint64
	s     Schema
	b     *binner
	g     *grid
	slots [][]int
	y     []int
}

// chooser returns a split chooser that picks among features random features
// (0: all) with the given seed.
func (f *treeFit) chooser(seed uint64, features int) *splitChooser {
	return &splitChooser{ctx: f.ctx, row: f.g.row, class: f.g.class, classes: len(f.s.Classes), minSplit: int(f.eff["min_split"]), features: features, seed: seed}
}

// id3 grows the one tree of an id3 model.
func (f *treeFit) id3() (tree, error) {
	ctx, g, s, b, y, slots, seed, eff := f.ctx, f.g, f.s, f.b, f.y, f.slots, f.seed, f.eff
	// With prune = 1, a seeded shuffle holds pruneFraction of the rows out for pruning.
	rows := make([]int, len(slots))
	for i := range rows {
		rows[i] = i
	}
	nPrune := 0
	if eff["prune"] == 1 {
		rows = rand.New(rand.NewPCG(seed, 0)).Perm(len(slots))
		nPrune = int(pruneFraction * float64(len(rows)))
	}
	on, err := g.instances(slots, y, rows[nPrune:])
	if err != nil {
		return tree{}, err
	}
	tr, err := growTree(ctx, g, s, b, on, f.chooser(0, 0))
	if err != nil {
		return tree{}, fmt.Errorf("%s: %w", f.name, err)
	}
	if nPrune > 0 {
		pruneSlots, pruneY := make([][]int, nPrune), make([]int, nPrune)
		for i, r := range rows[:nPrune] {
			pruneSlots[i], pruneY[i] = slots[r], y[r]
		}
		tr.prune(pruneSlots, pruneY)
	}
	return tr, nil
}

// treeModel is a trained "id3" (one tree) or "forest" model.
type treeModel struct {
	modelInfo
	binner *binner
	trees  []tree
}

// Predict: a single tree predicts the class of the node a row ends at and scores it with that
// node's share of class-1 training rows. A forest predicts the class most trees vote for (ties,
// possible with more than two classes, go to the lowest class id) and scores it with the share of
// trees voting for class 1.
func (m *treeModel) Predict(x [][]float64) ([]int, []float64, error) {
	classes, positive, err := m.predictions(x)
	if err != nil {
		return nil, nil, err
	}
	k := len(m.schema.Classes)
	slots := make([]int, len(m.schema.Features))
	votes := make([]int, k)
	for i, row := range x {
		for j, v := range row {
			slots[j] = m.binner.slot(j, v)
		}
		if len(m.trees) == 1 {
			n := m.trees[0].walk(slots)
			classes[i] = n.class
			if positive != nil {
				positive[i] = float64(n.counts[1]) / float64(n.counts[0]+n.counts[1])
			}
			continue
		}
		clear(votes)
		for t := range m.trees {
			votes[m.trees[t].walk(slots).class]++
		}
		classes[i] = majority(votes)
		if positive != nil {
			positive[i] = float64(votes[1]) / float64(len(m.trees))
		}
	}
	return classes, positive, nil
}

// PredictProba: a single tree gives each class its share of the training rows at the node a row
// ends at, a forest each class its share of the trees' votes; column 1 of a binary model is
// Predict's score. Predict's class has the largest share (ties go to the lowest class id).
func (m *treeModel) PredictProba(x [][]float64) ([][]float64, error) {
	out, err := m.probabilities(x)
	if err != nil {
		return nil, err
	}
	slots := make([]int, len(m.schema.Features))
	votes := make([]int, len(m.schema.Classes))
	for i, row := range x {
		for j, v := range row {
			slots[j] = m.binner.slot(j, v)
		}
		if len(m.trees) == 1 {
			n := m.trees[0].walk(slots)
			total := 0
			for _, c := range n.counts {
				total += c
			}
			setShares(out[i], n.counts, total)
			continue
		}
		clear(votes)
		for t := range m.trees {
			votes[m.trees[t].walk(slots).class]++
		}
		setShares(out[i], votes, len(m.trees))
	}
	return out, nil
}

func (m *treeModel) MarshalBinary() ([]byte, error) {
	var e encoder
	m.binner.encode(&e, m.schema)
	e.uint(len(m.trees))
	for i := range m.trees {
		m.trees[i].encode(&e)
	}
	return m.artifact(e.b)
}

func decodeTreeModel(h header, payload []byte) (Model, error) {
	d := &decoder{b: payload}
	m := &treeModel{modelInfo: modelInfo{h.Algorithm, h.Schema, h.Params}}
	m.binner = decodeBinner(d, h.Schema)
	want := 1
	if h.Algorithm == algForest {
		want = int(h.Params["trees"])
	}
	if n := d.uint(); d.err == nil && n != want {
		d.failf("%d trees, the header says %d", n, want)
	}
	for range want {
		if d.err != nil {
			break
		}
		m.trees = append(m.trees, decodeTree(d, h.Schema, m.binner))
	}
	if err := d.done(); err != nil {
		return nil, err
	}
	return m, nil
}
