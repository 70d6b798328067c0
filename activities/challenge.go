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
	// HasProfile is false for a version without a reference profile (one
	// registered from a file): the run profiles it (ProfileChallenger).
	HasProfile bool `json:"has_profile"`
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
	return &Challenger{Version: v.ID.String(), Candidate: v.Candidate, Algorithm: v.Algorithm, Registered: len(v.Provenance) > 0, HasProfile: len(v.Profile) > 0}, nil
}

// ProfileInput names a version without a reference profile and the run data to profile it on.
type ProfileInput struct {
	Model   string   `json:"model"`
	Version string   `json:"version"`
	Data    *RunData `json:"data"`
}

// ProfileChallenger gives a version that has no reference profile (one registered from a file:
// Kingmaker never saw its training rows) the profile of the challenge run's training sample and
// the version's predictions on it, so that drift checks have a reference once it is champion. It
// writes only the profile column (which the version's identity hash leaves out); a retry writes
// the same profile again.
func (a *Activities) ProfileChallenger(ctx context.Context, in ProfileInput) error {
	m, id, err := a.modelVersion(in.Model, in.Version)
	if err != nil {
		return err
	}
	if in.Data == nil {
		return nonRetryable(ErrTypeInvalidSpec, fmt.Errorf("no run data to profile version %s on", in.Version))
	}
	_, model, err := a.Registry.LoadModel(ctx, m.Name, id)
	if err != nil {
		return classify(err)
	}
	data, _, err := a.loadRunTrain(ctx, m, in.Data)
	if err != nil {
		return classify(err)
	}
	profile, err := buildProfile(data, model)
	if err != nil {
		return classify(err)
	}
	return a.Registry.SetProfile(ctx, m.Name, id, profile)
}
