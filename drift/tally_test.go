package drift

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var (
	numericNames     = []string{"age", "income", "visits"}
	categoricalNames = []string{"country", "plan"}
)

// rowSource makes reproducible rows: age ~ N(40+shift, 10), income a
// heavy-tailed positive value, visits small integers, two categories.
type rowSource struct {
	seed  uint64
	shift float64
	i     uint64
}

func (s *rowSource) next() ([]float64, []string) {
	s.i++
	u := func(k uint64) float64 { return uniform(s.seed, 8*s.i+k) }
	z := (u(0) + u(1) + u(2) + u(3) - 2) * math.Sqrt(3)
	age := 40 + s.shift + 10*z
	income := math.Exp(10 + 0.5*(u(4)-0.5))
	visits := math.Floor(8 * u(5) * u(5))
	countries := []string{"de", "fr", "it", "nl", "pl"}
	plans := []string{"basic", "pro"}
	return []float64{age, income, visits}, []string{countries[int(5*u(6))], plans[int(2*u(7))]}
}

func buildProfile(t testing.TB, rows int, seed uint64) Profile {
	t.Helper()
	b, err := NewProfileBuilder(numericNames, categoricalNames, ProfileOptions{})
	if err != nil {
		t.Fatalf("NewProfileBuilder: %v", err)
	}
	src := &rowSource{seed: seed}
	for range rows {
		num, cat := src.next()
		if err := b.AddRow(num, cat); err != nil {
			t.Fatalf("ProfileBuilder.AddRow: %v", err)
		}
	}
	return b.Build()
}

func fillWindow(t testing.TB, ref Profile, rows int, src *rowSource) *Tally {
	t.Helper()
	w, err := NewTally(ref)
	if err != nil {
		t.Fatalf("NewTally: %v", err)
	}
	for range rows {
		num, cat := src.next()
		if err := w.AddRow(num, cat); err != nil {
			t.Fatalf("Window.AddRow: %v", err)
		}
	}
	return w
}

func mustReport(t testing.TB, w *Tally, opts ReportOptions) Report {
	t.Helper()
	r, err := w.Report(opts)
	if err != nil {
		t.Fatalf("Report: %v", err)
	}
	if _, err := json.Marshal(r); err != nil {
		t.Fatalf("the report does not encode to JSON: %v", err)
	}
	return r
}

func feature(t testing.TB, r Report, name string) FeatureReport {
	t.Helper()
	for _, f := range r.Features {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("the report has no feature %q", name)
	return FeatureReport{}
}

func TestWindowVerdicts(t *testing.T) {
	ref := buildProfile(t, 20000, 1)
	tests := []struct {
		name        string
		rows        int
		shift       float64
		sameRows    bool // replay the reference's own rows
		wantDrifted bool
		wantReason  string
	}{
		{name: "the reference's own rows show no drift at all", rows: 20000, sameRows: true, wantReason: "no drift"},
		{name: "fresh rows of the same law show no drift", rows: 20000, wantReason: "no drift"},
		{name: "a mean shifted by one standard deviation is major drift", rows: 20000, shift: 10, wantDrifted: true, wantReason: `feature "age": drifted`},
		{name: "too few rows are insufficient data, never drift", rows: 500, shift: 10, wantReason: "insufficient data: 500 rows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seed := uint64(2)
			if tt.sameRows {
				seed = 1
			}
			w := fillWindow(t, ref, tt.rows, &rowSource{seed: seed, shift: tt.shift})
			r := mustReport(t, w, ReportOptions{})
			if r.Drifted != tt.wantDrifted {
				t.Errorf("Drifted = %v, want %v; reasons: %q", r.Drifted, tt.wantDrifted, r.Reasons)
			}
			if !slices.ContainsFunc(r.Reasons, func(s string) bool { return strings.Contains(s, tt.wantReason) }) {
				t.Errorf("no reason mentions %q: %q", tt.wantReason, r.Reasons)
			}
			age := feature(t, r, "age")
			switch {
			case tt.sameRows:
				for _, f := range r.Features {
					if f.PSI > 1e-12 || f.JensenShannon > 1e-6 || f.Severity != SeverityNone {
						t.Errorf("%s: PSI %g, JS %g, severity %s on the reference's own rows, want 0 and none", f.Name, f.PSI, f.JensenShannon, f.Severity)
					}
					if f.KS != nil && f.KS.Statistic != 0 {
						t.Errorf("%s: KS %g on the reference's own rows, want 0", f.Name, f.KS.Statistic)
					}
				}
			case tt.shift != 0 && !r.Sufficient:
				if age.Severity != SeverityMajor || age.Drifted || !strings.Contains(age.Note, "not counted") {
					t.Errorf("age: severity %s, drifted %v, note %q; want major severity, not counted", age.Severity, age.Drifted, age.Note)
				}
			case tt.shift != 0:
				if age.Severity != SeverityMajor || !age.Drifted {
					t.Errorf("age: severity %s, drifted %v, want major and drifted (PSI %g)", age.Severity, age.Drifted, age.PSI)
				}
				if age.KS.Statistic < 0.3 || age.AdjustedPValue > 1e-10 {
					t.Errorf("age: KS %g, adjusted p %g, want a large and significant KS", age.KS.Statistic, age.AdjustedPValue)
				}
				if income := feature(t, r, "income"); income.Drifted {
					t.Errorf("income did not move but is reported drifted (PSI %g)", income.PSI)
				}
			default:
				for _, f := range r.Features {
					if f.Severity != SeverityNone {
						t.Errorf("%s: severity %s (PSI %g) without a shift", f.Name, f.Severity, f.PSI)
					}
				}
			}
		})
	}
}

