package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gocql/gocql"
)

// Shadow is the shadow pointer of a model: the version that `kingmaker
// serve` scores beside the champion on sampled live requests, so that its
// predictions can be compared with the champion's before it is promoted.
// At most one per model; a retrain run sets it for its shadow period and
// clears it at the end, a person with `kingmaker shadow --set/--clear`.
type Shadow struct {
	Model   string     `json:"model"`
	Version gocql.UUID `json:"version"`
	// Since is when shadowing began: the report counts rows from there.
	Since time.Time `json:"since"`
	// Until is when the run that set it will judge it; zero when open-ended
	// (set by hand).
	Until time.Time `json:"until,omitzero"`
	// StartedBy is the run id of the retrain that set it, or the person.
	StartedBy string `json:"started_by"`
	Reason    string `json:"reason,omitempty"`
}

// ProbationPrefix begins the StartedBy of a shadow pointer that a probation
// set (its workflow id): the previous champion shadowing the new one.
const ProbationPrefix = "probation-"

// Probation reports whether a probation set the pointer, so that serving
// may let the previous champion answer a canary share of the traffic.
func (s *Shadow) Probation() bool { return strings.HasPrefix(s.StartedBy, ProbationPrefix) }

// Shadow returns the model's shadow pointer, nil when it has none.
func (r *Registry) Shadow(ctx context.Context, model string) (*Shadow, error) {
	s := &Shadow{Model: model}
	var until *time.Time
	var by, reason *string
	err := r.q(`SELECT version, since, until, started_by, reason FROM %s.shadows WHERE model = ?`, model).
		WithContext(ctx).Consistency(gocql.Consistency(r.serial)).
		Scan(&s.Version, &s.Since, &until, &by, &reason)
	if err == gocql.ErrNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read shadow pointer of %s: %w", model, err)
	}
	if until != nil {
		s.Until = until.UTC()
	}
	s.Since = s.Since.UTC()
	s.StartedBy, s.Reason = deref(by), deref(reason)
	return s, nil
}

