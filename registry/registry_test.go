package registry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
)

func TestVersionIDIsAStableTimeUUID(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)
	a := registry.VersionID(at, "run-1/logistic")
	if a != registry.VersionID(at, "run-1/logistic") {
		t.Fatal("the same time and key must give the same id")
	}
	if a == registry.VersionID(at, "run-1/id3") || a == registry.VersionID(at.Add(time.Second), "run-1/logistic") {
		t.Fatal("a different key or time must give a different id")
	}
	if a.Version() != 1 || a.Variant() != gocql.VariantIETF {
		t.Fatalf("want a version-1 IETF UUID, got version %d variant %d", a.Version(), a.Variant())
	}
	if !a.Time().Equal(at) {
		t.Fatalf("the id's time is %s, want %s", a.Time(), at)
	}
}

func TestRollbackTargetWalksTheLedgerBack(t *testing.T) {
	v := func(n byte) gocql.UUID { return gocql.UUID{n} }
	row := func(gen int64, ver byte, a registry.Action) registry.Promotion {
		return registry.Promotion{Generation: gen, Version: v(ver), Action: a}
	}
	cases := []struct {
		name   string
		ledger []registry.Promotion // newest first
		want   byte
		none   bool
	}{
		{"one champion has nothing to roll back to", []registry.Promotion{row(1, 1, registry.ActionPromote)}, 0, true},
		{"two promotions roll back to the first", []registry.Promotion{row(2, 2, registry.ActionPromote), row(1, 1, registry.ActionPromote)}, 1, false},
		{"a second rollback goes further back, not forth", []registry.Promotion{
			row(3, 1, registry.ActionRollback), row(2, 2, registry.ActionManual), row(1, 1, registry.ActionPromote),
		}, 0, true},
		{"rollback after three promotions then another", []registry.Promotion{
			row(4, 2, registry.ActionRollback), row(3, 3, registry.ActionPromote), row(2, 2, registry.ActionPromote), row(1, 1, registry.ActionPromote),
		}, 1, false},
		{"a promotion after a rollback stacks on the restored one", []registry.Promotion{
			row(4, 4, registry.ActionPromote), row(3, 1, registry.ActionRollback), row(2, 2, registry.ActionPromote), row(1, 1, registry.ActionPromote),
		}, 1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := registry.RollbackTarget(tc.ledger)
			if tc.none {
				if !errors.Is(err, registry.ErrNoPrevious) {
					t.Fatalf("want ErrNoPrevious, got %v, %v", got, err)
				}
				return
			}
			if err != nil || got != v(tc.want) {
				t.Fatalf("want version %d, got %v, %v", tc.want, got, err)
			}
		})
	}
}