func TestMergeOfHalfWindowsEqualsOneWindow(t *testing.T) {
	ref := buildProfile(t, 5000, 1)
	ref.Label = &CategoricalProfile{Name: "label", Categories: []string{"no", "yes"}, Counts: []int64{4000, 1000}}
	whole, err := NewTally(ref)
	if err != nil {
		t.Fatal(err)
	}
	halves := [2]*Tally{}
	for i := range halves {
		if halves[i], err = NewTally(ref); err != nil {
			t.Fatal(err)
		}
	}
	src := &rowSource{seed: 9, shift: 3}
	for i := range 6000 {
		num, cat := src.next()
		if i%7 == 0 {
			num[1] = math.NaN()
			cat[0] = "unseen-" + cat[0]
		}
		label := []string{"no", "yes", ""}[i%3]
		for _, w := range []*Tally{whole, halves[i%2]} {
			if err := w.AddRow(num, cat); err != nil {
				t.Fatal(err)
			}
			if err := w.AddLabel(label); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := halves[0].Merge(halves[1]); err != nil {
		t.Fatalf("Merge: %v", err)
	}
	a := mustReport(t, whole, ReportOptions{})
	b := mustReport(t, halves[0], ReportOptions{})
	for i := range a.Features {
		fa, fb := &a.Features[i], &b.Features[i]
		if fa.Window != nil && fb.Window != nil {
			if math.Abs(fa.Window.Mean-fb.Window.Mean) > 1e-12*math.Abs(fa.Window.Mean) ||
				math.Abs(fa.Window.Std-fb.Window.Std) > 1e-9*fa.Window.Std {
				t.Errorf("%s: merged mean/std %g/%g, one window %g/%g", fa.Name, fb.Window.Mean, fb.Window.Std, fa.Window.Mean, fa.Window.Std)
			}
			fb.Window.Mean, fb.Window.Std = fa.Window.Mean, fa.Window.Std
		}
	}
	if !reflect.DeepEqual(a, b) {
		ja, _ := json.MarshalIndent(a, "", " ")
		jb, _ := json.MarshalIndent(b, "", " ")
		t.Errorf("merged report differs from one window's:\n%s\n---\n%s", ja, jb)
	}
	if !reflect.DeepEqual(whole.num[0].cells, halves[0].num[0].cells) {
		t.Error("merged cell counts differ from one window's")
	}

	other := buildProfile(t, 100, 5)
	wo, _ := NewTally(other)
	if err := whole.Merge(wo); !errors.Is(err, ErrProfile) {
		t.Errorf("merging windows of different profiles: error %v, want ErrProfile", err)
	}
}

func TestMissingValuesAreCountedNeverFatal(t *testing.T) {
	b, err := NewProfileBuilder([]string{"x", "y"}, []string{"c"}, ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	weird := []float64{math.NaN(), math.Inf(1), math.Inf(-1)}
	for i := range 3000 {
		x := float64(i % 17)
		if i%10 == 0 {
			x = weird[i%3]
		}
		// y is always missing in the reference.
		if err := b.AddRow([]float64{x, math.NaN()}, []string{[]string{"a", "b", ""}[i%3]}); err != nil {
			t.Fatal(err)
		}
	}
	b.AddPrediction(math.Inf(1))
	b.AddPrediction(0.5)
	ref := b.Build()
	if ref.Numeric[0].Missing != 300 || ref.Numeric[1].Count != 0 || ref.Numeric[1].Missing != 3000 {
		t.Errorf("missing counts %d/%d/%d, want 300, 0 present and 3000 missing", ref.Numeric[0].Missing, ref.Numeric[1].Count, ref.Numeric[1].Missing)
	}
	if ref.Categorical[0].Missing != 1000 || ref.Prediction.Missing != 1 {
		t.Errorf("categorical missing %d, prediction missing %d, want 1000 and 1", ref.Categorical[0].Missing, ref.Prediction.Missing)
	}
	if _, err := json.Marshal(ref); err != nil {
		t.Fatalf("a profile with missing values does not encode to JSON: %v", err)
	}

	tests := []struct {
		name        string
		x, y        float64
		c           string
		wantDrifted bool
	}{
		{name: "a feature that arrives all NaN drifts through its missing bucket", x: math.NaN(), y: math.NaN(), c: "a", wantDrifted: true},
		{name: "infinities are missing values too", x: math.Inf(-1), y: math.NaN(), c: "b", wantDrifted: true},
		{name: "a feature missing in the reference that starts arriving drifts", x: 3, y: 1, c: "a", wantDrifted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := NewTally(ref)
			if err != nil {
				t.Fatal(err)
			}
			for range 2000 {
				if err := w.AddRow([]float64{tt.x, tt.y}, []string{tt.c}); err != nil {
					t.Fatal(err)
				}
				if err := w.AddPrediction(math.NaN()); err != nil {
					t.Fatal(err)
				}
			}
			r := mustReport(t, w, ReportOptions{})
			if r.Drifted != tt.wantDrifted {
				t.Errorf("Drifted = %v, want %v: %q", r.Drifted, tt.wantDrifted, r.Reasons)
			}
			for _, f := range append(slices.Clone(r.Features), *r.Prediction) {
				for _, v := range []float64{f.PSI, f.JensenShannon, f.PValue, f.AdjustedPValue} {
					if isMissing(v) {
						t.Errorf("%s: a statistic is %v", f.Name, v)
					}
				}
			}
		})
	}
}

func TestProfileJSONRoundTripIsExact(t *testing.T) {
	ref := buildProfile(t, 30000, 3)
	b, _ := NewProfileBuilder([]string{"tiny"}, nil, ProfileOptions{})
	for _, x := range []float64{-0.0, 1e-300, math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 0.1, 1.0 / 3} {
		_ = b.AddRow([]float64{x}, nil)
	}
	b.AddLabel("yes")
	b.AddPrediction(0.25)
	extreme := b.Build()
	for _, p := range []Profile{ref, extreme, {}} {
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		var back Profile
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("Unmarshal: %v", err)
		}
		if !reflect.DeepEqual(p, back) {
			t.Errorf("profile changed through JSON:\n%s", data)
		}
		again, _ := json.Marshal(back)
		if string(again) != string(data) {
			t.Error("encoding the decoded profile gives different JSON")
		}
		if len(p.Numeric) > 0 {
			if _, err := NewTally(back); err != nil {
				t.Errorf("NewTally on the decoded profile: %v", err)
			}
		}
	}
}

func TestProfileBuilding(t *testing.T) {
	tests := []struct {
		name       string
		values     []float64
		wantEdges  []float64
		wantCounts []int64
	}{
		{name: "continuous values get ten bins of equal counts", values: seq(0, 1000), wantEdges: []float64{100, 200, 300, 400, 500, 600, 700, 800, 900}, wantCounts: []int64{100, 100, 100, 100, 100, 100, 100, 100, 100, 100}},
		{name: "a binary feature gets two bins and no empty first bin", values: repeat(map[float64]int{0: 70, 1: 30}), wantEdges: []float64{1}, wantCounts: []int64{70, 30}},
		{name: "a constant feature gets one bin", values: repeat(map[float64]int{5: 40}), wantEdges: nil, wantCounts: []int64{40}},
		{name: "a skewed discrete feature loses duplicate edges", values: repeat(map[float64]int{0: 90, 1: 5, 2: 5}), wantEdges: []float64{1}, wantCounts: []int64{90, 10}},
		{name: "a rare value below every decile gets no bin of its own", values: repeat(map[float64]int{0: 95, 1: 5}), wantEdges: nil, wantCounts: []int64{100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := NewProfileBuilder([]string{"x"}, nil, ProfileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range tt.values {
				_ = b.AddRow([]float64{v}, nil)
			}
			p := b.Build().Numeric[0]
			if !slices.Equal(p.Edges, tt.wantEdges) || !slices.Equal(p.Counts, tt.wantCounts) {
				t.Errorf("edges %v counts %v, want %v and %v", p.Edges, p.Counts, tt.wantEdges, tt.wantCounts)
			}
		})
	}

	t.Run("rare categories beyond MaxCategories fold into the unseen bucket", func(t *testing.T) {
		b, _ := NewProfileBuilder(nil, []string{"c"}, ProfileOptions{MaxCategories: 2})
		for c, n := range map[string]int{"a": 5, "b": 9, "c": 7, "d": 1} {
			for range n {
				_ = b.AddRow(nil, []string{c})
			}
		}
		p := b.Build().Categorical[0]
		if !slices.Equal(p.Categories, []string{"b", "c"}) || !slices.Equal(p.Counts, []int64{9, 7}) || p.Unseen != 6 {
			t.Errorf("categories %v counts %v unseen %d, want [b c] [9 7] 6", p.Categories, p.Counts, p.Unseen)
		}
	})

	t.Run("the profile does not depend on the order of rows", func(t *testing.T) {
		values := seq(0, 3000)
		forward, _ := NewProfileBuilder([]string{"x"}, nil, ProfileOptions{})
		backward, _ := NewProfileBuilder([]string{"x"}, nil, ProfileOptions{})
		for i := range values {
			_ = forward.AddRow([]float64{math.Sin(values[i])}, nil)
			_ = backward.AddRow([]float64{math.Sin(values[len(values)-1-i])}, nil)
		}
		if !reflect.DeepEqual(forward.Build(), backward.Build()) {
			t.Error("profiles of the same rows in another order differ")
		}
	})

	errorCases := []struct {
		name        string
		numeric     []string
		categorical []string
		opts        ProfileOptions
	}{
		{name: "a feature declared twice is refused", numeric: []string{"a"}, categorical: []string{"a"}},
		{name: "an empty feature name is refused", numeric: []string{""}},
		{name: "a single bin is refused", numeric: []string{"a"}, opts: ProfileOptions{Bins: 1}},
	}
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewProfileBuilder(tt.numeric, tt.categorical, tt.opts); err == nil {
				t.Error("NewProfileBuilder succeeded, want an error")
			}
		})
	}
}

