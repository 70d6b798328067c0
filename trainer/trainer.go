package trainer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Kind is the kind of a feature: numeric or categorical.
type Kind string

// The feature kinds a Schema can hold.
const (
	// Numeric features hold any finite float64.
	Numeric Kind = "numeric"
	// Categorical features hold the index of a category of Feature.Categories as a float64,
	// or -1 for a category the schema does not know.
	Categorical Kind = "categorical"
)

// Schema is the feature schema a model is trained on; it travels in the artifact header.
type Schema struct {
	Features []Feature `json:"features"`
	// Classes are the class values in fixed order; index = class id. None for task regression.
	Classes []string `json:"classes"`
	// Task is what the model predicts. Empty means the default for the classes (DefaultTask):
	// binary for two, multiclass for more; a regression schema names it. A model's Schema always
	// has it set. The JSON form leaves out a default task (see MarshalJSON).
	Task Task `json:"task,omitempty"`
}

// Feature is one input column of a Schema.
type Feature struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Categories are the known values of a categorical feature, in fixed order; index = category id.
	// Empty for numeric features.
	Categories []string `json:"categories,omitempty"`
}

// Data is a training or scoring grid: X[i][j] is feature j of row i; a categorical feature holds
// the category index as float64 (−1 = unknown category).
type Data struct {
	Schema Schema
	X      [][]float64
	// Y holds the class id of each row for a classification task; nil when scoring and for
	// regression.
	Y []int
	// Target holds the number to predict for each row for task regression; nil when scoring and
	// for classification.
	Target []float64
}

// Params are the numeric parameters of an algorithm, validated per algorithm. Names missing from a
// Params take the algorithm's default (see Trainer.Defaults).
type Params map[string]float64

// Trainer trains models of one algorithm. Trainers are stateless and safe for concurrent use.
type Trainer interface {
	// Algorithm returns the algorithm's name, as written in the config.
	Algorithm() string
	// Defaults returns a fresh copy of every parameter the algorithm knows, with its default.
	Defaults() Params
	// Validate reports every problem with p at once; each problem is a *ParamError naming the
	// parameter and what is allowed. Parameters absent from p are not checked (they take defaults).
	Validate(p Params) error
	// Train fits a model on d with p over the defaults. It checks ctx between stages and returns
	// ctx.Err() when cancelled. Errors caused by d or p wrap ErrInvalidData or ErrInvalidParams:
	// retrying them cannot help.
	Train(ctx context.Context, d *Data, p Params) (Model, error)
}

// Model is a trained, immutable model. Its methods are safe for concurrent use.
type Model interface {
	// Algorithm returns the name of the algorithm that trained the model.
	Algorithm() string
	// Schema returns the schema the model was trained on; Predict expects rows in its layout.
	Schema() Schema
	// Params returns every parameter the model was trained with, defaults included.
	Params() Params
	// Predict returns the class id of each row of x and, for binary models that give scores,
	// positive[i] = P(class 1 | row i); positive is nil otherwise. A row that does not fit the
	// schema (wrong width, NaN or infinite value, category index out of range) gives an error
	// naming the row and the feature. A categorical value of −1 (unknown category) is valid.
	Predict(x [][]float64) (classes []int, positive []float64, err error)
	// MarshalBinary encodes the model as an artifact: a versioned header then the payload
	// (see the package documentation). Decode reads it back.
	MarshalBinary() ([]byte, error)
}

// Regressor is a Model of task regression. Such a model still implements Model, so every caller
// of Model keeps working unchanged, but its Predict returns an error matching ErrUnsupportedTask:
// it has no classes. Callers holding a model whose Schema().Task is Regression assert Regressor.
type Regressor interface {
	Model
	// PredictValues returns the predicted number for each row of x, with the row checks of
	// Predict.
	PredictValues(x [][]float64) ([]float64, error)
}

