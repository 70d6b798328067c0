package drift

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

// ProfileFormat is the version of the Profile layout that this package
// writes; stored profiles carry it in FormatVersion.
const ProfileFormat = 1

// ErrShape reports a row whose number of values does not match the
// profile's features, or a call for a distribution the profile lacks.
var ErrShape = errors.New("drift: row does not match the profile")

// Profile is the reference profile of a model's training data: per feature,
// enough of its distribution to compare a later window against it. It is
// built once at training time by a ProfileBuilder, stored as JSON with the
// model version, and read back by NewTally. It holds no map, so its JSON is
// deterministic, and it depends only on the multiset of rows, not on their
// order.
type Profile struct {
	// FormatVersion is ProfileFormat when the profile was built.
	FormatVersion int `json:"format_version"`
	// Rows is the number of rows added to the builder.
	Rows int64 `json:"rows"`
	// Options are the options the profile was built with.
	Options ProfileOptions `json:"options"`
	// Numeric holds the numeric features in the order they were declared.
	Numeric []NumericProfile `json:"numeric"`
	// Categorical holds the categorical features in the order they were declared.
	Categorical []CategoricalProfile `json:"categorical"`
	// Label is the class distribution of the training labels, if any were added.
	Label *CategoricalProfile `json:"label,omitempty"`
	// Prediction is the distribution of the model's scores on the training
	// data, if any were added.
	Prediction *NumericProfile `json:"prediction,omitempty"`
	// Target is the distribution of a numeric label (a regression model's),
	// if any were added; a model has Label or Target, never both.
	Target *NumericProfile `json:"target,omitempty"`
}

// NumericProfile summarises one numeric feature. Values that are NaN or
// ±Inf are counted as missing and take part in nothing else.
//
// Bins are half-open, [Edges[i-1], Edges[i]), with the first and last bins
// open-ended: a value x falls in the bin numbered by how many edges are <= x
// (numpy's searchsorted(edges, x, side='right')).
type NumericProfile struct {
	// Name is the feature's name.
	Name string `json:"name"`
	// Count is the number of finite values.
	Count int64 `json:"count"`
	// Missing is the number of NaN or ±Inf values.
	Missing int64 `json:"missing"`
	// Mean is the mean of the finite values (0 when there are none).
	Mean float64 `json:"mean"`
	// Std is their population standard deviation (ddof=0; 0 when there are none).
	Std float64 `json:"std"`
	// Min is the smallest finite value (0 when there are none).
	Min float64 `json:"min"`
	// Max is the largest finite value (0 when there are none).
	Max float64 `json:"max"`
	// Edges are the interior bin edges, increasing: the reference quantiles
	// sorted[floor(k*Count/Bins)] for k = 1..Bins-1, without duplicates and
	// without any edge <= Min (whose bin would be empty), so discrete
	// features get fewer bins.
	Edges []float64 `json:"edges"`
	// Counts are the reference rows per bin, len(Edges)+1 of them.
	Counts []int64 `json:"counts"`
	// Sketch is a quantile sketch for the Kolmogorov-Smirnov test: every
	// distinct value when there are at most SketchSize of them, otherwise the
	// quantiles sorted[floor(k*Count/SketchSize)] for k = 0..SketchSize-1
	// without duplicates. It starts at Min.
	Sketch []float64 `json:"sketch"`
	// SketchBelow[i] is the number of reference values strictly below Sketch[i].
	SketchBelow []int64 `json:"sketch_below"`
	// SketchExact says that Sketch holds every distinct reference value, so
	// the reference's distribution function is known exactly.
	SketchExact bool `json:"sketch_exact"`
}

// CategoricalProfile summarises one categorical feature (or the labels).
// The empty string is a missing value.
type CategoricalProfile struct {
	// Name is the feature's name.
	Name string `json:"name"`
	// Categories are the categories kept, sorted.
	Categories []string `json:"categories"`
	// Counts[i] is the number of rows of Categories[i].
	Counts []int64 `json:"counts"`
	// Unseen counts rows of categories that are not listed: in a reference,
	// the rarest categories folded away by MaxCategories. A window's rows of
	// categories the reference does not list land in the same bucket.
	Unseen int64 `json:"unseen"`
	// Missing is the number of empty values.
	Missing int64 `json:"missing"`
}

