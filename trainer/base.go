package trainer

import (
	"context"
	"fmt"
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
