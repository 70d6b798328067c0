package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"go.temporal.io/sdk/client"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/serving"
	"github.com/kingmaker-ml/kingmaker/trainer"
	"github.com/kingmaker-ml/kingmaker/worker"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// The rows served and batch scored: taskServeRows of the day after the
// last seeded one (outside every retrain and drift window), keyed by uuid
// as predictions are.
const taskServeRows = 40

// servedRow is one row of the served day, as a client sends it.
type servedRow struct {
	id  string
	x1  float64
	x2  int
	seg string
}

// writeServedRows writes the served day of model's dataset and returns its
// rows in the order written.
func writeServedRows(ctx context.Context, t *testing.T, s *gocql.Session, ks, model string) []servedRow {
	t.Helper()
	r := rand.New(rand.NewPCG(99, uint64(len(model))))
	insert := fmt.Sprintf(`INSERT INTO %s.tasks (dataset, day, ts, id, x1, x2, seg) VALUES (?, ?, ?, ?, ?, ?, ?)`, ks)
	rows := make([]servedRow, taskServeRows)
	for i := range rows {
		u, err := gocql.RandomUUID()
		if err != nil {
			t.Fatal(err)
		}
		rows[i] = servedRow{id: u.String(), x1: r.NormFloat64() * 2, x2: r.IntN(10), seg: []string{"north", "south", "east"}[r.IntN(3)]}
		ts := taskAtEnd.Add(time.Duration(i) * time.Minute)
		if err := s.Query(insert, model, taskAtEnd, ts, rows[i].id, rows[i].x1, rows[i].x2, rows[i].seg).WithContext(ctx).Exec(); err != nil {
			t.Fatalf("write the served rows: %v", err)
		}
	}
	return rows
}

// ownPredictions are the champion's predictions of the served day, by row
// key, computed by the trained model itself on the rows as the dataset
// reads them: a value (regression) or a class and the probability of every
// class (multiclass).
type ownPredictions struct {
	values map[string]float64
	class  map[string]string
	proba  map[string][]float64
}

