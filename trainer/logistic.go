package trainer

import (
	"context"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// "logistic": L2-regularised logistic regression, fitted by Newton's method (gonum for the
// linear algebra). golearn's LogisticRegression is not used: it panics on current Go, reads
// negative values as 0 and has no intercept.
//
// Rows are standardised and one-hot encoded first (see standardizer). With x̃ the encoded row,
// the model fits, over the classes present in the training data:
//
//   - two classes (c0 < c1): one logit z = w·x̃ + b with P(c1) = 1/(1+e^-z), minimising
//     Σ_i [log(1+e^z_i) − y_i z_i] + (l2/2)·‖w‖²   (y_i = 1 for c1)
//   - three or more: multinomial (softmax) logits z_k = w_k·x̃ + b_k, minimising
//     Σ_i [log Σ_k e^z_ik − z_i,y_i] + (l2/2)·Σ_k ‖w_k‖²
//     with the intercepts centred (Σ_k b_k = 0; they are otherwise defined up to a constant).
//
// The intercepts are not penalised. This is scikit-learn's LogisticRegression(C=1/l2) on
// StandardScaler + OneHotEncoder(handle_unknown="ignore") output, and the tests hold it to
// scikit-learn's coefficients. Classes absent from the training data get probability 0.
// Newton stops when every component of the gradient of the objective divided by the number of
// rows is at most tol; not getting there within max_iter iterations is an error. Large problems
// use L-BFGS with the same criterion (see newtonMaxCoefficients).

const algLogistic = "logistic"

// Newton's method costs rows × coefficients² per iteration (the Hessian) and coefficients³ (its
// Cholesky factor); beyond newtonMaxCoefficients (logits × (encoded columns + 1)), e.g. for
// categorical features with many categories, the fit uses gonum's L-BFGS instead, which costs
// rows × coefficients per iteration and needs more iterations: lbfgsIterationsPerNewton per unit
// of max_iter. Both stop on the same gradient criterion, so they reach the same optimum.
var newtonMaxCoefficients = 400

const lbfgsIterationsPerNewton = 50

// lbfgsGradientFloor is the gradient per row below which an L-BFGS line search failure counts as
// convergence (see lbfgs).
const lbfgsGradientFloor = 1e-9

var logisticParams = paramSpecs{
	{name: "l2", def: 1, min: math.SmallestNonzeroFloat64, max: math.Inf(1)},
	{name: "max_iter", def: 100, min: 1, max: 10_000, integer: true},
	{name: "tol", def: 1e-8, min: 1e-15, max: 1},
}

func init() {
	register(algorithm{trainer: logisticTrainer{trainerInfo{algLogistic, logisticParams}}, decode: decodeLogistic})
}

type logisticTrainer struct{ trainerInfo }

func (t logisticTrainer) Train(ctx context.Context, d *Data, p Params) (Model, error) {
	eff, counts, err := t.start(ctx, d, p)
	if err != nil {
		return nil, err
	}
	s := d.Schema.clone()
	m := &logisticModel{modelInfo: modelInfo{algLogistic, s, eff}, std: newStandardizer(s, d.X)}
	for k, c := range counts {
		if c > 0 {
			m.present = append(m.present, k)
		}
	}
	pcols := m.std.cols + 1 // features then the intercept
	z := mat.NewDense(len(d.X), pcols, nil)
	for i, row := range d.X {
		zr := z.RawRowView(i)
		m.std.transform(s, row, zr[:m.std.cols])
		zr[m.std.cols] = 1
	}
	classOf := make(map[int]int, len(m.present))
	for k, c := range m.present {
		classOf[c] = k
	}
	y := make([]int, len(d.Y))
	for i, c := range d.Y {
		y[i] = classOf[c]
	}
	f := &logisticFit{z: z, y: y, logits: len(m.present), l2: eff["l2"]}
	if f.logits == 2 {
		f.logits = 1
	}
	var theta []float64
	if f.logits*pcols <= newtonMaxCoefficients {
		theta, err = f.newton(ctx, int(eff["max_iter"]), eff["tol"])
	} else {
		theta, err = f.lbfgs(ctx, lbfgsIterationsPerNewton*int(eff["max_iter"]), eff["tol"])
	}
	if err != nil {
		return nil, err
	}
	m.coef = make([][]float64, f.logits)
	for k := range m.coef {
		m.coef[k] = theta[k*pcols : (k+1)*pcols]
	}
	if f.logits > 1 { // report centred intercepts (the fit already drives their sum to ~0)
		var mean float64
		for _, c := range m.coef {
			mean += c[pcols-1]
		}
		mean /= float64(len(m.coef))
		for _, c := range m.coef {
			c[pcols-1] -= mean
		}
	}
	return m, nil
}

// logisticFit is one Newton fit. z holds the encoded rows with a trailing 1 (the intercept
// column); y the index of each row's class among the present classes.
type logisticFit struct {
	z      *mat.Dense
	y      []int
	logits int // 1 (binary) or the number of present classes (multinomial)
	l2     float64
}

// eval returns the objective at theta and its gradient; with hess != nil it also fills the
// Hessian. For the multinomial model the objective carries an extra ½(Σ_k b_k)², which does not
// change any probability and makes the optimum unique (the intercepts sum to zero).
func (f *logisticFit) eval(theta []float64, grad []float64, hess *mat.SymDense) float64 {
	n, p := f.z.Dims()
	K := f.logits
	clear(grad)
	var obj float64
	prob := make([]float64, n*K) // prob[i*K+k]
	zk := make([]float64, K)
	for i := range n {
		row := f.z.RawRowView(i)
		for k := range K {
			var s float64
			for j, v := range row {
				s += v * theta[k*p+j]
			}
			zk[k] = s
		}
		if K == 1 {
			t := zk[0]
			obj += softplus(t)
			if f.y[i] == 1 {
				obj -= t
			}
			prob[i] = sigmoid(t)
			continue
		}
		mx := slices.Max(zk)
		var sum float64
		for k := range K {
			sum += math.Exp(zk[k] - mx)
		}
		lse := mx + math.Log(sum)
		obj += lse - zk[f.y[i]]
		for k := range K {
			prob[i*K+k] = math.Exp(zk[k] - lse)
		}
	}
	// Gradient of the loss: Zᵀ(P − Y) per logit.
	for i := range n {
		row := f.z.RawRowView(i)
		for k := range K {
			r := prob[i*K+k]
			if (K == 1 && f.y[i] == 1) || (K > 1 && f.y[i] == k) {
				r--
			}
			if r == 0 {
				continue
			}
			g := grad[k*p : (k+1)*p]
			for j, v := range row {
				g[j] += r * v
			}
		}
	}
	// Penalty on the weights (not on the intercepts).
	var bsum float64
	for k := range K {
		for j := 0; j < p-1; j++ {
			w := theta[k*p+j]
			obj += f.l2 / 2 * w * w
			grad[k*p+j] += f.l2 * w
		}
		bsum += theta[k*p+p-1]
	}
	if K > 1 {
		obj += bsum * bsum / 2
		for k := range K {
			grad[k*p+p-1] += bsum
		}
	}
	if hess == nil {
		return obj
	}
	// Hessian blocks H_kl = Zᵀ diag(w_kl) Z with w_kl = p_k(δ_kl − p_l), or p(1−p) when binary.
	scaled := mat.NewDense(n, p, nil)
	block := mat.NewDense(p, p, nil)
	for k := range K {
		for l := k; l < K; l++ {
			for i := range n {
				var w float64
				if K == 1 {
					w = prob[i] * (1 - prob[i])
				} else if k == l {
					w = prob[i*K+k] * (1 - prob[i*K+k])
				} else {
					w = -prob[i*K+k] * prob[i*K+l]
				}
				src, dst := f.z.RawRowView(i), scaled.RawRowView(i)
				for j, v := range src {
					dst[j] = w * v
				}
			}
			block.Mul(f.z.T(), scaled)
			for a := range p {
				for b := range p {
					if k == l && b < a {
						continue
					}
					v := block.At(a, b)
					if k == l && a == b && a < p-1 {
						v += f.l2
					}
					if K > 1 && a == p-1 && b == p-1 {
						v++
					}
					hess.SetSym(k*p+a, l*p+b, v)
				}
			}
		}
	}
	return obj
}

// newton minimises the objective with Newton steps and a backtracking (Armijo) line search.
func (f *logisticFit) newton(ctx context.Context, maxIter int, tol float64) ([]float64, error) {
	n, p := f.z.Dims()
	dim := f.logits * p
	theta := make([]float64, dim)
	grad := make([]float64, dim)
	trial := make([]float64, dim)
	trialGrad := make([]float64, dim)
	hess := mat.NewSymDense(dim, nil)
	step := mat.NewVecDense(dim, nil)
	var chol mat.Cholesky
	limit := tol * float64(n)
	obj := f.eval(theta, grad, hess)
	for iter := 0; ; iter++ {
		gmax := 0.0
		for _, g := range grad {
			gmax = math.Max(gmax, math.Abs(g))
		}
		if gmax <= limit {
			return theta, nil
		}
		if iter == maxIter {
			return nil, fmt.Errorf("%s: no convergence in max_iter=%d Newton iterations (largest gradient component per row %.3g > tol %.3g); raise max_iter or l2",
				algLogistic, maxIter, gmax/float64(n), tol)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !chol.Factorize(hess) {
			return nil, fmt.Errorf("%s: Hessian is not positive definite at iteration %d (features too large or l2 too small?)", algLogistic, iter)
		}
		if err := chol.SolveVecTo(step, mat.NewVecDense(dim, grad)); err != nil {
			return nil, fmt.Errorf("%s: Newton step at iteration %d: %w", algLogistic, iter, err)
		}
		// step solves H·step = grad; move along −step. Near the optimum the decrease a step
		// promises (−slope/2) is below the resolution of the objective, so comparing objective
		// values would only compare rounding errors: there the full step is taken (Newton's local
		// quadratic convergence); elsewhere the step is halved until the objective decreases
		// enough (Armijo).
		var slope float64
		for j := range dim {
			slope -= grad[j] * step.AtVec(j)
		}
		t := 1.0
		for {
			for j := range dim {
				trial[j] = theta[j] - t*step.AtVec(j)
			}
			if -slope <= 1e-12*math.Max(1, math.Abs(obj)) {
				break
			}
			if f.eval(trial, trialGrad, nil) <= obj+1e-4*t*slope {
				break
			}
			if t /= 2; t < 1e-12 {
				return nil, fmt.Errorf("%s: line search failed at Newton iteration %d (largest gradient component per row %.3g)", algLogistic, iter, gmax/float64(n))
			}
		}
		copy(theta, trial)
		obj = f.eval(theta, grad, hess)
	}
}

// lbfgs minimises the objective with gonum's L-BFGS, on the objective divided by the number of
// rows (so that tol applies to its gradient directly).
func (f *logisticFit) lbfgs(ctx context.Context, maxIter int, tol float64) ([]float64, error) {
	n, p := f.z.Dims()
	dim := f.logits * p
	scale := 1 / float64(n)
	// gonum asks for the value and the gradient at the same point in separate calls; eval gives
	// both, so remember the last point.
	var last struct {
		x, grad []float64
		obj     float64
	}
	at := func(x []float64) {
		if last.x != nil && slices.Equal(last.x, x) {
			return
		}
		if last.x == nil {
			last.x, last.grad = make([]float64, dim), make([]float64, dim)
		}
		copy(last.x, x)
		last.obj = f.eval(x, last.grad, nil) * scale
		for j := range last.grad {
			last.grad[j] *= scale
		}
	}
	problem := optimize.Problem{
		Func: func(x []float64) float64 { at(x); return last.obj },
		Grad: func(grad, x []float64) { at(x); copy(grad, last.grad) },
	}
	settings := &optimize.Settings{
		GradientThreshold: tol,
		MajorIterations:   maxIter,
		Converger:         contextConverger{ctx},
	}
	res, err := optimize.Minimize(problem, make([]float64, dim), settings, &optimize.LBFGS{})
	if cerr := ctx.Err(); cerr != nil {
		return nil, cerr
	}
	if res == nil {
		return nil, fmt.Errorf("%s: L-BFGS: %w", algLogistic, err)
	}
	at(res.X)
	gmax := 0.0
	for _, g := range last.grad {
		gmax = math.Max(gmax, math.Abs(g))
	}
	// L-BFGS's line search compares objective values, which cannot resolve the decrease left once
	// the gradient per row is near lbfgsGradientFloor: a line search failure there is convergence
	// as far as float64 allows.
	if gmax > tol && !(err != nil && res.Status != optimize.IterationLimit && gmax <= lbfgsGradientFloor) {
		reason := res.Status.String()
		if err != nil {
			reason = err.Error()
		}
		return nil, fmt.Errorf("%s: no convergence in %d L-BFGS iterations (max_iter × %d; largest gradient component per row %.3g > tol %.3g; %s); raise max_iter or l2",
			algLogistic, maxIter, lbfgsIterationsPerNewton, gmax, tol, reason)
	}
	return res.X, nil
}

// contextConverger stops gonum's optimiser once ctx is done.
type contextConverger struct{ ctx context.Context }

func (contextConverger) Init(int) {}

func (c contextConverger) Converged(*optimize.Location) optimize.Status {
	if c.ctx.Err() != nil {
		return optimize.RuntimeLimit
	}
	return optimize.NotTerminated
}

func softplus(t float64) float64 {
	if t > 0 {
		return t + math.Log1p(math.Exp(-t))
	}
	return math.Log1p(math.Exp(t))
}

func sigmoid(t float64) float64 {
	if t >= 0 {
		return 1 / (1 + math.Exp(-t))
	}
	e := math.Exp(t)
	return e / (1 + e)
}

// logisticModel is a trained "logistic" model.
type logisticModel struct {
	modelInfo
	std     *standardizer
	present []int       // class ids seen in training, increasing
	coef    [][]float64 // one row per logit: weights per encoded column, then the intercept
}

// Predict returns the most probable class (ties go to the lowest class id) and, for a binary
// schema, P(class 1).
func (m *logisticModel) Predict(x [][]float64) ([]int, []float64, error) {
	classes, positive, err := m.predictions(x)
	if err != nil {
		return nil, nil, err
	}
	enc := make([]float64, m.std.cols)
	z := make([]float64, len(m.coef))
	for i, row := range x {
		m.logits(row, enc, z)
		if len(m.coef) == 1 {
			p1 := sigmoid(z[0])
			if z[0] > 0 {
				classes[i] = m.present[1]
			} else {
				classes[i] = m.present[0]
			}
			if positive != nil {
				positive[i] = p1
			}
			continue
		}
		classes[i] = m.present[majority(z)]
	}
	return classes, positive, nil
}

// logits sets z to the logits of row, using enc (len std.cols) for its encoding.
func (m *logisticModel) logits(row, enc, z []float64) {
	m.std.transform(m.schema, row, enc)
	for k, c := range m.coef {
		s := c[len(enc)]
		for j, v := range enc {
			s += c[j] * v
		}
		z[k] = s
	}
}

// PredictProba returns P(class | row) for every class of the schema: for two trained classes
// sigmoid of the logit for the second (Predict's score, bit for bit) and 1 minus it for the first,
// for more the softmax of the logits; 0 for a class without training rows. Predict's class is the
// most probable one (ties go to the lowest class id).
func (m *logisticModel) PredictProba(x [][]float64) ([][]float64, error) {
	out, err := m.probabilities(x)
	if err != nil {
		return nil, err
	}
	enc := make([]float64, m.std.cols)
	z := make([]float64, len(m.coef))
	for i, row := range x {
		m.logits(row, enc, z)
		p := out[i]
		if len(z) == 1 {
			setBinary(p, m.present[0], m.present[1], sigmoid(z[0]))
			continue
		}
		setSoftmax(p, z, m.present)
	}
	return out, nil
}

func (m *logisticModel) MarshalBinary() ([]byte, error) {
	var e encoder
	m.std.encode(&e)
	e.uints(m.present)
	e.uint(len(m.coef))
	for _, c := range m.coef {
		e.floats(c)
	}
	return m.artifact(e.b)
}

func decodeLogistic(h header, payload []byte) (Model, error) {
	d := &decoder{b: payload}
	m := &logisticModel{modelInfo: modelInfo{algLogistic, h.Schema, h.Params}, std: decodeStandardizer(d, h.Schema)}
	k := len(h.Schema.Classes)
	n := d.count(1, "classes")
	if d.err == nil && (n < 2 || n > k) {
		d.failf("%d trained classes (want 2 to %d)", n, k)
	}
	for i := 0; i < n && d.err == nil; i++ {
		c := d.uintMax(k-1, "trained class")
		if i > 0 && c <= m.present[i-1] {
			d.failf("trained classes are not increasing")
		}
		m.present = append(m.present, c)
	}
	logits := len(m.present)
	if logits == 2 {
		logits = 1
	}
	if got := d.uint(); d.err == nil && got != logits {
		d.failf("%d coefficient rows, want %d", got, logits)
	}
	for range logits {
		if d.err != nil {
			break
		}
		m.coef = append(m.coef, d.floatsN(m.std.cols+1, "coefficients"))
	}
	if err := d.done(); err != nil {
		return nil, err
	}
	return m, nil
}
