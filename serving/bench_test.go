package serving_test

// Benchmarks of the prediction endpoints, per algorithm, on models of the
// example config's churn model trained on 5,000 demo rows (generated in
// memory: no Cassandra). BENCHMARKS.md cites them; rerun with
//
//	go test ./serving -run '^$' -bench . -benchtime 2s
//
// BenchmarkInfer calls the handler in process (JSON decoding, validation,
// prediction, encoding: the server's own cost); BenchmarkInferLoopback goes
// through HTTP on 127.0.0.1 with parallel keep-alive clients and reports
// p50/p99 latency as well.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/serving"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// demoRows returns n demo rows of the churn model as feature rows and the
// rows themselves.
func demoRows(n int, seed uint64) (*trainer.Data, []demo.Row) {
	spec := demo.Spec{Dataset: "churn", Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Days: 1, RowsPerDay: n, Seed: seed}
	d := &trainer.Data{}
	rows := make([]demo.Row, n)
	for i := range n {
		r := spec.Generate(0, i)
		rows[i] = r
		d.X = append(d.X, []float64{float64(r.TenureMonths), r.MonthlyCharges, float64(r.SupportCalls), float64(r.Logins30d),
			r.AvgSessionMinutes, float64(r.PaymentDelays), float64(slices.Index(demo.Plans, r.Plan)),
			float64(slices.Index(demo.Regions, r.Region)), float64(slices.Index(demo.Devices, r.Device))})
		y := 0
		if r.Churned {
			y = 1
		}
		d.Y = append(d.Y, y)
	}
	return d, rows
}

// inferBody is a v2 request of the first n demo rows.
func inferBody(rows []demo.Row) []byte {
	cols := map[string][]any{}
	for _, r := range rows {
		for name, v := range map[string]any{
			"tenure_months": r.TenureMonths, "monthly_charges": r.MonthlyCharges, "support_calls": r.SupportCalls,
			"logins_30d": r.Logins30d, "avg_session_minutes": r.AvgSessionMinutes, "payment_delays": r.PaymentDelays,
			"plan": r.Plan, "region": r.Region, "device": r.Device,
		} {
			cols[name] = append(cols[name], v)
		}
	}
	var inputs []map[string]any
	for _, name := range []string{"tenure_months", "monthly_charges", "support_calls", "logins_30d", "avg_session_minutes", "payment_delays", "plan", "region", "device"} {
		dt := "FP64"
		if name == "plan" || name == "region" || name == "device" {
			dt = "BYTES"
		}
		inputs = append(inputs, map[string]any{"name": name, "datatype": dt, "shape": []int{len(rows)}, "data": cols[name]})
	}
	b, _ := json.Marshal(map[string]any{"inputs": inputs})
	return b
}

// benchServer serves one champion of algorithm for the churn model.
func benchServer(b *testing.B, algorithm string) *serving.Server {
	b.Helper()
	churn := exampleChurn(b)
	params := map[string]trainer.Params{}
	for _, c := range churn.Candidates {
		params[c.Algorithm] = c.Params
	}
	d, _ := demoRows(5000, 1)
	d.Schema = schemaOf(churn)
	tr, err := trainer.Lookup(algorithm)
	if err != nil {
		b.Fatal(err)
	}
	m, err := tr.Train(context.Background(), d, params[algorithm])
	if err != nil {
		b.Fatalf("train %s: %v", algorithm, err)
	}
	src := newFakeSource()
	src.promote("churn", src.add(m))
	srv, err := serving.New(serving.Options{Models: []config.Model{churn}, Source: src, MaxBody: 8 << 20,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	return srv
}

func BenchmarkInfer(b *testing.B) {
	_, rows := demoRows(1000, 2)
	for _, alg := range trainer.AlgorithmsFor(trainer.Binary) {
		srv := benchServer(b, alg)
		h := srv.Handler()
		for _, batch := range []int{1, 100} {
			body := inferBody(rows[:batch])
			b.Run(fmt.Sprintf("%s/batch=%d", alg, batch), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(body)))
				for b.Loop() {
					req := httptest.NewRequest("POST", "/v2/models/churn/infer", bytes.NewReader(body))
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}

func BenchmarkInferLoopback(b *testing.B) {
	_, rows := demoRows(1000, 2)
	body := inferBody(rows[:1])
	for _, alg := range trainer.AlgorithmsFor(trainer.Binary) {
		srv := benchServer(b, alg)
		ts := httptest.NewServer(srv.Handler())
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		b.Run(alg+"/batch=1", func(b *testing.B) {
			var (
				mu  sync.Mutex
				all []time.Duration
			)
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					began := time.Now()
					resp, err := client.Post(ts.URL+"/v2/models/churn/infer", "application/json", bytes.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
					mine = append(mine, time.Since(began))
				}
				mu.Lock()
				all = append(all, mine...)
				mu.Unlock()
			})
			slices.Sort(all)
			if len(all) > 0 {
				b.ReportMetric(float64(len(all))/b.Elapsed().Seconds(), "req/s")
				b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
			}
		})
		ts.Close()
	}
}
