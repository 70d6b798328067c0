package drift

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Severity grades a distribution's drift by how far its PSI is above the
// PSI that the sample sizes alone would give (FeatureReport.PSIExcess).
type Severity string

// Severities, from none to major.
const (
	SeverityNone     Severity = "none"     // PSI excess below ModeratePSI
	SeverityModerate Severity = "moderate" // PSI excess in [ModeratePSI, MajorPSI)
	SeverityMajor    Severity = "major"    // PSI excess at or above MajorPSI
)

func (s Severity) rank() int {
	switch s {
	case SeverityModerate:
		return 1
	case SeverityMajor:
		return 2
	}
	return 0
}

// Correction names a way of adjusting p-values for testing many
// distributions at once.
type Correction string

// Corrections for multiple testing.
const (
	// CorrectionBH controls the false discovery rate (Benjamini-Hochberg).
	CorrectionBH Correction = "bh"
	// CorrectionBonferroni controls the family-wise error rate.
	CorrectionBonferroni Correction = "bonferroni"
	// CorrectionNone leaves p-values as they are.
	CorrectionNone Correction = "none"
)

// Kind says whether a distribution is numeric or categorical.
type Kind string

// Kinds of distribution.
const (
	KindNumeric     Kind = "numeric"     // tested with Kolmogorov-Smirnov
	KindCategorical Kind = "categorical" // tested with the two-sample chi-squared test
)

// Role says what a reported distribution is: a model input, the observed
// label, or the model's prediction.
type Role string

// Roles of a reported distribution.
const (
	RoleFeature    Role = "feature"    // a model input
	RoleLabel      Role = "label"      // the observed label
	RolePrediction Role = "prediction" // the model's score
)

// ReportOptions are the thresholds of a drift report. Zero fields take the
// values of DefaultReportOptions.
type ReportOptions struct {
	// MinRows is the number of window rows below which the report says
	// "insufficient data" and never drifted. It also applies to the label and
	// prediction distributions, by their own counts.
	MinRows int64 `json:"min_rows"`
	// ModeratePSI is the lower bound of the moderate severity band, on
	// the PSI excess (PSI less its no-change level at the sample sizes).
	ModeratePSI float64 `json:"moderate_psi"`
	// MajorPSI is the lower bound of the major severity band, on the PSI
	// excess.
	MajorPSI float64 `json:"major_psi"`
	// PSIEpsilon is the floor PSI puts on empty bins (see PSI).
	PSIEpsilon float64 `json:"psi_epsilon"`
	// MinPSIExcess is the effect-size floor of the alarm: a distribution
	// drifts only when its PSI excess (PSI less its no-change level at the
	// sample sizes) is at least this much. Nil takes the default,
	// DefaultMinPSIExcess; a pointer to 0 means no floor, the test alone
	// decides. It is not a severity band: ModeratePSI and MajorPSI grade the
	// drift found, they do not gate it.
	MinPSIExcess *float64 `json:"min_psi_excess,omitempty"`
	// KSAlarm, when positive, is another large enough effect for a numeric
	// distribution: a Kolmogorov-Smirnov statistic at or over it.
	KSAlarm float64 `json:"ks_alarm"`
	// JSAlarm, when positive, is another large enough effect: a
	// Jensen-Shannon distance at or over it.
	JSAlarm float64 `json:"js_alarm"`
	// Correction is how p-values are adjusted across the distributions of
	// one report.
	Correction Correction `json:"correction"`
	// FalseAlarmRate is the level adjusted p-values are compared with: a
	// distribution drifts only when its adjusted p-value is at or below it.
	// With Benjamini-Hochberg it is the false discovery rate across the
	// report's distributions, so a window that did not change at all raises
	// an alarm with at most this probability.
	FalseAlarmRate float64 `json:"false_alarm_rate"`
}

// DefaultMinPSIExcess is the default effect-size floor of the alarm
// (ReportOptions.MinPSIExcess). A mean shift of 0.2 standard deviations
// moves a numeric feature's PSI over its deciles by 0.038, a rise of a
// binary label from 30% to 38% by 0.029, a mean shift of 0.1 standard
// deviations by 0.0096: 0.02 lets the first two drift and keeps the third,
// significant in a large enough window, from ever drifting.
const DefaultMinPSIExcess = 0.02

