package serving_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/serving"
)

// shadowSource is a fakeSource with shadow pointers.
type shadowSource struct {
	*fakeSource
	mu      sync.Mutex
	shadows map[string]*registry.Shadow
}

func (s *shadowSource) Shadow(_ context.Context, model string) (*registry.Shadow, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sh := s.shadows[model]; sh != nil {
		cp := *sh
		return &cp, nil
	}
	return nil, nil
}

func (s *shadowSource) set(model string, id gocql.UUID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shadows[model] = &registry.Shadow{Model: model, Version: id, Since: time.Now().UTC(), StartedBy: "test"}
}

func (s *shadowSource) clear(model string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.shadows, model)
}

// memorySink keeps the shadow predictions written to it. While hold is
// open, writes wait for it to close.
type memorySink struct {
	mu   sync.Mutex
	rows []registry.ShadowPrediction
	hold chan struct{}
	fail error // when set, every write fails with it
}

func (m *memorySink) RecordShadowPredictions(ctx context.Context, rows []registry.ShadowPrediction) error {
	m.mu.Lock()
	hold := m.hold
	m.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.rows = append(m.rows, rows...)
	return nil
}

func (m *memorySink) written() []registry.ShadowPrediction {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]registry.ShadowPrediction(nil), m.rows...)
}

// shadowFixture is the unit fixture (churn champion a) served with shadow
// scoring over a shadowSource whose churn shadow is version b.
type shadowFixture struct {
	*fixture
	shadows *shadowSource
	sink    *memorySink
}

func newShadowFixture(t *testing.T, edit func(o *serving.Options)) *shadowFixture {
	t.Helper()
	f := newFixture(t)
	sf := &shadowFixture{fixture: f, shadows: &shadowSource{fakeSource: f.src, shadows: map[string]*registry.Shadow{}}, sink: &memorySink{}}
	opts := serving.Options{
		Models: tinyModels(), Source: sf.shadows, Poll: 20 * time.Millisecond, MaxBody: testMaxBody,
		Logger:       slog.New(slog.NewTextHandler(f.logs, nil)),
		ShadowSample: 1, ShadowSink: sf.sink,
	}
	if edit != nil {
		edit(&opts)
	}
	srv, err := serving.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	sf.shadows.set("churn", f.b)
	f.mustRefresh()
	return sf
}

// runShadow runs the shadow workers until the test ends.
func (sf *shadowFixture) runShadow() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sf.srv.RunShadow(ctx); close(done) }()
	sf.t.Cleanup(func() { cancel(); <-done })
}

func (sf *shadowFixture) shadowRows(outcome string) string {
	return metric(sf.t, sf.srv.Handler(), fmt.Sprintf(`kingmaker_serving_shadow_rows_total{model="churn",outcome="%s"}`, outcome))
}

// withIDs is churnInputs with an id tensor first.
func withIDs(ids map[string]any) string {
	return v2(ids, input("tenure", "FP64", 3, 40), input("charges", "FP64", 80.5, 25), input("plan", "BYTES", "premium", "basic"))
}

const shadowPredict = `{"instances": [
	{"id": "row-1", "tenure": 3, "charges": 80.5, "plan": "premium"},
	{"id": 42, "tenure": 40, "charges": 25, "plan": "gold"}]}`

