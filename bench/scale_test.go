package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// scaleResult is BenchmarkRetrainScale's output.
type scaleResult struct {
	Rows         int `json:"rows"`
	MaxTrainRows int `json:"max_train_rows"`
	// MaxHoldoutRows is the model's max_holdout_rows (0: before it existed).
	MaxHoldoutRows int      `json:"max_holdout_rows"`
	Candidates     []string `json:"candidates"`
	Trainings      int      `json:"trainings"`
	// First is the run that puts a champion in place; Run the measured run
	// with that champion in place.
	First Retrain `json:"first"`
	Run   Retrain `json:"run"`
	// PeakRSSRunMiB is the process's peak RSS over the measured run alone
	// (VmHWM reset before it): the worker, the client and the run.
	PeakRSSRunMiB float64 `json:"peak_rss_run_mib"`
	// PeakRSSRetrainsMiB is the peak over both runs, before the baseline.
	PeakRSSRetrainsMiB float64 `json:"peak_rss_retrains_mib"`
	// The baseline, measured right after in the same process.
	Baseline scaleBaseline `json:"baseline"`
	// Ratio is the measured run's e2e seconds over the baseline's sum.
	Ratio   float64   `json:"ratio"`
	LoadAvg [2]string `json:"loadavg"` // at the start and the end
	// OMPWaitPolicy is the process's OMP_WAIT_POLICY: `kingmaker worker`
	// runs with PASSIVE unless told otherwise, and this in-process worker
	// (and the baseline) with what the benchmark was started with.
	OMPWaitPolicy string         `json:"omp_wait_policy"`
	Started       time.Time      `json:"started"`
	Timeline      [2]runTimeline `json:"timeline"`
}

// Retrain is one run: its e2e time and what it reported.
type Retrain struct {
	Seconds     float64  `json:"seconds"`
	CPUSeconds  float64  `json:"cpu_seconds"`
	Outcome     string   `json:"outcome"`
	Winner      string   `json:"winner"`
	TrainRows   int64    `json:"train_rows"`
	HoldoutRows int64    `json:"holdout_rows"`
	Reasons     []string `json:"reasons"`
}

// scaleBaseline is what the run's work costs without Kingmaker: one plain
// scan of the window, the candidates' training alone on rows already in
// memory, and the holdout scored by every model of the run.
type scaleBaseline struct {
	ScanSeconds  float64            `json:"scan_seconds"`
	ScanRows     int64              `json:"scan_rows"`
	TrainSeconds map[string]float64 `json:"train_seconds"`
	// ScoreSeconds is every candidate and the champion (a model of the
	// champion's algorithm trained here) predicting the holdout, and the
	// metrics of each: what Evaluate must do at the least.
	ScoreSeconds float64 `json:"score_seconds"`
	Seconds      float64 `json:"seconds"`
	// CPUSeconds is this process's CPU time over the timed parts (the
	// scan's client side, training, scoring; not Cassandra's).
	CPUSeconds float64 `json:"cpu_seconds"`
	// Untimed: loading the training sample and the holdout into memory.
	LoadSeconds float64 `json:"load_seconds"`
	TrainRows   int     `json:"train_rows"`
	HoldoutRows int     `json:"holdout_rows"`
}

