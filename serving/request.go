package serving

import (
	"bytes"
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
	"unicode/utf8"
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

// decode reads the request body (already read and checked against the
// limits by readBody) into dst strictly: unknown fields, a second JSON value
// after the first and malformed JSON are refused. Numbers stay json.Number
// so that their range can be checked. Messages quote no more than a clip of
// what the client sent.
func decode(body []byte, dst any, fields string) *apiError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		if _, err = dec.Token(); err == io.EOF {
			return nil
		} else if err == nil {
			return badRequest("request body holds more than one JSON value")
		}
	}
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, io.EOF):
		return badRequest("request body is empty: want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("request body is truncated JSON")
	case errors.As(err, &syntaxErr):
		return badRequest("request body is not valid JSON: %s (at byte %d)", clip(syntaxErr.Error()), syntaxErr.Offset)
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "request body"
		}
		return badRequest("%s: JSON %s where %s is expected", clip(field), clip(typeErr.Value), jsonKind(typeErr.Type.Kind().String()))
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return badRequest("request body: unknown field %s (a request has the fields %s)", clip(name), fields)
	}
	return badRequest("request body: %s", clip(err.Error()))
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

// clip shortens what a client sent to what an error message may quote.
func clip(s string) string {
	const most = 40
	if len(s) <= most {
		return s
	}
	cut := most
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func jsonType(v any) string {
	switch v.(type) {
	case []any, arrayValue:
		return "an array"
	case map[string]any, objectValue:
		return "an object"
	}
	return clip(fmt.Sprintf("%v", v))
}

// inferRequest is the v2 inference request. Data stays raw until every
// input's name, datatype and shape were checked, so that nothing is
// allocated for the rows of a request that is refused.
type inferRequest struct {
	ID      string       `json:"id"`
	Inputs  []inferInput `json:"inputs"`
	Outputs []struct {
		Name       string          `json:"name"`
		Parameters json.RawMessage `json:"parameters"`
	} `json:"outputs"`
	// Parameters are accepted, as the protocol allows, and not read.
	Parameters json.RawMessage `json:"parameters"`
}

// inferFields are the fields of a v2 request, for errors.
const inferFields = "id, inputs, outputs and parameters"

type inferInput struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Data       json.RawMessage `json:"data"`
	Parameters json.RawMessage `json:"parameters"`
}