func seq(from, to int) []float64 {
	out := make([]float64, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, float64(i))
	}
	return out
}

func repeat(counts map[float64]int) []float64 {
	var out []float64
	for v, n := range counts {
		for range n {
			out = append(out, v)
		}
	}
	return out
}

func TestStreamingKolmogorovSmirnov(t *testing.T) {
	ref := loadReference(t)
	sn := ref.StreamNumeric

	t.Run("a discrete feature's streaming statistics equal scipy's on the full samples", func(t *testing.T) {
		b, _ := NewProfileBuilder([]string{"x"}, nil, ProfileOptions{})
		for _, v := range sn.Reference.values(t) {
			_ = b.AddRow([]float64{v}, nil)
		}
		for range sn.ReferenceMissing {
			_ = b.AddRow([]float64{math.NaN()}, nil)
		}
		p := b.Build()
		if !slices.Equal(p.Numeric[0].Edges, sn.Edges) {
			t.Fatalf("edges %v, make_reference.py computes %v", p.Numeric[0].Edges, sn.Edges)
		}
		w, _ := NewTally(p)
		for _, v := range sn.Window.values(t) {
			_ = w.AddRow([]float64{v}, nil)
		}
		for range sn.WindowMissing {
			_ = w.AddRow([]float64{math.NaN()}, nil)
		}
		f := mustReport(t, w, ReportOptions{}).Features[0]
		assertClose(t, "PSI", f.PSI, sn.PSI)
		assertClose(t, "Jensen-Shannon", f.JensenShannon, sn.JS)
		if !f.KS.Exact || f.KS.UpperBound != f.KS.Statistic {
			t.Errorf("KS exact %v, bound %g for statistic %g, want an exact statistic", f.KS.Exact, f.KS.UpperBound, f.KS.Statistic)
		}
		assertClose(t, "KS statistic", f.KS.Statistic, sn.KSStatistic)
		assertClose(t, "KS p-value", f.KS.PValue, sn.KSPValue)
	})

	cases := []struct {
		name         string
		refN, winN   int
		shift, scale float64
	}{
		{name: "a continuous feature's streaming statistic brackets the exact one, no shift", refN: 50000, winN: 20000, scale: 1},
		{name: "a continuous feature's streaming statistic brackets the exact one, small shift", refN: 50000, winN: 20000, shift: 0.05, scale: 1},
		{name: "a continuous feature's streaming statistic brackets the exact one, wider spread", refN: 20000, winN: 30000, scale: 1.3},
	}
	for i, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			a := genNormal(uint64(100+i), tt.refN, 0, 1)
			x := genNormal(uint64(200+i), tt.winN, tt.shift, tt.scale)
			b, _ := NewProfileBuilder([]string{"x"}, nil, ProfileOptions{})
			for _, v := range a {
				_ = b.AddRow([]float64{v}, nil)
			}
			w, _ := NewTally(b.Build())
			for _, v := range x {
				_ = w.AddRow([]float64{v}, nil)
			}
			ks := mustReport(t, w, ReportOptions{}).Features[0].KS
			exact, _ := KS2Samp(a, x)
			if ks.Exact || !(ks.Statistic <= exact+1e-12 && exact <= ks.UpperBound+1e-12) {
				t.Errorf("streaming KS %g, bound %g (exact flag %v); exact statistic %g is not bracketed", ks.Statistic, ks.UpperBound, ks.Exact, exact)
			}
			if exact-ks.Statistic > 0.005 {
				t.Errorf("streaming KS %g is %g below the exact %g, want within 0.005 with the default sketch", ks.Statistic, exact-ks.Statistic, exact)
			}
		})
	}
}

