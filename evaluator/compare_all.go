package evaluator

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
)

// Predictions is one model's predictions on the holdout rows of a paired
// comparison: Pred[i] is the class it predicts for row i, Positive[i] its
// probability of class 1, or Positive is nil when it gives none (roc_auc,
// log_loss and brier need it).
type Predictions struct {
	Pred     []int
	Positive []float64
}

// CompareAll compares every challenger with the champion on every metric:
// results[i][j] is challengers[i] against the champion on metrics[j], and
// errs[i][j] says why that comparison could not be made (nil when it was).
//
// Each result, and each error, is the one Compare returns for that pair and
// metric, bit for bit; CompareAll only does the work once. Resample b is
// the same draw for every pair (PCG(opts.Seed, b), as in Compare), so it is
// drawn once and each model's metrics are computed once on it: the
// confusion matrix (for accuracy, precision, recall, f1 and their macro
// averages) and the sums of the per-row log loss and squared error in one
// pass over the rows the resample drew, the AUC from the model's score
// order, which is sorted once. The champion's value on a resample serves
// every challenger. The cost is resamples × rows once, plus a small term
// per model, instead of resamples × rows × challengers × metrics.
func CompareAll(metrics []string, numClasses int, truth []int, champion Predictions, challengers []Predictions, opts CompareOptions) ([][]Comparison, [][]error) {
	results := make([][]Comparison, len(challengers))
	errs := make([][]error, len(challengers))
	for i := range challengers {
		results[i] = make([]Comparison, len(metrics))
		errs[i] = make([]error, len(metrics))
	}
	optsErr := normalize(&opts)
	wantScores := slices.ContainsFunc(metrics, NeedsScores)

	// Model 0 is the champion, model i+1 challenger i.
	sides := make([]side, 1+len(challengers))
	sides[0] = prepare(numClasses, truth, champion, "champion", wantScores)
	for i, c := range challengers {
		sides[i+1] = prepare(numClasses, truth, c, "challenger", wantScores)
	}

	champVals := make([]float64, len(metrics))
	var pairs []pair
	for j, metric := range metrics {
		champDefined := false
		for i := range challengers {
			info, err := checkPair(metric, numClasses, champion.Positive, challengers[i].Positive, optsErr)
			if err == nil {
				_, err = sides[0].rowsFor(info)
			}
			var chal *rows
			if err == nil {
				chal, err = sides[i+1].rowsFor(info)
			}
			if err == nil && !champDefined {
				champ, _ := sides[0].rowsFor(info)
				var ok bool
				if champVals[j], ok = champ.value(metric, nil); !ok {
					err = fmt.Errorf("%s is undefined on this holdout: it has rows of one class only", metric)
				}
				champDefined = ok
			}
			if err != nil {
				errs[i][j] = err
				continue
			}
			chalVal, _ := chal.value(metric, nil)
			results[i][j] = newComparison(metric, info, len(truth), champVals[j], chalVal, opts)
			pairs = append(pairs, pair{challenger: i, metric: j, name: metric, info: info})
		}
	}
	if len(pairs) == 0 {
		return results, errs
	}

	diffs, defined := sharedBootstrap(sides, pairs, len(truth), opts.Resamples, opts.Seed)
	for p, pr := range pairs {
		kept := diffs[p][:0]
		for b, d := range diffs[p] {
			if defined[p][b] {
				kept = append(kept, d)
			}
		}
		c := &results[pr.challenger][pr.metric]
		if err := c.summarizeResamples(kept, opts.Resamples); err != nil {
			errs[pr.challenger][pr.metric] = err
			results[pr.challenger][pr.metric] = Comparison{}
			continue
		}
		if pr.name == MetricAccuracy {
			c.mcNemar(truth, champion.Pred, challengers[pr.challenger].Pred)
		}
	}
	return results, errs
}

