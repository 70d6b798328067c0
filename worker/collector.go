package worker

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/registry"
)

// Descriptions of the gauges read from the registry at scrape time.
var (
	descGeneration = prometheus.NewDesc("kingmaker_champion_generation",
		"Generation of the model's champion pointer; it grows by one at each promotion or rollback.", []string{"model"}, nil)
	descAge = prometheus.NewDesc("kingmaker_champion_age_seconds",
		"Seconds since the champion was promoted.", []string{"model"}, nil)
	descInfo = prometheus.NewDesc("kingmaker_champion_info",
		"The champion's version and algorithm, as labels; always 1.", []string{"model", "version", "algorithm"}, nil)
	descChampionMetric = prometheus.NewDesc("kingmaker_champion_metric",
		"The champion's quality: source=holdout at its evaluation, source=live on the labelled rows of the latest drift check.",
		[]string{"model", "metric", "source"}, nil)
	descChallengerMetric = prometheus.NewDesc("kingmaker_challenger_metric",
		"Holdout quality of the best challenger of the latest retrain.", []string{"model", "metric"}, nil)
	descFeatureDrift = prometheus.NewDesc("kingmaker_feature_drift",
		"Drift of a feature in the latest drift report, by statistic (psi, psi_excess: PSI above its no-change level at the report's sizes, js_distance, ks_statistic, chi2_statistic, adjusted_p_value).",
		[]string{"model", "feature", "statistic"}, nil)
	descFeatureDrifted = prometheus.NewDesc("kingmaker_feature_drifted",
		"1 when the latest drift report found the feature drifted (enough rows, adjusted p-value at most drift.false_alarm_rate, PSI above its no-change level by drift.min_psi_excess or more), else 0.",
		[]string{"model", "feature"}, nil)
	descDriftDetected = prometheus.NewDesc("kingmaker_drift_detected",
		"1 when the latest drift report found the model drifted (features or live quality), else 0.", []string{"model"}, nil)
	descDriftTime = prometheus.NewDesc("kingmaker_drift_report_timestamp_seconds",
		"Unix time of the latest drift report.", []string{"model"}, nil)
	descDriftRows = prometheus.NewDesc("kingmaker_drift_window_rows",
		"Rows in the window of the latest drift report.", []string{"model"}, nil)
	descLabelCoverage = prometheus.NewDesc("kingmaker_retrain_label_coverage_ratio",
		"Share of the latest retrain's window rows that had a label at its as-of time (labelled / all rows).", []string{"model"}, nil)
	descRetrainRows = prometheus.NewDesc("kingmaker_retrain_window_rows",
		"Rows of the latest retrain's window, by kind: labelled (they count toward window.min_rows), unlabelled (no label yet at the run's as-of time, left out) and skipped (invalid, window.invalid_rows skip).",
		[]string{"model", "kind"}, nil)
	descLiveCoverage = prometheus.NewDesc("kingmaker_live_label_coverage_ratio",
		"Share of the predictions of the matured window (the latest drift window moved back by label.delay) whose rows have a label, by role (champion, shadow).",
		[]string{"model", "role"}, nil)
	descLiveLabelled = prometheus.NewDesc("kingmaker_live_labelled_rows",
		"Predictions of the matured window joined with a label, by role (champion, shadow): the rows the live metric is computed on.",
		[]string{"model", "role"}, nil)
	descLiveMetric = prometheus.NewDesc("kingmaker_live_metric",
		"Live quality on matured labels: a version's metric on its predictions of the matured window joined with their labels, by role (champion, shadow).",
		[]string{"model", "metric", "role"}, nil)
	descRegistryUp = prometheus.NewDesc("kingmaker_registry_up",
		"1 when the last read of the registry for these metrics succeeded.", nil, nil)
)

// exportedMetrics are the metrics exported for champions and challengers.
var exportedMetrics = []string{evaluator.MetricAccuracy, evaluator.MetricROCAUC, evaluator.MetricF1Macro, evaluator.MetricLogLoss, evaluator.MetricPrecisionMacro, evaluator.MetricRecallMacro}

