package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/internal/temporalclient"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/schedules"
	"github.com/kingmaker-ml/kingmaker/worker"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// The whole loop of issue 4 against the real stack and a real Prometheus:
// stable data and a first champion, drifted data, the scheduled drift check
// that sees it and starts a retrain, the drift alert firing, the retrain
// promoting a better model, the new champion's drift back under the
// threshold, and the schedules outliving a worker restart.
func TestDriftE2EScheduledCheckFiresTheAlertAndItsRetrainPromotesABetterModel(t *testing.T) {
	s, cass := testenv.Cassandra(t)
	promBin := prometheusBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// The drift schedule has no AsOf: its window ends now. So the data is
	// dated relative to today: 12 stable days, then 8 drifted days up to and
	// including today, so that the drift window (the last day) and the
	// retrain window (the last 7 days) hold drifted rows only.
	today := time.Now().UTC().Truncate(24 * time.Hour)
	stableEnd := today.AddDate(0, 0, -7)
	stable := demo.Spec{Dataset: "churn", Start: stableEnd.AddDate(0, 0, -12), Days: 12, RowsPerDay: 800, Seed: 42}
	drifted := demo.Spec{Dataset: "churn", Start: stableEnd, Days: 8, RowsPerDay: 800, DriftFrom: 1, Seed: 43}

	metricsAddr := freeAddr(t)
	cfg := driftConfig(t, cass, metricsAddr)
	model := cfg.Models[0].Name
	c, err := temporalclient.Dial(ctx, cfg.Temporal, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last in, first out: the client closes after the others.
	t.Cleanup(c.Close)
	t.Cleanup(func() { terminateOpenRuns(t, c, model) })

	if err := demo.Write(ctx, s, cass.Keyspace, stable, 4, nil); err != nil {
		t.Fatalf("seed the stable days: %v", err)
	}
	w := startDriftWorker(ctx, t, cfg)

	// Step 1: the first champion, trained on the stable days. The policy
	// requires approval, so it waits for one like every retrain of this test.
	firstID := fmt.Sprintf("retrain-%s-first", model)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: firstID, TaskQueue: cfg.Temporal.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.AttrModel.ValueSet(model)),
	}, workflows.RetrainWorkflowName, workflows.RetrainInput{Model: model, Reason: workflows.ReasonManual, RequestedBy: "e2e", AsOf: &stableEnd})
	if err != nil {
		t.Fatalf("start %s: %v", firstID, err)
	}
	awaitApproval(ctx, t, c, firstID)
	approve(ctx, t, c, firstID, "the first champion")
	var first workflows.RetrainResult
	if err := run.Get(ctx, &first); err != nil {
		t.Fatalf("the first retrain failed: %v", err)
	}
	if first.Outcome != string(evaluator.OutcomePromote) || first.Champion == nil || first.Champion.Generation != 1 {
		t.Fatalf("the first retrain: outcome %s, champion %+v; want the first champion at generation 1 (reasons: %q)", first.Outcome, first.Champion, first.Reasons)
	}
	firstChampion := first.Champion.Version.String()

	// Step 2: the data drifts.
	if err := demo.Write(ctx, s, cass.Keyspace, drifted, 4, nil); err != nil {
		t.Fatalf("seed the drifted days: %v", err)
	}

	prom := startPrometheus(ctx, t, promBin, metricsAddr)

	// Step 3: the scheduled drift check sees the drift and starts a retrain.
	synced, err := schedules.Sync(ctx, c, cfg)
	t.Cleanup(func() { deleteSchedules(t, c, model) })
	if err != nil {
		t.Fatalf("schedule sync: %v (%+v)", err, synced)
	}
	if got := outcomes(synced); !slices.Equal(got, []string{"retrain-" + model + " created", "drift-" + model + " created"}) {
		t.Fatalf("the first sync did %q, want the retrain and drift schedules created", got)
	}
	driftID := workflows.ScheduleID(schedules.KindDrift, model)
	check := triggerDrift(ctx, t, c, driftID)
	if check.Action != workflows.DriftRetrainStarted || check.Summary == nil || !check.Summary.Drifted {
		t.Fatalf("the drift check of the first champion: action %s, summary %+v; want drifted and a retrain started (reasons: %q)", check.Action, check.Summary, check.Reasons)
	}
	if check.Summary.Champion != firstChampion || check.Summary.MaxPSI < 0.25 || !check.Window.To.After(today) {
		t.Errorf("the drift check compared champion %s over %s (max PSI %.3f), want %s over a window ending now with PSI over 0.25",
			check.Summary.Champion, check.Window, check.Summary.MaxPSI, firstChampion)
	}
	retrainID := check.Retrain
	if !strings.HasPrefix(retrainID, "retrain-"+model+"-") || !strings.HasSuffix(retrainID, "-drift") {
		t.Fatalf("the drift check started %q, want a retrain-%s-...-drift workflow", retrainID, model)
	}

	// Step 4: while the drift retrain waits for approval the old champion is
	// live and its drift report says drifted: the alerts must fire.
	awaitApproval(ctx, t, c, retrainID)
	pollUntil(ctx, t, time.Minute, "Prometheus fires the drift alerts for "+model, func() (bool, string) {
		alerts, err := prom.alerts(ctx)
		if err != nil {
			return false, err.Error()
		}
		ok := alerts.firing("KingmakerDriftDetected", "model", model) &&
			alerts.firing("KingmakerFeatureDrifted", "model", model, "feature", "logins_30d") &&
			alerts.firing("KingmakerFeatureDrifted", "model", model, "feature", "monthly_charges")
		return ok, alerts.String()
	})
	if champ, err := w.st.Registry.Champion(ctx, model); err != nil || champ == nil || champ.Version.String() != firstChampion {
		t.Fatalf("while the alert fires the champion is %+v (%v), want still the first one %s", champ, err, firstChampion)
	}

	// Step 5: approved, the drift retrain promotes a model that beats the old
	// champion on the drifted holdout.
	approve(ctx, t, c, retrainID, "drift: the new model wins on recent data")
	var second workflows.RetrainResult
	if err := c.GetWorkflow(ctx, retrainID, "").Get(ctx, &second); err != nil {
		t.Fatalf("the drift retrain %s failed: %v", retrainID, err)
	}
	if second.Outcome != string(evaluator.OutcomePromote) || second.Champion == nil || second.Champion.Generation != 2 {
		t.Fatalf("the drift retrain: outcome %s, champion %+v; want generation 2 (reasons: %q)", second.Outcome, second.Champion, second.Reasons)
	}
	if second.Previous == nil || second.Previous.Version.String() != firstChampion {
		t.Errorf("the drift retrain replaced %+v, want the first champion %s", second.Previous, firstChampion)
	}
	assertBeatsChampion(t, second.Reasons, firstChampion)
	evals, err := w.st.Registry.Evaluations(ctx, model, 1)
	if err != nil || len(evals) != 1 || evals[0].Reason != workflows.ReasonDrift || evals[0].WorkflowID != retrainID {
		t.Errorf("the latest decision record %+v (%v), want the drift retrain %s with reason drift", evals, err, retrainID)
	}
	newChampion := second.Champion.Version.String()

	// Step 6: the new champion is not drifted, and the alert stops firing.
	checked := time.Now().Add(-time.Second)
	check = triggerDrift(ctx, t, c, driftID)
	if check.Action != workflows.DriftStable || check.Summary == nil || check.Summary.Drifted || check.Summary.QualityDropped {
		t.Fatalf("the drift check of the new champion: action %s, summary %+v; want stable (reasons: %q)", check.Action, check.Summary, check.Reasons)
	}
	if check.Summary.Champion != newChampion || check.Summary.Generation != 2 || !check.Summary.Sufficient || check.Summary.MaxPSI >= 0.25 {
		t.Errorf("the drift check compared champion %s (generation %d, %d rows) with max PSI %.3f, want %s at generation 2 under 0.25",
			check.Summary.Champion, check.Summary.Generation, check.Summary.Rows, check.Summary.MaxPSI, newChampion)
	}
	pollUntil(ctx, t, time.Minute, "Prometheus sees the new champion's report and no longer fires the drift alert", func() (bool, string) {
		alerts, err := prom.alerts(ctx)
		if err != nil {
			return false, err.Error()
		}
		sel := fmt.Sprintf("{model=%q}", model)
		detected, err1 := prom.value(ctx, "kingmaker_drift_detected"+sel)
		psi, err2 := prom.value(ctx, "model:kingmaker_feature_psi:max"+sel)
		at, err3 := prom.value(ctx, "kingmaker_drift_report_timestamp_seconds"+sel)
		gen, err4 := prom.value(ctx, "kingmaker_champion_generation"+sel)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return false, err.Error()
		}
		ok := detected == 0 && psi < 0.25 && at >= float64(checked.Unix()) && gen == 2 &&
			!alerts.firing("KingmakerDriftDetected", "model", model) && !alerts.firing("KingmakerFeatureDrifted", "model", model)
		return ok, fmt.Sprintf("drift_detected %g, max PSI %g, report at %g (want >= %d), generation %g; alerts: %s",
			detected, psi, at, checked.Unix(), gen, alerts)
	})

	// Step 7: the schedules outlive the worker: a new worker runs the next
	// trigger, and sync finds nothing to change.
	w.stop(t)
	w = startDriftWorker(ctx, t, cfg)
	check = triggerDrift(ctx, t, c, driftID)
	if check.Action != workflows.DriftStable || check.Summary == nil || check.Summary.Champion != newChampion {
		t.Errorf("the drift check after the restart: action %s, summary %+v; want stable on %s (reasons: %q)", check.Action, check.Summary, newChampion, check.Reasons)
	}
	for i := range 2 {
		again, err := schedules.Sync(ctx, c, cfg)
		if err != nil {
			t.Fatalf("sync %d after the restart: %v", i+1, err)
		}
		if got := outcomes(again); !slices.Equal(got, []string{"retrain-" + model + " unchanged", "drift-" + model + " unchanged"}) {
			t.Errorf("sync %d after the restart did %q, want both schedules unchanged", i+1, got)
		}
	}
}