// pair is one comparison CompareAll makes: a challenger on a metric.
type pair struct {
	challenger, metric int
	name               string
	info               metricInfo
}

// side is one model's validated predictions: labels alone, and labels with
// scores when a metric needs them. Each keeps the error newRows gave, so
// that a comparison fails exactly as Compare, which validates scores only
// for the metrics that read them, would fail.
type side struct {
	labels, scored *rows
	labErr, scErr  error
}

func prepare(k int, truth []int, p Predictions, who string, wantScores bool) side {
	var s side
	s.labels, s.labErr = newRows(k, truth, p.Pred, nil, who)
	if wantScores && p.Positive != nil {
		s.scored, s.scErr = newRows(k, truth, p.Pred, p.Positive, who)
	}
	return s
}

func (s side) rowsFor(info metricInfo) (*rows, error) {
	if info.needsScores {
		return s.scored, s.scErr
	}
	return s.labels, s.labErr
}

// normalize fills in the defaults of opts and says what is wrong with it.
func normalize(opts *CompareOptions) error {
	if opts.Resamples == 0 {
		opts.Resamples = DefaultResamples
	}
	if opts.Confidence == 0 {
		opts.Confidence = DefaultConfidence
	}
	if opts.Resamples < 0 {
		return fmt.Errorf("resamples is %d: must be positive", opts.Resamples)
	}
	if !(opts.Confidence > 0 && opts.Confidence < 1) {
		return fmt.Errorf("confidence is %v: must be in (0, 1)", opts.Confidence)
	}
	return nil
}

// checkPair refuses a comparison on a metric the models cannot be compared
// on, in the order Compare checks.
func checkPair(metric string, numClasses int, champPos, chalPos []float64, optsErr error) (metricInfo, error) {
	info, ok := metricTable[metric]
	if !ok {
		return info, unknownMetric(metric)
	}
	if info.regression {
		return info, fmt.Errorf("%s is a regression metric: compare regression models with CompareRegression", metric)
	}
	if info.probability {
		return info, fmt.Errorf("%s is a metric of class probabilities: compare multiclass models with CompareMulticlass", metric)
	}
	if info.binaryOnly && numClasses != 2 {
		return info, fmt.Errorf("%s is defined for binary models only, not for %d classes", metric, numClasses)
	}
	if info.needsScores && (champPos == nil || chalPos == nil) {
		who := "champion"
		if champPos != nil {
			who = "challenger"
		}
		return info, fmt.Errorf("%s needs probabilities of class 1: the %s gave none", metric, who)
	}
	return info, optsErr
}

// newComparison fills in the values of a comparison; the resamples fill in
// the rest (summarizeResamples).
func newComparison(metric string, info metricInfo, n int, champVal, chalVal float64, opts CompareOptions) Comparison {
	c := Comparison{
		Metric:         metric,
		HigherIsBetter: info.higherIsBetter,
		Rows:           n,
		Champion:       champVal,
		Challenger:     chalVal,
		AbsoluteChange: change(champVal, chalVal),
		Improvement:    improvement(info.higherIsBetter, champVal, chalVal),
		Confidence:     opts.Confidence,
		Seed:           opts.Seed,
		Test:           PairedBootstrap,
	}
	if champVal != 0 {
		rel := c.AbsoluteChange / math.Abs(champVal)
		relImp := c.Improvement / math.Abs(champVal)
		c.RelativeChange, c.RelativeImprovement = &rel, &relImp
	}
	return c
}

