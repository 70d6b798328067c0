package registry_test

import (
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/registry"
)

func TestStatusesComeFromThePointerAndTheLedger(t *testing.T) {
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	a, b, c, d := registry.VersionID(at, "a"), registry.VersionID(at, "b"), registry.VersionID(at, "c"), registry.VersionID(at, "d")
	// a promoted, b promoted over it, then rolled back to a: a champion,
	// b retired; c never promoted.
	ledger := []registry.Promotion{ // newest first
		{Generation: 3, Version: a, PreviousVersion: b, Action: registry.ActionRollback},
		{Generation: 2, Version: b, PreviousVersion: a, Action: registry.ActionPromote},
		{Generation: 1, Version: a, Action: registry.ActionPromote},
	}
	st := registry.Statuses(&registry.Champion{Version: a, Generation: 3}, ledger)
	for v, want := range map[gocql.UUID]registry.Status{a: registry.StatusChampion, b: registry.StatusRetired, c: registry.StatusCandidate} {
		if got := registry.StatusOf(st, v); got != want {
			t.Errorf("%s: %s, want %s", v, got, want)
		}
	}
	if got := registry.StatusOf(registry.Statuses(nil, nil), d); got != registry.StatusCandidate {
		t.Errorf("a model with no champion: %s, want candidate", got)
	}
}
