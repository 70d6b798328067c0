package config

import "github.com/kingmaker-ml/kingmaker/evaluator"

// Evaluator returns the promotion policy in the evaluator's terms.
func (p Policy) Evaluator() evaluator.Policy {
	out := evaluator.Policy{
		PrimaryMetric:          p.PrimaryMetric,
		MinAbsoluteImprovement: p.MinAbsoluteImprovement,
		MinRelativeImprovement: p.MinRelativeImprovement,
		SignificanceLevel:      p.SignificanceLevel,
		MinHoldoutRows:         p.MinHoldoutRows,
		RequireApproval:        p.RequireApproval,
	}
	for _, g := range p.Guardrails {
		out.Guardrails = append(out.Guardrails, evaluator.Guardrail{Metric: g.Metric, MaxDrop: g.MaxDrop})
	}
	for _, b := range p.MinimumValues {
		out.MinimumValues = append(out.MinimumValues, evaluator.Bound{Metric: b.Metric, Value: b.Value})
	}
	return out
}
