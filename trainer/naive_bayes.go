package trainer

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/sjwhitworth/golearn/base"
	"github.com/sjwhitworth/golearn/naive"
)

// "naive_bayes": golearn's BernoulliNBClassifier on binarised rows (see binarizer).
//
// golearn fits the model; its fitted parameters (unexported fields) are read back from its own
// Save archive and held by the package, which predicts with golearn's exact formula and also
// returns the posterior P(class 1). Before a model is returned its predictions are checked
// against golearn's Predict on every training row where no two classes tie. golearn's own Predict
// is not used afterwards because it breaks ties in map order and gives no probabilities.
//
// golearn's formula, per class c with n_c training rows out of n, and p_cf = (rows of class c
// with feature f set + 1) / (n_c + 1):
//
//	score_c = log(n_c/n) + Σ_f [x_f ? log p_cf : (p_cf == 1 ? log(1/(n_c+1)) : log(1 − p_cf))]
//
// The predicted class maximises score_c (ties go to the lowest class id); a class without
// training rows is never predicted. The algorithm takes no parameters.
//
// The grid golearn sees has one more column, set on every row: golearn's Fit indexes out of range
// for a class none of whose rows has any column set, and a column set everywhere has p_cf = 1 for
// every class, so it adds log 1 = 0 to every score.

const algNaiveBayes = "naive_bayes"

func init() {
	register(algorithm{trainer: naiveBayesTrainer{trainerInfo{name: algNaiveBayes}}, decode: decodeNaiveBayes})
}

// naiveBayesTrainer has no parameters.
type naiveBayesTrainer struct{ trainerInfo }

func (t naiveBayesTrainer) Train(ctx context.Context, d *Data, p Params) (Model, error) {
	eff, _, err := t.start(ctx, d, p)
	if err != nil {
		return nil, err
	}
	s := d.Schema.clone()
	bin := newBinarizer(s, d.X)
	inst, err := naiveBayesGrid(s, bin, d.X, d.Y)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", algNaiveBayes, err)
	}
	nb := naive.NewBernoulliNBClassifier()
	if err := golearnCall(func() error { return nb.Fit(inst) }); err != nil {
		return nil, fmt.Errorf("%s: golearn fit: %w", algNaiveBayes, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := &naiveBayesModel{modelInfo: modelInfo{algNaiveBayes, s, eff}, bin: bin}
	if err := m.extract(nb, len(d.X)); err != nil {
		return nil, fmt.Errorf("%s: read golearn model: %w", algNaiveBayes, err)
	}
	if err := m.agreeWithGolearn(nb, inst, d.X); err != nil {
		return nil, fmt.Errorf("%s: %w", algNaiveBayes, err)
	}
	return m, nil
}

// naiveBayesGrid builds golearn's grid: one BinaryAttribute per binarised column, then the class.
func naiveBayesGrid(s Schema, bin *binarizer, x [][]float64, y []int) (*base.DenseInstances, error) {
	inst := base.NewDenseInstances()
	specs := make([]base.AttributeSpec, bin.cols+1)
	for c := range specs {
		specs[c] = inst.AddAttribute(base.NewBinaryAttribute("b" + strconv.Itoa(c)))
	}
	class := base.NewCategoricalAttribute()
	class.SetName("class")
	for k := range s.Classes {
		class.GetSysValFromString(strconv.Itoa(k))
	}
	classSpec := inst.AddAttribute(class)
	if err := inst.AddClassAttribute(class); err != nil {
		return nil, fmt.Errorf("golearn: add class attribute: %w", err)
	}
	if err := inst.Extend(len(x)); err != nil {
		return nil, fmt.Errorf("golearn: allocate %d rows: %w", len(x), err)
	}
	one, zero := []byte{1}, []byte{0}
	cols := make([]bool, bin.cols+1)
	for i, row := range x {
		naiveBayesRow(s, bin, row, cols)
		for c, set := range cols {
			if set {
				inst.Set(specs[c], i, one)
			} else {
				inst.Set(specs[c], i, zero)
			}
		}
		if y != nil {
			inst.Set(classSpec, i, base.PackU64ToBytes(uint64(y[i])))
		}
	}
	return inst, nil
}

// naiveBayesRow writes the binarised row and the always-set last column into cols.
func naiveBayesRow(s Schema, bin *binarizer, row []float64, cols []bool) {
	bin.transform(s, row, cols[:bin.cols])
	cols[bin.cols] = true
}

// golearnCall runs f, turning a panic inside golearn into an error.
func golearnCall(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("golearn panicked: %v", r)
		}
	}()
	return f()
}

