package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gocql/gocql"
	"go.temporal.io/sdk/activity"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/registry"
)

// LivePairs are the live rows of a probation that both versions scored and
// whose label is known, row by row: Truth[i], New[i] and Previous[i] are
// class indexes of one row. NewScore and PreviousScore are the predicted
// probabilities of class 1, nil unless every row has both.
type LivePairs struct {
	// Rows is how many live rows both versions scored in the period;
	// KeyedRows how many of them carried a row id to find the label by.
	Rows          int64     `json:"rows"`
	KeyedRows     int64     `json:"keyed_rows"`
	Truth         []int     `json:"-"`
	New           []int     `json:"-"`
	Previous      []int     `json:"-"`
	NewScore      []float64 `json:"-"`
	PreviousScore []float64 `json:"-"`
	Notes         []string  `json:"notes,omitempty"`
}

// LabelledLive finds the labelled live rows of a probation: the rows of
// [from, to) answered by newVersion and scored by previous, with their
// labels. Its first implementation (InlineLabels) reads the labels from
// the model's source rows; a label table keyed by row id can take its place.
type LabelledLive interface {
	LabelledLivePairs(ctx context.Context, m *config.Model, newVersion, previous gocql.UUID, from, to time.Time) (*LivePairs, error)
}

// InlineLabels is LabelledLive over the shadow predictions the serving
// endpoint recorded while previous was the shadow, joined by row id
// (source.key_column) with the labels of the model's source rows of
// [from - ShadowLabelSlack, to + ShadowLabelSlack).
type InlineLabels struct {
	Registry *registry.Registry
	Source   func(*config.Model) *dataset.Source
}