func TestStreamingCategoricalMatchesScipy(t *testing.T) {
	ref := loadReference(t)
	for _, c := range ref.StreamCategorical {
		t.Run(c.Name, func(t *testing.T) {
			b, _ := NewProfileBuilder(nil, []string{"colour"}, ProfileOptions{})
			for cat, n := range c.Reference {
				for range n {
					_ = b.AddRow(nil, []string{cat})
				}
			}
			w, _ := NewTally(b.Build())
			for cat, n := range c.Window {
				for range n {
					_ = w.AddRow(nil, []string{cat})
				}
			}
			f := mustReport(t, w, ReportOptions{}).Features[0]
			assertClose(t, "PSI", f.PSI, c.PSI)
			assertClose(t, "Jensen-Shannon", f.JensenShannon, c.JS)
			assertClose(t, "chi-squared", f.ChiSquare.Statistic, c.ChiSquare)
			assertClose(t, "chi-squared p-value", f.ChiSquare.PValue, c.ChiSquarePValue)
			if f.ChiSquare.DoF != c.DoF || f.ChiSquare.Pooled != c.Pooled {
				t.Errorf("dof %d with %d buckets pooled, scipy's case has %d and %d", f.ChiSquare.DoF, f.ChiSquare.Pooled, c.DoF, c.Pooled)
			}
		})
	}
}

