package bench

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// trainResult is one training and holdout evaluation of the Go side; the
// Python side (sklearn_bench.py train) writes the same fields.
type trainResult struct {
	Side           string         `json:"side"`
	Algorithm      string         `json:"algorithm"`
	Rows           int            `json:"rows"`
	TrainRows      int            `json:"train_rows"`
	HoldoutRows    int            `json:"holdout_rows"`
	Params         trainer.Params `json:"params"`
	LoadSeconds    float64        `json:"load_seconds"`
	TrainSeconds   float64        `json:"train_seconds"`
	PredictSeconds float64        `json:"predict_seconds"`
	ScoreSeconds   float64        `json:"score_seconds"`
	// Seconds is training plus holdout evaluation (predict and score);
	// CPUSeconds the process's CPU time over the same, every thread included.
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds"`
	Accuracy   float64 `json:"accuracy"`
	ROCAUC     float64 `json:"roc_auc"`
	// RSSAtStartMiB is the resident set before the data is read (the
	// runtime, the binary, the interpreter and its imports);
	// RSSBeforeTrainMiB with the data loaded, just before training.
	RSSAtStartMiB     float64 `json:"rss_at_start_mib"`
	RSSBeforeTrainMiB float64 `json:"rss_before_train_mib"`
	PeakRSSMiB        float64 `json:"peak_rss_mib"`
	Threads           int     `json:"threads"`
	// OMPThreads is $OMP_NUM_THREADS, which bounds XGBoost's threads (0: unset).
	OMPThreads    int `json:"omp_threads"`
	ArtifactBytes int `json:"artifact_bytes"`
}

// likeForLike are the parameters the Go side trains with: every default,
// except that the trainers which sample (max_rows) see every training row,
// as scikit-learn does, so both sides learn from the same rows. Kingmaker's
// defaults cap id3 at 100,000 rows, forest at 20,000 and knn at 5,000.
func likeForLike(algo string, trainRows int) trainer.Params {
	switch algo {
	case "id3", "forest":
		return trainer.Params{"max_rows": float64(max(trainRows, 10))}
	case "knn":
		return trainer.Params{"max_rows": float64(min(trainRows, 1_000_000))}
	}
	return trainer.Params{}
}

// trainAndEvaluate trains algo on train and scores it on holdout.
func trainAndEvaluate(tb testing.TB, algo string, train, holdout *trainer.Data) trainResult {
	tb.Helper()
	tr, err := trainer.Lookup(algo)
	if err != nil {
		tb.Fatal(err)
	}
	p := likeForLike(algo, len(train.X))
	res := trainResult{Side: "go", Algorithm: algo, Rows: len(train.X) + len(holdout.X), TrainRows: len(train.X),
		HoldoutRows: len(holdout.X), Threads: runtime.GOMAXPROCS(0)}
	res.OMPThreads, _ = strconv.Atoi(os.Getenv("OMP_NUM_THREADS"))
	runtime.GC()
	res.RSSBeforeTrainMiB = MiB(RSS())
	began, cpu0 := time.Now(), CPUTime()
	m, err := tr.Train(context.Background(), train, p)
	if err != nil {
		tb.Fatalf("train %s on %d rows: %v", algo, len(train.X), err)
	}
	trained := time.Now()
	pred, pos, err := m.Predict(holdout.X)
	if err != nil {
		tb.Fatalf("%s predicting %d holdout rows: %v", algo, len(holdout.X), err)
	}
	predicted := time.Now()
	mt, err := evaluator.Score(len(train.Schema.Classes), holdout.Y, pred, pos)
	if err != nil {
		tb.Fatalf("score %s: %v", algo, err)
	}
	scored, cpu1 := time.Now(), CPUTime()
	res.TrainSeconds = trained.Sub(began).Seconds()
	res.PredictSeconds = predicted.Sub(trained).Seconds()
	res.ScoreSeconds = scored.Sub(predicted).Seconds()
	res.Seconds, res.CPUSeconds = scored.Sub(began).Seconds(), (cpu1 - cpu0).Seconds()
	res.Params = m.Params()
	res.Accuracy, _ = mt.Value("accuracy")
	res.ROCAUC, _ = mt.Value("roc_auc")
	if art, err := m.MarshalBinary(); err == nil {
		res.ArtifactBytes = len(art)
	}
	res.PeakRSSMiB = MiB(PeakRSS())
	return res
}

// BenchmarkTrain trains each algorithm on the training rows of the demo data
// and scores it on the holdout rows: by default 10,000 rows generated in
// memory and every algorithm of this build; scripts/bench.sh runs one
// algorithm on one exported grid per process (-kmbench.algo, -kmbench.data)
// so that the process's peak RSS is that training's.
func BenchmarkTrain(b *testing.B) {
	atStart := MiB(RSS())
	loadStart := time.Now()
	g := gridFor(b, *flagData, orDefault(*flagRows, 10_000), false)
	train, holdout := g.Split()
	load := time.Since(loadStart).Seconds()
	algos := trainer.AlgorithmsFor(trainer.Binary)
	if *flagAlgo != "" {
		algos = strings.Split(*flagAlgo, ",")
	}
	var results []trainResult
	for _, algo := range algos {
		b.Run(algo, func(b *testing.B) {
			var res trainResult
			for b.Loop() {
				res = trainAndEvaluate(b, algo, train, holdout)
			}
			res.LoadSeconds, res.RSSAtStartMiB = load, atStart
			b.ReportMetric(res.TrainSeconds, "train-s")
			b.ReportMetric(res.PredictSeconds+res.ScoreSeconds, "eval-s")
			b.ReportMetric(res.Accuracy, "accuracy")
			b.ReportMetric(res.ROCAUC, "roc_auc")
			results = append(results, res)
		})
	}
	if len(results) == 1 {
		writeResult(b, results[0])
	} else {
		writeResult(b, results)
	}
}
