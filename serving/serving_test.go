package serving_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/kingmaker-ml/kingmaker/serving"
)

// champion asserts that a response names version and generation in its
// headers.
func champion(t *testing.T, r response, version gocql.UUID, generation int64) {
	t.Helper()
	if got := r.header.Get(serving.HeaderVersion); got != version.String() {
		t.Errorf("%s header %q, want %s", serving.HeaderVersion, got, version)
	}
	if got := r.header.Get(serving.HeaderGeneration); got != fmt.Sprint(generation) {
		t.Errorf("%s header %q, want %d", serving.HeaderGeneration, got, generation)
	}
}

func TestEndpointsAnswerInTheirShape(t *testing.T) {
	f := newFixture(t)
	f.mustRefresh()
	cases := []struct {
		name   string
		method string
		path   string
		body   string
		code   int
		// named is the churn version the response must name (headers); zero for none.
		named gocql.UUID
		check func(t *testing.T, body map[string]any)
	}{
		{"the server is live", "GET", "/v2/health/live", "", 200, gocql.UUID{}, func(t *testing.T, b map[string]any) {
			if b["live"] != true {
				t.Errorf("live = %v", b["live"])
			}
		}},
		{"the server is ready although one model has no champion yet", "GET", "/v2/health/ready", "", 200, gocql.UUID{}, func(t *testing.T, b map[string]any) {
			if b["ready"] != true {
				t.Errorf("ready = %v", b["ready"])
			}
		}},
		{"server metadata names kingmaker", "GET", "/v2", "", 200, gocql.UUID{}, func(t *testing.T, b map[string]any) {
			if b["name"] != "kingmaker" {
				t.Errorf("name = %v", b["name"])
			}
		}},
		{"model metadata lists the champion and one input per feature", "GET", "/v2/models/churn", "", 200, f.a, func(t *testing.T, b map[string]any) {
			want := map[string]any{
				"name": "churn", "platform": "kingmaker", "versions": []any{f.a.String()},
				"inputs": []any{
					map[string]any{"name": "tenure", "datatype": "FP64", "shape": []any{-1.0}},
					map[string]any{"name": "charges", "datatype": "FP64", "shape": []any{-1.0}},
					map[string]any{"name": "plan", "datatype": "BYTES", "shape": []any{-1.0}, "parameters": map[string]any{"categories": []any{"basic", "premium"}}},
				},
				"outputs": []any{
					map[string]any{"name": "class", "datatype": "BYTES", "shape": []any{-1.0}},
					map[string]any{"name": "probability", "datatype": "FP64", "shape": []any{-1.0}},
				},
				"parameters": map[string]any{"generation": 1.0, "algorithm": "logistic", "classes": []any{"false", "true"}, "positive_class": "true"},
			}
			equalJSON(t, b, want)
		}},
		{"the metadata of a three-class model has a class and a probability per class", "GET", "/v2/models/tiers", "", 200, gocql.UUID{}, func(t *testing.T, b map[string]any) {
			outs := b["outputs"].([]any)
			if len(outs) != 2 || outs[0].(map[string]any)["name"] != "class" || outs[1].(map[string]any)["name"] != "probabilities" ||
				fmt.Sprint(outs[1].(map[string]any)["shape"]) != "[-1 3]" {
				t.Errorf("outputs = %v, want class and probabilities of shape [-1 3]", outs)
			}
			if p := b["parameters"].(map[string]any); p["task"] != "multiclass" || p["positive_class"] != nil {
				t.Errorf("parameters = %v, want task multiclass and no positive class", p)
			}
		}},
		{"a model with its champion loaded is ready", "GET", "/v2/models/churn/ready", "", 200, f.a, func(t *testing.T, b map[string]any) {
			if b["ready"] != true || b["model_version"] != f.a.String() || b["generation"] != 1.0 {
				t.Errorf("ready body %v", b)
			}
		}},
		{"a v2 inference answers a class and a probability per row", "POST", "/v2/models/churn/infer", churnInputs(), 200, f.a, func(t *testing.T, b map[string]any) {
			if b["model_name"] != "churn" || b["model_version"] != f.a.String() || b["id"] == "" {
				t.Errorf("model_name %v, model_version %v, id %v", b["model_name"], b["model_version"], b["id"])
			}
			if g := b["parameters"].(map[string]any)["generation"]; g != 1.0 {
				t.Errorf("parameters.generation = %v, want 1", g)
			}
			outs := b["outputs"].([]any)
			if len(outs) != 2 {
				t.Fatalf("%d outputs, want class and probability", len(outs))
			}
			class, prob := outs[0].(map[string]any), outs[1].(map[string]any)
			if class["name"] != "class" || class["datatype"] != "BYTES" || fmt.Sprint(class["shape"]) != "[2]" || len(class["data"].([]any)) != 2 {
				t.Errorf("class output %v", class)
			}
			if prob["name"] != "probability" || prob["datatype"] != "FP64" || fmt.Sprint(prob["shape"]) != "[2]" || len(prob["data"].([]any)) != 2 {
				t.Errorf("probability output %v", prob)
			}
		}},
		{"a v2 inference echoes the request id", "POST", "/v2/models/churn/infer",
			`{"id": "req-42", "inputs": [{"name": "tenure", "datatype": "FP64", "shape": [1], "data": [3]}, {"name": "charges", "datatype": "FP64", "shape": [1], "data": [80]}, {"name": "plan", "datatype": "BYTES", "shape": [1], "data": ["basic"]}]}`,
			200, f.a, func(t *testing.T, b map[string]any) {
				if b["id"] != "req-42" {
					t.Errorf("id = %v, want req-42", b["id"])
				}
			}},
		{"a v2 inference may ask for the class only", "POST", "/v2/models/churn/infer",
			strings.Replace(churnInputs(), `{"inputs"`, `{"outputs": [{"name": "class"}], "inputs"`, 1), 200, f.a, func(t *testing.T, b map[string]any) {
				if outs := b["outputs"].([]any); len(outs) != 1 || outs[0].(map[string]any)["name"] != "class" {
					t.Errorf("outputs = %v, want class only", outs)
				}
			}},
		{"inputs of shape [N, 1] with nested data are read like [N]", "POST", "/v2/models/churn/infer",
			`{"inputs": [{"name": "tenure", "datatype": "INT32", "shape": [2, 1], "data": [[3], [40]]}, {"name": "charges", "datatype": "FP32", "shape": [2, 1], "data": [[80.5], [25]]}, {"name": "plan", "datatype": "BYTES", "shape": [2, 1], "data": [["premium"], ["basic"]]}]}`,
			200, f.a, func(t *testing.T, b map[string]any) {
				if outs := b["outputs"].([]any); fmt.Sprint(outs[0].(map[string]any)["shape"]) != "[2]" {
					t.Errorf("outputs = %v, want two rows", outs)
				}
			}},
		{"a three-class model answers classes and a probability per class", "POST", "/v2/models/tiers/infer", churnInputs(), 200, gocql.UUID{}, func(t *testing.T, b map[string]any) {
			outs := b["outputs"].([]any)
			if len(outs) != 2 || outs[0].(map[string]any)["name"] != "class" || outs[1].(map[string]any)["name"] != "probabilities" {
				t.Fatalf("outputs = %v, want class and probabilities", outs)
			}
			if p := outs[1].(map[string]any); fmt.Sprint(p["shape"]) != "[2 3]" || len(p["data"].([]any)) != 6 ||
				fmt.Sprint(p["parameters"]) != "map[classes:[low mid high]]" {
				t.Errorf("probabilities output %v, want shape [2 3], 6 values and the classes named", p)
			}
			for _, c := range outs[0].(map[string]any)["data"].([]any) {
				if c != "low" && c != "mid" && c != "high" {
					t.Errorf("class %v is not one of the model's", c)
				}
			}
		}},
		{"a v1 prediction answers one object per instance", "POST", "/v1/models/churn:predict",
			`{"instances": [{"tenure": 3, "charges": 80.5, "plan": "premium"}, {"tenure": 40, "charges": 25, "plan": "basic"}]}`,
			200, f.a, func(t *testing.T, b map[string]any) {
				if b["model_version"] != f.a.String() || b["generation"] != 1.0 {
					t.Errorf("model_version %v generation %v", b["model_version"], b["generation"])
				}
				preds := b["predictions"].([]any)
				if len(preds) != 2 {
					t.Fatalf("%d predictions, want 2", len(preds))
				}
				for _, p := range preds {
					p := p.(map[string]any)
					if c := p["class"]; c != "true" && c != "false" {
						t.Errorf("class %v", c)
					}
					if pr, ok := p["probability"].(float64); !ok || pr < 0 || pr > 1 {
						t.Errorf("probability %v", p["probability"])
					}
				}
			}},
		{"a v1 prediction of a three-class model has a probability per class and no positive probability", "POST", "/v1/models/tiers:predict",
			`{"instances": [{"tenure": 3, "charges": 80.5, "plan": "premium"}]}`, 200, gocql.UUID{}, func(t *testing.T, b map[string]any) {
				p := b["predictions"].([]any)[0].(map[string]any)
				if p["probability"] != nil {
					t.Errorf("probability %v, want none", p["probability"])
				}
				if probs, ok := p["probabilities"].([]any); !ok || len(probs) != 3 {
					t.Errorf("probabilities %v, want 3", p["probabilities"])
				}
				if fmt.Sprint(b["classes"]) != "[low mid high]" {
					t.Errorf("classes %v, want [low mid high]", b["classes"])
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.do(c.method, c.path, c.body)
			if r.code != c.code {
				t.Fatalf("status %d, want %d: %s", r.code, c.code, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if c.named != (gocql.UUID{}) {
				champion(t, r, c.named, 1)
			}
			c.check(t, r.json(t))
		})
	}
}

// equalJSON compares a decoded JSON value with want, naming the first difference.
func equalJSON(t *testing.T, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("got  %s\nwant %s", g, w)
	}
}

func TestPredictionsAreTheChampionsOwn(t *testing.T) {
	f := newFixture(t)
	f.mustRefresh()
	// "gold" is not a category of the config and null is missing: both are
	// the unknown category (-1), as in training.
	rows := [][]float64{{3, 80.5, 1}, {40, 25, 0}, {12, 60, -1}, {55, 99, -1}}
	wantClasses, wantProb, err := f.churnA.Predict(rows)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"false", "true"}

	t.Run("v2 inference", func(t *testing.T) {
		r := f.do("POST", "/v2/models/churn/infer", v2(
			input("tenure", "FP64", 3, 40, 12, 55), input("charges", "FP64", 80.5, 25, 60, 99),
			input("plan", "BYTES", "premium", "basic", "gold", nil)))
		if r.code != 200 {
			t.Fatalf("status %d: %s", r.code, r.body)
		}
		var resp serving.InferResponse
		json.Unmarshal(r.body, &resp)
		classes, probs := resp.Outputs[0].Data.([]any), resp.Outputs[1].Data.([]any)
		for i := range rows {
			if classes[i] != names[wantClasses[i]] || probs[i] != wantProb[i] {
				t.Errorf("row %d: served %v %v, the model says %s %v", i, classes[i], probs[i], names[wantClasses[i]], wantProb[i])
			}
		}
	})
	t.Run("v1 predict", func(t *testing.T) {
		r := f.do("POST", "/v1/models/churn:predict", `{"instances": [
			{"tenure": 3, "charges": 80.5, "plan": "premium"}, {"tenure": 40, "charges": 25, "plan": "basic"},
			{"tenure": 12, "charges": 60, "plan": "gold"}, {"tenure": 55, "charges": 99, "plan": null}]}`)
		if r.code != 200 {
			t.Fatalf("status %d: %s", r.code, r.body)
		}
		var resp serving.PredictResponse
		json.Unmarshal(r.body, &resp)
		for i, p := range resp.Predictions {
			if p.Class != names[wantClasses[i]] || p.Probability == nil || *p.Probability != wantProb[i] {
				t.Errorf("row %d: served %+v, the model says %s %v", i, p, names[wantClasses[i]], wantProb[i])
			}
		}
	})
}

func TestBadRequestsAreRefusedWithAMessageNamingTheField(t *testing.T) {
	f := newFixture(t)
	f.mustRefresh()
	tenure, charges, plan := input("tenure", "FP64", 3, 40), input("charges", "FP64", 80.5, 25), input("plan", "BYTES", "premium", "basic")
	// rest are the other inputs of a one-row request whose first is a test's.
	const rest = `, {"name": "charges", "datatype": "FP64", "shape": [1], "data": [1]}, {"name": "plan", "datatype": "BYTES", "shape": [1], "data": ["basic"]}]}`
	big := `{"instances": [` + strings.Repeat(`{"tenure": 3, "charges": 80.5, "plan": "premium"},`, 100) + `{}]}`
	cases := []struct {
		name string
		path string
		body string
		code int
		want string
	}{
		{"a request without inputs", "/v2/models/churn/infer", `{"inputs": []}`, 400,
			"inputs: no input tensors; model churn needs one per feature: tenure, charges, plan"},
		{"an unknown feature", "/v2/models/churn/infer", v2(tenure, charges, plan, input("age", "FP64", 1, 2)), 400,
			`inputs[3] (age): unknown feature "age" (model churn has the features tenure, charges, plan)`},
		{"a missing feature", "/v2/models/churn/infer", v2(tenure, charges), 400,
			"inputs: no tensor for the features plan (model churn needs one input per feature)"},
		{"a feature given twice", "/v2/models/churn/infer", v2(tenure, charges, plan, tenure), 400,
			"inputs[3] (tenure): feature tenure has more than one input tensor"},
		{"an input without a name", "/v2/models/churn/infer", v2(input("", "FP64", 1, 2)), 400, "inputs[0]: name is missing"},
		{"a string for a numeric feature", "/v2/models/churn/infer", v2(input("tenure", "FP64", 3, "40"), charges, plan), 400,
			`inputs[0] (tenure): data[1]: the string "40" is not a number (tenure is numeric; NaN and infinities are refused)`},
		{"the string NaN", "/v2/models/churn/infer", v2(tenure, input("charges", "FP64", "NaN", 25), plan), 400,
			`inputs[1] (charges): data[0]: the string "NaN" is not a number`},
		{"the string Infinity", "/v1/models/churn:predict", `{"instances": [{"tenure": "Infinity", "charges": 1, "plan": "basic"}]}`, 400,
			`instances[0].tenure: the string "Infinity" is not a number`},
		{"a number beyond float64", "/v2/models/churn/infer",
			`{"inputs": [{"name": "tenure", "datatype": "FP64", "shape": [1], "data": [1e999]}` + rest, 400,
			"inputs[0] (tenure): data[0]: 1e999 is out of the range of a float64"},
		{"null for a numeric feature", "/v2/models/churn/infer", v2(input("tenure", "FP64", 3, nil), charges, plan), 400,
			"inputs[0] (tenure): data[1]: null is not a number (tenure is numeric and required)"},
		{"an array for a categorical value", "/v1/models/churn:predict", `{"instances": [{"tenure": 1, "charges": 1, "plan": ["basic"]}]}`, 400,
			`instances[0].plan: an array is not a category (plan is categorical: want a string such as "basic")`},
		{"FP64 for a categorical feature", "/v2/models/churn/infer", v2(tenure, charges, input("plan", "FP64", 0, 1)), 400,
			"inputs[2] (plan): datatype FP64, want BYTES (plan is categorical)"},
		{"BYTES for a numeric feature", "/v2/models/churn/infer", v2(input("tenure", "BYTES", "3", "40"), charges, plan), 400,
			"inputs[0] (tenure): datatype BYTES, want FP64 (tenure is numeric)"},
		{"an input without a datatype", "/v2/models/churn/infer", `{"inputs": [{"name": "tenure", "shape": [1], "data": [1]}]}`, 400,
			"inputs[0] (tenure): datatype is missing (want FP64)"},
		{"inputs of different batch sizes", "/v2/models/churn/infer", v2(tenure, input("charges", "FP64", 1, 2, 3), plan), 400,
			"inputs[1] (charges): shape [3], but inputs[0] (tenure) has 2 rows: every input needs the same batch size"},
		{"a shape that does not match the data", "/v2/models/churn/infer",
			`{"inputs": [{"name": "tenure", "datatype": "FP64", "shape": [1], "data": [1, 2]}` + rest, 400,
			"inputs[0] (tenure): shape [1], but data holds more than 1 values"},
		{"data shorter than the shape", "/v2/models/churn/infer",
			`{"inputs": [{"name": "tenure", "datatype": "FP64", "shape": [2], "data": [1]}, {"name": "charges", "datatype": "FP64", "shape": [2], "data": [1, 2]}, {"name": "plan", "datatype": "BYTES", "shape": [2], "data": ["basic", "basic"]}]}`, 400,
			"inputs[0] (tenure): shape [2], but data holds 1 values"},
		{"a huge shape with little data", "/v2/models/churn/infer",
			`{"inputs": [{"name": "tenure", "datatype": "FP64", "shape": [1000000000000], "data": [1]}]}`, 413,
			"inputs[0] (tenure): shape [1000000000000]: more than the 10000 rows a request may hold (the server's serve.limits.max_rows)"},
		{"a two-dimensional shape", "/v2/models/churn/infer",
			`{"inputs": [{"name": "tenure", "datatype": "FP64", "shape": [2, 2], "data": [1, 2, 3, 4]}]}`, 400,
			"inputs[0] (tenure): shape [2,2]: want [N] (one value per row) or [N, 1]"},
		{"an empty batch", "/v2/models/churn/infer", `{"inputs": [{"name": "tenure", "datatype": "FP64", "shape": [0], "data": []}]}`, 400,
			"inputs[0] (tenure): shape [0]: a batch needs at least one row"},
		{"an input without a shape", "/v2/models/churn/infer", `{"inputs": [{"name": "tenure", "datatype": "FP64", "data": [1]}]}`, 400,
			"inputs[0] (tenure): shape is missing: want [N] for a batch of N rows"},
		{"data that is not an array", "/v2/models/churn/infer", `{"inputs": [{"name": "tenure", "datatype": "FP64", "shape": [1], "data": 1}` + rest, 400,
			"inputs[0] (tenure): data must be an array of 1 values"},
		{"a shape of strings", "/v2/models/churn/infer", `{"inputs": [{"name": "tenure", "datatype": "FP64", "shape": ["1"], "data": [1]}]}`, 400,
			"inputs.shape: JSON string where a whole number is expected"},
		{"an unknown output", "/v2/models/churn/infer", strings.Replace(churnInputs(), `{"inputs"`, `{"outputs": [{"name": "logits"}], "inputs"`, 1), 400,
			`outputs[0]: unknown output "logits" (model churn has class and probability)`},
		{"a probability from a three-class model", "/v2/models/tiers/infer", strings.Replace(churnInputs(), `{"inputs"`, `{"outputs": [{"name": "probability"}], "inputs"`, 1), 400,
			"outputs[0]: model tiers gives no probability (it has 3 classes)"},
		{"invalid JSON", "/v2/models/churn/infer", `{"inputs": [`, 400, "request body is truncated JSON"},
		{"not JSON at all", "/v1/models/churn:predict", `instances=1`, 400, "request body is not valid JSON: invalid character 'i'"},
		{"an empty body", "/v2/models/churn/infer", ``, 400, "request body is empty: want a JSON object"},
		{"two JSON values", "/v1/models/churn:predict", `{"instances": [{"tenure": 1, "charges": 1, "plan": "basic"}]} {}`, 400,
			"request body holds more than one JSON value"},
		{"a v1 request with a v2 field", "/v1/models/churn:predict", `{"inputs": []}`, 400,
			`request body: unknown field "inputs" (a request has the fields instances)`},
		{"a v2 request with an unknown field", "/v2/models/churn/infer", `{"input": []}`, 400,
			`request body: unknown field "input" (a request has the fields id, inputs, outputs and parameters)`},
		{"an unknown field of an input", "/v2/models/churn/infer", `{"inputs": [{"name": "tenure", "dtype": "FP64"}]}`, 400,
			`request body: unknown field "dtype"`},
		{"a v1 request without instances", "/v1/models/churn:predict", `{}`, 400,
			`instances: missing or empty: want {"instances": [{"tenure": ..., ...}, ...]}, one object per row`},
		{"a v1 instance that is not an object", "/v1/models/churn:predict", `{"instances": [[3, 80.5, "premium"]]}`, 400,
			"instances[0]: an array, want an object of feature values"},
		{"a v1 instance with unknown features", "/v1/models/churn:predict", `{"instances": [{"tenure": 1, "charges": 1, "plan": "basic", "age": 3, "Zip": 1}]}`, 400,
			`instances[0]: unknown feature "Zip", "age" (model churn has the features tenure, charges, plan)`},
		{"a v1 instance missing features", "/v1/models/churn:predict", `{"instances": [{"tenure": 1, "charges": 1, "plan": "basic"}, {"charges": 1}]}`, 400,
			"instances[1]: missing features tenure, plan (every row needs all of tenure, charges, plan)"},
		{"a body over the limit", "/v1/models/churn:predict", big, 413,
			fmt.Sprintf("request body is larger than %d bytes (the server's --max-body, serve.limits.max_body): send fewer rows per request", testMaxBody)},
		{"an unknown model (v2)", "/v2/models/nope/infer", churnInputs(), 404, `model "nope" is not served here (models: churn, tiers, fresh)`},
		{"an unknown model (v1)", "/v1/models/nope:predict", `{"instances": [{}]}`, 404, `model "nope" is not served here`},
		{"a v1 path without :predict", "/v1/models/churn", `{"instances": [{}]}`, 404, "predictions are POST /v1/models/MODEL:predict"},
		{"a model without a champion (v2)", "/v2/models/fresh/infer", churnInputs(), 503,
			"model fresh has no champion yet: run `kingmaker retrain fresh` (or `kingmaker promote fresh VERSION`)"},
		{"a model without a champion (v1)", "/v1/models/fresh:predict", `{"instances": [{}]}`, 503,
			"model fresh has no champion yet: run `kingmaker retrain fresh`"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.do("POST", c.path, c.body)
			if r.code != c.code {
				t.Fatalf("status %d, want %d: %s", r.code, c.code, r.body)
			}
			var e struct{ Error string }
			if err := json.Unmarshal(r.body, &e); err != nil || !strings.Contains(e.Error, c.want) {
				t.Errorf("error %q\nwant it to hold %q", r.body, c.want)
			}
			if c.code == 400 && strings.Contains(c.path, "churn") {
				champion(t, r, f.a, 1) // refused requests still say who would have answered
			}
		})
	}

	t.Run("a chunked body over the limit is cut off with 413", func(t *testing.T) {
		req := httptest.NewRequest("POST", "/v1/models/churn:predict", strings.NewReader(big))
		req.ContentLength = -1 // as a chunked request: no length to check up front
		rec := httptest.NewRecorder()
		f.srv.Handler().ServeHTTP(rec, req)
		if rec.Code != 413 {
			t.Errorf("status %d, want 413: %s", rec.Code, rec.Body)
		}
	})
	t.Run("metadata of an unknown model is 404 and of a model without champion 503", func(t *testing.T) {
		if r := f.do("GET", "/v2/models/nope", ""); r.code != 404 {
			t.Errorf("unknown model: status %d", r.code)
		}
		r := f.do("GET", "/v2/models/fresh/ready", "")
		if r.code != 503 || !strings.Contains(string(r.body), "kingmaker retrain fresh") || r.header.Get("Retry-After") == "" {
			t.Errorf("model without champion: status %d, Retry-After %q: %s", r.code, r.header.Get("Retry-After"), r.body)
		}
		if r := f.do("GET", "/v2/models/fresh", ""); r.code != 503 {
			t.Errorf("metadata of a model without champion: status %d", r.code)
		}
	})
}

