package evaluator

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Outcome is what Decide concludes.
type Outcome string

// Outcomes of Decide.
const (
	// OutcomePromote: Winner becomes the champion.
	OutcomePromote Outcome = "promote"
	// OutcomeKeep: there is a champion and no candidate qualified.
	OutcomeKeep Outcome = "keep"
	// OutcomeAwaitApproval: Winner qualified and the policy requires a
	// person's approval before it is promoted.
	OutcomeAwaitApproval Outcome = "await_approval"
	// OutcomeNone: there is no champion and no candidate passed.
	OutcomeNone Outcome = "none"
)

// Candidate is a freshly trained version with its holdout metrics and its
// comparisons with the champion.
type Candidate struct {
	Version   string  `json:"version"`
	Algorithm string  `json:"algorithm,omitempty"`
	Metrics   Metrics `json:"metrics"`
	// Comparisons with the champion, one per metric compared (the primary
	// metric and each guardrail metric, see Policy.ComparedMetrics); empty
	// when there is no champion.
	Comparisons []Comparison `json:"comparisons,omitempty"`
}

// Champion is the version the champion pointer names, with its metrics on
// the same holdout as the candidates.
type Champion struct {
	Version string  `json:"version"`
	Metrics Metrics `json:"metrics"`
}

// Decision is the result of Decide: what to do and why.
type Decision struct {
	Outcome Outcome `json:"outcome"`
	// Winner is the version to promote (or to approve); empty for keep and
	// none.
	Winner string `json:"winner,omitempty"`
	// PrimaryMetric is the policy's primary metric, for readers of the record.
	PrimaryMetric string `json:"primary_metric"`
	// Reasons starts with a headline sentence, followed by every
	// candidate's reasons prefixed with "candidate VERSION (ALGORITHM): ".
	Reasons []string `json:"reasons"`
	// Candidates holds one verdict per candidate, sorted by version.
	Candidates []CandidateVerdict `json:"candidates"`
}

// CandidateVerdict is how one candidate fared against the policy.
type CandidateVerdict struct {
	Version   string `json:"version"`
	Algorithm string `json:"algorithm,omitempty"`
	// Passed is true when the candidate met every condition of the policy;
	// the winner is the best candidate that passed.
	Passed bool `json:"passed"`
	// Value is the candidate's primary metric, nil when it has none.
	Value *float64 `json:"value,omitempty"`
	// Reasons are sentences, one per condition checked, saying whether it
	// held and with what numbers.
	Reasons []string `json:"reasons"`
	// Deciding is the reason that decided the candidate, for a one-line
	// summary: the first condition it failed; for a candidate that passed,
	// its comparison with the champion on the primary metric, or its first
	// reason when there is no champion.
	Deciding string `json:"deciding,omitempty"`
}

// tolerance absorbs floating-point noise in threshold comparisons, so that an
// improvement of 0.85 - 0.80 meets a required 0.05.
const tolerance = 1e-12

// Rules is a version of the rules Decide applies. A workflow that is
// replayed must decide as it did when it ran, so it records which version it
// decides by (RetrainWorkflow does, with workflow.GetVersion) and calls
// DecideBy.
type Rules int

const (
	// RulesExactSign are the first rules: an improvement (or a guardrail's
	// worsening) counted when it was above exact zero, so two values that
	// differed by one rounding step could promote, and candidates were
	// ranked the same way.
	RulesExactSign Rules = iota + 1
	// RulesTieTolerance are today's rules: values within 1e-12 × max(1,
	// |a|, |b|) of each other are a tie, which neither promotes nor ranks.
	RulesTieTolerance
)

// Decide applies the policy to the candidates of one run by today's rules
// (RulesTieTolerance). champion is nil when the model has none yet. Decide is
// deterministic and does no I/O, so it may run inside a workflow: the same
// arguments always give the same Decision, whatever the order of
// candidates. The rules are in the package documentation.
func Decide(p Policy, champion *Champion, candidates []Candidate) Decision {
	return DecideBy(RulesTieTolerance, p, champion, candidates)
}

