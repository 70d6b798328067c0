package activities

import (
	"context"
	"errors"
	"fmt"

	"github.com/kingmaker-ml/kingmaker/registry"
)

// ChallengerInput names the version a challenge run judges.
type ChallengerInput struct {
	Model   string `json:"model"`
	Version string `json:"version"`
}

// Challenger is what a challenge run shows of its version.
type Challenger struct {
	Version   string `json:"version"`
	Candidate string `json:"candidate"`
	Algorithm string `json:"algorithm"`
	// Registered is true for a version registered from a file (it has provenance).
	Registered bool `json:"registered"`
}

// ChallengerVersion checks that the version a challenge run names exists and can serve its model
// as this worker's config declares it (registry.Servable: hashes, decoding, features and classes),
// and returns what the run shows of it. A version that does not exist or cannot serve is a
// non-retryable error naming it.
func (a *Activities) ChallengerVersion(ctx context.Context, in ChallengerInput) (*Challenger, error) {
	m, id, err := a.modelVersion(in.Model, in.Version)
	if err != nil {
		return nil, err
	}
	v, err := a.Registry.Servable(ctx, m.Name, id)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return nil, nonRetryable(ErrTypeInvalidSpec, fmt.Errorf("model %s has no version %s (see kingmaker models list %s)", m.Name, in.Version, m.Name))
	case errors.Is(err, registry.ErrNotServable):
		return nil, nonRetryable(ErrTypeInvalidSpec, err)
	case err != nil:
		return nil, classify(err)
	}
	return &Challenger{Version: v.ID.String(), Candidate: v.Candidate, Algorithm: v.Algorithm, Registered: len(v.Provenance) > 0}, nil
}
