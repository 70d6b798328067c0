package serving_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/serving"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// grades are the five classes of the multiclass test model.
var grades = []string{"a", "b", "c", "d", "e"}

// taskModels are a regression model (minutes: a label without classes)
// and a five-class model (grade) over the tiny models' features.
func taskModels() []config.Model {
	ms := tinyModels()
	minutes, grade := ms[0], ms[0]
	minutes.Name, minutes.Label = "minutes", config.Label{Column: "minutes"}
	grade.Name, grade.Label = "grade", config.Label{Column: "grade", Classes: grades}
	minutes.Features = append([]config.Feature(nil), ms[0].Features...)
	grade.Features = append([]config.Feature(nil), ms[0].Features...)
	return []config.Model{minutes, grade}
}

// taskData is tiny data of the schema's task: a number for regression,
// one of five grades (by a noisy score) otherwise.
func taskData(s trainer.Schema, seed uint64) *trainer.Data {
	r := rand.New(rand.NewPCG(seed, 11))
	d := &trainer.Data{Schema: s}
	for range 400 {
		tenure, charges, plan := math.Floor(r.Float64()*60), 20+80*r.Float64(), float64(r.IntN(2))
		z := 10 + 0.3*tenure - 0.1*charges + 5*plan + r.NormFloat64()
		d.X = append(d.X, []float64{tenure, charges, plan})
		if s.EffectiveTask() == trainer.Regression {
			d.Target = append(d.Target, z)
		} else {
			d.Y = append(d.Y, min(4, max(0, int((z+2)/6))))
		}
	}
	return d
}

// taskFixture serves minutes (linear, version minutesA) and grade
// (logistic, version gradeA), with shadow scoring of every request.
type taskFixture struct {
	*fixture
	shadows          *shadowSource
	sink             *memorySink
	minutesA, gradeA trainer.Model
	minutesB         trainer.Model
}

