package activities_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/registry"
)

// saveBare stores a version with a placeholder artifact: the shadow
// activities never load it.
func (f *fixture) saveBare(key string) gocql.UUID {
	f.t.Helper()
	v := &registry.Version{Model: "churn", ID: registry.VersionID(seedStart, key), Candidate: key, Algorithm: "logistic", RunID: key}
	if err := f.reg.SaveVersion(context.Background(), v, []byte(key)); err != nil {
		f.t.Fatal(err)
	}
	return v.ID
}

// labels reads the keys and labels of one day of the seeded demo rows.
func (f *fixture) labels(day time.Time) (keys []string, churned []bool) {
	f.t.Helper()
	iter := f.session.Query(fmt.Sprintf(`SELECT id, churned FROM %s.events WHERE dataset = 'churn' AND day = ?`, f.keyspace), day).Iter()
	var id gocql.UUID
	var label *bool
	for iter.Scan(&id, &label) {
		if label != nil {
			keys, churned = append(keys, id.String()), append(churned, *label)
		}
	}
	if err := iter.Close(); err != nil {
		f.t.Fatal(err)
	}
	return keys, churned
}

func TestShadowActivitiesAgainstCassandra(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 2, 300)
	ctx := context.Background()
	champion, shadow := f.saveBare("champion"), f.saveBare("shadow")
	since := seedStart.AddDate(0, 0, 1) // the second seeded day
	runID := "run-shadow"

	t.Run("a run sets its shadow and a version that does not exist is refused for good", func(t *testing.T) {
		in := activities.SetShadowInput{Model: "churn", Version: shadow.String(), Since: since, Until: since.Add(time.Hour), StartedBy: runID, Reason: "test"}
		if err := f.execute(f.acts.SetShadow, in, nil); err != nil {
			t.Fatal(err)
		}
		if sh, err := f.reg.Shadow(ctx, "churn"); err != nil || sh == nil || sh.Version != shadow || sh.StartedBy != runID {
			t.Fatalf("shadow pointer %+v, %v; want version %s set by %s", sh, err, shadow, runID)
		}
		in.Version = registry.VersionID(since, "ghost").String()
		err := f.execute(f.acts.SetShadow, in, nil)
		var app *temporal.ApplicationError
		if !errors.As(err, &app) || app.Type() != activities.ErrTypeInvalidSpec || !app.NonRetryable() {
			t.Fatalf("shadowing a version that does not exist: %v, want a non-retryable InvalidSpec", err)
		}
	})

	t.Run("the report joins keyed rows with their labels and scores both models", func(t *testing.T) {
		keys, churned := f.labels(since)
		if len(keys) < 100 {
			t.Fatalf("only %d labelled demo rows on %s", len(keys), since.Format(time.DateOnly))
		}
		// 100 keyed rows: the champion is always right, the shadow wrong on
		// every fifth; 20 rows without a key, and 5 with a key the source
		// table does not have.
		var rows []registry.ShadowPrediction
		at := since.Add(time.Minute)
		row := func(i int, key string, truth bool, shadowRight bool) registry.ShadowPrediction {
			champ, sh := strconv.FormatBool(truth), strconv.FormatBool(truth)
			if !shadowRight {
				sh = strconv.FormatBool(!truth)
			}
			return registry.ShadowPrediction{Model: "churn", ShadowVersion: shadow, At: at.Add(time.Duration(i) * time.Second), RequestID: fmt.Sprintf("req-%d", i),
				ChampionVersion: champion, Generation: 1, ChampionClass: champ, ShadowClass: sh, RowID: key}
		}
		for i := range 100 {
			rows = append(rows, row(i, keys[i], churned[i], i%5 != 0))
		}
		for i := range 20 {
			rows = append(rows, row(100+i, "", false, true))
		}
		for i := range 5 {
			rows = append(rows, row(120+i, fmt.Sprintf("unknown-%d", i), true, true))
		}
		if err := f.reg.RecordShadowPredictions(ctx, rows); err != nil {
			t.Fatal(err)
		}
		var ev activities.ShadowEvidence
		in := activities.ShadowReportInput{Model: "churn", Version: shadow.String(), Since: since, To: since.Add(time.Hour)}
		if err := f.execute(f.acts.ShadowReport, in, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Rows != 125 || ev.Agreed != 105 || ev.KeyedRows != 105 {
			t.Fatalf("evidence: %d rows, %d agreed, %d keyed; want 125, 105 and 105", ev.Rows, ev.Agreed, ev.KeyedRows)
		}
		if ev.LabelledRows != 100 || ev.ChampionLive == nil || ev.ShadowLive == nil {
			t.Fatalf("labelled rows %d, live metrics %v / %v; want the 100 rows found in events", ev.LabelledRows, ev.ChampionLive, ev.ShadowLive)
		}
		if ev.ChampionLive.Accuracy != 1 || ev.ShadowLive.Accuracy != 0.8 {
			t.Errorf("live accuracy: champion %v, shadow %v; want 1 and 0.8", ev.ChampionLive.Accuracy, ev.ShadowLive.Accuracy)
		}
		if !ev.LabelWindow.From.Equal(since.Add(-activities.ShadowLabelSlack)) || !ev.LabelWindow.To.Equal(in.To.Add(activities.ShadowLabelSlack)) || len(ev.Notes) != 0 {
			t.Errorf("label window %s, notes %q; want a day either side of the period, no notes", ev.LabelWindow, ev.Notes)
		}

		// Before the rows were written the evidence is empty, not an error.
		var before activities.ShadowEvidence
		early := activities.ShadowReportInput{Model: "churn", Version: shadow.String(), Since: since.Add(-time.Hour), To: since}
		if err := f.execute(f.acts.ShadowReport, early, &before); err != nil || before.Rows != 0 || before.Agreement != nil {
			t.Errorf("an hour before: %+v, %v; want no rows", before, err)
		}
	})

	t.Run("a run clears only the shadow it set", func(t *testing.T) {
		var c activities.ClearedShadow
		if err := f.execute(f.acts.ClearShadow, activities.ClearShadowInput{Model: "churn", StartedBy: "another-run"}, &c); err != nil || c.Cleared {
			t.Fatalf("another run cleared this run's shadow: %+v, %v", c, err)
		}
		if err := f.execute(f.acts.ClearShadow, activities.ClearShadowInput{Model: "churn", StartedBy: runID}, &c); err != nil || !c.Cleared {
			t.Fatalf("the run could not clear its shadow: %+v, %v", c, err)
		}
		if err := f.execute(f.acts.ClearShadow, activities.ClearShadowInput{Model: "churn", StartedBy: runID}, &c); err != nil || c.Cleared {
			t.Fatalf("a retried clear: %+v, %v; want nothing left to clear and no error", c, err)
		}
	})
}