// registryCollector reads champion, evaluation and drift state from the
// registry when scraped, so every worker exports the same truth. Reads are
// cached for ttl so frequent scrapes cost one read.
type registryCollector struct {
	reg    *registry.Registry
	models []config.Model
	ttl    time.Duration
	logger *slog.Logger

	mu      sync.Mutex
	at      time.Time
	metrics []prometheus.Metric
}

func newRegistryCollector(reg *registry.Registry, models []config.Model, ttl time.Duration, logger *slog.Logger) *registryCollector {
	return &registryCollector{reg: reg, models: models, ttl: ttl, logger: logger}
}

func (c *registryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descGeneration, descAge, descInfo, descChampionMetric, descChallengerMetric,
		descFeatureDrift, descFeatureDrifted, descDriftDetected, descDriftTime, descDriftRows, descRegistryUp,
		descLabelCoverage, descRetrainRows, descLiveCoverage, descLiveLabelled, descLiveMetric} {
		ch <- d
	}
}

func (c *registryCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.metrics == nil || now.Sub(c.at) >= c.ttl {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ms, err := c.read(ctx, now)
		cancel()
		up := 1.0
		if err != nil {
			up = 0
			c.logger.Warn("reading the registry for metrics failed", "error", err)
		}
		c.metrics = append(ms, prometheus.MustNewConstMetric(descRegistryUp, prometheus.GaugeValue, up))
		c.at = now
	}
	for _, m := range c.metrics {
		ch <- m
	}
}

func gauge(desc *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
}

func metricValues(doc json.RawMessage) (evaluator.Metrics, bool) {
	var m evaluator.Metrics
	if len(doc) == 0 || json.Unmarshal(doc, &m) != nil {
		return m, false
	}
	return m, true
}

// read builds every registry-backed metric; on error it returns what it
// read so far.
func (c *registryCollector) read(ctx context.Context, now time.Time) ([]prometheus.Metric, error) {
	var out []prometheus.Metric
	for _, m := range c.models {
		champ, err := c.reg.Champion(ctx, m.Name)
		if err != nil {
			return out, err
		}
		if champ != nil {
			out = append(out, gauge(descGeneration, float64(champ.Generation), m.Name), gauge(descAge, now.Sub(champ.PromotedAt).Seconds(), m.Name))
			if v, err := c.reg.GetVersion(ctx, m.Name, champ.Version); err == nil {
				out = append(out, gauge(descInfo, 1, m.Name, champ.Version.String(), v.Algorithm))
				if hm, ok := metricValues(v.Metrics); ok {
					out = appendMetrics(out, descChampionMetric, hm, m.Name, "holdout")
				}
			}
		}
		evs, err := c.reg.Evaluations(ctx, m.Name, 1)
		if err != nil {
			return out, err
		}
		if len(evs) > 0 {
			if best, ok := bestChallenger(evs[0].Decision, m.Policy.PrimaryMetric); ok {
				out = appendMetrics(out, descChallengerMetric, best, m.Name)
			}
			out = appendLabelCoverage(out, evs[0].Decision, m.Name)
		}
		reports, err := c.reg.DriftReports(ctx, m.Name, 1)
		if err != nil {
			return out, err
		}
		if len(reports) == 0 {
			continue
		}
		r := reports[0]
		out = append(out, gauge(descDriftTime, float64(r.ComputedAt().Unix()), m.Name))
		if champ == nil || r.Champion != champ.Version {
			// The report measured a champion that has since been replaced:
			// its verdict says nothing about the current one.
			out = append(out, gauge(descDriftDetected, 0, m.Name))
			continue
		}
		detected := 0.0
		if r.Drifted {
			detected = 1
		}
		out = append(out, gauge(descDriftDetected, detected, m.Name), gauge(descDriftRows, float64(r.Rows), m.Name))
		var doc activities.DriftDocument
		if json.Unmarshal(r.Report, &doc) != nil {
			continue
		}
		for _, f := range doc.Drift.Features {
			drifted := 0.0
			if f.Drifted {
				drifted = 1
			}
			out = append(out, gauge(descFeatureDrift, f.PSI, m.Name, f.Name, "psi"), gauge(descFeatureDrift, f.PSIExcess, m.Name, f.Name, "psi_excess"),
				gauge(descFeatureDrift, f.JensenShannon, m.Name, f.Name, "js_distance"), gauge(descFeatureDrift, f.AdjustedPValue, m.Name, f.Name, "adjusted_p_value"),
				gauge(descFeatureDrifted, drifted, m.Name, f.Name))
			if f.KS != nil {
				out = append(out, gauge(descFeatureDrift, f.KS.Statistic, m.Name, f.Name, "ks_statistic"))
			}
			if f.ChiSquare != nil {
				out = append(out, gauge(descFeatureDrift, f.ChiSquare.Statistic, m.Name, f.Name, "chi2_statistic"))
			}
		}
		if doc.Quality != nil && doc.Quality.Metrics != nil {
			out = appendMetrics(out, descChampionMetric, *doc.Quality.Metrics, m.Name, "live")
		}
		for _, q := range doc.Matured {
			out = append(out, gauge(descLiveCoverage, q.Coverage, m.Name, q.Role), gauge(descLiveLabelled, float64(q.Labelled), m.Name, q.Role))
			if q.Metrics != nil {
				out = appendMetrics(out, descLiveMetric, *q.Metrics, m.Name, q.Role)
			}
		}
	}
	return out, nil
}