func TestAShadowScoresTheRequestAfterItsResponse(t *testing.T) {
	sf := newShadowFixture(t, nil)
	sf.sink.hold = make(chan struct{}) // writes of shadow rows wait
	sf.runShadow()

	// The shadow's write is held until the test ends: a handler that waited
	// for it would never answer.
	r := sf.do("POST", "/v1/models/churn:predict", shadowPredict)
	if r.code != 200 {
		t.Fatalf("status %d: %s", r.code, r.body)
	}
	champion(t, r, sf.a, 1)
	var resp serving.PredictResponse
	if err := json.Unmarshal(r.body, &resp); err != nil {
		t.Fatal(err)
	}
	if len(sf.sink.written()) != 0 {
		t.Fatal("shadow rows were written while the sink held them")
	}
	close(sf.sink.hold)
	waitFor(t, 5*time.Second, "the shadow rows", func() bool { return len(sf.sink.written()) == 2 })

	rows := sf.sink.written()
	x := [][]float64{{3, 80.5, 1}, {40, 25, -1}}
	wantIDs, _, err := sf.churnB.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range rows {
		if p.Model != "churn" || p.ShadowVersion != sf.b || p.ChampionVersion != sf.a || p.Generation != 1 || p.Row != i || p.RequestID == "" || p.RequestID != rows[0].RequestID {
			t.Errorf("row %d: %+v, want churn shadow %s beside champion %s/1 in one request", i, p, sf.b, sf.a)
		}
		if p.ChampionClass != resp.Predictions[i].Class || p.ChampionScore == nil || *p.ChampionScore != *resp.Predictions[i].Probability {
			t.Errorf("row %d: champion %s/%v, the response said %s/%v", i, p.ChampionClass, p.ChampionScore, resp.Predictions[i].Class, *resp.Predictions[i].Probability)
		}
		if want := []string{"false", "true"}[wantIDs[i]]; p.ShadowClass != want || p.ShadowScore == nil {
			t.Errorf("row %d: shadow class %s (score %v), want %s from version b with a score", i, p.ShadowClass, p.ShadowScore, want)
		}
	}
	if rows[0].RowID != "row-1" || rows[1].RowID != "42" {
		t.Errorf("row ids %q, %q; want the instances' ids row-1 and 42", rows[0].RowID, rows[1].RowID)
	}
	if got := string(rows[1].Features); got != `{"tenure":40,"charges":25,"plan":null}` {
		t.Errorf("features of row 1: %s, want the values read, an unknown category as null", got)
	}
	if got := sf.shadowRows("recorded"); got != "2" {
		t.Errorf("recorded rows %s, want 2", got)
	}

	// A v2 request names its rows with an "id" tensor and keeps its request id.
	body := strings.Replace(withIDs(input("id", "BYTES", "a", "b")), `{"inputs"`, `{"id": "req-42", "inputs"`, 1)
	if r := sf.do("POST", "/v2/models/churn/infer", body); r.code != 200 {
		t.Fatalf("v2 with an id tensor: status %d: %s", r.code, r.body)
	}
	waitFor(t, 5*time.Second, "the v2 shadow rows", func() bool { return len(sf.sink.written()) == 4 })
	if v2 := sf.sink.written()[2:]; v2[0].RequestID != "req-42" || v2[0].RowID != "a" || v2[1].RowID != "b" {
		t.Errorf("v2 rows %+v, want request req-42 with rows a and b", v2)
	}
}

func TestOnlyTheSampledShareOfRequestsIsShadowed(t *testing.T) {
	sf := newShadowFixture(t, func(o *serving.Options) { o.ShadowSample = 0.25 })
	sf.runShadow()
	const requests = 400
	for range requests {
		if r := sf.do("POST", "/v2/models/churn/infer", churnInputs()); r.code != 200 {
			t.Fatalf("status %d: %s", r.code, r.body)
		}
	}
	// A request is sampled whole (2 rows); 100 of 400 expected, sd ~ 8.7.
	last := -1
	waitFor(t, 5*time.Second, "the shadow rows to settle", func() bool {
		time.Sleep(100 * time.Millisecond)
		n := len(sf.sink.written())
		settled := n > 0 && n == last && sf.shadowRows("recorded") == strconv.Itoa(n)
		last = n
		return settled
	})
	sampled := last / 2
	if sampled < 60 || sampled > 140 {
		t.Errorf("%d of %d requests were shadowed, want about a quarter", sampled, requests)
	}
	if got := sf.shadowRows("dropped"); got != "0" {
		t.Errorf("dropped rows %s, want 0", got)
	}
}

