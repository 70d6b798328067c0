//go:build onnx

package trainer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// "onnx": a model registered from an ONNX file (onnx_file.go says the contract), run by ONNX
// Runtime's C API through github.com/yalue/onnxruntime_go, which loads libonnxruntime at run time
// from $KINGMAKER_ONNXRUNTIME_LIB or where scripts/onnxruntime.sh installs it. It is never trained:
// its trainer refuses. The payload after the schema shape is the SHA-256 of the ONNX bytes, then
// the bytes as the producer wrote them; Decode checks the hash before ONNX Runtime parses them.

func init() {
	register(algorithm{trainer: onnxTrainer{trainerInfo{algONNX, paramSpecs{}}}, decode: decodeONNX, fromFile: true})
}

type onnxTrainer struct{ trainerInfo }

func (t onnxTrainer) Train(ctx context.Context, d *Data, p Params) (Model, error) {
	return nil, fmt.Errorf("%w: onnx models are registered from a file (kingmaker models register --format onnx), not trained", ErrInvalidParams)
}

var (
	ortOnce sync.Once
	ortErr  error
)

// onnxRuntime initialises ONNX Runtime once per process.
func onnxRuntime() error {
	ortOnce.Do(func() {
		lib := os.Getenv("KINGMAKER_ONNXRUNTIME_LIB")
		if lib == "" {
			home, _ := os.UserHomeDir()
			lib = filepath.Join(home, ".cache", "kingmaker", "onnxruntime-1.32.0", "libonnxruntime.so")
		}
		if _, err := os.Stat(lib); err != nil {
			ortErr = fmt.Errorf("onnx: no ONNX Runtime library at %s: run scripts/onnxruntime.sh install or set KINGMAKER_ONNXRUNTIME_LIB", lib)
			return
		}
		ort.SetSharedLibraryPath(lib)
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			ortErr = fmt.Errorf("onnx: start ONNX Runtime from %s: %w", lib, err)
		}
	})
	return ortErr
}

// ONNXRuntimeVersion returns the version of the loaded ONNX Runtime, such as "1.32.0".
func ONNXRuntimeVersion() (string, error) {
	if err := onnxRuntime(); err != nil {
		return "", err
	}
	return ort.GetVersion(), nil
}

type onnxModel struct {
	modelInfo
	raw     []byte
	inputs  []string // the session's inputs: the schema's feature names in schema order, or the one matrix input
	matrix  bool     // one float input [N, columns] of the columns XGBoostColumns names, not one input per feature
	columns int
	output  string
	width   int
	session *ort.DynamicAdvancedSession
}

// checkONNXContract returns the output to read and, when the model takes one matrix input, its
// name; or the first way the model does not fit s.
func checkONNXContract(s Schema, raw []byte) (output, matrix string, err error) {
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(raw)
	if err != nil {
		return "", "", fileErrorf("ONNX Runtime cannot read the model: %v", firstLine(err.Error()))
	}
	if len(ins) == 1 && !isFeature(s, ins[0].Name) {
		if err := checkONNXMatrix(s, ins[0]); err != nil {
			return "", "", err
		}
		matrix = ins[0].Name
	} else if err := checkONNXPerFeature(s, ins); err != nil {
		return "", "", err
	}
	output, err = checkONNXOutput(s, outs)
	return output, matrix, err
}

// checkONNXMatrix checks the one input of a model that reads a matrix (onnxmltools' LightGBM and
// XGBoost conversions): a float tensor [N, F] whose F columns are XGBoostColumns(s).
func checkONNXMatrix(s Schema, in ort.InputOutputInfo) error {
	cols := XGBoostColumns(s)
	if in.OrtValueType != ort.ONNXTypeTensor || in.DataType != ort.TensorElementDataTypeFloat {
		return fileErrorf("input %q is %v: a model with one input wants a float tensor [N, %d] (columns %s)", in.Name, in.DataType, len(cols), strings.Join(cols, ", "))
	}
	if d := in.Dimensions; len(d) != 2 || d[1] != int64(len(cols)) {
		return fileErrorf("input %q has shape %v, want [N, %d]: the model's %d columns are %s", in.Name, d, len(cols), len(cols), strings.Join(cols, ", "))
	}
	return nil
}

