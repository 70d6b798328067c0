package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/kingmaker-ml/kingmaker/config"
)

// ExampleConfig is kingmaker.example.yaml, parsed with its defaults: the demo's
// churn model, which the demo data fits. Each call returns a fresh copy to
// change at will.
func ExampleConfig(t testing.TB) *config.Config {
	t.Helper()
	_, here, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testenv: cannot locate the repository")
	}
	path := filepath.Join(filepath.Dir(here), "..", "..", "kingmaker.example.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the example config: %v", err)
	}
	cfg, err := config.Parse(b)
	if err != nil {
		t.Fatalf("parse the example config: %v", err)
	}
	return cfg
}

// ExampleModel is the example config's model of that name.
func ExampleModel(t testing.TB, name string) *config.Model {
	t.Helper()
	m, err := ExampleConfig(t).Model(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
