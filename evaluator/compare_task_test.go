package evaluator

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// regressionHoldout is n labels and three models' predictions: a champion
// with noise sd 1, a challenger with the same noise (other draws) and a
// clearly better one with noise sd 0.5.
func regressionHoldout(n int, seed uint64) (truth, champ, equal, better []float64) {
	r := rand.New(rand.NewPCG(seed, 1))
	for range n {
		y := 10 + 3*r.NormFloat64()
		truth = append(truth, y)
		champ = append(champ, y+r.NormFloat64())
		equal = append(equal, y+r.NormFloat64())
		better = append(better, y+0.5*r.NormFloat64())
	}
	return
}

func decideRegression(t *testing.T, p Policy, truth, champ []float64, chals ...[]float64) Decision {
	t.Helper()
	cm, err := RegressionMetricsOf(truth, champ)
	if err != nil {
		t.Fatal(err)
	}
	res, errs := CompareRegression(p.ComparedMetrics(), truth, champ, chals, CompareOptions{Resamples: 500, Confidence: p.Confidence(), Seed: 3})
	var cands []Candidate
	for i, c := range chals {
		m, err := RegressionMetricsOf(truth, c)
		if err != nil {
			t.Fatal(err)
		}
		for j := range res[i] {
			if errs[i][j] != nil {
				t.Fatalf("challenger %d, %s: %v", i, p.ComparedMetrics()[j], errs[i][j])
			}
		}
		cands = append(cands, Candidate{Version: string(rune('a' + i)), Algorithm: "linear", Metrics: m, Comparisons: res[i]})
	}
	return Decide(p, &Champion{Version: "champ", Metrics: cm}, cands)
}

func TestDecideOnRegression(t *testing.T) {
	truth, champ, equal, better := regressionHoldout(400, 7)
	for _, metric := range []string{MetricRMSE, MetricMAE, MetricR2, MetricMedianAE, MetricMAPE} {
		p := Policy{PrimaryMetric: metric, SignificanceLevel: 0.05, MinHoldoutRows: 100}
		t.Run("a clearly better regressor is promoted on "+metric, func(t *testing.T) {
			d := decideRegression(t, p, truth, champ, better)
			if d.Outcome != OutcomePromote || d.Winner != "a" {
				t.Errorf("outcome %s winner %q, want promote a; reasons:\n%q", d.Outcome, d.Winner, d.Reasons)
			}
		})
		t.Run("an equally good regressor keeps the champion on "+metric, func(t *testing.T) {
			d := decideRegression(t, p, truth, champ, equal)
			if d.Outcome != OutcomeKeep {
				t.Errorf("outcome %s, want keep; reasons:\n%q", d.Outcome, d.Reasons)
			}
		})
	}
	t.Run("the same predictions keep the champion", func(t *testing.T) {
		d := decideRegression(t, Policy{PrimaryMetric: MetricRMSE, SignificanceLevel: 0.05}, truth, champ, champ)
		if d.Outcome != OutcomeKeep {
			t.Errorf("outcome %s, want keep", d.Outcome)
		}
	})
	t.Run("a guardrail on mae stops a better rmse that worsens mae too much", func(t *testing.T) {
		p := Policy{PrimaryMetric: MetricRMSE, Guardrails: []Guardrail{{Metric: MetricMAE, MaxDrop: 0}}}
		// Better on rmse (no large errors) but worse on mae: a constant bias.
		worseMAE := make([]float64, len(truth))
		for i, y := range truth {
			worseMAE[i] = y + 0.9
		}
		d := decideRegression(t, p, truth, champ, worseMAE)
		cm, _ := RegressionMetricsOf(truth, champ)
		wm, _ := RegressionMetricsOf(truth, worseMAE)
		if wm.Regression.RMSE >= cm.Regression.RMSE || wm.Regression.MAE <= cm.Regression.MAE {
			t.Fatalf("fixture: rmse %v vs %v, mae %v vs %v", wm.Regression.RMSE, cm.Regression.RMSE, wm.Regression.MAE, cm.Regression.MAE)
		}
		if d.Outcome != OutcomeKeep {
			t.Errorf("outcome %s, want keep by the mae guardrail; reasons:\n%q", d.Outcome, d.Reasons)
		}
	})
}

