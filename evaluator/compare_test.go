package evaluator

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// holdout is a synthetic binary holdout scored by two models.
type holdout struct {
	truth               []int
	champPred, chalPred []int
	champPos, chalPos   []float64
}

// syntheticHoldout draws n rows; the challenger's scores carry more signal
// (separation chalSignal) than the champion's (champSignal).
func syntheticHoldout(n int, seed uint64, champSignal, chalSignal float64) holdout {
	rng := rand.New(rand.NewPCG(seed, 1))
	h := holdout{
		truth:     make([]int, n),
		champPred: make([]int, n), chalPred: make([]int, n),
		champPos: make([]float64, n), chalPos: make([]float64, n),
	}
	score := func(y int, signal float64) float64 {
		z := signal*(float64(y)-0.5) + rng.NormFloat64()
		return 1 / (1 + math.Exp(-z))
	}
	for i := range n {
		y := 0
		if rng.Float64() < 0.4 {
			y = 1
		}
		h.truth[i] = y
		h.champPos[i], h.chalPos[i] = score(y, champSignal), score(y, chalSignal)
		if h.champPos[i] >= 0.5 {
			h.champPred[i] = 1
		}
		if h.chalPos[i] >= 0.5 {
			h.chalPred[i] = 1
		}
	}
	return h
}

func (h holdout) compare(t testing.TB, metric string, opts CompareOptions) Comparison {
	t.Helper()
	c, err := Compare(metric, 2, h.truth, h.champPred, h.chalPred, h.champPos, h.chalPos, opts)
	if err != nil {
		t.Fatalf("Compare(%s): %v", metric, err)
	}
	return c
}

func TestCompareIsDeterministicForASeed(t *testing.T) {
	h := syntheticHoldout(300, 7, 1, 1.5)
	for _, metric := range classLabelMetrics() {
		t.Run(metric, func(t *testing.T) {
			a := h.compare(t, metric, CompareOptions{Resamples: 300, Seed: 42})
			b := h.compare(t, metric, CompareOptions{Resamples: 300, Seed: 42})
			if !reflect.DeepEqual(a, b) {
				t.Errorf("two runs with seed 42 differ:\n%+v\n%+v", a, b)
			}
			c := h.compare(t, metric, CompareOptions{Resamples: 300, Seed: 43})
			if a.IntervalLow == c.IntervalLow && a.IntervalHigh == c.IntervalHigh {
				t.Errorf("seeds 42 and 43 give the same interval [%v, %v]; the seed is not used", a.IntervalLow, a.IntervalHigh)
			}
		})
	}
}

func TestCompareGivesTheSameResultOnOneCoreOrMany(t *testing.T) {
	h := syntheticHoldout(300, 8, 1, 1.5)
	many := h.compare(t, MetricROCAUC, CompareOptions{Resamples: 301, Seed: 5})
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	one := h.compare(t, MetricROCAUC, CompareOptions{Resamples: 301, Seed: 5})
	if !reflect.DeepEqual(one, many) {
		t.Errorf("GOMAXPROCS=1 gives %+v, more cores give %+v", one, many)
	}
}

func TestBootstrapIntervalContainsTheObservedDifference(t *testing.T) {
	for seed := range uint64(5) {
		h := syntheticHoldout(400, seed, 1, 1.3)
		for _, metric := range classLabelMetrics() {
			c := h.compare(t, metric, CompareOptions{Seed: seed})
			if c.AbsoluteChange < c.IntervalLow || c.AbsoluteChange > c.IntervalHigh {
				t.Errorf("holdout %d, %s: change %v outside its 95%% interval [%v, %v]",
					seed, metric, c.AbsoluteChange, c.IntervalLow, c.IntervalHigh)
			}
			if c.Resamples != DefaultResamples || c.Confidence != DefaultConfidence {
				t.Errorf("%s: resamples %d, confidence %v; want the defaults %d and %v",
					metric, c.Resamples, c.Confidence, DefaultResamples, DefaultConfidence)
			}
		}
	}
}

