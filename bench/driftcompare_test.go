package bench

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/drift"
)

var flagStreams = flag.String("kmbench.streams", "", "BenchmarkDriftCompare: the directory of simulated streams bench/drift_compare.py wrote (manifest.json and .npy arrays)")

// streamManifest describes the simulated streams of one window size, as
// bench/drift_compare.py writes them: every array is reps x rows, numeric
// columns float64, categorical ones and the label int32 codes.
type streamManifest struct {
	Rows        int      `json:"rows"`
	Reps        int      `json:"reps"`
	Numeric     []string `json:"numeric"`
	Categorical []string `json:"categorical"`
	// Cases are the (K, stream) pairs; Ref and Window name the file of each
	// column (the numeric and categorical names above, and "label").
	Cases []streamCase `json:"cases"`
}

type streamCase struct {
	K       int               `json:"k"`
	Stream  string            `json:"stream"`
	Shifted string            `json:"shifted"`
	Ref     map[string]string `json:"ref"`
	Window  map[string]string `json:"window"`
}

// compareColumn is Kingmaker's verdict on one distribution of one window.
type compareColumn struct {
	Drifted   bool    `json:"drifted"`
	PSI       float64 `json:"psi"`
	PValue    float64 `json:"p_value"`
	AdjustedP float64 `json:"adjusted_p_value"`
}

// compareRep is Kingmaker's report on one window.
type compareRep struct {
	// Drifted is Report.Drifted: enough rows and some distribution (the
	// label included) reached the alarm.
	Drifted    bool `json:"drifted"`
	Sufficient bool `json:"sufficient"`
	// ModelDrifted is the worker's verdict on the model: enough rows and
	// more features drifted than drift.max_drifted_features (the label is
	// not a feature).
	ModelDrifted bool                     `json:"model_drifted"`
	Columns      map[string]compareColumn `json:"columns"`
}

type compareCase struct {
	K       int          `json:"k"`
	Stream  string       `json:"stream"`
	Shifted string       `json:"shifted"`
	Reps    []compareRep `json:"reps"`
	// Seconds of one window, medians over the repetitions: the profile of
	// the reference, counting the window and the report, and their sum.
	ProfileSeconds float64 `json:"profile_seconds"`
	WindowSeconds  float64 `json:"window_report_seconds"`
	Seconds        float64 `json:"seconds"`
	// CPUSeconds is the process's CPU time for the whole window (median),
	// which other work on a busy machine inflates far less than wall time.
	CPUSeconds float64 `json:"cpu_seconds"`
}

type compareResult struct {
	Side string `json:"side"`
	Rows int    `json:"rows"`
	Reps int    `json:"reps"`
	// Options are the report options used, defaults filled in (the first
	// report's), and MaxDriftedFeatures the worker's default.
	Options            drift.ReportOptions `json:"options"`
	MaxDriftedFeatures int                 `json:"max_drifted_features"`
	Cases              []compareCase       `json:"cases"`
	PeakRSSMiB         float64             `json:"peak_rss_mib"`
}

// configuredDrift returns the report options and the max_drifted_features
// a model gets when its config leaves the drift section out: the config's
// defaults, turned into report options the way the drift activity does
// (activities/drift.go); zero fields take the drift package's defaults.
func configuredDrift() (drift.ReportOptions, int) {
	c := config.Config{Models: []config.Model{{Name: "bench"}}}
	c.SetDefaults()
	d := c.Models[0].Drift
	return d.ReportOptions(), d.MaxDriftedFeatures
}

// streamArrays reads a manifest's arrays once each.
type streamArrays struct {
	dir  string
	num  map[string]*npyArray
	cats map[string]*npyArray
}

