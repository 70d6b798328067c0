package bench

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// The benchmark data is the demo churn data: 6 numeric and 3 categorical
// features and a binary label, 10 columns in a table. It spreads over Days
// day partitions, as a window of kingmaker.example.yaml's model would.
const (
	Days            = 10
	HoldoutFraction = 0.25 // window.holdout_fraction of kingmaker.example.yaml
	Seed            = 42
)

// Start is the first day of every benchmark dataset.
var Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Columns of an exported grid: the features in schema order, then the class
// id and 1 for a holdout row (0 for a training row).
var Columns = []string{"tenure_months", "monthly_charges", "support_calls", "logins_30d", "avg_session_minutes",
	"payment_delays", "plan", "region", "device", "label", "holdout"}

// Features is the number of feature columns of a grid row.
const Features = 9

// Schema is the trainer schema of the demo model (kingmaker.example.yaml's
// features and classes, in that order).
func Schema() trainer.Schema {
	num := func(name string) trainer.Feature { return trainer.Feature{Name: name, Kind: trainer.Numeric} }
	cat := func(name string, c []string) trainer.Feature {
		return trainer.Feature{Name: name, Kind: trainer.Categorical, Categories: slices.Clone(c)}
	}
	return trainer.Schema{
		Features: []trainer.Feature{num("tenure_months"), num("monthly_charges"), num("support_calls"), num("logins_30d"),
			num("avg_session_minutes"), num("payment_delays"), cat("plan", demo.Plans), cat("region", demo.Regions), cat("device", demo.Devices)},
		Classes: []string{"false", "true"},
	}
}

// SpecFor is the demo spec of a benchmark dataset of rows rows (a multiple
// of Days). A drifted one has every day drifted (demo.Spec.DriftFrom = 1):
// the recent window the drift benchmark compares with an undrifted profile.
// Its Dataset is also the partition value the rows have in Cassandra.
func SpecFor(rows int, drifted bool) (demo.Spec, error) {
	if rows < Days || rows%Days != 0 {
		return demo.Spec{}, fmt.Errorf("benchmark rows must be a positive multiple of %d, got %d", Days, rows)
	}
	s := demo.Spec{Dataset: fmt.Sprintf("bench_%d", rows), Start: Start, Days: Days, RowsPerDay: rows / Days, Seed: Seed}
	if drifted {
		s.Dataset = fmt.Sprintf("bench_drifted_%d", rows)
		s.DriftFrom = 1
	}
	return s, nil
}

// Grid is a generated or exported dataset: one row per demo event, with the
// holdout split the pipeline makes (dataset.Holdout of the row key).
type Grid struct {
	Spec    demo.Spec
	X       [][]float64 // Features values per row, categories as indexes
	Y       []int
	Holdout []bool
}

// Rows is the number of rows.
func (g *Grid) Rows() int { return len(g.X) }

// Generate makes the rows of spec, the same as demo.Write stores, in day
// then row order, using every core.
func Generate(spec demo.Spec) *Grid {
	n := spec.Days * spec.RowsPerDay
	g := &Grid{Spec: spec, X: make([][]float64, n), Y: make([]int, n), Holdout: make([]bool, n)}
	backing := make([]float64, n*Features)
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for day := range spec.Days {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			for i := range spec.RowsPerDay {
				k := day*spec.RowsPerDay + i
				r := spec.Generate(day, i)
				x := backing[k*Features : (k+1)*Features : (k+1)*Features]
				x[0], x[1], x[2] = float64(r.TenureMonths), r.MonthlyCharges, float64(r.SupportCalls)
				x[3], x[4], x[5] = float64(r.Logins30d), r.AvgSessionMinutes, float64(r.PaymentDelays)
				x[6] = float64(slices.Index(demo.Plans, r.Plan))
				x[7] = float64(slices.Index(demo.Regions, r.Region))
				x[8] = float64(slices.Index(demo.Devices, r.Device))
				g.X[k] = x
				if r.Churned {
					g.Y[k] = 1
				}
				g.Holdout[k] = dataset.Holdout(r.ID.String(), HoldoutFraction)
			}
		})
	}
	wg.Wait()
	return g
}

// Split returns the training and holdout grids. They share rows with g.
func (g *Grid) Split() (train, holdout *trainer.Data) {
	train, holdout = &trainer.Data{Schema: Schema()}, &trainer.Data{Schema: Schema()}
	for i, x := range g.X {
		d := train
		if g.Holdout[i] {
			d = holdout
		}
		d.X = append(d.X, x)
		d.Y = append(d.Y, g.Y[i])
	}
	return train, holdout
}

// Manifest describes an exported grid; it is written next to the .npy file
// (same name, .json) and read by the Python side.
type Manifest struct {
	Spec            demo.Spec      `json:"spec"`
	HoldoutFraction float64        `json:"holdout_fraction"`
	Rows            int            `json:"rows"`
	Columns         []string       `json:"columns"`
	Schema          trainer.Schema `json:"schema"`
	SHA256          string         `json:"sha256"`
}

// ManifestPath is where the manifest of the export at npyPath lives.
func ManifestPath(npyPath string) string {
	return npyPath[:len(npyPath)-len(".npy")] + ".json"
}

