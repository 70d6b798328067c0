// Package external registers model versions made outside Kingmaker's trainers: a model file
// trained elsewhere (Python's xgboost, JSON or UBJ) becomes a version of a configured model, with
// its provenance, after its feature contract and, when the producer's own predictions are given,
// its predictions are checked. It also takes ONNX models (scikit-learn pipelines converted by
// skl2onnx) in a build with the onnx tag. It owns the checks and the order they run in (everything is checked
// before anything is written); trainer reads and loads the file (XGBoost JSON or UBJ through
// libxgboost, ONNX through ONNX Runtime), registry stores the version.
//
// A registered version is a candidate like any other: it has no holdout metrics, so it becomes
// champion only through a challenge run (workflows.ChallengeWorkflow), which compares it with the
// champion on the same holdout rows by the model's policy, or by `kingmaker promote --force`.
package external

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// The formats Register reads.
const (
	FormatXGBoost = "xgboost"
	FormatONNX    = "onnx"
)

// ErrInvalid wraps every refusal of Register's input; nothing was written.
var ErrInvalid = errors.New("cannot register")

// Input is one model file to register.
type Input struct {
	// File is the model file's bytes; FileName is only recorded.
	File     []byte
	FileName string
	// Format is FormatXGBoost or FormatONNX, as the user says it is.
	Format string
	// Candidate names the version among the model's versions (like a config candidate).
	Candidate string
	By        string
	Reason    string
	// Expect, when set, is the producer's own predictions (trainer.ReadExpected's CSV): the
	// version is registered only when Kingmaker's predictions match them.
	Expect []byte
	// Now is the registration time (the version id's time).
	Now time.Time
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Check reads and checks in against model m without writing anything, and returns the version it
// would register with its artifact.
func Check(m *config.Model, in Input) (*registry.Version, []byte, error) {
	switch {
	case strings.TrimSpace(in.Candidate) == "" || strings.ContainsAny(in.Candidate, " \t\n"):
		return nil, nil, invalidf("--candidate must be one word naming the version, got %q", in.Candidate)
	case strings.TrimSpace(in.Reason) == "":
		return nil, nil, invalidf("--reason is required: say why this model is registered")
	case len(in.File) == 0:
		return nil, nil, invalidf("the model file %s is empty", in.FileName)
	}
	schema := (&dataset.Source{Model: m}).Schema()
	var (
		model trainer.Model
		info  *trainer.FileInfo
		err   error
		tol   = trainer.XGBoostParityTolerance
	)
	switch in.Format {
	case FormatXGBoost:
		model, info, err = trainer.ImportXGBoost(schema, in.File)
	case FormatONNX:
		if _, xerr := trainer.ReadXGBoostFile(in.File); xerr == nil {
			return nil, nil, invalidf("%s is an XGBoost model, not ONNX: use --format xgboost", in.FileName)
		}
		model, info, err = trainer.ImportONNX(schema, in.File)
		tol = trainer.ONNXParityTolerance
	default:
		return nil, nil, invalidf("--format must be xgboost or onnx, got %q", in.Format)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s for model %s: %w", ErrInvalid, in.FileName, m.Name, err)
	}
	parity := ""
	if in.Expect != nil {
		e, err := trainer.ReadExpected(bytes.NewReader(in.Expect), schema)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if err := trainer.CheckParity(model, e, tol); err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %w", ErrInvalid, in.FileName, err)
		}
		parity = fmt.Sprintf("%d rows matched the producer's predictions within %g", len(e.X), tol)
	}
	artifact, err := model.MarshalBinary()
	if err != nil {
		return nil, nil, fmt.Errorf("encode %s: %w", in.FileName, err)
	}
	sum := sha256.Sum256(in.File)
	fileSHA := hex.EncodeToString(sum[:])
	prov, err := json.Marshal(registry.Provenance{
		Source: "file", FileName: in.FileName, FileSHA256: fileSHA, FileSize: int64(len(in.File)), Format: info.Format,
		Producer: info.Producer, ProducerVersion: info.ProducerVersion, RegisteredBy: in.By, Reason: in.Reason, Parity: parity,
	})
	if err != nil {
		return nil, nil, err
	}
	schemaJSON, err := json.Marshal(model.Schema())
	if err != nil {
		return nil, nil, err
	}
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	v := &registry.Version{
		Model: m.Name, ID: registry.VersionID(now, "register/"+in.Candidate+"/"+fileSHA), Candidate: in.Candidate,
		Algorithm: model.Algorithm(), Params: model.Params(), Schema: schemaJSON, Provenance: prov, CreatedAt: now.UTC(),
	}
	return v, artifact, nil
}

// Register checks in (Check) and stores the version; it returns the stored version.
func Register(ctx context.Context, reg *registry.Registry, m *config.Model, in Input) (*registry.Version, error) {
	v, artifact, err := Check(m, in)
	if err != nil {
		return nil, err
	}
	if err := reg.SaveVersion(ctx, v, artifact); err != nil {
		return nil, err
	}
	return v, nil
}

// Made is a model file an external trainer made for a candidate of a retrain run
// (config candidates[].external).
type Made struct {
	File   []byte
	Format string
	// Candidate is the config candidate; Trainer names who made it ("activity on task queue").
	Candidate string
	Trainer   string
	// ID is the version id the run fixes for the candidate.
	ID                gocql.UUID
	RunID, WorkflowID string
	Window            dataset.Window
	TrainRows         int64
	TrainSeconds      float64
	Now               time.Time
	// Expect, when set, is the trainer's own predictions (as Input.Expect).
	Expect []byte
}

// CheckMade reads and checks a model file an external trainer made, as Check does a registered
// file (the same feature contract checks), and returns the version it becomes, with provenance
// source "external", the run's window and its training rows.
func CheckMade(m *config.Model, mk Made) (*registry.Version, []byte, error) {
	v, artifact, err := Check(m, Input{File: mk.File, FileName: mk.Trainer, Format: mk.Format, Candidate: mk.Candidate,
		By: mk.Trainer, Reason: "candidate " + mk.Candidate + " of run " + mk.RunID, Now: mk.Now, Expect: mk.Expect})
	if err != nil {
		return nil, nil, err
	}
	var p registry.Provenance
	if err := json.Unmarshal(v.Provenance, &p); err != nil {
		return nil, nil, err
	}
	p.Source, p.FileName = "external", ""
	if v.Provenance, err = json.Marshal(p); err != nil {
		return nil, nil, err
	}
	v.ID, v.RunID, v.WorkflowID = mk.ID, mk.RunID, mk.WorkflowID
	v.WindowFrom, v.WindowTo, v.TrainRows, v.TrainSeconds = mk.Window.From, mk.Window.To, mk.TrainRows, mk.TrainSeconds
	return v, artifact, nil
}
