package evaluator

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestValidateAcceptsATypicalPolicy(t *testing.T) {
	if errs := basePolicy().Validate(); len(errs) != 0 {
		t.Errorf("Validate() = %v, want no errors", errs)
	}
}

func TestValidateNamesTheFieldOfEveryProblem(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		want   []string
	}{
		{"a missing primary metric is required", Policy{}, []string{
			"primary_metric: required (known: accuracy, brier, f1, f1_macro, log_loss, precision, precision_macro, recall, recall_macro, roc_auc)",
		}},
		{"an unknown primary metric lists the known ones", Policy{PrimaryMetric: "x"}, []string{
			`primary_metric: unknown "x" (known: accuracy, brier, f1, f1_macro, log_loss, precision, precision_macro, recall, recall_macro, roc_auc)`,
		}},
		{"negative or NaN thresholds are refused", Policy{PrimaryMetric: "f1", MinAbsoluteImprovement: -0.01, MinRelativeImprovement: math.NaN()}, []string{
			"min_absolute_improvement: -0.01: must be a number >= 0",
			"min_relative_improvement: NaN: must be a number >= 0",
		}},
		{"a significance level of 1 or more is refused", Policy{PrimaryMetric: "f1", SignificanceLevel: 1}, []string{
			"significance_level: 1: must be in [0, 1) (0 disables the test; 0.05 is usual)",
		}},
		{"guardrails name their index", Policy{PrimaryMetric: "f1", Guardrails: []Guardrail{{Metric: "recall", MaxDrop: 0.1}, {Metric: "rcall", MaxDrop: -1}, {Metric: "recall"}}}, []string{
			`guardrails[1].metric: unknown "rcall" (known: accuracy, brier, f1, f1_macro, log_loss, precision, precision_macro, recall, recall_macro, roc_auc)`,
			"guardrails[1].max_drop: -1: must be a number >= 0",
			`guardrails[2].metric: "recall" is already guarded by guardrails[0]`,
		}},
		{"minimum values name their index", Policy{PrimaryMetric: "f1", MinimumValues: []Bound{{Metric: "brier", Value: math.Inf(1)}, {Metric: "brier", Value: 0.2}}}, []string{
			"minimum_values[0].value: +Inf: must be a finite number",
			`minimum_values[1].metric: "brier" already has a minimum in minimum_values[0]`,
		}},
		{"a negative row count is refused", Policy{PrimaryMetric: "f1", MinHoldoutRows: -5}, []string{
			"min_holdout_rows: -5: must be >= 0",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, err := range tc.policy.Validate() {
				var pe *PolicyError
				if !errors.As(err, &pe) || pe.Field == "" {
					t.Errorf("error %v is not a *PolicyError naming its field", err)
				}
				got = append(got, err.Error())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Validate() =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

func TestComparedMetricsArePrimaryThenGuardrailsWithoutDuplicates(t *testing.T) {
	p := Policy{PrimaryMetric: "roc_auc", Guardrails: []Guardrail{{Metric: "recall"}, {Metric: "roc_auc"}, {Metric: "brier"}}}
	if got, want := p.ComparedMetrics(), []string{"roc_auc", "recall", "brier"}; !slices.Equal(got, want) {
		t.Errorf("ComparedMetrics() = %q, want %q", got, want)
	}
}
