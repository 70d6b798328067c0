package bench

import (
	"cmp"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/worker"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

var (
	flagModels    = flag.Int("kmbench.models", 0, "BenchmarkManyModels: models in the config; 0: 200")
	flagModelRows = flag.Int("kmbench.modelrows", 0, "BenchmarkManyModels: rows per model, over 2 days; 0: 2000")
	flagKingmaker = flag.String("kmbench.kingmaker", "", "BenchmarkManyModels: the kingmaker binary to run the worker and schedule sync with; empty: go build it")
	flagManyKS    = flag.String("kmbench.manykeyspace", "kingmaker_bench_many", "BenchmarkManyModels: its own Cassandra keyspace (created and seeded when missing)")
	flagStackDir  = flag.String("kmbench.stack", "../.stack", "BenchmarkManyModels: the local stack's directory, to read the pids of Cassandra and Temporal")
)

// manyModelsDays is the days of every model's window.
const manyModelsDays = 2

// manyResult is BenchmarkManyModels' output.
type manyResult struct {
	Models       int `json:"models"`
	RowsPerModel int `json:"rows_per_model"`
	// SeedSeconds is the time spent writing the rows (0: already there).
	SeedSeconds float64 `json:"seed_seconds"`
	// Schedule sync of every model's retrain and drift schedules: creating
	// them, a second sync that changes nothing, and deleting them (a sync of
	// the same models without schedules).
	SyncCreateSeconds    float64 `json:"sync_create_seconds"`
	SyncUnchangedSeconds float64 `json:"sync_unchanged_seconds"`
	SyncDeleteSeconds    float64 `json:"sync_delete_seconds"`
	Retrains             phase   `json:"retrains"`
	DriftChecks          phase   `json:"drift_checks"`
	// DriftHourFraction is the wall time of one drift check of every model,
	// as a fraction of an hour: under 1 means every hourly check fits in its
	// hour on this worker.
	DriftHourFraction float64 `json:"drift_hour_fraction"`
	// RegistryRead and RegistryWrite are Champion and SaveVersion latencies
	// measured while the retrains and drift checks ran.
	RegistryRead  Latencies `json:"registry_read"`
	RegistryWrite Latencies `json:"registry_write"`
	WorkerPeakRSS float64   `json:"worker_peak_rss_mib"`
	// Cores is the machine's CPU count.
	Cores int `json:"cores"`
	// LoadAvg is /proc/loadavg at the start and at the end.
	LoadAvgStart string `json:"loadavg_start"`
	LoadAvgEnd   string `json:"loadavg_end"`
}

// phase is a batch of runs started at once and their CPU split.
type phase struct {
	Runs   int `json:"runs"`
	Failed int `json:"failed"`
	// StartSeconds is the time to start every run, one after another.
	StartSeconds float64 `json:"start_seconds"`
	// Seconds is from the first start to the last run's end.
	Seconds float64 `json:"seconds"`
	PerHour float64 `json:"per_hour"`
	// DoneSeconds is when each run ended, from the first start.
	DoneSeconds Spread         `json:"done_seconds"`
	Outcomes    map[string]int `json:"outcomes"`
	CPU         cpuSplit       `json:"cpu"`
}

// cpuSplit is the CPU time each process used during a phase, in seconds,
// and the machine's: busy is every core's non-idle time, others is what no
// measured process accounts for (other people's work on a shared machine).
type cpuSplit struct {
	Worker    float64 `json:"worker_s"`
	Cassandra float64 `json:"cassandra_s"`
	Temporal  float64 `json:"temporal_s"`
	Bench     float64 `json:"bench_s"`
	Busy      float64 `json:"machine_busy_s"`
	Capacity  float64 `json:"machine_capacity_s"`
	Others    float64 `json:"others_s"`
}

// BenchmarkManyModels runs -kmbench.models models (200 by default) with
// small windows (-kmbench.modelrows rows each over two days) on one
// `kingmaker worker` process serving both task queues, as a deployment would:
// the time of `kingmaker schedule sync` for all of them (the schedules are
// deleted again at once, so nothing keeps running), one retrain of every
// model started at once (retrains per hour; they make the champions the
// drift checks compare with), then one drift check of every model started at
// once (checks per hour, and whether all of them fit in an hour). Meanwhile
// it reads champions and writes versions through package registry and
// records their latencies; it reports the worker's peak RSS and the CPU time
// of the worker, Cassandra, Temporal and the rest of the machine per phase,
// which says what limits it. The models live in a keyspace of their own
// (-kmbench.manykeyspace), seeded once; each run names its models afresh.
func BenchmarkManyModels(b *testing.B) {
	n := orDefault(*flagModels, 200)
	rows := orDefault(*flagModelRows, 2000)
	if rows%manyModelsDays != 0 || rows/manyModelsDays < 500 {
		b.Fatalf("-kmbench.modelrows must be an even number of at least 1000 (the drift check needs 500 rows in its last day), got %d", rows)
	}
	s, cass := benchCassandraIn(b, *flagManyKS)
	res := manyResult{Models: n, RowsPerModel: rows, Cores: numCPU(), LoadAvgStart: loadAvg()}
	specs := make([]demo.Spec, n)
	for i := range specs {
		specs[i] = demo.Spec{Dataset: fmt.Sprintf("many_%d_%03d", rows, i), Start: Start, Days: manyModelsDays, RowsPerDay: rows / manyModelsDays, Seed: Seed + uint64(i)}
	}
	res.SeedSeconds = seedAll(b, s, cass.Keyspace, specs)

	bin := kingmakerBinary(b)
	dir := b.TempDir()
	prefix := uniqueName("mm")
	withSchedules := filepath.Join(dir, "kingmaker.yaml")
	cfg := manyConfig(b, withSchedules, cass, prefix, specs, true)
	noSchedules := filepath.Join(dir, "kingmaker-unscheduled.yaml")
	manyConfig(b, noSchedules, cass, prefix, specs, false)

	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	st, err := worker.Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatalf("open the stack: %v", err)
	}
	defer st.Close()
	defer deleteSchedules(b, st.Temporal, cfg)

	for b.Loop() {
		res.SyncCreateSeconds = kingmakerRun(b, bin, withSchedules, "schedule", "sync")
		res.SyncUnchangedSeconds = kingmakerRun(b, bin, withSchedules, "schedule", "sync")
		res.SyncDeleteSeconds = kingmakerRun(b, bin, noSchedules, "schedule", "sync")

		w := startWorker(b, bin, withSchedules, filepath.Join(dir, "worker.log"))
		pids := stackPIDs()
		pids["worker"] = w.Process.Pid
		probe := startProbe(ctx, st.Registry, cfg)
		asOf := specs[0].DayDate(manyModelsDays)
		res.Retrains = runPhase(ctx, b, st.Temporal, cfg, pids, func(model string) (client.StartWorkflowOptions, string, any) {
			in := workflows.RetrainInput{Model: model, Reason: workflows.ReasonManual, RequestedBy: "bench", AsOf: &asOf}
			return workflows.RetrainStartOptions(in, cfg.Temporal.TaskQueue, time.Now()), workflows.RetrainWorkflowName, in
		}, func(r *workflows.RetrainResult) string { return r.Outcome })
		res.DriftChecks = runPhase(ctx, b, st.Temporal, cfg, pids, func(model string) (client.StartWorkflowOptions, string, any) {
			in := workflows.DriftInput{Model: model, Reason: workflows.ReasonSchedule, AsOf: &asOf}
			return workflows.DriftStartOptions(in, cfg.Temporal.TaskQueue, time.Now()), workflows.DriftWorkflowName, in
		}, func(r *workflows.DriftResult) string { return r.Action })
		res.RegistryRead, res.RegistryWrite = probe.stop()
		res.WorkerPeakRSS = MiB(procField(w.Process.Pid, "VmHWM:"))
		stopWorker(b, w)
	}
	res.DriftHourFraction = res.DriftChecks.Seconds / 3600
	res.LoadAvgEnd = loadAvg()
	b.ReportMetric(res.SyncCreateSeconds, "sync-create-s")
	b.ReportMetric(res.Retrains.PerHour, "retrains/h")
	b.ReportMetric(res.DriftChecks.PerHour, "drift-checks/h")
	b.ReportMetric(res.RegistryRead.P99, "champion-read-p99-ms")
	b.ReportMetric(res.RegistryWrite.P99, "version-write-p99-ms")
	b.ReportMetric(res.WorkerPeakRSS, "worker-peak-rss-MiB")
	writeResult(b, res)
}

