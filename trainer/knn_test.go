package trainer

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
)

// knnReference is testdata/knn_reference.json, written by testdata/make_knn_reference.py.
type knnReference struct {
	SklearnVersion string      `json:"sklearn_version"`
	Rows           [][]float64 `json:"rows"`
	Cases          []struct {
		K           int       `json:"k"`
		Predictions []float64 `json:"predictions"`
	} `json:"cases"`
}

// TestKNNRegressionMatchesScikitLearn holds "knn" of task regression to scikit-learn's
// KNeighborsRegressor(k, algorithm="brute") behind the same StandardScaler (population standard
// deviation) and OneHotEncoder(handle_unknown="ignore") per feature, trained on the "orders" rows
// of ridge_reference.json with every row stored. Probe rows include an unknown category, values
// outside the training range and training rows themselves.
//
// Tolerance 1e-9, relative to the larger of 1 and the reference value: both sides average the
// same k targets and differ only by the order of summation.
func TestKNNRegressionMatchesScikitLearn(t *testing.T) {
	var ridge ridgeReference
	var ref knnReference
	for file, v := range map[string]any{"testdata/ridge_reference.json": &ridge, "testdata/knn_reference.json": &ref} {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatal(err)
		}
	}
	ds := ridge.Datasets["orders"]
	d := &Data{Schema: ds.Schema, X: ds.X, Target: ds.Target}
	if len(ref.Cases) == 0 || len(d.X) == 0 {
		t.Fatal("no reference cases or rows")
	}
	const tol = 1e-9
	worst := 0.0
	for _, c := range ref.Cases {
		t.Run("k="+fmtNum(float64(c.K)), func(t *testing.T) {
			m := mustTrain(t, "knn", d, Params{"k": float64(c.K), "max_rows": float64(len(d.X))})
			got, err := m.(Regressor).PredictValues(ref.Rows)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range c.Predictions {
				diff := math.Abs(got[i]-want) / math.Max(1, math.Abs(want))
				worst = math.Max(worst, diff)
				if !(diff <= tol) {
					t.Errorf("row %d: %.12g, scikit-learn %.12g (relative difference %.3g > %g)", i, got[i], want, diff, tol)
				}
			}
		})
	}
	t.Logf("largest relative difference from scikit-learn %s: %.3g", ref.SklearnVersion, worst)
}

func TestAKNNRegressionModelPredictsValuesAndReloadsExactly(t *testing.T) {
	checkRegressionModel(t, "knn", Params{"k": 7, "max_rows": 400}, 0.3)
}

func TestAKNNClassifierRefusesPredictValues(t *testing.T) {
	checkClassifierRefusesPredictValues(t, "knn")
}

// checkRegressionModel trains alg with p on synthetic regression data and checks that the model
// is a Regressor of task regression whose holdout R² is at least minR2; that Predict and
// PredictProba refuse with ErrUnsupportedTask; that the reloaded model predicts the same values
// bit for bit and re-encodes to the same bytes; that training again gives the same artifact; and
// that every cut of the artifact is refused as corrupt.
func checkRegressionModel(t *testing.T, alg string, p Params, minR2 float64) {
	t.Helper()
	train, holdout := syntheticRegression(600, 31), syntheticRegression(200, 32)
	m := mustTrain(t, alg, train, p)
	if m.Schema().Task != Regression {
		t.Errorf("Schema().Task = %q, want %q", m.Schema().Task, Regression)
	}
	r, ok := m.(Regressor)
	if !ok {
		t.Fatalf("a %s model is not a Regressor", alg)
	}
	rows := append(slices.Clone(holdout.X), unknownCategoryRows(holdout)...)
	v1, err := r.PredictValues(rows)
	if err != nil {
		t.Fatal(err)
	}
	if r2 := rSquared(holdout.Target, v1); r2 < minR2 { // 0: as good as predicting the mean
		t.Errorf("holdout R² %.3f, want at least %g", r2, minR2)
	}
	if _, _, err := m.Predict(holdout.X); !errors.Is(err, ErrUnsupportedTask) || !strings.Contains(err.Error(), "call PredictValues") {
		t.Errorf("Predict of a regression model = %v, want ErrUnsupportedTask saying to call PredictValues", err)
	}
	if _, err := m.(Prober).PredictProba(holdout.X); !errors.Is(err, ErrUnsupportedTask) {
		t.Errorf("PredictProba of a regression model = %v, want ErrUnsupportedTask", err)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	re, err := Decode(b)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if re.Schema().Task != Regression {
		t.Errorf("reloaded task %q, want regression", re.Schema().Task)
	}
	v2, err := re.(Regressor).PredictValues(rows)
	if err != nil || !equalBits(v1, v2) {
		t.Errorf("reloaded model predicts other values (err %v)", err)
	}
	if b2, err := re.MarshalBinary(); err != nil || !slices.Equal(b, b2) {
		t.Errorf("re-encoding the reloaded model gives other bytes (err %v)", err)
	}
	if again, err := mustTrain(t, alg, train, p).MarshalBinary(); err != nil || !slices.Equal(b, again) {
		t.Errorf("training twice on the same data gave different artifacts (err %v)", err)
	}
	for cut := 0; cut < len(b); cut += 97 {
		if _, err := Decode(b[:cut]); !errors.Is(err, ErrCorruptArtifact) {
			t.Fatalf("Decode of %d of %d bytes = %v, want ErrCorruptArtifact", cut, len(b), err)
		}
	}
}

// checkClassifierRefusesPredictValues checks that a classifier of alg, which also does regression,
// refuses PredictValues with ErrUnsupportedTask.
func checkClassifierRefusesPredictValues(t *testing.T, alg string) {
	t.Helper()
	m := mustTrain(t, alg, synthetic(200, 33, 3), nil)
	if _, err := m.(Regressor).PredictValues(synthetic(5, 34, 3).X); !errors.Is(err, ErrUnsupportedTask) || !strings.Contains(err.Error(), "call Predict") {
		t.Errorf("PredictValues of a classifier = %v, want ErrUnsupportedTask saying to call Predict", err)
	}
}
