package config

import (
	"net/url"
	"slices"
	"time"

	"github.com/kingmaker-ml/kingmaker/evaluator"
)

// Probation is the watch a promotion is kept under after it: for Period the
// previous champion keeps scoring the live rows beside the new one (as the
// model's shadow), and at the end a one-sided paired test on the rows whose
// labels arrived confirms the promotion or rolls it back by compare-and-set
// (see workflows.ProbationWorkflow, and the README's "Probation"). A model
// without a period has no probation.
type Probation struct {
	// Period is how long a new champion is on probation; 0 (the default)
	// turns probation off.
	Period Duration `yaml:"period" json:"period,omitempty"`
	// Metric is what the paired test compares: accuracy (McNemar's one-sided
	// exact test) or another classification metric (one-sided paired
	// bootstrap). Default accuracy.
	Metric string `yaml:"metric" json:"metric,omitempty"`
	// MinLabelledRows is the fewest live rows scored by both versions whose
	// label arrived for the test to judge; with fewer at the end the new
	// champion is kept and the outcome says so (inconclusive).
	MinLabelledRows int `yaml:"min_labelled_rows" json:"min_labelled_rows,omitempty"`
	// MaxDrop is how much worse than the previous champion the new one may
	// be on the metric (previous - new, in the metric's units, signed so
	// that positive is worse) before a significant drop rolls it back.
	MaxDrop float64 `yaml:"max_drop" json:"max_drop,omitempty"`
	// SignificanceLevel is the level of the one-sided test of "the previous
	// champion is not better": a roll back needs a p-value below it.
	SignificanceLevel float64 `yaml:"significance_level" json:"significance_level,omitempty"`
	// CanaryFraction, when above 0, makes `kingmaker serve` let the previous
	// champion answer that share of keyed requests (by a stable hash of the
	// first row's id, else the request id) while a probation runs, the new
	// champion being scored beside it; 0 (the default) only shadows. Serve
	// reads it from its own config.
	CanaryFraction float64 `yaml:"canary_fraction" json:"canary_fraction,omitempty"`
	// MaxErrorRate and MaxLatencyP99, when set, roll the promotion back early
	// when the new champion's share of 5xx answers, or the 99th percentile of
	// the model's request latency, passes them over CheckEvery, as the
	// Prometheus at MetricsURL saw the serving metrics.
	MaxErrorRate  float64  `yaml:"max_error_rate" json:"max_error_rate,omitempty"`
	MaxLatencyP99 Duration `yaml:"max_latency_p99" json:"max_latency_p99,omitempty"`
	// MetricsURL is the Prometheus HTTP API (http://host:9090) that scrapes
	// `kingmaker serve`; required with MaxErrorRate or MaxLatencyP99.
	MetricsURL string `yaml:"metrics_url" json:"metrics_url,omitempty"`
	// CheckEvery is how often the probation looks at the pointer (a manual
	// promotion or rollback ends it) and the serving limits. Default 5m.
	CheckEvery Duration `yaml:"check_every" json:"check_every,omitempty"`
}

// Enabled reports whether promotions of the model are put on probation.
func (p Probation) Enabled() bool { return p.Period > 0 }

// MaxProbationPeriod is the longest policy.probation.period: the shadow
// predictions it is judged on are kept 90 days.
const MaxProbationPeriod = 30 * Day

// MaxProbationChecks bounds period / check_every: each check adds a timer
// and an activity to the probation's workflow history, which Temporal
// limits to about 50,000 events.
const MaxProbationChecks = 4000

// MaxCanaryFraction is the largest policy.probation.canary_fraction: the
// previous champion answers a minority, never the bulk, of the traffic.
const MaxCanaryFraction = 0.5

// setDefaults fills in a probation that is on; one that is off stays zero,
// so configs and recorded specs without probation read as before.
func (p *Probation) setDefaults(f fieldSet) {
	if !p.Enabled() {
		return
	}
	f.setStr(&p.Metric, evaluator.MetricAccuracy)
	f.setInt(&p.MinLabelledRows, 200)
	f.setFloat(&p.SignificanceLevel, evaluator.DefaultSignificanceLevel)
	f.setDur(&p.CheckEvery, 5*time.Minute)
}

func (v *validator) probation(path string, p Probation, task string) {
	if p.Period < 0 || p.Period.D() > MaxProbationPeriod {
		v.add(path+".period", "%s is not between 0 (no probation) and %s", p.Period, Duration(MaxProbationPeriod))
	}
	if !p.Enabled() {
		return
	}
	if task == TaskRegression {
		v.add(path+".period", "a probation judges the new champion by the classes it and the previous one predicted on live rows: task regression has no classes; remove policy.probation")
		return
	}
	v.metric(path+".metric", p.Metric, task)
	if p.MinLabelledRows < 1 {
		v.add(path+".min_labelled_rows", "must be at least 1")
	}
	if p.MaxDrop < 0 {
		v.add(path+".max_drop", "must not be negative")
	}
	if p.SignificanceLevel <= 0 || p.SignificanceLevel >= 1 {
		v.add(path+".significance_level", "%g is not in (0, 1)", p.SignificanceLevel)
	}
	if p.CanaryFraction < 0 || p.CanaryFraction > MaxCanaryFraction {
		v.add(path+".canary_fraction", "%g is not between 0 (shadow only) and %g", p.CanaryFraction, MaxCanaryFraction)
	}
	if p.MaxErrorRate < 0 || p.MaxErrorRate > 1 {
		v.add(path+".max_error_rate", "%g is not a share in [0, 1] (0: no limit)", p.MaxErrorRate)
	}
	if p.MaxLatencyP99 < 0 {
		v.add(path+".max_latency_p99", "must not be negative (0: no limit)")
	}
	switch {
	case p.CheckEvery <= 0 || p.CheckEvery > p.Period:
		v.add(path+".check_every", "%s is not between 0 and the period %s", p.CheckEvery, p.Period)
	case p.Period.D() <= MaxProbationPeriod && int64(p.Period/p.CheckEvery) > MaxProbationChecks:
		v.add(path+".check_every", "%s makes %d checks in the period %s, more than %d: check less often", p.CheckEvery, int64(p.Period/p.CheckEvery), p.Period, MaxProbationChecks)
	}
	if (p.MaxErrorRate > 0 || p.MaxLatencyP99 > 0) && p.MetricsURL == "" {
		v.add(path+".metrics_url", "is required with max_error_rate or max_latency_p99: the Prometheus that scrapes `kingmaker serve`")
	}
	if p.MetricsURL != "" {
		if u, err := url.Parse(p.MetricsURL); err != nil || !slices.Contains([]string{"http", "https"}, u.Scheme) || u.Host == "" {
			v.add(path+".metrics_url", "%q is not an http(s) URL", p.MetricsURL)
		}
	}
}
