// Package alertmanager_test checks Kingmaker's Alertmanager routes (alertmanager.yml) with amtool,
// and, with the real alertmanager and prometheus binaries on loopback, that an alert travels from
// Prometheus's rules through those routes to a receiver's webhook. It has no code of its own.
//
// The tools come from Debian's packages prometheus-alertmanager (alertmanager, installed as
// prometheus-alertmanager, and amtool) and prometheus (scripts/alertmanager.sh install,
// scripts/prometheus.sh install; make tools). Without them the tests fail; only go test -short
// skips them.
package alertmanager_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const (
	configFile = "alertmanager.yml"
	rulesFile  = "../prometheus/alerts.yml"
)

// wantReceiver is the receiver each alert of alerts.yml reaches. A new alert must be added here:
// TestEveryAlertReachesItsReceiver fails for an alert it does not name.
var wantReceiver = map[string]string{
	"KingmakerDriftDetected":          "kingmaker-drift",
	"KingmakerFeatureDrifted":         "kingmaker-drift",
	"KingmakerDriftReportMissing":     "kingmaker-drift",
	"KingmakerChampionQualityDropped": "kingmaker-quality",
	"KingmakerShadowDisagrees":        "kingmaker-quality",
	"KingmakerProbationRolledBack":    "kingmaker-quality",
	"KingmakerServingErrors":          "kingmaker-serving",
	"KingmakerServingSlow":            "kingmaker-serving",
	"KingmakerRetrainsFailing":        "kingmaker-retrain",
	"KingmakerChampionStale":          "kingmaker-retrain",
	"KingmakerWorkerDown":             "kingmaker-page",
	"KingmakerWorkerBuildsMixed":      "kingmaker-default",
	"KingmakerServeDown":              "kingmaker-page",
	"KingmakerServingNotReady":        "kingmaker-page",
}

// tool returns the path of the first of names on PATH. Without it the routes are untested, so the
// test fails (make test installs the tools first); only go test -short skips.
func tool(t *testing.T, pkg string, names ...string) string {
	t.Helper()
	for _, name := range names {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if testing.Short() {
		t.Skipf("%s not on PATH; -short skips the Alertmanager tests", strings.Join(names, " or "))
	}
	t.Fatalf("%s not on PATH: install Debian package %s (make tools does it)", strings.Join(names, " or "), pkg)
	return ""
}

func amtool(t *testing.T) string { return tool(t, "prometheus-alertmanager", "amtool") }

// runAmtool runs amtool with args and fails the test with its output when it fails.
func runAmtool(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), amtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("amtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestCheckConfig(t *testing.T) {
	out := runAmtool(t, "check-config", configFile)
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("amtool check-config %s said:\n%s", configFile, out)
	}
}

type alertRule struct {
	Alert  string            `yaml:"alert"`
	Labels map[string]string `yaml:"labels"`
}

// readAlerts returns the alerts of alerts.yml (recording rules left out).
func readAlerts(t *testing.T) []alertRule {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []alertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("parse %s: %v", rulesFile, err)
	}
	var alerts []alertRule
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts = append(alerts, r)
			}
		}
	}
	if len(alerts) == 0 {
		t.Fatalf("%s has no alerts", rulesFile)
	}
	return alerts
}

// routeTo asserts with amtool config routes test that an alert with labels reaches exactly the
// receiver want.
func routeTo(t *testing.T, want string, labels map[string]string) {
	t.Helper()
	args := []string{"config", "routes", "test", "--config.file=" + configFile, "--verify.receivers=" + want}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range labels {
			if !yield(k) {
				return
			}
		}
	}) {
		args = append(args, k+"="+labels[k])
	}
	runAmtool(t, args...)
}

func TestEveryAlertReachesItsReceiver(t *testing.T) {
	alerts := readAlerts(t)
	seen := map[string]bool{}
	for _, a := range alerts {
		seen[a.Alert] = true
		want, ok := wantReceiver[a.Alert]
		if !ok {
			t.Errorf("%s (in %s) has no expected receiver: add it to wantReceiver", a.Alert, rulesFile)
			continue
		}
		t.Run(a.Alert+" reaches "+want, func(t *testing.T) {
			// The labels Prometheus sends: the rule's, the alert's name and the model it is about.
			labels := map[string]string{"alertname": a.Alert, "model": "churn"}
			for k, v := range a.Labels {
				labels[k] = v
			}
			routeTo(t, want, labels)
		})
	}
	for name := range wantReceiver {
		if !seen[name] {
			t.Errorf("wantReceiver names %s, which is not an alert of %s", name, rulesFile)
		}
	}
}

