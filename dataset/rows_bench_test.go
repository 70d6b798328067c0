package dataset_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/demo"
)

// benchRows are the rows the chunk benchmarks encode: one chunk
// (dataset.ChunkRows) of each kind.
//   - churn: the demo's events, 9 features as a scan converts them (small
//     integers, prices in cents, category indexes);
//   - deliveries: the demo's deliveries, 8 features and the label last, as
//     a regression model's run data holds them (9 columns);
//   - random: 10 normally distributed doubles of full precision, the least
//     compressible rows a table may hold.
func benchRows(kind string) (x [][]float64, y []int) {
	const n = dataset.ChunkRows
	spec := demo.Spec{Dataset: "bench", Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Days: 1, RowsPerDay: n, Seed: 7}
	r := rand.New(rand.NewPCG(7, 11))
	x, y = make([][]float64, n), make([]int, n)
	for i := range n {
		switch kind {
		case "churn":
			e := spec.Generate(0, i)
			x[i] = []float64{float64(e.TenureMonths), e.MonthlyCharges, float64(e.SupportCalls), float64(e.Logins30d), e.AvgSessionMinutes,
				float64(e.PaymentDelays), index(demo.Plans, e.Plan), index(demo.Regions, e.Region), index(demo.Devices, e.Device)}
			if e.Churned {
				y[i] = 1
			}
		case "deliveries":
			d := spec.GenerateDelivery(0, i)
			x[i] = []float64{d.DistanceKM, float64(d.Items), d.PrepMinutes, float64(d.Hour), float64(d.CourierLoad),
				index(demo.Zones, d.Zone), index(demo.Vehicles, d.Vehicle), index(demo.Weathers, d.Weather), d.Minutes}
		case "random":
			x[i] = make([]float64, 10)
			for j := range x[i] {
				x[i][j] = r.NormFloat64() * 10
			}
			y[i] = r.IntN(3)
		}
	}
	return x, y
}

func index(values []string, v string) float64 { return float64(slices.Index(values, v)) }

var benchKinds = []string{"churn", "deliveries", "random"}

// BenchmarkChunkWrite encodes one chunk of rows a run op: ChunkWriter.Add of
// each row and the Flush that compresses them. bytes/row is the encoded
// size, what the registry writes to Cassandra.
func BenchmarkChunkWrite(b *testing.B) {
	for _, kind := range benchKinds {
		x, y := benchRows(kind)
		b.Run(kind, func(b *testing.B) {
			var size int
			w := dataset.NewChunkWriter(len(x[0]), len(x), func(_ int, data []byte) error {
				size = len(data)
				return nil
			})
			b.SetBytes(int64(len(x) * (4 + 8*len(x[0]))))
			cpu := processCPU()
			for b.Loop() {
				for i := range x {
					if err := w.Add(x[i], y[i]); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Flush(); err != nil {
					b.Fatal(err)
				}
			}
			reportRows(b, len(x), cpu)
			b.ReportMetric(float64(size)/float64(len(x)), "bytes/row")
		})
	}
}

// BenchmarkChunkDecode decodes one chunk a run op, as candidates and Evaluate
// read run data back.
func BenchmarkChunkDecode(b *testing.B) {
	for _, kind := range benchKinds {
		x, y := benchRows(kind)
		var data []byte
		w := dataset.NewChunkWriter(len(x[0]), len(x), func(_ int, d []byte) error {
			data = bytes.Clone(d)
			return nil
		})
		for i := range x {
			w.Add(x[i], y[i])
		}
		w.Flush()
		b.Run(kind, func(b *testing.B) {
			b.SetBytes(int64(len(x) * (4 + 8*len(x[0]))))
			cpu := processCPU()
			for b.Loop() {
				gx, _, err := dataset.DecodeChunk(data, len(x[0]), len(x))
				if err != nil {
					b.Fatal(err)
				}
				if len(gx) != len(x) || math.IsNaN(gx[0][0]) {
					b.Fatal("decoded other rows")
				}
			}
			reportRows(b, len(x), cpu)
		})
	}
}

// reportRows reports rows/s and the CPU time of the process per row since
// cpu (garbage collection included), which other processes on a busy
// machine change much less than wall time.
func reportRows(b *testing.B, rows int, cpu time.Duration) {
	n := float64(b.N * rows)
	b.ReportMetric(n/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64((processCPU()-cpu).Nanoseconds())/n, "cpu-ns/row")
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