// extract reads the fitted parameters from golearn's Save archive (a temporary file, removed
// before returning).
func (m *naiveBayesModel) extract(nb *naive.BernoulliNBClassifier, rows int) error {
	dir, err := os.MkdirTemp("", "kingmaker-naive-bayes-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.tar.gz")
	if err := golearnCall(func() error { return nb.Save(path) }); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	var (
		condProb       map[string][]float64
		classInstances map[string]int
		trained        uint64
	)
	err = golearnCall(func() error {
		r, err := base.ReadSerializedClassifierStub(path)
		if err != nil {
			return err
		}
		defer r.Close()
		if err := r.GetJSONForKey("COND_MAP", &condProb); err != nil {
			return fmt.Errorf("COND_MAP: %w", err)
		}
		if err := r.GetJSONForKey("CLASS_INSTANCES", &classInstances); err != nil {
			return fmt.Errorf("CLASS_INSTANCES: %w", err)
		}
		trained, err = r.GetU64ForKey("NUM_TRAINING_INSTANCES")
		return err
	})
	if err != nil {
		return err
	}
	if trained != uint64(rows) {
		return fmt.Errorf("golearn counted %d training rows, want %d", trained, rows)
	}
	k := len(m.schema.Classes)
	m.rows = rows
	m.classRows = make([]int, k)
	m.condProb = make([][]float64, k)
	for cls, n := range classInstances {
		c, err := strconv.Atoi(cls)
		if err != nil || c < 0 || c >= k {
			return fmt.Errorf("unknown class %q", cls)
		}
		cp, ok := condProb[cls]
		if !ok || len(cp) != m.bin.cols+1 {
			return fmt.Errorf("class %q has %d feature probabilities, want %d", cls, len(cp), m.bin.cols+1)
		}
		m.classRows[c], m.condProb[c] = n, cp
	}
	for c := range m.condProb {
		if m.condProb[c] == nil {
			m.condProb[c] = make([]float64, m.bin.cols+1) // never used: the class has no rows
		}
	}
	return m.check()
}

