package evaluator

import (
	"fmt"
	"slices"
)

// Tasks of a model, with the names a config gives them (the same as
// package trainer's).
const (
	TaskBinary     = "binary"
	TaskMulticlass = "multiclass"
	TaskRegression = "regression"
)

// DefaultTopK is the k of top_k_accuracy: whether the true class is among
// the two most probable ones, scikit-learn's default.
const DefaultTopK = 2

// MetricTasks returns the tasks metric is defined for, nil for an unknown
// metric.
func MetricTasks(metric string) []string {
	return slices.Clone(metricTable[metric].tasks)
}

// MetricsFor returns the metrics of a task, sorted.
func MetricsFor(task string) []string {
	var out []string
	for _, name := range KnownMetrics() {
		if slices.Contains(metricTable[name].tasks, task) {
			out = append(out, name)
		}
	}
	return out
}

// CheckMetricTask returns nil when metric is defined for models of task,
// and otherwise a one-line error naming both and the metrics of the task.
func CheckMetricTask(metric, task string) error {
	info, ok := metricTable[metric]
	if !ok {
		return unknownMetric(metric)
	}
	if slices.Contains(info.tasks, task) {
		return nil
	}
	what := "a classification metric"
	switch {
	case info.regression:
		what = "a regression metric"
	case len(info.tasks) == 1:
		what = "defined for " + info.tasks[0] + " models only"
	}
	return fmt.Errorf("%s is %s, not one of a %s model (use one of: %s)", metric, what, task, joinNames(MetricsFor(task)))
}

// RegressionMetricsOf returns the Metrics of a regression model's
// predictions pred of labels truth (ScoreRegression).
func RegressionMetricsOf(truth, pred []float64) (Metrics, error) {
	rm, err := ScoreRegression(truth, pred)
	if err != nil {
		return Metrics{}, err
	}
	return Metrics{Rows: rm.Rows, Task: TaskRegression, Regression: &rm}, nil
}

// MulticlassMetricsOf returns the Metrics of a multiclass model: those of
// its predicted classes pred (Score) and those of its probability matrix
// proba (ScoreMulticlass, with top_k_accuracy's k = DefaultTopK).
func MulticlassMetricsOf(truth, pred []int, proba [][]float64) (Metrics, error) {
	if len(proba) == 0 {
		return Metrics{}, fmt.Errorf("no probability rows to score")
	}
	m, err := Score(len(proba[0]), truth, pred, nil)
	if err != nil {
		return Metrics{}, err
	}
	mm, err := ScoreMulticlass(truth, proba, DefaultTopK)
	if err != nil {
		return Metrics{}, err
	}
	m.Task, m.Multiclass = TaskMulticlass, &mm
	return m, nil
}

func joinNames(names []string) string {
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}
