package serving

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// apiError is a request the server refuses, with the status and the
// message that names what to fix.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// decodeBody reads one JSON value of at most max bytes into dst, numbers as
// json.Number so that their range can be checked.
func decodeBody(w http.ResponseWriter, r *http.Request, max int64, dst any) *apiError {
	tooLarge := &apiError{http.StatusRequestEntityTooLarge,
		fmt.Sprintf("request body is larger than %d bytes (the server's --max-body): send fewer rows per request", max)}
	if r.ContentLength > max {
		return tooLarge
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, max))
	dec.UseNumber()
	err := dec.Decode(dst)
	if err == nil {
		if _, err = dec.Token(); err == io.EOF {
			return nil
		} else if err == nil {
			return badRequest("request body holds more than one JSON value")
		}
	}
	var (
		maxErr    *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &maxErr):
		return tooLarge
	case errors.Is(err, io.EOF):
		return badRequest("request body is empty: want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("request body is truncated JSON")
	case errors.As(err, &syntaxErr):
		return badRequest("request body is not valid JSON: %v (at byte %d)", syntaxErr, syntaxErr.Offset)
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "request body"
		}
		return badRequest("%s: JSON %s where %s is expected", field, typeErr.Value, jsonKind(typeErr.Type.Kind().String()))
	}
	return badRequest("request body: %v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "string":
		return "a string"
	case "int", "int64", "int32", "uint", "uint64":
		return "a whole number"
	case "float64", "float32":
		return "a number"
	}
	return "another type"
}

// value converts one JSON value of a feature the way training converts a
// cell: numbers (and booleans, as 1 and 0) for numeric features; for
// categorical ones the category's index, -1 for a value the config does not
// list or null. problem is empty when the value is usable.
func (f *feature) value(v any) (x float64, problem string) {
	if f.numeric {
		switch t := v.(type) {
		case json.Number:
			x, err := strconv.ParseFloat(string(t), 64)
			if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
				return 0, fmt.Sprintf("%s is out of the range of a float64", t)
			}
			return x, ""
		case bool:
			if t {
				return 1, ""
			}
			return 0, ""
		case string:
			return 0, fmt.Sprintf("the string %q is not a number (%s is numeric; NaN and infinities are refused)", clip(t), f.name)
		case nil:
			return 0, fmt.Sprintf("null is not a number (%s is numeric and required)", f.name)
		}
		return 0, fmt.Sprintf("%s is not a number (%s is numeric)", jsonType(v), f.name)
	}
	var s string
	switch t := v.(type) {
	case string:
		s = t
	case json.Number:
		s = string(t)
	case bool:
		s = strconv.FormatBool(t)
	case nil:
		return -1, ""
	default:
		return 0, fmt.Sprintf("%s is not a category (%s is categorical: want a string such as %q)", jsonType(v), f.name, first(f.list))
	}
	if i, ok := f.categories[s]; ok {
		return float64(i), ""
	}
	return -1, ""
}

