package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kingmaker-ml/kingmaker/external"
)

func runModelsRegister(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "models register")
	out := outputFlag(fs)
	file := fs.String("file", "", "the model file (required)")
	format := fs.String("format", "", "the file's format: xgboost (XGBoost JSON or UBJ) or onnx (required)")
	cand := fs.String("candidate", "", "a name for the version among the model's versions (required)")
	reason := fs.String("reason", "", "why it is registered (required, recorded as provenance)")
	expect := fs.String("expect", "", "a CSV of feature rows and the producer's own predictions; registration fails unless Kingmaker's match")
	by := fs.String("by", "", "who registers (default $USER@host; not allowed when a client certificate or temporal.identity names who acts)")
	pos, err := parseN(fs, args, 1, "exactly one MODEL")
	if err != nil {
		return err
	}
	switch {
	case *file == "":
		return usageError{"--file is required: the model file to register"}
	case *format == "":
		return usageError{"--format is required: xgboost or onnx"}
	case *cand == "":
		return usageError{"--candidate is required: a name for the version"}
	case *reason == "":
		return usageError{"--reason is required: it is recorded with the version"}
	}
	raw, err := os.ReadFile(*file)
	if err != nil {
		return fmt.Errorf("read the model file: %w", err)
	}
	var expected []byte
	if *expect != "" {
		if expected, err = os.ReadFile(*expect); err != nil {
			return fmt.Errorf("read the --expect file: %w", err)
		}
	}
	reg, m, who, done, err := openModelAs(ctx, e, pos[0], *by)
	if err != nil {
		return err
	}
	defer done()
	v, err := external.Register(ctx, reg, m, external.Input{
		File: raw, FileName: filepath.Base(*file), Format: *format, Candidate: *cand, By: who, Reason: *reason, Expect: expected,
	})
	if errors.Is(err, external.ErrInvalid) {
		return fmt.Errorf("%v (nothing registered)", err)
	}
	if err != nil {
		return err
	}
	if *out == "json" {
		return writeJSON(e.stdout, v)
	}
	fmt.Fprintln(e.stdout, v.ID)
	return nil
}