func TestReportOptions(t *testing.T) {
	ref := buildProfile(t, 5000, 1)
	w := fillWindow(t, ref, 3000, &rowSource{seed: 4, shift: 1.5})
	tests := []struct {
		name        string
		opts        ReportOptions
		wantDrifted bool
		wantErr     bool
	}{
		// age moves by 0.15 standard deviations: PSI excess 0.030, KS p about 1e-9.
		{name: "a small shift drifts at the default effect floor", opts: ReportOptions{}, wantDrifted: true},
		{name: "a higher effect floor holds a small shift back", opts: ReportOptions{MinPSIExcess: psiFloor(0.05)}, wantDrifted: false},
		{name: "a floor of 0 leaves the decision to the test", opts: ReportOptions{MinPSIExcess: psiFloor(0)}, wantDrifted: true},
		{name: "a floor of 0 still needs a significant test", opts: ReportOptions{MinPSIExcess: psiFloor(0), FalseAlarmRate: 1e-30}, wantDrifted: false},
		{name: "a KS alarm catches a shift below the effect floor", opts: ReportOptions{MinPSIExcess: psiFloor(0.05), KSAlarm: 0.03}, wantDrifted: true},
		{name: "a tiny false-alarm rate silences even the KS alarm", opts: ReportOptions{KSAlarm: 0.03, FalseAlarmRate: 1e-30}, wantDrifted: false},
		{name: "a false-alarm rate of 1 is refused", opts: ReportOptions{FalseAlarmRate: 1}, wantErr: true},
		{name: "bonferroni is accepted", opts: ReportOptions{Correction: CorrectionBonferroni}, wantDrifted: true},
		{name: "bands in the wrong order are refused", opts: ReportOptions{ModeratePSI: 0.3, MajorPSI: 0.2}, wantErr: true},
		{name: "an unknown correction is refused", opts: ReportOptions{Correction: "holm"}, wantErr: true},
		{name: "a negative effect floor is refused", opts: ReportOptions{MinPSIExcess: psiFloor(-0.01)}, wantErr: true},
		{name: "a NaN effect floor is refused", opts: ReportOptions{MinPSIExcess: psiFloor(math.NaN())}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := w.Report(tt.opts)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Report error %v, want error %v", err, tt.wantErr)
			}
			if err == nil && r.Drifted != tt.wantDrifted {
				t.Errorf("Drifted = %v, want %v; reasons %q", r.Drifted, tt.wantDrifted, r.Reasons)
			}
		})
	}

	t.Run("p-values are adjusted across all features", func(t *testing.T) {
		r := mustReport(t, w, ReportOptions{})
		var ps []float64
		for _, f := range r.Features {
			ps = append(ps, f.PValue)
		}
		for i, want := range BenjaminiHochberg(ps) {
			if r.Features[i].AdjustedPValue != want {
				t.Errorf("%s: adjusted p %g, Benjamini-Hochberg gives %g", r.Features[i].Name, r.Features[i].AdjustedPValue, want)
			}
		}
	})
}