func TestBootstrapIntervalIsNarrowerWithMoreRows(t *testing.T) {
	small := syntheticHoldout(200, 3, 1, 1.3)
	large := syntheticHoldout(5000, 3, 1, 1.3)
	for _, metric := range []string{MetricAccuracy, MetricF1, MetricROCAUC, MetricLogLoss, MetricBrier} {
		s := small.compare(t, metric, CompareOptions{Resamples: 400})
		l := large.compare(t, metric, CompareOptions{Resamples: 400})
		ws, wl := s.IntervalHigh-s.IntervalLow, l.IntervalHigh-l.IntervalLow
		if !(wl < ws/2) {
			t.Errorf("%s: interval width %v with 5000 rows, %v with 200; want less than half", metric, wl, ws)
		}
	}
}

func TestHigherConfidenceGivesAWiderInterval(t *testing.T) {
	h := syntheticHoldout(500, 11, 1, 1.3)
	narrow := h.compare(t, MetricROCAUC, CompareOptions{Confidence: 0.8})
	wide := h.compare(t, MetricROCAUC, CompareOptions{Confidence: 0.99})
	if !(wide.IntervalLow < narrow.IntervalLow && wide.IntervalHigh > narrow.IntervalHigh) {
		t.Errorf("99%% interval [%v, %v] does not contain the 80%% one [%v, %v]",
			wide.IntervalLow, wide.IntervalHigh, narrow.IntervalLow, narrow.IntervalHigh)
	}
}

func TestCompareReportsTheSameValuesAsScore(t *testing.T) {
	h := syntheticHoldout(250, 5, 1, 1.3)
	champ, _ := Score(2, h.truth, h.champPred, h.champPos)
	chal, _ := Score(2, h.truth, h.chalPred, h.chalPos)
	for _, metric := range classLabelMetrics() {
		c := h.compare(t, metric, CompareOptions{Resamples: 10})
		wantChamp, _ := champ.Value(metric)
		wantChal, _ := chal.Value(metric)
		if c.Champion != wantChamp || c.Challenger != wantChal {
			t.Errorf("%s: Compare says champion %v, challenger %v; Score says %v, %v",
				metric, c.Champion, c.Challenger, wantChamp, wantChal)
		}
	}
}

func TestChangesFollowTheWrittenFormulas(t *testing.T) {
	h := syntheticHoldout(300, 9, 0.5, 2)
	for _, metric := range classLabelMetrics() {
		t.Run(metric, func(t *testing.T) {
			c := h.compare(t, metric, CompareOptions{Resamples: 20})
			higher, _ := Direction(metric)
			if c.HigherIsBetter != higher {
				t.Errorf("higher_is_better = %v, want %v", c.HigherIsBetter, higher)
			}
			if c.AbsoluteChange != c.Challenger-c.Champion {
				t.Errorf("absolute change %v != challenger - champion = %v", c.AbsoluteChange, c.Challenger-c.Champion)
			}
			if rel := (c.Challenger - c.Champion) / math.Abs(c.Champion); *c.RelativeChange != rel {
				t.Errorf("relative change %v != (challenger - champion)/|champion| = %v", *c.RelativeChange, rel)
			}
			wantImp := c.Challenger - c.Champion
			if !higher {
				wantImp = c.Champion - c.Challenger
			}
			if c.Improvement != wantImp {
				t.Errorf("improvement %v, want %v", c.Improvement, wantImp)
			}
			if *c.RelativeImprovement != wantImp/math.Abs(c.Champion) {
				t.Errorf("relative improvement %v, want %v", *c.RelativeImprovement, wantImp/math.Abs(c.Champion))
			}
			// The challenger is the stronger model: every metric improves.
			if c.Improvement <= 0 {
				t.Errorf("improvement %v of a much stronger challenger, want > 0", c.Improvement)
			}
		})
	}
}

func TestAClearlyBetterChallengerHasASmallPValue(t *testing.T) {
	h := syntheticHoldout(2000, 4, 0.3, 2.5)
	for _, metric := range classLabelMetrics() {
		c := h.compare(t, metric, CompareOptions{Resamples: 500})
		if c.BootstrapPValue != 1.0/501 {
			t.Errorf("%s: bootstrap p = %v, want 1/501 (no resample where the challenger is not better)", metric, c.BootstrapPValue)
		}
		if c.PValue > 0.01 {
			t.Errorf("%s: %s p = %v, want < 0.01", metric, c.Test, c.PValue)
		}
	}
}

