package registry

import (
	"context"
	"fmt"
	"time"

	"github.com/gocql/gocql"
)

// Champion is the champion pointer of a model.
type Champion struct {
	Model      string     `json:"model"`
	Version    gocql.UUID `json:"version"`
	Generation int64      `json:"generation"`
	PromotedAt time.Time  `json:"promoted_at"`
	PromotedBy string     `json:"promoted_by"`
	Reason     string     `json:"reason"`
	RunID      string     `json:"run_id,omitempty"`
}

// Action says how a generation came to be.
type Action string

// Actions recorded in the promotion ledger.
const (
	ActionPromote  Action = "promote"  // a retrain run's decision
	ActionManual   Action = "manual"   // `kingmaker promote`
	ActionRollback Action = "rollback" // `kingmaker rollback`
)

// Promotion is one row of the append-only promotion ledger.
type Promotion struct {
	Model           string     `json:"model"`
	Generation      int64      `json:"generation"`
	Version         gocql.UUID `json:"version"`
	PreviousVersion gocql.UUID `json:"previous_version"`
	Action          Action     `json:"action"`
	PromotedAt      time.Time  `json:"promoted_at"`
	PromotedBy      string     `json:"promoted_by"`
	Reason          string     `json:"reason"`
	RunID           string     `json:"run_id,omitempty"`
}

// Champion returns the model's champion pointer, read at SERIAL consistency
// so it sees every committed compare-and-set; nil when the model has none.
func (r *Registry) Champion(ctx context.Context, model string) (*Champion, error) {
	c := &Champion{Model: model}
	var by, reason, run *string
	err := r.q(`SELECT version, generation, promoted_at, promoted_by, reason, run_id FROM %s.champions WHERE model = ?`, model).
		WithContext(ctx).Consistency(gocql.Consistency(r.serial)).
		Scan(&c.Version, &c.Generation, &c.PromotedAt, &by, &reason, &run)
	if err == gocql.ErrNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read champion of %s: %w", model, err)
	}
	c.PromotedBy, c.Reason, c.RunID = deref(by), deref(reason), deref(run)
	return c, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// PromoteRequest asks to move the champion pointer from what the caller last
// saw (Expected; nil when it saw no champion) to Version.
type PromoteRequest struct {
	Model    string
	Version  gocql.UUID
	Expected *Champion
	Action   Action
	By       string
	Reason   string
	RunID    string
}

// CASLostError is ErrCASLost with the pointer that won.
type CASLostError struct {
	Model   string
	Current *Champion // nil when the model still has no champion
	Wanted  PromoteRequest
}

func (e *CASLostError) Error() string {
	if e.Current == nil {
		return fmt.Sprintf("champion of %s changed concurrently: it now has none", e.Model)
	}
	return fmt.Sprintf("champion of %s changed concurrently: generation %d is now version %s, promoted by %s (%s)",
		e.Model, e.Current.Generation, e.Current.Version, e.Current.PromotedBy, e.Current.Reason)
}

func (e *CASLostError) Unwrap() error { return ErrCASLost }

