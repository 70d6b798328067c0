package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/drift"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/registry"
)

// DriftCheckInput asks for the recent window of a model to be compared
// with its champion's training profile.
type DriftCheckInput struct {
	Model      string         `json:"model"`
	Window     dataset.Window `json:"window"`
	RunID      string         `json:"run_id"`
	WorkflowID string         `json:"workflow_id"`
	StartedAt  time.Time      `json:"started_at"`
	// Spec is the model's spec as the run recorded it (LoadSpec).
	Spec *config.Model `json:"spec,omitempty"`
}

// Quality is the champion's quality on the labelled rows of the window.
type Quality struct {
	Metric string `json:"metric"`
	// LabelledRows is how many rows of the window had labels.
	LabelledRows int `json:"labelled_rows"`
	// Holdout is the champion's value at its evaluation; Live on the window.
	Holdout *float64 `json:"holdout,omitempty"`
	Live    *float64 `json:"live,omitempty"`
	// Drop is how much worse Live is than Holdout, in the better direction
	// (positive is worse).
	Drop *float64 `json:"drop,omitempty"`
	// Dropped says Drop is over drift.quality_drop.
	Dropped bool               `json:"dropped"`
	Metrics *evaluator.Metrics `json:"metrics,omitempty"`
	// Matured says the rows are the champion's predictions of the matured
	// window (DriftDocument.Matured), not the drift window's.
	Matured bool `json:"matured,omitempty"`
}

// DriftDocument is what a drift report stores.
type DriftDocument struct {
	Drift   drift.Report `json:"drift"`
	Quality *Quality     `json:"quality,omitempty"`
	// Basis says which signal the verdict rests on: drift.BasisFeatures
	// (labels not in yet) or drift.BasisFeaturesAndQuality.
	Basis   string   `json:"basis"`
	Reasons []string `json:"reasons"`
	// Matured is the live quality on matured labels of the champion (and
	// the shadow), for a model whose labels come late (label.source table
	// or a label.delay): its champion's row decides the quality check.
	Matured []MaturedQuality `json:"matured,omitempty"`
}

// DriftSummary is the activity's answer: the verdict, no rows.
type DriftSummary struct {
	ReportID        string   `json:"report_id"`
	HasChampion     bool     `json:"has_champion"`
	Champion        string   `json:"champion,omitempty"`
	Generation      int64    `json:"generation,omitempty"`
	Rows            int64    `json:"rows"`
	Sufficient      bool     `json:"sufficient"`
	Drifted         bool     `json:"drifted"`
	QualityDropped  bool     `json:"quality_dropped"`
	MaxPSI          float64  `json:"max_psi"`
	DriftedFeatures int      `json:"drifted_features"`
	Reasons         []string `json:"reasons"`
	// LastDriftRetrain is when a drift report last started a retrain (zero:
	// never), for the cooldown.
	LastDriftRetrain time.Time `json:"last_drift_retrain"`
}

