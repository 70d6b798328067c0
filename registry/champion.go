package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
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
	// ActionRecovered marks a ledger row rebuilt when the ledger moved into
	// the champion's partition (schema migration 3): the old two-write
	// promotion had lost it. It counts as a promotion.
	ActionRecovered Action = "recovered"
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
	// RequestID names the request that wrote the row (see
	// PromoteRequest.RequestID); empty on rows from before it was recorded.
	RequestID string `json:"request_id,omitempty"`
}

// The champion pointer and the promotion ledger share one partition of
// champion_ledger ((model), generation DESC): the pointer is the static
// columns champion_version and champion_generation, the ledger is one row per
// generation. A promotion is a single conditional UPDATE of that partition
// setting the pointer and writing the ledger row of the new generation, so
// the two commit together or not at all: there is no moment, and no crash,
// after which the pointer names a generation the ledger lacks.
const ledgerColumns = `generation, version, previous_version, action, promoted_at, promoted_by, reason, run_id, request_id`

// ledgerRow scans one row of ledgerColumns, preceded by the static pointer
// columns when withPointer is set. Every column may be null: a partition
// holding only the pointer (which Kingmaker never writes) comes back as one
// row with a nil generation.
type ledgerRow struct {
	pointerVersion    *gocql.UUID
	pointerGeneration *int64
	generation        *int64
	version, previous *gocql.UUID
	action            *string
	promotedAt        *time.Time
	by, reason, run   *string
	request           *string
}

func (l *ledgerRow) dest(withPointer bool) []any {
	d := []any{&l.generation, &l.version, &l.previous, &l.action, &l.promotedAt, &l.by, &l.reason, &l.run, &l.request}
	if withPointer {
		d = append([]any{&l.pointerVersion, &l.pointerGeneration}, d...)
	}
	return d
}

func (l *ledgerRow) promotion(model string) Promotion {
	p := Promotion{Model: model, Action: Action(deref(l.action)), PromotedBy: deref(l.by), Reason: deref(l.reason), RunID: deref(l.run), RequestID: deref(l.request)}
	if l.generation != nil {
		p.Generation = *l.generation
	}
	if l.version != nil {
		p.Version = *l.version
	}
	if l.previous != nil {
		p.PreviousVersion = *l.previous
	}
	if l.promotedAt != nil {
		p.PromotedAt = *l.promotedAt
	}
	return p
}

// champion is the pointer as the row of its generation describes it.
func (p Promotion) champion() *Champion {
	return &Champion{Model: p.Model, Version: p.Version, Generation: p.Generation, PromotedAt: p.PromotedAt,
		PromotedBy: p.PromotedBy, Reason: p.Reason, RunID: p.RunID}
}

// Champion returns the model's champion pointer, read at SERIAL consistency
// so it sees every committed compare-and-set; nil when the model has none.
// Who, when and why come from the ledger row of the pointer's generation,
// which commits with the pointer.
func (r *Registry) Champion(ctx context.Context, model string) (*Champion, error) {
	var l ledgerRow
	err := r.q(`SELECT champion_version, champion_generation, `+ledgerColumns+` FROM %s.champion_ledger WHERE model = ? LIMIT 1`, model).
		WithContext(ctx).Consistency(gocql.Consistency(r.serial)).Scan(l.dest(true)...)
	if err == gocql.ErrNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read champion of %s: %w", model, err)
	}
	if l.pointerGeneration == nil {
		if l.generation != nil {
			return nil, fmt.Errorf("read champion of %s: the ledger has generation %d but there is no champion pointer", model, *l.generation)
		}
		return nil, nil
	}
	head := l.promotion(model)
	if l.generation == nil || head.Generation != *l.pointerGeneration || l.pointerVersion == nil || head.Version != *l.pointerVersion {
		// Promote writes both in one statement: only a hand edit gets here.
		return nil, fmt.Errorf("read champion of %s: the pointer (generation %d) and the newest ledger row (generation %d) disagree",
			model, *l.pointerGeneration, head.Generation)
	}
	return head.champion(), nil
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
	// RequestID names this request across its retries; it is stored in the
	// ledger row so a retry recognises its own earlier success. Empty: derived
	// from the request's other fields, which a retry repeats.
	RequestID string
}