// driftConfig is the example config's churn model under a name of its own
// (schedule and workflow ids are namespace-wide), on the test's keyspace
// and task queues, with the metrics endpoint on addr.
func driftConfig(t *testing.T, cass config.Cassandra, addr string) *config.Config {
	t.Helper()
	cfg := testenv.ExampleConfig(t)
	i := slices.IndexFunc(cfg.Models, func(m config.Model) bool { return m.Name == "churn" })
	if i < 0 {
		t.Fatal("the example config has no churn model")
	}
	m := cfg.Models[i]
	m.Name = "churn-" + cass.Keyspace[len(cass.Keyspace)-8:]
	// Every retrain waits for approval, so the drift retrain cannot replace
	// the champion before the test has seen the alert fire.
	m.Policy.RequireApproval = true
	m.Policy.ApprovalTimeout = config.Duration(5 * time.Minute)
	m.Drift.RetrainOnDrift = true
	m.Drift.Window = config.Duration(config.Day)
	m.Drift.MinRows = 400 // a day holds 800 rows
	// The test triggers the schedules itself; 30 days from the epoch never
	// come due while it runs, so no run of its own interferes.
	m.Schedule.Retrain = config.Trigger{Every: config.Duration(30 * config.Day)}
	m.Schedule.Drift = config.Trigger{Every: config.Duration(30 * config.Day)}
	cfg.Models = []config.Model{m}
	cfg.Cassandra = cass
	cfg.Temporal.HostPort = testenv.TemporalAddr()
	cfg.Temporal.TaskQueue = "kingmaker-test-" + cass.Keyspace
	cfg.Temporal.TrainingTaskQueue = "kingmaker-test-training-" + cass.Keyspace
	cfg.Metrics.Listen = addr
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the test config is invalid: %v", err)
	}
	return cfg
}

