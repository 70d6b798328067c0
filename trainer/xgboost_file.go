package trainer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Model files made elsewhere: an XGBoost booster saved by Python's xgboost (Booster.save_model,
// XGBClassifier.save_model) as JSON or UBJ. ImportXGBoost reads the file's metadata (pure Go, in
// every build), checks it against the schema the model's config declares (the feature contract,
// below) and, in a build with the xgboost tag, loads the booster through libxgboost and wraps it
// as an ordinary "xgboost" Model: its artifact, Decode, Predict and PredictProba are those of a
// model Kingmaker trained, so evaluation, promotion and serving need nothing new.
//
// The feature contract. XGBoost sees columns, not features: the file's columns must be the
// schema's features in order, a numeric feature as one column (its name) and a categorical one as
// one 0/1 column per category in the config's category order, named feature=category (what
// pandas.get_dummies(df, columns=[...], prefix_sep="=") gives once ordered). When the file names its
// columns (trained from a DataFrame, or feature_names given) every name must match; when it does
// not, only the count is checked and the order is the user's promise. XGBoost's native categorical
// columns (feature type "c") are refused: one-hot encode them. The objective must fit the task:
// binary:logistic for binary (P of the config's second class), multi:softprob with num_class =
// the config's classes for multiclass (class i is the config's i-th class), and reg:squarederror,
// reg:absoluteerror or reg:pseudohubererror for regression.

// Formats of a model file ImportXGBoost reads.
const (
	FormatXGBoostJSON = "xgboost-json"
	FormatXGBoostUBJ  = "xgboost-ubj"
)

// ErrModelFile wraps every refusal of a model file by ImportXGBoost: unreadable, from a producer
// this build cannot load, or not fitting the schema.
var ErrModelFile = errors.New("model file")

// FileInfo is what a model file says about itself: its format, the producer and its version
// (provenance), and the objective, columns and rounds the contract is checked on.
type FileInfo struct {
	Format          string   `json:"format"`
	Producer        string   `json:"producer"`
	ProducerVersion string   `json:"producer_version"`
	Objective       string   `json:"objective"`
	NumClass        int      `json:"num_class,omitempty"`
	NumFeature      int      `json:"num_feature"`
	FeatureNames    []string `json:"feature_names,omitempty"`
	FeatureTypes    []string `json:"feature_types,omitempty"`
	Rounds          int      `json:"rounds"`
}

// XGBoostParityTolerance is how far Kingmaker's predictions of an imported XGBoost model may be
// from its producer's: XGBoost computes in float32 (measured: bit for bit with the same library).
const XGBoostParityTolerance = 1e-5

// regressionObjectives are the XGBoost objectives whose prediction is the value itself.
var regressionObjectives = []string{"reg:squarederror", "reg:absoluteerror", "reg:pseudohubererror"}

func fileErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrModelFile}, args...)...)
}

// ReadXGBoostFile reads the metadata of an XGBoost model file (JSON or UBJ). It refuses bytes that
// are neither, such as a truncated file or an ONNX one.
func ReadXGBoostFile(raw []byte) (*FileInfo, error) {
	var doc any
	info := &FileInfo{Producer: "xgboost"}
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	switch {
	case len(trimmed) > 1 && trimmed[0] == '{' && (trimmed[1] == '"' || trimmed[1] == ' ' || trimmed[1] == '\n' || trimmed[1] == '\t' || trimmed[1] == '\r' || trimmed[1] == '}'):
		info.Format = FormatXGBoostJSON
		if err := json.Unmarshal(raw, &doc); err != nil {
			return nil, fileErrorf("not a complete XGBoost JSON model (truncated or damaged?): %v", err)
		}
	case len(raw) > 1 && raw[0] == '{':
		info.Format = FormatXGBoostUBJ
		var err error
		if doc, err = decodeUBJSON(raw); err != nil {
			return nil, fileErrorf("not a complete XGBoost UBJ model (truncated or damaged?): %v", err)
		}
	default:
		return nil, fileErrorf("not an XGBoost model (neither JSON nor UBJ; is it another format?)")
	}
	root, _ := doc.(map[string]any)
	learner, _ := root["learner"].(map[string]any)
	if learner == nil {
		return nil, fileErrorf("not an XGBoost model: no learner in the %s document", info.Format)
	}
	version, ok := root["version"].([]any)
	if !ok || len(version) != 3 {
		return nil, fileErrorf("no xgboost version in the file (want version: [major, minor, patch])")
	}
	parts := make([]string, 3)
	for i, p := range version {
		f, ok := p.(float64)
		if !ok {
			return nil, fileErrorf("xgboost version %v is not three numbers", version)
		}
		parts[i] = strconv.Itoa(int(f))
	}
	info.ProducerVersion = strings.Join(parts, ".")
	obj, _ := learner["objective"].(map[string]any)
	info.Objective, _ = obj["name"].(string)
	param, _ := learner["learner_model_param"].(map[string]any)
	var err error
	if info.NumFeature, err = intString(param, "num_feature"); err != nil {
		return nil, err
	}
	if info.NumClass, err = intString(param, "num_class"); err != nil {
		return nil, err
	}
	info.FeatureNames = stringList(learner["feature_names"])
	info.FeatureTypes = stringList(learner["feature_types"])
	gb, _ := learner["gradient_booster"].(map[string]any)
	if name, _ := gb["name"].(string); name != "gbtree" {
		return nil, fileErrorf("booster %q: only gbtree boosters are supported", name)
	}
	model, _ := gb["model"].(map[string]any)
	treeParam, _ := model["gbtree_model_param"].(map[string]any)
	trees, err := intString(treeParam, "num_trees")
	if err != nil {
		return nil, err
	}
	perRound := max(1, info.NumClass)
	if parallel, err := intString(treeParam, "num_parallel_tree"); err == nil && parallel > 1 {
		perRound *= parallel
	}
	info.Rounds = trees / perRound
	return info, nil
}

