package serving_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/serving"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// limitedServer serves the tiny models with small limits.
func limitedServer(t *testing.T, edit func(o *serving.Options)) (*fixture, *serving.Server) {
	t.Helper()
	f := newFixture(t)
	opts := serving.Options{
		Models: tinyModels(), Source: f.src, Poll: 20 * time.Millisecond, MaxBody: 1 << 20,
		MaxRows: 5, MaxFeatures: 10, MaxIDBytes: 16,
		Logger: slog.New(slog.NewTextHandler(f.logs, nil)),
	}
	if edit != nil {
		edit(&opts)
	}
	srv, err := serving.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	f.mustRefresh()
	return f, srv
}

func rows(n int, row string) string {
	return strings.TrimSuffix(strings.Repeat(row+",", n), ",")
}

func TestEachLimitRefusesARequestWithAMessageNamingIt(t *testing.T) {
	f, _ := limitedServer(t, nil)
	v1Row := `{"tenure": 1, "charges": 1, "plan": "basic"}`
	long := strings.Repeat("x", 10_000)
	cases := []struct {
		name, path, body string
		code             int
		want             string
	}{
		{"more v1 rows than max_rows", "/v1/models/churn:predict", `{"instances": [` + rows(6, v1Row) + `]}`, 413,
			"instances: 6 rows: more than the 5 rows a request may hold (the server's serve.limits.max_rows)"},
		{"a v2 shape over max_rows", "/v2/models/churn/infer", v2(input("tenure", "FP64", 1, 2, 3, 4, 5, 6)), 413,
			"inputs[0] (tenure): shape [6]: more than the 5 rows a request may hold (the server's serve.limits.max_rows)"},
		{"an array far longer than any request needs", "/v2/models/churn/infer",
			`{"inputs": [{"name": "tenure", "datatype": "FP64", "shape": [1], "data": [` + rows(520_000, "0") + `]}]}`, 413,
			"request body holds an array of more than 11 values (at byte"},
		{"an object of more members than max_features", "/v1/models/churn:predict",
			`{"instances": [{` + rows(20, `"a": 1`) + `}]}`, 413, "a row may hold at most 10 features (the server's serve.limits.max_features)"},
		{"JSON nested deeper than a v2 request", "/v2/models/churn/infer", `{"inputs": [{"data": [[[[1]]]]}]}`, 400,
			"request body nests arrays and objects deeper than 5 levels (at byte 23)"},
		{"JSON nested deeper than a v1 request", "/v1/models/churn:predict", `{"instances": [{"tenure": [[1]]}]}`, 400,
			"request body nests arrays and objects deeper than 4 levels"},
		{"deeply nested JSON", "/v1/models/churn:predict", strings.Repeat("[", 100_000), 400,
			"request body nests arrays and objects deeper than 4 levels (at byte 4)"},
		{"a row id over max_id_bytes", "/v1/models/churn:predict", `{"instances": [{"id": "` + long + `", "tenure": 1, "charges": 1, "plan": "basic"}]}`, 400,
			"instances[0].id: a key of 10000 bytes: at most 16 (the server's serve.limits.max_id_bytes)"},
		{"a request id over max_id_bytes", "/v2/models/churn/infer", strings.Replace(churnInputs(), `{"inputs"`, `{"id": "`+long+`", "inputs"`, 1), 400,
			"id: a request id of 10000 bytes: at most 16 (the server's serve.limits.max_id_bytes)"},
		{"a v1 id repeated within a request", "/v1/models/churn:predict",
			`{"instances": [{"id": "r1", "tenure": 1, "charges": 1, "plan": "basic"}, {"id": "r1", "tenure": 2, "charges": 1, "plan": "basic"}]}`, 400,
			`instances[1].id: id "r1" is also row 0's: give every row of a request its own id`},
		{"a v2 id repeated within a request", "/v2/models/churn/infer", withIDs(input("id", "BYTES", "r1", "r1")), 400,
			`inputs[0] (id): data[1]: id "r1" is also row 0's`},
		{"two JSON values", "/v2/models/churn/infer", churnInputs() + ` {}`, 400, "request body holds more than one JSON value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.do("POST", c.path, c.body)
			if got := errorOf(r); r.code != c.code || !strings.Contains(got, c.want) {
				t.Errorf("status %d: %s\nwant %d with %q", r.code, clipped(r.body), c.code, c.want)
			}
		})
	}
}

