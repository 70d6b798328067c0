package evaluator

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// metricsWith builds binary-model metrics holding the given values; only what
// Decide reads is filled in.
func metricsWith(rows int, values map[string]float64) Metrics {
	m := Metrics{Rows: rows, Classes: 2, PerClass: []ClassMetrics{{Class: 0}, {Class: 1}}}
	for name, v := range values {
		v := v
		switch name {
		case MetricAccuracy:
			m.Accuracy = v
		case MetricPrecisionMacro:
			m.PrecisionMacro = v
		case MetricRecallMacro:
			m.RecallMacro = v
		case MetricF1Macro:
			m.F1Macro = v
		case MetricPrecision:
			m.PerClass[1].Precision = v
		case MetricRecall:
			m.PerClass[1].Recall = v
		case MetricF1:
			m.PerClass[1].F1 = v
		case MetricROCAUC:
			m.ROCAUC = &v
		case MetricLogLoss:
			m.LogLoss = &v
		case MetricBrier:
			m.Brier = &v
		default:
			panic("metricsWith: unknown metric " + name)
		}
	}
	return m
}

// comparison builds what Compare would report for champion and challenger
// values on metric, with the given one-sided p-value, a two-sided interval
// of +-0.01 around the change, and a one-sided 95% bound on the side p says:
// the normal approximation's, improvement × (1 - z(0.95) / z(p)).
func comparison(metric string, champion, challenger, p float64) Comparison {
	higher, _ := Direction(metric)
	imp := improvement(higher, champion, challenger)
	bound := imp - 0.01
	if z := math.Sqrt2 * math.Erfinv(1-2*p); z > 0 && imp > 0 {
		bound = imp * (1 - 1.6448536269514722/z)
	}
	if !higher {
		bound = -bound
	}
	c := Comparison{
		Metric: metric, HigherIsBetter: higher, Rows: 5000,
		Champion: champion, Challenger: challenger,
		AbsoluteChange: challenger - champion,
		Improvement:    improvement(higher, champion, challenger),
		IntervalLow:    challenger - champion - 0.01, IntervalHigh: challenger - champion + 0.01,
		Confidence: 0.95, Bound: &bound, Resamples: 1000, Test: PairedBootstrap, PValue: p, BootstrapPValue: p,
	}
	if champion != 0 {
		rel, relImp := c.AbsoluteChange/math.Abs(champion), c.Improvement/math.Abs(champion)
		c.RelativeChange, c.RelativeImprovement = &rel, &relImp
	}
	if metric == MetricAccuracy {
		c.Test = McNemarOneSided
	}
	return c
}

// basePolicy is a typical policy: roc_auc must gain 0.005 and 1%, at 5%
// significance, recall may drop by 0.02 at most.
func basePolicy() Policy {
	return Policy{
		PrimaryMetric:          MetricROCAUC,
		MinAbsoluteImprovement: 0.005,
		MinRelativeImprovement: 0.01,
		SignificanceLevel:      0.05,
		Guardrails:             []Guardrail{{Metric: MetricRecall, MaxDrop: 0.02}},
		MinimumValues:          []Bound{{Metric: MetricROCAUC, Value: 0.7}},
		MinHoldoutRows:         1000,
	}
}

func champion842() *Champion {
	return &Champion{Version: "01HCHAMP", Metrics: metricsWith(5000, map[string]float64{MetricROCAUC: 0.842, MetricRecall: 0.70})}
}

// challenger builds a candidate with roc_auc and recall, compared with
// champion842 at the given p-value.
func challenger(version, algorithm string, auc, recall, p float64) Candidate {
	return Candidate{
		Version: version, Algorithm: algorithm,
		Metrics: metricsWith(5000, map[string]float64{MetricROCAUC: auc, MetricRecall: recall}),
		Comparisons: []Comparison{
			comparison(MetricROCAUC, 0.842, auc, p),
			comparison(MetricRecall, 0.70, recall, p),
		},
	}
}