// DecideBy is Decide by the given version of the rules.
func DecideBy(rules Rules, p Policy, champion *Champion, candidates []Candidate) Decision {
	better := improvement
	if rules == RulesExactSign {
		better = exactImprovement
	}
	d := Decision{PrimaryMetric: p.PrimaryMetric, Reasons: []string{}, Candidates: []CandidateVerdict{}}
	noChange := OutcomeNone
	if champion != nil {
		noChange = OutcomeKeep
	}
	if errs := p.Validate(); len(errs) > 0 {
		d.Outcome = noChange
		for _, err := range errs {
			d.Reasons = append(d.Reasons, "nothing promoted: the promotion policy is invalid: "+err.Error())
		}
		return d
	}
	if len(candidates) == 0 {
		d.Outcome = noChange
		d.Reasons = append(d.Reasons, headlineNoChange(champion, 0))
		return d
	}

	sorted := slices.Clone(candidates)
	slices.SortStableFunc(sorted, func(a, b Candidate) int { return cmp.Compare(a.Version, b.Version) })
	higher, _ := Direction(p.PrimaryMetric)
	best, passed := -1, 0
	var tied []string
	for i, c := range sorted {
		v := judge(p, champion, c, better)
		d.Candidates = append(d.Candidates, v)
		if !v.Passed {
			continue
		}
		passed++
		if best < 0 {
			best = i
			continue
		}
		switch gain := better(higher, *d.Candidates[best].Value, *v.Value); {
		case gain > 0:
			best, tied = i, nil
		case gain == 0:
			tied = append(tied, v.Version)
		}
	}

	if best < 0 {
		d.Outcome = noChange
		d.Reasons = append(d.Reasons, headlineNoChange(champion, len(sorted)))
	} else {
		w := d.Candidates[best]
		d.Winner = w.Version
		d.Outcome = OutcomePromote
		if p.RequireApproval {
			d.Outcome = OutcomeAwaitApproval
		}
		d.Reasons = append(d.Reasons, headlineWinner(p, champion, sorted[best], w, passed, len(sorted)))
		if len(tied) > 0 {
			d.Reasons = append(d.Reasons, fmt.Sprintf("tie on %s with %s broken by the lowest version string",
				p.PrimaryMetric, strings.Join(tied, ", ")))
		}
	}
	for _, v := range d.Candidates {
		prefix := "candidate " + label(v.Version, v.Algorithm) + ": "
		for _, r := range v.Reasons {
			d.Reasons = append(d.Reasons, prefix+r)
		}
	}
	return d
}

func headlineNoChange(champion *Champion, n int) string {
	var outcome string
	if champion != nil {
		outcome = "keep champion " + champion.Version
	} else {
		outcome = "nothing promoted (no champion yet)"
	}
	switch n {
	case 0:
		return outcome + ": there are no candidates"
	case 1:
		return outcome + ": the only candidate did not pass"
	}
	return fmt.Sprintf("%s: none of the %d candidates passed", outcome, n)
}

func headlineWinner(p Policy, champion *Champion, c Candidate, v CandidateVerdict, passed, n int) string {
	var b strings.Builder
	if p.RequireApproval {
		b.WriteString("await approval (require_approval) to ")
	}
	b.WriteString("promote " + label(v.Version, v.Algorithm))
	if champion == nil {
		b.WriteString(" as the first champion")
	} else {
		b.WriteString(" over champion " + champion.Version)
	}
	switch {
	case n == 1:
		b.WriteString(": the only candidate, and it passed; ")
	case passed == n:
		fmt.Fprintf(&b, ": the best of the %d candidates, all of which passed; ", n)
	case passed == 1:
		fmt.Fprintf(&b, ": the only one of %d candidates that passed; ", n)
	default:
		fmt.Fprintf(&b, ": the best of the %d candidates that passed (of %d); ", passed, n)
	}
	fmt.Fprintf(&b, "%s %s", p.PrimaryMetric, num(*v.Value))
	if champion != nil {
		if comp, ok := findComparison(c.Comparisons, p.PrimaryMetric); ok {
			fmt.Fprintf(&b, " vs champion %s", num(comp.Champion))
		}
	}
	return b.String()
}