func TestAWorseChallengerHasABootstrapPValueNearOne(t *testing.T) {
	h := syntheticHoldout(2000, 4, 2.5, 0.3)
	c := h.compare(t, MetricLogLoss, CompareOptions{Resamples: 200})
	if c.Improvement >= 0 || c.BootstrapPValue != 1 {
		t.Errorf("improvement %v, p %v; want a negative improvement and p = 1", c.Improvement, c.BootstrapPValue)
	}
}

func TestAChallengerIdenticalToTheChampionShowsNoChange(t *testing.T) {
	h := syntheticHoldout(200, 2, 1, 1)
	for _, metric := range classLabelMetrics() {
		c, err := Compare(metric, 2, h.truth, h.champPred, h.champPred, h.champPos, h.champPos, CompareOptions{Resamples: 100})
		if err != nil {
			t.Fatal(err)
		}
		if c.AbsoluteChange != 0 || c.IntervalLow != 0 || c.IntervalHigh != 0 || c.BootstrapPValue != 1 {
			t.Errorf("%s: change %v, interval [%v, %v], bootstrap p %v; want 0, [0, 0], 1",
				metric, c.AbsoluteChange, c.IntervalLow, c.IntervalHigh, c.BootstrapPValue)
		}
	}
}

func TestAccuracyUsesMcNemarAndOtherMetricsTheBootstrap(t *testing.T) {
	tests := []struct {
		name     string
		b, c     int
		wantTest string
	}{
		{"few discordant rows use the one-sided exact binomial test", 3, 9, McNemarOneSided},
		{"24 discordant rows use it", 12, 12, McNemarOneSided},
		{"thousands of discordant rows still use it", 1200, 1300, McNemarOneSided},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			truth, champ, chal := discordantRows(tc.b, tc.c)
			got, err := Compare(MetricAccuracy, 2, truth, champ, chal, nil, nil, CompareOptions{Resamples: 50})
			if err != nil {
				t.Fatal(err)
			}
			if got.Test != tc.wantTest {
				t.Errorf("test = %q, want %q", got.Test, tc.wantTest)
			}
			if got.PValue == got.BootstrapPValue {
				t.Errorf("p-value %v equals the bootstrap's; want McNemar's", got.PValue)
			}
		})
	}
	truth, champ, chal := discordantRows(3, 9)
	f1, err := Compare(MetricF1, 2, truth, champ, chal, nil, nil, CompareOptions{Resamples: 50})
	if err != nil {
		t.Fatal(err)
	}
	if f1.Test != PairedBootstrap || f1.Discordant != nil || f1.PValue != f1.BootstrapPValue {
		t.Errorf("f1: test %q, discordant %v, p %v vs bootstrap %v; want the paired bootstrap alone",
			f1.Test, f1.Discordant, f1.PValue, f1.BootstrapPValue)
	}
}

func TestRelativeChangeIsNullWhenTheChampionIsZero(t *testing.T) {
	// The champion never predicts the positive class: f1 = 0.
	truth := []int{1, 0, 1, 0, 1, 1}
	champ := []int{0, 0, 0, 0, 0, 0}
	chal := []int{1, 0, 1, 0, 0, 1}
	c, err := Compare(MetricF1, 2, truth, champ, chal, nil, nil, CompareOptions{Resamples: 50})
	if err != nil {
		t.Fatal(err)
	}
	if c.Champion != 0 || c.RelativeChange != nil || c.RelativeImprovement != nil {
		t.Fatalf("champion %v, relative change %v, relative improvement %v; want 0, nil, nil",
			c.Champion, c.RelativeChange, c.RelativeImprovement)
	}
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if !strings.Contains(string(data), `"relative_change":null`) {
		t.Errorf("JSON %s, want relative_change null", data)
	}
}

