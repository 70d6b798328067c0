// Package prometheus_test checks Kingmaker's Prometheus rules and config with promtool, and the
// Grafana dashboard's queries against the worker's metric contract. It has no code of its own:
// the files it tests are alerts.yml, alerts_test.yml, prometheus.yml and
// ../grafana/kingmaker-dashboard.json.
package prometheus_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"gopkg.in/yaml.v3"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/serving"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

const dashboardFile = "../grafana/kingmaker-dashboard.json"

// contractMetrics are the series the worker exports on /metrics (the contract the rules and the
// dashboard are written against). Histograms appear with their _bucket, _sum and _count series.
var contractMetrics = map[string]bool{
	"kingmaker_feature_drift":                    true,
	"kingmaker_feature_drifted":                  true,
	"kingmaker_drift_detected":                   true,
	"kingmaker_drift_report_timestamp_seconds":   true,
	"kingmaker_drift_window_rows":                true,
	"kingmaker_champion_generation":              true,
	"kingmaker_champion_age_seconds":             true,
	"kingmaker_champion_info":                    true,
	"kingmaker_champion_metric":                  true,
	"kingmaker_challenger_metric":                true,
	"kingmaker_retrains_total":                   true,
	"kingmaker_promotions_total":                 true,
	"kingmaker_trainings_total":                  true,
	"kingmaker_drift_checks_total":               true,
	"kingmaker_probation_outcomes_total":         true,
	"kingmaker_training_duration_seconds_bucket": true,
	"kingmaker_training_duration_seconds_sum":    true,
	"kingmaker_training_duration_seconds_count":  true,
	"kingmaker_task_queue_builds":                true,
	"kingmaker_worker_build_info":                true,
}

// serveMetrics are the series `kingmaker serve` exports that the rules use (TestServeExportsTheContract
// checks them against a real server of package serving).
var serveMetrics = []string{
	"kingmaker_serving_requests_total",
	"kingmaker_serving_request_duration_seconds_bucket",
	"kingmaker_serving_model_ready",
	"kingmaker_serving_shadow_agreement_ratio",
	"kingmaker_threshold",
}

// otherExporters are prefixes of series the worker exports besides its own: the Temporal SDK's,
// and client_golang's process and Go runtime collectors.
var otherExporters = []string{"temporal_", "process_", "go_"}

// allowedMetric reports whether name is a series the worker exports, or `up`, which Prometheus
// itself writes for every scraped target.
func allowedMetric(name string) bool {
	if contractMetrics[name] || name == "up" || slices.Contains(serveMetrics, name) {
		return true
	}
	for _, p := range otherExporters {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// promtool returns the path of promtool. Without it the rules are untested, so the test fails
// (make test installs it first); only `go test -short` may skip.
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if testing.Short() {
			t.Skip("promtool not on PATH; -short skips the Prometheus rule tests")
		}
		t.Fatal("promtool not on PATH: run scripts/prometheus.sh install (Debian package prometheus); make test does it first")
	}
	return path
}

