package activities_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// An external trainer's model file is read from run_data and checked
// against the SHA-256 and size the trainer returned before anything else: a
// mismatch fails the candidate for good and writes no version. A file that
// matches is checked as `models register` checks it and becomes the
// candidate's version with provenance source external (in a build that
// loads ONNX; otherwise the refusal says how to get one).
func TestImportExternalChecksTheFilesSHA256AndMakesTheCandidatesVersion(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 7, 300)
	m, err := testenv.ExampleConfig(t).Model("churn")
	if err != nil {
		t.Fatal(err)
	}
	m.Candidates = append(m.Candidates, config.Candidate{Name: "sklearn", Algorithm: config.AlgorithmExternal,
		External: &config.External{TaskQueue: "python-trainers", Activity: "train_sklearn", Format: "onnx"}})
	const runID = "external-run"
	rd := f.stage(runID, m, 1)
	file, err := os.ReadFile("../trainer/testdata/byom/churn_pipeline.onnx")
	if err != nil {
		t.Fatal(err)
	}
	in := activities.NewExternalTrainInput(m, &m.Candidates[len(m.Candidates)-1], week, runID, 1, &rd, f.keyspace, f.keyspace)
	if in.Rows.TrainRows != rd.TrainRows || in.Artifact.Part != "external/sklearn" || in.Artifact.RunID != runID {
		t.Fatalf("trainer input %+v", in)
	}
	half := len(file) / 2
	for i, part := range [][]byte{file[:half], file[half:]} {
		if err := f.reg.PutRunChunk(t.Context(), "churn", runID, in.Artifact.Part, 0, i, len(part), part); err != nil {
			t.Fatal(err)
		}
	}
	raw := sha256.Sum256(file)
	sum := hex.EncodeToString(raw[:])
	started := week.To.Add(time.Hour)
	imp := func(trained activities.ExternalTrained) (activities.Trained, error) {
		var tr activities.Trained
		err := f.execute(f.acts.ImportExternal, activities.ImportExternalInput{Model: "churn", Candidate: "sklearn", Window: week,
			WorkflowID: "wf", RunID: runID, StartedAt: started, Spec: m, Data: &rd, Trained: trained}, &tr)
		return tr, err
	}

	_, err = imp(activities.ExternalTrained{SHA256: strings.Repeat("0", 64), Size: int64(len(file)), Chunks: 2, Format: "onnx"})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || !app.NonRetryable() || app.Type() != activities.ErrTypeExternalArtifact ||
		!strings.Contains(err.Error(), "candidate sklearn (train_sklearn on python-trainers): model file of "+strconv.Itoa(len(file))+" bytes has SHA-256 "+sum) {
		t.Fatalf("a wrong SHA-256: %v; want a non-retryable refusal naming the candidate and both checksums", err)
	}
	if vs, err := f.reg.ListVersions(t.Context(), "churn", 10); err != nil || len(vs) != 0 {
		t.Fatalf("after the refusal: versions %v (%v); want none", vs, err)
	}

	tr, err := imp(activities.ExternalTrained{SHA256: sum, Size: int64(len(file)), Chunks: 2, Format: "onnx", Producer: "skl2onnx", Seconds: 2})
	if _, notBuilt := trainer.Lookup("onnx"); errors.Is(notBuilt, trainer.ErrONNXNotBuilt) {
		if err == nil || !strings.Contains(err.Error(), "build with -tags onnx") {
			t.Fatalf("in a build without onnx: %v; want the refusal saying how to build", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.reg.GetVersion(t.Context(), "churn", mustParse(t, tr.Version))
	if err != nil {
		t.Fatal(err)
	}
	var p registry.Provenance
	if err := json.Unmarshal(v.Provenance, &p); err != nil || p.Source != "external" || p.FileSHA256 != sum || p.Producer != "skl2onnx" ||
		v.Candidate != "sklearn" || v.RunID != runID || v.TrainRows != rd.TrainRows || len(v.Profile) == 0 || !v.WindowFrom.Equal(week.From) {
		t.Fatalf("version %+v, provenance %+v (%v)", v, p, err)
	}
	again, err := imp(activities.ExternalTrained{SHA256: sum, Size: int64(len(file)), Chunks: 2, Format: "onnx"})
	if err != nil || !again.Reused || again.Version != tr.Version {
		t.Fatalf("a retry: %+v, %v; want the same version reused", again, err)
	}
}
