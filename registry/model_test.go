package registry_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

func TestLoadModelDecodesAVersionOnlyWhenItsArtifactHoldsTheAlgorithmItsRowNames(t *testing.T) {
	s, c := testenv.Cassandra(t)
	reg := registry.New(s, c.Keyspace, gocql.Serial)
	ctx := context.Background()
	schema := trainer.Schema{Features: []trainer.Feature{{Name: "tenure", Kind: trainer.Numeric}}, Classes: []string{"no", "yes"}}

	cases := []struct {
		name     string
		artifact []byte
		want     string // "" when it loads
	}{
		{"a logistic artifact under a logistic row loads", testenv.Artifact(t, "logistic", schema), ""},
		{"an id3 artifact under a logistic row is refused", testenv.Artifact(t, "id3", schema), "the artifact holds a id3 model, the version row says logistic"},
		{"bytes that verify but do not decode are refused", []byte("not a model"), "decode version"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			model := "load" + string(rune('a'+i))
			v := newVersion(t, reg, model, "a", tc.artifact) // a logistic row
			got, m, err := reg.LoadModel(ctx, model, v.ID)
			if tc.want == "" {
				if err != nil || m == nil || m.Algorithm() != "logistic" || got.ID != v.ID {
					t.Fatalf("want the logistic model of version %s, got %v, %v", v.ID, m, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || m != nil {
				t.Fatalf("want an error containing %q and no model, got %v, %v", tc.want, m, err)
			}
		})
	}

	t.Run("a version that does not exist is ErrNotFound", func(t *testing.T) {
		if _, _, err := reg.LoadModel(ctx, "load-none", gocql.TimeUUID()); !errors.Is(err, registry.ErrNotFound) {
			t.Fatalf("want ErrNotFound, got %v", err)
		}
	})
}
