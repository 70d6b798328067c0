package config

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/kingmaker-ml/kingmaker/trainer"
)

func TestAnExternalCandidateParsesWithAlgorithmExternal(t *testing.T) {
	raw, err := os.ReadFile("../kingmaker.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b := strings.Replace(string(raw), "    candidates:\n",
		"    candidates:\n      - name: sklearn\n        external: {task_queue: python-trainers, activity: train_sklearn, format: onnx}\n", 1)
	cfg, err := Parse([]byte(b))
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Models[0].Candidates[0]
	if c.Name != "sklearn" || c.Algorithm != AlgorithmExternal || c.External == nil ||
		*c.External != (External{TaskQueue: "python-trainers", Activity: "train_sklearn", Format: "onnx"}) {
		t.Fatalf("candidate %+v", c)
	}
	err = cfg.Validate()
	_, onnxErr := trainer.Lookup("onnx")
	switch {
	case errors.Is(onnxErr, trainer.ErrONNXNotBuilt):
		want := "models[0].candidates[0].external.format: onnx files cannot be loaded by this build: onnx: this kingmaker was built without ONNX Runtime support: run scripts/onnxruntime.sh install and build with -tags onnx"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("without the onnx build: %v; want %q", err, want)
		}
	case err != nil:
		t.Fatalf("with the onnx build: %v", err)
	}
}

func TestExternalCandidateValidationNamesTheField(t *testing.T) {
	ext := func(e External) func(c *Candidate) {
		return func(c *Candidate) { c.Algorithm, c.External = AlgorithmExternal, &e }
	}
	cases := []struct {
		name   string
		mutate func(c *Candidate)
		want   string
	}{
		{"no task queue", ext(External{Activity: "train", Format: "xgboost"}),
			"models[0].candidates[0].external.task_queue: is required: the Temporal task queue the external trainer's worker polls"},
		{"no activity", ext(External{TaskQueue: "q", Format: "xgboost"}),
			"models[0].candidates[0].external.activity: is required: the activity type name the external trainer registered"},
		{"an unknown format", ext(External{TaskQueue: "q", Activity: "train", Format: "pickle"}),
			`models[0].candidates[0].external.format: must be onnx or xgboost (the model file the trainer returns), got "pickle"`},
		{"another algorithm", func(c *Candidate) {
			c.Algorithm, c.External = "logistic", &External{TaskQueue: "q", Activity: "train", Format: "xgboost"}
		}, `models[0].candidates[0].algorithm: must be empty or external for a candidate with external set, got "logistic"`},
		{"algorithm external without external", func(c *Candidate) { c.Algorithm, c.External = AlgorithmExternal, nil },
			"models[0].candidates[0].external: is required for algorithm external: set external.task_queue, external.activity and external.format"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadExample(t)
			tc.mutate(&cfg.Models[0].Candidates[0])
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error containing\n  %s\ngot\n  %v", tc.want, err)
			}
		})
	}
}