// SetShadow points the model's shadow at s.Version, replacing any shadow
// it had. It needs who (StartedBy), why (Reason) and Since; the version must
// not be the champion (ErrShadowIsChampion) and must be Servable. Setting
// the same pointer again changes nothing, so a retried activity is harmless.
func (r *Registry) SetShadow(ctx context.Context, s Shadow) error {
	if s.StartedBy == "" || s.Reason == "" {
		return fmt.Errorf("set shadow of %s: who (started_by) and why (reason) are required", s.Model)
	}
	if s.Since.IsZero() {
		return fmt.Errorf("set shadow of %s: since is required", s.Model)
	}
	if err := r.checkShadowNotChampion(ctx, s.Model, s.Version); err != nil {
		return err
	}
	if _, err := r.Servable(ctx, s.Model, s.Version); err != nil {
		return fmt.Errorf("set shadow of %s: %w", s.Model, err)
	}
	var until any
	if !s.Until.IsZero() {
		until = s.Until.UTC()
	}
	since := s.Since.UTC().Truncate(time.Millisecond)
	// The same pointer again (a retried activity) changes and records nothing.
	cur, err := r.Shadow(ctx, s.Model)
	if err != nil {
		return fmt.Errorf("set shadow of %s: %w", s.Model, err)
	}
	if cur != nil && cur.Version == s.Version && cur.Since.Equal(since) && cur.Until.Equal(s.Until.UTC().Truncate(time.Millisecond)) &&
		cur.StartedBy == s.StartedBy && cur.Reason == s.Reason {
		return nil
	}
	// Lightweight transactions only, so the conditional delete of
	// ClearShadow is ordered with every set (mixing them with plain writes
	// on one row is not). An upsert is an UPDATE IF EXISTS, or an INSERT IF
	// NOT EXISTS when there is no row; a row that appears or goes in
	// between sends it round again.
	for range 5 {
		applied, err := r.q(`UPDATE %s.shadows SET version = ?, since = ?, until = ?, started_by = ?, reason = ? WHERE model = ? IF EXISTS`,
			s.Version, since, until, s.StartedBy, s.Reason, s.Model).
			WithContext(ctx).SerialConsistency(r.serial).MapScanCAS(map[string]any{})
		if err != nil {
			return fmt.Errorf("set shadow of %s to %s: %w", s.Model, s.Version, err)
		}
		if applied {
			return r.recordShadowChange(ctx, s.Model, gocql.TimeUUID(), "set", s.Version, s.StartedBy, s.Reason)
		}
		applied, err = r.q(`INSERT INTO %s.shadows (model, version, since, until, started_by, reason) VALUES (?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
			s.Model, s.Version, since, until, s.StartedBy, s.Reason).
			WithContext(ctx).SerialConsistency(r.serial).MapScanCAS(map[string]any{})
		if err != nil {
			return fmt.Errorf("set shadow of %s to %s: %w", s.Model, s.Version, err)
		}
		if applied {
			return r.recordShadowChange(ctx, s.Model, gocql.TimeUUID(), "set", s.Version, s.StartedBy, s.Reason)
		}
	}
	return fmt.Errorf("set shadow of %s to %s: the pointer kept changing under concurrent sets and clears; retry", s.Model, s.Version)
}

// ShadowClear asks to remove a model's shadow pointer.
type ShadowClear struct {
	Model string
	// StartedBy, when set, removes the pointer only while it is still the
	// one StartedBy set (a run never clears a shadow someone set after
	// it); empty clears whatever is there.
	StartedBy string
	// By and Reason say who clears it and why; both are required.
	By     string
	Reason string
}

// ClearShadow removes the model's shadow pointer as c says and records who
// cleared which version and why (ShadowHistory). It reports whether a
// pointer was removed; nothing is recorded when none was.
func (r *Registry) ClearShadow(ctx context.Context, c ShadowClear) (bool, error) {
	if c.By == "" || c.Reason == "" {
		return false, fmt.Errorf("clear shadow of %s: who (by) and why (reason) are required", c.Model)
	}
	// Delete the very pointer read, so the record names the version that
	// was cleared; a pointer that changes in between sends it round again.
	for range 5 {
		cur, err := r.Shadow(ctx, c.Model)
		if err != nil {
			return false, fmt.Errorf("clear shadow of %s: %w", c.Model, err)
		}
		if cur == nil || (c.StartedBy != "" && cur.StartedBy != c.StartedBy) {
			return false, nil
		}
		applied, err := r.q(`DELETE FROM %s.shadows WHERE model = ? IF version = ? AND started_by = ?`, c.Model, cur.Version, cur.StartedBy).
			WithContext(ctx).SerialConsistency(r.serial).MapScanCAS(map[string]any{})
		if err != nil {
			return false, fmt.Errorf("clear shadow of %s: %w", c.Model, err)
		}
		if applied {
			return true, r.recordShadowChange(ctx, c.Model, gocql.TimeUUID(), "clear", cur.Version, c.By, c.Reason)
		}
	}
	return false, fmt.Errorf("clear shadow of %s: the pointer kept changing under concurrent sets and clears; retry", c.Model)
}

// ShadowChange is one setting or clearing of a model's shadow pointer.
type ShadowChange struct {
	Model     string     `json:"model"`
	ChangedAt time.Time  `json:"changed_at"`
	Action    string     `json:"action"` // set or clear
	Version   gocql.UUID `json:"version"`
	By        string     `json:"by"`
	Reason    string     `json:"reason,omitempty"`
}

func (r *Registry) recordShadowChange(ctx context.Context, model string, id gocql.UUID, action string, version gocql.UUID, by, reason string) error {
	err := r.q(`INSERT INTO %s.shadow_changes (model, changed_at, action, version, changed_by, reason) VALUES (?, ?, ?, ?, ?, ?)`,
		model, id, action, nullUUID(version), by, reason).WithContext(ctx).Exec()
	if err != nil {
		return fmt.Errorf("shadow of %s was %s but the change was not recorded: %w", model, map[string]string{"set": "set", "clear": "cleared"}[action], err)
	}
	return nil
}

// ShadowHistory returns the latest changes of the model's shadow pointer,
// newest first, at most limit.
func (r *Registry) ShadowHistory(ctx context.Context, model string, limit int) ([]ShadowChange, error) {
	iter := r.q(`SELECT changed_at, action, version, changed_by, reason FROM %s.shadow_changes WHERE model = ? LIMIT ?`, model, limit).WithContext(ctx).Iter()
	var out []ShadowChange
	var (
		id         gocql.UUID
		version    *gocql.UUID
		by, reason *string
		action     string
	)
	for iter.Scan(&id, &action, &version, &by, &reason) {
		c := ShadowChange{Model: model, ChangedAt: id.Time().UTC(), Action: action, By: deref(by), Reason: deref(reason)}
		if version != nil {
			c.Version = *version
		}
		out = append(out, c)
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("read shadow history of %s: %w", model, err)
	}
	return out, nil
}

// ShadowPrediction is one live row scored by the champion and the shadow.
type ShadowPrediction struct {
	Model         string     `json:"model"`
	ShadowVersion gocql.UUID `json:"shadow_version"`
	// At is when the request was answered (the row's time and day).
	At        time.Time `json:"ts"`
	RequestID string    `json:"request_id"`
	Row       int       `json:"row"`
	// ChampionVersion and Generation name the champion that answered.
	ChampionVersion gocql.UUID `json:"champion_version"`
	Generation      int64      `json:"generation"`
	ChampionClass   string     `json:"champion_class"`
	ChampionScore   *float64   `json:"champion_score,omitempty"`
	ShadowClass     string     `json:"shadow_class"`
	ShadowScore     *float64   `json:"shadow_score,omitempty"`
	// RowID is the "id" the request gave the row (empty when none): the key
	// by which its label can be found later.
	RowID string `json:"row_id,omitempty"`
	// Features are the row's feature values as the model read them.
	Features json.RawMessage `json:"features,omitempty"`
	// Actor is the authenticated client that sent the row ("token:NAME",
	// "cert:SUBJECT"); empty when the server authenticated no one.
	Actor string `json:"actor,omitempty"`
}

// shadowBatchRows is the most rows of one batch of shadow predictions. A
// batch holds at most 65,535 statements (the protocol counts them in 16
// bits), and smaller batches keep each write short.
const shadowBatchRows = 500

// day is the UTC date of t, the partition bucket of shadow predictions.
func day(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// RecordShadowPredictions writes rows of shadow predictions: unlogged
// batches of at most shadowBatchRows rows of one partition, so a request's
// rows cost a round trip per 500. Writing the same rows again overwrites
// them.
func (r *Registry) RecordShadowPredictions(ctx context.Context, rows []ShadowPrediction) error {
	type part struct {
		model   string
		version gocql.UUID
		day     time.Time
	}
	type batch struct {
		part
		b *gocql.Batch
	}
	open := map[part]*gocql.Batch{}
	var batches []batch
	for i := range rows {
		p := &rows[i]
		k := part{p.Model, p.ShadowVersion, day(p.At)}
		b := open[k]
		if b == nil || b.Size() == shadowBatchRows {
			b = r.s.NewBatch(gocql.UnloggedBatch).WithContext(ctx)
			open[k] = b
			batches = append(batches, batch{k, b})
		}
		var features any
		if len(p.Features) > 0 {
			features = string(p.Features)
		}
		b.Query(fmt.Sprintf(`INSERT INTO %s.shadow_predictions (model, shadow_version, day, ts, request_id, row,
			champion_version, generation, champion_class, champion_score, shadow_class, shadow_score, row_id, features, actor)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.ks),
			p.Model, p.ShadowVersion, k.day, p.At.UTC(), p.RequestID, p.Row,
			p.ChampionVersion, p.Generation, p.ChampionClass, p.ChampionScore, p.ShadowClass, p.ShadowScore, nullString(p.RowID), features,
			nullString(p.Actor))
	}
	for _, b := range batches {
		if err := r.s.ExecuteBatch(b.b); err != nil {
			return fmt.Errorf("write shadow predictions of %s/%s for %s: %w", b.model, b.version, b.day.Format(time.DateOnly), err)
		}
	}
	return nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// ShadowPageSize is how many shadow predictions one read of a partition