func newVersion(t *testing.T, reg *registry.Registry, model, key string, artifact []byte) *registry.Version {
	t.Helper()
	v := &registry.Version{
		Model: model, ID: registry.VersionID(time.Now(), key), Candidate: key, Algorithm: "logistic",
		Params: map[string]float64{"l2": 1}, RunID: "run-" + key, WorkflowID: "retrain-" + model,
		WindowFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), WindowTo: time.Date(2026, 1, 8, 0, 0, 0, 0, time.UTC),
		TrainRows: 900, HoldoutRows: 100, Metrics: []byte(`{"roc_auc":0.8}`),
	}
	if err := reg.SaveVersion(context.Background(), v, artifact); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRegistryAgainstCassandra(t *testing.T) {
	s, c := testenv.Cassandra(t)
	reg := registry.New(s, c.Keyspace, gocql.Serial)
	ctx := context.Background()

	t.Run("an artifact over several chunks reads back exactly and is verified", func(t *testing.T) {
		art := bytes.Repeat([]byte("kingmaker"), registry.ChunkSize/3) // ~3 MiB: 3 chunks
		v := newVersion(t, reg, "chunks", "a", art)
		if v.ArtifactChunks != 3 {
			t.Fatalf("want 3 chunks of at most 1 MiB, got %d", v.ArtifactChunks)
		}
		got, err := reg.GetVersion(ctx, "chunks", v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Params["l2"] != 1 || got.TrainRows != 900 || string(got.Metrics) != `{"roc_auc":0.8}` || !got.WindowTo.Equal(v.WindowTo) {
			t.Fatalf("metadata did not round-trip: %+v", got)
		}
		back, err := reg.LoadArtifact(ctx, got)
		if err != nil || !bytes.Equal(back, art) {
			t.Fatalf("artifact did not round-trip: %d bytes, %v", len(back), err)
		}
	})

	t.Run("a tampered chunk is refused, never returned", func(t *testing.T) {
		v := newVersion(t, reg, "tamper", "a", bytes.Repeat([]byte{1}, 1000))
		if err := s.Query(`UPDATE model_artifacts SET data = ? WHERE model = ? AND version = ? AND chunk = 0`,
			bytes.Repeat([]byte{2}, 1000), "tamper", v.ID).Exec(); err != nil {
			t.Fatal(err)
		}
		b, err := reg.LoadArtifact(ctx, v)
		if !errors.Is(err, registry.ErrCorruptArtifact) || b != nil {
			t.Fatalf("want ErrCorruptArtifact and no bytes, got %d bytes, %v", len(b), err)
		}
	})

	t.Run("a missing chunk is refused", func(t *testing.T) {
		v := newVersion(t, reg, "missing", "a", bytes.Repeat([]byte{1}, registry.ChunkSize+10))
		if err := s.Query(`DELETE FROM model_artifacts WHERE model = ? AND version = ? AND chunk = 1`, "missing", v.ID).Exec(); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.LoadArtifact(ctx, v); !errors.Is(err, registry.ErrCorruptArtifact) {
			t.Fatalf("want ErrCorruptArtifact, got %v", err)
		}
	})

	t.Run("saving a version again replaces it without stale chunks", func(t *testing.T) {
		v := newVersion(t, reg, "resave", "a", bytes.Repeat([]byte{1}, 2*registry.ChunkSize+1))
		v2 := *v
		if err := reg.SaveVersion(ctx, &v2, []byte("small")); err != nil {
			t.Fatal(err)
		}
		got, _ := reg.GetVersion(ctx, "resave", v.ID)
		back, err := reg.LoadArtifact(ctx, got)
		if err != nil || string(back) != "small" {
			t.Fatalf("got %q, %v", back, err)
		}
		list, err := reg.ListVersions(ctx, "resave", 10)
		if err != nil || len(list) != 1 {
			t.Fatalf("want exactly one version after a re-save, got %d, %v", len(list), err)
		}
	})

	t.Run("an unknown version is ErrNotFound", func(t *testing.T) {
		if _, err := reg.GetVersion(ctx, "nope", gocql.TimeUUID()); !errors.Is(err, registry.ErrNotFound) {
			t.Fatalf("want ErrNotFound, got %v", err)
		}
	})

	t.Run("promotion, a lost race, an idempotent retry and rollback", func(t *testing.T) {
		m := "lifecycle"
		v1 := newVersion(t, reg, m, "v1", []byte("one"))
		v2 := newVersion(t, reg, m, "v2", []byte("two"))
		v3 := newVersion(t, reg, m, "v3", []byte("three"))
		if c, err := reg.Champion(ctx, m); err != nil || c != nil {
			t.Fatalf("a new model has no champion, got %+v, %v", c, err)
		}
		if _, err := reg.Promote(ctx, registry.PromoteRequest{Model: m, Version: v1.ID, Action: registry.ActionPromote, By: "test"}); err == nil {
			t.Fatal("a promotion without a reason must be refused")
		}
		first, err := reg.Promote(ctx, registry.PromoteRequest{Model: m, Version: v1.ID, Action: registry.ActionPromote, By: "run", Reason: "first", RunID: "r1"})
		if err != nil || first.Generation != 1 {
			t.Fatalf("first promotion: %+v, %v", first, err)
		}
		// A second "first" promotion loses: the pointer exists now.
		_, err = reg.Promote(ctx, registry.PromoteRequest{Model: m, Version: v2.ID, Action: registry.ActionPromote, By: "other", Reason: "race", RunID: "r2"})
		var lost *registry.CASLostError
		if !errors.As(err, &lost) || lost.Current.Generation != 1 || lost.Current.Version != v1.ID {
			t.Fatalf("want a CASLostError naming generation 1, got %v", err)
		}
		req := registry.PromoteRequest{Model: m, Version: v2.ID, Expected: first, Action: registry.ActionPromote, By: "run", Reason: "better", RunID: "r3"}
		second, err := reg.Promote(ctx, req)
		if err != nil || second.Generation != 2 {
			t.Fatalf("second promotion: %+v, %v", second, err)
		}
		again, err := reg.Promote(ctx, req)
		if err != nil || again.Generation != 2 {
			t.Fatalf("retrying an applied promotion must report success, got %+v, %v", again, err)
		}
		// A stale writer (still expecting generation 1) loses.
		if _, err := reg.Promote(ctx, registry.PromoteRequest{Model: m, Version: v3.ID, Expected: first, Action: registry.ActionManual, By: "alice", Reason: "stale"}); !errors.Is(err, registry.ErrCASLost) {
			t.Fatalf("want ErrCASLost for a stale expectation, got %v", err)
		}
		third, err := reg.Promote(ctx, registry.PromoteRequest{Model: m, Version: v3.ID, Expected: second, Action: registry.ActionManual, By: "alice", Reason: "manual"})
		if err != nil || third.Generation != 3 {
			t.Fatalf("manual promotion: %+v, %v", third, err)
		}
		late, err := reg.Promote(ctx, req)
		if err != nil || late.Generation != 2 || late.Version != v2.ID || late.RunID != "r3" {
			t.Fatalf("a retry of a promotion that won, after someone else promoted, must report its own success at generation 2, got %+v, %v", late, err)
		}
		back, err := reg.Rollback(ctx, m, "bob", "v3 misbehaves")
		if err != nil || back.Version != v2.ID || back.Generation != 4 {
			t.Fatalf("rollback should restore v2 at generation 4, got %+v, %v", back, err)
		}
		back, err = reg.Rollback(ctx, m, "bob", "v2 too")
		if err != nil || back.Version != v1.ID || back.Generation != 5 {
			t.Fatalf("a second rollback should restore v1 at generation 5, got %+v, %v", back, err)
		}
		if _, err := reg.Rollback(ctx, m, "bob", "again"); !errors.Is(err, registry.ErrNoPrevious) {
			t.Fatalf("rolling back past the first champion: want ErrNoPrevious, got %v", err)
		}
		ledger, err := reg.History(ctx, m, 100)
		if err != nil || len(ledger) != 5 {
			t.Fatalf("want 5 ledger rows, got %d, %v", len(ledger), err)
		}
		if ledger[0].Action != registry.ActionRollback || ledger[0].PromotedBy != "bob" || ledger[0].PreviousVersion != v2.ID || ledger[4].Reason != "first" {
			t.Fatalf("ledger rows wrong: %+v", ledger)
		}
		cur, _ := reg.Champion(ctx, m)
		if cur.Version != ledger[0].Version || cur.Generation != ledger[0].Generation {
			t.Fatalf("pointer %+v and ledger head %+v disagree", cur, ledger[0])
		}
	})

	t.Run("of racing promotions from one generation exactly one wins", func(t *testing.T) {
		m := "race"
		base := newVersion(t, reg, m, "base", []byte("base"))
		first, err := reg.Promote(ctx, registry.PromoteRequest{Model: m, Version: base.ID, Action: registry.ActionPromote, By: "t", Reason: "base"})
		if err != nil {
			t.Fatal(err)
		}
		const racers = 50
		versions := make([]*registry.Version, racers)
		for i := range versions {
			versions[i] = newVersion(t, reg, m, fmt.Sprint("c", i), []byte{byte(i)})
		}
		var wg sync.WaitGroup
		wins := make(chan int, racers)
		errs := make(chan error, racers)
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := reg.Promote(ctx, registry.PromoteRequest{Model: m, Version: versions[i].ID, Expected: first,
					Action: registry.ActionPromote, By: fmt.Sprint("racer-", i), Reason: "race", RunID: fmt.Sprint("r", i)})
				switch {
				case err == nil:
					wins <- i
				case !errors.Is(err, registry.ErrCASLost):
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(wins)
		close(errs)
		for err := range errs {
			t.Errorf("a racer failed for another reason than losing: %v", err)
		}
		var winners []int
		for w := range wins {
			winners = append(winners, w)
		}
		if len(winners) != 1 {
			t.Fatalf("want exactly one winner, got %v", winners)
		}
		cur, _ := reg.Champion(ctx, m)
		if cur.Generation != 2 || cur.Version != versions[winners[0]].ID {
			t.Fatalf("pointer %+v is not the winner %d", cur, winners[0])
		}
		ledger, _ := reg.History(ctx, m, 10)
		if len(ledger) != 2 || ledger[0].Version != cur.Version {
			t.Fatalf("ledger should have the winner's row only: %+v", ledger)
		}
	})
}