// runPromtool runs promtool with args in dir and fails the test with its output when it fails.
func runPromtool(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestPromtool(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"alerts.yml is valid", []string{"check", "rules", "alerts.yml"}},
		{"every alert passes its unit tests", []string{"test", "rules", "alerts_test.yml"}},
		{"prometheus.yml is valid with its rule files", []string{"check", "config", "prometheus.yml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runPromtool(t, ".", tt.args...) })
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func readRules(t *testing.T) []rule {
	t.Helper()
	b, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("parse alerts.yml: %v", err)
	}
	var rules []rule
	for _, g := range f.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		t.Fatal("alerts.yml has no rules")
	}
	return rules
}

func TestAlertsAreComplete(t *testing.T) {
	want := []string{
		"KingmakerChampionQualityDropped", "KingmakerChampionStale", "KingmakerDriftDetected",
		"KingmakerDriftReportMissing", "KingmakerFeatureDrifted", "KingmakerProbationRolledBack", "KingmakerRetrainsFailing",
		"KingmakerWorkerBuildsMixed", "KingmakerWorkerDown",
		"KingmakerServeDown", "KingmakerServingErrors", "KingmakerServingNotReady", "KingmakerServingSlow",
		"KingmakerShadowDisagrees",
	}
	slices.Sort(want)
	var got []string
	for _, r := range readRules(t) {
		if r.Alert == "" {
			continue
		}
		got = append(got, r.Alert)
		if r.For == "" {
			t.Errorf("%s has no for: (one bad scrape would page)", r.Alert)
		}
		if s := r.Labels["severity"]; s != "info" && s != "warning" && s != "critical" {
			t.Errorf("%s: severity %q, want info, warning or critical", r.Alert, s)
		}
		for _, a := range []string{"summary", "description", "runbook"} {
			if r.Annotations[a] == "" {
				t.Errorf("%s has no %s annotation", r.Alert, a)
			}
		}
		if !strings.Contains(r.Annotations["runbook"], "kingmaker ") {
			t.Errorf("%s: runbook %q names no kingmaker command", r.Alert, r.Annotations["runbook"])
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("alerts in alerts.yml = %v, want %v", got, want)
	}
}

// The quality alert lists the metrics where higher is better (holdout - live) and the losses
// (live - holdout), each once; the evaluator owns the two lists.
func TestQualityAlertCoversEveryMetricByItsDirection(t *testing.T) {
	var expr string
	for _, r := range readRules(t) {
		if r.Alert == "KingmakerChampionQualityDropped" {
			expr = r.Expr
		}
	}
	lists := regexp.MustCompile(`metric=~"([^"]+)"`).FindAllStringSubmatch(expr, -1)
	if len(lists) != 2 {
		t.Fatalf("KingmakerChampionQualityDropped: %d metric=~\"...\" matchers in %q, want two (higher is better, then lower)", len(lists), expr)
	}
	var higher, lower []string
	for _, name := range evaluator.KnownMetrics() {
		if h, _ := evaluator.Direction(name); h {
			higher = append(higher, name)
		} else {
			lower = append(lower, name)
		}
	}
	for i, want := range [][]string{higher, lower} {
		got := strings.Split(lists[i][1], "|")
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("KingmakerChampionQualityDropped's matcher %d lists %v; evaluator's metrics of that direction are %v", i+1, got, want)
		}
	}
	for _, want := range []string{`"direction", "higher_is_better"`, `"direction", "lower_is_better"`} {
		if !strings.Contains(expr, want) {
			t.Errorf("KingmakerChampionQualityDropped does not label its alerts %s", want)
		}
	}
}

func TestRulesUseContractMetrics(t *testing.T) {
	rules := readRules(t)
	recorded := map[string]bool{}
	for _, r := range rules {
		if r.Record != "" {
			recorded[r.Record] = true
		}
	}
	for _, r := range rules {
		for _, name := range metricNames(r.Expr) {
			if !allowedMetric(name) && !recorded[name] {
				t.Errorf("%s%s: %s is not a metric of the worker's contract nor recorded in alerts.yml", r.Record, r.Alert, name)
			}
		}
	}
}

type dashboard struct {
	SchemaVersion int        `json:"schemaVersion"`
	UID           string     `json:"uid"`
	Panels        []panel    `json:"panels"`
	Templating    templating `json:"templating"`
}

type panel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource json.RawMessage `json:"datasource"`
	Targets    []struct {
		Expr       string          `json:"expr"`
		Datasource json.RawMessage `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // of a collapsed row
}

type templating struct {
	List []struct {
		Name       string          `json:"name"`
		Type       string          `json:"type"`
		Query      json.RawMessage `json:"query"`
		Definition string          `json:"definition"`
	} `json:"list"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboardFile, err)
	}
	return d
}

// dashboardExprs returns the PromQL of every panel target, by panel title.
func dashboardExprs(t *testing.T, d dashboard) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			if !strings.Contains(string(p.Datasource), "${datasource}") {
				t.Errorf("panel %q: datasource %s, want the ${datasource} variable", p.Title, p.Datasource)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q has an empty query", p.Title)
				}
				out[p.Title] = append(out[p.Title], tg.Expr)
			}
		}
	}
	walk(d.Panels)
	return out
}

func TestDashboard(t *testing.T) {
	d := readDashboard(t)
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d, want a current Grafana schema (39)", d.SchemaVersion)
	}
	if d.UID == "" {
		t.Error("dashboard has no uid: provisioning would create a new one on every load")
	}

	vars := map[string]string{}
	for _, v := range d.Templating.List {
		var q string
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var obj struct{ Query string }
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				t.Fatalf("variable %s: query %s", v.Name, v.Query)
			}
			q = obj.Query
		}
		vars[v.Name] = v.Type + ":" + q
	}
	if got := vars["datasource"]; got != "datasource:prometheus" {
		t.Errorf("variable datasource = %q, want a datasource variable of type prometheus", got)
	}
	if got := vars["model"]; got != "query:label_values(kingmaker_champion_generation, model)" {
		t.Errorf("variable model = %q, want label_values(kingmaker_champion_generation, model)", got)
	}

	exprs := dashboardExprs(t, d)
	if len(exprs) == 0 {
		t.Fatal("dashboard has no queries")
	}
	titles := slices.Sorted(func(yield func(string) bool) {
		for k := range exprs {
			if !yield(k) {
				return
			}
		}
	})
	for _, title := range titles {
		for _, e := range exprs[title] {
			for _, name := range metricNames(e) {
				if !allowedMetric(name) {
					t.Errorf("panel %q queries %s, which is not in the worker's metric contract: %s", title, name, e)
				}
			}
		}
	}
}