// agreeWithGolearn compares the package's predictions with golearn's on the training rows,
// skipping rows where the two best classes tie (golearn then answers in map order).
func (m *naiveBayesModel) agreeWithGolearn(nb *naive.BernoulliNBClassifier, inst *base.DenseInstances, x [][]float64) error {
	var theirs []int
	err := golearnCall(func() error {
		pred, err := nb.Predict(inst)
		if err != nil {
			return err
		}
		_, rows := pred.Size()
		theirs = make([]int, rows)
		for i := range theirs {
			if theirs[i], err = strconv.Atoi(base.GetClass(pred, i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("golearn predict: %w", err)
	}
	if len(theirs) != len(x) {
		return fmt.Errorf("golearn predicted %d rows, want %d", len(theirs), len(x))
	}
	cols := make([]bool, m.bin.cols+1)
	scores := make([]float64, len(m.schema.Classes))
	for i, row := range x {
		naiveBayesRow(m.schema, m.bin, row, cols)
		m.scores(cols, scores)
		best := majority(scores)
		tie := false
		for c, v := range scores {
			if c != best && math.Abs(v-scores[best]) <= 1e-9*math.Max(1, math.Abs(v)) {
				tie = true
			}
		}
		if !tie && best != theirs[i] {
			return fmt.Errorf("model read back from golearn predicts class %d for training row %d, golearn predicts %d", best, i, theirs[i])
		}
	}
	return nil
}

// naiveBayesModel is a trained "naive_bayes" model.
type naiveBayesModel struct {
	modelInfo
	bin       *binarizer
	rows      int         // training rows
	classRows []int       // training rows per class
	condProb  [][]float64 // [class][column], golearn's smoothed P(column set | class); last column always set
}

// check verifies the parameters (after extraction or decoding) so that scores are well defined.
func (m *naiveBayesModel) check() error {
	total := 0
	for c, n := range m.classRows {
		total += n
		if n == 0 {
			continue
		}
		for f, p := range m.condProb[c] {
			if !(p > 0 && p <= 1) {
				return fmt.Errorf("class %d column %d has probability %v (want in (0, 1])", c, f, p)
			}
		}
	}
	if total != m.rows || m.rows == 0 {
		return fmt.Errorf("class row counts add up to %d, want %d training rows", total, m.rows)
	}
	return nil
}

// scores fills golearn's log score of each class for a binarised row (-Inf for classes without
// training rows).
func (m *naiveBayesModel) scores(cols []bool, out []float64) {
	for c, n := range m.classRows {
		if n == 0 {
			out[c] = math.Inf(-1)
			continue
		}
		s := math.Log(float64(n) / float64(m.rows))
		for f, set := range cols {
			p := m.condProb[c][f]
			switch {
			case set:
				s += math.Log(p)
			case p == 1:
				s += math.Log(1 / float64(n+1))
			default:
				s += math.Log(1 - p)
			}
		}
		out[c] = s
	}
}

// Predict returns the class with the highest score and, for a binary schema, the posterior
// P(class 1) = e^score_1 / (e^score_0 + e^score_1).
func (m *naiveBayesModel) Predict(x [][]float64) ([]int, []float64, error) {
	classes, positive, err := m.predictions(x)
	if err != nil {
		return nil, nil, err
	}
	cols := make([]bool, m.bin.cols+1)
	scores := make([]float64, len(m.schema.Classes))
	for i, row := range x {
		naiveBayesRow(m.schema, m.bin, row, cols)
		m.scores(cols, scores)
		classes[i] = majority(scores)
		if positive != nil {
			positive[i] = sigmoid(scores[1] - scores[0])
		}
	}
	return classes, positive, nil
}

// PredictProba returns the posterior of every class: for a binary schema Predict's score for
// class 1 and 1 minus it for class 0, otherwise the softmax of the classes' scores (0 for a class
// without training rows). Predict's class has the highest score, hence the highest posterior; ties
// go to the lowest class id.
func (m *naiveBayesModel) PredictProba(x [][]float64) ([][]float64, error) {
	out, err := m.probabilities(x)
	if err != nil {
		return nil, err
	}
	cols := make([]bool, m.bin.cols+1)
	scores := make([]float64, len(m.schema.Classes))
	for i, row := range x {
		naiveBayesRow(m.schema, m.bin, row, cols)
		m.scores(cols, scores)
		p := out[i]
		if len(p) == 2 {
			setBinary(p, 0, 1, sigmoid(scores[1]-scores[0]))
			continue
		}
		setSoftmax(p, scores, nil)
	}
	return out, nil
}

func (m *naiveBayesModel) MarshalBinary() ([]byte, error) {
	var e encoder
	for j, f := range m.schema.Features {
		if f.Kind == Numeric {
			e.float(m.bin.median[j])
		}
	}
	e.uint(m.rows)
	e.uints(m.classRows)
	for _, cp := range m.condProb {
		e.floats(cp)
	}
	return m.artifact(e.b)
}

func decodeNaiveBayes(h header, payload []byte) (Model, error) {
	d := &decoder{b: payload}
	s := h.Schema
	m := &naiveBayesModel{modelInfo: modelInfo{algNaiveBayes, s, h.Params}, bin: &binarizer{median: make([]float64, len(s.Features))}}
	m.bin.layout(s)
	for j, f := range s.Features {
		if f.Kind == Numeric {
			m.bin.median[j] = d.finite("median")
		}
	}
	m.rows = d.uint()
	m.classRows = d.uintsN(len(s.Classes), "class row counts")
	m.condProb = make([][]float64, len(s.Classes))
	for c := range m.condProb {
		m.condProb[c] = d.floatsN(m.bin.cols+1, "feature probabilities")
	}
	if err := d.done(); err != nil {
		return nil, err
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return m, nil
}
