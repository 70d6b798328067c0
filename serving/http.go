package serving

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kingmaker-ml/kingmaker/trainer"
)

// Headers naming the champion that answered.
const (
	HeaderVersion    = "X-Kingmaker-Version"
	HeaderGeneration = "X-Kingmaker-Generation"
)

// Platform is the platform named in model metadata.
const Platform = "kingmaker"

// tensorMetadata describes one input or output of a model.
type tensorMetadata struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
	// Parameters hold the categories of a categorical input, in order.
	Parameters map[string]any `json:"parameters,omitempty"`
}

// ModelMetadata is the v2 model metadata response.
type ModelMetadata struct {
	Name     string           `json:"name"`
	Versions []string         `json:"versions"`
	Platform string           `json:"platform"`
	Inputs   []tensorMetadata `json:"inputs"`
	Outputs  []tensorMetadata `json:"outputs"`
	// Parameters: generation, algorithm, classes, positive_class and, while
	// the model has a shadow version, shadow_version.
	Parameters map[string]any `json:"parameters"`
}

// Tensor is one output tensor of a v2 inference response.
type Tensor struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
	Data     any     `json:"data"`
	// Parameters name the classes of a multiclass model's probabilities
	// output (shape [N, classes], data row after row).
	Parameters map[string]any `json:"parameters,omitempty"`
}

// InferResponse is the v2 inference response.
type InferResponse struct {
	ModelName    string   `json:"model_name"`
	ModelVersion string   `json:"model_version"`
	ID           string   `json:"id"`
	Outputs      []Tensor `json:"outputs"`
	Parameters   struct {
		Generation int64 `json:"generation"`
	} `json:"parameters"`
}

// Prediction is one row of a v1 predict response of a classifier.
// Probability is the positive class's score of a binary model, absent for
// models that give none; Probabilities, of a multiclass model, hold one
// probability per class in the order of PredictResponse.Classes.
type Prediction struct {
	Class         string    `json:"class"`
	Probability   *float64  `json:"probability,omitempty"`
	Probabilities []float64 `json:"probabilities,omitempty"`
}

// PredictResponse is the v1 predict response of a classifier. Classes,
// set for a multiclass model that gives probabilities, names them.
type PredictResponse struct {
	Predictions  []Prediction `json:"predictions"`
	ModelVersion string       `json:"model_version"`
	Generation   int64        `json:"generation"`
	Classes      []string     `json:"classes,omitempty"`
}

// ValuePrediction is one row of a v1 predict response of a regression
// model: the predicted number.
type ValuePrediction struct {
	Value float64 `json:"value"`
}

