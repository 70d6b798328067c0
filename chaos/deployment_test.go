package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gocql/gocql"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"gopkg.in/yaml.v3"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/worker"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// seedStart is the first day of the demo data every test writes; a week of
// it is the window of their runs.
var seedStart = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// weekEnd ends a 7-day window on the last seeded day of a week of data.
var weekEnd = seedStart.AddDate(0, 0, 7)

// deployment is one Kingmaker installation of a test: its own config file,
// keyspace (created by `kingmaker schema apply`) and task queues, worker
// processes of the real binary, and a session and Temporal client of the
// test's own to look at what they did.
type deployment struct {
	t        *testing.T
	dir      string
	cfgPath  string
	cfg      *config.Config
	session  *gocql.Session
	reg      *registry.Registry
	temporal client.Client
	logPath  string

	mu      sync.Mutex
	runs    []client.WorkflowRun
	workers []*workerProcess
}

// target says which Cassandra a deployment uses.
type target struct {
	hosts       []string // nil: the shared development node
	replication int
}

var sharedNode = target{replication: 1}

// newDeployment writes the example config with adjust applied, for a fresh
// keyspace on the target, and applies the schema with the binary.
func newDeployment(t *testing.T, on target, adjust func(*config.Config)) *deployment {
	t.Helper()
	cfg := testenv.ExampleConfig(t)
	cfg.Cassandra = testenv.CassandraConfig(t)
	if on.hosts != nil {
		cfg.Cassandra.Hosts = on.hosts
		cfg.Cassandra.Port = 9042
	}
	cfg.Cassandra.Replication = config.Replication{Class: "SimpleStrategy", Factor: on.replication}
	cfg.Cassandra.Consistency = "QUORUM"
	cfg.Cassandra.SerialConsistency = "SERIAL"
	ks := cfg.Cassandra.Keyspace
	cfg.Temporal.HostPort = testenv.TemporalAddr()
	cfg.Temporal.TaskQueue = "chaos-" + ks
	cfg.Temporal.TrainingTaskQueue = "chaos-training-" + ks
	cfg.Metrics.Listen = "127.0.0.1:0"
	if adjust != nil {
		adjust(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the test config is invalid: %v", err)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := &deployment{t: t, dir: t.TempDir(), cfg: cfg}
	d.cfgPath = filepath.Join(d.dir, "kingmaker.yaml")
	d.logPath = filepath.Join(d.dir, "worker.log")
	if err := os.WriteFile(d.cfgPath, out, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	for {
		r := d.cli(ctx, "schema", "apply")
		if r.code == 0 {
			break
		}
		// After a node of the cluster was killed and restarted, schema
		// changes can take a minute or two to reach every node; schema apply
		// then stops saying so, and applying again once they agree is what
		// its message asks of an operator.
		if on.hosts != nil && strings.Contains(r.stderr, "disagree on the schema") && ctx.Err() == nil {
			t.Logf("the cluster's nodes do not agree on the schema yet; applying again: %s", strings.TrimSpace(r.stderr))
			continue
		}
		hint := "start the stack with `make stack-up`"
		if on.hosts != nil {
			hint = "start the cluster with `scripts/cassandra-cluster.sh start`"
		}
		t.Fatalf("kingmaker schema apply on %s exited %d: %s(%s)", strings.Join(cfg.Cassandra.Hosts, ","), r.code, r.stderr, hint)
	}
	s, err := cql.Connect(cfg.Cassandra, true)
	if err != nil {
		t.Fatal(err)
	}
	d.session = s
	d.reg = registry.New(s, ks, cql.Serial(cfg.Cassandra))
	tc, err := worker.Dial(ctx, cfg.Temporal, nil, nil)
	if err != nil {
		s.Close()
		t.Fatalf("%v (start the stack with `make stack-up`)", err)
	}
	d.temporal = tc
	t.Cleanup(d.close)
	return d
}

func (d *deployment) close() {
	d.mu.Lock()
	runs, workers := d.runs, d.workers
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, r := range runs {
		// A failed test must not leave runs behind on the shared server.
		_ = d.temporal.TerminateWorkflow(ctx, r.GetID(), r.GetRunID(), "chaos test ended")
	}
	for _, w := range workers {
		w.kill()
	}
	if d.t.Failed() {
		if b, err := os.ReadFile(d.logPath); err == nil {
			d.t.Logf("worker log of %s (last 40 lines):\n%s", d.cfg.Cassandra.Keyspace, tail(string(b), 40))
		}
	} else {
		_ = d.session.Query("DROP KEYSPACE IF EXISTS " + d.cfg.Cassandra.Keyspace).WithContext(ctx).Exec()
	}
	d.temporal.Close()
	d.session.Close()
}

// keyspace is the deployment's keyspace.
func (d *deployment) keyspace() string { return d.cfg.Cassandra.Keyspace }

// seed writes days of demo data from seedStart, rowsPerDay each.
func (d *deployment) seed(days, rowsPerDay int) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	spec := demo.Spec{Dataset: "churn", Start: seedStart, Days: days, RowsPerDay: rowsPerDay, Seed: 11}
	if err := demo.Write(ctx, d.session, d.keyspace(), spec, 4, nil); err != nil {
		d.t.Fatalf("seed %d days of %d rows: %v", days, rowsPerDay, err)
	}
}

// cliResult is what one run of the binary printed and returned.
type cliResult struct {
	stdout, stderr string
	code           int
}

// cli runs `kingmaker --config <the deployment's> args...`.
func (d *deployment) cli(ctx context.Context, args ...string) cliResult {
	cmd := exec.CommandContext(ctx, kingmaker, append([]string{"--config", d.cfgPath}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		r.code = -1
		r.stderr += err.Error()
	}
	return r
}

// workerProcess is one `kingmaker worker` child process.
type workerProcess struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startWorker starts a worker process serving both queues; its output goes
// to the deployment's worker log.
func (d *deployment) startWorker() (*workerProcess, error) {
	f, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fmt.Fprintf(f, "---- worker started %s ----\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(kingmaker, "--config", d.cfgPath, "worker", "--stop-timeout", "1s", "--max-trainings", "2")
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s worker: %w", kingmaker, err)
	}
	w := &workerProcess{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(w.done)
	}()
	d.mu.Lock()
	d.workers = append(d.workers, w)
	d.mu.Unlock()
	return w, nil
}

// runningWorker returns the newest worker process if it still runs, or
// starts one.
func (d *deployment) runningWorker() (*workerProcess, error) {
	d.mu.Lock()
	var w *workerProcess
	if n := len(d.workers); n > 0 {
		w = d.workers[n-1]
	}
	d.mu.Unlock()
	if w != nil && w.running() {
		return w, nil
	}
	return d.startWorker()
}

func (w *workerProcess) running() bool {
	select {
	case <-w.done:
		return false
	default:
		return true
	}
}

func (d *deployment) mustStartWorker() *workerProcess {
	d.t.Helper()
	w, err := d.startWorker()
	if err != nil {
		d.t.Fatal(err)
	}
	return w
}

// kill sends SIGKILL (a crash: no graceful stop, nothing reported to
// Temporal) and waits until the process is gone.
func (w *workerProcess) kill() {
	select {
	case <-w.done:
		return
	default:
	}
	_ = w.cmd.Process.Signal(syscall.SIGKILL)
	<-w.done
}

// startRetrain starts RetrainWorkflow of model on the window ending at asOf.
func (d *deployment) startRetrain(ctx context.Context, id, model string, asOf time.Time) (client.WorkflowRun, error) {
	run, err := d.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: d.cfg.Temporal.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.AttrModel.ValueSet(model)),
	}, workflows.RetrainWorkflowName, workflows.RetrainInput{Model: model, Reason: workflows.ReasonManual, RequestedBy: "chaos", AsOf: &asOf})
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", id, err)
	}
	d.mu.Lock()
	d.runs = append(d.runs, run)
	d.mu.Unlock()
	return run, nil
}