// CheckDrift streams the window once: every row goes into a drift window
// against the champion's reference profile (features, labels where present,
// and the champion's own scores), and labelled rows also score the
// champion's live quality. drift.Judge concludes from both; the report is
// stored in drift_reports.
func (a *Activities) CheckDrift(ctx context.Context, in DriftCheckInput) (sum *DriftSummary, err error) {
	if a.Observer != nil {
		defer func() { a.Observer.DriftChecked(in.Model, driftOutcome(sum, err)) }()
	}
	m, err := a.recorded(in.Model, in.Spec)
	if err != nil {
		return nil, err
	}
	champ, err := a.Registry.Champion(ctx, m.Name)
	if err != nil {
		return nil, err
	}
	if champ == nil {
		return &DriftSummary{Reasons: []string{fmt.Sprintf("model %s has no champion yet: nothing to compare with", m.Name)}}, nil
	}
	v, err := a.Registry.GetVersion(ctx, m.Name, champ.Version)
	if err != nil {
		return nil, err
	}
	var ref drift.Profile
	if err := json.Unmarshal(v.Profile, &ref); err != nil || len(v.Profile) == 0 {
		return nil, nonRetryable(ErrTypeCorruptArtifact, fmt.Errorf("champion %s of %s has no readable reference profile: retrain to replace it", v.ID, m.Name))
	}
	sm, err := a.loadModel(ctx, m.Name, v.ID.String())
	if err != nil {
		return nil, classify(err)
	}
	src := a.source(m)
	if sm.model.Schema().Mismatch(src.Schema()) != nil {
		return nil, nonRetryable(ErrTypeInvalidSpec, fmt.Errorf("champion %s of %s was trained on other features than the config declares: retrain", v.ID, m.Name))
	}

	days := dataset.Days(in.Window.From, in.Window.To)
	windows := make([]*drift.Tally, len(days))
	type labelled struct {
		truth, pred []int
		pos         []float64
	}
	live := make([]labelled, len(days))
	var rows atomic.Int64
	var mu sync.Mutex
	_, err = src.Scan(ctx, in.Window, dataset.ScanOptions{OptionalLabels: true}, func(day int, b *dataset.Batch) error {
		mu.Lock()
		w := windows[day]
		if w == nil {
			var err error
			if w, err = drift.NewTally(ref); err != nil {
				mu.Unlock()
				return nonRetryable(ErrTypeCorruptArtifact, fmt.Errorf("champion %s reference profile: %w", v.ID, err))
			}
			windows[day] = w
		}
		mu.Unlock()
		pred, pos, err := sm.model.Predict(b.X)
		if err != nil {
			return fmt.Errorf("champion %s scoring the window: %w", v.ID, err)
		}
		rs := newRowSplitter(sm.model.Schema())
		l := &live[day]
		for i, x := range b.X {
			num, cat := rs.split(x)
			if err := w.AddRow(num, cat); err != nil {
				return err
			}
			if pos != nil {
				if err := w.AddPrediction(pos[i]); err != nil {
					return err
				}
			}
			if y := b.Y[i]; y >= 0 {
				if err := w.AddLabel(m.Label.Classes[y]); err != nil {
					return err
				}
				l.truth = append(l.truth, y)
				l.pred = append(l.pred, pred[i])
				if pos != nil {
					l.pos = append(l.pos, pos[i])
				}
			}
		}
		activity.RecordHeartbeat(ctx, rows.Add(int64(b.Len())))
		return nil
	})
	if err != nil {
		return nil, classify(err)
	}
	total, _ := drift.NewTally(ref)
	var truth, pred []int
	var pos []float64
	for day, w := range windows {
		if w != nil {
			if err := total.Merge(w); err != nil {
				return nil, err
			}
		}
		truth = append(truth, live[day].truth...)
		pred = append(pred, live[day].pred...)
		pos = append(pos, live[day].pos...)
	}
	rep, err := total.Report(m.Drift.ReportOptions())
	if err != nil {
		return nil, err
	}
	if len(pos) != len(truth) {
		pos = nil
	}
	lq := drift.LiveQuality{Metric: m.Policy.PrimaryMetric, LabelledRows: len(truth)}
	lq.HigherIsBetter, _ = evaluator.Direction(lq.Metric)
	var liveMetrics *evaluator.Metrics
	if len(truth) > 0 {
		if lm, err := evaluator.Score(len(m.Label.Classes), truth, pred, pos); err == nil {
			liveMetrics = &lm
			if x, ok := lm.Value(lq.Metric); ok {
				lq.Live = &x
			}
		}
	}
	// Late labels: the drift window's rows are too recent to have theirs,
	// so the champion's predictions of the matured window, joined with
	// their labels, decide live quality instead.
	var matured []MaturedQuality
	if m.Label.FromTable() || m.Label.Delay > 0 {
		if matured, err = a.maturedQualities(ctx, m, v.ID, in.Window); err != nil {
			return nil, err
		}
		cq := matured[0]
		lq.LabelledRows, lq.Live, liveMetrics = int(cq.Labelled), nil, cq.Metrics
		if cq.Metrics != nil {
			if x, ok := cq.Metrics.Value(lq.Metric); ok {
				lq.Live = &x
			}
		}
	}
	var hm evaluator.Metrics
	if json.Unmarshal(v.Metrics, &hm) == nil {
		if x, ok := hm.Value(lq.Metric); ok {
			lq.Holdout = &x
		}
	}
	verdict := drift.Judge(rep, lq, drift.VerdictOptions{MaxDriftedFeatures: m.Drift.MaxDriftedFeatures, MinLabelledRows: m.Drift.MinRows, MaxQualityDrop: m.Drift.QualityDrop})

	doc := DriftDocument{Drift: rep, Basis: verdict.Basis, Reasons: verdict.Reasons, Matured: matured}
	if verdict.QualityCounted {
		doc.Quality = &Quality{Metric: lq.Metric, LabelledRows: lq.LabelledRows, Holdout: lq.Holdout, Live: lq.Live,
			Drop: verdict.Drop, Dropped: verdict.QualityDropped, Metrics: liveMetrics, Matured: matured != nil}
	}
	sum = &DriftSummary{HasChampion: true, Champion: v.ID.String(), Generation: champ.Generation, Rows: rep.Rows, Sufficient: rep.Sufficient,
		Drifted: verdict.FeaturesDrifted, QualityDropped: verdict.QualityDropped, MaxPSI: verdict.MaxPSI, DriftedFeatures: verdict.DriftedFeatures,
		Reasons: verdict.Reasons}

	body, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	id := registry.VersionID(in.StartedAt, versionKey(in.RunID, "drift"))
	sum.ReportID = id.String()
	if err := a.Registry.SaveDriftReport(ctx, &registry.DriftReport{
		Model: m.Name, ID: id, Champion: v.ID, Generation: champ.Generation, WindowFrom: in.Window.From, WindowTo: in.Window.To,
		Rows: rep.Rows, Drifted: verdict.Drifted(), MaxPSI: sum.MaxPSI, DriftedFeatures: sum.DriftedFeatures, Report: body,
	}); err != nil {
		return nil, err
	}
	reports, err := a.Registry.DriftReports(ctx, m.Name, 200)
	if err != nil {
		return nil, err
	}
	for _, r := range reports {
		if r.RetrainStarted {
			sum.LastDriftRetrain = r.ComputedAt()
			break
		}
	}
	return sum, nil
}

