package external_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/external"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

const byomDir = "../trainer/testdata/byom/"

func churn(t *testing.T) *config.Model {
	t.Helper()
	m, err := testenv.ExampleConfig(t).Model("churn")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(byomDir + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func input(t *testing.T, file string) external.Input {
	return external.Input{File: read(t, file), FileName: file, Format: external.FormatXGBoost, Candidate: "xgb-python",
		By: "alice", Reason: "notebook", Now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func TestCheckRefusesWhatCannotBeRegistered(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(in *external.Input)
		want string
	}{
		{"no candidate name", func(in *external.Input) { in.Candidate = "" }, "--candidate must be one word"},
		{"a candidate name with spaces", func(in *external.Input) { in.Candidate = "my model" }, "--candidate must be one word"},
		{"no reason", func(in *external.Input) { in.Reason = " " }, "--reason is required"},
		{"an empty file", func(in *external.Input) { in.File = nil }, "is empty"},
		{"an unknown format", func(in *external.Input) { in.Format = "pmml" }, `--format must be xgboost or onnx, got "pmml"`},
		{"an XGBoost file called onnx", func(in *external.Input) { in.Format = external.FormatONNX }, "is an XGBoost model, not ONNX: use --format xgboost"},
		{"a truncated onnx file", func(in *external.Input) {
			in.Format, in.File = external.FormatONNX, read(t, "churn_pipeline.onnx")[:900]
		}, "not a complete ONNX model"},
		{"a model of other classes", func(in *external.Input) { in.File = read(t, "churn_multiclass.json") }, "does not fit task binary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := input(t, "churn_good.json")
			tc.edit(&in)
			_, _, err := external.Check(churn(t), in)
			if !errors.Is(err, external.ErrInvalid) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line matching ErrInvalid with %q", err, tc.want)
			}
		})
	}
}

func TestCheckMakesAVersionWithProvenance(t *testing.T) {
	in := input(t, "churn_good.ubj")
	in.Expect = read(t, "churn_good_expect.csv")
	v, artifact, err := external.Check(churn(t), in)
	if _, lookup := trainer.Lookup("xgboost"); errors.Is(lookup, trainer.ErrXGBoostNotBuilt) {
		// The pure-Go build reads the file but refuses to load it, saying how to.
		if !errors.Is(err, trainer.ErrXGBoostNotBuilt) || !strings.Contains(err.Error(), "model file of xgboost 1.7.6") {
			t.Fatalf("pure-Go build: got %v, want the not-built refusal naming the producer", err)
		}
	} else {
		checkRegistered(t, in, v, artifact, err)
	}
}

func checkRegistered(t *testing.T, in external.Input, v *registry.Version, artifact []byte, err error) {
	t.Helper()
	var p registry.Provenance
	if err := json.Unmarshal(v.Provenance, &p); err != nil {
		t.Fatal(err)
	}
	if v.Model != "churn" || v.Candidate != "xgb-python" || v.Algorithm != "xgboost" || len(artifact) == 0 ||
		p.Format != trainer.FormatXGBoostUBJ || p.ProducerVersion != "1.7.6" || p.RegisteredBy != "alice" || p.Parity != "50 rows matched the producer's predictions within 1e-05" {
		t.Fatalf("version %+v, provenance %+v", v, p)
	}
	again, _, _ := external.Check(churn(t), in)
	if again.ID != v.ID {
		t.Fatalf("the same file at the same time gave ids %s and %s", v.ID, again.ID)
	}
}