func newTaskFixture(t *testing.T) *taskFixture {
	t.Helper()
	models := taskModels()
	f := &fixture{t: t, src: newFakeSource(), models: map[string]config.Model{}, logs: &testenv.Buffer{}}
	tf := &taskFixture{fixture: f, shadows: &shadowSource{fakeSource: f.src, shadows: map[string]*registry.Shadow{}}, sink: &memorySink{}}
	for _, m := range models {
		f.models[m.Name] = m
	}
	fit := func(algorithm string, m config.Model, seed uint64, p trainer.Params) trainer.Model {
		s := schemaOf(m)
		if len(s.Classes) == 0 {
			s.Task = trainer.Regression
		}
		tr, err := trainer.Lookup(algorithm)
		if err != nil {
			t.Fatal(err)
		}
		tm, err := tr.Train(context.Background(), taskData(s, seed), p)
		if err != nil {
			t.Fatalf("train %s: %v", algorithm, err)
		}
		return tm
	}
	tf.minutesA = fit("linear", f.models["minutes"], 1, nil)
	tf.minutesB = fit("knn", f.models["minutes"], 2, nil)
	tf.gradeA = fit("logistic", f.models["grade"], 1, nil)
	a := f.src.add(tf.minutesA)
	f.src.promote("minutes", a)
	f.src.promote("grade", f.src.add(tf.gradeA))
	tf.shadows.set("minutes", f.src.add(tf.minutesB))
	srv, err := serving.New(serving.Options{
		Models: models, Source: tf.shadows, Poll: 20 * time.Millisecond, MaxBody: testMaxBody,
		Logger: slog.New(slog.NewTextHandler(f.logs, nil)), ShadowSample: 1, ShadowSink: tf.sink,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	f.mustRefresh()
	return tf
}

// taskRows are the two rows of churnInputs as the models read them.
var taskRows = [][]float64{{3, 80.5, 1}, {40, 25, 0}}

func TestARegressionModelAnswersAValuePerRow(t *testing.T) {
	tf := newTaskFixture(t)
	want, err := tf.minutesA.(trainer.Regressor).PredictValues(taskRows)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("v2 gives one value tensor", func(t *testing.T) {
		r := tf.do("POST", "/v2/models/minutes/infer", churnInputs())
		if r.code != 200 {
			t.Fatalf("status %d: %s", r.code, r.body)
		}
		var resp serving.InferResponse
		if err := json.Unmarshal(r.body, &resp); err != nil {
			t.Fatal(err)
		}
		if len(resp.Outputs) != 1 || resp.Outputs[0].Name != "value" || resp.Outputs[0].Datatype != "FP64" || fmt.Sprint(resp.Outputs[0].Shape) != "[2]" {
			t.Fatalf("outputs %+v, want one FP64 tensor value of shape [2]", resp.Outputs)
		}
		if got := fmt.Sprint(resp.Outputs[0].Data); got != fmt.Sprint(want) {
			t.Errorf("values %s, want the model's own %v", got, want)
		}
	})

	t.Run("v1 gives an object with the value per instance", func(t *testing.T) {
		r := tf.do("POST", "/v1/models/minutes:predict",
			`{"instances": [{"tenure": 3, "charges": 80.5, "plan": "premium"}, {"tenure": 40, "charges": 25, "plan": "basic"}]}`)
		if r.code != 200 {
			t.Fatalf("status %d: %s", r.code, r.body)
		}
		wantBody := fmt.Sprintf(`{"predictions":[{"value":%s},{"value":%s}],"model_version":"%s","generation":1}`+"\n",
			strconv.FormatFloat(want[0], 'g', -1, 64), strconv.FormatFloat(want[1], 'g', -1, 64), tf.src.pointers["minutes"].Version)
		if string(r.body) != wantBody {
			t.Errorf("body %s\nwant %s", r.body, wantBody)
		}
	})

	t.Run("metadata names the task and the value output", func(t *testing.T) {
		b := tf.do("GET", "/v2/models/minutes", "").json(t)
		outs := b["outputs"].([]any)
		if len(outs) != 1 || outs[0].(map[string]any)["name"] != "value" {
			t.Errorf("outputs %v, want value only", outs)
		}
		if p := b["parameters"].(map[string]any); p["task"] != "regression" || p["classes"] != nil {
			t.Errorf("parameters %v, want task regression and no classes", p)
		}
	})
}

func TestAFiveClassModelAnswersAProbabilityPerClass(t *testing.T) {
	tf := newTaskFixture(t)
	p := tf.gradeA.(trainer.Prober)
	want, err := p.PredictProba(taskRows)
	if err != nil {
		t.Fatal(err)
	}
	ids, _, err := tf.gradeA.Predict(taskRows)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("v2 gives classes and a [N, 5] probabilities tensor naming them", func(t *testing.T) {
		r := tf.do("POST", "/v2/models/grade/infer", churnInputs())
		if r.code != 200 {
			t.Fatalf("status %d: %s", r.code, r.body)
		}
		var resp struct {
			Outputs []struct {
				Name       string
				Shape      []int
				Data       []json.RawMessage
				Parameters struct{ Classes []string }
			}
		}
		if err := json.Unmarshal(r.body, &resp); err != nil {
			t.Fatal(err)
		}
		if len(resp.Outputs) != 2 || resp.Outputs[0].Name != "class" || resp.Outputs[1].Name != "probabilities" {
			t.Fatalf("outputs %s, want class and probabilities", r.body)
		}
		for i, k := range ids {
			if got := string(resp.Outputs[0].Data[i]); got != strconv.Quote(grades[k]) {
				t.Errorf("row %d: class %s, want %q", i, got, grades[k])
			}
		}
		probs := resp.Outputs[1]
		if fmt.Sprint(probs.Shape) != "[2 5]" || fmt.Sprint(probs.Parameters.Classes) != fmt.Sprint(grades) || len(probs.Data) != 10 {
			t.Fatalf("probabilities shape %v classes %v with %d values, want [2 5], %v and 10", probs.Shape, probs.Parameters.Classes, len(probs.Data), grades)
		}
		for i := range 10 {
			if got, err := strconv.ParseFloat(string(probs.Data[i]), 64); err != nil || got != want[i/5][i%5] {
				t.Errorf("probabilities[%d] = %s, want the model's own %v", i, probs.Data[i], want[i/5][i%5])
			}
		}
	})

	t.Run("v1 gives the class and the probabilities per instance and names the classes once", func(t *testing.T) {
		r := tf.do("POST", "/v1/models/grade:predict", `{"instances": [{"tenure": 3, "charges": 80.5, "plan": "premium"}, {"tenure": 40, "charges": 25, "plan": "basic"}]}`)
		if r.code != 200 {
			t.Fatalf("status %d: %s", r.code, r.body)
		}
		var resp serving.PredictResponse
		if err := json.Unmarshal(r.body, &resp); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(resp.Classes) != fmt.Sprint(grades) || len(resp.Predictions) != 2 {
			t.Fatalf("classes %v with %d predictions, want %v and 2", resp.Classes, len(resp.Predictions), grades)
		}
		for i, pr := range resp.Predictions {
			if pr.Class != grades[ids[i]] || pr.Probability != nil || fmt.Sprint(pr.Probabilities) != fmt.Sprint(want[i]) {
				t.Errorf("row %d: %+v, want class %s, no positive probability and %v", i, pr, grades[ids[i]], want[i])
			}
		}
	})

	t.Run("only the probabilities when only they are asked for", func(t *testing.T) {
		body := strings.Replace(churnInputs(), `{"inputs"`, `{"outputs": [{"name": "probabilities"}], "inputs"`, 1)
		r := tf.do("POST", "/v2/models/grade/infer", body)
		if outs := r.json(t)["outputs"].([]any); r.code != 200 || len(outs) != 1 || outs[0].(map[string]any)["name"] != "probabilities" {
			t.Errorf("status %d outputs %s, want probabilities only", r.code, r.body)
		}
	})
}

func TestARequestTheTaskCannotAnswerIsRefused(t *testing.T) {
	tf := newTaskFixture(t)
	ask := func(output string) string {
		return strings.Replace(churnInputs(), `{"inputs"`, fmt.Sprintf(`{"outputs": [{"name": %q}], "inputs"`, output), 1)
	}
	cases := []struct {
		name, path, body, want string
	}{
		{"a class from a regression model", "/v2/models/minutes/infer", ask("class"),
			"outputs[0]: model minutes is a regression model: it answers value per row, not class"},
		{"a probability from a regression model", "/v2/models/minutes/infer", ask("probability"),
			"outputs[0]: model minutes is a regression model: it answers value per row, not probability"},
		{"the positive probability from a five-class model", "/v2/models/grade/infer", ask("probability"),
			"outputs[0]: model grade gives no probability (it has 5 classes): ask for probabilities, one per class"},
		{"a value from a five-class model", "/v2/models/grade/infer", ask("value"),
			"outputs[0]: model grade is a multiclass model: it has the outputs class, probabilities"},
		{"a value from a binary model", "/v2/models/churn/infer", ask("value"),
			"outputs[0]: model churn is a binary model: it has the outputs class, probability"},
		{"probabilities from a binary model", "/v2/models/churn/infer", ask("probabilities"),
			"outputs[0]: model churn is a binary model: it has the outputs class, probability"},
	}
	churn := newFixture(t)
	churn.mustRefresh()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := tf.srv.Handler()
			if strings.Contains(c.path, "churn") {
				h = churn.srv.Handler()
			}
			r := do(h, "POST", c.path, c.body)
			var e struct{ Error string }
			if err := json.Unmarshal(r.body, &e); r.code != 400 || err != nil || e.Error != c.want {
				t.Errorf("status %d body %s\nwant 400 with the error %q", r.code, r.body, c.want)
			}
			if strings.Contains(e.Error, "\n") {
				t.Errorf("error %q is more than one line", e.Error)
			}
		})
	}
}

