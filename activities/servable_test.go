package activities_test

import (
	"strings"
	"testing"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
)

func TestFitsConfigRefusesAVersionTheModelCannotServe(t *testing.T) {
	cfg := testenv.ExampleConfig(t)
	m, err := cfg.Model("churn")
	if err != nil {
		t.Fatal(err)
	}
	schema := (&dataset.Source{Model: m}).Schema()
	fewer := schema
	fewer.Features = schema.Features[:len(schema.Features)-1]
	renamed := schema
	renamed.Classes = []string{"no", "yes"}
	check := activities.FitsConfig(cfg)
	cases := []struct {
		name      string
		algorithm string // in the version row
		artifact  []byte
		want      string // "" when it fits
	}{
		{"a version trained on the configured features and classes fits", "logistic", testenv.Artifact(t, "logistic", schema), ""},
		{"a version trained on one feature fewer does not", "logistic", testenv.Artifact(t, "logistic", fewer), "features, the config declares"},
		{"a version trained on other classes does not", "logistic", testenv.Artifact(t, "logistic", renamed), "classes are [no yes] in the version"},
		{"an artifact that does not decode does not, though its hash may verify", "logistic", []byte("not a model"), "does not decode"},
		{"an artifact of another algorithm than its row names does not", "id3", testenv.Artifact(t, "logistic", schema), "holds a logistic model, the version row says id3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := check(&registry.Version{Model: "churn", Algorithm: c.algorithm}, c.artifact)
			if c.want == "" {
				if err != nil {
					t.Fatalf("want it to fit, got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error saying %q, got %v", c.want, err)
			}
		})
	}
	if err := check(&registry.Version{Model: "nope", Algorithm: "logistic"}, nil); err == nil || !strings.Contains(err.Error(), `model "nope" is not in the config`) {
		t.Fatalf("a version of an unconfigured model: got %v", err)
	}
}
