//go:build xgboost

package trainer

/*
#cgo LDFLAGS: -lxgboost
#include <stdlib.h>
#include <xgboost/c_api.h>
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"unsafe"
)

// "xgboost": gradient-boosted trees by XGBoost's C API (libxgboost, Debian's libxgboost-dev;
// written against 1.7), built only with the xgboost build tag. Without the tag, Lookup and
// Decode answer ErrXGBoostNotBuilt (xgboost_without.go).
//
// Features are one column per numeric feature and one 0/1 column per category of a categorical
// feature (an unknown category, -1, is all zeros), as float32: XGBoost's precision, values beyond
// ±math.MaxFloat32 clamped to it. One-hot rather than XGBoost's native categorical splits: 1.7
// documents those as experimental, and they take no negative category, so the unknown category
// would have to become a missing value and follow whichever branch training learned for missing
// values; with one-hot it matches none of the known categories, as in the other algorithms. Training builds one DMatrix from a dense
// float32 matrix (XGDMatrixCreateFromMat_omp, missing = NaN, which never occurs since rows are
// checked finite), then runs XGBoosterUpdateOneIter n_estimators times with tree_method=hist,
// checking ctx between rounds. Two trained classes use binary:logistic (score = P(class 1),
// starting from base_score = the class-1 share of the rows, as scikit-learn's
// HistGradientBoostingClassifier and XGBoost ≥ 2.0 do; 1.7 would start from 0.5), three or more
// multi:softprob (class = the most probable one, lowest class id on ties; no scores). Task
// regression uses reg:squarederror on the targets as float32, starting from base_score = the mean
// target (as scikit-learn's HistGradientBoostingRegressor and XGBoost ≥ 2.0 do; 1.7 would start
// from 0.5); PredictValues gives XGBoost's float32 prediction, and the payload's trained classes
// are none.
//
// Defaults follow scikit-learn's HistGradientBoostingClassifier where XGBoost has the same knob
// (100 rounds, learning rate 0.1 instead of XGBoost's 0.3, 256 bins ~ its 255) and XGBoost's own
// otherwise (depth 6 where scikit-learn caps leaves at 31, min_child_weight 1, L2 1). There is no
// early stopping: every round is kept, as with scikit-learn's early_stopping=False.
//
// The payload after the schema shape is the trained class ids, the SHA-256 of the model bytes,
// then the model as XGBoost saves it (XGBoosterSaveModelToBuffer, format "ubj": universal binary
// JSON, float32 values bit for bit). Decode checks the hash before XGBoost parses anything: its
// loader is not written for untrusted bytes (it checks the format, not that the trees it reads are
// consistent), so corrupted bytes must never reach it. A reloaded model re-encodes to the bytes it was decoded from.
//
// Threads and memory. XGBoost 1.7 keeps error messages, returned buffers and a booster's cache of
// training matrices per OS thread: Train runs on one locked OS thread from XGBoosterCreate to the
// last round, and every other call locks its goroutine to its thread until it has copied out what
// XGBoost returned. Each trained or decoded model owns one Booster handle, freed by a runtime
// cleanup once the model is unreachable (the Model interface has no Close; a booster of the
// default size is a few hundred KB of C memory the Go GC does not see). XGBoost documents
// prediction on gbtree boosters as thread safe since 1.4 provided nothing sets parameters or
// trains at the same time; a model sets its last parameter before it is returned, so Predict
// takes no lock and concurrent calls run in parallel. Predict feeds XGBoosterPredictFromDense
// C-allocated float32 chunks of at most xgboostPredictChunk rows. One caveat of 1.7: each OS thread
// that predicted with a booster keeps that booster's last output (up to one chunk, 256 KB for a
// binary model) until the thread ends, even after the booster is freed from another thread, so a
// long-lived process that loads many models holds up to models × threads × one chunk.

var xgboostParams = paramSpecs{
	{name: "n_estimators", def: 100, min: 1, max: 10_000, integer: true},
	{name: "max_depth", def: 6, min: 1, max: 32, integer: true},
	{name: "learning_rate", def: 0.1, min: 1e-4, max: 1},
	{name: "subsample", def: 1, min: 0.01, max: 1},
	{name: "colsample_bytree", def: 1, min: 0.01, max: 1},
	{name: "min_child_weight", def: 1, min: 0, max: math.Inf(1)},
	{name: "reg_lambda", def: 1, min: 0, max: math.Inf(1)},
	{name: "max_bin", def: 256, min: 2, max: 65_536, integer: true},
	{name: "nthread", def: 0, min: 0, max: 1024, integer: true},
	{name: "seed", def: 1, min: 0, max: math.MaxInt32, integer: true},
}

// xgboostPredictChunk bounds the rows converted to float32 at once by Predict, so scoring a large
// grid holds at most this many rows twice (float64 and float32).
const xgboostPredictChunk = 1 << 16

func init() {
	register(algorithm{trainer: xgboostTrainer{trainerInfo{algXGBoost, xgboostParams}}, decode: decodeXGBoost})
}

// XGBoostVersion returns the version of the linked libxgboost, such as "1.7.4".
func XGBoostVersion() string {
	var major, minor, patch C.int
	C.XGBoostVersion(&major, &minor, &patch)
	return fmt.Sprintf("%d.%d.%d", major, minor, patch)
}

type xgboostTrainer struct{ trainerInfo }

func (t xgboostTrainer) Train(ctx context.Context, d *Data, p Params) (model Model, err error) {
	eff, counts, err := t.start(ctx, d, p)
	if err != nil {
		return nil, err
	}
	s := d.Schema.clone()
	enc := newXGBoostEncoding(s)
	var present []int
	index := make([]float32, len(counts)) // class id -> XGBoost's label: its index in present
	for c, n := range counts {
		if n > 0 {
			index[c] = float32(len(present))
			present = append(present, c)
		}
	}

	// XGBoost 1.7 keeps a booster's cache of training matrices per OS thread: a round run on
	// another thread than XGBoosterCreate would find no training data (and, on later rounds, no
	// cached predictions). So the whole training stays on one thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	// The matrix lives in C memory for as long as XGBoost copies it into its DMatrix.
	rows := len(d.X)
	mat := newXGBoostMatrix(rows, enc.cols)
	for i, row := range d.X {
		enc.fill(s, row, mat.row(i))
	}
	nthread := int(eff["nthread"])
	var dm C.DMatrixHandle
	err = xgbCall("XGDMatrixCreateFromMat_omp", func() C.int {
		return C.XGDMatrixCreateFromMat_omp(mat.ptr, C.bst_ulong(rows), C.bst_ulong(enc.cols), C.float(math.NaN()), &dm, C.int(nthread))
	})
	mat.free()
	if err != nil {
		return nil, err
	}
	defer func() {
		if ferr := xgbCall("XGDMatrixFree", func() C.int { return C.XGDMatrixFree(dm) }); err == nil && ferr != nil {
			model, err = nil, ferr
		}
	}()
	y := make([]float32, rows)
	var targetMean float64
	if s.task() == Regression {
		for i, v := range d.Target {
			y[i] = clampFloat32(v)
			targetMean += v / float64(rows)
		}
	} else {
		for i, c := range d.Y {
			y[i] = index[c]
		}
	}
	field := C.CString("label")
	defer C.free(unsafe.Pointer(field))
	if err := xgbCall("XGDMatrixSetFloatInfo", func() C.int {
		return C.XGDMatrixSetFloatInfo(dm, field, (*C.float)(unsafe.Pointer(&y[0])), C.bst_ulong(rows))
	}); err != nil {
		return nil, err
	}

	var h C.BoosterHandle
	if err := xgbCall("XGBoosterCreate", func() C.int { return C.XGBoosterCreate(&dm, 1, &h) }); err != nil {
		return nil, err
	}
	defer func() {
		if ferr := xgbCall("XGBoosterFree", func() C.int { return C.XGBoosterFree(h) }); err == nil && ferr != nil {
			model, err = nil, ferr
		}
	}()
	settings := xgboostSettings(eff)
	if s.task() == Regression {
		settings = append(settings, [2]string{"objective", "reg:squarederror"}, [2]string{"base_score", strconv.FormatFloat(targetMean, 'g', -1, 64)})
	} else if len(present) == 2 {
		share := float64(counts[present[1]]) / float64(rows)
		settings = append(settings, [2]string{"objective", "binary:logistic"}, [2]string{"base_score", strconv.FormatFloat(share, 'g', -1, 64)})
	} else {
		settings = append(settings, [2]string{"objective", "multi:softprob"}, [2]string{"num_class", strconv.Itoa(len(present))})
	}
	for _, kv := range settings {
		if err := setParam(h, kv[0], kv[1]); err != nil {
			return nil, err
		}
	}
	for iter := range int(eff["n_estimators"]) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := xgbCall("XGBoosterUpdateOneIter", func() C.int { return C.XGBoosterUpdateOneIter(h, C.int(iter), dm) }); err != nil {
			return nil, fmt.Errorf("round %d: %w", iter, err)
		}
	}
	raw, err := saveBooster(h, "ubj")
	if err != nil {
		return nil, err
	}
	// The model is the saved bytes loaded into a fresh booster, exactly what Decode builds, so a
	// trained and a reloaded model cannot differ.
	m, err := newXGBoostModel(s, eff, present, raw)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// xgboostSettings maps the parameters to XGBoost's booster parameters (all but the objective).
func xgboostSettings(p Params) [][2]string {
	f := func(name string) string { return strconv.FormatFloat(p[name], 'g', -1, 64) }
	s := [][2]string{
		{"tree_method", "hist"},
		{"eta", f("learning_rate")},
		{"max_depth", f("max_depth")},
		{"subsample", f("subsample")},
		{"colsample_bytree", f("colsample_bytree")},
		{"min_child_weight", f("min_child_weight")},
		{"lambda", f("reg_lambda")},
		{"max_bin", f("max_bin")},
		{"seed", f("seed")},
		{"verbosity", "0"}, // warnings would go to stderr; the parameters are validated here
	}
	return append(s, nthreadSetting(p))
}

// nthreadSetting is XGBoost's nthread: 0 leaves XGBoost's default, every core OpenMP reports.
func nthreadSetting(p Params) [2]string {
	return [2]string{"nthread", strconv.FormatFloat(p["nthread"], 'g', -1, 64)}
}

// xgboostEncoding lays a row out as XGBoost's columns: numeric features as they are, categorical
// ones one-hot (standardizer's layout, without its scaling).
type xgboostEncoding struct {
	offset []int
	cols   int
}

func newXGBoostEncoding(s Schema) xgboostEncoding {
	var st standardizer
	st.layout(s)
	return xgboostEncoding{offset: st.offset, cols: st.cols}
}

// fill writes row's columns into dst (len e.cols), which it zeroes first.
func (e xgboostEncoding) fill(s Schema, row []float64, dst []float32) {
	clear(dst)
	for j, f := range s.Features {
		if f.Kind == Numeric {
			dst[e.offset[j]] = clampFloat32(row[j])
		} else if c := int(row[j]); c >= 0 {
			dst[e.offset[j]+c] = 1
		}
	}
}

// xgboostMatrix is a row-major float32 matrix in C memory, handed to XGBoost by address.
type xgboostMatrix struct {
	ptr  *C.float
	data []float32
	cols int
}

func newXGBoostMatrix(rows, cols int) xgboostMatrix {
	n := rows * cols
	p := (*C.float)(C.malloc(C.size_t(max(n, 1)) * C.size_t(unsafe.Sizeof(C.float(0)))))
	if p == nil {
		panic(fmt.Sprintf("xgboost: cannot allocate a %d x %d float32 matrix", rows, cols))
	}
	return xgboostMatrix{ptr: p, data: unsafe.Slice((*float32)(unsafe.Pointer(p)), n), cols: cols}
}

func (m xgboostMatrix) row(i int) []float32 { return m.data[i*m.cols : (i+1)*m.cols] }
func (m xgboostMatrix) free()               { C.free(unsafe.Pointer(m.ptr)) }

// xgboostModel is a trained "xgboost" model.
type xgboostModel struct {
	modelInfo
	enc     xgboostEncoding
	present []int  // class ids seen in training, increasing; 2 = a binary:logistic booster
	raw     []byte // the booster as XGBoost saved it (UBJ), what MarshalBinary writes
	booster *xgboostBooster
}

// xgboostBooster owns one BoosterHandle; a cleanup frees it once the booster is unreachable.
type xgboostBooster struct{ h C.BoosterHandle }

// newXGBoostModel loads raw into a new booster and checks that it fits the schema, the trained
// classes and the parameters.
func newXGBoostModel(s Schema, p Params, present []int, raw []byte) (*xgboostModel, error) {
	if len(raw) < 2 || raw[0] != '{' {
		return nil, errors.New("model bytes are not XGBoost JSON or UBJ")
	}
	var h C.BoosterHandle
	if err := xgbCall("XGBoosterCreate", func() C.int { return C.XGBoosterCreate(nil, 0, &h) }); err != nil {
		return nil, err
	}
	b := &xgboostBooster{h: h}
	runtime.AddCleanup(b, func(h C.BoosterHandle) { C.XGBoosterFree(h) }, h)
	defer runtime.KeepAlive(b)
	if err := xgbCall("XGBoosterLoadModelFromBuffer", func() C.int {
		return C.XGBoosterLoadModelFromBuffer(h, unsafe.Pointer(&raw[0]), C.bst_ulong(len(raw)))
	}); err != nil {
		return nil, err
	}
	// nthread is a run-time setting, not part of the saved model. Setting it here, before the
	// model is shared, is the last write to the booster: prediction is then thread safe.
	if kv := nthreadSetting(p); kv[1] != "0" {
		if err := setParam(h, kv[0], kv[1]); err != nil {
			return nil, err
		}
	}
	enc := newXGBoostEncoding(s)
	var features C.bst_ulong
	if err := xgbCall("XGBoosterGetNumFeature", func() C.int { return C.XGBoosterGetNumFeature(h, &features) }); err != nil {
		return nil, err
	}
	if int(features) != enc.cols {
		return nil, fmt.Errorf("booster has %d feature columns, the schema encodes to %d", features, enc.cols)
	}
	var rounds C.int
	if err := xgbCall("XGBoosterBoostedRounds", func() C.int { return C.XGBoosterBoostedRounds(h, &rounds) }); err != nil {
		return nil, err
	}
	if want := int(p["n_estimators"]); int(rounds) != want {
		return nil, fmt.Errorf("booster has %d rounds, n_estimators is %d", rounds, want)
	}
	m := &xgboostModel{modelInfo: modelInfo{algXGBoost, s, p}, enc: enc, present: present, raw: raw, booster: b}
	// One prediction checks the output width (1 for binary:logistic, one column per trained class
	// for multi:softprob) and lets XGBoost finish configuring the booster before it is shared.
	zero := newXGBoostMatrix(1, enc.cols)
	defer zero.free()
	clear(zero.data)
	if _, err := b.predict(zero, 1, m.width()); err != nil {
		return nil, err
	}
	return m, nil
}

// width is the number of outputs per row: the value (regression), P(second trained class), or one
// per trained class.
func (m *xgboostModel) width() int {
	if len(m.present) <= 2 {
		return 1
	}
	return len(m.present)
}

// Predict returns the most probable class (ties go to the lowest class id) and, for a binary
// schema, P(class 1) as XGBoost computes it in float32.
func (m *xgboostModel) Predict(x [][]float64) ([]int, []float64, error) {
	if m.schema.task() == Regression {
		return nil, nil, taskErrorf("%s model of task %s predicts values, not classes: call PredictValues", algXGBoost, Regression)
	}
	classes, positive, err := m.predictions(x)
	if err != nil {
		return nil, nil, err
	}
	err = m.outputs(x, func(k int, out []float32) {
		if len(out) == 1 {
			p1 := out[0]
			classes[k] = m.present[0]
			if p1 > 0.5 {
				classes[k] = m.present[1]
			}
			if positive != nil {
				positive[k] = float64(p1)
			}
			return
		}
		best := 0
		for c, p := range out {
			if p > out[best] {
				best = c
			}
		}
		classes[k] = m.present[best]
	})
	if err != nil {
		return nil, nil, err
	}
	return classes, positive, nil
}

// PredictProba returns P(class | row) for every class of the schema: for two trained classes
// Predict's score for the second (bit for bit) and 1 minus it for the first; for more, XGBoost's
// float32 probabilities widened to float64 and divided by their sum (XGBoost's own sum is 1 only to
// float32 rounding, about 1e-7). A class without training rows gets 0. Predict's class is the most
// probable one (ties go to the lowest class id).
func (m *xgboostModel) PredictProba(x [][]float64) ([][]float64, error) {
	proba, err := m.probabilities(x)
	if err != nil {
		return nil, err
	}
	err = m.outputs(x, func(k int, out []float32) {
		p := proba[k]
		if len(out) == 1 {
			setBinary(p, m.present[0], m.present[1], float64(out[0]))
			return
		}
		var sum float64
		for _, v := range out {
			sum += float64(v)
		}
		for c, v := range out {
			p[m.present[c]] = float64(v) / sum
		}
	})
	if err != nil {
		return nil, err
	}
	return proba, nil
}

// outputs runs the booster on the rows of x (already checked), a chunk at a time, and calls f with
// the index and the outputs of each row: width() float32s, which f must not keep.
func (m *xgboostModel) outputs(x [][]float64, f func(k int, out []float32)) error {
	if len(x) == 0 {
		return nil
	}
	w := m.width()
	chunk := min(len(x), xgboostPredictChunk)
	mat := newXGBoostMatrix(chunk, m.enc.cols)
	defer mat.free()
	for start := 0; start < len(x); start += chunk {
		rows := x[start:min(start+chunk, len(x))]
		for i, row := range rows {
			m.enc.fill(m.schema, row, mat.row(i))
		}
		out, err := m.booster.predict(mat, len(rows), w)
		if err != nil {
			return err
		}
		for i := range rows {
			f(start+i, out[i*w:(i+1)*w])
		}
	}
	return nil
}

// PredictValues (task regression) returns XGBoost's prediction for each row, computed in float32.
func (m *xgboostModel) PredictValues(x [][]float64) ([]float64, error) {
	if m.schema.task() != Regression {
		return nil, taskErrorf("%s model of task %s predicts classes, not values: call Predict", algXGBoost, m.schema.task())
	}
	if err := m.schema.checkRows(x); err != nil {
		return nil, err
	}
	values := make([]float64, len(x))
	if err := m.outputs(x, func(k int, out []float32) { values[k] = float64(out[0]) }); err != nil {
		return nil, err
	}
	return values, nil
}

// predictConfig asks XGBoosterPredictFromDense for transformed predictions (probabilities) of all
// trees as a rows x width matrix.
var predictConfig = C.CString(`{"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": true, "cache_id": 0, "missing": NaN}`)

// predict returns the predictions of the first rows of mat, rows x width float32s, in a new slice.
func (b *xgboostBooster) predict(mat xgboostMatrix, rows, width int) ([]float32, error) {
	iface := C.CString(fmt.Sprintf(`{"data": [%d, true], "shape": [%d, %d], "typestr": "<f4", "version": 3}`,
		uintptr(unsafe.Pointer(mat.ptr)), rows, mat.cols))
	defer C.free(unsafe.Pointer(iface))
	out := make([]float32, rows*width)
	var shapeErr error
	err := xgbCall("XGBoosterPredictFromDense", func() C.int {
		var shape *C.bst_ulong
		var dims C.bst_ulong
		var res *C.float
		rc := C.XGBoosterPredictFromDense(b.h, iface, predictConfig, nil, &shape, &dims, &res)
		if rc != 0 {
			return rc
		}
		// The result is thread-local to XGBoost: copy it before this thread makes another call.
		s := unsafe.Slice(shape, int(dims))
		if dims != 2 || int(s[0]) != rows || int(s[1]) != width {
			shapeErr = fmt.Errorf("xgboost: prediction has shape %v, want [%d %d]", s, rows, width)
			return 0
		}
		copy(out, unsafe.Slice((*float32)(unsafe.Pointer(res)), rows*width))
		return 0
	})
	runtime.KeepAlive(b)
	if err != nil {
		return nil, err
	}
	return out, shapeErr
}

func (m *xgboostModel) MarshalBinary() ([]byte, error) {
	var e encoder
	e.uints(m.present)
	e.hashedBytes(m.raw)
	return m.artifact(e.b)
}

func decodeXGBoost(h header, payload []byte) (Model, error) {
	d := &decoder{b: payload}
	k := len(h.Schema.Classes)
	n := d.count(1, "classes")
	if d.err == nil && h.Schema.task() == Regression && n != 0 {
		d.failf("%d trained classes (want none for task %s)", n, Regression)
	} else if d.err == nil && h.Schema.task() != Regression && (n < 2 || n > k) {
		d.failf("%d trained classes (want 2 to %d)", n, k)
	}
	var present []int
	for i := 0; i < n && d.err == nil; i++ {
		c := d.uintMax(k-1, "trained class")
		if i > 0 && c <= present[i-1] {
			d.failf("trained classes are not increasing")
		}
		present = append(present, c)
	}
	raw, err := d.hashedBytes()
	if err != nil {
		return nil, err
	}
	m, err := newXGBoostModel(h.Schema, h.Params, present, raw)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// xgbCall runs one XGBoost call (f) and turns a non-zero return code into an error carrying
// XGBGetLastError. XGBoost keeps that message (and the buffers it returns) per OS thread, so the
// goroutine stays on its thread from the call until the message is read.
func xgbCall(fn string, f func() C.int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if f() == 0 {
		return nil
	}
	msg := C.GoString(C.XGBGetLastError())
	// XGBoost appends a native stack trace to its messages; the first part says what failed.
	if i := strings.Index(msg, "\nStack trace:"); i >= 0 {
		msg = msg[:i]
	}
	return fmt.Errorf("xgboost: %s: %s", fn, strings.TrimSpace(msg))
}

func setParam(h C.BoosterHandle, name, value string) error {
	cn, cv := C.CString(name), C.CString(value)
	defer C.free(unsafe.Pointer(cn))
	defer C.free(unsafe.Pointer(cv))
	if err := xgbCall("XGBoosterSetParam", func() C.int { return C.XGBoosterSetParam(h, cn, cv) }); err != nil {
		return fmt.Errorf("%s=%s: %w", name, value, err)
	}
	return nil
}

// saveBooster returns the booster in one of XGBoost's model formats: "ubj" or "json".
func saveBooster(h C.BoosterHandle, format string) ([]byte, error) {
	cfg := C.CString(`{"format": "` + format + `"}`)
	defer C.free(unsafe.Pointer(cfg))
	var raw []byte
	err := xgbCall("XGBoosterSaveModelToBuffer", func() C.int {
		var n C.bst_ulong
		var p *C.char
		rc := C.XGBoosterSaveModelToBuffer(h, cfg, &n, &p)
		if rc == 0 {
			raw = C.GoBytes(unsafe.Pointer(p), C.int(n)) // thread-local to XGBoost: copy now
		}
		return rc
	})
	return raw, err
}