// DefaultReportOptions returns the options used for zero fields: at least
// 1000 rows, PSI excess bands 0.10 and 0.25, an effect floor of a PSI
// excess of 0.02, PSI epsilon 1e-4, Benjamini-Hochberg at a false-alarm
// rate of 0.01.
func DefaultReportOptions() ReportOptions {
	floor := DefaultMinPSIExcess
	return ReportOptions{
		MinRows:        1000,
		ModeratePSI:    0.10,
		MajorPSI:       0.25,
		PSIEpsilon:     DefaultPSIEpsilon,
		MinPSIExcess:   &floor,
		Correction:     CorrectionBH,
		FalseAlarmRate: 0.01,
	}
}

func (o ReportOptions) withDefaults() ReportOptions {
	d := DefaultReportOptions()
	if o.MinRows == 0 {
		o.MinRows = d.MinRows
	}
	if o.ModeratePSI == 0 {
		o.ModeratePSI = d.ModeratePSI
	}
	if o.MajorPSI == 0 {
		o.MajorPSI = d.MajorPSI
	}
	if o.PSIEpsilon == 0 {
		o.PSIEpsilon = d.PSIEpsilon
	}
	if o.MinPSIExcess == nil {
		o.MinPSIExcess = d.MinPSIExcess
	} else {
		floor := *o.MinPSIExcess // the caller's variable stays the caller's
		o.MinPSIExcess = &floor
	}
	if o.Correction == "" {
		o.Correction = d.Correction
	}
	if o.FalseAlarmRate == 0 {
		o.FalseAlarmRate = d.FalseAlarmRate
	}
	return o
}

// Validate reports every option that makes no sense, naming the field.
// Zero fields are valid: they take defaults.
func (o ReportOptions) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("report options: "+format, args...)) }
	if o.MinRows < 0 {
		bad("min_rows is %d, want at least 1", o.MinRows)
	}
	w := o.withDefaults()
	if !(w.ModeratePSI > 0) || !(w.MajorPSI >= w.ModeratePSI) || math.IsInf(w.MajorPSI, 0) {
		bad("moderate_psi %v and major_psi %v must be positive, finite and in that order", w.ModeratePSI, w.MajorPSI)
	}
	if !(w.PSIEpsilon > 0 && w.PSIEpsilon < 1) {
		bad("psi_epsilon is %v, want a value in (0, 1)", w.PSIEpsilon)
	}
	if f := *w.MinPSIExcess; !(f >= 0) || math.IsInf(f, 0) {
		bad("min_psi_excess is %v, want 0 (no floor) or a positive finite value", f)
	}
	if !(o.KSAlarm >= 0 && o.KSAlarm <= 1) || !(o.JSAlarm >= 0 && o.JSAlarm <= 1) {
		bad("ks_alarm %v and js_alarm %v must lie in [0, 1]", o.KSAlarm, o.JSAlarm)
	}
	switch w.Correction {
	case CorrectionBH, CorrectionBonferroni, CorrectionNone:
	default:
		bad("correction is %q, want %q, %q or %q", w.Correction, CorrectionBH, CorrectionBonferroni, CorrectionNone)
	}
	if !(w.FalseAlarmRate > 0 && w.FalseAlarmRate < 1) {
		bad("false_alarm_rate is %v, want a value in (0, 1)", w.FalseAlarmRate)
	}
	return errors.Join(errs...)
}

// Report is the drift of a window against its reference profile. Every
// number in it is finite, so it encodes to JSON.
type Report struct {
	// Rows is the number of rows in the window.
	Rows int64 `json:"rows"`
	// ReferenceRows is the number of rows the profile was built from.
	ReferenceRows int64 `json:"reference_rows"`
	// Sufficient says that the window has at least MinRows rows.
	Sufficient bool `json:"sufficient"`
	// Drifted says that the window has enough rows and at least one
	// distribution drifted; Reasons say which and why.
	Drifted bool `json:"drifted"`
	// Reasons explain the verdict in sentences a person can read.
	Reasons []string `json:"reasons"`
	// Options are the options used, defaults filled in.
	Options ReportOptions `json:"options"`
	// Features holds one result per feature, numeric features first, each
	// group in the order of the profile.
	Features []FeatureReport `json:"features"`
	// Label is the drift of the observed labels, when the profile has them.
	Label *FeatureReport `json:"label,omitempty"`
	// Prediction is the drift of the model's scores, when the profile has them.
	Prediction *FeatureReport `json:"prediction,omitempty"`
}

