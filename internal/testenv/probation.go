package testenv

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/registry"
)

// LabelledRow is a source row's key and the class index of its label.
type LabelledRow struct {
	Key   string
	Label int
}

// LiveRows writes demo rows (dataset churn, perDay a day) for the day
// before now and the day of now into keyspace's events table, and returns
// up to n of the labelled rows of the 20 hours before now: live rows a
// probation's label join finds.
func LiveRows(t testing.TB, s *gocql.Session, keyspace string, m *config.Model, now time.Time, perDay, n int) []LabelledRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := demo.Write(ctx, s, keyspace, demo.Spec{Dataset: "churn", Start: now.Add(-24 * time.Hour), Days: 2, RowsPerDay: perDay, Seed: 5}, 4, nil); err != nil {
		t.Fatalf("write the live rows: %v", err)
	}
	var (
		mu   sync.Mutex
		rows []LabelledRow
	)
	src := &dataset.Source{Session: s, Keyspace: keyspace, Model: m}
	if _, err := src.Scan(ctx, dataset.Window{From: now.Add(-20 * time.Hour), To: now}, dataset.ScanOptions{OptionalLabels: true}, func(_ int, b *dataset.Batch) error {
		mu.Lock()
		defer mu.Unlock()
		for i, k := range b.Keys {
			if b.Y[i] >= 0 && len(rows) < n {
				rows = append(rows, LabelledRow{k, b.Y[i]})
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("read the live rows: %v", err)
	}
	return rows
}

// ProbationRows are the shadow predictions `kingmaker serve` records on
// rows while previous shadows champion (of champion.Model, with m's
// classes): row i gets the wrong class from the
// champion where newWrong(i), from previous where prevWrong(i).
func ProbationRows(m *config.Model, rows []LabelledRow, champion *registry.Champion, previous gocql.UUID, newWrong, prevWrong func(i int) bool) []registry.ShadowPrediction {
	out := make([]registry.ShadowPrediction, 0, len(rows))
	for i, r := range rows {
		nc, pc := r.Label, r.Label
		if newWrong(i) {
			nc = 1 - nc
		}
		if prevWrong(i) {
			pc = 1 - pc
		}
		out = append(out, registry.ShadowPrediction{
			Model: champion.Model, ShadowVersion: previous, At: time.Now().UTC(), RequestID: fmt.Sprint("req-", i),
			ChampionVersion: champion.Version, Generation: champion.Generation,
			ChampionClass: m.Label.Classes[nc], ShadowClass: m.Label.Classes[pc], RowID: r.Key,
		})
	}
	return out
}

// SaveChurnVersion stores a servable, evaluated logistic version of model
// (which must have the example churn model's features) made at at.
func SaveChurnVersion(t testing.TB, reg *registry.Registry, model, key string, at time.Time) gocql.UUID {
	t.Helper()
	v := &registry.Version{Model: model, ID: registry.VersionID(at, model+"/"+key), Candidate: key, Algorithm: "logistic", RunID: "run-" + key,
		Metrics: []byte(`{"rows":300,"classes":2,"accuracy":0.8}`)}
	if err := reg.SaveVersion(context.Background(), v, ChurnArtifact(t)); err != nil {
		t.Fatal(err)
	}
	return v.ID
}
