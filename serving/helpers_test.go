package serving_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/serving"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// tinyModels are the models of the unit tests: churn (binary), tiers
// (three classes: no probability) and fresh (never given a champion unless
// a test does).
func tinyModels() []config.Model {
	feats := []config.Feature{
		{Name: "tenure", Type: "numeric"},
		{Name: "charges", Type: "numeric"},
		{Name: "plan", Type: "categorical", Categories: []string{"basic", "premium"}},
	}
	model := func(name string, classes ...string) config.Model {
		m := config.Model{Name: name, Features: feats, Label: config.Label{Column: "label", Classes: classes}}
		for j := range m.Features {
			m.Features[j].Column = m.Features[j].Name
		}
		return m
	}
	return []config.Model{
		model("churn", "false", "true"),
		model("tiers", "low", "mid", "high"),
		model("fresh", "false", "true"),
	}
}

// schemaOf is the trainer schema a config model declares.
func schemaOf(m config.Model) trainer.Schema {
	return (&dataset.Source{Model: &m}).Schema()
}

// tinyData is 300 rows of the tiny models' features with a label from a
// noisy rule, deterministic in seed.
func tinyData(s trainer.Schema, seed uint64) *trainer.Data {
	r := rand.New(rand.NewPCG(seed, 7))
	d := &trainer.Data{Schema: s}
	for range 300 {
		tenure := math.Floor(r.Float64() * 60)
		charges := 20 + 80*r.Float64()
		plan := float64(r.IntN(len(s.Features[2].Categories)))
		z := -0.05*tenure + 0.03*(charges-60) + 0.8*plan + r.NormFloat64()*0.5
		y := 0
		if z > 0 {
			y = 1
		}
		if len(s.Classes) == 3 && z > 1 {
			y = 2
		}
		d.X = append(d.X, []float64{tenure, charges, plan})
		d.Y = append(d.Y, y)
	}
	return d
}

// train fits a real model of algorithm on tiny data.
func train(t testing.TB, algorithm string, s trainer.Schema, p trainer.Params) trainer.Model {
	t.Helper()
	tr, err := trainer.Lookup(algorithm)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tr.Train(context.Background(), tinyData(s, 1), p)
	if err != nil {
		t.Fatalf("train %s: %v", algorithm, err)
	}
	return m
}

// fakeSource is a champion pointer per model and versions in memory.
type fakeSource struct {
	mu         sync.Mutex
	pointers   map[string]*registry.Champion
	versions   map[gocql.UUID]trainer.Model
	loadErrs   map[gocql.UUID]error
	pointerErr error
	loads      atomic.Int64
}

func newFakeSource() *fakeSource {
	return &fakeSource{pointers: map[string]*registry.Champion{}, versions: map[gocql.UUID]trainer.Model{}, loadErrs: map[gocql.UUID]error{}}
}

func (f *fakeSource) Champion(_ context.Context, model string) (*registry.Champion, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pointerErr != nil {
		return nil, f.pointerErr
	}
	c := f.pointers[model]
	if c == nil {
		return nil, nil
	}
	cp := *c
	return &cp, nil
}

func (f *fakeSource) Load(_ context.Context, model string, id gocql.UUID) (trainer.Model, error) {
	f.loads.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.loadErrs[id]; err != nil {
		return nil, err
	}
	m, ok := f.versions[id]
	if !ok {
		return nil, fmt.Errorf("version %s of model %s: %w", id, model, registry.ErrNotFound)
	}
	return m, nil
}

// add stores a version and returns its id.
func (f *fakeSource) add(m trainer.Model) gocql.UUID {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := registry.VersionID(time.Date(2026, 5, 1, 0, 0, len(f.versions), 0, time.UTC), "fake")
	f.versions[id] = m
	return id
}

// promote moves a model's pointer to id and returns the new generation.
func (f *fakeSource) promote(model string, id gocql.UUID) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	gen := int64(1)
	if c := f.pointers[model]; c != nil {
		gen = c.Generation + 1
	}
	f.pointers[model] = &registry.Champion{Model: model, Version: id, Generation: gen}
	return gen
}

func (f *fakeSource) failLoad(id gocql.UUID, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loadErrs[id] = err
}

func (f *fakeSource) failPointer(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pointerErr = err
}

// fixture is a Server over a fakeSource with churn and tiers promoted.
type fixture struct {
	t      *testing.T
	src    *fakeSource
	srv    *serving.Server
	models map[string]config.Model
	churnA trainer.Model
	churnB trainer.Model
	a, b   gocql.UUID // churn versions; a is the champion after newFixture
	tiers  gocql.UUID
	logs   *testenv.Buffer
}

const testMaxBody = 4096

func newFixture(t *testing.T) *fixture {
	t.Helper()
	models := tinyModels()
	f := &fixture{t: t, src: newFakeSource(), models: map[string]config.Model{}, logs: &testenv.Buffer{}}
	for _, m := range models {
		f.models[m.Name] = m
	}
	f.churnA = train(t, "logistic", schemaOf(f.models["churn"]), trainer.Params{"l2": 1})
	f.churnB = train(t, "logistic", schemaOf(f.models["churn"]), trainer.Params{"l2": 50})
	f.a, f.b = f.src.add(f.churnA), f.src.add(f.churnB)
	f.tiers = f.src.add(train(t, "logistic", schemaOf(f.models["tiers"]), nil))
	f.src.promote("churn", f.a)
	f.src.promote("tiers", f.tiers)
	srv, err := serving.New(serving.Options{
		Models: models, Source: f.src, Poll: 20 * time.Millisecond, MaxBody: testMaxBody,
		Logger: slog.New(slog.NewTextHandler(f.logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	return f
}

// refresh runs one poll of every model.
func (f *fixture) refresh() error {
	f.t.Helper()
	return f.srv.Refresh(context.Background())
}

func (f *fixture) mustRefresh() {
	f.t.Helper()
	if err := f.refresh(); err != nil {
		f.t.Fatalf("refresh: %v", err)
	}
}

// response is an answer of the handler.
type response struct {
	code   int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("response is not a JSON object: %v\n%s", err, r.body)
	}
	return v
}

// do sends one request to the server's handler.
func (f *fixture) do(method, path, body string) response {
	return do(f.srv.Handler(), method, path, body)
}

func do(h http.Handler, method, path, body string) response {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return response{rec.Code, rec.Result().Header, rec.Body.Bytes()}
}

// v2 builds an inference request body from columns.
func v2(inputs ...map[string]any) string {
	b, _ := json.Marshal(map[string]any{"inputs": inputs})
	return string(b)
}

func input(name, datatype string, data ...any) map[string]any {
	return map[string]any{"name": name, "datatype": datatype, "shape": []int{len(data)}, "data": data}
}

// churnInputs is a valid two-row request of the tiny models.
func churnInputs() string {
	return v2(input("tenure", "FP64", 3, 40), input("charges", "FP64", 80.5, 25), input("plan", "BYTES", "premium", "basic"))
}

// errCorrupt stands for what the registry returns for a damaged artifact.
var errCorrupt = fmt.Errorf("%w: churn: sha256 0123456789ab, recorded fedcba987654", registry.ErrCorruptArtifact)