// FeatureReport is the drift of one distribution. PSI and JensenShannon
// compare histograms that include a bucket for missing values (for
// categorical features also the unseen bucket), so a feature that starts
// arriving empty drifts too; the tests compare the values that are present.
type FeatureReport struct {
	// Name is the feature's name ("label" and "prediction" for those).
	Name string `json:"name"`
	// Role says whether this is a feature, the label or the prediction.
	Role Role `json:"role"`
	// Kind says whether the distribution is numeric or categorical.
	Kind Kind `json:"kind"`
	// Rows is the number of window values, missing ones included.
	Rows int64 `json:"rows"`
	// Missing is the number of missing window values.
	Missing int64 `json:"missing"`
	// ReferenceRows is the number of reference values, missing ones included.
	ReferenceRows int64 `json:"reference_rows"`
	// ReferenceMissing is the number of missing reference values.
	ReferenceMissing int64 `json:"reference_missing"`
	// PSI is the population stability index of the window against the
	// reference, over the profile's bins (or categories), the unseen bucket
	// and the missing bucket.
	PSI float64 `json:"psi"`
	// ExpectedPSI is the PSI these two sample sizes give on average with
	// no change at all (see ExpectedPSI): about (K-1)(1/n_ref + 1/n_window)
	// over K buckets, 0.8 for 200 categories and 500 rows on both sides.
	ExpectedPSI float64 `json:"expected_psi"`
	// PSIExcess is PSI - ExpectedPSI, what the severity grades; it can be
	// negative.
	PSIExcess float64 `json:"psi_excess"`
	// JensenShannon is the Jensen-Shannon distance (base 2) over the same buckets.
	JensenShannon float64 `json:"jensen_shannon"`
	// Severity grades PSIExcess.
	Severity Severity `json:"severity"`
	// KS is the Kolmogorov-Smirnov test of a numeric distribution.
	KS *KSResult `json:"ks,omitempty"`
	// MissingShare is the two-sample chi-squared test of the share of
	// missing values of a numeric distribution (present or missing, a 2 x 2
	// table), run when either side has missing values.
	MissingShare *ChiSquareResult `json:"missing_share,omitempty"`
	// ChiSquare is the two-sample chi-squared test of a categorical
	// distribution.
	ChiSquare *ChiSquareResult `json:"chi_square,omitempty"`
	// PValue is the p-value of the distribution's test, 1 when it could not
	// be run: the chi-squared p-value of a categorical distribution; for a
	// numeric one the Kolmogorov-Smirnov p-value, or, when MissingShare was
	// run, min(1, 2 min(KS p, MissingShare p)) (Bonferroni over the two).
	PValue float64 `json:"p_value"`
	// AdjustedPValue is PValue adjusted across the report's distributions.
	AdjustedPValue float64 `json:"adjusted_p_value"`
	// Drifted says that this distribution drifted: it has at least MinRows
	// rows, its adjusted p-value is at most FalseAlarmRate, and its effect
	// is large enough (PSIExcess at MinPSIExcess or over, or a KSAlarm or
	// JSAlarm reached). Severity does not enter: a drift can be of
	// severity none.
	Drifted bool `json:"drifted"`
	// Unseen is the number of window rows in categories the profile does
	// not list (categorical only).
	Unseen int64 `json:"unseen,omitempty"`
	// Window summarises the window's present values (numeric only).
	Window *Summary `json:"window,omitempty"`
	// Reference summarises the reference's present values (numeric only).
	Reference *Summary `json:"reference,omitempty"`
	// Note says why a statistic is missing or not counted, when one is.
	Note string `json:"note,omitempty"`
}

// Summary is the mean, population standard deviation, minimum and maximum
// of a distribution's present values.
type Summary struct {
	// Mean is the mean of the present values.
	Mean float64 `json:"mean"`
	// Std is their population standard deviation.
	Std float64 `json:"std"`
	// Min is the smallest present value.
	Min float64 `json:"min"`
	// Max is the largest present value.
	Max float64 `json:"max"`
}