// driftWorker is a worker.Run serving both queues in a goroutine.
type driftWorker struct {
	st     *worker.Stack
	cancel context.CancelFunc
	done   chan error
}

// startDriftWorker opens the stack and runs a worker until stop (or the
// end of the test), waiting for its metrics endpoint to answer.
func startDriftWorker(ctx context.Context, t *testing.T, cfg *config.Config) *driftWorker {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError}))
	st, err := worker.Open(ctx, cfg, logger)
	if err != nil {
		t.Fatalf("open the stack: %v", err)
	}
	wctx, cancel := context.WithCancel(ctx)
	w := &driftWorker{st: st, cancel: cancel, done: make(chan error, 1)}
	t.Cleanup(func() { w.stop(t) })
	go func() {
		w.done <- worker.Run(wctx, st, worker.Options{
			Roles: []string{worker.RoleMain, worker.RoleTraining}, StopTimeout: 10 * time.Second, MaxConcurrentTrainings: 3, Logger: logger,
		})
	}()
	pollUntil(ctx, t, 30*time.Second, "the worker serves /healthz on "+cfg.Metrics.Listen, func() (bool, string) {
		select {
		case err := <-w.done:
			w.done <- err
			t.Fatalf("the worker stopped before serving: %v", err)
		default:
		}
		resp, err := http.Get("http://" + cfg.Metrics.Listen + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return w
}

// stop cancels the worker, waits for Run to return and closes the stack.
// A second call does nothing.
func (w *driftWorker) stop(t *testing.T) {
	t.Helper()
	if w.st == nil {
		return
	}
	w.cancel()
	if err := <-w.done; err != nil {
		t.Errorf("worker.Run returned %v after its context was cancelled, want nil", err)
	}
	w.st.Close()
	w.st = nil
}

// awaitApproval polls a retrain's progress until it awaits approval.
func awaitApproval(ctx context.Context, t *testing.T, c client.Client, id string) {
	t.Helper()
	pollUntil(ctx, t, 2*time.Minute, id+" reaches stage "+workflows.StageAwaiting, func() (bool, string) {
		v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryProgress)
		if err != nil {
			return false, err.Error()
		}
		var p workflows.Progress
		if err := v.Get(&p); err != nil {
			return false, err.Error()
		}
		if p.Stage == workflows.StageDone && p.Result != nil {
			t.Fatalf("%s ended with outcome %s instead of awaiting approval: %q", id, p.Result.Outcome, p.Result.Reasons)
		}
		return p.Stage == workflows.StageAwaiting, "stage " + p.Stage
	})
}

// approve sends the approve Update and checks its answer.
func approve(ctx context.Context, t *testing.T, c client.Client, id, reason string) {
	t.Helper()
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: workflows.UpdateApprove, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{workflows.ApprovalInput{By: "e2e", Reason: reason}},
	})
	if err != nil {
		t.Fatalf("approve %s: %v", id, err)
	}
	var answer string
	if err := h.Get(ctx, &answer); err != nil || !strings.HasPrefix(answer, "approved: ") {
		t.Fatalf("approve %s answered %q (%v), want approved", id, answer, err)
	}
}