// requestID is the request's RequestID or the digest of what it asks.
func (req PromoteRequest) requestID() string {
	if req.RequestID != "" {
		return req.RequestID
	}
	var gen int64
	var from gocql.UUID
	if req.Expected != nil {
		gen, from = req.Expected.Generation, req.Expected.Version
	}
	h := sha256.New()
	for _, f := range []string{req.Model, strconv.FormatInt(gen, 10), from.String(), req.Version.String(), string(req.Action), req.By, req.Reason, req.RunID} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
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

// Promote moves the champion pointer by a lightweight transaction that also
// writes the ledger row of the new generation: the first champion if the
// model has no pointer yet (IF champion_generation = null), later ones IF
// the pointer is still the expected version and generation, at the
// registry's serial consistency. Of two racing promotions from the same
// generation exactly one wins; the other gets a *CASLostError naming the
// winner. The version must be Servable.
//
// Promote is safe to retry: a request can only ever commit as the
// generation after the one it expects, so when its compare-and-set fails
// Promote reads that generation's ledger row, and if the row carries this
// request's id (an earlier attempt succeeded, e.g. behind a timeout) it
// reports that success, whatever was promoted since.
func (r *Registry) Promote(ctx context.Context, req PromoteRequest) (*Champion, error) {
	if req.By == "" || req.Reason == "" {
		return nil, fmt.Errorf("promote %s: who (by) and why (reason) are required", req.Model)
	}
	if _, err := r.Servable(ctx, req.Model, req.Version); err != nil {
		return nil, fmt.Errorf("promote %s: %w", req.Model, err)
	}
	row := Promotion{
		Model: req.Model, Generation: 1, Version: req.Version, Action: req.Action,
		PromotedAt: time.Now().UTC().Truncate(time.Millisecond), PromotedBy: req.By, Reason: req.Reason, RunID: req.RunID,
		RequestID: req.requestID(),
	}
	cond, expected := `IF champion_generation = null`, []any(nil)
	if req.Expected != nil {
		row.Generation, row.PreviousVersion = req.Expected.Generation+1, req.Expected.Version
		cond, expected = `IF champion_version = ? AND champion_generation = ?`, []any{req.Expected.Version, req.Expected.Generation}
	}
	q := r.q(`UPDATE %s.champion_ledger SET champion_version = ?, champion_generation = ?,
		version = ?, previous_version = ?, action = ?, promoted_at = ?, promoted_by = ?, reason = ?, run_id = ?, request_id = ?
		WHERE model = ? AND generation = ? `+cond,
		append([]any{row.Version, row.Generation,
			row.Version, nullUUID(row.PreviousVersion), string(row.Action), row.PromotedAt, row.PromotedBy, row.Reason, row.RunID, row.RequestID,
			req.Model, row.Generation}, expected...)...)
	applied, err := q.WithContext(ctx).SerialConsistency(r.serial).MapScanCAS(map[string]any{})
	if err != nil {
		return nil, fmt.Errorf("promote %s to %s: %w", req.Model, req.Version, err)
	}
	if applied {
		return row.champion(), nil
	}
	mine, err := r.ledgerRow(ctx, req.Model, row.Generation)
	if err != nil {
		return nil, err
	}
	if mine != nil && sameRequest(mine, &row) {
		return mine.champion(), nil // an earlier attempt of this request won
	}
	now, err := r.Champion(ctx, req.Model)
	if err != nil {
		return nil, err
	}
	return nil, &CASLostError{Model: req.Model, Current: now, Wanted: req}
}

// ledgerRow reads one generation's ledger row at serial consistency; nil
// when there is none.
func (r *Registry) ledgerRow(ctx context.Context, model string, generation int64) (*Promotion, error) {
	var l ledgerRow
	err := r.q(`SELECT `+ledgerColumns+` FROM %s.champion_ledger WHERE model = ? AND generation = ?`, model, generation).
		WithContext(ctx).Consistency(gocql.Consistency(r.serial)).Scan(l.dest(false)...)
	if err == gocql.ErrNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read generation %d of the promotion ledger of %s: %w", generation, model, err)
	}
	if l.generation == nil { // only the pointer came back
		return nil, nil
	}
	p := l.promotion(model)
	return &p, nil
}