func firstRunCandidate(version, algorithm string, rows int, auc float64) Candidate {
	return Candidate{Version: version, Algorithm: algorithm, Metrics: metricsWith(rows, map[string]float64{MetricROCAUC: auc, MetricRecall: 0.6})}
}

type decideCase struct {
	name        string
	policy      Policy
	champion    *Champion
	candidates  []Candidate
	wantOutcome Outcome
	wantWinner  string
}

func decideCases() []decideCase {
	withPolicy := func(edit func(*Policy)) Policy {
		p := basePolicy()
		edit(&p)
		return p
	}
	return []decideCase{
		{
			name:   "first run promotes the best candidate that passes the minimum values",
			policy: basePolicy(),
			candidates: []Candidate{
				firstRunCandidate("01H3", "id3", 5000, 0.81),
				firstRunCandidate("01H1", "knn", 5000, 0.83),
				firstRunCandidate("01H2", "forest", 5000, 0.65),
			},
			wantOutcome: OutcomePromote, wantWinner: "01H1",
		},
		{
			name:        "first run awaits approval when the policy requires it",
			policy:      withPolicy(func(p *Policy) { p.RequireApproval = true }),
			candidates:  []Candidate{firstRunCandidate("01H1", "knn", 5000, 0.83)},
			wantOutcome: OutcomeAwaitApproval, wantWinner: "01H1",
		},
		{
			name:   "first run promotes nothing when no candidate reaches the minimum values",
			policy: basePolicy(),
			candidates: []Candidate{
				firstRunCandidate("01H1", "knn", 5000, 0.62),
				firstRunCandidate("01H2", "forest", 5000, 0.69),
			},
			wantOutcome: OutcomeNone,
		},
		{
			name:   "first run refuses a candidate scored on too few holdout rows",
			policy: basePolicy(),
			candidates: []Candidate{
				firstRunCandidate("01H1", "knn", 812, 0.9),
				firstRunCandidate("01H2", "forest", 5000, 0.8),
			},
			wantOutcome: OutcomePromote, wantWinner: "01H2",
		},
		{
			name:   "first run refuses a candidate without the primary metric",
			policy: basePolicy(),
			candidates: []Candidate{
				{Version: "01H1", Algorithm: "knn", Metrics: metricsWith(5000, map[string]float64{MetricAccuracy: 0.9})},
			},
			wantOutcome: OutcomeNone,
		},
		{
			name:        "first run with no candidates promotes nothing",
			policy:      basePolicy(),
			wantOutcome: OutcomeNone,
		},
		{
			name:        "a challenger that beats every threshold replaces the champion",
			policy:      basePolicy(),
			champion:    champion842(),
			candidates:  []Candidate{challenger("01H3", "id3", 0.871, 0.69, 0.003)},
			wantOutcome: OutcomePromote, wantWinner: "01H3",
		},
		{
			name:        "a qualifying challenger awaits approval when the policy requires it",
			policy:      withPolicy(func(p *Policy) { p.RequireApproval = true }),
			champion:    champion842(),
			candidates:  []Candidate{challenger("01H3", "id3", 0.871, 0.69, 0.003)},
			wantOutcome: OutcomeAwaitApproval, wantWinner: "01H3",
		},
		{
			name:        "the champion is kept when the absolute gain is below the minimum",
			policy:      withPolicy(func(p *Policy) { p.MinAbsoluteImprovement = 0.02; p.MinRelativeImprovement = 0 }),
			champion:    champion842(),
			candidates:  []Candidate{challenger("01H3", "id3", 0.855, 0.70, 0.01)},
			wantOutcome: OutcomeKeep,
		},
		{
			name:        "the champion is kept when the relative gain is below the minimum",
			policy:      withPolicy(func(p *Policy) { p.MinRelativeImprovement = 0.05 }),
			champion:    champion842(),
			candidates:  []Candidate{challenger("01H3", "id3", 0.871, 0.70, 0.003)},
			wantOutcome: OutcomeKeep,
		},
		{
			name:        "the champion is kept when the gain is not significant",
			policy:      basePolicy(),
			champion:    champion842(),
			candidates:  []Candidate{challenger("01H3", "id3", 0.871, 0.70, 0.08)},
			wantOutcome: OutcomeKeep,
		},
		{
			name:        "a gain that is not significant qualifies when the test is disabled",
			policy:      withPolicy(func(p *Policy) { p.SignificanceLevel = 0 }),
			champion:    champion842(),
			candidates:  []Candidate{challenger("01H3", "id3", 0.871, 0.70, 0.08)},
			wantOutcome: OutcomePromote, wantWinner: "01H3",
		},
		{
			name:        "the champion is kept when a guardrail metric drops too far",
			policy:      basePolicy(),
			champion:    champion842(),
			candidates:  []Candidate{challenger("01H3", "id3", 0.871, 0.65, 0.003)},
			wantOutcome: OutcomeKeep,
		},
		{
			name:        "the champion is kept when the challenger is worse",
			policy:      basePolicy(),
			champion:    champion842(),
			candidates:  []Candidate{challenger("01H3", "id3", 0.83, 0.70, 0.9)},
			wantOutcome: OutcomeKeep,
		},
		{
			name:        "the champion is kept when the challenger only ties with zero thresholds",
			policy:      Policy{PrimaryMetric: MetricROCAUC},
			champion:    champion842(),
			candidates:  []Candidate{challenger("01H3", "id3", 0.842, 0.70, 1)},
			wantOutcome: OutcomeKeep,
		},
		{
			name:        "the champion is kept when a comparison is missing",
			policy:      basePolicy(),
			champion:    champion842(),
			candidates:  []Candidate{{Version: "01H3", Algorithm: "id3", Metrics: metricsWith(5000, map[string]float64{MetricROCAUC: 0.9, MetricRecall: 0.7})}},
			wantOutcome: OutcomeKeep,
		},
		{
			name:     "the best of several qualifying challengers wins",
			policy:   basePolicy(),
			champion: champion842(),
			candidates: []Candidate{
				challenger("01H3", "id3", 0.871, 0.70, 0.003),
				challenger("01H5", "forest", 0.893, 0.71, 0.001),
				challenger("01H4", "knn", 0.95, 0.60, 0.001),
			},
			wantOutcome: OutcomePromote, wantWinner: "01H5",
		},
		{
			name:     "a tie on the primary metric goes to the lowest version string",
			policy:   basePolicy(),
			champion: champion842(),
			candidates: []Candidate{
				challenger("01H9", "forest", 0.871, 0.70, 0.003),
				challenger("01H3", "id3", 0.871, 0.69, 0.003),
			},
			wantOutcome: OutcomePromote, wantWinner: "01H3",
		},
		{
			name:     "for a loss the improvement is champion minus challenger",
			policy:   Policy{PrimaryMetric: MetricLogLoss, MinAbsoluteImprovement: 0.01, MinRelativeImprovement: 0.05, SignificanceLevel: 0.05, MinimumValues: []Bound{{Metric: MetricLogLoss, Value: 0.5}}},
			champion: &Champion{Version: "01HCHAMP", Metrics: metricsWith(5000, map[string]float64{MetricLogLoss: 0.40})},
			candidates: []Candidate{
				{Version: "01H1", Algorithm: "knn", Metrics: metricsWith(5000, map[string]float64{MetricLogLoss: 0.35}),
					Comparisons: []Comparison{comparison(MetricLogLoss, 0.40, 0.35, 0.002)}},
				{Version: "01H2", Algorithm: "forest", Metrics: metricsWith(5000, map[string]float64{MetricLogLoss: 0.45}),
					Comparisons: []Comparison{comparison(MetricLogLoss, 0.40, 0.45, 0.99)}},
			},
			wantOutcome: OutcomePromote, wantWinner: "01H1",
		},
		{
			name:     "a guardrail on a loss forbids a rise larger than its max drop",
			policy:   Policy{PrimaryMetric: MetricAccuracy, Guardrails: []Guardrail{{Metric: MetricBrier, MaxDrop: 0.01}}},
			champion: &Champion{Version: "01HCHAMP", Metrics: metricsWith(5000, map[string]float64{MetricAccuracy: 0.80, MetricBrier: 0.15})},
			candidates: []Candidate{
				{Version: "01H1", Algorithm: "knn", Metrics: metricsWith(5000, map[string]float64{MetricAccuracy: 0.82, MetricBrier: 0.17}),
					Comparisons: []Comparison{comparison(MetricAccuracy, 0.80, 0.82, 0.01), comparison(MetricBrier, 0.15, 0.17, 0.9)}},
			},
			wantOutcome: OutcomeKeep,
		},
		{
			name:     "a threshold met exactly is met despite floating-point noise",
			policy:   Policy{PrimaryMetric: MetricAccuracy, MinAbsoluteImprovement: 0.05},
			champion: &Champion{Version: "01HCHAMP", Metrics: metricsWith(5000, map[string]float64{MetricAccuracy: 0.80})},
			candidates: []Candidate{
				{Version: "01H1", Metrics: metricsWith(5000, map[string]float64{MetricAccuracy: 0.85}),
					Comparisons: []Comparison{comparison(MetricAccuracy, 0.80, 0.85, 0.01)}},
			},
			wantOutcome: OutcomePromote, wantWinner: "01H1",
		},
		{
			name:     "any gain over a champion at zero meets the relative threshold",
			policy:   Policy{PrimaryMetric: MetricF1, MinRelativeImprovement: 0.1},
			champion: &Champion{Version: "01HCHAMP", Metrics: metricsWith(5000, map[string]float64{MetricF1: 0})},
			candidates: []Candidate{
				{Version: "01H1", Algorithm: "knn", Metrics: metricsWith(5000, map[string]float64{MetricF1: 0.4}),
					Comparisons: []Comparison{comparison(MetricF1, 0, 0.4, 0.001)}},
			},
			wantOutcome: OutcomePromote, wantWinner: "01H1",
		},
		{
			name:        "the champion is kept when there are no candidates",
			policy:      basePolicy(),
			champion:    champion842(),
			wantOutcome: OutcomeKeep,
		},
		{
			name:        "an invalid policy promotes nothing",
			policy:      withPolicy(func(p *Policy) { p.PrimaryMetric = "auc"; p.SignificanceLevel = 5 }),
			champion:    champion842(),
			candidates:  []Candidate{challenger("01H3", "id3", 0.871, 0.70, 0.003)},
			wantOutcome: OutcomeKeep,
		},
	}
}

