package trainer

import (
	"context"
	"fmt"
	"math"
	"slices"
)

// "knn": k nearest neighbours by Euclidean distance on standardised, one-hot encoded rows
// (see standardizer), implemented in the package rather than with golearn's KNNClassifier:
// that one needs cgo (so the kingmaker binary could not be built with CGO_ENABLED=0), measures
// distances in float32 with -ffast-math, breaks vote ties in map order (two Predict calls can
// differ), prints a progress line per row when its fast path does not apply, and gives no scores.
//
// The model stores at most max_rows training rows, drawn without replacement with a generator
// seeded by seed (the same data and parameters always keep the same rows); the standardisation
// is computed on all training rows. The neighbours of a row are the k stored rows with the
// smallest squared distance, ties broken by stored order. The predicted class has the most
// neighbours; a tie goes to the tied class of the nearest neighbour. The score is the share of
// neighbours in class 1, and PredictProba gives each class its share. For task regression the model
// stores each row's target instead of its class and predicts the mean target of the same k
// neighbours. Prediction costs O(max_rows × columns) per row.

const algKNN = "knn"

var knnParams = paramSpecs{
	{name: "k", def: 5, min: 1, max: 1000, integer: true},
	{name: "max_rows", def: 5000, min: 1, max: 1_000_000, integer: true},
	{name: "seed", def: 1, min: 0, max: math.MaxInt32, integer: true},
}

func init() {
	register(algorithm{trainer: knnTrainer{trainerInfo{algKNN, knnParams}}, decode: decodeKNN})
}

type knnTrainer struct{ trainerInfo }

func (t knnTrainer) Train(ctx context.Context, d *Data, p Params) (Model, error) {
	eff, _, err := t.start(ctx, d, p)
	if err != nil {
		return nil, err
	}
	s := d.Schema.clone()
	idx := sampleRows(len(d.X), int(eff["max_rows"]), uint64(eff["seed"]))
	if k := int(eff["k"]); k > len(idx) {
		return nil, &ParamError{Algorithm: algKNN, Param: "k",
			Problem: fmt.Sprintf("%d is more than the %d training rows", k, len(idx))}
	}
	m := &knnModel{modelInfo: modelInfo{algKNN, s, eff}, std: newStandardizer(s, d.X), k: int(eff["k"])}
	var x [][]float64
	if s.task() == Regression {
		x = make([][]float64, len(idx))
		m.targets = make([]float64, len(idx))
		for i, k := range idx {
			x[i], m.targets[i] = d.X[k], d.Target[k]
		}
	} else {
		var y []int
		x, y = d.subset(idx)
		m.labels = append([]int(nil), y...)
	}
	m.rows = make([]float64, len(x)*m.std.cols)
	for i, row := range x {
		m.std.transform(s, row, m.rows[i*m.std.cols:(i+1)*m.std.cols])
	}
	return m, nil
}

// knnModel is a trained "knn" model.
type knnModel struct {
	modelInfo
	std     *standardizer
	k       int
	rows    []float64 // stored encoded rows, row-major, std.cols values each
	labels  []int     // class of each stored row (classification)
	targets []float64 // target of each stored row (regression)
}

// stored is the number of stored training rows.
func (m *knnModel) stored() int { return len(m.rows) / max(m.std.cols, 1) }

// neighbours calls f with the stored rows nearest each row of x (already checked): the k rows of
// smallest squared distance, nearest first, ties broken by stored order.
func (m *knnModel) neighbours(x [][]float64, f func(i int, near []int)) {
	cols := m.std.cols
	n := m.stored()
	enc := make([]float64, cols)
	nearDist := make([]float64, 0, m.k+1) // the k best so far, increasing
	nearRow := make([]int, 0, m.k+1)
	for i, row := range x {
		m.std.transform(m.schema, row, enc)
		nearDist, nearRow = nearDist[:0], nearRow[:0]
		for r := range n {
			stored := m.rows[r*cols : (r+1)*cols]
			var dist float64
			for j, v := range enc {
				t := v - stored[j]
				dist += t * t
			}
			if len(nearDist) == m.k && dist >= nearDist[m.k-1] {
				continue // not strictly closer than the k-th: stored order breaks the tie
			}
			at := len(nearDist)
			for at > 0 && nearDist[at-1] > dist {
				at--
			}
			nearDist = append(nearDist, 0)
			nearRow = append(nearRow, 0)
			copy(nearDist[at+1:], nearDist[at:])
			copy(nearRow[at+1:], nearRow[at:])
			nearDist[at], nearRow[at] = dist, r
			if len(nearDist) > m.k {
				nearDist, nearRow = nearDist[:m.k], nearRow[:m.k]
			}
		}
		f(i, nearRow)
	}
}