// BenchmarkRetrainScale runs RetrainWorkflow twice on a seeded window of
// -kmbench.rows rows (the first run puts a champion in place; the second is
// measured) with the candidates of -kmbench.algos, max_train_rows
// -kmbench.maxtrain and max_holdout_rows -kmbench.maxholdout,
// -kmbench.trainings trainings at once (2 by default, as `kingmaker
// worker`; the model's parallel_trainings the same), then, in the same process, the baseline:
// one plain gocql scan of the window, each candidate's training on its
// sample already in memory, and the holdout scored by every candidate and
// the champion. It reports e2e / baseline and the peak RSS of the measured
// run.
func BenchmarkRetrainScale(b *testing.B) {
	s, cass := benchCassandra(b)
	spec, err := SpecFor(orDefault(*flagRows, 100_000), false)
	if err != nil {
		b.Fatal(err)
	}
	res := scaleResult{Rows: spec.Days * spec.RowsPerDay, Started: time.Now().UTC(), Trainings: orDefault(*flagTrainings, 2)}
	res.LoadAvg[0] = loadAvg()
	res.OMPWaitPolicy = os.Getenv("OMP_WAIT_POLICY")
	seeded(b, s, cass.Keyspace, spec)
	cfg, prefix := retrainConfig(b, cass, "scale")
	m := benchModel(b, spec)
	m.Name = prefix
	m.Candidates = benchCandidates(m.Candidates, strings.Split(*flagAlgos, ","))
	m.ParallelTrainings = res.Trainings
	if *flagMaxTrain > 0 {
		m.Window.MaxTrainRows = *flagMaxTrain
	}
	if *flagMaxHold > 0 {
		m.Window.MaxHoldoutRows = *flagMaxHold
	}
	res.MaxTrainRows, res.MaxHoldoutRows = m.Window.MaxTrainRows, m.Window.MaxHoldoutRows
	cfg.Models = []config.Model{m}
	if err := cfg.Validate(); err != nil {
		b.Fatalf("the benchmark config is invalid: %v", err)
	}
	for _, c := range m.Candidates {
		res.Candidates = append(res.Candidates, c.Name+" ("+c.Algorithm+")")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Hour)
	defer cancel()
	st, stopWorker := runWorker(ctx, b, cfg, res.Trainings)
	defer stopWorker()

	w := window(spec)
	var champion string // the first run's winner's algorithm
	for b.Loop() {
		for i, r := range []*Retrain{&res.First, &res.Run} {
			runtime.GC()
			if i == 1 {
				resetPeakRSS(b)
			}
			began, cpu0 := time.Now(), CPUTime()
			run, out := retrainAny(ctx, b, st.Temporal, cfg, m.Name, fmt.Sprintf("bench-scale-%s-%d", m.Name, i+1), w.To)
			*r = Retrain{Seconds: time.Since(began).Seconds(), CPUSeconds: (CPUTime() - cpu0).Seconds(), Outcome: out.Outcome,
				Winner: out.Winner, HoldoutRows: out.HoldoutRows, Reasons: out.Reasons}
			for _, c := range out.Candidates {
				r.TrainRows = max(r.TrainRows, c.TrainRows)
				if c.Version == out.Winner && i == 0 {
					champion = c.Algorithm
				}
			}
			if i == 1 {
				res.PeakRSSRunMiB = MiB(PeakRSS())
			}
			res.Timeline[i] = timeline(ctx, b, st.Temporal, run)
			b.Logf("run %d: %.1f s, %s, %d training rows, %d holdout rows", i+1, r.Seconds, r.Outcome, r.TrainRows, r.HoldoutRows)
		}
		if res.First.Outcome != string(evaluator.OutcomePromote) || champion == "" {
			b.Fatalf("the first run did not promote (%s: %q): the measured run would have no champion", res.First.Outcome, res.First.Reasons)
		}
		res.PeakRSSRetrainsMiB = MiB(PeakRSS())
		stopWorker() // the baseline runs alone
		res.Baseline = scaleBaselineRun(ctx, b, &dataset.Source{Session: s, Keyspace: cass.Keyspace, Model: &m}, w, res.Rows, champion)
	}
	res.Ratio = res.Run.Seconds / res.Baseline.Seconds
	res.LoadAvg[1] = loadAvg()
	b.ReportMetric(res.Run.Seconds, "e2e-s")
	b.ReportMetric(res.Baseline.Seconds, "baseline-s")
	b.ReportMetric(res.Ratio, "ratio")
	b.ReportMetric(res.PeakRSSRunMiB, "run-peak-rss-MiB")
	writeResult(b, res)
}

