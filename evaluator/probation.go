package evaluator

import (
	"fmt"
	"math"
)

// Outcomes of a probation (see JudgeProbation).
const (
	// ProbationConfirmed keeps the new champion: the live rows show no
	// significant drop beyond the allowed one.
	ProbationConfirmed = "confirmed"
	// ProbationRolledBack restores the previous champion.
	ProbationRolledBack = "rolled_back"
	// ProbationInconclusive keeps the new champion for want of labelled
	// live rows: the holdout test that promoted it stands.
	ProbationInconclusive = "inconclusive"
)

// ProbationRules are the thresholds of a model's policy.probation that the
// end-of-period test applies.
type ProbationRules struct {
	Metric            string  `json:"metric"`
	MinLabelledRows   int     `json:"min_labelled_rows"`
	MaxDrop           float64 `json:"max_drop"`
	SignificanceLevel float64 `json:"significance_level"`
}

// ProbationEvidence is the paired comparison of a probation: the previous
// champion compared as the challenger of the new one on the live rows both
// scored whose label is known, so that Comparison.Improvement is how much
// better the previous champion did (the new one's drop) and
// Comparison.PValue the one-sided p-value of "the previous champion is not
// better". Comparison is nil when there were no such rows.
type ProbationEvidence struct {
	New          string      `json:"new"`
	Previous     string      `json:"previous"`
	LabelledRows int         `json:"labelled_rows"`
	Comparison   *Comparison `json:"comparison,omitempty"`
}

// ProbationVerdict is a probation's outcome and the sentence that says why.
type ProbationVerdict struct {
	Outcome string  `json:"outcome"`
	Reason  string  `json:"reason"`
	Drop    float64 `json:"drop"`
	PValue  float64 `json:"p_value"`
}

// JudgeProbation decides a probation at the end of its period. With fewer
// than MinLabelledRows labelled rows it is inconclusive. Otherwise the new
// champion is rolled back when both
//
//	drop    = Improvement of the previous champion over the new one > MaxDrop
//	p-value of "the previous champion is not better" < SignificanceLevel
//
// hold (the p-value is McNemar's one-sided exact test for accuracy, the
// one-sided paired bootstrap for the other metrics, as in Compare), and
// confirmed otherwise. A drop within the tie tolerance of MaxDrop does not
// roll back. It is deterministic, so a workflow calls it.
func JudgeProbation(r ProbationRules, ev ProbationEvidence) ProbationVerdict {
	if ev.LabelledRows < r.MinLabelledRows || ev.Comparison == nil {
		return ProbationVerdict{Outcome: ProbationInconclusive, Reason: fmt.Sprintf(
			"%d labelled live rows scored by both %s and %s, fewer than policy.probation.min_labelled_rows %d: %s is kept, unjudged",
			ev.LabelledRows, ev.New, ev.Previous, r.MinLabelledRows, ev.New)}
	}
	c := ev.Comparison
	v := ProbationVerdict{Drop: c.Improvement, PValue: c.PValue}
	what := fmt.Sprintf("on %d labelled live rows %s %s %s vs previous champion %s %s (drop %s, one-sided %s p=%s)",
		ev.LabelledRows, ev.New, c.Metric, num(c.Champion), ev.Previous, num(c.Challenger), signed(c.Improvement), c.Test, pvalue(c.PValue))
	tol := tolerance * max(1, math.Abs(r.MaxDrop))
	switch {
	case c.Improvement > r.MaxDrop+tol && c.PValue < r.SignificanceLevel:
		v.Outcome = ProbationRolledBack
		v.Reason = fmt.Sprintf("%s: worse by more than policy.probation.max_drop %g, significant at %g: roll back to %s", what, r.MaxDrop, r.SignificanceLevel, ev.Previous)
	case c.Improvement > r.MaxDrop+tol:
		v.Outcome = ProbationConfirmed
		v.Reason = fmt.Sprintf("%s: worse by more than policy.probation.max_drop %g but not significant at %g: confirmed", what, r.MaxDrop, r.SignificanceLevel)
	default:
		v.Outcome = ProbationConfirmed
		v.Reason = fmt.Sprintf("%s: within policy.probation.max_drop %g: confirmed", what, r.MaxDrop)
	}
	return v
}