func (s *streamArrays) get(file string, kind byte) (*npyArray, error) {
	m := s.num
	if kind == 'i' {
		m = s.cats
	}
	if a, ok := m[file]; ok {
		return a, nil
	}
	a, err := readNPY(filepath.Join(s.dir, file))
	if err != nil {
		return nil, err
	}
	if a.kind != kind {
		return nil, fmt.Errorf("%s holds %s values, want %s", file, kindName(a.kind), kindName(kind))
	}
	m[file] = a
	return a, nil
}

func kindName(k byte) string {
	if k == 'i' {
		return "int32"
	}
	return "float64"
}

// streamColumns is one side (reference or window) of a case: the arrays of
// its columns in the manifest's order.
type streamColumns struct {
	num   []*npyArray
	cat   []*npyArray
	label *npyArray
}

func (s *streamArrays) columns(m *streamManifest, files map[string]string, what string) (*streamColumns, error) {
	c := &streamColumns{}
	load := func(name string, kind byte) (*npyArray, error) {
		f, ok := files[name]
		if !ok {
			return nil, fmt.Errorf("%s has no file for column %q", what, name)
		}
		a, err := s.get(f, kind)
		if err != nil {
			return nil, err
		}
		if a.rows != m.Reps || a.cols != m.Rows {
			return nil, fmt.Errorf("%s: %s is %d x %d, want reps x rows = %d x %d", what, f, a.rows, a.cols, m.Reps, m.Rows)
		}
		return a, nil
	}
	for _, n := range m.Numeric {
		a, err := load(n, 'f')
		if err != nil {
			return nil, err
		}
		c.num = append(c.num, a)
	}
	for _, n := range m.Categorical {
		a, err := load(n, 'i')
		if err != nil {
			return nil, err
		}
		c.cat = append(c.cat, a)
	}
	a, err := load("label", 'i')
	if err != nil {
		return nil, err
	}
	c.label = a
	return c, nil
}

// codeNames turns category codes into the strings Kingmaker receives,
// "v0", "v1", ...: made once, so that feeding rows costs a slice index.
type codeNames []string

func (n *codeNames) name(code int32) string {
	for int(code) >= len(*n) {
		*n = append(*n, fmt.Sprintf("v%d", len(*n)))
	}
	return (*n)[code]
}

// runCompare reports every repetition of every case of m through
// Kingmaker's drift package with opts.
func runCompare(m *streamManifest, dir string, opts drift.ReportOptions, maxDrifted int) (*compareResult, error) {
	arrays := &streamArrays{dir: dir, num: map[string]*npyArray{}, cats: map[string]*npyArray{}}
	res := &compareResult{Side: "kingmaker", Rows: m.Rows, Reps: m.Reps, MaxDriftedFeatures: maxDrifted}
	var names codeNames
	num := make([]float64, len(m.Numeric))
	cat := make([]string, len(m.Categorical))
	row := func(c *streamColumns, rep, i int) {
		for j, a := range c.num {
			num[j] = a.f[rep*a.cols+i]
		}
		for j, a := range c.cat {
			cat[j] = names.name(a.i[rep*a.cols+i])
		}
	}
	for ci, cs := range m.Cases {
		what := fmt.Sprintf("case %d (K=%d, %s)", ci, cs.K, cs.Stream)
		ref, err := arrays.columns(m, cs.Ref, what+" reference")
		if err != nil {
			return nil, err
		}
		win, err := arrays.columns(m, cs.Window, what+" window")
		if err != nil {
			return nil, err
		}
		out := compareCase{K: cs.K, Stream: cs.Stream, Shifted: cs.Shifted}
		var profSec, winSec, totSec, cpuSec []float64
		for rep := range m.Reps {
			c0, t0 := CPUTime(), time.Now()
			pb, err := drift.NewProfileBuilder(m.Numeric, m.Categorical, drift.ProfileOptions{})
			if err != nil {
				return nil, err
			}
			for i := range m.Rows {
				row(ref, rep, i)
				if err := pb.AddRow(num, cat); err != nil {
					return nil, err
				}
				pb.AddLabel(names.name(ref.label.i[rep*m.Rows+i]))
			}
			profile := pb.Build()
			t1 := time.Now()
			w, err := drift.NewTally(profile)
			if err != nil {
				return nil, err
			}
			for i := range m.Rows {
				row(win, rep, i)
				if err := w.AddRow(num, cat); err != nil {
					return nil, err
				}
				if err := w.AddLabel(names.name(win.label.i[rep*m.Rows+i])); err != nil {
					return nil, err
				}
			}
			r, err := w.Report(opts)
			if err != nil {
				return nil, err
			}
			t2, c2 := time.Now(), CPUTime()
			cpuSec = append(cpuSec, (c2 - c0).Seconds())
			profSec = append(profSec, t1.Sub(t0).Seconds())
			winSec = append(winSec, t2.Sub(t1).Seconds())
			totSec = append(totSec, t2.Sub(t0).Seconds())
			if ci == 0 && rep == 0 {
				res.Options = r.Options
			}
			out.Reps = append(out.Reps, verdictOf(r, maxDrifted))
		}
		out.ProfileSeconds, out.WindowSeconds, out.Seconds = SpreadOf(profSec).Median, SpreadOf(winSec).Median, SpreadOf(totSec).Median
		out.CPUSeconds = SpreadOf(cpuSec).Median
		res.Cases = append(res.Cases, out)
	}
	res.PeakRSSMiB = MiB(PeakRSS())
	return res, nil
}