func TestDecideMatchesGoldenDecisions(t *testing.T) {
	for _, tc := range decideCases() {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.policy, tc.champion, tc.candidates)
			if d.Outcome != tc.wantOutcome || d.Winner != tc.wantWinner {
				t.Errorf("outcome %q, winner %q; want %q, %q\nreasons:\n  %s",
					d.Outcome, d.Winner, tc.wantOutcome, tc.wantWinner, strings.Join(d.Reasons, "\n  "))
			}
			checkGolden(t, "decide", tc.name, d)
		})
	}
}

func TestDecideDoesNotDependOnCandidateOrder(t *testing.T) {
	for _, tc := range decideCases() {
		if len(tc.candidates) < 2 {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			want := Decide(tc.policy, tc.champion, tc.candidates)
			reversed := slices.Clone(tc.candidates)
			slices.Reverse(reversed)
			if got := Decide(tc.policy, tc.champion, reversed); !reflect.DeepEqual(got, want) {
				t.Errorf("reversed candidates give %+v, want %+v", got, want)
			}
		})
	}
}

func TestDecideReasonsShowTheNumbersAndFormulas(t *testing.T) {
	d := Decide(basePolicy(), champion842(), []Candidate{challenger("01H3", "id3", 0.871, 0.69, 0.003)})
	want := []string{
		"promote 01H3 (id3) over champion 01HCHAMP: the only candidate, and it passed; roc_auc 0.871 vs champion 0.842",
		"candidate 01H3 (id3): roc_auc 0.871 vs champion 0.842: +0.029 absolute (>= 0.005 required), +3.44% relative (>= 1% required), paired bootstrap one-sided p=0.003 < 0.05, 95% one-sided interval of challenger - champion [+0.01164, +inf)",
		"candidate 01H3 (id3): guardrail recall 0.69 vs champion 0.7: worse by 0.01 (<= 0.02 allowed)",
	}
	for _, w := range want {
		if !slices.Contains(d.Reasons, w) {
			t.Errorf("reasons lack %q; they are:\n  %s", w, strings.Join(d.Reasons, "\n  "))
		}
	}
}