func TestReadinessWaitsForTheFirstLoad(t *testing.T) {
	f := newFixture(t)
	r := f.do("GET", "/v2/health/ready", "")
	if r.code != 503 || !strings.Contains(string(r.body), "model churn is still loading its champion") {
		t.Errorf("before the first poll: status %d: %s", r.code, r.body)
	}
	if r := f.do("POST", "/v2/models/churn/infer", churnInputs()); r.code != 503 || !strings.Contains(string(r.body), "still loading") {
		t.Errorf("inference before the first poll: status %d: %s", r.code, r.body)
	}
	f.mustRefresh()
	if r := f.do("GET", "/v2/health/ready", ""); r.code != 200 {
		t.Errorf("after the first poll: status %d: %s", r.code, r.body)
	}
}

// served returns the version and generation a v1 prediction was answered with,
// after checking the headers agree with the body.
func served(t testing.TB, h http.Handler) (string, int64) {
	t.Helper()
	r := do(h, "POST", "/v1/models/churn:predict", `{"instances": [{"tenure": 3, "charges": 80.5, "plan": "premium"}]}`)
	if r.code != 200 {
		t.Fatalf("prediction failed: status %d: %s", r.code, r.body)
	}
	var resp serving.PredictResponse
	if err := json.Unmarshal(r.body, &resp); err != nil {
		t.Fatal(err)
	}
	if r.header.Get(serving.HeaderVersion) != resp.ModelVersion || r.header.Get(serving.HeaderGeneration) != fmt.Sprint(resp.Generation) {
		t.Fatalf("headers name %s/%s, the body %s/%d", r.header.Get(serving.HeaderVersion), r.header.Get(serving.HeaderGeneration), resp.ModelVersion, resp.Generation)
	}
	return resp.ModelVersion, resp.Generation
}