// manyConfig writes the example config (-kmbench.config) with one model per
// spec to path and returns it parsed: every model is the example's, reading
// its spec's partition of the events table of the benchmark keyspace, with
// one cheap candidate (logistic), a window of the spec's two days, hourly
// drift checks of the last day (which never start a retrain) and daily
// retrains, on task queues of their own. Without schedules the models have
// no schedule block. The file is the example's text with these edits, so
// that it reads as a user's config would; the Cassandra password stays out
// of it (the processes read KINGMAKER_CASSANDRA_PASSWORD).
func manyConfig(tb testing.TB, path string, cass config.Cassandra, prefix string, specs []demo.Spec, schedules bool) *config.Config {
	tb.Helper()
	raw, err := os.ReadFile(*flagConfig)
	if err != nil {
		tb.Fatalf("read the example config: %v", err)
	}
	text := string(raw)
	head, rest, ok := strings.Cut(text, "\nmodels:\n")
	if !ok {
		tb.Fatalf("%s has no models: section", *flagConfig)
	}
	model, tail, ok := strings.Cut(rest, "\n# kingmaker serve")
	if !ok {
		tb.Fatalf("%s: no comment \"# kingmaker serve\" after the models", *flagConfig)
	}
	edit := func(s string, pairs ...string) string {
		tb.Helper()
		for i := 0; i < len(pairs); i += 2 {
			if !strings.Contains(s, pairs[i]) {
				tb.Fatalf("%s no longer contains %q: update manyConfig", *flagConfig, pairs[i])
			}
			s = strings.Replace(s, pairs[i], pairs[i+1], 1)
		}
		return s
	}
	head = edit(head,
		"hosts: [127.0.0.1]", "hosts: ["+strings.Join(cass.Hosts, ", ")+"]",
		"port: 9042", "port: "+strconv.Itoa(cass.Port),
		"keyspace: kingmaker", "keyspace: "+cass.Keyspace,
		"password: cassandra", "password: \"\"",
		"host_port: 127.0.0.1:7233", "host_port: "+testenv.TemporalAddr(),
		"task_queue: kingmaker\n", "task_queue: kingmaker-"+prefix+"\n",
		"training_task_queue: kingmaker-training", "training_task_queue: kingmaker-training-"+prefix,
		"listen: 127.0.0.1:9464", "listen: 127.0.0.1:0")
	model = edit(model,
		"length: 7d", fmt.Sprintf("length: %dd", manyModelsDays),
		"retrain_on_drift: true", "retrain_on_drift: false",
		"bootstrap_resamples: 1000", "bootstrap_resamples: 200",
		"      - {name: id3, algorithm: id3, params: {bins: 8}}\n", "",
		"      - {name: forest, algorithm: forest, params: {trees: 11}}\n", "")
	if !schedules {
		model = edit(model,
			"      retrain: {every: 24h, jitter: 10m, catchup_window: 1h}\n", "",
			"      drift: {every: 1h, jitter: 1m}\n", "")
	}
	var sb strings.Builder
	sb.WriteString(head + "\nmodels:\n")
	for i, sp := range specs {
		sb.WriteString(edit(model,
			"name: churn", fmt.Sprintf("name: %s_%03d", prefix, i),
			"partition_value: churn", "partition_value: "+sp.Dataset) + "\n")
	}
	sb.WriteString("\n# kingmaker serve" + tail)
	cfg, err := config.Parse([]byte(sb.String()))
	if err != nil {
		tb.Fatalf("the many-models config is invalid: %v", err)
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	cfg.Cassandra = cass
	return cfg
}

// seedAll writes the rows of every spec when the last one's are missing
// (the keyspace is kept between runs), four models at a time. It returns
// the seconds spent writing.
func seedAll(tb testing.TB, s *gocql.Session, keyspace string, specs []demo.Spec) float64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	last := specs[len(specs)-1]
	m := benchModel(tb, last)
	if countRows(ctx, tb, &dataset.Source{Session: s, Keyspace: keyspace, Model: &m}, last) == int64(last.Days*last.RowsPerDay) {
		return 0
	}
	began := time.Now()
	tb.Logf("seeding %d models of %d rows into %s (once; later runs reuse them)", len(specs), last.Days*last.RowsPerDay, keyspace)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, 4)
	for _, sp := range specs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := demo.Write(ctx, s, keyspace, sp, 2, nil); err != nil {
				mu.Lock()
				first = cmp.Or(first, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if first != nil {
		tb.Fatalf("seed the models' rows: %v", first)
	}
	return time.Since(began).Seconds()
}

// kingmakerBinary is -kmbench.kingmaker, or the kingmaker command built
// from this tree.
func kingmakerBinary(tb testing.TB) string {
	tb.Helper()
	if *flagKingmaker != "" {
		return *flagKingmaker
	}
	bin := filepath.Join(tb.TempDir(), "kingmaker")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/kingmaker")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build ./cmd/kingmaker: %v\n%s", err, out)
	}
	return bin
}