// KSResult is a streaming two-sample Kolmogorov-Smirnov test against the
// reference sample.
type KSResult struct {
	// Statistic is the largest distance between the window's and the
	// reference's distribution functions over the grid of the profile's bin
	// edges and sketch points. It never exceeds the exact statistic.
	Statistic float64 `json:"statistic"`
	// UpperBound is an upper bound on the exact statistic (the one
	// scipy.stats.ks_2samp would give on both full samples).
	UpperBound float64 `json:"upper_bound"`
	// Exact says that Statistic equals the exact statistic: the profile holds
	// every distinct reference value and every window value is one of them
	// or lies outside the reference's range.
	Exact bool `json:"exact"`
	// N is the effective sample size round(n1*n2/(n1+n2)).
	N int64 `json:"n"`
	// PValue is the asymptotic p-value of Statistic, Pr(D_N >= Statistic)
	// (scipy.stats.ks_2samp with method='asymp').
	PValue float64 `json:"p_value"`
}

// ChiSquareResult is Pearson's two-sample chi-squared test of the 2 x K
// table of reference and window counts (see ChiSquareTwoSample).
type ChiSquareResult struct {
	// Statistic is Pearson's X^2 = sum (observed - expected)^2 / expected
	// over the 2 x K cells (with Yates' correction when K = 2).
	Statistic float64 `json:"statistic"`
	// DoF is the degrees of freedom: the buckets tested, less one.
	DoF int `json:"dof"`
	// PValue is Pr(chi-squared with DoF degrees >= Statistic).
	PValue float64 `json:"p_value"`
	// Pooled is how many sparse buckets were tested as one (see
	// PoolSparse); 0 when none were.
	Pooled int `json:"pooled,omitempty"`
}

// Report compares the window with its reference. It fails only when opts
// are invalid (see ReportOptions.Validate).
func (w *Tally) Report(opts ReportOptions) (Report, error) {
	if err := opts.Validate(); err != nil {
		return Report{}, err
	}
	opts = opts.withDefaults()
	ref := w.ref
	r := Report{
		Rows:          w.rows,
		ReferenceRows: ref.profile.Rows,
		Sufficient:    w.rows >= opts.MinRows,
		Options:       opts,
		Features:      make([]FeatureReport, 0, len(w.num)+len(w.cat)),
	}
	for i := range w.num {
		r.Features = append(r.Features, numericReport(&ref.num[i], &w.num[i], RoleFeature, opts))
	}
	for i := range w.cat {
		r.Features = append(r.Features, categoricalReport(&ref.cat[i], &w.cat[i], RoleFeature, opts))
	}
	if w.label != nil {
		l := categoricalReport(ref.label, w.label, RoleLabel, opts)
		r.Label = &l
	}
	if w.pred != nil {
		p := numericReport(ref.pred, w.pred, RolePrediction, opts)
		r.Prediction = &p
	}
	if w.target != nil { // a numeric label is the label's report
		l := numericReport(ref.target, w.target, RoleLabel, opts)
		r.Label = &l
	}

	all := r.distributions()
	ps := make([]float64, len(all))
	for i, f := range all {
		ps[i] = f.PValue
	}
	adj := ps
	switch opts.Correction {
	case CorrectionBH:
		adj = BenjaminiHochberg(ps)
	case CorrectionBonferroni:
		adj = Bonferroni(ps)
	}
	for i, f := range all {
		f.AdjustedPValue = adj[i]
		f.Drifted = alarms(f, opts)
	}
	r.explain()
	return r, nil
}

// distributions returns pointers to every distribution of the report.
func (r *Report) distributions() []*FeatureReport {
	all := make([]*FeatureReport, 0, len(r.Features)+2)
	for i := range r.Features {
		all = append(all, &r.Features[i])
	}
	if r.Prediction != nil {
		all = append(all, r.Prediction)
	}
	if r.Label != nil {
		all = append(all, r.Label)
	}
	return all
}

// alarms says whether f drifted: a large enough effect, enough rows, and a
// significant test after adjustment. It notes why not when the effect is
// large enough but the rest is missing.
func alarms(f *FeatureReport, o ReportOptions) bool {
	effect := f.PSIExcess >= *o.MinPSIExcess ||
		(o.KSAlarm > 0 && f.KS != nil && f.KS.Statistic >= o.KSAlarm) ||
		(o.JSAlarm > 0 && f.JensenShannon >= o.JSAlarm)
	if !effect {
		return false
	}
	if f.Rows < o.MinRows {
		if f.Note == "" {
			f.Note = fmt.Sprintf("not counted: %d rows, at least %d required", f.Rows, o.MinRows)
		}
		return false
	}
	if !(f.AdjustedPValue <= o.FalseAlarmRate) {
		f.Note = fmt.Sprintf("not counted: adjusted p-value %s is above the false-alarm rate %s, the shift is within the noise of these sample sizes",
			num(f.AdjustedPValue), num(o.FalseAlarmRate))
		return false
	}
	return true
}

