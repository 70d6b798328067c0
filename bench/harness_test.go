package bench

import (
	"flag"
	"math"
	"os"
	"reflect"
	"testing"
)

var (
	flagExport  = flag.String("kmbench.export", "", "TestExport: write the grid of -kmbench.rows rows into this directory (kept when already there)")
	flagDrifted = flag.Bool("kmbench.drifted", false, "TestExport: export the drifted dataset instead")
)

// TestExport writes the benchmark grid and reads it back. scripts/bench.sh
// runs it with -kmbench.export to write the grids both sides train on; on
// its own it checks the round trip on 2,000 rows.
func TestExport(t *testing.T) {
	dir := *flagExport
	if dir == "" {
		dir = t.TempDir()
	}
	rows := orDefault(*flagRows, 2000)
	spec, err := SpecFor(rows, *flagDrifted)
	if err != nil {
		t.Fatal(err)
	}
	path := exportPath(dir, rows, *flagDrifted)
	if m, err := ReadManifest(path); err == nil && m.Spec == spec && m.Rows == rows {
		if _, err := os.Stat(path); err == nil {
			t.Logf("%s is already there (%d rows)", path, rows)
			return
		}
	}
	g := Generate(spec)
	m, err := Export(g, path)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ReadExport(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, g) {
		t.Fatalf("the grid read back from %s differs from the one written", path)
	}
	train, holdout := g.Split()
	share := float64(len(holdout.X)) / float64(rows)
	if math.Abs(share-HoldoutFraction) > 0.05 {
		t.Errorf("holdout share %.3f, want about %.2f", share, HoldoutFraction)
	}
	positives := 0
	for _, y := range train.Y {
		positives += y
	}
	if positives == 0 || positives == len(train.Y) {
		t.Errorf("the training rows have %d positives of %d: want both classes", positives, len(train.Y))
	}
	t.Logf("wrote %s: %d rows (%d train, %d holdout), sha256 %s", path, rows, len(train.X), len(holdout.X), m.SHA256[:12])
}

func TestGenerateIsDeterministic(t *testing.T) {
	spec, _ := SpecFor(200, false)
	a, b := Generate(spec), Generate(spec)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two generations of the same spec differ")
	}
	if _, err := SpecFor(105, false); err == nil {
		t.Error("SpecFor accepted rows that do not split into whole days")
	}
}

func TestSpreadAndPercentiles(t *testing.T) {
	s := SpreadOf([]float64{3, 1, 2})
	if s.Median != 2 || s.Min != 1 || s.Max != 3 || !reflect.DeepEqual(s.Values, []float64{3, 1, 2}) {
		t.Errorf("SpreadOf(3, 1, 2) = %+v, want median 2 in [1, 3], values in measured order", s)
	}
	ms := make([]float64, 101)
	for i := range ms {
		ms[i] = float64(100 - i)
	}
	l := LatenciesOf(ms)
	if l.N != 101 || l.P50 != 50 || l.P99 != 99 || l.Max != 100 {
		t.Errorf("LatenciesOf(0..100) = %+v, want p50 50, p99 99, max 100", l)
	}
	if PeakRSS() <= 0 || (RSS() <= 0 && fileExists("/proc/self/status")) {
		t.Errorf("PeakRSS %d, RSS %d: want both positive", PeakRSS(), RSS())
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
