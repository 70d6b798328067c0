package config

import (
	"strings"
	"testing"
	"time"
)

func TestAModelWithoutProbationHasNone(t *testing.T) {
	cfg := loadExample(t)
	if p := cfg.Models[0].Policy.Probation; p.Enabled() || p != (Probation{}) {
		t.Fatalf("probation %+v, want none (and no defaults) when policy.probation is absent", p)
	}
}

func TestAProbationPeriodGetsItsDefaults(t *testing.T) {
	cfg, err := Parse([]byte(`
models:
  - name: m
    source: {table: events}
    features: [{name: x}]
    label: {column: y}
    candidates: [{algorithm: logistic}]
    policy: {probation: {period: 2d}}
`))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Models[0].Policy.Probation
	want := Probation{Period: Duration(48 * time.Hour), Metric: "accuracy", MinLabelledRows: 200, SignificanceLevel: 0.05, CheckEvery: Duration(5 * time.Minute)}
	if p != want {
		t.Fatalf("probation %+v, want %+v", p, want)
	}
}

func TestProbationValidationNamesTheField(t *testing.T) {
	on := func(edit func(p *Probation)) func(c *Config) {
		return func(c *Config) {
			p := &c.Models[0].Policy.Probation
			*p = Probation{Period: Duration(24 * time.Hour)}
			p.setDefaults(nil)
			edit(p)
		}
	}
	cases := []struct {
		name   string
		mutate func(c *Config)
		want   string
	}{
		{"a period of months", on(func(p *Probation) { p.Period = Duration(90 * Day) }), `models[0].policy.probation.period: 90d is not between 0 (no probation) and 30d`},
		{"an unknown metric", on(func(p *Probation) { p.Metric = "auc" }), `models[0].policy.probation.metric: unknown "auc"`},
		{"no labelled rows", on(func(p *Probation) { p.MinLabelledRows = 0 }), `models[0].policy.probation.min_labelled_rows: must be at least 1`},
		{"a negative drop", on(func(p *Probation) { p.MaxDrop = -0.1 }), `models[0].policy.probation.max_drop: must not be negative`},
		{"a significance level of one", on(func(p *Probation) { p.SignificanceLevel = 1 }), `models[0].policy.probation.significance_level: 1 is not in (0, 1)`},
		{"a canary of most traffic", on(func(p *Probation) { p.CanaryFraction = 0.9 }), `models[0].policy.probation.canary_fraction: 0.9 is not between 0 (shadow only) and 0.5`},
		{"an error rate over one", on(func(p *Probation) { p.MaxErrorRate, p.MetricsURL = 2, "http://p:9090" }), `models[0].policy.probation.max_error_rate: 2 is not a share in [0, 1]`},
		{"limits without a Prometheus", on(func(p *Probation) { p.MaxLatencyP99 = Duration(time.Second) }), `models[0].policy.probation.metrics_url: is required with max_error_rate or max_latency_p99`},
		{"a Prometheus that is not a URL", on(func(p *Probation) { p.MetricsURL = "prometheus:9090" }), `models[0].policy.probation.metrics_url: "prometheus:9090" is not an http(s) URL`},
		{"a check every second for a day", on(func(p *Probation) { p.CheckEvery = Duration(time.Second) }), `models[0].policy.probation.check_every: 1s makes 86400 checks in the period 1d, more than 4000: check less often`},
		{"checks longer than the period", on(func(p *Probation) { p.CheckEvery = Duration(48 * time.Hour) }), `models[0].policy.probation.check_every: 2d is not between 0 and the period 1d`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadExample(t)
			tc.mutate(cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
			if n := strings.Count(err.Error(), "\n") + 1; n != 1 {
				t.Fatalf("Validate gave %d problems, want this one only: %v", n, err)
			}
		})
	}
}