// psiFloor returns a pointer to an effect floor, as ReportOptions takes it.
func psiFloor(x float64) *float64 { return &x }

func TestShapeAndProfileErrors(t *testing.T) {
	ref := buildProfile(t, 100, 1)
	w, _ := NewTally(ref)
	if err := w.AddRow([]float64{1}, []string{"de", "pro"}); !errors.Is(err, ErrShape) {
		t.Errorf("a short row: error %v, want ErrShape", err)
	}
	if err := w.AddLabel("yes"); !errors.Is(err, ErrShape) {
		t.Errorf("a label for a profile without labels: error %v, want ErrShape", err)
	}
	if w.Rows() != 0 {
		t.Errorf("rows %d after refused rows, want 0", w.Rows())
	}
	corrupt := []struct {
		name   string
		mangle func(p *Profile)
	}{
		{name: "bin counts that do not match the edges are refused", mangle: func(p *Profile) { p.Numeric[0].Counts = p.Numeric[0].Counts[1:] }},
		{name: "edges out of order are refused", mangle: func(p *Profile) { e := p.Numeric[0].Edges; e[0], e[1] = e[1], e[0] }},
		{name: "counts that do not add up are refused", mangle: func(p *Profile) { p.Numeric[1].Count++ }},
		{name: "a category listed twice is refused", mangle: func(p *Profile) { p.Categorical[0].Categories[1] = p.Categorical[0].Categories[0] }},
	}
	for _, tt := range corrupt {
		t.Run(tt.name, func(t *testing.T) {
			p := buildProfile(t, 100, 1)
			tt.mangle(&p)
			if _, err := NewTally(p); !errors.Is(err, ErrProfile) {
				t.Errorf("NewTally error %v, want ErrProfile", err)
			}
		})
	}
}