func TestAPromotionIsTakenIntoServiceAtTheNextPoll(t *testing.T) {
	f := newFixture(t)
	f.mustRefresh()
	h := f.srv.Handler()
	if v, g := served(t, h); v != f.a.String() || g != 1 {
		t.Fatalf("before the promotion: %s/%d, want %s/1", v, g, f.a)
	}
	f.src.promote("churn", f.b)
	if v, g := served(t, h); v != f.a.String() || g != 1 {
		t.Errorf("between the promotion and the poll: %s/%d, want still %s/1", v, g, f.a)
	}
	f.mustRefresh()
	if v, g := served(t, h); v != f.b.String() || g != 2 {
		t.Errorf("after the poll: %s/%d, want %s/2", v, g, f.b)
	}
	loads := f.src.loads.Load()
	f.src.promote("churn", f.b) // the same version again: generation 3
	f.mustRefresh()
	if v, g := served(t, h); v != f.b.String() || g != 3 {
		t.Errorf("after promoting the same version again: %s/%d, want %s/3", v, g, f.b)
	}
	if f.src.loads.Load() != loads {
		t.Error("a new generation of the version in service must not load it again")
	}
	f.mustRefresh()
	if f.src.loads.Load() != loads {
		t.Error("a poll that finds the same generation must load nothing")
	}
	if !strings.Contains(f.logs.String(), "champion in service") {
		t.Errorf("swaps are not logged:\n%s", f.logs)
	}
}