// intString reads XGBoost's numbers-as-strings parameters, such as "num_feature": "3".
func intString(m map[string]any, key string) (int, error) {
	s, ok := m[key].(string)
	if !ok {
		return 0, fileErrorf("no %s in the file", key)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fileErrorf("%s is %q, not a count", key, s)
	}
	return n, nil
}

func stringList(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// XGBoostColumns returns the names of the columns an XGBoost model of schema s reads, in order:
// a numeric feature's name, and feature=category for each category of a categorical feature.
func XGBoostColumns(s Schema) []string {
	var cols []string
	for _, f := range s.Features {
		if f.Kind != Categorical {
			cols = append(cols, f.Name)
			continue
		}
		for _, c := range f.Categories {
			cols = append(cols, f.Name+"="+c)
		}
	}
	return cols
}

// Check reports the first way the file does not fit schema s (the feature contract above), naming
// the column or the setting to fix.
func (f *FileInfo) Check(s Schema) error {
	cols := XGBoostColumns(s)
	if len(f.FeatureNames) > 0 {
		for i, name := range f.FeatureNames {
			if i >= len(cols) {
				return fileErrorf("input %d %q is not a feature of the model (the model's %d inputs are %s)", i, name, len(cols), strings.Join(cols, ", "))
			}
			if name != cols[i] {
				return fileErrorf("input %d is %q, the model's feature %d is %q (inputs must be %s, in order)", i, name, i, cols[i], strings.Join(cols, ", "))
			}
		}
		if len(f.FeatureNames) < len(cols) {
			return fileErrorf("the file has no input %q (it has %d inputs, the model %d: %s)", cols[len(f.FeatureNames)], len(f.FeatureNames), len(cols), strings.Join(cols, ", "))
		}
	}
	if f.NumFeature != len(cols) {
		return fileErrorf("the file reads %d inputs, the model's features encode to %d (%s)", f.NumFeature, len(cols), strings.Join(cols, ", "))
	}
	for i, t := range f.FeatureTypes {
		if t == "c" {
			return fileErrorf("input %d %q is an XGBoost categorical column: one-hot encode it (columns %s=<category>, in the config's category order)", i, cols[min(i, len(cols)-1)], cols[min(i, len(cols)-1)])
		}
	}
	switch task := s.task(); task {
	case Binary:
		if f.Objective != "binary:logistic" {
			return fileErrorf("objective %s does not fit task binary: train with binary:logistic (P of class %q)", f.Objective, s.Classes[1])
		}
	case Multiclass:
		if f.Objective != "multi:softprob" {
			return fileErrorf("objective %s does not fit task multiclass: train with multi:softprob (probabilities, not classes)", f.Objective)
		}
		if f.NumClass != len(s.Classes) {
			return fileErrorf("the file predicts %d classes, the model has %d (%s)", f.NumClass, len(s.Classes), strings.Join(s.Classes, ", "))
		}
	case Regression:
		if !slices.Contains(regressionObjectives, f.Objective) {
			return fileErrorf("objective %s does not fit task regression: use one of %s", f.Objective, strings.Join(regressionObjectives, ", "))
		}
	}
	if f.Rounds < 1 || f.Rounds > 10_000 {
		return fileErrorf("the file has %d boosting rounds, want 1 to 10000", f.Rounds)
	}
	return nil
}

// ImportXGBoost reads an XGBoost model file, checks it against schema s (which names the
// model's task) and returns it as an "xgboost" Model with what the file says of itself. Every
// refusal matches ErrModelFile (or ErrXGBoostNotBuilt in a build without the xgboost tag) and says
// what to fix in one line.
func ImportXGBoost(s Schema, raw []byte) (Model, *FileInfo, error) {
	if err := s.validate(); err != nil {
		return nil, nil, err
	}
	info, err := ReadXGBoostFile(raw)
	if err != nil {
		return nil, nil, err
	}
	if err := info.Check(s); err != nil {
		return nil, info, err
	}
	m, err := loadXGBoostFile(s.clone(), info, raw)
	if err != nil {
		return nil, info, err
	}
	return m, info, nil
}
