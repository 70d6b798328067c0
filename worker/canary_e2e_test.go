package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/serving"
	"github.com/kingmaker-ml/kingmaker/trainer"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// TestACanaryAnswersItsShareAndTheProbationJudgesEveryAnswerOnTheRealStack
// runs a probation through the Temporal dev server on Cassandra while an
// in-process `kingmaker serve` (registry source, shadow sink, every request
// shadowed) has policy.probation.canary_fraction 0.4. Two different models
// are the new and the previous champion. Every keyed request is answered by
// the version its key's hash picks, with that version's own prediction; the
// probation's evidence pairs every one of them, whoever answered, with both
// versions' own predictions: its live accuracies are those the test computes
// from the models and the rows' labels.
func TestACanaryAnswersItsShareAndTheProbationJudgesEveryAnswerOnTheRealStack(t *testing.T) {
	s, cass := testenv.Cassandra(t)
	cfg := testConfig(t, cass)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	now := time.Now().UTC()
	m, err := cfg.Model("churn")
	if err != nil {
		t.Fatal(err)
	}
	const perDay, canary = 1000, 0.4
	rows := testenv.LiveRows(t, s, cass.Keyspace, m, now, perDay, 500)
	if len(rows) < 400 {
		t.Fatalf("%d labelled live rows near now, want at least 400", len(rows))
	}
	// The rows' features as serve takes them (LiveRows wrote this spec).
	spec := demo.Spec{Dataset: "churn", Start: now.Add(-24 * time.Hour), Days: 2, RowsPerDay: perDay, Seed: 5}
	instances := map[string]map[string]any{}
	for day := range spec.Days {
		for i := range spec.RowsPerDay {
			r := spec.Generate(day, i)
			instances[r.ID.String()] = r.Instance()
		}
	}

	w := startWorker(ctx, t, cfg)
	reg := w.st.Registry
	src := &dataset.Source{Session: s, Keyspace: cass.Keyspace, Model: m}
	live := dataset.Window{From: now.Add(-20 * time.Hour), To: now}
	data, _, err := src.LoadTrain(ctx, live, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Two versions that disagree on some rows: a logistic model and a
	// naive Bayes one, trained on the live window itself.
	save := func(key, algorithm string) (gocql.UUID, trainer.Model) {
		t.Helper()
		tr, err := trainer.Lookup(algorithm)
		if err != nil {
			t.Fatal(err)
		}
		model, err := tr.Train(ctx, data, nil)
		if err != nil {
			t.Fatalf("train %s: %v", algorithm, err)
		}
		artifact, err := model.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		schema, _ := json.Marshal(model.Schema())
		v := &registry.Version{Model: "churn", ID: registry.VersionID(now, "churn/"+key), Candidate: key, Algorithm: algorithm, Params: model.Params(),
			RunID: "run-" + key, WindowFrom: live.From, WindowTo: live.To, TrainRows: int64(len(data.X)), Schema: schema,
			Metrics: []byte(`{"rows":300,"classes":2,"accuracy":0.8}`)}
		if err := reg.SaveVersion(ctx, v, artifact); err != nil {
			t.Fatalf("save %s: %v", key, err)
		}
		return v.ID, model
	}
	prevID, prevModel := save("previous", "naive_bayes")
	newID, newModel := save("new", "logistic")

	// Each version's own class for every live row, from the stored features.
	own := map[gocql.UUID]map[string]string{newID: {}, prevID: {}}
	var (
		mu   sync.Mutex
		keys []string
		x    [][]float64
	)
	if _, err := src.Scan(ctx, live, dataset.ScanOptions{OptionalLabels: true}, func(_ int, b *dataset.Batch) error {
		mu.Lock()
		defer mu.Unlock()
		keys = append(keys, b.Keys...)
		x = append(x, b.X...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for id, model := range map[gocql.UUID]trainer.Model{newID: newModel, prevID: prevModel} {
		classes, _, err := model.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		for i, k := range keys {
			own[id][k] = m.Label.Classes[classes[i]]
		}
	}
	disagree := 0
	for _, r := range rows {
		if own[newID][r.Key] != own[prevID][r.Key] {
			disagree++
		}
	}
	if disagree == 0 {
		t.Fatal("the two versions agree on every live row: the test could not tell who answered")
	}

	g1, err := reg.Promote(ctx, registry.PromoteRequest{Model: "churn", Version: prevID, Action: registry.ActionPromote, By: "e2e", Reason: "canary test"})
	if err != nil {
		t.Fatal(err)
	}
	g2, err := reg.Promote(ctx, registry.PromoteRequest{Model: "churn", Version: newID, Expected: g1, Action: registry.ActionPromote, By: "e2e", Reason: "canary test"})
	if err != nil {
		t.Fatal(err)
	}
	probe := config.Probation{
		Period: config.Duration(40 * time.Second), Metric: evaluator.MetricAccuracy, MinLabelledRows: 300, MaxDrop: 0.01,
		SignificanceLevel: 0.05, CheckEvery: config.Duration(5 * time.Second),
	}
	run, err := w.st.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.ProbationID("churn", g2.Generation) + "-" + cass.Keyspace, TaskQueue: cfg.Temporal.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.AttrModel.ValueSet("churn")),
	}, workflows.ProbationWorkflowName, workflows.ProbationInput{Model: "churn", Champion: *g2, Previous: prevID.String(), Probation: probe})
	if err != nil {
		t.Fatal(err)
	}

	// serve, as `kingmaker serve --shadow-sample 1` with the canary share
	// in its config.
	served := *m
	served.Policy.Probation = probe
	served.Policy.Probation.CanaryFraction = canary
	base, stopServing := serveInProcess(ctx, t, serving.Options{
		Models: []config.Model{served}, Source: serving.RegistrySource(reg), Poll: 100 * time.Millisecond,
		ShadowSample: 1, ShadowSink: reg,
	})
	defer stopServing()
	httpc := &http.Client{Timeout: 10 * time.Second}
	// Wait until serve has the new champion and, from the probation, the
	// previous one as its shadow.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := httpc.Get(base + "/v2/models/churn")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.Contains(string(b), newID.String()) && strings.Contains(string(b), `"shadow_version":"`+prevID.String()) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not take %s as champion with the probation's shadow %s within 30s", newID, prevID)
		}
	}

	t.Run("each keyed request is answered by the version its key picks, with that version's own class", func(t *testing.T) {
		canaries := 0
		for _, r := range rows {
			inst, ok := instances[r.Key]
			if !ok {
				t.Fatalf("live row %s is not among the generated rows", r.Key)
			}
			body, _ := json.Marshal(map[string]any{"instances": []any{inst}})
			resp, err := httpc.Post(base+"/v1/models/churn:predict", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var out serving.PredictResponse
			if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil || len(out.Predictions) != 1 {
				t.Fatalf("row %s: status %d: %s", r.Key, resp.StatusCode, b)
			}
			want, isCanary := newID, serving.InCanary(r.Key, canary)
			if isCanary {
				want = prevID
				canaries++
			}
			if out.ModelVersion != want.String() || resp.Header.Get(serving.HeaderVersion) != want.String() ||
				(resp.Header.Get(serving.HeaderCanary) == "true") != isCanary || out.Generation != g2.Generation {
				t.Fatalf("row %s answered by %s (header %s, canary %q, generation %d), want %s at generation %d",
					r.Key, out.ModelVersion, resp.Header.Get(serving.HeaderVersion), resp.Header.Get(serving.HeaderCanary), out.Generation, want, g2.Generation)
			}
			if got := out.Predictions[0].Class; got != own[want][r.Key] {
				t.Fatalf("row %s: class %s from %s, the model's own is %s", r.Key, got, want, own[want][r.Key])
			}
		}
		if share := float64(canaries) / float64(len(rows)); share < 0.3 || share > 0.5 {
			t.Errorf("the previous champion answered %d of %d requests (%.3f), want about %g", canaries, len(rows), share, canary)
		}
		t.Logf("%d requests, %d answered by the previous champion; the versions disagree on %d rows", len(rows), canaries, disagree)
	})

	t.Run("the probation pairs every answer with both versions' own predictions", func(t *testing.T) {
		var st workflows.ProbationState
		if err := run.Get(ctx, &st); err != nil {
			t.Fatalf("probation: %v", err)
		}
		ev := st.Evidence
		if ev == nil || ev.LabelledRows != len(rows) || ev.NewLive == nil || ev.PreviousLive == nil {
			t.Fatalf("evidence %+v, want all %d requests paired and labelled (outcome %s, reasons %q)", ev, len(rows), st.Outcome, st.Reasons)
		}
		label := map[string]string{}
		for _, r := range rows {
			label[r.Key] = m.Label.Classes[r.Label]
		}
		accuracy := func(id gocql.UUID) float64 {
			right := 0
			for _, r := range rows {
				if own[id][r.Key] == label[r.Key] {
					right++
				}
			}
			return float64(right) / float64(len(rows))
		}
		if got, want := ev.NewLive.Accuracy, accuracy(newID); got != want {
			t.Errorf("the new champion's live accuracy %v, its own predictions give %v", got, want)
		}
		if got, want := ev.PreviousLive.Accuracy, accuracy(prevID); got != want {
			t.Errorf("the previous champion's live accuracy %v, its own predictions give %v", got, want)
		}
		if st.Outcome != evaluator.ProbationConfirmed && st.Outcome != evaluator.ProbationRolledBack {
			t.Errorf("outcome %s (reasons %q), want the probation judged", st.Outcome, st.Reasons)
		}
		t.Logf("outcome %s: live accuracy new %.4f, previous %.4f on %d rows", st.Outcome, ev.NewLive.Accuracy, ev.PreviousLive.Accuracy, ev.LabelledRows)
	})

	t.Run("each recorded row names each version's own class, whoever answered", func(t *testing.T) {
		seen := map[string]bool{}
		err := reg.ShadowPredictions(ctx, "churn", prevID, now.Add(-time.Hour), time.Now().Add(time.Hour), func(p *registry.ShadowPrediction) error {
			if seen[p.RowID] {
				t.Errorf("row %s recorded twice", p.RowID)
			}
			seen[p.RowID] = true
			if p.ChampionVersion != newID || p.Generation != g2.Generation || p.ChampionClass != own[newID][p.RowID] || p.ShadowClass != own[prevID][p.RowID] {
				t.Errorf("row %s (canary %v) recorded champion %s class %s, shadow class %s; want %s class %s, shadow class %s",
					p.RowID, serving.InCanary(p.RowID, canary), p.ChampionVersion, p.ChampionClass, p.ShadowClass, newID, own[newID][p.RowID], own[prevID][p.RowID])
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) != len(rows) {
			t.Errorf("%d rows recorded, want one for each of the %d requests", len(seen), len(rows))
		}
	})
}
