// Package bench measures Kingmaker against the references a user would
// otherwise pick: a plain gocql scan for window loads, scikit-learn for
// training, numpy and scipy for drift statistics, Evidently and NannyML for
// drift detection (BenchmarkDriftCompare with bench/drift_compare.py), and its
// own pure compute for the orchestration overhead of a retrain; and how many
// models one `kingmaker worker` process keeps up with (BenchmarkManyModels:
// schedule sync, retrains and drift checks per hour, registry latency, the
// worker's RSS and the CPU split with Cassandra and Temporal). BENCHMARKS.md holds the
// figures; scripts/bench.sh (make bench) produces them.
//
// The package owns the benchmark data (the demo churn rows of demo.Spec,
// generated once and exported to a .npy file that the Go and the Python
// sides both read), the small statistics the reports need (median, spread,
// percentiles) and the process facts (peak RSS). It owns no production code:
// nothing in Kingmaker imports it.
//
// The measurements themselves are Benchmark functions in the package's
// tests, so that `go test ./bench` runs only the cheap tests of the harness.
// scripts/bench.sh builds the test binary once (go test -c) and runs each
// measurement in a process of its own, interleaved with the Python side
// (bench/sklearn_bench.py) and repeated, so that every comparison is a ratio
// of runs made side by side on the same machine at the same time:
//
//	go test -c -o /tmp/kmbench ./bench
//	cd bench && /tmp/kmbench -test.run '^$' -test.bench '^BenchmarkTrain$' -test.benchtime 1x \
//	    -kmbench.data data/bench_100000.npy -kmbench.algo forest -kmbench.out forest.json
//
// Run with `go test -bench . ./bench`, the benchmarks use small defaults;
// with -short they skip those that need the local stack (Cassandra and
// Temporal, `make stack-up`).
package bench