// verdictOf keeps what the comparison needs of a report: every
// distribution's verdict, the report's and the worker's.
func verdictOf(r drift.Report, maxDrifted int) compareRep {
	v := compareRep{Drifted: r.Drifted, Sufficient: r.Sufficient, Columns: map[string]compareColumn{}}
	features := 0
	for _, f := range r.Features {
		if f.Drifted {
			features++
		}
		v.Columns[f.Name] = compareColumn{Drifted: f.Drifted, PSI: f.PSI, PValue: f.PValue, AdjustedP: f.AdjustedPValue}
	}
	if l := r.Label; l != nil {
		v.Columns["label"] = compareColumn{Drifted: l.Drifted, PSI: l.PSI, PValue: l.PValue, AdjustedP: l.AdjustedPValue}
	}
	v.ModelDrifted = r.Sufficient && features > maxDrifted
	return v
}

func readManifest(dir string) (*streamManifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("read the streams' manifest: %w (bench/drift_compare.py writes it)", err)
	}
	var m streamManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "manifest.json"), err)
	}
	if m.Rows < 1 || m.Reps < 1 || len(m.Cases) == 0 {
		return nil, fmt.Errorf("%s: rows %d, reps %d and %d cases: want each at least 1", filepath.Join(dir, "manifest.json"), m.Rows, m.Reps, len(m.Cases))
	}
	return &m, nil
}

// BenchmarkDriftCompare reports every simulated window of -kmbench.streams
// through Kingmaker's drift package (ProfileBuilder over the reference,
// Window over the recent rows, Report with the options a model gets by
// default) and writes every distribution's verdict and the time of each
// window to -kmbench.out; bench/drift_compare.py sets the streams up and
// puts the figures beside Evidently's and NannyML's.
//
// Without -kmbench.streams it runs on small streams of its own (2,000 rows,
// 10 repetitions, no drift and a mean shift).
func BenchmarkDriftCompare(b *testing.B) {
	dir := *flagStreams
	if dir == "" {
		dir = b.TempDir()
		if err := writeTestStreams(dir, 2000, 10, 0.5); err != nil {
			b.Fatal(err)
		}
	}
	m, err := readManifest(dir)
	if err != nil {
		b.Fatal(err)
	}
	opts, maxDrifted := configuredDrift()
	var res *compareResult
	for b.Loop() {
		if res, err = runCompare(m, dir, opts, maxDrifted); err != nil {
			b.Fatal(err)
		}
	}
	writeResult(b, res)
}