func TestCompareRegressionDecidesByThePairedTTest(t *testing.T) {
	truth, champ, _, better := regressionHoldout(300, 11)
	metrics := []string{MetricRMSE, MetricR2, MetricMAE, MetricMedianAE, MetricMAPE}
	res, errs := CompareRegression(metrics, truth, champ, [][]float64{better}, CompareOptions{Resamples: 200, Seed: 1})
	for j, metric := range metrics {
		if errs[0][j] != nil {
			t.Fatalf("%s: %v", metric, errs[0][j])
		}
		c := res[0][j]
		loss, test := lossTest(metric)
		if loss == "" {
			if c.Test != PairedBootstrap || c.PValue != c.BootstrapPValue {
				t.Errorf("%s: test %s p %v, want the paired bootstrap's p %v", metric, c.Test, c.PValue, c.BootstrapPValue)
			}
			continue
		}
		a, _ := RowLosses(loss, truth, champ)
		b, _ := RowLosses(loss, truth, better)
		want, _ := PairedTTest(a, b)
		if c.Test != test || c.Paired == nil || c.PValue != *want.PValue {
			t.Errorf("%s: test %s p %v, want %s p %v", metric, c.Test, c.PValue, test, *want.PValue)
		}
		if c.Resamples != 200 {
			t.Errorf("%s: %d resamples, want 200 for the interval", metric, c.Resamples)
		}
	}
}

func TestWeightedRegressionMetricsEqualThoseOfTheExpandedSample(t *testing.T) {
	truth, champ, _, _ := regressionHoldout(41, 5)
	truth[3] = 0
	m, err := newRegressionModel(truth, champ)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 9))
	for trial := range 20 {
		w := make([]int32, len(truth))
		var xt, xp []float64
		for range len(truth) + trial%2 {
			i := r.IntN(len(truth))
			w[i]++
			xt, xp = append(xt, truth[i]), append(xp, champ[i])
		}
		want, err := ScoreRegression(xt, xp)
		if err != nil {
			t.Fatal(err)
		}
		for _, metric := range MetricsFor(TaskRegression) {
			got, ok := m.value(metric, w)
			exp, eok := want.Value(metric)
			if ok != eok || math.Abs(got-exp) > 1e-9*max(1, math.Abs(exp)) {
				t.Errorf("trial %d %s: weighted %v (%v), expanded %v (%v)", trial, metric, got, ok, exp, eok)
			}
		}
	}
}