// checkONNXPerFeature checks the inputs of a model that reads one input per feature.
func checkONNXPerFeature(s Schema, ins []ort.InputOutputInfo) error {
	byName := map[string]ort.InputOutputInfo{}
	for _, in := range ins {
		byName[in.Name] = in
	}
	for _, f := range s.Features {
		in, ok := byName[f.Name]
		if !ok {
			return fileErrorf("the model has no input %q (one input per feature, named like it, or one float input [N, %d]; its inputs: %s)", f.Name, len(XGBoostColumns(s)), ioNames(ins))
		}
		delete(byName, f.Name)
		want := []ort.TensorElementDataType{ort.TensorElementDataTypeFloat, ort.TensorElementDataTypeDouble}
		kind := "float"
		if f.Kind == Categorical {
			want, kind = []ort.TensorElementDataType{ort.TensorElementDataTypeString}, "string"
		}
		if in.OrtValueType != ort.ONNXTypeTensor || (in.DataType != want[0] && (len(want) == 1 || in.DataType != want[1])) {
			return fileErrorf("input %q is %v, feature %s is %s: want a %s tensor [N, 1]", f.Name, in.DataType, f.Name, f.Kind, kind)
		}
		if d := in.Dimensions; len(d) != 2 || d[1] != 1 {
			return fileErrorf("input %q has shape %v, want [N, 1]", f.Name, d)
		}
	}
	for name := range byName {
		return fileErrorf("input %q is not a feature of the model (features: %s)", name, featureNames(s))
	}
	return nil
}

// checkONNXOutput returns the output to read.
func checkONNXOutput(s Schema, outs []ort.InputOutputInfo) (string, error) {
	want := "probabilities"
	if s.task() == Regression {
		want = "variable"
		if len(outs) == 1 {
			want = outs[0].Name
		}
	}
	for _, o := range outs {
		if o.Name != want {
			continue
		}
		if o.OrtValueType != ort.ONNXTypeTensor || o.DataType != ort.TensorElementDataTypeFloat {
			return "", fileErrorf("output %q is not a float tensor (a ZipMap? convert the classifier with options {\"zipmap\": False})", o.Name)
		}
		cols := int64(1)
		if s.task() != Regression {
			cols = int64(len(s.Classes))
		}
		if d := o.Dimensions; len(d) != 2 || (d[1] > 0 && d[1] != cols) {
			return "", fileErrorf("output %q has shape %v, the model needs [N, %d] (%s)", o.Name, d, cols, strings.Join(s.Classes, ", "))
		}
		return o.Name, nil
	}
	return "", fileErrorf("the model has no output %q (its outputs: %s)", want, ioNames(outs))
}

func isFeature(s Schema, name string) bool {
	for _, f := range s.Features {
		if f.Name == name {
			return true
		}
	}
	return false
}

func ioNames(list []ort.InputOutputInfo) string {
	var names []string
	for _, x := range list {
		names = append(names, x.Name)
	}
	return strings.Join(names, ", ")
}

func featureNames(s Schema) string {
	var names []string
	for _, f := range s.Features {
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// loadONNXFile checks raw against s and opens it in ONNX Runtime.
func loadONNXFile(s Schema, raw []byte) (Model, error) {
	if err := onnxRuntime(); err != nil {
		return nil, err
	}
	output, matrix, err := checkONNXContract(s, raw)
	if err != nil {
		return nil, err
	}
	m := &onnxModel{modelInfo: modelInfo{algONNX, s, Params{}}, raw: raw, output: output, width: 1, matrix: matrix != "", columns: len(XGBoostColumns(s))}
	if s.task() != Regression {
		m.width = len(s.Classes)
	}
	if m.matrix {
		m.inputs = []string{matrix}
	} else {
		for _, f := range s.Features {
			m.inputs = append(m.inputs, f.Name)
		}
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	_ = opts.SetIntraOpNumThreads(1) // requests run in parallel already; one thread each
	sess, err := ort.NewDynamicAdvancedSessionWithONNXData(raw, m.inputs, []string{output}, opts)
	if err != nil {
		return nil, fileErrorf("ONNX Runtime cannot open the model: %v", firstLine(err.Error()))
	}
	m.session = sess
	// The session is freed with the model (the Model interface has no Close).
	runtime.AddCleanup(m, func(s *ort.DynamicAdvancedSession) { s.Destroy() }, sess)
	// One prediction checks the output's width before the model is shared.
	if _, err := m.outputs(zeroRows(1, len(s.Features))); err != nil {
		return nil, fileErrorf("the model does not run on a row of zeros: %v", err)
	}
	return m, nil
}

// outputs runs the model on the rows of x (already checked) and returns width floats per row.
func (m *onnxModel) outputs(x [][]float64) ([][]float64, error) {
	if len(x) == 0 {
		return nil, nil
	}
	n := int64(len(x))
	var inputs []ort.Value
	defer func() {
		for _, v := range inputs {
			v.Destroy()
		}
	}()
	perFeature := m.schema.Features
	if m.matrix {
		t, err := ort.NewTensor(ort.NewShape(n, int64(m.columns)), m.matrixRows(x))
		if err != nil {
			return nil, err
		}
		inputs = append(inputs, t)
		perFeature = nil
	}
	for j, f := range perFeature {
		if f.Kind == Categorical {
			t, err := ort.NewStringTensor(ort.NewShape(n, 1))
			if err != nil {
				return nil, err
			}
			inputs = append(inputs, t)
			vals := make([]string, n)
			for i, row := range x {
				if c := int(row[j]); c >= 0 && c < len(f.Categories) {
					vals[i] = f.Categories[c]
				}
			}
			if err := t.SetContents(vals); err != nil {
				return nil, err
			}
			continue
		}
		vals := make([]float32, n)
		for i, row := range x {
			vals[i] = clampFloat32(row[j])
		}
		t, err := ort.NewTensor(ort.NewShape(n, 1), vals)
		if err != nil {
			return nil, err
		}
		inputs = append(inputs, t)
	}
	outs := []ort.Value{nil}
	if err := m.session.Run(inputs, outs); err != nil {
		return nil, fmt.Errorf("onnx: run: %v", firstLine(err.Error()))
	}
	defer outs[0].Destroy()
	t, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		return nil, errors.New("onnx: the output is not a float tensor")
	}
	if sh := t.GetShape(); len(sh) != 2 || sh[0] != n || sh[1] != int64(m.width) {
		return nil, fmt.Errorf("onnx: output has shape %v, want [%d %d]", sh, n, m.width)
	}
	data := t.GetData()
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, m.width)
		for k := range out[i] {
			out[i][k] = float64(data[i*m.width+k])
		}
	}
	return out, nil
}

