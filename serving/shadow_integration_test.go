package serving_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
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

func TestServingRecordsShadowPredictionsInCassandra(t *testing.T) {
	s, c := testenv.Cassandra(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	spec := demo.Spec{Dataset: "churn", Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 1, RowsPerDay: 800, Seed: 9}
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
	save := func(key, algorithm string, p trainer.Params) gocql.UUID {
		t.Helper()
		tr, err := trainer.Lookup(algorithm)
		if err != nil {
			t.Fatal(err)
		}
		m, err := tr.Train(ctx, data, p)
		if err != nil {
			t.Fatalf("train %s: %v", key, err)
		}
		artifact, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		schema, _ := json.Marshal(m.Schema())
		v := &registry.Version{Model: "churn", ID: registry.VersionID(window.To, key), Candidate: key, Algorithm: algorithm, Params: m.Params(),
			RunID: "run-" + key, WindowFrom: window.From, WindowTo: window.To, TrainRows: int64(len(data.X)), Schema: schema}
		if err := reg.SaveVersion(ctx, v, artifact); err != nil {
			t.Fatalf("save %s: %v", key, err)
		}
		return v.ID
	}
	champ, challenger := save("champion", "logistic", trainer.Params{"l2": 1}), save("challenger", "id3", trainer.Params{"bins": 4})
	if _, err := reg.Promote(ctx, registry.PromoteRequest{Model: "churn", Version: champ, Action: registry.ActionManual, By: "test", Reason: "champion"}); err != nil {
		t.Fatal(err)
	}
	since := time.Now().UTC().Add(-time.Second)
	if err := reg.SetShadow(ctx, registry.Shadow{Model: "churn", Version: challenger, Since: since, StartedBy: "test", Reason: "shadow test"}); err != nil {
		t.Fatal(err)
	}

	srv, err := serving.New(serving.Options{
		Models: []config.Model{churn}, Source: serving.RegistrySource(reg), Poll: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ShadowSample: 1, ShadowSink: reg,
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
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) map[string]any {
		t.Helper()
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		json.NewDecoder(resp.Body).Decode(&v)
		return v
	}
	waitFor(t, 10*time.Second, "the champion and the shadow to load", func() bool {
		p, _ := get("/v2/models/churn")["parameters"].(map[string]any)
		return p != nil && p["shadow_version"] == challenger.String()
	})

	// 25 requests of 4 demo rows, each row keyed by its events id.
	_, rows := demoRows(100, 3)
	for i := 0; i < len(rows); i += 4 {
		var instances []map[string]any
		for _, r := range rows[i : i+4] {
			instances = append(instances, map[string]any{
				"id": r.ID.String(), "tenure_months": r.TenureMonths, "monthly_charges": r.MonthlyCharges, "support_calls": r.SupportCalls,
				"logins_30d": r.Logins30d, "avg_session_minutes": r.AvgSessionMinutes, "payment_delays": r.PaymentDelays,
				"plan": r.Plan, "region": r.Region, "device": r.Device,
			})
		}
		body, _ := json.Marshal(map[string]any{"instances": instances})
		resp, err := client.Post(base+"/v1/models/churn:predict", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get(serving.HeaderVersion) != champ.String() {
			t.Fatalf("request %d: status %d, version %s: %s", i/4, resp.StatusCode, resp.Header.Get(serving.HeaderVersion), b)
		}
	}

	var rep *registry.ShadowReport
	waitFor(t, 10*time.Second, "100 shadow predictions in Cassandra", func() bool {
		rep, err = reg.ShadowReport(ctx, "churn", challenger, since, time.Now().Add(time.Minute))
		return err == nil && rep.Rows == 100
	})
	if len(rep.Champions) != 1 || rep.Champions[0].Version != champ || rep.Champions[0].Generation != 1 || rep.KeyedRows != 100 {
		t.Errorf("report %+v, want 100 keyed rows answered by champion %s generation 1", rep, champ)
	}
	if _, ok := rep.Keyed[rows[7].ID.String()]; !ok {
		t.Errorf("row %s is not among the keyed rows", rows[7].ID)
	}
	var metrics string
	waitFor(t, 5*time.Second, "the metrics to count 100 recorded rows", func() bool {
		resp, err := client.Get(base + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		metrics = string(b)
		return strings.Contains(metrics, `kingmaker_serving_shadow_rows_total{model="churn",outcome="recorded"} 100`)
	})
	want := `kingmaker_serving_shadow_agreement_ratio{model="churn"} ` + strconv.FormatFloat(*rep.Agreement, 'g', -1, 64)
	if !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %q (the report's agreement, %d of %d rows):\n%s", want, rep.Agreed, rep.Rows, grepLines(metrics, "shadow"))
	}
	var got registry.ShadowPrediction
	if err := reg.ShadowPredictions(ctx, "churn", challenger, since, time.Now().Add(time.Minute), func(p *registry.ShadowPrediction) error {
		if p.RowID == rows[0].ID.String() {
			got = *p
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var features map[string]any
	if err := json.Unmarshal(got.Features, &features); err != nil || features["plan"] != rows[0].Plan || got.ChampionScore == nil || got.ShadowClass == "" {
		t.Errorf("the first row reads back as %+v (features %v, %v)", got, features, err)
	}
	t.Logf("100 rows shadowed by %s beside champion %s: agreement %.3f", challenger, champ, *rep.Agreement)

	stopServing()
	if err := <-served; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
}

func grepLines(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