// judge checks one candidate against every condition of the policy; better
// is the improvement by the rules in force.
func judge(p Policy, champion *Champion, c Candidate, better func(bool, float64, float64) float64) CandidateVerdict {
	v := CandidateVerdict{Version: c.Version, Algorithm: c.Algorithm, Passed: true, Reasons: []string{}}
	check := func(ok bool, reason string) {
		if !ok && v.Passed {
			v.Deciding = reason
		}
		v.Passed = v.Passed && ok
		v.Reasons = append(v.Reasons, reason)
	}
	done := func() CandidateVerdict {
		if v.Deciding == "" && len(v.Reasons) > 0 {
			v.Deciding = v.Reasons[0]
		}
		return v
	}

	if p.MinHoldoutRows > 0 {
		if c.Metrics.Rows >= p.MinHoldoutRows {
			check(true, fmt.Sprintf("holdout of %d rows (>= %d required)", c.Metrics.Rows, p.MinHoldoutRows))
		} else {
			check(false, fmt.Sprintf("holdout of %d rows, fewer than the %d required (min_holdout_rows)", c.Metrics.Rows, p.MinHoldoutRows))
		}
	}
	if val, ok := c.Metrics.Value(p.PrimaryMetric); ok && !math.IsNaN(val) && !math.IsInf(val, 0) {
		v.Value = &val
	} else if ok {
		check(false, fmt.Sprintf("%s is %v for this candidate, not a number it can be ranked by", p.PrimaryMetric, val))
	} else {
		check(false, fmt.Sprintf("no %s for this candidate: %s", p.PrimaryMetric, unavailable(c.Metrics, p.PrimaryMetric)))
	}
	for _, bound := range p.MinimumValues {
		check(checkBound(c.Metrics, bound))
	}
	if champion == nil {
		return done()
	}

	if comp, ok := findComparison(c.Comparisons, p.PrimaryMetric); ok {
		ok, reason := checkPrimary(p, comp, better)
		check(ok, reason)
		if v.Passed {
			v.Deciding = reason // replaced by a guardrail that fails below
		}
	} else {
		check(false, fmt.Sprintf("no comparison with champion %s on %s: the candidate cannot be judged", champion.Version, p.PrimaryMetric))
	}
	for _, g := range p.Guardrails {
		if comp, ok := findComparison(c.Comparisons, g.Metric); ok {
			check(checkGuardrail(g, comp, better))
		} else {
			check(false, fmt.Sprintf("guardrail %s: no comparison with champion %s", g.Metric, champion.Version))
		}
	}
	return done()
}

// checkBound: value >= bound for a score, value <= bound for a loss.
func checkBound(m Metrics, b Bound) (bool, string) {
	val, ok := m.Value(b.Metric)
	if !ok {
		return false, fmt.Sprintf("minimum %s %s cannot be checked: %s", b.Metric, num(b.Value), unavailable(m, b.Metric))
	}
	if higher, _ := Direction(b.Metric); higher {
		if val >= b.Value-tolerance {
			return true, fmt.Sprintf("%s %s meets the minimum %s", b.Metric, num(val), num(b.Value))
		}
		return false, fmt.Sprintf("%s %s is below the minimum %s", b.Metric, num(val), num(b.Value))
	}
	if val <= b.Value+tolerance {
		return true, fmt.Sprintf("%s %s meets the maximum %s (lower is better)", b.Metric, num(val), num(b.Value))
	}
	return false, fmt.Sprintf("%s %s is above the maximum %s (lower is better)", b.Metric, num(val), num(b.Value))
}

// checkPrimary applies the improvement thresholds and the significance test
// to the comparison on the primary metric, in one sentence.
func checkPrimary(p Policy, c Comparison, better func(bool, float64, float64) float64) (bool, string) {
	higher, _ := Direction(c.Metric)
	imp := better(higher, c.Champion, c.Challenger)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s vs champion %s", c.Metric, num(c.Challenger), num(c.Champion))
	if !higher {
		b.WriteString(" (lower is better: improvement = champion - challenger)")
	}
	b.WriteString(": ")

	ok := imp > 0
	switch {
	case imp <= 0:
		fmt.Fprintf(&b, "%s absolute, not better than the champion", signed(imp))
	case p.MinAbsoluteImprovement == 0:
		fmt.Fprintf(&b, "%s absolute", signed(imp))
	case imp >= p.MinAbsoluteImprovement-tolerance:
		fmt.Fprintf(&b, "%s absolute (>= %s required)", signed(imp), num(p.MinAbsoluteImprovement))
	default:
		ok = false
		fmt.Fprintf(&b, "%s absolute (< %s required)", signed(imp), num(p.MinAbsoluteImprovement))
	}

	b.WriteString(", ")
	switch rel := imp / math.Abs(c.Champion); {
	case c.Champion == 0:
		b.WriteString("relative change undefined (champion is 0)")
	case p.MinRelativeImprovement == 0:
		fmt.Fprintf(&b, "%s relative", percent(rel, true))
	case rel >= p.MinRelativeImprovement-tolerance:
		fmt.Fprintf(&b, "%s relative (>= %s required)", percent(rel, true), percent(p.MinRelativeImprovement, false))
	default:
		ok = false
		fmt.Fprintf(&b, "%s relative (< %s required)", percent(rel, true), percent(p.MinRelativeImprovement, false))
	}

	test := testName(c.Test)
	if c.Test == McNemarOneSided || c.Test == PairedBootstrap || c.Test == PairedTSquared || c.Test == PairedTAbsolute {
		test += " one-sided"
	}
	switch pv := c.PValue; {
	case p.SignificanceLevel == 0:
		fmt.Fprintf(&b, ", %s p=%s (no significance required)", test, pvalue(pv))
	case pv < p.SignificanceLevel:
		fmt.Fprintf(&b, ", %s p=%s < %s", test, pvalue(pv), pvalue(p.SignificanceLevel))
	default:
		ok = false
		fmt.Fprintf(&b, ", %s p=%s, not below %s", test, pvalue(pv), pvalue(p.SignificanceLevel))
	}
	switch {
	case c.Bound != nil && higher:
		fmt.Fprintf(&b, ", %s one-sided interval of challenger - champion [%s, +inf)",
			percent(c.Confidence, false), signed(*c.Bound))
	case c.Bound != nil:
		fmt.Fprintf(&b, ", %s one-sided interval of challenger - champion (-inf, %s]",
			percent(c.Confidence, false), signed(*c.Bound))
	case c.Resamples > 0: // recorded before one-sided bounds
		fmt.Fprintf(&b, ", %s interval of challenger - champion [%s, %s]",
			percent(c.Confidence, false), signed(c.IntervalLow), signed(c.IntervalHigh))
	}
	return ok, b.String()
}

