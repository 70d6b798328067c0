package bench

import (
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/drift"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// driftResult is one pass of drift profiling and statistics; the Python
// side (sklearn_bench.py drift) writes the same fields.
type driftResult struct {
	Side          string `json:"side"`
	ReferenceRows int    `json:"reference_rows"`
	WindowRows    int    `json:"window_rows"`
	Distributions int    `json:"distributions"`
	// Passes is how many times the process did it all; the seconds are the
	// medians over the passes.
	Passes         int     `json:"passes"`
	ProfileSeconds float64 `json:"profile_seconds"`
	WindowSeconds  float64 `json:"window_seconds"`
	ReportSeconds  float64 `json:"report_seconds"`
	Seconds        float64 `json:"seconds"`
	// PSI, KS and AdjustedP by distribution, so the two sides can be seen to
	// compute the same statistics.
	PSI        map[string]float64 `json:"psi"`
	KS         map[string]float64 `json:"ks"`
	AdjustedP  map[string]float64 `json:"adjusted_p"`
	PeakRSSMiB float64            `json:"peak_rss_mib"`
}

// driftRows are a grid's rows as the drift package takes them, made before
// timing (numpy gets its string arrays ready-made too).
type driftRows struct {
	num      [][]float64
	cat      [][]string
	label    []string
	numNames []string
	catNames []string
}

func toDriftRows(g *Grid) *driftRows {
	s := Schema()
	d := &driftRows{num: make([][]float64, g.Rows()), cat: make([][]string, g.Rows()), label: make([]string, g.Rows())}
	for _, f := range s.Features {
		if f.Kind == trainer.Categorical {
			d.catNames = append(d.catNames, f.Name)
		} else {
			d.numNames = append(d.numNames, f.Name)
		}
	}
	numBack := make([]float64, g.Rows()*len(d.numNames))
	catBack := make([]string, g.Rows()*len(d.catNames))
	for i, x := range g.X {
		num := numBack[i*len(d.numNames) : (i+1)*len(d.numNames)]
		cat := catBack[i*len(d.catNames) : (i+1)*len(d.catNames)]
		n, c := 0, 0
		for j, f := range s.Features {
			if f.Kind == trainer.Categorical {
				cat[c] = f.Categories[int(x[j])]
				c++
			} else {
				num[n] = x[j]
				n++
			}
		}
		d.num[i], d.cat[i], d.label[i] = num, cat, s.Classes[g.Y[i]]
	}
	return d
}

// profileAndReport builds a profile of ref, counts win against it and
// reports, timing the three stages.
func profileAndReport(tb testing.TB, ref, win *driftRows) driftResult {
	tb.Helper()
	res := driftResult{Side: "go", ReferenceRows: len(ref.num), WindowRows: len(win.num)}
	t0 := time.Now()
	pb, err := drift.NewProfileBuilder(ref.numNames, ref.catNames, drift.ProfileOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	for i := range ref.num {
		if err := pb.AddRow(ref.num[i], ref.cat[i]); err != nil {
			tb.Fatal(err)
		}
		pb.AddLabel(ref.label[i])
	}
	profile := pb.Build()
	t1 := time.Now()
	w, err := drift.NewTally(profile)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range win.num {
		if err := w.AddRow(win.num[i], win.cat[i]); err != nil {
			tb.Fatal(err)
		}
		if err := w.AddLabel(win.label[i]); err != nil {
			tb.Fatal(err)
		}
	}
	t2 := time.Now()
	rep, err := w.Report(drift.ReportOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	t3 := time.Now()
	res.ProfileSeconds, res.WindowSeconds, res.ReportSeconds = t1.Sub(t0).Seconds(), t2.Sub(t1).Seconds(), t3.Sub(t2).Seconds()
	res.Seconds = t3.Sub(t0).Seconds()
	res.PSI, res.KS, res.AdjustedP = map[string]float64{}, map[string]float64{}, map[string]float64{}
	all := append([]drift.FeatureReport{}, rep.Features...)
	if rep.Label != nil {
		all = append(all, *rep.Label)
	}
	for _, f := range all {
		res.PSI[f.Name] = f.PSI
		res.AdjustedP[f.Name] = f.AdjustedPValue
		if f.KS != nil {
			res.KS[f.Name] = f.KS.Statistic
		}
	}
	res.Distributions = len(all)
	return res
}

// BenchmarkDrift profiles the reference grid (the training side of a
// retrain: drift.ProfileBuilder over every row, then Build), counts the
// window's rows against the profile (drift.Tally) and computes the report
// (PSI, Jensen-Shannon, Kolmogorov-Smirnov, chi-squared, Benjamini-Hochberg)
// over 9 features and the label, -kmbench.reps passes (1 by default); by
// default on 200,000 generated rows against as many drifted ones.
func BenchmarkDrift(b *testing.B) {
	rows := orDefault(*flagRows, 200_000)
	ref := toDriftRows(gridFor(b, *flagData, rows, false))
	win := toDriftRows(gridFor(b, *flagWindow, rows, true))
	var (
		res    driftResult
		passes []driftResult
	)
	for b.Loop() {
		for range orDefault(*flagReps, 1) {
			passes = append(passes, profileAndReport(b, ref, win))
		}
	}
	// The median of each stage over the passes: short stages on a busy
	// machine are easily disturbed.
	res = passes[len(passes)-1]
	res.Passes = len(passes)
	stage := func(f func(driftResult) float64) float64 {
		v := make([]float64, len(passes))
		for i, p := range passes {
			v[i] = f(p)
		}
		return SpreadOf(v).Median
	}
	res.ProfileSeconds = stage(func(p driftResult) float64 { return p.ProfileSeconds })
	res.WindowSeconds = stage(func(p driftResult) float64 { return p.WindowSeconds })
	res.ReportSeconds = stage(func(p driftResult) float64 { return p.ReportSeconds })
	res.Seconds = stage(func(p driftResult) float64 { return p.Seconds })
	res.PeakRSSMiB = MiB(PeakRSS())
	b.ReportMetric(float64(res.ReferenceRows)/res.ProfileSeconds, "profile-rows/s")
	b.ReportMetric(float64(res.WindowRows)/res.WindowSeconds, "window-rows/s")
	b.ReportMetric(res.ReportSeconds*1e3, "report-ms")
	writeResult(b, res)
}