// Promote moves the champion pointer by a lightweight transaction: the first
// champion with INSERT ... IF NOT EXISTS, later ones with UPDATE ... IF
// version = ? AND generation = ?, at the registry's serial consistency. Of
// two racing promotions from the same generation exactly one wins; the other
// gets a *CASLostError naming the winner. The version must be Servable.
//
// Promote is safe to retry: when the pointer already shows this very request
// applied (same version, generation, actor and run, e.g. after a timeout that
// hid a success) it reports success. The ledger row is written after the
// pointer, idempotently, so a retry also completes a missing ledger row.
func (r *Registry) Promote(ctx context.Context, req PromoteRequest) (*Champion, error) {
	if req.By == "" || req.Reason == "" {
		return nil, fmt.Errorf("promote %s: who (by) and why (reason) are required", req.Model)
	}
	if _, err := r.Servable(ctx, req.Model, req.Version); err != nil {
		return nil, fmt.Errorf("promote %s: %w", req.Model, err)
	}
	next := &Champion{
		Model: req.Model, Version: req.Version, Generation: 1, PromotedAt: time.Now().UTC().Truncate(time.Millisecond),
		PromotedBy: req.By, Reason: req.Reason, RunID: req.RunID,
	}
	var previous gocql.UUID
	var q *gocql.Query
	if req.Expected == nil {
		q = r.q(`INSERT INTO %s.champions (model, version, generation, promoted_at, promoted_by, reason, run_id)
			VALUES (?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
			req.Model, next.Version, next.Generation, next.PromotedAt, next.PromotedBy, next.Reason, next.RunID)
	} else {
		previous = req.Expected.Version
		next.Generation = req.Expected.Generation + 1
		q = r.q(`UPDATE %s.champions SET version = ?, generation = ?, promoted_at = ?, promoted_by = ?, reason = ?, run_id = ?
			WHERE model = ? IF version = ? AND generation = ?`,
			next.Version, next.Generation, next.PromotedAt, next.PromotedBy, next.Reason, next.RunID,
			req.Model, req.Expected.Version, req.Expected.Generation)
	}
	current := map[string]any{}
	applied, err := q.WithContext(ctx).SerialConsistency(r.serial).MapScanCAS(current)
	if err != nil {
		return nil, fmt.Errorf("promote %s to %s: %w", req.Model, req.Version, err)
	}
	if !applied {
		now, err := r.Champion(ctx, req.Model)
		if err != nil {
			return nil, err
		}
		if now == nil || !sameRequest(now, next) {
			return nil, &CASLostError{Model: req.Model, Current: now, Wanted: req}
		}
		next = now // our own earlier attempt won; finish its ledger row
	}
	if err := r.q(`INSERT INTO %s.promotions (model, generation, version, previous_version, action, promoted_at, promoted_by, reason, run_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		req.Model, next.Generation, next.Version, nullUUID(previous), string(req.Action), next.PromotedAt, next.PromotedBy, next.Reason, next.RunID).
		WithContext(ctx).Exec(); err != nil {
		return nil, fmt.Errorf("champion of %s is now generation %d but its ledger row was not written (retry to complete it): %w", req.Model, next.Generation, err)
	}
	return next, nil
}

func sameRequest(now, want *Champion) bool {
	return now.Version == want.Version && now.Generation == want.Generation &&
		now.PromotedBy == want.PromotedBy && now.RunID == want.RunID && now.Reason == want.Reason
}

func nullUUID(u gocql.UUID) any {
	if u == (gocql.UUID{}) {
		return nil
	}
	return u
}

// History returns the promotion ledger of a model, newest first.
func (r *Registry) History(ctx context.Context, model string, limit int) ([]Promotion, error) {
	iter := r.q(`SELECT generation, version, previous_version, action, promoted_at, promoted_by, reason, run_id
		FROM %s.promotions WHERE model = ? LIMIT ?`, model, limit).WithContext(ctx).Iter()
	var out []Promotion
	for {
		p := Promotion{Model: model}
		var action string
		var run *string
		if !iter.Scan(&p.Generation, &p.Version, &p.PreviousVersion, &action, &p.PromotedAt, &p.PromotedBy, &p.Reason, &run) {
			break
		}
		p.Action, p.RunID = Action(action), deref(run)
		out = append(out, p)
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("read promotion history of %s: %w", model, err)
	}
	return out, nil
}

// RollbackTarget walks the ledger back: promotions push a version, rollbacks
// pop one, so the target is the version under the current one. Rolling back
// twice goes back two champions, not back and forth.
func RollbackTarget(ledger []Promotion) (gocql.UUID, error) {
	var stack []gocql.UUID
	for i := len(ledger) - 1; i >= 0; i-- { // ledger is newest first
		p := ledger[i]
		if p.Action == ActionRollback {
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			// The ledger row names the version restored; trust it where the
			// stack disagrees (a ledger read with a LIMIT lacks its oldest rows).
			if len(stack) == 0 {
				stack = append(stack, p.Version)
			}
			stack[len(stack)-1] = p.Version
			continue
		}
		stack = append(stack, p.Version)
	}
	if len(stack) < 2 {
		return gocql.UUID{}, ErrNoPrevious
	}
	return stack[len(stack)-2], nil
}

// Rollback makes the previous champion current again through the same
// compare-and-set as any promotion, recording who and why. It refuses a
// previous champion whose artifact no longer verifies.
func (r *Registry) Rollback(ctx context.Context, model, by, reason string) (*Champion, error) {
	cur, err := r.Champion(ctx, model)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return nil, fmt.Errorf("rollback %s: %w: the model has no champion", model, ErrNoPrevious)
	}
	ledger, err := r.History(ctx, model, 10000)
	if err != nil {
		return nil, err
	}
	want := PromoteRequest{Model: model, Expected: cur, Action: ActionRollback, By: by, Reason: reason}
	if len(ledger) > 0 && ledger[0].Generation > cur.Generation {
		// Someone promoted between the two reads: a lost race, not a gap.
		now, err := r.Champion(ctx, model)
		if err != nil {
			return nil, err
		}
		return nil, &CASLostError{Model: model, Current: now, Wanted: want}
	}
	if len(ledger) == 0 || ledger[0].Generation != cur.Generation {
		return nil, fmt.Errorf("rollback %s: the ledger does not end at generation %d: retry the last promotion to complete it", model, cur.Generation)
	}
	target, err := RollbackTarget(ledger)
	if err != nil {
		return nil, fmt.Errorf("rollback %s: %w: generation %d is the first champion", model, err, cur.Generation)
	}
	// Never restore a version that cannot be served.
	if _, err := r.Servable(ctx, model, target); err != nil {
		return nil, fmt.Errorf("rollback %s: version %s cannot be champion again: %w", model, target, err)
	}
	want.Version = target
	return r.Promote(ctx, want)
}