// matrixRows lays the rows of x out as the matrix input wants them, row-major: a numeric feature
// as its value, a categorical one as one 0/1 column per category (all 0 for the unknown category).
func (m *onnxModel) matrixRows(x [][]float64) []float32 {
	w := m.columns
	vals := make([]float32, len(x)*w)
	for i, row := range x {
		k := i * w
		for j, f := range m.schema.Features {
			if f.Kind != Categorical {
				vals[k] = clampFloat32(row[j])
				k++
				continue
			}
			if c := int(row[j]); c >= 0 && c < len(f.Categories) {
				vals[k+c] = 1
			}
			k += len(f.Categories)
		}
	}
	return vals
}

func zeroRows(n, w int) [][]float64 {
	x := make([][]float64, n)
	for i := range x {
		x[i] = make([]float64, w)
	}
	return x
}

// Predict returns the most probable class (ties go to the lowest class id) and, for a binary
// model, P(class 1) as ONNX Runtime computes it in float32.
func (m *onnxModel) Predict(x [][]float64) ([]int, []float64, error) {
	if m.schema.task() == Regression {
		return nil, nil, taskErrorf("%s model of task %s predicts values, not classes: call PredictValues", algONNX, Regression)
	}
	classes, positive, err := m.predictions(x)
	if err != nil {
		return nil, nil, err
	}
	out, err := m.outputs(x)
	if err != nil {
		return nil, nil, err
	}
	for i, p := range out {
		best := 0
		for c := range p {
			if p[c] > p[best] {
				best = c
			}
		}
		classes[i] = best
		if positive != nil {
			positive[i] = p[1]
		}
	}
	return classes, positive, nil
}

// PredictProba returns the model's probabilities, divided by their sum (ONNX Runtime's float32
// sum is 1 only to about 1e-7).
func (m *onnxModel) PredictProba(x [][]float64) ([][]float64, error) {
	proba, err := m.probabilities(x)
	if err != nil {
		return nil, err
	}
	out, err := m.outputs(x)
	if err != nil {
		return nil, err
	}
	for i, p := range out {
		var sum float64
		for _, v := range p {
			sum += v
		}
		for c, v := range p {
			proba[i][c] = v / sum
		}
	}
	return proba, nil
}

// PredictValues (task regression) returns the model's value for each row, computed in float32.
func (m *onnxModel) PredictValues(x [][]float64) ([]float64, error) {
	if m.schema.task() != Regression {
		return nil, taskErrorf("%s model of task %s predicts classes, not values: call Predict", algONNX, m.schema.task())
	}
	if err := m.schema.checkRows(x); err != nil {
		return nil, err
	}
	out, err := m.outputs(x)
	if err != nil {
		return nil, err
	}
	values := make([]float64, len(out))
	for i, p := range out {
		values[i] = p[0]
	}
	return values, nil
}

func (m *onnxModel) MarshalBinary() ([]byte, error) {
	var e encoder
	e.hashedBytes(m.raw)
	return m.artifact(e.b)
}

func decodeONNX(h header, payload []byte) (Model, error) {
	raw, err := (&decoder{b: payload}).hashedBytes()
	if err != nil {
		return nil, err
	}
	return loadONNXFile(h.Schema, raw)
}
