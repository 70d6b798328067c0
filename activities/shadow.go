package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gocql/gocql"
	"go.temporal.io/sdk/activity"

	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/registry"
)

// SetShadowInput points a model's shadow at a version for a shadow period.
type SetShadowInput struct {
	Model   string    `json:"model"`
	Version string    `json:"version"`
	Since   time.Time `json:"since"`
	// Until is when the run will judge the shadow (zero: open-ended).
	Until     time.Time `json:"until,omitzero"`
	StartedBy string    `json:"started_by"`
	Reason    string    `json:"reason"`
}

// SetShadow sets the model's shadow pointer (see registry.SetShadow). The
// serving endpoint notices it at its next poll. Retrying it is harmless.
func (a *Activities) SetShadow(ctx context.Context, in SetShadowInput) error {
	m, err := a.model(in.Model)
	if err != nil {
		return err
	}
	id, err := gocql.ParseUUID(in.Version)
	if err != nil {
		return nonRetryable(ErrTypeInvalidSpec, fmt.Errorf("%q is not a version id", in.Version))
	}
	err = a.Registry.SetShadow(ctx, registry.Shadow{
		Model: m.Name, Version: id, Since: in.Since, Until: in.Until, StartedBy: in.StartedBy, Reason: in.Reason,
	})
	if errors.Is(err, registry.ErrNotFound) || errors.Is(err, registry.ErrCorruptArtifact) || errors.Is(err, registry.ErrNotServable) ||
		errors.Is(err, registry.ErrShadowIsChampion) {
		return nonRetryable(ErrTypeInvalidSpec, err) // retrying cannot make the version servable
	}
	return err
}