// ProfileOptions say how finely a profile summarises the training data.
// Zero fields take the values of DefaultProfileOptions.
type ProfileOptions struct {
	// Bins is the number of quantile bins per numeric feature for PSI and
	// Jensen-Shannon (before duplicates are removed).
	Bins int `json:"bins"`
	// SketchSize is the number of quantiles kept per numeric feature for the
	// Kolmogorov-Smirnov test.
	SketchSize int `json:"sketch_size"`
	// MaxCategories is the number of categories kept per categorical feature,
	// the most frequent ones; the others are counted in Unseen.
	MaxCategories int `json:"max_categories"`
}

// DefaultProfileOptions returns the options used for zero fields: 10 bins,
// a sketch of 500 quantiles and up to 1000 categories. A numeric feature then
// takes about 13 KB of JSON, and the streaming Kolmogorov-Smirnov statistic
// is within about 1/500 of the exact one plus the window's mass in one
// sketch cell. A feature with more categories than MaxCategories keeps its
// most frequent ones, a choice made on the reference's own counts, which
// makes the two-sample chi-squared test reject more often than its level
// (every 1,000,000-row window for 500 categories when 200 were kept): 1000
// keeps every category of the features the drift alarm is calibrated for.
func DefaultProfileOptions() ProfileOptions {
	return ProfileOptions{Bins: 10, SketchSize: 500, MaxCategories: 1000}
}

func (o ProfileOptions) withDefaults() ProfileOptions {
	d := DefaultProfileOptions()
	if o.Bins == 0 {
		o.Bins = d.Bins
	}
	if o.SketchSize == 0 {
		o.SketchSize = d.SketchSize
	}
	if o.MaxCategories == 0 {
		o.MaxCategories = d.MaxCategories
	}
	return o
}

// Validate reports options that cannot make a profile, naming the field.
func (o ProfileOptions) Validate() error {
	var errs []error
	if o.Bins < 0 || o.Bins == 1 {
		errs = append(errs, fmt.Errorf("profile options: bins is %d, want at least 2", o.Bins))
	}
	if o.SketchSize < 0 || o.SketchSize == 1 {
		errs = append(errs, fmt.Errorf("profile options: sketch_size is %d, want at least 2", o.SketchSize))
	}
	if o.MaxCategories < 0 {
		errs = append(errs, fmt.Errorf("profile options: max_categories is %d, want at least 1", o.MaxCategories))
	}
	return errors.Join(errs...)
}

// ProfileBuilder accumulates training rows into a Profile. It keeps every
// finite numeric value (the training sample is in memory anyway) and a count
// per category. It is not safe for concurrent use.
type ProfileBuilder struct {
	opts        ProfileOptions
	numNames    []string
	catNames    []string
	rows        int64
	num         [][]float64
	numMissing  []int64
	cat         []map[string]int64
	catMissing  []int64
	label       map[string]int64
	labelMiss   int64
	labels      bool
	pred        []float64
	predMissing int64
	preds       bool
	target      []float64
	targetMiss  int64
	targets     bool
}

// NewProfileBuilder returns a builder for rows with the given numeric and
// categorical features, in that order. Names must be unique and not empty.
func NewProfileBuilder(numeric, categorical []string, opts ProfileOptions) (*ProfileBuilder, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(numeric)+len(categorical))
	for _, name := range slices.Concat(numeric, categorical) {
		if name == "" {
			return nil, errors.New("profile: a feature has an empty name")
		}
		if seen[name] {
			return nil, fmt.Errorf("profile: feature %q is declared twice", name)
		}
		seen[name] = true
	}
	b := &ProfileBuilder{
		opts:       opts.withDefaults(),
		numNames:   slices.Clone(numeric),
		catNames:   slices.Clone(categorical),
		num:        make([][]float64, len(numeric)),
		numMissing: make([]int64, len(numeric)),
		cat:        make([]map[string]int64, len(categorical)),
		catMissing: make([]int64, len(categorical)),
		label:      map[string]int64{},
	}
	for i := range b.cat {
		b.cat[i] = map[string]int64{}
	}
	return b, nil
}