func TestNoShadowIsScoredWhenSamplingIsOff(t *testing.T) {
	sf := newShadowFixture(t, func(o *serving.Options) { o.ShadowSample = 0 })
	sf.runShadow()
	for range 20 {
		sf.do("POST", "/v1/models/churn:predict", shadowPredict)
	}
	if md := sf.do("GET", "/v2/models/churn", "").json(t); md["parameters"].(map[string]any)["shadow_version"] != nil {
		t.Errorf("metadata names a shadow while shadow scoring is off: %v", md["parameters"])
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(sf.sink.written()); n != 0 {
		t.Errorf("%d shadow rows written with --shadow-sample 0", n)
	}
	if _, err := serving.New(serving.Options{Models: tinyModels(), Source: sf.shadows, ShadowSample: 1.5}); err == nil {
		t.Error("a sample of 1.5 was accepted")
	}
}

func TestAFullShadowQueueDropsRowsAndNeverHoldsARequest(t *testing.T) {
	sf := newShadowFixture(t, func(o *serving.Options) { o.ShadowQueue = 2 })
	// No worker runs yet: the queue fills after two requests.
	for i := range 5 {
		if r := sf.do("POST", "/v2/models/churn/infer", churnInputs()); r.code != 200 {
			t.Fatalf("request %d: status %d: %s", i, r.code, r.body)
		}
	}
	if got := sf.shadowRows("dropped"); got != "6" {
		t.Errorf("dropped rows %s, want 6 (three requests of two rows past a queue of two)", got)
	}
	sf.runShadow()
	waitFor(t, 5*time.Second, "the queued rows", func() bool { return sf.shadowRows("recorded") == "4" })
	if n := len(sf.sink.written()); n != 4 {
		t.Errorf("%d rows written, want the 4 that were queued", n)
	}
}

func TestTheAgreementRatioCoversTheLatestShadowedRows(t *testing.T) {
	sf := newShadowFixture(t, nil)
	sf.runShadow()
	h := sf.srv.Handler()
	const gauge = `kingmaker_serving_shadow_agreement_ratio{model="churn"}`
	if got := metric(t, h, gauge); got != "absent" {
		t.Errorf("agreement before any shadowed row: %s, want absent", got)
	}
	// Rows across the range of tenure and charges, so the two versions
	// disagree on some of them.
	var x [][]float64
	var instances []string
	for i := range 40 {
		tenure, charges, plan := float64(i%20*3), 20+float64(i*7%80), i%2
		x = append(x, []float64{tenure, charges, float64(plan)})
		instances = append(instances, fmt.Sprintf(`{"tenure": %g, "charges": %g, "plan": %q}`, tenure, charges, []string{"basic", "premium"}[plan]))
	}
	a, _, _ := sf.churnA.Predict(x)
	b, _, _ := sf.churnB.Predict(x)
	agreed := 0
	for i := range a {
		if a[i] == b[i] {
			agreed++
		}
	}
	for i := range 4 { // four requests of 10 rows
		body := `{"instances": [` + strings.Join(instances[i*10:(i+1)*10], ",") + `]}`
		if r := sf.do("POST", "/v1/models/churn:predict", body); r.code != 200 {
			t.Fatalf("status %d: %s", r.code, r.body)
		}
	}
	waitFor(t, 5*time.Second, "40 shadow rows", func() bool { return sf.shadowRows("recorded") == "40" })
	want := strconv.FormatFloat(float64(agreed)/40, 'g', -1, 64)
	if got := metric(t, h, gauge); got != want {
		t.Errorf("agreement %s, want %s (%d of 40 rows)", got, want, agreed)
	}
	if agreed == 40 {
		t.Log("the two versions agreed on every row: the ratio is 1")
	}

	// The same version as champion and shadow agrees on everything; a new
	// shadow starts a new window.
	sf.shadows.set("churn", sf.a)
	sf.mustRefresh()
	if got := metric(t, h, gauge); got != "absent" {
		t.Errorf("agreement right after the shadow changed: %s, want absent until its first rows", got)
	}
	sf.do("POST", "/v1/models/churn:predict", shadowPredict)
	waitFor(t, 5*time.Second, "the new shadow's rows", func() bool { return sf.shadowRows("recorded") == "42" })
	if got := metric(t, h, gauge); got != "1" {
		t.Errorf("agreement of the champion with itself %s, want 1", got)
	}

	sf.shadows.clear("churn")
	sf.mustRefresh()
	if got := metric(t, h, gauge); got != "absent" {
		t.Errorf("agreement after the shadow was cleared: %s, want absent", got)
	}
	sf.do("POST", "/v1/models/churn:predict", shadowPredict)
	time.Sleep(50 * time.Millisecond)
	if got := sf.shadowRows("recorded"); got != "42" {
		t.Errorf("recorded rows %s after the shadow was cleared, want still 42", got)
	}
}

func TestTheShadowIsNamedInMetadataAndReadiness(t *testing.T) {
	sf := newShadowFixture(t, nil)
	if p := sf.do("GET", "/v2/models/churn", "").json(t)["parameters"].(map[string]any); p["shadow_version"] != sf.b.String() {
		t.Errorf("metadata parameters %v, want shadow_version %s", p, sf.b)
	}
	ready := sf.do("GET", "/v2/models/churn/ready", "").json(t)
	if p, _ := ready["parameters"].(map[string]any); p["shadow_version"] != sf.b.String() || ready["model_version"] != sf.a.String() {
		t.Errorf("readiness %v, want champion %s with shadow_version %s", ready, sf.a, sf.b)
	}
	if p := sf.do("GET", "/v2/models/tiers", "").json(t)["parameters"].(map[string]any); p["shadow_version"] != nil {
		t.Errorf("a model without a shadow names one: %v", p)
	}
	sf.shadows.clear("churn")
	sf.mustRefresh()
	if ready := sf.do("GET", "/v2/models/churn/ready", "").json(t); ready["parameters"] != nil {
		t.Errorf("readiness after the shadow was cleared: %v", ready)
	}
}

func TestAShadowThatCannotBeLoadedIsNotScored(t *testing.T) {
	sf := newShadowFixture(t, nil)
	sf.runShadow()
	c := sf.src.add(sf.churnB)
	sf.src.failLoad(c, errCorrupt)
	sf.shadows.set("churn", c)
	err := sf.refresh()
	if !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), "model churn shadow") {
		t.Fatalf("refresh: %v, want the shadow's load error", err)
	}
	r := sf.do("POST", "/v1/models/churn:predict", shadowPredict)
	if r.code != 200 {
		t.Fatalf("the champion stopped answering: %d %s", r.code, r.body)
	}
	champion(t, r, sf.a, 1)
	if p := sf.do("GET", "/v2/models/churn", "").json(t)["parameters"].(map[string]any); p["shadow_version"] != nil {
		t.Errorf("metadata names shadow %v that could not be loaded", p["shadow_version"])
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(sf.sink.written()); n != 0 {
		t.Errorf("%d rows shadowed by a version that could not be loaded", n)
	}
	if !strings.Contains(sf.logs.String(), "load shadow failed") {
		t.Errorf("the failed load is not logged:\n%s", sf.logs)
	}
}

