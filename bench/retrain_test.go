package bench

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/trainer"
	"github.com/kingmaker-ml/kingmaker/worker"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// retrainResult is BenchmarkRetrain's output.
type retrainResult struct {
	Rows       int      `json:"rows"`
	Candidates []string `json:"candidates"`
	// Trainings is how many trainings the worker runs at once.
	Trainings int `json:"trainings"`
	// ParallelTrainings is the model's parallel_trainings: how many of its
	// candidates a run starts at once (0: all).
	ParallelTrainings int      `json:"parallel_trainings"`
	TrainRows         int64    `json:"train_rows"`
	HoldoutRows       int64    `json:"holdout_rows"`
	Outcomes          []string `json:"outcomes"`
	// E2ESeconds is from starting RetrainWorkflow to its result.
	E2ESeconds Spread `json:"e2e_seconds"`
	// PureSeconds is the same work without Temporal or the registry, in the
	// same process right after: LoadTrain and Train per candidate, then one
	// holdout scan scored by every model.
	PureSeconds Spread `json:"pure_seconds"`
	// Overhead is (e2e - pure) / pure, per round.
	Overhead Spread `json:"overhead"`
	// The same in CPU time of this process (worker, client and pure work;
	// the Temporal server's and Cassandra's CPU are not in it).
	E2ECPUSeconds  Spread        `json:"e2e_cpu_seconds"`
	PureCPUSeconds Spread        `json:"pure_cpu_seconds"`
	OverheadCPU    Spread        `json:"overhead_cpu"`
	Pure           []pureTimes   `json:"pure"`
	Timeline       []runTimeline `json:"timeline"`
	// PeakRSSAfterRetrainMiB is the process's peak RSS right after the first
	// retrain, before anything else ran: the retrain's own peak (worker and
	// client in one process).
	PeakRSSAfterRetrainMiB float64 `json:"peak_rss_after_retrain_mib"`
	PeakRSSMiB             float64 `json:"peak_rss_mib"`
}

// pureTimes breaks down one pure train+evaluate.
type pureTimes struct {
	LoadSeconds     map[string]float64 `json:"load_seconds"`
	TrainSeconds    map[string]float64 `json:"train_seconds"`
	EvaluateSeconds float64            `json:"evaluate_seconds"`
	Seconds         float64            `json:"seconds"`
	CPUSeconds      float64            `json:"cpu_seconds"`
	ROCAUC          map[string]float64 `json:"roc_auc"`
}

// runTimeline is what the workflow history says about one run: how long each
// activity ran and waited in its queue.
type runTimeline struct {
	Activities []activitySpan `json:"activities"`
	// Span is from the first event to the last.
	SpanSeconds float64 `json:"span_seconds"`
	// TrainWallSeconds is from the first training scheduled to the last
	// completed (they run in parallel); EvaluateSeconds the Evaluate activity.
	TrainWallSeconds float64 `json:"train_wall_seconds"`
	EvaluateSeconds  float64 `json:"evaluate_seconds"`
}

type activitySpan struct {
	Type         string  `json:"type"`
	QueueSeconds float64 `json:"queue_seconds"`
	RunSeconds   float64 `json:"run_seconds"`
}

// benchCandidates are the candidates of the given algorithms: those of the
// example config where it has one (its parameters), else the algorithm with
// its defaults.
func benchCandidates(example []config.Candidate, algos []string) []config.Candidate {
	var out []config.Candidate
	for _, a := range algos {
		i := slices.IndexFunc(example, func(c config.Candidate) bool { return c.Algorithm == a })
		if i >= 0 {
			out = append(out, example[i])
		} else {
			out = append(out, config.Candidate{Name: a, Algorithm: a})
		}
	}
	return out
}

