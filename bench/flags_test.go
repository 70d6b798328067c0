package bench

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The flags scripts/bench.sh passes to the test binary. Without them every
// benchmark runs on small defaults, so `go test -bench . ./bench` works.
var (
	flagData      = flag.String("kmbench.data", "", "an exported grid (.npy) to train on or profile; empty: generate -kmbench.rows rows in memory")
	flagWindow    = flag.String("kmbench.window", "", "BenchmarkDrift: the exported grid of the recent window; empty: generate a drifted one of -kmbench.rows rows")
	flagRows      = flag.Int("kmbench.rows", 0, "rows of the dataset (a multiple of 10); 0: each benchmark's default")
	flagAlgo      = flag.String("kmbench.algo", "", "BenchmarkTrain: one algorithm; empty: every algorithm of this build")
	flagAlgos     = flag.String("kmbench.algos", "logistic,id3,forest", "BenchmarkRetrain: the candidates' algorithms, comma-separated")
	flagReps      = flag.Int("kmbench.reps", 0, "rounds of interleaved measurements (BenchmarkWindowLoad, BenchmarkRetrain) or passes (BenchmarkDrift) in one process; 0: 1")
	flagTrainings = flag.Int("kmbench.trainings", 0, "BenchmarkRetrain: trainings the worker runs at once; 0: 2, kingmaker worker's default")
	flagParallel  = flag.Int("kmbench.parallel", -1, "BenchmarkRetrain: the model's parallel_trainings; -1: as many as the worker's trainings (the README's advice), 0: every candidate at once")
	flagPure      = flag.Bool("kmbench.pure", true, "BenchmarkRetrain: also measure the pure train+evaluate time after each retrain")
	flagVariant   = flag.String("kmbench.variant", "", "BenchmarkWindowLoad: run only these reads (comma-separated: gocql, gocql-raw, dataset.Scan, dataset.LoadTrain), for a CPU profile")
	flagServerPID = flag.Int("kmbench.serverpid", 0, "BenchmarkWindowLoad: the pid of a local Cassandra, to measure its CPU time per row too")
	flagKeyspace  = flag.String("kmbench.keyspace", "kingmaker_bench", "the Cassandra keyspace of the benchmarks (created and seeded when missing)")
	flagConfig    = flag.String("kmbench.config", "../kingmaker.example.yaml", "BenchmarkRetrain: the config whose model the retrain runs")
	flagSeq       = flag.Int("kmbench.sequential", 0, "BenchmarkPromote: sequential promotions; 0: 200")
	flagRounds    = flag.Int("kmbench.rounds", 0, "BenchmarkPromote: rounds of concurrent contenders; 0: 20")
	flagContend   = flag.Int("kmbench.contenders", 0, "BenchmarkPromote: contenders per round; 0: 50")
	flagMaxTrain  = flag.Int("kmbench.maxtrain", 0, "BenchmarkRetrainScale: the model's max_train_rows; 0: the example config's")
	flagMaxHold   = flag.Int("kmbench.maxholdout", 0, "BenchmarkRetrainScale: the model's max_holdout_rows; 0: the example config's")
	flagOut       = flag.String("kmbench.out", "", "write the benchmark's results as JSON to this file")
)

// orDefault returns v unless it is zero.
func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// gridFor reads the exported grid at path, or generates rows rows in memory
// when path is empty.
func gridFor(tb testing.TB, path string, rows int, drifted bool) *Grid {
	tb.Helper()
	if path != "" {
		g, err := ReadExport(path)
		if err != nil {
			tb.Fatalf("read the exported grid: %v (scripts/bench.sh exports it with TestExport)", err)
		}
		return g
	}
	spec, err := SpecFor(rows, drifted)
	if err != nil {
		tb.Fatal(err)
	}
	return Generate(spec)
}

// exportPath is the file TestExport writes the grid of rows rows to in dir.
func exportPath(dir string, rows int, drifted bool) string {
	name := fmt.Sprintf("bench_%d.npy", rows)
	if drifted {
		name = fmt.Sprintf("bench_drifted_%d.npy", rows)
	}
	return filepath.Join(dir, name)
}

func writeResult(tb testing.TB, v any) {
	tb.Helper()
	if err := WriteJSON(*flagOut, v); err != nil {
		tb.Fatalf("write %s: %v", *flagOut, err)
	}
	if *flagOut != "" {
		fmt.Fprintf(os.Stderr, "results written to %s\n", *flagOut)
	}
}
