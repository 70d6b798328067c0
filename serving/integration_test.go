package serving_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/serving"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// exampleChurn is the churn model of the example config, which the demo
// data fits.
func exampleChurn(t testing.TB) config.Model {
	t.Helper()
	return *testenv.ExampleModel(t, "churn")
}

// outcome is what one request of the load saw.
type outcome struct {
	version    string
	generation int64
	err        error
}

// The request bodies are the examples of the README, written by hand for
// the example config's churn model: two rows each (the second v1 row has a
// device the config does not list, served as the unknown category).
var (
	inferExample   = mustRead("testdata/churn_infer.json")
	predictExample = mustRead("testdata/churn_predict.json")
)

func mustRead(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	return b
}

// ask sends one prediction (v1 or v2 by turn) and returns the champion that
// answered; any failure is an error.
func ask(c *http.Client, base string, v2 bool) outcome {
	path, body := "/v1/models/churn:predict", predictExample
	if v2 {
		path, body = "/v2/models/churn/infer", inferExample
	}
	resp, err := c.Post(base+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return outcome{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return outcome{err: err}
	}
	if resp.StatusCode != 200 {
		return outcome{err: fmt.Errorf("%s: status %d: %s", path, resp.StatusCode, b)}
	}
	var o outcome
	if v2 {
		var r serving.InferResponse
		err = json.Unmarshal(b, &r)
		o = outcome{version: r.ModelVersion, generation: r.Parameters.Generation}
		if err == nil && (len(r.Outputs) != 2 || r.Outputs[0].Shape[0] != 2 || r.ID != "example-1") {
			err = fmt.Errorf("%s: id %q, outputs %+v, want example-1 with class and probability of 2 rows", path, r.ID, r.Outputs)
		}
	} else {
		var r serving.PredictResponse
		err = json.Unmarshal(b, &r)
		o = outcome{version: r.ModelVersion, generation: r.Generation}
		if err == nil && (len(r.Predictions) != 2 || r.Predictions[1].Probability == nil) {
			err = fmt.Errorf("%s: predictions %+v, want two with a probability", path, r.Predictions)
		}
	}
	if err == nil && (resp.Header.Get(serving.HeaderVersion) != o.version || resp.Header.Get(serving.HeaderGeneration) != fmt.Sprint(o.generation)) {
		err = fmt.Errorf("headers name %s/%s, the body %s/%d", resp.Header.Get(serving.HeaderVersion), resp.Header.Get(serving.HeaderGeneration), o.version, o.generation)
	}
	o.err = err
	return o
}

func TestServingFollowsAPromotionUnderLoad(t *testing.T) {
	s, c := testenv.Cassandra(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	spec := demo.Spec{Dataset: "churn", Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 2, RowsPerDay: 600, Seed: 5}
	if err := demo.Write(ctx, s, c.Keyspace, spec, 2, nil); err != nil {
		t.Fatalf("seed the demo data: %v", err)
	}
	churn := exampleChurn(t)
	window := dataset.Window{From: spec.Start, To: spec.DayDate(spec.Days)}
	data, _, err := (&dataset.Source{Session: s, Keyspace: c.Keyspace, Model: &churn}).LoadTrain(ctx, window, 1, 1)
	if err != nil {
		t.Fatalf("load the training rows: %v", err)
	}
	reg := registry.New(s, c.Keyspace, cql.Serial(c))
	logistic, err := trainer.Lookup("logistic")
	if err != nil {
		t.Fatal(err)
	}
	save := func(key string, l2 float64) gocql.UUID {
		t.Helper()
		m, err := logistic.Train(ctx, data, trainer.Params{"l2": l2})
		if err != nil {
			t.Fatalf("train %s: %v", key, err)
		}
		artifact, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		schema, _ := json.Marshal(m.Schema())
		v := &registry.Version{
			Model: "churn", ID: registry.VersionID(window.To, key), Candidate: key, Algorithm: "logistic", Params: m.Params(),
			RunID: "run-" + key, WorkflowID: "retrain-churn-" + key, WindowFrom: window.From, WindowTo: window.To,
			TrainRows: int64(len(data.X)), Schema: schema,
		}
		if err := reg.SaveVersion(ctx, v, artifact); err != nil {
			t.Fatalf("save %s: %v", key, err)
		}
		return v.ID
	}
	a, b := save("a", 1), save("b", 1000)
	first, err := reg.Promote(ctx, registry.PromoteRequest{Model: "churn", Version: a, Action: registry.ActionManual, By: "test", Reason: "first champion"})
	if err != nil {
		t.Fatal(err)
	}

	const poll = 100 * time.Millisecond
	srv, err := serving.New(serving.Options{
		Models: []config.Model{churn}, Source: serving.RegistrySource(reg), Poll: poll,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
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
	defer stopServing()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	waitFor(t, 10*time.Second, "the server to load generation 1", func() bool {
		return ask(client, base, false).version == a.String()
	})

	// Several clients send requests back to back while the champion changes.
	const clients = 6
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		outcomes = make([][]outcome, clients)
		sawB     = make(chan time.Time, clients)
		stop     = make(chan struct{})
	)
	for i := range clients {
		wg.Go(func() {
			seen := false
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				o := ask(client, base, n%2 == 1)
				mu.Lock()
				outcomes[i] = append(outcomes[i], o)
				mu.Unlock()
				if !seen && o.version == b.String() {
					seen = true
					sawB <- time.Now()
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	promotedAt := time.Now()
	if _, err := reg.Promote(ctx, registry.PromoteRequest{Model: "churn", Version: b, Expected: first, Action: registry.ActionManual, By: "test", Reason: "second champion"}); err != nil {
		t.Fatal(err)
	}
	var switched time.Duration
	select {
	case at := <-sawB:
		switched = at.Sub(promotedAt)
	case <-time.After(30 * time.Second):
		t.Errorf("no response named version %s within 30s of its promotion (poll %s)", b, poll)
	}
	// Stop once every client has been answered by b (a client that sees it
	// later than the first is checked below; none may go back to a).
	deadline := time.After(30 * time.Second)
wait:
	for range clients - 1 {
		select {
		case <-sawB:
		case <-deadline:
			break wait
		}
	}
	close(stop)
	wg.Wait()

	pairs := map[string]int64{a.String(): 1, b.String(): 2}
	total, afterSwitch := 0, 0
	for i, seen := range outcomes {
		onB := false
		for j, o := range seen {
			total++
			if o.err != nil {
				t.Errorf("client %d, request %d failed: %v", i, j, o.err)
				continue
			}
			if want, ok := pairs[o.version]; !ok || o.generation != want {
				t.Errorf("client %d, request %d was answered by version %s with generation %d: not a pair the registry made", i, j, o.version, o.generation)
			}
			if onB && o.version == a.String() {
				t.Errorf("client %d, request %d went back to version %s after it saw %s", i, j, a, b)
			}
			if o.version == b.String() {
				onB = true
				afterSwitch++
			}
		}
		if !onB {
			t.Errorf("client %d never saw version %s", i, b)
		}
	}
	t.Logf("%d requests from %d clients, none failed; responses switched to generation 2 %s after the promotion (poll %s); %d answered by it",
		total, clients, switched.Round(time.Millisecond), poll, afterSwitch)

	stopServing()
	if err := <-served; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
}