// checkGuardrail: the worsening, -Improvement, is at most MaxDrop.
func checkGuardrail(g Guardrail, c Comparison, better func(bool, float64, float64) float64) (bool, string) {
	higher, _ := Direction(g.Metric)
	worse := -better(higher, c.Champion, c.Challenger)
	head := fmt.Sprintf("guardrail %s %s vs champion %s", g.Metric, num(c.Challenger), num(c.Champion))
	switch {
	case worse <= 0:
		return true, fmt.Sprintf("%s: not worse (a drop of at most %s allowed)", head, num(g.MaxDrop))
	case worse <= g.MaxDrop+tolerance:
		return true, fmt.Sprintf("%s: worse by %s (<= %s allowed)", head, num(worse), num(g.MaxDrop))
	}
	return false, fmt.Sprintf("%s: worse by %s (> %s allowed)", head, num(worse), num(g.MaxDrop))
}

// unavailable says why Metrics.Value has no value for metric.
func unavailable(m Metrics, metric string) string {
	info := metricTable[metric]
	switch {
	case m.Rows == 0:
		return "the candidate has no holdout metrics"
	case info.regression && m.Regression == nil:
		return fmt.Sprintf("%s is a regression metric, this model is a classifier", metric)
	case m.Regression != nil && !info.regression:
		return fmt.Sprintf("%s is a classification metric, this model is a regression model", metric)
	case metric == MetricR2:
		return "r2 is undefined: every holdout label is the same"
	case metric == MetricMAPE:
		return "mape is undefined: every holdout label is 0"
	case info.probability && m.Multiclass == nil:
		return fmt.Sprintf("%s needs the probability of every class of a multiclass model", metric)
	case metric == MetricROCAUCOVR:
		return "roc_auc_ovr is undefined: a class has no holdout row"
	case info.binaryOnly && m.Classes != 2:
		return fmt.Sprintf("%s is defined for binary models only, this model has %d classes", metric, m.Classes)
	case info.needsScores && m.LogLoss == nil:
		return "the model gave no probabilities"
	case metric == MetricROCAUC:
		return "the holdout has rows of one class only"
	}
	return "it is missing from the metrics"
}

func findComparison(cs []Comparison, metric string) (Comparison, bool) {
	for _, c := range cs {
		if c.Metric == metric {
			return c, true
		}
	}
	return Comparison{}, false
}

func label(version, algorithm string) string {
	if algorithm == "" {
		return version
	}
	return version + " (" + algorithm + ")"
}

func testName(test string) string {
	switch test {
	case McNemarOneSided:
		return "McNemar exact"
	case McNemarExact:
		return "McNemar exact two-sided"
	case McNemarChi2:
		return "McNemar chi-squared two-sided"
	case PairedBootstrap:
		return "paired bootstrap"
	case PairedTSquared:
		return "paired t-test on squared errors"
	case PairedTAbsolute:
		return "paired t-test on absolute errors"
	case "":
		return "test"
	}
	return test
}

// num formats a metric value with 4 significant digits.
func num(x float64) string { return strconv.FormatFloat(x, 'g', 4, 64) }

// signed is num with an explicit sign.
func signed(x float64) string {
	if x > 0 {
		return "+" + num(x)
	}
	if x == 0 {
		return "+0"
	}
	return num(x)
}

// percent formats a fraction as a percentage with 3 significant digits:
// 0.03444 is "3.44%".
func percent(x float64, withSign bool) string {
	s := strconv.FormatFloat(x*100, 'g', 3, 64) + "%"
	if withSign && x >= 0 {
		return "+" + s
	}
	return s
}

// pvalue formats a p-value with 3 significant digits.
func pvalue(x float64) string { return strconv.FormatFloat(x, 'g', 3, 64) }