// metric reads one serving metric of the server from /metrics.
func metric(t *testing.T, h http.Handler, series string) string {
	t.Helper()
	r := do(h, "GET", "/metrics", "")
	for _, line := range strings.Split(string(r.body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return "absent"
}

func TestAFailedLoadKeepsTheOldChampionServing(t *testing.T) {
	f := newFixture(t)
	f.mustRefresh()
	h := f.srv.Handler()
	f.src.failLoad(f.b, errCorrupt)
	f.src.promote("churn", f.b)

	for range 2 {
		err := f.refresh()
		if !errors.Is(err, errCorrupt) {
			t.Fatalf("refresh: %v, want the load error", err)
		}
		if v, g := served(t, h); v != f.a.String() || g != 1 {
			t.Fatalf("after a failed load: %s/%d, want the old champion %s/1", v, g, f.a)
		}
	}
	if got := metric(t, h, `kingmaker_serving_load_errors_total{model="churn"}`); got != "2" {
		t.Errorf("load errors %s, want 2 (one per failed poll)", got)
	}
	if n := strings.Count(f.logs.String(), "load champion failed"); n != 1 {
		t.Errorf("the same failure was logged %d times, want once:\n%s", n, f.logs)
	}
	if r := f.do("GET", "/v2/health/ready", ""); r.code != 200 {
		t.Errorf("a model serving its old champion must stay ready: status %d: %s", r.code, r.body)
	}

	f.src.failLoad(f.b, nil)
	f.mustRefresh()
	if v, g := served(t, h); v != f.b.String() || g != 2 {
		t.Errorf("once the load works: %s/%d, want %s/2", v, g, f.b)
	}

	f.src.failPointer(errors.New("cassandra timeout"))
	if err := f.refresh(); err == nil {
		t.Fatal("a failed pointer read must be reported")
	}
	if v, g := served(t, h); v != f.b.String() || g != 2 {
		t.Errorf("while the pointer cannot be read: %s/%d, want %s/2", v, g, f.b)
	}
	if got := metric(t, h, `kingmaker_serving_load_errors_total{model="churn"}`); got != "3" {
		t.Errorf("load errors %s, want 3", got)
	}
}

func TestAVersionThatDoesNotFitTheConfigIsNeverServed(t *testing.T) {
	f := newFixture(t)
	other := schemaOf(f.models["fresh"])
	other.Features[2].Categories = []string{"basic", "premium", "gold"}
	f.src.promote("fresh", f.src.add(train(t, "logistic", other, nil)))
	err := f.refresh()
	want := "does not fit the config of model fresh: feature 2 is plan (categorical [basic premium gold]) in the version, plan (categorical [basic premium]) in the config"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("refresh: %v\nwant it to hold %q", err, want)
	}
	r := f.do("POST", "/v2/models/fresh/infer", churnInputs())
	if r.code != 503 || !strings.Contains(string(r.body), "could not be loaded (it does not fit the config of the model; the server's log has the details)") {
		t.Errorf("status %d: %s", r.code, r.body)
	}
	if !strings.Contains(f.logs.String(), "feature 2 is plan") {
		t.Errorf("the log does not name the mismatch:\n%s", f.logs)
	}
	if r := f.do("GET", "/v2/health/ready", ""); r.code != 503 || !strings.Contains(string(r.body), `"fresh"`) {
		t.Errorf("a champion that cannot be loaded must hold readiness back: status %d: %s", r.code, r.body)
	}
}

func TestMetricsDescribeRequestsAndSwaps(t *testing.T) {
	f := newFixture(t)
	f.mustRefresh()
	f.do("POST", "/v2/models/churn/infer", churnInputs())
	f.do("POST", "/v1/models/churn:predict", `{"instances": [{"tenure": 3, "charges": 80.5, "plan": "premium"}]}`)
	f.do("POST", "/v1/models/churn:predict", `{"instances": []}`)
	f.do("POST", "/v2/models/nope/infer", churnInputs())
	f.do("POST", "/v2/models/fresh/infer", churnInputs())
	h := f.srv.Handler()
	a := f.a.String()
	cases := []struct{ series, want string }{
		{`kingmaker_serving_requests_total{code="200",model="churn",version="` + a + `"}`, "2"},
		{`kingmaker_serving_requests_total{code="400",model="churn",version="` + a + `"}`, "1"},
		{`kingmaker_serving_requests_total{code="404",model="_unknown",version=""}`, "1"},
		{`kingmaker_serving_requests_total{code="503",model="fresh",version=""}`, "1"},
		{`kingmaker_serving_request_duration_seconds_count{endpoint="infer",model="churn"}`, "1"},
		{`kingmaker_serving_request_duration_seconds_count{endpoint="predict",model="churn"}`, "2"},
		{`kingmaker_serving_swaps_total{model="churn"}`, "1"},
		{`kingmaker_serving_swaps_total{model="fresh"}`, "0"},
		{`kingmaker_serving_load_errors_total{model="churn"}`, "0"},
		{`kingmaker_serving_generation{model="churn"}`, "1"},
		{`kingmaker_serving_generation{model="fresh"}`, "0"},
	}
	for _, c := range cases {
		if got := metric(t, h, c.series); got != c.want {
			t.Errorf("%s = %s, want %s", c.series, got, c.want)
		}
	}
	// The names and help strings follow the conventions promtool checks.
	r := do(h, "GET", "/metrics", "")
	problems, err := promlint.New(bytes.NewReader(r.body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "kingmaker_") {
			t.Errorf("metric %s: %s", p.Metric, p.Text)
		}
	}
}

func TestSwapsUnderConcurrentRequestsNeverMixVersions(t *testing.T) {
	f := newFixture(t)
	f.mustRefresh()
	h := f.srv.Handler()
	var (
		mu       sync.Mutex
		promoted = map[int64]string{1: f.a.String()} // generation -> version
	)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			last := int64(0)
			for ctx.Err() == nil {
				v, g := served(t, h)
				mu.Lock()
				want := promoted[g]
				mu.Unlock()
				if v != want {
					t.Errorf("generation %d answered by %s, promoted was %s", g, v, want)
					return
				}
				if g < last {
					t.Errorf("generation went back from %d to %d", last, g)
					return
				}
				last = g
			}
		})
	}
	for i := range 40 {
		next := f.b
		if i%2 == 1 {
			next = f.a
		}
		mu.Lock()
		promoted[int64(i+2)] = next.String()
		mu.Unlock()
		f.src.promote("churn", next)
		f.mustRefresh()
		time.Sleep(time.Millisecond)
	}
	cancel()
	wg.Wait()
	if got := metric(t, h, `kingmaker_serving_swaps_total{model="churn"}`); got != "41" {
		t.Errorf("swaps %s, want 41", got)
	}
}