// fetches.
const ShadowPageSize = 5000

// ShadowPredictions calls fn with every shadow prediction of the version
// made in [from, to), day partition by day partition, in time order.
func (r *Registry) ShadowPredictions(ctx context.Context, model string, version gocql.UUID, from, to time.Time, fn func(*ShadowPrediction) error) error {
	return r.shadowPredictions(ctx, model, version, from, to, fn, nil)
}

// shadowPredictions is ShadowPredictions that also calls page, when not
// nil, with the rows read so far after each page a read has used up (and
// at the end of each day partition).
func (r *Registry) shadowPredictions(ctx context.Context, model string, version gocql.UUID, from, to time.Time, fn func(*ShadowPrediction) error, page func(rows int64)) error {
	var rows int64
	for d := day(from); d.Before(to); d = d.AddDate(0, 0, 1) {
		iter := r.q(`SELECT ts, request_id, row, champion_version, generation, champion_class, champion_score,
			shadow_class, shadow_score, row_id, features, actor FROM %s.shadow_predictions
			WHERE model = ? AND shadow_version = ? AND day = ? AND ts >= ? AND ts < ?`, model, version, d, from.UTC(), to.UTC()).
			WithContext(ctx).PageSize(ShadowPageSize).Iter()
		for {
			if page != nil && rows > 0 && iter.WillSwitchPage() {
				page(rows)
			}
			p := ShadowPrediction{Model: model, ShadowVersion: version}
			var rowID, features, actor *string
			if !iter.Scan(&p.At, &p.RequestID, &p.Row, &p.ChampionVersion, &p.Generation, &p.ChampionClass, &p.ChampionScore,
				&p.ShadowClass, &p.ShadowScore, &rowID, &features, &actor) {
				break
			}
			p.At = p.At.UTC()
			p.RowID = deref(rowID)
			p.Actor = deref(actor)
			if f := deref(features); f != "" {
				p.Features = json.RawMessage(f)
			}
			if err := fn(&p); err != nil {
				iter.Close()
				return err
			}
			rows++
		}
		if err := iter.Close(); err != nil {
			return fmt.Errorf("read shadow predictions of %s/%s for %s: %w", model, version, d.Format(time.DateOnly), err)
		}
		if page != nil {
			page(rows)
		}
	}
	return nil
}