func TestDecideRefusesToRankANaNMetric(t *testing.T) {
	d := Decide(Policy{PrimaryMetric: MetricAccuracy}, nil, []Candidate{
		{Version: "01H1", Metrics: metricsWith(100, map[string]float64{MetricAccuracy: math.NaN()})},
	})
	if d.Outcome != OutcomeNone {
		t.Errorf("outcome %q, want none for a candidate whose accuracy is NaN", d.Outcome)
	}
	if _, err := json.Marshal(d); err != nil {
		t.Errorf("the decision cannot be encoded: %v", err)
	}
}

func TestDecideLeavesItsArgumentsUnchanged(t *testing.T) {
	cands := []Candidate{challenger("01H9", "forest", 0.871, 0.70, 0.003), challenger("01H3", "id3", 0.88, 0.70, 0.003)}
	before := slices.Clone(cands)
	Decide(basePolicy(), champion842(), cands)
	if !reflect.DeepEqual(cands, before) {
		t.Error("Decide reordered or changed the caller's candidates")
	}
}

func TestAComparisonRecordedBeforeOneSidedTestsReadsAsTwoSided(t *testing.T) {
	// A run in flight across an upgrade decides on comparisons an earlier
	// version recorded: a two-sided McNemar p-value and no one-sided bound.
	old := comparison(MetricAccuracy, 0.80, 0.82, 0.01)
	old.Test, old.Bound = McNemarChi2, nil
	cand := Candidate{Version: "01H1", Metrics: metricsWith(5000, map[string]float64{MetricAccuracy: 0.82}), Comparisons: []Comparison{old}}
	champ := &Champion{Version: "01HCHAMP", Metrics: metricsWith(5000, map[string]float64{MetricAccuracy: 0.80})}
	d := DecideBy(RulesExactSign, Policy{PrimaryMetric: MetricAccuracy, SignificanceLevel: 0.05}, champ, []Candidate{cand})
	want := "McNemar chi-squared two-sided p=0.01 < 0.05, 95% interval of challenger - champion [+0.01, +0.03]"
	if d.Outcome != OutcomePromote || !strings.Contains(d.Candidates[0].Deciding, want) {
		t.Errorf("outcome %q, deciding %q; want promote with %q", d.Outcome, d.Candidates[0].Deciding, want)
	}
}

func TestPolicyConfidenceIsOneMinusTheSignificanceLevel(t *testing.T) {
	for _, tc := range []struct{ alpha, want float64 }{{0.05, 0.95}, {0.01, 0.99}, {0, 0}} {
		if got := (Policy{SignificanceLevel: tc.alpha}).Confidence(); got != tc.want {
			t.Errorf("Confidence() at significance %v = %v, want %v", tc.alpha, got, tc.want)
		}
	}
}