func TestServeFollowsThePointerAndFinishesRequestsInFlightWhenStopped(t *testing.T) {
	f := newFixture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.srv.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	waitFor(t, 5*time.Second, "the server to become ready", func() bool {
		resp, err := http.Get(base + "/v2/health/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	f.src.promote("churn", f.b)
	waitFor(t, 5*time.Second, "the poll to swap in the promoted version", func() bool {
		resp, err := http.Get(base + "/v2/models/churn/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.Header.Get(serving.HeaderVersion) == f.b.String()
	})

	// A request whose body is still arriving when the stop comes is answered.
	body, write := io.Pipe()
	answered := make(chan int, 1)
	go func() {
		resp, err := http.Post(base+"/v2/models/churn/infer", "application/json", body)
		if err != nil {
			t.Errorf("the request in flight failed: %v", err)
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	full := churnInputs()
	io.WriteString(write, full[:20])
	// Stop only once the server is handling it (accepted and reading).
	waitFor(t, 10*time.Second, "the request to be in flight", func() bool {
		return metric(t, f.srv.Handler(), "kingmaker_serving_requests_in_flight") == "1"
	})
	cancel()
	time.Sleep(100 * time.Millisecond)
	io.WriteString(write, full[20:])
	write.Close()
	if code := <-answered; code != 200 {
		t.Errorf("the request in flight during the stop got status %d, want 200", code)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not stop within 5s of its context ending")
	}
	if _, err := http.Get(base + "/v2/health/live"); err == nil {
		t.Error("the server still answers after it stopped")
	}
}

func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNewRefusesAConfigWithoutModels(t *testing.T) {
	if _, err := serving.New(serving.Options{Source: newFakeSource()}); err == nil || !strings.Contains(err.Error(), "declares no models") {
		t.Errorf("New without models: %v", err)
	}
}

func TestAPointerThatCannotBeReadIsExplained(t *testing.T) {
	f := newFixture(t)
	f.src.failPointer(errors.New("cassandra timeout"))
	if err := f.refresh(); err == nil {
		t.Fatal("refresh must report the failed read")
	}
	r := f.do("POST", "/v2/models/churn/infer", churnInputs())
	want := "model churn: its champion pointer could not be read (the server's log has the details); it is retried at every poll"
	if r.code != 503 || !strings.Contains(string(r.body), want) {
		t.Errorf("status %d: %s\nwant 503 with %q", r.code, r.body, want)
	}
	if strings.Contains(string(r.body), "cassandra timeout") {
		t.Errorf("the 503 body shows the driver's error; it belongs in the log only: %s", r.body)
	}
	if !strings.Contains(f.logs.String(), "cassandra timeout") {
		t.Errorf("the log does not have the driver's error:\n%s", f.logs)
	}
	if r := f.do("GET", "/v2/health/ready", ""); r.code != 503 {
		t.Errorf("readiness with unread pointers: status %d", r.code)
	}
	if got := metric(t, f.srv.Handler(), `kingmaker_serving_model_ready{model="churn"}`); got != "0" {
		t.Errorf("kingmaker_serving_model_ready of churn %s, want 0 while its pointer cannot be read", got)
	}
	f.src.failPointer(nil)
	f.mustRefresh()
	if r := f.do("POST", "/v2/models/churn/infer", churnInputs()); r.code != 200 {
		t.Errorf("after the pointer can be read again: status %d: %s", r.code, r.body)
	}
	for _, m := range []string{"churn", "fresh"} { // fresh has no champion: it holds nothing back
		if got := metric(t, f.srv.Handler(), `kingmaker_serving_model_ready{model="`+m+`"}`); got != "1" {
			t.Errorf("kingmaker_serving_model_ready of %s %s, want 1", m, got)
		}
	}
}
