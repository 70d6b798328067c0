package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// The regression and multiclass benchmarks (BENCHMARKS.md, "Regression and
// multiclass against scikit-learn") train on the demo's delivery rows
// (demo.GenerateDelivery): 5 numeric and 3 categorical features; the label
// is the delivery minutes (regression) or its band out of five
// (multiclass, DeliveryBands). scripts/bench-tasks.sh exports each grid
// once (TestExportTaskGrid) and runs one training per process on each side
// (BenchmarkTaskTrain here, `sklearn_bench.py task` there).

var (
	flagTask       = flag.String("kmbench.task", "regression", "BenchmarkTaskTrain, TestExportTaskGrid: regression or multiclass (delivery rows)")
	flagTaskExport = flag.String("kmbench.taskexport", "", "TestExportTaskGrid: write the delivery grid of -kmbench.rows rows and -kmbench.task to this .npy file")
	flagTaskParams = flag.String("kmbench.params", "", "BenchmarkTaskTrain: parameters over the algorithm's defaults, as name=value,name=value")
)

// taskParams reads -kmbench.params.
func taskParams(tb testing.TB) trainer.Params {
	p := trainer.Params{}
	for kv := range strings.SplitSeq(*flagTaskParams, ",") {
		if kv == "" {
			continue
		}
		name, value, _ := strings.Cut(kv, "=")
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			tb.Fatalf("-kmbench.params %s: %v", kv, err)
		}
		p[name] = v
	}
	return p
}

// DeliveryBands are the upper bounds (minutes) of the first four of the five
// classes of the multiclass benchmark; the fifth is everything slower.
var DeliveryBands = []float64{25, 32, 40, 50}

// deliveryClasses names the bands.
var deliveryClasses = []string{"under_25", "25_32", "32_40", "40_50", "over_50"}

// deliverySchema is the trainer schema of the delivery grid for task.
func deliverySchema(task trainer.Task) trainer.Schema {
	num := func(name string) trainer.Feature { return trainer.Feature{Name: name, Kind: trainer.Numeric} }
	cat := func(name string, c []string) trainer.Feature {
		return trainer.Feature{Name: name, Kind: trainer.Categorical, Categories: slices.Clone(c)}
	}
	s := trainer.Schema{Features: []trainer.Feature{num("distance_km"), num("items"), num("prep_minutes"), num("hour"), num("courier_load"),
		cat("zone", demo.Zones), cat("vehicle", demo.Vehicles), cat("weather", demo.Weathers)}}
	if task == trainer.Regression {
		s.Task = trainer.Regression
	} else {
		s.Classes = slices.Clone(deliveryClasses)
	}
	return s
}

// taskGrid is the delivery grid: features, the label (minutes, or the band's
// index) and the holdout split of the pipeline.
type taskGrid struct {
	task    trainer.Task
	spec    demo.Spec
	x       [][]float64
	label   []float64
	holdout []bool
}

func deliveryGrid(tb testing.TB, task trainer.Task, rows int) *taskGrid {
	tb.Helper()
	if rows < Days || rows%Days != 0 {
		tb.Fatalf("benchmark rows must be a positive multiple of %d, got %d", Days, rows)
	}
	spec := demo.Spec{Dataset: fmt.Sprintf("bench_deliveries_%d", rows), Start: Start, Days: Days, RowsPerDay: rows / Days, Seed: Seed}
	g := &taskGrid{task: task, spec: spec, x: make([][]float64, rows), label: make([]float64, rows), holdout: make([]bool, rows)}
	width := len(deliverySchema(task).Features)
	backing := make([]float64, rows*width)
	for day := range spec.Days {
		for i := range spec.RowsPerDay {
			k := day*spec.RowsPerDay + i
			d := spec.GenerateDelivery(day, i)
			x := backing[k*width : (k+1)*width : (k+1)*width]
			x[0], x[1], x[2], x[3], x[4] = d.DistanceKM, float64(d.Items), d.PrepMinutes, float64(d.Hour), float64(d.CourierLoad)
			x[5], x[6], x[7] = float64(slices.Index(demo.Zones, d.Zone)), float64(slices.Index(demo.Vehicles, d.Vehicle)), float64(slices.Index(demo.Weathers, d.Weather))
			g.x[k] = x
			g.label[k] = d.Minutes
			if task == trainer.Multiclass {
				band, _ := slices.BinarySearch(DeliveryBands, d.Minutes)
				g.label[k] = float64(band)
			}
			g.holdout[k] = dataset.Holdout(d.ID.String(), HoldoutFraction)
		}
	}
	return g
}

// split returns the training and holdout rows as trainer data.
func (g *taskGrid) split() (train, holdout *trainer.Data) {
	s := deliverySchema(g.task)
	train, holdout = &trainer.Data{Schema: s}, &trainer.Data{Schema: s}
	for i, x := range g.x {
		d := train
		if g.holdout[i] {
			d = holdout
		}
		d.X = append(d.X, x)
		if g.task == trainer.Regression {
			d.Target = append(d.Target, g.label[i])
		} else {
			d.Y = append(d.Y, int(g.label[i]))
		}
	}
	return train, holdout
}

// export writes the grid as .npy (features, label, 1 for a holdout row)
// with a manifest beside it (.json) that the Python side reads.
func (g *taskGrid) export(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	width := len(g.x[0])
	err = writeNPYRows(w, len(g.x), width+2, func(i int, row []float64) {
		copy(row, g.x[i])
		row[width], row[width+1] = g.label[i], 0
		if g.holdout[i] {
			row[width+1] = 1
		}
	})
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	man := map[string]any{"task": g.task, "spec": g.spec, "rows": len(g.x), "holdout_fraction": HoldoutFraction, "schema": deliverySchema(g.task)}
	b, _ := json.MarshalIndent(man, "", "  ")
	return os.WriteFile(ManifestPath(path), append(b, '\n'), 0o644)
}

