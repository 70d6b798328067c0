package registry_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
)

func TestShadowPointerAgainstCassandra(t *testing.T) {
	s, c := testenv.Cassandra(t)
	reg := registry.New(s, c.Keyspace, gocql.Serial)
	ctx := context.Background()
	since := time.Date(2026, 5, 1, 9, 30, 0, 123e6, time.UTC)

	t.Run("a model without a shadow has none", func(t *testing.T) {
		if sh, err := reg.Shadow(ctx, "quiet"); err != nil || sh != nil {
			t.Fatalf("got %+v, %v; want nil, nil", sh, err)
		}
	})

	t.Run("a shadow reads back as it was set and a second set replaces it", func(t *testing.T) {
		a, b := newVersion(t, reg, "set", "a", []byte("a")), newVersion(t, reg, "set", "b", []byte("b"))
		want := registry.Shadow{Model: "set", Version: a.ID, Since: since, Until: since.Add(6 * time.Hour), StartedBy: "run-1", Reason: "shadow period"}
		if err := reg.SetShadow(ctx, want); err != nil {
			t.Fatal(err)
		}
		if err := reg.SetShadow(ctx, want); err != nil {
			t.Fatalf("setting the same shadow again (a retried activity) failed: %v", err)
		}
		got, err := reg.Shadow(ctx, "set")
		if err != nil || got == nil || *got != want {
			t.Fatalf("got %+v, %v; want %+v", got, err, want)
		}
		manual := registry.Shadow{Model: "set", Version: b.ID, Since: since.Add(time.Hour), StartedBy: "alice@host", Reason: "try b"}
		if err := reg.SetShadow(ctx, manual); err != nil {
			t.Fatal(err)
		}
		if got, _ := reg.Shadow(ctx, "set"); got == nil || got.Version != b.ID || !got.Until.IsZero() || got.StartedBy != "alice@host" {
			t.Fatalf("after a second set got %+v, want version b, open-ended, by alice", got)
		}
	})

	t.Run("a version that does not exist cannot be shadowed", func(t *testing.T) {
		err := reg.SetShadow(ctx, registry.Shadow{Model: "set", Version: registry.VersionID(since, "ghost"), Since: since, StartedBy: "run-2", Reason: "shadow period"})
		if !errors.Is(err, registry.ErrNotFound) {
			t.Fatalf("want ErrNotFound, got %v", err)
		}
	})

	t.Run("a run clears only the shadow it set", func(t *testing.T) {
		v := newVersion(t, reg, "clear", "a", []byte("a"))
		if err := reg.SetShadow(ctx, registry.Shadow{Model: "clear", Version: v.ID, Since: since, StartedBy: "alice@host", Reason: "try a"}); err != nil {
			t.Fatal(err)
		}
		if ok, err := reg.ClearShadow(ctx, registry.ShadowClear{Model: "clear", StartedBy: "run-1", By: "run-1", Reason: "period over"}); err != nil || ok {
			t.Fatalf("run-1 cleared alice's shadow: %v, %v", ok, err)
		}
		if got, _ := reg.Shadow(ctx, "clear"); got == nil {
			t.Fatal("alice's shadow is gone")
		}
		if ok, err := reg.ClearShadow(ctx, registry.ShadowClear{Model: "clear", StartedBy: "alice@host", By: "alice@host", Reason: "done"}); err != nil || !ok {
			t.Fatalf("alice could not clear her own shadow: %v, %v", ok, err)
		}
		if got, _ := reg.Shadow(ctx, "clear"); got != nil {
			t.Fatalf("the shadow is still there: %+v", got)
		}
		if ok, err := reg.ClearShadow(ctx, registry.ShadowClear{Model: "clear", By: "bob@host", Reason: "tidy"}); err != nil || ok {
			t.Fatalf("clearing a model without a shadow reported %v, %v; want false, nil", ok, err)
		}
		// A shadow can be set again after a clear.
		if err := reg.SetShadow(ctx, registry.Shadow{Model: "clear", Version: v.ID, Since: since, StartedBy: "run-3", Reason: "shadow period"}); err != nil {
			t.Fatal(err)
		}
		if ok, err := reg.ClearShadow(ctx, registry.ShadowClear{Model: "clear", By: "bob@host", Reason: "tidy"}); err != nil || !ok {
			t.Fatalf("an unconditional clear reported %v, %v; want true", ok, err)
		}

		// Every set and clear is recorded with who and why; a clear needs both.
		if _, err := reg.ClearShadow(ctx, registry.ShadowClear{Model: "clear", By: "bob@host"}); err == nil {
			t.Fatal("a clear without a reason was accepted")
		}
		hist, err := reg.ShadowHistory(ctx, "clear", 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range hist {
			if h.Version != v.ID {
				t.Errorf("a change of %s names version %s, want %s", h.Action, h.Version, v.ID)
			}
			got = append(got, fmt.Sprintf("%s by %s: %s", h.Action, h.By, h.Reason))
		}
		// Newest first; only the clears that removed a pointer are there.
		want := []string{"clear by bob@host: tidy", "set by run-3: shadow period", "clear by alice@host: done", "set by alice@host: try a"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("shadow history\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

func TestShadowPredictionsAreCountedIntoAReport(t *testing.T) {
	s, c := testenv.Cassandra(t)
	reg := registry.New(s, c.Keyspace, gocql.Serial)
	ctx := context.Background()
	shadow := registry.VersionID(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), "shadow")
	other := registry.VersionID(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), "other")
	champ4 := registry.VersionID(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), "champion-4")
	champ5 := registry.VersionID(time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC), "champion-5")
	// Three days: 23:00 on May 1, then every hour into May 3.
	start := time.Date(2026, 5, 1, 23, 0, 0, 0, time.UTC)
	var rows []registry.ShadowPrediction
	score := 0.7
	for i := range 30 {
		p := registry.ShadowPrediction{
			Model: "churn", ShadowVersion: shadow, At: start.Add(time.Duration(i) * time.Hour), RequestID: fmt.Sprintf("req-%d", i/2), Row: i % 2,
			ChampionVersion: champ4, Generation: 4, ChampionClass: "false", ChampionScore: &score, ShadowClass: "false",
			Features: []byte(`{"tenure":3}`),
		}
		if i%5 == 0 {
			p.ShadowClass = "true" // 6 of 30 disagree
		}
		if i >= 20 {
			p.ChampionVersion, p.Generation = champ5, 5
		}
		if i%3 == 0 {
			p.RowID = fmt.Sprintf("row-%d", i)
		}
		rows = append(rows, p)
	}
	if err := reg.RecordShadowPredictions(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := reg.RecordShadowPredictions(ctx, rows[:4]); err != nil { // a rewrite does not duplicate
		t.Fatal(err)
	}
	noise := rows[0]
	noise.ShadowVersion = other
	if err := reg.RecordShadowPredictions(ctx, []registry.ShadowPrediction{noise}); err != nil {
		t.Fatal(err)
	}

	rep, err := reg.ShadowReport(ctx, "churn", shadow, start, start.Add(30*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 30 || rep.Agreed != 24 || rep.Agreement == nil || *rep.Agreement != 0.8 {
		t.Fatalf("report counts %d rows, %d agreed (%v), want 30 and 24 (0.8) across three day partitions", rep.Rows, rep.Agreed, rep.Agreement)
	}
	if len(rep.Champions) != 2 || rep.Champions[0].Version != champ4 || rep.Champions[0].Rows != 20 || rep.Champions[1].Generation != 5 || rep.Champions[1].Rows != 10 {
		t.Errorf("champions %+v, want generation 4 with 20 rows, then 5 with 10", rep.Champions)
	}
	if rep.KeyedRows != 10 || len(rep.Keyed) != 10 || rep.Keyed["row-0"].ShadowClass != "true" || *rep.Keyed["row-3"].ChampionScore != 0.7 || rep.Keyed["row-3"].ShadowScore != nil {
		t.Errorf("keyed rows %d %+v, want the 10 rows with an id and their predictions", rep.KeyedRows, rep.Keyed)
	}

	part, err := reg.ShadowReport(ctx, "churn", shadow, start.Add(2*time.Hour), start.Add(12*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if part.Rows != 10 {
		t.Errorf("a report over 10 hours counted %d rows, want 10: [from, to) by row time", part.Rows)
	}
	var got registry.ShadowPrediction
	err = reg.ShadowPredictions(ctx, "churn", shadow, start, start.Add(time.Hour), func(p *registry.ShadowPrediction) error { got = *p; return nil })
	if err != nil || got.RequestID != "req-0" || string(got.Features) != `{"tenure":3}` || !got.At.Equal(start) || got.RowID != "row-0" {
		t.Errorf("the first row read back as %+v, %v", got, err)
	}
	none, err := reg.ShadowReport(ctx, "churn", registry.VersionID(start, "never"), start, start.Add(30*time.Hour))
	if err != nil || none.Rows != 0 || none.Agreement != nil {
		t.Errorf("a version never shadowed: %+v, %v; want no rows and no agreement", none, err)
	}
}

func TestShadowReportReportsProgressAfterEveryPage(t *testing.T) {
	s, c := testenv.Cassandra(t)
	reg := registry.New(s, c.Keyspace, gocql.Serial)
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC)
	shadow, champ := registry.VersionID(start, "shadow"), registry.VersionID(start, "champion")
	// Two pages and one row on the first day, one row on the second.
	const firstDay = 2*registry.ShadowPageSize + 1
	var rows []registry.ShadowPrediction
	for i := range firstDay + 1 {
		at := start.Add(time.Duration(i) * time.Millisecond)
		if i == firstDay {
			at = start.Add(2 * time.Hour)
		}
		rows = append(rows, registry.ShadowPrediction{Model: "churn", ShadowVersion: shadow, At: at, RequestID: fmt.Sprint("r", i),
			ChampionVersion: champ, Generation: 1, ChampionClass: "false", ShadowClass: "true"})
	}
	for len(rows) > 0 {
		n := min(len(rows), 250)
		if err := reg.RecordShadowPredictions(ctx, rows[:n]); err != nil {
			t.Fatal(err)
		}
		rows = rows[n:]
	}
	var progress []int64
	rep, err := reg.ShadowReportProgress(ctx, "churn", shadow, start, start.Add(3*time.Hour), func(n int64) { progress = append(progress, n) })
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != firstDay+1 {
		t.Fatalf("counted %d rows, want %d", rep.Rows, firstDay+1)
	}
	want := []int64{registry.ShadowPageSize, 2 * registry.ShadowPageSize, firstDay, firstDay + 1}
	if fmt.Sprint(progress) != fmt.Sprint(want) {
		t.Fatalf("progress %v, want %v: after each used-up page and at the end of each day partition", progress, want)
	}
}

func TestARepeatedRowIDCannotOverrideTheRowFirstSeen(t *testing.T) {
	s, c := testenv.Cassandra(t)
	reg := registry.New(s, c.Keyspace, gocql.Serial)
	ctx := context.Background()
	shadow := registry.VersionID(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), "shadow")
	start := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	row := func(at time.Duration, id, shadowClass, actor string) registry.ShadowPrediction {
		return registry.ShadowPrediction{Model: "churn", ShadowVersion: shadow, At: start.Add(at), RequestID: id + actor, RowID: id,
			ChampionVersion: shadow, ChampionClass: "false", ShadowClass: shadowClass, Actor: actor}
	}
	// Real traffic first, then the same ids sent again with other answers.
	rows := []registry.ShadowPrediction{
		row(0, "r1", "false", "token:app"), row(time.Minute, "r2", "true", "token:app"),
		row(time.Hour, "r1", "true", "token:other"), row(2*time.Hour, "r2", "false", "token:other"), row(3*time.Hour, "r1", "true", "token:other"),
	}
	if err := reg.RecordShadowPredictions(ctx, rows); err != nil {
		t.Fatal(err)
	}
	rep, err := reg.ShadowReport(ctx, "churn", shadow, start, start.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Keyed["r1"].ShadowClass != "false" || rep.Keyed["r2"].ShadowClass != "true" {
		t.Errorf("keyed rows %+v: a later row with the same id replaced the first", rep.Keyed)
	}
	if rep.KeyedRows != 5 || rep.RepeatedIDs != 3 {
		t.Errorf("keyed rows %d, repeated ids %d; want 5 and 3", rep.KeyedRows, rep.RepeatedIDs)
	}
	var actors []string
	err = reg.ShadowPredictions(ctx, "churn", shadow, start, start.Add(24*time.Hour), func(p *registry.ShadowPrediction) error {
		actors = append(actors, p.Actor)
		return nil
	})
	if err != nil || fmt.Sprint(actors) != "[token:app token:app token:other token:other token:other]" {
		t.Errorf("actors read back %v, %v", actors, err)
	}
}

func TestARequestOfMoreThan65535ShadowRowsIsRecorded(t *testing.T) {
	s, c := testenv.Cassandra(t)
	reg := registry.New(s, c.Keyspace, gocql.Serial)
	ctx := context.Background()
	shadow := registry.VersionID(time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC), "shadow")
	at := time.Date(2026, 6, 2, 10, 0, 0, 0, time.UTC)
	const n = 70_000 // a batch holds at most 65,535 statements
	rows := make([]registry.ShadowPrediction, n)
	for i := range rows {
		rows[i] = registry.ShadowPrediction{Model: "churn", ShadowVersion: shadow, At: at, RequestID: "big", Row: i,
			ChampionVersion: shadow, ChampionClass: "false", ShadowClass: "false"}
	}
	if err := reg.RecordShadowPredictions(ctx, rows); err != nil {
		t.Fatalf("record %d rows of one request: %v", n, err)
	}
	rep, err := reg.ShadowReport(ctx, "churn", shadow, at, at.Add(time.Second))
	if err != nil || rep.Rows != n {
		t.Errorf("report of %d rows, %v; want all %d", rep.Rows, err, n)
	}
}
