package trainer

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// "linear": ridge regression, for task regression only.
//
// Rows are standardised and one-hot encoded first (see standardizer), as for "logistic". With x̃
// the encoded row, the model is ŷ = w·x̃ + b, minimising
//
//	Σ_i (y_i − w·x̃_i − b)² + alpha·‖w‖²
//
// without penalising the intercept b. As scikit-learn's Ridge(alpha) does, the fit centres the
// encoded columns and the targets on their training means, solves (X̃cᵀX̃c + alpha·I)·w = X̃cᵀyc
// by Cholesky (gonum) and sets b = ȳ − x̃̄·w. This is scikit-learn's
// Ridge(alpha, fit_intercept=True) on StandardScaler + OneHotEncoder(handle_unknown="ignore")
// output (population standard deviation), and a test holds it to scikit-learn's coefficients and
// predictions. Note that Ridge on the raw features gives other coefficients: the penalty acts on
// the standardised ones.
//
// The rows are encoded in blocks of linearBlockRows, so training holds one block and the
// (columns × columns) Gram matrix, never the encoded grid.

const algLinear = "linear"

// linearBlockRows is a variable so that a test can make blocks small.
var linearBlockRows = 4096

var linearParams = paramSpecs{
	{name: "alpha", def: 1, min: math.SmallestNonzeroFloat64, max: math.Inf(1)},
}

func init() {
	register(algorithm{trainer: linearTrainer{trainerInfo{algLinear, linearParams}}, decode: decodeLinear})
}

type linearTrainer struct{ trainerInfo }

func (t linearTrainer) Train(ctx context.Context, d *Data, p Params) (Model, error) {
	eff, _, err := t.start(ctx, d, p)
	if err != nil {
		return nil, err
	}
	s := d.Schema.clone()
	m := &linearModel{modelInfo: modelInfo{algLinear, s, eff}, std: newStandardizer(s, d.X)}
	cols := m.std.cols
	n := len(d.X)

	// First pass: the means of the encoded columns and of the targets.
	enc := make([]float64, cols)
	colMean := make([]float64, cols)
	var yMean float64
	for i, row := range d.X {
		m.std.transform(s, row, enc)
		for j, v := range enc {
			colMean[j] += v
		}
		yMean += d.Target[i]
	}
	for j := range colMean {
		colMean[j] /= float64(n)
	}
	yMean /= float64(n)

	// Second pass: the centred Gram matrix X̃cᵀX̃c and X̃cᵀyc, a block of rows at a time.
	gram := mat.NewSymDense(cols, nil)
	rhs := mat.NewVecDense(cols, nil)
	part := mat.NewVecDense(cols, nil)
	full := min(linearBlockRows, n)
	blockBuf, ycBuf := mat.NewDense(full, cols, nil), mat.NewVecDense(full, nil)
	for start := 0; start < n; start += linearBlockRows {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		end := min(start+linearBlockRows, n)
		block, yc := blockBuf, ycBuf
		if end-start < full {
			block = blockBuf.Slice(0, end-start, 0, cols).(*mat.Dense)
			yc = ycBuf.SliceVec(0, end-start).(*mat.VecDense)
		}
		for i := start; i < end; i++ {
			br := block.RawRowView(i - start)
			m.std.transform(s, d.X[i], br)
			for j := range br {
				br[j] -= colMean[j]
			}
			yc.SetVec(i-start, d.Target[i]-yMean)
		}
		gram.SymRankK(gram, 1, block.T())
		part.MulVec(block.T(), yc)
		rhs.AddVec(rhs, part)
	}
	alpha := eff["alpha"]
	for j := range cols {
		gram.SetSym(j, j, gram.At(j, j)+alpha)
	}
	var chol mat.Cholesky
	if !chol.Factorize(gram) {
		return nil, fmt.Errorf("%s: the penalised Gram matrix is not positive definite (alpha=%g too small for these features?); raise alpha", algLinear, alpha)
	}
	w := mat.NewVecDense(cols, nil)
	if err := chol.SolveVecTo(w, rhs); err != nil {
		return nil, fmt.Errorf("%s: solve for the coefficients (alpha=%g): %w; raise alpha", algLinear, alpha, err)
	}
	m.coef = make([]float64, cols)
	m.intercept = yMean
	for j := range cols {
		m.coef[j] = w.AtVec(j)
		m.intercept -= colMean[j] * m.coef[j]
	}
	return m, nil
}

// linearModel is a trained "linear" model.
type linearModel struct {
	modelInfo
	std       *standardizer
	coef      []float64 // one weight per encoded column
	intercept float64
}

// Predict refuses: a regression model has no classes (see Regressor).
func (m *linearModel) Predict([][]float64) ([]int, []float64, error) {
	return nil, nil, taskErrorf("%s model of task %s predicts values, not classes: call PredictValues", algLinear, Regression)
}

// PredictValues returns w·x̃ + b for each row.
func (m *linearModel) PredictValues(x [][]float64) ([]float64, error) {
	if err := m.schema.checkRows(x); err != nil {
		return nil, err
	}
	out := make([]float64, len(x))
	enc := make([]float64, m.std.cols)
	for i, row := range x {
		m.std.transform(m.schema, row, enc)
		v := m.intercept
		for j, e := range enc {
			v += m.coef[j] * e
		}
		out[i] = v
	}
	return out, nil
}

// MarshalBinary writes the standardizer, the weights and the intercept.
func (m *linearModel) MarshalBinary() ([]byte, error) {
	var e encoder
	m.std.encode(&e)
	e.floats(m.coef)
	e.float(m.intercept)
	return m.artifact(e.b)
}

func decodeLinear(h header, payload []byte) (Model, error) {
	if h.Schema.task() != Regression {
		return nil, fmt.Errorf("schema of task %s (want %s)", h.Schema.task(), Regression)
	}
	d := &decoder{b: payload}
	m := &linearModel{modelInfo: modelInfo{algLinear, h.Schema, h.Params}, std: decodeStandardizer(d, h.Schema)}
	m.coef = d.floatsN(m.std.cols, "coefficients")
	m.intercept = d.finite("intercept")
	if err := d.done(); err != nil {
		return nil, err
	}
	return m, nil
}
