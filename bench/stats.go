package bench

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Spread summarises repeated measurements of one figure: noisy machines
// call for the median, and the range says how far to trust it.
type Spread struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Values []float64 `json:"values"`
}

// SpreadOf summarises xs (in the order measured); zero for no values.
func SpreadOf(xs []float64) Spread {
	if len(xs) == 0 {
		return Spread{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return Spread{Median: Percentile(s, 0.5), Min: s[0], Max: s[len(s)-1], Values: slices.Clone(xs)}
}

// Percentile returns the q-quantile of sorted values by linear
// interpolation between closest ranks (numpy's default); NaN for none.
func Percentile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	pos := q * float64(n-1)
	lo := int(math.Floor(pos))
	if lo >= n-1 {
		return sorted[n-1]
	}
	return sorted[lo] + (pos-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// Latencies summarises a latency sample in milliseconds.
type Latencies struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// LatenciesOf summarises ms (any order).
func LatenciesOf(ms []float64) Latencies {
	s := slices.Clone(ms)
	slices.Sort(s)
	l := Latencies{N: len(s)}
	if len(s) > 0 {
		l.P50, l.P90, l.P99, l.Max = Percentile(s, 0.5), Percentile(s, 0.9), Percentile(s, 0.99), s[len(s)-1]
	}
	return l
}

// PeakRSS is the peak resident set size of this process so far, in bytes:
// VmHWM of /proc/self/status. getrusage's ru_maxrss is no substitute for a
// child of a large parent: Linux counts the parent's pages the child had
// between fork and exec in it.
func PeakRSS() int64 {
	if hwm := procStatus("VmHWM:"); hwm > 0 {
		return hwm
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss * 1024
}

// RSS is the current resident set size of this process in bytes (VmRSS of
// /proc/self/status), 0 where that file does not exist.
func RSS() int64 { return procStatus("VmRSS:") }

// procStatus reads a "kB" field of /proc/self/status, in bytes.
func procStatus(field string) int64 { return statusField("/proc/self/status", field) }

// statusField reads a "kB" field of a /proc/<pid>/status file, in bytes; 0
// when it cannot.
func statusField(path, field string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// CPUTime is the CPU time (user and system) this process has used so far,
// every thread included. A difference of two readings is what a stretch of
// work cost the process, which other processes on a busy machine inflate far
// less than its wall time.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// MiB converts bytes to mebibytes.
func MiB(b int64) float64 { return float64(b) / (1 << 20) }

// WriteJSON writes v, indented, to path; nothing when path is empty (a
// benchmark run by hand rather than by scripts/bench.sh).
func WriteJSON(path string, v any) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