// TestExportTaskGrid writes the delivery grid for the Python side with
// -kmbench.taskexport; on its own it checks a small grid's split and labels.
func TestExportTaskGrid(t *testing.T) {
	task := trainer.Task(*flagTask)
	rows := orDefault(*flagRows, 2000)
	g := deliveryGrid(t, task, rows)
	if *flagTaskExport != "" {
		if err := g.export(*flagTaskExport); err != nil {
			t.Fatal(err)
		}
		return
	}
	train, holdout := g.split()
	if share := float64(len(holdout.X)) / float64(rows); math.Abs(share-HoldoutFraction) > 0.05 {
		t.Errorf("holdout share %.3f, want about %.2f", share, HoldoutFraction)
	}
	if len(train.Target) != len(train.X) || len(train.Y) != 0 {
		t.Errorf("a regression grid gave %d targets and %d classes for %d rows", len(train.Target), len(train.Y), len(train.X))
	}
	bands := deliveryGrid(t, trainer.Multiclass, rows)
	seen := map[float64]int{}
	for _, y := range bands.label {
		seen[y]++
	}
	if len(seen) != len(deliveryClasses) {
		t.Errorf("the multiclass grid has the bands %v: want all five", seen)
	}
}

// taskResult is one training and holdout evaluation of the Go side; the
// Python side writes the same fields.
type taskResult struct {
	Side           string         `json:"side"`
	Task           trainer.Task   `json:"task"`
	Algorithm      string         `json:"algorithm"`
	Rows           int            `json:"rows"`
	TrainRows      int            `json:"train_rows"`
	Params         trainer.Params `json:"params"`
	TrainSeconds   float64        `json:"train_seconds"`
	PredictSeconds float64        `json:"predict_seconds"`
	CPUSeconds     float64        `json:"cpu_seconds"`
	PeakRSSMiB     float64        `json:"peak_rss_mib"`
	RMSE           float64        `json:"rmse,omitempty"`
	Accuracy       float64        `json:"accuracy,omitempty"`
	LogLoss        float64        `json:"log_loss,omitempty"`
	Threads        int            `json:"threads"`
	OMPThreads     int            `json:"omp_threads"`
}

// BenchmarkTaskTrain trains -kmbench.algo on the delivery rows of
// -kmbench.task (regression: linear and xgboost by default; multiclass:
// xgboost) and evaluates it on the holdout: RMSE, or accuracy and log loss.
func BenchmarkTaskTrain(b *testing.B) {
	task := trainer.Task(*flagTask)
	g := deliveryGrid(b, task, orDefault(*flagRows, 10_000))
	train, holdout := g.split()
	g.x = nil // the rows live on in train and holdout
	algos := []string{"linear", "xgboost"}
	if task == trainer.Multiclass {
		algos = []string{"xgboost"}
	}
	if *flagAlgo != "" {
		algos = []string{*flagAlgo}
	}
	var results []taskResult
	for _, algo := range algos {
		if _, err := trainer.Lookup(algo); err != nil {
			b.Logf("%s: %v (build with -tags xgboost)", algo, err)
			continue
		}
		b.Run(algo, func(b *testing.B) {
			var res taskResult
			for b.Loop() {
				res = trainTask(b, algo, train, holdout)
			}
			b.ReportMetric(res.TrainSeconds, "train-s")
			results = append(results, res)
		})
	}
	if len(results) == 1 {
		writeResult(b, results[0])
	} else {
		writeResult(b, results)
	}
}

func trainTask(tb testing.TB, algo string, train, holdout *trainer.Data) taskResult {
	tb.Helper()
	tr, _ := trainer.Lookup(algo)
	task := train.Schema.EffectiveTask()
	res := taskResult{Side: "go", Task: task, Algorithm: algo, Rows: len(train.X) + len(holdout.X), TrainRows: len(train.X), Threads: runtime.GOMAXPROCS(0)}
	res.OMPThreads, _ = strconv.Atoi(os.Getenv("OMP_NUM_THREADS"))
	runtime.GC()
	began, cpu0 := time.Now(), CPUTime()
	m, err := tr.Train(context.Background(), train, taskParams(tb))
	if err != nil {
		tb.Fatalf("train %s on %d rows: %v", algo, len(train.X), err)
	}
	trained := time.Now()
	if task == trainer.Regression {
		pred, err := m.(trainer.Regressor).PredictValues(holdout.X)
		if err != nil {
			tb.Fatal(err)
		}
		var sse float64
		for i, p := range pred {
			sse += (p - holdout.Target[i]) * (p - holdout.Target[i])
		}
		res.RMSE = math.Sqrt(sse / float64(len(pred)))
	} else {
		proba, err := m.(trainer.Prober).PredictProba(holdout.X)
		if err != nil {
			tb.Fatal(err)
		}
		var right int
		var loss float64
		for i, p := range proba {
			if argmax(p) == holdout.Y[i] {
				right++
			}
			loss -= math.Log(math.Max(p[holdout.Y[i]], 1e-15))
		}
		res.Accuracy, res.LogLoss = float64(right)/float64(len(proba)), loss/float64(len(proba))
	}
	res.TrainSeconds, res.PredictSeconds = trained.Sub(began).Seconds(), time.Since(trained).Seconds()
	res.CPUSeconds = (CPUTime() - cpu0).Seconds()
	res.Params = m.Params()
	res.PeakRSSMiB = MiB(PeakRSS())
	return res
}

func argmax(p []float64) int {
	best := 0
	for k, v := range p {
		if v > p[best] {
			best = k
		}
	}
	return best
}
