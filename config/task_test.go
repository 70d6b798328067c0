package config

import (
	"strings"
	"testing"
)

// taskConfig is a model of the given task, label and policy lines, with
// candidates.
func taskConfig(lines string) string {
	return `
models:
  - name: m
    source: {table: t}
    features: [{name: x, type: numeric}]
` + lines
}

func TestTaskDefaultsAndValidation(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		// want lists every problem, one a line; empty means valid.
		want []string
	}{
		{"a regression model needs no classes and defaults to rmse",
			"    task: regression\n    label: {column: y}\n    candidates: [{algorithm: linear}, {algorithm: knn}]\n", nil},
		{"a five-class model is multiclass and defaults to log_loss",
			"    label: {column: y, classes: [a, b, c, d, e]}\n    candidates: [{algorithm: logistic}]\n", nil},
		{"label.classes on a regression model is refused naming the field",
			"    task: regression\n    label: {column: y, classes: [a, b]}\n    candidates: [{algorithm: linear}]\n",
			[]string{"models[0].label.classes: a regression model predicts a number and has no classes: remove label.classes (or set task: binary or multiclass)"}},
		{"an unknown task names the known ones",
			"    task: ranking\n    label: {column: y}\n    candidates: [{algorithm: logistic}]\n",
			[]string{`models[0].task: unknown "ranking" (known: binary, multiclass, regression)`}},
		{"task binary with three classes is refused",
			"    task: binary\n    label: {column: y, classes: [a, b, c]}\n    candidates: [{algorithm: logistic}]\n",
			[]string{"models[0].label.classes: task binary needs exactly two classes, 3 are listed (three or more are task multiclass)"}},
		{"task multiclass with two classes is refused",
			"    task: multiclass\n    label: {column: y}\n    candidates: [{algorithm: logistic}]\n",
			[]string{"models[0].label.classes: task multiclass needs at least three classes, 2 are listed (two are task binary)"}},
		{"a binary-only metric on a multiclass model names the field and the metrics of the task",
			"    label: {column: y, classes: [a, b, c]}\n    candidates: [{algorithm: logistic}]\n    policy: {primary_metric: roc_auc}\n",
			[]string{"models[0].policy.primary_metric: roc_auc is defined for binary models only, not one of a multiclass model (use one of: accuracy, brier, f1_macro, log_loss, precision_macro, recall_macro, roc_auc_ovr, top_k_accuracy)"}},
		{"a classification metric on a regression model is refused, in guardrails and minimum values too",
			"    task: regression\n    label: {column: y}\n    candidates: [{algorithm: linear}]\n    policy:\n      primary_metric: accuracy\n      guardrails: [{metric: log_loss, max_drop: 0.1}, {metric: mae, max_drop: 1}]\n      minimum_values: [{metric: roc_auc, value: 0.6}, {metric: r2, value: 0.5}]\n",
			[]string{
				"models[0].policy.primary_metric: accuracy is a classification metric, not one of a regression model (use one of: mae, mape, median_ae, r2, rmse)",
				"models[0].policy.guardrails[0].metric: log_loss is a classification metric, not one of a regression model (use one of: mae, mape, median_ae, r2, rmse)",
				"models[0].policy.minimum_values[0].metric: roc_auc is defined for binary models only, not one of a regression model (use one of: mae, mape, median_ae, r2, rmse)",
			}},
		{"a regression metric on a classifier is refused",
			"    label: {column: y}\n    candidates: [{algorithm: logistic}]\n    policy: {primary_metric: rmse}\n",
			[]string{"models[0].policy.primary_metric: rmse is a regression metric, not one of a binary model (use one of: accuracy, brier, f1, f1_macro, log_loss, precision, precision_macro, recall, recall_macro, roc_auc)"}},
		{"an algorithm without the task is refused naming the candidate",
			"    task: regression\n    label: {column: y}\n    candidates: [{algorithm: naive_bayes}]\n",
			[]string{"models[0].candidates[0].algorithm: algorithm naive_bayes does not support task regression; use one of: "}},
		{"a shadow period is refused for regression",
			"    task: regression\n    label: {column: y}\n    candidates: [{algorithm: linear}]\n    policy: {shadow: {period: 1h}}\n",
			[]string{"models[0].policy.shadow.period: a shadow period judges a winner by the class it predicts"}},
		{"linear is refused for a classifier",
			"    label: {column: y}\n    candidates: [{algorithm: linear}]\n",
			[]string{"models[0].candidates[0].algorithm: algorithm linear does not support task binary; use one of: "}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse([]byte(taskConfig(c.yaml)))
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("want valid, got:\n%v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want %q, got a valid config", c.want)
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(c.want) {
				t.Fatalf("got %d problems:\n%v\nwant %d: %q", len(got), err, len(c.want), c.want)
			}
			for i, w := range c.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("problem %d is\n  %s\nwant it to start\n  %s", i, got[i], w)
				}
			}
		})
	}
}

func TestTaskDefaults(t *testing.T) {
	cfg, err := Parse([]byte(taskConfig("    task: regression\n    label: {column: y}\n    candidates: [{algorithm: linear}]\n  - name: five\n    source: {table: t}\n    features: [{name: x, type: numeric}]\n    label: {column: y, classes: [a, b, c, d, e]}\n    candidates: [{algorithm: logistic}]\n  - name: two\n    source: {table: t}\n    features: [{name: x, type: numeric}]\n    label: {column: y}\n    candidates: [{algorithm: logistic}]\n")))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct{ task, metric string }{{TaskRegression, "rmse"}, {TaskMulticlass, "log_loss"}, {TaskBinary, "roc_auc"}} {
		m := &cfg.Models[i]
		if m.TaskName() != want.task || m.Policy.PrimaryMetric != want.metric {
			t.Errorf("model %s: task %q primary metric %q, want %q and %q", m.Name, m.TaskName(), m.Policy.PrimaryMetric, want.task, want.metric)
		}
	}
	if n := len(cfg.Models[0].Label.Classes); n != 0 {
		t.Errorf("a regression model got %d default classes, want none", n)
	}
}