// triggerDrift fires the drift schedule and returns the check it started.
func triggerDrift(ctx context.Context, t *testing.T, c client.Client, id string) *workflows.DriftResult {
	t.Helper()
	tr, err := schedules.Trigger(ctx, c, id)
	if err != nil {
		t.Fatalf("trigger %s: %v", id, err)
	}
	if tr.WorkflowID == "" {
		t.Fatalf("trigger %s started no workflow that showed in the schedule", id)
	}
	var res workflows.DriftResult
	if err := c.GetWorkflow(ctx, tr.WorkflowID, tr.RunID).Get(ctx, &res); err != nil {
		t.Fatalf("the drift check %s started by %s failed: %v", tr.WorkflowID, id, err)
	}
	t.Logf("%s: %s, %s", tr.WorkflowID, res.Action, strings.Join(res.Reasons, "; "))
	return &res
}

// headline matches the comparison in a promotion's headline reason.
var headline = regexp.MustCompile(`over champion (\S+):.* roc_auc ([0-9.]+) vs champion ([0-9.]+)`)

// assertBeatsChampion checks that a retrain's headline says its winner
// scored a higher roc_auc than the champion on the same holdout.
func assertBeatsChampion(t *testing.T, reasons []string, champion string) {
	t.Helper()
	if len(reasons) == 0 {
		t.Fatal("the drift retrain gave no reasons")
	}
	m := headline.FindStringSubmatch(reasons[0])
	if m == nil || m[1] != champion {
		t.Fatalf("the headline %q does not compare the winner with champion %s on roc_auc", reasons[0], champion)
	}
	winner, _ := strconv.ParseFloat(m[2], 64)
	old, _ := strconv.ParseFloat(m[3], 64)
	if !(winner > old) {
		t.Errorf("the promoted model's roc_auc %s is not above the old champion's %s: %q", m[2], m[3], reasons[0])
	}
	if all := strings.Join(reasons, "\n"); !strings.Contains(all, "approved by e2e") {
		t.Errorf("the reasons do not record the approval: %q", reasons)
	}
}

// outcomes lists a sync's results as "id outcome", in its order.
func outcomes(r *schedules.Result) []string {
	var out []string
	for _, ch := range r.Schedules {
		out = append(out, ch.ID+" "+ch.Outcome)
	}
	return out
}

func deleteSchedules(t *testing.T, c client.Client, model string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, kind := range schedules.Kinds {
		id := workflows.ScheduleID(kind, model)
		if err := c.ScheduleClient().GetHandle(ctx, id).Delete(ctx); err != nil {
			t.Logf("delete schedule %s: %v", id, err)
		}
	}
}

// terminateOpenRuns ends what a failed test leaves running (a retrain
// waiting for approval) so it does not wait on a task queue nobody serves.
func terminateOpenRuns(t *testing.T, c client.Client, model string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("KingmakerModel = '%s' AND ExecutionStatus = 'Running'", model),
	})
	if err != nil {
		t.Logf("list open runs of %s: %v", model, err)
		return
	}
	for _, e := range resp.Executions {
		id := e.GetExecution().GetWorkflowId()
		if err := c.TerminateWorkflow(ctx, id, "", "the test ended"); err != nil {
			t.Logf("terminate %s: %v", id, err)
		}
	}
}

