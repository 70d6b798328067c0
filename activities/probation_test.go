package activities_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
)

// fakePrometheus answers instant queries by the first rule whose needle the
// query contains, as Prometheus's HTTP API does: a vector of one sample, or
// an empty vector for "".
func fakePrometheus(t *testing.T, rules [][2]string) (string, func() []string) {
	t.Helper()
	var (
		mu    sync.Mutex
		asked []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query().Get("query")
		mu.Lock()
		asked = append(asked, q)
		mu.Unlock()
		if r.URL.Path != "/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		for _, rule := range rules {
			if strings.Contains(q, rule[0]) {
				if rule[1] == "" {
					fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
					return
				}
				fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1733400000,%q]}]}}`, rule[1])
				return
			}
		}
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"status":"error","errorType":"bad_data","error":"parse error"}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), asked...)
	}
}

func TestPromScalarReadsOneSampleAndTreatsNoTrafficAsUnknown(t *testing.T) {
	url, _ := fakePrometheus(t, [][2]string{{"rate_of_errors", "0.125"}, {"no_traffic", "NaN"}, {"absent", ""}})
	ctx := context.Background()
	v, err := activities.PromScalar(ctx, url, "rate_of_errors")
	if err != nil || v == nil || *v != 0.125 {
		t.Fatalf("a sample of 0.125: %v, %v", v, err)
	}
	for _, q := range []string{"no_traffic", "absent"} {
		if v, err := activities.PromScalar(ctx, url, q); err != nil || v != nil {
			t.Fatalf("%s: %v, %v; want unknown (nil) without an error", q, v, err)
		}
	}
	if _, err := activities.PromScalar(ctx, url, "garbage"); err == nil || !strings.Contains(err.Error(), "parse error") {
		t.Fatalf("a query Prometheus refuses: %v, want its error", err)
	}
}

func TestCheckProbationReadsThePointerAndTheNewVersionsServingMetrics(t *testing.T) {
	s, c := testenv.Cassandra(t)
	reg := registry.New(s, c.Keyspace, cql.Serial(c))
	ctx := context.Background()
	v := &registry.Version{Model: "churn", ID: registry.VersionID(time.Now(), "a"), Candidate: "a", Algorithm: "logistic", RunID: "run-a",
		Metrics: []byte(`{"rows":300,"classes":2,"accuracy":0.8}`)}
	if err := reg.SaveVersion(ctx, v, testenv.ChurnArtifact(t)); err != nil {
		t.Fatal(err)
	}
	champ, err := reg.Promote(ctx, registry.PromoteRequest{Model: "churn", Version: v.ID, Action: registry.ActionPromote, By: "test", Reason: "first"})
	if err != nil {
		t.Fatal(err)
	}
	url, asked := fakePrometheus(t, [][2]string{{`code=~"5.."`, "0.25"}, {"histogram_quantile", "0.08"}, {"kingmaker_serving_requests_total", "400"}})
	a := &activities.Activities{Config: testenv.ExampleConfig(t), Session: s, Registry: reg}
	probe := config.Probation{Period: config.Duration(time.Hour), CheckEvery: config.Duration(5 * time.Minute), MaxErrorRate: 0.05, MetricsURL: url}
	got, err := a.CheckProbation(ctx, activities.ProbationCheckInput{Model: "churn", Version: v.ID.String(), Probe: probe})
	if err != nil {
		t.Fatal(err)
	}
	if got.Champion == nil || got.Champion.Generation != champ.Generation || got.Requests == nil || *got.Requests != 400 ||
		got.ErrorRate == nil || *got.ErrorRate != 0.25 || got.LatencyP99 == nil || *got.LatencyP99 != 0.08 || got.Note != "" {
		t.Fatalf("check %+v, want the pointer, 400 requests, error rate 0.25 and p99 0.08s", got)
	}
	for _, q := range asked() {
		if !strings.Contains(q, `model="churn"`) || !strings.Contains(q, "[300s]") {
			t.Errorf("query %q does not select model churn over check_every (300s)", q)
		}
		if strings.Contains(q, "requests_total") && !strings.Contains(q, fmt.Sprintf("version=%q", v.ID.String())) {
			t.Errorf("query %q does not select the new version", q)
		}
	}

	probe.MetricsURL = "http://127.0.0.1:1" // nothing listens
	down, err := a.CheckProbation(ctx, activities.ProbationCheckInput{Model: "churn", Version: v.ID.String(), Probe: probe})
	if err != nil || down.Champion == nil || down.ErrorRate != nil || !strings.Contains(down.Note, "serving metrics unreadable") {
		t.Fatalf("with Prometheus down: %+v, %v; want the pointer, no rates and a note, never an error", down, err)
	}
}
