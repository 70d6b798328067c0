package evaluator

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Metric names accepted by Metrics.Value, Direction, Compare and Policy.
const (
	MetricAccuracy       = "accuracy"
	MetricPrecisionMacro = "precision_macro"
	MetricRecallMacro    = "recall_macro"
	MetricF1Macro        = "f1_macro"
	MetricPrecision      = "precision" // positive class (1) of a binary model
	MetricRecall         = "recall"    // positive class (1) of a binary model
	MetricF1             = "f1"        // positive class (1) of a binary model
	MetricROCAUC         = "roc_auc"
	MetricLogLoss        = "log_loss"
	MetricBrier          = "brier"
)

// metricInfo says how a metric is read: its direction, what it needs and
// the tasks it is defined for.
type metricInfo struct {
	higherIsBetter bool
	binaryOnly     bool // of the class labels (CompareAll): defined for two classes only
	needsScores    bool // needs the predicted probability of class 1
	// regression marks a metric of predicted values (CompareRegression);
	// probability marks one of a multiclass model's probability matrix
	// (CompareMulticlass). Neither: a metric of predicted classes.
	regression, probability bool
	tasks                   []string // the tasks a model's config may name it for
}

var (
	classTasks  = []string{TaskBinary, TaskMulticlass}
	binaryTasks = []string{TaskBinary}
)

var metricTable = map[string]metricInfo{
	MetricAccuracy:       {higherIsBetter: true, tasks: classTasks},
	MetricPrecisionMacro: {higherIsBetter: true, tasks: classTasks},
	MetricRecallMacro:    {higherIsBetter: true, tasks: classTasks},
	MetricF1Macro:        {higherIsBetter: true, tasks: classTasks},
	MetricPrecision:      {higherIsBetter: true, binaryOnly: true, tasks: binaryTasks},
	MetricRecall:         {higherIsBetter: true, binaryOnly: true, tasks: binaryTasks},
	MetricF1:             {higherIsBetter: true, binaryOnly: true, tasks: binaryTasks},
	MetricROCAUC:         {higherIsBetter: true, binaryOnly: true, needsScores: true, tasks: binaryTasks},
	// log_loss and brier of a multiclass model are read from its
	// probability matrix (MulticlassMetrics).
	MetricLogLoss:      {higherIsBetter: false, binaryOnly: true, needsScores: true, tasks: classTasks},
	MetricBrier:        {higherIsBetter: false, binaryOnly: true, needsScores: true, tasks: classTasks},
	MetricROCAUCOVR:    {higherIsBetter: true, probability: true, tasks: []string{TaskMulticlass}},
	MetricTopKAccuracy: {higherIsBetter: true, probability: true, tasks: []string{TaskMulticlass}},
	MetricRMSE:         {higherIsBetter: false, regression: true, tasks: []string{TaskRegression}},
	MetricMAE:          {higherIsBetter: false, regression: true, tasks: []string{TaskRegression}},
	MetricMedianAE:     {higherIsBetter: false, regression: true, tasks: []string{TaskRegression}},
	MetricR2:           {higherIsBetter: true, regression: true, tasks: []string{TaskRegression}},
	MetricMAPE:         {higherIsBetter: false, regression: true, tasks: []string{TaskRegression}},
}