// runID makes a workflow id unique to the deployment.
func (d *deployment) runID(name string) string { return "retrain-" + d.keyspace() + "-" + name }

// wait waits for a run's result.
func wait(ctx context.Context, run client.WorkflowRun) (*workflows.RetrainResult, error) {
	var res workflows.RetrainResult
	if err := run.Get(ctx, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// progress asks a run for its progress.
func (d *deployment) progress(ctx context.Context, run client.WorkflowRun) (*workflows.Progress, error) {
	v, err := d.temporal.QueryWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.QueryProgress)
	if err != nil {
		return nil, err
	}
	var p workflows.Progress
	if err := v.Get(&p); err != nil {
		return nil, err
	}
	return &p, nil
}

// waitStage polls the progress query until the run reaches stage.
func (d *deployment) waitStage(ctx context.Context, run client.WorkflowRun, stage string) error {
	var last string
	for {
		p, err := d.progress(ctx, run)
		if err == nil {
			last = p.Stage
			if p.Stage == stage {
				return nil
			}
			if p.Stage == workflows.StageDone {
				return fmt.Errorf("run %s ended before it reached stage %s", run.GetID(), stage)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("run %s did not reach stage %s (last seen %q): %w", run.GetID(), stage, last, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// describe returns a run's status and pending activities as the server
// sees them (no worker needed to answer).
func (d *deployment) describe(ctx context.Context, run client.WorkflowRun) (enumspb.WorkflowExecutionStatus, []*workflowpb.PendingActivityInfo, error) {
	resp, err := d.temporal.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
	if err != nil {
		return 0, nil, err
	}
	return resp.GetWorkflowExecutionInfo().GetStatus(), resp.GetPendingActivities(), nil
}

// activityRun is one activity of a run as its history records it.
type activityRun struct {
	Type      string
	Candidate string // TrainCandidate only
	Attempt   int32  // of the attempt that ended it
	Completed bool
	Result    json.RawMessage
}

// activities returns the activities of a closed run, in scheduling order.
func (d *deployment) activities(ctx context.Context, run client.WorkflowRun) ([]*activityRun, error) {
	it := d.temporal.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	byEvent := map[int64]*activityRun{}
	var out []*activityRun
	dc := converter.GetDefaultDataConverter()
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil, err
		}
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			a := ev.GetActivityTaskScheduledEventAttributes()
			r := &activityRun{Type: a.GetActivityType().GetName()}
			if r.Type == "TrainCandidate" {
				var in activities.TrainInput
				if err := dc.FromPayloads(a.GetInput(), &in); err == nil {
					r.Candidate = in.Candidate
				}
			}
			byEvent[ev.GetEventId()] = r
			out = append(out, r)
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			a := ev.GetActivityTaskStartedEventAttributes()
			if r := byEvent[a.GetScheduledEventId()]; r != nil {
				r.Attempt = a.GetAttempt()
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			a := ev.GetActivityTaskCompletedEventAttributes()
			if r := byEvent[a.GetScheduledEventId()]; r != nil {
				r.Completed = true
				if p := a.GetResult().GetPayloads(); len(p) > 0 {
					r.Result = p[0].GetData()
				}
			}
		}
	}
	return out, nil
}

// checkPointerAndLedger checks that the champion pointer and the promotion
// ledger tell the same story: one ledger row per generation 1..N, each
// naming the version the one before it replaced, and row N being the
// pointer. It returns both.
func checkPointerAndLedger(ctx context.Context, reg *registry.Registry, model string) (*registry.Champion, []registry.Promotion, error) {
	champ, err := reg.Champion(ctx, model)
	if err != nil {
		return nil, nil, err
	}
	ledger, err := reg.History(ctx, model, 100000)
	if err != nil {
		return nil, nil, err
	}
	if champ == nil {
		if len(ledger) > 0 {
			return nil, ledger, fmt.Errorf("model %s has no champion but %d ledger rows (newest: generation %d)", model, len(ledger), ledger[0].Generation)
		}
		return nil, nil, nil
	}
	if len(ledger) == 0 {
		return champ, nil, fmt.Errorf("champion of %s is generation %d but the ledger is empty", model, champ.Generation)
	}
	head := ledger[0]
	if head.Generation != champ.Generation || head.Version != champ.Version || head.PromotedBy != champ.PromotedBy || head.RunID != champ.RunID {
		return champ, ledger, fmt.Errorf("champion of %s is generation %d = %s by %s (run %q) but the ledger head is generation %d = %s by %s (run %q)",
			model, champ.Generation, champ.Version, champ.PromotedBy, champ.RunID, head.Generation, head.Version, head.PromotedBy, head.RunID)
	}
	for i, p := range ledger {
		want := champ.Generation - int64(i)
		if p.Generation != want {
			return champ, ledger, fmt.Errorf("ledger of %s: row %d is generation %d, want %d (a gap or an extra row)", model, i, p.Generation, want)
		}
		var prev gocql.UUID
		if i+1 < len(ledger) {
			prev = ledger[i+1].Version
		}
		if p.PreviousVersion != prev {
			return champ, ledger, fmt.Errorf("ledger of %s: generation %d replaced %s, but generation %d was %s", model, p.Generation, p.PreviousVersion, p.Generation-1, prev)
		}
	}
	return champ, ledger, nil
}

// versionsOf counts a model's versions by the run and candidate that made them.
func versionsOf(ctx context.Context, reg *registry.Registry, model string) (map[string]map[string]int, int, error) {
	vs, err := reg.ListVersions(ctx, model, 10000)
	if err != nil {
		return nil, 0, err
	}
	out := map[string]map[string]int{}
	for _, v := range vs {
		if out[v.RunID] == nil {
			out[v.RunID] = map[string]int{}
		}
		out[v.RunID][v.Candidate]++
	}
	return out, len(vs), nil
}

// oneVersionPerCandidate checks that a run wrote exactly one version of each
// of the candidates.
func oneVersionPerCandidate(ctx context.Context, reg *registry.Registry, model, runID string, candidates []string) error {
	byRun, _, err := versionsOf(ctx, reg, model)
	if err != nil {
		return err
	}
	got := byRun[runID]
	for _, c := range candidates {
		if got[c] != 1 {
			return fmt.Errorf("run %s wrote %d versions of candidate %s, want exactly 1 (all: %v)", runID, got[c], c, got)
		}
	}
	if len(got) != len(candidates) {
		return fmt.Errorf("run %s wrote versions of %v, want only %v", runID, got, candidates)
	}
	return nil
}

// candidates sets a model's candidates.
func candidates(cs ...config.Candidate) func(*config.Model) {
	return func(m *config.Model) { m.Candidates = cs }
}

var (
	logistic = config.Candidate{Name: "logistic", Algorithm: "logistic", Params: map[string]float64{"l2": 1}}
	id3      = config.Candidate{Name: "id3", Algorithm: "id3", Params: map[string]float64{"bins": 8}}
)

// churn adjusts the churn model of a config.
func churn(adjust ...func(*config.Model)) func(*config.Config) {
	return func(c *config.Config) {
		m, _ := c.Model("churn")
		for _, a := range adjust {
			a(m)
		}
	}
}