// Export writes g to path as a .npy file (float64, rows × len(Columns),
// row-major) with its manifest. An export that exists with the same spec is
// kept: the data is deterministic, so it is made once.
func Export(g *Grid, path string) (*Manifest, error) {
	if m, err := ReadManifest(path); err == nil && m.Spec == g.Spec && m.Rows == g.Rows() && m.HoldoutFraction == HoldoutFraction {
		if _, err := os.Stat(path); err == nil {
			return m, nil
		}
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	err = writeNPY(w, g)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("export %s: %w", path, err)
	}
	m := &Manifest{Spec: g.Spec, HoldoutFraction: HoldoutFraction, Rows: g.Rows(), Columns: Columns, Schema: Schema(),
		SHA256: hex.EncodeToString(h.Sum(nil))}
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(ManifestPath(path), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	return m, os.Rename(tmp, path)
}

// ReadManifest reads the manifest of the export at npyPath.
func ReadManifest(npyPath string) (*Manifest, error) {
	b, err := os.ReadFile(ManifestPath(npyPath))
	if err != nil {
		return nil, err
	}
	m := &Manifest{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("manifest of %s: %w", npyPath, err)
	}
	return m, nil
}

// npyMagic starts every .npy file; version 1.0 follows.
const npyMagic = "\x93NUMPY\x01\x00"

// writeNPY writes the .npy v1.0 header of a little-endian float64 C-order
// array and then the rows.
func writeNPY(w io.Writer, g *Grid) error {
	return writeNPYRows(w, g.Rows(), len(Columns), func(i int, row []float64) {
		copy(row, g.X[i])
		row[Features] = float64(g.Y[i])
		row[Features+1] = 0
		if g.Holdout[i] {
			row[Features+1] = 1
		}
	})
}

// writeNPYRows writes a .npy v1.0 file of a little-endian float64 C-order
// array of rows × cols, row i filled by fill.
func writeNPYRows(w io.Writer, rows, cols int, fill func(i int, row []float64)) error {
	header := fmt.Sprintf("{'descr': '<f8', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols)
	// magic + version (8) + header length (2) + header + '\n' is a multiple of 64.
	pad := 64 - (10+len(header)+1)%64
	if pad == 64 {
		pad = 0
	}
	header += fmt.Sprintf("%*s\n", pad, "")
	var prefix [10]byte
	copy(prefix[:], npyMagic)
	binary.LittleEndian.PutUint16(prefix[8:], uint16(len(header)))
	if _, err := w.Write(prefix[:]); err != nil {
		return err
	}
	if _, err := io.WriteString(w, header); err != nil {
		return err
	}
	row := make([]float64, cols)
	buf := make([]byte, 8*cols)
	for i := range rows {
		fill(i, row)
		for j, v := range row {
			binary.LittleEndian.PutUint64(buf[8*j:], math.Float64bits(v))
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

var (
	npyShape = regexp.MustCompile(`'shape': \((\d+), (\d+)\)`)
	npyDescr = regexp.MustCompile(`'descr': '<f8'`)
)

// readNPYHeader reads the magic string, version and header of a .npy v1.0
// file from r, naming path in its errors.
func readNPYHeader(r io.Reader, path string) ([]byte, error) {
	var prefix [10]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil || string(prefix[:8]) != npyMagic {
		return nil, fmt.Errorf("%s: not a .npy v1.0 file", path)
	}
	header := make([]byte, binary.LittleEndian.Uint16(prefix[8:]))
	if _, err := io.ReadFull(r, header); err != nil {
		return nil, fmt.Errorf("%s: truncated header: %w", path, err)
	}
	return header, nil
}

// ReadExport reads a grid that Export wrote, into one backing array (the
// rows are slices of it), checking its shape against the manifest.
func ReadExport(path string) (*Grid, error) {
	m, err := ReadManifest(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	header, err := readNPYHeader(r, path)
	if err != nil {
		return nil, err
	}
	sh := npyShape.FindSubmatch(header)
	if sh == nil || !npyDescr.Match(header) {
		return nil, fmt.Errorf("%s: want a 2-D '<f8' array, header %q", path, header)
	}
	n, _ := strconv.Atoi(string(sh[1]))
	cols, _ := strconv.Atoi(string(sh[2]))
	if n != m.Rows || cols != len(Columns) {
		return nil, fmt.Errorf("%s: shape (%d, %d), the manifest says (%d, %d)", path, n, cols, m.Rows, len(Columns))
	}
	g := &Grid{Spec: m.Spec, X: make([][]float64, n), Y: make([]int, n), Holdout: make([]bool, n)}
	backing := make([]float64, n*Features)
	buf := make([]byte, 8*cols)
	for i := range n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("%s: row %d: %w", path, i, err)
		}
		x := backing[i*Features : (i+1)*Features : (i+1)*Features]
		for j := range x {
			x[j] = math.Float64frombits(binary.LittleEndian.Uint64(buf[8*j:]))
		}
		g.X[i] = x
		g.Y[i] = int(math.Float64frombits(binary.LittleEndian.Uint64(buf[8*Features:])))
		g.Holdout[i] = math.Float64frombits(binary.LittleEndian.Uint64(buf[8*(Features+1):])) == 1
	}
	if _, err := r.ReadByte(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: bytes after %d rows", path, n)
	}
	return g, nil
}
