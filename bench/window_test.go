package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
)

// The reads BenchmarkWindowLoad compares, all over the same partitions.
const (
	// readGocql is the reference: the driver decoding the columns dataset
	// reads into plain typed values, with dataset's page size and parallelism.
	readGocql = "gocql"
	// readGocqlRaw decodes nothing: the cost of the frames alone.
	readGocqlRaw = "gocql-raw"
	readScan     = "dataset.Scan"
	readLoad     = "dataset.LoadTrain"
)

var reads = []string{readGocql, readGocqlRaw, readScan, readLoad}

// windowLoadResult is BenchmarkWindowLoad's output.
type windowLoadResult struct {
	Rows        int     `json:"rows"`
	Days        int     `json:"days"`
	PageSize    int     `json:"page_size"`
	Parallelism int     `json:"parallelism"`
	Rounds      int     `json:"rounds"`
	SeedSeconds float64 `json:"seed_seconds"`
	// RowsPerSecond by read, over the rounds.
	RowsPerSecond map[string]Spread `json:"rows_per_second"`
	// Ratio is rows/s of a read over rows/s of the gocql read of the same
	// round, by read.
	Ratio map[string]Spread `json:"ratio"`
	// CPUMicrosPerRow is this process's CPU time per row read, by read: what
	// the client spends, which the server's load does not change much.
	CPUMicrosPerRow map[string]Spread `json:"cpu_us_per_row"`
	// ServerCPUMicrosPerRow is the Cassandra process's CPU time per row read
	// (-kmbench.serverpid). Other clients' queries in the same stretch are
	// counted too, so it scatters; every read asks the same of the server,
	// so their values can be pooled.
	ServerCPUMicrosPerRow map[string]Spread `json:"server_cpu_us_per_row,omitempty"`
	PeakRSSMiB            float64           `json:"peak_rss_mib"`
}

// plainScan reads the window the way dataset.Scan does (same statement, page
// size and parallelism) and discards the rows; raw leaves the cells undecoded.
func plainScan(ctx context.Context, s *gocql.Session, keyspace string, m *config.Model, w dataset.Window, pageSize int, raw bool) (int64, error) {
	cols := []string{m.Source.KeyColumn, m.Source.TimeColumn}
	for _, f := range m.Features {
		cols = append(cols, f.Column)
	}
	cols = append(cols, m.Label.Column)
	q := fmt.Sprintf("SELECT %s FROM %s.%s WHERE %s = ? AND %s = ? AND %s >= ? AND %s < ?", strings.Join(cols, ", "), keyspace,
		m.Source.Table, m.Source.PartitionColumn, m.Source.DayColumn, m.Source.TimeColumn, m.Source.TimeColumn)
	days := dataset.Days(w.From, w.To)
	var (
		rows     atomic.Int64
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	sem := make(chan struct{}, max(1, m.Window.Parallelism))
	for _, day := range days {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			iter := s.Query(q, m.Source.PartitionValue, day, w.From, w.To).WithContext(ctx).PageSize(pageSize).Iter()
			targets := make([]any, len(iter.Columns()))
			for i, c := range iter.Columns() {
				if raw {
					targets[i] = discard{}
				} else {
					targets[i] = c.TypeInfo.New()
				}
			}
			n := int64(0)
			for iter.Scan(targets...) {
				n++
			}
			rows.Add(n)
			if err := iter.Close(); err != nil {
				once.Do(func() { firstErr = err })
			}
		})
	}
	wg.Wait()
	return rows.Load(), firstErr
}

// discard is a scan target that leaves a cell's bytes undecoded.
type discard struct{}

func (discard) UnmarshalCQL(gocql.TypeInfo, []byte) error { return nil }

// readWindow runs one read of the window and returns the rows it read.
func readWindow(ctx context.Context, tb testing.TB, read string, src *dataset.Source, w dataset.Window) int64 {
	tb.Helper()
	var (
		rows int64
		err  error
	)
	switch read {
	case readGocql, readGocqlRaw:
		rows, err = plainScan(ctx, src.Session, src.Keyspace, src.Model, w, 5000, read == readGocqlRaw)
	case readScan:
		var n atomic.Int64
		_, err = src.Scan(ctx, w, dataset.ScanOptions{}, func(_ int, b *dataset.Batch) error {
			n.Add(int64(b.Len()))
			return nil
		})
		rows = n.Load()
	case readLoad:
		var st dataset.Stats
		_, st, err = src.LoadTrain(ctx, w, 1, 0)
		rows = st.Rows
	default:
		tb.Fatalf("unknown read %q (known: %s)", read, strings.Join(reads, ", "))
	}
	if err != nil {
		tb.Fatalf("%s: %v", read, err)
	}
	return rows
}

