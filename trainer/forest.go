package trainer

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// The "forest" algorithm: bagged ID3 trees, trained, predicted and encoded by treeTrainer and
// treeModel (id3.go) like the single tree of "id3"; what differs is here.

const algForest = "forest"

var forestParams = paramSpecs{
	{name: "trees", def: 31, min: 1, max: 1001, integer: true, odd: true, oddWhy: "an even count lets binary votes tie"},
	{name: "features", def: 0, min: 0, max: math.MaxInt32, integer: true},
	{name: "bins", def: 10, min: 2, max: maxBins, integer: true},
	{name: "min_split", def: 5, min: 2, max: math.MaxInt32, integer: true},
	{name: "max_rows", def: 20_000, min: 10, max: math.MaxInt32, integer: true},
	{name: "seed", def: 1, min: 0, max: math.MaxInt32, integer: true},
}

func init() {
	register(algorithm{trainer: treeTrainer{trainerInfo{algForest, forestParams}}, decode: decodeTreeModel})
}

// forest grows the trees of a forest. Each tree is grown on its own bootstrap sample, choosing
// among `features` random features at each split. Trees are grown one after the other so that
// memory holds one bootstrap grid at a time, and cancellation is checked between trees (and
// between splits).
func (f *treeFit) forest(features int) ([]tree, error) {
	ctx, g, s, b, y, slots, seed, eff := f.ctx, f.g, f.s, f.b, f.y, f.slots, f.seed, f.eff
	n := int(eff["trees"])
	trees := make([]tree, 0, n)
	rows := make([]int, len(slots))
	for k := range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rng := rand.New(rand.NewPCG(seed, uint64(k)+1))
		for i := range rows {
			rows[i] = rng.IntN(len(slots))
		}
		on, err := g.instances(slots, y, rows)
		if err != nil {
			return nil, err
		}
		tr, err := growTree(ctx, g, s, b, on, f.chooser(rng.Uint64(), features))
		if err != nil {
			return nil, fmt.Errorf("%s: tree %d: %w", f.name, k, err)
		}
		trees = append(trees, tr)
	}
	return trees, nil
}