// AddRow adds one training row: num in the order of the numeric features,
// cat in the order of the categorical ones. NaN and ±Inf are missing
// numbers, the empty string a missing category.
func (b *ProfileBuilder) AddRow(num []float64, cat []string) error {
	if len(num) != len(b.num) || len(cat) != len(b.cat) {
		return fmt.Errorf("%w: %d numeric and %d categorical values, the profile has %d and %d",
			ErrShape, len(num), len(cat), len(b.num), len(b.cat))
	}
	b.rows++
	for i, x := range num {
		if isMissing(x) {
			b.numMissing[i]++
			continue
		}
		b.num[i] = append(b.num[i], x)
	}
	for i, c := range cat {
		if c == "" {
			b.catMissing[i]++
			continue
		}
		b.cat[i][c]++
	}
	return nil
}

// AddLabel adds one training label (a class); the empty string is missing.
func (b *ProfileBuilder) AddLabel(class string) {
	b.labels = true
	if class == "" {
		b.labelMiss++
		return
	}
	b.label[class]++
}

// AddTarget adds one numeric training label (of a regression model); NaN
// and ±Inf are missing.
func (b *ProfileBuilder) AddTarget(y float64) {
	b.targets = true
	if isMissing(y) {
		b.targetMiss++
		return
	}
	b.target = append(b.target, y)
}

// AddPrediction adds one model score on a training row; NaN and ±Inf are
// missing.
func (b *ProfileBuilder) AddPrediction(score float64) {
	b.preds = true
	if isMissing(score) {
		b.predMissing++
		return
	}
	b.pred = append(b.pred, score)
}

// Build returns the profile of the rows added so far. It may be called
// more than once; rows added later are included in later builds.
func (b *ProfileBuilder) Build() Profile {
	p := Profile{
		FormatVersion: ProfileFormat,
		Rows:          b.rows,
		Options:       b.opts,
		Numeric:       make([]NumericProfile, len(b.num)),
		Categorical:   make([]CategoricalProfile, len(b.cat)),
	}
	for i := range b.num {
		p.Numeric[i] = buildNumeric(b.numNames[i], b.num[i], b.numMissing[i], b.opts)
	}
	for i := range b.cat {
		p.Categorical[i] = buildCategorical(b.catNames[i], b.cat[i], b.catMissing[i], b.opts)
	}
	if b.labels {
		l := buildCategorical("label", b.label, b.labelMiss, b.opts)
		p.Label = &l
	}
	if b.preds {
		s := buildNumeric("prediction", b.pred, b.predMissing, b.opts)
		p.Prediction = &s
	}
	if b.targets {
		t := buildNumeric("label", b.target, b.targetMiss, b.opts)
		p.Target = &t
	}
	return p
}

// clone returns a deep copy of p, so that a window never shares storage
// with a profile its caller may change.
func (p Profile) clone() Profile {
	c := p
	c.Numeric = each(p.Numeric, (*NumericProfile).clone)
	c.Categorical = each(p.Categorical, (*CategoricalProfile).clone)
	c.Label = optional(p.Label, (*CategoricalProfile).clone)
	c.Prediction = optional(p.Prediction, (*NumericProfile).clone)
	c.Target = optional(p.Target, (*NumericProfile).clone)
	return c
}

// each returns f of every element of s, in order (an empty slice, not nil, for none).
func each[S, T any](s []S, f func(*S) T) []T {
	out := make([]T, len(s))
	for i := range s {
		out[i] = f(&s[i])
	}
	return out
}

// optional returns f of *p, or nil when p is nil.
func optional[S, T any](p *S, f func(*S) T) *T {
	if p == nil {
		return nil
	}
	v := f(p)
	return &v
}

func (p NumericProfile) clone() NumericProfile {
	p.Edges = slices.Clone(p.Edges)
	p.Counts = slices.Clone(p.Counts)
	p.Sketch = slices.Clone(p.Sketch)
	p.SketchBelow = slices.Clone(p.SketchBelow)
	return p
}