// errorOf is the "error" of a JSON error body, or the body itself.
func errorOf(r response) string {
	var e struct{ Error string }
	if json.Unmarshal(r.body, &e) != nil || e.Error == "" {
		return string(r.body)
	}
	return e.Error
}

func clipped(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

func TestErrorsQuoteNoMoreThanAClipOfTheRequest(t *testing.T) {
	f, _ := limitedServer(t, nil)
	huge := strings.Repeat("A", 100_000)
	digits := strings.Repeat("9", 100_000)
	cases := []struct{ name, path, body string }{
		{"an unknown feature with a huge name", "/v1/models/churn:predict", `{"instances": [{"` + huge + `": 1}]}`},
		{"an unknown v2 input with a huge name", "/v2/models/churn/infer", `{"inputs": [{"name": "` + huge + `", "datatype": "FP64", "shape": [1], "data": [1]}]}`},
		{"an unknown field with a huge name", "/v2/models/churn/infer", `{"` + huge + `": 1}`},
		{"a huge number where a string belongs", "/v2/models/churn/infer", `{"inputs": [{"name": ` + digits + `}]}`},
		{"a huge string for a number", "/v2/models/churn/infer", `{"inputs": [{"name": "tenure", "datatype": "FP64", "shape": [1], "data": ["` + huge + `"]}, {"name": "charges", "datatype": "FP64", "shape": [1], "data": [1]}, {"name": "plan", "datatype": "BYTES", "shape": [1], "data": ["basic"]}]}`},
		{"a huge datatype", "/v2/models/churn/infer", `{"inputs": [{"name": "tenure", "datatype": "` + huge + `", "shape": [1], "data": [1]}]}`},
		{"a huge model name", "/v2/models/" + huge + "/infer", churnInputs()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.do("POST", c.path, c.body)
			if r.code < 400 || len(r.body) > 600 || strings.Contains(string(r.body), strings.Repeat("A", 100)) || strings.Contains(string(r.body), strings.Repeat("9", 100)) {
				t.Errorf("status %d, %d bytes: %s\nwant a 4xx that quotes at most 40 bytes of the request", r.code, len(r.body), clipped(r.body))
			}
		})
	}
}

// wideModel is a model of n numeric features, like the 100-feature model
// whose refused request once allocated 489 MB.
func wideModel(n int) config.Model {
	m := config.Model{Name: "wide", Label: config.Label{Column: "label", Classes: []string{"false", "true"}}}
	for j := range n {
		name := fmt.Sprintf("f%03d", j)
		m.Features = append(m.Features, config.Feature{Name: name, Column: name, Type: "numeric"})
	}
	return m
}