// npyArray is a 2-D .npy array of float64 (kind 'f') or int32 (kind 'i')
// values in C order.
type npyArray struct {
	kind       byte
	rows, cols int
	f          []float64
	i          []int32
}

var npyAnyDescr = regexp.MustCompile(`'descr': '<(f8|i4)'`)

// readNPY reads a little-endian 2-D float64 or int32 .npy file (version 1.0,
// C order), as numpy.save writes them.
func readNPY(path string) (*npyArray, error) {
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
	sh, descr := npyShape.FindSubmatch(header), npyAnyDescr.FindSubmatch(header)
	if sh == nil || descr == nil || !strings.Contains(string(header), "'fortran_order': False") {
		return nil, fmt.Errorf("%s: want a 2-D C-order '<f8' or '<i4' array, header %q", path, header)
	}
	a := &npyArray{kind: descr[1][0]}
	a.rows, _ = strconv.Atoi(string(sh[1]))
	a.cols, _ = strconv.Atoi(string(sh[2]))
	n := a.rows * a.cols
	size := 8
	if a.kind == 'i' {
		size = 4
	}
	buf := make([]byte, n*size)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("%s: %d values expected: %w", path, n, err)
	}
	if _, err := r.ReadByte(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: bytes after %d values", path, n)
	}
	if a.kind == 'f' {
		a.f = make([]float64, n)
		for k := range a.f {
			a.f[k] = math.Float64frombits(binary.LittleEndian.Uint64(buf[8*k:]))
		}
	} else {
		a.i = make([]int32, n)
		for k := range a.i {
			a.i[k] = int32(binary.LittleEndian.Uint32(buf[4*k:]))
		}
	}
	return a, nil
}

// writeNPYFile writes a as a .npy v1.0 file (the header unpadded, which
// numpy reads too).
func writeNPYFile(path string, a *npyArray) error {
	descr := "<f8"
	if a.kind == 'i' {
		descr = "<i4"
	}
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%d, %d), }\n", descr, a.rows, a.cols)
	b := make([]byte, 10, 10+len(header)+8*len(a.f)+4*len(a.i))
	copy(b, npyMagic)
	binary.LittleEndian.PutUint16(b[8:], uint16(len(header)))
	b = append(b, header...)
	for _, x := range a.f {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	for _, x := range a.i {
		b = binary.LittleEndian.AppendUint32(b, uint32(x))
	}
	return os.WriteFile(path, b, 0o644)
}

// writeTestStreams writes small streams in the layout of
// bench/drift_compare.py: reps windows of rows rows with numeric x1 and x2,
// a categorical c of 3 categories and a binary label, reference and window
// from the same distributions ("none") or with x1's mean moved by shift
// standard deviations ("mean_shift").
func writeTestStreams(dir string, rows, reps int, shift float64) error {
	rng := rand.New(rand.NewPCG(7, uint64(rows)))
	normal := func(mean float64) *npyArray {
		a := &npyArray{kind: 'f', rows: reps, cols: rows, f: make([]float64, reps*rows)}
		for k := range a.f {
			a.f[k] = mean + rng.NormFloat64()
		}
		return a
	}
	codes := func(k int) *npyArray {
		a := &npyArray{kind: 'i', rows: reps, cols: rows, i: make([]int32, reps*rows)}
		for j := range a.i {
			a.i[j] = int32(rng.IntN(k))
		}
		return a
	}
	arrays := map[string]*npyArray{
		"ref_x1.npy": normal(0), "ref_x2.npy": normal(0), "ref_c.npy": codes(3), "ref_label.npy": codes(2),
		"win_x1.npy": normal(0), "win_x2.npy": normal(0), "win_c.npy": codes(3), "win_label.npy": codes(2),
		"win_x1_mean_shift.npy": normal(shift),
	}
	for name, a := range arrays {
		if err := writeNPYFile(filepath.Join(dir, name), a); err != nil {
			return err
		}
	}
	ref := map[string]string{"x1": "ref_x1.npy", "x2": "ref_x2.npy", "c": "ref_c.npy", "label": "ref_label.npy"}
	none := map[string]string{"x1": "win_x1.npy", "x2": "win_x2.npy", "c": "win_c.npy", "label": "win_label.npy"}
	shifted := map[string]string{"x1": "win_x1_mean_shift.npy", "x2": "win_x2.npy", "c": "win_c.npy", "label": "win_label.npy"}
	m := streamManifest{Rows: rows, Reps: reps, Numeric: []string{"x1", "x2"}, Categorical: []string{"c"}, Cases: []streamCase{
		{K: 3, Stream: "none", Ref: ref, Window: none},
		{K: 3, Stream: "mean_shift", Shifted: "x1", Ref: ref, Window: shifted},
	}}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "manifest.json"), b, 0o644)
}