// scaleBaselineRun measures the baseline of BenchmarkRetrainScale: a plain
// scan of the window (timed), the training sample and the holdout loaded
// into memory (untimed), each candidate trained on the sample (timed), and
// the holdout predicted and scored by each candidate and by a model of the
// champion's algorithm (timed).
func scaleBaselineRun(ctx context.Context, tb testing.TB, src *dataset.Source, w dataset.Window, rows int, championAlgo string) scaleBaseline {
	tb.Helper()
	m := src.Model
	bl := scaleBaseline{TrainSeconds: map[string]float64{}}
	runtime.GC()
	t0, cpu0 := time.Now(), CPUTime()
	n, err := plainScan(ctx, src.Session, src.Keyspace, m, w, 5000, false)
	if err != nil {
		tb.Fatalf("plain scan: %v", err)
	}
	bl.ScanSeconds, bl.ScanRows = time.Since(t0).Seconds(), n
	bl.CPUSeconds += (CPUTime() - cpu0).Seconds()

	// The rows in memory, untimed: the sample at the rate a run computes
	// (on the expected training rows) and the holdout, sampled as a run
	// samples it (window.max_holdout_rows).
	t0 = time.Now()
	trainRows := dataset.ExpectedTrainRows(int64(rows), 0, m.Window.HoldoutFraction)
	holdRate := dataset.SampleRate(int64(rows)-trainRows, m.Window.MaxHoldoutRows)
	trainRate := dataset.SampleRate(trainRows, m.Window.MaxTrainRows)
	data := &trainer.Data{Schema: src.Schema()}
	var (
		mu    sync.Mutex
		holdX [][]float64
		holdY []int
	)
	// One scan keeps both, each row copied (a batch's rows share blocks
	// with the rows not kept).
	_, err = src.Scan(ctx, w, dataset.ScanOptions{}, func(_ int, bt *dataset.Batch) error {
		var tx, hx [][]float64
		var ty, hy []int
		for i := range bt.X {
			switch {
			case bt.Holdout[i] && dataset.Sampled(bt.Keys[i], holdRate, 1):
				hx, hy = append(hx, slices.Clone(bt.X[i])), append(hy, bt.Y[i])
			case !bt.Holdout[i] && dataset.Sampled(bt.Keys[i], trainRate, 1):
				tx, ty = append(tx, slices.Clone(bt.X[i])), append(ty, bt.Y[i])
			}
		}
		mu.Lock()
		holdX, holdY = append(holdX, hx...), append(holdY, hy...)
		data.X, data.Y = append(data.X, tx...), append(data.Y, ty...)
		mu.Unlock()
		return nil
	})
	if err != nil {
		tb.Fatalf("load the training sample and the holdout: %v", err)
	}
	bl.LoadSeconds, bl.TrainRows, bl.HoldoutRows = time.Since(t0).Seconds(), len(data.X), len(holdX)

	models := map[string]trainer.Model{}
	var scored []trainer.Model
	for _, c := range m.Candidates {
		tr, err := trainer.Lookup(c.Algorithm)
		if err != nil {
			tb.Fatal(err)
		}
		runtime.GC()
		t0, cpu0 := time.Now(), CPUTime()
		model, err := tr.Train(ctx, data, trainer.Params(c.Params))
		if err != nil {
			tb.Fatalf("train %s: %v", c.Name, err)
		}
		bl.TrainSeconds[c.Name] = time.Since(t0).Seconds()
		bl.CPUSeconds += (CPUTime() - cpu0).Seconds()
		models[c.Algorithm] = model
		scored = append(scored, model)
	}
	if models[championAlgo] == nil {
		tb.Fatalf("no candidate of the champion's algorithm %q", championAlgo)
	}
	scored = append(scored, models[championAlgo])
	data = nil
	runtime.GC()
	t0, cpu0 = time.Now(), CPUTime()
	for _, model := range scored {
		pred, pos, err := model.Predict(holdX)
		if err != nil {
			tb.Fatalf("predict the holdout: %v", err)
		}
		if _, err := evaluator.Score(len(m.Label.Classes), holdY, pred, pos); err != nil {
			tb.Fatalf("score the holdout: %v", err)
		}
	}
	bl.ScoreSeconds = time.Since(t0).Seconds()
	bl.CPUSeconds += (CPUTime() - cpu0).Seconds()
	bl.Seconds = bl.ScanSeconds + bl.ScoreSeconds
	for _, s := range bl.TrainSeconds {
		bl.Seconds += s
	}
	return bl
}

// resetPeakRSS resets the process's VmHWM to its current RSS (Linux 4.0+:
// "5" to /proc/self/clear_refs), so that PeakRSS is the peak from here on.
func resetPeakRSS(tb testing.TB) {
	tb.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		tb.Fatalf("reset the peak RSS: %v", err)
	}
}