func TestARefusedRequestAllocatesLittleMoreThanItsBody(t *testing.T) {
	wide := wideModel(100)
	src := newFakeSource()
	d := &trainer.Data{Schema: schemaOf(wide)}
	for i := range 40 {
		row := make([]float64, 100)
		row[0] = float64(i)
		d.X, d.Y = append(d.X, row), append(d.Y, i%2)
	}
	tr, _ := trainer.Lookup("naive_bayes")
	tm, err := tr.Train(t.Context(), d, nil)
	if err != nil {
		t.Fatal(err)
	}
	src.promote("wide", src.add(tm))
	srv, err := serving.New(serving.Options{Models: []config.Model{wide}, Source: src, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Just under the default 1 MiB: one input of 520,000 zeros, which no
	// request may hold, and a request whose every shape fits but whose
	// last input has the wrong datatype.
	zeros := `{"inputs": [{"name": "f000", "datatype": "FP64", "shape": [520000], "data": [` + rows(520_000, "0") + `]}]}`
	var inputs []string
	for j := range 100 {
		dt := "FP64"
		if j == 99 {
			dt = "BYTES"
		}
		inputs = append(inputs, fmt.Sprintf(`{"name": "f%03d", "datatype": "%s", "shape": [1000], "data": [%s]}`, j, dt, rows(1000, "0")))
	}
	badLast := `{"inputs": [` + strings.Join(inputs, ",") + `]}`
	for _, c := range []struct {
		name, body string
		code       int
	}{
		{"520,000 values in one input", zeros, 413},
		{"a wrong datatype after 99 good inputs", badLast, 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			r := do(srv.Handler(), "POST", "/v2/models/wide/infer", c.body)
			runtime.ReadMemStats(&after)
			if r.code != c.code {
				t.Fatalf("status %d, want %d: %s", r.code, c.code, clipped(r.body))
			}
			// The server's copy of the body, the decoder's buffer (which
			// grows by doubling) and the raw data of the inputs; no rows.
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("a refused request of %.2f MiB allocated %.2f MiB", mib(uint64(len(c.body))), mib(allocated))
			if limit := uint64(6 * len(c.body)); allocated > limit {
				t.Errorf("the refused request allocated %.1f MiB, want at most 6 times its %.1f MiB body", mib(allocated), mib(uint64(len(c.body))))
			}
		})
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func TestRequestsPastMaxConcurrentAreRefusedQuickly(t *testing.T) {
	_, srv := limitedServer(t, func(o *serving.Options) { o.MaxConcurrent = 1; o.QueueWait = 50 * time.Millisecond })
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	// The first request holds the only slot while its body trickles in.
	finish := holdSlot(t, ts.URL, srv)
	began := time.Now()
	resp, err := http.Post(ts.URL+"/v2/models/churn/infer", "application/json", strings.NewReader(churnInputs()))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(began)
	if resp.StatusCode != 503 || !strings.Contains(string(body), "server busy: 1 prediction requests are in flight (the server's serve.limits.max_concurrent); retry shortly") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("status %d, Retry-After %q: %s\nwant 503 naming serve.limits.max_concurrent", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	// The first request keeps its slot until finish: a refusal that waited
	// for the slot would never come. How long it took is only logged (the
	// machine's load decides it, not the server).
	t.Logf("refused after %s (queue wait 50ms)", took)
	if got := metric(t, srv.Handler(), `kingmaker_serving_busy_total{model="churn"}`); got != "1" {
		t.Errorf("busy_total %s, want 1", got)
	}
	if code := finish(); code != 400 {
		t.Errorf("the first request: status %d, want 400 (no inputs)", code)
	}
}

// holdSlot starts a prediction whose body (of unknown length, so large)
// waits until finish sends the rest; finish returns its status.
func holdSlot(t *testing.T, url string, srv *serving.Server) (finish func() int) {
	t.Helper()
	pr, pw := io.Pipe()
	status := make(chan int, 1)
	go func() {
		resp, err := http.Post(url+"/v2/models/churn/infer", "application/json", pr)
		if err != nil {
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	pw.Write([]byte(`{"inputs": `))
	waitFor(t, 5*time.Second, "the first request in flight", func() bool {
		return metric(t, srv.Handler(), "kingmaker_serving_requests_in_flight") == "1"
	})
	return func() int {
		pw.Write([]byte(`[]}`))
		pw.Close()
		return <-status
	}
}

func TestASlowBodyGets408AndFreesItsSlot(t *testing.T) {
	_, srv := limitedServer(t, func(o *serving.Options) { o.MaxConcurrent = 1; o.BodyTimeout = 200 * time.Millisecond })
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := churnInputs()
	fmt.Fprintf(conn, "POST /v2/models/churn/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:10])
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response to a stalled body: %v", err)
	}
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 408 || !strings.Contains(string(got), "request body not received within 200ms (the server's serve.limits.body_timeout)") {
		t.Errorf("status %d: %s\nwant 408 naming serve.limits.body_timeout", resp.StatusCode, got)
	}
	// The slot is free again: a good request is answered.
	r, err := http.Post(ts.URL+"/v2/models/churn/infer", "application/json", strings.NewReader(churnInputs()))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 200 {
		t.Errorf("a good request after the slow one: status %d", r.StatusCode)
	}
}

func TestTheShadowQueueIsBoundedInBytes(t *testing.T) {
	sf := newShadowFixture(t, func(o *serving.Options) { o.ShadowQueueBytes = 1000 })
	// No worker runs: the first two-row request fits in 1000 bytes, the
	// next ones do not, though the queue has room for 1024 requests.
	for i := range 3 {
		if r := sf.do("POST", "/v2/models/churn/infer", churnInputs()); r.code != 200 {
			t.Fatalf("request %d: status %d: %s", i, r.code, r.body)
		}
	}
	if got := sf.shadowRows("dropped"); got != "4" {
		t.Errorf("dropped rows %s, want 4 (two requests of two rows past 1000 bytes)", got)
	}
	queued := metric(t, sf.srv.Handler(), "kingmaker_serving_shadow_queue_bytes")
	sf.runShadow()
	waitFor(t, 5*time.Second, "the queued rows", func() bool { return sf.shadowRows("recorded") == "2" })
	waitFor(t, 5*time.Second, "an empty queue", func() bool { return metric(t, sf.srv.Handler(), "kingmaker_serving_shadow_queue_bytes") == "0" })
	if queued == "0" {
		t.Error("kingmaker_serving_shadow_queue_bytes was 0 with a request queued")
	}
}

func TestConfiguredThresholdsAreExportedAsGauges(t *testing.T) {
	models := tinyModels()
	models[0].Drift.PSIMajor = 0.3
	models[0].Drift.MinPSIExcess = new(0.05)
	models[0].Drift.QualityDrop = 0.02
	models[0].Policy.Shadow.Period = config.Duration(time.Hour)
	models[0].Policy.Shadow.MinAgreement = 0.85
	srv, err := serving.New(serving.Options{Models: models, Source: newFakeSource()})
	if err != nil {
		t.Fatal(err)
	}
	for series, want := range map[string]string{
		`kingmaker_threshold{kind="major",metric="psi",model="churn"}`:            "0.3",
		`kingmaker_threshold{kind="min",metric="psi_excess",model="churn"}`:       "0.05",
		`kingmaker_threshold{kind="max",metric="quality_drop",model="churn"}`:     "0.02",
		`kingmaker_threshold{kind="min",metric="shadow_agreement",model="churn"}`: "0.85",
	} {
		if got := metric(t, srv.Handler(), series); got != want {
			t.Errorf("%s = %q, want %s from the config", series, got, want)
		}
	}
	if got := metric(t, srv.Handler(), `kingmaker_threshold{kind="min",metric="shadow_agreement",model="tiers"}`); got != "absent" {
		t.Errorf("a model without a shadow period exports a shadow threshold: %s", got)
	}
}

func TestLargeRequestsHaveSlotsOfTheirOwn(t *testing.T) {
	_, srv := limitedServer(t, func(o *serving.Options) {
		o.MaxConcurrentLarge, o.LargeBody, o.QueueWait = 1, 1000, 50*time.Millisecond
	})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	// A body of unknown length counts as large and holds the only large slot.
	finish := holdSlot(t, ts.URL, srv)
	large := strings.Replace(churnInputs(), `{"inputs"`, `{"id": "`+strings.Repeat("x", 16)+`", "inputs"`, 1) + strings.Repeat(" ", 1000)
	post := func(body string) (int, string) {
		resp, err := http.Post(ts.URL+"/v2/models/churn/infer", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post(large); code != 503 || !strings.Contains(body, "server busy: 1 large requests (bodies over 1000 bytes) are in flight (the server's serve.limits.max_concurrent_large); retry shortly, or send smaller batches") {
		t.Errorf("a second large request: status %d: %s\nwant 503 naming serve.limits.max_concurrent_large", code, body)
	}
	if code, body := post(churnInputs()); code != 200 {
		t.Errorf("a small request while the large slot is taken: status %d: %s", code, body)
	}
	finish()
	if code, body := post(large); code != 200 {
		t.Errorf("a large request once the slot is free: status %d: %s", code, body)
	}
}
