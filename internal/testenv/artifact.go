package testenv

import (
	"context"
	"testing"

	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// Artifact trains a small model of algorithm on made-up rows of schema and
// returns its artifact: bytes that decode, for tests that store versions a
// promotion must accept.
func Artifact(t testing.TB, algorithm string, schema trainer.Schema) []byte {
	t.Helper()
	tr, err := trainer.Lookup(algorithm)
	if err != nil {
		t.Fatal(err)
	}
	d := &trainer.Data{Schema: schema}
	for i := range 40 {
		row := make([]float64, len(schema.Features))
		for j, f := range schema.Features {
			if f.Kind == trainer.Categorical {
				row[j] = float64(i % len(f.Categories))
			} else {
				row[j] = float64(i%7) + float64(j)
			}
		}
		d.X = append(d.X, row)
		d.Y = append(d.Y, i%len(schema.Classes))
	}
	m, err := tr.Train(context.Background(), d, nil)
	if err != nil {
		t.Fatalf("train a %s model for a test artifact: %v", algorithm, err)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ChurnArtifact is Artifact of a logistic model on the example churn
// model's schema: a version that fits the example config.
func ChurnArtifact(t testing.TB) []byte {
	t.Helper()
	return Artifact(t, "logistic", (&dataset.Source{Model: ExampleModel(t, "churn")}).Schema())
}