// ClearShadowInput removes a model's shadow pointer: only the one StartedBy
// set, or whatever is there when StartedBy is empty.
type ClearShadowInput struct {
	Model     string `json:"model"`
	StartedBy string `json:"started_by,omitempty"`
	// By and Reason are recorded with the clearing; a run that leaves them
	// empty is recorded as StartedBy, ending its shadow period.
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// ClearedShadow says whether a pointer was removed.
type ClearedShadow struct {
	Cleared bool `json:"cleared"`
}

// ClearShadow removes the shadow pointer a run set (never one set after
// it by someone else). Retrying it is harmless.
func (a *Activities) ClearShadow(ctx context.Context, in ClearShadowInput) (*ClearedShadow, error) {
	c := registry.ShadowClear{Model: in.Model, StartedBy: in.StartedBy, By: in.By, Reason: in.Reason}
	if c.By == "" {
		c.By = in.StartedBy
	}
	if c.Reason == "" {
		c.Reason = "the shadow period of the run that set it ended"
	}
	if c.By == "" {
		return nil, nonRetryable(ErrTypeInvalidSpec, fmt.Errorf("clear shadow of %s: who (by or started_by) is required", in.Model))
	}
	ok, err := a.Registry.ClearShadow(ctx, c)
	if err != nil {
		return nil, err
	}
	return &ClearedShadow{Cleared: ok}, nil
}

// ShadowLabelSlack is how far before and after the shadow period the label
// join looks for the source rows of shadowed requests: a request scores a
// row at about the time the row is written to the source table, give or
// take a day.
const ShadowLabelSlack = 24 * time.Hour

// ShadowReportInput asks for the live evidence on a shadow version.
type ShadowReportInput struct {
	Model   string    `json:"model"`
	Version string    `json:"version"`
	Since   time.Time `json:"since"`
	To      time.Time `json:"to"`
}

// ShadowEvidence is what the serving endpoint recorded about a shadow
// version over [Since, To), and how both models did on the rows whose
// labels have arrived.
type ShadowEvidence struct {
	Model   string         `json:"model"`
	Version string         `json:"version"`
	Window  dataset.Window `json:"window"`
	// Rows is how many live rows both models scored; Agreed how many got
	// the same class from both; Agreement is Agreed / Rows (nil: no rows).
	Rows      int64                     `json:"rows"`
	Agreed    int64                     `json:"agreed"`
	Agreement *float64                  `json:"agreement,omitempty"`
	Champions []registry.ShadowChampion `json:"champions,omitempty"`
	// KeyedRows is how many rows carried an "id"; LabelledRows how many of
	// those were found in the source table with a label, in LabelWindow.
	KeyedRows    int64          `json:"keyed_rows"`
	LabelledRows int            `json:"labelled_rows"`
	LabelWindow  dataset.Window `json:"label_window,omitzero"`
	// ChampionLive and ShadowLive are both models' metrics on the labelled
	// rows (nil without any).
	ChampionLive *evaluator.Metrics `json:"champion_live,omitempty"`
	ShadowLive   *evaluator.Metrics `json:"shadow_live,omitempty"`
	// Notes say what limited the evidence (labels unreadable, keys capped).
	Notes []string `json:"notes,omitempty"`
}

// ShadowReport counts the shadow predictions of a version over [Since, To)
// and, for rows that carried an id, looks their labels up in the model's
// source table (rows of [Since - ShadowLabelSlack, To + ShadowLabelSlack),
// matched on source.key_column) to score both models on them. It only reads, so a
// retry is harmless. A label lookup that fails leaves the evidence to
// agreement, with a note saying why.
func (a *Activities) ShadowReport(ctx context.Context, in ShadowReportInput) (*ShadowEvidence, error) {
	m, id, err := a.modelVersion(in.Model, in.Version)
	if err != nil {
		return nil, err
	}
	if len(m.Label.Classes) == 0 {
		// Its shadow rows hold values, not classes: class agreement would
		// read 100% and say nothing, so no verdict is given on it.
		return nil, nonRetryable(ErrTypeInvalidSpec, fmt.Errorf("model %s is a regression model: the shadow report judges classes and cannot judge it; watch kingmaker_serving_shadow_mean_abs_difference{model=%q} instead, and leave policy.shadow unset", m.Name, m.Name))
	}
	// A busy model shadowed for days has millions of rows to read: beat
	// after every page so that the heartbeat timeout bounds a stuck read,
	// not a long one.
	rep, err := a.Registry.ShadowReportProgress(ctx, m.Name, id, in.Since, in.To, func(rows int64) {
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, rows)
		}
	})
	if err != nil {
		return nil, err
	}
	ev := &ShadowEvidence{
		Model: m.Name, Version: in.Version, Window: dataset.Window{From: rep.From, To: rep.To},
		Rows: rep.Rows, Agreed: rep.Agreed, Agreement: rep.Agreement, Champions: rep.Champions, KeyedRows: rep.KeyedRows,
	}
	if rep.KeyedRows > int64(len(rep.Keyed)) && len(rep.Keyed) >= registry.MaxKeyedRows {
		ev.Notes = append(ev.Notes, fmt.Sprintf("only the first %d keyed rows were joined with labels", registry.MaxKeyedRows))
	}
	if len(rep.Keyed) == 0 {
		return ev, nil
	}
	ev.LabelWindow = dataset.Window{From: rep.From.Add(-ShadowLabelSlack), To: rep.To.Add(ShadowLabelSlack)}
	if err := a.joinLabels(ctx, ev, rep.Keyed); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		ev.Notes = append(ev.Notes, fmt.Sprintf("labels of the keyed rows could not be read (%v): agreement alone is the evidence", err))
	}
	return ev, nil
}

// joinLabels scans the label window of the model's source and scores both
// models on the keyed shadow rows found there with a label.
func (a *Activities) joinLabels(ctx context.Context, ev *ShadowEvidence, keyed map[string]registry.KeyedShadow) error {
	m, err := a.model(ev.Model)
	if err != nil {
		return err
	}
	classes := m.Label.Classes
	var pairs LivePairs
	if err := joinKeyed(ctx, a.source(m), classes, ev.LabelWindow, keyed, &pairs); err != nil {
		return err
	}
	truth, champ, shadow, champPos, shadowPos := pairs.Truth, pairs.New, pairs.Previous, pairs.NewScore, pairs.PreviousScore
	ev.LabelledRows = len(truth)
	if len(truth) == 0 {
		return nil
	}
	cm, err := evaluator.Score(len(classes), truth, champ, champPos)
	if err != nil {
		return fmt.Errorf("score the champion on %d labelled rows: %w", len(truth), err)
	}
	sm, err := evaluator.Score(len(classes), truth, shadow, shadowPos)
	if err != nil {
		return fmt.Errorf("score the shadow on %d labelled rows: %w", len(truth), err)
	}
	ev.ChampionLive, ev.ShadowLive = &cm, &sm
	return nil
}