func TestDriftCompareFlagsAShiftedColumnAndNotAnUnchangedOne(t *testing.T) {
	dir := t.TempDir()
	if err := writeTestStreams(dir, 2000, 4, 3); err != nil {
		t.Fatal(err)
	}
	m, err := readManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	opts, maxDrifted := configuredDrift()
	res, err := runCompare(m, dir, opts, maxDrifted)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Cases) != 2 || len(res.Cases[0].Reps) != 4 || len(res.Cases[1].Reps) != 4 {
		t.Fatalf("got %d cases, want 2 of 4 repetitions each", len(res.Cases))
	}
	for i, r := range res.Cases[1].Reps {
		if !r.Columns["x1"].Drifted || !r.Drifted || !r.ModelDrifted {
			t.Errorf("repetition %d: x1 moved by 3 standard deviations is not drifted: %+v", i, r)
		}
		if len(r.Columns) != 4 {
			t.Errorf("repetition %d: %d distributions reported, want x1, x2, c and label", i, len(r.Columns))
		}
	}
	for i, r := range res.Cases[0].Reps {
		if !r.Sufficient {
			t.Errorf("repetition %d: 2,000 rows are not sufficient", i)
		}
		if r.Columns["x1"].Drifted {
			t.Errorf("repetition %d: unchanged x1 reported drifted: %+v", i, r.Columns["x1"])
		}
	}
	if res.Options.MinRows != 500 || res.MaxDriftedFeatures != 0 {
		t.Errorf("options %+v, max_drifted_features %d: want the config's defaults (min_rows 500, 0)", res.Options, res.MaxDriftedFeatures)
	}
}

func TestReadNPYRefusesWhatItCannotRead(t *testing.T) {
	dir := t.TempDir()
	good := &npyArray{kind: 'i', rows: 2, cols: 3, i: []int32{1, 2, 3, -4, 5, 6}}
	path := filepath.Join(dir, "a.npy")
	if err := writeNPYFile(path, good); err != nil {
		t.Fatal(err)
	}
	back, err := readNPY(path)
	if err != nil || back.rows != 2 || back.cols != 3 || back.i[3] != -4 {
		t.Fatalf("readNPY of a 2 x 3 int32 array = %+v, %v", back, err)
	}
	b, _ := os.ReadFile(path)
	cases := map[string][]byte{
		"a truncated file":    b[:len(b)-1],
		"trailing bytes":      append(append([]byte{}, b...), 0),
		"an int64 array":      []byte(strings.Replace(string(b), "<i4", "<i8", 1)),
		"a Fortran-order one": []byte(strings.Replace(string(b), "False", "True ", 1)),
	}
	for what, bad := range cases {
		p := filepath.Join(dir, "bad.npy")
		if err := os.WriteFile(p, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := readNPY(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("readNPY of %s: error %v, want one naming %s", what, err, p)
		}
	}
}