// summarizeResamples sets the interval, the bootstrap p-value and the bound
// from the changes on the resamples in which the metric is defined. It
// sorts diffs.
func (c *Comparison) summarizeResamples(diffs []float64, resamples int) error {
	if dropped := resamples - len(diffs); dropped*10 > resamples {
		return fmt.Errorf("%s is undefined in %d of %d bootstrap resamples: too few rows of one class for a comparison",
			c.Metric, dropped, resamples)
	}
	// Ties are exact zeros (change), so "not better" is <= 0.
	notBetter := 0
	for _, d := range diffs {
		if !c.HigherIsBetter {
			d = -d
		}
		if d <= 0 {
			notBetter++
		}
	}
	slices.Sort(diffs)
	gamma := c.gamma()
	c.IntervalLow = quantile(diffs, gamma/2)
	c.IntervalHigh = quantile(diffs, 1-gamma/2)
	c.Resamples = len(diffs)
	c.BootstrapPValue = float64(1+notBetter) / float64(1+len(diffs))
	c.PValue = c.BootstrapPValue
	if i, ok := bootstrapBoundIndex(len(diffs), gamma); ok {
		bound := diffs[i] // the i+1-th smallest change: a lower bound
		if !c.HigherIsBetter {
			bound = diffs[len(diffs)-1-i] // the i+1-th largest: an upper bound
		}
		c.Bound = &bound
	}
	return nil
}

// gamma is the significance level 1 - Confidence. 1 - 0.95 is
// 0.050000000000000044 in floating point: rounded to 12 decimals, gamma
// equals the significance level a policy writes.
func (c *Comparison) gamma() float64 {
	return math.Round((1-c.Confidence)*1e12) / 1e12
}

// mcNemar replaces the bootstrap test of accuracy by McNemar's one-sided
// exact test on the discordant rows.
func (c *Comparison) mcNemar(truth, champPred, chalPred []int) {
	var b, cc int
	for i, t := range truth {
		champRight, chalRight := champPred[i] == t, chalPred[i] == t
		switch {
		case champRight && !chalRight:
			b++
		case chalRight && !champRight:
			cc++
		}
	}
	bound := mcNemarLowerBound(b, cc, len(truth), c.gamma())
	c.Test, c.PValue, c.Bound = McNemarOneSided, mcNemarGreater(b, cc), &bound
	c.Discordant = &Discordant{ChampionOnly: b, ChallengerOnly: cc, Statistic: float64(cc)}
}

// modelNeeds says what a resample must compute for one model.
type modelNeeds struct {
	confusion, logLoss, brier, auc bool
}

// sharedBootstrap returns, for every pair, challenger - champion on each
// resample (exactly 0 for a tie) and whether the metric was defined for
// both. Resample b draws n rows with replacement from PCG(seed, b), once for
// all pairs.
func sharedBootstrap(sides []side, pairs []pair, n, resamples int, seed uint64) ([][]float64, [][]bool) {
	needs := make([]modelNeeds, len(sides))
	for _, p := range pairs {
		for _, m := range []int{0, p.challenger + 1} {
			switch p.name {
			case MetricROCAUC:
				needs[m].auc = true
			case MetricLogLoss:
				needs[m].logLoss = true
			case MetricBrier:
				needs[m].brier = true
			default:
				needs[m].confusion = true
			}
		}
	}
	// A model that predicts what an earlier one predicts is computed once.
	alias := sameAs(sides)
	for m, a := range alias {
		if a != m {
			needs[a].confusion = needs[a].confusion || needs[m].confusion
			needs[a].logLoss = needs[a].logLoss || needs[m].logLoss
			needs[a].brier = needs[a].brier || needs[m].brier
			needs[a].auc = needs[a].auc || needs[m].auc
			needs[m] = modelNeeds{}
		}
	}
	diffs := make([][]float64, len(pairs))
	defined := make([][]bool, len(pairs))
	for p := range pairs {
		diffs[p] = make([]float64, resamples)
		defined[p] = make([]bool, resamples)
	}
	workers := min(runtime.GOMAXPROCS(0), resamples)
	var wg sync.WaitGroup
	for worker := range workers {
		wg.Go(func() {
			r := newResample(sides, needs, n)
			for b := worker; b < resamples; b += workers {
				r.draw(seed, b)
				for p, pr := range pairs {
					vc, okc := r.value(alias[0], pr.name)
					vh, okh := r.value(alias[pr.challenger+1], pr.name)
					diffs[p][b], defined[p][b] = change(vc, vh), okc && okh
				}
			}
		})
	}
	wg.Wait()
	return diffs, defined
}