// processEnv is the environment of the kingmaker processes: this one's,
// with the Cassandra credentials the config leaves out.
func processEnv(tb testing.TB) []string {
	c := testenv.CassandraConfig(tb)
	return append(os.Environ(), "KINGMAKER_CASSANDRA_USERNAME="+c.Username, "KINGMAKER_CASSANDRA_PASSWORD="+c.Password.Reveal())
}

// kingmakerRun runs one kingmaker command to its end and returns its wall
// seconds.
func kingmakerRun(tb testing.TB, bin, cfgPath string, args ...string) float64 {
	tb.Helper()
	cmd := exec.Command(bin, append([]string{"--config", cfgPath}, args...)...)
	cmd.Env = processEnv(tb)
	began := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("kingmaker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return time.Since(began).Seconds()
}

// startWorker starts `kingmaker worker` on both task queues, its output in
// logPath.
func startWorker(tb testing.TB, bin, cfgPath, logPath string) *exec.Cmd {
	tb.Helper()
	f, err := os.Create(logPath)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", cfgPath, "worker", "--queues", "main,training")
	cmd.Env = processEnv(tb)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start the worker: %v", err)
	}
	tb.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		f.Close()
	})
	return cmd
}

// stopWorker stops the worker as an operator would (SIGTERM) and waits.
func stopWorker(tb testing.TB, cmd *exec.Cmd) {
	tb.Helper()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		<-done
	}
}