// BenchmarkRetrain runs RetrainWorkflow end to end on the Temporal dev
// server with an in-process worker (both queues, -kmbench.trainings at once:
// 2 by default, as `kingmaker worker`; the model's parallel_trainings the
// same unless -kmbench.parallel says otherwise) over a seeded window of -kmbench.rows rows
// (100,000 by default) with the candidates of -kmbench.algos, then does the
// same train+evaluate work directly in the same process, and reports the
// orchestration overhead (e2e - pure) / pure, in wall time and in this
// process's CPU time. Each round retrains a model of its own (same source,
// fresh name), so every run is a first run.
func BenchmarkRetrain(b *testing.B) {
	s, cass := benchCassandra(b)
	spec, err := SpecFor(orDefault(*flagRows, 100_000), false)
	if err != nil {
		b.Fatal(err)
	}
	seeded(b, s, cass.Keyspace, spec)
	reps := orDefault(*flagReps, 1)
	cfg, prefix := retrainConfig(b, cass, "bench")
	trainings := orDefault(*flagTrainings, 2)
	base := benchModel(b, spec)
	base.Candidates = benchCandidates(base.Candidates, strings.Split(*flagAlgos, ","))
	base.ParallelTrainings = trainings
	if *flagParallel >= 0 {
		base.ParallelTrainings = *flagParallel
	}
	cfg.Models = nil
	for r := range reps {
		m := base
		m.Name = fmt.Sprintf("%s_r%d", prefix, r+1)
		cfg.Models = append(cfg.Models, m)
	}
	if err := cfg.Validate(); err != nil {
		b.Fatalf("the benchmark config is invalid: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel()
	res := retrainResult{Rows: spec.Days * spec.RowsPerDay, Trainings: trainings, ParallelTrainings: base.ParallelTrainings}
	st, stopWorker := runWorker(ctx, b, cfg, res.Trainings)
	defer stopWorker()

	for _, c := range base.Candidates {
		res.Candidates = append(res.Candidates, c.Name+" ("+c.Algorithm+")")
	}
	w := window(spec)
	var e2e, pure, overhead, e2eCPU, pureCPU, overheadCPU []float64
	round := 0
	for b.Loop() {
		for range reps {
			m := &cfg.Models[round]
			round++
			retrain := func() {
				runtime.GC()
				began, cpu0 := time.Now(), CPUTime()
				run, out := runRetrain(ctx, b, st.Temporal, cfg, m.Name, w.To)
				e2e, e2eCPU = append(e2e, time.Since(began).Seconds()), append(e2eCPU, (CPUTime()-cpu0).Seconds())
				if round == 1 {
					res.PeakRSSAfterRetrainMiB = MiB(PeakRSS())
				}
				res.Outcomes = append(res.Outcomes, out.Outcome)
				res.HoldoutRows = out.HoldoutRows
				for _, c := range out.Candidates {
					res.TrainRows = max(res.TrainRows, c.TrainRows)
				}
				res.Timeline = append(res.Timeline, timeline(ctx, b, st.Temporal, run))
			}
			direct := func() {
				runtime.GC()
				cpu0 := CPUTime()
				p := pureRetrain(ctx, b, &dataset.Source{Session: s, Keyspace: cass.Keyspace, Model: m}, w, int64(res.Rows))
				p.CPUSeconds = (CPUTime() - cpu0).Seconds()
				res.Pure = append(res.Pure, p)
				pure, pureCPU = append(pure, p.Seconds), append(pureCPU, p.CPUSeconds)
			}
			// The first round retrains first, so that the peak RSS after it is
			// the retrain's; later rounds alternate which goes first.
			if !*flagPure || round%2 == 1 {
				retrain()
			}
			if *flagPure {
				direct()
				if round%2 == 0 {
					retrain()
				}
				i := len(pure) - 1
				overhead = append(overhead, (e2e[i]-pure[i])/pure[i])
				overheadCPU = append(overheadCPU, (e2eCPU[i]-pureCPU[i])/pureCPU[i])
			}
		}
	}
	res.E2ECPUSeconds, res.PureCPUSeconds, res.OverheadCPU = SpreadOf(e2eCPU), SpreadOf(pureCPU), SpreadOf(overheadCPU)
	res.E2ESeconds, res.PureSeconds, res.Overhead = SpreadOf(e2e), SpreadOf(pure), SpreadOf(overhead)
	res.PeakRSSMiB = MiB(PeakRSS())
	b.ReportMetric(res.E2ESeconds.Median, "e2e-s")
	b.ReportMetric(res.E2ECPUSeconds.Median, "e2e-cpu-s")
	if len(pure) > 0 {
		b.ReportMetric(res.PureSeconds.Median, "pure-s")
		b.ReportMetric(res.Overhead.Median, "overhead")
	}
	b.ReportMetric(res.PeakRSSAfterRetrainMiB, "retrain-peak-rss-MiB")
	writeResult(b, res)
}

// retrainConfig is the example config on the benchmark keyspace and the
// local Temporal, with task queues of their own named after a unique
// prefix (returned) and metrics on a free port.
func retrainConfig(tb testing.TB, cass config.Cassandra, prefix string) (*config.Config, string) {
	tb.Helper()
	cfg := exampleConfig(tb)
	cfg.Cassandra = cass
	cfg.Temporal.HostPort = testenv.TemporalAddr()
	prefix = uniqueName(prefix)
	cfg.Temporal.TaskQueue = "kingmaker-" + prefix
	cfg.Temporal.TrainingTaskQueue = "kingmaker-training-" + prefix
	cfg.Metrics.Listen = "127.0.0.1:0"
	return cfg, prefix
}

// runWorker opens the stack of cfg and runs an in-process worker (both
// queues, trainings at once) until the returned stop is called; stop waits
// for the worker and closes the stack.
func runWorker(ctx context.Context, tb testing.TB, cfg *config.Config, trainings int) (*worker.Stack, func()) {
	tb.Helper()
	logger := slog.New(slog.DiscardHandler)
	st, err := worker.Open(ctx, cfg, logger)
	if err != nil {
		tb.Fatalf("open the stack: %v", err)
	}
	workerCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		err := worker.Run(workerCtx, st, worker.Options{Roles: []string{worker.RoleMain, worker.RoleTraining},
			StopTimeout: 10 * time.Second, MaxConcurrentTrainings: trainings, Logger: logger})
		if err != nil && workerCtx.Err() == nil {
			tb.Errorf("the worker stopped: %v", err)
		}
	})
	var once sync.Once
	return st, func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			st.Close()
		})
	}
}

