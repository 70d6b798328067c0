package activities_test

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/evaluator"
)

func TestJoiningPredictionsWithLabels(t *testing.T) {
	classes := []string{"false", "true"}
	s := func(x float64) *float64 { return &x }
	cases := []struct {
		name        string
		rows        []activities.Predicted
		labels      map[string]int
		truth, pred []int
		pos         []float64
	}{
		{"only rows with a label are joined, in order",
			[]activities.Predicted{activities.NewPredicted("a", "true", s(0.9)), activities.NewPredicted("b", "false", s(0.2)), activities.NewPredicted("c", "false", s(0.4))},
			map[string]int{"a": 0, "c": 1}, []int{0, 1}, []int{1, 0}, []float64{0.9, 0.4}},
		{"a labelled row without a score drops every score",
			[]activities.Predicted{activities.NewPredicted("a", "true", s(0.9)), activities.NewPredicted("b", "false", nil)},
			map[string]int{"a": 1, "b": 0}, []int{1, 0}, []int{1, 0}, nil},
		{"a prediction of an unknown class is left out",
			[]activities.Predicted{activities.NewPredicted("a", "maybe", s(0.5)), activities.NewPredicted("b", "true", s(0.7))},
			map[string]int{"a": 1, "b": 1}, []int{1}, []int{1}, []float64{0.7}},
		{"no labels, nothing joined",
			[]activities.Predicted{activities.NewPredicted("a", "true", s(0.9))}, map[string]int{}, nil, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			truth, pred, pos, proba := activities.JoinLabels(classes, c.rows, c.labels)
			if !reflect.DeepEqual(truth, c.truth) || !reflect.DeepEqual(pred, c.pred) || !reflect.DeepEqual(pos, c.pos) || proba != nil {
				t.Errorf("got %v %v %v %v, want %v %v %v and no probabilities", truth, pred, pos, proba, c.truth, c.pred, c.pos)
			}
		})
	}
}

func TestJoiningMulticlassPredictionsKeepsEveryClasssProbabilityInClassOrder(t *testing.T) {
	classes := []string{"a", "b", "c"}
	rows := []activities.Predicted{
		activities.NewPredictedProba("x", "b", map[string]float64{"a": 0.2, "b": 0.5, "c": 0.3}),
		activities.NewPredictedProba("y", "c", map[string]float64{"c": 0.7, "a": 0.1, "b": 0.2}),
		activities.NewPredictedProba("z", "a", map[string]float64{"a": 0.9, "b": 0.1, "c": 0}),
	}
	truth, pred, pos, proba := activities.JoinLabels(classes, rows, map[string]int{"x": 1, "y": 0})
	if want := [][]float64{{0.2, 0.5, 0.3}, {0.1, 0.2, 0.7}}; !reflect.DeepEqual(proba, want) || !reflect.DeepEqual(truth, []int{1, 0}) || !reflect.DeepEqual(pred, []int{1, 2}) || pos != nil {
		t.Errorf("got truth %v pred %v pos %v proba %v, want [1 0] [1 2], no scores and %v", truth, pred, pos, proba, want)
	}
	// A row written before probabilities were stored drops them all.
	rows[1] = activities.NewPredicted("y", "c", nil)
	if _, _, _, proba := activities.JoinLabels(classes, rows, map[string]int{"x": 1, "y": 0}); proba != nil {
		t.Errorf("probabilities %v with a row that has none, want none", proba)
	}
}

func TestJoiningRegressionPredictionsPairsValuesWithTheirRowsNumbers(t *testing.T) {
	v := func(x float64) *float64 { return &x }
	rows := []activities.Predicted{activities.NewPredictedValue("a", v(10)), activities.NewPredictedValue("b", v(20)),
		activities.NewPredictedValue("c", nil), activities.NewPredictedValue("d", v(40))}
	truth, values := activities.JoinTargets(rows, map[string]float64{"a": 12, "c": 30, "d": 35})
	if !reflect.DeepEqual(truth, []float64{12, 35}) || !reflect.DeepEqual(values, []float64{10, 40}) {
		t.Errorf("got %v %v, want the labelled rows with a value: [12 35] [10 40]", truth, values)
	}
}