func severity(psi float64, o ReportOptions) Severity {
	switch {
	case psi >= o.MajorPSI:
		return SeverityMajor
	case psi >= o.ModeratePSI:
		return SeverityModerate
	}
	return SeverityNone
}

func numericReport(g *numericGrid, c *numericCounts, role Role, o ReportOptions) FeatureReport {
	p := g.prof
	present := int64(0)
	for _, n := range c.cells {
		present += n
	}
	f := FeatureReport{
		Name: p.Name, Role: role, Kind: KindNumeric,
		Rows: present + c.missing, Missing: c.missing,
		ReferenceRows: p.Count + p.Missing, ReferenceMissing: p.Missing,
		Severity: SeverityNone, PValue: 1,
	}
	if p.Count > 0 {
		f.Reference = &Summary{Mean: p.Mean, Std: p.Std, Min: p.Min, Max: p.Max}
	}
	if present > 0 {
		n := float64(present)
		m := c.sum / n
		f.Window = &Summary{
			Mean: c.shift + m,
			Std:  math.Sqrt(math.Max(c.sumSq/n-m*m, 0)),
			Min:  c.min,
			Max:  c.max,
		}
	}

	refBins := make([]float64, g.nBins+1)
	winBins := make([]float64, g.nBins+1)
	for i, n := range p.Counts {
		refBins[i] = float64(n)
	}
	for cell, n := range c.cells {
		winBins[g.binOf[cell]] += float64(n)
	}
	refBins[g.nBins], winBins[g.nBins] = float64(p.Missing), float64(c.missing)
	if !f.histograms(refBins, winBins, o) {
		return f
	}
	if p.Missing > 0 || c.missing > 0 {
		stat, dof, pv, _ := ChiSquareTwoSample([]float64{float64(p.Count), float64(p.Missing)}, []float64{float64(present), float64(c.missing)})
		f.MissingShare = &ChiSquareResult{Statistic: stat, DoF: dof, PValue: pv}
		f.PValue = pv
	}
	if p.Count == 0 || present == 0 {
		f.Note = "no Kolmogorov-Smirnov test: no present values on one side"
		return f
	}

	// bounds[k] is D = F_ref - F_window at the left limit of grid[k-1]
	// (fractions computed the way scipy computes them); bounds[0] and the
	// last are the tails, where both functions are 0 or 1.
	nr, nw := float64(p.Count), float64(present)
	bounds := make([]float64, len(c.cells)+1)
	var cr, cw int64
	for k := range c.cells[:len(c.cells)-1] {
		cr += g.refCells[k]
		cw += c.cells[k]
		bounds[k+1] = float64(cr)/nr - float64(cw)/nw
	}
	maxS, minS := 0.0, 0.0
	for _, b := range bounds {
		maxS, minS = math.Max(maxS, b), math.Min(minS, b)
	}
	d := maxS
	if -minS > maxS {
		d = -minS
	}
	exact := p.SketchExact && c.offGrid == 0
	ks := &KSResult{Statistic: d, UpperBound: d, Exact: exact}
	if !exact {
		// Inside cell k the reference gains r and the window w, so D moves
		// from bounds[k] to bounds[k+1] within [max(Dl-w, Dr-r), min(Dl+r, Dr+w)].
		for k := range c.cells {
			r, w := float64(g.refCells[k])/nr, float64(c.cells[k])/nw
			dl, dr := bounds[k], bounds[k+1]
			lo, hi := math.Max(dl-w, dr-r), math.Min(dl+r, dr+w)
			ks.UpperBound = math.Max(ks.UpperBound, math.Max(-lo, hi))
		}
		ks.UpperBound = math.Min(ks.UpperBound, 1)
	}
	m1, m2 := math.Max(nr, nw), math.Min(nr, nw)
	en := math.RoundToEven(m1 * m2 / (m1 + m2))
	ks.N = int64(en)
	ks.PValue = clamp01(kstwoSF(d, int(en)))
	f.KS = ks
	f.PValue = ks.PValue
	if f.MissingShare != nil {
		f.PValue = math.Min(1, 2*math.Min(ks.PValue, f.MissingShare.PValue))
	}
	return f
}