func first(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return list[0]
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func jsonType(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%v", v)
}

// inferRequest is the v2 inference request.
type inferRequest struct {
	ID      string       `json:"id"`
	Inputs  []inferInput `json:"inputs"`
	Outputs []struct {
		Name string `json:"name"`
	} `json:"outputs"`
}

type inferInput struct {
	Name     string  `json:"name"`
	Shape    []int64 `json:"shape"`
	Datatype string  `json:"datatype"`
	Data     any     `json:"data"`
}

// numericTypes are the v2 datatypes a numeric feature's tensor may have:
// every value becomes a float64, as in training.
var numericTypes = []string{"FP64", "FP32", "FP16", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64", "BOOL"}

// Output names of the v2 response and metadata.
const (
	outputClass       = "class"
	outputProbability = "probability"
)

// inferRows turns the columnar v2 inputs into rows: one tensor per feature,
// all of shape [N] (or [N, 1]). An optional tensor named "id" (when no
// feature is) gives each row its key for shadow records; ids is nil
// without it.
func (m *model) inferRows(req *inferRequest) (x [][]float64, ids []string, e *apiError) {
	if len(req.Inputs) == 0 {
		return nil, nil, badRequest("inputs: no input tensors; model %s needs one per feature: %s", m.name, m.featureNames())
	}
	rows := -1
	var (
		firstAt string
		idAt    string
	)
	seen := make([]bool, len(m.features))
	for i, in := range req.Inputs {
		at := fmt.Sprintf("inputs[%d]", i)
		if _, feature := m.index[in.Name]; in.Name == rowIDField && !feature {
			if idAt != "" {
				return nil, nil, badRequest("%s (id): more than one id tensor", at)
			}
			idAt = at + " (id)"
			if ids, e = rowIDs(idAt, in); e != nil {
				return nil, nil, e
			}
			continue
		}
		if in.Name == "" {
			return nil, nil, badRequest("%s: name is missing (model %s has the features %s)", at, m.name, m.featureNames())
		}
		at = fmt.Sprintf("inputs[%d] (%s)", i, in.Name)
		j, ok := m.index[in.Name]
		if !ok {
			return nil, nil, badRequest("%s: unknown feature %q (model %s has the features %s)", at, in.Name, m.name, m.featureNames())
		}
		if seen[j] {
			return nil, nil, badRequest("%s: feature %s has more than one input tensor", at, in.Name)
		}
		seen[j] = true
		f := &m.features[j]
		if in.Datatype == "" {
			return nil, nil, badRequest("%s: datatype is missing (want %s)", at, datatype(f))
		}
		if f.numeric && !slices.Contains(numericTypes, in.Datatype) {
			return nil, nil, badRequest("%s: datatype %s, want FP64 (%s is numeric)", at, in.Datatype, f.name)
		}
		if !f.numeric && in.Datatype != "BYTES" {
			return nil, nil, badRequest("%s: datatype %s, want BYTES (%s is categorical)", at, in.Datatype, f.name)
		}
		if len(in.Shape) == 0 {
			return nil, nil, badRequest("%s: shape is missing: want [N] for a batch of N rows", at)
		}
		n, problem := batchSize(in.Shape)
		if problem != "" {
			return nil, nil, badRequest("%s: shape %s: %s", at, shapeText(in.Shape), problem)
		}
		data, ok := in.Data.([]any)
		if !ok {
			return nil, nil, badRequest("%s: data must be an array of %d values", at, n)
		}
		data = flatten(data)
		if int64(len(data)) != n { // checked before n sizes anything
			return nil, nil, badRequest("%s: shape %s, but data holds %d values", at, shapeText(in.Shape), len(data))
		}
		if rows < 0 {
			rows, firstAt = len(data), at
			x = newGrid(rows, len(m.features))
		} else if len(data) != rows {
			return nil, nil, badRequest("%s: shape %s, but %s has %d rows: every input needs the same batch size", at, shapeText(in.Shape), firstAt, rows)
		}
		for r, v := range data {
			val, problem := f.value(v)
			if problem != "" {
				return nil, nil, badRequest("%s: data[%d]: %s", at, r, problem)
			}
			x[r][j] = val
		}
	}
	var missing []string
	for j, ok := range seen {
		if !ok {
			missing = append(missing, m.features[j].name)
		}
	}
	if len(missing) > 0 {
		return nil, nil, badRequest("inputs: no tensor for the features %s (model %s needs one input per feature)", strings.Join(missing, ", "), m.name)
	}
	if ids != nil && len(ids) != rows {
		return nil, nil, badRequest("%s: %d ids, but %s has %d rows: give one id per row", idAt, len(ids), firstAt, rows)
	}
	return x, ids, nil
}

// rowIDField is the optional per-row key of a request: an "id" field of a
// v1 instance, or a v2 input tensor named "id", unless a feature has that
// name. Shadow records keep it, so a row's label can be joined later.
const rowIDField = "id"

// rowIDs reads a v2 id tensor: BYTES (strings) or integers, shape [N].
func rowIDs(at string, in inferInput) ([]string, *apiError) {
	if in.Datatype != "BYTES" && !slices.Contains(numericTypes, in.Datatype) {
		return nil, badRequest("%s: datatype %s, want BYTES (one key per row)", at, in.Datatype)
	}
	data, ok := in.Data.([]any)
	if !ok {
		return nil, badRequest("%s: data must be an array of one key per row", at)
	}
	data = flatten(data)
	ids := make([]string, len(data))
	for r, v := range data {
		id, problem := rowID(v)
		if problem != "" {
			return nil, badRequest("%s: data[%d]: %s", at, r, problem)
		}
		ids[r] = id
	}
	return ids, nil
}

// rowID reads one row key: a string or a number; null is no key.
func rowID(v any) (string, string) {
	switch t := v.(type) {
	case string:
		return t, ""
	case json.Number:
		return string(t), ""
	case nil:
		return "", ""
	}
	return "", fmt.Sprintf("%s is not a row key (want a string or a number)", jsonType(v))
}

// batchSize reads N from a shape [N] or [N, 1].
func batchSize(shape []int64) (int64, string) {
	switch {
	case len(shape) > 2 || len(shape) == 2 && shape[1] != 1:
		return 0, "want [N] (one value per row) or [N, 1]"
	case shape[0] < 1:
		return 0, "a batch needs at least one row"
	}
	return shape[0], ""
}

func shapeText(shape []int64) string {
	b, _ := json.Marshal(shape)
	return string(b)
}

// flatten reads nested arrays in row-major order, as the protocol allows
// for tensor data.
func flatten(data []any) []any {
	nested := false
	for _, v := range data {
		if _, ok := v.([]any); ok {
			nested = true
			break
		}
	}
	if !nested {
		return data
	}
	var out []any
	for _, v := range data {
		if inner, ok := v.([]any); ok {
			out = append(out, flatten(inner)...)
		} else {
			out = append(out, v)
		}
	}
	return out
}

func newGrid(rows, cols int) [][]float64 {
	backing := make([]float64, rows*cols)
	x := make([][]float64, rows)
	for i := range x {
		x[i] = backing[i*cols : (i+1)*cols : (i+1)*cols]
	}
	return x
}

func datatype(f *feature) string {
	if f.numeric {
		return "FP64"
	}
	return "BYTES"
}

// predictRequest is the v1 request: one object of feature values per row.
type predictRequest struct {
	Instances []any `json:"instances"`
}

// instanceRows turns v1 instances into rows; an instance's optional "id"
// field (rowIDField) is its key, returned in ids (nil when no row has one).
func (m *model) instanceRows(req *predictRequest) (x [][]float64, ids []string, e *apiError) {
	if len(req.Instances) == 0 {
		return nil, nil, badRequest(`instances: missing or empty: want {"instances": [{"%s": ..., ...}, ...]}, one object per row`, m.features[0].name)
	}
	x = newGrid(len(req.Instances), len(m.features))
	_, idIsFeature := m.index[rowIDField]
	for i, inst := range req.Instances {
		obj, ok := inst.(map[string]any)
		if !ok {
			return nil, nil, badRequest("instances[%d]: %s, want an object of feature values", i, jsonType(inst))
		}
		if v, ok := obj[rowIDField]; ok && !idIsFeature {
			id, problem := rowID(v)
			if problem != "" {
				return nil, nil, badRequest("instances[%d].id: %s", i, problem)
			}
			if id != "" && ids == nil {
				ids = make([]string, len(req.Instances))
			}
			if id != "" {
				ids[i] = id
			}
		}
		var unknown []string
		for name := range obj {
			if _, ok := m.index[name]; !ok && (name != rowIDField || idIsFeature) {
				unknown = append(unknown, strconv.Quote(name))
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return nil, nil, badRequest("instances[%d]: unknown feature %s (model %s has the features %s)", i, strings.Join(unknown, ", "), m.name, m.featureNames())
		}
		var missing []string
		for j := range m.features {
			f := &m.features[j]
			v, ok := obj[f.name]
			if !ok {
				missing = append(missing, f.name)
				continue
			}
			val, problem := f.value(v)
			if problem != "" {
				return nil, nil, badRequest("instances[%d].%s: %s", i, f.name, problem)
			}
			x[i][j] = val
		}
		if len(missing) > 0 {
			return nil, nil, badRequest("instances[%d]: missing features %s (every row needs all of %s)", i, strings.Join(missing, ", "), m.featureNames())
		}
	}
	return x, ids, nil
}