// deleteSchedules deletes whatever schedule of cfg's models is left, in case
// the benchmark stopped between the syncs.
func deleteSchedules(tb testing.TB, c client.Client, cfg *config.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, m := range cfg.Models {
		for _, kind := range []string{"retrain", "drift"} {
			_ = c.ScheduleClient().GetHandle(ctx, workflows.ScheduleID(kind, m.Name)).Delete(ctx)
		}
	}
}

// runPhase starts one workflow per model at once and waits for them all.
func runPhase[R any](ctx context.Context, tb testing.TB, c client.Client, cfg *config.Config, pids map[string]int,
	start func(model string) (client.StartWorkflowOptions, string, any), outcome func(*R) string) phase {
	tb.Helper()
	cpu0 := sampleCPU(pids)
	began := time.Now()
	p := phase{Runs: len(cfg.Models), Outcomes: map[string]int{}}
	var (
		mu   sync.Mutex
		secs []float64
		wg   sync.WaitGroup
	)
	for _, m := range cfg.Models {
		opts, name, in := start(m.Name)
		run, err := c.ExecuteWorkflow(ctx, opts, name, in)
		if err != nil {
			tb.Fatalf("start %s of %s: %v", name, m.Name, err)
		}
		wg.Go(func() {
			var r R
			err := run.Get(ctx, &r)
			mu.Lock()
			defer mu.Unlock()
			secs = append(secs, time.Since(began).Seconds())
			if err != nil {
				p.Failed++
				p.Outcomes["error: "+err.Error()]++
				return
			}
			p.Outcomes[outcome(&r)]++
		})
	}
	p.StartSeconds = time.Since(began).Seconds()
	wg.Wait()
	p.Seconds = time.Since(began).Seconds()
	p.PerHour = float64(p.Runs-p.Failed) / p.Seconds * 3600
	p.DoneSeconds = SpreadOf(secs)
	p.CPU = sampleCPU(pids).since(cpu0)
	return p
}