func categoricalReport(x *categoryIndex, c *categoricalCounts, role Role, o ReportOptions) FeatureReport {
	p := x.prof
	k := len(p.Categories)
	refBuckets := make([]float64, k+2) // categories, unseen, missing
	winBuckets := make([]float64, k+2)
	var refRows, winRows int64
	for i, n := range p.Counts {
		refBuckets[i] = float64(n)
		refRows += n
	}
	for i, n := range c.counts {
		winBuckets[i] = float64(n)
		winRows += n
	}
	refBuckets[k] += float64(p.Unseen) + unseenEstimate(p)
	refRows += p.Unseen + p.Missing
	winRows += c.missing
	refBuckets[k+1], winBuckets[k+1] = float64(p.Missing), float64(c.missing)
	f := FeatureReport{
		Name: p.Name, Role: role, Kind: KindCategorical,
		Rows: winRows, Missing: c.missing,
		ReferenceRows: refRows, ReferenceMissing: p.Missing,
		Severity: SeverityNone, PValue: 1, Unseen: c.counts[k],
	}
	if !f.histograms(refBuckets, winBuckets, o) {
		return f
	}

	refTest, winTest := refBuckets, winBuckets
	if p.Unseen == 0 {
		refTest, winTest = categoryTable(refBuckets, winBuckets, c)
	}
	refTest, winTest, pooled := PoolSparse(refTest, winTest, MinExpectedCount)
	stat, dof, pv, err := ChiSquareTwoSample(refTest, winTest)
	switch {
	case err != nil: // cannot happen: both sides have rows
		f.Note = "no chi-squared test: " + err.Error()
		return f
	case dof == 0:
		f.Note = "no chi-squared test: all rows fall in one bucket on both sides"
		return f
	}
	f.ChiSquare = &ChiSquareResult{Statistic: stat, DoF: dof, PValue: pv, Pooled: pooled}
	f.PValue = pv
	return f
}

// histograms sets PSI, Jensen-Shannon and severity, or a note when one side
// is empty, and says whether there is anything to test.
func (f *FeatureReport) histograms(ref, win []float64, o ReportOptions) bool {
	switch {
	case f.Rows == 0:
		f.Note = "no rows in the window"
		return false
	case f.ReferenceRows == 0:
		f.Note = "no rows in the reference profile"
		return false
	}
	f.PSI, _ = PSI(ref, win, o.PSIEpsilon)
	f.ExpectedPSI, _ = ExpectedPSI(ref, win, o.PSIEpsilon)
	f.PSIExcess = f.PSI - f.ExpectedPSI
	f.JensenShannon, _ = JensenShannon(ref, win)
	f.Severity = severity(f.PSIExcess, o)
	return true
}

// explain sets the verdict and its reasons.
func (r *Report) explain() {
	o := r.Options
	all := r.distributions()
	if !r.Sufficient {
		r.Reasons = append(r.Reasons, fmt.Sprintf("insufficient data: %d rows in the window, at least %d required", r.Rows, o.MinRows))
	}
	var largest *FeatureReport
	for _, f := range all {
		if f.Role == RoleFeature && (largest == nil || f.PSIExcess > largest.PSIExcess) {
			largest = f
		}
		if f.Drifted && r.Sufficient {
			r.Drifted = true
		}
	}
	for _, f := range all {
		switch {
		case f.Drifted && r.Sufficient:
			r.Reasons = append(r.Reasons, f.describe("drifted", o))
		case f.Severity.rank() >= SeverityModerate.rank():
			what := string(f.Severity) + " drift"
			if f.Note != "" {
				what += " (" + f.Note + ")"
			}
			r.Reasons = append(r.Reasons, f.describe(what, o))
		}
	}
	if !r.Drifted && r.Sufficient {
		msg := "no drift: no distribution drifted"
		if largest != nil {
			msg = fmt.Sprintf("no drift: the largest PSI above its no-change level is %s (%s %q: PSI %s, %s expected with no change), the alarm needs %s and an adjusted p-value at most %s",
				num(largest.PSIExcess), largest.Role, largest.Name, num(largest.PSI), num(largest.ExpectedPSI), num(*o.MinPSIExcess), num(o.FalseAlarmRate))
		}
		r.Reasons = append([]string{msg}, r.Reasons...)
	}
	if r.Reasons == nil {
		r.Reasons = []string{}
	}
}