func (p CategoricalProfile) clone() CategoricalProfile {
	p.Categories = slices.Clone(p.Categories)
	p.Counts = slices.Clone(p.Counts)
	return p
}

// isMissing says whether x is NaN or ±Inf, in one comparison.
func isMissing(x float64) bool { return x-x != 0 }

// buildNumeric sorts values in place and summarises them.
func buildNumeric(name string, values []float64, missing int64, opts ProfileOptions) NumericProfile {
	slices.Sort(values)
	n := len(values)
	p := NumericProfile{Name: name, Count: int64(n), Missing: missing, Counts: []int64{int64(n)}}
	if n == 0 {
		return p
	}
	p.Min, p.Max = values[0], values[n-1]
	p.Mean, p.Std = meanStd(values)

	below := func(x float64) int64 {
		i, _ := slices.BinarySearch(values, x) // first index with values[i] >= x
		return int64(i)
	}
	for k := 1; k < opts.Bins; k++ {
		e := values[int64(k)*int64(n)/int64(opts.Bins)]
		if e > p.Min && (len(p.Edges) == 0 || e > p.Edges[len(p.Edges)-1]) {
			p.Edges = append(p.Edges, e)
		}
	}
	p.Counts = make([]int64, len(p.Edges)+1)
	prev := int64(0)
	for i, e := range p.Edges {
		b := below(e)
		p.Counts[i] = b - prev
		prev = b
	}
	p.Counts[len(p.Edges)] = int64(n) - prev

	distinct := 1
	for i := 1; i < n && distinct <= opts.SketchSize; i++ {
		if values[i] != values[i-1] {
			distinct++
		}
	}
	if distinct <= opts.SketchSize {
		p.SketchExact = true
		for i, v := range values {
			if i == 0 || v != values[i-1] {
				p.Sketch = append(p.Sketch, v)
				p.SketchBelow = append(p.SketchBelow, int64(i))
			}
		}
		return p
	}
	for k := 0; k < opts.SketchSize; k++ {
		s := values[int64(k)*int64(n)/int64(opts.SketchSize)]
		if len(p.Sketch) == 0 || s > p.Sketch[len(p.Sketch)-1] {
			p.Sketch = append(p.Sketch, s)
			p.SketchBelow = append(p.SketchBelow, below(s))
		}
	}
	return p
}

// meanStd returns the mean and population standard deviation of sorted,
// finite values, scaling first so that huge values cannot overflow.
func meanStd(values []float64) (float64, float64) {
	scale := math.Max(math.Abs(values[0]), math.Abs(values[len(values)-1]))
	if scale == 0 {
		return 0, 0
	}
	if scale < 1e100 && scale > 1e-100 {
		scale = 1
	}
	n := float64(len(values))
	sum := 0.0
	for _, v := range values {
		sum += v / scale
	}
	mean := sum / n
	ss := 0.0
	for _, v := range values {
		d := v/scale - mean
		ss += d * d
	}
	return mean * scale, math.Sqrt(ss/n) * scale
}

// buildCategorical keeps the maxCategories most frequent categories (ties
// broken by name), sorted by name, and folds the rest into Unseen.
func buildCategorical(name string, counts map[string]int64, missing int64, opts ProfileOptions) CategoricalProfile {
	type cc struct {
		name  string
		count int64
	}
	all := make([]cc, 0, len(counts))
	for k, v := range counts {
		all = append(all, cc{k, v})
	}
	slices.SortFunc(all, func(a, b cc) int {
		if c := cmp.Compare(b.count, a.count); c != 0 {
			return c
		}
		return cmp.Compare(a.name, b.name)
	})
	p := CategoricalProfile{Name: name, Missing: missing}
	if len(all) > opts.MaxCategories {
		for _, c := range all[opts.MaxCategories:] {
			p.Unseen += c.count
		}
		all = all[:opts.MaxCategories]
	}
	slices.SortFunc(all, func(a, b cc) int { return cmp.Compare(a.name, b.name) })
	p.Categories = make([]string, len(all))
	p.Counts = make([]int64, len(all))
	for i, c := range all {
		p.Categories[i], p.Counts[i] = c.name, c.count
	}
	return p
}