func TestCompareRejectsWhatItCannotCompare(t *testing.T) {
	h := syntheticHoldout(20, 1, 1, 1)
	short := h.chalPred[:10]
	tests := []struct {
		name    string
		run     func() error
		wantErr string
	}{
		{"an unknown metric lists the known ones", func() error {
			_, err := Compare("auc", 2, h.truth, h.champPred, h.chalPred, nil, nil, CompareOptions{})
			return err
		}, `unknown metric "auc" (known: accuracy, brier,`},
		{"a binary metric on three classes", func() error {
			_, err := Compare(MetricF1, 3, h.truth, h.champPred, h.chalPred, nil, nil, CompareOptions{})
			return err
		}, "f1 is defined for binary models only"},
		{"roc_auc without the champion's scores", func() error {
			_, err := Compare(MetricROCAUC, 2, h.truth, h.champPred, h.chalPred, nil, h.chalPos, CompareOptions{})
			return err
		}, "the champion gave none"},
		{"log_loss without the challenger's scores", func() error {
			_, err := Compare(MetricLogLoss, 2, h.truth, h.champPred, h.chalPred, h.champPos, nil, CompareOptions{})
			return err
		}, "the challenger gave none"},
		{"challenger predictions of another length", func() error {
			_, err := Compare(MetricAccuracy, 2, h.truth, h.champPred, short, nil, nil, CompareOptions{})
			return err
		}, "challenger predictions have 10 rows, truth has 20"},
		{"a NaN challenger probability", func() error {
			pos := append([]float64(nil), h.chalPos...)
			pos[4] = math.NaN()
			_, err := Compare(MetricBrier, 2, h.truth, h.champPred, h.chalPred, h.champPos, pos, CompareOptions{})
			return err
		}, "challenger score[4] is NaN"},
		{"an empty holdout", func() error {
			_, err := Compare(MetricAccuracy, 2, nil, nil, nil, nil, nil, CompareOptions{})
			return err
		}, "no rows"},
		{"a negative number of resamples", func() error {
			_, err := Compare(MetricAccuracy, 2, h.truth, h.champPred, h.chalPred, nil, nil, CompareOptions{Resamples: -1})
			return err
		}, "resamples is -1"},
		{"a confidence of 1", func() error {
			_, err := Compare(MetricAccuracy, 2, h.truth, h.champPred, h.chalPred, nil, nil, CompareOptions{Confidence: 1})
			return err
		}, "confidence is 1: must be in (0, 1)"},
		{"roc_auc on a holdout with one class", func() error {
			ones := []int{1, 1, 1}
			_, err := Compare(MetricROCAUC, 2, ones, ones, ones, []float64{0.1, 0.2, 0.3}, []float64{0.3, 0.2, 0.1}, CompareOptions{})
			return err
		}, "roc_auc is undefined on this holdout"},
		{"roc_auc on a holdout with a single positive row", func() error {
			truth := []int{1, 0, 0, 0, 0, 0, 0, 0, 0, 0}
			pos := []float64{0.9, 0.1, 0.2, 0.3, 0.1, 0.2, 0.3, 0.1, 0.2, 0.3}
			_, err := Compare(MetricROCAUC, 2, truth, truth, truth, pos, pos, CompareOptions{Resamples: 200})
			return err
		}, "too few rows of one class"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestScoresAreIgnoredForLabelMetrics(t *testing.T) {
	h := syntheticHoldout(30, 1, 1, 1)
	bad := []float64{math.NaN()}
	if _, err := Compare(MetricAccuracy, 2, h.truth, h.champPred, h.chalPred, bad, bad, CompareOptions{Resamples: 10}); err != nil {
		t.Errorf("accuracy with unusable scores: %v; want the scores ignored", err)
	}
}

func TestCompareWorksForMulticlassMacroMetrics(t *testing.T) {
	truth := []int{0, 1, 2, 0, 1, 2, 0, 1, 2, 2}
	champ := []int{0, 1, 1, 0, 2, 2, 1, 1, 2, 0}
	chal := []int{0, 1, 2, 0, 1, 2, 1, 1, 2, 2}
	c, err := Compare(MetricF1Macro, 3, truth, champ, chal, nil, nil, CompareOptions{Resamples: 100})
	if err != nil {
		t.Fatal(err)
	}
	if c.Improvement <= 0 || c.Test != PairedBootstrap {
		t.Errorf("f1_macro: improvement %v by %q, want a positive improvement by the paired bootstrap", c.Improvement, c.Test)
	}
}

// classLabelMetrics are the metrics Compare and CompareAll take: those of
// a binary or multiclass model's predicted classes and positive-class
// scores.
func classLabelMetrics() []string {
	var out []string
	for _, name := range KnownMetrics() {
		if info := metricTable[name]; !info.regression && !info.probability {
			out = append(out, name)
		}
	}
	return out
}
