package activities_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/trainer"
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

func TestPromoteAndSetShadowRefuseAVersionThatDoesNotFitForGood(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0, 0)
	f.reg.CheckVersionsWith(activities.FitsConfig(f.acts.Config))
	oneFeature := trainer.Schema{Features: []trainer.Feature{{Name: "tenure_months", Kind: trainer.Numeric}}, Classes: []string{"false", "true"}}
	v := &registry.Version{Model: "churn", ID: registry.VersionID(week.To, "misfit"), Candidate: "logistic", Algorithm: "logistic", RunID: "misfit"}
	if err := f.reg.SaveVersion(context.Background(), v, testenv.Artifact(t, "logistic", oneFeature)); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"Promote": func() error {
			return f.execute(f.acts.Promote, activities.PromoteInput{Model: "churn", Version: v.ID.String(), Action: registry.ActionPromote, By: "run", Reason: "won", RunID: "r"}, nil)
		},
		"SetShadow": func() error {
			return f.execute(f.acts.SetShadow, activities.SetShadowInput{Model: "churn", Version: v.ID.String(), Since: week.To, StartedBy: "run", Reason: "shadow"}, nil)
		},
	} {
		err := call()
		var app *temporal.ApplicationError
		if !errors.As(err, &app) || app.Type() != activities.ErrTypeInvalidSpec || !app.NonRetryable() || !strings.Contains(err.Error(), "it has 1 features, the config declares 9") {
			t.Errorf("%s of a version trained on one feature: %v, want a non-retryable InvalidSpec naming the mismatch", name, err)
		}
	}
	if c, err := f.reg.Champion(context.Background(), "churn"); err != nil || c != nil {
		t.Fatalf("the champion pointer moved to %+v (%v)", c, err)
	}
}