// sameAs returns, for each model, the first model with the same
// predictions (itself when there is none): the same classes and the same
// scores bit for bit, or no scores for either. Their metrics are the same
// computation on the same numbers on every resample, so the bootstrap
// computes them once: a candidate identical to the champion (a retrain on
// unchanged data) or to another candidate costs nothing per resample.
func sameAs(sides []side) []int {
	alias := make([]int, len(sides))
	for m := range sides {
		alias[m] = m
		for a := range m {
			if alias[a] == a && samePredictions(sides[a], sides[m]) {
				alias[m] = a
				break
			}
		}
	}
	return alias
}

func samePredictions(a, b side) bool {
	if a.labels == nil || b.labels == nil || !slices.Equal(a.labels.cell, b.labels.cell) {
		return false
	}
	if a.scored == nil || b.scored == nil {
		return a.scored == nil && b.scored == nil
	}
	return slices.EqualFunc(a.scored.pos, b.scored.pos, func(x, y float64) bool {
		return math.Float64bits(x) == math.Float64bits(y)
	})
}

// resample holds one worker's state: the draw counts of the rows and every
// model's metrics on them.
type resample struct {
	sides []side
	needs []modelNeeds
	// w8 counts how often the resample drew each row, in a byte: a quarter
	// of the memory of int32 counts, so the draws and the AUC's reads in
	// score order stay in cache far longer. w32 takes over for a resample
	// that drew some row more than 255 times (see draw).
	w8  []uint8
	w32 []int32
	n   int
	// Per model, for the resample drawn last.
	conf    [][]int64
	summary []summary
	logLoss []float64
	brier   []float64
	auc     []float64
	aucOK   []bool
	// Models whose confusion matrix, log loss or brier sum the row pass
	// accumulates.
	confModels, llModels, brModels []int
	// confGroups cover confModels: the confusion counts of the models of
	// a group come from one histogram of joint codes (confGroup).
	confGroups []confGroup
	hist       [4][256]int64
	// lossSums are the sums of llModels and brModels.
	lossSums []lossSum
}

// confGroup is models whose confusion matrices a resample takes from one
// histogram: code[i] numbers row i's truth and each model's prediction,
// truth + k*(pred of models[0] + k*(pred of models[1] + ...)), below 256.
// The pass over the rows then adds each row's count to one bin instead of
// one cell per model, and the matrices are sums of bins. A group without
// codes (more than 16 classes) takes its one model's cells directly.
type confGroup struct {
	models []int
	code   []uint8
}

// newConfGroups groups the models of confModels, k classes, by as many as
// one byte of code holds: k^(1 + models) <= 256.
func newConfGroups(sides []side, confModels []int, k int) []confGroup {
	per := 0
	for bins := k * k; bins <= 256; bins *= k {
		per++
	}
	if per == 0 {
		groups := make([]confGroup, len(confModels))
		for g, m := range confModels {
			groups[g] = confGroup{models: []int{m}}
		}
		return groups
	}
	var groups []confGroup
	for len(confModels) > 0 {
		models := confModels[:min(per, len(confModels))]
		confModels = confModels[len(models):]
		n := sides[models[0]].labels.n
		code := make([]uint8, n)
		for i := range n {
			c, scale := int(sides[models[0]].labels.cell[i])/k, k
			for _, m := range models {
				c += scale * (int(sides[m].labels.cell[i]) % k)
				scale *= k
			}
			code[i] = uint8(c)
		}
		groups = append(groups, confGroup{models: models, code: code})
	}
	return groups
}

