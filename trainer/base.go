package trainer

import (
	"context"
	"fmt"
	"math"
	"slices"
)

// What every algorithm's trainer and model have in common, written once: each embeds
// trainerInfo or modelInfo.

// trainerInfo is an algorithm's name and parameters. Embedded in its trainer, it gives the
// Trainer methods that only read them and the start of every Train.
type trainerInfo struct {
	name  string
	specs paramSpecs
}

func (t trainerInfo) Algorithm() string       { return t.name }
func (t trainerInfo) Defaults() Params        { return t.specs.defaults() }
func (t trainerInfo) Validate(p Params) error { return t.specs.validate(t.name, p) }

// start begins a Train: it resolves p over the defaults, checks that the algorithm supports the
// task of d's schema, checks d (returning its rows per class; nil for regression) and returns
// ctx.Err() when cancelled, in that order.
func (t trainerInfo) start(ctx context.Context, d *Data, p Params) (Params, []int, error) {
	eff, err := t.specs.resolve(t.name, p)
	if err != nil {
		return nil, nil, err
	}
	counts, err := t.check(d)
	if err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	return eff, counts, nil
}

// check verifies a training grid for the algorithm: that it supports the task of d's schema,
// then d.checkTraining.
func (t trainerInfo) check(d *Data) ([]int, error) {
	if d != nil && d.Schema.validate() == nil {
		if err := Supports(t.name, d.Schema.task()); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidData, err)
		}
	}
	return d.checkTraining()
}

// modelInfo is what every trained model holds besides what it fitted: the
// algorithm, schema and parameters its artifact header records. Embedded in
// each model, it gives the Model methods that only read them, the start of
// every Predict and the framing of every MarshalBinary.
type modelInfo struct {
	algorithm string
	schema    Schema
	params    Params
}

func (m *modelInfo) Algorithm() string { return m.algorithm }
func (m *modelInfo) Schema() Schema    { return m.schema.clone() }
func (m *modelInfo) Params() Params    { return copyParams(m.params) }

// predictions checks the rows of x against the schema and makes what
// Predict returns for them: a class per row, and for a binary schema a score
// per row (nil otherwise).
func (m *modelInfo) predictions(x [][]float64) (classes []int, positive []float64, err error) {
	if err := m.schema.checkRows(x); err != nil {
		return nil, nil, err
	}
	classes = make([]int, len(x))
	if len(m.schema.Classes) == 2 {
		positive = make([]float64, len(x))
	}
	return classes, positive, nil
}

// artifact frames a model's payload with its header (encodeArtifact).
func (m *modelInfo) artifact(payload []byte) ([]byte, error) {
	return encodeArtifact(m.algorithm, m.params, m.schema, payload)
}

// probabilities checks the rows of x and makes what PredictProba returns for them: a row of one
// probability per schema class (zeros) for each row, for the model to fill. A model of task
// regression refuses.
func (m *modelInfo) probabilities(x [][]float64) ([][]float64, error) {
	if m.schema.task() == Regression {
		return nil, taskErrorf("%s model of task %s predicts values, not class probabilities: call PredictValues", m.algorithm, Regression)
	}
	if err := m.schema.checkRows(x); err != nil {
		return nil, err
	}
	out := make([][]float64, len(x))
	for i := range x {
		out[i] = make([]float64, len(m.schema.Classes))
	}
	return out, nil
}

// setBinary sets the probabilities of a model that scores P(c1) for two classes c0 and c1:
// exactly p1 for c1, so that it is Predict's score bit for bit, and 1 - p1 for c0.
func setBinary(p []float64, c0, c1 int, p1 float64) {
	p[c1] = p1
	p[c0] = 1 - p1
}

// setShares sets p[c] = counts[c] / total for every class.
func setShares(p []float64, counts []int, total int) {
	for c, n := range counts {
		p[c] = float64(n) / float64(total)
	}
}

// setSoftmax sets p[class[k]] to the softmax of the scores z (class nil: p[k]); a score of -Inf
// gives 0.
func setSoftmax(p, z []float64, class []int) {
	mx := slices.Max(z)
	var sum float64
	for _, v := range z {
		sum += math.Exp(v - mx)
	}
	for k, v := range z {
		c := k
		if class != nil {
			c = class[k]
		}
		p[c] = math.Exp(v-mx) / sum
	}
}