func TestShadowReportHeartbeatsForEveryPageOfPredictions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0, 0)
	ctx := context.Background()
	champion, shadow := f.saveBare("champion"), f.saveBare("shadow")
	since := seedStart
	const rows = 2*registry.ShadowPageSize + 1 // three pages of one day
	batch := make([]registry.ShadowPrediction, 0, 250)
	for i := range rows {
		batch = append(batch, registry.ShadowPrediction{
			Model: "churn", ShadowVersion: shadow, At: since.Add(time.Duration(i) * time.Millisecond), RequestID: "r" + strconv.Itoa(i),
			ChampionVersion: champion, Generation: 1, ChampionClass: "false", ShadowClass: "false",
		})
		if len(batch) == cap(batch) || i == rows-1 {
			if err := f.reg.RecordShadowPredictions(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}

	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(f.acts)
	var beats []int64
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		var n int64
		if err := details.Get(&n); err != nil {
			t.Errorf("heartbeat details: %v", err)
		}
		beats = append(beats, n)
	})
	v, err := env.ExecuteActivity(f.acts.ShadowReport, activities.ShadowReportInput{Model: "churn", Version: shadow.String(), Since: since, To: since.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var ev activities.ShadowEvidence
	if err := v.Get(&ev); err != nil {
		t.Fatal(err)
	}
	if ev.Rows != rows {
		t.Fatalf("the report counted %d rows, want %d", ev.Rows, rows)
	}
	// The activity beats after every page (registry's
	// TestShadowReportReportsProgressAfterEveryPage counts them); the SDK
	// sends the first at once and throttles the rest to a fraction of the
	// heartbeat timeout, so here the first must come after one page: in
	// the middle of the read, not at its end.
	if len(beats) == 0 || beats[0] != registry.ShadowPageSize {
		t.Fatalf("heartbeats %v while reading %d rows in pages of %d: want the first after one page", beats, rows, registry.ShadowPageSize)
	}
}
