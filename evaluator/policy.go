package evaluator

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// DefaultSignificanceLevel is the significance level a configuration gets
// when it names none: with it, a challenger no better than the champion is
// promoted in at most 5% of runs. A Policy's zero value has no test; 0 in a
// configuration turns the test off explicitly.
const DefaultSignificanceLevel = 0.05

// Policy says when a candidate may replace the champion. Field names in
// errors and reasons are the JSON/YAML names. See the package documentation
// for how Decide applies it.
type Policy struct {
	// PrimaryMetric ranks candidates and is compared with the champion.
	PrimaryMetric string `json:"primary_metric" yaml:"primary_metric"`
	// MinAbsoluteImprovement is the least Improvement on the primary metric,
	// in the metric's own units and "better" direction (>= 0).
	MinAbsoluteImprovement float64 `json:"min_absolute_improvement" yaml:"min_absolute_improvement"`
	// MinRelativeImprovement is the least Improvement / |champion|, as a
	// fraction: 0.01 means 1% (>= 0).
	MinRelativeImprovement float64 `json:"min_relative_improvement" yaml:"min_relative_improvement"`
	// SignificanceLevel is alpha: the primary comparison's p-value must be
	// below it. 0 disables the test.
	SignificanceLevel float64 `json:"significance_level" yaml:"significance_level"`
	// Guardrails bound how much other metrics may worsen vs the champion.
	Guardrails []Guardrail `json:"guardrails" yaml:"guardrails"`
	// MinimumValues are floors (ceilings for losses) every candidate must
	// meet, the first champion included.
	MinimumValues []Bound `json:"minimum_values" yaml:"minimum_values"`
	// MinHoldoutRows is the least number of holdout rows a candidate must
	// have been scored on.
	MinHoldoutRows int `json:"min_holdout_rows" yaml:"min_holdout_rows"`
	// RequireApproval makes Decide answer await_approval instead of promote.
	RequireApproval bool `json:"require_approval" yaml:"require_approval"`
}

// Guardrail limits how much a metric may worsen against the champion.
type Guardrail struct {
	Metric string `json:"metric" yaml:"metric"`
	// MaxDrop is the largest allowed worsening, -Improvement, in the metric's
	// units (>= 0): 0.02 lets recall fall from 0.70 to 0.68, or log_loss rise
	// from 0.30 to 0.32.
	MaxDrop float64 `json:"max_drop" yaml:"max_drop"`
}

// Bound is the value a metric must at least reach: value >= Value for a
// higher-is-better metric, value <= Value for a loss.
type Bound struct {
	Metric string  `json:"metric" yaml:"metric"`
	Value  float64 `json:"value" yaml:"value"`
}

// PolicyError is one problem of a Policy, naming the field to fix.
type PolicyError struct {
	// Field is the JSON/YAML path of the field, such as "guardrails[1].metric".
	Field string
	// Problem says what is wrong and what is accepted.
	Problem string
}

// Error returns "field: problem".
func (e *PolicyError) Error() string { return e.Field + ": " + e.Problem }

// Validate returns every problem of the policy, each a *PolicyError, or nil.
func (p Policy) Validate() []error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &PolicyError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	// The metrics a message lists are those of the primary metric's task
	// (of a binary model when it names none it has).
	task := TaskBinary
	if info, ok := metricTable[p.PrimaryMetric]; ok && !slices.Contains(info.tasks, TaskBinary) {
		task = info.tasks[0]
	}
	known := strings.Join(MetricsFor(task), ", ")
	checkMetric := func(field, name string) {
		switch _, ok := metricTable[name]; {
		case name == "":
			add(field, "required (known: %s)", known)
		case !ok:
			add(field, "unknown %q (known: %s)", name, known)
		}
	}
	nonNegative := func(field string, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			add(field, "%v: must be a number >= 0", v)
		}
	}

	checkMetric("primary_metric", p.PrimaryMetric)
	nonNegative("min_absolute_improvement", p.MinAbsoluteImprovement)
	nonNegative("min_relative_improvement", p.MinRelativeImprovement)
	if !(p.SignificanceLevel >= 0 && p.SignificanceLevel < 1) {
		add("significance_level", "%v: must be in [0, 1) (0 disables the test; 0.05 is usual)", p.SignificanceLevel)
	}
	seen := map[string]int{}
	for i, g := range p.Guardrails {
		field := fmt.Sprintf("guardrails[%d]", i)
		checkMetric(field+".metric", g.Metric)
		if j, dup := seen[g.Metric]; dup && g.Metric != "" {
			add(field+".metric", "%q is already guarded by guardrails[%d]", g.Metric, j)
		}
		seen[g.Metric] = i
		nonNegative(field+".max_drop", g.MaxDrop)
	}
	clear(seen)
	for i, b := range p.MinimumValues {
		field := fmt.Sprintf("minimum_values[%d]", i)
		checkMetric(field+".metric", b.Metric)
		if j, dup := seen[b.Metric]; dup && b.Metric != "" {
			add(field+".metric", "%q already has a minimum in minimum_values[%d]", b.Metric, j)
		}
		seen[b.Metric] = i
		if math.IsNaN(b.Value) || math.IsInf(b.Value, 0) {
			add(field+".value", "%v: must be a finite number", b.Value)
		}
	}
	if p.MinHoldoutRows < 0 {
		add("min_holdout_rows", "%d: must be >= 0", p.MinHoldoutRows)
	}
	return errs
}

// Confidence is the CompareOptions.Confidence of this policy's comparisons:
// 1 - SignificanceLevel, so that a Comparison's one-sided bound lies beyond
// 0 exactly when its p-value is below the level the policy tests at; 0
// (Compare's default, 95%) when the policy has no test.
func (p Policy) Confidence() float64 {
	if p.SignificanceLevel <= 0 || p.SignificanceLevel >= 1 {
		return 0
	}
	return 1 - p.SignificanceLevel
}

// ComparedMetrics returns the metrics Compare must be run on for Decide: the
// primary metric, then the guardrail metrics in policy order, without
// duplicates.
func (p Policy) ComparedMetrics() []string {
	out := []string{p.PrimaryMetric}
	for _, g := range p.Guardrails {
		if !slices.Contains(out, g.Metric) {
			out = append(out, g.Metric)
		}
	}
	return out
}
