package trainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Task is what a model predicts: a class out of two, a class out of three or more, or a number.
type Task string

// The tasks a Schema can name.
const (
	// Binary models predict one of exactly two classes and score P(class 1).
	Binary Task = "binary"
	// Multiclass models predict one of three or more classes.
	Multiclass Task = "multiclass"
	// Regression models predict a number (Regressor.PredictValues); their schema has no classes.
	Regression Task = "regression"
)

// allTasks lists the tasks in documentation order.
var allTasks = []Task{Binary, Multiclass, Regression}

// ErrUnsupportedTask is returned by Supports, by Train for data of a task the algorithm does not
// support, and by the methods of a model that its task cannot answer (Predict of a regression
// model).
var ErrUnsupportedTask = errors.New("unsupported task")

// algorithmTasks is the task table: the tasks each algorithm supports. Every registered algorithm
// must have an entry (register panics otherwise), so a new algorithm states its tasks.
var algorithmTasks = map[string][]Task{
	algLogistic:   {Binary, Multiclass},
	algID3:        {Binary, Multiclass},
	algForest:     {Binary, Multiclass},
	algNaiveBayes: {Binary, Multiclass},
	algKNN:        {Binary, Multiclass, Regression},
	algXGBoost:    {Binary, Multiclass, Regression},
	algONNX:       {Binary, Multiclass, Regression},
	algLinear:     {Regression},
}

// DefaultTask is the task of a schema that names none, as every schema did before tasks existed:
// binary for two classes, multiclass for more, and none ("") for fewer (such a schema must name
// task regression).
func DefaultTask(classes int) Task {
	switch {
	case classes == 2:
		return Binary
	case classes > 2:
		return Multiclass
	}
	return ""
}

// task returns the schema's task, or the default for its classes when it names none.
func (s Schema) task() Task {
	if s.Task != "" {
		return s.Task
	}
	return DefaultTask(len(s.Classes))
}

// MarshalJSON writes the task only when it is not the default for the classes, so that a
// classification schema, and the header of every classification artifact, reads exactly as it did
// before tasks existed (and encodes to the same bytes).
func (s Schema) MarshalJSON() ([]byte, error) {
	type plain Schema // without the MarshalJSON method
	p := plain(s)
	if p.Task == DefaultTask(len(p.Classes)) {
		p.Task = ""
	}
	if p.Classes == nil {
		p.Classes = []string{}
	}
	return json.Marshal(p)
}

// validateTask checks that the task is known and fits the classes: binary has exactly two,
// multiclass three or more, regression none.
func (s Schema) validateTask() error {
	n := len(s.Classes)
	switch s.task() {
	case "":
		return fmt.Errorf("%w: schema has %d classes (need at least two)", ErrInvalidData, n)
	case Binary:
		if n != 2 {
			return fmt.Errorf("%w: schema of task %s has %d classes (want exactly two)", ErrInvalidData, Binary, n)
		}
	case Multiclass:
		if n < 3 {
			return fmt.Errorf("%w: schema of task %s has %d classes (want three or more; two classes are task %s)", ErrInvalidData, Multiclass, n, Binary)
		}
	case Regression:
		if n != 0 {
			return fmt.Errorf("%w: schema of task %s lists %d classes (want none)", ErrInvalidData, Regression, n)
		}
	default:
		return fmt.Errorf("%w: schema task %q is unknown (want %s)", ErrInvalidData, s.Task, taskList(allTasks))
	}
	return nil
}

// Tasks returns the tasks an algorithm supports, in the order binary, multiclass, regression. An
// unknown algorithm gives the error of Lookup.
func Tasks(algorithm string) ([]Task, error) {
	if _, err := Lookup(algorithm); err != nil {
		return nil, err
	}
	return slices.Clone(algorithmTasks[algorithm]), nil
}

// Supports returns nil when the algorithm can train models of the task. Otherwise it returns a
// one-line error naming both, matching ErrUnsupportedTask, such as "algorithm naive_bayes does not
// support task regression; use one of: linear" (the algorithms of this build that do), or the
// error of Lookup for an unknown algorithm.
func Supports(algorithm string, task Task) error {
	if a, ok := algorithms[algorithm]; !ok || !a.fromFile {
		if _, err := Lookup(algorithm); err != nil {
			return err
		}
	}
	if !slices.Contains(allTasks, task) {
		return taskErrorf("unknown task %q (known: %s)", task, taskList(allTasks))
	}
	if slices.Contains(algorithmTasks[algorithm], task) {
		return nil
	}
	able := AlgorithmsFor(task)
	if len(able) == 0 {
		return taskErrorf("algorithm %s does not support task %s, and no algorithm of this build does", algorithm, task)
	}
	return taskErrorf("algorithm %s does not support task %s; use one of: %s", algorithm, task, strings.Join(able, ", "))
}

// taskErrorf builds an error that reads as given and matches ErrUnsupportedTask.
// AlgorithmsFor returns the algorithms of this build that train models of
// the task, sorted.
func AlgorithmsFor(task Task) []string {
	var able []string
	for _, name := range Algorithms() {
		if slices.Contains(algorithmTasks[name], task) {
			able = append(able, name)
		}
	}
	return able
}

func taskErrorf(format string, args ...any) error {
	return &taskError{msg: fmt.Sprintf(format, args...)}
}

type taskError struct{ msg string }

func (e *taskError) Error() string        { return e.msg }
func (e *taskError) Is(target error) bool { return target == ErrUnsupportedTask }

func taskList(tasks []Task) string {
	s := make([]string, len(tasks))
	for i, t := range tasks {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// EffectiveTask returns the task of the schema: the one it names, or the default for its classes
// (DefaultTask) when it names none.
func (s Schema) EffectiveTask() Task { return s.task() }