// The dashboard's queries parse: each becomes a recording rule of a throw-away file that
// promtool checks, with Grafana's variables replaced by values.
func TestDashboardQueriesParse(t *testing.T) {
	exprs := dashboardExprs(t, readDashboard(t))
	grafanaVars := strings.NewReplacer("$__rate_interval", "1m", "$__interval", "1m", "$__range", "1h", "${model}", ".*", "$model", ".*")
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, title := range slices.Sorted(func(yield func(string) bool) {
		for k := range exprs {
			if !yield(k) {
				return
			}
		}
	}) {
		for _, e := range exprs[title] {
			n++
			q, _ := json.Marshal(grafanaVars.Replace(e)) // a JSON string is a YAML string
			fmt.Fprintf(&b, "      # %s\n      - record: dashboard:query_%d\n        expr: %s\n", title, n, q)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dashboard.yml (the panels' queries as recording rules):\n%s", b.String())
		}
	})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dashboard.yml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, dir, "check", "rules", "dashboard.yml")
}

var (
	promqlString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promqlMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promqlRange    = regexp.MustCompile(`\[[^\]]*\]`)
	promqlGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	grafanaVar     = regexp.MustCompile(`\$\{?\w+\}?`)
	identifier     = regexp.MustCompile(`(?:^|[^a-zA-Z0-9_:.])([a-zA-Z_:][a-zA-Z0-9_:]*)`)
	labelValues    = regexp.MustCompile(`^\s*label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)`)
	promqlKeywords = map[string]bool{
		"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true,
		"without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
		"inf": true, "nan": true, "atan2": true,
	}
)

// metricNames returns the metric names an expression selects: identifiers that are not
// functions, keywords, label names of matchers or groupings, durations or Grafana variables.
// It is a scanner, not a parser; TestDashboardQueriesParse and promtool check the syntax.
func metricNames(expr string) []string {
	if m := labelValues.FindStringSubmatch(expr); m != nil {
		return []string{m[1]}
	}
	s := promqlString.ReplaceAllString(expr, `""`)
	s = grafanaVar.ReplaceAllString(s, "1")
	s = promqlMatchers.ReplaceAllString(s, " ")
	s = promqlRange.ReplaceAllString(s, " ")
	s = promqlGrouping.ReplaceAllString(s, " ")
	var names []string
	for _, m := range identifier.FindAllStringSubmatchIndex(s, -1) {
		name := s[m[2]:m[3]]
		call := strings.HasPrefix(strings.TrimSpace(s[m[3]:]), "(")
		if call || promqlKeywords[strings.ToLower(name)] {
			continue
		}
		names = append(names, name)
	}
	return names
}

func TestMetricNames(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`kingmaker_drift_detected{model=~"$model"} == 1`, []string{"kingmaker_drift_detected"}},
		{`histogram_quantile(0.95, sum by (le, model) (rate(kingmaker_training_duration_seconds_bucket{model=~"$model"}[$__rate_interval])))`,
			[]string{"kingmaker_training_duration_seconds_bucket"}},
		{`(increase(a_total[6h]) and b offset 6h) or c`, []string{"a_total", "b", "c"}},
		{`x - on (model, metric) group_left (version) y > 0.05`, []string{"x", "y"}},
		{`time() - ts > 3 * 3600 and on(model) gen`, []string{"ts", "gen"}},
		{`sum by (model) (rate(m[1h])) * 3600 > 1e3`, []string{"m"}},
		{`label_values(kingmaker_champion_generation, model)`, []string{"kingmaker_champion_generation"}},
		{`up{job="kingmaker"} == 0 or absent(up{job="kingmaker"})`, []string{"up", "up"}},
	}
	for _, tt := range tests {
		if got := metricNames(tt.expr); !slices.Equal(got, tt.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tt.expr, got, tt.want)
		}
	}
}

// nopSource is a champion source that has no champions.
type nopSource struct{}

func (nopSource) Champion(context.Context, string) (*registry.Champion, error) { return nil, nil }
func (nopSource) Load(context.Context, string, gocql.UUID) (trainer.Model, error) {
	return nil, errors.New("no versions")
}

func TestServeExportsTheContract(t *testing.T) {
	m := config.Model{Name: "churn", Features: []config.Feature{{Name: "x", Column: "x", Type: "numeric"}},
		Label: config.Label{Column: "y", Classes: []string{"false", "true"}}}
	m.Policy.Shadow = config.Shadow{Period: config.Duration(time.Hour), MinAgreement: 0.9}
	srv, err := serving.New(serving.Options{Models: []config.Model{m}, Source: nopSource{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/models/churn:predict", strings.NewReader(`{"instances": [{"x": 1}]}`)))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	exported := map[string]bool{}
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if name, _, ok := strings.Cut(line, "{"); ok && !strings.HasPrefix(line, "#") {
			exported[name] = true
		}
	}
	for _, name := range serveMetrics {
		// The agreement ratio exists only while a shadow has scored rows.
		if !exported[name] && name != "kingmaker_serving_shadow_agreement_ratio" {
			t.Errorf("serve does not export %s, which the rules use", name)
		}
	}
}