// pollUntil calls check every 250ms until it reports true, and fails the
// test with what was awaited and check's last word when timeout passes.
func pollUntil(ctx context.Context, t *testing.T, timeout time.Duration, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := check()
		if ok {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("waited %s for: %s; last: %s", timeout, what, last)
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// freeAddr returns a 127.0.0.1 address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func prometheusBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/prometheus"); err == nil {
		return "/usr/bin/prometheus"
	}
	t.Fatal("prometheus is not installed: this test runs a real Prometheus against the worker " +
		"(`make test` installs it; or scripts/prometheus.sh install, the Debian package prometheus)")
	return ""
}

// forDuration matches the `for:` of an alerting rule.
var forDuration = regexp.MustCompile(`(?m)^(\s+)for: \S+$`)

// promServer is a Prometheus server the test runs.
type promServer struct{ url string }

// startPrometheus runs Prometheus on a free port, scraping the worker at
// target every second and evaluating deploy/prometheus/alerts.yml every
// second, and stops it when the test ends.
func startPrometheus(ctx context.Context, t *testing.T, bin, target string) *promServer {
	t.Helper()
	dir := t.TempDir()
	rules, err := os.ReadFile("../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	// Every `for:` becomes 0s: the durations are covered by the promtool
	// tests (alerts_test.yml); here we test that the rule expressions fire
	// on the metrics a real worker exports.
	alerts := strings.Count(string(rules), "- alert: ")
	if n := len(forDuration.FindAll(rules, -1)); n == 0 || n != alerts {
		t.Fatalf("alerts.yml has %d `for:` lines for %d alerts; the rewrite to 0s expects one per alert", n, alerts)
	}
	rules = forDuration.ReplaceAll(rules, []byte("${1}for: 0s"))
	rulesPath := filepath.Join(dir, "alerts.yml")
	if err := os.WriteFile(rulesPath, rules, 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: kingmaker
    static_configs:
      - targets: [%q]
`, rulesPath, target)
	confPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	var log bytes.Buffer
	cmd := exec.Command(bin, "--config.file="+confPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", log.String())
		}
	})
	p := &promServer{url: "http://" + addr}
	pollUntil(ctx, t, 30*time.Second, "prometheus answers "+p.url+"/-/ready", func() (bool, string) {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("prometheus exited during start (%v):\n%s", err, log.String())
		default:
		}
		resp, err := http.Get(p.url + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return p
}

// get decodes the data of a Prometheus API answer.
func (p *promServer) get(ctx context.Context, path string, data any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var answer struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &answer); err != nil || answer.Status != "success" {
		return fmt.Errorf("GET %s: %s %s", path, resp.Status, body)
	}
	return json.Unmarshal(answer.Data, data)
}

// promAlerts are the alerts Prometheus holds, pending or firing.
type promAlerts []struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
	Value  string            `json:"value"`
}

func (p *promServer) alerts(ctx context.Context) (promAlerts, error) {
	var data struct {
		Alerts promAlerts `json:"alerts"`
	}
	err := p.get(ctx, "/api/v1/alerts", &data)
	return data.Alerts, err
}

// firing reports whether an alert of that name with those label pairs fires.
func (as promAlerts) firing(name string, labels ...string) bool {
	for _, a := range as {
		if a.Labels["alertname"] != name || a.State != "firing" {
			continue
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			match = match && a.Labels[labels[i]] == labels[i+1]
		}
		if match {
			return true
		}
	}
	return false
}

func (as promAlerts) String() string {
	var out []string
	for _, a := range as {
		var labels []string
		for k, v := range a.Labels {
			if k != "alertname" && k != "severity" {
				labels = append(labels, k+"="+v)
			}
		}
		slices.Sort(labels)
		out = append(out, fmt.Sprintf("%s{%s} %s", a.Labels["alertname"], strings.Join(labels, ","), a.State))
	}
	if len(out) == 0 {
		return "no alerts"
	}
	return strings.Join(out, ", ")
}

// value runs an instant query that must give one sample.
func (p *promServer) value(ctx context.Context, query string) (float64, error) {
	var data struct {
		Result []struct {
			Value [2]any `json:"value"`
		} `json:"result"`
	}
	if err := p.get(ctx, "/api/v1/query?query="+url.QueryEscape(query), &data); err != nil {
		return 0, err
	}
	if len(data.Result) != 1 {
		return 0, fmt.Errorf("%s gave %d samples, want 1", query, len(data.Result))
	}
	s, _ := data.Result[0].Value[1].(string)
	return strconv.ParseFloat(s, 64)
}