func TestTheMaturedWindowIsTheDriftWindowMovedBackByTheDelay(t *testing.T) {
	w := dataset.Window{From: seedStart.AddDate(0, 0, 9), To: seedStart.AddDate(0, 0, 10)}
	m := &config.Model{Label: config.Label{Delay: config.Duration(3 * 24 * time.Hour)}}
	got := activities.MaturedWindow(m, w)
	if want := (dataset.Window{From: seedStart.AddDate(0, 0, 6), To: seedStart.AddDate(0, 0, 7)}); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// Live quality on matured labels, against the real Cassandra: batch
// predictions of the champion for the rows of a day, joined with a label
// table in which some labels never came and some came after the as-of
// time, give the metrics a direct computation gives.
func TestLiveQualityOnMaturedLabelsMatchesADirectComputation(t *testing.T) {
	f := newFixture(t, 3, 400)
	ctx := context.Background()
	m := &f.acts.Config.Models[0]
	m.Label.Source = config.LabelFromTable
	m.Label.Table = config.LabelTable{Name: "churn_labels", KeyColumn: "id", LabelColumn: "churned", KnownAtColumn: "known_at"}
	m.Label.Delay = config.Duration(24 * time.Hour)
	if err := f.session.Query(fmt.Sprintf(`CREATE TABLE %s.churn_labels (id uuid, known_at timestamp, churned boolean, PRIMARY KEY ((id), known_at))`, f.keyspace)).Exec(); err != nil {
		t.Fatal(err)
	}
	drift := dataset.Window{From: seedStart.AddDate(0, 0, 2), To: seedStart.AddDate(0, 0, 3)}
	matured := dataset.Window{From: seedStart.AddDate(0, 0, 1), To: seedStart.AddDate(0, 0, 2)}
	asOf := drift.To
	champion, other := gocql.TimeUUID(), gocql.TimeUUID()

	insLabel := fmt.Sprintf(`INSERT INTO %s.churn_labels (id, known_at, churned) VALUES (?, ?, ?)`, f.keyspace)
	insPred := fmt.Sprintf(`INSERT INTO %s.predictions (model, day, id, ts, version, generation, predicted, score, run_id, scored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, f.keyspace)
	var truth, pred []int
	var pos []float64
	var predictions int64
	day := matured.From
	iter := f.session.Query(fmt.Sprintf(`SELECT ts, id, churned FROM %s.events WHERE dataset = 'churn' AND day = ?`, f.keyspace), day).Iter()
	var (
		ts    time.Time
		id    gocql.UUID
		label bool
	)
	for iter.Scan(&ts, &id, &label) {
		h := fnv.New32a()
		h.Write(id[:])
		v := h.Sum32()
		y := 0
		if label {
			y = 1
		}
		// A model right about two rows in three, its score leaning its way.
		p := y
		if v%3 == 0 {
			p = 1 - y
		}
		score := 0.3 + 0.4*float64(p) + float64(v%100)/1000
		version := champion
		if v%11 == 0 {
			version = other // predictions of another version do not count
		}
		if err := f.session.Query(insPred, m.Name, day, id, ts, version, int64(1), []string{"false", "true"}[p], score, "run", time.Now()).Exec(); err != nil {
			t.Fatal(err)
		}
		known := ts.Add(2 * time.Hour)
		switch {
		case v%7 == 0:
			continue // never labelled
		case v%7 == 1:
			known = asOf.Add(time.Minute) // labelled after the as-of time
		}
		if err := f.session.Query(insLabel, id, known, label).Exec(); err != nil {
			t.Fatal(err)
		}
		if version != champion || v%7 == 1 {
			continue
		}
		truth, pred, pos = append(truth, y), append(pred, p), append(pos, score)
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	// Every prediction of the champion counts, labelled or not.
	iter = f.session.Query(fmt.Sprintf(`SELECT version FROM %s.predictions WHERE model = ? AND day = ?`, f.keyspace), m.Name, day).Iter()
	var ver gocql.UUID
	for iter.Scan(&ver) {
		if ver == champion {
			predictions++
		}
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	want, err := evaluator.Score(2, truth, pred, pos)
	if err != nil {
		t.Fatal(err)
	}

	qs, err := activities.MaturedQualities(f.acts, ctx, m, champion, drift)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 1 {
		t.Fatalf("%d qualities, want the champion's only (no shadow is set)", len(qs))
	}
	q := qs[0]
	if q.Role != activities.RoleChampion || q.Version != champion.String() || q.Window != matured || !q.AsOf.Equal(asOf) {
		t.Errorf("quality of %s %s on %s as of %s, want the champion %s on %s as of %s", q.Role, q.Version, q.Window, q.AsOf, champion, matured, asOf)
	}
	if q.Predictions != predictions || q.Labelled != int64(len(truth)) || q.Coverage != float64(len(truth))/float64(predictions) {
		t.Errorf("%d predictions, %d labelled, coverage %g; want %d, %d, %g", q.Predictions, q.Labelled, q.Coverage, predictions, len(truth), float64(len(truth))/float64(predictions))
	}
	if q.Metrics == nil {
		t.Fatal("no metrics")
	}
	got, _ := json.Marshal(q.Metrics)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Errorf("metrics\n%s\nwant (direct)\n%s", got, exp)
	}
}

// Live quality of a regression model on matured row labels (label.delay,
// the label in the row), against the real Cassandra: the champion's batch
// predictions (predictions.value) of a day of deliveries, joined with the
// minutes of their rows, give the regression metrics, and the task's
// primary metric, that a direct computation gives.
func TestLiveQualityOfARegressionModelOnMaturedLabelsMatchesADirectComputation(t *testing.T) {
	f := newFixture(t, 0, 0)
	ctx := context.Background()
	spec := demo.Spec{Dataset: "deliveries", Start: seedStart, Days: 3, RowsPerDay: 300, Seed: 5}
	if _, err := demo.PrepareTableOf(ctx, f.session, f.keyspace, demo.DeliveriesTable); err != nil {
		t.Fatal(err)
	}
	if err := demo.WriteTable(ctx, f.session, f.keyspace, demo.DeliveriesTable, spec, 4, nil); err != nil {
		t.Fatalf("seed the deliveries: %v", err)
	}
	m := &config.Model{Name: "deliveries", Task: config.TaskRegression,
		Source:   config.Source{Table: "deliveries", PartitionColumn: "dataset", PartitionValue: "deliveries", DayColumn: "day", TimeColumn: "ts", KeyColumn: "id"},
		Features: []config.Feature{{Name: "distance_km", Column: "distance_km", Type: "numeric"}},
		Label:    config.Label{Column: "minutes", Delay: config.Duration(24 * time.Hour)},
		Window:   config.Window{Parallelism: 2},
		Policy:   config.Policy{Policy: evaluator.Policy{PrimaryMetric: evaluator.MetricRMSE}},
	}
	drift := dataset.Window{From: seedStart.AddDate(0, 0, 2), To: seedStart.AddDate(0, 0, 3)}
	matured := dataset.Window{From: seedStart.AddDate(0, 0, 1), To: seedStart.AddDate(0, 0, 2)}
	champion, other := gocql.TimeUUID(), gocql.TimeUUID()
	insPred := fmt.Sprintf(`INSERT INTO %s.predictions (model, day, id, ts, version, generation, value, run_id, scored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, f.keyspace)
	var truth, values []float64
	var predictions int64
	day := matured.From
	iter := f.session.Query(fmt.Sprintf(`SELECT ts, id, minutes FROM %s.deliveries WHERE dataset = 'deliveries' AND day = ?`, f.keyspace), day).Iter()
	var (
		ts      time.Time
		id      gocql.UUID
		minutes float64
	)
	for iter.Scan(&ts, &id, &minutes) {
		h := fnv.New32a()
		h.Write(id[:])
		v := h.Sum32()
		// A model a few minutes off either way.
		value := minutes + float64(int(v%13)-6)
		version := champion
		if v%11 == 0 {
			version = other // predictions of another version do not count
		}
		if err := f.session.Query(insPred, m.Name, day, id, ts, version, int64(1), value, "run", time.Now()).Exec(); err != nil {
			t.Fatal(err)
		}
		if version == champion {
			predictions++
			truth, values = append(truth, minutes), append(values, value)
		}
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	// A prediction for a row that is not in the table has no label.
	if err := f.session.Query(insPred, m.Name, day, gocql.TimeUUID(), day.Add(time.Hour), champion, int64(1), 30.0, "run", time.Now()).Exec(); err != nil {
		t.Fatal(err)
	}
	predictions++
	want, err := evaluator.RegressionMetricsOf(truth, values)
	if err != nil {
		t.Fatal(err)
	}

	qs, err := activities.MaturedQualities(f.acts, ctx, m, champion, drift)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 1 {
		t.Fatalf("%d qualities, want the champion's only", len(qs))
	}
	q := qs[0]
	if q.Window != matured || q.Predictions != predictions || q.Labelled != int64(len(truth)) {
		t.Errorf("quality on %s of %d predictions, %d labelled; want %s, %d, %d", q.Window, q.Predictions, q.Labelled, matured, predictions, len(truth))
	}
	if q.Metrics == nil || q.Metrics.Regression == nil || q.Metrics.Task != evaluator.TaskRegression {
		t.Fatalf("metrics %+v, want regression metrics", q.Metrics)
	}
	for _, name := range []string{evaluator.MetricRMSE, evaluator.MetricMAE, evaluator.MetricR2} {
		got, ok := q.Metrics.Value(name)
		exp, _ := want.Value(name)
		if !ok || math.Abs(got-exp) > 1e-9*max(1, math.Abs(exp)) {
			t.Errorf("live %s %v (%v), the direct computation %v", name, got, ok, exp)
		}
	}
}
