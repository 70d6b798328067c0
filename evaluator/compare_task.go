package evaluator

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
)

// Tests of Comparison.Test for regression metrics decided by a paired test
// on per-row losses.
const (
	// PairedTSquared is the one-sided paired t-test on squared errors: it
	// decides rmse and r2.
	PairedTSquared = "paired-t-squared-error"
	// PairedTAbsolute is the one-sided paired t-test on absolute errors: it
	// decides mae.
	PairedTAbsolute = "paired-t-absolute-error"
)

// lossTest is the per-row loss whose paired t-test decides a regression
// metric, "" for the metrics the paired bootstrap decides.
//
// rmse and r2 are monotone in the mean squared error on the rows compared
// (r2 = 1 - SSE/SST, and SST is the same for both models), and mae is the
// mean absolute error: "the challenger is not better" is exactly "the mean
// of champion loss - challenger loss is at most 0", the null hypothesis of
// the one-sided paired t-test on those losses. Wilcoxon's signed-rank test
// asks another question (is the difference symmetric about 0?): a
// challenger better on most rows and far worse on a few passes it with a
// worse rmse. median_ae and mape are no mean of the losses compared, so the
// paired bootstrap decides them, as it does every classification metric
// but accuracy.
func lossTest(metric string) (loss, test string) {
	switch metric {
	case MetricRMSE, MetricR2:
		return LossSquared, PairedTSquared
	case MetricMAE:
		return LossAbsolute, PairedTAbsolute
	}
	return "", ""
}

// weightedModel is one model's predictions on the rows of a comparison,
// able to compute a metric with integer row weights (nil: every row once).
type weightedModel interface {
	value(metric string, w []int32) (float64, bool)
}

// regressionModel is one regression model's predictions, prepared for
// weighted metrics.
type regressionModel struct {
	truth    []float64
	exact    RegressionMetrics
	sq, abs  []float64
	ape      []float64 // |e|/|y|, 0 where y is 0
	nonZero  []bool    // y != 0
	absOrder []int32   // rows by ascending absolute error
}