func newResample(sides []side, needs []modelNeeds, n int) *resample {
	r := &resample{sides: sides, needs: needs, w8: make([]uint8, n), n: n,
		conf: make([][]int64, len(sides)), summary: make([]summary, len(sides)),
		logLoss: make([]float64, len(sides)), brier: make([]float64, len(sides)),
		auc: make([]float64, len(sides)), aucOK: make([]bool, len(sides))}
	for m, nd := range needs {
		if nd.confusion {
			k := sides[m].labels.k
			r.conf[m] = make([]int64, k*k)
			r.confModels = append(r.confModels, m)
		}
		if nd.logLoss {
			r.llModels = append(r.llModels, m)
		}
		if nd.brier {
			r.brModels = append(r.brModels, m)
		}
	}
	for _, m := range r.llModels {
		r.lossSums = append(r.lossSums, lossSum{sides[m].scored.logLoss, &r.logLoss[m]})
	}
	for _, m := range r.brModels {
		r.lossSums = append(r.lossSums, lossSum{sides[m].scored.sqErr, &r.brier[m]})
	}
	if len(r.confModels) > 0 {
		r.confGroups = newConfGroups(sides, r.confModels, sides[r.confModels[0]].labels.k)
	}
	return r
}

// draw draws resample b and computes every metric a pair needs on it.
//
// The counts are kept in bytes. A row drawn 256 times wraps its count:
// drawCounts notices, and the same resample is drawn again (the same
// generator, the same rows) into int32 counts (drawWide). With n draws
// among n rows that needs a row drawn 256 times, whose chance is below
// n / 256!, under 10^-490.
func (r *resample) draw(seed uint64, b int) {
	clear(r.w8)
	if drawCounts(r.w8, seed, uint64(b)) {
		r.drawWide(seed, b)
		return
	}
	if r.rowPass() {
		accumulate(r, r.w8)
	}
	finish(r, r.w8)
}

// drawWide is draw with int32 counts.
func (r *resample) drawWide(seed uint64, b int) {
	if r.w32 == nil {
		r.w32 = make([]int32, r.n)
	}
	clear(r.w32)
	drawCounts(r.w32, seed, uint64(b))
	accumulate(r, r.w32)
	finish(r, r.w32)
}

// rowPass says whether some model needs the pass of accumulate: not when
// every metric compared is roc_auc, which has a pass of its own.
func (r *resample) rowPass() bool {
	return len(r.confModels)+len(r.llModels)+len(r.brModels) > 0
}

// accumulate makes the pass over the rows a resample drew, in row order:
// every model's confusion counts and sums of per-row log loss and squared
// error. It returns the sum of the counts.
//
// The sums equal those of rows.meanOf, bit for bit: they add
// float64(w[i]) * x[i] in row order, and a row the resample did not draw
// adds exactly +0 there (every per-row loss is finite and non-negative), so
// adding it changes nothing: the pass adds every row, without a branch on
// the count that the processor would guess wrong for a third of the rows.
// Confusion counts are integer sums.
func accumulate[W rowWeight](r *resample, w []W) int64 {
	total := int64(-1) // not yet summed
	for _, g := range r.confGroups {
		if g.code == nil {
			m := g.models[0]
			conf, cell := r.conf[m], r.sides[m].labels.cell[:len(w)]
			clear(conf)
			for i, wi := range w {
				conf[cell[i]] += int64(wi)
			}
			continue
		}
		histogram(w, g.code, &r.hist)
		k := r.sides[g.models[0]].labels.k
		for _, m := range g.models {
			clear(r.conf[m])
		}
		var sum int64
		for c := range 256 {
			count := r.hist[0][c] + r.hist[1][c] + r.hist[2][c] + r.hist[3][c]
			if count == 0 {
				continue
			}
			sum += count
			t, preds := c%k, c/k
			for _, m := range g.models {
				r.conf[m][t*k+preds%k] += count
				preds /= k
			}
		}
		total = sum
	}
	if total < 0 {
		total = 0
		for _, wi := range w {
			total += int64(wi)
		}
	}
	// Four sums at a time: each is a chain of dependent additions, four of
	// them keep the floating-point adder busy. A group of fewer than four
	// repeats its first sum and throws the copies away.
	for sums := r.lossSums; len(sums) > 0; {
		g := sums[:min(4, len(sums))]
		sums = sums[len(g):]
		var v [4][]float64
		for k := range v {
			v[k] = g[min(k, len(g)-1)].v
		}
		var out [4]float64
		out[0], out[1], out[2], out[3] = weightedSums4(w, v[0], v[1], v[2], v[3])
		for k, ls := range g {
			*ls.dst = out[k]
		}
	}
	return total
}

