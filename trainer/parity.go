package trainer

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Expected is a producer's own predictions for some rows (the --expect file of `kingmaker models
// register`): Kingmaker's predictions for the same rows must match them before a model file is
// registered.
//
// The file is CSV with a header: one column per feature of the schema (any order; categorical
// values as the category's name, an unknown name being the unknown category) and the producer's
// predictions: "prediction" (P of the second class for task binary, the value for task
// regression) and/or one "proba:<class>" column per class (classification). Other columns are
// refused, so a misspelt name is not silently ignored.
type Expected struct {
	X [][]float64
	// Prediction holds the prediction column, nil without one.
	Prediction []float64
	// Proba holds the proba:<class> columns: Proba[i][c] for class c of the schema; Classes lists
	// the class ids that have a column.
	Proba   [][]float64
	Classes []int
}

// ErrParity wraps a refusal of ReadExpected or CheckParity: a file that does not read, or a
// prediction that differs.
var ErrParity = errors.New("expect file")

func parityErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrParity}, args...)...)
}

// ReadExpected reads an expect file for schema s.
func ReadExpected(r io.Reader, s Schema) (*Expected, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, parityErrorf("no header line: %v", err)
	}
	featureCol := make([]int, len(s.Features))
	for j := range featureCol {
		featureCol[j] = -1
	}
	predCol := -1
	probaCol := map[int]int{} // class id -> column
	for i, name := range header {
		name = strings.TrimSpace(name)
		if j := slices.IndexFunc(s.Features, func(f Feature) bool { return f.Name == name }); j >= 0 {
			featureCol[j] = i
			continue
		}
		if name == "prediction" {
			predCol = i
			continue
		}
		if c, ok := strings.CutPrefix(name, "proba:"); ok {
			if k := slices.Index(s.Classes, c); k >= 0 {
				probaCol[k] = i
				continue
			}
			return nil, parityErrorf("column %q names no class of the model (classes: %s)", name, strings.Join(s.Classes, ", "))
		}
		return nil, parityErrorf("column %q is neither a feature of the model nor prediction or proba:<class>", name)
	}
	for j, c := range featureCol {
		if c < 0 {
			return nil, parityErrorf("no column for feature %q", s.Features[j].Name)
		}
	}
	if predCol < 0 && len(probaCol) == 0 {
		return nil, parityErrorf("no prediction or proba:<class> column: nothing to compare")
	}
	if len(probaCol) > 0 && s.task() == Regression {
		return nil, parityErrorf("proba:<class> columns for a regression model: use prediction")
	}
	e := &Expected{}
	for k := range s.Classes {
		if _, ok := probaCol[k]; ok {
			e.Classes = append(e.Classes, k)
		}
	}
	num := func(line int, col string, v string) (float64, error) {
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, parityErrorf("line %d: %s %q is not a finite number", line, col, v)
		}
		return x, nil
	}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, parityErrorf("%v", err)
		}
		row := make([]float64, len(s.Features))
		for j, f := range s.Features {
			v := rec[featureCol[j]]
			if f.Kind == Categorical {
				row[j] = float64(slices.Index(f.Categories, v))
				continue
			}
			if row[j], err = num(line, f.Name, v); err != nil {
				return nil, err
			}
		}
		e.X = append(e.X, row)
		if predCol >= 0 {
			x, err := num(line, "prediction", rec[predCol])
			if err != nil {
				return nil, err
			}
			e.Prediction = append(e.Prediction, x)
		}
		if len(probaCol) > 0 {
			p := make([]float64, len(s.Classes))
			for _, k := range e.Classes {
				if p[k], err = num(line, "proba:"+s.Classes[k], rec[probaCol[k]]); err != nil {
					return nil, err
				}
			}
			e.Proba = append(e.Proba, p)
		}
	}
	if len(e.X) == 0 {
		return nil, parityErrorf("no rows")
	}
	return e, nil
}

// CheckParity predicts e's rows with m and returns an error naming the first row (1-based, and its
// line in the file) whose prediction differs from the producer's by more than tol.
func CheckParity(m Model, e *Expected, tol float64) error {
	s := m.Schema()
	var pred []float64
	var proba [][]float64
	var err error
	switch {
	case s.task() == Regression:
		r, ok := m.(Regressor)
		if !ok {
			return fmt.Errorf("%s model of task regression has no PredictValues", m.Algorithm())
		}
		pred, err = r.PredictValues(e.X)
	default:
		p, ok := m.(Prober)
		if !ok {
			return fmt.Errorf("%s model gives no probabilities", m.Algorithm())
		}
		proba, err = p.PredictProba(e.X)
		if err == nil && e.Prediction != nil {
			if s.task() != Binary {
				return parityErrorf("a prediction column needs task binary or regression; for task %s give proba:<class> columns", s.task())
			}
			pred = make([]float64, len(proba))
			for i, row := range proba {
				pred[i] = row[1]
			}
		}
	}
	if err != nil {
		return err
	}
	for i := range e.X {
		if e.Prediction != nil && !(math.Abs(pred[i]-e.Prediction[i]) <= tol) {
			return parityErrorf("row %d (line %d) differs: kingmaker predicts %.9g, the producer %.9g (|difference| %.2g > %g)",
				i+1, i+2, pred[i], e.Prediction[i], math.Abs(pred[i]-e.Prediction[i]), tol)
		}
		for _, k := range e.Classes {
			if got, want := proba[i][k], e.Proba[i][k]; !(math.Abs(got-want) <= tol) {
				return parityErrorf("row %d (line %d) differs: kingmaker gives P(%s) %.9g, the producer %.9g (|difference| %.2g > %g)",
					i+1, i+2, s.Classes[k], got, want, math.Abs(got-want), tol)
			}
		}
	}
	return nil
}