// appendMetrics adds one gauge per exported metric the model has; labels
// are the leading label values, the metric name goes in its slot.
func appendMetrics(out []prometheus.Metric, desc *prometheus.Desc, m evaluator.Metrics, model string, source ...string) []prometheus.Metric {
	for _, name := range exportedMetrics {
		if v, ok := m.Value(name); ok {
			out = append(out, gauge(desc, v, append([]string{model, name}, source...)...))
		}
	}
	return out
}

// bestChallenger finds, in a stored decision record, the candidate the
// decision named, or else the best by the primary metric.
func bestChallenger(doc json.RawMessage, primary string) (evaluator.Metrics, bool) {
	var rec struct {
		Evaluation *activities.Evaluation `json:"evaluation"`
		Decision   *evaluator.Decision    `json:"decision"`
	}
	if json.Unmarshal(doc, &rec) != nil || rec.Evaluation == nil || len(rec.Evaluation.Candidates) == 0 {
		return evaluator.Metrics{}, false
	}
	higher, _ := evaluator.Direction(primary)
	best, bestV, found := evaluator.Metrics{}, 0.0, false
	for _, c := range rec.Evaluation.Candidates {
		if rec.Decision != nil && rec.Decision.Winner == c.Version {
			return c.Metrics, true
		}
		v, ok := c.Metrics.Value(primary)
		if ok && (!found || (higher && v > bestV) || (!higher && v < bestV)) {
			best, bestV, found = c.Metrics, v, true
		}
	}
	return best, found
}

// appendLabelCoverage adds the label coverage of a stored decision record,
// when it has one (runs recorded before label sources have none).
func appendLabelCoverage(out []prometheus.Metric, doc json.RawMessage, model string) []prometheus.Metric {
	var rec struct {
		Labels *activities.LabelCoverage `json:"labels"`
	}
	if json.Unmarshal(doc, &rec) != nil || rec.Labels == nil {
		return out
	}
	l := rec.Labels
	return append(out, gauge(descLabelCoverage, l.Coverage, model),
		gauge(descRetrainRows, float64(l.Labelled), model, "labelled"),
		gauge(descRetrainRows, float64(l.Unlabelled), model, "unlabelled"),
		gauge(descRetrainRows, float64(l.Skipped), model, "skipped"))
}