// runRetrain runs one retrain to its end and checks that it promoted.
func runRetrain(ctx context.Context, tb testing.TB, c client.Client, cfg *config.Config, model string, asOf time.Time) (client.WorkflowRun, *workflows.RetrainResult) {
	tb.Helper()
	run, res := retrainAny(ctx, tb, c, cfg, model, "bench-retrain-"+model, asOf)
	if res.Outcome != string(evaluator.OutcomePromote) {
		tb.Fatalf("retrain %s: outcome %s, want promote (a first run): %q", model, res.Outcome, res.Reasons)
	}
	return run, res
}

// retrainAny runs one retrain of model as workflow id to its end and fails
// only when the run failed (a run with a champion in place may keep it).
func retrainAny(ctx context.Context, tb testing.TB, c client.Client, cfg *config.Config, model, id string, asOf time.Time) (client.WorkflowRun, *workflows.RetrainResult) {
	tb.Helper()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: cfg.Temporal.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.AttrModel.ValueSet(model)),
	}, workflows.RetrainWorkflowName, workflows.RetrainInput{Model: model, Reason: workflows.ReasonManual, RequestedBy: "bench", AsOf: &asOf})
	if err != nil {
		tb.Fatalf("start the retrain of %s: %v", model, err)
	}
	var res workflows.RetrainResult
	if err := run.Get(ctx, &res); err != nil {
		tb.Fatalf("retrain %s: %v", model, err)
	}
	if res.Outcome == workflows.OutcomeFailed {
		tb.Fatalf("retrain %s failed: %q", model, res.Reasons)
	}
	return run, &res
}