// sameRequest says whether a ledger row was written by the request that
// would have written want. Rows carried over from before request ids were
// recorded are compared by what they say.
func sameRequest(row, want *Promotion) bool {
	if row.RequestID != "" {
		return row.RequestID == want.RequestID
	}
	return row.Version == want.Version && row.Generation == want.Generation && row.Action == want.Action &&
		row.PromotedBy == want.PromotedBy && row.RunID == want.RunID && row.Reason == want.Reason
}

func nullUUID(u gocql.UUID) any {
	if u == (gocql.UUID{}) {
		return nil
	}
	return u
}

// History returns the promotion ledger of a model, newest first.
func (r *Registry) History(ctx context.Context, model string, limit int) ([]Promotion, error) {
	iter := r.q(`SELECT `+ledgerColumns+` FROM %s.champion_ledger WHERE model = ? LIMIT ?`, model, limit).WithContext(ctx).Iter()
	var out []Promotion
	for {
		var l ledgerRow
		if !iter.Scan(l.dest(false)...) {
			break
		}
		if l.generation != nil {
			out = append(out, l.promotion(model))
		}
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
// compare-and-set as any promotion, recording who and why: the rollback of
// the current generation (RollbackGeneration). It refuses a previous
// champion whose artifact no longer verifies.
func (r *Registry) Rollback(ctx context.Context, model, by, reason string) (*Champion, error) {
	cur, err := r.Champion(ctx, model)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return nil, fmt.Errorf("rollback %s: %w: the model has no champion", model, ErrNoPrevious)
	}
	return r.RollbackGeneration(ctx, model, cur.Generation, by, reason)
}

// RollbackGeneration rolls back generation gen of the model's champion, and
// only that generation: the version it replaced (RollbackTarget of the
// ledger as it stood at gen) becomes champion again by the same
// compare-and-set, expecting the pointer at gen. Its request id is derived
// from the generation, the versions, who and why, so a repeat of the same
// call after it succeeded (its answer lost to a timeout, say) finds its own
// ledger row and reports that success again instead of rolling back a
// second time. When the champion has moved on otherwise, it is a lost race
// (*CASLostError) and nothing changes.
func (r *Registry) RollbackGeneration(ctx context.Context, model string, gen int64, by, reason string) (*Champion, error) {
	ledger, err := r.History(ctx, model, 10000)
	if err != nil {
		return nil, err
	}
	at := slices.IndexFunc(ledger, func(p Promotion) bool { return p.Generation == gen })
	if at < 0 {
		return nil, fmt.Errorf("rollback %s: generation %d is not in its promotion ledger (see `kingmaker status %s`)", model, gen, model)
	}
	target, err := RollbackTarget(ledger[at:])
	if err != nil {
		return nil, fmt.Errorf("rollback %s: %w: generation %d is the first champion", model, err, gen)
	}
	if _, err := r.Servable(ctx, model, target); err != nil {
		return nil, fmt.Errorf("rollback %s: version %s cannot be champion again: %w", model, target, err)
	}
	return r.Promote(ctx, PromoteRequest{Model: model, Version: target, Expected: &Champion{Version: ledger[at].Version, Generation: gen},
		Action: ActionRollback, By: by, Reason: reason})
}