// ValueResponse is the v1 predict response of a regression model.
type ValueResponse struct {
	Predictions  []ValuePrediction `json:"predictions"`
	ModelVersion string            `json:"model_version"`
	Generation   int64             `json:"generation"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.code, map[string]string{"error": e.msg})
}

func nameChampion(w http.ResponseWriter, snap *snapshot) {
	w.Header().Set(HeaderVersion, snap.versionStr)
	w.Header().Set(HeaderGeneration, snap.genStr)
}

// served finds the model called name, or returns the 404 that lists the models served here.
func (s *Server) served(name string) (*model, *apiError) {
	if m, ok := s.models[name]; ok {
		return m, nil
	}
	names := make([]string, len(s.order))
	for i, m := range s.order {
		names[i] = m.name
	}
	return nil, &apiError{http.StatusNotFound, fmt.Sprintf("model %q is not served here (models: %s)", clip(name), strings.Join(names, ", "))}
}

// unavailable is the 503 of a model without a champion in service.
func (s *Server) unavailable(w http.ResponseWriter, m *model) *apiError {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(s.opts.Poll/time.Second))))
	return &apiError{http.StatusServiceUnavailable, m.unavailable(m.state.Load())}
}

func (s *Server) live(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]bool{"live": true})
}

// ready is 200 when every model that has a champion has it in service.
// The body says why not, model by model.
func (s *Server) ready(w http.ResponseWriter, _ *http.Request) {
	waiting := map[string]string{}
	for _, m := range s.order {
		if ok, why := m.ready(); !ok {
			waiting[m.name] = why
		}
	}
	if len(waiting) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "models": waiting})
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ready": true})
}

func (s *Server) serverMetadata(w http.ResponseWriter, _ *http.Request) {
	version := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		version = bi.Main.Version
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": "kingmaker", "version": version, "extensions": []string{}})
}

func (s *Server) modelMetadata(w http.ResponseWriter, r *http.Request) {
	m, e := s.served(r.PathValue("model"))
	if e != nil {
		writeError(w, e)
		return
	}
	snap := m.current.Load()
	if snap == nil {
		writeError(w, s.unavailable(w, m))
		return
	}
	md := ModelMetadata{
		Name: m.name, Versions: []string{snap.versionStr}, Platform: Platform,
		Parameters: map[string]any{"generation": snap.generation, "algorithm": snap.algorithm},
	}
	if snap.task != trainer.Regression {
		md.Parameters["classes"] = m.classes
	}
	if sh := m.shadow.Load(); sh != nil {
		md.Parameters["shadow_version"] = sh.versionStr
	}
	for i := range m.features {
		f := &m.features[i]
		t := tensorMetadata{Name: f.name, Datatype: datatype(f), Shape: []int64{-1}}
		if !f.numeric {
			t.Parameters = map[string]any{"categories": f.list}
		}
		md.Inputs = append(md.Inputs, t)
	}
	for _, o := range m.outputNames(snap) {
		switch o {
		case outputClass:
			md.Outputs = append(md.Outputs, tensorMetadata{Name: outputClass, Datatype: "BYTES", Shape: []int64{-1}})
		case outputProbability:
			md.Outputs = append(md.Outputs, tensorMetadata{Name: outputProbability, Datatype: "FP64", Shape: []int64{-1}})
			md.Parameters["positive_class"] = m.classes[len(m.classes)-1]
		case outputProbabilities:
			md.Outputs = append(md.Outputs, tensorMetadata{Name: outputProbabilities, Datatype: "FP64", Shape: []int64{-1, int64(len(m.classes))},
				Parameters: map[string]any{"classes": m.classes}})
		case outputValue:
			md.Outputs = append(md.Outputs, tensorMetadata{Name: outputValue, Datatype: "FP64", Shape: []int64{-1}})
		}
	}
	if snap.task != trainer.Binary {
		md.Parameters["task"] = snap.task
	}
	nameChampion(w, snap)
	writeJSON(w, http.StatusOK, md)
}

func (s *Server) modelReady(w http.ResponseWriter, r *http.Request) {
	m, e := s.served(r.PathValue("model"))
	if e != nil {
		writeError(w, e)
		return
	}
	snap := m.current.Load()
	if snap == nil {
		e := s.unavailable(w, m)
		writeJSON(w, e.code, map[string]any{"name": m.name, "ready": false, "error": e.msg})
		return
	}
	nameChampion(w, snap)
	body := map[string]any{"name": m.name, "ready": true, "model_version": snap.versionStr, "generation": snap.generation}
	if sh := m.shadow.Load(); sh != nil {
		body["parameters"] = map[string]any{"shadow_version": sh.versionStr}
	}
	writeJSON(w, http.StatusOK, body)
}

// prediction wraps a prediction endpoint: it finds the model, reads its
// champion once (the request uses that snapshot only), names it in the
// headers, takes one of the slots of concurrent requests, reads the body
// within the limits, and records the request's metrics.
func (s *Server) prediction(endpoint string, depth int, modelName func(*http.Request) (string, *apiError),
	serve func(w http.ResponseWriter, r *http.Request, m *model, snap *snapshot, body []byte) *apiError) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		began := time.Now()
		label, version, code := unknownModel, "", http.StatusOK
		defer func() {
			if v := w.Header().Get(HeaderVersion); v != "" {
				version = v // a canary answer is counted under the version that gave it
			}
			s.metrics.observe(label, endpoint, version, code, began)
		}()
		fail := func(e *apiError) {
			code = e.code
			writeError(w, e)
		}
		name, e := modelName(r)
		if e != nil {
			fail(e)
			return
		}
		m, e := s.served(name)
		if e != nil {
			fail(e)
			return
		}
		label = m.name
		snap := m.current.Load()
		if snap == nil {
			fail(s.unavailable(w, m))
			return
		}
		version = snap.versionStr
		nameChampion(w, snap)
		release, busy := s.limits.acquire(w, r)
		if busy != nil {
			s.metrics.busy.WithLabelValues(m.name).Inc()
			fail(busy)
			return
		}
		s.metrics.inFlight.Inc()
		defer func() {
			s.metrics.inFlight.Dec()
			release()
		}()
		body, e := s.limits.readBody(w, r, depth)
		if e != nil {
			fail(e)
			return
		}
		if e := serve(w, r, m, snap, body); e != nil {
			fail(e)
		}
	}
}

func pathModel(r *http.Request) (string, *apiError) { return r.PathValue("model"), nil }

// v1Model reads the model of /v1/models/{model}:predict.
func v1Model(r *http.Request) (string, *apiError) {
	name, ok := strings.CutSuffix(r.PathValue("spec"), ":predict")
	if !ok {
		return "", &apiError{http.StatusNotFound, fmt.Sprintf("no endpoint POST %s: predictions are POST /v1/models/MODEL:predict", clip(r.URL.Path))}
	}
	return name, nil
}

// answer is what the champion answered for a request's rows: a class per
// row and, for a binary model, the positive class's probability; for a
// multiclass model, when asked, one probability per class; for a
// regression model, a value per row and no class.
type answer struct {
	classes  []string
	positive []float64
	proba    [][]float64
	values   []float64
}

// score runs the snapshot's model on x: classes (and the scores the task
// gives) for a classifier, values for a regression model. proba asks a
// multiclass model for its probabilities.
func score(m *model, snap *snapshot, x [][]float64, proba bool) (*answer, *apiError) {
	if snap.regressor != nil {
		values, err := snap.regressor.PredictValues(x)
		if err != nil {
			return nil, badRequest("%s", clip(err.Error()))
		}
		return &answer{values: values}, nil
	}
	ids, positive, err := snap.model.Predict(x)
	if err != nil {
		// The rows were checked against the schema; this names the row and feature.
		return nil, badRequest("%s", clip(err.Error()))
	}
	a := &answer{classes: make([]string, len(ids))}
	for i, k := range ids {
		a.classes[i] = m.classes[k]
	}
	if snap.scores {
		a.positive = positive
	}
	if proba && snap.prober != nil {
		if a.proba, err = snap.prober.PredictProba(x); err != nil {
			return nil, badRequest("%s", clip(err.Error()))
		}
	}
	return a, nil
}

// outputs reads the outputs a v2 request asks for (all the task gives when
// it names none) and refuses one the model's task cannot answer.
func (m *model) outputs(snap *snapshot, req *inferRequest) (want map[string]bool, e *apiError) {
	all := m.outputNames(snap)
	want = map[string]bool{}
	if len(req.Outputs) == 0 {
		for _, o := range all {
			want[o] = true
		}
		return want, nil
	}
	for i, o := range req.Outputs {
		if slices.Contains(all, o.Name) {
			want[o.Name] = true
			continue
		}
		switch known := o.Name == outputClass || o.Name == outputProbability || o.Name == outputProbabilities || o.Name == outputValue; {
		case known && snap.task == trainer.Regression:
			return nil, badRequest("outputs[%d]: model %s is a regression model: it answers %s per row, not %s", i, m.name, outputValue, o.Name)
		case o.Name == outputProbability && snap.task == trainer.Multiclass:
			return nil, badRequest("outputs[%d]: model %s gives no probability (it has %d classes): ask for %s, one per class", i, m.name, len(m.classes), outputProbabilities)
		case o.Name == outputProbabilities && snap.task == trainer.Multiclass:
			return nil, badRequest("outputs[%d]: model %s (algorithm %s) gives no probability per class", i, m.name, snap.algorithm)
		case known:
			return nil, badRequest("outputs[%d]: model %s is a %s model: it has the outputs %s", i, m.name, snap.task, strings.Join(all, ", "))
		}
		return nil, badRequest("outputs[%d]: unknown output %q (model %s has %s)", i, clip(o.Name), m.name, outputList(all))
	}
	return want, nil
}

// outputNames are the outputs the snapshot gives, in response order.
func (m *model) outputNames(snap *snapshot) []string {
	switch {
	case snap.task == trainer.Regression:
		return []string{outputValue}
	case snap.scores:
		return []string{outputClass, outputProbability}
	case snap.prober != nil:
		return []string{outputClass, outputProbabilities}
	}
	return []string{outputClass}
}

// outputList reads "class and probability" (as binary errors always did).
func outputList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func (s *Server) serveInfer(w http.ResponseWriter, r *http.Request, m *model, snap *snapshot, body []byte) *apiError {
	var req inferRequest
	if e := decode(body, &req, inferFields); e != nil {
		return e
	}
	if len(req.ID) > s.limits.idBytes {
		return badRequest("id: a request id of %d bytes: at most %d (the server's serve.limits.max_id_bytes)", len(req.ID), s.limits.idBytes)
	}
	want, e := m.outputs(snap, &req)
	if e != nil {
		return e
	}
	x, ids, e := m.inferRows(&req, &s.limits)
	if e != nil {
		return e
	}
	answered := s.canaryAnswer(w, m, snap, ids, req.ID)
	ans, e := score(m, answered, x, want[outputProbabilities])
	if e != nil {
		return e
	}
	resp := InferResponse{ModelName: m.name, ModelVersion: answered.versionStr, ID: req.ID}
	if resp.ID == "" {
		resp.ID = newID()
	}
	resp.Parameters.Generation = snap.generation
	n := []int64{int64(len(x))}
	if want[outputClass] {
		resp.Outputs = append(resp.Outputs, Tensor{Name: outputClass, Datatype: "BYTES", Shape: n, Data: ans.classes})
	}
	if want[outputProbability] && ans.positive != nil {
		resp.Outputs = append(resp.Outputs, Tensor{Name: outputProbability, Datatype: "FP64", Shape: n, Data: ans.positive})
	}
	if want[outputProbabilities] && ans.proba != nil {
		flat := make([]float64, 0, len(x)*len(m.classes))
		for _, p := range ans.proba {
			flat = append(flat, p...)
		}
		resp.Outputs = append(resp.Outputs, Tensor{Name: outputProbabilities, Datatype: "FP64", Shape: []int64{int64(len(x)), int64(len(m.classes))},
			Data: flat, Parameters: map[string]any{"classes": m.classes}})
	}
	if want[outputValue] {
		resp.Outputs = append(resp.Outputs, Tensor{Name: outputValue, Datatype: "FP64", Shape: n, Data: ans.values})
	}
	writeJSON(w, http.StatusOK, resp)
	s.shadowAfter(r, m, snap, answered, x, ans, ids, resp.ID)
	return nil
}

func (s *Server) servePredict(w http.ResponseWriter, r *http.Request, m *model, snap *snapshot, body []byte) *apiError {
	var req predictRequest
	if e := decode(body, &req, predictFields); e != nil {
		return e
	}
	x, ids, e := m.instanceRows(&req, &s.limits)
	if e != nil {
		return e
	}
	answered := s.canaryAnswer(w, m, snap, ids, "")
	ans, e := score(m, answered, x, true)
	if e != nil {
		return e
	}
	if ans.values != nil {
		resp := ValueResponse{Predictions: make([]ValuePrediction, len(ans.values)), ModelVersion: answered.versionStr, Generation: snap.generation}
		for i, v := range ans.values {
			resp.Predictions[i].Value = v
		}
		writeJSON(w, http.StatusOK, resp)
	} else {
		resp := PredictResponse{Predictions: make([]Prediction, len(ans.classes)), ModelVersion: answered.versionStr, Generation: snap.generation}
		for i, c := range ans.classes {
			resp.Predictions[i].Class = c
			if ans.positive != nil {
				resp.Predictions[i].Probability = &ans.positive[i]
			}
			if ans.proba != nil {
				resp.Predictions[i].Probabilities = ans.proba[i]
			}
		}
		if ans.proba != nil {
			resp.Classes = m.classes
		}
		writeJSON(w, http.StatusOK, resp)
	}
	if s.shadowEnabled() && m.shadow.Load() != nil {
		s.shadowAfter(r, m, snap, answered, x, ans, ids, newID())
	}
	return nil
}

// newID names a request that came without an id.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