func newRegressionModel(truth, pred []float64) (*regressionModel, error) {
	exact, err := ScoreRegression(truth, pred)
	if err != nil {
		return nil, err
	}
	n := len(truth)
	m := &regressionModel{truth: truth, exact: exact, sq: make([]float64, n), abs: make([]float64, n), ape: make([]float64, n),
		nonZero: make([]bool, n), absOrder: make([]int32, n)}
	for i, y := range truth {
		e := y - pred[i]
		m.sq[i], m.abs[i] = e*e, math.Abs(e)
		if y != 0 {
			m.nonZero[i], m.ape[i] = true, m.abs[i]/math.Abs(y)
		}
		m.absOrder[i] = int32(i)
	}
	slices.SortFunc(m.absOrder, func(a, b int32) int {
		if c := cmp.Compare(m.abs[a], m.abs[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return m, nil
}

func (m *regressionModel) value(metric string, w []int32) (float64, bool) {
	if w == nil {
		return m.exact.Value(metric)
	}
	var total int64
	for _, wi := range w {
		total += int64(wi)
	}
	n := float64(total)
	switch metric {
	case MetricRMSE:
		return math.Sqrt(weightedSum(m.sq, w) / n), true
	case MetricMAE:
		return weightedSum(m.abs, w) / n, true
	case MetricMAPE:
		var s float64
		var k int64
		for i, wi := range w {
			if wi != 0 && m.nonZero[i] {
				s += float64(wi) * m.ape[i]
				k += int64(wi)
			}
		}
		if k == 0 {
			return 0, false
		}
		return s / float64(k), true
	case MetricR2:
		mean := weightedSum(m.truth, w) / n
		var tot float64
		for i, wi := range w {
			if wi != 0 {
				d := m.truth[i] - mean
				tot += float64(wi) * d * d
			}
		}
		if tot == 0 {
			return 0, false
		}
		return 1 - weightedSum(m.sq, w)/tot, true
	case MetricMedianAE:
		// The median of the resample: the row at position total/2 (and the
		// one before it for an even total) of the drawn rows sorted by error.
		lo, hi := (total-1)/2, total/2
		var seen int64
		var a, b float64
		found := false
		for _, i := range m.absOrder {
			wi := int64(w[i])
			if wi == 0 {
				continue
			}
			if !found && seen+wi > lo {
				a, found = m.abs[i], true
			}
			if seen+wi > hi {
				b = m.abs[i]
				return (a + b) / 2, true
			}
			seen += wi
		}
	}
	return 0, false
}

func weightedSum(v []float64, w []int32) float64 {
	var s float64
	for i, wi := range w {
		if wi != 0 {
			s += float64(wi) * v[i]
		}
	}
	return s
}

// probabilityModel is one multiclass model's probability matrix, prepared
// for weighted metrics.
type probabilityModel struct {
	exact   MulticlassMetrics
	logLoss []float64 // per row
	brier   []float64 // per row, the mean over the classes
	topK    []float64 // 1 when the true class is in the top k
	perCls  []*rows   // one-vs-rest: class c positive, scored by its column
}

func newProbabilityModel(truth []int, proba [][]float64, topK int) (*probabilityModel, error) {
	exact, err := ScoreMulticlass(truth, proba, topK)
	if err != nil {
		return nil, err
	}
	n, k := len(truth), exact.Classes
	m := &probabilityModel{exact: exact, logLoss: make([]float64, n), brier: make([]float64, n), topK: make([]float64, n)}
	for i, row := range proba {
		y := truth[i]
		m.logLoss[i] = -math.Log(clipProb(row[y]))
		var b float64
		for c, p := range row {
			e := p
			if c == y {
				e = 1 - p
			}
			b += e * e
		}
		m.brier[i] = b / float64(k)
		if inTopK(row, y, topK) {
			m.topK[i] = 1
		}
	}
	col := make([]float64, n)
	isC := make([]int, n)
	for c := range k {
		for i, row := range proba {
			col[i] = row[c]
			isC[i] = 0
			if truth[i] == c {
				isC[i] = 1
			}
		}
		r, err := newRows(2, isC, isC, slices.Clone(col), "")
		if err != nil {
			return nil, err
		}
		m.perCls = append(m.perCls, r)
	}
	return m, nil
}

func (m *probabilityModel) value(metric string, w []int32) (float64, bool) {
	if w == nil {
		return m.exact.Value(metric)
	}
	var total int64
	for _, wi := range w {
		total += int64(wi)
	}
	switch metric {
	case MetricLogLoss:
		return weightedSum(m.logLoss, w) / float64(total), true
	case MetricBrier:
		return weightedSum(m.brier, w) / float64(total), true
	case MetricTopKAccuracy:
		return weightedSum(m.topK, w) / float64(total), true
	case MetricROCAUCOVR:
		var s float64
		for _, r := range m.perCls {
			auc, ok := r.auc(w)
			if !ok {
				return 0, false
			}
			s += auc
		}
		return s / float64(len(m.perCls)), true
	}
	return 0, false
}

// CompareRegression compares every challenger's predicted values with the
// champion's on the same rows (truth their labels) on every metric, as
// CompareAll does for classifiers: results[i][j] is challengers[i] against
// the champion on metrics[j], errs[i][j] why that comparison could not be
// made. Every comparison has the paired bootstrap's interval (resample b
// drawn from PCG(opts.Seed, b), the same for every pair); rmse and r2 are
// then decided by the one-sided paired t-test on squared errors, mae by the
// one on absolute errors (see lossTest for why), median_ae and mape by the
// bootstrap p-value.
func CompareRegression(metrics []string, truth, champion []float64, challengers [][]float64, opts CompareOptions) ([][]Comparison, [][]error) {
	optsErr := normalize(&opts)
	models := make([]weightedModel, 1+len(challengers))
	modelErrs := make([]error, 1+len(challengers))
	var cm *regressionModel
	cm, modelErrs[0] = newRegressionModel(truth, champion)
	models[0] = cm
	for i, c := range challengers {
		var m *regressionModel
		m, modelErrs[i+1] = newRegressionModel(truth, c)
		models[i+1] = m
	}
	check := func(metric string) (metricInfo, error) {
		info, ok := metricTable[metric]
		switch {
		case !ok:
			return info, unknownMetric(metric)
		case !info.regression:
			return info, fmt.Errorf("%s is not a regression metric (regression metrics: %s)", metric, joinNames(MetricsFor(TaskRegression)))
		}
		return info, optsErr
	}
	results, errs := compareWeighted(metrics, len(truth), models, modelErrs, check, opts)
	for i, c := range challengers {
		for j, metric := range metrics {
			loss, test := lossTest(metric)
			if errs[i][j] != nil || loss == "" {
				continue
			}
			champLoss, _ := RowLosses(loss, truth, champion)
			chalLoss, _ := RowLosses(loss, truth, c)
			pt, err := PairedTTest(champLoss, chalLoss)
			if err != nil || pt.PValue == nil {
				continue // the bootstrap p-value stands
			}
			r := &results[i][j]
			r.Test, r.PValue, r.Bound, r.Paired = test, *pt.PValue, nil, &pt
		}
	}
	return results, errs
}

// Predictions of a multiclass model for CompareMulticlass.
type ProbabilityPredictions struct {
	// Pred is the class predicted for each row.
	Pred []int
	// Proba holds one probability per class for each row.
	Proba [][]float64
}

// CompareMulticlass compares multiclass challengers with the champion on
// every metric, as CompareAll: the metrics of predicted classes (accuracy,
// the macro averages) by CompareAll itself, those of the probability
// matrices (log_loss, brier, roc_auc_ovr, top_k_accuracy with k = topK) by
// the paired bootstrap on the same resamples.
func CompareMulticlass(metrics []string, truth []int, topK int, champion ProbabilityPredictions, challengers []ProbabilityPredictions, opts CompareOptions) ([][]Comparison, [][]error) {
	results := make([][]Comparison, len(challengers))
	errs := make([][]error, len(challengers))
	for i := range challengers {
		results[i] = make([]Comparison, len(metrics))
		errs[i] = make([]error, len(metrics))
	}
	var labelIdx, probaIdx []int
	for j, metric := range metrics {
		switch info, ok := metricTable[metric]; {
		case ok && (info.probability || metric == MetricLogLoss || metric == MetricBrier):
			probaIdx = append(probaIdx, j)
		case ok && info.regression:
			for i := range challengers {
				errs[i][j] = fmt.Errorf("%s is a regression metric, not one of a multiclass model", metric)
			}
		default:
			labelIdx = append(labelIdx, j)
		}
	}
	k := 0
	if len(champion.Proba) > 0 {
		k = len(champion.Proba[0])
	}
	if len(labelIdx) > 0 {
		names := make([]string, len(labelIdx))
		for x, j := range labelIdx {
			names[x] = metrics[j]
		}
		chals := make([]Predictions, len(challengers))
		for i, c := range challengers {
			chals[i] = Predictions{Pred: c.Pred}
		}
		res, es := CompareAll(names, k, truth, Predictions{Pred: champion.Pred}, chals, opts)
		for i := range challengers {
			for x, j := range labelIdx {
				results[i][j], errs[i][j] = res[i][x], es[i][x]
			}
		}
	}
	if len(probaIdx) == 0 {
		return results, errs
	}
	optsErr := normalize(&opts)
	models := make([]weightedModel, 1+len(challengers))
	modelErrs := make([]error, 1+len(challengers))
	var pm *probabilityModel
	pm, modelErrs[0] = newProbabilityModel(truth, champion.Proba, topK)
	models[0] = pm
	for i, c := range challengers {
		var m *probabilityModel
		m, modelErrs[i+1] = newProbabilityModel(truth, c.Proba, topK)
		models[i+1] = m
	}
	names := make([]string, len(probaIdx))
	for x, j := range probaIdx {
		names[x] = metrics[j]
	}
	check := func(metric string) (metricInfo, error) { return metricTable[metric], optsErr }
	res, es := compareWeighted(names, len(truth), models, modelErrs, check, opts)
	for i := range challengers {
		for x, j := range probaIdx {
			results[i][j], errs[i][j] = res[i][x], es[i][x]
		}
	}
	return results, errs
}

// compareWeighted is the paired bootstrap of models whose metrics take row
// weights: model 0 the champion, model i+1 challenger i, modelErrs why a
// model's predictions cannot be read.
func compareWeighted(metrics []string, n int, models []weightedModel, modelErrs []error, check func(string) (metricInfo, error), opts CompareOptions) ([][]Comparison, [][]error) {
	chals := len(models) - 1
	results := make([][]Comparison, chals)
	errs := make([][]error, chals)
	for i := range chals {
		results[i] = make([]Comparison, len(metrics))
		errs[i] = make([]error, len(metrics))
	}
	var pairs []pair
	for j, metric := range metrics {
		info, err := check(metric)
		for i := range chals {
			e := err
			switch {
			case e != nil:
			case modelErrs[0] != nil:
				e = fmt.Errorf("champion: %w", modelErrs[0])
			case modelErrs[i+1] != nil:
				e = fmt.Errorf("challenger: %w", modelErrs[i+1])
			}
			if e != nil {
				errs[i][j] = e
				continue
			}
			cv, okc := models[0].value(metric, nil)
			hv, okh := models[i+1].value(metric, nil)
			if !okc || !okh {
				errs[i][j] = fmt.Errorf("%s is undefined on this holdout", metric)
				continue
			}
			results[i][j] = newComparison(metric, info, n, cv, hv, opts)
			pairs = append(pairs, pair{challenger: i, metric: j, name: metric, info: info})
		}
	}
	if len(pairs) == 0 {
		return results, errs
	}
	diffs := make([][]float64, len(pairs))
	defined := make([][]bool, len(pairs))
	for p := range pairs {
		diffs[p] = make([]float64, opts.Resamples)
		defined[p] = make([]bool, opts.Resamples)
	}
	workers := min(runtime.GOMAXPROCS(0), opts.Resamples)
	var wg sync.WaitGroup
	for worker := range workers {
		wg.Go(func() {
			w := make([]int32, n)
			for b := worker; b < opts.Resamples; b += workers {
				clear(w)
				pcg := rand.NewPCG(opts.Seed, uint64(b))
				for range n {
					w[drawIndex(pcg, uint64(n))]++
				}
				for p, pr := range pairs {
					vc, okc := models[0].value(pr.name, w)
					vh, okh := models[pr.challenger+1].value(pr.name, w)
					diffs[p][b], defined[p][b] = change(vc, vh), okc && okh
				}
			}
		})
	}
	wg.Wait()
	for p, pr := range pairs {
		kept := diffs[p][:0]
		for b, d := range diffs[p] {
			if defined[p][b] {
				kept = append(kept, d)
			}
		}
		if err := results[pr.challenger][pr.metric].summarizeResamples(kept, opts.Resamples); err != nil {
			errs[pr.challenger][pr.metric] = err
			results[pr.challenger][pr.metric] = Comparison{}
		}
	}
	return results, errs
}
