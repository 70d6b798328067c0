package registry_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
)

func TestAPersonsPromotionAndShadowPassTheRegistrysGuards(t *testing.T) {
	s, c := testenv.Cassandra(t)
	reg := registry.New(s, c.Keyspace, gocql.Serial)
	ctx := context.Background()
	const m = "guards"
	evaluated := newVersion(t, reg, m, "evaluated", []byte("a"))
	challenger := newVersion(t, reg, m, "challenger", []byte("b"))
	unevaluated := &registry.Version{Model: m, ID: registry.VersionID(time.Now(), "unevaluated"), Candidate: "unevaluated", Algorithm: "logistic", RunID: "run-u"}
	if err := reg.SaveVersion(ctx, unevaluated, []byte("c")); err != nil {
		t.Fatal(err)
	}
	corrupt := newVersion(t, reg, m, "corrupt", []byte("d"))
	if err := s.Query(`UPDATE model_artifacts SET data = ? WHERE model = ? AND version = ? AND chunk = 0`, []byte("x"), m, corrupt.ID).Exec(); err != nil {
		t.Fatal(err)
	}
	promote := func(v gocql.UUID, force bool) (*registry.Champion, error) {
		return reg.PromoteManually(ctx, registry.ManualPromotion{Model: m, Version: v, By: "alice", Reason: "test", Force: force})
	}

	t.Run("a version never evaluated is refused without force", func(t *testing.T) {
		_, err := promote(unevaluated.ID, false)
		if !errors.Is(err, registry.ErrNeverEvaluated) || !strings.Contains(err.Error(), "of guards was never evaluated") {
			t.Fatalf("want ErrNeverEvaluated naming the version, got %v", err)
		}
	})
	t.Run("a version whose artifact does not verify is refused", func(t *testing.T) {
		_, err := promote(corrupt.ID, true)
		if !errors.Is(err, registry.ErrCorruptArtifact) || !strings.Contains(err.Error(), "cannot be promoted") {
			t.Fatalf("want ErrCorruptArtifact, got %v", err)
		}
	})
	t.Run("an evaluated version becomes champion from the one it read", func(t *testing.T) {
		ch, err := promote(evaluated.ID, false)
		if err != nil || ch.Generation != 1 || ch.PromotedBy != "alice" {
			t.Fatalf("got %+v, %v; want generation 1 by alice", ch, err)
		}
		hist, err := reg.History(ctx, m, 1)
		if err != nil || len(hist) != 1 || hist[0].Action != registry.ActionManual {
			t.Fatalf("ledger %+v, %v: want one manual promotion", hist, err)
		}
	})
	t.Run("the champion is refused as champion again", func(t *testing.T) {
		_, err := promote(evaluated.ID, false)
		if !errors.Is(err, registry.ErrAlreadyChampion) || !strings.Contains(err.Error(), "is already the champion of guards (generation 1)") {
			t.Fatalf("want ErrAlreadyChampion, got %v", err)
		}
	})
	t.Run("with force a never-evaluated version is promoted", func(t *testing.T) {
		if ch, err := promote(unevaluated.ID, true); err != nil || ch.Generation != 2 {
			t.Fatalf("got %+v, %v; want generation 2", ch, err)
		}
	})

	since := time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC)
	t.Run("the champion cannot be its own shadow, on any path", func(t *testing.T) {
		err := reg.SetShadow(ctx, registry.Shadow{Model: m, Version: unevaluated.ID, Since: since, StartedBy: "run-1", Reason: "shadow period"})
		if !errors.Is(err, registry.ErrShadowIsChampion) || !strings.Contains(err.Error(), "is the champion of guards: shadow a challenger") {
			t.Fatalf("want ErrShadowIsChampion, got %v", err)
		}
	})
	t.Run("a shadow without a reason is refused", func(t *testing.T) {
		err := reg.SetShadow(ctx, registry.Shadow{Model: m, Version: challenger.ID, Since: since, StartedBy: "alice"})
		if err == nil || !strings.Contains(err.Error(), "why (reason)") {
			t.Fatalf("want the missing reason named, got %v", err)
		}
	})
	t.Run("a challenger with a reason becomes the shadow", func(t *testing.T) {
		if err := reg.SetShadow(ctx, registry.Shadow{Model: m, Version: challenger.ID, Since: since, StartedBy: "alice", Reason: "try it"}); err != nil {
			t.Fatal(err)
		}
	})
}
