package activities_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// taskModel adds to the fixture's config a model over the churn model's
// source and features with another label: classes nil for a regression
// model, five classes for a multiclass one.
func (f *fixture) taskModel(name string, classes []string) *config.Model {
	f.t.Helper()
	churn, err := f.acts.Config.Model("churn")
	if err != nil {
		f.t.Fatal(err)
	}
	m := *churn
	m.Name = name
	m.Label.Classes = classes
	f.acts.Config.Models = append(f.acts.Config.Models, m)
	got, _ := f.acts.Config.Model(name)
	return got
}

// trainOnWindow trains algorithm on the rows of the window of m's source,
// with a label computed from the features (a number, or one of m's
// classes), stores the version and returns it with its model.
func (f *fixture) trainOnWindow(m *config.Model, algorithm string, w dataset.Window) (*registry.Version, trainer.Model) {
	f.t.Helper()
	src := &dataset.Source{Session: f.session, Keyspace: f.keyspace, Model: m}
	d := &trainer.Data{Schema: src.Schema()}
	if len(m.Label.Classes) == 0 {
		d.Schema.Task = trainer.Regression
	}
	_, err := src.Scan(context.Background(), w, dataset.ScanOptions{Unlabelled: true}, func(_ int, b *dataset.Batch) error {
		for _, x := range b.X {
			z := 20 + 0.2*x[0] + 0.1*x[1] + 3*x[2] // tenure, charges, support calls
			d.X = append(d.X, x)
			if d.Schema.Task == trainer.Regression {
				d.Target = append(d.Target, z)
			} else {
				d.Y = append(d.Y, min(len(m.Label.Classes)-1, max(0, int(z/8))%len(m.Label.Classes)))
			}
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	tr, err := trainer.Lookup(algorithm)
	if err != nil {
		f.t.Fatal(err)
	}
	tm, err := tr.Train(context.Background(), d, nil)
	if err != nil {
		f.t.Fatalf("train %s of %s: %v", algorithm, m.Name, err)
	}
	art, err := tm.MarshalBinary()
	if err != nil {
		f.t.Fatal(err)
	}
	v := &registry.Version{
		Model: m.Name, ID: registry.VersionID(time.Now(), algorithm), Candidate: algorithm, Algorithm: algorithm,
		Params: tm.Params(), RunID: "run-" + m.Name, WorkflowID: "retrain-" + m.Name, WindowFrom: w.From, WindowTo: w.To,
		TrainRows: int64(len(d.X)), Metrics: []byte(`{}`),
	}
	if err := f.reg.SaveVersion(context.Background(), v, art); err != nil {
		f.t.Fatal(err)
	}
	return v, tm
}

// scoreDay resolves the version and scores the first day of the window.
func (f *fixture) scoreDay(m *config.Model, v *registry.Version, w dataset.Window) (activities.Resolved, activities.ScoredDay) {
	f.t.Helper()
	var res activities.Resolved
	if err := f.execute(f.acts.ResolveScoringVersion, activities.ResolveInput{Model: m.Name, Version: v.ID.String()}, &res); err != nil {
		f.t.Fatalf("resolve %s: %v", m.Name, err)
	}
	var sd activities.ScoredDay
	in := activities.ScoreDayInput{Model: m.Name, Window: w, Version: res.Version, RunID: "score-run", Spec: m}
	if err := f.execute(f.acts.ScoreDay, in, &sd); err != nil {
		f.t.Fatalf("score %s: %v", m.Name, err)
	}
	return res, sd
}

// dayRows are the features of the rows of one day of m's source, by key.
func (f *fixture) dayRows(m *config.Model, w dataset.Window) (keys []string, x [][]float64) {
	f.t.Helper()
	src := &dataset.Source{Session: f.session, Keyspace: f.keyspace, Model: m}
	_, err := src.Scan(context.Background(), w, dataset.ScanOptions{Unlabelled: true}, func(_ int, b *dataset.Batch) error {
		keys, x = append(keys, b.Keys...), append(x, b.X...)
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return keys, x
}

func TestScoringARegressionModelStoresTheModelsValuePerRow(t *testing.T) {
	f := newFixture(t, 2, 150)
	m := f.taskModel("delivery", nil)
	v, tm := f.trainOnWindow(m, "linear", week)
	day := dataset.Window{From: seedStart, To: seedStart.AddDate(0, 0, 1)}
	res, sd := f.scoreDay(m, v, day)
	if res.Task != "regression" {
		t.Errorf("resolved task %q, want regression", res.Task)
	}
	keys, x := f.dayRows(m, day)
	want, err := tm.(trainer.Regressor).PredictValues(x)
	if err != nil {
		t.Fatal(err)
	}
	if sd.Rows != int64(len(keys)) || len(keys) == 0 {
		t.Fatalf("scored %d rows, the day holds %d", sd.Rows, len(keys))
	}
	for i, key := range keys {
		var (
			value     *float64
			predicted *string
			score     *float64
			probs     map[string]float64
		)
		err := f.session.Query(fmt.Sprintf(`SELECT value, predicted, score, probabilities FROM %s.predictions WHERE model = ? AND day = ? AND id = ?`, f.keyspace),
			m.Name, day.From, mustParse(t, key)).Scan(&value, &predicted, &score, &probs)
		if err != nil {
			t.Fatalf("row %s: %v", key, err)
		}
		if value == nil || *value != want[i] || predicted != nil || score != nil || probs != nil {
			t.Fatalf("row %s: value %v predicted %v score %v probabilities %v; want the model's value %v alone", key, value, predicted, score, probs, want[i])
		}
	}
	byKey := map[string]float64{}
	for i, k := range keys {
		byKey[k] = want[i]
	}
	read := 0
	err = f.reg.Predictions(context.Background(), m.Name, day.From, day.To, func(p *registry.Prediction) error {
		if w, ok := byKey[p.ID.String()]; !ok || p.Value == nil || *p.Value != w || p.Predicted != "" || p.Probabilities != nil {
			t.Errorf("registry.Predictions row %s: value %v class %q probabilities %v, want %v alone", p.ID, p.Value, p.Predicted, p.Probabilities, w)
		}
		read++
		return nil
	})
	if err != nil || read != len(keys) {
		t.Errorf("registry.Predictions read %d rows (%v), want %d", read, err, len(keys))
	}
}

func TestScoringAFiveClassModelStoresEveryClasssProbability(t *testing.T) {
	f := newFixture(t, 2, 150)
	classes := []string{"a", "b", "c", "d", "e"}
	m := f.taskModel("grade", classes)
	v, tm := f.trainOnWindow(m, "logistic", week)
	day := dataset.Window{From: seedStart, To: seedStart.AddDate(0, 0, 1)}
	if res, _ := f.scoreDay(m, v, day); res.Task != "multiclass" {
		t.Errorf("resolved task %q, want multiclass", res.Task)
	}
	keys, x := f.dayRows(m, day)
	ids, _, err := tm.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	proba, err := tm.(trainer.Prober).PredictProba(x)
	if err != nil {
		t.Fatal(err)
	}
	for i, key := range keys {
		var (
			predicted string
			value     *float64
			probs     map[string]float64
		)
		err := f.session.Query(fmt.Sprintf(`SELECT predicted, value, probabilities FROM %s.predictions WHERE model = ? AND day = ? AND id = ?`, f.keyspace),
			m.Name, day.From, mustParse(t, key)).Scan(&predicted, &value, &probs)
		if err != nil {
			t.Fatalf("row %s: %v", key, err)
		}
		if predicted != classes[ids[i]] || value != nil || len(probs) != len(classes) {
			t.Fatalf("row %s: class %s value %v probabilities %v; want class %s, no value and %d probabilities", key, predicted, value, probs, classes[ids[i]], len(classes))
		}
		for k, c := range classes {
			if probs[c] != proba[i][k] {
				t.Fatalf("row %s: P(%s) = %v, the model's own is %v", key, c, probs[c], proba[i][k])
			}
		}
	}
	read := 0
	err = f.reg.Predictions(context.Background(), m.Name, day.From, day.To, func(p *registry.Prediction) error {
		if len(p.Probabilities) != len(classes) || p.Value != nil || p.Score != nil {
			t.Errorf("registry.Predictions row %s: probabilities %v value %v score %v, want %d probabilities alone", p.ID, p.Probabilities, p.Value, p.Score, len(classes))
		}
		read++
		return nil
	})
	if err != nil || read != len(keys) {
		t.Errorf("registry.Predictions read %d rows (%v), want %d", read, err, len(keys))
	}
}

func TestScoringABinaryModelStillFillsOnlyTheClassAndScore(t *testing.T) {
	f := newFixture(t, 2, 100)
	m, _ := f.acts.Config.Model("churn")
	v, tm := f.trainOnWindow(f.taskModel("churn2", m.Label.Classes), "logistic", week)
	m2, _ := f.acts.Config.Model("churn2")
	day := dataset.Window{From: seedStart, To: seedStart.AddDate(0, 0, 1)}
	f.scoreDay(m2, v, day)
	keys, x := f.dayRows(m2, day)
	_, pos, err := tm.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	var (
		score float64
		value *float64
		probs map[string]float64
	)
	err = f.session.Query(fmt.Sprintf(`SELECT score, value, probabilities FROM %s.predictions WHERE model = ? AND day = ? AND id = ?`, f.keyspace),
		m2.Name, day.From, mustParse(t, keys[0])).Scan(&score, &value, &probs)
	if err != nil || score != pos[0] || value != nil || probs != nil {
		t.Errorf("binary row: score %v value %v probabilities %v (%v); want score %v alone", score, value, probs, err, pos[0])
	}
}

func TestTheShadowReportRefusesARegressionModelInOneLine(t *testing.T) {
	f := newFixture(t, 0, 0)
	m := f.taskModel("delivery", nil)
	in := activities.ShadowReportInput{Model: m.Name, Version: "5d5bc971-0000-1000-8000-000000000000", Since: seedStart, To: seedStart.AddDate(0, 0, 1)}
	err := f.execute(f.acts.ShadowReport, in, nil)
	if err == nil || !strings.Contains(err.Error(), "model delivery is a regression model: the shadow report judges classes and cannot judge it") {
		t.Fatalf("shadow report of a regression model: %v, want a refusal saying it judges classes", err)
	}
}

func TestScoringRefusesAVersionOfAnotherTaskThanTheConfigs(t *testing.T) {
	f := newFixture(t, 1, 100)
	m := f.taskModel("minutes", nil)
	v, _ := f.trainOnWindow(m, "linear", week)
	m.Label.Classes = []string{"a", "b", "c"} // the config now declares a multiclass model
	err := f.execute(f.acts.ResolveScoringVersion, activities.ResolveInput{Model: m.Name, Version: v.ID.String()}, nil)
	if err == nil || !strings.Contains(err.Error(), "of minutes does not fit the config (classes are [] in the version, [a b c] in the config)") {
		t.Fatalf("scoring a regression version as a multiclass model: %v, want a refusal naming what differs", err)
	}
}
