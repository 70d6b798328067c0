//go:build xgboost

package trainer

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// xgboostRegressionReference is testdata/xgboost_regression_reference.json, written by
// testdata/xgboost_regression_reference.py.
type xgboostRegressionReference struct {
	XGBoostVersion string      `json:"xgboost_version"`
	SklearnVersion string      `json:"sklearn_version"`
	Schema         Schema      `json:"schema"`
	TrainX         [][]float64 `json:"train_x"`
	TrainTarget    []float64   `json:"train_target"`
	HoldoutX       [][]float64 `json:"holdout_x"`
	HoldoutTarget  []float64   `json:"holdout_target"`
	Cases          []struct {
		Name        string    `json:"name"`
		Params      Params    `json:"params"`
		Predictions []float64 `json:"predictions"`
		RMSE        float64   `json:"rmse"`
		HGBRMSE     float64   `json:"hgb_rmse"`
	} `json:"cases"`
}

// TestXGBoostRegressionMatchesPythonXGBoost trains "xgboost" of task regression on the rows
// Python's xgboost (the same version as Debian's libxgboost) trained on, with the same parameters
// (the defaults, and a shallow sampled model), and holds the holdout predictions to Python's
// within 1e-6 relative to the larger of 1 and the value: both run the same library code on the
// same float32 matrix and labels (the test logs the largest difference). It also logs
// scikit-learn's HistGradientBoostingRegressor's holdout RMSE on the same split.
func TestXGBoostRegressionMatchesPythonXGBoost(t *testing.T) {
	var ref xgboostRegressionReference
	raw, err := os.ReadFile("testdata/xgboost_regression_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatalf("testdata/xgboost_regression_reference.json: %v", err)
	}
	if len(ref.Cases) == 0 {
		t.Fatal("no reference cases")
	}
	train := &Data{Schema: ref.Schema, X: ref.TrainX, Target: ref.TrainTarget}
	for _, c := range ref.Cases {
		t.Run(c.Name, func(t *testing.T) {
			m := mustTrain(t, "xgboost", train, c.Params)
			got, err := m.(Regressor).PredictValues(ref.HoldoutX)
			if err != nil {
				t.Fatal(err)
			}
			worst, mismatched := 0.0, 0
			for i, want := range c.Predictions {
				diff := math.Abs(got[i]-want) / math.Max(1, math.Abs(want))
				worst = math.Max(worst, diff)
				if got[i] != want {
					mismatched++
				}
			}
			var sse float64
			for i, y := range ref.HoldoutTarget {
				sse += (got[i] - y) * (got[i] - y)
			}
			rmse := math.Sqrt(sse / float64(len(ref.HoldoutTarget)))
			t.Logf("%s: largest relative difference %.3g (%d values not bit-identical); holdout RMSE %.6g (Python xgboost %s %.6g, scikit-learn %s HistGradientBoostingRegressor %.6g)",
				c.Name, worst, mismatched, rmse, ref.XGBoostVersion, c.RMSE, ref.SklearnVersion, c.HGBRMSE)
			if worst > 1e-6 {
				t.Errorf("predictions differ from Python xgboost %s by up to %.3g (relative)", ref.XGBoostVersion, worst)
			}
		})
	}
}

func TestAnXGBoostRegressionModelPredictsValuesAndReloadsExactly(t *testing.T) {
	checkRegressionModel(t, "xgboost", Params{"n_estimators": 40}, 0.5)
}

func TestAnXGBoostClassifierRefusesPredictValues(t *testing.T) {
	checkClassifierRefusesPredictValues(t, "xgboost")
}