// Alerts added later reach a receiver by their labels, without an edit of alertmanager.yml.
func TestNewAlertsFallInByTheirLabels(t *testing.T) {
	tests := []struct {
		name   string
		labels map[string]string
		want   string
	}{
		{"a critical alert of any family pages", map[string]string{"alertname": "KingmakerDriftSomethingNew", "severity": "critical"}, "kingmaker-page"},
		{"a new drift alert reaches the drift receiver", map[string]string{"alertname": "KingmakerLabelDriftDetected", "severity": "warning"}, "kingmaker-drift"},
		{"a new serving alert reaches the serving receiver", map[string]string{"alertname": "KingmakerServingCanaryErrors", "severity": "warning"}, "kingmaker-serving"},
		{"a new probation alert reaches the quality receiver", map[string]string{"alertname": "KingmakerProbationInconclusive", "severity": "info"}, "kingmaker-quality"},
		{"a new retrain alert reaches the retrain receiver", map[string]string{"alertname": "KingmakerRetrainsSlow", "severity": "info"}, "kingmaker-retrain"},
		{"an alert of no family reaches the default receiver", map[string]string{"alertname": "KingmakerSomethingElse", "severity": "warning"}, "kingmaker-default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { routeTo(t, tt.want, tt.labels) })
	}
}

// freeAddr returns a loopback address no one listens on (a port the kernel just gave out).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// start runs a server binary until the test ends and waits until http://addr/-/ready answers 200.
// Its output is logged when the test fails.
func start(t *testing.T, addr string, bin string, args ...string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("%s exited during start: %v", filepath.Base(bin), err)
		default:
		}
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer http://%s/-/ready within 30s", filepath.Base(bin), addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// notification is the part of Alertmanager's webhook payload the tests read.
type notification struct {
	Receiver string `json:"receiver"`
	Status   string `json:"status"`
	Alerts   []struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"alerts"`
}

// startAlertmanager runs the real alertmanager on loopback with the routes of alertmanager.yml,
// every receiver given a webhook to a test server and the waits shortened, and returns its address
// and the notifications the webhooks receive.
func startAlertmanager(t *testing.T) (string, <-chan notification) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short skips the tests that run alertmanager and prometheus")
	}
	bin := tool(t, "prometheus-alertmanager", "prometheus-alertmanager", "alertmanager")

	received := make(chan notification, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n notification
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &n); err != nil {
			t.Errorf("webhook %s: payload is not JSON: %v\n%s", r.URL.Path, err, b)
			return
		}
		if "/"+n.Receiver != r.URL.Path {
			t.Errorf("webhook %s received a notification for receiver %s", r.URL.Path, n.Receiver)
		}
		received <- n
	}))
	t.Cleanup(hook.Close)

	b, err := os.ReadFile(configFile)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("parse %s: %v", configFile, err)
	}
	route := cfg["route"].(map[string]any)
	route["group_wait"], route["group_interval"] = "0s", "1s"
	for _, r := range cfg["receivers"].([]any) {
		r := r.(map[string]any)
		r["webhook_configs"] = []any{map[string]any{"url": hook.URL + "/" + r["name"].(string), "send_resolved": false}}
	}
	dir := t.TempDir()
	testConfig := filepath.Join(dir, "alertmanager.yml")
	b, err = yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(testConfig, b, 0o644); err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	start(t, addr, bin,
		"--config.file="+testConfig,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=", // no gossip port
	)
	return addr, received
}

// await returns the first notification for an alert named alertname, or fails after 30s.
func await(t *testing.T, received <-chan notification, alertname string) notification {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case n := <-received:
			for _, a := range n.Alerts {
				if a.Labels["alertname"] == alertname {
					return n
				}
			}
			t.Logf("notification for %s about other alerts: %+v", n.Receiver, n.Alerts)
		case <-timeout:
			t.Fatalf("no webhook received %s within 30s", alertname)
		}
	}
}

func TestPostedAlertReachesTheWebhook(t *testing.T) {
	addr, received := startAlertmanager(t)

	labels := map[string]string{"alertname": "KingmakerDriftDetected", "model": "churn", "severity": "warning"}
	body, _ := json.Marshal([]map[string]any{{
		"labels":      labels,
		"annotations": map[string]string{"summary": "Model churn drifted", "runbook": "kingmaker drift churn"},
	}})
	resp, err := http.Post("http://"+addr+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v2/alerts: %s %s", resp.Status, msg)
	}

	n := await(t, received, "KingmakerDriftDetected")
	if n.Receiver != "kingmaker-drift" || n.Status != "firing" || len(n.Alerts) != 1 {
		t.Fatalf("notification to %s, status %s, %d alerts; want kingmaker-drift, firing, 1 alert", n.Receiver, n.Status, len(n.Alerts))
	}
	a := n.Alerts[0]
	for k, v := range labels {
		if a.Labels[k] != v {
			t.Errorf("webhook got label %s=%q, want %q (labels %v)", k, a.Labels[k], v, a.Labels)
		}
	}
	if a.Annotations["runbook"] != "kingmaker drift churn" {
		t.Errorf("webhook got annotations %v, want the runbook posted", a.Annotations)
	}
}

// Prometheus, configured like prometheus.yml's alerting block, sends a firing alert of its rules
// to Alertmanager, which routes it by its labels.
func TestPrometheusAlertReachesTheWebhook(t *testing.T) {
	prometheus := tool(t, "prometheus", "prometheus")
	amAddr, received := startAlertmanager(t)

	dir := t.TempDir()
	rules := `groups:
  - name: test
    rules:
      - alert: KingmakerServingErrors
        expr: label_replace(vector(1), "model", "churn", "", "")
        labels:
          severity: warning
        annotations:
          summary: "test alert from Prometheus"
`
	promAddr := freeAddr(t)
	config := fmt.Sprintf(`global:
  evaluation_interval: 1s
rule_files: [rules.yml]
alerting:
  alertmanagers:
    - static_configs:
        - targets: [%q]
`, amAddr)
	for name, text := range map[string]string{"rules.yml": rules, "prometheus.yml": config} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	start(t, promAddr, prometheus,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr,
		// Prometheus learns its Alertmanagers from service discovery, which reports every 5s; an
		// alert evaluated before then is dropped until the next resend, a minute later by default.
		// With this the webhook has it about 6s after Prometheus is ready.
		"--rules.alert.resend-delay=1s",
	)

	started := time.Now()
	n := await(t, received, "KingmakerServingErrors")
	t.Logf("the webhook received the alert %v after Prometheus was ready", time.Since(started))
	if n.Receiver != "kingmaker-serving" {
		t.Errorf("KingmakerServingErrors from Prometheus reached %s, want kingmaker-serving", n.Receiver)
	}
	if got := n.Alerts[0].Labels; got["model"] != "churn" || got["severity"] != "warning" {
		t.Errorf("webhook got labels %v, want model=churn and severity=warning from the rule", got)
	}
}

// prometheus.yml sends to the Alertmanager scripts/alertmanager.sh runs.
func TestPrometheusSendsToTheLocalAlertmanager(t *testing.T) {
	b, err := os.ReadFile("../prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Alerting struct {
			Alertmanagers []struct {
				StaticConfigs []struct {
					Targets []string `yaml:"targets"`
				} `yaml:"static_configs"`
			} `yaml:"alertmanagers"`
		} `yaml:"alerting"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, am := range cfg.Alerting.Alertmanagers {
		for _, sc := range am.StaticConfigs {
			targets = append(targets, sc.Targets...)
		}
	}
	script, err := os.ReadFile("../../scripts/alertmanager.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(script, []byte("\nPORT=9093\n")) || !slices.Equal(targets, []string{"127.0.0.1:9093"}) {
		t.Errorf("prometheus.yml sends alerts to %v; scripts/alertmanager.sh should listen on the one target 127.0.0.1:9093", targets)
	}
}