// ShadowChampion counts the shadow rows one champion answered.
type ShadowChampion struct {
	Version    gocql.UUID `json:"version"`
	Generation int64      `json:"generation"`
	Rows       int64      `json:"rows"`
	Agreed     int64      `json:"agreed"`
}

// KeyedShadow is the two predictions of a row that carried an id.
type KeyedShadow struct {
	ChampionClass string
	ShadowClass   string
	ChampionScore *float64
	ShadowScore   *float64
}

// MaxKeyedRows bounds how many keyed rows a report keeps for joining with
// labels; rows past it are counted, not kept.
const MaxKeyedRows = 1_000_000

// ShadowReport is the live evidence on a shadow version over [From, To).
type ShadowReport struct {
	Model   string     `json:"model"`
	Version gocql.UUID `json:"version"`
	From    time.Time  `json:"from"`
	To      time.Time  `json:"to"`
	// Rows is how many live rows both models scored; Agreed how many of
	// them got the same class from both.
	Rows   int64 `json:"rows"`
	Agreed int64 `json:"agreed"`
	// Agreement is Agreed / Rows; nil without rows.
	Agreement *float64 `json:"agreement,omitempty"`
	// Champions are the champions that answered those rows, oldest first
	// (more than one when the champion changed during the period).
	Champions []ShadowChampion `json:"champions,omitempty"`
	// KeyedRows is how many rows carried an id.
	KeyedRows int64 `json:"keyed_rows"`
	// RepeatedIDs is how many keyed rows carried an id an earlier row of
	// the period already had: they are ignored for the label comparison,
	// so a re-sent id cannot override the row first seen with it.
	RepeatedIDs int64 `json:"repeated_ids,omitempty"`
	// Keyed are the keyed rows by id (the first one where an id repeats),
	// at most MaxKeyedRows, for joining with labels.
	Keyed map[string]KeyedShadow `json:"-"`
}

// ShadowReport reads the shadow predictions of version made in [from, to)
// and counts them.
func (r *Registry) ShadowReport(ctx context.Context, model string, version gocql.UUID, from, to time.Time) (*ShadowReport, error) {
	return r.ShadowReportProgress(ctx, model, version, from, to, nil)
}

// ShadowReportProgress is ShadowReport that calls progress, when not nil,
// with the rows read so far after every page of ShadowPageSize rows and
// every day partition, so that a long read can heartbeat.
func (r *Registry) ShadowReportProgress(ctx context.Context, model string, version gocql.UUID, from, to time.Time, progress func(rows int64)) (*ShadowReport, error) {
	rep := &ShadowReport{Model: model, Version: version, From: from.UTC(), To: to.UTC(), Keyed: map[string]KeyedShadow{}}
	byChampion := map[gocql.UUID]*ShadowChampion{}
	err := r.shadowPredictions(ctx, model, version, from, to, func(p *ShadowPrediction) error {
		rep.Rows++
		agreed := p.ChampionClass == p.ShadowClass
		c := byChampion[p.ChampionVersion]
		if c == nil {
			c = &ShadowChampion{Version: p.ChampionVersion, Generation: p.Generation}
			byChampion[p.ChampionVersion] = c
		}
		c.Rows++
		c.Generation = max(c.Generation, p.Generation)
		if agreed {
			rep.Agreed++
			c.Agreed++
		}
		if p.RowID != "" {
			rep.KeyedRows++
			// First wins: rows are read in time order, and a row id sent
			// again later (by mistake or to sway the verdict) is counted,
			// never taken instead of the first.
			if _, seen := rep.Keyed[p.RowID]; seen {
				rep.RepeatedIDs++
			} else if len(rep.Keyed) < MaxKeyedRows {
				rep.Keyed[p.RowID] = KeyedShadow{ChampionClass: p.ChampionClass, ShadowClass: p.ShadowClass, ChampionScore: p.ChampionScore, ShadowScore: p.ShadowScore}
			}
		}
		return nil
	}, progress)
	if err != nil {
		return nil, err
	}
	if rep.Rows > 0 {
		a := float64(rep.Agreed) / float64(rep.Rows)
		rep.Agreement = &a
	}
	for _, c := range byChampion {
		rep.Champions = append(rep.Champions, *c)
	}
	slices.SortFunc(rep.Champions, func(a, b ShadowChampion) int {
		if a.Generation != b.Generation {
			return int(a.Generation - b.Generation)
		}
		return slices.Compare(a.Version[:], b.Version[:])
	})
	return rep, nil
}
