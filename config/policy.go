package config

import "github.com/kingmaker-ml/kingmaker/evaluator"

// Evaluator returns the decision rules of the policy.
func (p Policy) Evaluator() evaluator.Policy { return p.Policy }