func TestARegressionShadowRecordsBothValuesAndTheirMeanAbsoluteDifference(t *testing.T) {
	tf := newTaskFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tf.srv.RunShadow(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	if r := tf.do("POST", "/v2/models/minutes/infer", withIDs(input("id", "BYTES", "a", "b"))); r.code != 200 {
		t.Fatalf("status %d: %s", r.code, r.body)
	}
	waitFor(t, 5*time.Second, "the shadow rows", func() bool { return len(tf.sink.written()) == 2 })
	champ, _ := tf.minutesA.(trainer.Regressor).PredictValues(taskRows)
	shadow, _ := tf.minutesB.(trainer.Regressor).PredictValues(taskRows)
	var sum float64
	for i, p := range tf.sink.written() {
		if p.ChampionClass != "" || p.ShadowClass != "" || p.ChampionScore == nil || p.ShadowScore == nil ||
			*p.ChampionScore != champ[i] || *p.ShadowScore != shadow[i] {
			t.Errorf("row %d: %+v, want no classes, champion value %v and shadow value %v", i, p, champ[i], shadow[i])
		}
		sum += math.Abs(shadow[i] - champ[i])
	}
	got := metric(t, tf.srv.Handler(), `kingmaker_serving_shadow_mean_abs_difference{model="minutes"}`)
	if v, err := strconv.ParseFloat(got, 64); err != nil || math.Abs(v-sum/2) > 1e-9*math.Max(1, sum) {
		t.Errorf("mean absolute difference %s, want %v", got, sum/2)
	}
	if got := metric(t, tf.srv.Handler(), `kingmaker_serving_shadow_agreement_ratio{model="minutes"}`); got != "absent" {
		t.Errorf("agreement ratio %s of a regression model, want none", got)
	}
}