// timeline reads the run's history: each activity's time in its queue and
// running.
func timeline(ctx context.Context, tb testing.TB, c client.Client, run client.WorkflowRun) runTimeline {
	tb.Helper()
	it := c.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	type pending struct {
		typ                string
		scheduled, started time.Time
	}
	byID := map[int64]*pending{}
	const trainType, evalType = "TrainCandidate", "Evaluate"
	var (
		tl                    runTimeline
		first, last           time.Time
		trainFirst, trainLast time.Time
	)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			tb.Fatalf("read the history of %s: %v", run.GetID(), err)
		}
		t := ev.GetEventTime().AsTime()
		if first.IsZero() {
			first = t
		}
		last = t
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			typ := ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
			byID[ev.GetEventId()] = &pending{typ: typ, scheduled: t}
			if typ == trainType && trainFirst.IsZero() {
				trainFirst = t
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			if p := byID[ev.GetActivityTaskStartedEventAttributes().GetScheduledEventId()]; p != nil {
				p.started = t
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			p := byID[ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()]
			if p == nil {
				continue
			}
			span := activitySpan{Type: p.typ, QueueSeconds: p.started.Sub(p.scheduled).Seconds(), RunSeconds: t.Sub(p.started).Seconds()}
			tl.Activities = append(tl.Activities, span)
			switch p.typ {
			case trainType:
				trainLast = t
			case evalType:
				tl.EvaluateSeconds = span.RunSeconds
			}
		}
	}
	tl.SpanSeconds = last.Sub(first).Seconds()
	tl.TrainWallSeconds = trainLast.Sub(trainFirst).Seconds()
	return tl
}

// pureRetrain does a retrain's compute without Temporal or the registry:
// each candidate's LoadTrain (each training activity reads the window) and
// Train, one after another, then one scan of the holdout scored by every
// model (as Evaluate does, without the champion: these are first runs).
func pureRetrain(ctx context.Context, tb testing.TB, src *dataset.Source, w dataset.Window, rows int64) pureTimes {
	tb.Helper()
	m := src.Model
	p := pureTimes{LoadSeconds: map[string]float64{}, TrainSeconds: map[string]float64{}, ROCAUC: map[string]float64{}}
	rate := dataset.SampleRate(rows, m.Window.MaxTrainRows)
	began := time.Now()
	models := make([]trainer.Model, len(m.Candidates))
	for i, c := range m.Candidates {
		t0 := time.Now()
		data, _, err := src.LoadTrain(ctx, w, rate, 1)
		if err != nil {
			tb.Fatalf("load %s: %v", c.Name, err)
		}
		t1 := time.Now()
		tr, err := trainer.Lookup(c.Algorithm)
		if err != nil {
			tb.Fatal(err)
		}
		if models[i], err = tr.Train(ctx, data, trainer.Params(c.Params)); err != nil {
			tb.Fatalf("train %s: %v", c.Name, err)
		}
		p.LoadSeconds[c.Name], p.TrainSeconds[c.Name] = t1.Sub(t0).Seconds(), time.Since(t1).Seconds()
	}
	t0 := time.Now()
	days := make([]struct {
		truth []int
		pred  [][]int
		pos   [][]float64
	}, len(dataset.Days(w.From, w.To)))
	var mu sync.Mutex
	_, err := src.Scan(ctx, w, dataset.ScanOptions{}, func(day int, bt *dataset.Batch) error {
		var x [][]float64
		var truth []int
		for i := range bt.X {
			if bt.Holdout[i] {
				x, truth = append(x, bt.X[i]), append(truth, bt.Y[i])
			}
		}
		preds, poss := make([][]int, len(models)), make([][]float64, len(models))
		for k, model := range models {
			var err error
			if preds[k], poss[k], err = model.Predict(x); err != nil {
				return err
			}
		}
		mu.Lock()
		defer mu.Unlock()
		d := &days[day]
		if d.pred == nil {
			d.pred, d.pos = make([][]int, len(models)), make([][]float64, len(models))
		}
		d.truth = append(d.truth, truth...)
		for k := range models {
			d.pred[k], d.pos[k] = append(d.pred[k], preds[k]...), append(d.pos[k], poss[k]...)
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("score the holdout: %v", err)
	}
	var truth []int
	pred, pos := make([][]int, len(models)), make([][]float64, len(models))
	for _, d := range days {
		truth = append(truth, d.truth...)
		for k := range models {
			if d.pred != nil {
				pred[k], pos[k] = append(pred[k], d.pred[k]...), append(pos[k], d.pos[k]...)
			}
		}
	}
	for k, c := range m.Candidates {
		mt, err := evaluator.Score(len(m.Label.Classes), truth, pred[k], pos[k])
		if err != nil {
			tb.Fatalf("score %s: %v", c.Name, err)
		}
		p.ROCAUC[c.Name], _ = mt.Value("roc_auc")
	}
	p.EvaluateSeconds = time.Since(t0).Seconds()
	p.Seconds = time.Since(began).Seconds()
	return p
}
