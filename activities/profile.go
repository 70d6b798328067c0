package activities

import (
	"encoding/json"
	"fmt"

	"github.com/kingmaker-ml/kingmaker/drift"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// rowSplitter turns a trainer grid row into the numeric and categorical
// values the drift package takes, reusing its buffers.
type rowSplitter struct {
	schema   trainer.Schema
	num      []float64
	cat      []string
	numNames []string
	catNames []string
}

func newRowSplitter(s trainer.Schema) *rowSplitter {
	r := &rowSplitter{schema: s}
	for _, f := range s.Features {
		if f.Kind == trainer.Categorical {
			r.catNames = append(r.catNames, f.Name)
		} else {
			r.numNames = append(r.numNames, f.Name)
		}
	}
	r.num = make([]float64, len(r.numNames))
	r.cat = make([]string, len(r.catNames))
	return r
}

// split returns views valid until the next call.
func (r *rowSplitter) split(x []float64) ([]float64, []string) {
	n, c := 0, 0
	for j, f := range r.schema.Features {
		if f.Kind == trainer.Categorical {
			idx := int(x[j])
			if idx >= 0 && idx < len(f.Categories) {
				r.cat[c] = f.Categories[idx]
			} else {
				r.cat[c] = "<unknown>" // an unknown category is drift the profile should see
			}
			c++
			continue
		}
		r.num[n] = x[j]
		n++
	}
	return r.num, r.cat
}

// confidences returns the highest class probability of each row: what a
// multiclass model's predictions are profiled by (its confidence), as a
// binary model's are by its score of class 1.
func confidences(proba [][]float64) []float64 {
	if proba == nil {
		return nil
	}
	out := make([]float64, len(proba))
	for i, row := range proba {
		for _, p := range row {
			out[i] = max(out[i], p)
		}
	}
	return out
}

// predictionSample bounds the rows scored for the reference distribution of
// predictions: scoring a million training rows with KNN would dwarf training.
const predictionSample = 20000

// buildProfile summarises the training grid, its labels and the model's
// scores on (a strided sample of) it: the reference drift is measured
// against.
func buildProfile(d *trainer.Data, model trainer.Model) (json.RawMessage, error) {
	rs := newRowSplitter(d.Schema)
	b, err := drift.NewProfileBuilder(rs.numNames, rs.catNames, drift.ProfileOptions{})
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	for i, x := range d.X {
		num, cat := rs.split(x)
		if err := b.AddRow(num, cat); err != nil {
			return nil, fmt.Errorf("profile row %d: %w", i, err)
		}
		if d.Target != nil {
			b.AddTarget(d.Target[i])
		} else {
			b.AddLabel(d.Schema.Classes[d.Y[i]])
		}
	}
	stride := max(1, len(d.X)/predictionSample)
	sample := make([][]float64, 0, len(d.X)/stride+1)
	for i := 0; i < len(d.X); i += stride {
		sample = append(sample, d.X[i])
	}
	var scores []float64
	r, regressor := model.(trainer.Regressor)
	p, prober := model.(trainer.Prober)
	switch task := model.Schema().Task; {
	case task == trainer.Regression && regressor:
		scores, err = r.PredictValues(sample) // a regression model's predictions are profiled like a numeric feature
	case task == trainer.Multiclass && prober:
		var proba [][]float64
		proba, err = p.PredictProba(sample)
		scores = confidences(proba)
	default:
		_, scores, err = model.Predict(sample)
	}
	if err != nil {
		return nil, fmt.Errorf("profile: score the training sample: %w", err)
	}
	for _, p := range scores { // nil for models without scores
		b.AddPrediction(p)
	}
	return json.Marshal(b.Build())
}