// LabelledLivePairs implements LabelledLive.
func (l InlineLabels) LabelledLivePairs(ctx context.Context, m *config.Model, newVersion, previous gocql.UUID, from, to time.Time) (*LivePairs, error) {
	out := &LivePairs{}
	keyed := map[string]registry.KeyedShadow{}
	err := l.Registry.ShadowPredictions(ctx, m.Name, previous, from, to, func(p *registry.ShadowPrediction) error {
		if p.ChampionVersion != newVersion {
			return nil // answered by another champion: not a pair of this probation
		}
		out.Rows++
		if p.RowID == "" {
			return nil
		}
		out.KeyedRows++
		if _, seen := keyed[p.RowID]; !seen && len(keyed) < registry.MaxKeyedRows {
			keyed[p.RowID] = registry.KeyedShadow{ChampionClass: p.ChampionClass, ShadowClass: p.ShadowClass, ChampionScore: p.ChampionScore, ShadowScore: p.ShadowScore}
		}
		if activity.IsActivity(ctx) && out.Rows%registry.ShadowPageSize == 0 {
			activity.RecordHeartbeat(ctx, out.Rows)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(keyed) == 0 {
		return out, nil
	}
	window := dataset.Window{From: from.Add(-ShadowLabelSlack), To: to.Add(ShadowLabelSlack)}
	if err := joinKeyed(ctx, l.Source(m), m.Label.Classes, window, keyed, out); err != nil {
		return nil, fmt.Errorf("read the labels of %s's probation rows in %s: %w", m.Name, window, err)
	}
	return out, nil
}

// joinKeyed scans window of a source and appends to out the keyed rows
// found there with a label: the champion's class as New, the shadow's as
// Previous. Scores are kept only when every row has both and the model is
// binary.
func joinKeyed(ctx context.Context, src *dataset.Source, classes []string, window dataset.Window, keyed map[string]registry.KeyedShadow, out *LivePairs) error {
	var (
		mu     sync.Mutex
		seen   = map[string]bool{}
		scored = true
	)
	_, err := src.Scan(ctx, window, dataset.ScanOptions{OptionalLabels: true}, func(_ int, b *dataset.Batch) error {
		mu.Lock()
		defer mu.Unlock()
		for i, key := range b.Keys {
			k, ok := keyed[key]
			if !ok || b.Y[i] < 0 || seen[key] {
				continue
			}
			n, p := slices.Index(classes, k.ChampionClass), slices.Index(classes, k.ShadowClass)
			if n < 0 || p < 0 {
				continue // a class the config no longer has
			}
			seen[key] = true
			out.Truth, out.New, out.Previous = append(out.Truth, b.Y[i]), append(out.New, n), append(out.Previous, p)
			if k.ChampionScore != nil && k.ShadowScore != nil {
				out.NewScore, out.PreviousScore = append(out.NewScore, *k.ChampionScore), append(out.PreviousScore, *k.ShadowScore)
			} else {
				scored = false
			}
		}
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, len(out.Truth))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !scored || len(classes) != 2 {
		out.NewScore, out.PreviousScore = nil, nil
	}
	return nil
}

// labelledLive is the activities' LabelledLive: Labels, or InlineLabels.
func (a *Activities) labelledLive() LabelledLive {
	if a.Labels != nil {
		return a.Labels
	}
	return InlineLabels{Registry: a.Registry, Source: a.source}
}

// ProbationEvidenceInput asks for the paired evidence of a probation.
type ProbationEvidenceInput struct {
	Model    string           `json:"model"`
	New      string           `json:"new"`
	Previous string           `json:"previous"`
	From     time.Time        `json:"from"`
	To       time.Time        `json:"to"`
	Probe    config.Probation `json:"probation"`
	// Seed makes the bootstrap of a metric other than accuracy repeatable.
	Seed uint64 `json:"seed"`
}

// ProbationEvidence is what a probation saw: how many live rows both
// versions scored, how many had a label, the paired comparison on those
// (the previous champion as challenger of the new one, see
// evaluator.ProbationEvidence) and both versions' live metrics.
type ProbationEvidence struct {
	evaluator.ProbationEvidence
	Window       dataset.Window     `json:"window"`
	Rows         int64              `json:"rows"`
	KeyedRows    int64              `json:"keyed_rows"`
	NewLive      *evaluator.Metrics `json:"new_live,omitempty"`
	PreviousLive *evaluator.Metrics `json:"previous_live,omitempty"`
	Notes        []string           `json:"notes,omitempty"`
}

// ProbationEvidence gathers the labelled live rows of a probation (see
// LabelledLive) and compares both versions on them. It only reads, so a
// retry is harmless.
func (a *Activities) ProbationEvidence(ctx context.Context, in ProbationEvidenceInput) (*ProbationEvidence, error) {
	m, err := a.model(in.Model)
	if err != nil {
		return nil, err
	}
	newID, err1 := gocql.ParseUUID(in.New)
	prevID, err2 := gocql.ParseUUID(in.Previous)
	if err1 != nil || err2 != nil {
		return nil, nonRetryable(ErrTypeInvalidSpec, fmt.Errorf("probation of %s: %q and %q must be version ids", in.Model, in.New, in.Previous))
	}
	pairs, err := a.labelledLive().LabelledLivePairs(ctx, m, newID, prevID, in.From, in.To)
	if err != nil {
		return nil, err
	}
	ev := &ProbationEvidence{
		ProbationEvidence: evaluator.ProbationEvidence{New: in.New, Previous: in.Previous, LabelledRows: len(pairs.Truth)},
		Window:            dataset.Window{From: in.From, To: in.To}, Rows: pairs.Rows, KeyedRows: pairs.KeyedRows, Notes: pairs.Notes,
	}
	if len(pairs.Truth) == 0 {
		return ev, nil
	}
	k := len(m.Label.Classes)
	nm, err := evaluator.Score(k, pairs.Truth, pairs.New, pairs.NewScore)
	if err != nil {
		return nil, nonRetryable(ErrTypeInvalidData, fmt.Errorf("score %s on %d labelled live rows: %w", in.New, len(pairs.Truth), err))
	}
	pm, err := evaluator.Score(k, pairs.Truth, pairs.Previous, pairs.PreviousScore)
	if err != nil {
		return nil, nonRetryable(ErrTypeInvalidData, fmt.Errorf("score %s on %d labelled live rows: %w", in.Previous, len(pairs.Truth), err))
	}
	ev.NewLive, ev.PreviousLive = &nm, &pm
	if evaluator.NeedsScores(in.Probe.Metric) && pairs.NewScore == nil {
		ev.Notes = append(ev.Notes, fmt.Sprintf("%s needs both versions' probabilities, which some live rows lack: the probation cannot judge", in.Probe.Metric))
		ev.LabelledRows = 0
		return ev, nil
	}
	c, err := evaluator.Compare(in.Probe.Metric, k, pairs.Truth, pairs.New, pairs.Previous, pairs.NewScore, pairs.PreviousScore,
		evaluator.CompareOptions{Seed: in.Seed, Confidence: 1 - in.Probe.SignificanceLevel})
	if err != nil {
		return nil, nonRetryable(ErrTypeInvalidData, fmt.Errorf("compare %s with %s on %d labelled live rows: %w", in.New, in.Previous, len(pairs.Truth), err))
	}
	ev.Comparison = &c
	return ev, nil
}

// ProbationCheckInput asks how a probation stands between two checks.
type ProbationCheckInput struct {
	Model   string           `json:"model"`
	Version string           `json:"version"`
	Probe   config.Probation `json:"probation"`
}

// ProbationCheck is the pointer now and, when the probation has serving
// limits, what the serving metrics said over the last CheckEvery.
type ProbationCheck struct {
	Champion *registry.Champion `json:"champion,omitempty"`
	// Requests, ErrorRate and LatencyP99 are nil when unknown (no limits,
	// or no traffic in the interval).
	Requests   *float64 `json:"requests,omitempty"`
	ErrorRate  *float64 `json:"error_rate,omitempty"`
	LatencyP99 *float64 `json:"latency_p99_seconds,omitempty"`
	// Note says why the serving metrics could not be read; the check does
	// not fail for it (a Prometheus outage must not roll back a champion).
	Note string `json:"note,omitempty"`
}

// CheckProbation reads the champion pointer and, with serving limits, asks
// the Prometheus at policy.probation.metrics_url for the new champion's
// share of 5xx answers and the model's 99th percentile latency over the
// last check_every. It only reads.
func (a *Activities) CheckProbation(ctx context.Context, in ProbationCheckInput) (*ProbationCheck, error) {
	champ, err := a.Registry.Champion(ctx, in.Model)
	if err != nil {
		return nil, err
	}
	out := &ProbationCheck{Champion: champ}
	p := in.Probe
	if p.MaxErrorRate <= 0 && p.MaxLatencyP99 <= 0 {
		return out, nil
	}
	w := promDuration(p.CheckEvery.D())
	sel := fmt.Sprintf(`model=%q,version=%q`, in.Model, in.Version)
	queries := []struct {
		q   string
		dst **float64
	}{
		{fmt.Sprintf(`sum(increase(kingmaker_serving_requests_total{%s}[%s]))`, sel, w), &out.Requests},
		{fmt.Sprintf(`sum(increase(kingmaker_serving_requests_total{%s,code=~"5.."}[%s])) / sum(increase(kingmaker_serving_requests_total{%s}[%s]))`, sel, w, sel, w), &out.ErrorRate},
		{fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (rate(kingmaker_serving_request_duration_seconds_bucket{model=%q}[%s])))`, in.Model, w), &out.LatencyP99},
	}
	for _, q := range queries {
		v, err := promScalar(ctx, p.MetricsURL, q.q)
		if err != nil {
			out.Note = fmt.Sprintf("serving metrics unreadable at %s: %v", p.MetricsURL, err)
			return out, nil
		}
		*q.dst = v
	}
	return out, nil
}

// promDuration writes d as a Prometheus range duration in whole seconds.
func promDuration(d time.Duration) string {
	return strconv.FormatInt(max(int64(d/time.Second), 1), 10) + "s"
}

// promScalar runs an instant query and returns its single value; nil when
// the result is empty or not a number (no traffic).
func promScalar(ctx context.Context, base, query string) (*float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?query="+url.QueryEscape(query), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("query %s: %s: %w", query, resp.Status, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %s: %s %s", query, resp.Status, body.Error)
	}
	if len(body.Data.Result) == 0 {
		return nil, nil
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v != v { // NaN: 0/0, no requests
		return nil, nil
	}
	return &v, nil
}

// ProbationEndedInput reports how a probation ended, for the metrics.
type ProbationEndedInput struct {
	Model   string `json:"model"`
	Outcome string `json:"outcome"`
}

// ProbationObserver is told how probations end
// (kingmaker_probation_outcomes_total); an Observer may implement it.
type ProbationObserver interface {
	ProbationEnded(model, outcome string)
}

// ProbationEnded counts a probation's outcome. A retry after an unseen
// success counts it twice, which a counter read by increase() tolerates.
func (a *Activities) ProbationEnded(ctx context.Context, in ProbationEndedInput) error {
	if o, ok := a.Observer.(ProbationObserver); ok {
		o.ProbationEnded(in.Model, in.Outcome)
	}
	return nil
}

// RecordProbationInput is the decision record of a probation.
type RecordProbationInput struct {
	Model      string             `json:"model"`
	RunID      string             `json:"run_id"`
	WorkflowID string             `json:"workflow_id"`
	StartedAt  time.Time          `json:"started_at"`
	Outcome    string             `json:"outcome"`
	Kept       string             `json:"kept"`
	Champion   *registry.Champion `json:"champion,omitempty"`
	Window     dataset.Window     `json:"window"`
	Decision   json.RawMessage    `json:"decision"`
}

// RecordProbation writes a probation's decision record among the model's
// evaluations, its outcome prefixed "probation_"; a retry overwrites the
// same row.
func (a *Activities) RecordProbation(ctx context.Context, in RecordProbationInput) error {
	e := &registry.DecisionRecord{
		Model: in.Model, ID: registry.VersionID(in.StartedAt, versionKey(in.RunID, "probation")), RunID: in.RunID, WorkflowID: in.WorkflowID,
		Reason: "probation", Outcome: "probation_" + in.Outcome, WindowFrom: in.Window.From, WindowTo: in.Window.To, Decision: in.Decision,
	}
	e.Winner, _ = gocql.ParseUUID(in.Kept)
	if in.Champion != nil {
		e.Champion, e.Generation = in.Champion.Version, in.Champion.Generation
	}
	return a.Registry.RecordEvaluation(ctx, e)
}