// KnownMetrics returns the names of all metrics, sorted, for validation
// messages and help texts.
func KnownMetrics() []string {
	names := make([]string, 0, len(metricTable))
	for name := range metricTable {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Direction reports whether a larger value of metric is better. ok is false
// for a metric name that KnownMetrics does not list.
//
// log_loss, brier, rmse, mae, median_ae and mape are losses (lower is
// better); every other metric is a score (higher is better).
func Direction(metric string) (higherIsBetter bool, ok bool) {
	info, ok := metricTable[metric]
	return info.higherIsBetter, ok
}

// NeedsScores reports whether metric needs the predicted probability of the
// positive class (roc_auc, log_loss, brier), not only predicted labels.
func NeedsScores(metric string) bool {
	return metricTable[metric].needsScores
}

// BinaryOnly reports whether metric is defined for binary models only
// (precision, recall and f1 of the positive class, and the score-based
// metrics).
func BinaryOnly(metric string) bool {
	return metricTable[metric].binaryOnly
}

func unknownMetric(metric string) error {
	return fmt.Errorf("unknown metric %q (known: %s)", metric, strings.Join(KnownMetrics(), ", "))
}

// Metrics is the quality of one model's predictions on a holdout. It holds
// counts and summaries only (no per-row data), so it can travel through
// workflow history and be stored with a model version.
//
// Optional metrics are pointers: nil (absent from JSON) means the metric is
// undefined for this holdout or model, and Notes says why.
type Metrics struct {
	// Rows is the number of holdout rows scored.
	Rows int `json:"rows"`
	// Classes is the number of classes K; labels are 0..K-1.
	Classes int `json:"classes"`
	// Confusion[t][p] counts rows of true class t predicted as class p.
	Confusion [][]int `json:"confusion"`
	// Accuracy is the share of rows predicted correctly.
	Accuracy float64 `json:"accuracy"`
	// PerClass has one entry per class 0..K-1, in class order.
	PerClass []ClassMetrics `json:"per_class"`
	// PrecisionMacro, RecallMacro and F1Macro are unweighted means over the
	// MacroClasses classes that occur in the truth or the predictions.
	PrecisionMacro float64 `json:"precision_macro"`
	RecallMacro    float64 `json:"recall_macro"`
	F1Macro        float64 `json:"f1_macro"`
	// MacroClasses is the number of classes the macro averages are taken over.
	MacroClasses int `json:"macro_classes"`
	// ROCAUC is the area under the ROC curve of the positive-class scores.
	ROCAUC *float64 `json:"roc_auc,omitempty"`
	// LogLoss is the mean negative log-likelihood of the true class.
	LogLoss *float64 `json:"log_loss,omitempty"`
	// Brier is the mean squared error of the positive-class probability.
	Brier *float64 `json:"brier,omitempty"`
	// Notes says why a metric is missing, for a person reading the record.
	Notes []string `json:"notes,omitempty"`
	// Task is the model's task when it is not binary (TaskMulticlass,
	// TaskRegression); empty for a binary model, whose metrics read as
	// they did before tasks existed.
	Task string `json:"task,omitempty"`
	// Regression holds a regression model's metrics; its other fields
	// are then zero but Rows.
	Regression *RegressionMetrics `json:"regression,omitempty"`
	// Multiclass holds the metrics of a multiclass model's probability
	// matrix: log_loss, brier, roc_auc_ovr and top_k_accuracy.
	Multiclass *MulticlassMetrics `json:"multiclass,omitempty"`
}

// ClassMetrics is precision, recall and F1 of one class taken as the
// positive one (one-vs-rest).
type ClassMetrics struct {
	Class     int     `json:"class"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	// Support is the number of rows whose true class is Class.
	Support int `json:"support"`
	// Predicted is the number of rows predicted as Class.
	Predicted int `json:"predicted"`
}

// Value returns the metric called name. ok is false when the name is unknown
// or the metric is undefined for these metrics: precision, recall and f1 of a
// model with more than two classes, or a score-based metric of a model that
// gave no scores (or, for roc_auc, a holdout with one class only).
func (m Metrics) Value(name string) (float64, bool) {
	if m.Regression != nil {
		return m.Regression.Value(name)
	}
	if m.Multiclass != nil {
		switch name {
		case MetricLogLoss, MetricBrier, MetricROCAUCOVR, MetricTopKAccuracy:
			return m.Multiclass.Value(name)
		}
	}
	switch name {
	case MetricAccuracy:
		return m.Accuracy, m.Rows > 0
	case MetricPrecisionMacro:
		return m.PrecisionMacro, m.Rows > 0
	case MetricRecallMacro:
		return m.RecallMacro, m.Rows > 0
	case MetricF1Macro:
		return m.F1Macro, m.Rows > 0
	case MetricPrecision, MetricRecall, MetricF1:
		if m.Classes != 2 || len(m.PerClass) != 2 || m.Rows == 0 {
			return 0, false
		}
		pc := m.PerClass[1]
		switch name {
		case MetricPrecision:
			return pc.Precision, true
		case MetricRecall:
			return pc.Recall, true
		default:
			return pc.F1, true
		}
	case MetricROCAUC:
		return deref(m.ROCAUC)
	case MetricLogLoss:
		return deref(m.LogLoss)
	case MetricBrier:
		return deref(m.Brier)
	}
	return 0, false
}

func deref(p *float64) (float64, bool) {
	if p == nil {
		return 0, false
	}
	return *p, true
}

// Score computes the metrics of one model's predictions on a holdout.
//
// numClasses is K (at least 2); truth and pred hold class indices 0..K-1, one
// per row. positive is the predicted probability of class 1 per row, for a
// binary model (K == 2) that gives scores, or nil; with nil, roc_auc,
// log_loss and brier are left out. Score returns an error for empty input,
// slices of different lengths, a label outside 0..K-1, or a probability that
// is NaN or outside [0, 1]. The formulas are in the package documentation.
func Score(numClasses int, truth, pred []int, positive []float64) (Metrics, error) {
	r, err := newRows(numClasses, truth, pred, positive, "")
	if err != nil {
		return Metrics{}, err
	}
	return r.metrics(), nil
}

// rows is one model's validated predictions on a holdout, prepared so that
// each metric is a linear pass over rows with integer weights: nil weights for
// the holdout itself, bootstrap counts for a resample.
type rows struct {
	k    int
	n    int
	cell []int32 // truth*k + pred
	// Present only when the model gave scores.
	pos     []float64
	logLoss []float64 // per-row loss, clipped like scikit-learn
	sqErr   []float64 // per-row (y - p)^2
	order   []int32   // row indices by ascending score
	// sortedPositive[j] and tieEnd[j] describe row order[j]: whether it is of
	// class 1, and whether it closes a group of equal scores.
	sortedPositive []bool
	tieEnd         []bool
	// The same order laid out for the AUC of a bootstrap resample
	// (aucCounts): ranked[j] is order[j]<<1 | 1 if that row is of class 1,
	// one 4-byte load per row where the three slices take three; ties
	// lists the runs of two or more equal scores as pairs of j, start and
	// end (exclusive), so that the pass between them needs no test of
	// tieEnd.
	ranked []uint32
	ties   []int32
}

// newRows validates one model's predictions. who ("champion", "challenger"
// or "") prefixes error messages so a caller of Compare knows which side.
func newRows(k int, truth, pred []int, positive []float64, who string) (*rows, error) {
	prefix := ""
	if who != "" {
		prefix = who + " "
	}
	switch {
	case k < 2:
		return nil, fmt.Errorf("numClasses is %d: a classifier has at least 2 classes", k)
	case len(truth) == 0:
		return nil, errors.New("no rows: truth is empty")
	case len(pred) != len(truth):
		return nil, fmt.Errorf("%spredictions have %d rows, truth has %d", prefix, len(pred), len(truth))
	case positive != nil && len(positive) != len(truth):
		return nil, fmt.Errorf("%sscores have %d rows, truth has %d", prefix, len(positive), len(truth))
	case positive != nil && k != 2:
		return nil, fmt.Errorf("%sscores given for %d classes: positive-class scores are for binary models only", prefix, k)
	case len(truth) > math.MaxInt32:
		return nil, fmt.Errorf("%d rows: at most %d are supported", len(truth), math.MaxInt32)
	}
	r := &rows{k: k, n: len(truth), cell: make([]int32, len(truth))}
	for i, t := range truth {
		if t < 0 || t >= k {
			return nil, fmt.Errorf("truth[%d] is %d: labels must be in 0..%d", i, t, k-1)
		}
		p := pred[i]
		if p < 0 || p >= k {
			return nil, fmt.Errorf("%sprediction[%d] is %d: labels must be in 0..%d", prefix, i, p, k-1)
		}
		r.cell[i] = int32(t*k + p)
	}
	if positive == nil {
		return r, nil
	}
	for i, p := range positive {
		if math.IsNaN(p) {
			return nil, fmt.Errorf("%sscore[%d] is NaN: need the probability of class 1", prefix, i)
		}
		if p < 0 || p > 1 {
			return nil, fmt.Errorf("%sscore[%d] is %v: a probability must be in [0, 1]", prefix, i, p)
		}
	}
	r.pos = positive
	r.logLoss = make([]float64, r.n)
	r.sqErr = make([]float64, r.n)
	for i, p := range positive {
		y := float64(truth[i])
		q := p
		if truth[i] == 0 {
			q = 1 - p
		}
		r.logLoss[i] = -math.Log(clipProb(q))
		r.sqErr[i] = (y - p) * (y - p)
	}
	r.order = scoreOrder(positive)
	r.sortedPositive = make([]bool, r.n)
	r.tieEnd = make([]bool, r.n)
	for j, i := range r.order {
		r.sortedPositive[j] = truth[i] == 1
		r.tieEnd[j] = j == r.n-1 || positive[i] != positive[r.order[j+1]]
	}
	r.ranked = make([]uint32, r.n)
	start := 0
	for j, i := range r.order {
		r.ranked[j] = uint32(i) << 1
		if r.sortedPositive[j] {
			r.ranked[j] |= 1
		}
		if r.tieEnd[j] {
			if j > start {
				r.ties = append(r.ties, int32(start), int32(j+1))
			}
			start = j + 1
		}
	}
	return r, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// clipProb clips a probability to [eps, 1-eps], eps the float64 machine
// epsilon, as scikit-learn's log_loss does since 1.2 (the default before was
// 1e-15; since 1.5 eps is no parameter, always numpy.finfo(dtype).eps).
func clipProb(q float64) float64 {
	const eps = 0x1p-52 // 2.220446049250313e-16
	return math.Min(math.Max(q, eps), 1-eps)
}

// metrics computes every metric on the unweighted holdout.
func (r *rows) metrics() Metrics {
	conf := r.confusion(nil)
	s := summarize(conf, r.k)
	m := Metrics{
		Rows:           r.n,
		Classes:        r.k,
		Confusion:      make([][]int, r.k),
		Accuracy:       s.accuracy,
		PerClass:       s.perClass,
		PrecisionMacro: s.precisionMacro,
		RecallMacro:    s.recallMacro,
		F1Macro:        s.f1Macro,
		MacroClasses:   s.macroClasses,
	}
	for t := range r.k {
		m.Confusion[t] = make([]int, r.k)
		for p := range r.k {
			m.Confusion[t][p] = int(conf[t*r.k+p])
		}
	}
	if r.pos == nil {
		if r.k == 2 {
			m.Notes = append(m.Notes, "roc_auc, log_loss, brier: the model gave no probabilities")
		}
		return m
	}
	if auc, ok := r.auc(nil); ok {
		m.ROCAUC = &auc
	} else {
		m.Notes = append(m.Notes, "roc_auc: undefined, the holdout has rows of one class only")
	}
	ll := r.meanOf(r.logLoss, nil)
	m.LogLoss = &ll
	b := r.meanOf(r.sqErr, nil)
	m.Brier = &b
	return m
}

// value computes one metric with integer row weights w (nil: every row once).
// ok is false when the metric is undefined (roc_auc with one class present).
func (r *rows) value(metric string, w []int32) (float64, bool) {
	switch metric {
	case MetricROCAUC:
		return r.auc(w)
	case MetricLogLoss:
		return r.meanOf(r.logLoss, w), true
	case MetricBrier:
		return r.meanOf(r.sqErr, w), true
	}
	return summarize(r.confusion(w), r.k).value(metric)
}

// confusion returns the weighted confusion matrix, flattened row-major.
func (r *rows) confusion(w []int32) []int64 {
	conf := make([]int64, r.k*r.k)
	if w == nil {
		for _, c := range r.cell {
			conf[c]++
		}
		return conf
	}
	for i, c := range r.cell {
		conf[c] += int64(w[i])
	}
	return conf
}

// auc is the Mann-Whitney form of the ROC AUC: the share of (positive,
// negative) pairs in which the positive row has the higher score, a tie
// counting one half. Counting twice the pairs keeps the sum an integer, so the
// result is exact up to the one final division.
func (r *rows) auc(w []int32) (float64, bool) {
	return weightedAUC(r, w)
}

// rowWeight is how many times a resample drew a row: int32, or uint8 where
// no row was drawn more than 255 times (resample.draw).
type rowWeight interface{ ~int32 | ~uint8 }

// weightedAUC is rows.auc for weights of either width.
func weightedAUC[W rowWeight](r *rows, w []W) (float64, bool) {
	var twiceU, pos, neg, negBelow, gPos, gNeg int64
	for j, i := range r.order {
		wi := int64(1)
		if w != nil {
			wi = int64(w[i])
		}
		if r.sortedPositive[j] {
			gPos += wi
		} else {
			gNeg += wi
		}
		if r.tieEnd[j] {
			twiceU += gPos * (2*negBelow + gNeg)
			negBelow += gNeg
			pos += gPos
			neg += gNeg
			gPos, gNeg = 0, 0
		}
	}
	if pos == 0 || neg == 0 {
		return 0, false
	}
	return float64(twiceU) / (2 * float64(pos) * float64(neg)), true
}

// meanOf is the mean of per-row values. Unweighted (the reported value) it is
// summed with Neumaier's compensation, so that it agrees with numpy's pairwise
// sum to about 1e-15; a bootstrap resample, whose value only feeds an
// interval, takes the plain weighted sum, which is several times faster.
func (r *rows) meanOf(v []float64, w []int32) float64 {
	if w == nil {
		var sum, comp float64
		for _, x := range v {
			t := sum + x
			if math.Abs(sum) >= math.Abs(x) {
				comp += (sum - t) + x
			} else {
				comp += (x - t) + sum
			}
			sum = t
		}
		return (sum + comp) / float64(len(v))
	}
	var sum float64
	var total int64
	for i, x := range v {
		sum += float64(w[i]) * x
		total += int64(w[i])
	}
	return sum / float64(total)
}

// summary holds the confusion-matrix metrics.
type summary struct {
	accuracy                             float64
	perClass                             []ClassMetrics
	precisionMacro, recallMacro, f1Macro float64
	macroClasses                         int
}

// value returns one of the metrics of the confusion matrix; ok is false for
// a metric the matrix does not give.
func (s summary) value(metric string) (float64, bool) {
	switch metric {
	case MetricAccuracy:
		return s.accuracy, true
	case MetricPrecisionMacro:
		return s.precisionMacro, true
	case MetricRecallMacro:
		return s.recallMacro, true
	case MetricF1Macro:
		return s.f1Macro, true
	case MetricPrecision:
		return s.perClass[1].Precision, true
	case MetricRecall:
		return s.perClass[1].Recall, true
	case MetricF1:
		return s.perClass[1].F1, true
	}
	return 0, false
}

// summarize derives the label metrics from a flattened confusion matrix with
// scikit-learn's conventions: zero_division=0, F1 = 2 tp / (support +
// predicted), macro averages over the classes present in truth or
// predictions.
func summarize(conf []int64, k int) summary {
	s := summary{perClass: make([]ClassMetrics, k)}
	support := make([]int64, k)
	predicted := make([]int64, k)
	var total, correct int64
	for t := range k {
		for p := range k {
			c := conf[t*k+p]
			support[t] += c
			predicted[p] += c
			total += c
			if t == p {
				correct += c
			}
		}
	}
	if total > 0 {
		s.accuracy = float64(correct) / float64(total)
	}
	var sumP, sumR, sumF float64
	for c := range k {
		tp := conf[c*k+c]
		cm := ClassMetrics{
			Class:     c,
			Precision: ratio(tp, predicted[c]),
			Recall:    ratio(tp, support[c]),
			F1:        ratio(2*tp, support[c]+predicted[c]),
			Support:   int(support[c]),
			Predicted: int(predicted[c]),
		}
		s.perClass[c] = cm
		if support[c] > 0 || predicted[c] > 0 {
			s.macroClasses++
			sumP += cm.Precision
			sumR += cm.Recall
			sumF += cm.F1
		}
	}
	if s.macroClasses > 0 {
		d := float64(s.macroClasses)
		s.precisionMacro, s.recallMacro, s.f1Macro = sumP/d, sumR/d, sumF/d
	}
	return s
}

// ratio is num/den, and 0 when den is 0 (scikit-learn's zero_division=0).
func ratio(num, den int64) float64 {
	if den == 0 {
		return 0
	}
	return float64(num) / float64(den)
}