// vote counts the classes of the neighbours into votes and returns the predicted class: the most
// votes wins; among tied classes, the one of the nearest neighbour.
func (m *knnModel) vote(near []int, votes []int) int {
	clear(votes)
	for _, r := range near {
		votes[m.labels[r]]++
	}
	top := slices.Max(votes)
	for _, r := range near {
		if votes[m.labels[r]] == top {
			return m.labels[r]
		}
	}
	return 0
}

func (m *knnModel) Predict(x [][]float64) ([]int, []float64, error) {
	if m.schema.task() == Regression {
		return nil, nil, taskErrorf("%s model of task %s predicts values, not classes: call PredictValues", algKNN, Regression)
	}
	classes, positive, err := m.predictions(x)
	if err != nil {
		return nil, nil, err
	}
	votes := make([]int, len(m.schema.Classes))
	m.neighbours(x, func(i int, near []int) {
		classes[i] = m.vote(near, votes)
		if positive != nil {
			positive[i] = float64(votes[1]) / float64(m.k)
		}
	})
	return classes, positive, nil
}

// PredictProba gives each class the share of the k neighbours in it (column 1 of a binary model is
// Predict's score). Predict's class has the largest share; among tied shares it is the class of
// the nearest neighbour, which need not be the lowest class id.
func (m *knnModel) PredictProba(x [][]float64) ([][]float64, error) {
	out, err := m.probabilities(x)
	if err != nil {
		return nil, err
	}
	votes := make([]int, len(m.schema.Classes))
	m.neighbours(x, func(i int, near []int) {
		m.vote(near, votes)
		setShares(out[i], votes, m.k)
	})
	return out, nil
}

// PredictValues (task regression) returns the mean target of the k nearest stored rows, summed
// nearest first.
func (m *knnModel) PredictValues(x [][]float64) ([]float64, error) {
	if m.schema.task() != Regression {
		return nil, taskErrorf("%s model of task %s predicts classes, not values: call Predict", algKNN, m.schema.task())
	}
	if err := m.schema.checkRows(x); err != nil {
		return nil, err
	}
	out := make([]float64, len(x))
	m.neighbours(x, func(i int, near []int) {
		var sum float64
		for _, r := range near {
			sum += m.targets[r]
		}
		out[i] = sum / float64(m.k)
	})
	return out, nil
}

func (m *knnModel) MarshalBinary() ([]byte, error) {
	var e encoder
	m.std.encode(&e)
	if m.schema.task() == Regression {
		e.floats(m.targets) // the count, then each target
	} else {
		e.uints(m.labels) // the count, then each class
	}
	for _, v := range m.rows {
		e.float(v)
	}
	return m.artifact(e.b)
}

func decodeKNN(h header, payload []byte) (Model, error) {
	d := &decoder{b: payload}
	s := h.Schema
	m := &knnModel{modelInfo: modelInfo{algKNN, s, h.Params}, std: decodeStandardizer(d, s), k: int(h.Params["k"])}
	n := d.count(1, "stored rows")
	if d.err == nil && (n < m.k || n > int(h.Params["max_rows"])) {
		d.failf("%d stored rows (want %d to max_rows=%d)", n, m.k, int(h.Params["max_rows"]))
	}
	if s.task() == Regression {
		if d.err == nil && n*8 > len(d.b) {
			d.failf("stored row targets need %d bytes, have %d", n*8, len(d.b))
		}
		for i := 0; i < n && d.err == nil; i++ {
			m.targets = append(m.targets, d.finite("stored row target"))
		}
	} else {
		m.labels = make([]int, 0, n)
		for range n {
			c := d.uintMax(len(s.Classes)-1, "stored row class")
			if d.err != nil {
				break
			}
			m.labels = append(m.labels, c)
		}
	}
	if d.err == nil {
		if want := n * m.std.cols * 8; want != len(d.b) {
			d.failf("stored rows need %d bytes, have %d", want, len(d.b))
		} else {
			m.rows = make([]float64, n*m.std.cols)
			for i := range m.rows {
				m.rows[i] = d.finite("stored row value")
			}
		}
	}
	if err := d.done(); err != nil {
		return nil, err
	}
	return m, nil
}