// registryProbe reads champions and writes versions through package
// registry in the background, ten of each a second, and keeps their
// latencies.
type registryProbe struct {
	cancel        context.CancelFunc
	wg            sync.WaitGroup
	reads, writes []float64
}

func startProbe(ctx context.Context, reg *registry.Registry, cfg *config.Config) *registryProbe {
	ctx, cancel := context.WithCancel(ctx)
	p := &registryProbe{cancel: cancel}
	artifact := make([]byte, 16<<10)
	_, _ = rand.Read(artifact)
	probeModel := cfg.Models[0].Name + "_probe"
	p.wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			t0 := time.Now()
			if _, err := reg.Champion(ctx, cfg.Models[i%len(cfg.Models)].Name); err == nil {
				p.reads = append(p.reads, ms(time.Since(t0)))
			}
			now := time.Now()
			v := &registry.Version{Model: probeModel, ID: registry.VersionID(now, strconv.Itoa(i)), Candidate: "probe", Algorithm: "logistic",
				RunID: "bench", WorkflowID: "bench", WindowFrom: Start, WindowTo: now}
			t0 = time.Now()
			if err := reg.SaveVersion(ctx, v, artifact); err == nil {
				p.writes = append(p.writes, ms(time.Since(t0)))
			}
		}
	})
	return p
}

// stop ends the probe and returns the read and write latencies.
func (p *registryProbe) stop() (Latencies, Latencies) {
	p.cancel()
	p.wg.Wait()
	return LatenciesOf(p.reads), LatenciesOf(p.writes)
}

// cpuSample is the CPU time of the measured processes and of the machine at
// one moment, in seconds.
type cpuSample struct {
	procs     map[string]float64
	busy, all float64
	bench     float64
}

// stackPIDs are the pids of the local stack's Cassandra and Temporal, from
// their pid files under -kmbench.stack; missing ones are left out.
func stackPIDs() map[string]int {
	pids := map[string]int{}
	for name, file := range map[string]string{"cassandra": "cassandra/cassandra.pid", "temporal": "temporal/temporal.pid"} {
		b, err := os.ReadFile(filepath.Join(*flagStackDir, file))
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			pids[name] = pid
		}
	}
	return pids
}

func sampleCPU(pids map[string]int) cpuSample {
	s := cpuSample{procs: map[string]float64{}, bench: CPUTime().Seconds()}
	for name, pid := range pids {
		s.procs[name] = procCPU(pid)
	}
	s.busy, s.all = machineCPU()
	return s
}

func (s cpuSample) since(t cpuSample) cpuSplit {
	c := cpuSplit{
		Worker: s.procs["worker"] - t.procs["worker"], Cassandra: s.procs["cassandra"] - t.procs["cassandra"],
		Temporal: s.procs["temporal"] - t.procs["temporal"], Bench: s.bench - t.bench,
		Busy: s.busy - t.busy, Capacity: s.all - t.all,
	}
	c.Others = max(0, c.Busy-c.Worker-c.Cassandra-c.Temporal-c.Bench)
	return c
}

// clockTick is USER_HZ, the unit of /proc's CPU times (100 on Linux).
const clockTick = 100.0

// procCPU is the user and system CPU seconds of a process (children
// excluded), 0 when it cannot be read.
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces: the fields after it start at ") ".
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / clockTick
}

// machineCPU is every core's busy and total CPU seconds from /proc/stat.
func machineCPU() (busy, all float64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, v := range f[1:] {
		x, _ := strconv.ParseFloat(v, 64)
		if i >= 8 { // guest times are already in user and nice
			break
		}
		all += x
		if i != 3 && i != 4 { // idle, iowait
			busy += x
		}
	}
	return busy / clockTick, all / clockTick
}

// procField reads a "kB" field of /proc/<pid>/status, in bytes.
func procField(pid int, field string) int64 {
	return statusField(fmt.Sprintf("/proc/%d/status", pid), field)
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.TrimSpace(string(b))
}

func numCPU() int { return runtime.NumCPU() }