func predictServedRows(ctx context.Context, t *testing.T, s *gocql.Session, ks string, m *config.Model, model trainer.Model) ownPredictions {
	t.Helper()
	var (
		mu   sync.Mutex
		keys []string
		x    [][]float64
	)
	src := &dataset.Source{Session: s, Keyspace: ks, Model: m}
	w := dataset.Window{From: taskAtEnd, To: taskAtEnd.AddDate(0, 0, 1)}
	if _, err := src.Scan(ctx, w, dataset.ScanOptions{Unlabelled: true}, func(_ int, b *dataset.Batch) error {
		mu.Lock()
		defer mu.Unlock()
		keys = append(keys, b.Keys...)
		x = append(x, b.X...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(keys) != taskServeRows {
		t.Fatalf("the served day reads %d rows, want %d", len(keys), taskServeRows)
	}
	own := ownPredictions{values: map[string]float64{}, class: map[string]string{}, proba: map[string][]float64{}}
	if model.Schema().EffectiveTask() == trainer.Regression {
		v, err := model.(trainer.Regressor).PredictValues(x)
		if err != nil {
			t.Fatal(err)
		}
		for i, k := range keys {
			own.values[k] = v[i]
		}
		return own
	}
	ids, _, err := model.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	p, err := model.(trainer.Prober).PredictProba(x)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		own.class[k], own.proba[k] = m.Label.Classes[ids[i]], p[i]
	}
	return own
}

// checkServedAndScored serves model with an in-process serving.Server on
// the registry and batch scores the served day through the worker, and
// checks that both answer the champion's own predictions: values for a
// regression model, a class and per-class probabilities for a multiclass
// one.
func checkServedAndScored(ctx context.Context, t *testing.T, st *worker.Stack, s *gocql.Session, cfg *config.Config, m *config.Model, champ *registry.Champion) {
	t.Helper()
	_, model, err := st.Registry.LoadModel(ctx, m.Name, champ.Version)
	if err != nil {
		t.Fatal(err)
	}
	rows := writeServedRows(ctx, t, s, cfg.Cassandra.Keyspace, m.Name)
	own := predictServedRows(ctx, t, s, cfg.Cassandra.Keyspace, m, model)
	regression := model.Schema().EffectiveTask() == trainer.Regression

	base, stopServing := serveInProcess(ctx, t, serving.Options{
		Models: []config.Model{*m}, Source: serving.RegistrySource(st.Registry), Poll: 100 * time.Millisecond,
	})
	defer stopServing()
	httpc := &http.Client{Timeout: 10 * time.Second}
	post := func(path string, body any) (int, []byte) {
		b, _ := json.Marshal(body)
		resp, err := httpc.Post(base+path, "application/json", bytes.NewReader(b))
		if err != nil {
			return 0, []byte(err.Error())
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}

	instances := make([]map[string]any, len(rows))
	x1s, x2s, segs := make([]float64, len(rows)), make([]float64, len(rows)), make([]string, len(rows))
	for i, r := range rows {
		instances[i] = map[string]any{"x1": r.x1, "x2": r.x2, "seg": r.seg}
		x1s[i], x2s[i], segs[i] = r.x1, float64(r.x2), r.seg
	}
	v1 := map[string]any{"instances": instances}
	var code int
	var body []byte
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body = post("/v1/models/"+m.Name+":predict", v1)
		if code == http.StatusOK && strings.Contains(string(body), champ.Version.String()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("v1 of %s: status %d %s; want the champion %s answering", m.Name, code, body, champ.Version)
		}
		time.Sleep(100 * time.Millisecond)
	}

	t.Run("v1 answers the champion's own predictions", func(t *testing.T) {
		if regression {
			var resp serving.ValueResponse
			if err := json.Unmarshal(body, &resp); err != nil || len(resp.Predictions) != len(rows) || resp.Generation != champ.Generation {
				t.Fatalf("v1 response %s (%v): want %d values of generation %d", body, err, len(rows), champ.Generation)
			}
			for i, r := range rows {
				if got := resp.Predictions[i].Value; got != own.values[r.id] {
					t.Errorf("row %d: v1 value %v, the model's own %v", i, got, own.values[r.id])
				}
			}
			return
		}
		var resp serving.PredictResponse
		if err := json.Unmarshal(body, &resp); err != nil || len(resp.Predictions) != len(rows) || fmt.Sprint(resp.Classes) != fmt.Sprint(m.Label.Classes) {
			t.Fatalf("v1 response %s (%v): want %d predictions naming the classes %v", body, err, len(rows), m.Label.Classes)
		}
		for i, r := range rows {
			if p := resp.Predictions[i]; p.Class != own.class[r.id] || fmt.Sprint(p.Probabilities) != fmt.Sprint(own.proba[r.id]) {
				t.Errorf("row %d: v1 class %s probabilities %v, the model's own %s %v", i, p.Class, p.Probabilities, own.class[r.id], own.proba[r.id])
			}
		}
	})

	t.Run("v2 answers the champion's own predictions", func(t *testing.T) {
		n := int64(len(rows))
		req := map[string]any{"inputs": []map[string]any{
			{"name": "x1", "datatype": "FP64", "shape": []int64{n}, "data": x1s},
			{"name": "x2", "datatype": "FP64", "shape": []int64{n}, "data": x2s},
			{"name": "seg", "datatype": "BYTES", "shape": []int64{n}, "data": segs},
		}}
		code, body := post("/v2/models/"+m.Name+"/infer", req)
		if code != http.StatusOK {
			t.Fatalf("v2 of %s: status %d %s", m.Name, code, body)
		}
		var resp struct {
			ModelVersion string `json:"model_version"`
			Outputs      []struct {
				Name       string
				Shape      []int
				Data       []json.RawMessage
				Parameters struct{ Classes []string }
			}
		}
		if err := json.Unmarshal(body, &resp); err != nil || resp.ModelVersion != champ.Version.String() {
			t.Fatalf("v2 response %s (%v): want version %s", body, err, champ.Version)
		}
		number := func(raw json.RawMessage) float64 {
			var f float64
			if err := json.Unmarshal(raw, &f); err != nil {
				t.Fatalf("%s is not a number: %v", raw, err)
			}
			return f
		}
		if regression {
			if len(resp.Outputs) != 1 || resp.Outputs[0].Name != "value" || len(resp.Outputs[0].Data) != len(rows) {
				t.Fatalf("v2 outputs %s: want one value per row", body)
			}
			for i, r := range rows {
				if got := number(resp.Outputs[0].Data[i]); got != own.values[r.id] {
					t.Errorf("row %d: v2 value %v, the model's own %v", i, got, own.values[r.id])
				}
			}
			return
		}
		k := len(m.Label.Classes)
		if len(resp.Outputs) != 2 || resp.Outputs[0].Name != "class" || resp.Outputs[1].Name != "probabilities" ||
			len(resp.Outputs[1].Data) != len(rows)*k || fmt.Sprint(resp.Outputs[1].Parameters.Classes) != fmt.Sprint(m.Label.Classes) {
			t.Fatalf("v2 outputs %s: want class and a [%d, %d] probabilities tensor naming %v", body, len(rows), k, m.Label.Classes)
		}
		for i, r := range rows {
			var class string
			if err := json.Unmarshal(resp.Outputs[0].Data[i], &class); err != nil || class != own.class[r.id] {
				t.Errorf("row %d: v2 class %s, the model's own %s", i, resp.Outputs[0].Data[i], own.class[r.id])
			}
			for c := range k {
				if got := number(resp.Outputs[1].Data[i*k+c]); got != own.proba[r.id][c] {
					t.Errorf("row %d: v2 probability of %s %v, the model's own %v", i, m.Label.Classes[c], got, own.proba[r.id][c])
				}
			}
		}
	})

	t.Run("a batch score stores the champion's own predictions", func(t *testing.T) {
		run, err := st.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: fmt.Sprintf("score-%s-%s", m.Name, cfg.Cassandra.Keyspace), TaskQueue: cfg.Temporal.TaskQueue,
		}, workflows.BatchScoreWorkflowName, workflows.BatchScoreInput{Model: m.Name, From: taskAtEnd, To: taskAtEnd.AddDate(0, 0, 1), Reason: "e2e"})
		if err != nil {
			t.Fatal(err)
		}
		var res workflows.BatchScoreResult
		if err := run.Get(ctx, &res); err != nil {
			t.Fatalf("batch scoring %s failed: %v", m.Name, err)
		}
		n := 0
		if err := st.Registry.Predictions(ctx, m.Name, taskAtEnd, taskAtEnd.AddDate(0, 0, 1), func(p *registry.Prediction) error {
			n++
			key := p.ID.String()
			if p.Version != champ.Version || p.Generation != champ.Generation {
				t.Errorf("prediction of %s by version %s generation %d, want the champion %s generation %d", key, p.Version, p.Generation, champ.Version, champ.Generation)
			}
			if regression {
				if p.Value == nil || *p.Value != own.values[key] || p.Predicted != "" || p.Probabilities != nil {
					t.Errorf("prediction of %s: value %v, class %q, probabilities %v; want the value %v alone", key, p.Value, p.Predicted, p.Probabilities, own.values[key])
				}
				return nil
			}
			if p.Value != nil || p.Predicted != own.class[key] || len(p.Probabilities) != len(m.Label.Classes) {
				t.Errorf("prediction of %s: value %v, class %q, probabilities %v; want class %s and %d probabilities", key, p.Value, p.Predicted, p.Probabilities, own.class[key], len(m.Label.Classes))
				return nil
			}
			for c, name := range m.Label.Classes {
				if got := p.Probabilities[name]; got != own.proba[key][c] {
					t.Errorf("prediction of %s: probability of %s %v, the model's own %v", key, name, got, own.proba[key][c])
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n != taskServeRows || res.Rows != taskServeRows {
			t.Errorf("%d predictions stored, the run says %d rows; want %d", n, res.Rows, taskServeRows)
		}
	})
}

// serveInProcess runs an in-process `kingmaker serve` with opts (its log
// discarded) on a free loopback port. It returns the base URL and a stop
// that ends Serve and checks that it ended cleanly.
func serveInProcess(ctx context.Context, t *testing.T, opts serving.Options) (base string, stop func()) {
	t.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := serving.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveCtx, stopServing := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(serveCtx, ln) }()
	return "http://" + ln.Addr().String(), func() {
		stopServing()
		if err := <-served; err != nil {
			t.Errorf("Serve after cancel: %v", err)
		}
	}
}