// describe writes one sentence about f: what happened, the statistics, and
// the most visible change.
func (f *FeatureReport) describe(what string, o ReportOptions) string {
	s := fmt.Sprintf("%s %q: %s, PSI %s (%s expected with no change), Jensen-Shannon %s", f.Role, f.Name, what, num(f.PSI), num(f.ExpectedPSI), num(f.JensenShannon))
	switch {
	case f.KS != nil && f.MissingShare != nil:
		s += fmt.Sprintf(", KS %s, missing share chi-squared %s (adjusted p %s)", num(f.KS.Statistic), num(f.MissingShare.Statistic), num(f.AdjustedPValue))
	case f.KS != nil:
		s += fmt.Sprintf(", KS %s (adjusted p %s)", num(f.KS.Statistic), num(f.AdjustedPValue))
	case f.MissingShare != nil:
		s += fmt.Sprintf(", missing share chi-squared %s (adjusted p %s)", num(f.MissingShare.Statistic), num(f.AdjustedPValue))
	case f.ChiSquare != nil:
		s += fmt.Sprintf(", chi-squared %s with %d dof (adjusted p %s)", num(f.ChiSquare.Statistic), f.ChiSquare.DoF, num(f.AdjustedPValue))
	}
	if f.Window != nil && f.Reference != nil {
		s += fmt.Sprintf("; mean %s -> %s", num(f.Reference.Mean), num(f.Window.Mean))
	}
	if f.Unseen > 0 && f.Rows > 0 {
		s += fmt.Sprintf("; %s of rows in categories not in the reference", percent(float64(f.Unseen)/float64(f.Rows)))
	}
	if f.Rows > 0 && f.ReferenceRows > 0 {
		before := float64(f.ReferenceMissing) / float64(f.ReferenceRows)
		after := float64(f.Missing) / float64(f.Rows)
		if math.Abs(after-before) >= 0.01 {
			s += fmt.Sprintf("; missing %s -> %s", percent(before), percent(after))
		}
	}
	return s
}

// num formats a statistic with 3 significant digits.
func num(x float64) string { return strconv.FormatFloat(x, 'g', 3, 64) }

func percent(x float64) string { return strconv.FormatFloat(100*x, 'f', 1, 64) + "%" }

// categoryTable returns the reference and window counts with a column per
// category: the profile's categories, then each category of the window
// that the profile does not list (reference count 0) in name order, then
// the rows of unseen categories beyond MaxUnseenNames together, then
// missing. ref and win are the report's buckets (categories, unseen,
// missing). Counting the window's unseen categories apart matters: lumped
// into one bucket, the rows of every category the reference happened not to
// see would face a reference count of 0 and look like one new category,
// while in the full table a category seen once in the reference and one
// seen once in the window are alike. It is used when the profile folded no
// category away; otherwise the profile's Unseen already mixes categories
// and the window's unseen rows face it as one bucket.
func categoryTable(ref, win []float64, c *categoricalCounts) (r, w []float64) {
	k := len(ref) - 2
	r = append(r, ref[:k]...)
	w = append(w, win[:k]...)
	names := make([]string, 0, len(c.unseen))
	for v := range c.unseen {
		names = append(names, v)
	}
	slices.Sort(names)
	rest := win[k]
	for _, v := range names {
		n := float64(c.unseen[v])
		r, w = append(r, 0), append(w, n)
		rest -= n
	}
	if rest > 0 {
		r, w = append(r, 0), append(w, rest)
	}
	return append(r, ref[k+1]), append(w, win[k+1])
}

// unseenEstimate returns how many rows the reference would be expected to
// have had in categories it never saw, by Good and Turing's estimate of the
// missing mass: the number of categories seen exactly once. The profile lists
// categories from its own sample, so a window of the same distribution has
// rows in categories the reference never met (8% of them for 200 equally
// likely categories and a 500-row reference) while the reference has none:
// counted as they are, that alone would read as a new category. When the
// least frequent listed category was seen once, every category folded into
// Unseen by MaxCategories was seen once too and counts as well. With a
// reference large enough to see every category more than once it is 0.
func unseenEstimate(p *CategoricalProfile) float64 {
	once, least := int64(0), int64(math.MaxInt64)
	for _, n := range p.Counts {
		if n == 1 {
			once++
		}
		least = min(least, n)
	}
	if least == 1 {
		once += p.Unseen
	}
	return float64(once)
}