// BenchmarkWindowLoad reads a seeded window of -kmbench.rows rows (100,000 by
// default; seeded into the benchmark keyspace when missing) with dataset's
// Scan and LoadTrain and with a plain gocql scan of the same partitions, one
// of each per round in a rotating order, -kmbench.reps rounds, and reports rows/s, the ratios to the plain
// scan of the same round and the CPU time per row of this process (and of
// Cassandra with -kmbench.serverpid).
func BenchmarkWindowLoad(b *testing.B) {
	s, c := benchCassandra(b)
	spec, err := SpecFor(orDefault(*flagRows, 100_000), false)
	if err != nil {
		b.Fatal(err)
	}
	res := windowLoadResult{Rows: spec.Days * spec.RowsPerDay, Days: spec.Days, PageSize: 5000}
	res.SeedSeconds = seeded(b, s, c.Keyspace, spec)
	m := benchModel(b, spec)
	res.Parallelism = m.Window.Parallelism
	src := &dataset.Source{Session: s, Keyspace: c.Keyspace, Model: &m}
	w := window(spec)
	ctx := context.Background()
	todo := reads
	if *flagVariant != "" {
		todo = strings.Split(*flagVariant, ",")
	}
	// One untimed read first: the first read after seeding or after other
	// work on the node is slower (caches), whichever read it is.
	readWindow(ctx, b, readGocql, src, w)
	rps := map[string][]float64{}
	ratio := map[string][]float64{}
	cpu := map[string][]float64{}
	server := map[string][]float64{}
	reps := orDefault(*flagReps, 1)
	for b.Loop() {
		for range reps {
			round := map[string]float64{}
			for i := range todo {
				read := todo[(i+res.Rounds)%len(todo)] // rotate, so no read always goes first
				runtime.GC()
				began, cpu0, srv0 := time.Now(), CPUTime(), processCPU(*flagServerPID)
				n := readWindow(ctx, b, read, src, w)
				if n != int64(res.Rows) {
					b.Fatalf("%s read %d rows, want %d", read, n, res.Rows)
				}
				round[read] = float64(n) / time.Since(began).Seconds()
				rps[read] = append(rps[read], round[read])
				cpu[read] = append(cpu[read], float64((CPUTime()-cpu0).Microseconds())/float64(n))
				if *flagServerPID > 0 {
					server[read] = append(server[read], float64((processCPU(*flagServerPID)-srv0).Microseconds())/float64(n))
				}
			}
			if base, ok := round[readGocql]; ok {
				for read, v := range round {
					ratio[read] = append(ratio[read], v/base)
				}
			}
			res.Rounds++
		}
	}
	res.RowsPerSecond, res.Ratio, res.CPUMicrosPerRow = map[string]Spread{}, map[string]Spread{}, map[string]Spread{}
	for read, v := range rps {
		res.RowsPerSecond[read] = SpreadOf(v)
		res.CPUMicrosPerRow[read] = SpreadOf(cpu[read])
		if len(server[read]) > 0 {
			if res.ServerCPUMicrosPerRow == nil {
				res.ServerCPUMicrosPerRow = map[string]Spread{}
			}
			res.ServerCPUMicrosPerRow[read] = SpreadOf(server[read])
		}
		b.ReportMetric(SpreadOf(v).Median, read+"-rows/s")
	}
	for read, v := range ratio {
		res.Ratio[read] = SpreadOf(v)
	}
	res.PeakRSSMiB = MiB(PeakRSS())
	writeResult(b, res)
}

// processCPU is the CPU time (user and system) another process has used so
// far, from /proc/<pid>/stat; 0 when pid is 0 or the file cannot be read.
func processCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count fields after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64) // field 14: clock ticks of 1/100 s (USER_HZ)
	stime, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