func TestLabelAndPredictionDrift(t *testing.T) {
	b, _ := NewProfileBuilder([]string{"x"}, nil, ProfileOptions{})
	for i := range 4000 {
		_ = b.AddRow([]float64{float64(i % 50)}, nil)
		b.AddLabel([]string{"no", "no", "no", "yes"}[i%4])
		b.AddPrediction(float64(i%100) / 100)
	}
	ref := b.Build()
	w, _ := NewTally(ref)
	for i := range 4000 {
		_ = w.AddRow([]float64{float64(i % 50)}, nil)
		_ = w.AddLabel([]string{"no", "yes"}[i%2])
		_ = w.AddPrediction(float64(i%100) / 100)
	}
	r := mustReport(t, w, ReportOptions{})
	if !r.Drifted || !r.Label.Drifted || r.Prediction.Drifted || r.Features[0].Drifted {
		t.Errorf("drifted %v, label %v, prediction %v, x %v; want only the label to drift: %q",
			r.Drifted, r.Label.Drifted, r.Prediction.Drifted, r.Features[0].Drifted, r.Reasons)
	}
	if !slices.ContainsFunc(r.Reasons, func(s string) bool { return strings.HasPrefix(s, `label "label": drifted`) }) {
		t.Errorf("no reason names the label: %q", r.Reasons)
	}
}

func TestUpperBoundCountsGridPointsAtOrBelow(t *testing.T) {
	grid := []float64{-math.MaxFloat64, -1, -math.SmallestNonzeroFloat64, 0, 0.5, 2, 7, math.MaxFloat64}
	keys := make([]uint64, len(grid))
	for i, v := range grid {
		keys[i] = orderKey(v)
	}
	for _, x := range []float64{-math.MaxFloat64, -5, -1, -0.5, -math.SmallestNonzeroFloat64, math.Copysign(0, -1), 0, 0.25, 0.5, 1, 2, 6.9, 7, 8, math.MaxFloat64} {
		want := 0
		for want < len(grid) && grid[want] <= x {
			want++
		}
		for n := range len(grid) + 1 { // every prefix of the grid
			w := min(want, n)
			if got := upperBound(keys[:n], orderKey(x)); got != w {
				t.Errorf("upperBound(first %d, %v) = %d, want %d", n, x, got, w)
			}
		}
	}
}

func TestAddRowAllocatesNothing(t *testing.T) {
	ref := buildProfile(t, 2000, 1)
	w, _ := NewTally(ref)
	num, cat := []float64{41, math.NaN(), 3}, []string{"de", "never-seen"}
	if allocs := testing.AllocsPerRun(1000, func() { _ = w.AddRow(num, cat) }); allocs != 0 {
		t.Errorf("AddRow allocates %v times per row, want 0", allocs)
	}
}