// RunningInput asks which runs of a workflow type are open for a model.
type RunningInput struct {
	Model        string `json:"model"`
	WorkflowType string `json:"workflow_type"`
}

// RunningWorkflows lists the open runs of a workflow type for a model,
// through Temporal's visibility (KingmakerModel search attribute).
func (a *Activities) RunningWorkflows(ctx context.Context, in RunningInput) ([]string, error) {
	if a.Temporal == nil {
		return nil, nonRetryable(ErrTypeInvalidSpec, fmt.Errorf("this worker has no Temporal client to list runs with"))
	}
	q := fmt.Sprintf("WorkflowType = '%s' AND KingmakerModel = '%s' AND ExecutionStatus = 'Running'", in.WorkflowType, in.Model)
	resp, err := a.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q, PageSize: 20})
	if err != nil {
		return nil, fmt.Errorf("list running %s of %s: %w", in.WorkflowType, in.Model, err)
	}
	var ids []string
	for _, e := range resp.Executions {
		ids = append(ids, e.GetExecution().GetWorkflowId())
	}
	return ids, nil
}

// MarkRetrainInput names the drift report that started a retrain.
type MarkRetrainInput struct {
	Model    string `json:"model"`
	ReportID string `json:"report_id"`
}

// MarkRetrainStarted records on a drift report that it started a retrain,
// which the cooldown of later checks reads.
func (a *Activities) MarkRetrainStarted(ctx context.Context, in MarkRetrainInput) error {
	id, err := gocql.ParseUUID(in.ReportID)
	if err != nil {
		return nonRetryable(ErrTypeInvalidSpec, fmt.Errorf("%q is not a report id", in.ReportID))
	}
	return a.Registry.MarkRetrainStarted(ctx, in.Model, id)
}

func driftOutcome(sum *DriftSummary, err error) string {
	switch {
	case err != nil:
		return "failed"
	case sum == nil || !sum.HasChampion:
		return "no_champion"
	case !sum.Sufficient:
		return "insufficient_data"
	case sum.Drifted || sum.QualityDropped:
		return "drifted"
	}
	return "ok"
}
