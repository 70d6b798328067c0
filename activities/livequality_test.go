package activities_test

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"reflect"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
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
			truth, pred, pos := activities.JoinLabels(classes, c.rows, c.labels)
			if !reflect.DeepEqual(truth, c.truth) || !reflect.DeepEqual(pred, c.pred) || !reflect.DeepEqual(pos, c.pos) {
				t.Errorf("got %v %v %v, want %v %v %v", truth, pred, pos, c.truth, c.pred, c.pos)
			}
		})
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