// Prober is a classification Model that also gives the probability of every class. Every
// classifier of the package implements it; a caller asserts it (a model of another build may
// not). Predict is unchanged: its class is the most probable one (each algorithm's documentation
// states how it breaks ties) and, for a binary model, its score is column 1 of PredictProba, bit
// for bit.
type Prober interface {
	Model
	// PredictProba returns, for each row of x, one probability per class in Schema.Classes order
	// (a class the model never saw in training gets 0), summing to 1, with the row checks of
	// Predict. A model of task regression returns an error matching ErrUnsupportedTask.
	PredictProba(x [][]float64) ([][]float64, error)
}

// Errors that callers branch on, matched with errors.Is.
var (
	// ErrUnknownAlgorithm is returned by Lookup and Decode for an algorithm name this build does not know.
	ErrUnknownAlgorithm = errors.New("unknown algorithm")
	// ErrInvalidParams wraps every *ParamError.
	ErrInvalidParams = errors.New("invalid parameter")
	// ErrInvalidData wraps every problem with a Data or Schema given to Train or with rows given to Predict.
	ErrInvalidData = errors.New("invalid data")
	// ErrNoRows is returned (wrapped with ErrInvalidData) by Train for data without rows.
	ErrNoRows = errors.New("no training rows")
	// ErrOneClass is returned (wrapped with ErrInvalidData) by Train when every row has the same class.
	ErrOneClass = errors.New("one-class training data")
	// ErrCorruptArtifact wraps every error of Decode about the bytes it was given.
	ErrCorruptArtifact = errors.New("corrupt artifact")
)

// ParamError is a problem with one parameter. It matches ErrInvalidParams with errors.Is.
type ParamError struct {
	Algorithm string
	Param     string
	Problem   string
}

// Error reads "algorithm: param: problem".
func (e *ParamError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Algorithm, e.Param, e.Problem)
}

// Is reports whether target is ErrInvalidParams.
func (e *ParamError) Is(target error) bool { return target == ErrInvalidParams }

// algorithm is what each algorithm file registers: its trainer and its payload decoder.
type algorithm struct {
	trainer Trainer
	// decode rebuilds a model from the payload of an artifact whose header was already checked.
	decode func(h header, payload []byte) (Model, error)
	// fromFile marks an algorithm whose models are registered from a file, never trained ("onnx"):
	// Decode reads its artifacts, but Algorithms leaves it out and Lookup refuses it.
	fromFile bool
}

// algorithms is filled by the init functions of the algorithm files and never changes afterwards.
var algorithms = map[string]algorithm{}

func register(a algorithm) {
	name := a.trainer.Algorithm()
	if _, dup := algorithms[name]; dup {
		panic("trainer: algorithm registered twice: " + name)
	}
	if len(algorithmTasks[name]) == 0 {
		panic("trainer: algorithm without tasks in algorithmTasks: " + name)
	}
	algorithms[name] = a
}

// Algorithms returns the names of the algorithms that train, sorted.
func Algorithms() []string {
	var names []string
	for name, a := range algorithms {
		if !a.fromFile {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// Lookup returns the trainer of an algorithm. An unknown name gives an error that wraps
// ErrUnknownAlgorithm and lists the known ones.
func Lookup(algorithm string) (Trainer, error) {
	a, ok := algorithms[algorithm]
	if !ok {
		return nil, unknownAlgorithm(algorithm)
	}
	if a.fromFile {
		return nil, fmt.Errorf("%w %q: its models are registered from a file (kingmaker models register), not trained (trainers: %s)",
			ErrUnknownAlgorithm, algorithm, strings.Join(Algorithms(), ", "))
	}
	return a.trainer, nil
}

// unavailable holds the algorithms this build leaves out (see xgboost_without.go), with the error
// that says how to get them.
var unavailable = map[string]error{}

func unknownAlgorithm(name string) error {
	if err, ok := unavailable[name]; ok {
		return err
	}
	return fmt.Errorf("%w %q (known: %s)", ErrUnknownAlgorithm, name, strings.Join(Algorithms(), ", "))
}