func TestRowIDsAreCheckedLikeFeatures(t *testing.T) {
	sf := newShadowFixture(t, nil)
	cases := []struct {
		name, path, body string
		want             string
	}{
		{"an object as a v1 id", "/v1/models/churn:predict", `{"instances": [{"id": {"k": 1}, "tenure": 1, "charges": 1, "plan": "basic"}]}`,
			`instances[0].id: an object is not a row key (want a string or a number)`},
		{"fewer v2 ids than rows", "/v2/models/churn/infer",
			withIDs(input("id", "BYTES", "a")),
			`inputs[0] (id): 1 ids, but inputs[1] (tenure) has 2 rows: give one id per row`},
		{"a v2 id tensor of another datatype", "/v2/models/churn/infer",
			withIDs(input("id", "JSON", "a", "b")),
			`inputs[0] (id): datatype JSON, want BYTES (one key per row)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := sf.do("POST", tc.path, tc.body)
			if r.code != 400 || !strings.Contains(string(r.body), tc.want) {
				t.Errorf("status %d: %s\nwant 400 with %q", r.code, r.body, tc.want)
			}
		})
	}
}

func TestAFailedShadowWriteIsCountedAndTheResponseUnaffected(t *testing.T) {
	sf := newShadowFixture(t, nil)
	sf.sink.fail = errors.New("cassandra timeout")
	sf.runShadow()
	for range 3 {
		if r := sf.do("POST", "/v1/models/churn:predict", shadowPredict); r.code != 200 {
			t.Fatalf("status %d: %s", r.code, r.body)
		}
	}
	waitFor(t, 5*time.Second, "6 rows counted as errors", func() bool { return sf.shadowRows("error") == "6" })
	if got := sf.shadowRows("recorded"); got != "0" {
		t.Errorf("recorded rows %s, want 0", got)
	}
	if n := strings.Count(sf.logs.String(), "recording shadow predictions failed"); n != 1 {
		t.Errorf("the failure was logged %d times, want once (at most every 10s):\n%s", n, sf.logs)
	}
}
