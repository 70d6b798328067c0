package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/gocql/gocql"
)

// The rules a person's change of a pointer must pass, beside those Promote,
// Rollback and SetShadow check for every caller.
var (
	// ErrNeverEvaluated means a version has no holdout metrics: no run
	// judged it, so a person promotes it only on purpose (Force).
	ErrNeverEvaluated = errors.New("never evaluated (no holdout metrics)")
	// ErrAlreadyChampion means the version asked for is the champion now.
	ErrAlreadyChampion = errors.New("already the champion")
	// ErrShadowIsChampion means the version asked to be shadow is the
	// champion: a shadow is scored beside the champion, so it must differ.
	ErrShadowIsChampion = errors.New("the champion cannot be its own shadow")
)

// ManualPromotion is a person's request to make a version champion.
type ManualPromotion struct {
	Model   string
	Version gocql.UUID
	By      string
	Reason  string
	// Force promotes a version that was never evaluated.
	Force bool
}

// PromoteManually makes a version champion on a person's word, recorded as
// ActionManual. It refuses, in this order, a version that was never
// evaluated unless Force (ErrNeverEvaluated), one that cannot serve (see
// Servable; checked before the next rule so that a corrupt champion is
// called corrupt) and the champion itself (ErrAlreadyChampion); then it
// moves the pointer from the champion it read by Promote's compare-and-set.
func (r *Registry) PromoteManually(ctx context.Context, p ManualPromotion) (*Champion, error) {
	v, err := r.GetVersion(ctx, p.Model, p.Version)
	if err != nil {
		return nil, err
	}
	if len(v.Metrics) == 0 && !p.Force {
		return nil, fmt.Errorf("version %s of %s was %w", p.Version, p.Model, ErrNeverEvaluated)
	}
	if _, err := r.Servable(ctx, p.Model, p.Version); err != nil {
		return nil, fmt.Errorf("version %s cannot be promoted: %w", p.Version, err)
	}
	cur, err := r.Champion(ctx, p.Model)
	if err != nil {
		return nil, err
	}
	if cur != nil && cur.Version == p.Version {
		return nil, fmt.Errorf("version %s is %w of %s (generation %d)", p.Version, ErrAlreadyChampion, p.Model, cur.Generation)
	}
	return r.Promote(ctx, PromoteRequest{Model: p.Model, Version: p.Version, Expected: cur, Action: ActionManual, By: p.By, Reason: p.Reason})
}

// checkShadowNotChampion refuses to make the champion its own shadow.
func (r *Registry) checkShadowNotChampion(ctx context.Context, model string, version gocql.UUID) error {
	champ, err := r.Champion(ctx, model)
	if err != nil {
		return err
	}
	if champ != nil && champ.Version == version {
		return fmt.Errorf("version %s is the champion of %s: shadow a challenger instead (%w)", version, model, ErrShadowIsChampion)
	}
	return nil
}
