package workflows_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/registry"
)

// externalTrainer stands for an external trainer's activity (in another
// language), registered under externalTrainerName; tests mock it.
func externalTrainer(context.Context, activities.ExternalTrainInput) (*activities.ExternalTrained, error) {
	return nil, errors.New("not mocked")
}

const externalTrainerName = "train_sklearn"

// An external candidate is trained by the activity the config names, with
// the run's window, seed, sample rate and where its staged rows are (no
// rows), and its model file is imported by ImportExternal with the SHA-256
// the trainer returned; it then competes with Kingmaker's own candidates.
func TestAnExternalCandidateIsTrainedByItsActivityImportedAndCompetes(t *testing.T) {
	h := newHarness(t, func(m *config.Model) {
		m.Candidates = append(m.Candidates[:1], config.Candidate{Name: "sklearn", Algorithm: config.AlgorithmExternal,
			External: &config.External{TaskQueue: "python-trainers", Activity: "train_sklearn", Format: "onnx"}})
	})
	h.spec.Keyspace, h.spec.SourceKeyspace = "kingmaker", "events"
	var asked []activities.ExternalTrainInput
	h.env.OnActivity(externalTrainerName, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ExternalTrainInput) (*activities.ExternalTrained, error) {
		asked = append(asked, in)
		return &activities.ExternalTrained{SHA256: "c0ffee", Size: 1234, Chunks: 1, Format: "onnx", Producer: "skl2onnx", TrainRows: in.Rows.TrainRows}, nil
	})
	var imported []activities.ImportExternalInput
	h.env.OnActivity((&activities.Activities{}).ImportExternal, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ImportExternalInput) (*activities.Trained, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			imported = append(imported, in)
			v := registry.VersionID(in.StartedAt, in.RunID+"/"+in.Candidate).String()
			h.versions[v] = in.Candidate
			return &activities.Trained{Candidate: in.Candidate, Algorithm: "onnx", Version: v, TrainRows: in.Trained.TrainRows}, nil
		})
	h.scores = map[string]score{"logistic": {0.70, 0.75}, "sklearn": {0.86, 0.84}}
	res := h.mustRun(retrainInput())

	if res.Outcome != string(evaluator.OutcomePromote) || res.Winner != h.version("sklearn") {
		t.Fatalf("outcome %s, winner %s; want the external candidate %s promoted (reasons %q)", res.Outcome, res.Winner, h.version("sklearn"), res.Reasons)
	}
	if len(asked) != 1 || len(imported) != 1 || len(h.trained) != 1 || h.trained[0].Candidate != "logistic" {
		t.Fatalf("external activity asked %d times, imported %d, Kingmaker trained %+v; want each once", len(asked), len(imported), h.trained)
	}
	in := asked[0]
	if in.Model != "churn" || in.Candidate != "sklearn" || in.Format != "onnx" || in.Window != res.Window || in.Spec == nil || in.SourceKeyspace != "events" ||
		in.Seed == 0 || in.SampleRate != h.trained[0].SampleRate {
		t.Errorf("external input %+v", in)
	}
	if r := in.Rows; r.Keyspace != "kingmaker" || r.Table != "run_data" || r.ManifestSHA256 != "5ca1ab1e" || r.Part != "train" || r.TrainRows != 5250 {
		t.Errorf("rows %+v; want the run's staged training chunks", r)
	}
	if a := in.Artifact; a.Keyspace != "kingmaker" || a.Table != "run_data" || a.Part != "external/sklearn" || a.RunID != in.Rows.RunID || a.ChunkBytes <= 0 {
		t.Errorf("artifact %+v", a)
	}
	if im := imported[0]; im.Trained.SHA256 != "c0ffee" || im.Trained.Size != 1234 || im.Data == nil || im.Candidate != "sklearn" {
		t.Errorf("import %+v", im)
	}
	if len(res.Candidates) != 2 || res.Candidates[1].Name != "sklearn" || res.Candidates[1].Algorithm != config.AlgorithmExternal || res.Candidates[1].Stage != "trained" {
		t.Errorf("candidates %+v", res.Candidates)
	}
}

// An external trainer that fails fails its candidate only: Kingmaker's own
// candidates decide, and the run says why the external one is missing.
func TestAFailingExternalTrainerFailsOnlyItsCandidate(t *testing.T) {
	h := newHarness(t, func(m *config.Model) {
		m.Candidates = append(m.Candidates[:1], config.Candidate{Name: "sklearn", Algorithm: config.AlgorithmExternal,
			External: &config.External{TaskQueue: "python-trainers", Activity: externalTrainerName, Format: "onnx"}})
	})
	h.env.OnActivity(externalTrainerName, mock.Anything, mock.Anything).Return(nil,
		temporal.NewNonRetryableApplicationError("this trainer makes classifiers", "ApplicationError", nil))
	h.scores = map[string]score{"logistic": {0.78, 0.80}}
	res := h.mustRun(retrainInput())
	if res.Outcome != string(evaluator.OutcomePromote) || res.Winner != h.version("logistic") {
		t.Fatalf("outcome %s, winner %s; want logistic promoted (reasons %q)", res.Outcome, res.Winner, res.Reasons)
	}
	if !containsAny(res.Reasons, "candidate sklearn (external) failed: ") || !containsAny(res.Reasons, "this trainer makes classifiers") {
		t.Errorf("reasons %q do not say why sklearn is missing", res.Reasons)
	}
	if !h.env.AssertActivityNumberOfCalls(t, "ImportExternal", 0) {
		t.Error("ImportExternal ran for a trainer that failed")
	}
}