func TestDecideOnMulticlass(t *testing.T) {
	const k, n = 5, 600
	r := rand.New(rand.NewPCG(4, 4))
	truth := make([]int, n)
	for i := range truth {
		truth[i] = r.IntN(k)
	}
	// A model that puts weight sharp on the true class with probability
	// hit, and otherwise spreads evenly.
	model := func(sharp float64, seed uint64) ProbabilityPredictions {
		rr := rand.New(rand.NewPCG(seed, 2))
		var p ProbabilityPredictions
		for _, y := range truth {
			row := make([]float64, k)
			c := y
			if rr.Float64() > sharp {
				c = rr.IntN(k)
			}
			for j := range row {
				row[j] = 0.1 / float64(k-1)
			}
			row[c] = 0.9
			p.Proba = append(p.Proba, row)
			p.Pred = append(p.Pred, c)
		}
		return p
	}
	champ, equal, better := model(0.5, 1), model(0.5, 2), model(0.8, 3)
	metricsOf := func(p ProbabilityPredictions) Metrics {
		m, err := MulticlassMetricsOf(truth, p.Pred, p.Proba)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, metric := range []string{MetricLogLoss, MetricROCAUCOVR, MetricBrier, MetricTopKAccuracy, MetricAccuracy, MetricF1Macro} {
		p := Policy{PrimaryMetric: metric, SignificanceLevel: 0.05, Guardrails: []Guardrail{{Metric: MetricAccuracy, MaxDrop: 0.01}}}
		for _, tc := range []struct {
			name string
			chal ProbabilityPredictions
			want Outcome
		}{{"a clearly better model is promoted", better, OutcomePromote}, {"an equally good model keeps the champion", equal, OutcomeKeep}} {
			t.Run(tc.name+" on "+metric, func(t *testing.T) {
				res, errs := CompareMulticlass(p.ComparedMetrics(), truth, DefaultTopK, champ, []ProbabilityPredictions{tc.chal}, CompareOptions{Resamples: 300, Confidence: p.Confidence(), Seed: 8})
				for j, e := range errs[0] {
					if e != nil {
						t.Fatalf("%s: %v", p.ComparedMetrics()[j], e)
					}
				}
				d := Decide(p, &Champion{Version: "champ", Metrics: metricsOf(champ)}, []Candidate{{Version: "a", Metrics: metricsOf(tc.chal), Comparisons: res[0]}})
				if d.Outcome != tc.want {
					t.Errorf("outcome %s, want %s; reasons:\n%q", d.Outcome, tc.want, d.Reasons)
				}
			})
		}
	}
}

func TestCheckMetricTaskNamesTheTask(t *testing.T) {
	for _, tc := range []struct {
		metric, task string
		ok           bool
	}{
		{MetricRMSE, TaskRegression, true},
		{MetricRMSE, TaskBinary, false},
		{MetricROCAUC, TaskMulticlass, false},
		{MetricROCAUCOVR, TaskMulticlass, true},
		{MetricLogLoss, TaskMulticlass, true},
		{MetricAccuracy, TaskRegression, false},
		{MetricF1, TaskMulticlass, false},
	} {
		err := CheckMetricTask(tc.metric, tc.task)
		if (err == nil) != tc.ok {
			t.Errorf("CheckMetricTask(%s, %s) = %v, want ok %v", tc.metric, tc.task, err, tc.ok)
		}
	}
	if got := MetricsFor(TaskRegression); !slices.Equal(got, []string{"mae", "mape", "median_ae", "r2", "rmse"}) {
		t.Errorf("MetricsFor(regression) = %q", got)
	}
}

func TestWeightedMulticlassMetricsEqualThoseOfTheExpandedSample(t *testing.T) {
	const k, n = 4, 60
	r := rand.New(rand.NewPCG(2, 3))
	truth := make([]int, n)
	proba := make([][]float64, n)
	for i := range truth {
		truth[i] = i % k // every class present
		row := make([]float64, k)
		var s float64
		for c := range row {
			row[c] = float64(1 + r.IntN(4)) // small integers: ties in the ranks and the top k
			s += row[c]
		}
		for c := range row {
			row[c] /= s
		}
		proba[i] = row
	}
	m, err := newProbabilityModel(truth, proba, 2)
	if err != nil {
		t.Fatal(err)
	}
	for trial := range 20 {
		w := make([]int32, n)
		var xt []int
		var xp [][]float64
		for range n {
			i := r.IntN(n)
			w[i]++
			xt, xp = append(xt, truth[i]), append(xp, proba[i])
		}
		want, err := ScoreMulticlass(xt, xp, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, metric := range []string{MetricLogLoss, MetricBrier, MetricROCAUCOVR, MetricTopKAccuracy} {
			got, ok := m.value(metric, w)
			exp, eok := want.Value(metric)
			if ok != eok || math.Abs(got-exp) > 1e-9*max(1, math.Abs(exp)) {
				t.Errorf("trial %d %s: weighted %v (%v), expanded %v (%v)", trial, metric, got, ok, exp, eok)
			}
		}
	}
}

func TestCompareMulticlassAgreesWithCompareAllOnClassMetrics(t *testing.T) {
	truth := []int{0, 1, 2, 0, 1, 2, 0, 1, 2, 2, 1, 0}
	pred := []int{0, 1, 1, 0, 2, 2, 0, 1, 2, 0, 1, 0}
	other := []int{0, 1, 2, 0, 1, 2, 1, 1, 2, 2, 0, 0}
	onehot := func(p []int) [][]float64 {
		out := make([][]float64, len(p))
		for i, c := range p {
			out[i] = []float64{0.1, 0.1, 0.1}
			out[i][c] = 0.8
		}
		return out
	}
	metrics := []string{MetricAccuracy, MetricF1Macro, MetricLogLoss, MetricRMSE}
	opts := CompareOptions{Resamples: 200, Seed: 4}
	got, errs := CompareMulticlass(metrics, truth, 2, ProbabilityPredictions{Pred: pred, Proba: onehot(pred)},
		[]ProbabilityPredictions{{Pred: other, Proba: onehot(other)}}, opts)
	want, wantErrs := CompareAll(metrics[:2], 3, truth, Predictions{Pred: pred}, []Predictions{{Pred: other}}, opts)
	for j := range 2 {
		if errs[0][j] != nil || wantErrs[0][j] != nil || got[0][j].PValue != want[0][j].PValue || got[0][j].Challenger != want[0][j].Challenger {
			t.Errorf("%s: CompareMulticlass %+v (%v), CompareAll %+v (%v)", metrics[j], got[0][j], errs[0][j], want[0][j], wantErrs[0][j])
		}
	}
	if errs[0][2] != nil || got[0][2].Test != PairedBootstrap || got[0][2].HigherIsBetter {
		t.Errorf("log_loss: %+v (%v), want a paired bootstrap of a loss", got[0][2], errs[0][2])
	}
	if errs[0][3] == nil {
		t.Errorf("rmse on a multiclass model compared without error: %+v", got[0][3])
	}
}