// histogram sets h[0][c] + ... + h[3][c] to the sum of the counts w[i] of
// the rows i whose code[i] is c. Four histograms, row i adding to h[i%4],
// so that a run of rows of one code is not a chain of additions to one
// place in memory, each waiting for the last.
func histogram[W rowWeight](w []W, code []uint8, h *[4][256]int64) {
	*h = [4][256]int64{}
	code = code[:len(w)]
	i := 0
	for ; i+4 <= len(w); i += 4 {
		h[0][code[i]] += int64(w[i])
		h[1][code[i+1]] += int64(w[i+1])
		h[2][code[i+2]] += int64(w[i+2])
		h[3][code[i+3]] += int64(w[i+3])
	}
	for ; i < len(w); i++ {
		h[0][code[i]] += int64(w[i])
	}
}

// lossSum is one sum of accumulate: per-row values and where the sum goes.
type lossSum struct {
	v   []float64
	dst *float64
}

// weightedSums4 is four sums of float64(w[i]) * x[i] in row order.
func weightedSums4[W rowWeight](w []W, a, b, c, d []float64) (sa, sb, sc, sd float64) {
	a, b, c, d = a[:len(w)], b[:len(w)], c[:len(w)], d[:len(w)]
	for i, wi := range w {
		fw := float64(wi)
		sa += fw * a[i]
		sb += fw * b[i]
		sc += fw * c[i]
		sd += fw * d[i]
	}
	return sa, sb, sc, sd
}

// finish turns the sums of accumulate into metrics and computes the AUCs.
func finish[W rowWeight](r *resample, w []W) {
	// The draw counts add up to n, the total rows.meanOf divides by.
	for _, m := range r.llModels {
		r.logLoss[m] /= float64(r.n)
	}
	for _, m := range r.brModels {
		r.brier[m] /= float64(r.n)
	}
	for _, m := range r.confModels {
		r.summary[m] = summarize(r.conf[m], r.sides[m].labels.k)
	}
	for m, nd := range r.needs {
		if nd.auc {
			r.auc[m], r.aucOK[m] = resampleAUC(r.sides[m].scored, w)
		}
	}
}

// value is model m's metric on the resample drawn last.
func (r *resample) value(m int, metric string) (float64, bool) {
	switch metric {
	case MetricROCAUC:
		return r.auc[m], r.aucOK[m]
	case MetricLogLoss:
		return r.logLoss[m], true
	case MetricBrier:
		return r.brier[m], true
	}
	return r.summary[m].value(metric)
}

// drawIndex is rand.New(p).IntN(int(n)) without the interface call per
// draw: the same numbers from the same generator, by the same method
// (Lemire's multiply-and-reject, a mask for a power of two) math/rand/v2
// uses on 64-bit platforms. TestCompareAllMatchesTheReferenceImplementation
// fails should the standard library ever draw otherwise. drawCounts, which
// draws the resamples, does the same with the generator's state in locals
// (pcgStep, nextIndex).
func drawIndex(p *rand.PCG, n uint64) uint64 {
	if n&(n-1) == 0 {
		return p.Uint64() & (n - 1)
	}
	hi, lo := bits.Mul64(p.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(p.Uint64(), n)
		}
	}
	return hi
}