// numericTypes are the v2 datatypes a numeric feature's tensor may have:
// every value becomes a float64, as in training.
var numericTypes = []string{"FP64", "FP32", "FP16", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64", "BOOL"}

// Output names of the v2 response and metadata.
const (
	outputClass         = "class"
	outputProbability   = "probability"
	outputProbabilities = "probabilities"
	outputValue         = "value"
)

// inferRows turns the columnar v2 inputs into rows: one tensor per feature,
// all of shape [N] (or [N, 1]). An optional tensor named "id" (when no
// feature is) gives each row its key for shadow records; ids is nil
// without it. Every input's name, datatype and shape is checked, and N
// against the row limit, before the rows are allocated and the data read.
func (m *model) inferRows(req *inferRequest, lim *limits) (x [][]float64, ids []string, e *apiError) {
	if len(req.Inputs) == 0 {
		return nil, nil, badRequest("inputs: no input tensors; model %s needs one per feature: %s", m.name, m.featureNames())
	}
	type column struct {
		at string
		in *inferInput
		j  int
	}
	var (
		rows    = -1
		firstAt string
		idAt    string
		idIn    *inferInput
		cols    = make([]column, 0, len(m.features))
		seen    = make([]bool, len(m.features))
	)
	for i := range req.Inputs {
		in := &req.Inputs[i]
		at := fmt.Sprintf("inputs[%d]", i)
		if _, feature := m.index[in.Name]; in.Name == rowIDField && !feature {
			if idAt != "" {
				return nil, nil, badRequest("%s (id): more than one id tensor", at)
			}
			idAt, idIn = at+" (id)", in
			if in.Datatype != "BYTES" && !slices.Contains(numericTypes, in.Datatype) {
				return nil, nil, badRequest("%s: datatype %s, want BYTES (one key per row)", idAt, clip(in.Datatype))
			}
			continue
		}
		if in.Name == "" {
			return nil, nil, badRequest("%s: name is missing (model %s has the features %s)", at, m.name, m.featureNames())
		}
		at = fmt.Sprintf("inputs[%d] (%s)", i, clip(in.Name))
		j, ok := m.index[in.Name]
		if !ok {
			return nil, nil, badRequest("%s: unknown feature %q (model %s has the features %s)", at, clip(in.Name), m.name, m.featureNames())
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
			return nil, nil, badRequest("%s: datatype %s, want FP64 (%s is numeric)", at, clip(in.Datatype), f.name)
		}
		if !f.numeric && in.Datatype != "BYTES" {
			return nil, nil, badRequest("%s: datatype %s, want BYTES (%s is categorical)", at, clip(in.Datatype), f.name)
		}
		if len(in.Shape) == 0 {
			return nil, nil, badRequest("%s: shape is missing: want [N] for a batch of N rows", at)
		}
		n, problem := batchSize(in.Shape)
		if problem != "" {
			return nil, nil, badRequest("%s: shape %s: %s", at, shapeText(in.Shape), problem)
		}
		if n > int64(lim.rows) {
			return nil, nil, lim.tooManyRows(fmt.Sprintf("%s: shape %s", at, shapeText(in.Shape)))
		}
		if rows < 0 {
			rows, firstAt = int(n), at
		} else if int(n) != rows {
			return nil, nil, badRequest("%s: shape %s, but %s has %d rows: every input needs the same batch size", at, shapeText(in.Shape), firstAt, rows)
		}
		cols = append(cols, column{at, in, j})
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
	// Every input fits: the rows may now be allocated and the data read.
	x = newGrid(rows, len(m.features))
	for _, c := range cols {
		f := &m.features[c.j]
		var problem string
		got, err := eachValue(c.in.Data, rows, func(r int, v any) bool {
			var val float64
			if val, problem = f.value(v); problem != "" {
				problem = fmt.Sprintf("data[%d]: %s", r, problem)
				return false
			}
			x[r][c.j] = val
			return true
		})
		switch {
		case err != nil:
			return nil, nil, badRequest("%s: data must be an array of %d values", c.at, rows)
		case problem != "":
			return nil, nil, badRequest("%s: %s", c.at, problem)
		case got != rows:
			return nil, nil, badRequest("%s: shape %s, but data holds %s values", c.at, shapeText(c.in.Shape), countText(got, rows))
		}
	}
	if idIn != nil {
		if ids, e = rowIDs(idAt, idIn, rows, firstAt, lim); e != nil {
			return nil, nil, e
		}
	}
	return x, ids, nil
}

// countText says how many values were found when more than want stopped
// the count.
func countText(got, want int) string {
	if got > want {
		return fmt.Sprintf("more than %d", want)
	}
	return strconv.Itoa(got)
}

// rowIDField is the optional per-row key of a request: an "id" field of a
// v1 instance, or a v2 input tensor named "id", unless a feature has that
// name. Shadow records keep it, so a row's label can be joined later.
const rowIDField = "id"

// rowIDs reads a v2 id tensor of one key per row: strings or integers.
func rowIDs(at string, in *inferInput, rows int, firstAt string, lim *limits) ([]string, *apiError) {
	ids := make([]string, rows)
	var problem string
	got, err := eachValue(in.Data, rows, func(r int, v any) bool {
		id, p := rowID(v, lim)
		if p != "" {
			problem = fmt.Sprintf("data[%d]: %s", r, p)
			return false
		}
		ids[r] = id
		return true
	})
	switch {
	case err != nil:
		return nil, badRequest("%s: data must be an array of one key per row", at)
	case problem != "":
		return nil, badRequest("%s: %s", at, problem)
	case got != rows:
		return nil, badRequest("%s: %s ids, but %s has %d rows: give one id per row", at, countText(got, rows), firstAt, rows)
	}
	if e := uniqueIDs(ids, func(r int) string { return fmt.Sprintf("%s: data[%d]", at, r) }); e != nil {
		return nil, e
	}
	return ids, nil
}

// uniqueIDs refuses a request in which two rows carry the same key: the
// shadow report judges a key by its first row only, so a repeated key
// within a request is a client's mistake, not evidence.
func uniqueIDs(ids []string, where func(r int) string) *apiError {
	first := make(map[string]int, len(ids))
	for r, id := range ids {
		if id == "" {
			continue
		}
		if p, dup := first[id]; dup {
			return badRequest("%s: id %q is also row %d's: give every row of a request its own id", where(r), clip(id), p)
		}
		first[id] = r
	}
	return nil
}

// rowID reads one row key: a string or a number; null is no key.
func rowID(v any, lim *limits) (string, string) {
	var id string
	switch t := v.(type) {
	case string:
		id = t
	case json.Number:
		id = string(t)
	case nil:
		return "", ""
	default:
		return "", fmt.Sprintf("%s is not a row key (want a string or a number)", jsonType(v))
	}
	if len(id) > lim.idBytes {
		return "", fmt.Sprintf("a key of %d bytes: at most %d (the server's serve.limits.max_id_bytes)", len(id), lim.idBytes)
	}
	return id, ""
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
// Instances stay raw until their number was checked against the row limit.
type predictRequest struct {
	Instances []json.RawMessage `json:"instances"`
}

// instanceRows turns v1 instances into rows; an instance's optional "id"
// field (rowIDField) is its key, returned in ids (nil when no row has one).
// Instances are read one at a time into rows allocated once their number
// was checked.
func (m *model) instanceRows(req *predictRequest, lim *limits) (x [][]float64, ids []string, e *apiError) {
	if len(req.Instances) == 0 {
		return nil, nil, badRequest(`instances: missing or empty: want {"instances": [{"%s": ..., ...}, ...]}, one object per row`, m.features[0].name)
	}
	if len(req.Instances) > lim.rows {
		return nil, nil, lim.tooManyRows(fmt.Sprintf("instances: %d rows", len(req.Instances)))
	}
	x = newGrid(len(req.Instances), len(m.features))
	_, idIsFeature := m.index[rowIDField]
	for i, raw := range req.Instances {
		var inst any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&inst); err != nil { // the body decoded: this cannot fail
			return nil, nil, badRequest("instances[%d]: %s", i, clip(err.Error()))
		}
		obj, ok := inst.(map[string]any)
		if !ok {
			return nil, nil, badRequest("instances[%d]: %s, want an object of feature values", i, jsonType(inst))
		}
		if v, ok := obj[rowIDField]; ok && !idIsFeature {
			id, problem := rowID(v, lim)
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
				unknown = append(unknown, strconv.Quote(clip(name)))
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			if len(unknown) > 5 {
				unknown = append(unknown[:5], fmt.Sprintf("and %d more", len(unknown)-5))
			}
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
	if ids != nil {
		if e := uniqueIDs(ids, func(r int) string { return fmt.Sprintf("instances[%d].id", r) }); e != nil {
			return nil, nil, e
		}
	}
	return x, ids, nil
}

// predictFields are the fields of a v1 request, for errors.
const predictFields = "instances"
